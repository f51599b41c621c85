"""Saving and loading the whole simulated state as JSON (``--demo-state PATH``).

The save records the wall time; a load with ``speed > 0`` returns how much simulated time
passed meanwhile (wall elapsed * speed), which the backend then runs, so a task left
unfinished by one CLI call has moved on at the next. Unfinished tasks resume at the step
they had reached.
"""

from __future__ import annotations

import json
import operator
import os
import tempfile
import time
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Callable

from ..contract import KIND_NAMES
from ..errors import InvalidInput
from ..models import KINDS, ContainerState, HostState, Mount, PortBinding, Quota, Severity, TaskStatus, VolumeState
from . import activity

if TYPE_CHECKING:
    from .backend import SimulatorBackend

FORMAT = "ntnx-console-simulator/1"
MAX_CATCH_UP_SECONDS = 6 * 3600.0


def save(backend: "SimulatorBackend", path: str) -> None:
    store, clock = backend.store, backend.clock
    running = []
    for task_id, (process, args, ctx, _job) in backend.runner.running.items():
        step = max(0, ctx.step_index - 1)
        running.append({
            "task_id": task_id, "process": process, "args": args, "step": step,
            "elapsed": clock.now - ctx.step_started_at if ctx.step_index else 0.0,
            "paused": ctx.control.paused, "aborted": ctx.control.aborted,
        })
    data = {
        "format": FORMAT,
        "seed": backend.seed,
        "scale": backend.scale,
        "now": clock.now,
        "saved_at_wall": time.time(),
        "seq": store.seq,
        "next_ip": backend.world.next_ip,
        "rng": _rng_state(backend.world.rng.getstate()),
        "tables": {kind: _encode_table(kind, store.tables[kind]) for kind in KIND_NAMES},
        "running": running,
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sim-state-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(backend: "SimulatorBackend", path: str) -> float:
    """Restore ``backend`` from ``path``; returns the simulated seconds to catch up."""
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        store = backend.store
        for kind in KIND_NAMES:
            store.tables[kind] = _decode_table(kind, data["tables"][kind])
        backend.clock.now = float(data["now"])
        store.seq = int(data["seq"])
        backend.world.next_ip = int(data["next_ip"])
        backend.world.rng.setstate(_rng_tuple(data["rng"]))
        running = data["running"]
        saved_at = float(data["saved_at_wall"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InvalidInput(f"{path} is not a simulator state file this version can read ({err})") from None
    backend.seed = int(data.get("seed", backend.seed))
    _resume(backend, running)
    # Recoveries that were under way (HA restarts, node repairs, container restarts) go on.
    # A partition is not state: a new run starts connected.
    backend.faults.resume_recoveries()
    activity.resume_restarts(backend.world)
    if backend.speed <= 0:
        return 0.0
    return min(MAX_CATCH_UP_SECONDS, max(0.0, time.time() - saved_at) * backend.speed)


def _resume(backend: "SimulatorBackend", running: list[dict[str, Any]]) -> None:
    store, runner = backend.store, backend.runner
    # A host's step of a rolling upgrade is redone from its start: the upgrade re-plans.
    for task in list(store.tasks.values()):
        if task.kind == "upgrade_host" and not task.done:
            runner.finish(task.id, TaskStatus.FAILED, error="interrupted; the upgrade retries this host")
            host = store.hosts.get(task.target_id or "")
            if host is not None and host.state is HostState.UPGRADING:
                store.upsert(replace(host, state=HostState.RUNNING))
    for record in running:
        task = store.tasks.get(record["task_id"])
        if task is None or task.done:
            continue
        ctx = runner.start(task, record["process"], record["args"], record["step"], float(record["elapsed"]))
        if record.get("paused"):
            ctx.control.pause()
        if record.get("aborted"):
            ctx.control.abort()
    store.flush()


# Tables are saved as a header of field names and one row per item: at 100,000 containers
# this is several times faster than a dict per item, both ways.


def _codec(type_name: str) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """(encode, decode) for a field of the given annotation; None where the value is plain JSON."""
    name = str(type_name)
    for enum_type in (HostState, ContainerState, VolumeState, TaskStatus, Severity):
        if name.startswith(enum_type.__name__):
            return (lambda v: v.value if v is not None else None), (
                lambda v, e=enum_type: e(v) if v is not None else None)
    if name.startswith("Quota"):
        return (lambda q: [q.vcpus, q.memory_mib, q.storage_gib, q.vms]), (lambda v: Quota(*v))
    for nested in (Mount, PortBinding):
        if name.startswith(f"tuple[{nested.__name__}"):
            names = [f.name for f in fields(nested)]
            return (lambda items, n=names: [[getattr(i, a) for a in n] for i in items]), (
                lambda rows, m=nested: tuple(m(*r) for r in rows))
    if name.startswith("tuple[tuple"):
        return (lambda v: [list(p) for p in v]), (lambda v: tuple(tuple(p) for p in v))
    if name.startswith("tuple"):
        return list, tuple
    return None, None


def _columns(kind: str) -> list[tuple[str, Any, Any]]:
    return [(f.name, *_codec(f.type)) for f in fields(KINDS[kind])]


def _encode_table(kind: str, table: dict[str, Any]) -> dict[str, Any]:
    columns = _columns(kind)
    names = [name for name, _, _ in columns]
    get = operator.attrgetter(*names)
    encoders = [(i, enc) for i, (_, enc, _) in enumerate(columns) if enc]
    rows = []
    for item in table.values():
        row = list(get(item))
        for i, enc in encoders:
            row[i] = enc(row[i])
        rows.append(row)
    return {"fields": names, "rows": rows}


def _decode_table(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    columns = _columns(kind)
    if data["fields"] != [name for name, _, _ in columns]:
        raise ValueError(f"the {kind} table was saved with other fields")
    model = KINDS[kind]
    decoders = [(i, dec) for i, (_, _, dec) in enumerate(columns) if dec]
    table = {}
    for row in data["rows"]:
        for i, dec in decoders:
            row[i] = dec(row[i])
        item = model(*row)
        table[item.id] = item
    return table


def _rng_state(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_tuple(data: list) -> tuple:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
