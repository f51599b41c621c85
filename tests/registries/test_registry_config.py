"""registry add / remove edit the config file under its lock and keep the rest of it as the
user wrote it; a password never goes into it, and parallel adds lose nothing."""

from __future__ import annotations

import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.cli.conftest import run_command

ORIGINAL = """\
# my config: kept as written
current_context = "demo"

[contexts.demo]  # the demo world
backend = "simulator"
seed = 3

[keymap]
host.create = "C"
"""


def test_add_and_remove_keep_the_rest_of_the_file(config_file: Path):
    config_file.write_text(ORIGINAL)
    done = run_command("registry", "add", "lab", "--url", "https://reg.example.test:5000", "--user", "ci", "--project", "apps")
    assert done.code == 0, done.err
    text = config_file.read_text()
    assert text.startswith(ORIGINAL)
    assert tomllib.loads(text)["registries"] == {"lab": {"url": "https://reg.example.test:5000", "user": "ci", "project": "apps"}}
    assert run_command("registry", "add", "lab", "--url", "https://other.test").code == 1  # a name is added once
    assert run_command("registry", "remove", "lab").code == 0
    assert config_file.read_text().rstrip("\n") == ORIGINAL.rstrip("\n")
    assert run_command("registry", "remove", "lab").code == 1


def test_bad_input_is_refused_before_the_file_is_touched(config_file: Path):
    config_file.write_text(ORIGINAL)
    for argv in (
        ["registry", "add", "lab", "--url", "http://reg.test"],  # plain HTTP without --insecure-transport
        ["registry", "add", "lab", "--url", "https://u:p@reg.test"],
        ["registry", "add", "la b", "--url", "https://reg.test"],
        ["registry", "add", "lab", "--url", "https://reg.test", "--insecure", "--ca-bundle", "/etc/hostname"],
        ["registry", "add", "lab", "--url", "https://reg.test", "--context", "nosuch"],
    ):
        done = run_command(*argv)
        assert done.code == 2 and len(done.err.strip().splitlines()) == 1, (argv, done.err)
    assert config_file.read_text() == ORIGINAL


def test_a_password_in_a_registry_table_is_refused(config_file: Path):
    config_file.write_text(ORIGINAL + '\n[registries.lab]\nurl = "https://reg.test"\npassword = "hunter2"\n')
    done = run_command("registries", "list")
    assert done.code == 2 and "never kept in the config" in done.err and "hunter2" not in done.err


def test_parallel_adds_lose_nothing(config_file: Path):
    config_file.write_text(ORIGINAL)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: run_command("registry", "add", f"r{i}", "--url", f"https://r{i}.test"), range(6)))
    assert all(r.code == 0 for r in results), [r.err for r in results]
    text = config_file.read_text()
    assert text.startswith(ORIGINAL) and sorted(tomllib.loads(text)["registries"]) == [f"r{i}" for i in range(6)]
