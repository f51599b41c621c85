"""ResourceTable driven as a user would: keys, clicks, and a live change stream under it."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.geometry import Region

from backends.models import ContainerState
from widgets import ResourceTable

from .hosts import TableApp, containers


def visible_names(table: ResourceTable) -> list[str]:
    return [table.rows_by_id[row_id].name for row_id in table.visible_ids]


def screen_text(table: ResourceTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def settled(pilot, table: ResourceTable, timeout: float = 30.0) -> None:
    """Wait (between frames, as a user would) until the table's sort or filter is made."""
    deadline = time.monotonic() + timeout
    while table.busy:
        assert time.monotonic() < deadline, "the table's sort or filter never finished"
        await pilot.pause(0.01)


def painted_text(table: ResourceTable) -> list[str]:
    """The lines as the compositor has them: cached lines stay until the table refreshes them."""
    lines = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return [line.text.rstrip() for line in lines]


async def test_renders_header_rows_and_only_what_fits():
    app = TableApp(containers(10_000))
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.pause()
        lines = screen_text(table)
        assert lines[0].split() == ["Name", "Image", "Host", "State", "CPU%"]
        assert lines[1].split()[0] == "app-0"
        assert table.row_count == table.visible_count == 10_000


async def test_cursor_keys_and_messages():
    app = TableApp(containers(100))
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.press("j", "j", "down")
        assert table.cursor_id == "c000003"
        await pilot.press("k")
        assert table.cursor_id == "c000002"
        await pilot.press("G")
        assert table.cursor_id == "c000099"
        # The cursor row is on screen: the table scrolled to it.
        assert "app-99" in screen_text(table)[-1]
        await pilot.press("g")
        assert table.cursor_id == "c000000"
        await pilot.press("pagedown")
        assert table.cursor_id not in (None, "c000000")
        await pilot.press("home", "enter")
        await pilot.pause()
        moved = [m.row_id for m in app.messages if isinstance(m, ResourceTable.CursorMoved)]
        assert moved[-1] == "c000000" and "c000099" in moved
        selected = [m for m in app.messages if isinstance(m, ResourceTable.Selected)]
        assert [m.row_id for m in selected] == ["c000000"]


async def test_click_moves_cursor_and_header_click_sorts():
    app = TableApp(containers(20))
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.click(ResourceTable, offset=(5, 3))  # header is line 0: row index 2
        assert table.cursor_id == "c000002"
        await pilot.click(ResourceTable, offset=(3, 0))  # on "Name": sort by name
        assert table.sort_column == "name"
        assert table.cursor_id == "c000002"  # still on app-2, wherever it went
        await pilot.click(ResourceTable, offset=(3, 0))  # again: the other way round
        assert table.sort_column == "name" and table.sort_reverse
        await pilot.press("home")
        await pilot.double_click(ResourceTable, offset=(5, 2))
        await pilot.pause()
        selected = [m.row_id for m in app.messages if isinstance(m, ResourceTable.Selected)]
        assert selected == [table.visible_ids[1]] == [table.cursor_id]


async def test_cursor_stays_on_item_through_apply_sort_and_filter():
    rows = containers(1_000)
    app = TableApp(rows)
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(ResourceTable)
        assert table.move_cursor("c000500")
        # Rows inserted before it, rows changed and deleted around it.
        table.apply(containers(5, start=5_000), deletes=["c000001", "c000499", "c000501"])
        assert table.cursor_id == "c000500"
        table.sort_by("cpu_percent", reverse=True)
        assert table.cursor_id == "c000500"
        # Its own sort key changes: it moves in the order and the cursor moves with it.
        before = table.visible_ids.index("c000500")
        table.apply([replace(rows[500], cpu_percent=100.0)])
        assert table.visible_ids[0] == "c000500" != table.visible_ids[before]
        assert table.cursor_id == "c000500"
        table.set_filter("app-50")
        assert table.cursor_id == "c000500"
        table.set_filter("")
        assert table.cursor_id == "c000500"
        table.cycle_sort()
        assert table.cursor_id == "c000500"
        await pilot.pause()
        # It is drawn under the cursor, on screen.
        cursor_line = table._cursor_index - round(table.scroll_y) + table._top
        assert "app-500" in screen_text(table)[cursor_line]


async def test_cursor_item_filtered_out_then_back_and_deleted():
    app = TableApp(containers(50))
    async with app.run_test(size=(80, 20)):
        table = app.query_one(ResourceTable)
        table.move_cursor("c000010")
        table.set_filter("redis")  # app-10 has an even number: redis; app-11 is nginx
        table.set_filter("nginx")
        assert table.cursor_id != "c000010" and table.cursor_id is not None
        table.set_filter("")
        assert table.cursor_id == "c000010"  # back on the item the user chose
        table.apply([], deletes=["c000010"])
        assert table.cursor_id == "c000011"  # its neighbour takes the place
        table.set_rows([])
        assert table.cursor_id is None


async def test_marks_survive_changes_and_drop_deleted_rows():
    app = TableApp(containers(30))
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.press("space", "j", "j", "space", "j", "space")
        assert table.marked == {"c000000", "c000002", "c000003"}
        await pilot.press("space")  # toggles off
        assert table.marked == {"c000000", "c000002"}
        await pilot.press("space")
        table.sort_by("name", reverse=True)
        table.set_filter("app-2")
        table.set_filter("")
        table.apply([replace(table.rows_by_id["c000002"], state=ContainerState.EXITED)])
        assert table.marked == {"c000000", "c000002", "c000003"}
        table.apply([], deletes=["c000000"])
        assert table.marked == {"c000002", "c000003"}
        await pilot.pause()
        marks = [m.marked for m in app.messages if isinstance(m, ResourceTable.MarksChanged)]
        assert marks[-1] == {"c000002", "c000003"}
        marked_lines = [line for line in screen_text(table) if line.startswith("●")]
        assert sorted(line.split()[1] for line in marked_lines) == ["app-2", "app-3"]
        table.clear_marks()
        assert table.marked == frozenset()


