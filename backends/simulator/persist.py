"""The document of ``--demo-state PATH``: the whole simulated state as JSON, and back.

This module turns the world and its running tasks into a document (``encode``), checks a
document read from a file before anything of it is used (``parse``: every table, row and
field has the type the models need, every number is finite and in range, within a size cap),
and puts a checked document back into a world (``restore``). Which file, its lock and its
atomic replacement are ``statefile``'s; when to load and save is the backend's. It needs no
backend: the world and the task runner are all it touches.

The save records the wall time; a load with ``speed > 0`` catches up how much simulated time
passed meanwhile (``catch_up_seconds``), so a task left unfinished by one CLI call has moved on
at the next. Unfinished tasks resume at the step they had reached.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import math
import operator
import random
import time
from itertools import chain
from dataclasses import fields, replace
from typing import IO, Any, Callable, Collection

from ..contract import KIND_NAMES
from ..errors import InvalidInput
from ..models import KINDS, ContainerState, HostState, Mount, PortBinding, Quota, Severity, TaskStatus, UpdatePolicy, VolumeState
from .about import MAX_SCALE
from .tasks import TaskRunner
from .world import HOST_NET, World

FORMAT = "ntnx-console-simulator/1"
MAX_CATCH_UP_SECONDS = 6 * 3600.0
# About 510 bytes a container (with its hosts and volumes): 100,000 containers save in 51 MB,
# the largest --scale in about 510 MB. Past this a file is refused before it is read.
MAX_STATE_BYTES = 1 << 30
MAX_NOW = 1e11  # simulated POSIX seconds (the year 5138): past it a clock is nonsense
MAX_STEP_SECONDS = 7 * 86400.0  # a task step longer than a week was not drawn by this simulator
MAX_STEPS = 1000


# -- saving -------------------------------------------------------------------------------------


def encode(runner: TaskRunner, *, seed: int, scale: int | None) -> dict[str, Any]:
    world = runner.world
    store, clock = world.store, world.store.clock
    running = []
    for task_id, (process, args, ctx, _job) in runner.running.items():
        step = max(0, ctx.step_index - 1)
        running.append({
            "task_id": task_id, "process": process, "args": args, "step": step,
            "elapsed": clock.now - ctx.step_started_at if ctx.step_index else 0.0,
            "paused": ctx.control.paused, "aborted": ctx.control.aborted,
        })
    return {
        "format": FORMAT,
        "seed": seed,
        "scale": scale,
        "now": clock.now,
        "saved_at_wall": time.time(),
        "seq": store.seq,
        "next_ip": world.next_ip,
        # Only the containers that still exist: a removed one's environment goes with it.
        "container_env": {cid: list(env) for cid, env in world.container_env.items() if cid in store.containers},
        "rng": _rng_state(world.rng.getstate()),
        "tables": {kind: _encode_table(kind, store.tables[kind]) for kind in KIND_NAMES},
        "running": running,
    }


def write(document: dict[str, Any], f: IO[bytes]) -> None:
    """The document as compact JSON, written in chunks (a big world is never one string)."""
    text = io.TextIOWrapper(f, encoding="utf-8", newline="")
    try:
        json.dump(document, text, separators=(",", ":"), allow_nan=False)
        text.flush()
    finally:
        text.detach()  # the caller's file stays open: it flushes, fsyncs and closes it


# -- loading ------------------------------------------------------------------------------------


def parse(raw: bytes, path: str, processes: Collection[str]) -> dict[str, Any]:
    """The checked document in ``raw`` (read from ``path``), or ``InvalidInput`` naming the
    file and the first thing wrong. Nothing of a refused document is used."""
    try:
        with _collector_paused():
            data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
            _check_document(data, processes)
    except _Bad as err:
        raise _unreadable(path, str(err)) from None
    except RecursionError:
        raise _unreadable(path, "nested too deeply") from None
    except ValueError as err:  # not JSON, not UTF-8, a number out of range
        raise _unreadable(path, " ".join(str(err).split())) from None
    return data


def restore(document: dict[str, Any], runner: TaskRunner) -> None:
    """Put a document ``parse`` accepted into the runner's world and resume its tasks."""
    world = runner.world
    store = world.store
    with _collector_paused():
        for kind in KIND_NAMES:
            store.tables[kind] = _decode_table(kind, document["tables"][kind])
    store.clock.now = float(document["now"])
    store.seq = document["seq"]
    world.next_ip = document["next_ip"]
    env = document.get("container_env") or {}  # absent from states saved before it was kept
    world.container_env = {str(cid): tuple(str(e) for e in lines) for cid, lines in env.items() if isinstance(lines, list)}
    world.rng.setstate(_rng_tuple(document["rng"]))
    _resume(runner, document["running"])


