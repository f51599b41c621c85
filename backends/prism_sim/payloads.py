"""The simulator's models written as Prism Central writes its entities: v3 ``metadata`` /
``spec`` / ``status`` envelopes and v4 volume groups and tasks, key for key as in the
recordings of real Prism Central (``tests/prism/recordings``), so the backend reads the
simulator exactly as it reads the real thing."""

from __future__ import annotations

import ipaddress
import json
import uuid
from typing import Any, Iterable

from ..models import Host, HostState, Image, Network, Node, Project, StatsSample, Task, TaskStatus, Volume
from ..prism.parse import ENGINE_CATEGORY, GIB, MIB, ROLE_CATEGORY, ROLE_VALUE, rfc3339

_NS = uuid.UUID("6f1d6a3e-4c1e-4d55-9f0e-6e7478636f6e")
OWNER = {"kind": "user", "uuid": "00000000-0000-0000-0000-000000000000", "name": "admin"}
PC_NAME = "ntnx-console-pc"
STORAGE_CONTAINER = "default-container"  # the one storage container of the simulated cluster


def stable_uuid(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


def _metadata(kind: str, entity_uuid: str, created: float, *, spec_version: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "uuid": entity_uuid,
        "spec_hash": "0" * 50,
        "spec_version": spec_version,
        "owner_reference": dict(OWNER),
        "categories": {},
        "categories_mapping": {},
        **extra,
        "creation_time": rfc3339(created),
        "last_update_time": rfc3339(created),
        "kind": kind,
    }


def list_envelope(kind: str, entities: list[dict[str, Any]], total: int, offset: int, request: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"kind": kind}
    for key in ("filter", "sort_attribute", "sort_order"):
        if request.get(key):
            metadata[key] = request[key]
    metadata.update({"offset": offset, "length": len(entities), "total_matches": total})
    return {"api_version": "3.1", "metadata": metadata, "entities": entities}


def cluster_ref(name: str) -> dict[str, Any]:
    return {"kind": "cluster", "uuid": stable_uuid(f"cluster:{name}"), "name": name}


# ---------------------------------------------------------------------------------------------
# VMs


_POWER = {
    HostState.RUNNING: "ON",
    HostState.UPGRADING: "ON",
    HostState.RESTARTING: "ON",
    HostState.UNREACHABLE: "ON",
    HostState.DELETING: "ON",
}


def vm_resources(host: Host, volume_ids: Iterable[str], storage_container: str, subnet_name: str = "") -> dict[str, Any]:
    disks: list[dict[str, Any]] = [
        {
            "uuid": stable_uuid(f"disk:{host.id}"),
            "is_encryption_in_progress": False,
            "is_migration_in_progress": False,
            "disk_size_bytes": int(host.storage_gib * GIB),
            "storage_config": {
                "flash_mode": "DISABLED",
                "storage_container_reference": {
                    "kind": "storage_container",
                    "uuid": stable_uuid(f"container:{storage_container}"),
                    "name": storage_container,
                },
            },
            "device_properties": {"disk_address": {"device_index": 0, "adapter_type": "SCSI"}, "device_type": "DISK"},
            "data_source_reference": {"kind": "image", "uuid": host.image_id or ""},
            "disk_size_mib": int(host.storage_gib * 1024),
        }
    ]
    for index, vg_id in enumerate(volume_ids, start=1):
        disks.append(
            {
                "uuid": stable_uuid(f"vg-disk:{vg_id}"),
                "device_properties": {"disk_address": {"device_index": index, "adapter_type": "SCSI"}, "device_type": "DISK"},
                "volume_group_reference": {"kind": "volume_group", "uuid": vg_id},
            }
        )
    nic = {
        "nic_type": "NORMAL_NIC",
        "vlan_mode": "ACCESS",
        "num_queues": 1,
        "uuid": stable_uuid(f"nic:{host.id}"),
        "ip_endpoint_list": [{"ip": host.ip, "type": "ASSIGNED"}] if host.ip else [],
        "mac_address": _mac(host.id),
        "subnet_reference": {"kind": "subnet", "name": subnet_name, "uuid": host.network_id or ""},
        "is_connected": True,
        "trunked_vlan_list": [],
    }
    return {
        "apc_config": {"enabled": False},
        "vtpm_config": {"vtpm_enabled": False, "version": ""},
        "power_state": _POWER.get(host.state, "OFF"),
        "power_state_mechanism": {
            "guest_transition_config": {"should_fail_on_script_failure": False, "enable_script_exec": False},
            "mechanism": "HARD",
        },
        "memory_size_mib": host.memory_mib,
        "num_vcpus_per_socket": 1,
        "num_sockets": host.cores,
        "vga_console_enabled": True,
        "vnuma_config": {"num_vnuma_nodes": 0},
        "protection_type": "UNPROTECTED",
        "serial_port_list": [],
        "num_threads_per_core": 1,
        "is_vcpu_hard_pinned": False,
        "hypervisor_type": "AHV",
        "hardware_clock_timezone": "UTC",
        "is_agent_vm": False,
        "enable_cpu_passthrough": False,
        "disable_branding": False,
        "machine_type": "PC",
        "hardware_virtualization_enabled": False,
        "memory_overcommit_enabled": False,
        "gpu_console_enabled": False,
        "cpu_hotplug_enabled": True,
        "scsi_controller_enabled": True,
        "generation_uuid": stable_uuid(f"generation:{host.id}"),
        "bios_uuid": host.id,
        "boot_config": {"boot_device_order_list": ["CDROM", "DISK", "NETWORK"], "boot_type": "UEFI"},
        "storage_config": {},
        "disk_list": disks,
        "nic_list": [nic],
        "gpu_list": [],
        "host_reference": {"kind": "host", "uuid": host.node_id} if host.node_id else None,
    }


def _mac(seed: str) -> str:
    raw = uuid.uuid5(_NS, f"mac:{seed}").bytes[:3]
    return "50:6b:8d:" + ":".join(f"{b:02x}" for b in raw)


def vm(
    host: Host,
    *,
    cluster: str,
    volume_ids: Iterable[str],
    project: Project | None,
    spec_version: int,
    task_uuid: str | None,
    storage_container: str,
    subnet_name: str = "",
) -> dict[str, Any]:
    resources = vm_resources(host, volume_ids, storage_container, subnet_name)
    if resources["host_reference"] is None:
        del resources["host_reference"]
    spec_resources = {k: v for k, v in resources.items() if k not in _STATUS_ONLY}
    spec_resources["vtpm_config"] = {"vtpm_enabled": False}
    spec_resources["disk_list"] = [
        {k: v for k, v in disk.items() if k not in _STATUS_ONLY_DISK} for disk in resources["disk_list"]
    ]
    categories: dict[str, str] = {}
    if host.role == ROLE_VALUE:
        categories[ROLE_CATEGORY] = ROLE_VALUE
        if host.engine_version:
            categories[ENGINE_CATEGORY] = host.engine_version
    extra: dict[str, Any] = {"entity_version": str(spec_version + 1)}
    if project is not None:
        extra["project_reference"] = {"kind": "project", "name": project.name, "uuid": project.id}
    metadata = _metadata("vm", host.id, host.created_at, spec_version=spec_version, **extra)
    metadata["categories"] = categories
    if host.state is HostState.DELETING:
        state = "DELETE_PENDING"
    elif host.state is HostState.PROVISIONING:
        state = "PENDING"
    else:
        state = "COMPLETE"
    status: dict[str, Any] = {
        "name": host.name,
        "cluster_reference": cluster_ref(cluster),
        "resources": resources,
        "description": "container machine made by ntnx-console" if host.role == ROLE_VALUE else "",
        "state": state,
        "execution_context": {"task_uuid": [task_uuid] if task_uuid else []},
    }
    spec = {
        "description": status["description"],
        "resources": spec_resources,
        "cluster_reference": cluster_ref(cluster),
        "name": host.name,
    }
    return {"status": status, "metadata": metadata, "spec": spec}


# Read-only facts Prism reports in ``status`` but never takes in a ``spec``.
_STATUS_ONLY_DISK = frozenset({"is_encryption_in_progress", "is_migration_in_progress"})
_STATUS_ONLY = frozenset({"protection_type", "hypervisor_type", "generation_uuid", "bios_uuid", "storage_config", "host_reference"})


# ---------------------------------------------------------------------------------------------
# Images, subnets, clusters, hosts (nodes), projects


def image(img: Image, created: float) -> dict[str, Any]:
    description = f"Docker Engine {img.engine_version} on {img.os}" if img.engine_version else img.description
    resources = {"architecture": "X86_64", "image_type": "DISK_IMAGE", "source_uri": f"nfs://127.0.0.1/images/{img.name}.qcow2"}
    return {
        "metadata": _metadata("image", img.id, created, spec_version=1),
        "spec": {"description": description, "name": img.name, "resources": dict(resources)},
        "status": {
            "description": description,
            "execution_context": {"task_uuid": [stable_uuid(f"image-task:{img.id}")]},
            "name": img.name,
            "resources": {
                **resources,
                "current_cluster_reference_list": [{"kind": "cluster", "uuid": stable_uuid("cluster-any")}],
                "retrieval_uri_list": [f"https://127.0.0.1:9440/api/nutanix/v3/images/{img.id}/file"],
                "size_bytes": int(img.size_gib * GIB),
            },
            "state": "COMPLETE",
        },
    }


def subnet(net: Network, created: float) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "virtual_switch_uuid": stable_uuid("vswitch:br0"),
        "vswitch_name": "br0",
        "vlan_id": net.vlan_id or 0,
        "subnet_type": "VLAN",
    }
    if net.cidr:
        network = ipaddress.ip_network(net.cidr, strict=False)
        first, last = network.network_address, network.broadcast_address
        pool = f"{first + 10} {last - 1}"
        size = max(0, network.num_addresses - 11)
        resources["ip_config"] = {
            "pool_list": [{"range": pool}],
            "default_gateway_ip": str(first + 1),
            "prefix_length": network.prefixlen,
            "subnet_ip": str(network.network_address),
            "dhcp_options": {"domain_name_server_list": [str(first + 2)]},
            "dhcp_server_address": {"ip": str(last - 1)},
        }
        status_extra = {
            "ip_usage_stats": {
                "num_macs": 0,
                "num_free_ips": size,
                "num_assigned_ips": 0,
                "ip_pools_stats": [{"range": pool, "num_free_ips": size, "num_total_ips": size}],
            }
        }
    ref = cluster_ref(net.cluster) if net.cluster else None
    status: dict[str, Any] = {"name": net.name}
    status_resources = {**resources, **(status_extra if net.cidr else {})}
    spec: dict[str, Any] = {}
    if ref:
        status["cluster_reference"] = ref
        spec["cluster_reference"] = dict(ref)
    status.update({"resources": status_resources, "state": "COMPLETE", "execution_context": {"task_uuid": [stable_uuid(f"subnet-task:{net.id}")]}})
    spec.update({"resources": json.loads(json.dumps(resources)), "name": net.name})
    return {"status": status, "metadata": _metadata("subnet", net.id, created, spec_version=1), "spec": spec}


