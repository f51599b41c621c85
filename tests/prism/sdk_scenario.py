"""Automation written with Nutanix's own v4 Python SDKs, run against ``sim serve`` as a user's
script would be: ``python sdk_scenario.py HOST PORT CA_BUNDLE`` with ``NTNX_PASSWORD`` set.

It imports whichever SDK release is on the path (the tests run it once with the pinned 4.0.1
and once with the current release, which cannot share one interpreter), goes through each
namespace (list, get, create, update with the ETag the SDK found, an action, delete, and every
task followed to SUCCEEDED) and prints one JSON line of what it saw. Any surprise raises.

The README's section "Rehearse your Nutanix automation offline" shows this script.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version

import ntnx_clustermgmt_py_client as cm
import ntnx_prism_py_client as prism
import ntnx_vmm_py_client as vmm
import ntnx_volumes_py_client as volumes


SDKS = ("ntnx-clustermgmt-py-client", "ntnx-prism-py-client", "ntnx-vmm-py-client", "ntnx-volumes-py-client")


def client(sdk, host: str, port: int, ca_bundle: str):
    config = sdk.Configuration()
    config.host, config.port = host, port
    config.username, config.password = "admin", os.environ["NTNX_PASSWORD"]
    config.verify_ssl = True  # verified against the CA bundle sim serve printed
    config.root_ca_certificate_file = ca_bundle
    config.max_retry_attempts = 1
    return sdk.ApiClient(configuration=config)


def main(host: str, port: int, ca_bundle: str) -> dict:
    vg_api = volumes.VolumeGroupsApi(api_client=client(volumes, host, port, ca_bundle))
    vm_api = vmm.VmApi(api_client=client(vmm, host, port, ca_bundle))
    tasks = prism.TasksApi(api_client=client(prism, host, port, ca_bundle))
    clusters = cm.ClustersApi(api_client=client(cm, host, port, ca_bundle))
    containers = cm.StorageContainersApi(api_client=client(cm, host, port, ca_bundle))
    seen: dict = {}

    def wait(task_id: str):
        # sim serve at --speed 0 moves its clock on each poll of an unfinished task, so a
        # bounded number of polls ends every task; a real script would sleep between them.
        for _ in range(500):
            task = tasks.get_task_by_id(task_id).data
            if task.status in ("SUCCEEDED", "FAILED", "CANCELED"):
                assert task.status == "SUCCEEDED", (task.status, task.error_messages)
                return task
        raise AssertionError(f"task {task_id} did not end")

    # clustermgmt: clusters, and a storage container made, renamed, deleted
    cluster = next(c for c in clusters.list_clusters().data if "AOS" in c.config.cluster_function)
    assert clusters.get_cluster_by_id(cluster.ext_id).data.name == cluster.name
    made = containers.create_storage_container(cm.StorageContainer(name="sdk-container"), cluster.ext_id)
    sc_id = wait(made.data.ext_id).entities_affected[0].ext_id
    got = containers.get_storage_container_by_id(sc_id)
    done = containers.update_storage_container_by_id(
        sc_id, cm.StorageContainer(name="sdk-container-2"), if_match=cm.ApiClient.get_etag(got)
    )
    wait(done.data.ext_id)
    got = containers.get_storage_container_by_id(sc_id)
    seen["container_renamed"] = got.data.name
    wait(containers.delete_storage_container_by_id(sc_id, if_match=cm.ApiClient.get_etag(got)).data.ext_id)
    seen["containers"] = sorted(c.name for c in containers.list_storage_containers().data)

    # vmm: VMs listed a page at a time, filtered; one powered off and on again by its ETag
    page = vm_api.list_vms(_page=0, _limit=5)
    seen["vms_total"] = page.metadata.total_available_results
    seen["vms_page"] = len(page.data)
    vm = next(v for v in page.data if v.power_state == "ON")
    seen["filtered"] = [v.name for v in vm_api.list_vms(_filter=f"name eq '{vm.name}'").data]
    got = vm_api.get_vm_by_id(vm.ext_id)
    wait(vm_api.update_vm_by_id(vm.ext_id, got.data, if_match=vmm.ApiClient.get_etag(got)).data.ext_id)
    got = vm_api.get_vm_by_id(vm.ext_id)
    wait(vm_api.power_off_vm(vm.ext_id, if_match=vmm.ApiClient.get_etag(got)).data.ext_id)
    got = vm_api.get_vm_by_id(vm.ext_id)
    seen["powered_off"] = got.data.power_state
    wait(vm_api.power_on_vm(vm.ext_id, if_match=vmm.ApiClient.get_etag(got)).data.ext_id)

    # volumes: a group made without disks, a disk added, attached to the VM, detached, deleted
    made = vg_api.create_volume_group(
        volumes.VolumeGroup(name="sdk-data", sharing_status="SHARED", cluster_reference=cluster.ext_id)
    )
    vg_id = wait(made.data.ext_id).entities_affected[0].ext_id
    wait(vg_api.create_volume_disk(vg_id, volumes.VolumeDisk(disk_size_bytes=10 * 1024**3)).data.ext_id)
    seen["disks"] = [d.disk_size_bytes for d in vg_api.list_volume_disks_by_volume_group_id(vg_id).data]
    group = vg_api.get_volume_group_by_id(vg_id)
    etag = volumes.ApiClient.get_etag(group)
    assert etag, "no ETag where the SDK looks for it"
    wait(vg_api.update_volume_group_by_id(vg_id, volumes.VolumeGroup(name="sdk-data", description="rehearsed"), if_match=etag).data.ext_id)
    group = vg_api.get_volume_group_by_id(vg_id)
    seen["description"] = group.data.description
    etag = volumes.ApiClient.get_etag(group)
    wait(vg_api.attach_vm(vg_id, volumes.VmAttachment(ext_id=vm.ext_id), if_match=etag).data.ext_id)
    seen["attached_to"] = [a.ext_id == vm.ext_id for a in vg_api.list_vm_attachments_by_volume_group_id(vg_id).data]
    try:  # the ETag read before the attach is stale now
        vg_api.detach_vm(vg_id, volumes.VmAttachment(ext_id=vm.ext_id), if_match=etag)
        seen["stale_etag"] = "accepted"
    except volumes.rest.ApiException as err:
        seen["stale_etag"] = err.status
    group = vg_api.get_volume_group_by_id(vg_id)
    wait(vg_api.detach_vm(vg_id, volumes.VmAttachment(ext_id=vm.ext_id), if_match=volumes.ApiClient.get_etag(group)).data.ext_id)
    group = vg_api.get_volume_group_by_id(vg_id)
    wait(vg_api.delete_volume_group_by_id(vg_id, if_match=volumes.ApiClient.get_etag(group)).data.ext_id)
    seen["groups_named_sdk_data"] = len(vg_api.list_volume_groups(_filter="name eq 'sdk-data'").data or [])

    # prism: the tasks just followed, listed newest first
    listed = tasks.list_tasks(_limit=10).data
    seen["tasks_listed"] = len(listed)
    seen["tasks_succeeded"] = all(t.status == "SUCCEEDED" for t in listed)
    seen["sdk"] = {name: version(name) for name in SDKS}
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
