"""ResourceTable at sizes where a sort or a filter does not fit in a frame: the work is made in
slices between frames. What a user sees at the end is what a plain filter and sort give; the
cursor and the marks stay on their items; keys are handled while the work goes on."""

from __future__ import annotations

from dataclasses import replace

from backends.models import Container
from widgets import ResourceTable

from .hosts import COLUMNS, TableApp, containers
from .test_resource_table import settled

ROWS = 30_000  # well above what the table does at once


def row_text(row: Container) -> str:
    return "\t".join(column.plain(row) for column in COLUMNS).lower()


def plain_filter(rows: list[Container], needle: str) -> list[str]:
    """The filter the slow way: every row, in the order given."""
    return [r.id for r in rows if needle.lower() in row_text(r)]


def by_cpu(rows: list[Container], reverse: bool = False) -> list[Container]:
    # The table's order for this column: by value, ties in the order the rows came in.
    order = sorted(range(len(rows)), key=lambda n: rows[n].cpu_percent, reverse=reverse)
    if reverse:  # a reverse sort reverses the ties too
        order = sorted(range(len(rows)), key=lambda n: (rows[n].cpu_percent, n), reverse=True)
    return [rows[n] for n in order]


async def test_a_filter_returns_at_once_shows_matches_as_found_and_ends_as_the_plain_filter():
    rows = containers(ROWS)
    app = TableApp(rows)
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        assert table.move_cursor("c012345")
        table.set_filter("app-12")
        assert table.busy  # the call returned before the work was done
        assert table.filter_text == "app-12"
        assert table.visible_count < len(plain_filter(rows, "app-12"))  # only the matches so far
        await settled(pilot, table)
        assert table.visible_ids == plain_filter(rows, "app-12")
        assert table.cursor_id == "c012345"  # the item the user was on, found where it is


async def test_typing_narrows_from_the_previous_matches_without_waiting_for_them():
    rows = containers(ROWS)
    app = TableApp(rows)
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        # One character after another, each before the previous one's work is done.
        for n in range(1, len("app-2") + 1):
            table.set_filter("app-2"[:n])
            await pilot.pause()
        table.set_filter("app-29")
        await settled(pilot, table)
        assert table.visible_ids == plain_filter(rows, "app-29")
        # Backspace widens again: all rows are tested.
        table.set_filter("app-2")
        await settled(pilot, table)
        assert table.visible_ids == plain_filter(rows, "app-2")
        table.set_filter("")
        assert not table.busy and table.visible_count == ROWS


async def test_a_sort_shows_the_old_order_until_the_new_one_is_whole_and_keeps_cursor_and_marks():
    rows = containers(ROWS)
    app = TableApp(rows)
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.press("j", "j", "space", "j")  # c000002 marked, cursor on c000003
        table.sort_by("cpu_percent")
        assert table.busy and table.sort_column == "cpu_percent"
        assert table.visible_ids[:4] == ["c000000", "c000001", "c000002", "c000003"]
        await pilot.press("space")  # a key while the sort is made: handled now
        assert table.marked == {"c000002", "c000003"}
        await settled(pilot, table)
        assert table.visible_ids == [r.id for r in by_cpu(rows)]
        assert table.cursor_id == "c000003"
        assert table.marked == {"c000002", "c000003"}
        table.sort_by("cpu_percent", reverse=True)
        await settled(pilot, table)
        assert table.visible_ids == [r.id for r in by_cpu(rows, reverse=True)]


async def test_changes_while_the_work_goes_on_end_in_the_right_place():
    rows = containers(ROWS)
    app = TableApp(rows)
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        table.sort_by("cpu_percent")
        table.set_filter("redis")  # while the sort is made
        current = {r.id: r for r in rows}
        for tick in range(4):
            changed = [replace(r, cpu_percent=(r.cpu_percent + 11 + tick) % 100) for r in rows[tick::40]]
            changed.append(replace(rows[tick * 2 + 1], image="redis:7"))  # enters the filter
            new = containers(3, start=ROWS + 3 * tick)
            gone = [rows[tick * 100 + 7].id, rows[tick * 100 + 9].id]  # none of the changed
            table.apply(changed + new, deletes=gone)
            current.update({r.id: r for r in changed + new})
            for row_id in gone:
                current.pop(row_id)
            await pilot.pause()
        await settled(pilot, table)
        final = list(current.values())  # in the order the rows came in, as the table's ties
        expected = [r.id for r in by_cpu(final)]
        expected = [row_id for row_id in expected if "redis" in row_text(current[row_id])]
        assert table.visible_ids == expected
        assert table.row_count == len(current)


async def test_a_key_moves_the_cursor_while_a_filter_is_made():
    app = TableApp(containers(ROWS))
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        seen_busy: list[bool] = []
        cursor_down = table.action_cursor_down

        def recorded() -> None:
            seen_busy.append(table.busy)
            cursor_down()

        table.action_cursor_down = recorded  # type: ignore[method-assign]
        table.set_filter("app")  # every row matches: the longest scan
        assert table.busy
        await pilot.press("j")
        assert seen_busy == [True]  # the key was handled before the filter was done...
        await settled(pilot, table)
        assert table.cursor_id == "c000001"  # ...and its move kept


class _OrderApp(TableApp):
    def on_resource_table_order_changed(self, message: ResourceTable.OrderChanged) -> None:
        self.messages.append(message)


async def test_the_end_of_work_made_between_frames_is_announced_once():
    app = _OrderApp(containers(ROWS))
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(ResourceTable)
        await settled(pilot, table)
        app.messages.clear()
        table.set_filter("app-1")
        await settled(pilot, table)
        await pilot.pause()
        done = [m for m in app.messages if isinstance(m, ResourceTable.OrderChanged)]
        assert len(done) == 1 and done[0].table is table  # a screen retitles its counts on it
        table.set_filter("")  # made within the call: nothing to announce
        await pilot.pause()
        assert len([m for m in app.messages if isinstance(m, ResourceTable.OrderChanged)]) == 1