def cluster(name: str, created: float, *, prism_central: bool, node_ips: list[str]) -> dict[str, Any]:
    """Prism Central's clusters list holds the AOS clusters and Prism Central itself, whose
    ``service_list`` is ["PRISM_CENTRAL"]; the console never places machines on it."""
    version = "pc.2024.3" if prism_central else "6.8.1"
    software = {
        "NOS": {"software_type": "NOS", "status": "INSTALLED", "version": version},
        "NCC": {"software_type": "NCC", "status": "INSTALLED", "version": "ncc-5.0.1"},
    }
    settable = {
        "software_map": software,
        "encryption_status": "NOT_SUPPORTED",
        "redundancy_factor": 2,
        "domain_awareness_level": "NODE",
        "enabled_feature_list": [],
        "timezone": "UTC",
        "operation_mode": "NORMAL",
    }
    if not prism_central:
        settable["supported_information_verbosity"] = "BASIC_PLUS_CORE_DUMP"
        settable["authorized_public_key_list"] = []
    config = {
        **settable,
        "ssl_key": {
            "key_type": "ECDSA_256",
            "expire_datetime": rfc3339(created + 30 * 86400),
            "signing_info": {k: "" for k in ("country_code", "state", "city", "organization", "common_name", "email_address")},
        },
        "service_list": ["PRISM_CENTRAL"] if prism_central else ["AOS"],
        "is_available": True,
        "cluster_arch": "X86_64",
        "build": {
            "build_type": "release",
            "version": "pc" if prism_central else version,
            "full_version": f"el8.5-release-{version}-simulated",
            "commit_id": "0" * 40,
            "short_commit_id": "000000",
            "is_long_term_support": not prism_central,
            **({"commit_date": rfc3339(created)} if prism_central else {}),
        },
    }
    network = {
        "external_ip": "127.0.0.1",
        "ntp_server_ip_list": ["127.0.0.1"],
        "external_subnet": "127.0.0.0/255.0.0.0",
        "name_server_ip_list": ["127.0.0.53"],
        "internal_subnet": "127.0.0.0/255.0.0.0",
    }
    if prism_central:
        network["fully_qualified_domain_name"] = "localhost"
    else:
        network["external_data_services_ip"] = "127.0.0.2"
    resources: dict[str, Any] = {"config": config, "network": network}
    if prism_central:
        resources["runtime_status_list"] = ["SSP_CONFIG_OWNER"]
    else:
        resources["nodes"] = {"hypervisor_server_list": [{"ip": ip, "type": "AHV", "version": "el8.nutanix.20230302"} for ip in node_ips]}
    ref = cluster_ref(name)
    return {
        "status": {"resources": resources, "name": name, "state": "COMPLETE"},
        "metadata": {k: v for k, v in _metadata("cluster", ref["uuid"], created).items() if k != "owner_reference"},
        "spec": {"name": name, "resources": {"config": json.loads(json.dumps(settable)), "network": dict(network)}},
    }


