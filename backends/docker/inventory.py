"""One engine's containers and volumes: a full list, then live from ``/events``.

Events only mark containers dirty; a flush a moment later re-lists just those (one filtered
``/containers/json`` call for many events), so a burst of events costs one request. A
periodic full resync (driven by ``engine.Engine``) is the safety net for anything missed.
Details the list lacks (restart policy, start/finish times) come from ``inspect``, in the
background with bounded concurrency. Stats are one-shot (``stream=false``), only for the
containers asked for, bounded, and never two in flight for one container.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Iterable

from ..errors import BackendError
from ..models import Container, ContainerState, Event, HostImage, Mount, PortBinding, Severity, Volume, VolumeState
from .api import DockerAPI
from .images import host_image_from_list, list_images

# Image events that change the engine's list of images (push, save and export do not).
_IMAGE_ACTIONS = ("pull", "tag", "untag", "delete", "import", "load", "prune")
# Container events that change nothing the inventory shows.
_QUIET_ACTIONS = ("exec_", "attach", "resize", "top", "archive-path", "extract-to-dir", "copy", "export", "commit")
_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")
FLUSH_DELAY = 0.1
STATS_CONCURRENCY = 4
DETAIL_CONCURRENCY = 4
EVENTS_KEPT = 200  # per engine: the console's event list, not an archive


def parse_time(text: str | None) -> float | None:
    """Docker's RFC 3339 times (nanoseconds, 'Z') to POSIX seconds; the zero time is None."""
    if not text or text.startswith("0001-"):
        return None
    main, _, rest = text.partition(".")
    zone = ""
    if rest:
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        zone = rest[len(digits):]
        frac = float(f"0.{digits}") if digits else 0.0
    else:
        m = re.match(r"(.*?)(Z|[+-]\d\d:\d\d)?$", main)
        main, zone, frac = m.group(1), m.group(2) or "", 0.0  # type: ignore[union-attr]
    zone = "+00:00" if zone in ("Z", "") else zone
    return datetime.fromisoformat(main + zone).timestamp() + frac


def container_from_list(item: dict[str, Any], host_id: str, volume_id: Callable[[str], str]) -> Container:
    """A Container from one entry of ``GET /containers/json``."""
    names = item.get("Names") or [""]
    state = item.get("State") or "created"
    status = item.get("Status") or ""
    exit_match = _EXIT_CODE.search(status)
    ports = tuple(
        PortBinding(
            container_port=int(p["PrivatePort"]),
            protocol=p.get("Type", "tcp"),
            host_port=p.get("PublicPort"),
            host_ip=p.get("IP"),
        )
        for p in item.get("Ports") or ()
    )
    mounts = tuple(
        Mount(
            source=volume_id(m["Name"]) if m.get("Type") == "volume" and m.get("Name") else m.get("Source", ""),
            path=m.get("Destination", ""),
            kind="volume" if m.get("Type") == "volume" else "bind",
            read_only=not m.get("RW", True),
        )
        for m in item.get("Mounts") or ()
    )
    return Container(
        id=item["Id"],
        name=names[0].lstrip("/"),
        image=item.get("Image", ""),
        host_id=host_id,
        state=ContainerState(state) if state in ContainerState._value2member_map_ else ContainerState.DEAD,
        status=status,
        command=item.get("Command", ""),
        ports=ports,
        mounts=mounts,
        labels=tuple(sorted((item.get("Labels") or {}).items())),
        restart_policy="",  # unknown until inspected: the list does not carry it
        exit_code=int(exit_match.group(1)) if exit_match else None,
        created_at=float(item.get("Created") or 0),
    )


def details_from_inspect(container: Container, data: dict[str, Any]) -> Container:
    host_config = data.get("HostConfig") or {}
    state = data.get("State") or {}
    policy = (host_config.get("RestartPolicy") or {}).get("Name") or "no"
    memory = host_config.get("Memory") or 0
    return replace(
        container,
        restart_policy=policy,
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        exit_code=state.get("ExitCode") if container.state in (ContainerState.EXITED, ContainerState.DEAD) else None,
        memory_limit_mib=memory / 2**20 if memory else container.memory_limit_mib,
    )


