"""`l`: a container's logs, streaming, with follow, pause and search; memory is bounded by the
LogView's ring buffer (and the pending lines of a pause by the same bound)."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from backends.errors import one_line
from widgets.key_bar import KeyBar
from widgets.log_view import DEFAULT_MAX_LINES, LogView

from ..presenters.base import shown
from .status import StatusHeader
from .live import Live

LOG_TAIL = 500  # lines of history fetched before following
FLUSH_INTERVAL = 0.1  # seconds between moving arrived lines onto the screen


class LogsScreen(Live, Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("p", "pause", "Pause/resume", id="logs.pause"),
        Binding("slash", "search", "Search", id="logs.search"),
    ]

    def __init__(self, container_id: str) -> None:
        super().__init__()
        self.container_id = container_id
        self.paused = False
        # Filled by the streaming worker (data only), emptied onto the LogView by a timer.
        self._arrived: deque[str] = deque(maxlen=DEFAULT_MAX_LINES)
        self.ended: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield Static(id="logs-title")
        yield LogView(id="log")
        yield Input(placeholder="search the logs (enter: find, n/N: next/previous)", id="log-search")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#log-search").display = False
        self._retitle()
        self.query_one(LogView).focus()
        self.run_worker(self._stream, exit_on_error=False)
        self.set_interval(FLUSH_INTERVAL, self._flush)

    async def _stream(self) -> None:
        try:
            async for line in self.app.backend.logs(self.container_id, follow=True, tail=LOG_TAIL):
                self._arrived.append(line.text)
            self.ended = "the log stream ended"
        except Exception as err:
            self.ended = one_line(err)

    def _flush(self) -> None:
        if self.paused or not self._arrived:
            if self.ended:
                self._retitle()
            return
        lines = list(self._arrived)
        self._arrived.clear()
        self.query_one(LogView).append(lines)
        self._retitle()

    def _retitle(self) -> None:
        container = self.app.store.inventory.containers.get(self.container_id)
        name = container.name if container else self.container_id
        log = self.query_one(LogView)
        mode = "PAUSED" if self.paused else ("following" if log.follow else "scrolled back")
        text = f" logs of {name}: {log.line_count} lines (last {log.max_lines} kept), {mode}"
        if self.ended:
            text += f"; {self.ended}"
        # The name and the reason the stream ended are data: Text (never markup), cleaned.
        self.query_one("#logs-title", Static).update(shown(text))

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self._retitle()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def apply_changes(self, drained) -> None:
        self.refresh_status()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._retitle()

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.display = True
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        count = self.query_one(LogView).search(event.value)
        event.input.display = False
        self.query_one(LogView).focus()
        self.notify(f"{count} lines match {event.value!r}" if event.value else "search cleared", timeout=3)

    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.display:
            search.display = False
            self.query_one(LogView).focus()
            return
        self.app.close_screen(self)
