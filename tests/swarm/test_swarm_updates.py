"""Rolling updates, rollback, secret rotation and configs on the real two-node swarm, through
the CLI and the console, checked against the docker CLI on the same swarm.

The images: the test image under a second tag (``:v2``, the same content, so a task starts as
fast as ever) and ``:broken``, the same filesystem whose command exits at once: a task of it
fails within the update's monitor period every time, so the swarm pauses the update (the
failure action is ``pause``) in a second or two, with its own message.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backends.swarm import SwarmBackend
from console.screens.dashboard import DashboardScreen
from console.screens.services import ConfigsScreen, RollbackServiceForm, RotateSecretForm, UpdateServiceForm
from widgets.resource_table import ResourceTable
from tests.console.conftest import SIZE, Console, make_app
from tests.swarm.cluster import Swarm
from tests.swarm.test_swarm_cli import _command_lines, cli, listed, wait_for
from tests.swarm.test_swarm_console import go_to

ROOT = Path(__file__).resolve().parents[2]
V2 = "ntnx-test-busybox:v2"
BROKEN = "ntnx-test-busybox:broken"


@pytest.fixture(scope="module")
def images(swarm: Swarm) -> Swarm:
    """``:v2`` and ``:broken`` on both nodes (each node runs the image from its own engine:
    tasks are started with the offline image preferred)."""
    for daemon in (swarm.manager, swarm.worker):
        daemon.cli("tag", daemon.image, V2)
        container = daemon.cli("create", daemon.image).strip()
        daemon.cli("commit", "--change", 'CMD ["false"]', container, BROKEN)
        daemon.cli("rm", container)
    return swarm


def inspect(swarm: Swarm, service: str, template: str = "{{json .}}"):
    return json.loads(swarm.cli("service", "inspect", service, "--format", template))


def spec_image(swarm: Swarm, service: str) -> str:
    return inspect(swarm, service, "{{json .Spec.TaskTemplate.ContainerSpec.Image}}")


def tasks_on(swarm: Swarm, service: str, image: str) -> list[dict]:
    """The service's tasks of ``image`` that the swarm wants running, from the API's view."""
    out = swarm.cli("service", "ps", service, "--no-trunc", "--filter", "desired-state=running", "--format", "{{.ID}}")
    found = []
    for task_id in out.split():
        task = json.loads(swarm.cli("inspect", "--type", "task", task_id, "--format", "{{json .}}"))
        if task["Spec"]["ContainerSpec"]["Image"] == image:
            found.append(task)
    return found


def _when(text: str) -> float:
    """An API time (RFC 3339 with nanoseconds) as seconds since the epoch."""
    head, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head).replace(tzinfo=timezone.utc).timestamp() + float("0." + (fraction or "0"))


def test_a_rolling_update_goes_wave_by_wave_as_previewed_and_rolls_back(images: Swarm, capsys):
    swarm = images
    code, out, err = cli(swarm, capsys, "service", "create", "upd-web", "--image", swarm.manager.image, "--replicas", "3",
                         "--update-parallelism", "1", "--update-delay", "1", "--wait")
    assert code == 0, err
    update_config = inspect(swarm, "upd-web", "{{json .Spec.UpdateConfig}}")
    assert update_config["Parallelism"] == 1 and update_config["Delay"] == 1_000_000_000
    assert update_config["FailureAction"] == "pause" and update_config["Order"] == "stop-first"
    # The swarm watches each change for its monitor period before it calls an update (or a
    # rollback) complete: 5 s by default. A short one (the CLI has no option for it; changing
    # only these settings starts no new tasks) keeps the test to the waves and their delay.
    swarm.cli("service", "update", "--detach", "--update-monitor", "300ms", "--rollback-monitor", "300ms", "upd-web")

    # --dry-run: the waves, exit 0, and the service exactly as it was.
    before = inspect(swarm, "upd-web")
    code, out, err = cli(swarm, capsys, "service", "update", "upd-web", "--image", V2, "--dry-run")
    assert code == 0, err
    waves = [line for line in out.splitlines() if line.startswith("wave ")]
    assert out.startswith(f"Update upd-web (3 tasks) to {V2}")
    assert len(waves) == 3 and all(line.endswith(", then 1 s delay") for line in waves[:2])
    assert "dry run: nothing changed" in out
    assert inspect(swarm, "upd-web") == before
    code, out, err = cli(swarm, capsys, "service", "update", "upd-web", "--image", V2, "--dry-run", "--json")
    plan = json.loads(out)
    assert [len(w["tasks"]) for w in plan["waves"]] == [1, 1, 1] and plan["update_policy"]["delay_s"] == 1.0
    assert inspect(swarm, "upd-web") == before

    # The update: the preview printed first, then the swarm's waves, one task at a time.
    code, out, err = cli(swarm, capsys, "service", "update", "upd-web", "--image", V2, "--wait")
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("wave ")] == waves
    assert "SUCCEEDED" in out
    assert spec_image(swarm, "upd-web") == V2
    new = tasks_on(swarm, "upd-web", V2)
    assert len(new) == 3
    # One wave at a time: each new task was made only after the one before it ran, and the
    # policy's delay had passed (parallelism 1, delay 1 s): as many waves as the preview.
    created = sorted(_when(t["CreatedAt"]) for t in new)
    gaps = [b - a for a, b in zip(created, created[1:])]
    assert len(created) == len(waves) and all(gap >= 1.0 for gap in gaps), gaps
    row = next(s for s in listed(swarm, capsys, "services") if s["name"] == "upd-web")
    assert row["update_state"] == "completed" and row["image"] == V2 and row["previous_image"] == swarm.manager.image
    assert row["update_policy"]["parallelism"] == 1 and row["update_policy"]["delay_s"] == 1.0

    # Rollback: back to the previous image, as docker service inspect says.
    code, out, err = cli(swarm, capsys, "service", "rollback", "upd-web", "--wait")
    assert code == 0, err
    assert spec_image(swarm, "upd-web") == swarm.manager.image
    assert inspect(swarm, "upd-web", "{{json .UpdateStatus.State}}") == "rollback_completed"
    wait_for(lambda: len(tasks_on(swarm, "upd-web", swarm.manager.image)) == 3, timeout=30, what="3 tasks on the old image")
    swarm.cli("service", "rm", "upd-web")


def test_an_update_to_an_image_that_fails_ends_paused_with_the_swarms_message(images: Swarm, capsys):
    swarm = images
    code, out, err = cli(swarm, capsys, "service", "create", "upd-bad", "--image", swarm.manager.image, "--replicas", "2", "--wait")
    assert code == 0, err
    code, out, err = cli(swarm, capsys, "service", "update", "upd-bad", "--image", BROKEN, "--wait")
    assert code == 1
    status = inspect(swarm, "upd-bad", "{{json .UpdateStatus}}")
    assert status["State"] == "paused"
    assert "paused by the swarm" in err and status["Message"] in err
    # Progress lines, then one line that says why (never a traceback).
    assert err.strip().splitlines()[-1].startswith("Task failed:") and "Traceback" not in err
    row = next(s for s in listed(swarm, capsys, "services") if s["name"] == "upd-bad")
    assert row["update_state"] == "paused" and row["update_message"] == status["Message"]
    # The same image twice is refused before anything is sent.
    code, out, err = cli(swarm, capsys, "service", "update", "upd-bad", "--image", BROKEN)
    assert code == 2 and "already runs" in err
    cli(swarm, capsys, "service", "remove", "upd-bad", "--wait")


def _task_container(swarm: Swarm, service: str) -> tuple[object, str]:
    """(the daemon, the container id) of the service's running task, on whichever node."""
    for daemon in (swarm.manager, swarm.worker):
        ids = daemon.cli("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").split()
        if ids:
            return daemon, ids[0]
    return None, ""


