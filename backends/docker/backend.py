"""``DockerBackend``: real Docker Engines (local, tcp+TLS, ssh) as the hosts of the console.

Each engine is a Host (``engine.Engine``); the backend merges their inventories with its own
tasks (``backends.tasks.TaskTable``: Docker has none), and publishes one coalesced
``ChangeBatch`` for whatever changed. An engine that stops answering turns its host
UNREACHABLE (its last data kept, aged by ``observed_at``) while the others carry on; actions
on it fail as tasks, never as tracebacks.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, AsyncIterator, Callable, Iterable, Literal, Sequence

from ..contract import (
    Backend,
    Capability,
    ChangeBatch,
    ConnectionChanged,
    ConnectionState,
    ContainerSpec,
    HostSpec,
    Inventory,
    Loading,
    LogLine,
    PullSpec,
    ShellCommand,
    Update,
    UpgradeSpec,
    VolumeSpec,
    resolve,
)
from ..errors import BackendError, Conflict, InvalidInput, NotFound, TaskFailed, Unavailable
from ..models import Container, Host, HostState, Task, TaskStatus, Volume
from ..poller import Broadcast, diff
from ..settings import Settings
from ..tasks import Aborted, TaskHandle, TaskTable
from ..validation import check_container_name, check_host_name, check_image_ref, check_run_options, check_volume_name
from ..waves import PlannedHost, Wave, WaveControl, expected_back, plan_waves, run_waves, wait_back
from . import actions, image_tasks, machines
from .engine import Engine, host_id_for
from .transport import Endpoint, default_hosts, parse_endpoint

CONNECT_TIMEOUT = 20.0
PUBLISH_DELAY = 0.02  # coalesce changes made in one burst into one batch
_HEX = re.compile(r"^[0-9a-f]{4,64}$")


class DockerBackend(Backend):
    kind = "docker"

    def __init__(
        self,
        hosts: Sequence[str] = (),
        *,
        tls_verify: bool | None = None,
        cert_path: str | None = None,
        provision_script: str | None = None,
        upgrade_command: str | None = None,
        accept_new_host_keys: bool = False,
        read_only: bool = False,
        label: str = "",
    ) -> None:
        super().__init__(read_only=read_only, label=label)
        self._urls = list(hosts) or default_hosts()
        self._tls_verify = tls_verify
        self._cert_path = cert_path
        self.provision_script = provision_script
        self.upgrade_command = upgrade_command
        self.accept_new_host_keys = accept_new_host_keys
        from .about import BACKEND

        # What every engine can do; upgrades and task control need an upgrade_command.
        caps = set(BACKEND.capabilities - {Capability.HOSTS_UPGRADE, Capability.TASKS_CONTROL})
        self._controls: dict[str, WaveControl] = {}  # rolling upgrades, by task id
        if upgrade_command:
            # Pause, resume and abort apply to rolling upgrades, between waves.
            caps |= {Capability.HOSTS_UPGRADE, Capability.TASKS_CONTROL}
        self.capabilities = frozenset(caps)
        self._engines: dict[str, Engine] = {}
        self._tasks = TaskTable(self._changed)
        self._broadcast = Broadcast()
        self._published = Inventory()
        self._seq = 0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._connection: ConnectionState | None = None
        self._closed = False
        # The first load (connect's engines): those still on their first attempt stay out of
        # the picture and join it as pages of the load when they answer (paged_snapshot).
        self._loading: dict[str, Engine] = {}
        self._load_total = 0
        self._page_due = False  # an engine of the load answered since the last flush
        self._loader: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "DockerBackend":
        d = settings.docker
        return cls(
            d.hosts,
            tls_verify=d.tls_verify,
            cert_path=d.cert_path,
            provision_script=d.provision_script,
            upgrade_command=d.upgrade_command,
            accept_new_host_keys=d.accept_new_host_keys,
            read_only=settings.read_only,
            label=settings.context or "",
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Returns once one engine answers (or every first attempt has failed, or none answered
        within CONNECT_TIMEOUT): one slow engine must not hold back the others' picture. The
        rest join as they answer, as pages of the load (``paged_snapshot``)."""
        for url in self._urls:
            endpoint = parse_endpoint(url, tls_verify=self._tls_verify, cert_path=self._cert_path)
            self._add_engine(endpoint).start()
        engines = list(self._engines.values())
        self._loading = dict(self._engines)
        self._load_total = len(engines)
        deadline = asyncio.get_running_loop().time() + CONNECT_TIMEOUT
        self._loader = asyncio.create_task(self._await_first_answers(deadline), name="docker-first-answers")
        answered = [asyncio.create_task(e.connected.wait()) for e in engines]
        try:
            await asyncio.wait([*answered, asyncio.shield(self._loader)], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in answered:
                waiter.cancel()
        if not any(e.reachable for e in engines):
            reasons = "; ".join(e.reason or "no answer" for e in engines)
            errors = [e.last_error for e in engines]
            await self.close()
            if len(errors) == 1 and errors[0] is not None:
                raise errors[0]
            raise Unavailable(reasons)
        self._take_answers()
        self._page_due = False  # what connect saw is the first picture, not a page of it
        self._flush()

    async def _await_first_answers(self, deadline: float) -> None:
        """Flush as each engine of the first load answers; at the deadline, the ones still
        silent join as they are (UNREACHABLE, still connecting) and the load is over."""
        loop = asyncio.get_running_loop()
        waits = {asyncio.create_task(e.first_attempt.wait()) for e in self._loading.values()}
        try:
            while waits:
                done, waits = await asyncio.wait(
                    waits, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    break
                self._changed()
        finally:
            for waiter in waits:
                waiter.cancel()
            if self._loading:
                self._loading.clear()
                self._page_due = True
            self._changed()

    def _take_answers(self) -> None:
        """The engines of the load whose first attempt has ended (answered or failed) join."""
        for host_id in [h for h, e in self._loading.items() if e.first_attempt.is_set()]:
            del self._loading[host_id]
            self._page_due = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loader is not None:
            self._loader.cancel()
            await asyncio.gather(self._loader, return_exceptions=True)
        await self._tasks.close()
        await asyncio.gather(*(e.stop() for e in self._engines.values()))
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._broadcast.close()

    def _add_engine(self, endpoint: Endpoint) -> Engine:
        host_id = host_id_for(endpoint.url)
        if host_id in self._engines:
            raise InvalidInput(f"{endpoint.url} is already a host")
        engine = Engine(endpoint, on_change=self._changed, accept_new_host_keys=self.accept_new_host_keys)
        self._engines[host_id] = engine
        return engine

    def add_engine(self, endpoint: Endpoint, *, name: str | None = None) -> Engine:
        """Another engine, supervised from now on without waiting for it (the Prism backend adds
        the engines of its container machines as they appear); it shows UNREACHABLE, with the
        reason, until it answers."""
        engine = self._add_engine(endpoint)
        engine.display_name = name
        engine.start()
        self._changed()
        return engine

    async def remove_engine(self, host_id: str) -> None:
        engine = self._engines.pop(host_id, None)
        self._loading.pop(host_id, None)
        if engine is not None:
            await engine.stop()
            self._changed()

    @property
    def engines(self) -> list[Engine]:
        return list(self._engines.values())

    # -- inventory and the change stream --------------------------------------------------

    def _changed(self) -> None:
        if self._closed or self._flush_handle is not None:
            return
        self._flush_handle = asyncio.get_running_loop().call_later(PUBLISH_DELAY, self._flush)

    def _build(self) -> Inventory:
        inv = Inventory()
        for engine in self._engines.values():
            if engine.host_id in self._loading:
                continue
            inv.hosts[engine.host_id] = engine.host()
            for c in engine.inventory.container_values():
                inv.containers[c.id] = c
            for v in engine.inventory.volume_values():
                inv.volumes[v.id] = v
            for i in engine.inventory.image_values():
                inv.host_images[i.id] = i
            inv.events.update(engine.inventory.events)
        inv.tasks = self._tasks.all()
        return inv

    def _flush(self) -> None:
        self._flush_handle = None
        self._take_answers()
        new = self._build()
        changes = diff(self._published, new)
        loading = None
        if self._page_due:
            self._page_due = False
            loading = Loading("hosts", self._load_total, done=not self._loading)
        if changes or loading is not None:  # the page that ends the load goes out even if empty
            self._seq += 1
            self._broadcast.publish(ChangeBatch(self._seq, tuple(changes), loading))
        new.seq = self._seq
        self._published = new
        self._publish_connection()

    def _publish_connection(self) -> None:
        engines = [e for e in self._engines.values() if e.host_id not in self._loading]
        up = [e for e in engines if e.reachable]
        if len(up) == len(engines):
            state, reason = ConnectionState.CONNECTED, ""
        else:
            down = [e for e in engines if not e.reachable]
            state = ConnectionState.UNREACHABLE if not up else ConnectionState.DEGRADED
            reason = "; ".join(f"{e.name}: {e.reason}" for e in down)
        if state is not self._connection:
            first = self._connection is None
            self._connection = state
            if not first:
                self._broadcast.publish(ConnectionChanged(state, reason))

    async def snapshot(self) -> Inventory:
        # Whole, as before pages: a one-shot reader (``containers list``, get_task) has no
        # stream to receive the late engines from, so it waits for every first attempt,
        # bounded by the connect deadline: every engine is listed, reachable or not.
        if self._loader is not None and not self._loader.done():
            await asyncio.shield(self._loader)
        return self._flushed()

    async def paged_snapshot(self) -> Inventory:
        """What has answered, at once; while engines are still on their first attempt, the
        Inventory's ``loading`` says so and each joins as a page of the change stream."""
        inventory = self._flushed()
        if self._loading:
            inventory.loading = Loading("hosts", self._load_total)
        return inventory

    def _flushed(self) -> Inventory:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        return self._published.copy()

    def updates(self) -> AsyncIterator[Update]:
        return self._broadcast.subscribe()

    def request_stats(self, container_ids: Iterable[str]) -> None:
        """Ask for one-shot CPU/memory figures of these containers (the rows in view); the
        figures arrive as container changes. Bounded per engine, one in flight per container."""
        by_engine: dict[str, list[str]] = {}
        for cid in container_ids:
            for engine in self._engines.values():
                if cid in engine.inventory.containers:
                    by_engine.setdefault(engine.host_id, []).append(cid)
                    break
        for host_id, ids in by_engine.items():
            engine = self._engines[host_id]
            if engine.reachable:
                engine.inventory.request_stats(ids)

    # -- lookups --------------------------------------------------------------------------

    def _engine(self, ref: str) -> Engine:
        hosts = [e.host() for e in self._engines.values()]
        for e in self._engines.values():
            if ref == e.endpoint.url:
                return e
        host: Host = resolve(hosts, ref, "host")
        return self._engines[host.id]

    def _reachable(self, engine: Engine) -> Engine:
        if not engine.reachable:
            raise Unavailable(f"{engine.name} is unreachable: {engine.reason}")
        return engine

    def _container(self, ref: str) -> tuple[Engine, Container]:
        containers = [c for e in self._engines.values() for c in e.inventory.containers.values()]
        try:
            c: Container = resolve(containers, ref, "container")
        except NotFound:
            # A short id, as ``docker ps`` prints it.
            matches = [c for c in containers if _HEX.match(ref) and c.id.startswith(ref)]
            if len(matches) != 1:
                raise
            c = matches[0]
        return self._engines[c.host_id], c

    def _volume(self, ref: str) -> tuple[Engine, Volume]:
        volumes = [v for e in self._engines.values() for v in e.inventory.volume_values()]
        v: Volume = resolve(volumes, ref, "volume")
        return self._engines[v.host_id], v  # type: ignore[index]

    def _volume_name(self, engine: Engine, ref: str) -> str:
        """A MountSpec's volume (an id or a name) as the engine's volume name; an unknown name
        is passed on, and Docker creates the volume, as ``docker run -v`` does."""
        prefix = f"{engine.host_id}/"
        return ref[len(prefix):] if ref.startswith(prefix) else ref

    # -- container actions ----------------------------------------------------------------

    def _container_task(self, kind: str, ref: str, verb: str, call) -> Task:
        engine, c = self._container(ref)
        self._reachable(engine)

        async def work(task: TaskHandle) -> str:
            task.progress(10, f"{verb} {c.name}")
            try:
                await call(engine.api, c.id)
            finally:
                await _refresh_quietly(engine, [c.id])
            return c.id

        return self._tasks.start(kind, c.name, work, target_id=c.id)

    async def start_container(self, container_id: str) -> Task:
        return self._container_task("start_container", container_id, "starting", actions.start)

    async def stop_container(self, container_id: str) -> Task:
        return self._container_task("stop_container", container_id, "stopping", actions.stop)

    async def restart_container(self, container_id: str) -> Task:
        return self._container_task("restart_container", container_id, "restarting", actions.restart)

    async def remove_container(self, container_id: str, *, force: bool = False) -> Task:
        async def call(api, cid):
            await actions.remove(api, cid, force=force)

        return self._container_task("remove_container", container_id, "removing", call)

    async def run_container(self, spec: ContainerSpec) -> Task:
        engine = self._reachable(self._engine(spec.host))
        check_image_ref(spec.image)
        check_run_options(spec)
        if spec.name:
            check_container_name(spec.name)

        async def work(task: TaskHandle) -> str:
            task.progress(10, f"creating a container from {spec.image}")
            cid = await actions.run(engine.api, spec, lambda ref: self._volume_name(engine, ref), task.progress)
            await _refresh_quietly(engine, [cid])
            await _refresh_quietly(engine, [], volumes=True)
            return cid

        return self._tasks.start("run_container", spec.name or spec.image, work, target_id=engine.host_id)

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        engine, c = self._container(container_id)
        return await self._reachable(engine).api.get(f"/containers/{c.id}/json")

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        engine, c = self._container(container_id)
        return actions.logs(self._reachable(engine).api, c.id, follow=follow, tail=tail, since=since)

    async def shell(self, target_kind: Literal["host", "container"], target_id: str) -> ShellCommand:
        if target_kind == "container":
            engine, c = self._container(target_id)
            e = engine.endpoint
            if e.scheme == "ssh":
                # The remote docker CLI reaches its engine's socket; ssh hands over the terminal.
                argv = machines.ssh_argv(e, "docker", "-H", machines.socket_url(e), "exec", "-it", c.id, "sh")
            else:
                argv = ("docker", *_cli_host_args(e), "exec", "-it", c.id, "sh")
            return ShellCommand(argv, description=f"sh in container {c.name} on {engine.name}")
        engine = self._engine(target_id)
        e = engine.endpoint
        if e.scheme == "ssh":
            return ShellCommand(machines.ssh_argv(e), description=f"ssh to {engine.name}")
        if e.scheme == "unix":
            shell = os.environ.get("SHELL") or "/bin/sh"
            return ShellCommand((shell,), description=f"{engine.name} is this machine: a local shell")
        raise InvalidInput(f"{engine.name} is reached over tcp ({e.url}): no SSH access to open a shell")

    # -- volumes --------------------------------------------------------------------------

    async def create_volume(self, spec: VolumeSpec) -> Task:
        check_volume_name(spec.name)
        if len(spec.name) < 2:  # Docker narrows the common rule
            raise InvalidInput(f"volume name {spec.name!r}: Docker volume names have two characters or more")
        if spec.host:
            engine = self._engine(spec.host)
        elif len(self._engines) == 1:
            engine = next(iter(self._engines.values()))
        else:
            raise InvalidInput("several engines: say on which host to create the volume")
        self._reachable(engine)
        # Docker would hand back the existing volume: a taken name is a conflict here.
        if spec.name in engine.inventory.volumes_raw:
            raise Conflict(f"a volume named {spec.name} already exists on {engine.name}")

        async def work(task: TaskHandle) -> str:
            task.progress(20, f"creating volume {spec.name} ({spec.driver or 'local'})")
            await actions.create_volume(engine.api, spec.name, spec.driver, dict(spec.driver_options))
            await _refresh_quietly(engine, [], volumes=True)
            return engine.inventory.volume_id(spec.name)

        return self._tasks.start("create_volume", spec.name, work, target_id=engine.host_id)

    async def delete_volume(self, volume_id: str) -> Task:
        engine, v = self._volume(volume_id)
        self._reachable(engine)

        async def work(task: TaskHandle) -> None:
            task.progress(20, f"removing volume {v.name}")
            await actions.remove_volume(engine.api, v.name)
            await _refresh_quietly(engine, [], volumes=True)

        return self._tasks.start("delete_volume", v.name, work, target_id=v.id)

    async def attach_volume(
        self, volume_id: str, host_id: str, *, container_id: str | None = None, mount_path: str | None = None
    ) -> Task:
        engine, v = self._volume(volume_id)
        if self._engine(host_id) is not engine:
            raise InvalidInput(f"volume {v.name} lives on {engine.name}: Docker mounts it only into containers there")
        if not container_id or not mount_path:
            raise InvalidInput("Docker mounts a volume into a container: name the container and the mount path")
        if not mount_path.startswith("/"):
            raise InvalidInput(f"mount path {mount_path!r} must be absolute")
        c_engine, c = self._container(container_id)
        if c_engine is not engine:
            raise InvalidInput(f"volume {v.name} lives on {engine.name}, container {c.name} on {c_engine.name}")
        self._reachable(engine)

        async def work(task: TaskHandle) -> str:
            try:
                new_id = await actions.recreate_with_mount(engine.api, c.id, v.name, mount_path, progress=task.progress)
            finally:
                await _refresh_quietly(engine, [c.id])
            await _refresh_quietly(engine, [new_id])
            return new_id

        return self._tasks.start("attach_volume", f"{v.name} -> {c.name}:{mount_path}", work, target_id=c.id)

    async def detach_volume(self, volume_id: str) -> Task:
        """Unmount the volume from every container that mounts it, re-creating each one."""
        engine, v = self._volume(volume_id)
        self._reachable(engine)
        users = list(v.container_ids)

        async def work(task: TaskHandle) -> None:
            for i, cid in enumerate(users):
                step = lambda p, m, i=i: task.progress(int((i + p / 100) * 100 / len(users)), m)  # noqa: E731
                try:
                    await actions.recreate_without_volume(engine.api, cid, v.name, progress=step)
                finally:
                    await _refresh_quietly(engine, [cid])
            await _refresh_quietly(engine, [], volumes=True)

        return self._tasks.start("detach_volume", v.name, work, target_id=v.id)

    # -- images on the engines ------------------------------------------------------------

    def _image_engine(self, image_id: str) -> Engine:
        """The engine a HostImage id ("<host id>/<image id>") lives on."""
        host_id, sep, _ = image_id.partition("/")
        engine = self._engines.get(host_id) if sep else None
        if engine is None:
            raise NotFound(f"image {image_id} not found: name it as HOST_ID/IMAGE_ID (images list --host)")
        return engine

    async def pull_image(self, spec: PullSpec) -> Task:
        engine = self._reachable(self._engine(spec.host))
        return image_tasks.pull_task(self._tasks, engine, spec)

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        engine = self._reachable(self._image_engine(image_id))
        return image_tasks.remove_task(self._tasks, engine, image_id, force=force)

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        engine = self._reachable(self._engine(host_id))
        return image_tasks.prune_task(self._tasks, engine, unused=unused)

    # -- machines -------------------------------------------------------------------------

    async def create_host(self, spec: HostSpec) -> Task:
        if not spec.ssh_target:
            raise InvalidInput("the Docker backend provisions a machine over SSH: give its ssh target (user@host[:port])")
        if spec.name:
            check_host_name(spec.name)
        if spec.name and any(e.name == spec.name for e in self._engines.values()):
            raise Conflict(f"a host named {spec.name} already exists")
        endpoint = machines.ssh_endpoint(spec.ssh_target)
        engine = self._add_engine(endpoint)
        engine.display_name = spec.name or None
        engine.state_override = HostState.PROVISIONING
        engine.reason = None
        self._changed()

        async def work(task: TaskHandle) -> str:
            try:
                if spec.engine_check:
                    await machines.provision(
                        endpoint, script=self.provision_script, progress=task.progress, accept_new=self.accept_new_host_keys
                    )
                task.progress(70, "registering the engine")
                engine.start()
                try:
                    await asyncio.wait_for(engine.connected.wait(), CONNECT_TIMEOUT)
                except asyncio.TimeoutError:
                    raise Unavailable(f"{endpoint.url}: the engine did not answer: {engine.reason}") from None
            except BaseException:
                await engine.stop()
                self._engines.pop(engine.host_id, None)
                raise
            finally:
                engine.state_override = None
                self._changed()
            return engine.host_id

        return self._tasks.start("create_host", spec.name or spec.ssh_target, work, target_id=engine.host_id)

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        if not self.upgrade_command:
            raise InvalidInput("no upgrade command is configured (docker.upgrade_command)")
        engines = [self._engine(ref) for ref in spec.host_ids]
        for e in engines:
            if e.endpoint.scheme != "ssh":
                raise InvalidInput(f"{e.name} is not reached over SSH ({e.endpoint.url}): cannot upgrade it")
        plan = plan_waves([e.host() for e in engines], spec.target_version, spec.batch_size, inventory=self._published)
        command = self.upgrade_command
        control = WaveControl()

        async def work(parent: TaskHandle) -> None:
            total = max(1, plan.host_count)
            finished = 0

            async def upgrade_one(planned: PlannedHost) -> None:
                nonlocal finished
                engine = self._engines[planned.host_id]
                child = self._tasks.start(
                    "upgrade_host", engine.name, lambda h: _upgrade(h, engine), target_id=engine.host_id, parent_id=parent.id
                )
                final = await self._tasks.wait(child.id)
                finished += 1
                parent.progress(int(finished * 100 / total), f"{finished}/{total} hosts done")
                if final.status is not TaskStatus.SUCCEEDED:
                    raise RuntimeError(final.error or final.status.value)

            async def _upgrade(handle: TaskHandle, engine: Engine) -> str:
                engine.state_override = HostState.UPGRADING
                self._changed()
                try:
                    await machines.upgrade_engine(engine, command, spec.target_version, handle.progress)
                finally:
                    engine.state_override = None
                    self._changed()
                return engine.host_id

            back: dict[int, dict[str, str]] = {}  # wave number -> the containers that must come back

            def on_wave(w: Wave) -> None:
                back[w.number] = expected_back(self._published, [h.host_id for h in w.hosts])
                parent.progress(parent.task.progress, f"wave {w.number}/{len(plan.waves)}")

            async def health_gate(w: Wave) -> None:
                # After the wave: its containers run again (healthy, where they have a check).
                await wait_back(w, back.pop(w.number, {}), lambda: self._published, asyncio.sleep)

            outcome = await run_waves(
                plan,
                upgrade_one,
                control=control,
                continue_on_failure=spec.continue_on_failure,
                on_wave=on_wave,
                after_wave=health_gate,
            )
            if outcome.aborted:
                raise Aborted(f"aborted after {len(outcome.succeeded)} host(s); {len(outcome.not_started)} not started")
            if not outcome.ok:
                by_reason: dict[str, list[str]] = {}  # a wave the gate failed: one reason, its hosts once
                for h, why in outcome.failed:
                    by_reason.setdefault(why, []).append(self._engines[h].name)
                failed = "; ".join(f"{', '.join(names)}: {why}" for why, names in by_reason.items())
                left = f"{len(outcome.not_started)} host(s) not started" if outcome.not_started else ""
                raise TaskFailed("; ".join(p for p in (failed, left) if p) or "aborted")

        task = self._tasks.start("upgrade_hosts", f"{len(engines)} host(s) to {spec.target_version}", work)
        self._controls[task.id] = control
        return task

    def _control(self, task_id: str) -> tuple[Task, WaveControl]:
        task = self._tasks.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        control = self._controls.get(task_id)
        if control is None:
            raise InvalidInput(f"{task.kind} {task.target}: only a rolling upgrade can be paused, resumed or aborted")
        if task.done:
            raise Conflict(f"{task.kind} {task.target} has already ended ({task.status.value})")
        return task, control

    async def handed_over(self, task_id: str) -> Task:
        # An engine has no tasks: this process is what runs the action, to its end.
        return await self.wait_task(task_id)

    async def wait_task(
        self, task_id: str, on_progress: Callable[[Task], None] | None = None, *, poll_interval: float = 0.5
    ) -> Task:
        # Every task is the backend's own: woken by each change rather than polled.
        if self._tasks.get(task_id) is None:
            raise NotFound(f"task {task_id} not found")
        return await self._tasks.wait(task_id, on_progress)

    async def pause_task(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.pause()
        return self._tasks.update(task.id, status=TaskStatus.PAUSED, message="paused: the current wave finishes first")

    async def resume_task(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.resume()
        return self._tasks.update(task.id, status=TaskStatus.RUNNING, message="resumed")

    async def abort_task(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.abort()
        return self._tasks.update(task.id, message="aborting after the current wave")


async def _refresh_quietly(engine: Engine, ids: list[str], *, volumes: bool = False) -> None:
    """Make the inventory reflect an action before its task ends; if the engine went away,
    the supervisor's resync catches up later."""
    try:
        if ids:
            await engine.inventory.refresh_containers(ids)
        if volumes:
            await engine.inventory.refresh_volumes()
    except BackendError:
        pass


def _cli_host_args(e: Endpoint) -> tuple[str, ...]:
    args: tuple[str, ...] = ("-H", e.url if e.scheme != "tcp" else f"tcp://{e.host}:{e.port}")
    if e.context:
        return ("--context", e.context)
    if e.tls is not None:
        args += ("--tlsverify",) if e.tls.verify else ("--tls",)
        for flag, path in (("--tlscacert", e.tls.ca), ("--tlscert", e.tls.cert), ("--tlskey", e.tls.key)):
            if path:
                args += (flag, path)
    return args