def node(n: Node, created: float, ip: str) -> dict[str, Any]:
    resources = {
        "num_cpu_cores": n.cpu_cores,
        "num_cpu_sockets": 2,
        "memory_capacity_mib": n.memory_mib,
        "host_type": "HYPER_CONVERGED",
        "hypervisor": {"ip": ip, "hypervisor_full_name": "AHV 10.0", "num_vms": 0},
        "state": "NORMAL" if n.up else "DOWN",
    }
    return {
        "status": {"name": n.name, "cluster_reference": cluster_ref(n.cluster), "resources": resources, "state": "COMPLETE"},
        "metadata": _metadata("host", n.id, created),
        "spec": {"name": n.name, "resources": {}},
    }


def project(p: Project, created: float) -> dict[str, Any]:
    def domain(with_use: bool) -> list[dict[str, Any]]:
        rows = []
        for rtype, limit, used, unit, factor in (
            ("VCPUS", p.quota.vcpus, p.used.vcpus, "COUNT", 1),
            ("MEMORY", p.quota.memory_mib, p.used.memory_mib, "BYTES", MIB),
            ("STORAGE", p.quota.storage_gib, p.used.storage_gib, "BYTES", GIB),
            ("VMS", p.quota.vms, p.used.vms, "COUNT", 1),
        ):
            row: dict[str, Any] = {"resource_type": rtype, "units": unit}
            if limit is not None:
                row["limit"] = int(limit * factor)
            if with_use:
                row["value"] = int((used or 0) * factor)
            rows.append(row)
        return rows

    return {
        "status": {
            "name": p.name,
            "description": "",
            "resources": {"resource_domain": {"resources": domain(True)}},
            "state": "COMPLETE",
        },
        "metadata": _metadata("project", p.id, created),
        "spec": {"name": p.name, "description": "", "resources": {"resource_domain": {"resources": domain(False)}}},
    }