def test_a_rotated_secret_is_read_at_the_same_path_and_the_old_one_is_gone(images: Swarm):
    swarm = images
    old_value, new_value = b"rot-old-" + os.urandom(6).hex().encode(), b"rot-new-" + os.urandom(6).hex().encode()
    swarm.cli("secret", "create", "rot-pw", "-", input=old_value)
    # The rotation is an update of rot-web: a short monitor (the swarm's default watches each
    # new task 5 s before calling the update complete, which --wait would wait out).
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "rot-web", "--secret", "rot-pw",
              "--update-monitor", "300ms", swarm.manager.image)
    wait_for(lambda: _task_container(swarm, "rot-web")[1], timeout=60, what="rot-web's task")

    env = {**os.environ, "NTNX_CONSOLE_CONFIG": "/nonexistent/none.toml"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--backend", "swarm", "--docker-host", swarm.manager.url,
         "secret", "rotate", "rot-pw", "-", "--wait"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
    )
    seen = [line for line in _command_lines() if new_value in line]
    proc.stdin.write(new_value)
    proc.stdin.close()
    while proc.poll() is None:
        seen += [line for line in _command_lines() if new_value in line]
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err.decode()
    assert not seen, "the new value was on a command line"
    assert new_value not in out and new_value not in err

    names = {s["Name"] for s in swarm.json_lines("secret", "ls")}
    assert "rot-pw-2" in names and "rot-pw" not in names
    refs = inspect(swarm, "rot-web", "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}")
    assert [(r["SecretName"], r["File"]["Name"]) for r in refs] == [("rot-pw-2", "rot-pw")]

    def reads_new() -> bool:
        daemon, container = _task_container(swarm, "rot-web")
        return bool(container) and daemon.cli("exec", container, "cat", "/run/secrets/rot-pw", check=False) == new_value.decode()

    wait_for(reads_new, timeout=30, what="the task to read the new value at /run/secrets/rot-pw")
    swarm.cli("service", "rm", "rot-web")
    swarm.cli("secret", "rm", "rot-pw-2")


