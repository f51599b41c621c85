"""Generated container logs: believable, and the same for a seed whenever they are read.

Line ``i`` of a container is written at ``start + i * gap`` (the gap depends on the app) and
its text comes from a ``random.Random`` seeded by (seed, container id, i), so reading the logs
never disturbs the world's own random stream.
"""

from __future__ import annotations

import hashlib
import random
import time as _time
from typing import Iterator

from ..contract import LogLine
from ..models import Container

RETAINED_LINES = 1000  # like json-file log rotation: older lines are gone

_PATHS = ("/", "/api/cart", "/api/products?page=2", "/api/orders", "/healthz", "/static/app.js", "/login", "/api/search?q=boots")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "kube-probe/1.29", "Go-http-client/1.1")


def _gap(c: Container) -> float:
    digest = hashlib.blake2b(c.id.encode(), digest_size=2).digest()
    return 1.0 + int.from_bytes(digest, "big") % 1400 / 100.0  # 1 to 15 seconds


def _span(c: Container, now: float) -> tuple[float, float]:
    start = c.started_at or c.created_at
    end = now if c.finished_at is None or (c.started_at or 0) > c.finished_at else c.finished_at
    return start, min(end, now)


def _stamp(t: float) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _line(seed: int, c: Container, i: int, start: float, gap: float) -> LogLine:
    rng = random.Random(f"{seed}:{c.id}:{i}")
    t = start + (i + rng.random() * 0.9) * gap  # line i falls within its own slot of the gap
    app = c.name.rsplit("-", 1)[0] if "-" in c.name else c.name
    image = c.image
    when = _time.strftime("%d/%b/%Y:%H:%M:%S +0000", _time.gmtime(t))
    if image.startswith(("nginx", "traefik")):
        status = rng.choices((200, 200, 200, 304, 404, 500), k=1)[0]
        text = (f'127.0.0.{rng.randint(2, 250)} - - [{when}] "GET {rng.choice(_PATHS)} HTTP/1.1" {status} '
                f'{rng.randint(120, 48000)} "-" "{rng.choice(_AGENTS)}"')
        return LogLine(text, t, "stdout")
    if image.startswith("postgres"):
        msgs = ("LOG:  checkpoint starting: time", f"LOG:  checkpoint complete: wrote {rng.randint(3, 900)} buffers",
                "LOG:  automatic vacuum of table \"shop.public.orders\": index scans: 1",
                "ERROR:  duplicate key value violates unique constraint \"orders_pkey\"")
        msg = rng.choices(msgs, weights=(4, 4, 2, 1), k=1)[0]
        stamp = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(t)) + f".{int(t % 1 * 1000):03d} UTC"
        return LogLine(f"{stamp} [{rng.randint(60, 900)}] {msg}", t, "stderr" if "ERROR" in msg else "stdout")
    if image.startswith(("redis", "rabbitmq")):
        msgs = (f"{rng.randint(10, 900)} changes in 300 seconds. Saving...", "Background saving started",
                "DB saved on disk", "Background saving terminated with success")
        stamp = _time.strftime("%d %b %Y %H:%M:%S", _time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"
        return LogLine(f"1:M {stamp} * {msgs[i % len(msgs)]}", t, "stdout")
    level = rng.choices(("info", "info", "info", "debug", "warn", "error"), k=1)[0]
    events = {
        "info": f"request completed route={rng.choice(_PATHS)} status=200 duration_ms={rng.randint(2, 400)}",
        "debug": f"cache hit ratio={rng.random():.2f} keys={rng.randint(100, 90000)}",
        "warn": f"slow query took {rng.randint(500, 4000)}ms",
        # A gateway status, drawn last: every other line and field stays as it was.
        "error": f"upstream timeout calling payments after {rng.randint(3, 30)}s status={rng.choice((502, 503, 504))}",
    }
    text = f'{{"time":"{_stamp(t)}","level":"{level}","app":"{app}","msg":"{events[level]}"}}'
    return LogLine(text, t, "stderr" if level in ("warn", "error") else "stdout")


def log_lines(seed: int, c: Container, now: float, *, tail: int | None, since: float | None) -> Iterator[LogLine]:
    """The retained lines up to ``now``, optionally only the last ``tail`` or those after ``since``."""
    start, end = _span(c, now)
    gap = _gap(c)
    lines = list(lines_between(seed, c, max(start, end - RETAINED_LINES * gap) - 1, end))[-RETAINED_LINES:]
    if since is not None:
        lines = [line for line in lines if line.time is not None and line.time > since]
    if tail is not None:
        lines = lines[len(lines) - max(0, tail):] if tail > 0 else []
    return iter(lines)


def lines_between(seed: int, c: Container, after: float, until: float) -> Iterator[LogLine]:
    """Lines written in (after, until]: what ``logs --follow`` shows as time passes."""
    start, end = _span(c, until)
    gap = _gap(c)
    first = max(0, int((after - start) // gap))
    for i in range(first, max(first, int((end - start) // gap) + 1)):
        line = _line(seed, c, i, start, gap)
        if line.time is not None and after < line.time <= end:
            yield line
