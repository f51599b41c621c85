"""Several contexts from the command line: --context a,b lists both with each row's context,
actions go to a row's context, and the choice is remembered with config use-context."""

from __future__ import annotations

import json
import tomllib

from tests.fleet.conftest import TWO_SIMULATORS


def test_lists_carry_each_rows_context_and_a_context_column(cli, config_file):
    config_file.write_text(TWO_SIMULATORS)
    for argv in (("--context", "east,west"), ("--context", "east", "--context", "west")):
        r = cli(*argv, "hosts", "list", "--json")
        assert r.code == 0, r.err
        rows = json.loads(r.out)
        assert {row["context"] for row in rows} == {"east", "west"}
        assert all(row["id"].startswith(row["context"] + "/") for row in rows)
        by_id = {row["id"] for row in rows}
        assert all(row["node_id"] is None or row["node_id"].startswith(row["context"] + "/") for row in rows)
        assert len(by_id) == len(rows)
    table = cli("--context", "east,west", "containers", "list")
    assert table.code == 0 and table.out.splitlines()[0].split()[0] == "CONTEXT"
    assert "simulated data (contexts east, west)" in table.err


def test_one_context_keeps_its_output_and_says_its_context(cli, config_file):
    config_file.write_text(TWO_SIMULATORS)
    rows = json.loads(cli("hosts", "list", "--json").out)  # current_context
    assert {row["context"] for row in rows} == {"east"} and "/" not in rows[0]["id"]
    table = cli("--context", "west", "hosts", "list")
    assert table.out.splitlines()[0].split()[0] == "NAME"  # no CONTEXT column with one context
    demo = json.loads(cli("--demo", "volumes", "list", "--json").out)
    assert demo and all(row["context"] is None for row in demo)  # no context named


def test_a_missing_context_is_one_line_and_exit_2(cli, config_file):
    config_file.write_text(TWO_SIMULATORS)
    r = cli("--context", "east,nowhere", "hosts", "list")
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and "no such context 'nowhere'" in r.err
    empty = cli("--context", "east,", "hosts", "list")
    assert empty.code == 2 and empty.err.count("\n") == 1
    mixed = cli("--context", "east,west", "--seed", "4", "hosts", "list")
    assert mixed.code == 2 and "--seed" in mixed.err and mixed.err.count("\n") == 1


def test_actions_take_context_slash_name_or_a_unique_name(cli, config_file):
    config_file.write_text(TWO_SIMULATORS)
    both = cli("--context", "east,west", "container", "stop", "db-1")
    assert both.code == 2 and "several contexts (east, west): use CONTEXT/db-1" in both.err
    done = cli("--context", "east,west", "container", "stop", "west/db-1", "--wait", "--json")
    assert done.code == 0, done.err
    task = json.loads(done.out)
    assert task["status"] == "SUCCEEDED" and task["id"].startswith("west/")
    dry = cli("--context", "east,west", "host", "delete", "east/cm-app-01", "--dry-run", "--json")
    assert dry.code == 0 and json.loads(dry.out)


def test_use_context_remembers_one_or_several_keeping_the_file(cli, config_file):
    config_file.write_text(TWO_SIMULATORS)
    r = cli("config", "use-context", "west,east")
    assert r.code == 0, r.err
    text = config_file.read_text()
    assert "# two simulated clusters" in text and "# the first" in text  # comments kept
    data = tomllib.loads(text)
    assert data["current_context"] == "west" and data["fleet"] == ["west", "east"]
    rows = json.loads(cli("hosts", "list", "--json").out)  # no --context: the fleet remembered
    assert {row["context"] for row in rows} == {"east", "west"}
    assert cli("config", "use-context", "east").code == 0
    data = tomllib.loads(config_file.read_text())
    assert data["current_context"] == "east" and "fleet" not in data
    bad = cli("config", "use-context", "nowhere")
    assert bad.code == 2 and bad.err.count("\n") == 1 and tomllib.loads(config_file.read_text()) == data


def test_a_context_name_with_the_separator_is_refused_in_the_config(cli, config_file):
    config_file.write_text('[contexts."a/b"]\nbackend = "simulator"\n')
    r = cli("--context", "a/b", "hosts", "list")
    assert r.code == 2 and r.err.count("\n") == 1 and "not allowed" in r.err


def test_a_context_that_does_not_answer_is_one_line_and_the_others_are_listed(cli, config_file, tmp_path):
    config_file.write_text(
        TWO_SIMULATORS + f'\n[contexts.gone]\nbackend = "docker"\nhosts = ["unix://{tmp_path}/no-engine.sock"]\n'
    )
    r = cli("--context", "east,gone", "hosts", "list", "--json")
    assert r.code == 0, r.err
    assert {row["context"] for row in json.loads(r.out)} == {"east"}
    (said,) = [line for line in r.err.splitlines() if "gone" in line]
    assert said.startswith("context gone unreachable: Unavailable")
    config_file.write_text(config_file.read_text() + f'\n[contexts.gone2]\nbackend = "docker"\nhosts = ["unix://{tmp_path}/none.sock"]\n')
    none = cli("--context", "gone,gone2", "hosts", "list")
    assert none.code == 3 and none.err.count("\n") == 1 and none.err.startswith("Unavailable: no context answered")
