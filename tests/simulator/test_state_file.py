"""--demo-state loses nothing: parallel CLI calls, a console open on the file, a writer killed
mid-save, read-only mode and directories, damaged files. Through the real entry point
(``.venv/bin/ntnx-console``) where processes meet; every wait has a deadline."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.contract import HostSpec, VolumeSpec
from backends.errors import InvalidInput
from backends.files import FileBusy, FileLock, FileWriteFailed, remove_leftovers, write_atomic
from backends.settings import Settings
from backends.simulator import SimulatorBackend
from backends.simulator.about import SimulatorSettings
from backends.simulator.persist import MAX_STATE_BYTES
from backends.simulator.statefile import STALL_ENV, StateChanged
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / ".venv" / "bin" / "ntnx-console")
IMAGE = "ubuntu-22.04-docker-26.1.4"
CALL_TIMEOUT = 120.0  # seconds one CLI call may take on a busy two-core machine


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "config.toml"))


def _argv(state: Path, *command: str) -> list[str]:
    return [ENTRY, "--demo", "--demo-state", str(state), *command]


def _host_create(name: str) -> tuple[str, ...]:
    return ("host", "create", name, "--image", IMAGE, "--cores", "1", "--memory-mib", "1024",
            "--network", "vlan110-apps", "--wait")


def _volume_create(name: str) -> tuple[str, ...]:
    return ("volume", "create", name, "--size-gib", "1", "--wait")


def _run(state: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(state, *command), capture_output=True, text=True, timeout=CALL_TIMEOUT,
                          env={**os.environ, **(env or {})}, cwd=state.parent)


def _names(state: Path, kind: str) -> set[str]:
    listed = _run(state, kind, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {row["name"] for row in json.loads(listed.stdout)}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("simulated data")]


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".sim-state-"))


# -- many writers --------------------------------------------------------------------------------


def test_twenty_parallel_creators_on_one_file_leave_twenty(tmp_path: Path):
    state = tmp_path / "s.json"
    hosts = [f"par-h{i:02d}" for i in range(10)]
    volumes = [f"par-v{i:02d}" for i in range(10)]
    commands = [_host_create(h) for h in hosts] + [_volume_create(v) for v in volumes]
    procs = [subprocess.Popen(_argv(state, *c), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path) for c in commands]
    deadline = time.monotonic() + 300
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    for code, out, err in results:
        assert code == 0, err
        assert "SUCCEEDED" in out
    assert set(hosts) <= _names(state, "hosts")
    assert set(volumes) <= _names(state, "volumes")
    assert _temporaries(tmp_path) == []


async def test_a_console_does_not_wipe_what_a_cli_call_saved_meanwhile(tmp_path: Path):
    """The console (shared mode) reads without the lock and, at quit, will not overwrite a file
    another process saved since it loaded: one line says so, the CLI's change stays."""
    from console.app import NtnxConsoleApp

    state = tmp_path / "s.json"
    assert _run(state, *_volume_create("before")).returncode == 0
    settings = Settings(backend="simulator", simulator=SimulatorSettings(state_path=str(state), speed=0.0, activity=False))
    app = NtnxConsoleApp(settings, None)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=(120, 40)):
        await wait_until(lambda: app.store.loaded, what="the console's first snapshot")
        await app.backend.create_volume(VolumeSpec("from-console", 2))
        await app.backend.advance(60)
        made = _run(state, *_host_create("from-cli"))  # the console holds no lock meanwhile
        assert made.returncode == 0, made.stderr
    assert app.close_error and str(state) in app.close_error and "not overwritten" in app.close_error
    assert "\n" not in app.close_error
    assert "from-cli" in _names(state, "hosts")
    assert "before" in _names(state, "volumes")


async def test_a_console_alone_on_the_file_saves_at_quit(tmp_path: Path):
    from console.app import NtnxConsoleApp

    state = tmp_path / "s.json"
    assert _run(state, *_volume_create("before")).returncode == 0
    settings = Settings(backend="simulator", simulator=SimulatorSettings(state_path=str(state), speed=0.0, activity=False))
    app = NtnxConsoleApp(settings, None)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=(120, 40)):
        await wait_until(lambda: app.store.loaded, what="the console's first snapshot")
        await app.backend.create_volume(VolumeSpec("from-console", 2))
        await app.backend.advance(60)
    assert app.close_error is None
    assert {"before", "from-console"} <= _names(state, "volumes")


