"""No server-controlled path, ever: what the console keeps per machine is keyed by the VM's
uuid, inside one private directory, and a VM's name (which whoever can rename a VM in Prism
controls) never becomes a path.

The path rules one by one, then end to end: the real CLI entry point against ``sim serve``'s
app on 127.0.0.1, whose VMs are renamed (in the simulator's world, as a Prism user could rename
them) to an absolute path, ``../canary``, a terminal escape sequence, and one name twice.
Canary directories that look like a machine's keys sit where the old name keying would have
looked; none of them is read, written or removed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from backends.contract import HostSpec
from backends.errors import Conflict, InvalidInput
from backends.prism import machine
from backends.prism.machine import (
    adopt_legacy,
    check_machine_id,
    engine_url,
    forget_machine,
    known_machine,
    new_machine_keys,
)
from console.cli import main
from tests.prism.servers import PASSWORD, backend_for, serve, sim_app

VM_ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
OTHER_ID = "9c3e8d4a-57b1-4c1e-9f6a-3b2d7e0f1a55"
ESCAPE = "\x1b]0;PWNED\x07"


@pytest.fixture
def machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "machines"
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(directory))
    machine._warned.clear()  # warnings are said once per process; each test starts afresh
    return directory


def _decoy(directory: Path) -> Path:
    """A directory that looks like a machine's: what a name-keyed lookup would use or remove."""
    directory.mkdir(parents=True)
    (directory / "id_ed25519").write_text("not the console's key\n")
    (directory / "known_hosts").write_text("decoy ssh-ed25519 AAAA\n")
    (directory / "engine").write_text("ssh://decoy@127.0.0.1:9\n")
    (directory / "keep.txt").write_text("the operator's file\n")
    return directory


def _tree(root: Path, *, skip: frozenset[str] = frozenset()) -> dict[str, tuple]:
    """Every file and directory under root: kind, mode, and a file's bytes and mtime."""
    seen: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                seen[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes(), st.st_mtime_ns)
            elif stat.S_ISLNK(st.st_mode):
                seen[rel] = ("link", os.readlink(path))
            else:
                seen[rel] = ("dir", stat.S_IMODE(st.st_mode))
    return seen


# -- the path rules --------------------------------------------------------------------------


def _hostile_keys(tmp_path: Path) -> list[str]:
    return [
        str(tmp_path / "canary"),
        "../canary",
        "..",
        ".",
        "",
        "a/b",
        VM_ID + "/../../canary",
        "canary\0" + VM_ID[7:],
        "x" * 10_000,
        ESCAPE,
        VM_ID.upper(),
        "{" + VM_ID + "}",
        "urn:uuid:" + VM_ID,
        VM_ID.replace("-", ""),
        VM_ID + "\n",
        " " + VM_ID[1:],
    ]


def test_a_key_that_is_not_a_canonical_uuid_is_refused_and_nothing_is_touched(tmp_path, machines):
    _decoy(tmp_path / "canary")
    keys = new_machine_keys()
    before = _tree(tmp_path)
    for key in _hostile_keys(tmp_path):
        for attempt in (
            lambda: check_machine_id(key),
            lambda: known_machine(key),
            lambda: engine_url(key, "127.0.0.1"),
            lambda: forget_machine(key),
            lambda: keys.claim(key),
        ):
            with pytest.raises(InvalidInput) as caught:
                attempt()
            message = caught.value.one_line()
            # One short, printable line, whatever the key held.
            assert message.isprintable() and len(message) < 200, repr(message)
        assert _tree(tmp_path) == before, f"{key[:40]!r} touched something"
    assert keys.pending and keys.directory.is_dir()
    assert check_machine_id(VM_ID) == VM_ID


def test_a_symlinked_machine_directory_is_refused_not_followed(tmp_path, machines):
    canary = _decoy(tmp_path / "canary")
    new_machine_keys().discard()  # the machines directory now exists, empty
    (machines / VM_ID).symlink_to(canary, target_is_directory=True)
    before = _tree(tmp_path)
    for attempt in (lambda: known_machine(VM_ID), lambda: engine_url(VM_ID, "127.0.0.1"), lambda: forget_machine(VM_ID)):
        with pytest.raises(InvalidInput, match="symbolic link"):
            attempt()
    # Pending keys never move onto it, nor through it.
    keys = new_machine_keys()
    with pytest.raises(Conflict):
        keys.claim(VM_ID)
    keys.discard()
    assert _tree(tmp_path) == before


