"""Prism payloads (v3 entities, v4 volume groups and tasks) turned into the console's models.

Parsing is lenient about what Prism leaves out (a VM being created has no ``status.resources``
yet; older releases omit ``num_vcpus_per_socket``) and strict about nothing: a field it cannot
read becomes the model's default, never an exception.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Iterable

from ..models import Host, HostState, Image, Network, Node, Project, Quota, StatsSample, Task, TaskStatus, Volume, VolumeState

#: The category the console puts on the machines it makes; its value is the role.
ROLE_CATEGORY = "NtnxConsole"
ROLE_VALUE = "container-machine"
#: The category that records a machine's Docker Engine version after an upgrade.
ENGINE_CATEGORY = "NtnxConsoleEngine"

MIB = 1024 * 1024
GIB = 1024 * MIB

_ENGINE = re.compile(r"docker(?:[- _]?(?:engine|ce))?[- _]v?(\d+\.\d+(?:\.\d+)?)", re.IGNORECASE)
_OS = re.compile(r"(ubuntu|debian|rocky|centos|rhel|flatcar|alma\w*)[- _]?(\d+(?:\.\d+)?)?", re.IGNORECASE)


def when(text: Any) -> float:
    """An RFC 3339 time (``2024-02-05T21:15:17Z``) in POSIX seconds; 0.0 when absent."""
    if not text or not isinstance(text, str):
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def rfc3339(seconds: float | None) -> str | None:
    """POSIX seconds as Prism writes a time (``2024-02-05T21:15:17Z``); the inverse of when()."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _res(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity's observed resources, falling back to the spec while it is being made."""
    status = entity.get("status") or {}
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    return status.get("resources") or (spec or {}).get("resources") or {}


def name_of(entity: dict[str, Any]) -> str:
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    return str((entity.get("status") or {}).get("name") or (spec or {}).get("name") or "")


def uuid_of(entity: dict[str, Any]) -> str:
    return str((entity.get("metadata") or {}).get("uuid") or "")


def _ref(entity: dict[str, Any], key: str) -> dict[str, Any]:
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    return (entity.get("status") or {}).get(key) or (spec or {}).get(key) or {}


def is_prism_central(cluster: dict[str, Any]) -> bool:
    """The clusters list includes Prism Central itself, which never hosts machines."""
    services = ((_res(cluster).get("config") or {}).get("service_list")) or []
    return "PRISM_CENTRAL" in services


# ---------------------------------------------------------------------------------------------
# Images, networks, clusters, nodes, projects


def engine_version_in(*texts: str | None) -> str | None:
    for text in texts:
        if text and (match := _ENGINE.search(text)):
            return match.group(1)
    return None


def image(entity: dict[str, Any]) -> Image:
    res = _res(entity)
    name = name_of(entity)
    description = str((entity.get("status") or {}).get("description") or (entity.get("spec") or {}).get("description") or "")
    os_match = _OS.search(name)
    return Image(
        id=uuid_of(entity),
        name=name,
        size_gib=round(float(res.get("size_bytes") or 0) / GIB, 2),
        engine_version=engine_version_in(name, description),
        os=(os_match.group(0).lower() if os_match else None),
        description=description,
    )


def is_disk_image(entity: dict[str, Any]) -> bool:
    return _res(entity).get("image_type", "DISK_IMAGE") == "DISK_IMAGE"


def network(entity: dict[str, Any]) -> Network:
    res = _res(entity)
    ip = res.get("ip_config") or {}
    cidr = f"{ip['subnet_ip']}/{ip['prefix_length']}" if ip.get("subnet_ip") and ip.get("prefix_length") else None
    return Network(
        id=uuid_of(entity),
        name=name_of(entity),
        cluster=str(_ref(entity, "cluster_reference").get("name") or ""),
        vlan_id=res.get("vlan_id"),
        cidr=cidr,
    )


def node(entity: dict[str, Any]) -> Node:
    """A v3 ``hosts`` entity (a physical node)."""
    res = _res(entity)
    memory = res.get("memory_capacity_mib") or int(res.get("memory_capacity_in_bytes") or 0) // MIB
    cores = res.get("num_cpu_cores") or (res.get("num_cpu_sockets") or 0) * (res.get("num_cpu_cores_per_socket") or 0)
    state = str(res.get("state") or (entity.get("status") or {}).get("state") or "COMPLETE").upper()
    return Node(
        id=uuid_of(entity),
        name=name_of(entity),
        cluster=str(_ref(entity, "cluster_reference").get("name") or ""),
        cpu_cores=int(cores or 0),
        memory_mib=int(memory or 0),
        up=state not in ("DOWN", "OFFLINE", "ERROR", "NOT_AVAILABLE"),
    )


