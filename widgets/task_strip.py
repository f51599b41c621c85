"""The Tasks strip: running and recent tasks, one line each, with a progress bar."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from rich.cells import cell_len, set_cell_size
from rich.console import Group
from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget

from widgets.terminal_text import visible

BAR_WIDTH = 20


@dataclass(frozen=True, slots=True)
class StripEntry:
    """One line of the strip: a piece of work, as the application words and colours it.

    The strip knows nothing of what the work is; the application maps its own tasks onto
    these (the console: ``console.presenters.tasks.strip_entry``)."""

    id: str
    title: str  # the line's words, e.g. "create host web-01"
    kind: str  # what is done, as the application names it (for finding an entry)
    target: str  # on what, e.g. "web-01"
    progress: int  # 0..100
    status: str  # the word shown, e.g. "running"
    style: str  # the colour of the icon, bar and status
    icon: str
    message: str  # the latest step, or why it failed
    done: bool
    created_at: float
    child: bool = False  # part of a bigger piece of work (shown only with top_level_only=False)


def progress_bar(progress: int, width: int, style: str) -> Text:
    """A drawn bar (``█`` filled, ``░`` left), in eighths so small steps show."""
    progress = max(0, min(100, progress))
    eighths = round(progress * width * 8 / 100)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    bar = bar + "░" * (width - len(bar))
    return Text(bar[:width], style=style)


class TaskStrip(Widget):
    """Shows up to ``max_lines`` tasks, newest first, active ones before finished ones.

    A finished task dims after ``fade_after`` seconds (of wall time since this strip first saw
    it finished) and leaves after ``linger`` seconds. Only top-level tasks show by default:
    an upgrade's per-host children have their own screen.
    """

    DEFAULT_CSS = """
    TaskStrip {
        height: auto;
        max-height: 12;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        *,
        max_lines: int = 4,
        fade_after: float = 10.0,
        linger: float = 60.0,
        top_level_only: bool = True,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self.fade_after = fade_after
        self.linger = linger
        self.top_level_only = top_level_only
        self._clock = clock
        self._tasks: dict[str, StripEntry] = {}
        self._finished_seen: dict[str, float] = {}  # task id -> clock time first seen finished
        self._fade_timer: Timer | None = None
        self._height = 1

    @property
    def shown(self) -> list[StripEntry]:
        """The tasks on screen, in order."""
        now = self._clock()
        tasks = [
            task
            for task in self._tasks.values()
            if not (self.top_level_only and task.child)
            and (not task.done or now - self._finished_seen.get(task.id, now) < self.linger)
        ]
        active = sorted((t for t in tasks if not t.done), key=_newest_first)
        finished = sorted((t for t in tasks if t.done), key=_newest_first)
        return (active + finished)[: self.max_lines]

    def update_tasks(self, tasks: Iterable[StripEntry]) -> None:
        """Merge new task states (by id); call it with every change batch's tasks."""
        now = self._clock()
        for task in tasks:
            self._tasks[task.id] = task
            if task.done:
                self._finished_seen.setdefault(task.id, now)
        # Forget finished tasks long gone, so the strip's memory stays bounded.
        for task_id, seen in list(self._finished_seen.items()):
            if now - seen >= self.linger:
                del self._finished_seen[task_id]
                self._tasks.pop(task_id, None)
        self._schedule_fade(now)
        height = max(1, len(self.shown))
        self.refresh(layout=height != self._height)
        self._height = height

    def _schedule_fade(self, now: float) -> None:
        """One timer for the next finished task to dim or leave: an idle strip costs nothing."""
        if self._fade_timer is not None:
            self._fade_timer.stop()
            self._fade_timer = None
        upcoming = [
            seen + delay - now
            for seen in self._finished_seen.values()
            for delay in (self.fade_after, self.linger)
            if seen + delay > now
        ]
        if upcoming and self.is_mounted:
            self._fade_timer = self.set_timer(min(upcoming) + 0.05, self._tick)

    def on_mount(self) -> None:
        self._schedule_fade(self._clock())

    def _tick(self) -> None:
        self._fade_timer = None
        self.update_tasks(())

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[override]
        return max(1, len(self.shown))

    def render(self) -> Group | Text:
        tasks = self.shown
        if not tasks:
            return Text("No tasks", style="dim italic")
        width = self.content_region.width or 100
        now = self._clock()
        return Group(*(self._line(task, width, now) for task in tasks))

    def _line(self, task: StripEntry, width: int, now: float) -> Text:
        style = task.style
        faded = task.done and now - self._finished_seen.get(task.id, now) >= self.fade_after
        # The target and the message come from the backend: shown, never obeyed by the terminal.
        title = set_cell_size(visible(task.title), 30)
        line = Text.assemble(
            (f"{task.icon} ", style),
            (title, "bold"),
            " ",
            progress_bar(task.progress, BAR_WIDTH, style),
            (f" {task.progress:>3}% ", style),
            (f"{task.status:<9} ", style),
        )
        message = visible(task.message)
        room = width - line.cell_len
        if room > 0 and message:
            line.append(message if cell_len(message) <= room else set_cell_size(message, room - 1) + "…")
        line.no_wrap = True
        line.overflow = "ellipsis"
        if faded:
            line.stylize("dim")
        return line


def _newest_first(task: StripEntry) -> tuple[float, str]:
    return (-task.created_at, task.id)