def catch_up_seconds(document: dict[str, Any], speed: float) -> float:
    """Simulated seconds that passed since the save, at ``speed`` (bounded)."""
    if speed <= 0:
        return 0.0
    return min(MAX_CATCH_UP_SECONDS, max(0.0, time.time() - document["saved_at_wall"]) * speed)


@contextlib.contextmanager
def _collector_paused():
    # Millions of new objects, none of them garbage: the cyclic collector would walk the
    # growing heap again and again (as World.build, which pauses it too).
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _unreadable(path: str, what: str) -> InvalidInput:
    return InvalidInput(f"{path} is not a simulator state file this version can read: {what}")


def _resume(runner: TaskRunner, running: list[dict[str, Any]]) -> None:
    store = runner.world.store
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


# -- checking a document ------------------------------------------------------------------------


class _Bad(Exception):
    """What is wrong with a document, in words for the user."""


def _no_constant(name: str) -> Any:
    raise _Bad(f"{name} is not a number this file may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Bad(f"the number {text[:40]} is out of range")
    return value


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)  # floats are finite: _finite_float saw to it


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def _check_document(data: Any, processes: Collection[str]) -> None:
    _expect(isinstance(data, dict), f"the top level is {_json_type(data)}, not an object")
    _expect(data.get("format") == FORMAT, f"format is {str(data.get('format'))[:60]!r}, not {FORMAT!r}")
    for key in ("seed", "now", "saved_at_wall", "seq", "next_ip", "rng", "tables", "running"):
        _expect(key in data, f"{key!r} is missing")
    _expect(_is_int(data["seed"]), "'seed' is not a whole number")
    scale = data.get("scale")
    _expect(scale is None or (_is_int(scale) and 1 <= scale <= MAX_SCALE), f"'scale' is not 1 to {MAX_SCALE:,}")
    _expect(_is_number(data["now"]) and 0 <= data["now"] <= MAX_NOW, "'now' is not a time this simulator keeps")
    _expect(_is_number(data["saved_at_wall"]), "'saved_at_wall' is not a number")
    _expect(_is_int(data["seq"]) and data["seq"] >= 0, "'seq' is not a whole number, 0 or more")
    _expect(_is_int(data["next_ip"]) and 0 <= data["next_ip"] < HOST_NET.num_addresses - 2,
            "'next_ip' is outside the simulated network")
    _check_rng(data["rng"])
    tables = data["tables"]
    _expect(isinstance(tables, dict), "'tables' is not an object")
    unknown = sorted(set(tables) - set(KIND_NAMES))
    _expect(not unknown, f"unknown table {str(unknown[:1])[1:-1][:60]}")
    for kind in KIND_NAMES:
        _expect(kind in tables, f"the {kind} table is missing")
        _check_table(kind, tables[kind])
    running = data["running"]
    _expect(isinstance(running, list), "'running' is not a list")
    for i, record in enumerate(running):
        _check_running(i, record, processes)


def _check_rng(rng: Any) -> None:
    ok = isinstance(rng, list) and len(rng) == 3 and _is_int(rng[0]) and isinstance(rng[1], list)
    ok = ok and len(rng[1]) == 625 and all(_is_int(v) and 0 <= v < 2**32 for v in rng[1])
    _expect(ok and (rng[2] is None or _is_number(rng[2])), "'rng' is not a random generator's state")
    try:
        random.Random().setstate(_rng_tuple(rng))
    except (TypeError, ValueError, OverflowError):
        raise _Bad("'rng' is not a random generator's state") from None


