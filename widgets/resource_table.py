"""A virtualized table for large, live sets of resources (hosts, containers, volumes).

Built on Textual's Line API: only the visible rows are rendered, so 100,000 rows cost the same
per frame as 40. The table keeps an index of the visible row ids (filtered, then sorted) and
updates it once per batch of changes, never while drawing. The cursor and the marks follow
items by id, so they stay on the same item while rows change, move or hide under them.

Sorting or filtering many rows is too slow for one frame (at 100,000 rows a sort takes a few
hundred milliseconds, a first filter longer: each row's text is made as it is tested). Such work
runs as a job, a generator stepped in slices of a few milliseconds between frames: the key
that asked for it returns at once, a filter shows its matches as they are found (a longer
filter only searches the previous matches), a sort shows the previous order until the new one
is whole. Small tables (SYNC_ROWS) are done at once, as before.

Columns can be hidden and shown again (``set_hidden_columns``) without touching the rows: only
the drawing, the widths and the filter's text follow what is shown. A table sorted by a column
that is then hidden keeps that order (``sort_column`` still names it); the sort key moves on
through the shown columns only.
"""

from __future__ import annotations

import heapq
import re
import time
from operator import attrgetter
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Iterator, Literal, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets.terminal_text import visible, visible_text

Row = TypeVar("Row")