_QUOTA_KEYS = {"VCPUS": "vcpus", "MEMORY": "memory_mib", "STORAGE": "storage_gib", "VMS": "vms"}


def _quota(resources: Iterable[dict[str, Any]], key: str) -> Quota:
    values: dict[str, Any] = {}
    for item in resources:
        field = _QUOTA_KEYS.get(str(item.get("resource_type", "")).upper())
        raw = item.get(key)
        if field is None or raw is None:
            continue
        if field == "memory_mib":
            values[field] = int(raw) // MIB
        elif field == "storage_gib":
            values[field] = round(float(raw) / GIB, 2)
        else:
            values[field] = int(raw)
    return Quota(**values)


def project(entity: dict[str, Any]) -> Project:
    domain = (_res(entity).get("resource_domain") or {}).get("resources") or []
    used = _quota(domain, "value")
    return Project(
        id=uuid_of(entity),
        name=name_of(entity),
        quota=_quota(domain, "limit"),
        used=Quota(used.vcpus or 0, used.memory_mib or 0, used.storage_gib or 0.0, used.vms or 0),
    )


def project_references(vms: Iterable[dict[str, Any]]) -> list[Project]:
    """Projects as VMs name them (``metadata.project_reference``): no quota known."""
    seen: dict[str, Project] = {}
    for entity in vms:
        ref = (entity.get("metadata") or {}).get("project_reference") or {}
        if ref.get("uuid") and ref["uuid"] not in seen:
            seen[ref["uuid"]] = Project(id=str(ref["uuid"]), name=str(ref.get("name") or ref["uuid"]))
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# VMs


_POWER = {"ON": HostState.RUNNING, "OFF": HostState.STOPPED, "PAUSED": HostState.STOPPED, "SUSPENDED": HostState.STOPPED}


def vm_ip(res: dict[str, Any]) -> str | None:
    """The first address of ``nic_list[].ip_endpoint_list[]``, assigned before learned."""
    endpoints = [ep for nic in res.get("nic_list") or [] for ep in nic.get("ip_endpoint_list") or [] if ep.get("ip")]
    endpoints.sort(key=lambda ep: ep.get("type") != "ASSIGNED")
    return endpoints[0]["ip"] if endpoints else None


def vm_categories(entity: dict[str, Any]) -> dict[str, str]:
    return dict((entity.get("metadata") or {}).get("categories") or {})


def is_container_machine(entity: dict[str, Any]) -> bool:
    return vm_categories(entity).get(ROLE_CATEGORY) == ROLE_VALUE


def boot_image_id(res: dict[str, Any]) -> str | None:
    for disk in res.get("disk_list") or []:
        source = disk.get("data_source_reference") or {}
        if source.get("kind") == "image":
            return source.get("uuid")
    return None


def attached_volume_group_ids(entity: dict[str, Any]) -> list[str]:
    """Volume groups a VM has attached show up in its ``disk_list``."""
    return [
        str(disk["volume_group_reference"]["uuid"])
        for disk in _res(entity).get("disk_list") or []
        if (disk.get("volume_group_reference") or {}).get("uuid")
    ]