def _check_table(kind: str, table: Any) -> None:
    columns = _COLUMNS[kind]
    names = [name for name, _, _, _ in columns]
    _expect(isinstance(table, dict) and isinstance(table.get("rows"), list), f"the {kind} table has no rows list")
    _expect(table.get("fields") == names, f"the {kind} table was saved with other fields")
    rows = table["rows"]
    width = len(names)
    for i, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            got = f"{len(row)} values" if type(row) is list else _json_type(row)
            raise _Bad(f"{kind} row {i + 1} has {got}, not {width}")
    if not rows:
        return
    # Column by column: a set of types per column is cheap even at 100,000 rows.
    for (name, _, _, check), column in zip(columns, zip(*rows)):
        bad = check(column)
        if bad is not None:
            raise _Bad(f"{kind} field {name!r}: {bad}")
    ids = [row[0] for row in rows]
    _expect(len(set(ids)) == len(ids), f"the {kind} table has an id twice")


def _check_running(i: int, record: Any, processes: Collection[str]) -> None:
    where = f"running task {i + 1}"
    _expect(isinstance(record, dict), f"{where} is not an object")
    _expect(type(record.get("task_id")) is str, f"{where} has no task id")
    _expect(record.get("process") in processes, f"{where} has an unknown process")
    args = record.get("args")
    _expect(isinstance(args, dict), f"{where} has no args object")
    step, elapsed = record.get("step"), record.get("elapsed")
    _expect(_is_int(step) and 0 <= step <= MAX_STEPS, f"{where}: 'step' is out of range")
    _expect(_is_number(elapsed) and 0 <= elapsed <= MAX_STEP_SECONDS, f"{where}: 'elapsed' is out of range")
    for flag in ("paused", "aborted"):
        _expect(type(record.get(flag, False)) is bool, f"{where}: {flag!r} is not true or false")
    durations = args.get("durations", [])
    # A step's duration is the clock's to run: one past a week would keep a --wait busy for ever.
    _expect(isinstance(durations, list) and all(_is_number(d) and 0 <= d <= MAX_STEP_SECONDS for d in durations),
            f"{where}: 'durations' are not step lengths")
    if "batch_size" in args:
        _expect(_is_int(args["batch_size"]) and args["batch_size"] >= 1, f"{where}: 'batch_size' is not 1 or more")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false"}.get(
        type(value), "a number")


# -- the tables: a header of field names and one row per item -----------------------------------
# At 100,000 containers this is several times faster than a dict per item, both ways.

_ENUMS = (HostState, ContainerState, VolumeState, TaskStatus, Severity)
Check = Callable[[tuple], "str | None"]


_NONE = type(None)
STR, INT, NUMBER, BOOL = frozenset({str}), frozenset({int}), frozenset({int, float}), frozenset({bool})
OPT_STR, OPT_INT, OPT_NUMBER = STR | {_NONE}, INT | {_NONE}, NUMBER | {_NONE}
_LIST = frozenset({list})


# Checks work a column at a time with set(map(...)) and chain: C loops, so checking 100,000
# containers' worth costs a fraction of reading them.


def _types(allowed: frozenset, words: str) -> Check:
    def check(column: tuple) -> str | None:
        return None if set(map(type, column)) <= allowed else f"not {words}"

    return check


def _records(column: Any, positions: tuple[frozenset, ...]) -> bool:
    """Every value in ``column`` a list of len(positions) values of those types."""
    column = list(column)
    if not set(map(type, column)) <= _LIST or not set(map(len, column)) <= {len(positions)}:
        return False
    return not column or all(set(map(type, values)) <= allowed for allowed, values in zip(positions, zip(*column)))


def _record_column(positions: tuple[frozenset, ...], words: str) -> Check:
    def check(column: tuple) -> str | None:
        return None if _records(column, positions) else f"not {words}"

    return check


def _lists_of_records(positions: tuple[frozenset, ...], words: str) -> Check:
    def check(column: tuple) -> str | None:
        ok = set(map(type, column)) <= _LIST and _records(chain.from_iterable(column), positions)
        return None if ok else f"not {words}"

    return check


