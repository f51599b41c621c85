"""The swarm API's objects (``/nodes``, ``/services``, ``/tasks``, ``/secrets``, ``/configs``)
as the console's values. Pure functions over the JSON, so they are tested without a swarm."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from ..docker.inventory import parse_time
from ..models import Config, Container, ContainerState, Host, HostState, Secret, Service, UpdatePolicy

# A task's state (swarmkit's TaskState) as the container state the console colours.
_TASK_STATES = {
    "running": ContainerState.RUNNING,
    "complete": ContainerState.EXITED,
    "shutdown": ContainerState.EXITED,
    "failed": ContainerState.DEAD,
    "rejected": ContainerState.DEAD,
    "orphaned": ContainerState.DEAD,
    "remove": ContainerState.REMOVING,
}  # new, pending, assigned, accepted, preparing, ready, starting: CREATED


def short(ref: str) -> str:
    return ref[:12]


def node_names(nodes: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Node id -> the name shown: its hostname, or hostname/short-id where two nodes share
    one (machines cloned from one image, or engines on one machine): both shown, told apart."""
    nodes = list(nodes)
    counts = Counter(_hostname(n) for n in nodes)
    return {n["ID"]: _hostname(n) if counts[_hostname(n)] == 1 else f"{_hostname(n)}/{short(n['ID'])}" for n in nodes}


def _hostname(node: dict[str, Any]) -> str:
    return ((node.get("Description") or {}).get("Hostname")) or short(node.get("ID", "?"))


