"""The wave planner and rolling runner for machine upgrades, shared by every backend.

``plan_waves`` is pure: the console shows its result as the preview, and the backends run
the very same plan with ``run_waves``. A wave is a batch of hosts upgraded together; the
next wave starts only when the whole wave succeeded, unless ``continue_on_failure``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Sequence

from .errors import InvalidInput
from .models import Host


def parse_version(text: str) -> tuple[int, ...]:
    """'24.0.7' -> (24, 0, 7); a suffix such as '-ce' or '+dfsg1' is ignored."""
    parts = re.findall(r"\d+", text.split("-")[0].split("+")[0])
    if not parts:
        raise InvalidInput(f"{text!r} is not a version")
    return tuple(int(p) for p in parts)


@dataclass(frozen=True, slots=True)
class PlannedHost:
    host_id: str
    name: str
    from_version: str | None
    skip_reason: str | None = None  # already at the target, or unreachable


@dataclass(frozen=True, slots=True)
class Wave:
    number: int  # 1-based
    hosts: tuple[PlannedHost, ...]


@dataclass(frozen=True, slots=True)
class UpgradePlan:
    target_version: str
    waves: tuple[Wave, ...]
    skipped: tuple[PlannedHost, ...]

    @property
    def host_count(self) -> int:
        return sum(len(w.hosts) for w in self.waves)


def plan_waves(hosts: Iterable[Host], target_version: str, batch_size: int) -> UpgradePlan:
    """Split ``hosts`` into waves of ``batch_size``, in name order.

    Raises InvalidInput for a bad batch size, a bad version, or a downgrade of any host:
    no backend may upgrade to an older version. Hosts already at the target are skipped.
    """
    if batch_size < 1:
        raise InvalidInput("batch size must be at least 1")
    target = parse_version(target_version)
    todo: list[PlannedHost] = []
    skipped: list[PlannedHost] = []
    for host in sorted(hosts, key=lambda h: (h.name, h.id)):
        current = host.engine_version
        if current is not None and parse_version(current) > target:
            raise InvalidInput(f"{host.name} runs Docker {current}: cannot upgrade to older {target_version}")
        if current is not None and parse_version(current) == target:
            skipped.append(PlannedHost(host.id, host.name, current, f"already at {target_version}"))
            continue
        todo.append(PlannedHost(host.id, host.name, current))
    waves = tuple(
        Wave(i // batch_size + 1, tuple(todo[i : i + batch_size])) for i in range(0, len(todo), batch_size)
    )
    return UpgradePlan(target_version, waves, tuple(skipped))


class WaveControl:
    """Pause, resume and abort for a running rolling upgrade; checked between steps."""

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self.aborted = False

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def abort(self) -> None:
        self.aborted = True
        self._running.set()

    async def checkpoint(self) -> None:
        await self._running.wait()


@dataclass(frozen=True, slots=True)
class WaveOutcome:
    succeeded: tuple[str, ...]  # host ids
    failed: tuple[tuple[str, str], ...]  # (host id, reason)
    not_started: tuple[str, ...]
    aborted: bool

    @property
    def ok(self) -> bool:
        return not self.failed and not self.aborted and not self.not_started


async def run_waves(
    plan: UpgradePlan,
    upgrade_one: Callable[[PlannedHost], Awaitable[None]],
    *,
    control: WaveControl | None = None,
    continue_on_failure: bool = False,
    on_wave: Callable[[Wave], None] | None = None,
) -> WaveOutcome:
    """Run ``plan``: the hosts of a wave concurrently, waves one after another.

    ``upgrade_one`` raises to fail a host (its message is the reason). After a wave with a
    failure the run stops, unless ``continue_on_failure``.
    """
    control = control or WaveControl()
    succeeded: list[str] = []
    failed: list[tuple[str, str]] = []
    remaining = [h.host_id for w in plan.waves for h in w.hosts]

    async def one(host: PlannedHost) -> None:
        try:
            await upgrade_one(host)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # any failure of one host is that host's outcome
            failed.append((host.host_id, str(err) or type(err).__name__))
        else:
            succeeded.append(host.host_id)

    for wave in plan.waves:
        await control.checkpoint()
        if control.aborted:
            break
        if on_wave:
            on_wave(wave)
        for h in wave.hosts:
            remaining.remove(h.host_id)
        failed_before = len(failed)
        await asyncio.gather(*(one(h) for h in wave.hosts))
        if len(failed) > failed_before and not continue_on_failure:
            break
    return WaveOutcome(tuple(succeeded), tuple(failed), tuple(remaining), control.aborted)


def batch_count(host_count: int, batch_size: int) -> int:
    return -(-host_count // max(1, batch_size))


__all__: Sequence[str] = (
    "PlannedHost",
    "UpgradePlan",
    "Wave",
    "WaveControl",
    "WaveOutcome",
    "batch_count",
    "parse_version",
    "plan_waves",
    "run_waves",
)