def _lists_of(allowed: frozenset, words: str) -> Check:
    def check(column: tuple) -> str | None:
        ok = set(map(type, column)) <= _LIST and set(map(type, chain.from_iterable(column))) <= allowed
        return None if ok else f"not {words}"

    return check




def _codec(type_name: str) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None, Check]:
    """(encode, decode, check) for a field of the given annotation; None where the value is
    plain JSON. An annotation not known here fails at import: a new field needs a rule."""
    name = str(type_name).replace(" ", "")
    optional = name.endswith("|None")
    base = name.removesuffix("|None")
    for enum_type in _ENUMS:
        if base == enum_type.__name__:
            values = frozenset(e.value for e in enum_type) | ({None} if optional else set())
            words = f"a {enum_type.__name__} ({', '.join(sorted(e.value for e in enum_type))})"

            def check_enum(column: tuple, values: frozenset = values, words: str = words) -> str | None:
                types_ok = set(map(type, column)) <= {str, _NONE}
                return None if types_ok and set(column) <= values else f"not {words}"

            return (lambda v: v.value if v is not None else None), (
                lambda v, e=enum_type: e(v) if v is not None else None), check_enum
    if base == "Quota":
        return (lambda q: [q.vcpus, q.memory_mib, q.storage_gib, q.vms]), (lambda v: Quota(*v)), _record_column(
            (OPT_INT, OPT_INT, OPT_NUMBER, OPT_INT), "a quota [vcpus, memory_mib, storage_gib, vms]")
    if base == "UpdatePolicy":
        return (lambda u: [u.parallelism, u.delay_s, u.failure_action, u.order, u.monitor_s, u.max_failure_ratio]), (
            lambda v: UpdatePolicy(*v)), _record_column(
            (INT, NUMBER, STR, STR, NUMBER, NUMBER),
            "an update policy [parallelism, delay_s, failure_action, order, monitor_s, max_failure_ratio]")
    if base == "tuple[Mount,...]":
        names = [f.name for f in fields(Mount)]
        return (lambda items, n=names: [[getattr(i, a) for a in n] for i in items]), (
            lambda rows: tuple(Mount(*r) for r in rows)), _lists_of_records((STR, STR, STR, BOOL), "a list of mounts")
    if base == "tuple[PortBinding,...]":
        names = [f.name for f in fields(PortBinding)]
        return (lambda items, n=names: [[getattr(i, a) for a in n] for i in items]), (
            lambda rows: tuple(PortBinding(*r) for r in rows)), _lists_of_records(
            (INT, STR, OPT_INT, OPT_STR), "a list of port bindings")
    if base == "tuple[tuple[str,str],...]":
        return (lambda v: [list(p) for p in v]), (lambda v: tuple(tuple(p) for p in v)), _lists_of_records(
            (STR, STR), "a list of [key, value] pairs")
    if base == "tuple[str,...]":
        return list, tuple, _lists_of(STR, "a list of strings")
    plain = {"str": (STR, "a string"), "int": (INT, "a whole number"), "float": (NUMBER, "a number"),
             "bool": (BOOL, "true or false")}
    if base in plain:
        allowed, words = plain[base]
        return None, None, _types(allowed | ({_NONE} if optional else set()), words + (" or null" if optional else ""))
    raise TypeError(f"persist: no rule for a field of type {type_name!r}")


def _columns(kind: str) -> list[tuple[str, Any, Any, Check]]:
    return [(f.name, *_codec(f.type)) for f in fields(KINDS[kind])]


_COLUMNS = {kind: _columns(kind) for kind in KIND_NAMES}


def _encode_table(kind: str, table: dict[str, Any]) -> dict[str, Any]:
    columns = _COLUMNS[kind]
    names = [name for name, _, _, _ in columns]
    get = operator.attrgetter(*names)
    encoders = [(i, enc) for i, (_, enc, _, _) in enumerate(columns) if enc]
    rows = []
    for item in table.values():
        row = list(get(item))
        for i, enc in encoders:
            row[i] = enc(row[i])
        rows.append(row)
    return {"fields": names, "rows": rows}


def _decode_table(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    columns = _COLUMNS[kind]
    model = KINDS[kind]
    decoders = [(i, dec) for i, (_, _, dec, _) in enumerate(columns) if dec]
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
