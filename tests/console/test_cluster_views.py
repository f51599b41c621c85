"""Every view in the console (issue 15): :projects with quota bars, :nodes with capacity,
:networks with the hosts on them; a kind the backend lacks is one line; host power off, on
and reboot and a volume's detach from the keyboard, each asked first when it reaches
further, each a Task."""

from __future__ import annotations

from textual.widgets import Static

from backends.contract import ALL_CAPABILITIES, Capability
from backends.models import ContainerState, HostState, TaskStatus
from backends.simulator import SimulatorBackend
from console.presenters.usage import style_of
from console.screens.cluster import NetworksScreen, NodesScreen, ProjectsScreen
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen

from .conftest import SIZE, Console, make_app


async def command(console, word: str) -> None:
    await console.press("colon")
    await console.type(word)
    await console.press("enter")


def cells(console, kind: str, name: str) -> dict[str, str]:
    """The row of ``name`` as shown: column title -> its text."""
    table = console.table(kind)
    row = next(table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].name == name)
    return {c.title: c.plain(row) for c in table.columns}


async def test_projects_show_each_quota_as_a_bar_with_its_figures(console):
    await command(console, "projects")
    await console.on(ProjectsScreen)
    inv = console.app.store.inventory
    assert sorted(console.names("projects")) == sorted(p.name for p in inv.projects.values()) and len(inv.projects) == 3
    for p in inv.projects.values():
        row = cells(console, "projects", p.name)
        pct = round(100 * p.used.vcpus / p.quota.vcpus)
        assert row["VCPUS"].endswith(f"{pct:3d}% {p.used.vcpus}/{p.quota.vcpus}") and "█" in row["VCPUS"]
        assert row["VMS"].endswith(f"% {p.used.vms}/{p.quota.vms}")
        assert row["MEMORY GIB"].endswith(f"% {p.used.memory_mib / 1024:g}/{p.quota.memory_mib / 1024:g}")
        assert row["HOSTS"] == str(sum(1 for h in inv.hosts.values() if h.project_id == p.id))
        assert row["CONTAINERS"] == str(
            sum(1 for c in inv.containers.values() if inv.hosts[c.host_id].project_id == p.id)
        )
    # Green below 80%, yellow near the quota, red at or over it.
    assert (style_of(52.0), style_of(80.0), style_of(100.0), style_of(130.0)) == ("green", "yellow", "bold red", "bold red")
    # The palette offers the views this backend has; escape goes back.
    from console.commands import ConsoleCommands

    titles = [title for title, _, _ in ConsoleCommands(console.screen, None)._commands()]
    assert {":projects", ":nodes", ":networks", ":images"} <= set(titles)
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_nodes_show_capacity_and_networks_their_hosts(console):
    inv = console.app.store.inventory
    await command(console, "nodes")
    await console.on(NodesScreen)
    assert sorted(console.names("nodes")) == sorted(n.name for n in inv.nodes.values())
    for n in inv.nodes.values():
        on_it = [h for h in inv.hosts.values() if h.node_id == n.id]
        row = cells(console, "nodes", n.name)
        cores = sum(h.cores for h in on_it)
        assert row["HOSTS"] == str(len(on_it)) and row["STATE"] == "up"
        assert row["CORES"].endswith(f"{round(100 * cores / n.cpu_cores):3d}% {cores}/{n.cpu_cores}")
    # `:` works from a list too: straight on to the next view.
    await command(console, "networks")
    await console.on(NetworksScreen)
    for net in inv.networks.values():
        names = sorted(h.name for h in inv.hosts.values() if h.network_id == net.id)
        row = cells(console, "networks", net.name)
        assert row["HOSTS"] == str(len(names)) and row["CIDR"] == (net.cidr or "")
        assert row["USED BY"].startswith(", ".join(names[:3]))


