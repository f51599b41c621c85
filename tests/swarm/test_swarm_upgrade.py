"""Upgrading machines on a real two-node swarm, each node reached over a real sshd.

The upgrade command cannot replace dockerd here: it is a small script that records that it
ran on a node, what the swarm said of that node's availability then, and how many task
containers that node's engine still ran (with ``bridge: none`` a drained node's task
containers are gone). Both nodes are reached through the one test sshd, told apart by the
command's ``{node}``.
"""

from __future__ import annotations

import re
import asyncio
import json
from pathlib import Path

import pytest

from backends.contract import ChangeBatch, UpgradeSpec
from backends.errors import Conflict
from backends.models import TaskStatus
from backends.swarm import upgrade
from backends.swarm.backend import SwarmBackend
from backends.waves import plan_waves
from console.cli import main
from tests.daemons import require, sshd  # noqa: F401  (session fixture)
from tests.swarm.cluster import Swarm
from tests.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.ssh]

TARGET = "99.0.0"  # newer than any engine here: the plan upgrades every node named


@pytest.fixture
def ssh_home(sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.ssh/config names the test key and known_hosts, as a user's would."""
    ssh_dir = tmp_path / "home" / ".ssh"
    ssh_dir.mkdir(parents=True, mode=0o700)
    (ssh_dir / "config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n  UserKnownHostsFile {sshd.known_hosts}\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _converged(swarm: Swarm, *names: str) -> bool:
    rows = {r["Name"]: r["Replicas"] for r in swarm.json_lines("service", "ls")}
    return all(n in rows and rows[n].split("/")[0] == rows[n].split("/")[1] != "0" for n in names)


async def _until_converged(swarm: Swarm, *names: str, timeout: float = 60) -> None:
    await wait_until(lambda: _converged(swarm, *names), timeout=timeout, interval=0.3, what=f"{', '.join(names)} converged")


@pytest.fixture
async def services(swarm: Swarm):
    """A replicated service with a task on each node and a global one; removed afterwards,
    and both nodes active again whatever the test did."""
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "up-web", "--replicas", "2",
              swarm.manager.image)
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "up-agent", "--mode", "global",
              swarm.manager.image)
    # The swarm spreads the two replicas, one per node: draining either node moves a task.
    await _until_converged(swarm, "up-web", "up-agent")
    try:
        yield swarm
    finally:
        for node in (swarm.manager_id, swarm.worker_id):
            swarm.cli("node", "update", "--availability", "active", node, check=False)
        swarm.cli("service", "rm", "up-web", "up-agent", "up-pinned", check=False)


def _script(tmp_path: Path, swarm: Swarm) -> Path:
    """The "upgrade": record the version asked, the node's availability as the swarm has it
    now, and how many task containers its own engine runs."""
    docker = require("docker", "docker.io")
    sockets = {swarm.manager_id: swarm.manager.socket_path, swarm.worker_id: swarm.worker.socket_path}
    lookup = "\n".join(f'  {node}) sock={sock} ;;' for node, sock in sockets.items())
    script = tmp_path / "upgrade.sh"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        f'case "$2" in\n{lookup}\n  *) echo "unknown node $2" >&2; exit 3 ;;\nesac\n'
        f'availability=$({docker} -H unix://{swarm.manager.socket_path} node inspect "$2" --format "{{{{.Spec.Availability}}}}")\n'
        f'tasks=$({docker} -H "unix://$sock" ps -q --filter label=com.docker.swarm.task.id | wc -l)\n'
        f'echo "$1 $availability $tasks" > {tmp_path}/ran-"$2"\n'
    )
    return script


def _backend(swarm: Swarm, sshd, script: Path) -> SwarmBackend:
    return SwarmBackend(
        swarm.manager.url,
        upgrade_command=f"sh {script} {{version}} {{node}}",
        node_ssh=[f"{swarm.manager_id}={sshd.target}", f"{swarm.worker_id[:12]}={sshd.target}"],
    )


