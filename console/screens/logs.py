"""`l`: the logs of one container, or of several at once (the marked ones, a host's, a
service's tasks, an application's replicas), streaming, with follow, pause, search, a filter
and save; memory is bounded by the LogView's ring buffer (and the pending lines of a pause by
the same bound).

Several containers are interleaved by time: their histories are merged by each line's time,
then every arrived batch is put in time order before it is shown; each line carries a
coloured prefix naming its container. The prefix is an SGR sequence like a container's own
colours, so it goes through ``sgr_text`` with the line (the name in it is cleaned first).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from functools import partial
from typing import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from backends.errors import one_line
from widgets.key_bar import KeyBar
from widgets.log_view import DEFAULT_MAX_LINES, LogView, compile_term
from widgets.terminal_text import visible

from ..presenters.base import shown
from .status import StatusHeader
from .live import Live

LOG_TAIL = 500  # lines of history fetched before following
FLUSH_INTERVAL = 0.1  # seconds between moving arrived lines onto the screen
MAX_STREAMS = 50  # containers followed at once: more is a typo of a selection, and costs a stream each
# The prefixes' colours (SGR foreground codes), one per container in turn.
PREFIX_COLOURS = (36, 33, 35, 32, 34, 91, 96, 93, 95, 92)


def prefix(name: str, width: int, index: int) -> str:
    """A line's coloured prefix naming its container (the name cleaned of controls)."""
    return f"\x1b[{PREFIX_COLOURS[index % len(PREFIX_COLOURS)]}m{visible(name)[:width]:<{width}} |\x1b[0m "