# ---------------------------------------------------------------------------------------------
# Tasks


OPERATIONS = {
    "create_host": "create_vm_intentful",
    "delete_host": "delete_vm_intentful",
    "power_on_host": "update_vm_intentful",
    "power_off_host": "update_vm_intentful",
    "upgrade_hosts": "update_vm_intentful",
}

_V3_STATUS = {TaskStatus.PAUSED: "SUSPENDED"}


def _usecs(seconds: float | None) -> int | None:
    return int(seconds * 1e6) if seconds is not None else None


def entity_kind(task: Task) -> str:
    return "volume_group" if "volume" in task.kind else "vm"


def task_v3(task: Task, *, cluster: str) -> dict[str, Any]:
    refs = [{"kind": entity_kind(task), "uuid": task.target_id}] if task.target_id else []
    body: dict[str, Any] = {
        "status": _V3_STATUS.get(task.status, task.status.value),
        "last_update_time": rfc3339(task.finished_at or task.started_at or task.created_at),
        "logical_timestamp": 1,
        "entity_reference_list": refs,
        "start_time": rfc3339(task.started_at or task.created_at),
        "creation_time": rfc3339(task.created_at),
        "start_time_usecs": _usecs(task.started_at or task.created_at),
        "cluster_reference": {"kind": "cluster", "uuid": cluster_ref(cluster)["uuid"]},
        "subtask_reference_list": [{"kind": "task", "uuid": c} for c in task.child_ids],
        "creation_time_usecs": _usecs(task.created_at),
        "progress_message": task.message or OPERATIONS.get(task.kind, task.kind),
        "operation_type": OPERATIONS.get(task.kind, task.kind),
        "percentage_complete": task.progress,
        "api_version": "3.1",
        "uuid": task.id,
    }
    if task.finished_at is not None:
        body["completion_time"] = rfc3339(task.finished_at)
        body["completion_time_usecs"] = _usecs(task.finished_at)
    if task.parent_id:
        body["parent_task_reference"] = {"kind": "task", "uuid": task.parent_id}
    if task.error:
        body["error_detail"] = task.error
        body["error_code"] = "1"
    return body


