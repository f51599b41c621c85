"""Every payload recorded from real Prism Central goes through the backend's parsing, and the
fields the console shows come out right (the expected values are read off the recordings)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from backends.errors import NotFound
from backends.models import HostState, TaskStatus
from backends.prism import parse
from backends.prism.client import error_for, task_uuid_of

RECORDINGS = Path(__file__).parent / "recordings"
ALL = sorted(p.name for p in RECORDINGS.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((RECORDINGS / name).read_text())


def parse_any(name: str, body: dict) -> list:
    """Whatever the backend makes of one recording, by the endpoint it came from."""
    if "error" in name:
        return [error_for(httpx.Response(body["code"], json=body), "get vm")]
    if "task_get" in name:
        return [parse.task_v3(body)]
    if "v4_vmm" in name:
        return [parse.host_v4(body["data"])]
    if "clusters_list" in name:
        return [parse.is_prism_central(e) for e in body["entities"]]
    if "subnets_list" in name:
        return [parse.network(e) for e in body["entities"]]
    if "images_list" in name:
        return [parse.image(e) for e in body["entities"]]
    if "vms_list" in name:
        return [parse.host(e) for e in body["entities"]]
    return [parse.host(body)]  # a VM: GET, create/update request or 202, delete 202


def test_the_copies_are_the_shared_recordings():
    shared = Path(__file__).resolve().parents[3] / "shared" / "prism-recordings"
    if not shared.is_dir():
        pytest.skip("the shared recordings are not next to this checkout")
    for name in ALL:
        assert (RECORDINGS / name).read_bytes() == (shared / name).read_bytes(), name


@pytest.mark.parametrize("name", ALL)
def test_every_recording_parses(name: str):
    parsed = parse_any(name, load(name))
    assert parsed, name


def test_paginated_vm_list_gives_cores_memory_power_and_ip():
    hosts = {h.name: h for h in map(parse.host, load("pc_v3_vms_list_response_paginated_trimmed.json")["entities"])}
    assert set(hosts) == {"RH-LinuxToolsVM", "LinuxTest", "Template-LinuxToolVM"}
    tools = hosts["RH-LinuxToolsVM"]
    assert (tools.state, tools.cores, tools.memory_mib, tools.ip, tools.cluster) == (HostState.RUNNING, 2, 2048, "172.21.30.116", "ahv")
    template = hosts["Template-LinuxToolVM"]
    assert (template.state, template.ip) == (HostState.STOPPED, "172.21.30.177")
    assert hosts["LinuxTest"].project_id == "198deb02-4bf0-4e4b-9895-cdac7d31d88e"
    # No console category: these are plain VMs, with no engine version claimed.
    assert all(h.role == "vm" and h.engine_version is None for h in hosts.values())


def test_vm_get_and_list_agree():
    got = parse.host(load("pc_v3_vm_get_response.json"))
    listed = parse.host(load("pc_v3_vms_list_response.json")["entities"][0])
    assert got == listed
    assert (got.name, got.state, got.cores, got.memory_mib, got.ip) == ("test-vm", HostState.STOPPED, 1, 1024, "10.23.129.96")
    assert got.image_id == "70cfd137-a8d9-4169-a5ac-cf9ad6ddb03a" and got.storage_gib == 8.0


def test_a_vm_being_made_or_deleted_has_its_transitional_state():
    assert parse.host(load("pc_v3_vm_create_response_202.json")).state is HostState.PROVISIONING
    assert parse.host(load("pc_v3_vm_delete_response_202.json")).state is HostState.DELETING


def test_task_uuid_is_a_string_in_a_202_and_a_list_in_a_get():
    assert task_uuid_of(load("pc_v3_vm_create_response_202.json")) == "e074cb94-1123-4dca-82b0-b842f019a825"
    assert task_uuid_of(load("pc_v3_vm_get_response.json")) == "e074cb94-1123-4dca-82b0-b842f019a825"
    assert task_uuid_of(load("pc_v3_vm_delete_response_202.json")) == "bdc121a8-ea50-4a9e-9012-ffbf2dd070e2"


def test_tasks_old_and_new_shape():
    old = parse.task_v3(load("pc_v3_task_get_succeeded.json"))
    assert (old.status, old.progress, old.kind, old.target_id) == (
        TaskStatus.SUCCEEDED, 100, "create_host", "8f6555d1-eebb-430a-86e1-b01c064ffd58"
    )
    assert old.finished_at - old.started_at == pytest.approx(3.852, abs=0.01)
    new = parse.task_v3(load("pc_v3_task_get_succeeded_pc7.json"))
    assert (new.status, new.message, new.error) == (TaskStatus.SUCCEEDED, "Register Kubernetes cluster cluster1", None)


def test_prism_central_is_not_a_placement_cluster():
    clusters = {parse.name_of(e): parse.is_prism_central(e) for e in load("pc_v3_clusters_list_response.json")["entities"]}
    assert clusters == {"ganon": False, "ncn-dev-pc": True}


def test_subnets_and_images():
    nets = {n.name: n for n in map(parse.network, load("pc_v3_subnets_list_response.json")["entities"])}
    assert (nets["sherlock_net"].vlan_id, nets["sherlock_net"].cidr, nets["sherlock_net"].cluster) == (508, "10.40.142.0/24", "ganon")
    assert nets["airgap"].cluster == "" and nets["airgap"].cidr == "192.168.0.0/24"
    images = [parse.image(e) for e in load("pc_v3_images_list_response.documented.json")["entities"]]
    assert [(i.name, i.size_gib, i.engine_version) for i in images] == [("Ubuntu", 0.03, None)] * 2
    assert all(parse.is_disk_image(e) for e in load("pc_v3_images_list_response.documented.json")["entities"])


def test_v4_vm_shape():
    host = parse.host_v4(load("pc_v4_vmm_vm_get_response.json")["data"])
    assert (host.name, host.state, host.cores, host.memory_mib, host.ip) == ("PC-NameOption-1", HostState.RUNNING, 4, 18432, "192.168.1.150")


def test_error_envelope_maps_to_not_found_with_prisms_message():
    err = error_for(httpx.Response(404, json=load("pc_v3_error_404_vm_not_found.json")), "get vm")
    assert isinstance(err, NotFound)
    assert err.one_line() == "Not found: get vm: vm : 8f6555d1-eebb-430a-86e1-b01c064ffd58 does not exist."
