"""``sim serve`` answers with the key structure real Prism Central answered with, endpoint by
endpoint: every key path of a recording (list items merged) is in the simulator's answer to
the same request, and the simulator adds only the keys named here, each for a reason."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.prism.servers import PASSWORD, serve, sim_app

RECORDINGS = Path(__file__).parent / "recordings"
V3 = "/api/nutanix/v3"

# Keys the simulator adds beyond one recording, and why.
EXTRA_OK = {
    # The console's categories on its machines, and a VM's node.
    "metadata.categories.NtnxConsole",
    "metadata.categories.NtnxConsoleEngine",
    "status.resources.host_reference",
    "status.resources.host_reference.kind",
    "status.resources.host_reference.uuid",
    # Attached volume groups appear in a VM's disk_list.
    "status.resources.disk_list[].volume_group_reference",
    "status.resources.disk_list[].volume_group_reference.kind",
    "status.resources.disk_list[].volume_group_reference.uuid",
    "spec.resources.disk_list[].volume_group_reference",
    "spec.resources.disk_list[].volume_group_reference.kind",
    "spec.resources.disk_list[].volume_group_reference.uuid",
}


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from paths(item, f"{prefix}[]")


def shape(value: Any) -> set[str]:
    return set(paths(value))


def entity_shape(body: dict) -> set[str]:
    return set().union(*(shape(e) for e in body["entities"]))


def recorded(name: str) -> dict:
    return json.loads((RECORDINGS / name).read_text())


def assert_same_keys(sim: set[str], real: set[str], where: str, extra_ok: set[str] = EXTRA_OK) -> None:
    # An empty list has no item keys: a path under a list the simulator has empty is not missing.
    missing = sorted(p for p in real - sim if not ("[]" in p and p.split("[]")[0] in sim))
    extra = sorted(sim - real - extra_ok)
    assert not missing, f"{where}: the simulator lacks {missing}"
    assert not extra, f"{where}: the simulator adds {extra}"


@pytest.fixture(scope="module")
def sim_server():
    with serve(sim_app()) as srv:
        yield srv


@pytest.fixture
def http(sim_server):
    with httpx.Client(base_url=sim_server.endpoint, verify=ssl.create_default_context(cafile=sim_server.cert.cert), auth=("admin", PASSWORD), timeout=20) as c:
        yield c


def vm_union() -> set[str]:
    """The VM list and GET recordings come from different releases; a key of either is a
    real Prism key for a VM."""
    return EXTRA_OK | entity_shape(recorded("pc_v3_vms_list_response.json")) | shape(recorded("pc_v3_vm_get_response.json"))


def test_vms_list(http):
    first = http.post(f"{V3}/vms/list", json={"kind": "vm", "length": 1}).json()
    name = first["entities"][0]["status"]["name"]
    body = http.post(
        f"{V3}/vms/list",
        json={"filter": f"vm_name=={name}", "sort_attribute": "name", "sort_order": "ASCENDING"},
    ).json()
    real = recorded("pc_v3_vms_list_response.json")
    assert_same_keys(shape({k: v for k, v in body.items() if k != "entities"}), shape({k: v for k, v in real.items() if k != "entities"}), "vms/list envelope")
    assert_same_keys(entity_shape(body), entity_shape(real), "vms/list entity", vm_union())
    assert body["metadata"]["total_matches"] == 1 and body["metadata"]["filter"] == f"vm_name=={name}"


def test_vm_get_create_update_delete_and_task(http):
    vms = http.post(f"{V3}/vms/list", json={"kind": "vm", "length": 500}).json()["entities"]
    vm = next(v for v in vms if v["spec"]["resources"]["power_state"] == "ON")
    got = http.get(f"{V3}/vms/{vm['metadata']['uuid']}").json()
    assert_same_keys(shape(got), shape(recorded("pc_v3_vm_get_response.json")), "GET vms/{uuid}", vm_union())

    images = http.post(f"{V3}/images/list", json={"kind": "image"}).json()["entities"]
    request = recorded("pc_v3_vm_create_request.json")
    request["spec"]["name"] = "shape-01"
    request["spec"]["resources"]["disk_list"][0]["data_source_reference"]["uuid"] = images[0]["metadata"]["uuid"]
    request["spec"]["resources"]["nic_list"][0]["subnet_reference"]["uuid"] = vm["spec"]["resources"]["nic_list"][0]["subnet_reference"]["uuid"]
    created = http.post(f"{V3}/vms", json=request)
    assert created.status_code == 202
    assert_same_keys(shape(created.json()), shape(recorded("pc_v3_vm_create_response_202.json")), "POST vms")

    task = http.get(f"{V3}/tasks/{created.json()['status']['execution_context']['task_uuid']}").json()
    real_task = recorded("pc_v3_task_get_succeeded.json")
    # A running task has no completion time yet; a real one would not either.
    running_ok = {"completion_time", "completion_time_usecs"} if task["status"] != "SUCCEEDED" else set()
    assert_same_keys(shape(task) | running_ok, shape(real_task), "GET tasks/{uuid}")

    update = {"metadata": got["metadata"], "spec": got["spec"]}
    update["spec"]["resources"]["power_state"] = "OFF"
    updated = http.put(f"{V3}/vms/{vm['metadata']['uuid']}", json=update)
    assert updated.status_code == 202
    # The 202 echoes the spec sent, which came from the GET: its keys are a real GET's.
    assert_same_keys(shape(updated.json()), shape(recorded("pc_v3_vm_update_response_202.json")), "PUT vms/{uuid}", vm_union())
    # The same spec_version again is stale now: Prism answers 409.
    assert http.put(f"{V3}/vms/{vm['metadata']['uuid']}", json=update).status_code == 409

    deleted = http.delete(f"{V3}/vms/{vms[-1]['metadata']['uuid']}")
    assert deleted.status_code == 202
    assert_same_keys(shape(deleted.json()), shape(recorded("pc_v3_vm_delete_response_202.json")), "DELETE vms/{uuid}")


def test_not_found_error_envelope(http):
    answer = http.get(f"{V3}/vms/8f6555d1-eebb-430a-86e1-b01c064ffd58")
    assert answer.status_code == 404
    assert_same_keys(shape(answer.json()), shape(recorded("pc_v3_error_404_vm_not_found.json")), "404")
    assert answer.json()["message_list"][0]["reason"] == "ENTITY_NOT_FOUND"


@pytest.mark.parametrize(
    "kind, recording",
    [
        ("cluster", "pc_v3_clusters_list_response.json"),
        ("subnet", "pc_v3_subnets_list_response.json"),
        ("image", "pc_v3_images_list_response.documented.json"),
    ],
)
def test_other_lists(http, kind: str, recording: str):
    body = http.post(f"{V3}/{kind}s/list", json={"kind": kind}).json()
    real = recorded(recording)
    # Each sim entity has the keys of the recorded entity of its own sort: the AOS cluster and
    # PC, a VLAN subnet (the recording's overlay and external ones carry VPC keys).
    real_entities = {
        "cluster": real["entities"],
        "subnet": real["entities"][:1],
        "image": real["entities"],
    }[kind]
    sim_entities = body["entities"]
    if kind == "cluster":
        pairs = [(s, r) for s in sim_entities for r in real_entities if ("PRISM_CENTRAL" in json.dumps(s)) == ("PRISM_CENTRAL" in json.dumps(r))]
    else:
        pairs = [(s, real_entities[0]) for s in sim_entities]
    assert pairs
    for sim_entity, real_entity in pairs:
        assert_same_keys(shape(sim_entity), shape(real_entity), f"{kind}s/list entity")