def cpu_and_memory(stats: dict[str, Any]) -> tuple[float, float, float | None]:
    """(CPU % of one core, memory MiB, limit MiB) from a one-shot stats sample, as ``docker stats``."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    percent = cpu_delta / system_delta * cpus * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    mem = stats.get("memory_stats") or {}
    extra = mem.get("stats") or {}
    # docker stats subtracts the page cache: inactive_file (cgroup v2) or cache (v1).
    used = mem.get("usage", 0) - extra.get("inactive_file", extra.get("total_inactive_file", extra.get("cache", 0)))
    limit = mem.get("limit")
    return round(percent, 2), max(used, 0) / 2**20, (limit / 2**20 if limit else None)


class EngineInventory:
    """The containers and volumes of one engine, kept current; ``on_change`` is called after
    anything changed (the backend coalesces and publishes)."""

    def __init__(self, api: DockerAPI, host_id: str, on_change: Callable[[], None]) -> None:
        self.api = api
        self.host_id = host_id
        self._on_change = on_change
        self.containers: dict[str, Container] = {}
        self.volumes_raw: dict[str, dict[str, Any]] = {}
        self.images_raw: dict[str, dict[str, Any]] = {}  # image id -> its /images/json entry
        self._image_of: dict[str, str] = {}  # container id -> the id of the image it was made from
        self._images_dirty = False
        self._detailed: dict[str, Container] = {}  # id -> the list entry the details were merged into
        self._dirty: set[str] = set()
        self._volumes_dirty = False
        self._flush_task: asyncio.Task[None] | None = None
        self._detail_sem = asyncio.Semaphore(DETAIL_CONCURRENCY)
        self._detail_tasks: dict[str, asyncio.Task[None]] = {}
        self._stats_sem = asyncio.Semaphore(STATS_CONCURRENCY)
        self._stats_in_flight: dict[str, asyncio.Task[None]] = {}
        self._stats: dict[str, tuple[float, float, float | None]] = {}
        self.events: dict[str, Event] = {}  # insertion-ordered: oldest first
        self._event_count = 0

    def volume_id(self, name: str) -> str:
        return f"{self.host_id}/{name}"

    # -- views ----------------------------------------------------------------------------

    def container_values(self) -> Iterable[Container]:
        for cid, c in self.containers.items():
            figures = self._stats.get(cid)
            if figures is not None and c.state is ContainerState.RUNNING:
                cpu, mem, limit = figures
                c = replace(c, cpu_percent=cpu, memory_mib=mem, memory_limit_mib=c.memory_limit_mib or limit)
            yield c

    def volume_values(self) -> Iterable[Volume]:
        users: dict[str, list[str]] = {}
        for c in self.containers.values():
            for m in c.mounts:
                if m.kind == "volume":
                    users.setdefault(m.source, []).append(c.id)
        for name, raw in self.volumes_raw.items():
            vid = self.volume_id(name)
            mounted_by = tuple(sorted(users.get(vid, ())))
            yield Volume(
                id=vid,
                name=name,
                size_gib=0.0,  # Docker reports sizes only through the costly /system/df
                state=VolumeState.ATTACHED if mounted_by else VolumeState.AVAILABLE,
                host_id=self.host_id,
                container_ids=mounted_by,
                driver=raw.get("Driver") or "local",
                mount_point=raw.get("Mountpoint"),
                created_at=parse_time(raw.get("CreatedAt")) or 0.0,
            )

    def image_users(self) -> dict[str, tuple[str, ...]]:
        """Image id -> the containers (running or not) made from it, sorted."""
        users: dict[str, list[str]] = {}
        for cid, image_id in self._image_of.items():
            if cid in self.containers:
                users.setdefault(image_id, []).append(cid)
        return {k: tuple(sorted(v)) for k, v in users.items()}

    def image_values(self) -> Iterable[HostImage]:
        users = self.image_users()
        for image_id, raw in self.images_raw.items():
            yield host_image_from_list(raw, self.host_id, users.get(image_id, ()))

    # -- reading the engine ---------------------------------------------------------------

    async def full_resync(self) -> None:
        items = await self.api.get("/containers/json", all=True)
        volumes = (await self.api.get("/volumes")).get("Volumes") or []
        images = await list_images(self.api)
        fresh = {}
        for item in items:
            fresh[item["Id"]] = self._with_details(container_from_list(item, self.host_id, self.volume_id))
        self.containers = fresh
        self._image_of = {item["Id"]: str(item.get("ImageID") or "") for item in items}
        self.volumes_raw = {v["Name"]: v for v in volumes}
        self.images_raw = images
        for gone in self._stats.keys() - fresh.keys():
            self._stats.pop(gone, None)
        self._on_change()
        self._fetch_missing_details()

    async def refresh_containers(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            items = await self.api.get("/containers/json", all=True, filters={"id": chunk})
            found = {item["Id"]: item for item in items}
            for cid in chunk:
                # The id filter matches prefixes: keep only exact ids.
                item = found.get(cid)
                if item is None:
                    self.containers.pop(cid, None)
                    self._detailed.pop(cid, None)
                    self._stats.pop(cid, None)
                    self._image_of.pop(cid, None)
                else:
                    self._image_of[cid] = str(item.get("ImageID") or "")
                    # Keep the old details on show until fresh ones arrive: an event may have changed them.
                    self.containers[cid] = self._with_details(container_from_list(item, self.host_id, self.volume_id))
                    self._detailed.pop(cid, None)
        self._on_change()
        self._fetch_missing_details()

    async def refresh_volumes(self) -> None:
        volumes = (await self.api.get("/volumes")).get("Volumes") or []
        self.volumes_raw = {v["Name"]: v for v in volumes}
        self._on_change()

    async def refresh_images(self) -> None:
        self.images_raw = await list_images(self.api)
        self._on_change()

    def _with_details(self, listed: Container) -> Container:
        known = self._detailed.get(listed.id)
        if known is None:
            return listed
        return replace(
            listed,
            restart_policy=known.restart_policy,
            started_at=known.started_at,
            finished_at=known.finished_at,
            memory_limit_mib=known.memory_limit_mib,
            exit_code=known.exit_code if listed.exit_code is not None else None,
        )

    def _fetch_missing_details(self) -> None:
        for cid in self.containers.keys() - self._detailed.keys() - self._detail_tasks.keys():
            self._detail_tasks[cid] = asyncio.create_task(self._fetch_details(cid))

    async def _fetch_details(self, cid: str) -> None:
        try:
            async with self._detail_sem:
                data = await self.api.get(f"/containers/{cid}/json")
            current = self.containers.get(cid)
            if current is not None:
                detailed = details_from_inspect(current, data)
                self._detailed[cid] = detailed
                self.containers[cid] = detailed
                self._on_change()
        except BackendError:
            pass  # gone, or the engine went away: the next event or resync tries again
        finally:
            self._detail_tasks.pop(cid, None)

    # -- events ---------------------------------------------------------------------------

    def add_event(self, severity: Severity, target: str, message: str, *, kind: str, target_id: str | None = None,
                  when: float | None = None) -> None:
        self._event_count += 1
        event_id = f"{self.host_id}-ev{self._event_count}"
        self.events[event_id] = Event(event_id, when or time.time(), severity, target, message, target_id, kind)
        while len(self.events) > EVENTS_KEPT:
            self.events.pop(next(iter(self.events)))
        self._on_change()

    def on_event(self, event: dict[str, Any]) -> None:
        kind, action = event.get("Type"), event.get("Action") or ""
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        when = (event.get("timeNano") or 0) / 1e9 or None
        if kind == "container":
            if action.startswith(_QUIET_ACTIONS):
                return
            cid = actor.get("ID") or event.get("id")
            if cid:
                self._dirty.add(cid)
            name = attributes.get("name") or (cid or "")[:12]
            exit_code = attributes.get("exitCode")
            severity = Severity.INFO
            if action == "oom" or (action == "die" and exit_code not in (None, "0")):
                severity = Severity.ERROR if action == "oom" else Severity.WARNING
            detail = f" (exit {exit_code})" if action == "die" and exit_code is not None else ""
            self.add_event(severity, name, f"container {name}: {action}{detail}", kind=f"container.{action}",
                           target_id=cid, when=when)
        elif kind == "volume":
            if action in ("mount", "unmount"):
                return
            self._volumes_dirty = True
            name = actor.get("ID") or ""
            self.add_event(Severity.INFO, name, f"volume {name}: {action}", kind=f"volume.{action}",
                           target_id=self.volume_id(name), when=when)
        elif kind == "image":
            if action not in _IMAGE_ACTIONS:
                return
            self._images_dirty = True
            name = attributes.get("name") or (actor.get("ID") or "")[:19]
            self.add_event(Severity.INFO, name, f"image {name}: {action}", kind=f"image.{action}", when=when)
        else:
            return
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        # Until nothing is dirty: an event that arrives while a refresh is under way finds this
        # task running and schedules no other, so its item is picked up by the next round here
        # (without the loop it waited for the next event or the 30 s resync).
        while self._dirty or self._volumes_dirty or self._images_dirty:
            await asyncio.sleep(FLUSH_DELAY)  # let a burst of events gather
            ids, self._dirty = self._dirty, set()
            volumes, self._volumes_dirty = self._volumes_dirty, False
            images, self._images_dirty = self._images_dirty, False
            try:
                if ids:
                    await self.refresh_containers(ids)
                if volumes:
                    await self.refresh_volumes()
                if images:
                    # One list for a whole pull's or prune's burst of events (a pull tags, a
                    # prune deletes many): the engine has no filter by image id that is cheaper.
                    await self.refresh_images()
            except BackendError:
                # The engine went away: its supervisor resyncs everything when it is back.
                self._dirty |= ids
                self._volumes_dirty |= volumes
                self._images_dirty |= images
                return

    # -- stats ----------------------------------------------------------------------------

    def request_stats(self, ids: Iterable[str]) -> None:
        for cid in ids:
            c = self.containers.get(cid)
            if c is None or c.state is not ContainerState.RUNNING or cid in self._stats_in_flight:
                continue
            self._stats_in_flight[cid] = asyncio.create_task(self._fetch_stats(cid))

    def stats_in_flight(self) -> frozenset[str]:
        return frozenset(self._stats_in_flight)

    async def _fetch_stats(self, cid: str) -> None:
        try:
            async with self._stats_sem:
                # stream=false (not one-shot): the engine samples twice, so CPU% is meaningful.
                stats = await self.api.get(f"/containers/{cid}/stats", stream=False)
            self._stats[cid] = cpu_and_memory(stats)
            self._on_change()
        except BackendError:
            pass
        finally:
            self._stats_in_flight.pop(cid, None)

    def cancel_background(self) -> None:
        for task in [self._flush_task, *self._detail_tasks.values(), *self._stats_in_flight.values()]:
            if task is not None and not task.done():
                task.cancel()
        self._detail_tasks.clear()
        self._stats_in_flight.clear()