def task_v4(task: Task, *, cluster: str) -> dict[str, Any]:
    status = {TaskStatus.ABORTED: "CANCELED", TaskStatus.PAUSED: "SUSPENDED"}.get(task.status, task.status.value)
    affected = []
    if task.target_id:
        rel = "volumes:config:volume-group" if "volume" in task.kind else "vmm:ahv:config:vm"
        affected.append({"$objectType": "prism.v4.config.EntityReference", "extId": task.target_id, "rel": rel, "name": task.target})
    data: dict[str, Any] = {
        "$objectType": "prism.v4.config.Task",
        "extId": task.id,
        "operation": task.kind,
        "operationDescription": task.message,
        "createdTime": rfc3339(task.created_at),
        "startedTime": rfc3339(task.started_at),
        "completedTime": rfc3339(task.finished_at),
        "status": status,
        "progressPercentage": task.progress,
        "entitiesAffected": affected,
        "clusterExtIds": [cluster_ref(cluster)["uuid"]],
        "isCancelable": False,
        "errorMessages": [{"$objectType": "prism.v4.config.AppMessage", "message": task.error}] if task.error else [],
    }
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Volume groups (v4)


def volume_group(vol: Volume, *, cluster: str) -> dict[str, Any]:
    return {
        "$objectType": "volumes.v4.config.VolumeGroup",
        "extId": vol.id,
        "name": vol.name,
        "description": "persistent volume made by ntnx-console",
        "shouldLoadBalanceVmAttachments": False,
        "sharingStatus": "NOT_SHARED",
        "targetName": f"vg-{vol.id}",
        "enabledAuthentications": "NONE",
        "createdBy": "admin",
        "clusterReference": cluster_ref(cluster)["uuid"],
        "usageType": "USER",
        "isHidden": False,
        "createdTime": rfc3339(vol.created_at),
    }


def volume_disk(vol: Volume) -> dict[str, Any]:
    return {
        "$objectType": "volumes.v4.config.VolumeDisk",
        "extId": stable_uuid(f"vg-disk:{vol.id}"),
        "index": 0,
        "diskSizeBytes": int(vol.size_gib * GIB),
        "storageContainerId": stable_uuid(f"container:{vol.storage_container or STORAGE_CONTAINER}"),
        "description": "",
    }


def v4_list(items: list[dict[str, Any]], total: int, object_type: str) -> dict[str, Any]:
    return {
        "data": items,
        "metadata": {"totalAvailableResults": total, "flags": [{"name": "hasError", "value": False}]},
        "$objectType": object_type,
    }


def task_reference(task_id: str) -> dict[str, Any]:
    return {"data": {"$objectType": "prism.v4.config.TaskReference", "extId": task_id}, "$objectType": "volumes.v4.config.TaskReferenceApiResponse"}


def vm_stats(host: Host, samples: Iterable[StatsSample], interval: int) -> dict[str, Any]:
    """``vmm.v4.ahv.stats.VmStats`` in the SDK model's shape: a tuple per sample, CPU and memory
    in ppm of the VM's size (and memory in bytes), the network as bytes of the interval."""
    cpu_capacity = max(1, host.cores) * 100.0
    tuples = []
    for s in samples:
        one: dict[str, Any] = {"$objectType": "vmm.v4.ahv.stats.VmStatsTuple", "timestamp": rfc3339(s.at)}
        if s.cpu_percent is not None:
            one["hypervisorCpuUsagePpm"] = round(s.cpu_percent / cpu_capacity * 1_000_000)
        if s.memory_mib is not None:
            one["memoryUsageBytes"] = round(s.memory_mib * MIB)
            if host.memory_mib:
                one["hypervisorMemoryUsagePpm"] = round(s.memory_mib / host.memory_mib * 1_000_000)
        if s.net_rx_kibps is not None:
            one["hypervisorNumReceivedBytes"] = round(s.net_rx_kibps * 1024 * interval)
        if s.net_tx_kibps is not None:
            one["hypervisorNumTransmittedBytes"] = round(s.net_tx_kibps * 1024 * interval)
        tuples.append(one)
    return {"$objectType": "vmm.v4.ahv.stats.VmStats", "extId": host.id, "stats": tuples}