def test_configs_list_as_docker_config_ls_and_one_in_use_is_not_removed(images: Swarm, capsys, tmp_path):
    swarm = images
    path = tmp_path / "app.conf"
    path.write_text("listen 8080\n")
    code, out, err = cli(swarm, capsys, "config", "create", "cfg-app", "--file", str(path), "--wait")
    assert code == 0, err
    docker = {c["Name"]: c["ID"] for c in swarm.json_lines("config", "ls")}
    mine = {c["name"]: c for c in listed(swarm, capsys, "configs")}
    assert {n: c["id"] for n, c in mine.items()} == docker and mine["cfg-app"]["created"] > 0

    code, out, err = cli(swarm, capsys, "service", "create", "cfg-web", "--image", swarm.manager.image, "--config", "cfg-app",
                         "--constraint", "node.role==manager", "--wait")
    assert code == 0, err
    placement = inspect(swarm, "cfg-web", "{{json .Spec.TaskTemplate.Placement.Constraints}}")
    assert placement == ["node.role==manager"]
    daemon, container = _task_container(swarm, "cfg-web")
    assert daemon is swarm.manager and daemon.cli("exec", container, "cat", "/cfg-app") == "listen 8080\n"
    assert next(c for c in listed(swarm, capsys, "configs") if c["name"] == "cfg-app")["services"] == ["cfg-web"]

    code, out, err = cli(swarm, capsys, "config", "remove", "cfg-app")
    assert code == 1 and "used by service(s) cfg-web" in err
    cli(swarm, capsys, "service", "remove", "cfg-web", "--wait")
    code, out, err = cli(swarm, capsys, "config", "remove", "cfg-app", "--wait")
    assert code == 0, err
    assert "cfg-app" not in {c["Name"] for c in swarm.json_lines("config", "ls")}


# -- the console ------------------------------------------------------------------------------


@pytest.fixture
async def console(images: Swarm):
    swarm = images
    swarm.cli("secret", "create", "tui-rot", "-", input=b"tui-old-value")
    swarm.cli("config", "create", "tui-cfg", "-", input=b"key = value\n")
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "tui-upd", "--replicas", "2",
              "--update-parallelism", "2", "--update-delay", "1s", "--secret", "tui-rot",
              # A short watch after each change: the swarm calls an update complete only then.
              "--update-monitor", "300ms", "--rollback-monitor", "300ms", "--config", "tui-cfg", swarm.manager.image)
    backend = SwarmBackend(swarm.manager.url)
    app = make_app(backend)  # type: ignore[arg-type]
    try:
        async with app.run_test(size=SIZE) as pilot:
            harness = Console(app, pilot, backend)  # type: ignore[arg-type]
            await harness.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard", 30)
            await harness.until(lambda: any(r.name == "tui-upd" and r.replicas_running == 2
                                            for r in harness.table("services").rows_by_id.values()), "tui-upd running", 60)
            yield harness
    finally:
        await backend.close()


