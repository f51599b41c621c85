"""The messages between workers, the store and the screens, in one place.

A worker talks to the backend and posts one of these; the handler (on the UI's side) changes
widgets. Nothing here imports a screen, so any screen may post or handle them.
"""

from __future__ import annotations

from typing import Callable

from textual.message import Message

from backends.contract import ShellCommand
from backends.models import Task


class ActionStarted(Message):
    """A backend accepted an action: its task, and what the caller wanted done with it."""

    def __init__(self, task: Task, on_started: Callable[[Task], None] | None) -> None:
        super().__init__()
        self.task = task
        self.on_started = on_started


class ActionFailed(Message):
    """An action was refused before it became a task: what it was, and the one-line reason."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__()
        self.what = what
        self.reason = reason


class ShellReady(Message):
    """The command that opens the shell the user asked for; the app hands it the terminal."""

    def __init__(self, command: ShellCommand) -> None:
        super().__init__()
        self.command = command


class InspectLoaded(Message):
    """A container's inspect document, as text (or the one line saying why there is none)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LogTail(Message):
    """The last lines of a container's log, for its details screen."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines


class VersionsLoaded(Message):
    """The Docker Engine versions a backend can upgrade to."""

    def __init__(self, versions: list[str]) -> None:
        super().__init__()
        self.versions = versions


__all__ = ["ActionFailed", "ActionStarted", "InspectLoaded", "LogTail", "ShellReady", "VersionsLoaded"]


class HistoryLoaded(Message):
    """The past of a host's or container's figures, as the backend keeps it (or why not)."""

    def __init__(self, item_id: str, samples: list, error: str) -> None:
        super().__init__()
        self.item_id = item_id
        self.samples = samples
        self.error = error
