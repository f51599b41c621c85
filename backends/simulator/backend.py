"""SimulatorBackend: the contract's every action against a simulated Nutanix cluster."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Iterator, Literal

from ..contract import (
    ALL_CAPABILITIES,
    SWARM_CAPABILITIES,
    MUTATING_ACTIONS,
    Backend,
    ContainerSpec,
    HostSpec,
    Inventory,
    Loading,
    LogLine,
    ShellCommand,
    Update,
    PullSpec,
    UpgradeSpec,
    VolumeSpec,
)
from ..errors import BackendError, Conflict, InvalidInput, NotFound
from ..models import ContainerState, HostState, StatsSample, Task, TaskStatus
from ..settings import Settings
from ..waves import plan_waves
from . import activity, images, persist, processes, rules, stats_history
from .clock import Clock
from .faults import Faults, parse_faults
from .inspect import inspect_document
from .logs import log_lines, lines_between
from .statefile import StateFile
from .store import Store
from .swarm import Swarm, SwarmActions, check_state as check_swarm_state
from .tasks import TaskRunner
from .world import World, engine_versions

DRIVER_INTERVAL = 0.1  # wall seconds between the driver's clock advances when speed > 0
# A world of more containers than this is made and handed over in pages (paged_snapshot): the
# first with every machine and more containers than a screen shows, then pages small enough
# (~10-30 ms of building here) that a key pressed meanwhile waits no longer than a frame or two.
PAGED_FROM = 2_000
FIRST_PAGE = 500
PAGE = 500
PAGE_NAP = 0.002  # seconds: between pages, a nap that tells whether the event loop is busy
PAGE_WAITS = 25  # naps at most before the next page, busy or not (the load always ends)


class SimulatorBackend(SwarmActions, Backend):
    """A simulated cluster. At ``speed`` 0 time moves only by ``advance()`` and ``wait_task()``
    (which jumps from event to event); above 0 a driver follows the wall clock. Faults can be
    injected on demand with ``crash_host``, ``fail_node`` and ``set_partition``."""

    kind = "simulator"
    capabilities = ALL_CAPABILITIES

    def __init__(
        self,
        seed: int = 7,
        scale: int | None = None,
        speed: float = 0.0,
        faults: str | None = None,
        activity: bool = True,
        state_path: str | None = None,
        read_only: bool = False,
        swarm: bool = False,
    ) -> None:
        super().__init__(read_only=read_only, label="simulator")
        if speed < 0:
            raise InvalidInput("speed must be 0 or more")
        if scale is not None and scale < 1:
            raise InvalidInput("scale must be at least 1")
        if state_path is not None and not state_path.strip():
            raise InvalidInput("--demo-state: empty path; name the file to keep the state in")
        self.seed = seed
        self.scale = scale
        self.speed = speed
        self.activity = activity
        self.state_path = state_path
        # Set by a short-lived owner (the CLI) before connect: hold the state file's lock from
        # the load to the save, so parallel calls on one file queue instead of losing changes.
        # Otherwise (the console) a save refuses to overwrite a file someone else saved.
        self.exclusive_state = False
        self._state_file: StateFile | None = None
        self._saved_mark: tuple[int, float] | None = None  # the state as last loaded or saved
        self._failed_mark: tuple[int, float] | None = None  # the state a save failed on
        self.fault_plan = parse_faults(faults)
        self.clock = Clock()
        self.store = Store(self.clock)
        self.world = World(self.store, seed)
        self.runner = TaskRunner(self.world)
        self.runner.processes = dict(processes.PROCESSES)
        self.runner.processes.update(images.PROCESSES)  # pull, remove and prune images
        self.faults = Faults(self.world, self.fault_plan, seed=seed, start_upgrade=self._start_upgrade)
        # --sim-swarm: the machines are a swarm's nodes, with services, secrets and configs (swarm.py).
        self.swarm = Swarm(self.world, self.runner) if swarm else None
        if self.swarm is not None:
            self.capabilities = type(self).capabilities | SWARM_CAPABILITIES
            self.runner.processes.update(self.swarm.processes())
        self._lock = asyncio.Lock()
        self._driver: asyncio.Task[None] | None = None
        self._time_moved = asyncio.Event()
        self._connected = False
        self._closed = False
        # A large world's build, paused after its first page, and the task handing the rest over.
        self._pages: Iterator[int] | None = None
        self._paging: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "SimulatorBackend":
        s = settings.simulator
        return cls(
            seed=s.seed, scale=s.scale, speed=s.speed, faults=s.faults, activity=s.activity,
            state_path=s.state_path, read_only=settings.read_only, swarm=s.swarm,
        )

    @property
    def simulated(self) -> bool:
        return True

    # -- lifecycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        catch_up = 0.0
        document = None
        if self.state_path:
            # Read-only never writes, so it never needs the lock (a read sees one whole save).
            self._state_file = StateFile(self.state_path, exclusive=self.exclusive_state and not self.read_only)
            try:
                raw = await self._state_file.read()
                if raw is not None:
                    document = persist.parse(raw, self.state_path, self.runner.processes)
                    check_swarm_state(document, self.swarm is not None, self.state_path)
            except BaseException:
                self._state_file.release()
                raise
        if document is not None:
            persist.restore(document, self.runner)
            if self.swarm is not None:
                self.swarm.adopt()
            self.seed = document["seed"]
            self._saved_mark = self._mark()
            # Recoveries that were under way (HA restarts, node repairs, container restarts)
            # go on. A partition is not state: a new run starts connected.
            self.faults.resume_recoveries()
            activity.resume_restarts(self.world)
            catch_up = persist.catch_up_seconds(document, self.speed)
        elif self.swarm is None and self.world.container_count(self.scale) > PAGED_FROM:
            # A large world is made in the order it is seen: the first screenful now, the rest
            # page by page once someone takes a snapshot (_hand_over_pages); the steps below
            # wait for its end (_after_build).
            self._pages = self.world.build_in_pages(self.scale, FIRST_PAGE, PAGE)
            next(self._pages)
            self._connected = True
            return
        else:
            self.world.build(self.scale)
            if self.swarm is not None:
                self.swarm.build()
        await self._after_build(built=document is None, catch_up=catch_up)

    async def _after_build(self, *, built: bool, catch_up: float = 0.0) -> None:
        """What starts once the whole world is there: its hosts' images, the clock's work."""
        self.images = images.HostImages(self.world, build=built)
        self._connected = True
        await self.clock.settle()  # resumed tasks reach their first wait on the clock
        if catch_up > 0:
            # Between CLI calls the cluster kept working: unfinished tasks move on.
            await self.advance(catch_up)
        if self.activity:
            self.clock.call_later(activity.TICK_SECONDS, self._activity_tick)
        self.faults.schedule()
        if self.swarm is not None:
            self.swarm.schedule()
        await self.clock.settle()
        self.store.flush()
        if self.speed > 0:
            self._driver = asyncio.create_task(self._drive(), name="simulator-clock")

    async def _world_ready(self) -> None:
        """Returns once a paged world is whole (every page handed over) and running."""
        if self._pages is None and self._paging is None:
            return
        if self._paging is None:  # no one follows the pages as they come (the CLI): no pause
            self._paging = asyncio.create_task(self._hand_over_pages(at_rest=False), name="simulator-pages")
        await asyncio.shield(self._paging)

    async def _hand_over_pages(self, *, at_rest: bool = True) -> None:
        """Make the rest of a paged world, each page published as a batch of the change stream
        flagged as part of the load (the last one says it is done), letting the event loop
        run between pages (``at_rest``: until it has little else to do): a console paints
        and takes keys meanwhile."""
        assert self._pages is not None
        loading = Loading("containers", self.world.container_count(self.scale))
        sizes = self.store.sizes()
        for _made in self._pages:
            self.store.publish_page(sizes, loading)
            if at_rest:
                await _loop_at_rest()
            sizes = self.store.sizes()
        self._pages = None
        await self._after_build(built=True)  # the hosts' images join the last page
        self.store.publish_page(sizes, replace(loading, done=True))

    async def close(self) -> None:
        """Stop, saving the state first if it changed (``save_state``); a save that fails is
        raised, after everything is stopped and the lock released."""
        if self._closed:
            return
        self._closed = True
        if self._pages is not None and self.state_path and not self.read_only:
            await self._world_ready()  # a half-made world is never saved
        if self._paging is not None:
            self._paging.cancel()
            await asyncio.gather(self._paging, return_exceptions=True)
        self._pages = self._paging = None  # nothing to save (no state file): left unmade
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except asyncio.CancelledError:
                pass
        try:
            if self._connected and self._mark() != self._failed_mark:  # else: already reported
                await self.save_state()
        finally:
            if self._state_file is not None:
                self._state_file.release()
            self.runner.cancel_all()
            self.store.broadcast.close()
            self._time_moved.set()

    async def save_state(self, *, finish_tasks: bool = False) -> None:
        """Keep the state in the ``--demo-state`` file now, if it changed since it was loaded
        or saved; never in read-only mode. With ``finish_tasks`` at speed 0, the tasks under
        way are run to their end first (see ``finish_running_tasks``).

        The CLI calls this before it reports a result, so a save that fails (``FileWriteFailed``,
        ``StateChanged``, ``FileBusy``: one line each) is said instead of a success; the state
        stays in memory as it was."""
        if not self.state_path or not self._connected or self.read_only or self._state_file is None:
            return
        if finish_tasks and self.speed <= 0:
            await self.finish_running_tasks()
        mark = self._mark()
        if mark == self._saved_mark:
            return
        document = persist.encode(self.runner, seed=self.seed, scale=self.scale)
        if self.swarm is not None:
            document["swarm"] = True  # a later load without --sim-swarm is refused, not half-used
        try:
            await self._state_file.write(lambda f: persist.write(document, f))
        except BackendError:
            self._failed_mark = mark
            raise
        self._saved_mark = mark

    def _mark(self) -> tuple[int, float]:
        # Every change to the world goes through the store, or is time passing.
        return (self.store.changes, self.clock.now)

    async def finish_running_tasks(self, limit_seconds: float = 6 * 3600) -> None:
        """Run the clock until every task that is not paused has ended (bounded in simulated
        time). At speed 0 time passes only while someone waits, so a one-shot CLI call that
        started a task without --wait calls this before saving, lest the task stay stuck."""
        deadline = self.clock.now + limit_seconds

        def running() -> bool:
            return any(not t.done and t.status is not TaskStatus.PAUSED for t in self.store.tasks.values())

        while running() and self.clock.now < deadline and await self._step():
            pass

    async def _drive(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(DRIVER_INTERVAL)
            now = time.monotonic()
            await self.advance((now - last) * self.speed)
            last = now

    def _activity_tick(self) -> None:
        activity.tick(self.world)
        self.clock.call_later(activity.TICK_SECONDS, self._activity_tick)

    # -- time ---------------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Run every event due in the next ``seconds`` of simulated time, in order."""
        async with self._lock:
            await self.clock.run_until(self.clock.now + max(0.0, seconds), self.store.flush)
            self.store.flush()
        self._notify_time()

    async def _step(self) -> bool:
        """Jump to the next event and run it; False when nothing is scheduled."""
        async with self._lock:
            when = self.clock.next_time()
            if when is None:
                return False
            await self.clock.run_until(when, self.store.flush)
            self.store.flush()
        self._notify_time()
        return True

    def _notify_time(self) -> None:
        self._time_moved.set()
        self._time_moved = asyncio.Event()

    # -- inventory ----------------------------------------------------------------------------

    async def snapshot(self) -> Inventory:
        await self.faults.gate("snapshot")
        await self._world_ready()
        return self.store.snapshot()

    async def paged_snapshot(self) -> Inventory:
        """A paged world's first page at once (the rest follows as pages: _hand_over_pages)."""
        await self.faults.gate("snapshot")
        inventory = self.store.snapshot()
        if self._pages is not None or self._paging is not None and not self._paging.done():
            inventory.loading = Loading("containers", self.world.container_count(self.scale))
            if self._paging is None:
                self._paging = asyncio.create_task(self._hand_over_pages(), name="simulator-pages")
        return inventory

    def updates(self) -> AsyncIterator[Update]:
        return self.store.broadcast.subscribe()

    async def get_task(self, task_id: str) -> Task:
        await self.faults.gate("get task")
        return self._task(task_id)

    def _task(self, task_id: str) -> Task:
        try:
            return self.store.tasks[task_id]
        except KeyError:
            raise NotFound(f"task {task_id} not found") from None

    async def wait_task(
        self, task_id: str, on_progress: Callable[[Task], None] | None = None, *, poll_interval: float = 0.5
    ) -> Task:
        task = self._task(task_id)
        shown = None
        while not task.done and not self._closed:
            if on_progress and task != shown:
                on_progress(task)
                shown = task
            if self.speed > 0 or task.status is TaskStatus.PAUSED:
                # Time moves with the wall clock (or the task waits for a resume): follow it.
                moved = self._time_moved
                try:
                    await asyncio.wait_for(moved.wait(), timeout=poll_interval)
                except asyncio.TimeoutError:
                    pass
            elif not await self._step():
                break
            task = self._task(task_id)
        if on_progress:
            on_progress(task)
        return task

    # -- actions ------------------------------------------------------------------------------

    async def _start(self, kind: str, target: str, target_id: str | None, args: dict[str, Any]) -> Task:
        task = self.runner.new_task(kind, target, target_id)
        self.runner.start(task, kind, args)
        await self.clock.settle()
        self.store.flush()
        return self.store.tasks[task.id]

    def _durations(self, steps: tuple[tuple[float, float], ...]) -> list[float]:
        return processes.durations(self.world, *steps)

    async def create_host(self, spec: HostSpec) -> Task:
        await self.faults.gate("create host")
        image, network, project = rules.check_create_host(self.world, spec)
        host_id = self.world.ids.uuid()
        args = dict(
            host_id=host_id, name=spec.name, image_id=image.id, network_id=network.id,
            project_id=project.id if project else None, cores=spec.cores, memory_mib=spec.memory_mib,
            durations=self._durations(processes.CREATE_HOST_STEPS),
        )
        return await self._start("create_host", spec.name, host_id, args)

    def _idle_host(self, ref: str) -> Any:
        host = rules.host(self.world, ref)
        if host.state in (HostState.PROVISIONING, HostState.DELETING, HostState.UPGRADING, HostState.RESTARTING):
            raise Conflict(f"host {host.name!r} is {host.state.value}: wait for its task to end")
        return host

    async def delete_host(self, host_id: str) -> Task:
        await self.faults.gate("delete host")
        host = self._idle_host(host_id)
        return await self._start("delete_host", host.name, host.id,
                                 dict(host_id=host.id, durations=self._durations(((2, 6), (3, 8), (2, 5)))))

    async def power_on_host(self, host_id: str) -> Task:
        await self.faults.gate("power on host")
        host = self._idle_host(host_id)
        if host.state is HostState.RUNNING:
            raise Conflict(f"host {host.name!r} is already running")
        return await self._start("power_on_host", host.name, host.id,
                                 dict(host_id=host.id, durations=self._durations(((3, 8), (4, 10), (3, 8)))))

    async def power_off_host(self, host_id: str) -> Task:
        await self.faults.gate("power off host")
        host = self._idle_host(host_id)
        if host.state is not HostState.RUNNING:
            raise Conflict(f"host {host.name!r} is {host.state.value}, not running")
        return await self._start("power_off_host", host.name, host.id,
                                 dict(host_id=host.id, durations=self._durations(((2, 8), (4, 12)))))

    async def reboot_host(self, host_id: str) -> Task:
        await self.faults.gate("reboot host")
        host = self._idle_host(host_id)
        if host.state is not HostState.RUNNING:
            raise Conflict(f"host {host.name!r} is {host.state.value}, not running: power it on instead")
        return await self._start("reboot_host", host.name, host.id,
                                 dict(host_id=host.id, durations=self._durations(((2, 8), (3, 8), (4, 10)))))

    async def create_volume(self, spec: VolumeSpec) -> Task:
        await self.faults.gate("create volume")
        host = rules.check_create_volume(self.world, spec)
        if host is not None:
            rules.require_running(host, "attach a volume to")
        volume_id = self.world.ids.uuid()
        args = dict(
            volume_id=volume_id, name=spec.name, size_gib=float(spec.size_gib), driver=spec.driver or "nutanix",
            storage_container=spec.storage_container or "default-container", host_id=host.id if host else None,
            durations=self._durations(((2, 5), (2, 6), (2, 5))),
        )
        return await self._start("create_volume", spec.name, volume_id, args)

    async def attach_volume(
        self, volume_id: str, host_id: str, *, container_id: str | None = None, mount_path: str | None = None
    ) -> Task:
        await self.faults.gate("attach volume")
        vol = rules.volume(self.world, volume_id)
        host = rules.host(self.world, host_id)
        ctr = rules.check_attach(self.world, vol, host, container_id, mount_path)
        args = dict(volume_id=vol.id, host_id=host.id, container_id=ctr.id if ctr else None, mount_path=mount_path,
                    durations=self._durations(((2, 6), (1, 3))))
        return await self._start("attach_volume", vol.name, vol.id, args)

    async def detach_volume(self, volume_id: str) -> Task:
        await self.faults.gate("detach volume")
        vol = rules.volume(self.world, volume_id)
        if vol.host_id is None:
            raise Conflict(f"volume {vol.name!r} is not attached")
        for cid in vol.container_ids:
            c = self.store.containers.get(cid)
            if c is not None and c.state is ContainerState.RUNNING:
                raise Conflict(f"volume {vol.name!r} is mounted by running container {c.name!r}: stop it first")
        return await self._start("detach_volume", vol.name, vol.id,
                                 dict(volume_id=vol.id, durations=self._durations(((1, 3), (2, 5)))))

    async def delete_volume(self, volume_id: str) -> Task:
        await self.faults.gate("delete volume")
        vol = rules.volume(self.world, volume_id)
        rules.check_delete_volume(vol)
        return await self._start("delete_volume", vol.name, vol.id,
                                 dict(volume_id=vol.id, durations=self._durations(((2, 6),))))

    async def run_container(self, spec: ContainerSpec) -> Task:
        await self.faults.gate("run container")
        host, vols = rules.check_run_container(self.world, spec)
        self.images.check_run(host.id, spec.image, spec.registry_auth)  # an image it lacks is pulled
        container_id = self.world.ids.container()
        name = spec.name or self._container_name()
        args = dict(
            container_id=container_id, name=name, image=spec.image, host_id=host.id,
            command=" ".join(spec.command), ports=[[c, h] for c, h in spec.ports],
            mounts=[[v.id, m.path, m.read_only] for v, m in zip(vols, spec.mounts)], restart_policy=spec.restart_policy,
            labels=[[k, v] for k, v in spec.labels], durations=self._durations(((2, 15), (1, 2), (1, 3))),
            env=[f"{k}={v}" for k, v in spec.env],
        )
        return await self._start("run_container", name, container_id, args)

    def _container_name(self) -> str:
        # Docker's way: adjective_scientist.
        rng = self.world.rng
        return f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SCIENTISTS)}"

    async def _container_action(self, kind: str, ref: str, states: tuple[ContainerState, ...], doing: str,
                                steps: tuple[tuple[float, float], ...]) -> Task:
        await self.faults.gate(kind.replace("_", " "))
        c = rules.container(self.world, ref)
        if c.state not in states:
            raise Conflict(f"cannot {doing} container {c.name!r}: it is {c.state.value}")
        host = self.store.hosts.get(c.host_id)
        if host is None or host.state is not HostState.RUNNING:
            raise Conflict(f"cannot {doing} container {c.name!r}: its host is {host.state.value if host else 'gone'}")
        return await self._start(kind, c.name, c.id, dict(container_id=c.id, durations=self._durations(steps)))

    async def start_container(self, container_id: str) -> Task:
        return await self._container_action("start_container", container_id,
                                            (ContainerState.CREATED, ContainerState.EXITED, ContainerState.DEAD),
                                            "start", ((1, 3),))

    async def stop_container(self, container_id: str) -> Task:
        return await self._container_action("stop_container", container_id,
                                            (ContainerState.RUNNING, ContainerState.RESTARTING, ContainerState.PAUSED),
                                            "stop", ((1, 10),))

    async def restart_container(self, container_id: str) -> Task:
        return await self._container_action("restart_container", container_id, tuple(ContainerState), "restart",
                                            ((1, 10), (1, 3)))

    async def remove_container(self, container_id: str, *, force: bool = False) -> Task:
        await self.faults.gate("remove container")
        c = rules.container(self.world, container_id)
        if c.state is ContainerState.RUNNING and not force:
            raise Conflict(f"container {c.name!r} is running: stop it first or force the removal")
        return await self._start("remove_container", c.name, c.id,
                                 dict(container_id=c.id, durations=self._durations(((1, 3), (1, 2)))))

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        await self.faults.gate("upgrade hosts")
        return await self._start_upgrade(spec)

    async def _start_upgrade(self, spec: UpgradeSpec) -> Task:
        """The upgrade itself, without the API gate or read-only check: the demo story's
        scripted upgrade is the cluster's own doing and uses this directly."""
        if not spec.host_ids:
            raise InvalidInput("name at least one host to upgrade")
        hosts = [rules.host(self.world, ref) for ref in spec.host_ids]
        # The same plan the preview showed: failure domains from the same world.
        plan = plan_waves(hosts, spec.target_version, spec.batch_size, inventory=self.world.store)  # refuses older versions
        versions = await self.upgrade_versions()
        if spec.target_version not in versions:
            raise InvalidInput(
                f"no container-host image carries Docker {spec.target_version}: choose one of {', '.join(versions)}"
            )
        # Only running machines can be upgraded; the others are left out (and said so).
        todo = {p.host_id for w in plan.waves for p in w.hosts}
        running = [h for h in hosts if h.id in todo and h.state is HostState.RUNNING]
        left_out = sorted(h.name for h in hosts if h.id in todo and h.state is not HostState.RUNNING)
        if not running:
            if left_out:
                raise Conflict(f"no host to upgrade is running ({', '.join(left_out)} not running)")
            raise Conflict(f"every host named already runs Docker {spec.target_version}")
        target = running[0].name if len(running) == 1 else f"{len(running)} hosts"
        args = dict(host_ids=[h.id for h in running], target_version=spec.target_version,
                    batch_size=spec.batch_size, continue_on_failure=spec.continue_on_failure, left_out=left_out)
        return await self._start("upgrade_hosts", target, running[0].id if len(running) == 1 else None, args)

    async def upgrade_versions(self) -> list[str]:
        return engine_versions(self.world)

    async def pause_task(self, task_id: str) -> Task:
        await self.faults.gate("pause task")
        task = self.runner.pause(task_id)
        self.store.flush()
        return task

    async def resume_task(self, task_id: str) -> Task:
        await self.faults.gate("resume task")
        task = self.runner.resume(task_id)
        await self.clock.settle()
        self.store.flush()
        return task

    async def abort_task(self, task_id: str) -> Task:
        await self.faults.gate("abort task")
        task = self.runner.abort(task_id)
        await self.clock.settle()
        self.store.flush()
        return self.store.tasks[task.id]

    # -- images on the hosts (images.py) -------------------------------------------------------

    async def pull_image(self, spec: PullSpec) -> Task:
        await self.faults.gate("pull image")
        host, args = self.images.pull_args(spec)
        return await self._start("pull_image", f"{args['tag']} on {host.name}", host.id, args)

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        await self.faults.gate("remove image")
        row = self.images.remove_check(image_id, force)
        what = row.repo_tags[0] if row.repo_tags else row.image_id[7:19]
        return await self._start("remove_image", what, row.id,
                                 dict(image_id=row.id, force=force, durations=self._durations(((0.5, 2),))))

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        await self.faults.gate("prune images")
        host = rules.host(self.world, host_id)
        if host.state is not HostState.RUNNING:
            raise Conflict(f"host {host.name!r} is {host.state.value}: its engine cannot prune")
        return await self._start("prune_images", host.name, host.id,
                                 dict(host_id=host.id, unused=unused, durations=self._durations(((1, 4),))))

    def builtin_registries(self) -> list[Any]:
        """The simulator's own registries (registries.py), listed by the console with the
        configured ones: a public one and a private one that asks for a password."""
        from .registries import builtin_registries

        return builtin_registries()

    # -- faults on demand ---------------------------------------------------------------------

    def set_partition(self, partitioned: bool) -> None:
        self.faults.set_partition(partitioned)

    def crash_host(self, host_id: str) -> None:
        self.faults.crash_host(rules.host(self.world, host_id).id)
        self.store.flush()

    def fail_node(self, node_id: str) -> None:
        node = self.store.nodes.get(node_id) or next(
            (n for n in self.store.nodes.values() if n.name == node_id), None)
        if node is None:
            raise NotFound(f"node {node_id!r} not found")
        self.faults.fail_node(node.id)
        self.store.flush()

    # -- reads --------------------------------------------------------------------------------

    async def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        await self.faults.gate("logs")
        c = rules.container(self.world, container_id)
        for line in log_lines(self.seed, c, self.clock.now, tail=tail, since=since):
            yield line
        last = self.clock.now
        while follow and not self._closed:
            await self._time_moved.wait()
            c = self.store.containers.get(c.id)
            if c is None:
                return
            now = self.clock.now
            for line in lines_between(self.seed, c, last, now):
                yield line
            last = now

    async def stats_history(self, kind: Any, item_id: str, since: float, step: float) -> list[StatsSample]:
        """The past made up from the clock (stats_history.py): the same answer for a seed."""
        await self.faults.gate("read stats history")
        item = rules.host(self.world, item_id) if kind == "hosts" else rules.container(self.world, item_id)
        return stats_history.samples(self.seed, item, since, step, self.clock.now)

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        await self.faults.gate("inspect")
        c = rules.container(self.world, container_id)
        return inspect_document(self.world, c)

    async def shell(self, target_kind: Literal["host", "container"], target_id: str) -> ShellCommand:
        await self.faults.gate("shell")
        if target_kind == "host":
            host = rules.host(self.world, target_id)
            where = {"kind": "host", "name": host.name, "host": host.name, "ip": host.ip,
                     "engine": host.engine_version, "os": host.os,
                     "containers": [c.name for c in self.store.containers.values() if c.host_id == host.id][:50]}
        elif target_kind == "container":
            c = rules.container(self.world, target_id)
            if c.state is not ContainerState.RUNNING:
                raise Conflict(f"container {c.name!r} is {c.state.value}: a shell needs it running")
            host = self.store.hosts[c.host_id]
            where = {"kind": "container", "name": c.name, "host": host.name, "ip": host.ip, "image": c.image,
                     "id": c.id[:12]}
        else:
            raise InvalidInput(f"a shell opens on a host or a container, not a {target_kind}")
        return ShellCommand(
            argv=(sys.executable, "-m", "backends.simulator.shell"),
            env=(("NTNX_SIM_SHELL", json.dumps(where)),),
            description=f"simulated shell on {target_kind} {where['name']} (nothing leaves this machine)",
        )