def test_a_symlinked_file_in_a_machine_directory_is_refused(tmp_path, machines):
    canary = _decoy(tmp_path / "canary")
    keys = new_machine_keys().claim(VM_ID)
    keys.known_hosts_path.symlink_to(canary / "known_hosts")
    before = _tree(tmp_path)
    with pytest.raises(InvalidInput, match="symbolic link"):
        keys.remember_address("127.16.0.9")
    with pytest.raises(InvalidInput, match="symbolic link"):
        known_machine(VM_ID)
    (machines / VM_ID / "engine").symlink_to(canary / "engine")
    with pytest.raises(InvalidInput, match="symbolic link"):
        engine_url(VM_ID, "127.16.0.9")
    assert _tree(tmp_path, skip=frozenset({VM_ID})) == {k: v for k, v in before.items() if not k.startswith(f"machines/{VM_ID}")}
    assert (canary / "known_hosts").read_text() == "decoy ssh-ed25519 AAAA\n"


def test_an_address_from_prism_that_is_not_an_ip_never_reaches_known_hosts(machines):
    keys = new_machine_keys().claim(VM_ID)
    with pytest.raises(InvalidInput, match="not an IP address"):
        keys.remember_address("127.0.0.1 ssh-ed25519 AAAA\n* ssh-ed25519 AAAA")
    assert not keys.known_hosts_path.exists()
    keys.remember_address("127.16.0.9")
    assert known_machine(VM_ID) == (keys.client_key_path, keys.known_hosts_path)


def test_keys_are_made_pending_private_and_moved_to_the_uuid(machines):
    machines.mkdir(mode=0o755)
    machines.chmod(0o755)
    keys = new_machine_keys()
    assert stat.S_IMODE(machines.stat().st_mode) == 0o700, "the machines directory was left open to others"
    assert keys.pending and keys.directory.parent == machines and keys.directory.name.startswith(".pending-")
    assert stat.S_IMODE(keys.directory.stat().st_mode) == 0o700
    assert known_machine(VM_ID) is None, "pending keys are nobody's yet"
    claimed = keys.claim(VM_ID)
    assert not claimed.pending and claimed.directory == machines / VM_ID
    assert sorted(p.name for p in machines.iterdir()) == [VM_ID]
    for name in ("id_ed25519", "id_ed25519.pub"):
        assert stat.S_IMODE((machines / VM_ID / name).stat().st_mode) == 0o600
    claimed.remember_address("127.16.0.9")
    assert stat.S_IMODE(claimed.known_hosts_path.stat().st_mode) == 0o600
    assert engine_url(VM_ID, "127.16.0.9") == "ssh://docker@127.16.0.9"

    # A second machine's keys: its own directory; discarding them removes only theirs.
    other = new_machine_keys()
    other.discard()
    assert sorted(p.name for p in machines.iterdir()) == [VM_ID]
    other = new_machine_keys().claim(OTHER_ID)
    assert other.client_public != claimed.client_public
    other.discard()
    assert sorted(p.name for p in machines.iterdir()) == [VM_ID]
    forget_machine(VM_ID)
    assert list(machines.iterdir()) == []


def test_keys_never_move_onto_another_machine_s(machines):
    first = new_machine_keys().claim(VM_ID)
    second = new_machine_keys()
    with pytest.raises(Conflict):
        second.claim(VM_ID)
    assert (machines / VM_ID / "id_ed25519.pub").read_text() == first.client_public + "\n"
    assert second.directory.is_dir()


def test_nothing_is_created_by_looking(tmp_path, machines):
    assert known_machine(VM_ID) is None
    assert engine_url(VM_ID, "127.16.0.9") == "ssh://docker@127.16.0.9"
    forget_machine(VM_ID)
    assert adopt_legacy([(VM_ID, "web-01")]) == {}
    assert not machines.exists()


