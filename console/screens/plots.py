"""CPU, memory and network of one host or container over the history window, as three plots.

The figures come from the store's history (console/history.py): what was seen live, and on
open what the backend keeps of the past (``Backend.stats_history``, STATS_HISTORY), which a
worker fetches and hands back as a ``HistoryLoaded`` message. Where the live figures say
nothing of the item (Prism's VMs) the past is asked again, for what is new, when a drain
redraws the plots a minute or more later. The plots are redrawn on the drain like everything
else: no timer of their own.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from rich.text import Text
from textual.containers import Container
from textual.app import ComposeResult

from backends.contract import Capability
from backends.errors import one_line
from widgets.line_plot import LinePlot, Series, fit_top
from widgets.terminal_text import visible

from ..history import Window
from ..messages import HistoryLoaded
from ..presenters.base import gib

REFETCH_SECONDS = 60.0  # a past asked again no more often (the Prism backend asks for 30 s samples at the finest)
GUTTER = 8  # the y scales' width: "123.4G/s" and the axis; the three plots line up in time
CPU_STYLE, MEMORY_STYLE, RX_STYLE, TX_STYLE = "cyan", "yellow", "green", "magenta"


def rate(kib_per_second: float) -> str:
    if not math.isfinite(kib_per_second):
        return "-"
    if kib_per_second >= 1024 * 1024:
        return f"{kib_per_second / 1024 / 1024:.1f}G/s"
    if kib_per_second >= 1024:
        return f"{kib_per_second / 1024:.1f}M/s"
    return f"{kib_per_second:.0f}K/s"


def _last(values: tuple[float, ...]) -> float:
    return next((v for v in reversed(values) if not math.isnan(v)), math.nan)


def _caption(title: str, style: str, text: str) -> Text:
    caption = Text(title, style=f"bold {style}")
    caption.append(f"  {text}")
    return caption


class UsagePlots(Container):
    """Three plots of one item: CPU, memory, network (received and sent)."""

    DEFAULT_CSS = """
    UsagePlots { height: auto; }
    UsagePlots LinePlot { height: 5; }
    """

    def __init__(self, kind: str, item_id: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.kind, self.item_id = kind, item_id
        self.note = ""  # why the backend's past is missing, said under the plots' captions
        self.asked_at: float | None = None  # when the backend's past was last asked for (store clock)

    def compose(self) -> ComposeResult:
        yield LinePlot(id="cpu-plot")
        yield LinePlot(id="memory-plot")
        yield LinePlot(id="network-plot")

    def on_mount(self) -> None:
        if self.app.backend.supports(Capability.STATS_HISTORY):
            store = self.app.store
            self._ask(store.clock() - store.history.minutes * 60)

    def _ask(self, since: float) -> None:
        self.asked_at = self.app.store.clock()
        self.run_worker(partial(self._load_past, since), group=f"history-{self.item_id}", exclusive=True, exit_on_error=False)

    async def _load_past(self, since: float) -> None:
        store, backend = self.app.store, self.app.backend
        history = store.history
        try:
            samples = await backend.stats_history(self.kind, self.item_id, since, history.step)
        except Exception as err:  # shown as one line over the plot; the live figures go on
            self.post_message(HistoryLoaded(self.item_id, [], one_line(err)))
            return
        self.post_message(HistoryLoaded(self.item_id, samples, ""))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        message.stop()
        self.app.store.history.backfill(
            message.item_id,
            ((s.at, (s.cpu_percent, s.memory_mib, s.net_rx_kibps, s.net_tx_kibps)) for s in message.samples),
        )
        self.note = message.error
        self.redraw()

    def redraw(self) -> None:
        store = self.app.store
        item = store.inventory.of(self.kind).get(self.item_id)
        if item is None or not self.is_mounted:
            return
        window = store.history.window(self.item_id, store.clock())
        if self.kind == "hosts":
            self._host(item, window)
        else:
            self._container(item, window)
        self._network(window)
        # No live figure for now (Prism's listing has none for a VM): the backend's past is
        # asked again, for what is new since, at most every REFETCH_SECONDS, on the drain.
        asked = self.asked_at
        if asked is not None and math.isnan(window.cpu[-1]) and store.clock() - asked >= REFETCH_SECONDS:
            self._ask(asked - store.history.step)

    def _host(self, host: Any, window: Window) -> None:
        cores = max(1, host.cores)
        # A host's CPU as a share of its cores: 100% is every core busy.
        cpu = tuple(v / cores for v in window.cpu)
        # The captions say the newest figure known (Prism's VMs have none but their past).
        now_cpu, now_memory = _last(cpu), _last(window.memory)
        cpu_text = "-" if math.isnan(now_cpu) else f"{now_cpu:.1f}%"
        memory_text = "-" if math.isnan(now_memory) else gib(now_memory)
        self.query_one("#cpu-plot", LinePlot).show(
            _caption("CPU", CPU_STYLE, f"{cpu_text} of {host.cores} cores" + self._note()),
            [Series("cpu", cpu, CPU_STYLE)], span=window.span, top=fit_top(cpu, 100.0), y_format=lambda v: f"{v:g}%", gutter=GUTTER,
        )
        self.query_one("#memory-plot", LinePlot).show(
            _caption("Memory", MEMORY_STYLE, f"{memory_text} of {gib(host.memory_mib)}"),
            [Series("memory", window.memory, MEMORY_STYLE)], span=window.span,
            top=fit_top(window.memory, float(host.memory_mib)), y_format=gib, gutter=GUTTER,
        )

    def _container(self, c: Any, window: Window) -> None:
        self.query_one("#cpu-plot", LinePlot).show(
            _caption("CPU", CPU_STYLE, f"{c.cpu_percent:.1f}% of a core" + self._note()),
            [Series("cpu", window.cpu, CPU_STYLE)], span=window.span, y_format=lambda v: f"{v:g}%", gutter=GUTTER,
        )
        limit = f" of {c.memory_limit_mib:.0f} MiB" if c.memory_limit_mib else ""
        self.query_one("#memory-plot", LinePlot).show(
            _caption("Memory", MEMORY_STYLE, f"{c.memory_mib:.0f} MiB{limit}"),
            [Series("memory", window.memory, MEMORY_STYLE)], span=window.span,
            top=fit_top(window.memory, c.memory_limit_mib), y_format=lambda v: f"{v:g}M", gutter=GUTTER,
        )

    def _network(self, window: Window) -> None:
        rx, tx = _last(window.rx), _last(window.tx)
        caption = Text("Network", style="bold")
        caption.append("  ")
        caption.append(f"rx {rate(rx)}", style=RX_STYLE)
        caption.append("  ")
        caption.append(f"tx {rate(tx)}", style=TX_STYLE)
        self.query_one("#network-plot", LinePlot).show(
            caption,
            [Series("rx", window.rx, RX_STYLE), Series("tx", window.tx, TX_STYLE)],
            span=window.span, y_format=rate, gutter=GUTTER,
        )

    def _note(self) -> str:
        # A backend's error message is data: shown through visible(), never obeyed.
        return f"  (history: {visible(self.note)[:80]})" if self.note else ""
