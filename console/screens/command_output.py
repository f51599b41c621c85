"""The output of one of your own commands run in the background (``[[commands]]``, mode
"background"), streamed into a LogView as it comes: every line through ``sgr_text`` (its
colours kept, nothing else reaches the terminal), bounded in time and size; escape closes the
screen and ends the command if it still runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from backends.errors import one_line
from widgets.key_bar import KeyBar
from widgets.log_view import LogView

from ..command_config import MAX_OUTPUT, UserCommand

FLUSH_INTERVAL = 0.1  # seconds between moving arrived output onto the screen
from ..presenters.base import shown
from .status import StatusHeader
from .live import Live


class CommandOutputScreen(Live, Screen):
    BINDINGS = [Binding("escape", "back", "Back", id="command_output.back")]

    def __init__(self, command: UserCommand, argv: list[str], target: str) -> None:
        super().__init__()
        self.command = command
        self.argv = argv
        self.target = target
        self.state = "running"
        self.done = False
        self._shown = ""
        # Filled by the worker (data only), moved onto the LogView by a timer.
        self._pending: list[str] = []
        self._partial = b""

    @property
    def finished(self) -> bool:
        """Ended, and everything it wrote is on the screen."""
        return self.done and not self._pending and self._shown == self.state

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield Static(id="command-title")
        yield LogView(id="command-output")
        yield KeyBar()

    def on_mount(self) -> None:
        self._retitle()
        self.query_one(LogView).focus()
        self.run_worker(self._run, exclusive=True, exit_on_error=False)
        self.set_interval(FLUSH_INTERVAL, self._flush)

    def _output(self, piece: bytes) -> None:
        *lines, self._partial = (self._partial + piece).split(b"\n")
        self._pending.extend(line.decode("utf-8", "replace") for line in lines)

    async def _run(self) -> None:
        from ..user_commands import run_background

        try:
            outcome = await run_background(self.argv, self.command.timeout, on_output=self._output)
        except Exception as err:
            self.state, self.done = one_line(err), True
            return
        if self._partial:
            self._pending.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        state = f"ended after {self.command.timeout:g}s (its time limit)" if outcome.code is None else f"exit {outcome.code}"
        if outcome.cut:
            state += f"; output cut at {MAX_OUTPUT // 1024} KiB"
        self.state, self.done = state, True

    def _flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self.query_one(LogView).append(lines)
        if self.done and self._shown != self.state:
            self._retitle()

    def _retitle(self) -> None:
        self._shown = self.state
        # The argv holds servers' names: shown as data (Text, cleaned), never as markup.
        text = f" {self.command.name} on {self.target}: {' '.join(self.argv)} — {self.state}"
        self.query_one("#command-title", Static).update(shown(text))

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def apply_changes(self, drained) -> None:
        self.refresh_status()

    def action_back(self) -> None:
        self.app.close_screen(self)  # its worker is cancelled with it: the command is ended