async def test_the_console_previews_the_waves_updates_rolls_back_and_rotates(console: Console, images: Swarm, capsys):
    c, swarm = console, images

    def row():
        return next(r for r in c.table("services").rows_by_id.values() if r.name == "tui-upd")

    await go_to(c, "services", "tui-upd")
    await c.press("U")
    await c.on(UpdateServiceForm)
    field = c.screen.query_one("#image")
    field.value = ""
    await c.type(V2)
    title = str(c.screen.query_one(".form-title").render())
    preview = str(c.screen.query_one("#preview").render())
    assert title == f"Update tui-upd (2 tasks) to {V2}"
    # The CLI's preview, line for line.
    # (in a thread: the CLI runs its own event loop)
    code, out, err = await asyncio.to_thread(cli, swarm, capsys, "service", "update", "tui-upd", "--image", V2, "--dry-run")
    assert code == 0, err
    cli_waves = [line for line in out.splitlines() if line.startswith("wave ")]
    assert cli_waves and [line for line in preview.splitlines() if line.startswith("wave ")] == cli_waves, repr(preview)
    await c.press("ctrl+s")
    await c.until(lambda: not c.app._my_tasks and row().update_state == "completed", "UPDATE completed in the pane", 90)
    assert row().image == V2 == spec_image(swarm, "tui-upd")

    await c.press("R")
    await c.on(RollbackServiceForm)
    assert str(c.screen.query_one(".form-title").render()) == f"Roll back tui-upd to {swarm.manager.image}"
    await c.press("ctrl+s")
    await c.until(lambda: not c.app._my_tasks and row().update_state == "rollback_completed", "the rollback", 90)
    assert row().image == swarm.manager.image == spec_image(swarm, "tui-upd")

    # Rotation: a masked field; the value in no notification.
    await go_to(c, "secrets", "tui-rot")
    await c.press("R")
    await c.on(RotateSecretForm)
    assert c.screen.query_one("#value").password
    await c.type("tui-new-value")
    await c.press("enter")
    await c.until(lambda: not c.app._my_tasks and "tui-rot" not in {s.name for s in c.app.store.inventory.secrets.values()},
                  "the rotation", 90)
    assert "tui-rot-2" in {s["Name"] for s in swarm.json_lines("secret", "ls")}
    assert "tui-rot" not in {s["Name"] for s in swarm.json_lines("secret", "ls")}
    assert not any("tui-new-value" in n for n in c.notices())

    # :configs lists what docker config ls lists, with the services that use each.
    await c.press("colon")
    await c.pilot.press(*"configs", "enter")
    await c.on(ConfigsScreen)
    table = c.screen.query_one(ResourceTable)
    docker = {x["Name"]: x["ID"] for x in swarm.json_lines("config", "ls")}
    await c.until(lambda: {r.name: r.id for r in table.rows_by_id.values()} == docker, "docker config ls's configs", 30)
    assert next(r for r in table.rows_by_id.values() if r.name == "tui-cfg").services == ("tui-upd",)
    await c.press("escape")
    await c.on(DashboardScreen)

    swarm.cli("service", "rm", "tui-upd")
    swarm.cli("secret", "rm", "tui-rot-2")
    swarm.cli("config", "rm", "tui-cfg")


def test_read_only_refuses_update_rollback_and_rotation_before_anything_is_sent(images: Swarm, capsys):
    swarm = images
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "ro-web", swarm.manager.image)
    swarm.cli("secret", "create", "ro-pw", "-", input=b"ro-value")
    before = inspect(swarm, "ro-web")
    for args in (("service", "update", "ro-web", "--image", V2), ("service", "rollback", "ro-web")):
        code, out, err = cli(swarm, capsys, "--read-only", *args)
        assert code == 4 and "read-only" in err, err
    # The dry run changes nothing, so it is allowed.
    code, out, err = cli(swarm, capsys, "--read-only", "service", "update", "ro-web", "--image", V2, "--dry-run")
    assert code == 0, err
    assert inspect(swarm, "ro-web") == before
    swarm.cli("service", "rm", "ro-web")
    swarm.cli("secret", "rm", "ro-pw")


