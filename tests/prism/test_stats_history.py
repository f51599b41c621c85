"""A VM's stats history: the Prism backend asks vmm v4 ``stats/vms/{extId}`` for the window and
reads it into samples; ``sim serve`` answers from the simulator's figures in the shape of the v4
SDK's model (built from ntnx_vmm_py_client's ``VmStats``, not from a recorded answer: no
recording of that endpoint is public). Against the real app on uvicorn, as the other tests here."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from backends.models import Host, HostState, StatsSample
from backends.prism import parse
from backends.prism_sim import payloads as pay
from tests.prism.servers import PASSWORD
from tests.prism.test_backend import backend, server  # noqa: F401 (fixtures: sim serve's app on uvicorn, a backend on it)


async def test_a_vms_history_fills_the_window_and_ends_with_its_figures_of_now(backend, server):
    inv = await backend.snapshot()
    sim = server.app.app.state.facade.sim
    running = sorted((h for h in sim.store.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)[0]
    host = inv.hosts[running.id]
    since = time.time() - 900
    samples = await backend.stats_history("hosts", host.id, since, 30)
    assert 29 <= len(samples) <= 32  # 15 minutes at 30 s
    times = [s.at for s in samples]
    assert times == sorted(times) and since - 1 <= times[0] and times[-1] <= time.time() + 1
    newest = samples[-1]
    # Through ppm of 4 or 8 vCPUs and bytes: the figures come back within rounding.
    assert newest.cpu_percent == pytest.approx(running.cpu_percent, abs=0.01)
    assert newest.memory_mib == pytest.approx(running.memory_used_mib, abs=0.01)
    assert newest.net_rx_kibps > 0 and newest.net_tx_kibps > 0
    assert len({round(s.cpu_percent, 2) for s in samples}) > 5  # a past that moves, not a flat line
    assert await backend.stats_history("hosts", host.id, since, 30) == samples  # the same twice


async def test_a_container_has_no_past_on_prism_and_that_is_not_an_error(backend):
    assert await backend.stats_history("containers", "any-container", time.time() - 900, 30) == []


def test_the_endpoint_refuses_a_window_it_cannot_read_in_one_line(server):
    vm = next(iter(server.app.app.state.facade.sim.store.hosts))
    with httpx.Client(verify=ssl.create_default_context(cafile=str(server.cert.cert)), auth=("admin", PASSWORD)) as c:
        answer = c.get(f"{server.endpoint}/api/vmm/v4.0/ahv/stats/vms/{vm}", params={"$endTime": "2026-03-02T09:00:00Z"})
        assert answer.status_code == 422 and "$startTime and $endTime are required" in answer.text  # as every InvalidInput here
        gone = c.get(f"{server.endpoint}/api/vmm/v4.0/ahv/stats/vms/no-such-vm",
                     params={"$startTime": "2026-03-02T09:00:00Z", "$endTime": "2026-03-02T09:15:00Z"})
        assert gone.status_code == 404


def test_the_answer_is_read_by_nutanixs_own_sdk_model():
    sdk = pytest.importorskip("ntnx_vmm_py_client")
    from backends.prism_sim.v4 import _fv, _reserved

    host = Host(id="0f2a", name="web-01", state=HostState.RUNNING, cores=4, memory_mib=8192)
    data = pay.vm_stats(host, [StatsSample(1772442000.0, 50.0, 1024.0, 10.0, 5.0)], 30)
    body = _reserved({"data": data, "$objectType": "vmm.v4.ahv.stats.GetVmStatsApiResponse"}, _fv("v4.0"))
    model = sdk.ApiClient().deserialize(body, "vmm.v4.ahv.stats.GetVmStatsApiResponse")
    tuple_ = model.data.stats[0]
    assert model.data.ext_id == "0f2a" and tuple_.timestamp.timestamp() == 1772442000.0
    assert tuple_.hypervisor_cpu_usage_ppm == 125_000  # 50% of one core of 4: 12.5%
    assert tuple_.memory_usage_bytes == 1024 * 1024 * 1024
    assert tuple_.hypervisor_num_received_bytes == 10 * 1024 * 30  # 10 KiB/s over 30 s


def test_unreadable_figures_are_unknown_not_wrong():
    stats = [
        {"timestamp": "2026-03-02T09:00:30Z", "hypervisorCpuUsagePpm": "lots", "memoryUsageBytes": -5,
         "hypervisorMemoryUsagePpm": 500_000, "hypervisorNumReceivedBytes": True},
        {"timestamp": "not a time", "hypervisorCpuUsagePpm": 10},
        {"timestamp": "2026-03-02T09:00:00Z", "hypervisorCpuUsagePpm": 1e400},
    ]
    samples = parse.vm_stats(stats, cores=2, memory_mib=4096, interval=30)
    assert [s.at for s in samples] == [1772442000.0, 1772442030.0]  # oldest first; no time: skipped
    late = samples[1]
    assert late.cpu_percent is None and late.net_rx_kibps is None
    assert late.memory_mib == 2048.0  # from the usage ppm when the bytes are not a figure
    assert samples[0].cpu_percent is None  # an infinity is not a figure


async def test_the_console_fills_a_vms_plots_from_prism_when_its_details_open(backend, server, monkeypatch):
    from console.screens import plots
    from console.screens.details import HostDetails
    from tests.console.conftest import SIZE, make_app
    from tests.waiting import wait_until
    from widgets.line_plot import LinePlot

    sim = server.app.app.state.facade.sim
    running = min((h for h in sim.store.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.store.loaded and running.id in app.store.inventory.hosts, what="the VMs")
        app.open_details("hosts", running.id)
        await wait_until(lambda: isinstance(app.screen, HostDetails), what="the VM's details")
        store = app.store
        # 15 minutes of Prism's 30 s samples: about 30 of the window's 120 steps hold one.
        await wait_until(lambda: store.history.window(running.id, store.clock()).samples() >= 25, what="Prism's past")
        await pilot.pause()
        caption = app.screen.query_one("#cpu-plot", LinePlot).render().plain.split("\n")[0]
        cores = running.cores
        assert f"{running.cpu_percent / cores:.1f}% of {cores} cores" in caption  # Prism's newest, not a 0 of no figure

        # Prism's listing brings no figures: a redraw on a later drain asks for what is new.
        asked: list[float] = []
        ask = backend.stats_history

        async def counted(kind, item_id, since, step):
            asked.append(since)
            return await ask(kind, item_id, since, step)

        monkeypatch.setattr(backend, "stats_history", counted)
        monkeypatch.setattr(plots, "REFETCH_SECONDS", 0.0)
        first_asked = app.screen.query_one(plots.UsagePlots).asked_at
        app.screen.redraw()  # as the drain does when the VMs' poll brings a change
        await wait_until(lambda: asked, what="the past asked again")
        assert first_asked - 10 <= asked[0] <= first_asked  # only what is new since the last ask
