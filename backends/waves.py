"""The wave planner and rolling runner for machine upgrades, shared by every backend.

``plan_waves`` is pure: the console shows its result as the preview, and the backends run
the very same plan with ``run_waves``. A wave is a batch of hosts upgraded together; the
next wave starts only when the whole wave succeeded, unless ``continue_on_failure``.

Given the inventory, the planner knows the failure domains: it never puts every host that
carries one application's running replicas into one wave (it makes a wave smaller rather
than take an application down), and it spreads a wave across Nutanix nodes rather than
filling one. Each planned host says why it is where it is; an application that no plan can
keep up (all its running replicas on one host) is named in ``UpgradePlan.warnings``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, Sequence

from .errors import InvalidInput
from .models import Host

if TYPE_CHECKING:
    from .contract import Inventory


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
    why: str = ""  # why it is in its wave, for the preview
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class Wave:
    number: int  # 1-based
    hosts: tuple[PlannedHost, ...]


@dataclass(frozen=True, slots=True)
class UpgradePlan:
    target_version: str
    waves: tuple[Wave, ...]
    skipped: tuple[PlannedHost, ...]
    # Applications no plan can keep up: every running replica on one host.
    warnings: tuple[str, ...] = ()

    @property
    def host_count(self) -> int:
        return sum(len(w.hosts) for w in self.waves)


def plan_waves(
    hosts: Iterable[Host], target_version: str, batch_size: int, *, inventory: "Inventory | None" = None
) -> UpgradePlan:
    """Split ``hosts`` into waves of at most ``batch_size``, in name order where nothing
    else matters.

    With ``inventory``, a wave never holds every host that runs one application's replicas
    (``backends.blast.carriers``): such a host waits for a later wave, and a wave may stay
    smaller than ``batch_size`` for it. Among the hosts that may join a wave, one on a Nutanix
    node the wave does not use yet goes first.

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
        todo.append(PlannedHost(host.id, host.name, current, node_id=host.node_id))
    if inventory is None:
        waves = tuple(
            Wave(i // batch_size + 1, tuple(todo[i : i + batch_size])) for i in range(0, len(todo), batch_size)
        )
        return UpgradePlan(target_version, waves, tuple(skipped))
    return _plan_by_domains(todo, skipped, target_version, batch_size, inventory)


def _plan_by_domains(
    todo: list[PlannedHost], skipped: list[PlannedHost], target_version: str, batch_size: int, inventory: "Inventory"
) -> UpgradePlan:
    from .blast import carriers

    planned_ids = {h.host_id for h in todo}
    names = {h.id: h.name for h in inventory.hosts.values()}
    node_names = {n.id: n.name for n in inventory.nodes.values()}
    # Only an application whose every carrier is upgraded here can go down: one with a
    # replica on a host left alone keeps that replica up throughout.
    # Any other application still loses replicas in a shared wave: kept apart where possible.
    every = carriers(inventory)
    at_risk = {app: hosts for app, hosts in every.items() if hosts <= planned_ids}
    apps_of: dict[str, list[str]] = {}
    for app, hosts in every.items():
        for h in hosts:
            if h in planned_ids:
                apps_of.setdefault(h, []).append(app)
    warnings = tuple(
        f"{app}: every running replica is on {names.get(next(iter(hosts)), next(iter(hosts)))}, "
        "so it is down while that host is upgraded, whatever the batch size"
        for app, hosts in sorted(at_risk.items()) if len(hosts) == 1
    )

    def weigh(host: PlannedHost, wave_ids: set[str]) -> tuple[float, str | None, bool]:
        """(the largest share of one application's carriers the wave would hold with this
        host, counting only applications it shares with the wave; that application; and
        whether it would hold them all, an outage)."""
        worst, worst_app = 0.0, None
        for app in sorted(apps_of.get(host.host_id, ())):
            hosts = every[app]
            together = len(hosts & wave_ids)
            if not together:
                continue
            share = (together + 1) / len(hosts)
            if share >= 1.0 and app in at_risk:
                return 1.0, app, True
            if share > worst:
                worst, worst_app = share, app
        return worst, worst_app, False

    def with_whom(app: str, wave_ids: set[str]) -> str:
        return ", ".join(sorted(names.get(i, i) for i in every[app] & wave_ids))

    remaining = list(todo)
    held_back: dict[str, str] = {}  # host id -> why it did not join an earlier wave
    waves: list[Wave] = []
    while remaining:
        wave: list[PlannedHost] = []
        wave_ids: set[str] = set()
        nodes_used: dict[str | None, int] = {}
        while len(wave) < batch_size:
            number = len(waves) + 1
            best: tuple[float, int, int] | None = None
            chosen: tuple[PlannedHost, str | None] | None = None
            passed: list[tuple[PlannedHost, float, str | None]] = []
            for index, host in enumerate(remaining):
                if host.host_id in wave_ids:
                    continue
                share, app, outage = weigh(host, wave_ids)
                if outage:
                    held_back[host.host_id] = (
                        f"not in wave {number} with {with_whom(app or '', wave_ids)}: together they carry "
                        f"every running replica of {app}"
                    )
                    continue
                load = nodes_used.get(host.node_id, 0) if host.node_id else 0
                key = (share, load, index)
                if best is None or key < best:
                    if chosen is not None:
                        passed.append((chosen[0], best[0] if best else 0.0, chosen[1]))
                    best, chosen = key, (host, app)
                    if share == 0.0 and load == 0:
                        break
                else:
                    passed.append((host, share, app))
            if chosen is None or best is None:
                break
            host, app = chosen
            for other, share, other_app in passed:
                # Earlier by name but left for later: say which application kept it out.
                if other_app and share > best[0] and other.name < host.name:
                    held_back[other.host_id] = (
                        f"not in wave {number} with {with_whom(other_app, wave_ids)}: both carry {other_app}"
                    )
            if host.host_id in held_back:
                why = f"wave {number}: {held_back.pop(host.host_id)}"
            elif not wave:
                why = f"wave {number}: first by name"
            elif app:
                why = (f"wave {number}: shares {app} with {with_whom(app, wave_ids)} "
                       f"({round(best[0] * len(every[app]))} of {len(every[app])} hosts at once): no host left shares less")
            else:
                why = f"wave {number}: shares no application with {', '.join(h.name for h in wave)}"
            if wave and host.node_id:
                node = node_names.get(host.node_id, host.node_id)
                if best[1] == 0:
                    why += f"; node {node} is new to this wave"
                elif any(h.node_id not in nodes_used for h in remaining):
                    why += f"; node {node} is in this wave already: the hosts on other nodes share more"
                else:
                    why += f"; node {node}: every node left is in this wave already"
            wave.append(dataclasses.replace(host, why=why))
            wave_ids.add(host.host_id)
            nodes_used[host.node_id] = nodes_used.get(host.node_id, 0) + 1
            remaining.remove(host)
        waves.append(Wave(len(waves) + 1, tuple(wave)))
    return UpgradePlan(target_version, tuple(waves), tuple(skipped), warnings)


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
    after_wave: Callable[[Wave], Awaitable[None]] | None = None,
) -> WaveOutcome:
    """Run ``plan``: the hosts of a wave concurrently, waves one after another.

    ``upgrade_one`` raises to fail a host (its message is the reason). ``after_wave`` is the
    health gate: run once every host of the wave succeeded, it raises (``WaveUnhealthy``) to
    fail the whole wave. After a wave with a failure the run stops, unless
    ``continue_on_failure``.
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
        if after_wave is not None and len(failed) == failed_before:
            try:
                await after_wave(wave)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the gate's verdict on the wave: every host of it fails
                reason = str(err) or type(err).__name__
                for h in wave.hosts:
                    succeeded.remove(h.host_id)
                    failed.append((h.host_id, reason))
        if len(failed) > failed_before and not continue_on_failure:
            break
    return WaveOutcome(tuple(succeeded), tuple(failed), tuple(remaining), control.aborted)


class WaveUnhealthy(Exception):
    """A wave's containers did not come back running (and healthy) in time."""


