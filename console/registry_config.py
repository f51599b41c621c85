"""``registry add`` and ``registry remove``: the config file's ``[registries.NAME]`` tables
written back, under the file's lock and replaced atomically (``backends.files``).

The rest of the file stays as the user wrote it, comments included: the one table is cut
out of the text, or a new one appended, and the result is read back and compared with what
it must hold. Only if the file is laid out so that a text edit cannot be trusted (the
registries written as an inline table, say) is it written whole from its data; that keeps
every value but not the comments, and says so.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from backends.errors import Conflict, NotFound
from backends.files import FileLock, read_capped, write_atomic
from backends.registries.models import RegistryEntry

from .config import ConfigError, _parse

#: A config file is a few kilobytes; one past this is no config the console wrote or reads.
MAX_CONFIG_BYTES = 1024 * 1024
_HEADER = re.compile(r"^[ \t]*\[")  # any table or array-of-tables header line


def _header_of(name: str) -> re.Pattern[str]:
    # Names are bare keys (models.REGISTRY_NAME), so the header needs no quoting rules.
    return re.compile(rf"^[ \t]*\[[ \t]*registries[ \t]*\.[ \t]*{re.escape(name)}[ \t]*\][ \t]*(#.*)?$")


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    raw = read_capped(str(path), MAX_CONFIG_BYTES)
    text = "" if raw is None else raw.decode("utf-8", errors="strict")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}") from None
    _parse(path, data)  # the whole file checked: never write into a config that is broken
    return text, data


def _without_table(text: str, name: str) -> str:
    header = _header_of(name)
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        if header.match(line):
            skipping = True
            continue
        if skipping and _HEADER.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def _normal(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if not out.get("registries"):
        out.pop("registries", None)
    return out


def _write(path: Path, text: str, expected: dict[str, Any]) -> None:
    import tomli_w

    try:
        trusted = _normal(tomllib.loads(text)) == _normal(expected)
    except tomllib.TOMLDecodeError:
        trusted = False
    if not trusted:
        text = tomli_w.dumps(_normal(expected))
        sys.stderr.write(f"note: {path} was rewritten from its values (its layout did not allow an edit in place): comments were not kept\n")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = text.encode()
    write_atomic(str(path), lambda f: f.write(data), mode=0o600)


def add_registry(path: Path, entry: RegistryEntry) -> None:
    """Add ``entry`` as ``[registries.NAME]``; a name already there is a ``Conflict``."""
    import tomli_w

    with FileLock(str(path)):
        text, data = _read(path)
        if entry.name in data.get("registries", {}):
            raise Conflict(f"registry {entry.name} is already in {path}; remove it first (registry remove {entry.name})")
        table = entry.table()
        block = f"[registries.{entry.name}]\n" + tomli_w.dumps(table)
        if text and not text.endswith("\n"):
            text += "\n"
        new_text = text + ("\n" if text.strip() else "") + block
        expected = dict(data)
        expected["registries"] = {**data.get("registries", {}), entry.name: table}
        _write(path, new_text, expected)


def remove_registry(path: Path, name: str) -> None:
    """Remove ``[registries.NAME]``; a name not there is ``NotFound``."""
    with FileLock(str(path)):
        text, data = _read(path)
        registries = data.get("registries", {})
        if name not in registries:
            known = ", ".join(sorted(registries)) or "none configured"
            raise NotFound(f"no registry {name} in {path} (registries: {known})")
        expected = dict(data)
        expected["registries"] = {k: v for k, v in registries.items() if k != name}
        _write(path, _without_table(text, name), expected)