def host(entity: dict[str, Any], *, images: dict[str, Image] | None = None, observed_at: float = 0.0) -> Host:
    metadata = entity.get("metadata") or {}
    status = entity.get("status") or {}
    res = _res(entity)
    state_text = str(status.get("state") or "COMPLETE").upper()
    if state_text == "DELETE_PENDING":
        state = HostState.DELETING
    elif state_text == "ERROR":
        state = HostState.CRASHED
    elif not status.get("resources") or (state_text == "PENDING" and str(res.get("power_state", "")).upper() != "ON"):
        # Being made: Prism has no observed resources yet, or has them but not yet powered on.
        state = HostState.PROVISIONING
    else:
        state = _POWER.get(str(res.get("power_state", "")).upper(), HostState.STOPPED)
    sockets = int(res.get("num_sockets") or 0)
    per_socket = int(res.get("num_vcpus_per_socket") or 1)
    image_id = boot_image_id(res)
    boot_image = (images or {}).get(image_id or "")
    categories = vm_categories(entity)
    nics = res.get("nic_list") or []
    subnet = (nics[0].get("subnet_reference") or {}).get("uuid") if nics else None
    storage_mib = sum(int(d.get("disk_size_mib") or 0) for d in res.get("disk_list") or [] if not d.get("volume_group_reference"))
    ip = vm_ip(res)
    container_machine = is_container_machine(entity)
    return Host(
        id=uuid_of(entity),
        name=name_of(entity),
        state=state,
        ip=ip,
        cores=sockets * per_socket,
        memory_mib=int(res.get("memory_size_mib") or 0),
        engine_version=(categories.get(ENGINE_CATEGORY) or (boot_image.engine_version if boot_image else None))
        if container_machine
        else None,
        os=boot_image.os if boot_image else None,
        node_id=(res.get("host_reference") or {}).get("uuid"),
        project_id=(metadata.get("project_reference") or {}).get("uuid"),
        image_id=image_id,
        network_id=subnet,
        cluster=_ref(entity, "cluster_reference").get("name"),
        role=ROLE_VALUE if container_machine else "vm",
        storage_gib=round(storage_mib / 1024, 2),
        endpoint=f"ssh://docker@{ip}" if container_machine and ip else None,
        reason=_vm_reason(status) if state is HostState.CRASHED else None,
        observed_at=observed_at,
        created_at=when(metadata.get("creation_time")),
    )


def _vm_reason(status: dict[str, Any]) -> str | None:
    messages = status.get("message_list") or []
    return str(messages[0].get("message")) if messages else None


# ---------------------------------------------------------------------------------------------
# Volume groups (v4)


def volume(
    vg: dict[str, Any],
    *,
    disks: list[dict[str, Any]],
    attached_vm_ids: list[str],
    container_names: dict[str, str] | None = None,
) -> Volume:
    size = sum(int(d.get("diskSizeBytes") or 0) for d in disks)
    host_id = attached_vm_ids[0] if attached_vm_ids else None
    storage = next((d.get("storageContainerId") for d in disks if d.get("storageContainerId")), None)
    name = str(vg.get("name") or vg.get("extId") or "")
    return Volume(
        id=str(vg.get("extId") or ""),
        name=name,
        size_gib=round(size / GIB, 2),
        state=VolumeState.ATTACHED if host_id else VolumeState.AVAILABLE,
        host_id=host_id,
        driver="nutanix",
        storage_container=(container_names or {}).get(storage or "", storage),
        created_at=when(vg.get("createdTime") or vg.get("createTime")),
    )


# ---------------------------------------------------------------------------------------------
# Tasks (v3)


_V3_STATUS = {
    "QUEUED": TaskStatus.QUEUED,
    "RUNNING": TaskStatus.RUNNING,
    "SUCCEEDED": TaskStatus.SUCCEEDED,
    "FAILED": TaskStatus.FAILED,
    "ABORTED": TaskStatus.ABORTED,
    "CANCELED": TaskStatus.ABORTED,
    "CANCELLED": TaskStatus.ABORTED,
    "SUSPENDED": TaskStatus.PAUSED,
}

_KINDS = {
    "create_vm_intentful": "create_host",
    "delete_vm_intentful": "delete_host",
    "update_vm_intentful": "update_host",
}


def _usecs(value: Any) -> float | None:
    return int(value) / 1e6 if value else None


def task_v3(data: dict[str, Any]) -> Task:
    status = _V3_STATUS.get(str(data.get("status", "")).upper(), TaskStatus.RUNNING)
    operation = str(data.get("operation_type") or "")
    refs = data.get("entity_reference_list") or []
    target = refs[0] if refs else {}
    error = data.get("error_detail") or None
    if status is TaskStatus.FAILED and not error:
        error = data.get("progress_message") or "failed"
    return Task(
        id=str(data.get("uuid") or ""),
        kind=_KINDS.get(operation, operation or "task"),
        target=str(target.get("name") or target.get("uuid") or ""),
        status=status,
        progress=int(data.get("percentage_complete") or 0),
        message=str(data.get("progress_message") or ""),
        target_id=target.get("uuid"),
        error=str(error) if error and status.terminal and status is not TaskStatus.SUCCEEDED else None,
        parent_id=(data.get("parent_task_reference") or {}).get("uuid"),
        child_ids=tuple(str(s.get("uuid")) for s in data.get("subtask_reference_list") or [] if s.get("uuid")),
        result_id=target.get("uuid") if status is TaskStatus.SUCCEEDED else None,
        created_at=_usecs(data.get("creation_time_usecs")) or when(data.get("creation_time")),
        started_at=_usecs(data.get("start_time_usecs")) or (when(data.get("start_time")) or None),
        finished_at=_usecs(data.get("completion_time_usecs")) or (when(data.get("completion_time")) or None),
    )