async def _cli(swarm: Swarm, capsys, *args: str) -> tuple[int, str, str]:
    # The CLI runs its own event loop: in a thread, beside this test's.
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--backend", "swarm", "--docker-host", swarm.manager.url, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_a_wave_that_would_leave_a_service_with_no_task_is_refused_before_anything_is_drained(
    services: Swarm, sshd, ssh_home, tmp_path, capsys
):
    swarm = services
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "up-pinned", "--replicas", "1",
              "--constraint", f"node.id=={swarm.worker_id}", swarm.manager.image)
    await _until_converged(swarm, "up-pinned")
    backend = _backend(swarm, sshd, _script(tmp_path, swarm))
    await backend.connect()
    try:
        inv = await backend.snapshot()
        plan = plan_waves([inv.hosts[swarm.worker_id]], TARGET, 1, inventory=inv)
        shown = upgrade.preview(inv, plan)
        assert "up-pinned" in (shown.refusal() or "") and "up-web" not in (shown.refusal() or "")
        text = "\n".join(shown.lines())
        assert "REFUSED: up-pinned" in text and "up-web: up-web." in text and "moves to the 1 other node" in text
        assert "up-agent" in text and "stops until the node is back" in text

        # The CLI's preview says the same, changes nothing, and exits as the upgrade would.
        code, out, err = await _cli(swarm, capsys, "hosts", "upgrade", swarm.worker_id, "--to", TARGET, "--dry-run")
        assert code == 1 and "REFUSED: up-pinned" in out and err.startswith("Conflict: wave 1") and err.count("\n") == 1
        code, out, err = await _cli(swarm, capsys, "hosts", "upgrade", swarm.manager_id, "--to", TARGET, "--dry-run", "--json")
        assert code == 0, err
        (wave,) = json.loads(out)["waves"]
        assert [h["id"] for h in wave["hosts"]] == [swarm.manager_id] and not wave["refused"]
        moves = {m["service"]: m for m in wave["services"]}
        assert moves["up-web"]["room"] == 1 and moves["up-web"]["during"] == 2 and len(moves["up-web"]["tasks"]) == 1
        assert moves["up-agent"]["during"] == 1 and "up-pinned" not in moves

        with pytest.raises(Conflict, match="up-pinned") as refused:
            await backend.upgrade_hosts(UpgradeSpec((swarm.worker_id,), TARGET))
        assert "\n" not in str(refused.value)
        nodes = {n["ID"]: n["Availability"] for n in swarm.json_lines("node", "ls")}
        assert nodes == {swarm.manager_id: "Active", swarm.worker_id: "Active"}
        assert not list(tmp_path.glob("ran-*"))
        assert not (await backend.snapshot()).tasks  # no task was started
    finally:
        await backend.close()
        swarm.cli("service", "rm", "up-pinned", check=False)


async def test_each_node_is_drained_upgraded_over_ssh_and_activated_one_wave_at_a_time(
    services: Swarm, sshd, ssh_home, tmp_path, monkeypatch
):
    swarm = services
    # The script does not replace the engine, so no node ever reports the target version:
    # a short wait for it, then the run says so (and the rest must have happened).
    monkeypatch.setattr(upgrade, "ENGINE_BACK_TIMEOUT", 1.0)
    backend = _backend(swarm, sshd, _script(tmp_path, swarm))
    await backend.connect()
    messages: list[str] = []

    async def record() -> None:
        async for update in backend.updates():
            if isinstance(update, ChangeBatch):
                messages.extend(f"{c.item.target}: {c.item.message}" for c in update.changes if c.kind == "tasks" and c.item)

    recorder = asyncio.create_task(record())
    try:
        ids = (swarm.manager_id, swarm.worker_id)
        started = await backend.upgrade_hosts(UpgradeSpec(ids, TARGET, batch_size=1, continue_on_failure=True))
        final = await asyncio.wait_for(backend.wait_task(started.id), 120)

        version = swarm.cli("version", "--format", "{{.Server.Version}}").strip()
        for node in ids:
            asked, availability, tasks = (tmp_path / f"ran-{node}").read_text().split()
            assert asked == TARGET
            assert availability == "drain"  # drained while the command ran
            assert tasks == "0"  # and its tasks had gone
        # It ran everything, then told the truth: the engines still report the old version.
        assert final.status is TaskStatus.FAILED
        assert final.error.count(f"reports Docker {version}, not {TARGET}") == 2
        children = [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]
        assert sorted(c.target_id for c in children) == sorted(ids) and all(c.kind == "upgrade_host" for c in children)

        seen = "\n".join(messages)
        for node in ids:
            name = (await backend.snapshot()).hosts[node].name
            assert f"draining {name}" in seen and f"upgrading {name}" in seen
        # Other tests' global services may be waited for too: the line names ours among them.
        assert re.search(r"waiting for .*\b(up-agent \(1/2\)|up-web\b)", seen), seen

        # Both nodes active again, every service at its desired replicas, the global task
        # back on each node.
        nodes = {n["ID"]: n["Availability"] for n in swarm.json_lines("node", "ls")}
        assert nodes == {swarm.manager_id: "Active", swarm.worker_id: "Active"}
        assert _converged(swarm, "up-web", "up-agent")
        running = [t for t in swarm.json_lines("service", "ps", "up-agent", "--filter", "desired-state=running")
                   if t["CurrentState"].startswith("Running")]
        assert len(running) == 2
    finally:
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)
        await backend.close()