async def test_a_refused_save_keeps_the_state_in_memory(tmp_path: Path):
    path = str(tmp_path / "s.json")
    first = SimulatorBackend(seed=5, state_path=path, activity=False)
    second = SimulatorBackend(seed=5, state_path=path, activity=False)
    await first.connect()
    await second.connect()
    mine = await first.wait_task((await first.create_host(HostSpec("mine-1", IMAGE, 1, 1024, "vlan110-apps"))).id)
    theirs = await second.wait_task((await second.create_host(HostSpec("theirs-1", IMAGE, 1, 1024, "vlan110-apps"))).id)
    await second.close()
    before = Path(path).read_bytes()
    with pytest.raises(StateChanged) as refused:
        await first.save_state()
    assert path in refused.value.one_line() and "\n" not in refused.value.one_line()
    assert Path(path).read_bytes() == before
    assert first.store.hosts[mine.result_id].name == "mine-1"  # still there, in memory
    await first.close()  # the refusal was said once; closing does not repeat it
    third = SimulatorBackend(seed=5, state_path=path, activity=False)
    await third.connect()
    # (Same seed, same ids: the two sessions' hosts share an id, one reason not to merge.)
    names = {h.name for h in third.store.hosts.values()}
    assert third.store.hosts[theirs.result_id].name == "theirs-1" and "mine-1" not in names
    await third.close()


# -- a writer killed mid-save ---------------------------------------------------------------------


async def test_kill_9_during_a_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path: Path):
    state = tmp_path / "s.json"
    assert _run(state, *_volume_create("kept")).returncode == 0
    old = state.read_bytes()
    stalled = tmp_path / "stalled"  # the writer says here that its temporary is complete
    proc = subprocess.Popen(_argv(state, *_volume_create("lost")), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, STALL_ENV: str(stalled)}, cwd=tmp_path)
    try:
        await wait_until(lambda: stalled.exists() or proc.poll() is not None, timeout=CALL_TIMEOUT,
                         what="the save to reach its stall")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert state.read_bytes() == old
    left = _temporaries(tmp_path)
    assert left and all(name.startswith(f".s.json.{proc.pid}.") for name in left)
    # And one of an earlier version, tempfile-named with no pid, from long ago.
    legacy = tmp_path / ".sim-state-x8c1q"
    legacy.write_bytes(b"{}")
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    # A live writer's young temporary of another file is not ours to remove.
    other = tmp_path / f".other.json.{os.getpid()}.abcd.tmp"
    other.write_bytes(b"{}")

    after = _run(state, *_volume_create("next"))
    assert after.returncode == 0, after.stderr
    assert _temporaries(tmp_path) == [other.name]
    volumes = _names(state, "volumes")
    assert {"kept", "next"} <= volumes and "lost" not in volumes


def test_leftovers_of_the_living_are_kept_unless_old(tmp_path: Path):
    target = tmp_path / "f.json"
    alive = tmp_path / ".f.json.1.aaaa.tmp"  # pid 1 lives as long as the machine does
    alive.write_bytes(b"x")
    dead_pid = _dead_pid()
    dead = tmp_path / f".f.json.{dead_pid}.bbbb.tmp"
    dead.write_bytes(b"x")
    old = tmp_path / ".f.json.1.cccc.tmp"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert remove_leftovers(str(target)) == 2
    assert alive.exists() and not dead.exists() and not old.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid  # reaped: no process has it (reuse within this test is vanishingly unlikely)


