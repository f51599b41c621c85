"""A host's CPU, memory and network plots in its details, from the keyboard, on the simulator:
full of the simulator's past when they open, then moving with what the change stream brings as
the virtual clock advances. And a container's, kept only once its details were opened."""

from __future__ import annotations

import re
from dataclasses import replace

from backends.models import HostState
from console.history import SLOTS
from console.screens.details import ContainerDetails, HostDetails
from console.screens.status import TREND_WIDTH
from widgets.line_plot import LinePlot


def plot_lines(console, plot_id: str) -> list[str]:
    return console.screen.query_one(f"#{plot_id}", LinePlot).render().plain.split("\n")


def braille(lines: list[str]) -> int:
    return sum(1 for line in lines for ch in line if 0x2801 <= ord(ch) <= 0x28FF)


async def test_a_hosts_cpu_plot_opens_full_and_follows_the_clock(console):
    store, sim = console.app.store, console.sim
    host = min((h for h in store.inventory.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
    await console.press("slash")
    await console.type(host.name)
    await console.press("enter", "enter")  # filter to it, then open it: the keyboard only
    await console.on(HostDetails)
    assert console.screen.item_id == host.id

    def full() -> bool:
        return store.history.window(host.id, store.clock()).samples() == SLOTS

    await console.until(full, "the simulator's past in the plot")
    await console.until(lambda: braille(plot_lines(console, "cpu-plot")) > 40, "the CPU plot drawn")
    cpu = plot_lines(console, "cpu-plot")
    assert cpu[0].startswith("CPU") and f"of {host.cores} cores" in cpu[0]
    assert cpu[-1].rstrip().endswith("now") and "-5m" in cpu[-1] and "-15m" in cpu[-1]
    assert braille(plot_lines(console, "memory-plot")) > 40 and braille(plot_lines(console, "network-plot")) > 40
    assert "rx " in plot_lines(console, "network-plot")[0]

    # Two quiet minutes, then the host gets busy; a minute later the plot's newest figure is that.
    await sim.advance(120)
    busy = host.cores * 100 * 0.9
    sim.store.upsert(replace(sim.store.hosts[host.id], cpu_percent=busy, observed_at=sim.clock.now))
    await sim.advance(60)
    await console.until(lambda: "90.0% of" in plot_lines(console, "cpu-plot")[0], "the new figure in the caption")
    window = store.history.window(host.id, store.clock())
    steps = int(60 // store.history.step)  # a minute of steps (7.5 s each in a 15 minute window)
    assert window.cpu[-1] == busy and window.cpu[-steps - 2] != busy
    top_row = plot_lines(console, "cpu-plot")[1]
    # The scale grew to hold it, and it is drawn at the top right.
    assert top_row.lstrip().startswith("100%┤") and top_row.rstrip()[-1] != "┤"
    # The header's line of the cluster's use over the window rose with it.
    header = console.header()
    found = re.search(rf"use cpu ([ ▁▂▃▄▅▆▇█]{{{TREND_WIDTH}}}) \d+%", header)
    blocks = found.group(1).strip() if found else ""
    assert len(blocks) >= 2 and blocks[-1] > blocks[0], header


async def test_a_containers_history_is_kept_once_its_details_open(console):
    store = console.app.store
    await console.press("tab")  # the containers pane
    table = console.table("containers")
    target = table.rows_by_id[table.visible_ids[0]]
    assert target.id not in store.history
    await console.press("enter")
    await console.on(ContainerDetails)
    await console.until(lambda: store.history.window(target.id, store.clock()).samples() == SLOTS, "the container's past")
    assert store.history.watched(target.id)
    assert plot_lines(console, "cpu-plot")[0].startswith("CPU") and "of a core" in plot_lines(console, "cpu-plot")[0]
    others = [cid for cid in store.inventory.containers if cid != target.id]
    assert not any(cid in store.history for cid in others)  # the other containers cost nothing


async def test_a_past_the_backend_cannot_give_is_one_line_over_the_plot(console):
    store, sim = console.app.store, console.sim
    host = min(store.inventory.hosts.values(), key=lambda h: h.name)
    sim.set_partition(True)  # every call now fails, the history's too
    console.app.open_details("hosts", host.id)
    await console.on(HostDetails)
    await console.until(lambda: "(history: " in plot_lines(console, "cpu-plot")[0], "the reason over the plot")
    caption = plot_lines(console, "cpu-plot")[0]
    assert "unreachable" in caption and "Traceback" not in caption
