"""The TOML config file: named contexts (which backend, with its keys) and the key map.

```toml
current_context = "lab"

[contexts.lab]
backend = "prism"
endpoint = "https://prism.example.com:9440"
user = "admin"
password_command = "pass show prism/admin"   # never a password itself
ca_bundle = "~/certs/prism.pem"
read_only = true

[contexts.local]
backend = "docker"
hosts = ["unix:///var/run/docker.sock", "ssh://ops@build-01"]

[contexts.demo]
backend = "simulator"
seed = 42
scale = 5000

[keymap]                  # binding id = keys (ids are listed in the console's help, `?`)
host.create = "C"
item.delete = "ctrl+d,delete"
```

A context's keys are the fields of its backend's settings (its ``about`` module); anything
else is an error, so a typo never silently does nothing. Every problem with the file is a
``ConfigError``: one line, exit code 2.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from backends import registry
from backends.errors import InvalidInput
from backends.settings import Settings, field_type

ENV_CONFIG = "NTNX_CONSOLE_CONFIG"

# Keys every context may have, whatever its backend.
_COMMON_KEYS = {"backend", "read_only", "insecure_transport"}
# Keys that make the console run something: a file others can write could run anything as
# the user, so these are refused from a config that is not the user's alone (as ssh does).
_COMMAND_KEYS = ("password_command", "upgrade_command", "provision_script")
# Keys that name files: "~" is expanded.
_PATH_KEYS = {"cert_path", "ca_bundle", "state_path", "provision_script"}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """TOML reads the binding id ``host.create = "C"`` as nested tables: join them back."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class ConfigError(InvalidInput):
    title = "Config error"


@dataclass(slots=True)
class Config:
    path: Path
    current_context: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)  # validated, as in the file
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. "ctrl+d"
    # [registries.NAME] tables, checked (backends.registries.models; issue 13).
    registries: dict[str, Any] = field(default_factory=dict)
    # Contexts opened together when none is named (issue 14: `config use-context a,b`, `:ctx`).
    fleet: list[str] = field(default_factory=list)
    # [[commands]]: your own commands (console/command_config.py), checked and trusted.
    commands: list[Any] = field(default_factory=list)
    # [preferences]: the theme, each pane's sort and shown columns, as the console last wrote
    # them (console/preferences.py): {"theme": str | None, "sort": {pane: "column" or "-column"},
    # "columns" when set: {pane: [column, ...]}, and "history_minutes" when set: the plots'
    # window (console/history.py)}.
    preferences: dict[str, Any] = field(default_factory=dict)

    def settings_for(self, context: str | None = None) -> Settings:
        """Settings of ``context``, else of ``current_context``, else the built-in simulator."""
        name = context or self.current_context
        if name is None:
            return Settings()
        if name not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none defined"
            where = "current_context names" if context is None else "no such context"
            raise ConfigError(f"{where} {name!r} in {self.path} (contexts: {known})")
        raw = self.contexts[name]
        commands = [key for key in _COMMAND_KEYS if raw.get(key)]
        if commands:
            problem = unsafe_reason(self.path)
            if problem:
                raise ConfigError(f"refusing {commands[0]} of context {name!r}: {problem}")
        backend = raw["backend"]
        settings = Settings(
            backend=backend,
            context=name,
            read_only=raw.get("read_only", False),
            insecure_transport=raw.get("insecure_transport", False),
        )
        section = settings.section(backend)
        for key, value in raw.items():
            if key not in _COMMON_KEYS:
                setattr(section, key, value)
        return settings


