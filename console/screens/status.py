"""The header: backend and context (loud for the simulator and read-only), the connection
state with the data's age when stale, cluster capacity in use and the project's quota use."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from backends.contract import Capability, ConnectionState
from widgets.line_plot import fit_top, resample
from widgets.terminal_text import visible
from widgets.usage_sparkline import bars

from ..presenters.base import age_text


def _ratio(used: float, total: float | None, unit: str = "") -> str:
    if total is None:
        return f"{used:g}{unit}/∞"
    share = f" {100 * used / total:.0f}%" if total else ""
    return f"{used:g}/{total:g}{unit}{share}"


REASON_SHOWN = 64  # characters of a context's reason in the header: it has two lines for every context


def _fleet_line(line: Text, states: list) -> None:
    """``east SIM ● connected   local DOCKER ● UNREACHABLE data 12s old (reason)``. A context's
    name, its reason and its kind are data: shown through visible()."""
    for state in states:
        line.append(f"{visible(state.name)} ", style="bold")
        if state.simulated:
            line.append(" SIM ", style="bold black on yellow")
        else:
            line.append(f" {visible(state.kind.upper())} ", style="bold reverse")
        if state.read_only:
            line.append(" RO ", style="bold white on red")
        if state.state is ConnectionState.CONNECTED:
            line.append(" ● connected", style="green")
        elif state.state is ConnectionState.DEGRADED:
            line.append(f" ◐ degraded: {visible(state.reason or '')[:REASON_SHOWN]}", style="yellow")
        else:
            line.append(" ")
            line.append(" ● UNREACHABLE ", style="bold white on red")
            age = state.age()
            if age is not None:
                line.append(f" data {age_text(age)} old", style="bold red")
            if state.reason:
                line.append(f" ({visible(state.reason)[:REASON_SHOWN]})", style="red")
        line.append("   ")


TREND_WIDTH = 8  # cells of the header's plots of CPU and memory in use: the line holds 160 columns


def _trend(values: tuple[float, ...], capacity: float) -> str:
    """One line of block characters: the values over the window, scaled to a round number
    above the largest (at most ``capacity``: a cluster a few percent busy still shows its
    shape; the figure beside it says how much), blank where nothing was known; empty until
    there are two samples to compare."""
    points = resample(values, TREND_WIDTH)
    if sum(1 for v in points if not math.isnan(v)) < 2 or capacity <= 0:
        return ""
    return bars([0.0 if math.isnan(v) else v for v in points], fit_top(points, capacity), 1)[0]


def _use_line(line: Text, store, cores: float, memory_mib: float) -> None:
    """``  use cpu ▂▃▅ 4% mem ▃▃▃ 2%``: what the machines use (not what they were given), over
    the history window, against what there is."""
    window = store.history.window("", store.clock())
    cpu_trend, memory_trend = _trend(window.cpu, cores * 100), _trend(window.memory, memory_mib)
    if not (cpu_trend or memory_trend):
        return
    line.append("  use", style="bold")
    for label, trend, values, capacity in (("cpu", cpu_trend, window.cpu, cores * 100), ("mem", memory_trend, window.memory, memory_mib)):
        last = next((v for v in reversed(values) if not math.isnan(v)), 0.0)
        line.append(f" {label} ")
        line.append(trend, style="cyan")
        if capacity:
            line.append(f" {100 * last / capacity:.0f}%")


class StatusHeader(Widget):
    # A fixed height and a plain repaint: a change of text never costs a layout of the screen.
    DEFAULT_CSS = """
    StatusHeader { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text: Text | None = None

    def render(self) -> Text:
        if self._text is None:
            self._text = self.status_text()
        return self._text

    def refresh_status(self) -> None:
        text = self.status_text()
        if self._text is None or text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def status_text(self) -> Text:
        app = self.app
        store, backend, settings = app.store, app.backend, app.settings
        # The label (a server's name), the reasons (its error messages), the context and the
        # project's name are data: every one goes through visible(), so none can move the
        # cursor, set the title or break the header's two lines.
        line = Text()
        line.append("ntnx-console ", style="bold")
        contexts = getattr(backend, "context_states", None)
        if contexts is not None:  # several contexts at once: each one's state and data age
            _fleet_line(line, contexts())
            if settings.insecure_transport:  # a protection turned off in some context
                line.append(" INSECURE TRANSPORT ", style="bold white on red")
        else:
            if backend.simulated:
                line.append(" SIMULATOR ", style="bold black on yellow")
            else:
                line.append(f" {backend.kind.upper()} ", style="bold reverse")
            if backend.label != backend.kind:
                line.append(f"  {visible(backend.label)}")
            if settings.context:
                line.append(f"  context {visible(settings.context)}", style="bold")
            if backend.read_only:
                line.append("  ")
                line.append(" READ-ONLY ", style="bold white on red")
            # A protection the user turned off stays in sight for as long as the console runs.
            if settings.backend == "prism" and settings.prism.insecure:
                line.append("  ")
                line.append(" INSECURE TLS ", style="bold white on red")
            if settings.insecure_transport:
                line.append("  ")
                line.append(" INSECURE TRANSPORT ", style="bold white on red")
            line.append("   ")
            if store.state is ConnectionState.CONNECTED:
                line.append("● connected", style="green")
            elif store.state is ConnectionState.DEGRADED:
                line.append(f"◐ degraded: {visible(store.reason or '')}", style="yellow")
            else:
                age = store.age()
                line.append(" ● UNREACHABLE ", style="bold white on red")
                if age is not None:
                    line.append(f" data {age_text(age)} old", style="bold red")
                if store.reason:
                    line.append(f"  {visible(store.reason)}", style="red")
        line.append("\n")
        cap = store.capacity()
        if backend.supports(Capability.NODES):
            line.append("cluster ", style="bold")
            line.append(f"cores {_ratio(cap.cores_used, cap.cores_total)}  ")
            line.append(f"memory {_ratio(round(cap.memory_used_mib / 1024), round(cap.memory_total_mib / 1024), 'G')}")
            _use_line(line, store, cap.cores_total, cap.memory_total_mib)
        else:  # no nodes to measure against (Docker): what the hosts have
            line.append("hosts ", style="bold")
            line.append(f"{len(store.inventory.hosts)}  cores {cap.cores_used:g}  memory {round(cap.memory_used_mib / 1024):g}G")
            _use_line(line, store, cap.cores_used, cap.memory_used_mib)
        project = store.project(app.project_ref)
        if project is not None:
            q, u = project.quota, project.used
            line.append("   ")
            line.append("project ", style="bold")
            line.append(f"{visible(project.name)}: ")
            line.append(f"vCPU {_ratio(u.vcpus or 0, q.vcpus)}  ")
            memory_quota = None if q.memory_mib is None else round(q.memory_mib / 1024)
            line.append(f"memory {_ratio(round((u.memory_mib or 0) / 1024), memory_quota, 'G')}  ")
            line.append(f"VMs {_ratio(u.vms or 0, q.vms)}")
        return line
