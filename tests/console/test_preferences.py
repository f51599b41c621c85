"""The theme, each pane's sort and its shown columns remembered in the config: changed in one
run, back in the next; written locked and atomically, the rest of the file (comments too) kept."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from backends.settings import Settings
from backends.simulator import SimulatorBackend
from console.app import NtnxConsoleApp
from console.config import ConfigError, load_config
from console.preferences import save
from console.screens.dashboard import DashboardScreen
from tests.console.conftest import SIZE, Console

USER_TEXT = """# my console
current_context = "demo"   # the simulator

[contexts.demo]
backend = "simulator"
seed = 7
"""


def _config(tmp_path: Path, text: str = USER_TEXT) -> Path:
    tmp_path.chmod(0o700)
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def _run(path: Path, steps) -> dict:
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    app = NtnxConsoleApp(Settings(), load_config(path), backend=sim)
    app.ANIMATION_LEVEL = "none"
    seen: dict = {}
    async with app.run_test(size=SIZE) as pilot:
        c = Console(app, pilot, sim)
        await c.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
        await c.until(lambda: c.table("hosts").row_count > 0, "hosts")
        await c.until(lambda: app.preferences.saved is not None, "the preferences applied")
        await steps(c)
        seen["theme"] = app.theme
        seen["sort"] = {k: (c.table(k).sort_column, c.table(k).sort_reverse) for k in ("hosts", "containers")}
    await sim.close()
    return seen


async def test_nothing_is_written_when_nothing_changes(tmp_path):
    path = _config(tmp_path)

    async def wait(c):
        # Two more looks at the preferences (what the timer does each CHECK_INTERVAL), without
        # waiting out the timer: neither may start a write.
        for _ in range(2):
            c.app.preferences.check()
            assert not c.app.preferences.writing
            await c.pilot.pause()

    await _run(path, wait)
    assert path.read_text() == USER_TEXT


async def test_theme_and_sort_changed_in_one_run_are_back_in_the_next(tmp_path):
    path = _config(tmp_path)

    async def change(c):
        c.app.theme = "nord"
        await c.press("o")  # Hosts: sorted by its first column
        await c.press("tab", "o", "o")  # Containers: by its second
        await c.until(lambda: "[preferences]" in path.read_text() and "containers" in path.read_text(), "written", timeout=10)

    first = await _run(path, change)
    assert first["theme"] == "nord"
    text = path.read_text()
    assert text.startswith(USER_TEXT)  # the user's lines and comments as they were
    prefs = tomllib.loads(text)["preferences"]
    assert prefs["theme"] == "nord" and set(prefs["sort"]) == {"hosts", "containers"}

    async def nothing(c):
        await c.until(lambda: c.table("containers").sort_column is not None, "the sort applied")

    second = await _run(path, nothing)
    assert second == first
    assert path.read_text() == text  # nothing changed: nothing written


def test_save_replaces_only_its_own_table(tmp_path):
    path = _config(tmp_path, USER_TEXT + '\n[preferences]\ntheme = "dracula"\n\n[keymap]  # mine\nhost.create = "C"\n')
    save(path, "nord", {"hosts": "-name"})
    text = path.read_text()
    assert text.startswith(USER_TEXT) and "[keymap]  # mine\nhost.create = \"C\"\n" in text
    data = tomllib.loads(text)
    assert data["preferences"] == {"theme": "nord", "sort": {"hosts": "-name"}} and data["keymap"] == {"host": {"create": "C"}}
    assert load_config(path).preferences == {"theme": "nord", "sort": {"hosts": "-name"}}


@pytest.mark.parametrize(
    "body, says",
    [
        ('[preferences]\ntheme = 3\n', "theme must be"),
        ('[preferences]\nsort = { nowhere = "name" }\n', "no pane 'nowhere'"),
        ('[preferences]\nwidths = []\n', "unknown key(s) widths"),
        ('[preferences]\nhistory_minutes = 0\n', "history_minutes must be a number of minutes from 1 to 1440"),
        ('[preferences]\nhistory_minutes = "15"\n', "history_minutes must be"),
        ('[preferences]\nhistory_minutes = true\n', "history_minutes must be"),
        ('[preferences]\nhistory_minutes = 100000\n', "history_minutes must be"),
        ('[preferences]\ncolumns = ["name"]\n', "columns maps a pane to the columns it shows"),
        ('[preferences]\ncolumns = { hosts = "name" }\n', "columns maps a pane to the columns it shows"),
        ('[preferences]\ncolumns = { hosts = ["name", 3] }\n', "columns maps a pane"),
        ('[preferences]\ncolumns = { hosts = [""] }\n', "columns maps a pane"),
        ('[preferences]\ncolumns = { nowhere = ["name"] }\n', "columns: no pane 'nowhere'"),
    ],
)
def test_bad_preferences_are_one_line(tmp_path, body, says):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, body))
    assert says in err.value.message and "\n" not in err.value.message


def test_the_history_window_is_kept_when_the_theme_is_saved(tmp_path):
    path = _config(tmp_path, USER_TEXT + '\n[preferences]\nhistory_minutes = 30\n')
    config = load_config(path)
    assert config.preferences["history_minutes"] == 30
    save(path, "nord", {}, config.preferences["history_minutes"])
    assert load_config(path).preferences == {"theme": "nord", "sort": {}, "history_minutes": 30}


def test_the_history_window_sets_the_stores_steps(tmp_path):
    from backends.settings import Settings
    from backends.simulator import SimulatorBackend
    from console.app import NtnxConsoleApp

    config = load_config(_config(tmp_path, '[preferences]\nhistory_minutes = 60\n'))
    app = NtnxConsoleApp(Settings(), config, backend=SimulatorBackend(seed=7, activity=False))
    assert app.store.history.minutes == 60 and app.store.history.step == 30.0  # 120 steps of 30 s


async def test_a_column_hidden_in_one_run_is_hidden_in_the_next(tmp_path):
    from textual.widgets import SelectionList

    from console.screens.columns import ColumnsScreen

    path = _config(tmp_path)
    shown: dict = {}

    async def hide_image(c):
        await c.press("tab")  # Containers
        await c.until(lambda: c.app.screen.current == "containers", "the Containers pane")
        await c.press("C")
        await c.until(lambda: isinstance(c.app.screen, ColumnsScreen), "the Columns dialog")
        listed = c.app.screen.query_one(SelectionList)
        assert [listed.get_option_at_index(n).value for n in range(listed.option_count)][:3] == ["name", "state", "image"]
        assert listed.get_option_at_index(0).disabled  # NAME cannot be hidden
        assert listed.highlighted == 1  # on STATE: NAME cannot be chosen
        await c.press("down", "space", "enter")  # IMAGE, off; apply
        await c.until(lambda: isinstance(c.app.screen, DashboardScreen), "the dashboard again")
        table = c.table("containers")
        assert table.hidden_columns == {"image"}
        header = table.render_line(0).text
        assert "IMAGE" not in header and "NAME" in header and "HOST" in header
        await c.until(lambda: "columns" in path.read_text(), "written", timeout=10)

    await _run(path, hide_image)
    text = path.read_text()
    assert text.startswith(USER_TEXT)
    written = tomllib.loads(text)["preferences"]["columns"]
    assert list(written) == ["containers"] and "image" not in written["containers"] and "name" in written["containers"]

    async def look(c):
        await c.until(lambda: c.table("containers").hidden_columns, "the columns applied")
        shown["hidden"] = c.table("containers").hidden_columns
        shown["header"] = c.table("containers").render_line(0).text
        shown["hosts"] = c.table("hosts").hidden_columns

    await _run(path, look)
    assert shown["hidden"] == {"image"} and "IMAGE" not in shown["header"] and shown["hosts"] == frozenset()
    assert path.read_text() == text  # nothing changed: nothing written


async def test_a_column_the_config_names_that_does_not_exist_is_said_once_and_passed_over(tmp_path):
    path = _config(tmp_path, USER_TEXT + '\n[preferences]\ncolumns = { hosts = ["name", "state", "colour", "ip"] }\n')
    said: list[str] = []

    async def look(c):
        await c.until(lambda: c.table("hosts").hidden_columns, "the columns applied")
        said.extend(str(n.message) for n in c.app._notifications)
        said.append(c.table("hosts").render_line(0).text)

    await _run(path, look)
    warnings = [line for line in said if "colour" in line]
    assert warnings == ["config [preferences] columns: no column 'colour' on hosts; passed over"]
    assert said[-1].split() == ["NAME", "STATE", "IP"]
