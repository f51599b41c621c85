"""A real engine pulls from the real registry (docker-registry 2.8, TLS from our CA, htpasswd):
without credentials the pull fails with the registry's own reason as the task's error; with
the configured registry's password (NTNX_REGISTRY_PASSWORD) ``image pull`` succeeds and the
image is in ``images list --host`` as ``docker image ls`` has it; a remove is refused while a
container uses the image; a prune prints the bytes the engine reclaimed; the password is in
no command line, log, output or config file.

The image is pushed into the registry by the same dockerd (the Engine API's push with
``X-Registry-Auth``, no ``docker login``, so no credentials file is written). dockerd treats
any registry on 127.0.0.0/8 as insecure (TLS unverified, then plain HTTP, which hides the
registry's own refusal), so this registry listens on another address of this machine and the
engine trusts its CA through ``certs.d/HOST:PORT/ca.crt``: dockerd has no option to move that
directory (only rootless mode does), so the file goes under /etc/docker/certs.d for the
module's run (a name no other registry has: this test's address and random port) and is
removed after.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path

import httpx
import pytest

from backends.contract import PullSpec
from backends.docker import DockerBackend
from backends.docker.images import registry_auth_header
from backends.contract import RegistryAuth
from backends.models import TaskStatus
from tests.cli.conftest import run_command
from tests.daemons import TEST_IMAGE, dockerd  # noqa: F401  (session fixture)
from tests.registries.registry_daemon import PASSWORD, USER, Registry, cleanup, start_registry

pytestmark = pytest.mark.docker


CERTS_D = Path("/etc/docker/certs.d")


def _local_address() -> str | None:
    """One of this machine's own addresses that is not loopback (learnt from the route a UDP
    socket would take: nothing is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module")
def registry():
    address = _local_address()
    if address is None:
        pytest.skip("no address but loopback: an engine would treat the registry as insecure")
    if not os.access("/etc", os.W_OK):
        pytest.skip("the engine's certs.d (/etc/docker/certs.d) is not writable here")
    reg = start_registry(address)
    trust = CERTS_D / f"{address}:{reg.port}"
    try:
        trust.mkdir(parents=True, exist_ok=True)
        (trust / "ca.crt").write_bytes(Path(reg.ca).read_bytes())
        yield reg
    finally:
        (trust / "ca.crt").unlink(missing_ok=True)
        if trust.exists():
            trust.rmdir()
        cleanup(reg)


@pytest.fixture(scope="module")
def pushed(registry: Registry, dockerd) -> str:  # noqa: F811
    """A real image in the registry (private/busybox:1), and not on the engine under that name."""
    ref = f"{registry.address}:{registry.port}/private/busybox:1"
    dockerd.cli("tag", TEST_IMAGE, ref)
    auth = RegistryAuth(server=f"{registry.address}:{registry.port}", username=USER, password=PASSWORD)
    transport = httpx.HTTPTransport(uds=dockerd.socket_path)
    with httpx.Client(transport=transport, base_url="http://docker", timeout=120) as http:
        answer = http.post(
            f"/images/{registry.address}:{registry.port}/private/busybox/push", params={"tag": "1"}, headers=registry_auth_header(auth)
        )
    assert answer.status_code == 200, answer.text
    assert '"error"' not in answer.text, answer.text
    dockerd.cli("rmi", ref)
    return ref


def _env(registry: Registry, tmp_path: Path, *, password: bool) -> dict[str, str]:
    env = {"NTNX_CONSOLE_CONFIG": os.environ["NTNX_CONSOLE_CONFIG"]}
    if password:
        env["NTNX_REGISTRY_PASSWORD"] = PASSWORD
    return env


def _cli(dockerd, *argv: str, env: dict[str, str], timeout: float = 120):  # noqa: F811
    return run_command("--backend", "docker", "--docker-host", dockerd.url, *argv, env=env, timeout=timeout)


