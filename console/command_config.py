"""Your own commands, as the config says them: ``[[commands]]``, each bound to a key on one pane.

```toml
[[commands]]
name = "ssh"                      # how help and the palette call it
key = "ctrl+k"                    # on its pane; a built-in key there is refused at load
scope = "host"                    # host, container, volume or service: the pane it is on
command = ["ssh", "{ip}"]         # an argv list, never a shell line
mode = "terminal"                 # takes over the terminal, as the shell key does

[[commands]]
name = "health"
key = "H"
scope = "container"
command = ["curl", "-s", "--max-time", "5", "http://{ip}:8080/health"]
mode = "background"               # output in a screen (the default)
timeout = 30                      # seconds before it is ended (background only)
```

Placeholders: ``{name}``, ``{ip}`` (a host's address; for a container or a volume, its
host's), ``{id}`` and ``{context}``. Each fills the one argv element it is in: a value with
blanks, quotes or ``;`` stays one literal argument, and nothing is run through a shell. The
values come from servers: one with a control character (a newline, an escape) is refused,
not passed on. Commands are things the console runs as the user: a config that others can
write is refused with them (``config.unsafe_reason``), as for ``password_command``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from backends.errors import InvalidInput

SCOPES = {"host": "hosts", "container": "containers", "volume": "volumes", "service": "services"}
MODES = ("background", "terminal")
PLACEHOLDERS = ("name", "ip", "id", "context")
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0
MAX_OUTPUT = 1024 * 1024  # bytes of a background command's output kept; the rest is cut
MAX_ARGS = 256
_KEY = re.compile(r"^(?:(?:ctrl|shift|alt|meta)\+)*(?:[A-Za-z0-9]|f[0-9]{1,2}|[a-z_]{2,20})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


@dataclass(frozen=True, slots=True)
class UserCommand:
    name: str
    key: str
    scope: str  # host, container, volume, service
    argv: tuple[str, ...]  # the template: each element may hold placeholders, filled on its own
    mode: str = "background"
    timeout: float = DEFAULT_TIMEOUT

    @property
    def pane(self) -> str:
        return SCOPES[self.scope]

    @property
    def binding_id(self) -> str:
        return f"command.{self.name}"

    def describe(self) -> str:
        where = "in the terminal" if self.mode == "terminal" else "output in a screen"
        return f"Your command: {' '.join(self.argv)} ({where})"


class CommandConfigError(InvalidInput):
    title = "Config error"


def parse_commands(where: str, raw: Any, builtin_keys: dict[str, set[str]] | None = None) -> list[UserCommand]:
    """The ``[[commands]]`` array, checked: each problem is one line naming the entry.

    ``builtin_keys``: pane -> the keys already bound there (a clash is refused, never
    shadowed: a user's key must not silently take over, or lose to, a built-in one); the
    console passes them (console.user_commands.check_keys), the config alone cannot know them."""
    ConfigError = CommandConfigError

    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{where}: commands is an array of tables: [[commands]] with name, key, scope and command")
    commands: list[UserCommand] = []
    for n, table in enumerate(raw, 1):
        label = f"{where}: [[commands]] #{n}"
        name = table.get("name")
        if isinstance(name, str) and _NAME.match(name):
            label = f"{where}: command {name!r}"
        else:
            raise ConfigError(f"{label}: name must be 1-40 letters, digits, blanks, '_', '.' or '-'")
        unknown = set(table) - {"name", "key", "scope", "command", "mode", "timeout"}
        if unknown:
            raise ConfigError(f"{label}: unknown key(s) {', '.join(sorted(unknown))} (name, key, scope, command, mode, timeout)")
        key = table.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ConfigError(f'{label}: key must be one key, e.g. "H", "ctrl+k" or "f5"')
        scope = table.get("scope")
        if scope not in SCOPES:
            raise ConfigError(f"{label}: scope must be one of {', '.join(SCOPES)}")
        mode = table.get("mode", "background")
        if mode not in MODES:
            raise ConfigError(f"{label}: mode must be background or terminal")
        timeout = table.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
            raise ConfigError(f"{label}: timeout must be a number of seconds, more than 0 and at most {MAX_TIMEOUT:g}")
        argv = table.get("command")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv) or len(argv) > MAX_ARGS:
            raise ConfigError(f'{label}: command must be a list of strings (an argv, never a shell line), e.g. ["ssh", "{{ip}}"]')
        for element in argv:
            problem = template_problem(element)
            if problem:
                raise ConfigError(f"{label}: command element {element!r}: {problem}")
        if not argv[0] or "{" in argv[0]:
            raise ConfigError(f"{label}: the program (the command's first element) must be a fixed name, not a placeholder")
        pane = SCOPES[scope]
        if key in (builtin_keys or {}).get(pane, set()):
            raise ConfigError(f"{label}: key {key!r} is already a built-in key on the {pane} pane; choose another")
        for other in commands:
            if other.pane == pane and other.key == key:
                raise ConfigError(f"{label}: key {key!r} is already command {other.name!r}'s on the {pane} pane")
            if other.name == name:
                raise ConfigError(f"{label}: two commands named {name!r}")
        commands.append(UserCommand(name, key, scope, tuple(argv), mode, float(timeout)))
    return commands


def template_problem(element: str) -> str | None:
    """What is wrong with one argv element's placeholders, or None."""
    try:
        parts = list(string.Formatter().parse(element))
    except ValueError as err:  # "{ip" or a lone "}"
        return f"{err} (write {{{{ and }}}} for literal braces)"
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            return f"unknown placeholder {{{field}}} (use {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
        if spec or conversion:
            return f"{{{field}}} takes no format or conversion"
    return None