MARKER_WIDTH = 2  # the marker column: "● " on marked rows
AUTO_WIDTH_SAMPLE = 500  # rows sampled to size a column whose width is not given
AUTO_WIDTH_MAX = 48
SEPARATOR = " "
SLICE_SECONDS = 0.008  # index work per slice: a frame and the next key get through between
FIRST_SLICE_SECONDS = 0.002  # the slice run by the call itself: the key's frame comes right after
SYNC_ROWS = 2_000  # index work over at most this many rows is done at once, no slices
SORT_RUN = 4_096  # rows sorted by one sorted() call (a few ms); the runs are then merged in slices
CHECK_EVERY = 128  # rows between two looks at the clock
PARTIAL_REFRESH_SECONDS = 0.1  # while a filter runs, its matches so far are shown this often
STRIP_CACHE_ROWS = 512  # rows kept drawn: a few screens' worth


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One column. ``render`` gives the cell (plain or styled); ``sort_key`` orders by it.

    Without ``render`` the cell shows ``getattr(row, key)``; without ``sort_key`` the column
    sorts by that attribute when there is no ``render``, else by the rendered text.
    """

    key: str
    title: str
    width: int | None = None
    render: Callable[[Row], str | Text] | None = None
    sort_key: Callable[[Row], Any] | None = None
    align: Literal["left", "right"] = "left"

    def cell(self, row: Row) -> str | Text:
        """The cell as shown: every control in it made visible.

        Every cell may hold data from outside (a VM's name, a container's status): cleaned
        here, where a cell becomes text, every table is safe and its widths and sort see what
        is shown. Clean text costs one ``str.isprintable`` call.
        """
        cell = self.raw_cell(row)
        return visible(cell) if isinstance(cell, str) else visible_text(cell)

    def raw_cell(self, row: Row) -> str | Text:
        """The cell as rendered, not yet cleaned: never for the screen."""
        if self.render is not None:
            return self.render(row)
        value = getattr(row, self.key, "")
        if value is None:
            return ""
        return str(getattr(value, "value", value))  # enums show their value

    def plain(self, row: Row) -> str:
        cell = self.cell(row)
        return cell.plain if isinstance(cell, Text) else cell

    def raw_plain(self, row: Row) -> str:
        cell = self.raw_cell(row)
        return cell.plain if isinstance(cell, Text) else cell

    def order_key(self, row: Row) -> Any:
        if self.sort_key is not None:
            value = self.sort_key(row)
        elif self.render is None:
            value = getattr(row, self.key, None)
            value = getattr(value, "value", value)
        else:
            value = self.plain(row).lower()
        return (value is None, value)  # None sorts last


def is_regex(text: str) -> bool:
    return len(text) >= 2 and text.startswith("/") and text.endswith("/")


class FilterError(ValueError):
    """The filter text is a /regex/ that does not compile."""


def compile_filter(text: str) -> Callable[[str], bool] | None:
    """A predicate over a row's lower-cased search text; ``None`` means no filter.

    ``/like this/`` is a case-insensitive regex; anything else is a case-insensitive substring.
    """
    if not text:
        return None
    if is_regex(text):
        try:
            pattern = re.compile(text[1:-1], re.IGNORECASE)
        except re.error as exc:
            raise FilterError(f"bad regex: {exc}") from None
        return lambda haystack: pattern.search(haystack) is not None
    needle = text.lower()
    return lambda haystack: needle in haystack


class ResourceTable(ScrollView, Generic[Row], can_focus=True):
    """A fast table of rows keyed by id, with a cursor, marks, a live filter and sorting."""

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", id="cursor_down", show=False),
        Binding("k,up", "cursor_up", "Up", id="cursor_up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", id="page_down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", id="page_up", show=False),
        Binding("home,g", "cursor_top", "Top", id="cursor_top", show=False),
        Binding("end,G", "cursor_bottom", "Bottom", id="cursor_bottom", show=False),
        Binding("space", "toggle_mark", "Mark", id="mark"),
        Binding("enter", "select", "Open", id="select"),
    ]

    COMPONENT_CLASSES = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--marked",
        "resource-table--marker",
        "resource-table--filter",
        "resource-table--error",
        "resource-table--message",
    }

    DEFAULT_CSS = """
    ResourceTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .resource-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .resource-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .resource-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .resource-table--marked { background: $accent 25%; }
        & > .resource-table--marker { color: $accent; text-style: bold; }
        & > .resource-table--filter { background: $panel; color: $text-accent; }
        & > .resource-table--error { background: $error 30%; color: $text-error; text-style: bold; }
        & > .resource-table--message { color: $text-muted; text-style: italic; }
    }
    """

    class _TableMessage(Message):
        """A message about the table: ``control`` lets handlers use ``on(..., "#id")``."""

        def __init__(self, table: "ResourceTable") -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> "ResourceTable":
            return self.table

    class CursorMoved(_TableMessage):
        """The cursor is on another item (``row_id`` is ``None`` when the table is empty)."""

        def __init__(self, table: "ResourceTable", row_id: str | None) -> None:
            super().__init__(table)
            self.row_id = row_id

    class Selected(_TableMessage):
        """The user chose the item under the cursor (enter, or a double click)."""

        def __init__(self, table: "ResourceTable", row_id: str) -> None:
            super().__init__(table)
            self.row_id = row_id

    class OrderChanged(_TableMessage):
        """A sort or a filter made between frames is done: the rows shown (and their count)
        are final. (Work done within the call that asked for it posts nothing.)"""

    class MarksChanged(_TableMessage):
        def __init__(self, table: "ResourceTable", marked: frozenset[str]) -> None:
            super().__init__(table)
            self.marked = marked

    def __init__(
        self,
        columns: Iterable[Column[Row]],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        row_key: Callable[[Row], str] = attrgetter("id"),
        empty_text: str = "Nothing here",
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column[Row]] = list(columns)
        self.row_key = row_key
        self.empty_text = empty_text
        self._widths: list[int] = [c.width or cell_len(c.title) + 1 for c in self.columns]  # +1: sort arrow
        self._hidden: frozenset[str] = frozenset()  # keys of the columns not shown
        self._shown: list[int] = list(range(len(self.columns)))  # indexes of the columns shown
        self._pending_widths: dict[int, int] = {}  # column index -> width seen while drawing
        self._rows: dict[str, Row] = {}
        self._seq: dict[str, int] = {}  # insertion order: the order when nothing is sorted
        self._next_seq = 0
        # Every row's key for the current sort; when nothing is sorted, ``_seq`` itself (one
        # dict, not two: at 100,000 rows a dict costs 5 MiB).
        self._keys: dict[str, Any] = self._seq
        self._text_keys = False  # the sorted column mixes types: its keys are compared as text
        self._sorted: list[str] = []  # every id, sorted
        self._visible: set[str] | None = None  # ids that pass the filter (None: no filter)
        self._order: list[str] = []  # the ids shown: ``_sorted`` filtered
        # Lower-cased search text per id, made as a filter tests the row and dropped when its row
        # changes (rows are immutable values: a changed row is a new object) or the filter is
        # cleared: about 150 bytes a row that only a filter needs.
        self._texts: dict[str, str] = {}
        self._filter_text = ""
        self._matcher: Callable[[str], bool] | None = None
        self._needle: str | None = None  # the filter when it is a plain substring: tested inline
        self._filter_error: str | None = None
        self._sort_column: str | None = None
        self._sort_reverse = False
        self._cursor_id: str | None = None  # the item the user put the cursor on
        self._cursor_index = 0  # where the cursor shows; the item's index when visible
        self._reported_cursor: str | None = None
        self._marked: set[str] = set()
        self._loading: str | None = None
        # The index work in progress (see the module's docstring).
        self._job: Iterator[None] | None = None
        self._job_stepping = False  # the next slice is scheduled
        self._job_sliced = False  # the job went on between frames: its end is announced
        self._job_sort: tuple[str | None, bool] | None = None  # the sort being made
        self._job_moved: set[str] = set()  # ids changed while a sort is being made
        self._scan: list[str] | None = None  # the ids a running filter tests, in order
        self._scan_pos = 0  # how far it got
        self._stale: set[str] = set()  # ids whose match or place in ``_order`` is to be checked
        self._scan_shown_at: float | None = None  # when the filter's matches were last shown
        self._strips: dict[tuple[Any, ...], tuple[Row, Strip]] = {}  # drawn rows, not the cursor's

    # ----------------------------------------------------------------------------- read access

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def visible_count(self) -> int:
        return len(self._order)

    @property
    def rows_by_id(self) -> dict[str, Row]:
        """All rows (filtered or not) by id. Read only: change rows with ``apply``."""
        return self._rows

    @property
    def visible_ids(self) -> list[str]:
        """The ids in display order (a copy)."""
        return list(self._order)

    @property
    def ids_in_view(self) -> list[str]:
        """The ids of the rows on screen now (none when the table is not shown)."""
        if not self.is_mounted or not self.display or self.region.height == 0:
            return []
        top = round(self.scroll_y)
        return self._order[top : top + self._body_height()]

    @property
    def filter_text(self) -> str:
        return self._filter_text

    @property
    def filter_error(self) -> str | None:
        return self._filter_error

    @property
    def sort_column(self) -> str | None:
        """The column asked for (its order may still be being made: see ``busy``)."""
        return self._job_sort[0] if self._job_sort is not None else self._sort_column

    @property
    def sort_reverse(self) -> bool:
        return self._job_sort[1] if self._job_sort is not None else self._sort_reverse

    @property
    def busy(self) -> bool:
        """A sort or a filter is being made between frames; what is shown is not final yet."""
        return self._job is not None

    @property
    def hidden_columns(self) -> frozenset[str]:
        return self._hidden

    @property
    def shown_columns(self) -> list[Column[Row]]:
        """The columns drawn, in their order."""
        return [self.columns[n] for n in self._shown]

    @property
    def cursor_id(self) -> str | None:
        if not self._order:
            return None
        return self._order[self._cursor_index]

    @property
    def cursor_row(self) -> Row | None:
        row_id = self.cursor_id
        return None if row_id is None else self._rows.get(row_id)

    @property
    def marked(self) -> frozenset[str]:
        return frozenset(self._marked)

    # ----------------------------------------------------------------------------- data

    def set_loading(self, text: str | None) -> None:
        """Show ``text`` in place of the rows until ``set_rows`` (``None`` clears it)."""
        self._loading = text
        self.refresh()

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace every row. Cursor and marks stay on items that are still there."""
        key = self.row_key
        rows_before, self._rows = self._rows, {key(row): row for row in rows}
        self._seq = dict(zip(self._rows, range(len(self._rows))))
        self._next_seq = len(self._seq)
        rows_now = self._rows
        self._texts = {row_id: text for row_id, text in self._texts.items() if rows_now.get(row_id) is rows_before.get(row_id)}
        self._loading = None
        self._grow_widths(self._sample(list(self._rows.values())))
        self._drop_gone_marks()
        # Until the new order is made, show the old one without the rows that are gone (the
        # new ones at the end): nothing drawn may name a row that is not there.
        keep = rows_now.__contains__
        self._sorted = [row_id for row_id in self._sorted if keep(row_id)]
        known = set(self._sorted)
        self._sorted += [row_id for row_id in rows_now if row_id not in known]
        if self._visible is None:
            self._order = self._sorted
        else:
            self._order = [row_id for row_id in self._order if keep(row_id)]
            self._visible = set(self._order)
        self._resort()

    def apply(self, upserts: Iterable[Row], deletes: Iterable[str] = ()) -> None:
        """Patch rows in place: at most one O(n) pass over the index, one refresh.

        A filter's verdict on the changed rows is made between frames (their texts are made
        anew); while a sort is being made, the changed rows find their place when it is done.
        """
        key = self.row_key
        rows, seq, keys, texts = self._rows, self._seq, self._keys, self._texts
        deleted = {row_id for row_id in deletes if row_id in rows}
        for row_id in deleted:
            del rows[row_id]
            del seq[row_id]
            if keys is not seq:
                keys.pop(row_id, None)
            texts.pop(row_id, None)
        sorting = self._job_sort is not None
        filtering = self._matcher is not None
        moved: set[str] = set(deleted)  # ids whose place in the order must be recomputed
        changed: list[str] = []  # ids changed, new or not
        sample: list[Row] = []
        column = self._column(self._sort_column)
        for row in upserts:
            row_id = key(row)
            is_new = row_id not in rows
            rows[row_id] = row
            texts.pop(row_id, None)
            changed.append(row_id)
            if len(sample) < AUTO_WIDTH_SAMPLE:
                sample.append(row)
            if is_new:
                seq[row_id] = self._next_seq
                self._next_seq += 1
            if sorting:
                moved.add(row_id)  # placed when the new order is done
                continue
            new_key = self._make_key(row_id, column)
            if not is_new and keys[row_id] == new_key:
                continue
            if keys is not seq:
                keys[row_id] = new_key
            moved.add(row_id)
        grew = self._grow_widths(sample)
        if deleted:
            self._drop_gone_marks()
            self._drop_from_shown(deleted)
        if sorting:
            self._job_moved |= moved
        if filtering:
            self._stale.update(changed)
            self._stale |= deleted
        if not (moved or grew or (filtering and changed)):
            self._refresh_rows(changed)  # the common tick: values change, the order does not
            return
        if moved and not sorting:
            try:
                self._sorted = self._merge(self._sorted, moved, rows.__contains__)
            except TypeError:
                # A value of another type in the sorted column: sort again, comparing text.
                self._resort()
                return
            if not filtering:
                self._order = self._sorted
        if filtering and self._stale and self._job is None:
            self._start_job(None, None)  # checks the stale rows, at once when they are few
            if self._job is not None:
                self._refresh_rows(changed)
            return
        if self._job is not None:
            self._refresh_rows(changed)  # the running job places them
            return
        self._after_change()

    def set_filter(self, text: str) -> None:
        """Show only rows whose text contains ``text`` (or matches ``/regex/``), any case."""
        if text == self._filter_text:
            return
        previous, previous_matcher = self._filter_text, self._matcher
        self._filter_text = text
        try:
            self._matcher = compile_filter(text)
            self._filter_error = None
            self._needle = text.lower() if self._matcher is not None and not is_regex(text) else None
        except FilterError as exc:
            self._matcher = self._needle = None
            self._filter_error = str(exc)
        if self._matcher is None:
            # Everything is shown: no scan, and the texts go (a filter makes them again).
            self._scan = None
            self._stale.clear()
            self._texts = {}
            self._visible = None
            self._order = self._sorted
            if self._job is not None and self._job_sort is None:
                self._job = None  # a filter's scan, now pointless
            self._after_change()
            return
        # A longer substring only hides rows: test the rows it can still show, not all of them.
        narrowing = (
            previous_matcher is not None
            and not previous.startswith("/")
            and not text.startswith("/")
            and previous.lower() in text.lower()
        )
        if narrowing and self._visible is not None:
            candidates = self._order if self._scan is None else self._order + self._scan[self._scan_pos :]
        else:
            candidates = self._sorted
        self._start_job(None, candidates)

    def set_hidden_columns(self, keys: Iterable[str]) -> None:
        """Draw every column but these. The rows stay as they are; the widths, the header, a
        click on a title and the filter (it matches what is shown) follow. KeyError for a key
        that is no column; ValueError when no column would be left."""
        hidden = frozenset(keys)
        unknown = hidden - {c.key for c in self.columns}
        if unknown:
            raise KeyError(f"no column {sorted(unknown)[0]!r}")
        if len(hidden) >= len(self.columns):
            raise ValueError("a table shows at least one column")
        if hidden == self._hidden:
            return
        shown_again = self._hidden - hidden
        self._hidden = hidden
        self._shown = [n for n, c in enumerate(self.columns) if c.key not in hidden]
        self._strips.clear()
        if shown_again:  # auto-sized columns were not measured while hidden
            self._grow_widths(self._sample(list(self._rows.values())))
        self._texts = {}
        if self._matcher is not None:
            self._start_job(None, self._sorted)  # what matches is what is shown: test again
        else:
            self._after_change()

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        """Order by a column (``None``: the order the rows came in)."""
        if column_key is not None and self._column(column_key) is None:
            raise KeyError(f"no column {column_key!r}")
        self._start_job((column_key, reverse), None)

    def cycle_sort(self) -> None:
        """Sort by the next shown column (after the last one: the original order)."""
        keys = [c.key for c in self.shown_columns]
        current = self.sort_column
        if current is None or current not in keys:  # a hidden column's order: start again
            self.sort_by(keys[0] if keys else None)
            return
        index = keys.index(current) + 1
        self.sort_by(keys[index] if index < len(keys) else None)

    # ----------------------------------------------------------------------------- cursor and marks

    def move_cursor(self, to_id: str) -> bool:
        """Put the cursor on an item; False when it is not visible."""
        if not self._is_visible(to_id):
            return False
        self._set_cursor_index(self._order.index(to_id))
        return True

    def toggle_mark(self) -> None:
        row_id = self.cursor_id
        if row_id is None:
            return
        if row_id in self._marked:
            self._marked.discard(row_id)
        else:
            self._marked.add(row_id)
        self._refresh_row(self._cursor_index)
        self.post_message(self.MarksChanged(self, self.marked))

    def clear_marks(self) -> None:
        if self._marked:
            self._marked.clear()
            self.refresh()
            self.post_message(self.MarksChanged(self, self.marked))

    def action_cursor_down(self) -> None:
        self._set_cursor_index(self._cursor_index + 1)

    def action_cursor_up(self) -> None:
        self._set_cursor_index(self._cursor_index - 1)

    def action_page_down(self) -> None:
        self._set_cursor_index(self._cursor_index + max(1, self._body_height() - 1))

    def action_page_up(self) -> None:
        self._set_cursor_index(self._cursor_index - max(1, self._body_height() - 1))

    def action_cursor_top(self) -> None:
        self._set_cursor_index(0)

    def action_cursor_bottom(self) -> None:
        self._set_cursor_index(len(self._order) - 1)

    def action_toggle_mark(self) -> None:
        self.toggle_mark()

    def action_select(self) -> None:
        row_id = self.cursor_id
        if row_id is not None:
            self.post_message(self.Selected(self, row_id))

    def _set_cursor_index(self, index: int) -> None:
        if not self._order:
            return
        index = max(0, min(index, len(self._order) - 1))
        old = self._cursor_index
        self._cursor_index = index
        self._cursor_id = self._order[index]
        if old != index:
            self._refresh_row(old)
            self._refresh_row(index)
        self._scroll_to_cursor()
        self._report_cursor()

    # ----------------------------------------------------------------------------- the index

    def _column(self, key: str | None) -> Column[Row] | None:
        for column in self.columns:
            if column.key == key:
                return column
        return None

    def _search_text(self, row_id: str) -> str:
        text = self._texts.get(row_id)
        if text is None:
            row = self._rows[row_id]
            # Cleaned once per row, not per cell: the filter matches what is shown.
            text = self._texts[row_id] = visible("\t".join(column.raw_plain(row) for column in self.shown_columns), tabs=True).lower()
        return text

    def _make_key(self, row_id: str, column: Column[Row] | None, text_keys: bool | None = None) -> Any:
        """The row's place in the order: its sequence number when nothing is sorted (all
        keys are then numbers), else (is None, value, sequence number)."""
        seq = self._seq[row_id]
        if column is None:
            return seq
        is_none, value = column.order_key(self._rows[row_id])
        if self._text_keys if text_keys is None else text_keys:
            value = str(value)
        return (is_none, value, seq)

    def _resort(self) -> None:
        """Make the order again: the rows were replaced, or a key cannot be compared."""
        self._start_job((self.sort_column, self.sort_reverse), None)

    # -- index jobs: the work that may not fit in a frame

    def _start_job(self, sort: tuple[str | None, bool] | None, candidates: list[str] | None) -> None:
        """Make the order for ``sort`` (column, reverse), then test ``candidates`` against the
        filter (after a sort: the whole order), then the stale rows; done at once when the
        work is small or the table is not attached, else a slice now and the rest between
        frames. A job replaces the one running; a sort being made is started again."""
        if sort is None and self._job_sort is not None:
            sort = self._job_sort  # the filter is applied when the new order is made
        self._job_sort = sort
        self._scan = None
        self._job = self._index_job(sort, candidates)
        if sort is not None:
            self.refresh_line(self._top - 1)  # the header: the column asked for, "…" until done
        if sort is not None:
            work = len(self._rows)
        else:
            work = len(candidates) if candidates is not None else len(self._stale)
        self._step(None if work <= SYNC_ROWS or not self.is_attached else FIRST_SLICE_SECONDS)

    def _step(self, budget: float | None) -> None:
        """Run the job for ``budget`` seconds (``None``: to its end), then let a frame through."""
        job = self._job
        if job is None:
            return
        deadline = None if budget is None else time.perf_counter() + budget
        try:
            while True:
                next(job)
                if deadline is not None and time.perf_counter() >= deadline:
                    break
        except StopIteration:
            if self._job is job:
                self._job = None
                if self._job_sliced:
                    self._job_sliced = False
                    self.post_message(self.OrderChanged(self))
            return
        if self._job is not job:
            return  # replaced from within (a key that no longer compares: sorted again)
        if self._scan is not None:
            # A filter shows its matches as they are found, not on every slice: a refresh per
            # slice would leave the slices a third of each frame.
            now = time.monotonic()
            if self._scan_shown_at is None or now - self._scan_shown_at >= PARTIAL_REFRESH_SECONDS:
                self._scan_shown_at = now
                self._after_change()
        self._job_sliced = True
        if not self._job_stepping:
            self._job_stepping = True
            # After the next frame (or at once when nothing is to be drawn), and after the
            # keys already waiting: a slice never delays a frame or a key by more than itself.
            self.call_after_refresh(self._next_slice)

    def _next_slice(self) -> None:
        self._job_stepping = False
        if self.is_attached:
            self._step(SLICE_SECONDS)

    def _index_job(self, sort: tuple[str | None, bool] | None, candidates: list[str] | None) -> Iterator[None]:
        if sort is not None:
            yield from self._make_order(*sort)
            if self._matcher is None:
                self._order, self._visible = self._sorted, None
                self._stale.clear()
                self._after_change()
                return
            candidates = self._sorted
        if candidates is not None:
            yield from self._filter_scan(candidates)
        yield from self._check_stale()

    def _make_order(self, column_key: str | None, reverse: bool) -> Iterator[None]:
        """Sort every row by ``column_key``: keys in slices, sorted runs of SORT_RUN rows, the
        runs merged in slices. What is shown meanwhile is the previous order; rows changed
        meanwhile (``_job_moved``) are placed at the end."""
        column = self._column(column_key)
        rows, seq = self._rows, self._seq
        text_keys = False
        while True:
            ids = list(rows)
            self._job_moved = set()
            try:
                if column is None:
                    # A dict keeps the order its keys came in: the rows are in order already.
                    keys: dict[str, Any] = seq
                    merged = ids[::-1] if reverse else ids
                else:
                    keys = {}
                    make = self._make_key
                    for start in range(0, len(ids), CHECK_EVERY):
                        for row_id in ids[start : start + CHECK_EVERY]:
                            if row_id in rows:  # else deleted meanwhile: in _job_moved
                                keys[row_id] = make(row_id, column, text_keys)
                        yield
                    ids = [row_id for row_id in ids if row_id in keys]
                    by_key = keys.__getitem__
                    runs = []
                    for start in range(0, len(ids), SORT_RUN):
                        runs.append(sorted(ids[start : start + SORT_RUN], key=by_key, reverse=reverse))
                        yield
                    if len(runs) <= 1:
                        merged = runs[0] if runs else []
                    else:
                        merged = []
                        append = merged.append
                        for n, row_id in enumerate(heapq.merge(*runs, key=by_key, reverse=reverse), 1):
                            append(row_id)
                            if not n % (CHECK_EVERY * 8):  # a merged row costs a tenth of a key
                                yield
                # The new order: the rows changed meanwhile get their keys and their places.
                moved, self._job_moved = self._job_moved, set()
                if keys is not seq:
                    for row_id in moved:
                        if row_id in rows:
                            keys[row_id] = self._make_key(row_id, column, text_keys)
                        else:
                            keys.pop(row_id, None)
                self._keys, self._text_keys = keys, text_keys
                self._sort_column, self._sort_reverse = column_key, reverse
                self._sorted = self._merge(merged, moved, rows.__contains__) if moved else merged
                break
            except TypeError:
                if text_keys:
                    raise
                text_keys = True  # values of mixed types in one column: order by their text
        self._job_sort = None

    def _filter_scan(self, candidates: list[str]) -> Iterator[None]:
        """Test ``candidates`` (in order) against the filter; the matches so far are shown."""
        if candidates is self._sorted:
            self._stale.clear()  # every row is tested now
        self._scan, self._scan_pos, self._scan_shown_at = candidates, 0, None
        self._order, self._visible = [], set()
        rows, texts, search_text = self._rows, self._texts, self._search_text
        needle, matcher = self._needle, self._matcher
        for start in range(0, len(candidates), CHECK_EVERY):
            part = candidates[start : start + CHECK_EVERY]
            # No call per row when the text is made: a comprehension, as fast as Python goes.
            if needle is not None:
                found = [i for i in part if i in rows and needle in (texts.get(i) or search_text(i))]
            else:
                found = [i for i in part if i in rows and matcher(texts.get(i) or search_text(i))]  # type: ignore[misc]
            if found:
                self._order.extend(found)  # apply() may have put a new list there: this one
                self._visible.update(found)  # type: ignore[union-attr]
            self._scan_pos = start + CHECK_EVERY
            yield
        self._scan = None
        self._after_change()

    def _check_stale(self) -> Iterator[None]:
        """Give the rows changed since they were tested their verdict and their place."""
        rows, search_text = self._rows, self._search_text
        while self._stale and self._matcher is not None:
            texts = self._texts
            pending = [row_id for row_id in self._stale if row_id in rows and row_id not in texts]
            for start in range(0, len(pending), CHECK_EVERY):
                for row_id in pending[start : start + CHECK_EVERY]:
                    if row_id in rows:
                        search_text(row_id)
                yield
            if self._matcher is None or self._visible is None:
                break
            stale, self._stale = self._stale, set()
            matcher, visible = self._matcher, self._visible

            def shown(row_id: str) -> bool:
                return row_id in rows and matcher(search_text(row_id))

            try:
                self._order = self._merge(self._order, stale, shown)
            except TypeError:
                self._stale |= stale
                self._resort()  # a value of another type in the sorted column
                return
            for row_id in stale:
                if shown(row_id):
                    visible.add(row_id)
                else:
                    visible.discard(row_id)
            self._after_change()

    def _drop_from_shown(self, deleted: set[str]) -> None:
        """Rows deleted leave what is drawn at once; a running job places the others later."""
        if self._job_sort is not None:
            self._sorted = [row_id for row_id in self._sorted if row_id not in deleted]
            if self._visible is None:
                self._order = self._sorted
        visible = self._visible
        if visible is not None and not deleted.isdisjoint(visible):
            self._order = [row_id for row_id in self._order if row_id not in deleted]
            visible -= deleted

    def _merge(self, ids: list[str], affected: set[str], keep: Callable[[str], bool]) -> list[str]:
        """``ids`` without ``affected``, then those of ``affected`` that ``keep`` put back in order.

        The survivors stay sorted, so each one put back is found by bisection: O(k log n)
        comparisons and one copy of the list, instead of a full sort.
        """
        keys = self._keys
        kept = [row_id for row_id in ids if row_id not in affected]
        back = sorted((row_id for row_id in affected if keep(row_id)), key=keys.__getitem__)
        if not back:
            return kept
        reverse = self._sort_reverse
        if reverse:
            kept.reverse()
        kept_keys = [keys[row_id] for row_id in kept]
        merged: list[str] = []
        start = 0
        for row_id in back:
            at = bisect_left(kept_keys, keys[row_id], lo=start)
            merged += kept[start:at]
            merged.append(row_id)
            start = at
        merged += kept[start:]
        if reverse:
            merged.reverse()
        return merged

    def _is_visible(self, row_id: str) -> bool:
        if self._visible is None:
            return row_id in self._rows
        return row_id in self._visible

    def _after_change(self) -> None:
        """Put the cursor back on its item, resize, and refresh once."""
        order = self._order
        if self._cursor_id is not None and self._is_visible(self._cursor_id):
            hint = self._cursor_index
            if hint < len(order) and order[hint] == self._cursor_id:
                index = hint
            else:
                index = order.index(self._cursor_id)
            self._cursor_index = index
        else:
            # The item is filtered out (it comes back with the filter) or gone: stay in place.
            self._cursor_index = max(0, min(self._cursor_index, len(order) - 1))
            if self._cursor_id is not None and self._cursor_id not in self._rows:
                self._cursor_id = order[self._cursor_index] if order else None
            elif self._cursor_id is None and order:
                self._cursor_id = order[self._cursor_index]
        self._update_virtual_size()
        self.refresh()
        self._scroll_to_cursor()
        if self._scan is None:  # not the rows a filter found so far: the item it ends on
            self._report_cursor()

    def _report_cursor(self) -> None:
        row_id = self.cursor_id
        if row_id != self._reported_cursor:
            self._reported_cursor = row_id
            self.post_message(self.CursorMoved(self, row_id))

    def _drop_gone_marks(self) -> None:
        gone = {row_id for row_id in self._marked if row_id not in self._rows}
        if gone:
            self._marked -= gone
            self.post_message(self.MarksChanged(self, self.marked))

    # ----------------------------------------------------------------------------- geometry

    def _sample(self, rows: list[Row]) -> list[Row]:
        """Rows spread evenly over ``rows`` (the longest values are often the last ones)."""
        step = max(1, len(rows) // AUTO_WIDTH_SAMPLE)
        return rows[::step] + rows[-1:]

    def _grow_widths(self, sample: list[Row]) -> bool:
        """Widen auto-sized columns to fit a sample of rows; never shrink (no jitter)."""
        if not sample:
            return False
        grew = False
        for index, column in enumerate(self.columns):
            if column.width is not None or column.key in self._hidden:
                continue
            widest = max(cell_len(column.plain(row)) for row in sample)
            widest = min(widest, AUTO_WIDTH_MAX)
            if widest > self._widths[index]:
                self._widths[index] = widest
                grew = True
        if grew:
            self._update_virtual_size()
        return grew

    def _widen_later(self, index: int, cell: str | Text) -> None:
        """A visible cell wider than its auto-sized column widens it for the next frame."""
        length = cell.cell_len if isinstance(cell, Text) else cell_len(cell)
        if length > self._widths[index] and length > self._pending_widths.get(index, 0):
            if not self._pending_widths:
                self.call_after_refresh(self._after_widen)
            self._pending_widths[index] = min(length, AUTO_WIDTH_MAX)

    def _after_widen(self) -> None:
        for index, width in self._pending_widths.items():
            self._widths[index] = max(self._widths[index], width)
        self._pending_widths.clear()
        self._update_virtual_size()
        self.refresh()

    @property
    def _top(self) -> int:
        """Fixed lines above the rows: the filter line (when filtering), then the header."""
        return 2 if (self._filter_text or self._filter_error) else 1

    def _row_width(self) -> int:
        """The shown columns' widths, their separators and the marker."""
        widths = self._widths
        return MARKER_WIDTH + sum(widths[n] for n in self._shown) + len(SEPARATOR) * max(0, len(self._shown) - 1)

    def _update_virtual_size(self) -> None:
        size = Size(self._row_width(), len(self._order) + self._top)
        if size == self.virtual_size:
            return
        # The table's own size does not follow its rows: a new row count needs the scrollbars'
        # ranges, not a layout of the whole screen (which ``virtual_size`` asks for, 20-60 ms
        # on the dashboard: at every filter key, every partial filter result, every tick that
        # adds a row). A scrollbar that appears or goes still lays the screen out (its own
        # reactive asks for that).
        self.set_reactive(ResourceTable.virtual_size, size)
        self._scrollbar_changes.clear()
        self._scroll_update(size)
        self.refresh()

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - self._top)

    def _scroll_to_cursor(self) -> None:
        if not self._order or not self.is_mounted:
            return
        body = self._body_height()
        top = round(self.scroll_y)
        if self._cursor_index < top:
            self.scroll_to(y=self._cursor_index, animate=False, force=True)
        elif self._cursor_index >= top + body:
            self.scroll_to(y=self._cursor_index - body + 1, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + self._top)

    def _refresh_rows(self, row_ids: Iterable[str]) -> None:
        """Redraw just the lines on screen that show these ids."""
        top = round(self.scroll_y)
        changed = set(row_ids)
        for offset, row_id in enumerate(self._order[top : top + self._body_height()]):
            if row_id in changed:
                self._refresh_row(top + offset)

    # ----------------------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        scroll_x = round(self.scroll_x)
        top = self._top
        if y < top:
            if top == 2 and y == 0:
                return self._filter_line(width)
            strip = self._header_strip()
        else:
            index = round(self.scroll_y) + y - top
            if index < len(self._order):
                strip = self._row_strip(index)
            elif index == 0:
                return self._message_line(width)
            else:
                return Strip.blank(width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _message_line(self, width: int) -> Strip:
        if self._loading is not None:
            text = self._loading
        elif self._rows and self._filter_text:
            text = "No match for the filter"
        else:
            text = self.empty_text
        style = self.get_component_rich_style("resource-table--message")
        text = visible(text)  # given by the caller: shown safely, whatever it holds
        return Strip([Segment(f"  {text}"[:width], style)]).extend_cell_length(width, self.rich_style)

    def _filter_line(self, width: int) -> Strip:
        if self._filter_error:
            style = self.get_component_rich_style("resource-table--error")
            text = f" filter {self._filter_text!r}: {self._filter_error}"
        else:
            style = self.get_component_rich_style("resource-table--filter")
            text = f" filter {self._filter_text!r}: {len(self._order):,} of {len(self._rows):,}"
            if self._scan is not None or self._stale:
                text += " …"  # still being made
        return Strip([Segment(text[:width].ljust(width), style)])

    def _header_strip(self) -> Strip:
        style = self.get_component_rich_style("resource-table--header")
        segments = [Segment(" " * MARKER_WIDTH, style)]
        for place, index in enumerate(self._shown):
            column = self.columns[index]
            title = column.title
            if column.key == self.sort_column:
                title = f"{title}{'…' if self._job_sort is not None else '▼' if self.sort_reverse else '▲'}"
            if place:
                segments.append(Segment(SEPARATOR, style))
            segments.append(Segment(_fit(title, self._widths[index], column.align), style))
        return Strip(segments)

    def _row_strip(self, index: int) -> Strip:
        row_id = self._order[index]
        row = self._rows[row_id]
        marked = row_id in self._marked
        if index == self._cursor_index:
            return self._make_row_strip(index, row, marked)
        # A row drawn before, unchanged (rows are immutable: a changed row is a new object),
        # is not laid out again: a longer filter mostly shows rows the previous one showed.
        key = (row_id, marked, tuple(self._widths), self.rich_style)
        cached = self._strips.get(key)
        if cached is not None and cached[0] is row:
            return cached[1]
        strip = self._make_row_strip(index, row, marked)
        if len(self._strips) >= STRIP_CACHE_ROWS:
            self._strips.clear()
        self._strips[key] = (row, strip)
        return strip

    def _make_row_strip(self, index: int, row: Row, marked: bool) -> Strip:
        segments: list[Segment] = []
        if marked:
            segments.append(Segment("● ", self.get_component_rich_style("resource-table--marker")))
        else:
            segments.append(Segment(" " * MARKER_WIDTH))
        console = self.app.console
        columns = self.columns
        for place, n in enumerate(self._shown):
            column = columns[n]
            if place:
                segments.append(Segment(SEPARATOR))
            cell = column.cell(row)
            width = self._widths[n]
            if column.width is None and width < AUTO_WIDTH_MAX:
                self._widen_later(n, cell)
            if isinstance(cell, Text):
                cell = cell.copy()
                cell.truncate(width, overflow="ellipsis")
                if cell.cell_len < width:
                    pad = " " * (width - cell.cell_len)
                    if column.align == "right":
                        cell = Text(pad) + cell
                    else:
                        cell.append(pad)
                segments.extend(cell.render(console, end=""))
            else:
                segments.append(Segment(_fit(cell, width, column.align)))
        strip = Strip(segments)
        row_style = Style()
        if marked:
            row_style += self.get_component_rich_style("resource-table--marked")
        if index == self._cursor_index:
            row_style += self.get_component_rich_style("resource-table--cursor")
        strip = strip.apply_style(self.rich_style + row_style)
        return strip

    # ----------------------------------------------------------------------------- mouse

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        top = self._top
        if offset.y == top - 1:
            self._sort_by_header_click(offset.x + round(self.scroll_x))
            return
        if offset.y < top:
            return
        index = round(self.scroll_y) + offset.y - top
        if 0 <= index < len(self._order):
            self._set_cursor_index(index)
            if event.chain >= 2:
                self.action_select()

    def _sort_by_header_click(self, x: int) -> None:
        left = MARKER_WIDTH
        for index in self._shown:
            column = self.columns[index]
            right = left + self._widths[index]
            if left <= x < right + len(SEPARATOR):
                reverse = column.key == self.sort_column and not self.sort_reverse
                self.sort_by(column.key, reverse)
                return
            left = right + len(SEPARATOR)

    def on_resize(self) -> None:
        self._scroll_to_cursor()


def _fit(text: str, width: int, align: str) -> str:
    """Crop (with an ellipsis) or pad a plain cell to exactly ``width`` cells."""
    length = len(text) if text.isascii() else cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad
