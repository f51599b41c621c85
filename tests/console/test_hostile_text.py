"""The terminal belongs to the user: in the console, a server's strings (names, statuses, error
messages, log lines) are shown, never obeyed, and never read as markup.

Each test checks what reaches the screen: the strips a widget renders, the toast shown, the
whole screen as exported."""

from __future__ import annotations

import re
from dataclasses import replace

from backends.contract import LogLine
from backends.errors import Conflict
from backends.models import ContainerState
from console.screens.dashboard import DashboardScreen
from console.screens.details import HostDetails
from console.screens.logs import LogsScreen
from tests.console.conftest import SIZE, Console, make_app
from widgets.log_view import LogView

HOSTILE_HOST = "evil\x1b]0;PWNED\x07\x1b[2J"
HOSTILE_CONTAINER = "[b]x\x1b[31m\u202e\x9b"  # 19 cells shown: the NAME column holds it
# What a terminal would obey: C0 controls, DEL, C1, bidi overrides and isolates.
OBEYED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _lines(widget) -> list[str]:
    """The widget's lines as it renders them for the screen."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def _segments(widget) -> list:
    return [segment for y in range(widget.size.height) for segment in widget.render_line(y)]


async def _rename(console, kind: str, item, name: str, **more):
    """The backend reports ``item`` under a hostile name; wait until its table has it."""
    console.sim.store.upsert(replace(item, name=name, **more))
    console.sim.store.flush()
    table = console.table(kind)
    await console.until(lambda: table.rows_by_id[item.id].name == name, f"the {kind[:-1]} renamed in its table")
    await console.pilot.pause()


async def test_hostile_names_in_the_tables_are_shown_not_obeyed(console):
    table = console.table("hosts")
    host = table.rows_by_id[table.visible_ids[0]]
    await _rename(console, "hosts", host, HOSTILE_HOST)
    containers = console.table("containers")
    container = containers.rows_by_id[containers.visible_ids[0]]
    await _rename(console, "containers", container, HOSTILE_CONTAINER, status="Up \x1b]8;;https://evil.example/\x07x")
    await console.pilot.pause()

    host_lines = _lines(table)
    assert any(line.startswith("  evil␛]0;PWNED␇") for line in host_lines)  # NAME is 16 cells: cropped
    container_lines = _lines(containers)
    row = next(line for line in container_lines if "[b]x" in line)
    # Markup in data is literal; the bidi override and C1 control are written out, not applied.
    assert "[b]x␛[31m\\u202e\\x9b " in row
    assert "Up ␛]8;;https://evil" in row
    for segment in _segments(table) + _segments(containers):
        assert not OBEYED.search(segment.text), repr(segment.text)

    # The whole screen, as exported: the names are there, shown, and nothing would be obeyed.
    screen = console.app.export_screenshot()
    assert "PWNED" in screen and "␛" in screen
    assert not OBEYED.search(screen.replace("\n", ""))


async def test_the_filter_finds_what_is_shown(console):
    table = console.table("hosts")
    host = table.rows_by_id[table.visible_ids[0]]
    await _rename(console, "hosts", host, HOSTILE_HOST)
    table.set_filter("␛]0;pwned")
    assert table.visible_ids == [host.id]


async def test_host_details_show_a_hostile_name_and_reason(console):
    table = console.table("hosts")
    host = table.rows_by_id[table.visible_ids[0]]
    await _rename(console, "hosts", host, HOSTILE_HOST, reason="line one\nState: [green]fine\x1b[2J")
    console.app.open_details("hosts", host.id)
    await console.on(HostDetails)
    facts = console.screen.query_one("#facts")
    text = "\n".join(_lines(facts))
    assert "evil␛]0;PWNED␇␛[2J" in text
    # The reason's newline cannot forge a row of its own; its markup stays literal.
    assert "line one␊State: [green]fine␛[2J" in text
    assert not OBEYED.search(text.replace("\n", ""))


HOSTILE_LOG = "start\x1b]0;PWNED\x07\x1b[2J\x1b[31mred\x1b[0m end"


async def test_a_log_line_keeps_its_colour_and_loses_its_tricks(console, monkeypatch):
    async def logs(container_id, *, follow=False, tail=None, since=None):
        yield LogLine(HOSTILE_LOG)
        yield LogLine("bell\x07 [bold]not bold[/bold]")

    monkeypatch.setattr(console.sim, "logs", logs)
    await console.press("tab")  # Containers
    await console.press("l")
    await console.on(LogsScreen)
    log = console.screen.query_one(LogView)
    await console.until(lambda: log.line_count == 2, "the two log lines")
    await console.pilot.pause()

    lines = _lines(log)
    assert lines[0].rstrip() == "startred end"
    assert lines[1].rstrip() == "bell␇ [bold]not bold[/bold]"
    segments = list(log.render_line(0))
    red = [s.text for s in segments if s.style and s.style.color and s.style.color.name == "color(1)"]
    assert red == ["red"]  # the colour is kept, on its word
    for segment in _segments(log):
        assert not OBEYED.search(segment.text), repr(segment.text)
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_a_hostile_error_is_notified_cleaned_and_literal(sim, monkeypatch):
    async def refuse(container_id):
        raise Conflict("engine says \x1b]0;PWNED\x07\x1b[2J [bold]no[/bold]")

    monkeypatch.setattr(sim, "stop_container", refuse)
    app = make_app(sim)
    # run_test hides notifications unless asked: this test is about the toast on screen.
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        console = Console(app, pilot, sim)
        await console.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
        await console.until(lambda: console.table("containers").row_count > 0, "containers on screen")
        await console.press("tab")
        table = console.table("containers")
        running = next(i for i in table.visible_ids if table.rows_by_id[i].state is ContainerState.RUNNING)
        assert table.move_cursor(running)
        await console.press("x")

        def toasts() -> list[str]:
            return ["\n".join(_lines(toast)) for toast in app.screen.query("Toast")]

        await console.until(lambda: any("PWNED" in text for text in toasts()), "the toast on screen")
        hostile = " ".join(next(text for text in toasts() if "PWNED" in text).split())
        assert "engine says ␛]0;PWNED␇␛[2J [bold]no[/bold]" in hostile  # markup shown as typed
        assert not OBEYED.search(hostile)


async def test_the_header_and_the_task_strip_show_hostile_reasons_cleaned(console):
    from backends.models import Task, TaskStatus
    from widgets.task_strip import TaskStrip

    console.sim.store.upsert(
        Task(id="t-hostile", kind="stop_container", target="c\x1b]0;PWNED\x07", status=TaskStatus.RUNNING,
             progress=40, message="step [bold]two[/bold]\x1b[2J", created_at=console.sim.clock.now)
    )
    console.sim.store.flush()
    strip = console.screen.query_one(TaskStrip)
    await console.until(lambda: any(t.id == "t-hostile" for t in strip.shown), "the task in the strip")
    await console.pilot.pause()
    line = next(line for line in _lines(strip) if "PWNED" in line)
    assert "stop container c␛]0;PWNED␇" in line and "step [bold]two[/bold]␛[2J" in line
    assert not OBEYED.search(line)

    console.app.store.unreachable("refused \x1b[2J\x1b]0;PWNED\x07 [b]x[/b]\nforged line")
    await console.until(lambda: "refused" in console.header(), "the reason in the header")
    header = _lines(console.screen.query_one("#status"))
    assert len(header) == 2 and "refused ␛[2J␛]0;PWNED␇ [b]x[/b]␊forged line" in header[0]
    assert not OBEYED.search("".join(header))


async def test_the_delete_confirmation_names_a_hostile_container_literally(console):
    from console.screens.confirm import ConfirmDelete

    containers = console.table("containers")
    container = containers.rows_by_id[containers.visible_ids[0]]
    await _rename(console, "containers", container, HOSTILE_CONTAINER)
    await console.press("tab")
    assert containers.move_cursor(container.id)
    await console.press("ctrl+d")
    await console.on(ConfirmDelete)
    question = " ".join(_lines(console.screen.query_one("#question")))
    assert "[b]x␛[31m\\u202e\\x9b" in question
    assert not OBEYED.search(question)
    await console.press("escape")
