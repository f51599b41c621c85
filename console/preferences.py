"""The theme, each pane's sort and the columns each pane shows, remembered in the config file
and read back at start.

```toml
[preferences]
theme = "nord"
sort = { hosts = "name", containers = "-cpu" }   # "-" first: the column in reverse
columns = { containers = ["name", "state", "host"] }   # the columns shown; NAME always is
history_minutes = 15   # the window of the CPU, memory and network plots (console/history.py)
```

Written when they change (checked once a second: a sort changes by key or by a click on a
column title, the columns from the dashboard's Columns dialog, the theme from the palette),
under the config file's lock and replaced atomically (``backends.files``). Only the
``[preferences]`` table is rewritten; the rest of the file stays as the user wrote it, comments
included (a comment inside ``[preferences]`` itself is not kept: that table is the console's).

A pane is written under ``columns`` only while it hides something: a pane never narrowed shows
every column, those of a later version too. NAME and (with several contexts) CONTEXT are always
shown: a row must say what and where it is. A name that is no column of its pane (a column of
an older version, a typo) is passed over, said in one line at start.
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
from .presenters.base import ALWAYS_SHOWN

CHECK_INTERVAL = 1.0  # seconds between looks at the theme and the sorts
# Any header of the [preferences] table or of a table inside it ([preferences.sort]).
_OWN_HEADER = re.compile(r"^[ \t]*\[[ \t]*preferences[ \t]*(\.[^\]]*)?\][ \t]*(#.*)?$")
_HEADER = re.compile(r"^[ \t]*\[")


def block(
    theme: str | None, sort: dict[str, str], history_minutes: float | None = None, columns: dict[str, list[str]] | None = None
) -> str:
    """The [preferences] table as the console writes it (strings as TOML basic strings)."""
    lines = ["[preferences]\n"]
    if theme:
        lines.append(f"theme = {json.dumps(theme)}\n")
    if history_minutes is not None:  # the user's own: never changed here, only kept
        lines.append(f"history_minutes = {history_minutes!r}\n")
    if sort:
        pairs = ", ".join(f"{pane} = {json.dumps(column)}" for pane, column in sort.items())
        lines.append(f"sort = {{ {pairs} }}\n")
    if columns:
        pairs = ", ".join(f"{pane} = {json.dumps(names)}" for pane, names in columns.items())
        lines.append(f"columns = {{ {pairs} }}\n")
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


def save(
    path: Path, theme: str | None, sort: dict[str, str], history_minutes: float | None = None,
    columns: dict[str, list[str]] | None = None,
) -> None:
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
        new_text = rest + ("\n" if rest.strip() else "") + block(theme, sort, history_minutes, columns)
        expected = {k: v for k, v in data.items() if k != "preferences"}
        wanted = {"theme": theme, "sort": sort, "history_minutes": history_minutes, "columns": columns or {}}
        written = tomllib.loads(new_text)
        got = written.pop("preferences", {})
        kept = {
            "theme": got.get("theme"), "sort": got.get("sort", {}), "history_minutes": got.get("history_minutes"),
            "columns": got.get("columns", {}),
        }
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
        self.columns: dict[str, list[str]] = dict(prefs.get("columns") or {})
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
        columns = {}
        for pane, table in tables.items():
            if table.sort_column is not None:
                sort[pane] = ("-" if table.sort_reverse else "") + table.sort_column
            if table.hidden_columns:
                columns[pane] = tuple(c.key for c in table.shown_columns if c.key != "context")
        # A pane this backend does not show keeps what the file says for it.
        kept = {pane: column for pane, column in self.sort.items() if pane not in tables}
        kept_columns = {pane: tuple(names) for pane, names in self.columns.items() if pane not in tables}
        return (self.app.theme, tuple(sorted({**kept, **sort}.items())), tuple(sorted({**kept_columns, **columns}.items())))

    def _apply_columns(self, tables: dict[str, Any]) -> None:
        """Hide what each pane's list leaves out; names that are no column: one line."""
        unknown: list[str] = []
        for pane, names in self.columns.items():
            table = tables.get(pane)
            if table is None:
                continue  # not shown by this backend: kept as the file has it
            keys = [c.key for c in table.columns]
            unknown += [f"{name!r} on {pane}" for name in names if name not in keys and name not in ALWAYS_SHOWN]
            table.set_hidden_columns(k for k in keys if k not in names and k not in ALWAYS_SHOWN)
        if unknown:
            self.app.notify(f"config [preferences] columns: no column {', '.join(unknown)}; passed over", severity="warning")

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
            self._apply_columns(tables)
            # What the file says, as shown now: a name passed over is no change to write.
            self.saved = (self.app.theme, tuple(sorted(self.sort.items())), self.current(tables)[2])
            return
        now = self.current(tables)
        if now == self.saved or self.writing or self.failed:
            return
        self.writing = True
        # A function, not a coroutine (as every worker here): cancelled unstarted, nothing dangles.
        self.app.run_worker(partial(self._write, now), group="preferences", exit_on_error=False)

    async def _write(self, now: tuple) -> None:
        theme, sort, columns = now
        shown = {pane: list(names) for pane, names in columns}
        try:
            await asyncio.to_thread(save, self.path, theme, dict(sort), self.history_minutes, shown)  # type: ignore[arg-type]
        except Exception as err:
            self.failed = True  # said once; the console goes on with what it has
            self.app.notify(f"preferences not saved: {one_line(err)}", severity="warning", timeout=8)
        else:
            self.saved = now
        finally:
            self.writing = False