HEALTH_TIMEOUT = 300.0  # seconds a wave's containers get to come back before the upgrade stops
HEALTH_POLL = 2.0
# The restart policies under which an engine starts a container again when it starts itself.
RESTARTED = frozenset({"always", "unless-stopped"})


def expected_back(inventory: "Inventory", host_ids: Iterable[str]) -> dict[str, str]:
    """The containers of these hosts that must come back after their engine is upgraded:
    running now, with a restart policy under which the engine starts them again (any other
    stays stopped after an engine restart in Docker too: the gate does not wait for it)."""
    ids = set(host_ids)
    return {
        c.id: c.name
        for c in inventory.containers.values()
        if c.host_id in ids and c.state.value == "running" and c.restart_policy in RESTARTED
    }


def unhealthy(inventory: "Inventory", expected: dict[str, str]) -> list[str]:
    """What is not back yet: "db-1 exited", "web-2 unhealthy", "api-1 gone"."""
    names = {h.id: h.name for h in inventory.hosts.values()}
    found: list[str] = []
    for cid, name in sorted(expected.items(), key=lambda kv: kv[1]):
        c = inventory.containers.get(cid)
        if c is None:
            found.append(f"{name} gone")
        elif c.state.value != "running":
            found.append(f"{name} {c.state.value} on {names.get(c.host_id, c.host_id)}")
        elif "(unhealthy)" in c.status or "health: starting" in c.status:
            # Docker's own status words: a healthcheck that failed, or has not passed yet.
            found.append(f"{name} {'unhealthy' if '(unhealthy)' in c.status else 'not healthy yet'} on "
                         f"{names.get(c.host_id, c.host_id)}")
    return found