def host_from_node(node: dict[str, Any], name: str, *, observed_at: float, endpoint: str | None) -> Host:
    spec = node.get("Spec") or {}
    desc = node.get("Description") or {}
    status = node.get("Status") or {}
    resources = desc.get("Resources") or {}
    manager = node.get("ManagerStatus") or {}
    role = spec.get("Role") or "worker"
    ready = status.get("State") == "ready"
    if role == "manager":
        manager_status = "leader" if manager.get("Leader") else (manager.get("Reachability") or "unknown")
    else:
        manager_status = None
    return Host(
        id=node["ID"],
        name=name,
        state=HostState.RUNNING if ready else HostState.UNREACHABLE,
        ip=status.get("Addr") or None,
        cores=int((resources.get("NanoCPUs") or 0) // 10**9),
        memory_mib=int((resources.get("MemoryBytes") or 0) // 2**20),
        engine_version=(desc.get("Engine") or {}).get("EngineVersion"),
        os=(desc.get("Platform") or {}).get("OS"),
        role=role,
        endpoint=endpoint,
        # The swarm's word for a node it cannot reach (down, disconnected, unknown) and why.
        reason=None if ready else " ".join(p for p in (status.get("State"), status.get("Message")) if p) or None,
        observed_at=observed_at,
        created_at=parse_time(node.get("CreatedAt")) or 0.0,
        availability=spec.get("Availability") or "active",
        manager_status=manager_status,
    )


def _image(spec: dict[str, Any]) -> str:
    # The CLI pins an image by digest (image:tag@sha256:...); the tag is what people read.
    image = ((spec.get("ContainerSpec") or {}).get("Image")) or ""
    return image.split("@", 1)[0] or image


def service_mode(spec: dict[str, Any]) -> str:
    mode = spec.get("Mode") or {}
    for key, word in (("Replicated", "replicated"), ("Global", "global"), ("ReplicatedJob", "replicated-job"),
                      ("GlobalJob", "global-job")):
        if key in mode:
            return word
    return "replicated"


def service_from_api(raw: dict[str, Any], tasks: Iterable[dict[str, Any]], node_ready: dict[str, bool]) -> Service:
    spec = raw.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    mode = service_mode(spec)
    status = raw.get("ServiceStatus")
    if status:  # API 1.41+: the swarm's own count, as ``docker service ls`` shows it
        running, desired = int(status.get("RunningTasks") or 0), int(status.get("DesiredTasks") or 0)
    else:
        # Older engines: counted from the tasks as the CLI counted them.
        mine = [t for t in tasks if t.get("ServiceID") == raw["ID"]]
        running = sum(1 for t in mine if (t.get("Status") or {}).get("State") == "running" and node_ready.get(t.get("NodeID", ""), False))
        if mode == "replicated":
            desired = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
        else:
            desired = sum(1 for t in mine if t.get("DesiredState") == "running")
    ports = tuple(
        f"{p.get('PublishedPort')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
        if p.get("PublishedPort")
        else f"{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
        for p in ((raw.get("Endpoint") or {}).get("Ports") or ())
    )
    container_spec = template.get("ContainerSpec") or {}
    secrets = tuple(s["SecretID"] for s in (container_spec.get("Secrets") or ()) if s.get("SecretID"))
    configs = tuple(c["ConfigID"] for c in (container_spec.get("Configs") or ()) if c.get("ConfigID"))
    update_status = raw.get("UpdateStatus") or {}
    previous = raw.get("PreviousSpec") or None
    return Service(
        id=raw["ID"],
        name=spec.get("Name") or short(raw["ID"]),
        mode=mode,
        image=_image(template),
        replicas_desired=desired,
        replicas_running=running,
        update_state=update_status.get("State") or None,
        ports=ports,
        secret_ids=secrets,
        created_at=parse_time(raw.get("CreatedAt")) or 0.0,
        updated_at=parse_time(raw.get("UpdatedAt")) or 0.0,
        config_ids=configs,
        update_policy=update_policy(spec.get("UpdateConfig")),
        rollback_policy=update_policy(spec.get("RollbackConfig")),
        update_message=update_status.get("Message") or None,
        previous_image=(_image(previous.get("TaskTemplate") or {}) or None) if isinstance(previous, dict) else None,
        constraints=tuple(str(c) for c in ((template.get("Placement") or {}).get("Constraints") or ())),
        env=tuple(_env_pair(str(e)) for e in (container_spec.get("Env") or ())),
    )


def _env_pair(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


# swarmkit's defaults, used when a spec has no UpdateConfig / RollbackConfig (a service made
# through the API without one): what the swarm then does.
_NS = 1e9


def update_policy(raw: dict[str, Any] | None) -> UpdatePolicy:
    """An ``UpdateConfig`` or ``RollbackConfig`` (durations in nanoseconds) as an UpdatePolicy."""
    raw = raw or {}
    return UpdatePolicy(
        parallelism=int(raw.get("Parallelism", 1) or 0),
        delay_s=float(raw.get("Delay") or 0) / _NS,
        failure_action=str(raw.get("FailureAction") or "pause"),
        order=str(raw.get("Order") or "stop-first"),
        monitor_s=float(raw.get("Monitor") or 5 * _NS) / _NS,
        max_failure_ratio=float(raw.get("MaxFailureRatio") or 0.0),
    )


def update_config(policy: UpdatePolicy) -> dict[str, Any]:
    """An UpdatePolicy as the API's ``UpdateConfig`` / ``RollbackConfig``."""
    return {
        "Parallelism": policy.parallelism,
        "Delay": int(policy.delay_s * _NS),
        "FailureAction": policy.failure_action,
        "Monitor": int(policy.monitor_s * _NS),
        "MaxFailureRatio": policy.max_failure_ratio,
        "Order": policy.order,
    }


def task_name(task: dict[str, Any], service_name: str) -> str:
    """``web.1.r7doami0d5vk`` (service, slot, task): Docker names the task's container so,
    with the whole task id; ``g.<node>.<task>`` for a global service's task."""
    slot = task.get("Slot")
    middle = str(slot) if slot else short(task.get("NodeID") or "")
    return f"{service_name}.{middle}.{short(task['ID'])}"


def container_from_task(task: dict[str, Any], service_name: str) -> Container:
    status = task.get("Status") or {}
    state_word = status.get("State") or "new"
    container = status.get("ContainerStatus") or {}
    error = status.get("Err") or None
    message = status.get("Message") or ""
    state = _TASK_STATES.get(state_word, ContainerState.CREATED)
    done = state in (ContainerState.EXITED, ContainerState.DEAD)
    return Container(
        id=task["ID"],
        name=task_name(task, service_name),
        image=_image(task.get("Spec") or {}),
        host_id=task.get("NodeID") or "",
        state=state,
        status=f"{state_word}: {error or message}" if (error or message) else state_word,
        command=" ".join((task.get("Spec") or {}).get("ContainerSpec", {}).get("Command") or ()),
        labels=(("com.docker.swarm.service.id", task.get("ServiceID", "")), ("com.docker.swarm.task.id", task["ID"])),
        exit_code=container.get("ExitCode") if done and container.get("ContainerID") else None,
        created_at=parse_time(task.get("CreatedAt")) or 0.0,
        started_at=parse_time(status.get("Timestamp")) if state is ContainerState.RUNNING else None,
        service=service_name,
        slot=task.get("Slot") or None,
        desired_state=task.get("DesiredState") or None,
        error=error,
    )


def secret_from_api(raw: dict[str, Any]) -> Secret:
    spec = raw.get("Spec") or {}
    return Secret(
        id=raw["ID"],
        name=spec.get("Name") or short(raw["ID"]),
        created_at=parse_time(raw.get("CreatedAt")) or 0.0,
        updated_at=parse_time(raw.get("UpdatedAt")) or 0.0,
    )


def config_from_api(raw: dict[str, Any]) -> Config:
    spec = raw.get("Spec") or {}
    return Config(
        id=raw["ID"],
        name=spec.get("Name") or short(raw["ID"]),
        created_at=parse_time(raw.get("CreatedAt")) or 0.0,
        updated_at=parse_time(raw.get("UpdatedAt")) or 0.0,
    )