def test_older_machines_move_to_their_uuid_only_when_name_and_vm_are_unambiguous(tmp_path, machines, caplog):
    canary = _decoy(tmp_path / "canary")
    machines.mkdir(mode=0o700)
    solo = _decoy(machines / "web-01")
    for name in ("twin", "ghost", "Web_01", ESCAPE, "up-01"):
        _decoy(machines / name)
    (machines / "linked").symlink_to(canary, target_is_directory=True)
    vms = [
        (VM_ID, "web-01"),
        (OTHER_ID, "twin"),
        ("7d444840-9dc0-11d1-b245-5ffdce74fad2", "twin"),
        ("5B7E3F2A-0C1D-4E5F-8A9B-0C1D2E3F4A5B", "up-01"),  # not canonical: never a directory
        ("2c1f9a0e-6b7d-4e8f-9a0b-1c2d3e4f5a6b", "Web_01"),
        ("3d2e1f0a-7b8c-4d9e-8f0a-1b2c3d4e5f6a", ESCAPE),
        ("4e3f2a1b-8c9d-4e0f-9a1b-2c3d4e5f6a7b", "linked"),
        ("5f4a3b2c-9d0e-4f1a-8b2c-3d4e5f6a7b8c", str(canary)),
        ("6a5b4c3d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", "../canary"),
    ]
    before = _tree(tmp_path, skip=frozenset({"web-01"}))
    with caplog.at_level(logging.WARNING, logger="backends.prism.machine"):
        assert adopt_legacy(vms) == {"web-01": VM_ID}
    assert not solo.exists() and (machines / VM_ID / "keep.txt").read_text() == "the operator's file\n"
    assert known_machine(VM_ID) is not None
    after = _tree(tmp_path, skip=frozenset({VM_ID}))
    assert after == {k: v for k, v in before.items() if k != f"machines/{VM_ID}"}, "something else moved"
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for name, why in (("twin", "2 VMs have this name"), ("ghost", "no VM has this name"), ("Web_01", "not a name"),
                      ("up-01", "is not a uuid"), ("linked", "symbolic link")):
        assert any(name in r.getMessage() and why in r.getMessage() for r in caplog.records), (name, warned)
    assert "\x1b" not in warned and "\\x1b]0;PWNED\\x07" in warned, "the escape sequence reached the log raw"
    # Once: the next poll neither moves nor says anything again.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="backends.prism.machine"):
        assert adopt_legacy(vms) == {}
    assert caplog.records == []


async def test_a_poll_adopts_an_older_machine_and_survives_ones_it_cannot(tmp_path, machines):
    with serve(sim_app(seed=5)) as server:
        backend = backend_for(server)
        try:
            inv = await backend.snapshot()
            hosts = sorted((h for h in inv.hosts.values() if machine.LEGACY_NAME.fullmatch(h.name)), key=lambda h: h.name)
            host = hosts[0]
            _decoy(machines / host.name)
            _decoy(machines / ESCAPE)
            (machines / "linked").symlink_to(_decoy(tmp_path / "canary"), target_is_directory=True)
            inv = await backend.snapshot()
            assert host.id in inv.hosts
            assert (machines / host.id / "keep.txt").exists() and not (machines / host.name).exists()
            assert (machines / ESCAPE).is_dir() and (machines / "linked").is_symlink()
        finally:
            await backend.close()


# Closing the backend right after create_host (what a CLI call without --wait does) cancels
# the create's follow-up task before it first runs; Python then warns about its coroutine.
@pytest.mark.filterwarnings("ignore:coroutine 'PrismBackend._finish_create' was never awaited")
async def test_a_create_removes_only_its_own_pending_keys_and_keeps_claimed_ones(machines):
    with serve(sim_app(seed=5)) as server:
        backend = backend_for(server)
        try:
            inv = await backend.snapshot()
            image = next(i for i in inv.images.values() if i.engine_version)
            network = next(iter(inv.networks.values()))
            held = new_machine_keys().claim(OTHER_ID)  # another machine's keys, already here

            async def refuse(*args, **kwargs):
                raise Conflict("Prism refused the VM")

            backend.client.v3_create = refuse
            with pytest.raises(Conflict, match="refused"):
                await backend.create_host(HostSpec("web-90", image.name, 1, 1024, network.name))
            assert sorted(p.name for p in machines.iterdir()) == [OTHER_ID]
            del backend.client.v3_create

            # Made, not waited for (a CLI call without --wait): the keys are under the uuid.
            task = await backend.create_host(HostSpec("web-91", image.name, 1, 1024, network.name))
        finally:
            await backend.close()
        assert task.target_id and sorted(p.name for p in machines.iterdir()) == sorted([OTHER_ID, task.target_id])
        assert (machines / task.target_id / "id_ed25519").is_file()
        assert (held.directory / "id_ed25519.pub").read_text() == held.client_public + "\n"


