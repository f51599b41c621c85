"""The terminal belongs to the user: a server's strings (names, statuses, error messages, log
lines) reach the CLI's output shown, never obeyed. ``--json`` stays exact (json.dumps escapes)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from backends.contract import LogLine
from backends.errors import Unavailable
from backends.simulator import SimulatorBackend
from console import output

from .conftest import run_command

HOSTILE_HOST = "evil\x1b]0;PWNED\x07\x1b[2J"
HOSTILE_CONTAINER = "bad\x1b[31m[bold]x\u202e\x9b"
HOSTILE_STATUS = "Up \x1b]8;;https://evil.example/\x07link"
# What a terminal would obey: C0 controls (but the newline ending each line), DEL, C1, bidi.
OBEYED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_state(tmp_path: Path) -> str:
    """A --demo-state file whose first host and container have hostile names, as a compromised
    Prism or Docker engine could report them."""
    path = tmp_path / "hostile-state.json"
    made = run_command("--demo", "--demo-state", str(path), "hosts", "list", "--json")
    assert made.code == 0, made.err
    state = json.loads(path.read_text())
    for kind, changes in (
        ("hosts", {"name": HOSTILE_HOST}),
        ("containers", {"name": HOSTILE_CONTAINER, "status": HOSTILE_STATUS}),
    ):
        table = state["tables"][kind]
        for field, value in changes.items():
            table["rows"][0][table["fields"].index(field)] = value
    path.write_text(json.dumps(state))
    return str(path)


def test_lists_show_hostile_names_and_send_no_control(tmp_path):
    state = _hostile_state(tmp_path)
    hosts = run_command("--demo", "--demo-state", state, "hosts", "list")
    assert hosts.code == 0, hosts.err
    assert not OBEYED.search(hosts.out + hosts.err)
    assert "evil␛]0;PWNED␇␛[2J" in hosts.out

    containers = run_command("--demo", "--demo-state", state, "containers", "list")
    assert containers.code == 0, containers.err
    assert not OBEYED.search(containers.out + containers.err)
    line = next(line for line in containers.out.splitlines() if line.startswith("bad"))
    # Markup in data stays literal; C1 and bidi are written out; the host column is cleaned too.
    assert line.startswith("bad␛[31m[bold]x\\u202e\\x9b ")
    assert "evil␛]0;PWNED␇␛[2J" in line and "Up ␛]8;;https://evil.example/␇link" in line

    # --json is exact: the names come back as they are, escaped by JSON.
    as_json = run_command("--demo", "--demo-state", state, "hosts", "list", "--json")
    assert "\x1b" not in as_json.out
    assert HOSTILE_HOST in {h["name"] for h in json.loads(as_json.out)}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_rich_table_on_a_terminal_shows_hostile_cells_literally(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # no folding: each cell on one line
    out = _Terminal()
    row = {
        "name": HOSTILE_HOST, "state": "running", "ip": "127.0.0.1", "cores": 2, "memory_mib": 4096,
        "engine_version": "26.1.4", "node": "[bold red]n1[/]", "project": "p\u202eq", "containers": 0,
    }
    output.print_table("hosts", [row], out)
    text = out.getvalue()
    # The only escape sequences are Rich's own colours (the header's bold, the state's green).
    assert not OBEYED.search(re.sub(r"\x1b\[[0-9;]*m", "", text))
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "evil␛]0;PWNED␇␛[2J" in plain and "[bold red]n1[/]" in plain and "p\\u202eq" in plain
    assert "\x1b[32m" in text  # it is the rich table: the state is coloured


@pytest.fixture
def hostile_backend(monkeypatch):
    """Make the simulator's connect fail with a message a hostile server chose."""

    async def refuse(self):
        raise Unavailable("engine said \x1b]0;PWNED\x07\x1b[2J\nsecond line\x9b")

    monkeypatch.setattr(SimulatorBackend, "connect", refuse)


def test_a_backend_error_is_one_clean_line(cli, hostile_backend):
    result = cli("--demo", "hosts", "list")
    assert result.code == 3
    assert not OBEYED.search(result.err)
    assert result.err.splitlines() == ["Unavailable: engine said ␛]0;PWNED␇␛[2J second line\\x9b"]


def test_an_unexpected_error_is_one_clean_line(cli, monkeypatch):
    async def broken(self):
        raise RuntimeError("bug \x1b[2J\x07 here")

    monkeypatch.setattr(SimulatorBackend, "connect", broken)
    result = cli("--demo", "hosts", "list")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: unexpected RuntimeError: bug ␛[2J␇ here (run with --debug for details)"
    ]


HOSTILE_LOG = "start\x1b]0;PWNED\x07\x1b[2J\x1b[31mred\x1b[0m end"


@pytest.fixture
def hostile_logs(monkeypatch):
    async def logs(self, container_id, *, follow=False, tail=None, since=None):
        yield LogLine(HOSTILE_LOG)
        yield LogLine("oops\x07\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\", stream="stderr")

    monkeypatch.setattr(SimulatorBackend, "logs", logs)


def test_container_logs_piped_are_plain_text(cli, hostile_logs):
    result = cli("--demo", "container", "logs", "worker-4")
    assert result.code == 0, result.err
    assert result.out == "startred end\n"
    assert "oops␇here\n" in result.err and not OBEYED.search(result.err)


def test_container_logs_on_a_terminal_keep_colour_only(cli, hostile_logs, monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    result = cli("--demo", "container", "logs", "worker-4")
    assert result.code == 0, result.err
    sent = terminal.getvalue()
    assert "\x1b[31mred" in sent  # the colour reaches the terminal
    assert "\x1b]" not in sent and "\x1b[2J" not in sent and "\x07" not in sent
    assert re.sub(r"\x1b\[[0-9;]*m", "", sent) == "startred end\n"


def test_json_logs_stay_exact(cli, hostile_logs):
    result = cli("--demo", "container", "logs", "worker-4", "--json")
    assert json.loads(result.out.splitlines()[0])["text"] == HOSTILE_LOG
    assert "\x1b" not in result.out