async def test_a_pull_without_credentials_fails_with_the_registrys_reason(pushed: str, dockerd):  # noqa: F811
    backend = DockerBackend([dockerd.url])
    await backend.connect()
    try:
        host = next(iter((await backend.snapshot()).hosts))
        task = await backend.pull_image(PullSpec(host, pushed))
        final = await backend.wait_task(task.id)
        assert final.status is TaskStatus.FAILED
        assert re.search(r"no basic auth credentials|unauthorized|authentication required", final.error or ""), final.error
        assert f"pull {pushed}: " in final.error
        wrong = RegistryAuth(server=pushed.split("/")[0], username=USER, password="not-the-password")
        final = await backend.wait_task((await backend.pull_image(PullSpec(host, pushed, wrong))).id)
        assert final.status is TaskStatus.FAILED and "unauthorized" in (final.error or "").lower(), final.error
        assert "not-the-password" not in repr(final)
    finally:
        await backend.close()


def test_pull_with_the_configured_password_then_list_remove_prune(
    pushed: str, registry: Registry, dockerd, tmp_path: Path, config_file: Path  # noqa: F811
):
    done = run_command("registry", "add", "lab", "--url", registry.url, "--user", USER, "--ca-bundle", registry.ca)
    assert done.code == 0, done.err

    # Without a password anywhere, and no terminal to ask on: one line, exit 4, nothing pulled.
    host_name = json.loads(_cli(dockerd, "hosts", "list", "--json", env={}).out)[0]["name"]
    refused = _cli(dockerd, "image", "pull", host_name, pushed, "--wait", env=_env(registry, tmp_path, password=False))
    assert refused.code == 4 and "NTNX_REGISTRY_PASSWORD" in refused.err and len(refused.err.strip().splitlines()) == 1

    outputs = []
    pulled = _cli(dockerd, "image", "pull", host_name, pushed, "--wait", env=_env(registry, tmp_path, password=True))
    outputs.append(pulled)
    assert pulled.code == 0, pulled.err
    assert "pull_image" in pulled.out and "SUCCEEDED" in pulled.out

    listed = _cli(dockerd, "images", "list", "--host", host_name, "--json", env={})
    outputs.append(listed)
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)
    ours = {(r["image_id"], tuple(sorted(r["repo_tags"])), r["size_bytes"]) for r in rows}
    theirs = set()
    for doc in json.loads(dockerd.cli("image", "inspect", *dockerd.cli("image", "ls", "-aq", "--no-trunc").split())):
        theirs.add((doc["Id"], tuple(sorted(doc.get("RepoTags") or ())), int(doc["Size"])))
    assert ours == theirs
    row = next(r for r in rows if pushed in r["repo_tags"])
    assert row["dangling"] is False and row["containers"] == [] and row["created"] > 0

    # In use: refused, naming the container; the engine still has it.
    dockerd.cli("create", "--network", "none", "--name", "uses-private", pushed, "true")
    try:
        busy = _cli(dockerd, "image", "remove", pushed, "--host", host_name, "--wait", env={})
        outputs.append(busy)
        assert busy.code == 1 and "uses-private" in busy.err and len(busy.err.strip().splitlines()) == 1, busy.err
        assert pushed in dockerd.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
    finally:
        dockerd.cli("rm", "uses-private")
    removed = _cli(dockerd, "image", "remove", pushed, "--host", host_name, "--wait", env={})
    outputs.append(removed)
    assert removed.code == 0, removed.err
    assert pushed not in dockerd.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()

    # A dangling image of its own: the prune reclaims what the engine says that image held.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"prune me " * 3000
        info = tarfile.TarInfo("prune-me.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    image_id = dockerd.cli("import", "-", input=buf.getvalue()).strip()
    size = int(json.loads(dockerd.cli("image", "inspect", image_id))[0]["Size"])
    pruned = _cli(dockerd, "images", "prune", "--host", host_name, "--wait", env={})
    outputs.append(pruned)
    assert pruned.code == 0, pruned.err
    assert re.search(rf"removed \d+ image\(s\), reclaimed \S+ \({size} bytes\)", pruned.out), pruned.out
    assert image_id not in dockerd.cli("image", "ls", "-aq", "--no-trunc").split()

    # The password: in no output, config file, log, or process command line.
    for result in outputs:
        assert PASSWORD not in result.out and PASSWORD not in result.err
    assert PASSWORD not in config_file.read_text()
    for log in (dockerd.root / "dockerd.log", registry.root / "registry.log"):
        assert PASSWORD not in log.read_text(errors="replace"), log
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert PASSWORD.encode() not in cmdline.read_bytes(), cmdline
        except OSError:
            continue  # the process ended meanwhile


async def test_the_images_screen_pulls_removes_and_prunes(
    pushed: str, registry: Registry, dockerd, config_file: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
):
    from backends.registries.models import RegistryEntry
    from backends.settings import Settings
    from console.app import NtnxConsoleApp
    from console.registry_config import add_registry
    from console.screens.confirm import ConfirmDelete
    from console.screens.host_images import PruneChoice
    from console.screens.dashboard import DashboardScreen
    from console.screens.host_images import HostImagesScreen, PullImageForm
    from tests.waiting import wait_until
    from textual.widgets import Input
    from widgets.resource_table import ResourceTable

    add_registry(config_file, RegistryEntry(name="lab", url=registry.url, user=USER, ca_bundle=registry.ca))
    monkeypatch.setenv("NTNX_REGISTRY_PASSWORD", PASSWORD)
    if pushed in dockerd.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split():
        dockerd.cli("rmi", pushed)
    backend = DockerBackend([dockerd.url])
    app = NtnxConsoleApp(Settings(backend="docker"), None, backend=backend)
    app.ANIMATION_LEVEL = "none"
    notices: list[str] = []
    real_notify = app.notify

    def notify(message, *args, **kwargs):
        notices.append(str(message))
        return real_notify(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
        hosts = app.screen.table("hosts")
        await wait_until(lambda: hosts.cursor_id is not None, what="the cursor on the host")
        await pilot.press("I")
        await wait_until(lambda: isinstance(app.screen, HostImagesScreen), what="the Images screen")
        screen = app.screen
        table = screen.query_one(ResourceTable)
        engine_ids = set(dockerd.cli("image", "ls", "-aq", "--no-trunc").split())
        await wait_until(lambda: {r.image_id for r in table.rows_by_id.values()} == engine_ids, what="docker image ls on screen")

        await pilot.press("p")
        await wait_until(lambda: isinstance(app.screen, PullImageForm), what="the pull form")
        app.screen.query_one("#image", Input).value = pushed
        await pilot.press("ctrl+s")
        await wait_until(lambda: any(pushed in r.repo_tags for r in table.rows_by_id.values()), what="the pulled image, live",
                         timeout=60)
        pulls = [t for t in app.store.inventory.tasks.values() if t.kind == "pull_image"]
        await wait_until(lambda: all(app.store.inventory.tasks[t.id].done for t in pulls), what="the pull task's end")
        assert all(app.store.inventory.tasks[t.id].status is TaskStatus.SUCCEEDED for t in pulls)

        # In use: the confirmation says so, and the refusal names the container.
        dockerd.cli("create", "--network", "none", "--name", "screen-user", pushed, "true")
        row_id = next(i for i, r in table.rows_by_id.items() if pushed in r.repo_tags)
        await wait_until(lambda: table.rows_by_id[row_id].container_ids, what="the container among its users")
        assert table.move_cursor(row_id)
        await pilot.press("ctrl+d")
        await wait_until(lambda: isinstance(app.screen, ConfirmDelete), what="the confirmation")
        assert "screen-user" in app.screen.warning
        await pilot.press("y")
        await wait_until(lambda: any("screen-user" in n and "used by" in n for n in notices), what="the refusal")
        dockerd.cli("rm", "screen-user")

        # Prune: the confirmation counts what goes; the finished task says what was reclaimed.
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = b"screen prune " * 2000
            info = tarfile.TarInfo("p.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        image_id = dockerd.cli("import", "-", input=buf.getvalue()).strip()
        await wait_until(lambda: any(r.image_id == image_id for r in table.rows_by_id.values()), what="the dangling image")
        await pilot.press("P")
        # First which images: dangling only (d) or also unused; then the counted confirmation.
        await wait_until(lambda: isinstance(app.screen, PruneChoice), what="the prune's choice")
        await pilot.press("d")
        await wait_until(lambda: isinstance(app.screen, ConfirmDelete), what="the prune confirmation")
        assert "dangling image(s), up to" in app.screen.warning
        await pilot.press("y")
        await wait_until(
            lambda: any(t.kind == "prune_images" and t.done and "reclaimed" in t.message for t in app.store.inventory.tasks.values()),
            what="the prune's reclaimed bytes", timeout=30,
        )
        await wait_until(lambda: all(r.image_id != image_id for r in table.rows_by_id.values()), what="the pruned image gone")
        assert not any(PASSWORD in n for n in notices)
    await backend.close()
