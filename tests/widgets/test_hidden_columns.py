"""ResourceTable showing a subset of its columns: the rows stay, the drawing, the widths, the
filter and the sort follow what is shown."""

from __future__ import annotations

import pytest

from widgets import ResourceTable
from widgets.resource_table import SEPARATOR

from .hosts import TableApp, containers
from .test_resource_table import screen_text, settled, visible_names


async def test_a_hidden_column_is_not_drawn_and_the_widths_close_up():
    app = TableApp(containers(50))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.pause()
        wide = table.virtual_size.width
        image_width = table._widths[1]
        before = screen_text(table)
        assert before[0].split() == ["Name", "Image", "Host", "State", "CPU%"]
        host_at = before[0].index("Host")

        table.set_hidden_columns({"image"})
        await pilot.pause()
        lines = screen_text(table)
        assert lines[0].split() == ["Name", "Host", "State", "CPU%"]
        assert not any("nginx" in line or "redis" in line for line in lines[1:])
        assert lines[1].split() == ["app-0", "host-0", "running", "0.0"]
        # The columns after it moved left by its width and one separator; the rows are the same.
        assert lines[0].index("Host") == host_at - image_width - len(SEPARATOR)
        assert table.virtual_size.width == wide - image_width - len(SEPARATOR)
        assert table.row_count == table.visible_count == 50
        assert [c.key for c in table.shown_columns] == ["name", "host_id", "state", "cpu_percent"]

        table.set_hidden_columns(())
        await pilot.pause()
        assert screen_text(table) == before and table.virtual_size.width == wide


async def test_the_filter_matches_what_is_shown_and_is_made_again_when_columns_change():
    app = TableApp(containers(200))
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_filter("redis")  # the Image column: even rows
        assert table.visible_count == 100
        table.set_hidden_columns({"image"})
        await settled(pilot, table)
        assert table.visible_count == 0  # nothing shown says redis any more
        table.set_filter("host-3")
        await settled(pilot, table)
        assert visible_names(table) == [f"app-{n}" for n in range(200) if n % 7 == 3]
        table.set_hidden_columns(set())
        table.set_filter("redis")
        await settled(pilot, table)
        assert table.visible_count == 100


async def test_sorting_by_a_hidden_column_keeps_its_order_and_the_sort_key_moves_on_shown_ones():
    app = TableApp(containers(300))
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.sort_by("cpu_percent")
        table.set_hidden_columns({"cpu_percent", "image"})
        await settled(pilot, table)
        cpus = [table.rows_by_id[i].cpu_percent for i in table.visible_ids]
        assert table.sort_column == "cpu_percent" and cpus == sorted(cpus)  # the order is kept
        table.cycle_sort()  # from a hidden column: the first shown one
        await settled(pilot, table)
        assert table.sort_column == "name"
        table.cycle_sort()  # Image is hidden: Host next
        assert table.sort_column == "host_id"
        # A click on a title finds the column where it is drawn now.
        header = screen_text(table)[0]
        await pilot.click(ResourceTable, offset=(header.index("State") + 1, 0))
        await settled(pilot, table)
        states = [table.rows_by_id[i].state.value for i in table.visible_ids]
        assert table.sort_column == "state" and states == sorted(states)


async def test_hiding_columns_of_a_large_filtered_table_between_frames():
    app = TableApp(containers(20_000))
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_filter("exited")
        await settled(pilot, table)
        assert table.visible_count == len([n for n in range(20_000) if n % 3 == 1])
        table.set_hidden_columns({"state"})  # the filter's words were in it
        await settled(pilot, table)
        assert table.visible_count == 0
        table.set_hidden_columns({"image"})
        await settled(pilot, table)
        assert table.visible_count == len([n for n in range(20_000) if n % 3 == 1])
        assert "exited" in screen_text(table)[2]


async def test_unknown_or_every_column_is_refused():
    app = TableApp(containers(5))
    async with app.run_test(size=(100, 12)):
        table = app.query_one(ResourceTable)
        with pytest.raises(KeyError):
            table.set_hidden_columns({"nope"})
        with pytest.raises(ValueError):
            table.set_hidden_columns({c.key for c in table.columns})
        assert table.hidden_columns == frozenset() and len(table.shown_columns) == 5
