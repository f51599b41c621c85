"""Your own commands (``[[commands]]`` in the config, console/command_config.py): their keys
checked against the built-in ones, their placeholders filled, and a background one run bounded
in time and output. Never through a shell: each placeholder fills the one argv element it is in.
"""

from __future__ import annotations

import asyncio
import re
import string
from dataclasses import dataclass
from typing import Any, Callable

from backends.errors import InvalidInput

from .command_config import MAX_OUTPUT, SCOPES, UserCommand

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class CommandError(InvalidInput):
    title = "Command"


def check_keys(config: Any) -> list[UserCommand]:
    """The config's commands, refused (ConfigError, one line) when one's key is a built-in key
    on its pane (as the config's [keymap] has it)."""
    from .config import ConfigError

    commands = list(getattr(config, "commands", None) or [])
    taken = builtin_keys(getattr(config, "keymap", None) or {})
    for command in commands:
        if command.key in taken.get(command.pane, set()):
            raise ConfigError(
                f"{config.path}: command {command.name!r}: key {command.key!r} is already a built-in key on the "
                f"{command.pane} pane; choose another"
            )
    return commands


def builtin_keys(keymap_overrides: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Pane -> every key a built-in binding has there (as remapped by [keymap])."""
    from widgets.resource_table import ResourceTable

    from . import actions, keymap

    overrides = keymap_overrides or {}

    def keys_of(binding_id: str | None, default: str) -> set[str]:
        keys = overrides.get(binding_id or "", default)
        return {k.strip() for k in keys.split(",") if k.strip()}

    everywhere: set[str] = set()
    for b in [*keymap.APP_BINDINGS, *keymap.VIEW_BINDINGS, *ResourceTable.BINDINGS]:
        everywhere |= keys_of(b.id, b.key)  # type: ignore[union-attr]
    taken = {pane: set(everywhere) for pane in SCOPES.values()}
    for record in actions.ACTIONS:
        if not record.keys:
            continue
        for pane in record.panes or tuple(SCOPES.values()):
            if pane in taken:
                taken[pane] |= keys_of(record.id, record.keys)
    return taken


# -- running one ---------------------------------------------------------------------------------


def values_for(kind: str, item: Any, inventory: Any, context: str) -> dict[str, str]:
    """The placeholders' values for an item of a pane (``kind`` is the pane's name)."""
    host = None
    if kind == "hosts":
        host = item
    elif getattr(item, "host_id", None):
        host = inventory.hosts.get(item.host_id)
    return {
        "name": str(item.name),
        "id": str(item.id),
        "ip": str(getattr(host, "ip", "") or ""),
        "context": context,
    }


def argv_for(command: UserCommand, values: dict[str, str]) -> list[str]:
    """The argv, each element filled on its own: a value never becomes more arguments and is
    never read as a template itself. A used value that is empty or has a control character
    is refused (CommandError), naming the placeholder."""
    argv = []
    for element in command.argv:
        for _, field, _, _ in string.Formatter().parse(element):
            if field is None:
                continue
            value = values.get(field, "")
            if not value:
                raise CommandError(f"{command.name}: no {{{field}}} for this item")
            if _CONTROL.search(value):
                raise CommandError(f"{command.name}: {{{field}}} {value!r} has a control character; not run")
        argv.append(element.format_map(values))
    return argv


@dataclass
class Outcome:
    output: bytes
    code: int | None  # None: ended by the timeout
    cut: bool  # more output than MAX_OUTPUT: the rest was dropped


async def run_background(
    argv: list[str], timeout: float, max_bytes: int = MAX_OUTPUT, on_output: Callable[[bytes], None] | None = None
) -> Outcome:
    """Run ``argv`` (no shell) with no input, its output and errors together, bounded in time
    and size: past ``timeout`` it is killed, past ``max_bytes`` the rest is read and dropped.
    ``on_output`` sees each piece kept as it arrives."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # not in the console's process group: ctrl+c there is not its
        )
    except FileNotFoundError:
        raise CommandError(f"{argv[0]}: no such program on PATH") from None
    except OSError as err:
        raise CommandError(f"{argv[0]}: {err.strerror or err}") from None
    kept = bytearray()
    cut = False

    async def read() -> None:
        nonlocal cut
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            room = max_bytes - len(kept)
            if len(chunk) > room:
                cut = True
            piece = chunk[: max(0, room)]
            kept.extend(piece)
            if piece and on_output is not None:
                on_output(piece)

    try:
        await asyncio.wait_for(read(), timeout)
        code = await asyncio.wait_for(proc.wait(), max(0.1, timeout))
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return Outcome(bytes(kept), None, cut)
    except asyncio.CancelledError:  # the screen closed: the command goes with it
        proc.kill()
        raise
    return Outcome(bytes(kept), code, cut)
