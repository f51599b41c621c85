"""The measured process of ``python -m console.bench``: one app, started fresh, probed from inside.

``--target app`` runs the real console (``NtnxConsoleApp``) against the simulator at a scale;
``--target empty`` runs an empty Textual app, the baseline. A probe wraps ``App._display``
(called once per frame the compositor renders) to time frames; the measurements are driven
from inside the app's own event loop, with events posted as the terminal driver posts them.
Results go to a JSON file; the parent (``console.bench``) prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import replace
from typing import Any, Callable

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Label

CURSOR_PRESSES = 20
TICKS = 5
TICK_FRACTION = 0.05
FRAME_TIMEOUT = 10.0
SETTLE_TIMEOUT = 120.0
PRISM_LOAD_WAIT = 30.0  # seconds a Prism run waits for the whole list after its first frame


class FrameProbe:
    """Wakes waiters on the first frame displayed after a condition holds."""

    def __init__(self) -> None:
        self.frames = 0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []

    def install(self, app: App, on_frame: Callable[[float], None] | None = None) -> None:
        display = app._display

        def probed(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is None or app._batch_count:
                return
            now = time.monotonic()
            self.frames += 1
            if on_frame is not None:
                on_frame(now)
            for waiter in list(self._waiters):
                condition, future = waiter
                if not future.done() and condition():
                    future.set_result(now)
                    self._waiters.remove(waiter)

        app._display = probed  # type: ignore[method-assign]

    async def next_frame(self, condition: Callable[[], bool] = lambda: True, timeout: float = FRAME_TIMEOUT) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, future))
        return await asyncio.wait_for(future, timeout)


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, kib, _ = line.split()
                values[name] = int(kib) / 1024
    return values.get("VmRSS:", 0.0), values.get("VmHWM:", 0.0)


def press(app: App, key: str, character: str | None = None) -> None:
    """A key as the terminal driver delivers it."""
    app.post_message(events.Key(key, character))


class Timeline:
    """Moments of the start, in seconds since the parent spawned this process (first only)."""

    def __init__(self, spawned_at: float, result: dict[str, Any]) -> None:
        self.spawned_at = spawned_at
        self.marks: dict[str, float] = result.setdefault("timeline", {})

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.monotonic() - self.spawned_at)

    def around(self, owner: Any, method: str, before: str | None, after: str) -> None:
        """Mark the first call of a coroutine method: when it starts and when it returns."""
        original = getattr(owner, method)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if before:
                self.mark(before)
            try:
                return await original(*args, **kwargs)
            finally:
                self.mark(after)

        setattr(owner, method, wrapper)


class EmptyApp(App):
    def compose(self) -> ComposeResult:
        yield Label("empty")


def run_empty(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    app = EmptyApp()
    probe = FrameProbe()

    def on_frame(now: float) -> None:
        if "first_frame_s" not in result:
            result["first_frame_s"] = now - args.spawned_at
            app.call_later(app.exit)

    probe.install(app, on_frame)
    app.run(headless=args.headless)
    return result


def run_console(args: argparse.Namespace) -> dict[str, Any]:
    from backends.models import Container
    from backends.contract import Change, ChangeBatch
    from backends.settings import Settings
    from backends.simulator.about import SimulatorSettings
    from widgets.resource_table import ResourceTable

    # A quiet simulator (no clock driver, no activity): idle means nothing changes.
    settings = Settings(
        simulator=SimulatorSettings(seed=7, scale=args.scale, speed=0.0, activity=False)
    )
    result: dict[str, Any] = {"scale": args.scale}
    app, probe, timeline = open_app(settings, args, result)

    def containers() -> ResourceTable | None:
        return table_of(app, "containers")

    on_frame = first_rows(app, "containers", args, result, timeline, lambda: measure)

    async def measure() -> None:
        try:
            await measure_steps()
        except Exception as exc:  # reported, never a traceback on the terminal
            result["error"] = f"{type(exc).__name__}: {exc}"
        app.exit()

    async def measure_steps() -> None:
        table = containers()
        assert table is not None
        # Settle first: a table sorts or filters between frames after its rows arrive; the
        # steps below measure the console as a user finds it then.
        await keys_while_loading(app, probe, table, result)
        settle_started = time.monotonic()
        # A paged snapshot (backends/contract.py) first: the rest of the world arrives after
        # the first frame; the steps below measure the whole of it.
        while app.store.loading is not None:
            if time.monotonic() - settle_started > SETTLE_TIMEOUT:
                raise TimeoutError("the snapshot's pages did not all come")
            await asyncio.sleep(0.02)
        result["load_done_s"] = time.monotonic() - args.spawned_at
        result["rows_loaded"] = len(app.store.inventory.containers)
        while any(t.busy for t in app.screen.query(ResourceTable)):
            if time.monotonic() - settle_started > SETTLE_TIMEOUT:
                raise TimeoutError("the tables did not settle")
            await asyncio.sleep(0.05)
        result["settle_s"] = time.monotonic() - settle_started
        result["rss_start_mib"] = rss_mib()[0]  # before the steps: what showing the data costs
        table.focus()
        table.refresh()
        await probe.next_frame()

        # A tick that changes 5% of the containers, through the app's own path:
        # the store ingests a change batch, the drain applies it to the screens.
        apply_ms, frame_ms, table_ms = [], [], []
        table_apply = table.apply

        def timed_apply(*args: Any, **kwargs: Any) -> None:
            started = time.monotonic()
            table_apply(*args, **kwargs)
            table_ms[-1] += (time.monotonic() - started) * 1000

        table.apply = timed_apply  # type: ignore[method-assign]
        for tick in range(TICKS):
            table_ms.append(0.0)
            rows: list[Container] = list(table.rows_by_id.values())
            step = max(1, round(1 / TICK_FRACTION))
            changes = tuple(
                Change(
                    "containers",
                    "upsert",
                    c.id,
                    replace(c, cpu_percent=(c.cpu_percent + 7.0 + tick) % 100.0),
                )
                for c in rows[tick % step :: step]
            )
            batch = ChangeBatch(app.store.inventory.seq + 1, changes)
            started = time.monotonic()
            app.store.ingest(batch)
            app._drain()
            applied = time.monotonic()
            shown = await probe.next_frame()
            apply_ms.append((applied - started) * 1000)
            frame_ms.append((shown - started) * 1000)
        result["tick_changes"] = len(changes)
        result["tick_apply_ms"] = statistics.median(apply_ms)
        result["tick_apply_max_ms"] = max(apply_ms)
        result["tick_frame_ms"] = statistics.median(frame_ms)
        result["tick_table_ms"] = statistics.median(table_ms)
        result["rss_tick_mib"] = rss_mib()[0]
        del table.apply

        # Keystroke to frame: cursor moves.
        cursor_ms = []
        for n in range(CURSOR_PRESSES):
            before = table.cursor_id
            started = time.monotonic()
            press(app, "down" if n % 4 != 3 else "up")
            shown = await probe.next_frame(lambda: table.cursor_id != before)
            cursor_ms.append((shown - started) * 1000)
        result["cursor_ms"] = statistics.median(cursor_ms)
        result["cursor_max_ms"] = max(cursor_ms)

        # Keystroke to frame: typing a filter (each character filters live).
        first = table.rows_by_id[table.visible_ids[0]]
        text = first.name[:5]
        press(app, "slash", "/")
        await probe.next_frame(lambda: app.focused is not table)
        filter_ms = []
        for n, character in enumerate(text):
            started = time.monotonic()
            press(app, character, character)
            typed = text[: n + 1]
            shown = await probe.next_frame(lambda: table.filter_text == typed)
            filter_ms.append((shown - started) * 1000)
        # The filter is made between frames: until the frame that shows all its matches.
        done = await probe.next_frame(lambda: not table.busy, SETTLE_TIMEOUT) if table.busy else shown
        result["filter_text"] = text
        result["filter_visible"] = table.visible_count
        result["filter_ms"] = statistics.median(filter_ms)
        result["filter_max_ms"] = max(filter_ms)
        result["filter_done_ms"] = (done - started) * 1000  # from the last character
        result["rss_filter_mib"] = rss_mib()[0]
        press(app, "escape")
        await probe.next_frame(lambda: table.filter_text == "")
        await asyncio.sleep(0.2)  # the prompt closed, the filter cleared

        # The sort key (o: the next column), to the next frame and to the frame of the new order.
        started = time.monotonic()
        press(app, "o", "o")
        shown = await probe.next_frame(lambda: table.sort_column is not None)
        done = await probe.next_frame(lambda: not table.busy, SETTLE_TIMEOUT) if table.busy else shown
        result["sort_ms"] = (shown - started) * 1000
        result["sort_done_ms"] = (done - started) * 1000

        result["rss_mib"], result["peak_rss_mib"] = rss_mib()

        # Idle: no input and no backend changes; what the console itself costs.
        cpu_before, wall_before = time.process_time(), time.monotonic()
        frames_before = probe.frames
        await asyncio.sleep(args.idle_seconds)
        cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
        result["idle_seconds"] = wall
        result["idle_cpu_percent"] = 100 * cpu / wall
        result["idle_frames"] = probe.frames - frames_before

    timeline.around(app.backend, "connect", "connecting", "connected")  # builds the world
    timeline.around(app.backend, "paged_snapshot", None, "snapshot_taken")
    set_rows = ResourceTable.set_rows

    def set_rows_marked(table: ResourceTable, rows: Any) -> None:
        set_rows(table, rows)
        if table.id == "containers" and table.row_count:
            timeline.mark("rows_set")

    ResourceTable.set_rows = set_rows_marked  # type: ignore[method-assign]
    probe.install(app, on_frame)
    app.run(headless=args.headless)
    result["world_rows"] = len(app.store.inventory.containers)
    return result


def open_app(settings: Any, args: argparse.Namespace, result: dict[str, Any]) -> tuple[Any, FrameProbe, "Timeline"]:
    """The console for ``settings`` (its first picture whole with ``--no-pages``), a frame
    probe, and the start's timeline with the imports marked."""
    from console.app import NtnxConsoleApp

    app = NtnxConsoleApp(settings, None)
    if args.no_pages:
        whole_snapshots(app)
    timeline = Timeline(args.spawned_at, result)
    timeline.mark("imported")
    return app, FrameProbe(), timeline


