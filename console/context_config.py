"""``config use-context NAME[,NAME...]`` and the console's ``:ctx``: which contexts open when
none is named, written back into the config file.

One name is ``current_context = "NAME"`` (and no ``fleet``); several are ``fleet = [...]``
with the first as ``current_context``. The file is edited as ``registry add`` edits it:
under its lock, replaced atomically, the two top-level lines changed in place so the rest
(comments included) stays as written; the result is read back and compared with what it
must hold (``console.registry_config``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from backends.files import FileLock

from .config import ConfigError
from .registry_config import _HEADER, _read, _write

_KEY = {key: re.compile(rf"^[ \t]*{key}[ \t]*=") for key in ("current_context", "fleet")}


def _set_top_level(text: str, key: str, value: str | None) -> str:
    """``key = value`` among the top-level keys (before the first table), replacing the line
    that has it; ``None`` removes it. A value spread over several lines is not looked for:
    the check after the edit catches it and the file is then written from its values."""
    lines = text.splitlines(keepends=True)
    end = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
    for i in range(end):
        if _KEY[key].match(lines[i]):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key} = {value}\n"
            return "".join(lines)
    if value is None:
        return text
    return f"{key} = {value}\n" + text


def use_contexts(path: Path, names: list[str]) -> None:
    """Remember ``names`` as the contexts to open; each must be a context of the file."""
    if not names:
        raise ConfigError("name a context: config use-context NAME[,NAME...]")
    with FileLock(str(path)):
        text, data = _read(path)
        contexts = data.get("contexts", {})
        missing = [n for n in names if n not in contexts]
        if missing:
            known = ", ".join(sorted(contexts)) or "none defined"
            raise ConfigError(f"no such context {missing[0]!r} in {path} (contexts: {known})")
        expected = dict(data)
        expected["current_context"] = names[0]
        text = _set_top_level(text, "current_context", json.dumps(names[0]))
        if len(names) > 1:
            expected["fleet"] = list(names)
            text = _set_top_level(text, "fleet", json.dumps(list(names)))
        else:
            expected.pop("fleet", None)
            text = _set_top_level(text, "fleet", None)
        _write(path, text, expected)
