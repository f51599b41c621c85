"""Several contexts at once (issue 14): one ``Backend`` made of ``{context name: Backend}``.

The console and the CLI see one inventory. Every id is namespaced ``CONTEXT/ID`` (a context
name never holds the separator: ``backends.validation.context_name_problem``), and every
reference between items is rewritten through one table, ``REFERENCES``, so that a reference
always names an item of the same merged inventory. ``tests/fleet/`` fails when a model gains
an ``*_id`` / ``*_ids`` field this table does not know.

- ``snapshot()`` merges the children's; ``updates()`` merges their streams: each child batch
  is re-numbered with this backend's own increasing ``seq``; a child's ``ConnectionChanged``
  becomes this backend's state (CONNECTED when all are, DEGRADED naming the contexts that are
  not, UNREACHABLE when none is). ``context_states()`` keeps each context's state and the
  moment its data was last fresh, for the header.
- A context that cannot connect leaves the others live; it is retried with backoff and its
  items arrive as upserts once it answers. A context lost later keeps its last data, as the
  children do.
- Actions go to the context of the item (or of what a spec names: a host, a network, a
  volume, a service); a context whose backend cannot do it refuses, naming the context.
- ``add()`` / ``remove()`` at run time publish that context's items as upserts / deletes.

Not a registry entry: nobody picks ``--backend fleet``; the CLI and the console build one when
more than one context is named.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable, Literal

from .contract import (
    KIND_NAMES,
    Backend,
    Capability,
    Change,
    ChangeBatch,
    ConfigSpec,
    ConnectionChanged,
    ConnectionState,
    ContainerSpec,
    HostSpec,
    Inventory,
    LogLine,
    PullSpec,
    ScaleSpec,
    SecretSpec,
    ServiceSpec,
    ServiceUpdateSpec,
    ShellCommand,
    UpgradeSpec,
    Update,
    VolumeSpec,
)
from .errors import BackendError, InvalidInput, NotFound, PermissionDenied, one_line
from .models import Config, Container, Event, Host, HostImage, Image, Network, Node, Project, Secret, Service, StatsSample, Task, Volume
from .poller import Broadcast
from .validation import CONTEXT_SEPARATOR, check_context_name

SEP = CONTEXT_SEPARATOR
RETRY_MAX = 30.0  # seconds between attempts to reach a context that is down

# -- the one table of references ----------------------------------------------------------------
#
# For each model, its fields that hold the id of another inventory item: "one" (an id or None)
# or "many" (a tuple of ids). ``id`` itself is always namespaced.
REFERENCES: dict[type, dict[str, Literal["one", "many"]]] = {
    Host: {"node_id": "one", "project_id": "one", "image_id": "one", "network_id": "one"},
    Container: {"host_id": "one"},  # and its volume mounts' sources: MOUNT_SOURCES
    Volume: {"host_id": "one", "container_ids": "many"},
    Task: {"target_id": "one", "parent_id": "one", "child_ids": "many", "result_id": "one"},
    Event: {"target_id": "one"},
    Service: {"secret_ids": "many", "config_ids": "many"},
    HostImage: {"host_id": "one", "container_ids": "many"},
    Image: {},
    Network: {},
    Project: {},
    Node: {},
    Secret: {},
    Config: {},
}
# Fields named like references that are not: the engine's own image digest ("sha256:..."),
# which names no inventory item and is what `docker image ls` shows; a network's VLAN number.
NOT_REFERENCES: dict[type, frozenset[str]] = {HostImage: frozenset({"image_id"}), Network: frozenset({"vlan_id"})}
# A container's mounts: ``Mount.source`` is a volume id for a volume mount, a host path for a
# bind mount (left as it is).
MOUNT_SOURCES = "volume"


def namespaced(context: str, item_id: str | None) -> str | None:
    return None if item_id is None else f"{context}{SEP}{item_id}"


def split_id(fleet_id: str) -> tuple[str, str]:
    """``"ctx/id"`` as ``("ctx", "id")``; the context is before the first separator (an id of
    its own may hold more: a host image's ``host/image``)."""
    context, found, rest = fleet_id.partition(SEP)
    if not found or not context:
        raise NotFound(f"{fleet_id!r} names no context: use CONTEXT{SEP}ID")
    return context, rest


def _rewrite(item: Any, change: Callable[[str], str]) -> Any:
    """``item`` with its id and every reference of ``REFERENCES`` passed through ``change``."""
    refs = REFERENCES[type(item)]
    values: dict[str, Any] = {"id": change(item.id)}
    for name, how in refs.items():
        value = getattr(item, name)
        if how == "one":
            values[name] = None if value is None else change(value)
        else:
            values[name] = tuple(change(v) for v in value)
    if type(item) is Container and item.mounts:
        values["mounts"] = tuple(
            dataclasses.replace(m, source=change(m.source)) if m.kind == MOUNT_SOURCES else m for m in item.mounts
        )
    return dataclasses.replace(item, **values)


def to_fleet(context: str, item: Any) -> Any:
    prefix = f"{context}{SEP}"
    return _rewrite(item, lambda ref: prefix + ref)


def from_fleet(context: str, item: Any) -> Any:
    prefix = f"{context}{SEP}"
    return _rewrite(item, lambda ref: ref[len(prefix):] if ref.startswith(prefix) else ref)


def merge_into(merged: Inventory, context: str, inv: Inventory) -> None:
    prefix = f"{context}{SEP}"
    for kind in KIND_NAMES:
        table = merged.of(kind)
        for item_id, item in inv.of(kind).items():
            table[prefix + item_id] = to_fleet(context, item)


@dataclass(frozen=True, slots=True)
class ContextState:
    """One context as the header shows it."""

    name: str
    kind: str  # its backend's kind
    state: ConnectionState
    reason: str = ""
    fresh_at: float | None = None  # when its data was last known good (time.time())
    simulated: bool = False
    read_only: bool = False

    def age(self, now: float | None = None) -> float | None:
        if self.fresh_at is None or self.state is not ConnectionState.UNREACHABLE:
            return None
        return max(0.0, (now or time.time()) - self.fresh_at)


class _Context:
    def __init__(self, name: str, backend: Backend, reopen: Callable[[], Backend] | None) -> None:
        self.name = name
        self.backend = backend
        self.reopen = reopen
        self.connected = False
        self.state = ConnectionState.UNREACHABLE
        self.reason = "connecting"
        self.fresh_at: float | None = None
        self.known: dict[str, set[str]] = {kind: set() for kind in KIND_NAMES}  # child ids we published
        self.child_seq = 0  # the child's seq of what is already published
        # Connected before anyone could subscribe (by connect(), or handed over connected):
        # its first picture is in every snapshot taken after, so it is not sent again.
        self.quiet_first = False
        self.pump: asyncio.Task[None] | None = None


class FleetBackend(Backend):
    kind = "fleet"

    def __init__(
        self,
        children: dict[str, Backend],
        *,
        reopen: dict[str, Callable[[], Backend]] | None = None,
        connected: Iterable[str] = (),
        follow: bool = True,
        label: str = "",
    ) -> None:
        """``reopen``: how to make a context's backend afresh after its connect failed half
        way; ``connected``: contexts whose backend is connected already (a console that had
        one context and opens a second); ``follow=False``: no change streams (a CLI call
        reads snapshots and waits on tasks only)."""
        for name in children:
            check_context_name(name)
        self._contexts: dict[str, _Context] = {}
        self._reopen = dict(reopen or {})
        for name, backend in children.items():
            self._contexts[name] = _Context(name, backend, self._reopen.get(name))
        for name in connected:
            context = self._contexts[name]
            context.connected, context.state, context.reason, context.fresh_at = True, ConnectionState.CONNECTED, "", time.time()
            context.quiet_first = True
        super().__init__(read_only=False, label=label or ", ".join(children))
        self._broadcast = Broadcast()
        self._seq = 0
        self._started = False
        self._started_pumps = False  # after this, a context that connects has its items sent
        self._follow = follow
        self._state: tuple[ConnectionState, str] | None = None

    # -- what it is ------------------------------------------------------------------------

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        # Read-only is each context's own; the fleet is read-only only when every one is.
        return bool(self._contexts) and all(c.backend.read_only for c in self._contexts.values())

    @read_only.setter
    def read_only(self, value: bool) -> None:
        if value:
            for context in getattr(self, "_contexts", {}).values():
                context.backend.read_only = True

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """The union, for display; each action is still refused by a context that lacks it."""
        found: frozenset[Capability] = frozenset()
        for context in self._contexts.values():
            found |= context.backend.capabilities
        return found

    @property
    def simulated(self) -> bool:
        return any(c.backend.simulated for c in self._contexts.values())

    @property
    def clock(self) -> Any:
        """A simulated context's virtual clock, so that the console's times follow it as they
        do with the simulator alone; no such attribute without one."""
        for context in self._contexts.values():
            clock = getattr(context.backend, "clock", None)
            if clock is not None:
                return clock
        raise AttributeError("clock")

    @property
    def contexts(self) -> list[str]:
        return list(self._contexts)

    def kind_for(self, item_ids: Iterable[str]) -> str:
        contexts = {item_id.partition(SEP)[0] for item_id in item_ids}
        if len(contexts) == 1 and (name := contexts.pop()) in self._contexts:
            return self._contexts[name].backend.kind
        return self.kind

    def child(self, context: str) -> Backend:
        try:
            return self._contexts[context].backend
        except KeyError:
            known = ", ".join(self._contexts)
            raise NotFound(f"no context {context!r} is open (open: {known})") from None

    def context_states(self) -> list[ContextState]:
        return [
            ContextState(c.name, c.backend.kind, c.state, c.reason, c.fresh_at, c.backend.simulated, c.backend.read_only)
            for c in self._contexts.values()
        ]

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect every context at once. Never raises: a context that fails is unreachable
        with the reason and retried; ``unreachable()`` says when none answered."""
        self._started = True
        await asyncio.gather(*(self._connect_one(c) for c in self._contexts.values() if not c.connected))
        self._started_pumps = True
        for context in self._contexts.values():
            if self._follow:
                self._start_pump(context)
        self._publish_state()

    async def _connect_one(self, context: _Context) -> None:
        try:
            await context.backend.connect()
        except Exception as err:  # a context failing leaves the others live
            context.state, context.reason = ConnectionState.UNREACHABLE, one_line(err)
            if context.reopen is not None:
                await _close_quietly(context.backend)
                context.backend = context.reopen()
            return
        context.connected = True
        context.state, context.reason = ConnectionState.CONNECTED, ""
        context.fresh_at = time.time()
        if not self._started_pumps:
            context.quiet_first = True

    def unreachable(self) -> list[ContextState]:
        """The contexts not connected; all of them means nothing answered."""
        return [s for s in self.context_states() if s.state is ConnectionState.UNREACHABLE]

    async def close(self) -> None:
        contexts = list(self._contexts.values())
        for context in contexts:
            if context.pump is not None:
                context.pump.cancel()
        for context in contexts:
            if context.pump is not None:
                try:
                    await context.pump
                except (asyncio.CancelledError, Exception):
                    pass
        self._broadcast.close()
        errors = []
        for context in contexts:
            try:
                await context.backend.close()
            except BackendError as err:  # e.g. a --demo-state not saved: said, the rest closed
                errors.append(err)
        if errors:
            raise errors[0]

    async def add(self, name: str, backend: Backend, reopen: Callable[[], Backend] | None = None) -> None:
        """Open one more context at run time; its items arrive as upserts once it answers."""
        check_context_name(name)
        if name in self._contexts:
            raise InvalidInput(f"context {name!r} is open already")
        context = _Context(name, backend, reopen)
        self._contexts[name] = context
        self._publish_state()
        if self._started and self._follow:
            self._start_pump(context)

    async def remove(self, name: str) -> None:
        """Close one context; its items are published as deletes."""
        context = self._contexts.get(name)
        if context is None:
            raise NotFound(f"no context {name!r} is open (open: {', '.join(self._contexts)})")
        if len(self._contexts) == 1:
            raise InvalidInput(f"{name!r} is the only context open: open another first")
        if context.pump is not None:
            context.pump.cancel()
            try:
                await context.pump
            except (asyncio.CancelledError, Exception):
                pass
        del self._contexts[name]
        self._emit(name, [Change(kind, "delete", f"{name}{SEP}{i}") for kind, ids in context.known.items() for i in ids])
        self._publish_state()
        await _close_quietly(context.backend)

    # -- inventory -------------------------------------------------------------------------

    async def snapshot(self) -> Inventory:
        # The seq before the children are read: every change published from now on is newer
        # than this picture (a change applied twice is harmless, one skipped is not).
        merged = Inventory(seq=self._seq)
        contexts = list(self._contexts.values())
        found = await asyncio.gather(*(self._child_snapshot(c) for c in contexts))
        for context, inv in zip(contexts, found):
            if inv is not None:
                merge_into(merged, context.name, inv)
        return merged

    async def _child_snapshot(self, context: _Context) -> Inventory | None:
        if not context.connected:
            return None
        try:
            return await context.backend.snapshot()
        except Exception:  # its last data is the child's to keep; a failing one shows none
            return None

    def updates(self) -> AsyncIterator[Update]:
        return self._subscribe()

    async def _subscribe(self) -> AsyncIterator[Update]:
        stream = self._broadcast.subscribe()
        if self._state is not None:
            yield ConnectionChanged(*self._state)
        async for update in stream:
            yield update

    def _start_pump(self, context: _Context) -> None:
        if context.pump is None or context.pump.done():
            context.pump = asyncio.create_task(self._pump(context), name=f"fleet {context.name}")

    async def _pump(self, context: _Context) -> None:
        """Follow one context for as long as it is open: connect (again) with backoff, take
        its picture, relay its changes; a context that comes back is taken again whole."""
        delay = 1.0
        # A context whose connect() just failed waits its first delay; one added now connects.
        first = context.state is ConnectionState.UNREACHABLE and context.reason != "connecting"
        while True:
            reader: asyncio.Task[None] | None = None
            try:
                if not context.connected:
                    if not first:
                        await self._connect_one(context)
                    if not context.connected:
                        raise _NotYet(context.reason)
                queue: asyncio.Queue[Update | None] = asyncio.Queue()
                reader = asyncio.create_task(_read_into(context.backend.updates(), queue))
                await asyncio.sleep(0)  # subscribed before the picture is taken
                await self._resync(context, publish=not context.quiet_first)
                context.quiet_first = False
                self._set_context_state(context, ConnectionState.CONNECTED, "")
                delay = 1.0
                while (update := await queue.get()) is not None:
                    if isinstance(update, BaseException):
                        raise update
                    if isinstance(update, ConnectionChanged):
                        was_down = context.state is ConnectionState.UNREACHABLE
                        self._set_context_state(context, update.state, update.reason)
                        if was_down and update.state is not ConnectionState.UNREACHABLE:
                            await self._resync(context)  # what changed while it was away
                    elif update.seq > context.child_seq:
                        context.child_seq = update.seq
                        self._relay(context, update)
                raise _NotYet("its change stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # _NotYet carries the reason as it was said (already one line).
                reason = str(err) if isinstance(err, _NotYet) else one_line(err)
                self._set_context_state(context, ConnectionState.UNREACHABLE, reason)
            finally:
                if reader is not None:
                    reader.cancel()
            first = False
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)

    async def _resync(self, context: _Context, *, publish: bool = True) -> None:
        """The context's whole picture: upserts of everything, deletes of what is gone (only
        noted, not sent, when every subscriber's snapshot holds it already)."""
        inv = await context.backend.snapshot()
        changes: list[Change] = []
        prefix = f"{context.name}{SEP}"
        for kind in KIND_NAMES:
            table = inv.of(kind)
            for gone in context.known[kind] - table.keys():
                changes.append(Change(kind, "delete", prefix + gone))
            for item_id, item in table.items():
                changes.append(Change(kind, "upsert", prefix + item_id, to_fleet(context.name, item)))
            context.known[kind] = set(table)
        context.child_seq = max(context.child_seq, inv.seq)
        context.fresh_at = time.time()
        if publish:
            self._emit(context.name, changes)

    def _relay(self, context: _Context, batch: ChangeBatch) -> None:
        prefix = f"{context.name}{SEP}"
        changes = []
        for change in batch.changes:
            known = context.known[change.kind]
            if change.op == "delete":
                known.discard(change.id)
                changes.append(Change(change.kind, "delete", prefix + change.id))
            else:
                known.add(change.id)
                changes.append(Change(change.kind, "upsert", prefix + change.id, to_fleet(context.name, change.item)))
        context.fresh_at = time.time()
        self._emit(context.name, changes)

    def _emit(self, context: str, changes: list[Change]) -> None:
        if not changes or context not in self._contexts and not all(c.op == "delete" for c in changes):
            return
        self._seq += 1
        self._broadcast.publish(ChangeBatch(self._seq, tuple(changes)))

    def _set_context_state(self, context: _Context, state: ConnectionState, reason: str) -> None:
        if state is ConnectionState.UNREACHABLE and context.state is not ConnectionState.UNREACHABLE:
            context.fresh_at = time.time()  # its data is as old as this moment from now on
        context.state, context.reason = state, reason
        self._publish_state()

    def _publish_state(self) -> None:
        states = self.context_states()
        up = [s for s in states if s.state is ConnectionState.CONNECTED]
        if states and len(up) == len(states):
            now: tuple[ConnectionState, str] = (ConnectionState.CONNECTED, "")
        else:
            down = "; ".join(f"{s.name}: {s.state.value}" + (f" ({s.reason})" if s.reason else "") for s in states if s not in up)
            now = (ConnectionState.UNREACHABLE if not up and all(
                s.state is ConnectionState.UNREACHABLE for s in states) else ConnectionState.DEGRADED, down)
        if now != self._state:
            self._state = now
            self._broadcast.publish(ConnectionChanged(*now))

    # -- finding things --------------------------------------------------------------------

    def _route(self, fleet_id: str) -> tuple[str, Backend, str]:
        context, child_id = split_id(fleet_id)
        return context, self.child(context), child_id

    async def locate(self, kind: str, ref: str, what: str) -> tuple[str, str]:
        """``(context, the child's id)`` of an item named by its fleet id, by ``CONTEXT/NAME``
        or by a name unique across the contexts."""
        inv = await self.snapshot()
        table = inv.of(kind)
        if ref in table:
            return split_id(ref)
        context, found, rest = ref.partition(SEP)
        if found and context in self._contexts:
            matches = [i for i in table.values() if i.id.startswith(context + SEP) and getattr(i, "name", None) == rest]
            if len(matches) == 1:
                return split_id(matches[0].id)
            if not matches:
                raise NotFound(f"{what} {rest!r} not found in context {context!r}")
            raise InvalidInput(f"{what} name {rest!r} is ambiguous in context {context!r}: use its id")
        matches = [i for i in table.values() if getattr(i, "name", None) == ref]
        if len(matches) == 1:
            return split_id(matches[0].id)
        if matches:
            where = ", ".join(sorted({split_id(i.id)[0] for i in matches}))
            raise InvalidInput(f"{what} {ref!r} is in several contexts ({where}): use CONTEXT{SEP}{ref}")
        raise NotFound(f"{what} {ref!r} not found in any context")

    def _only_context(self, capability: Capability, what: str) -> str:
        """Where an action that names nothing of a context goes (a volume with no host, a
        secret): the first context opened that can do it (the first of ``--context a,b``, the
        config's current one), as a single-context console would have sent it there."""
        able = [c.name for c in self._contexts.values() if c.backend.supports(capability)]
        if not able:
            raise PermissionDenied(f"no open context can {what}")
        return able[0]

    async def _spec_context(self, refs: Iterable[tuple[str, str | None, str]], capability: Capability, what: str) -> tuple[str, dict[str, str]]:
        """The one context the references of a spec point to, and each reference as the
        child's id; with none given, the first context that can do it."""
        contexts: dict[str, str] = {}
        local: dict[str, str] = {}
        for kind, ref, label in refs:
            if not ref:
                continue
            context, child_id = await self.locate(kind, ref, label)
            contexts[label] = context
            local[ref] = child_id
        chosen = set(contexts.values())
        if len(chosen) > 1:
            named = ", ".join(f"{label} in {context}" for label, context in contexts.items())
            raise InvalidInput(f"{what}: everything named must be in one context ({named})")
        return (chosen.pop() if chosen else self._only_context(capability, what)), local

    async def _task(self, context: str, started: Any) -> Task:
        try:
            task = await started
        except PermissionDenied as err:  # say which context refused
            raise PermissionDenied(f"context {context}: {err.message}") from None
        return to_fleet(context, task)

    # -- actions routed by id --------------------------------------------------------------

    async def _on(self, method: str, fleet_id: str, *args: Any, **kwargs: Any) -> Task:
        context, backend, child_id = self._route(fleet_id)
        return await self._task(context, getattr(backend, method)(child_id, *args, **kwargs))

    async def delete_host(self, host_id: str) -> Task:
        return await self._on("delete_host", host_id)

    async def power_on_host(self, host_id: str) -> Task:
        return await self._on("power_on_host", host_id)

    async def power_off_host(self, host_id: str) -> Task:
        return await self._on("power_off_host", host_id)

    async def reboot_host(self, host_id: str) -> Task:
        return await self._on("reboot_host", host_id)

    async def detach_volume(self, volume_id: str) -> Task:
        return await self._on("detach_volume", volume_id)

    async def delete_volume(self, volume_id: str) -> Task:
        return await self._on("delete_volume", volume_id)

    async def start_container(self, container_id: str) -> Task:
        return await self._on("start_container", container_id)

    async def stop_container(self, container_id: str) -> Task:
        return await self._on("stop_container", container_id)

    async def restart_container(self, container_id: str) -> Task:
        return await self._on("restart_container", container_id)

    async def remove_container(self, container_id: str, *, force: bool = False) -> Task:
        return await self._on("remove_container", container_id, force=force)

    async def pause_task(self, task_id: str) -> Task:
        return await self._on("pause_task", task_id)

    async def resume_task(self, task_id: str) -> Task:
        return await self._on("resume_task", task_id)

    async def abort_task(self, task_id: str) -> Task:
        return await self._on("abort_task", task_id)

    async def remove_service(self, service_id: str) -> Task:
        return await self._on("remove_service", service_id)

    async def remove_secret(self, secret_id: str) -> Task:
        return await self._on("remove_secret", secret_id)

    async def set_host_availability(self, host_id: str, availability: Literal["active", "pause", "drain"]) -> Task:
        return await self._on("set_host_availability", host_id, availability)

    async def rollback_service(self, service_id: str) -> Task:
        return await self._on("rollback_service", service_id)

    async def rotate_secret(self, secret_id: str, data: bytes) -> Task:
        return await self._on("rotate_secret", secret_id, data)

    async def remove_config(self, config_id: str) -> Task:
        return await self._on("remove_config", config_id)

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        return await self._on("remove_image", image_id, force=force)

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        return await self._on("prune_images", host_id, unused=unused)

    async def shell(self, target_kind: Literal["host", "container"], target_id: str) -> ShellCommand:
        context, backend, child_id = self._route(target_id)
        try:
            return await backend.shell(target_kind, child_id)
        except PermissionDenied as err:
            raise PermissionDenied(f"context {context}: {err.message}") from None

    async def attach_volume(
        self, volume_id: str, host_id: str, *, container_id: str | None = None, mount_path: str | None = None
    ) -> Task:
        context, backend, volume = self._route(volume_id)
        ids = [host_id] + ([container_id] if container_id else [])
        others = {split_id(i)[0] for i in ids}
        if others != {context}:
            raise InvalidInput(f"attach: the volume is in context {context}, the host or container in {', '.join(sorted(others - {context}))}")
        return await self._task(context, backend.attach_volume(
            volume, split_id(host_id)[1], container_id=split_id(container_id)[1] if container_id else None, mount_path=mount_path
        ))

    # -- actions on specs ------------------------------------------------------------------

    async def create_host(self, spec: HostSpec) -> Task:
        context, local = await self._spec_context(
            [("networks", spec.network, "network"), ("images", spec.image, "image"), ("projects", spec.project, "project")],
            Capability.HOSTS_CREATE, "create hosts")
        spec = dataclasses.replace(
            spec, network=local.get(spec.network, spec.network), image=local.get(spec.image, spec.image),
            project=local.get(spec.project, spec.project) if spec.project else spec.project,
        )
        return await self._task(context, self.child(context).create_host(spec))

    async def create_volume(self, spec: VolumeSpec) -> Task:
        context, local = await self._spec_context(
            [("hosts", spec.host, "host")], Capability.VOLUMES_CREATE, "create volumes")
        spec = dataclasses.replace(spec, host=local.get(spec.host, spec.host) if spec.host else None)
        return await self._task(context, self.child(context).create_volume(spec))

    async def run_container(self, spec: ContainerSpec) -> Task:
        refs = [("hosts", spec.host, "host")] + [("volumes", m.volume, f"volume {m.volume}") for m in spec.mounts]
        context, local = await self._spec_context(refs, Capability.CONTAINERS_RUN, "run containers")
        spec = dataclasses.replace(
            spec, host=local[spec.host],
            mounts=tuple(dataclasses.replace(m, volume=local.get(m.volume, m.volume)) for m in spec.mounts),
        )
        return await self._task(context, self.child(context).run_container(spec))

    async def pull_image(self, spec: PullSpec) -> Task:
        context, local = await self._spec_context([("hosts", spec.host, "host")], Capability.HOST_IMAGES_PULL, "pull images")
        return await self._task(context, self.child(context).pull_image(dataclasses.replace(spec, host=local[spec.host])))

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        contexts = {split_id(h)[0] for h in spec.host_ids}
        if len(contexts) != 1:
            raise InvalidInput(f"an upgrade runs within one context: the hosts are in {', '.join(sorted(contexts)) or 'none'}")
        context = contexts.pop()
        spec = dataclasses.replace(spec, host_ids=tuple(split_id(h)[1] for h in spec.host_ids))
        return await self._task(context, self.child(context).upgrade_hosts(spec))

    async def create_service(self, spec: ServiceSpec) -> Task:
        refs = [("secrets", s, f"secret {s}") for s in spec.secrets] + [("configs", c, f"config {c}") for c in spec.configs]
        context, local = await self._spec_context(refs, Capability.SERVICES_CREATE, "create services")
        spec = dataclasses.replace(
            spec, secrets=tuple(local.get(s, s) for s in spec.secrets), configs=tuple(local.get(c, c) for c in spec.configs)
        )
        return await self._task(context, self.child(context).create_service(spec))

    async def scale_service(self, spec: ScaleSpec) -> Task:
        context, service = await self.locate("services", spec.service, "service")
        return await self._task(context, self.child(context).scale_service(dataclasses.replace(spec, service=service)))

    async def update_service(self, spec: ServiceUpdateSpec) -> Task:
        context, service = await self.locate("services", spec.service, "service")
        return await self._task(context, self.child(context).update_service(dataclasses.replace(spec, service=service)))

    async def create_secret(self, spec: SecretSpec) -> Task:
        context = self._only_context(Capability.SECRETS_CREATE, "create secrets")
        return await self._task(context, self.child(context).create_secret(spec))

    async def create_config(self, spec: ConfigSpec) -> Task:
        context = self._only_context(Capability.CONFIGS_CREATE, "create configs")
        return await self._task(context, self.child(context).create_config(spec))

    # -- tasks and reads -------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task:
        context, backend, child_id = self._route(task_id)
        return to_fleet(context, await backend.get_task(child_id))

    async def handed_over(self, task_id: str) -> Task:
        context, backend, child_id = self._route(task_id)
        return to_fleet(context, await backend.handed_over(child_id))

    async def wait_task(self, task_id: str, on_progress: Callable[[Task], None] | None = None, *, poll_interval: float = 0.5) -> Task:
        context, backend, child_id = self._route(task_id)
        seen = None if on_progress is None else (lambda task: on_progress(to_fleet(context, task)))
        return to_fleet(context, await backend.wait_task(child_id, seen, poll_interval=poll_interval))

    def logs(self, container_id: str, *, follow: bool = False, tail: int | None = None, since: float | None = None) -> AsyncIterator[LogLine]:
        context, backend, child_id = self._route(container_id)
        return backend.logs(child_id, follow=follow, tail=tail, since=since)

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        context, backend, child_id = self._route(container_id)
        doc = dict(await backend.inspect_container(child_id))
        if doc.get("Id") == child_id:
            doc["Id"] = container_id  # the id the fleet knows it by, as everywhere else
        return doc

    async def stats_history(self, kind: Any, item_id: str, since: float, step: float) -> list[StatsSample]:
        context, backend, child_id = self._route(item_id)
        if not backend.supports(Capability.STATS_HISTORY):
            return []  # the fleet claims it when any context has it: this one keeps no past
        return await backend.stats_history(kind, child_id, since, step)

    async def upgrade_versions(self) -> list[str]:
        found = await asyncio.gather(*(c.backend.upgrade_versions() for c in self._contexts.values() if c.connected), return_exceptions=True)
        versions: dict[str, None] = {}
        for result in found:
            if isinstance(result, list):
                versions.update(dict.fromkeys(result))
        return list(versions)

    def request_stats(self, container_ids: Iterable[str]) -> None:
        by_context: dict[str, list[str]] = {}
        for fleet_id in container_ids:
            context, _, child_id = fleet_id.partition(SEP)
            by_context.setdefault(context, []).append(child_id)
        for context, ids in by_context.items():
            if context in self._contexts and self._contexts[context].connected:
                self._contexts[context].backend.request_stats(ids)

    # -- the simulator's state file, for the CLI (each child that keeps one) ---------------

    async def save_state(self, **kwargs: Any) -> None:
        for context in self._contexts.values():
            save = getattr(context.backend, "save_state", None)
            if save is not None and context.connected:
                await save(**kwargs)

    async def finish_running_tasks(self, contexts: Iterable[str]) -> None:
        """What a CLI call started in these (simulated, speed 0) contexts, done before exit."""
        for name in contexts:
            context = self._contexts.get(name)
            finish = getattr(context.backend, "finish_running_tasks", None) if context else None
            if finish is not None and context.connected:
                await finish()


class _NotYet(Exception):
    """A context not (yet, or no longer) followed; its message is the reason shown."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "not connected"


async def _read_into(stream: AsyncIterator[Update], queue: "asyncio.Queue[Any]") -> None:
    try:
        async for update in stream:
            queue.put_nowait(update)
        queue.put_nowait(None)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # handed to the pump, which marks the context and retries
        queue.put_nowait(err)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                pass


async def _close_quietly(backend: Backend) -> None:
    try:
        await backend.close()
    except Exception:
        pass


__all__ = ["FleetBackend", "ContextState", "REFERENCES", "NOT_REFERENCES", "namespaced", "split_id", "to_fleet", "from_fleet"]