def first_rows(
    app: Any, table_id: str, args: argparse.Namespace, result: dict[str, Any], timeline: "Timeline", measure: Callable[[], Any]
) -> Callable[[float], None]:
    """The probe's frame callback: at the first frame whose ``table_id`` has rows, note it and
    start ``measure()`` (a function giving the measuring coroutine function) in a worker."""

    def on_frame(now: float) -> None:
        if "first_frame_s" in result:
            return
        table = table_of(app, table_id)
        if table is not None and table.row_count > 0:
            result["first_frame_s"] = now - args.spawned_at
            timeline.mark("first_frame")
            result["rows_at_first_frame"] = table.row_count
            app.run_worker(measure(), name="bench", exit_on_error=True)

    return on_frame


def table_of(app: Any, table_id: str) -> Any:
    """A pane's ResourceTable on the current screen, or None before the dashboard is up."""
    from widgets.resource_table import ResourceTable

    try:
        return app.screen.query_one(f"#{table_id}", ResourceTable)
    except Exception:
        return None


async def keys_while_loading(app: Any, probe: FrameProbe, table: Any, result: dict[str, Any]) -> None:
    """Cursor moves, each to its frame, while a paged snapshot's pages still come."""
    keys: list[float] = []
    table.focus()
    while app.store.loading is not None and len(keys) < CURSOR_PRESSES:
        before = table.cursor_id
        started = time.monotonic()
        press(app, "down")
        shown = await probe.next_frame(lambda: table.cursor_id != before)
        keys.append((shown - started) * 1000)
    if keys:
        result["load_key_ms"] = statistics.median(keys)
        result["load_key_max_ms"] = max(keys)
        result["load_keys"] = len(keys)


