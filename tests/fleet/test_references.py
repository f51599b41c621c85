"""The fleet's id rewriting (backends/fleet.py): one table of reference fields per model, which
must know every id-reference a model has; every reference of the merged inventory names an
item of that inventory; an item taken into the fleet and back is the item it was."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from hypothesis import given, settings, strategies as st

from backends import fleet
from backends.contract import KIND_NAMES, ChangeBatch, ConnectionChanged, ConnectionState
from backends.errors import InvalidInput, NotFound
from backends.fleet import NOT_REFERENCES, REFERENCES, FleetBackend, from_fleet, split_id, to_fleet
from backends.models import KINDS, Container, Mount
from backends.simulator import SimulatorBackend
from backends.validation import context_name_problem
from tests.waiting import wait_until

# What each reference field points to; "any" where it may name an item of any kind (a task's
# target, an event's).
POINTS_TO = {
    "host_id": "hosts", "node_id": "nodes", "project_id": "projects", "image_id": "images",
    "network_id": "networks", "container_ids": "containers", "secret_ids": "secrets", "config_ids": "configs",
    "parent_id": "tasks", "child_ids": "tasks", "target_id": "any", "result_id": "any",
}


def test_the_table_knows_every_id_reference_of_every_model():
    for kind, model in KINDS.items():
        assert model in REFERENCES, f"{model.__name__} ({kind}) is not in backends.fleet.REFERENCES"
        hints = typing.get_type_hints(model)
        for f in dataclasses.fields(model):
            if f.name == "id":
                continue
            if f.name.endswith(("_id", "_ids")):
                known = f.name in REFERENCES[model] or f.name in NOT_REFERENCES.get(model, ())
                assert known, f"{model.__name__}.{f.name} looks like a reference: add it to REFERENCES or NOT_REFERENCES"
            # A field holding values that carry ids of their own (a container's mounts) must be
            # rewritten by hand: only Container.mounts is, so a new one fails here.
            if "Mount" in str(hints[f.name]):
                assert (model, f.name) == (Container, "mounts")
        for name, how in REFERENCES[model].items():
            assert name in {f.name for f in dataclasses.fields(model)}, f"{model.__name__} has no field {name}"
            assert how == ("many" if name.endswith("_ids") else "one")


async def _fleet(*worlds: tuple[str, dict]) -> FleetBackend:
    children = {name: SimulatorBackend(speed=0.0, activity=False, **kw) for name, kw in worlds}
    f = FleetBackend(children)
    await f.connect()
    return f


def _refs(item):
    for name, how in REFERENCES[type(item)].items():
        value = getattr(item, name)
        for ref in (value,) if how == "one" else value:
            if ref is not None:
                yield name, ref
    if isinstance(item, Container):
        for m in item.mounts:
            if m.kind == "volume":
                yield "volume", m.source


async def test_every_reference_of_the_merged_inventory_resolves_within_it():
    f = await _fleet(("east", {"seed": 1}), ("west", {"seed": 2}), ("swarm", {"seed": 3, "swarm": True}))
    try:
        merged = await f.snapshot()
        children = {name: await f.child(name).snapshot() for name in f.contexts}
        everything = {i for kind in KIND_NAMES for i in merged.of(kind)}
        checked = 0
        for kind in KIND_NAMES:
            for item_id, item in merged.of(kind).items():
                context, child_id = split_id(item_id)
                assert item.id == item_id
                original = children[context].of(kind)[child_id]
                assert from_fleet(context, item) == original  # the round trip
                for field, ref in _refs(item):
                    assert split_id(ref)[0] == context, f"{kind} {item_id}: {field} leaves its context"
                    target = {"volume": "volumes"}.get(field, POINTS_TO.get(field))
                    local = split_id(ref)[1]
                    # A reference that resolved in its own context resolves in the fleet, to the same kind.
                    if target == "any":
                        if any(local in children[context].of(k) for k in KIND_NAMES):
                            assert ref in everything
                    elif local in children[context].of(target):
                        assert ref in merged.of(target)
                        checked += 1
        assert checked > 500  # hosts' nodes and networks, containers' hosts, volumes', services' secrets...
        assert merged.services and merged.secrets  # the swarm's references were among them
    finally:
        await f.close()


_ids = st.text(alphabet="abcdef0123456789-/:", min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    context=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,10}\Z"),
    item_id=_ids, host=_ids, containers=st.lists(_ids, max_size=3), volume=_ids, bind=st.text(min_size=1, max_size=20),
)
def test_a_container_round_trips_through_any_context_and_ids_holding_the_separator(context, item_id, host, containers, volume, bind):
    c = Container(
        id=item_id, name="c", image="busybox", host_id=host, state="running",  # type: ignore[arg-type]
        mounts=(Mount(source=volume, path="/data"), Mount(source=bind, path="/b", kind="bind")),
    )
    out = to_fleet(context, c)
    assert split_id(out.id) == (context, item_id)
    assert out.host_id == f"{context}/{host}"
    assert out.mounts[0].source == f"{context}/{volume}" and out.mounts[1].source == bind  # a host path stays
    assert from_fleet(context, out) == c


@pytest.mark.parametrize("bad", ["a/b", "a,b", "", " x", "x y", "\x1b[2J"])
def test_a_context_name_cannot_hold_the_separator_or_a_comma(bad):
    assert context_name_problem(bad)
    with pytest.raises(InvalidInput):
        FleetBackend({bad: SimulatorBackend(speed=0.0, activity=False)})


async def test_names_resolve_by_context_or_when_unique_and_ambiguity_asks_for_the_context():
    f = await _fleet(("east", {"seed": 1}), ("west", {"seed": 2}))
    try:
        inv = await f.snapshot()
        name = next(c.name for c in inv.containers.values())
        with pytest.raises(InvalidInput, match="several contexts .*use CONTEXT/"):
            await f.locate("containers", name, "container")
        context, child_id = await f.locate("containers", f"west/{name}", "container")
        assert context == "west" and child_id in (await f.child("west").snapshot()).containers
        with pytest.raises(NotFound):
            await f.locate("containers", "nowhere/x", "container")
    finally:
        await f.close()


async def test_streams_merge_with_the_fleets_own_seq_and_add_remove_publish_a_contexts_items():
    f = await _fleet(("east", {"seed": 1}))
    seen: list = []

    async def follow():
        async for update in f.updates():
            seen.append(update)

    import asyncio

    reader = asyncio.create_task(follow())
    try:
        await wait_until(lambda: any(isinstance(u, ConnectionChanged) for u in seen), what="the state")
        # A context connected at start is in every snapshot taken after: its picture is noted,
        # not sent again (at 100,000 containers that would be a second load).
        await wait_until(lambda: bool(f._contexts["east"].known["hosts"]), what="east followed")
        assert not any(isinstance(u, ChangeBatch) for u in seen)
        await f.add("west", SimulatorBackend(seed=2, speed=0.0, activity=False))
        await wait_until(
            lambda: any(isinstance(u, ChangeBatch) and any(c.id.startswith("west/") for c in u.changes) for u in seen),
            what="west's items as upserts",
        )
        west = await f.child("west").snapshot()
        victim = next(c for c in west.containers.values() if c.state.value == "running")
        task = await f.stop_container(f"west/{victim.id}")
        assert task.id.startswith("west/")
        await f.child("west").advance(120)  # type: ignore[attr-defined]
        await wait_until(
            lambda: any(isinstance(u, ChangeBatch) and any(c.id == f"west/{victim.id}" for c in u.changes) for u in seen),
            what="the stop relayed",
        )
        await f.remove("west")
        await wait_until(
            lambda: any(isinstance(u, ChangeBatch) and any(c.op == "delete" and c.id == f"west/{victim.id}" for c in u.changes) for u in seen),
            what="west's items deleted",
        )
        batches = [u.seq for u in seen if isinstance(u, ChangeBatch)]
        assert batches == sorted(batches) and len(set(batches)) == len(batches)
        assert f.contexts == ["east"]
        states = [u for u in seen if isinstance(u, ConnectionChanged)]
        assert states[-1].state is ConnectionState.CONNECTED
    finally:
        reader.cancel()
        await f.close()


async def test_an_action_a_context_cannot_do_is_refused_naming_the_context():
    from backends.errors import PermissionDenied

    f = await _fleet(("east", {"seed": 1}), ("ro", {"seed": 2, "read_only": True}))
    try:
        inv = await f.child("ro").snapshot()
        host = next(iter(inv.hosts))
        with pytest.raises(PermissionDenied, match="^context ro: read-only"):
            await f.power_off_host(f"ro/{host}")
        assert not f.read_only  # one context is writable
    finally:
        await f.close()


class _FailsFirst(SimulatorBackend):
    """A context whose first connect fails, as an engine not up yet."""

    attempts = 0

    async def connect(self) -> None:
        type(self).attempts += 1
        if type(self).attempts == 1:
            from backends.errors import Unavailable

            raise Unavailable("engine not up yet")
        await super().connect()


async def test_a_context_that_cannot_connect_leaves_the_others_live_and_joins_when_it_answers():
    import asyncio

    f = FleetBackend({"east": SimulatorBackend(seed=1, speed=0.0, activity=False), "late": _FailsFirst(seed=2, speed=0.0, activity=False)})
    seen: list = []

    async def follow():
        async for update in f.updates():
            seen.append(update)

    await f.connect()
    reader = asyncio.create_task(follow())
    try:
        states = {s.name: s for s in f.context_states()}
        assert states["late"].state is ConnectionState.UNREACHABLE and "engine not up yet" in states["late"].reason
        assert states["east"].state is ConnectionState.CONNECTED
        inv = await f.snapshot()
        assert inv.hosts and all(i.startswith("east/") for i in inv.hosts)
        await wait_until(lambda: any(isinstance(u, ConnectionChanged) for u in seen), what="the fleet's state")
        first = next(u for u in seen if isinstance(u, ConnectionChanged))
        assert first.state is ConnectionState.DEGRADED and "late" in first.reason and "engine not up yet" in first.reason
        # Retried with backoff: its items arrive as upserts, and the fleet is whole again.
        await wait_until(
            lambda: any(isinstance(u, ChangeBatch) and any(c.id.startswith("late/") for c in u.changes) for u in seen),
            what="the late context's items", timeout=15,
        )
        await wait_until(lambda: [u for u in seen if isinstance(u, ConnectionChanged)][-1].state is ConnectionState.CONNECTED, what="connected")
        assert any(i.startswith("late/") for i in (await f.snapshot()).hosts)
        # The reason is said as the backend said it, however often it was retried.
        assert all("Error:" not in u.reason for u in seen if isinstance(u, ConnectionChanged))
    finally:
        reader.cancel()
        await f.close()


async def test_a_pull_in_a_fleet_uses_the_registries_of_the_hosts_context(monkeypatch):
    import console.registry_auth as registry_auth_module
    from console.host_image_commands import auth_for

    asked: list = []
    monkeypatch.setattr(registry_auth_module, "registry_auth", lambda image, **kw: asked.append(kw["context"]))
    f = await _fleet(("east", {"seed": 1}), ("west", {"seed": 2}))
    try:
        inv = await f.snapshot()
        auth_for(f, inv, "registry.example.local/shop/api:3", "west/cm-app-01")
        assert asked == ["west"]  # not the fleet's label: a registry scoped to west applies
    finally:
        await f.close()


def test_kind_for_names_the_backend_of_the_one_context_items_are_in():
    f = FleetBackend({"east": SimulatorBackend(speed=0.0, activity=False), "west": SimulatorBackend(speed=0.0, activity=False)})
    assert f.kind_for(["east/a", "east/b"]) == "simulator"  # e.g. a swarm's upgrade preview in a fleet
    assert f.kind_for(["east/a", "west/b"]) == "fleet" and f.kind_for([]) == "fleet"
    assert SimulatorBackend(speed=0.0).kind_for(["x"]) == "simulator"


async def test_stats_history_is_routed_to_its_context_and_empty_where_the_context_keeps_none():
    from backends.contract import Capability

    f = await _fleet(("east", {"seed": 1}), ("west", {"seed": 2}))
    try:
        west = f.child("west")
        west.capabilities = west.capabilities - {Capability.STATS_HISTORY}  # as a Docker context
        merged = await f.snapshot()
        east_host = next(h for h in merged.hosts.values() if h.id.startswith("east/") and h.state.value == "running")
        west_host = next(h for h in merged.hosts.values() if h.id.startswith("west/"))
        now = f.child("east").clock.now
        samples = await f.stats_history("hosts", east_host.id, now - 300, 30)
        assert samples and samples[-1].cpu_percent == east_host.cpu_percent
        assert await f.stats_history("hosts", west_host.id, now - 300, 30) == []
        assert Capability.STATS_HISTORY in f.capabilities  # one context has it
    finally:
        await f.close()