def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path: Path):
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    target.chmod(0o640)

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomic(str(target), broken)
    assert target.read_bytes() == b"old" and _temporaries(tmp_path) == []
    write_atomic(str(target), lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640


def test_a_lock_wait_is_bounded_and_says_so_in_one_line(tmp_path: Path):
    path = str(tmp_path / "f.json")
    with FileLock(path):
        started = time.monotonic()
        with pytest.raises(FileBusy) as busy:
            FileLock(path, timeout=0.3).acquire()
        assert time.monotonic() - started < 10
    line = busy.value.one_line()
    assert path in line and "\n" not in line
    with FileLock(path, timeout=0.3):  # released: the next one gets it at once
        pass


# -- read-only mode and read-only directories -----------------------------------------------------


def test_read_only_writes_nothing(tmp_path: Path):
    state = tmp_path / "s.json"
    assert _run(state, *_volume_create("v1"), "--no-activity").returncode == 0
    (tmp_path / "s.json.lock").unlink()
    before, stamp = state.read_bytes(), state.stat().st_mtime_ns
    # With --speed the time since the last save would pass (a change): still nothing is written.
    for command in (("hosts", "list"), ("--speed", "50", "tasks", "list"), _host_create("refused")):
        result = _run(state, "--read-only", *command)
        assert result.returncode in (0, 4), result.stderr
    assert state.read_bytes() == before and state.stat().st_mtime_ns == stamp
    assert not (tmp_path / "s.json.lock").exists() and _temporaries(tmp_path) == []  # not even a lock


@contextlib.contextmanager
def _read_only_directory(path: Path):
    """A directory nobody may create files in, root included (root ignores mode bits: the
    directory is made immutable instead)."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("running as root and cannot make a directory immutable here")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], capture_output=True, timeout=30, check=True)


def test_a_read_only_directory_fails_before_anything_is_done(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    with _read_only_directory(ro):
        result = _run(ro / "s.json", *_host_create("web-01"))
    assert result.returncode == 1
    assert "SUCCEEDED" not in result.stdout + result.stderr
    [line] = _error_lines(result.stderr)
    assert line.startswith("Save failed:") and "s.json" in line
    assert sorted(p.name for p in ro.iterdir()) == []


def test_a_save_that_fails_is_said_before_a_success_and_exits_1(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    state = ro / "s.json"
    assert _run(state, *_volume_create("v1")).returncode == 0
    before = state.read_bytes()
    with _read_only_directory(ro):
        result = _run(state, *_host_create("web-01"))
        listed = _run(state, "hosts", "list")  # nothing changed: nothing to save, it works
    assert result.returncode == 1, result.stderr
    assert "SUCCEEDED" not in result.stdout  # the result line is never printed
    errors = _error_lines(result.stderr)
    assert errors[-1].startswith("Save failed: cannot save") and str(state) in errors[-1]
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert state.read_bytes() == before and _temporaries(ro) == []
    assert listed.returncode == 0, listed.stderr


def test_an_empty_state_path_is_bad_input():
    with pytest.raises(InvalidInput):
        SimulatorBackend(state_path="")
    result = subprocess.run([ENTRY, "--demo", "--demo-state", "", "hosts", "list"], capture_output=True, text=True,
                            timeout=CALL_TIMEOUT)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1


# -- damaged files --------------------------------------------------------------------------------


def _good_document(tmp_path: Path) -> dict:
    seed = tmp_path / "good.json"
    assert _run(seed, *_volume_create("v1")).returncode == 0
    return json.loads(seed.read_text())


def _damage(doc: dict, how: str) -> str:
    if how == "null":
        return "null"
    if how == "list":
        return "[1, 2]"
    if how == "not json":
        return '{"format": "ntnx-console-simulator/1", '
    if how == "short row":
        doc["tables"]["hosts"]["rows"][0] = doc["tables"]["hosts"]["rows"][0][:3]
    elif how == "row not a list":
        doc["tables"]["volumes"]["rows"][0] = "volume"
    elif how == "wrong type":
        doc["tables"]["hosts"]["rows"][0][4] = "four"  # cores
    elif how == "unknown state":
        doc["tables"]["containers"]["rows"][0][4] = "levitating"
    elif how == "bad label":
        labels = doc["tables"]["containers"]["fields"].index("labels")
        doc["tables"]["containers"]["rows"][0][labels] = [["com.example", 7]]
    elif how == "short mount":
        mounts = doc["tables"]["containers"]["fields"].index("mounts")
        doc["tables"]["containers"]["rows"][0][mounts] = [["vol-id", "/data"]]
    elif how == "bad quota":
        doc["tables"]["projects"]["rows"][0][2] = [1, 2, "lots", 4]
    elif how == "tables missing":
        del doc["tables"]
    elif how == "NaN now":
        return json.dumps(doc).replace(f'"now": {json.dumps(doc["now"])}', '"now": NaN')
    elif how == "infinite number":
        return json.dumps(doc).replace(f'"now": {json.dumps(doc["now"])}', '"now": 1e999')
    elif how == "a step of forever":
        doc["running"] = [{"task_id": next(iter(doc["tables"]["tasks"]["rows"]))[0], "process": "create_volume",
                           "args": {"durations": [1e300, 1, 1]}, "step": 0, "elapsed": 0.0}]
    elif how == "bad rng":
        doc["rng"] = [3, [1, 2], None]
    return json.dumps(doc)


DAMAGE = ["null", "list", "not json", "short row", "row not a list", "wrong type", "unknown state", "bad label",
          "short mount", "bad quota", "tables missing",
          "NaN now", "infinite number", "a step of forever", "bad rng"]


def test_damaged_files_are_refused_in_one_line_and_left_alone(tmp_path: Path):
    good = _good_document(tmp_path)
    for how in DAMAGE:
        state = tmp_path / f"{how.replace(' ', '-')}.json"
        state.write_text(_damage(json.loads(json.dumps(good)), how))
        before, stamp = state.read_bytes(), state.stat().st_mtime_ns
        result = _run(state, *_volume_create("v2"))
        assert result.returncode == 2, (how, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith("Invalid input:") and str(state) in line, (how, line)
        assert state.read_bytes() == before and state.stat().st_mtime_ns == stamp, how


def test_a_file_past_the_size_cap_is_refused_unread(tmp_path: Path):
    state = tmp_path / "huge.json"
    with open(state, "wb") as f:
        f.truncate(MAX_STATE_BYTES + 1)  # sparse: no disk used
    result = _run(state, "hosts", "list")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert str(state) in line and "bytes" in line
    assert state.stat().st_size == MAX_STATE_BYTES + 1


def test_a_write_into_a_missing_place_is_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileWriteFailed) as failed:
        write_atomic(str(blocker / "s.json"), lambda f: f.write(b"{}"))
    assert "\n" not in failed.value.one_line() and "s.json" in failed.value.one_line()