def whole_snapshots(app: Any) -> None:
    """``--no-pages``: the console as it was before paged snapshots, on the same code: its
    first picture is the whole snapshot (the simulator makes its whole world first, Prism
    lists every page), for a before and after in one run."""
    backend = app.backend
    backend.paged_snapshot = backend.snapshot


def run_prism(args: argparse.Namespace) -> dict[str, Any]:
    """The console against ``sim serve`` as Prism: the first frame with VMs in the Hosts pane,
    how many, when the whole list is in, and cursor keys meanwhile."""
    from backends.prism.about import PrismSettings
    from backends.settings import Settings

    settings = Settings(backend="prism", prism=PrismSettings(endpoint=args.prism_endpoint, user="admin", ca_bundle=args.ca_bundle))
    result: dict[str, Any] = {"vms": args.scale}
    app, probe, timeline = open_app(settings, args, result)

    on_frame = first_rows(app, "hosts", args, result, timeline, lambda: measure)

    async def measure() -> None:
        try:
            table = table_of(app, "hosts")
            assert table is not None
            started_at = time.monotonic()
            await keys_while_loading(app, probe, table, result)
            while app.store.loading is not None:
                if time.monotonic() - started_at > PRISM_LOAD_WAIT:  # bounded: say how far it got
                    result["stopped_s"] = time.monotonic() - args.spawned_at
                    result["rows_when_stopped"] = len(app.store.inventory.hosts)
                    break
                await asyncio.sleep(0.02)
            if app.store.loading is None:
                result["load_done_s"] = time.monotonic() - args.spawned_at
                result["rows_loaded"] = len(app.store.inventory.hosts)
        except Exception as exc:  # reported, never a traceback on the terminal
            result["error"] = f"{type(exc).__name__}: {exc}"
        app.exit()

    timeline.around(app.backend, "connect", "connecting", "connected")  # the login
    timeline.around(app.backend, "paged_snapshot", None, "snapshot_taken")
    probe.install(app, on_frame)
    app.run(headless=args.headless)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.bench_child")
    parser.add_argument("--target", choices=["app", "empty", "prism"], required=True)
    parser.add_argument("--no-pages", action="store_true", help="the first picture is the whole snapshot")
    parser.add_argument("--prism-endpoint")
    parser.add_argument("--ca-bundle")
    parser.add_argument("--spawned-at", type=float, required=True)  # parent's time.monotonic()
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("--results", required=True)
    args = parser.parse_args(argv)
    if args.target == "empty":
        result = run_empty(args)
    elif args.target == "prism":
        result = run_prism(args)
    else:
        result = run_console(args)
    with open(args.results, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
