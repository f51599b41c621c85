"""The theme and each pane's sort, remembered in the config file and read back at start.

```toml
[preferences]
theme = "nord"
sort = { hosts = "name", containers = "-cpu" }   # "-" first: the column in reverse
history_minutes = 15   # the window of the CPU, memory and network plots (console/history.py)
```

Written when they change (checked once a second: a sort changes by key or by a click on a
column title, the theme from the palette), under the config file's lock and replaced
atomically (``backends.files``). Only the ``[preferences]`` table is rewritten; the rest of the
file stays as the user wrote it, comments included (a comment inside ``[preferences]`` itself
is not kept: that table is the console's). Visible columns are not remembered: the tables
cannot hide a column yet.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from functools import partial
from pathlib import Path
from typing import Any

from backends.errors import one_line

from .config import PREFERENCE_PANES as PANES

CHECK_INTERVAL = 1.0  # seconds between looks at the theme and the sorts
# Any header of the [preferences] table or of a table inside it ([preferences.sort]).
_OWN_HEADER = re.compile(r"^[ \t]*\[[ \t]*preferences[ \t]*(\.[^\]]*)?\][ \t]*(#.*)?$")
_HEADER = re.compile(r"^[ \t]*\[")


def block(theme: str | None, sort: dict[str, str], history_minutes: float | None = None) -> str:
    """The [preferences] table as the console writes it (strings as TOML basic strings)."""
    lines = ["[preferences]\n"]
    if theme:
        lines.append(f"theme = {json.dumps(theme)}\n")
    if history_minutes is not None:  # the user's own: never changed here, only kept
        lines.append(f"history_minutes = {history_minutes!r}\n")
    if sort:
        pairs = ", ".join(f"{pane} = {json.dumps(column)}" for pane, column in sort.items())
        lines.append(f"sort = {{ {pairs} }}\n")
    return "".join(lines)


def without_preferences(text: str) -> str:
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if _OWN_HEADER.match(line):
            skipping = True
            continue
        if skipping and _HEADER.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def save(path: Path, theme: str | None, sort: dict[str, str], history_minutes: float | None = None) -> None:
    """Rewrite the [preferences] table of the config at ``path`` (locked, atomic)."""
    from backends.files import FileLock, write_atomic

    from .config import ConfigError, _parse
    from .registry_config import _read  # read capped, parsed, checked whole: as registry add does

    with FileLock(str(path), timeout=10.0):
        text, data = _read(path)
        rest = without_preferences(text)
        if rest and not rest.endswith("\n"):
            rest += "\n"
        # First in the file when it is new, else after the rest: a key=value table must not
        # land above the top-level keys (it would swallow them).
        new_text = rest + ("\n" if rest.strip() else "") + block(theme, sort, history_minutes)
        expected = {k: v for k, v in data.items() if k != "preferences"}
        wanted = {"theme": theme, "sort": sort, "history_minutes": history_minutes}
        written = tomllib.loads(new_text)
        got = written.pop("preferences", {})
        kept = {"theme": got.get("theme"), "sort": got.get("sort", {}), "history_minutes": got.get("history_minutes")}
        if written != expected or kept != wanted:
            # A layout a text edit cannot be trusted with (preferences as an inline table, say):
            # leave the file as it is rather than lose anything of the user's.
            raise ConfigError(f"{path}: its [preferences] could not be edited in place; preferences not saved")
        _parse(path, written | {"preferences": got})
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_bytes = new_text.encode()
        write_atomic(str(path), lambda f: f.write(data_bytes), mode=0o600)


class Keeper:
    """Applies the config's preferences at start and writes them back when they change."""

    def __init__(self, app: Any) -> None:
        self.app = app
        config = getattr(app, "config", None)
        self.path: Path | None = getattr(config, "path", None)
        prefs = getattr(config, "preferences", None) or {}
        self.theme: str | None = prefs.get("theme")
        self.sort: dict[str, str] = dict(prefs.get("sort") or {})
        self.history_minutes: float | None = prefs.get("history_minutes")
        self.sorts_applied = False
        self.saved: tuple | None = None
        self.writing = False
        self.failed = False

    def start(self) -> None:
        if self.path is None:
            return  # no config (tests, embedding): nothing to read or remember
        if self.theme:
            if self.theme in self.app.available_themes:
                self.app.theme = self.theme
            else:
                self.app.notify(f"config [preferences]: no theme {self.theme!r}; using {self.app.theme}", severity="warning")
        self.app.set_interval(CHECK_INTERVAL, self.check)

    def _tables(self) -> dict[str, Any]:
        from widgets.resource_table import ResourceTable

        from .screens.dashboard import DashboardScreen

        dashboard = next((s for s in self.app.screen_stack if isinstance(s, DashboardScreen)), None)
        if dashboard is None:
            return {}
        return {t.id: t for t in dashboard.query(ResourceTable) if t.id in PANES}

    def current(self, tables: dict[str, Any]) -> tuple:
        sort = {}
        for pane, table in tables.items():
            if table.sort_column is not None:
                sort[pane] = ("-" if table.sort_reverse else "") + table.sort_column
        # A pane this backend does not show keeps what the file says for it.
        kept = {pane: column for pane, column in self.sort.items() if pane not in tables}
        return (self.app.theme, tuple(sorted({**kept, **sort}.items())))

    def check(self) -> None:
        tables = self._tables()
        if not tables:
            return
        if not self.sorts_applied:
            self.sorts_applied = True
            for pane, column in self.sort.items():
                table = tables.get(pane)
                key, reverse = column.lstrip("-"), column.startswith("-")
                if table is not None:
                    try:
                        table.sort_by(key, reverse)
                    except KeyError:
                        pass  # a column this version no longer has: the pane's own order
            self.saved = (self.app.theme, tuple(sorted(self.sort.items())))
            return
        now = self.current(tables)
        if now == self.saved or self.writing or self.failed:
            return
        self.writing = True
        # A function, not a coroutine (as every worker here): cancelled unstarted, nothing dangles.
        self.app.run_worker(partial(self._write, now), group="preferences", exit_on_error=False)

    async def _write(self, now: tuple) -> None:
        theme, sort = now
        try:
            await asyncio.to_thread(save, self.path, theme, dict(sort), self.history_minutes)  # type: ignore[arg-type]
        except Exception as err:
            self.failed = True  # said once; the console goes on with what it has
            self.app.notify(f"preferences not saved: {one_line(err)}", severity="warning", timeout=8)
        else:
            self.saved = now
        finally:
            self.writing = False
