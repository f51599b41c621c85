"""A streaming log view with bounded memory, follow mode, search and filter.

Lines live in a ring buffer (``deque(maxlen=N)``), so hours of logs never grow without end;
only the visible lines are rendered (Textual's Line API). A search term (plain text, any case,
or ``/regex/``) highlights its matches; with ``filtering`` on, only the matching lines are
shown (still those of the ring buffer: a filter narrows, it keeps nothing more).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets.terminal_text import sgr_text

DEFAULT_MAX_LINES = 10_000


def compile_term(text: str) -> "re.Pattern[str] | None":
    """A search term as a pattern: ``/.../`` is a regular expression (as typed), anything else
    plain text in any case. A bad expression raises ValueError saying what is wrong."""
    if not text:
        return None
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        try:
            return re.compile(text[1:-1])
        except re.error as err:
            raise ValueError(f"not a regular expression: {err}") from None
    return re.compile(re.escape(text), re.IGNORECASE)


class LogView(ScrollView, can_focus=True):
    """Log lines with follow (stick to the bottom), pause on scroll up, and n/N search."""

    BINDINGS = [
        Binding("j,down", "scroll_down", "Down", id="log_down", show=False),
        Binding("k,up", "scroll_up", "Up", id="log_up", show=False),
        Binding("pageup", "page_up", "Page up", id="log_page_up", show=False),
        Binding("pagedown", "page_down", "Page down", id="log_page_down", show=False),
        Binding("home,g", "scroll_home", "Top", id="log_top", show=False),
        Binding("end,f,G", "follow", "Follow", id="log_follow"),
        Binding("n", "next_match", "Next match", id="log_next_match"),
        Binding("N", "previous_match", "Previous match", id="log_previous_match"),
    ]

    COMPONENT_CLASSES = {"log-view--match", "log-view--current-match"}

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .log-view--match { background: $warning 40%; }
        & > .log-view--current-match { background: $accent; color: $text; text-style: bold; }
    }
    """

    follow: reactive[bool] = reactive(True)
    """Stick to the newest line. Scrolling up pauses it; ``end`` or ``f`` resumes it."""

    class FollowChanged(Message):
        def __init__(self, log_view: "LogView", follow: bool) -> None:
            super().__init__()
            self.log_view = log_view
            self.follow = follow

        @property
        def control(self) -> "LogView":
            return self.log_view

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # The lines' plain text (what search looks at), and beside each its colours: the Text
        # from its SGR sequences, or None for a line without any (most lines: drawn as a plain
        # segment). The two rings have the same bound, so they drop the same lines.
        self.lines: deque[str] = deque(maxlen=max_lines)
        self._styled: deque[Text | None] = deque(maxlen=max_lines)
        self._dropped = 0  # lines that fell off the front: absolute number of lines[0]
        self._width = 0
        self._search_term = ""
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[int] = []  # absolute line numbers that match, ascending
        self._current: int | None = None  # index into _matches
        self._moving = False  # the scroll is ours (keeping the view still), not the user's
        # Show only the matching lines (the rows are then _matches, absolute line numbers).
        self._filtering = False

    @property
    def max_lines(self) -> int:
        return self.lines.maxlen or 0

    @property
    def line_count(self) -> int:
        return len(self.lines)

    @property
    def search_term(self) -> str:
        return self._search_term

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def filtering(self) -> bool:
        return self._filtering

    def set_filtering(self, on: bool) -> None:
        """Show only the lines that match the search term (on), or every line (off)."""
        if on == self._filtering:
            return
        self._filtering = on
        self._resize()
        if self.follow:
            self._scroll_quietly(self._row_count())
        elif self._current is not None:
            self._show_current()
        self.refresh()

    def shown_lines(self) -> list[str]:
        """The lines as shown now (the matching ones when filtering), plain text."""
        if not self._filtering:
            return list(self.lines)
        return [self.lines[n - self._dropped] for n in self._matches]

    def _row_count(self) -> int:
        return len(self._matches) if self._filtering else len(self.lines)

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, self._row_count())

    def _line_at_row(self, row: int) -> int | None:
        """The buffer index shown on ``row`` (counted from the first row)."""
        if not self._filtering:
            return row if row < len(self.lines) else None
        if row >= len(self._matches):
            return None
        return self._matches[row] - self._dropped

    @property
    def current_match_line(self) -> int | None:
        """The buffer index of the current match, if any."""
        if self._current is None:
            return None
        return self._matches[self._current] - self._dropped

    def append(self, lines: Iterable[str]) -> None:
        """Add a batch of lines (one refresh for the batch)."""
        before = self._dropped + len(self.lines)
        width = self._width
        pattern = self._pattern
        for line in lines:
            line = line.rstrip("\r\n")
            styled = None
            if line.isprintable():  # the common line: nothing to decode, nothing to clean
                pass
            else:
                # A log line is the container's output: its colours are kept, every other
                # escape sequence (title, clear screen, cursor moves, hyperlinks) is dropped
                # and any other control is shown (sgr_text), never sent to the terminal.
                text = sgr_text(line)
                text.expand_tabs()
                line = text.plain
                if text.spans:
                    styled = text
            self.lines.append(line)
            self._styled.append(styled)
            width = max(width, len(line) if line.isascii() else cell_len(line))
            if pattern is not None and pattern.search(line):
                self._matches.append(before)
            before += 1
        dropped = before - len(self.lines) - self._dropped
        self._dropped += dropped
        self._width = width
        matches_before = len(self._matches)
        if dropped and self._matches and self._matches[0] < self._dropped:
            self._forget_dropped_matches()
        self._resize()
        if self.follow:
            self._scroll_quietly(self._row_count())  # clamped to the bottom
        elif self._filtering and len(self._matches) < matches_before:
            # Filtered: the rows that fell off are the matches dropped with their lines.
            self._scroll_quietly(max(0, self.scroll_y - (matches_before - len(self._matches))))
        elif dropped and not self._filtering:
            # Keep the lines the user is reading in place while older ones fall off the front.
            self._scroll_quietly(max(0, self.scroll_y - dropped))
        self.refresh()

    def clear(self) -> None:
        self.lines.clear()
        self._styled.clear()
        self._dropped = 0
        self._width = 0
        self._matches = []
        self._current = None
        self._resize()
        self.refresh()

    def search(self, text: str) -> int:
        """Highlight ``text`` (plain, any case; or ``/regex/``) and jump to its first match;
        returns the match count. A bad regex raises ValueError and changes nothing."""
        pattern = compile_term(text)
        self._search_term = text
        self._pattern = pattern
        self._matches = []
        self._current = None
        if self._pattern is not None:
            pattern = self._pattern
            self._matches = [
                self._dropped + n for n, line in enumerate(self.lines) if pattern.search(line)
            ]
        self._resize()
        if self._matches:
            self._current = 0
            self._show_current()
        elif self._filtering:
            self._scroll_quietly(0)
        self.refresh()
        return len(self._matches)

    def action_next_match(self) -> None:
        if self._matches:
            self._current = 0 if self._current is None else (self._current + 1) % len(self._matches)
            self._show_current()

    def action_previous_match(self) -> None:
        if self._matches:
            self._current = (
                len(self._matches) - 1
                if self._current is None
                else (self._current - 1) % len(self._matches)
            )
            self._show_current()

    def action_follow(self) -> None:
        self.follow = True

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self._scroll_quietly(self._row_count())  # clamped to the bottom
        self.post_message(self.FollowChanged(self, follow))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Any scroll up that is not ours pauses follow (a resize clamps to the bottom: not up).
        if not self._moving and new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False

    def on_resize(self) -> None:
        if self.follow:
            self._scroll_quietly(self._row_count())

    def _scroll_quietly(self, y: float) -> None:
        self._moving = True
        try:
            self.scroll_to(y=y, animate=False, force=True)
        finally:
            self._moving = False

    def _show_current(self) -> None:
        line = self.current_match_line
        if line is None:
            return
        self.follow = False
        row = self._current if self._filtering else line
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        if not top <= row < top + height:
            self._scroll_quietly(max(0, row - height // 2))
        self.refresh()

    def _forget_dropped_matches(self) -> None:
        current_line = None if self._current is None else self._matches[self._current]
        self._matches = [n for n in self._matches if n >= self._dropped]
        if current_line is None or current_line < self._dropped:
            self._current = 0 if self._matches and current_line is not None else None
        else:
            self._current = self._matches.index(current_line)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self._line_at_row(round(self.scroll_y) + y)
        if index is None:
            return Strip.blank(width, base)
        line = self.lines[index]
        styled = self._styled[index]
        scroll_x = round(self.scroll_x)
        matched = self._pattern is not None and self._pattern.search(line)
        if styled is None and not matched:
            return Strip([Segment(line)]).apply_style(base).crop_extend(
                scroll_x, scroll_x + width, base
            )
        text = Text(line) if styled is None else styled.copy()
        if matched:
            current = self.current_match_line == index
            style = self.get_component_rich_style(
                "log-view--current-match" if current else "log-view--match"
            )
            text.highlight_regex(self._pattern, style)
        strip = Strip(list(text.render(self.app.console, end=""))).apply_style(base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)