class LogsScreen(Live, Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("p", "pause", "Pause/resume", id="logs.pause"),
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("F", "toggle_filter", "Filter/highlight", id="logs.filter"),
        Binding("w", "save", "Save", id="logs.save"),
    ]

    def __init__(self, container_ids: str | Iterable[str], title: str | None = None) -> None:
        super().__init__()
        ids = [container_ids] if isinstance(container_ids, str) else list(dict.fromkeys(container_ids))
        self.container_ids = ids[:MAX_STREAMS]
        self.left_out = len(ids) - len(self.container_ids)
        self.container_id = self.container_ids[0] if self.container_ids else ""
        self.title_text = title
        self.paused = False
        # Filled by the streaming workers (data only), emptied onto the LogView by a timer:
        # (time, arrival number, line). Bounded as the view is.
        self._arrived: deque[tuple[float, int, str]] = deque(maxlen=DEFAULT_MAX_LINES)
        self._seq = 0
        self.ended: str | None = None
        self._ended: dict[str, str] = {}
        self._prompt = "search"  # what the input line is asking for: search or save
        self._overwrite: str | None = None  # a path the user was told exists; enter again writes it

    @property
    def several(self) -> bool:
        return len(self.container_ids) > 1

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
        if self.several:
            self.run_worker(self._stream_several, exit_on_error=False)
        elif self.container_ids:
            self.run_worker(self._stream, exit_on_error=False)
        else:
            self.ended = "no containers to follow"
        self.set_interval(FLUSH_INTERVAL, self._flush)

    # -- streaming (workers: data only, never widgets) ------------------------------------------

    def _put(self, time: float | None, line: str) -> None:
        self._seq += 1
        self._arrived.append((time if time is not None else float("-inf"), self._seq, line))

    async def _stream(self) -> None:
        try:
            async for line in self.app.backend.logs(self.container_id, follow=True, tail=LOG_TAIL):
                self._put(None, line.text)  # one container: arrival order is its order
            self.ended = "the log stream ended"
        except Exception as err:
            self.ended = one_line(err)

    def _names(self) -> dict[str, str]:
        containers = self.app.store.inventory.containers
        return {cid: containers[cid].name if cid in containers else cid[:12] for cid in self.container_ids}

    async def _stream_several(self) -> None:
        names = self._names()
        width = min(24, max(len(visible(n)) for n in names.values()))
        prefixes = {cid: prefix(names[cid], width, i) for i, cid in enumerate(self.container_ids)}
        backend = self.app.backend

        async def history(cid: str) -> list:
            try:
                return [line async for line in backend.logs(cid, follow=False, tail=LOG_TAIL)]
            except Exception as err:
                self._ended[cid] = one_line(err)
                return []

        histories = await asyncio.gather(*(history(cid) for cid in self.container_ids))
        merged = sorted(
            ((line.time if line.time is not None else float("-inf"), n, cid, line)
             for cid, lines in zip(self.container_ids, histories) for n, line in enumerate(lines)),
            key=lambda item: (item[0], item[1]),
        )
        for time, _, cid, line in merged:
            self._put(time, prefixes[cid] + line.text.rstrip("\r\n"))

        async def follow(cid: str, lines: list) -> None:
            # From the last line of its history on: a line at or before it is one already shown.
            last = max((line.time for line in lines if line.time is not None), default=None)
            if cid in self._ended:
                return
            try:
                stream = backend.logs(cid, follow=True, since=last) if last is not None else backend.logs(cid, follow=True, tail=0)
                async for line in stream:
                    if last is not None and line.time is not None and line.time <= last:
                        continue
                    self._put(line.time, prefixes[cid] + line.text.rstrip("\r\n"))
                self._ended[cid] = "ended"
            except Exception as err:
                self._ended[cid] = one_line(err)

        await asyncio.gather(*(follow(cid, lines) for cid, lines in zip(self.container_ids, histories)))
        self.ended = "every log stream ended"

    def _flush(self) -> None:
        if self.paused or not self._arrived:
            if self.ended or self._ended:
                self._retitle()
            return
        batch = list(self._arrived)
        self._arrived.clear()
        if self.several:
            batch.sort(key=lambda item: (item[0], item[1]))  # interleaved by time
        self.query_one(LogView).append(line for _, _, line in batch)
        self._retitle()

    # -- the title line -------------------------------------------------------------------------

    def _retitle(self) -> None:
        log = self.query_one(LogView)
        if self.title_text:
            name = self.title_text
        elif self.several:
            name = f"{len(self.container_ids)} containers"
        else:
            container = self.app.store.inventory.containers.get(self.container_id)
            name = container.name if container else self.container_id
        mode = "PAUSED" if self.paused else ("following" if log.follow else "scrolled back")
        text = f" logs of {name}: {log.line_count} lines (last {log.max_lines} kept), {mode}"
        if log.search_term:
            kept = f"only {log.match_count} matching" if log.filtering else f"{log.match_count} highlighted"
            text += f"; {kept} {log.search_term!r} (F: {'show all' if log.filtering else 'only these'})"
        if self.left_out:
            text += f"; {self.left_out} more not followed (at most {MAX_STREAMS})"
        if self.ended:
            text += f"; {self.ended}"
        elif self._ended and self.several:
            names = self._names()
            failed = [f"{names.get(cid, cid)}: {why}" for cid, why in self._ended.items() if why != "ended"]
            if failed:
                text += "; " + "; ".join(failed[:3])
        # The names and the reasons a stream ended are data: Text (never markup), cleaned.
        self.query_one("#logs-title", Static).update(shown(text))

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self._retitle()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def apply_changes(self, drained) -> None:
        self.refresh_status()

    # -- keys -------------------------------------------------------------------------------------

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._retitle()

    def _ask(self, prompt: str, placeholder: str, value: str = "") -> None:
        self._prompt = prompt
        field = self.query_one("#log-search", Input)
        field.placeholder = placeholder
        field.value = value
        field.display = True
        field.focus()

    def action_search(self) -> None:
        self._ask("search", "search the logs: text, or /regex/ (enter: find, n/N: next/previous, F: only matching lines)",
                  self.query_one(LogView).search_term)

    def action_toggle_filter(self) -> None:
        log = self.query_one(LogView)
        if not log.search_term and not log.filtering:
            self.notify("search first (/): the filter shows the lines that match it", severity="warning", timeout=3, markup=False)
            return
        log.set_filtering(not log.filtering)
        self._retitle()

    def action_save(self) -> None:
        self._overwrite = None
        self._ask("save", "save the lines shown to this file (enter: save, escape: cancel)")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._prompt == "save":
            self._save(event.value.strip())
            return
        log = self.query_one(LogView)
        try:
            count = log.search(event.value)
        except ValueError as err:
            self.notify(f"search {event.value!r}: {err}", severity="warning", timeout=4, markup=False)
            return
        self._close_prompt()
        self._retitle()
        self.notify(f"{count} lines match {event.value!r}" if event.value else "search cleared", timeout=3, markup=False)

    def _close_prompt(self) -> None:
        self.query_one("#log-search", Input).display = False
        self._prompt = "search"
        self.query_one(LogView).focus()

    def _save(self, text: str) -> None:
        if not text:
            self.notify("save: name a file", severity="warning", timeout=3, markup=False)
            return
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            self.notify(f"save: {path} is a directory; name a file", severity="warning", timeout=4, markup=False)
            return
        if os.path.exists(path) and self._overwrite != path:
            self._overwrite = path
            self.notify(f"{path} exists: enter again to replace it, escape to keep it", severity="warning", timeout=6, markup=False)
            return
        lines = self.query_one(LogView).shown_lines()
        self._close_prompt()
        self.run_worker(partial(self._write, path, lines), exit_on_error=False)

    async def _write(self, path: str, lines: list[str]) -> None:
        from backends.files import FileLock, write_atomic

        def write() -> None:
            data = "".join(line + "\n" for line in lines).encode("utf-8", "replace")
            with FileLock(path, timeout=5.0):  # another writer of the same file waits, or we say so
                write_atomic(path, lambda f: f.write(data), mode=0o600)

        try:
            await asyncio.to_thread(write)
        except Exception as err:
            self.notify(f"save: {one_line(err)}", severity="error", timeout=6, markup=False)
            return
        self.notify(f"saved {len(lines)} lines to {path}", timeout=4, markup=False)

    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.display:
            self._close_prompt()
            return
        self.app.close_screen(self)
