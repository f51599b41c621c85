"""Swarm services: the console's columns, the CLI's row and table, and the preview of the
waves a rolling update makes (``update_plan``, ``plan_lines``: the console's update form and
``service update --dry-run`` print the same lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from backends.models import Service, UpdatePolicy
from backends.waves import PlannedTask, TaskWave, plan_task_waves

from .base import Presenter, Row, TableColumn, by_name, name_of, shown, state

if TYPE_CHECKING:
    from rich.text import Text

    from backends.contract import Inventory
    from widgets.resource_table import Column


def replicas_style(cell: str) -> str:
    # Fewer running than wanted is what an operator looks for: yellow, and red at none.
    running, _, desired = cell.partition("/")
    if not desired or running == desired:
        return "green"
    return "bold red" if running == "0" else "yellow"


def _replicas(s: Service) -> "Text":
    cell = f"{s.replicas_running}/{s.replicas_desired}"
    return shown(cell, replicas_style(cell))


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=20),
        Column("mode", "MODE", width=10),
        Column(
            "replicas", "REPLICAS", width=8, align="right",
            render=lambda s: _replicas(s),
            sort_key=lambda s: (s.replicas_running - s.replicas_desired, s.replicas_desired),
        ),
        Column("image", "IMAGE", width=30),
        Column("ports", "PORTS", width=18, render=lambda s: ",".join(s.ports)),
        Column("update_state", "UPDATE", width=28, render=lambda s: shown(update_text(s), update_style(s.update_state)),
               sort_key=lambda s: s.update_state or ""),
    ]


def update_text(s: Service) -> str:
    """The update's state, and the swarm's message when it says why it stopped."""
    if not s.update_state:
        return "-"
    stopped = s.update_state in ("paused", "rollback_paused", "rollback_started", "rollback_completed")
    return f"{s.update_state}: {s.update_message}" if stopped and s.update_message else s.update_state


def update_style(state: str | None) -> str:
    if state in ("paused", "rollback_paused"):
        return "bold red"
    if state in ("updating", "rollback_started"):
        return "yellow"
    return ""


def policy_text(p: UpdatePolicy) -> str:
    """``2 at a time, 10 s apart, on failure pause, stop-first, monitor 5 s``."""
    at_once = "all at once" if p.parallelism == 0 else f"{p.parallelism} at a time"
    return (f"{at_once}, {p.delay_s:g} s apart, on failure {p.failure_action}, {p.order}, monitor {p.monitor_s:g} s"
            + (f", max failure ratio {p.max_failure_ratio:g}" if p.max_failure_ratio else ""))


def policy_row(p: UpdatePolicy) -> Row:
    return {"parallelism": p.parallelism, "delay_s": p.delay_s, "failure_action": p.failure_action, "order": p.order,
            "monitor_s": p.monitor_s, "max_failure_ratio": p.max_failure_ratio}


# -- the preview of a rolling update ------------------------------------------------------------


def update_plan(
    inv: "Inventory", s: Service, host_name: Callable[[str | None], str] | None = None, policy: UpdatePolicy | None = None
) -> tuple[TaskWave, ...]:
    """The waves the service's update policy (or ``policy``: its rollback's) makes of the
    tasks it runs now: a replicated service's by slot, a global one's by node
    (``backends.waves.plan_task_waves``)."""
    policy = policy or s.update_policy
    host_name = host_name or (lambda host_id: inv.hosts[host_id].name if host_id in inv.hosts else (host_id or ""))
    mine = [c for c in inv.containers.values() if c.service == s.name and (c.desired_state or "running") == "running"]
    if s.mode == "global":
        mine.sort(key=lambda c: (host_name(c.host_id), c.name))
        tasks = [PlannedTask(s.name, host_name(c.host_id)) for c in mine]
    else:
        mine.sort(key=lambda c: (c.slot or 0, c.name))
        tasks = [PlannedTask(f"{s.name}.{c.slot}" if c.slot else c.name, host_name(c.host_id)) for c in mine]
        placed = {c.slot for c in mine if c.slot}
        # Replicas the swarm wants but has not placed are updated too, wherever they land.
        missing = [n for n in range(1, s.replicas_desired + 1) if n not in placed][: max(0, s.replicas_desired - len(mine))]
        tasks += [PlannedTask(f"{s.name}.{n}", "") for n in missing]
    return plan_task_waves(tasks, policy.parallelism, policy.delay_s)


def task_count(waves: tuple[TaskWave, ...]) -> int:
    return sum(len(w.tasks) for w in waves)


def plan_lines(s: Service, image: str, waves: tuple[TaskWave, ...]) -> list[str]:
    """``Update web (3 tasks) to busybox:2`` then one line per wave."""
    count = task_count(waves)
    lines = [f"Update {s.name} ({count} task{'s' if count != 1 else ''}) to {image}, from {s.image}"]
    lines.append(f"policy: {policy_text(s.update_policy)}")
    return lines + wave_lines(waves)


def wave_lines(waves: tuple[TaskWave, ...]) -> list[str]:
    """``wave 1: web.1 (node-a), web.2 (node-b), then 10 s delay`` for each wave."""
    lines = []
    for w in waves:
        listed = ", ".join(f"{t.name} ({t.node})" if t.node else f"{t.name} (not placed yet)" for t in w.tasks)
        then = f", then {w.delay_after_s:g} s delay" if w.delay_after_s else ""
        lines.append(f"wave {w.number}: {listed}{then}")
    if not waves:
        lines.append("no task runs now: the swarm starts the new image as it places tasks")
    elif len(waves) > 1:
        # swarmkit walks its slots in no fixed order: the sizes and delays are its, not the order.
        lines.append("the swarm picks which tasks go in each wave; their number, sizes and delays are as above")
    return lines


def plan_row(s: Service, image: str, waves: tuple[TaskWave, ...]) -> Row:
    return {
        "service": s.name,
        "from_image": s.image,
        "image": image,
        "update_policy": policy_row(s.update_policy),
        "waves": [
            {"number": w.number, "tasks": [{"name": t.name, "node": t.node or None} for t in w.tasks], "delay_after_s": w.delay_after_s}
            for w in waves
        ],
    }


def task_columns(host_name: Callable[[str | None], str]) -> list["Column"]:
    """A service's tasks on its details screen, as ``docker service ps`` shows them: the
    node, the slot (none for a global service's task), the current and desired state, the
    error. The rows are the backend's task containers."""
    from widgets.resource_table import Column

    return [
        Column("host", "NODE", width=20, render=lambda c: host_name(c.host_id), sort_key=lambda c: host_name(c.host_id)),
        Column(
            "slot", "SLOT", width=4, align="right",
            render=lambda c: "-" if c.slot is None else str(c.slot), sort_key=lambda c: -1 if c.slot is None else c.slot,
        ),
        Column("state", "STATE", width=10, render=lambda c: state(c.state), sort_key=lambda c: c.state.value),
        Column("desired_state", "DESIRED", width=8, render=lambda c: c.desired_state or "-", sort_key=lambda c: c.desired_state or ""),
        Column("status", "STATUS", width=20),
        Column("error", "ERROR", width=40, render=lambda c: c.error or "", sort_key=lambda c: c.error or ""),
        Column("name", "TASK", width=20),
    ]


def row(s: Service, inv: "Inventory") -> Row:
    return {
        "id": s.id,
        "name": s.name,
        "mode": s.mode,
        "replicas_running": s.replicas_running,
        "replicas_desired": s.replicas_desired,
        "image": s.image,
        "update_state": s.update_state,
        "update_message": s.update_message,
        "update_policy": policy_row(s.update_policy),
        "rollback_policy": policy_row(s.rollback_policy),
        "previous_image": s.previous_image,
        "ports": list(s.ports),
        "secrets": [name_of(inv.secrets, ref) for ref in s.secret_ids],
        "configs": [name_of(inv.configs, ref) for ref in s.config_ids],
        "constraints": list(s.constraints),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def rows(inv: "Inventory") -> list[Row]:
    return [row(s, inv) for s in by_name(inv.services.values())]


PRESENTER = Presenter(
    "services",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("MODE", lambda r: r["mode"]),
        TableColumn("REPLICAS", lambda r: f"{r['replicas_running']}/{r['replicas_desired']}", style=replicas_style),
        TableColumn("IMAGE", lambda r: r["image"]),
        TableColumn("UPDATE", lambda r: r["update_state"]),
        TableColumn("ID", lambda r: r["id"]),
    ],
)