async def wait_back(
    wave: Wave,
    expected: dict[str, str],
    inventory: Callable[[], "Inventory"],
    sleep: Callable[[float], Awaitable[None]],
    *,
    timeout: float = HEALTH_TIMEOUT,
    poll: float = HEALTH_POLL,
) -> None:
    """The health gate: wait until every container in ``expected`` runs again (and, with a
    healthcheck, is healthy), polling with ``sleep`` (the simulator's virtual clock or real
    time) up to ``timeout``; else raise WaveUnhealthy naming the hosts and containers."""
    waited = 0.0
    while True:
        missing = unhealthy(inventory(), expected)
        if not missing:
            return
        if waited >= timeout:
            hosts = ", ".join(h.name for h in wave.hosts)
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise WaveUnhealthy(f"wave {wave.number} ({hosts}) did not come back healthy within {timeout:g} s: {shown}")
        await sleep(poll)
        waited += poll


def batch_count(host_count: int, batch_size: int) -> int:
    return -(-host_count // max(1, batch_size))


__all__: Sequence[str] = (
    "PlannedHost",
    "UpgradePlan",
    "Wave",
    "WaveControl",
    "WaveOutcome",
    "WaveUnhealthy",
    "expected_back",
    "unhealthy",
    "wait_back",
    "batch_count",
    "parse_version",
    "plan_waves",
    "run_waves",
)


# -- a swarm service's rolling update -----------------------------------------------------------
# The same idea for a service's tasks: the swarm replaces ``parallelism`` tasks at a time (0:
# all at once) and waits ``delay_s`` after each wave. The swarm itself picks which tasks go
# first (swarmkit walks its slots in no fixed order), so a plan names the tasks in slot / node
# order and its honest promise is the waves' number, sizes and delays.


@dataclass(frozen=True, slots=True)
class PlannedTask:
    name: str  # e.g. "web.1", or "agent" on a node for a global service
    node: str  # the node's name as the console shows it ("" when not placed yet)


@dataclass(frozen=True, slots=True)
class TaskWave:
    number: int  # 1-based
    tasks: tuple[PlannedTask, ...]
    delay_after_s: float  # the pause before the next wave; 0 for the last


def plan_task_waves(tasks: Sequence[PlannedTask], parallelism: int, delay_s: float) -> tuple[TaskWave, ...]:
    """Split ``tasks`` (in the order given) into the waves an update policy makes."""
    if parallelism < 0:
        raise InvalidInput("update parallelism must be 0 (all at once) or more")
    size = parallelism or max(1, len(tasks))
    chunks = [tuple(tasks[i : i + size]) for i in range(0, len(tasks), size)]
    return tuple(
        TaskWave(n + 1, chunk, delay_s if n + 1 < len(chunks) else 0.0) for n, chunk in enumerate(chunks)
    )