async def test_pause_is_refused_and_a_swarm_paused_update_is_resumed_by_posting_its_spec(images: Swarm):
    from backends.contract import ServiceUpdateSpec
    from backends.errors import InvalidInput
    from backends.models import TaskStatus

    swarm = images
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "res-web", swarm.manager.image)
    backend = SwarmBackend(swarm.manager.url)
    await backend.connect()
    try:
        await wait_until_running(backend, "res-web")
        task = await backend.update_service(ServiceUpdateSpec("res-web", BROKEN))
        with pytest.raises(InvalidInput, match="no call to pause a rolling update"):
            await backend.pause_task(task.id)
        ended = await backend.wait_task(task.id)
        assert ended.status is TaskStatus.FAILED and "paused by the swarm" in (ended.error or "")
        resumed = await backend.resume_task(task.id)
        assert resumed.id != task.id and resumed.kind == "update_service" and not resumed.done
        # Posting the spec again clears the swarm's pause: it takes up the update once more.
        await wait_until_async(lambda: inspect(swarm, "res-web", "{{json .UpdateStatus}}") is None
                               or inspect(swarm, "res-web", "{{json .UpdateStatus.State}}") != "paused", 30, "the pause cleared")
        with pytest.raises(InvalidInput, match="not paused by the swarm|nothing to resume|not paused"):
            await backend.resume_task(resumed.id)
    finally:
        await backend.close()
        swarm.cli("service", "rm", "res-web")


async def wait_until_running(backend: SwarmBackend, name: str) -> None:
    async def running() -> bool:
        inv = await backend.snapshot()
        return any(s.name == name and s.replicas_running == s.replicas_desired > 0 for s in inv.services.values())

    await wait_until_async(running, 60, f"{name} running")


async def wait_until_async(condition, timeout: float, what: str) -> None:
    from tests.waiting import wait_until

    await wait_until(condition, timeout=timeout, interval=0.3, what=what)


def test_registry_credentials_travel_as_the_engine_api_wants_them():
    """``X-Registry-Auth``: base64url (no '+' or '/') of the auth JSON, the server as it starts
    the image reference."""
    import base64

    from backends.contract import RegistryAuth
    from backends.swarm.updates import registry_auth_header

    header = registry_auth_header(RegistryAuth("registry.example.com:5000", "deploy", "p+/?ss>>"))
    assert "+" not in header and "/" not in header
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "deploy", "password": "p+/?ss>>", "serveraddress": "registry.example.com:5000"}
    assert "p+/?ss" not in repr(RegistryAuth("r", "u", "p+/?ss"))


def test_rotation_names_count_up_and_policies_survive_the_api_shape():
    from backends.models import UpdatePolicy
    from backends.swarm import parse
    from backends.swarm.updates import rotated_name
    from backends.waves import PlannedTask, plan_task_waves

    assert rotated_name("db", set()) == "db-2"
    assert rotated_name("db", {"db-2"}) == "db-3"
    assert rotated_name("db-2", {"db-2"}) == "db-3"
    assert rotated_name("cert-2024", set()) == "cert-2024-2"  # a long number is part of the name
    policy = UpdatePolicy(parallelism=2, delay_s=10.0, failure_action="rollback", order="start-first", monitor_s=3.0,
                          max_failure_ratio=0.25)
    assert parse.update_policy(parse.update_config(policy)) == policy
    assert parse.update_policy(None) == UpdatePolicy()  # the swarm's defaults when a spec has none
    tasks = [PlannedTask(f"web.{n}", "node-a") for n in range(1, 6)]
    assert [len(w.tasks) for w in plan_task_waves(tasks, 2, 5.0)] == [2, 2, 1]
    assert [w.delay_after_s for w in plan_task_waves(tasks, 2, 5.0)] == [5.0, 5.0, 0.0]
    assert [len(w.tasks) for w in plan_task_waves(tasks, 0, 5.0)] == [5]  # 0: all at once


def test_a_rotation_that_cannot_converge_stops_with_both_secrets_and_says_where_each_service_is(images: Swarm, capsys, tmp_path):
    swarm = images
    swarm.cli("secret", "create", "stuck-pw", "-", input=b"stuck-old")
    # A service whose tasks cannot start: moving it to the new secret is an update the swarm pauses.
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "stuck-web", "--secret", "stuck-pw", BROKEN)
    value = tmp_path / "new"
    value.write_bytes(b"stuck-new")
    code, out, err = cli(swarm, capsys, "secret", "rotate", "stuck-pw", "--file", str(value), "--wait")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "rotation of stuck-pw stopped" in last and "moved to stuck-pw-2: stuck-web" in last and "both secrets kept" in last
    names = {s["Name"] for s in swarm.json_lines("secret", "ls")}
    assert {"stuck-pw", "stuck-pw-2"} <= names
    refs = inspect(swarm, "stuck-web", "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}")
    assert [(r["SecretName"], r["File"]["Name"]) for r in refs] == [("stuck-pw-2", "stuck-pw")]
    swarm.cli("service", "rm", "stuck-web")
    swarm.cli("secret", "rm", "stuck-pw", "stuck-pw-2")