_ADJECTIVES = ("brave", "calm", "eager", "focused", "gifted", "happy", "jolly", "keen", "nifty", "quirky", "sharp", "vibrant")
_SCIENTISTS = ("curie", "darwin", "euler", "hopper", "lovelace", "noether", "pasteur", "ritchie", "tesla", "turing", "wozniak")

__all__ = ["SimulatorBackend"]


async def _loop_at_rest() -> None:
    """Give way until the event loop has little else to do: a short sleep that comes back late
    means other work (a console's layout, paint, keys) ran meanwhile; try again a few times.
    The pages are background work: the first screenful is painted, and keys answered, first."""
    for _ in range(PAGE_WAITS):
        started = time.monotonic()
        await asyncio.sleep(PAGE_NAP)
        if time.monotonic() - started < 3 * PAGE_NAP:
            return


def _after_world(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def waiting(self: SimulatorBackend, *args: Any, **kwargs: Any) -> Any:
        await self._world_ready()
        return await method(self, *args, **kwargs)

    return waiting


# An action, a task's read or time moving while a large world is still being handed over waits
# for its end: its ids and figures come from the world's one seeded generator, which the rest
# of the build draws from too (so a seed makes the same world, however it is loaded).
for _name in sorted(MUTATING_ACTIONS | {"get_task", "wait_task", "advance", "save_state", "inspect_container", "upgrade_versions"}):
    _method = getattr(SimulatorBackend, _name, None)
    if _method is not None and asyncio.iscoroutinefunction(_method):
        setattr(SimulatorBackend, _name, _after_world(_method))
