"""The benchmark: ``python -m console.bench [--scales 1000,10000,100000] [--idle-seconds 30] [--quick]``.

For each scale it starts a fresh process running the real console against the simulator,
and in the same run an empty Textual app as the baseline, then prints a Markdown table and
the budgets. Each process runs in a pseudo-terminal of 160x48 (the real terminal driver,
writing real escape sequences), or with ``--headless`` without a terminal. What each figure
means:

- first frame: from spawning the process to the first frame that shows container rows
  (Python start, imports, building the simulated world, the snapshot, layout, paint);
- 5% tick: applying a change batch that touches 5% of the containers (store + screens), and
  until the frame that shows it;
- keystroke to frame: a cursor move, and one character typed into the live filter;
- RSS: resident memory after the steps above; idle CPU: process CPU time / wall time while
  nothing happens (no input, a quiet simulator);
- filter done and sort: a filter or a sort over many rows is made between frames, so besides
  the key's own frame the table shows the time until the frame with the whole result;
- CLI: ``ntnx-console --demo --scale N containers list --json`` in a fresh process writing to
  a file, its wall time and its peak resident memory (the child's own, from wait4).

Before measuring, the project's modules are compiled to bytecode, as an install does: a
start that compiled them from source (say under PYTHONDONTWRITEBYTECODE) would measure the
compiler, not the console.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import json
import os
import platform
import pty
import re
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any, Iterator

TERMINAL_SIZE = (160, 48)
EMPTY_RUNS = 3
CHILD_TIMEOUT = 600.0

BUDGET_FIRST_FRAME_RATIO = 1.5
BUDGET_TICK_MS = 16.0
BUDGET_IDLE_CPU_PERCENT = 2.0
BUDGET_RSS_MIB = 150.0
BUDGET_SCALE = 10_000
# Issue 11's budgets, at 100,000 containers.
LARGE_SCALE = 100_000
BUDGET_LARGE_FILTER_MS = 33.0  # median, key to frame
BUDGET_LARGE_FILTER_MAX_MS = 50.0
BUDGET_LARGE_TICK_FRAME_MS = 33.0
BUDGET_CLI_SECONDS = 2.0
# Issue 11: the Prism backend against `sim serve` with 10,000 VMs.
BUDGET_PRISM_RATIO = 2.0
PRISM_RUNS = 3
PRISM_START_TIMEOUT = 300.0  # seconds for sim serve to make its world and answer a whole listing


def run_child(
    target: str, *, scale: int, idle_seconds: float, headless: bool, extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None, timeout: float = CHILD_TIMEOUT,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ntnx-bench-") as tmp:
        results = Path(tmp) / "results.json"
        command = [
            sys.executable, "-m", "console.bench_child", "--target", target,
            "--scale", str(scale), "--idle-seconds", str(idle_seconds),
            "--results", str(results), *extra,
        ]  # fmt: skip
        if headless:
            command.append("--headless")
        env = dict(env or os.environ, TEXTUAL_ANIMATIONS="none")
        spawned_at = time.monotonic()
        command += ["--spawned-at", repr(spawned_at)]
        if headless:
            completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
            returncode, output = completed.returncode, completed.stderr
        else:
            returncode, output = _run_in_pty(command, env, timeout)
        if returncode != 0 or not results.exists():
            last = (output.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{target} at scale {scale} failed (exit {returncode}): {last}")
        return json.loads(results.read_text())


def run_cli(scale: int) -> dict[str, Any]:
    """``containers list --json`` at ``scale``, as a user runs it, its output to a file:
    wall time and the child's own peak RSS (``wait4``, not RUSAGE_CHILDREN, which is the
    largest of every child the bench ever had)."""
    with tempfile.TemporaryDirectory(prefix="ntnx-bench-") as tmp:
        out_path = Path(tmp) / "containers.json"
        env = dict(os.environ, NTNX_CONSOLE_CONFIG=str(Path(tmp) / "none.toml"))
        command = [sys.executable, "-m", "console", "--demo", "--scale", str(scale), "containers", "list", "--json"]
        with open(out_path, "wb") as out:
            started = time.monotonic()
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        size = out_path.stat().st_size
        with open(out_path, "rb") as written:
            written.seek(max(0, size - 3))
            ends_well = written.read().endswith(b"]\n")
        if process.returncode != 0 or not ends_well:
            raise RuntimeError(f"containers list --json at scale {scale} failed (exit {process.returncode})")
        return {"cli_s": wall, "cli_peak_rss_mib": usage.ru_maxrss / 1024, "cli_bytes": size}


@contextlib.contextmanager
def prism_server(vms: int) -> Iterator[tuple[str, str, "_QuietServer"]]:
    """``ntnx-console sim serve`` with ``vms`` VMs (the simulator makes 20 containers a machine),
    quiet (speed 0, no activity), on a free port of 127.0.0.1: (endpoint, CA bundle, the
    environment with its password, which also waits for the server to be idle). Started and
    stopped with deadlines."""
    with tempfile.TemporaryDirectory(prefix="ntnx-bench-prism-") as tmp:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
        env.update(NTNX_CONSOLE_SIM_DIR=tmp, NTNX_PASSWORD=secrets.token_urlsafe(12), NTNX_CONSOLE_CONFIG=str(Path(tmp) / "none.toml"))
        log = Path(tmp) / "serve.log"
        command = [
            sys.executable, "-m", "console", "--scale", str(vms * 20), "--speed", "0", "--no-activity", "--seed", "7",
            "sim", "serve", "--port", str(port),
        ]  # fmt: skip
        with log.open("w") as out:
            server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + PRISM_START_TIMEOUT
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"sim serve ended (exit {server.returncode}): {log.read_text()[-300:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sim serve did not listen within {PRISM_START_TIMEOUT:g} s")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            found = re.search(r"CA bundle: (\S+)", log.read_text())
            if found is None:
                raise RuntimeError("sim serve did not say its CA bundle")
            endpoint, bundle = f"https://127.0.0.1:{port}", found.group(1)
            yield endpoint, bundle, _QuietServer(server.pid, env)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


class _QuietServer(dict):
    """The server's environment, and a wait until the server is idle: a run that ended leaves
    it answering the pages that run asked for, which the next run must not be timed against."""

    def __init__(self, pid: int, env: dict[str, str]) -> None:
        super().__init__(env)
        self.pid = pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, limit: float = PRISM_START_TIMEOUT) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(1.0)
            if self.cpu_seconds() - before < 0.05:
                return


def run_prism(args: argparse.Namespace) -> list[dict[str, Any]]:
    """At ``--vms``, the console with paged snapshots and (``--no-pages`` as well, to compare)
    with the whole list first, each in a fresh process, alternately, ``PRISM_RUNS`` times."""
    runs: list[dict[str, Any]] = []
    with prism_server(args.vms) as (endpoint, bundle, env):
        where = ("--prism-endpoint", endpoint, "--ca-bundle", bundle)
        # A first run is not counted: the server builds every VM's JSON at its first listing.
        run_child("prism", scale=args.vms, idle_seconds=0, headless=args.headless, extra=where, env=env)
        for _ in range(PRISM_RUNS):
            env.wait_idle()
            run = run_child("prism", scale=args.vms, idle_seconds=0, headless=args.headless, extra=where, env=env)
            runs.append(dict(run, whole=False))
        # Before paging, once: the first frame waits for every list (VMs, volume groups, ...).
        env.wait_idle()
        try:
            run = run_child(
                "prism", scale=args.vms, idle_seconds=0, headless=args.headless, extra=(*where, "--no-pages"), env=env,
                timeout=args.whole_timeout,
            )
        except (RuntimeError, subprocess.TimeoutExpired):
            run = {"error": f"no frame with data within {args.whole_timeout:g} s"}
        runs.append(dict(run, whole=True))
    return runs


def prism_report(empty: list[dict[str, Any]], runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    baseline = statistics.median(r["first_frame_s"] for r in empty) * 1000
    lines = [
        f"Machine: {machine()}.",
        f"Command: `python -m console.bench --backend prism --vms {args.vms}`; each process in a pseudo-terminal "
        f"{TERMINAL_SIZE[0]}x{TERMINAL_SIZE[1]}, against `sim serve` on 127.0.0.1 (paged: median of {PRISM_RUNS}; whole: one run).",
        f"Empty Textual app, start to first frame: {baseline:.0f} ms (median of {len(empty)}).",
        "",
        "| VMs | first picture | first frame with data | vs empty app | VMs at that frame | whole list in | cursor key while loading (max) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for whole in (False, True):
        mine = [r for r in runs if r["whole"] is whole]
        failed = [r["error"] for r in mine if "error" in r]
        if failed:
            lines.append(f"| {args.vms:,} | {'whole' if whole else 'paged'} | failed: {failed[0]} ||||||")
            continue
        first = statistics.median(r["first_frame_s"] for r in mine) * 1000
        rows = statistics.median(r["rows_at_first_frame"] for r in mine)
        ended = [r["load_done_s"] for r in mine if "load_done_s" in r]
        if whole:
            done_text = "(at the first frame)"
        elif len(ended) == len(mine):
            done_text = f"{statistics.median(ended):.2f} s"
        else:
            loading = min(mine, key=lambda r: r["rows_when_stopped"])
            done_text = f"not within {loading['stopped_s']:.0f} s ({loading['rows_when_stopped']:,} VMs so far)"
        keys = [r for r in mine if "load_key_ms" in r]
        key = (
            f"{statistics.median(r['load_key_ms'] for r in keys):.0f} ms ({max(r['load_key_max_ms'] for r in keys):.0f})"
            if keys else "-"
        )
        what = "the whole list (`--no-pages`)" if whole else "vms/list's first page"
        lines.append(f"| {args.vms:,} | {what} | {first:.0f} ms | {first / baseline:.1f}x | {rows:,.0f} | {done_text} | {key} |")
        if not whole:
            ratio = first / baseline
            verdicts.append(_verdict(f"Prism first frame at {args.vms:,} VMs: {ratio:.1f}x the empty app", ratio <= BUDGET_PRISM_RATIO, f"<= {BUDGET_PRISM_RATIO:g}x"))
    lines += ["", "Where the paged first frame's time goes (seconds since spawn, median):", ""]
    paged = [r for r in runs if not r["whole"] and "error" not in r]
    if paged:
        def at(mark: str) -> float:
            return statistics.median(r["timeline"][mark] for r in paged)

        steps = [
            ("Python start and imports", 0.0, at("imported")),
            ("Textual start", at("imported"), at("connecting")),
            ("login", at("connecting"), at("connected")),
            ("vms/list's first page", at("connected"), at("snapshot_taken")),
            ("until the first frame", at("snapshot_taken"), at("first_frame")),
        ]
        lines.append("- " + ", ".join(f"{name} {end - begin:.2f}" for name, begin, end in steps) + ".")
    return "\n".join(lines + ["", "Budgets:", ""] + verdicts)


def _run_in_pty(command: list[str], env: dict[str, str], timeout: float = CHILD_TIMEOUT) -> tuple[int, str]:
    """Run under a pseudo-terminal of TERMINAL_SIZE; the parent reads (and drops) the screen."""
    master, slave = pty.openpty()
    columns, rows = TERMINAL_SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = dict(env, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    tail = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            tail.extend(chunk)
            del tail[:-4096]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        returncode = process.wait()
    reader.join(timeout=2)
    os.close(master)
    return returncode, tail.decode(errors="replace")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Textual {version('textual')}"
    )


def report(empty: list[dict[str, Any]], runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    baseline = statistics.median(r["first_frame_s"] for r in empty) * 1000
    mode = "headless (no terminal)" if args.headless else f"a pseudo-terminal {TERMINAL_SIZE[0]}x{TERMINAL_SIZE[1]}"
    lines = [
        f"Machine: {machine()}.",
        f"Command: `python -m console.bench --scales {args.scales} --idle-seconds {args.idle_seconds:g}"
        f"{' --headless' if args.headless else ''}{' --no-pages' if args.no_pages else ''}`; each process runs in {mode}.",
        f"Empty Textual app, start to first frame: {baseline:.0f} ms (median of {len(empty)}).",
        "",
        "| containers | first frame with data | vs empty app | 5% tick applied | 5% tick to frame "
        "| cursor key to frame | filter key to frame | filter done | sort key to frame (done) "
        "| RSS | idle CPU | CLI list --json: wall, peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['scale']:,} | failed: {r['error']} |||||||| ")
            continue
        first = r["first_frame_s"] * 1000
        cli = f"{r['cli_s']:.2f} s, {r['cli_peak_rss_mib']:.0f} MiB" if "cli_s" in r else r.get("cli_error", "-")
        lines.append(
            f"| {r['scale']:,} | {first:.0f} ms | {first / baseline:.1f}x "
            f"| {r['tick_apply_ms']:.1f} ms ({r['tick_changes']:,} rows) | {r['tick_frame_ms']:.1f} ms "
            f"| {r['cursor_ms']:.1f} ms (max {r['cursor_max_ms']:.1f}) "
            f"| {r['filter_ms']:.1f} ms (max {r['filter_max_ms']:.1f}) "
            f"| {r.get('filter_done_ms', 0):.0f} ms | {r.get('sort_ms', 0):.1f} ms ({r.get('sort_done_ms', 0):.0f} ms) "
            f"| {r['rss_mib']:.0f} MiB | {r['idle_cpu_percent']:.2f}% over {r['idle_seconds']:.0f} s | {cli} |"
        )
    lines += ["", "Where the first frame's time goes (seconds since spawn, each step's share):", ""]
    for r in runs:
        if "error" in r:
            continue
        t = r["timeline"]
        steps = [
            ("Python start and imports", 0.0, t["imported"]),
            ("Textual start", t["imported"], t["connecting"]),
            ("simulator world", t["connecting"], t["connected"]),
            ("snapshot", t["connected"], t["snapshot_taken"]),
            ("until the tables take the rows", t["snapshot_taken"], t["rows_set"]),
            ("layout and first paint", t["rows_set"], t["first_frame"]),
        ]
        shares = ", ".join(f"{name} {end - begin:.2f}" for name, begin, end in steps)
        if "load_done_s" in r:
            shares += f" ({r['rows_at_first_frame']:,} rows at the first frame; the whole {r['rows_loaded']:,} at {r['load_done_s']:.2f}"
            if "load_key_ms" in r:
                shares += f", a cursor key meanwhile {r['load_key_ms']:.0f} ms to its frame (max {r['load_key_max_ms']:.0f}, {r['load_keys']} keys)"
            shares += ")"
        lines.append(
            f"- {r['scale']:,}: {shares}. Then the tables settle (a sort or filter between frames) {r['settle_s']:.2f}; "
            f"of a 5% tick, the containers table's own apply {r['tick_table_ms']:.1f} ms; "
            f"{r['idle_frames']} frames drawn while idle."
        )
    lines += ["", "Budgets:", ""]
    for r in runs:
        if "error" in r:
            continue
        ratio = r["first_frame_s"] * 1000 / baseline
        lines.append(_verdict(f"first frame at {r['scale']:,}: {ratio:.1f}x the empty app", ratio <= BUDGET_FIRST_FRAME_RATIO, f"<= {BUDGET_FIRST_FRAME_RATIO}x"))
    for r in runs:
        if r.get("scale") != BUDGET_SCALE or "error" in r:
            continue
        lines.append(_verdict(f"5% tick at {BUDGET_SCALE:,}: {r['tick_apply_ms']:.1f} ms", r["tick_apply_ms"] <= BUDGET_TICK_MS, f"<= {BUDGET_TICK_MS:g} ms"))
        lines.append(_verdict(f"idle CPU at {BUDGET_SCALE:,}: {r['idle_cpu_percent']:.2f}% of one core", r["idle_cpu_percent"] < BUDGET_IDLE_CPU_PERCENT, f"< {BUDGET_IDLE_CPU_PERCENT:g}%"))
        lines.append(_verdict(f"RSS at {BUDGET_SCALE:,}: {r['rss_mib']:.0f} MiB", r["rss_mib"] < BUDGET_RSS_MIB, f"< {BUDGET_RSS_MIB:g} MiB"))
    for r in runs:
        if r.get("scale") != LARGE_SCALE or "error" in r:
            continue
        at = f"at {LARGE_SCALE:,}"
        lines.append(_verdict(f"filter key to frame {at}: {r['filter_ms']:.1f} ms", r["filter_ms"] <= BUDGET_LARGE_FILTER_MS, f"<= {BUDGET_LARGE_FILTER_MS:g} ms median"))
        lines.append(_verdict(f"filter key to frame {at}, max: {r['filter_max_ms']:.1f} ms", r["filter_max_ms"] <= BUDGET_LARGE_FILTER_MAX_MS, f"<= {BUDGET_LARGE_FILTER_MAX_MS:g} ms"))
        lines.append(_verdict(f"5% tick to frame {at}: {r['tick_frame_ms']:.1f} ms", r["tick_frame_ms"] <= BUDGET_LARGE_TICK_FRAME_MS, f"<= {BUDGET_LARGE_TICK_FRAME_MS:g} ms"))
        lines.append(_verdict(f"RSS {at}: {r['rss_mib']:.0f} MiB", r["rss_mib"] < BUDGET_RSS_MIB, f"< {BUDGET_RSS_MIB:g} MiB"))
        if "cli_s" in r:
            lines.append(_verdict(f"containers list --json {at}: {r['cli_s']:.2f} s", r["cli_s"] <= BUDGET_CLI_SECONDS, f"<= {BUDGET_CLI_SECONDS:g} s"))
            lines.append(_verdict(f"containers list --json {at}: peak RSS {r['cli_peak_rss_mib']:.0f} MiB", r["cli_peak_rss_mib"] < BUDGET_RSS_MIB, f"< {BUDGET_RSS_MIB:g} MiB"))
    return "\n".join(lines)


def _verdict(what: str, ok: bool, budget: str) -> str:
    return f"- {'PASS' if ok else 'FAIL'}: {what} (budget {budget})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1000,10000,100000", help="container counts, comma separated")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="scales 1000,10000 and a 5 s idle")
    parser.add_argument("--headless", action="store_true", help="no terminal (Textual's headless mode)")
    parser.add_argument("--no-cli", action="store_true", help="skip `containers list --json` at each scale")
    parser.add_argument(
        "--backend", choices=["simulator", "prism"], default="simulator",
        help="prism: the console against `sim serve` (--vms VMs), paged and whole, instead of the scales",
    )
    parser.add_argument("--vms", type=int, default=10_000, help="with --backend prism: the VMs sim serve lists")
    parser.add_argument(
        "--whole-timeout", type=float, default=300.0, help="with --backend prism: how long the whole-list run may wait"
    )
    parser.add_argument("--no-pages", action="store_true", help="the console's first picture is the whole snapshot (as before paging)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scales, args.idle_seconds = "1000,10000", 5.0
    try:
        scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--scales: not a list of numbers: {args.scales!r}")
    root = Path(__file__).resolve().parent.parent
    for package in ("backends", "console", "widgets"):
        compileall.compile_dir(root / package, quiet=1)
    try:
        empty = []
        for _ in range(EMPTY_RUNS):
            empty.append(run_child("empty", scale=0, idle_seconds=0, headless=args.headless))
        if args.backend == "prism":
            print(f"measuring the Prism backend at {args.vms:,} VMs...", file=sys.stderr, flush=True)
            print(prism_report(empty, run_prism(args), args))
            return 0
        runs = []
        for scale in scales:
            print(f"measuring {scale:,} containers...", file=sys.stderr, flush=True)
            try:
                extra = ("--no-pages",) if args.no_pages else ()
                runs.append(run_child("app", scale=scale, idle_seconds=args.idle_seconds, headless=args.headless, extra=extra))
            except RuntimeError as exc:
                runs.append({"scale": scale, "error": str(exc)})
                continue
            if not args.no_cli:
                try:
                    runs[-1].update(run_cli(scale))
                except (RuntimeError, OSError) as exc:
                    runs[-1]["cli_error"] = str(exc)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(report(empty, runs, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
