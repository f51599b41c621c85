"""The contract's own mechanisms, independent of any backend."""

import pytest

from backends.contract import Backend, Change, ChangeBatch, Inventory
from backends.errors import InvalidInput, PermissionDenied
from backends.models import Host, HostState
from backends.poller import diff
from backends.waves import WaveControl, plan_waves, run_waves


class _Tiny(Backend):
    kind = "tiny"

    async def snapshot(self) -> Inventory:
        return Inventory()

    def updates(self):  # pragma: no cover - not used
        raise NotImplementedError

    async def delete_host(self, host_id: str):
        return "deleted"


def _host(i: int, version: str = "24.0.7") -> Host:
    return Host(id=f"h{i}", name=f"host-{i:02d}", state=HostState.RUNNING, engine_version=version)


async def test_read_only_refuses_mutations_in_the_backend_layer():
    assert await _Tiny().delete_host("h1") == "deleted"
    with pytest.raises(PermissionDenied, match="read-only"):
        await _Tiny(read_only=True).delete_host("h1")
    # an action the backend does not implement is refused too, read-only or not
    with pytest.raises(PermissionDenied):
        await _Tiny(read_only=True).create_host(None)  # type: ignore[arg-type]


def test_inventory_applies_batches_in_order_and_ignores_old_ones():
    inv = Inventory()
    inv.apply(ChangeBatch(2, (Change("hosts", "upsert", "h1", _host(1)),)))
    inv.apply(ChangeBatch(1, (Change("hosts", "delete", "h1"),)))
    assert list(inv.hosts) == ["h1"] and inv.seq == 2
    inv.apply(ChangeBatch(3, (Change("hosts", "delete", "h1"),)))
    assert inv.hosts == {} and inv.seq == 3


def test_diff_finds_upserts_and_deletes():
    old, new = Inventory(), Inventory()
    old.hosts = {"h1": _host(1), "h2": _host(2)}
    new.hosts = {"h1": _host(1, "25.0.0"), "h3": _host(3)}
    got = {(c.op, c.id) for c in diff(old, new)}
    assert got == {("upsert", "h1"), ("upsert", "h3"), ("delete", "h2")}


def test_plan_waves_batches_skips_and_refuses_downgrades():
    hosts = [_host(i) for i in range(5)] + [_host(9, "25.0.0")]
    plan = plan_waves(hosts, "25.0.0", 2)
    assert [[h.name for h in w.hosts] for w in plan.waves] == [
        ["host-00", "host-01"],
        ["host-02", "host-03"],
        ["host-04"],
    ]
    assert [h.name for h in plan.skipped] == ["host-09"]
    with pytest.raises(InvalidInput, match="older"):
        plan_waves(hosts, "23.0.0", 2)
    with pytest.raises(InvalidInput):
        plan_waves(hosts, "25.0.0", 0)


async def test_run_waves_stops_after_a_failed_wave_unless_told_to_go_on():
    plan = plan_waves([_host(i) for i in range(6)], "25.0.0", 2)
    done: list[str] = []

    async def upgrade(h):
        if h.name == "host-02":
            raise RuntimeError("engine did not come back")
        done.append(h.name)

    outcome = await run_waves(plan, upgrade)
    assert done == ["host-00", "host-01", "host-03"]
    assert outcome.failed == (("h2", "engine did not come back"),)
    assert outcome.not_started == ("h4", "h5") and not outcome.ok

    done.clear()
    outcome = await run_waves(plan, upgrade, continue_on_failure=True)
    assert len(done) == 5 and outcome.not_started == ()


async def test_run_waves_abort_between_waves():
    plan = plan_waves([_host(i) for i in range(4)], "25.0.0", 1)
    control = WaveControl()

    async def upgrade(h):
        if h.name == "host-01":
            control.abort()

    outcome = await run_waves(plan, upgrade, control=control)
    assert outcome.aborted and outcome.succeeded == ("h0", "h1") and outcome.not_started == ("h2", "h3")
