"""Issue 16: ``sim serve`` as a Prism Central stand-in that Nutanix's own v4 SDKs accept.

The client here is one we did not write: ``ntnx-*-py-client``, pinned 4.0.1 in the [test]
extra and the current release in ``.venv/sdk-current`` (tests/prism/sdk-current.txt), each
running ``sdk_scenario.py`` in its own interpreter against a real ``ntnx-console sim serve``
on 127.0.0.1, TLS verified against the CA bundle it printed. Beside it: the v4 conventions
checked on the wire (versions, paging links, If-Match, NTNX-Request-Id), several servers at
once each with its own certificate, and ``--state`` keeping the world across a restart."""

from __future__ import annotations

import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from backends.prism import parse
from backends.prism_sim.v4 import VERSIONS
from tests.daemons import free_port

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("sdk_scenario.py")
PASSWORD = "sdk-s3cret"
SDK_CURRENT = Path(os.environ.get("NTNX_CONSOLE_SDK_CURRENT", ROOT / ".venv" / "sdk-current"))


@contextmanager
def sim_serve(tmp: Path, port: int | None = None, *extra: str) -> Iterator[dict]:
    """``ntnx-console sim serve`` as a user starts it; yields its endpoint and printed CA bundle."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env.update(NTNX_PASSWORD=PASSWORD, NTNX_CONSOLE_SIM_DIR=str(tmp), NTNX_CONSOLE_CONFIG=str(tmp / "none.toml"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sim", "serve", "--port", str(port), "--speed", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while not any("CA bundle:" in line for line in seen):
            try:
                seen.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"sim serve did not start within 30 s: {''.join(seen)}") from None
        bundle = next(line for line in seen if "CA bundle:" in line).split("CA bundle:")[1].strip()
        endpoint = f"https://127.0.0.1:{port}"
        # The banner comes before uvicorn listens: wait until a request is answered.
        with httpx.Client(verify=ssl.create_default_context(cafile=bundle), auth=("admin", PASSWORD), timeout=5) as c:
            while True:
                try:
                    c.get(f"{endpoint}/api/clustermgmt/v4.0/config/clusters")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, "".join(seen)
                    time.sleep(0.05)
        yield {"endpoint": endpoint, "port": port, "bundle": bundle, "banner": "".join(seen)}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with sim_serve(tmp_path_factory.mktemp("sdk-serve")) as srv:
        yield srv


def http(srv: dict) -> httpx.Client:
    return httpx.Client(base_url=srv["endpoint"], verify=ssl.create_default_context(cafile=srv["bundle"]), auth=("admin", PASSWORD), timeout=20)


def run_scenario(srv: dict, pythonpath: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_") and k != "PYTHONPATH"}
    env["NTNX_PASSWORD"] = PASSWORD
    if pythonpath:
        env["PYTHONPATH"] = pythonpath  # ahead of site-packages: this release, not the pinned one
    done = subprocess.run(
        [sys.executable, str(SCENARIO), "127.0.0.1", str(srv["port"]), srv["bundle"]],
        cwd=SCENARIO.parent, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_scenario(seen: dict) -> None:
    assert seen["container_renamed"] == "sdk-container-2"
    assert seen["containers"] == ["default-container"]  # the one made was deleted
    assert seen["vms_page"] == 5 and seen["vms_total"] >= 10
    assert len(seen["filtered"]) == 1
    assert seen["powered_off"] == "OFF"
    assert seen["disks"] == [10 * 1024**3]  # made without disks, one added after
    assert seen["description"] == "rehearsed"
    assert seen["attached_to"] == [True]
    assert seen["stale_etag"] == 412
    assert seen["groups_named_sdk_data"] == 0
    assert seen["tasks_listed"] == 10 and seen["tasks_succeeded"]


def test_pinned_sdks_4_0_1_run_the_scenario(server):
    seen = run_scenario(server, None)
    assert set(seen["sdk"].values()) == {"4.0.1"}
    check_scenario(seen)


def test_current_sdks_run_the_scenario(server):
    if not (SDK_CURRENT / "ntnx_volumes_py_client").is_dir():
        message = f"the current SDKs are not in {SDK_CURRENT}: .venv/bin/pip install --target {SDK_CURRENT} -r tests/prism/sdk-current.txt"
        if os.environ.get("NTNX_CONSOLE_REQUIRE_DAEMONS"):
            pytest.fail(message)
        pytest.skip(message)
    seen = run_scenario(server, str(SDK_CURRENT))
    wanted = dict(line.split("==") for line in (SCENARIO.parent / "sdk-current.txt").read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert seen["sdk"] == wanted
    check_scenario(seen)


def test_every_version_path_is_served_and_others_are_a_v4_404(server):
    paths = {
        "vmm": "/ahv/config/vms",
        "volumes": "/config/volume-groups",
        "prism": "/config/tasks",
        "clustermgmt": "/config/storage-containers",
    }
    with http(server) as c:
        for ns, versions in VERSIONS.items():
            assert c.options(f"/api/{ns}/unversioned/info").json() == {"data": versions[-1]}
            for version in versions:
                body = c.get(f"/api/{ns}{'/' + version}{paths[ns]}", params={"$limit": 1}).json()
                assert body["$reserved"] == {"$fv": "v4.r" + version.split(".")[1]}, (ns, version)
                assert isinstance(body["metadata"]["totalAvailableResults"], int)
        answer = c.get("/api/volumes/v4.9/config/volume-groups")
        assert answer.status_code == 404
        assert answer.json()["data"]["$objectType"] == "volumes.v4.error.ErrorResponse"
        assert "v4.0" in answer.json()["data"]["error"][0]["message"]


def test_paging_links_filter_and_orderby(server):
    with http(server) as c:
        first = c.get("/api/vmm/v4.0/ahv/config/vms", params={"$limit": 4, "$orderby": "name desc"}).json()
        total = first["metadata"]["totalAvailableResults"]
        links = {link["rel"]: link["href"] for link in first["metadata"]["links"]}
        assert set(links) == {"self", "first", "last", "next"}
        names = [v["name"] for v in first["data"]]
        assert names == sorted(names, reverse=True)
        walked = list(names)
        while "next" in links:
            page = c.get(links["next"]).json()
            walked += [v["name"] for v in page["data"]]
            links = {link["rel"]: link["href"] for link in page["metadata"]["links"]}
        assert len(walked) == total == len(set(walked)) and walked == sorted(walked, reverse=True)
        some = walked[0][:3]
        found = c.get("/api/vmm/v4.0/ahv/config/vms", params={"$filter": f"startswith(name, '{some}')"}).json()
        assert found["data"] and all(v["name"].startswith(some) for v in found["data"])
        assert c.get("/api/vmm/v4.0/ahv/config/vms", params={"$filter": "name wobbles 'x'"}).status_code == 422
        assert c.get("/api/vmm/v4.0/ahv/config/vms", params={"$limit": 101}).status_code == 422


def test_if_match_and_request_id(server):
    with http(server) as c:
        cluster = c.get("/api/clustermgmt/v4.3/config/clusters").json()["data"][0]["extId"]
        request_id = str(uuid.uuid4())
        body = {"name": "idem-1", "clusterReference": cluster}
        first = c.post("/api/volumes/v4.3/config/volume-groups", json=body, headers={"NTNX-Request-Id": request_id})
        again = c.post("/api/volumes/v4.3/config/volume-groups", json=body, headers={"NTNX-Request-Id": request_id})
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()  # the same task: one group, not two
        task = first.json()["data"]["extId"]
        while c.get(f"/api/prism/v4.0/config/tasks/{task}").json()["data"]["status"] != "SUCCEEDED":
            pass  # at --speed 0 each poll moves the simulated clock on; the task ends
        groups = c.get("/api/volumes/v4.0/config/volume-groups", params={"$filter": "name eq 'idem-1'"}).json()["data"]
        assert len(groups) == 1
        vg = groups[0]["extId"]
        assert c.get(f"/api/volumes/v4.0/config/volume-groups/{vg}/disks").json()["data"] == []
        assert c.delete(f"/api/volumes/v4.0/config/volume-groups/{vg}").status_code == 428
        assert c.delete(f"/api/volumes/v4.0/config/volume-groups/{vg}", headers={"If-Match": "stale"}).status_code == 412
        etag = c.get(f"/api/volumes/v4.0/config/volume-groups/{vg}").headers["ETag"]
        assert c.delete(f"/api/volumes/v4.0/config/volume-groups/{vg}", headers={"If-Match": etag}).status_code == 202


def test_our_parsing_agrees_with_the_sdk_models(server):
    """The Prism client's parse module and the SDK's own models read the same payloads alike."""
    import ntnx_vmm_py_client as vmm
    import ntnx_volumes_py_client as volumes

    with http(server) as c:
        vm_body = c.get("/api/vmm/v4.0/ahv/config/vms", params={"$limit": 1}).json()
        ours = parse.host_v4(vm_body["data"][0])
        theirs = vmm.ApiClient().deserialize(json.loads(json.dumps(vm_body)), "vmm.v4.ahv.config.ListVmsApiResponse").data[0]
        assert (ours.id, ours.name, ours.cores, ours.memory_mib) == (
            theirs.ext_id, theirs.name, theirs.num_sockets * theirs.num_cores_per_socket, theirs.memory_size_bytes // 2**20
        )
        vg = c.get("/api/volumes/v4.0/config/volume-groups", params={"$limit": 1}).json()["data"][0]
        disks = c.get(f"/api/volumes/v4.0/config/volume-groups/{vg['extId']}/disks").json()
        ours_vg = parse.volume(vg, disks=disks["data"], attached_vm_ids=[])
        theirs_disks = volumes.ApiClient().deserialize(json.loads(json.dumps(disks)), "volumes.v4.config.ListVolumeDisksApiResponse").data
        assert ours_vg.size_gib == round(sum(d.disk_size_bytes for d in theirs_disks) / 2**30, 2)
        theirs_vg = volumes.ApiClient().deserialize({"data": vg, "$objectType": "x"}, "volumes.v4.config.GetVolumeGroupApiResponse").data
        assert (ours_vg.id, ours_vg.name) == (theirs_vg.ext_id, theirs_vg.name)


def test_two_servers_at_once_each_with_its_own_certificate(tmp_path):
    with sim_serve(tmp_path) as one, sim_serve(tmp_path) as two:
        assert one["bundle"] != two["bundle"]
        assert Path(one["bundle"]).read_bytes() != Path(two["bundle"]).read_bytes()
        for srv in (one, two):
            with http(srv) as c:
                assert c.get("/api/vmm/v4.0/ahv/config/vms").status_code == 200
        # The first's bundle does not vouch for the second: each client trusts its own server.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{two['endpoint']}/api/vmm/v4.0/ahv/config/vms", verify=ssl.create_default_context(cafile=one["bundle"]))


def test_state_keeps_the_world_and_the_certificate_across_a_restart(tmp_path):
    state = tmp_path / "world.state.json"
    port = free_port()
    with sim_serve(tmp_path, port, "--state", str(state)) as srv:
        assert f"state: {state}" in srv["banner"]
        with http(srv) as c:
            cluster = c.get("/api/clustermgmt/v4.0/config/clusters").json()["data"][0]["extId"]
            task = c.post("/api/volumes/v4.0/config/volume-groups", json={"name": "kept", "clusterReference": cluster, "description": "across restarts"}).json()["data"]["extId"]
            while c.get(f"/api/prism/v4.0/config/tasks/{task}").json()["data"]["status"] != "SUCCEEDED":
                pass  # each poll moves the simulated clock on
        bundle = Path(srv["bundle"]).read_bytes()
    with sim_serve(tmp_path, port, "--state", str(state)) as srv:
        assert Path(srv["bundle"]).read_bytes() == bundle  # clients of the first run still trust it
        with http(srv) as c:
            kept = c.get("/api/volumes/v4.0/config/volume-groups", params={"$filter": "name eq 'kept'"}).json()["data"]
            assert [g["description"] for g in kept] == ["across restarts"]
            assert c.get(f"/api/volumes/v4.0/config/volume-groups/{kept[0]['extId']}/disks").json()["data"] == []