def unsafe_reason(path: Path) -> str | None:
    """Why ``path`` may have been written by someone other than the user, else None.

    The file and every directory above it must belong to the user (or root) and not be
    writable by group or others; a shared directory with the sticky bit (``/tmp``) is
    accepted, as the bit keeps others from replacing what is in it."""
    uid = os.getuid()
    try:
        st = path.stat()
    except OSError:
        return None  # no file: nothing to trust
    if st.st_uid not in (uid, 0):
        return f"{path} belongs to uid {st.st_uid}, not to you; fix with: chown {uid} {path}"
    if st.st_mode & 0o022:
        return f"{path} is writable by group or others (mode {st.st_mode & 0o777:03o}); fix with: chmod go-w {path}"
    directory = path.resolve().parent
    while True:
        try:
            st = directory.stat()
        except OSError:
            return None
        if st.st_uid not in (uid, 0):
            return f"{directory} belongs to uid {st.st_uid}, not to you or root; move the config elsewhere"
        if st.st_mode & 0o022 and not st.st_mode & 0o1000:
            return f"{directory} is writable by group or others (mode {st.st_mode & 0o777:03o}); fix with: chmod go-w {directory}"
        if directory.parent == directory:
            return None
        directory = directory.parent


def config_path() -> Path:
    """Where the config file is: $NTNX_CONSOLE_CONFIG, else the platform's config directory."""
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("ntnx-console")) / "config.toml"


def load_config(path: Path | str | None = None) -> Config:
    """Read and check the config file; a missing file is an empty config (the simulator)."""
    path = Path(path) if path is not None else config_path()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return Config(path=path)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    return _parse(path, data)