# ---------------------------------------------------------------------------------------------
# v4 VMM (``/api/vmm/v4.0/ahv/config/vms``): the same Host from the newer API's shape


def host_v4(data: dict[str, Any], *, observed_at: float = 0.0) -> Host:
    ips = [
        address.get("value")
        for nic in data.get("nics") or []
        for info in [((nic.get("networkInfo") or {}).get("ipv4Info") or {}), ((nic.get("networkInfo") or {}).get("ipv4Config") or {})]
        for address in (info.get("learnedIpAddresses") or []) + ([info["ipAddress"]] if info.get("ipAddress") else [])
        if address.get("value")
    ]
    nics = data.get("nics") or []
    subnet = ((nics[0].get("networkInfo") or {}).get("subnet") or {}).get("extId") if nics else None
    power = str(data.get("powerState") or "").upper()
    return Host(
        id=str(data.get("extId") or ""),
        name=str(data.get("name") or ""),
        state=_POWER.get(power, HostState.STOPPED),
        ip=ips[0] if ips else None,
        cores=int(data.get("numSockets") or 0) * int(data.get("numCoresPerSocket") or 1),
        memory_mib=int(data.get("memorySizeBytes") or 0) // MIB,
        node_id=(data.get("host") or {}).get("extId"),
        network_id=subnet,
        cluster=(data.get("cluster") or {}).get("extId"),
        role="vm",
        storage_gib=round(sum(int((d.get("backingInfo") or {}).get("diskSizeBytes") or 0) for d in data.get("disks") or []) / GIB, 2),
        observed_at=observed_at,
        created_at=when(data.get("createTime")),
    )


# ---------------------------------------------------------------------------------------------
# v4 VMM stats (``/api/vmm/v4.0/ahv/stats/vms/{extId}``): a VM's figures over time. Built from
# the v4 SDK's model (ntnx_vmm_py_client ``VmStatsTuple``), not from a recorded answer: the
# units below are the model's documentation's (ppm, bytes).

PPM = 1_000_000


def _figure(value: Any) -> float | None:
    """A measured figure: a finite number of zero or more, else unknown (None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def vm_stats(stats: list[dict[str, Any]], *, cores: int, memory_mib: int, interval: float) -> list[StatsSample]:
    """``VmStatsTuple``s as samples, oldest first; one without a readable time is skipped.

    ``hypervisorCpuUsagePpm`` is the share of the VM's vCPUs in use, so percent of one core is
    ppm x cores / 10^4; memory is ``memoryUsageBytes`` (else the usage ppm of the VM's size);
    ``hypervisorNumReceivedBytes``/``TransmittedBytes`` are the bytes of the sampling interval,
    so KiB/s is bytes / interval / 1024."""
    samples = []
    for item in stats:
        at = when(item.get("timestamp"))
        if not at:
            continue
        cpu_ppm = _figure(item.get("hypervisorCpuUsagePpm"))
        memory_bytes = _figure(item.get("memoryUsageBytes"))
        memory_ppm = _figure(item.get("hypervisorMemoryUsagePpm"))
        received, sent = _figure(item.get("hypervisorNumReceivedBytes")), _figure(item.get("hypervisorNumTransmittedBytes"))
        if memory_bytes is not None:
            memory = memory_bytes / MIB
        elif memory_ppm is not None and memory_mib:
            memory = memory_ppm * memory_mib / PPM
        else:
            memory = None
        per_second = 1024.0 * max(1.0, interval)
        samples.append(StatsSample(
            at,
            None if cpu_ppm is None else cpu_ppm * max(1, cores) / 10_000,
            memory,
            None if received is None else received / per_second,
            None if sent is None else sent / per_second,
        ))
    return sorted(samples, key=lambda s: s.at)