async def test_filter_substring_regex_and_bad_regex():
    app = TableApp(containers(200))
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_filter("APP-19")  # any case, across columns
        assert visible_names(table) == ["app-19"] + [f"app-{n}" for n in range(190, 200)]
        table.set_filter("exited")  # matches the rendered State column
        assert table.visible_count == len([n for n in range(200) if n % 3 == 1])
        table.set_filter("/^app-1[0-2]\\t/")  # a regex over the row's text
        assert visible_names(table) == ["app-10", "app-11", "app-12"]
        table.set_filter("/app-(/")
        assert table.filter_error is not None and "bad regex" in table.filter_error
        assert table.visible_count == 200  # nothing hidden, nothing crashed
        await pilot.pause()
        assert "bad regex" in screen_text(table)[0]
        table.set_filter("no such thing")
        await pilot.pause()
        assert "No match" in screen_text(table)[2]
        assert table.cursor_id is None


async def test_sorting_orders_rows_and_keeps_them_sorted_under_changes():
    rows = containers(500)
    app = TableApp(rows)
    async with app.run_test(size=(80, 20)):
        table = app.query_one(ResourceTable)
        table.sort_by("cpu_percent")
        cpus = [table.rows_by_id[i].cpu_percent for i in table.visible_ids]
        assert cpus == sorted(cpus)
        table.apply([replace(r, cpu_percent=(r.cpu_percent * 7) % 101) for r in rows[::9]])
        table.apply(containers(20, start=900), deletes=[r.id for r in rows[::50]])
        cpus = [table.rows_by_id[i].cpu_percent for i in table.visible_ids]
        assert cpus == sorted(cpus)
        assert table.visible_count == 500 + 20 - 10
        table.sort_by("name", reverse=True)
        names = visible_names(table)
        assert names == sorted(names, reverse=True)
        table.set_filter("redis")
        table.apply([replace(rows[1], image="redis:7")])  # enters the filter
        assert "app-1" in visible_names(table)
        names = visible_names(table)
        assert names == sorted(names, reverse=True)


async def test_a_five_percent_tick_at_ten_thousand_rows_keeps_sort_and_filter():
    # How fast it is lives in the benchmark (console.bench: "5% tick to frame"), not here.
    rows = containers(10_000)
    app = TableApp(rows)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.sort_by("cpu_percent")
        table.set_filter("app")
        await settled(pilot, table)
        tick = [replace(r, cpu_percent=(r.cpu_percent + 13) % 100) for r in rows[::20]]
        table.apply(tick)
        await settled(pilot, table)  # the filter's verdict on the changed rows, between frames
        cpus = [table.rows_by_id[i].cpu_percent for i in table.visible_ids]
        assert cpus == sorted(cpus)


async def test_loading_and_empty_text():
    app = TableApp(None)
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_loading("Loading containers…")
        await pilot.pause()
        assert "Loading containers…" in screen_text(table)[1]
        table.set_rows([])
        await pilot.pause()
        assert table.empty_text in screen_text(table)[1]


async def test_values_changed_in_place_are_repainted():
    rows = containers(1_000)
    app = TableApp(rows)
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.pause()
        assert "running" in painted_text(table)[1]  # app-0
        # A tick that changes a visible row and rows far below the screen; the order stays.
        tick = [replace(rows[0], state=ContainerState.EXITED)] + [
            replace(r, cpu_percent=1.0) for r in rows[500:550]
        ]
        table.apply(tick)
        await pilot.pause()
        assert "exited" in painted_text(table)[1]
        assert table.visible_ids[:2] == ["c000000", "c000001"]


async def test_filter_follows_changed_values_through_apply_and_set_rows():
    rows = containers(30)
    app = TableApp(rows)
    async with app.run_test(size=(80, 20)):
        table = app.query_one(ResourceTable)
        table.set_filter("paused")
        paused = {r.id for r in rows if r.state is ContainerState.PAUSED}
        assert set(table.visible_ids) == paused
        table.apply([replace(rows[0], state=ContainerState.PAUSED)])  # app-0 was running
        assert set(table.visible_ids) == paused | {"c000000"}
        # A full reload where one row changed and the others are the same objects.
        rows[2] = replace(rows[2], state=ContainerState.RUNNING)  # app-2 was paused
        table.set_rows(rows)
        assert set(table.visible_ids) == paused - {"c000002"}


async def test_a_column_of_mixed_types_still_sorts():
    from widgets import Column

    rows = [replace(r, exit_code=n % 3) for n, r in enumerate(containers(20))]
    columns = [Column("name", "Name"), Column("exit_code", "Exit")]
    app = TableApp(None)
    async with app.run_test(size=(80, 20)) as pilot:
        table = ResourceTable(columns, id="mixed")
        await app.mount(table)
        table.set_rows(rows)
        table.sort_by("exit_code")
        # A word among the numbers (None sorts last): the table compares text, never raises.
        table.apply([replace(rows[5], exit_code="killed")])  # type: ignore[arg-type]
        assert table.visible_count == 20 and table.cursor_id is not None
        table.apply([replace(rows[6], exit_code=None)])
        assert table.visible_ids[-1] == "c000006"
        await pilot.pause()


async def test_a_table_removed_while_it_sorts_stops_cleanly():
    app = TableApp(containers(30_000))
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ResourceTable)
        table.sort_by("cpu_percent")
        assert table.busy  # made between frames...
        await table.remove()  # ...and the table goes before the sort is made
        await pilot.pause(0.05)
        assert not table.is_attached
