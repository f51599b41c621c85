"""The wave planner's promises, as properties over random fleets (Hypothesis): every host
once, no wave larger than asked, no application loses every running replica in one wave
when it has replicas on two hosts or more, the ones that cannot be kept up are named, and
a wave is spread across Nutanix nodes."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.blast import carriers
from backends.contract import Inventory
from backends.models import Container, ContainerState, Host, HostState, Node
from backends.waves import plan_waves

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def fleets(draw, with_apps: bool = True):
    n_hosts = draw(st.integers(1, 14))
    n_nodes = draw(st.integers(1, 4))
    inv = Inventory()
    for n in range(n_nodes):
        inv.nodes[f"n{n}"] = Node(f"n{n}", f"node-{n}", "c1", 8, 65536)
    for i in range(n_hosts):
        node = draw(st.integers(0, n_nodes - 1))
        inv.hosts[f"h{i}"] = Host(f"h{i}", f"host-{i:02d}", HostState.RUNNING, engine_version="24.0.7", node_id=f"n{node}")
    if with_apps:
        for a in range(draw(st.integers(0, 6))):
            replicas = draw(st.lists(st.integers(0, n_hosts - 1), min_size=1, max_size=5))
            for r, h in enumerate(replicas):
                state = draw(st.sampled_from([ContainerState.RUNNING] * 4 + [ContainerState.EXITED]))
                inv.containers[f"a{a}-{r}"] = Container(
                    f"a{a}-{r}", f"app{a}-{r}", f"registry.example.local/app{a}:1", f"h{h}", state,
                    labels=(("app", f"app{a}"),),
                )
    return inv


def _plan(inv: Inventory, batch: int):
    return plan_waves(list(inv.hosts.values()), "25.0.0", batch, inventory=inv)


@SETTINGS
@given(fleets(), st.integers(1, 6))
def test_every_host_once_and_no_wave_larger_than_asked(inv, batch):
    plan = _plan(inv, batch)
    planned = [h.host_id for w in plan.waves for h in w.hosts]
    assert sorted(planned) == sorted(inv.hosts)
    assert all(1 <= len(w.hosts) <= batch for w in plan.waves)
    assert [w.number for w in plan.waves] == list(range(1, len(plan.waves) + 1))
    assert all(h.why.startswith(f"wave {w.number}:") for w in plan.waves for h in w.hosts)


@SETTINGS
@given(fleets(), st.integers(1, 6))
def test_no_application_with_two_carriers_loses_them_all_in_one_wave(inv, batch):
    # A plan without such an outage always exists (waves of one host each), so the planner
    # must find one; an application on a single host cannot be kept up and is named.
    plan = _plan(inv, batch)
    for app, hosts in carriers(inv).items():
        if len(hosts) > 1:
            for w in plan.waves:
                assert not hosts <= {h.host_id for h in w.hosts}, (app, w)
    named = {line.split(":")[0] for line in plan.warnings}
    assert named == {app for app, hosts in carriers(inv).items() if len(hosts) == 1}


@SETTINGS
@given(fleets(with_apps=False), st.integers(1, 6))
def test_a_wave_spreads_across_nodes_and_no_wave_is_wasted(inv, batch):
    plan = _plan(inv, batch)
    assert len(plan.waves) == math.ceil(len(inv.hosts) / batch)
    left = set(inv.hosts)
    for w in plan.waves:
        nodes_left = {inv.hosts[h].node_id for h in left}
        nodes_used = {h.node_id for h in w.hosts}
        assert len(nodes_used) == min(len(w.hosts), len(nodes_left))
        left -= {h.host_id for h in w.hosts}


def test_two_hosts_of_one_application_go_in_different_waves_and_the_preview_says_why():
    inv = Inventory()
    inv.nodes["n0"] = Node("n0", "node-0", "c1", 8, 65536)
    for i, name in enumerate(["cm-app-01", "cm-app-02", "cm-web-01"]):
        inv.hosts[f"h{i}"] = Host(f"h{i}", name, HostState.RUNNING, engine_version="24.0.7", node_id="n0")
    for i in (0, 1):
        inv.containers[f"c{i}"] = Container(f"c{i}", f"shop-{i}", "shop:1", f"h{i}", ContainerState.RUNNING,
                                            labels=(("app", "shop"),))
    plan = _plan(inv, 2)
    assert [[h.name for h in w.hosts] for w in plan.waves] == [["cm-app-01", "cm-web-01"], ["cm-app-02"]]
    assert plan.waves[1].hosts[0].why == "wave 2: not in wave 1 with cm-app-01: together they carry every running replica of shop"