# -- end to end, through the CLI -----------------------------------------------------------


def test_hostile_vm_names_never_become_paths_through_the_cli(tmp_path, machines, monkeypatch, capsys):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("NTNX_PASSWORD", PASSWORD)
    with serve(sim_app(seed=5)) as server:

        def cli(*args: str) -> tuple[int, str, str]:
            code = main(["--backend", "prism", "--prism-endpoint", server.endpoint, "--prism-user", "admin",
                         "--ca-bundle", str(server.cert.cert), *args])
            out, err = capsys.readouterr()
            return code, out, err

        facade = server.app.app.state.facade

        def rename(vm_id: str, name: str) -> None:
            """A VM renamed in Prism: in the simulator's world, on the server's loop."""
            async def edit() -> None:
                store = facade.sim.store
                store.upsert(replace(store.hosts[vm_id], name=name))
                store.flush()

            asyncio.run_coroutine_threadsafe(edit(), facade.loop).result(timeout=10)

        code, out, err = cli("images", "list", "--json")
        assert code == 0, err
        image = next(i["name"] for i in json.loads(out) if i.get("engine_version"))
        network = json.loads(cli("networks", "list", "--json")[1])[0]["name"]
        ids: dict[str, str] = {}
        for made in ("m-abs", "m-up", "m-esc", "twin-a", "twin-b"):
            code, out, err = cli("--json", "host", "create", made, "--image", image, "--cores", "1",
                                 "--memory-mib", "1024", "--network", network, "--wait")
            assert code == 0, err
            task = json.loads(out)
            assert task["status"] == "SUCCEEDED", task
            ids[made] = task["result_id"]
        assert sorted(p.name for p in machines.iterdir()) == sorted(ids.values()), "keys not (only) under the uuids"

        # Where a name-keyed lookup would look: machine-like decoys, and the operator's files.
        abs_canary = _decoy(tmp_path / "abs-canary")
        _decoy(tmp_path / "canary")
        _decoy(machines / ESCAPE)
        _decoy(machines / "twin")
        sim_hosts = json.loads(cli("hosts", "list", "--json")[1])
        older = next(h for h in sorted(sim_hosts, key=lambda h: h["name"])
                     if h["id"] not in ids.values() and machine.LEGACY_NAME.fullmatch(h["name"])
                     and sum(1 for o in sim_hosts if o["name"] == h["name"]) == 1)
        (_decoy(machines / older["name"]) / "engine").unlink()  # made by an older version: moves to its uuid

        rename(ids["m-abs"], str(abs_canary))
        rename(ids["m-up"], "../canary")
        rename(ids["m-esc"], ESCAPE)
        rename(ids["twin-a"], "twin")
        rename(ids["twin-b"], "twin")

        code, out, err = cli("hosts", "list", "--json")
        assert code == 0, err
        rows = {h["id"]: h for h in json.loads(out)}
        assert [rows[ids[m]]["name"] for m in ("m-abs", "m-up", "m-esc")] == [str(abs_canary), "../canary", ESCAPE]
        assert rows[ids["twin-a"]]["name"] == rows[ids["twin-b"]]["name"] == "twin"
        assert not any("decoy" in str(h["endpoint"]) + str(h["reason"]) for h in rows.values()), "a decoy's engine was used"
        # The same name, two machines: two directories, two different keys.
        twins = [(machines / ids[t] / "id_ed25519.pub").read_text() for t in ("twin-a", "twin-b")]
        assert twins[0] != twins[1]
        assert (machines / older["id"] / "keep.txt").exists() and not (machines / older["name"]).exists()

        own = frozenset(ids.values())
        before = _tree(tmp_path, skip=own)
        assert "abs-canary/keep.txt" in before and "canary/engine" in before and f"machines/{ESCAPE}/keep.txt" in before
        for made, vm_id in ids.items():
            code, out, err = cli("host", "delete", vm_id, "--wait")
            assert code == 0, (made, err)
            assert not (machines / vm_id).exists(), f"{made}'s keys outlived it"
            assert _tree(tmp_path, skip=own) == before, f"deleting {made} touched something else"
        listed = {h["id"] for h in json.loads(cli("hosts", "list", "--json")[1])}
        assert not listed & own
        assert not [p for p in machines.iterdir() if p.name.startswith(".pending-")]
