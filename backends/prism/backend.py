"""The Prism backend: container machines on Prism Central, volume groups for their volumes,
and rolling upgrades, on the console's contract.

Inventory comes from polling (``SnapshotPoller``): Prism has no change feed the console can
subscribe to. Each action is one of the console's own tasks (in ``backends.tasks.TaskTable``)
that follows the Prism tasks it starts and, for machines this computer made, does the in-guest
steps over SSH.

Against the console's own simulator served as Prism (``sim serve``, which marks its answers
with ``X-Ntnx-Console-Simulator``), the machines have no SSH: the in-guest steps are skipped
with a message saying so, and an upgrade is the server's own: the ``NtnxConsoleEngine``
category edit that the backend makes on a real machine after upgrading it over SSH is, on the
simulator, what starts the simulated upgrade.

Containers come from the container machines' own engines, through the Docker backend
(``engines.MachineEngines``); the container capabilities are claimed while there is at least
one such engine, and each container action goes to the engine that holds the container.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Iterable, Literal

from ..contract import (
    Backend,
    Capability,
    ContainerSpec,
    PullSpec,
    RegistryAuth,
    HostSpec,
    Inventory,
    Loading,
    LogLine,
    ShellCommand,
    Update,
    UpgradeSpec,
    VolumeSpec,
    resolve,
)
from ..errors import BackendError, Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, TaskFailed, Unavailable
from ..models import Host, HostState, Image, StatsSample, Task, TaskStatus, Volume
from ..poller import SnapshotPoller
from ..settings import Settings
from ..tasks import TaskHandle, TaskTable
from .about import ENGINE_CAPABILITIES, OWN_CAPABILITIES, PrismSettings
from ..validation import check_host_name, check_volume_name, check_volume_size
from ..waves import PlannedHost, Wave, WaveControl, expected_back, parse_version, plan_waves, run_waves, wait_back
from . import parse
from .client import Credentials, PrismClient, task_uuid_of
from .credentials import credentials as find_credentials
from .engines import MachineEngines
from .guest import Guest
from .machine import adopt_legacy, forget_machine, is_machine_id, known_machine, new_machine_keys, registry_files, user_data

GIB = 1024**3
DISK_FETCHES_PER_POLL = 200
STATS_INTERVAL_MIN = 30  # seconds: the finest sampling asked of Prism (its SDK documents 30 s as the example)
TASK_POLL_DELAY = 1.0  # seconds between a console task's change and the poll that publishes it


class PrismBackend(Backend):
    kind = "prism"
    capabilities = OWN_CAPABILITIES  # and ENGINE_CAPABILITIES while an engine is followed

    def __init__(
        self,
        settings: PrismSettings,
        *,
        credentials: Credentials | None = None,
        read_only: bool = False,
        label: str = "",
        poll_interval: float = 5.0,
        ip_timeout: float = 600.0,
        engine_timeout: float = 900.0,
    ) -> None:
        super().__init__(read_only=read_only, label=label or f"prism {settings.endpoint or ''}".strip())
        self.settings = settings
        self._credentials = credentials
        self._client: PrismClient | None = None
        self._poller = SnapshotPoller(self._fetch, interval=poll_interval)
        self._primed = False
        self._first_vms: dict[str, Any] | None = None  # vms/list's first page, shown before the rest
        self._fetch_lock = asyncio.Lock()
        self._tasks = TaskTable(self._task_changed, id_prefix="nc")  # nc-: the console's, not Prism's
        self._poll_soon: asyncio.TimerHandle | None = None
        self._controls: dict[str, WaveControl] = {}
        self._disks: dict[str, list[dict[str, Any]]] = {}  # volume group id -> its disks
        self._raw: dict[str, dict[str, dict[str, Any]]] = {}  # kind -> uuid -> latest entity
        self._engines = MachineEngines(read_only=read_only, on_change=self._engines_changed)
        self._prism: Inventory | None = None  # the latest listing from Prism itself
        self._prism_at = 0.0  # when it was listed (monotonic)
        self._prism_wanted = 0.0  # a poll lists Prism again when its listing is older than this
        self.ip_timeout = ip_timeout
        self.engine_timeout = engine_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> "PrismBackend":
        label = f"prism {settings.context or settings.prism.endpoint or ''}".strip()
        return cls(settings.prism, read_only=settings.read_only, label=label)

    @property
    def simulated(self) -> bool:
        return bool(self._client and self._client.simulated)

    @property
    def client(self) -> PrismClient:
        if self._client is None:
            raise Unavailable("the prism backend is not connected")
        return self._client

    # -- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._client is not None:
            return
        creds = self._credentials or find_credentials(self.settings)
        client = PrismClient(
            self.settings.endpoint or "", creds, insecure=self.settings.insecure, ca_bundle=self.settings.ca_bundle
        )
        try:
            await client.open()
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def close(self) -> None:
        if self._poll_soon is not None:
            self._poll_soon.cancel()
        await self._tasks.close()
        await self._engines.close()  # first: its news would wake the poller
        await self._poller.stop()
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- inventory ---------------------------------------------------------------------------

    async def snapshot(self) -> Inventory:
        await self.connect()
        self._prism_wanted = time.monotonic()
        if not self._primed:
            inv = await self._poller.prime()
            self._primed = True
            self._poller.start()
            return inv
        await self._poller.poll_once()
        return self._poller.current.copy()

    async def paged_snapshot(self) -> Inventory:
        """The first page of vms/list (with the images, to name each VM's) as the first
        picture; polling starts at once and its first poll, which lists everything (going on
        from that page, not asking for it again), ends the load."""
        await self.connect()
        if self._primed:
            return await self.snapshot()
        self._prism_wanted = time.monotonic()
        inv = await self._poller.prime_page(self._first_page)
        self._primed = True
        self._poller.start()
        if inv.loading is not None:
            self._poller.poll_now()
        return inv

    async def _first_page(self) -> Inventory | None:
        """The VMs of vms/list's first page as hosts, their total to come; None when that page
        holds them all (a plain snapshot follows, reusing it)."""
        c = self.client
        page, images = await asyncio.gather(c.v3_list_page("vm", offset=0, length=c.page_size), c.v3_list("image"))
        self._first_vms = page
        vms = page["entities"]
        total = page["metadata"].get("total_matches")
        if total is None or not vms or len(vms) >= total:
            return None
        # A total no list would be read to (too many entities or pages) is refused here, as
        # the whole list would refuse it, before it is shown as "of N loading".
        c.check_v3_total("vm", total, len(vms))
        now = time.time()
        inv = Inventory(loading=Loading("hosts", total))
        inv.images = {i.id: i for i in map(parse.image, images)}
        inv.hosts = {h.id: h for h in (parse.host(e, images=inv.images, observed_at=now) for e in vms)}
        return inv

    def updates(self) -> AsyncIterator[Update]:
        return self._poller.subscribe()

    def _task_changed(self) -> None:
        """A task of the console moved: publish it with the next poll, at most one a second
        (each poll lists everything from Prism)."""
        if self._poll_soon is None:
            def poll() -> None:
                self._poll_soon = None
                self._prism_wanted = time.monotonic()
                self._poller.poll_now()

            self._poll_soon = asyncio.get_running_loop().call_later(TASK_POLL_DELAY, poll)

    def _engines_changed(self) -> None:
        """An engine moved (a container event, the engine lost or back, an engine task): publish
        it without listing everything from Prism again (that happens every poll interval)."""
        self._poller.poll_now()

    async def _lenient(self, fetch: Callable[..., Any], *args: Any, missing=(), **kwargs: Any) -> Any:
        """An optional part of the inventory: an API this Prism lacks gives nothing.

        Takes the call, not a coroutine made up front: a poll cancelled before this starts (the
        console quitting) then leaves no coroutine that was never awaited."""
        try:
            return await fetch(*args, **kwargs)
        except (NotFound, PermissionDenied):
            return list(missing)

    async def _fetch(self) -> Inventory:
        async with self._fetch_lock:
            now = time.monotonic()
            if self._prism is None or self._prism_at <= self._prism_wanted or now - self._prism_at >= self._poller.interval:
                self._prism = await self._fetch_prism()
                self._prism_at = now
                # Keys an older version kept under a machine's name move to its uuid, once.
                adopt_legacy((h.id, h.name) for h in self._prism.hosts.values())
            inv = self._prism.copy()
            inv.tasks.update(self._tasks.all())
            for task in self._tasks.all().values():
                # Prism knows nothing of an engine upgrade in progress; the console's task does.
                if task.kind == "upgrade_host" and task.status is TaskStatus.RUNNING and task.target_id in inv.hosts:
                    inv.hosts[task.target_id] = replace(inv.hosts[task.target_id], state=HostState.UPGRADING)
            await self._engines.sync(inv.hosts.values())
            await self._engines.merge(inv)
            self.capabilities = type(self).capabilities | (ENGINE_CAPABILITIES if self._engines.active else frozenset())
            return inv

    async def _fetch_prism(self) -> Inventory:
        c = self.client
        first_vms, self._first_vms = self._first_vms, None  # a paged snapshot's first page, used once
        vms, images, subnets, clusters, projects, nodes, tasks, vgs = await asyncio.gather(
            c.v3_list("vm", first=first_vms),
            c.v3_list("image"),
            c.v3_list("subnet"),
            c.v3_list("cluster"),
            self._lenient(c.v3_list, "project"),
            self._lenient(c.v3_list, "host"),
            self._lenient(c.v3_list, "task", limit=100),
            self._lenient(c.volume_groups),
        )
        await self._load_disks([vg["extId"] for vg in vgs if vg.get("extId")])
        now = time.time()
        self._raw = {
            "vm": {parse.uuid_of(e): e for e in vms},
            "image": {parse.uuid_of(e): e for e in images},
            "subnet": {parse.uuid_of(e): e for e in subnets},
            "cluster": {parse.uuid_of(e): e for e in clusters},
        }
        inv = Inventory()
        inv.images = {i.id: i for i in map(parse.image, images)}
        inv.hosts = {h.id: h for h in (parse.host(e, images=inv.images, observed_at=now) for e in vms)}
        inv.networks = {n.id: n for n in map(parse.network, subnets)}
        inv.projects = {p.id: p for p in map(parse.project, projects)}
        for ref in parse.project_references(vms):
            # A project the user cannot list is still named by its VMs' references.
            inv.projects.setdefault(ref.id, ref)
        inv.nodes = {n.id: n for n in map(parse.node, nodes)}
        inv.tasks = {t.id: _named(t, inv) for t in map(parse.task_v3, tasks)}
        attached: dict[str, list[str]] = {}
        for vm in vms:
            for vg_id in parse.attached_volume_group_ids(vm):
                attached.setdefault(vg_id, []).append(parse.uuid_of(vm))
        inv.volumes = {
            v.id: v
            for v in (
                parse.volume(vg, disks=self._disks.get(vg["extId"], []), attached_vm_ids=attached.get(vg["extId"], []))
                for vg in vgs
            )
        }
        return inv

    async def _load_disks(self, vg_ids: list[str]) -> None:
        """A volume group's disks (its size) do not change under the console: fetch each once.
        Prism lists them one volume group at a time, so each poll fetches at most
        ``DISK_FETCHES_PER_POLL`` new ones; a volume whose disks are not read yet shows size 0."""
        missing = [v for v in vg_ids if v not in self._disks][:DISK_FETCHES_PER_POLL]
        for vg_id, disks in zip(
            missing, await asyncio.gather(*(self._lenient(self.client.volume_group_disks, v) for v in missing))
        ):
            self._disks[vg_id] = disks

    async def get_task(self, task_id: str) -> Task:
        local = self._tasks.get(task_id) or await self._engines.task(task_id)
        if local is not None:
            return local
        return parse.task_v3(await self.client.v3_task(task_id))

    async def wait_task(
        self, task_id: str, on_progress: Callable[[Task], None] | None = None, *, poll_interval: float = 0.5
    ) -> Task:
        if self._tasks.get(task_id) is not None:
            return await self._tasks.wait(task_id, on_progress)
        if await self._engines.task(task_id) is not None:
            return await super().wait_task(task_id, on_progress, poll_interval=poll_interval)
        final = await self.client.wait_v3_task(task_id, (lambda t: on_progress(parse.task_v3(t))) if on_progress else None)
        return parse.task_v3(final)

    async def upgrade_versions(self) -> list[str]:
        inv = await self.snapshot()
        versions = {i.engine_version for i in inv.images.values() if i.engine_version}
        return sorted(versions, key=parse_version, reverse=True)

    async def stats_history(self, kind: Any, item_id: str, since: float, step: float) -> list[StatsSample]:
        """A VM's past from Prism's own stats (vmm v4 ``stats/vms/{extId}``). A container's
        figures come live from its engine and Prism keeps none of them: no past, no error."""
        if kind != "hosts":
            return []
        host = self._host(await self.snapshot(), item_id)
        interval = max(STATS_INTERVAL_MIN, int(step))
        stats = await self.client.vm_stats(host.id, parse.rfc3339(since), parse.rfc3339(time.time()), interval)
        return parse.vm_stats(stats, cores=host.cores, memory_mib=host.memory_mib, interval=interval)

    # -- helpers -------------------------------------------------------------------------------

    def _host(self, inv: Inventory, ref: str) -> Host:
        return resolve(inv.hosts.values(), ref, "host")

    def _cluster_for(self, subnet_id: str | None = None, vm_id: str | None = None) -> str:
        """The cluster to place on: the subnet's or VM's own, else the only cluster that is not
        Prism Central itself."""
        for kind, key in (("subnet", subnet_id), ("vm", vm_id)):
            entity = self._raw.get(kind, {}).get(key or "")
            if entity:
                ref = parse._ref(entity, "cluster_reference")
                if ref.get("uuid"):
                    return str(ref["uuid"])
        targets = [u for u, c in self._raw.get("cluster", {}).items() if not parse.is_prism_central(c)]
        if len(targets) == 1:
            return targets[0]
        raise InvalidInput(f"cannot choose a cluster: {len(targets)} clusters can host machines; use a network of one")

    def _guest(self, host: Host) -> tuple[Guest | None, str]:
        """An SSH handle on the machine, or None and why the in-guest steps are skipped."""
        if self.simulated:
            return None, "simulated machine: no SSH, the simulator plays the engine"
        if not self.settings.engine_check:
            return None, "engine checks are off (--no-engine-check)"
        if not host.ip:
            return None, f"{host.name} has no IP address"
        keys = known_machine(host.id)
        if keys is None:
            return None, f"{host.name} was not made from this computer: no SSH key for it"
        return Guest(host.ip, *keys), ""

    def _follow_v3(self, task_id: str, low: int, high: int) -> Callable[[dict[str, Any]], None]:
        def report(prism: dict[str, Any]) -> None:
            pct = int(prism.get("percentage_complete") or 0)
            message = prism.get("progress_message") or ""
            self._tasks.update(task_id, progress=low + (high - low) * pct // 100, **({"message": message} if message else {}))

        return report

    def _follow_v4(self, task_id: str, low: int, high: int) -> Callable[[dict[str, Any]], None]:
        def report(prism: dict[str, Any]) -> None:
            pct = int(prism.get("progressPercentage") or 0)
            self._tasks.update(task_id, progress=low + (high - low) * pct // 100)

        return report

    async def _prism_v3(self, task_id: str, prism_task: str | None, low: int, high: int) -> dict[str, Any]:
        if not prism_task:
            return {}
        final = await self.client.wait_v3_task(prism_task, self._follow_v3(task_id, low, high))
        if final.get("status") != "SUCCEEDED":
            reason = final.get("error_detail") or final.get("progress_message") or final.get("status")
            raise TaskFailed(f"Prism task {prism_task} {str(final.get('status', '')).lower()}: {reason}")
        return final

    async def _prism_v4(self, task_id: str, prism_task: str, low: int, high: int) -> dict[str, Any]:
        final = await self.client.wait_v4_task(prism_task, self._follow_v4(task_id, low, high))
        if final.get("status") != "SUCCEEDED":
            errors = final.get("errorMessages") or [{}]
            raise TaskFailed(f"Prism task {prism_task} {str(final.get('status', '')).lower()}: {errors[0].get('message', '')}")
        return final

    # -- hosts -----------------------------------------------------------------------------

    async def create_host(self, spec: HostSpec) -> Task:
        check_host_name(spec.name)
        if spec.cores < 1 or spec.memory_mib < 512:
            raise InvalidInput("a machine needs at least 1 core and 512 MiB of memory")
        inv = await self.snapshot()
        if any(h.name == spec.name for h in inv.hosts.values()):
            raise Conflict(f"a VM named {spec.name} already exists")
        image = resolve(inv.images.values(), spec.image, "image")
        if not parse.is_disk_image(self._raw["image"].get(image.id, {})):
            raise InvalidInput(f"image {image.name} is not a DISK_IMAGE")
        network = resolve(inv.networks.values(), spec.network, "network")
        cluster_uuid = self._cluster_for(subnet_id=network.id)
        project = resolve(inv.projects.values(), spec.project, "project") if spec.project else None
        if project is not None:
            _check_quota(project, spec, image)

        keys = new_machine_keys()  # before the VM's uuid is known: cloud-init carries them
        resources = {
            "num_sockets": spec.cores,
            "num_vcpus_per_socket": 1,
            "num_threads_per_core": 1,
            "memory_size_mib": spec.memory_mib,
            "power_state": "ON",
            "disk_list": [
                {
                    "data_source_reference": {"kind": "image", "uuid": image.id},
                    "device_properties": {"device_type": "DISK", "disk_address": {"adapter_type": "SCSI", "device_index": 0}},
                }
            ],
            "nic_list": [{"subnet_reference": {"kind": "subnet", "uuid": network.id}}],
            # The project's registries ride along (credentials and CAs for the engine): the
            # VM's spec holds them, so they are never logged (the client logs no bodies).
            "guest_customization": {"cloud_init": {"user_data": user_data(keys, spec.name, spec.registries)}},
        }
        body = {
            "name": spec.name,
            "description": "container machine made by ntnx-console",
            "resources": resources,
            "cluster_reference": {"kind": "cluster", "uuid": cluster_uuid},
        }
        metadata: dict[str, Any] = {"categories": {parse.ROLE_CATEGORY: parse.ROLE_VALUE}}
        if project is not None:
            metadata["project_reference"] = {"kind": "project", "uuid": project.id}
        try:
            answer = await self.client.v3_create("vm", body, metadata)
        except BaseException:
            keys.discard()
            raise
        vm_uuid = parse.uuid_of(answer) or None
        if vm_uuid and is_machine_id(vm_uuid):
            # Now, not in the task: a CLI call without --wait ends before the task runs, and
            # the machine's keys must then already be where later calls look for them.
            try:
                keys = keys.claim(vm_uuid)
            except (BackendError, OSError):
                pass  # the task claims them again and, failing, deletes the VM and its keys
        task = self._tasks.start("create_host", spec.name, target_id=vm_uuid, message="creating the VM", progress=5)
        self._tasks.run(task.id, self._finish_create(task.id, spec, vm_uuid, task_uuid_of(answer), keys))
        return task

    async def _finish_create(self, task_id: str, spec: HostSpec, vm_uuid: str | None, prism_task: str | None, keys) -> None:
        try:
            final = await self._prism_v3(task_id, prism_task, 5, 60)
            vm_uuid = vm_uuid or next(
                (r.get("uuid") for r in final.get("entity_reference_list") or [] if r.get("kind") == "vm"), None
            )
            if not vm_uuid:
                raise TaskFailed("Prism did not say which VM it created")
            if keys.pending:
                keys = keys.claim(vm_uuid)
            self._tasks.update(task_id, target_id=vm_uuid, progress=65, message="waiting for an IP address")
            vm = await self._wait_for_ip(vm_uuid)
            host = parse.host(vm)
            if host.state is not HostState.RUNNING:
                raise TaskFailed(f"the VM is {host.state.value}, not powered on")
            keys.remember_address(host.ip)
            guest, why_not = self._guest(host) if spec.engine_check else (None, "engine check skipped (--no-engine-check)")
            if guest is None:
                note = f"powered on at {host.ip}; {why_not}"
            else:
                self._tasks.update(task_id, progress=80, message=f"waiting for Docker Engine on {host.ip}")
                version = await guest.wait_engine(self.engine_timeout)
                note = f"powered on at {host.ip}; Docker Engine {version} answers"
            self._tasks.finish(task_id, TaskStatus.SUCCEEDED, message=note, result_id=vm_uuid)
        except asyncio.CancelledError:
            # The console closed (a CLI call without --wait): Prism goes on making the VM,
            # and its keys stay for the checks a later call makes.
            raise
        except Exception as err:
            reason = err.message if isinstance(err, BackendError) else (str(err) or type(err).__name__)
            self._tasks.update(task_id, message="cleaning up: deleting the half-made VM")
            if vm_uuid:
                await self._delete_quietly(vm_uuid)
            keys.discard()
            self._tasks.finish(task_id, TaskStatus.FAILED, error=f"{reason} (the VM was deleted)")

    async def _delete_quietly(self, vm_uuid: str) -> None:
        try:
            prism_task = await self.client.v3_delete("vm", vm_uuid)
            if prism_task:
                await self.client.wait_v3_task(prism_task, timeout=600)
        except BackendError:
            pass  # the create's own failure is the one to report

    async def _wait_for_ip(self, vm_uuid: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.ip_timeout
        delay = 0.5
        while True:
            vm = await self.client.v3_get("vm", vm_uuid)
            if parse.vm_ip(parse._res(vm)):
                return vm
            if time.monotonic() > deadline:
                raise TaskFailed(f"the VM got no IP address within {self.ip_timeout:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 10.0)

    async def delete_host(self, host_id: str) -> Task:
        host = self._host(await self.snapshot(), host_id)
        prism_task = await self.client.v3_delete("vm", host.id)
        task = self._tasks.start("delete_host", host.name, target_id=host.id, message="deleting the VM")

        async def steps() -> None:
            await self._prism_v3(task.id, prism_task, 0, 100)
            note = "deleted"
            if is_machine_id(host.id):
                try:
                    forget_machine(host.id)
                except InvalidInput as err:
                    note = f"deleted; its keys were left in place: {err.message}"
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message=note)

        self._tasks.run(task.id, steps())
        return task

    async def power_on_host(self, host_id: str) -> Task:
        return await self._power(host_id, "ON")

    async def power_off_host(self, host_id: str) -> Task:
        return await self._power(host_id, "OFF")

    async def _power(self, host_id: str, state: str) -> Task:
        host = self._host(await self.snapshot(), host_id)

        def edit(spec: dict[str, Any], metadata: dict[str, Any]) -> None:
            spec.setdefault("resources", {})["power_state"] = state

        prism_task = await self.client.v3_update("vm", host.id, edit)
        kind = "power_on_host" if state == "ON" else "power_off_host"
        task = self._tasks.start(kind, host.name, target_id=host.id, message=f"powering {state.lower()}")

        async def steps() -> None:
            await self._prism_v3(task.id, prism_task, 0, 100)
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message=f"powered {state.lower()}")

        self._tasks.run(task.id, steps())
        return task

    async def reboot_host(self, host_id: str) -> Task:
        """A power cycle: the v3 API this client speaks sets ``power_state`` to ON or OFF and
        has no reboot, so the VM is powered off, then on, each a Prism task waited for (a hard
        cycle, not a guest OS reboot)."""
        host = self._host(await self.snapshot(), host_id)
        if host.state is not HostState.RUNNING:
            raise Conflict(f"VM {host.name} is {host.state.value}, not running: power it on instead")

        def power(state: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
            def edit(spec: dict[str, Any], metadata: dict[str, Any]) -> None:
                spec.setdefault("resources", {})["power_state"] = state

            return edit

        off = await self.client.v3_update("vm", host.id, power("OFF"))
        task = self._tasks.start("reboot_host", host.name, target_id=host.id, message="powering off")

        async def steps() -> None:
            await self._prism_v3(task.id, off, 0, 50)
            on = await self.client.v3_update("vm", host.id, power("ON"))
            await self._prism_v3(task.id, on, 50, 100)
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message="power cycled (off, then on)")

        self._tasks.run(task.id, steps())
        return task

    async def shell(self, target_kind: Literal["host", "container"], target_id: str) -> ShellCommand:
        if target_kind == "container":
            return await self._engines.docker.shell("container", target_id)
        host = self._host(await self.snapshot(), target_id)
        guest, why_not = self._guest(host)
        keys = known_machine(host.id)
        if guest is None or keys is None:
            raise Unavailable(f"no shell on {host.name}: {why_not}")
        key, known = keys
        argv = ("ssh", "-i", str(key), "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes", f"docker@{host.ip}")
        return ShellCommand(argv, description=f"ssh to {host.name} ({host.ip})")

    # -- containers, on the engine that holds each ------------------------------------------

    async def run_container(self, spec: ContainerSpec) -> Task:
        host = self._host(await self.snapshot(), spec.host)
        run = self._engines.run_spec(spec, host)
        return await self._engines.docker.run_container(run)

    async def push_registries(self, host_ref: str, registries: "tuple[RegistryAuth, ...]") -> Task:
        """Write ``registries`` (credentials, CAs) into a machine's engine configuration over
        SSH, as cloud-init does at create time (``machine.registry_files``): for a registry
        added to the project after the machine was made. Replaces the engine's client config."""
        if self.read_only:  # not a contract action, so not guarded by the base class
            raise PermissionDenied("read-only mode: push registries is refused")
        host = self._host(await self.snapshot(), host_ref)
        files = registry_files(registries)
        if not files:
            raise InvalidInput(f"no registries to push to {host.name}")
        guest, why_not = self._guest(host)
        if guest is None:
            raise Unavailable(f"cannot reach {host.name} over SSH: {why_not}")

        async def work(task: TaskHandle) -> str:
            task.progress(20, f"writing {len(registries)} registr{'y' if len(registries) == 1 else 'ies'} on {host.name}")
            await guest.install_files(files)
            return host.id

        return self._tasks.start("push_registries", host.name, work, target_id=host.id)

    # -- images, on each machine's engine (ids "<VM id>/<image id>", as the inventory has them)

    async def pull_image(self, spec: PullSpec) -> Task:
        host = self._host(await self.snapshot(), spec.host)
        engine = self._engines.engine_of(host)
        return await self._engines.docker.pull_image(replace(spec, host=engine.endpoint.url))

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        vm_id, _, image = image_id.partition("/")
        host = self._host(await self.snapshot(), vm_id)
        engine = self._engines.engine_of(host)
        return await self._engines.docker.remove_image(f"{engine.host_id}/{image}", force=force)

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        host = self._host(await self.snapshot(), host_id)
        return await self._engines.docker.prune_images(self._engines.engine_of(host).host_id, unused=unused)

    async def start_container(self, container_id: str) -> Task:
        return await self._engines.docker.start_container(container_id)

    async def stop_container(self, container_id: str) -> Task:
        return await self._engines.docker.stop_container(container_id)

    async def restart_container(self, container_id: str) -> Task:
        return await self._engines.docker.restart_container(container_id)

    async def remove_container(self, container_id: str, *, force: bool = False) -> Task:
        return await self._engines.docker.remove_container(container_id, force=force)

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        return await self._engines.docker.inspect_container(container_id)

    def request_stats(self, container_ids: Iterable[str]) -> None:
        if self._engines.active:
            self._engines.docker.request_stats(container_ids)

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        return self._engines.docker.logs(container_id, follow=follow, tail=tail, since=since)

    # -- volumes ---------------------------------------------------------------------------

    async def create_volume(self, spec: VolumeSpec) -> Task:
        check_volume_name(spec.name)
        check_volume_size(spec.size_gib)
        inv = await self.snapshot()
        if any(v.name == spec.name for v in inv.volumes.values()):
            raise Conflict(f"a volume group named {spec.name} already exists")
        host = self._host(inv, spec.host) if spec.host else None
        cluster_uuid = self._cluster_for(vm_id=host.id if host else None)
        disk: dict[str, Any] = {"diskSizeBytes": int(spec.size_gib * GIB), "index": 0}
        if spec.storage_container:
            disk["storageContainerId"] = await self._storage_container(spec.storage_container)
        body = {
            "name": spec.name,
            "description": "persistent volume made by ntnx-console",
            "sharingStatus": "NOT_SHARED",
            "usageType": "USER",
            "clusterReference": cluster_uuid,
            "disks": [disk],
        }
        prism_task = await self.client.create_volume_group(body)
        task = self._tasks.start("create_volume", spec.name, message="creating the volume group")

        async def steps() -> None:
            final = await self._prism_v4(task.id, prism_task, 0, 40 if host else 100)
            vg_id = _affected(final, "volume-group")
            self._tasks.update(task.id, target_id=vg_id, result_id=vg_id)
            if host is None:
                self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message="created", result_id=vg_id)
                return
            note = await self._attach_steps(task.id, vg_id, spec.name, host, 40)
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message=note, result_id=vg_id)

        self._tasks.run(task.id, steps())
        return task

    async def _storage_container(self, ref: str) -> str:
        containers = await self.client.storage_containers()
        for item in containers:
            if ref in (item.get("containerExtId"), item.get("extId"), item.get("name")):
                return str(item.get("containerExtId") or item.get("extId"))
        raise NotFound(f"storage container {ref!r} not found")

    async def attach_volume(
        self, volume_id: str, host_id: str, *, container_id: str | None = None, mount_path: str | None = None
    ) -> Task:
        inv = await self.snapshot()
        volume: Volume = resolve(inv.volumes.values(), volume_id, "volume")
        host = self._host(inv, host_id)
        if volume.host_id == host.id:
            raise Conflict(f"volume {volume.name} is already attached to {host.name}")
        if volume.host_id:
            other = inv.hosts.get(volume.host_id)
            raise Conflict(
                f"volume {volume.name} is attached to {other.name if other else volume.host_id} "
                "(a volume group is attached to one host at a time): detach it first"
            )
        if container_id:
            raise InvalidInput(
                "the prism backend attaches volumes to machines; run the container with the Docker volume of the same name"
            )
        task = self._tasks.start("attach_volume", f"{volume.name} -> {host.name}", target_id=volume.id)

        async def steps() -> None:
            note = await self._attach_steps(task.id, volume.id, volume.name, host, 0)
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message=note, result_id=volume.id)

        self._tasks.run(task.id, steps())
        return task

    async def _attach_steps(self, task_id: str, vg_id: str, name: str, host: Host, low: int) -> str:
        guest, why_not = self._guest(host)
        disks_before: set[str] = set()
        if guest is not None:
            try:
                disks_before = await guest.disks()
            except Unavailable as err:
                # The volume group still attaches; mounting waits for a reachable machine.
                guest, why_not = None, f"machine unreachable over SSH ({err.message})"
        self._tasks.update(task_id, message=f"attaching the volume group to {host.name}", progress=low)
        prism_task = await self.client.attach_vm(vg_id, host.id)
        await self._prism_v4(task_id, prism_task, low, 80 if guest else 100)
        if guest is None:
            return f"attached to {host.name}; disk not mounted: {why_not}"
        self._tasks.update(task_id, message="mounting the disk and creating the Docker volume", progress=85)
        mount = await guest.prepare_volume(name, disks_before)
        return f"attached to {host.name}, mounted at {mount}, Docker volume {name}"

    async def detach_volume(self, volume_id: str) -> Task:
        inv = await self.snapshot()
        volume: Volume = resolve(inv.volumes.values(), volume_id, "volume")
        if not volume.host_id:
            raise Conflict(f"volume {volume.name} is not attached")
        if volume.container_ids:
            raise Conflict(f"volume {volume.name} is used by {len(volume.container_ids)} container(s): remove them first")
        host = inv.hosts.get(volume.host_id)
        guest, why_not = self._guest(host) if host else (None, "its machine is gone")
        if guest is not None:
            await guest.release_volume(volume.name)  # refuses while a container uses it
        prism_task = await self.client.detach_vm(volume.id, volume.host_id)
        task = self._tasks.start("detach_volume", volume.name, target_id=volume.id, message="detaching")

        async def steps() -> None:
            await self._prism_v4(task.id, prism_task, 0, 100)
            note = "detached" if guest else f"detached; nothing unmounted in the guest: {why_not}"
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message=note)

        self._tasks.run(task.id, steps())
        return task

    async def delete_volume(self, volume_id: str) -> Task:
        volume: Volume = resolve((await self.snapshot()).volumes.values(), volume_id, "volume")
        if volume.host_id:
            raise Conflict(f"volume {volume.name} is attached: detach it first")
        prism_task = await self.client.delete_volume_group(volume.id)
        task = self._tasks.start("delete_volume", volume.name, target_id=volume.id, message="deleting")

        async def steps() -> None:
            await self._prism_v4(task.id, prism_task, 0, 100)
            self._disks.pop(volume.id, None)
            self._tasks.finish(task.id, TaskStatus.SUCCEEDED, message="deleted")

        self._tasks.run(task.id, steps())
        return task

    # -- upgrades ----------------------------------------------------------------------------

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        inv = await self.snapshot()
        hosts = [self._host(inv, ref) for ref in spec.host_ids]
        if not hosts:
            raise InvalidInput("no hosts to upgrade")
        for host in hosts:
            if host.role != parse.ROLE_VALUE:
                raise InvalidInput(f"{host.name} is not a container machine")
        plan = plan_waves(hosts, spec.target_version, spec.batch_size, inventory=inv)
        if self.simulated and spec.target_version not in await self.upgrade_versions():
            raise InvalidInput(f"no image carries Docker {spec.target_version}")
        parent = self._tasks.start(
            "upgrade_hosts", f"{plan.host_count} hosts to {spec.target_version}", message=f"{len(plan.waves)} waves"
        )
        children = {  # each one lands in the parent's child_ids as it starts
            p.host_id: self._tasks.start(
                "upgrade_host", p.name, target_id=p.host_id, parent_id=parent.id, status=TaskStatus.QUEUED
            ).id
            for w in plan.waves
            for p in w.hosts
        }
        control = WaveControl()
        self._controls[parent.id] = control
        done = 0

        async def upgrade_one(planned: PlannedHost) -> None:
            nonlocal done
            child = children[planned.host_id]
            self._tasks.update(child, status=TaskStatus.RUNNING, message=f"upgrading from {planned.from_version}")
            try:
                await self._upgrade_one(child, inv.hosts[planned.host_id], spec.target_version)
            except Exception as err:
                reason = err.message if isinstance(err, BackendError) else str(err) or type(err).__name__
                self._tasks.finish(child, TaskStatus.FAILED, error=reason)
                raise
            self._tasks.finish(child, TaskStatus.SUCCEEDED, message=f"Docker {spec.target_version}")
            done += 1
            self._tasks.update(parent.id, progress=100 * done // plan.host_count)

        back: dict[int, dict[str, str]] = {}  # wave number -> the containers that must come back

        def on_wave(w: Wave) -> None:
            back[w.number] = expected_back(self._poller.current, [h.host_id for h in w.hosts])
            self._tasks.update(parent.id, message=f"wave {w.number} of {len(plan.waves)}")

        async def health_gate(w: Wave) -> None:
            # After the wave: its containers run again (healthy, where they have a check), as
            # the engines report them through the next polls.
            expected = back.pop(w.number, {})
            if expected:
                self._tasks.update(parent.id, message=f"wave {w.number}: waiting for {len(expected)} container(s)")
                self._poller.poll_now()
            await wait_back(w, expected, lambda: self._poller.current, asyncio.sleep)

        async def steps() -> None:
            try:
                outcome = await run_waves(
                    plan,
                    upgrade_one,
                    control=control,
                    continue_on_failure=spec.continue_on_failure,
                    on_wave=on_wave,
                    after_wave=health_gate,
                )
            finally:
                self._controls.pop(parent.id, None)
            for host_id in outcome.not_started:
                self._tasks.finish(children[host_id], TaskStatus.ABORTED, error="not started")
            if outcome.aborted:
                self._tasks.finish(parent.id, TaskStatus.ABORTED, error="aborted by the user")
            elif outcome.failed:
                names = ", ".join(inv.hosts[h].name for h, _ in outcome.failed)
                self._tasks.finish(parent.id, TaskStatus.FAILED, error=f"failed on {names}: {outcome.failed[0][1]}")
            else:
                self._tasks.finish(parent.id, TaskStatus.SUCCEEDED, message=f"{len(outcome.succeeded)} hosts upgraded")

        self._tasks.run(parent.id, steps())
        return parent

    async def _upgrade_one(self, task_id: str, host: Host, version: str) -> None:
        guest, why_not = self._guest(host)
        if guest is not None:
            self._tasks.update(task_id, message=f"installing Docker {version} over SSH", progress=10)
            reported = await guest.upgrade_engine(version)
            if reported != version:
                raise TaskFailed(f"the engine reports {reported} after the upgrade, not {version}")
        elif not self.simulated:
            raise Unavailable(f"cannot upgrade {host.name}: {why_not}")

        def edit(spec: dict[str, Any], metadata: dict[str, Any]) -> None:
            metadata.setdefault("categories", {})[parse.ENGINE_CATEGORY] = version

        self._tasks.update(task_id, message="recording the engine version on the VM", progress=50 if guest else 5)
        prism_task = await self.client.v3_update("vm", host.id, edit)
        await self._prism_v3(task_id, prism_task, 50 if guest else 5, 100)

    async def pause_task(self, task_id: str) -> Task:
        self._control(task_id).pause()
        return self._tasks.update(task_id, status=TaskStatus.PAUSED)

    async def resume_task(self, task_id: str) -> Task:
        self._control(task_id).resume()
        return self._tasks.update(task_id, status=TaskStatus.RUNNING)

    async def abort_task(self, task_id: str) -> Task:
        self._control(task_id).abort()
        return self._tasks.get(task_id)  # type: ignore[return-value]

    def _control(self, task_id: str) -> WaveControl:
        control = self._controls.get(task_id)
        if control is None:
            if self._tasks.get(task_id) is None:
                raise NotFound(f"task {task_id} not found")
            raise InvalidInput("only a running upgrade can be paused, resumed or aborted")
        return control


def _named(task: Task, inv: Inventory) -> Task:
    """Prism's tasks name their entity by uuid only: show the VM's name when it is known."""
    host = inv.hosts.get(task.target_id or "")
    return replace(task, target=host.name) if host is not None else task


def _check_quota(project, spec: HostSpec, image: Image) -> None:
    """Refuse before sending anything when the machine would not fit the project's quota."""
    quota, used = project.quota, project.used
    asks = (
        ("vCPUs", quota.vcpus, (used.vcpus or 0) + spec.cores),
        ("memory MiB", quota.memory_mib, (used.memory_mib or 0) + spec.memory_mib),
        ("VMs", quota.vms, (used.vms or 0) + 1),
        ("storage GiB", quota.storage_gib, (used.storage_gib or 0) + image.size_gib),
    )
    for what, limit, total in asks:
        if limit is not None and total > limit:
            raise QuotaExceeded(f"project {project.name}: {what} quota {limit} would be exceeded ({total:g})")


def _affected(task: dict[str, Any], kind: str) -> str:
    for entity in task.get("entitiesAffected") or []:
        if kind in str(entity.get("rel", "")) or kind in str(entity.get("$objectType", "")):
            return str(entity["extId"])
    affected = task.get("entitiesAffected") or []
    if affected:
        return str(affected[0]["extId"])
    raise TaskFailed("Prism did not say which volume group it created")
