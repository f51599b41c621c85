"""Your own commands ([[commands]] in the config): checked at load (a bad template, a clash
with a built-in key, a config others can write: one line each), bound on their pane, listed in
help and the palette; a background command's output shows in a screen; a hostile name reaches
the program as one literal argument, never through a shell."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from backends.simulator import SimulatorBackend
from backends.settings import Settings
from console.app import NtnxConsoleApp
from console.config import ConfigError, load_config
from console.screens.command_output import CommandOutputScreen
from console.screens.dashboard import DashboardScreen
from console.screens.help import HelpScreen
from console.user_commands import CommandError, argv_for, run_background
from tests.console.conftest import SIZE, Console
from widgets.log_view import LogView

# A tiny program that prints the argv it was given as JSON: what a shell would have split or
# run shows as more elements, or as something else than the name.
ARGV_SCRIPT = "import json, sys; print(json.dumps(sys.argv[1:]))"
HOSTILE = ["x; rm -rf /", "$(id)", "`id`", "a b 'c' \"d\"", "{ip}", "*"]


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body)
    path.chmod(0o600)
    tmp_path.chmod(0o700)
    return path


def _echo_command(key: str = "H", scope: str = "container", mode: str = "background") -> str:
    return f"""
[[commands]]
name = "echo args"
key = "{key}"
scope = "{scope}"
command = [{json.dumps(sys.executable)}, "-c", {json.dumps(ARGV_SCRIPT)}, "{{name}}", "id={{id}}", "{{context}}"]
mode = "{mode}"
timeout = 20
"""


# -- at load ---------------------------------------------------------------------------------------


def test_a_good_command_loads(tmp_path):
    config = load_config(_config(tmp_path, _echo_command()))
    (command,) = config.commands
    assert command.pane == "containers" and command.key == "H" and command.mode == "background"


@pytest.mark.parametrize(
    "entry, says",
    [
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = ["ssh", "{nope}"]', "unknown placeholder {nope}"),
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = ["ssh", "{ip"]', "command element '{ip'"),
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = ["ssh", "{name.__class__}"]', "unknown placeholder"),
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = ["ssh", "{ip!r}"]', "no format or conversion"),
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = "ssh {ip}"', "list of strings"),
        ('name = "x"\nkey = "H"\nscope = "container"\ncommand = ["{name}"]', "fixed name"),
        ('name = "x"\nkey = "H"\nscope = "cluster"\ncommand = ["ssh"]', "scope must be one of"),
        ('name = "x"\nkey = "H"\nscope = "host"\ncommand = ["ssh"]\nmode = "shell"', "mode must be"),
        ('name = "x"\nkey = "H"\nscope = "host"\ncommand = ["ssh"]\ntimeout = 0', "timeout"),
        ('name = "x"\nkey = "H H"\nscope = "host"\ncommand = ["ssh"]', "key must be one key"),
    ],
)
def test_a_bad_entry_is_one_line_at_load(tmp_path, entry, says):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, f"[[commands]]\n{entry}\n"))
    assert says in err.value.message and "\n" not in err.value.message


def test_a_clash_with_a_built_in_key_is_refused_before_the_console_opens(tmp_path):
    config = load_config(_config(tmp_path, _echo_command(key="x")))  # x stops a container
    with pytest.raises(ConfigError) as err:
        NtnxConsoleApp(Settings(), config, backend=SimulatorBackend(seed=7, activity=False))
    assert "key 'x' is already a built-in key on the containers pane" in err.value.message
    # The same key on another pane is fine (x is nothing on Volumes), as is one remapped away.
    NtnxConsoleApp(Settings(), load_config(_config(tmp_path, _echo_command(key="x", scope="volume"))),
                   backend=SimulatorBackend(seed=7, activity=False))
    remapped = _echo_command(key="x") + '\n[keymap]\ncontainer.stop = "X"\n'
    NtnxConsoleApp(Settings(), load_config(_config(tmp_path, remapped)), backend=SimulatorBackend(seed=7, activity=False))


def test_the_cli_refuses_a_clash_in_one_line(tmp_path, monkeypatch, capsys):
    from console.cli import main

    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(_config(tmp_path, _echo_command(key="r"))))
    assert main(["--demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "key 'r' is already a built-in key" in err[0]


def test_commands_from_a_config_others_can_write_are_refused(tmp_path):
    path = _config(tmp_path, _echo_command())
    path.chmod(0o666)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "refusing the [[commands]]" in err.value.message and "chmod go-w" in err.value.message


# -- placeholders and running ---------------------------------------------------------------------


async def test_a_hostile_value_is_one_literal_argument():
    from console.command_config import parse_commands

    (command,) = parse_commands("t", [{"name": "a", "key": "H", "scope": "host",
                                       "command": [sys.executable, "-c", ARGV_SCRIPT, "{name}", "--at={ip}"]}])
    for value in HOSTILE:
        argv = argv_for(command, {"name": value, "ip": value, "id": "1", "context": "c"})
        outcome = await run_background(argv, 20)
        assert outcome.code == 0 and json.loads(outcome.output) == [value, f"--at={value}"]
    for bad in ("a\nb", "a\x1b[2Jb", "a\rb"):
        with pytest.raises(CommandError, match="control character"):
            argv_for(command, {"name": bad, "ip": "10.0.0.1", "id": "1", "context": "c"})
    with pytest.raises(CommandError, match="no {ip}"):
        argv_for(command, {"name": "a", "ip": "", "id": "1", "context": "c"})


async def test_a_background_command_is_bounded_in_time_and_size():
    slow = await run_background([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], 1.0)
    assert slow.code is None and slow.output.startswith(b"started")
    big = await run_background([sys.executable, "-c", "import sys; sys.stdout.write('x' * 300000)"], 20, max_bytes=1000)
    assert big.cut and len(big.output) == 1000 and big.code == 0
    with pytest.raises(CommandError, match="no such program"):
        await run_background(["/nonexistent/program"], 5)


# -- in the console ------------------------------------------------------------------------------


@pytest.fixture
async def console_with_commands(tmp_path):
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    config = load_config(_config(tmp_path, _echo_command()))
    app = NtnxConsoleApp(Settings(context="lab"), config, backend=sim)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE) as pilot:
        c = Console(app, pilot, sim)
        await c.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
        await c.until(lambda: c.table("containers").row_count > 0, "containers on screen")
        yield c
    await sim.close()


async def _output(c) -> list:
    await c.on(CommandOutputScreen)
    screen = c.screen
    await c.until(lambda: screen.finished, "the command's end", timeout=20)
    assert screen.state == "exit 0", screen.state
    return json.loads(screen.query_one(LogView).lines[-1])


async def test_a_background_command_shows_its_output_with_a_hostile_name_as_one_argument(console_with_commands):
    c = console_with_commands
    await c.press("H")  # on Hosts: not this command's pane, nothing happens
    assert isinstance(c.screen, DashboardScreen)
    # A container whose name a server made hostile: the simulator's store, as a server would say it.
    store = c.sim.store
    victim = next(iter(store.containers.values()))
    store.upsert(replace(victim, name="x; rm -rf / $(id)"))
    await c.sim.advance(1)  # the change goes out with the clock's next step
    await c.until(lambda: any(r.name == "x; rm -rf / $(id)" for r in c.table("containers").rows_by_id.values()), "the row")
    await c.press("tab")
    assert c.table("containers").move_cursor(victim.id)
    await c.press("H")
    assert await _output(c) == ["x; rm -rf / $(id)", f"id={victim.id}", "lab"]
    await c.press("escape")
    await c.on(DashboardScreen)
    # A name with a newline is refused, not run.
    store.upsert(replace(victim, name="evil\nname"))
    await c.sim.advance(1)
    await c.until(lambda: c.table("containers").rows_by_id[victim.id].name == "evil\nname", "the new name")
    await c.press("H")
    await c.notice("control character")
    assert isinstance(c.screen, DashboardScreen)


async def test_listed_in_help_and_the_palette(console_with_commands):
    c = console_with_commands
    await c.press("question_mark")
    await c.on(HelpScreen)
    rows = {r.binding_id: r for r in c.screen.rows}
    assert rows["command.echo args"].group == "Your commands" and rows["command.echo args"].keys == "H"
    await c.press("escape")
    await c.on(DashboardScreen)
    await c.press("tab", "ctrl+p")
    await c.type("echo args")
    await c.until(lambda: "echo args" in str(c.screen.query_one("CommandList").get_option_at_index(0).prompt), "in the palette")
    await c.press("enter")
    assert len(await _output(c)) == 3


async def test_a_terminal_command_is_handed_the_terminal_as_the_shell_is(tmp_path, monkeypatch):
    import subprocess

    ran: list = []

    def fake_run(argv, **kwargs):  # the handover itself: what the shell key runs, with this argv
        ran.append((list(argv), kwargs))
        return subprocess.CompletedProcess(argv, 0)

    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    config = load_config(_config(tmp_path, _echo_command(key="ctrl+k", scope="host", mode="terminal")))
    app = NtnxConsoleApp(Settings(), config, backend=sim)
    app.ANIMATION_LEVEL = "none"
    monkeypatch.setattr("console.app.subprocess.run", fake_run)
    monkeypatch.setattr(NtnxConsoleApp, "suspend", lambda self: __import__("contextlib").nullcontext())
    async with app.run_test(size=SIZE) as pilot:
        c = Console(app, pilot, sim)
        await c.until(lambda: app.store.loaded and c.table("hosts").row_count > 0, "hosts")
        host = c.table("hosts").cursor_row
        await c.press("ctrl+k")
        await c.until(lambda: ran, "the command run in the terminal")
    await sim.close()
    (argv, kwargs), = ran
    assert argv[3:] == [host.name, f"id={host.id}", "simulator"] and "shell" not in kwargs


async def test_a_background_command_s_output_streams_as_it_comes(console_with_commands):
    c = console_with_commands
    from console.command_config import UserCommand

    slow = UserCommand("slow", "J", "host", (sys.executable, "-c",
                       "import time\nprint('first', flush=True)\ntime.sleep(30)\nprint('never')"), timeout=3)
    c.app.run_user_command(slow, {"name": "h", "ip": "", "id": "1", "context": "c"}, "h")
    await c.on(CommandOutputScreen)
    screen = c.screen
    await c.until(lambda: screen.query_one(LogView).lines and screen.query_one(LogView).lines[-1] == "first", "the first line")
    assert not screen.done  # still running: the line came before the end
    await c.until(lambda: screen.finished, "ended by its time limit", timeout=10)
    assert "ended after 3s" in screen.state and list(screen.query_one(LogView).lines) == ["first"]