async def test_a_view_of_a_kind_the_backend_lacks_says_so_in_one_line():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    sim.capabilities = ALL_CAPABILITIES - {Capability.PROJECTS, Capability.NETWORKS}
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
            await command(c, "projects")
            await c.notice(f"the {sim.kind} backend has no projects")
            assert isinstance(app.screen, DashboardScreen)
            await command(c, "nope")
            await c.notice("unknown command :nope")
            hint = next(n for n in c.notices() if "unknown command :nope" in n)
            assert ":nodes" in hint and ":projects" not in hint and ":networks" not in hint
    finally:
        await sim.close()


async def confirm(console, question: str, impact: str) -> None:
    """The confirmation asks ``question`` and lists ``impact``; answered yes."""
    await console.on(ConfirmDelete)
    assert str(console.screen.query_one("#question", Static).render()) == question
    assert impact in str(console.screen.query_one("#impact", Static).render())
    await console.press("y")
    await console.on(DashboardScreen)


def _tasks(console, kind: str, host_id: str):
    return [t for t in console.app.store.inventory.tasks.values() if t.kind == kind and t.target_id == host_id]


async def test_power_off_asks_with_the_impact_then_power_on_and_reboot(console):
    inv = console.app.store.inventory
    host = console.table("hosts").cursor_row
    running = sorted(c.name for c in inv.containers.values() if c.host_id == host.id and c.state is ContainerState.RUNNING)
    assert host.state is HostState.RUNNING and running
    await console.press("x")
    await confirm(console, f"Power off 1 host: {host.name}?", f"{len(running)} containers stopped: {', '.join(running)}")
    await console.until(lambda: _tasks(console, "power_off_host", host.id), "the power-off task")
    await console.finish()
    await console.until(lambda: inv.hosts[host.id].state is HostState.STOPPED, "the host off")
    await console.notice(f"power off host {host.name}: done")
    assert all(inv.containers[c].state is not ContainerState.RUNNING for c in inv.containers if inv.containers[c].host_id == host.id)

    # Power on asks nothing.
    await console.press("t")
    await console.until(lambda: _tasks(console, "power_on_host", host.id), "the power-on task")
    assert isinstance(console.screen, DashboardScreen)
    await console.finish()
    await console.until(lambda: inv.hosts[host.id].state is HostState.RUNNING, "the host on")
    restarting = {c.name for c in inv.containers.values() if c.host_id == host.id and c.restart_policy in ("always", "unless-stopped")}
    await console.until(
        lambda: {c.name for c in inv.containers.values() if c.host_id == host.id and c.state is ContainerState.RUNNING} == restarting,
        "its restart-policy containers running again",
    )

    # Reboot: asked when containers run, down and back up, the same containers running.
    assert restarting, "the demo's first host runs containers with a restart policy"
    await console.press("R")
    await confirm(console, f"Reboot 1 host: {host.name}?", "containers restart when their host is back")
    await console.until(lambda: _tasks(console, "reboot_host", host.id), "the reboot task")
    await console.finish()
    await console.until(lambda: _tasks(console, "reboot_host", host.id)[0].status is TaskStatus.SUCCEEDED, "rebooted")
    await console.notice(f"reboot host {host.name}: done")
    assert inv.hosts[host.id].state is HostState.RUNNING
    assert {c.name for c in inv.containers.values() if c.host_id == host.id and c.state is ContainerState.RUNNING} == restarting


async def test_detach_asks_naming_the_volume_then_detaches_it(console):
    inv = console.app.store.inventory
    vol = next(
        v for v in sorted(inv.volumes.values(), key=lambda v: v.name)
        if v.host_id and all(inv.containers[c].state is not ContainerState.RUNNING for c in v.container_ids if c in inv.containers)
    )
    await console.press("tab", "tab")
    assert console.screen.current == "volumes"
    assert console.table("volumes").move_cursor(vol.id)
    await console.press("D")
    await confirm(console, f"Detach 1 volume: {vol.name}?", f"1 volume detached: {vol.name}")
    await console.finish()
    await console.until(lambda: inv.volumes[vol.id].host_id is None, "the volume detached")
    await console.notice(f"detach volume {vol.name}: done")