async def test_the_upgrade_screen_shows_the_tasks_each_wave_moves_and_refuses_a_wave(services: Swarm, tmp_path):
    from textual.widgets import Static

    from console.screens.dashboard import DashboardScreen
    from console.screens.upgrade import UpgradeScreen
    from tests.console.conftest import SIZE, Console, make_app

    swarm = services
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "up-pinned", "--replicas", "1",
              "--constraint", f"node.id=={swarm.worker_id}", swarm.manager.image)
    await _until_converged(swarm, "up-pinned")
    backend = SwarmBackend(swarm.manager.url, upgrade_command="true", upgrade_versions=[TARGET])
    app = make_app(backend)  # type: ignore[arg-type]  # any Backend
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, backend)  # type: ignore[arg-type]
            await c.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard", 30)
            await c.until(lambda: sum(1 for x in app.store.inventory.containers.values() if x.service == "up-pinned") == 1,
                          "up-pinned's task in the console", 30)

            # The worker alone: up-pinned can run nowhere else, so its wave is refused.
            await app.push_screen(UpgradeScreen([swarm.worker_id]))
            screen = app.screen
            error = screen.query_one("#plan-error", Static)
            await c.until(lambda: "up-pinned" in str(error.render()), "the wave refused", 20)
            preview = str(screen.query_one("#plan", Static).render())
            assert "REFUSED: up-pinned" in preview and "up-web" in preview and "moves to the 1 other node" in preview
            assert screen.query_one("#submit").disabled
            await c.press("escape")

            # The manager alone: its tasks move or wait, nothing is refused.
            await app.push_screen(UpgradeScreen([swarm.manager_id]))
            screen = app.screen
            await c.until(lambda: screen.plan is not None and "wave 1" in str(screen.query_one("#plan", Static).render()),
                          "a plan", 20)
            preview = str(screen.query_one("#plan", Static).render())
            assert "REFUSED" not in preview and "up-agent" in preview and "stops until the node is back" in preview
            assert not str(screen.query_one("#plan-error", Static).render()).strip()
    finally:
        await backend.close()
        swarm.cli("service", "rm", "up-pinned", check=False)


async def test_an_upgrade_paused_before_its_first_wave_can_be_aborted_and_drains_nothing(
    swarm: Swarm, sshd, ssh_home, tmp_path
):
    backend = _backend(swarm, sshd, _script(tmp_path, swarm))
    await backend.connect()
    try:
        started = await backend.upgrade_hosts(UpgradeSpec((swarm.manager_id, swarm.worker_id), TARGET))
        assert (await backend.pause_task(started.id)).status is TaskStatus.PAUSED
        assert (await backend.resume_task(started.id)).status is TaskStatus.RUNNING
        await backend.pause_task(started.id)
        await backend.abort_task(started.id)
        final = await asyncio.wait_for(backend.wait_task(started.id), 30)
        assert final.status is TaskStatus.ABORTED and "2 not started" in final.error
        assert not [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]
        nodes = {n["ID"]: n["Availability"] for n in swarm.json_lines("node", "ls")}
        assert nodes == {swarm.manager_id: "Active", swarm.worker_id: "Active"}
        assert not list(tmp_path.glob("ran-*"))
        with pytest.raises(Conflict, match="already ended"):
            await backend.resume_task(started.id)
    finally:
        await backend.close()


async def test_a_failed_upgrade_command_stops_the_run_and_leaves_its_node_drained(services: Swarm, sshd, ssh_home):
    swarm = services
    backend = SwarmBackend(
        swarm.manager.url,
        upgrade_command="echo cannot install {version} >&2; exit 7",
        node_ssh=[f"{swarm.manager_id}={sshd.target}", f"{swarm.worker_id}={sshd.target}"],
    )
    await backend.connect()
    try:
        started = await backend.upgrade_hosts(UpgradeSpec((swarm.worker_id, swarm.manager_id), TARGET))
        final = await asyncio.wait_for(backend.wait_task(started.id), 120)
        assert final.status is TaskStatus.FAILED and "1 node(s) not started" in final.error
        assert "exit 7" in final.error and f"cannot install {TARGET}" in final.error and "left drained" in final.error
        (child,) = [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]
        drained = child.target_id
        nodes = {n["ID"]: n["Availability"] for n in swarm.json_lines("node", "ls")}
        assert nodes[drained] == "Drain" and list(nodes.values()).count("Active") == 1
        await _until_converged(swarm, "up-web", "up-agent")  # what it ran moved, or waits for the node
    finally:
        await backend.close()
