"""`container logs C1 C2 … [--follow] [--tail N] [--grep TEXT|/RE/]`.

One container prints its lines as they are. Several are interleaved by time: their histories
merged by each line's time, then, when following, each line as it arrives (arrival is time
order within a small skew), every line prefixed with its container's name (coloured on a
terminal). ``--grep`` keeps only the lines that match (plain text in any case, or /regex/, as
the console's filter). Every line goes through ``sgr_text``: a container's colours are kept on
a terminal and nothing else reaches it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from backends.errors import InvalidInput
from widgets.log_view import compile_term
from widgets.terminal_text import sgr_text, visible

PREFIX_STYLES = ("cyan", "yellow", "magenta", "green", "blue", "bright_red", "bright_cyan", "bright_yellow")
MAX_CONTAINERS = 50  # streams followed at once
# Several containers' histories are merged in memory before printing: without --tail, this
# many lines of each (one container alone streams straight through, unbounded as ever).
MERGED_TAIL = 10_000
FOLLOW_WINDOW = 0.1  # seconds of arrived lines put in time order before printing


def _console(consoles: dict[str, Any], out: Any) -> Any:
    """One Rich console per stream, printing Text as it is: no wrapping, markup or highlighting."""
    from rich.console import Console

    key = "stderr" if out is sys.stderr else "stdout"
    if key not in consoles:
        consoles[key] = Console(file=out, soft_wrap=True, highlight=False, markup=False, emoji=False)
    return consoles[key]


async def print_logs(backend: Any, args: Any, containers: list) -> int:
    try:
        pattern = compile_term(args.grep or "")
    except ValueError as err:
        raise InvalidInput(f"--grep {args.grep!r}: {err}") from None
    containers = list({c.id: c for c in containers}.values())
    if len(containers) > MAX_CONTAINERS:
        raise InvalidInput(f"{len(containers)} containers: at most {MAX_CONTAINERS} at once")
    several = len(containers) > 1
    width = min(24, max(len(visible(c.name)) for c in containers))
    consoles: dict[str, Any] = {}

    def emit(c: Any, index: int, line: Any) -> None:
        text = sgr_text(line.text.rstrip("\r\n"))
        if pattern is not None and not pattern.search(text.plain):
            return
        if args.json:
            row = {"time": line.time, "stream": line.stream, "text": line.text}
            if several:
                row["container"] = c.name
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            out = sys.stderr if line.stream == "stderr" else sys.stdout
            if several:
                from rich.text import Text

                head = Text(f"{visible(c.name)[:width]:<{width}} | ", style=PREFIX_STYLES[index % len(PREFIX_STYLES)])
                text = head + text
            # Piped: plain text; on a terminal, the container's colours (and the prefix's).
            if text.spans and out.isatty():
                _console(consoles, out).print(text)
            else:
                out.write(text.plain + "\n")
        if args.follow:
            sys.stdout.flush()

    if not several:
        async for line in backend.logs(containers[0].id, follow=args.follow, tail=args.tail):
            emit(containers[0], 0, line)
        return 0

    async def history(c: Any) -> list:
        return [line async for line in backend.logs(c.id, follow=False, tail=args.tail or MERGED_TAIL)]

    histories = await asyncio.gather(*(history(c) for c in containers))
    merged = sorted(
        ((line.time if line.time is not None else float("-inf"), n, i, line)
         for i, lines in enumerate(histories) for n, line in enumerate(lines)),
        key=lambda item: (item[0], item[1]),
    )
    for _, _, i, line in merged:
        emit(containers[i], i, line)
    if not args.follow:
        return 0

    # Following: what arrives within a short window is printed in time order (a backend may
    # hand over a burst of one container's lines before the other's).
    pending: list[tuple[float, int, int, Any]] = []
    seq = [0]

    def flush() -> None:
        batch = sorted(pending, key=lambda item: (item[0], item[1]))
        pending.clear()
        for _, _, i, line in batch:
            emit(containers[i], i, line)

    async def follow(i: int, c: Any, lines: list) -> None:
        # From the last line of its history on; a line at or before it was printed already.
        last = max((line.time for line in lines if line.time is not None), default=None)
        stream = backend.logs(c.id, follow=True, since=last) if last is not None else backend.logs(c.id, follow=True, tail=0)
        async for line in stream:
            if last is not None and line.time is not None and line.time <= last:
                continue
            seq[0] += 1
            pending.append((line.time if line.time is not None else float("-inf"), seq[0], i, line))

    async def flusher() -> None:
        while True:
            await asyncio.sleep(FOLLOW_WINDOW)
            flush()

    ticking = asyncio.create_task(flusher())
    try:
        await asyncio.gather(*(follow(i, c, lines) for i, (c, lines) in enumerate(zip(containers, histories))))
    finally:
        ticking.cancel()
        flush()
    return 0