def _parse(path: Path, data: dict[str, Any]) -> Config:
    unknown = set(data) - {"current_context", "contexts", "keymap", "registries", "fleet", "commands", "preferences"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    current = data.get("current_context")
    if current is not None and not isinstance(current, str):
        raise ConfigError(f"{path}: current_context must be a string")
    contexts_raw = data.get("contexts", {})
    if not isinstance(contexts_raw, dict):
        raise ConfigError(f"{path}: [contexts] must be a table of [contexts.NAME] tables")
    contexts = {name: _context(path, name, raw) for name, raw in contexts_raw.items()}
    if current is not None and current not in contexts:
        known = ", ".join(sorted(contexts)) or "none defined"
        raise ConfigError(f"{path}: current_context {current!r} is not a context (contexts: {known})")
    raw_keymap = data.get("keymap", {})
    if not isinstance(raw_keymap, dict):
        raise ConfigError(f'{path}: [keymap] maps binding ids to keys, e.g. host.create = "C"')
    keymap = _flatten(raw_keymap)
    if not all(isinstance(v, str) and v for v in keymap.values()):
        raise ConfigError(f'{path}: [keymap] maps binding ids to keys, e.g. host.create = "C"')
    registries = _registries(path, data.get("registries", {}))
    fleet = data.get("fleet", [])
    if not isinstance(fleet, list) or not all(isinstance(n, str) for n in fleet):
        raise ConfigError(f'{path}: fleet is a list of context names, e.g. fleet = ["lab", "local"]')
    missing = [n for n in fleet if n not in contexts]
    if missing:
        known = ", ".join(sorted(contexts)) or "none defined"
        raise ConfigError(f"{path}: fleet names {missing[0]!r}, which is not a context (contexts: {known})")
    commands = _commands(path, data.get("commands", []))
    return Config(
        path=path, current_context=current, contexts=contexts, keymap=dict(keymap), registries=registries,
        fleet=list(dict.fromkeys(fleet)), commands=commands,
        preferences=_preferences(path, data.get("preferences", {})),
    )


PREFERENCE_PANES = ("hosts", "containers", "volumes", "services", "secrets")
MAX_COLUMNS = 64  # names in one pane's [preferences] columns


def _preferences(path: Path, raw: Any) -> dict[str, Any]:
    """[preferences], checked: one line naming what is wrong."""
    where = f"{path}: [preferences]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table (theme, sort, columns)")
    unknown = set(raw) - {"theme", "sort", "columns", "history_minutes"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (theme, sort, columns, history_minutes)")
    theme = raw.get("theme")
    if theme is not None and (not isinstance(theme, str) or not theme or len(theme) > 64):
        raise ConfigError(f"{where}: theme must be a theme's name")
    sort = raw.get("sort", {})
    if not isinstance(sort, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in sort.items()):
        raise ConfigError(f'{where}: sort maps a pane to a column, e.g. sort = {{ hosts = "name" }}')
    panes = set(sort) - set(PREFERENCE_PANES)
    if panes:
        raise ConfigError(f"{where}: sort: no pane {sorted(panes)[0]!r} (panes: {', '.join(PREFERENCE_PANES)})")
    columns = raw.get("columns", {})
    if not isinstance(columns, dict) or not all(
        isinstance(names, list) and len(names) <= MAX_COLUMNS and all(isinstance(n, str) and 0 < len(n) <= 64 for n in names)
        for names in columns.values()
    ):
        raise ConfigError(f'{where}: columns maps a pane to the columns it shows, e.g. columns = {{ hosts = ["name", "state"] }}')
    panes = set(columns) - set(PREFERENCE_PANES)
    if panes:
        raise ConfigError(f"{where}: columns: no pane {sorted(panes)[0]!r} (panes: {', '.join(PREFERENCE_PANES)})")
    # Which names are columns is known only with the panes (a column may be one backend's):
    # an unknown one is said and passed over at start (console/preferences.py), not refused.
    from .history import MAX_MINUTES

    minutes = raw.get("history_minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 1 <= minutes <= MAX_MINUTES
    ):
        raise ConfigError(f"{where}: history_minutes must be a number of minutes from 1 to {MAX_MINUTES}, e.g. history_minutes = 15")
    window = {} if minutes is None else {"history_minutes": minutes}
    shown = {"columns": {pane: list(names) for pane, names in columns.items()}} if columns else {}
    return {"theme": theme, "sort": dict(sort)} | shown | window


def _commands(path: Path, raw: Any) -> list[Any]:
    """[[commands]]: each checked (one line naming the entry); refused altogether from a file
    others can write, since the console runs them as the user (as password_command)."""
    from .command_config import parse_commands

    try:
        commands = parse_commands(str(path), raw)
    except InvalidInput as err:
        raise ConfigError(err.message) from None
    if commands:
        problem = unsafe_reason(path)
        if problem:
            raise ConfigError(f"refusing the [[commands]] of {path}: {problem}")
    return commands


def _registries(path: Path, raw: Any) -> dict[str, Any]:
    from backends.registries.models import entry_from_table

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [registries] must be a table of [registries.NAME] tables")
    try:
        return {name: entry_from_table(name, table, f"{path}: [registries.{name}]") for name, table in raw.items()}
    except InvalidInput as err:
        raise ConfigError(err.message) from None


def _context(path: Path, name: str, raw: Any) -> dict[str, Any]:
    where = f"{path}: [contexts.{name}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    from backends.validation import context_name_problem

    problem = context_name_problem(name)  # a name is also "CONTEXT/NAME" and `--context a,b`
    if problem:
        raise ConfigError(f"{where}: the name: {problem}")
    backend = raw.get("backend")
    if backend not in registry.names():
        raise ConfigError(f"{where}: backend must be one of {', '.join(registry.names())} (got {backend!r})")
    if "password" in raw:
        raise ConfigError(
            f"{where}: a password is never kept in the config; use password_command, NTNX_PASSWORD or a prompt"
        )
    types = {f.name: field_type(f) for f in fields(registry.info(backend).settings)}
    out: dict[str, Any] = {"backend": backend}
    for key, value in raw.items():
        if key == "backend":
            continue
        if key in ("read_only", "insecure_transport"):
            out[key] = _check(where, key, value, "bool")
        elif key in types:
            out[key] = _check(where, key, value, types[key])
        else:
            allowed = ", ".join(sorted(_COMMON_KEYS | set(types)))
            raise ConfigError(f"{where}: unknown key {key!r} for the {backend} backend (keys: {allowed})")
    return out


def _check(where: str, key: str, value: Any, type_text: str) -> Any:
    """Check ``value`` against a settings field's annotation, e.g. 'int | None' or 'list[str]'."""
    base = type_text
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }.get(base, False)
    if not ok:
        wanted = {"list[str]": "a list of strings", "str": "a string", "bool": "true or false"}.get(base, f"a number ({base})")
        raise ConfigError(f"{where}: {key} must be {wanted}")
    if base == "float":
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {key} must be a finite number, not {value}")
    if key in _PATH_KEYS:
        value = os.path.expanduser(value)
    return value
