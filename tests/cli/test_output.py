"""The CLI's rows and tables, on a small hand-made inventory."""

from __future__ import annotations

import io
import json

from backends.contract import Inventory
from backends.models import (
    Container, ContainerState, Host, HostState, Mount, Node, Project, Quota, Task, TaskStatus, Volume, VolumeState,
)
from console import output, presenters


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _inventory() -> Inventory:
    inv = Inventory()
    inv.nodes = {"n1": Node("n1", "node-01", "c1", 32, 262144)}
    inv.projects = {"p1": Project("p1", "sandbox", Quota(16, 32768, 200.0, 3), Quota(4, 8192, 80.0, 2))}
    inv.hosts = {
        "h2": Host("h2", "web-02", HostState.CRASHED, "127.0.10.2", 2, 4096, "24.0.7", node_id="n1", project_id="p1"),
        "h1": Host("h1", "web-01", HostState.RUNNING, "127.0.10.1", 4, 8192, "26.1.4", node_id="n1", project_id="p1"),
    }
    inv.containers = {
        "c1": Container("c1", "nginx", "nginx:1.25", "h1", ContainerState.RUNNING, "Up 3 minutes",
                        mounts=(Mount("v1", "/data"),)),
        "c2": Container("c2", "redis", "redis:7", "h1", ContainerState.EXITED, "Exited (0) 1 hour ago"),
    }
    inv.volumes = {"v1": Volume("v1", "pgdata", 20.0, VolumeState.ATTACHED, "h1", ("c1",))}
    inv.tasks = {"t1": Task("t1", "create_host", "web-01", TaskStatus.SUCCEEDED, 100, "done", target_id="h1")}
    return inv


def test_rows_name_references_and_keep_their_ids():
    inv = _inventory()
    hosts = presenters.rows("hosts", inv)
    assert [h["name"] for h in hosts] == ["web-01", "web-02"]  # by name
    assert hosts[0]["containers"] == 2 and hosts[1]["containers"] == 0
    assert (hosts[0]["node"], hosts[0]["node_id"], hosts[0]["project"]) == ("node-01", "n1", "sandbox")
    [nginx, redis] = presenters.rows("containers", inv)
    assert (nginx["host"], nginx["host_id"], redis["state"]) == ("web-01", "h1", "exited")
    assert nginx["mounts"] == [{"kind": "volume", "source": "pgdata", "source_id": "v1", "path": "/data", "read_only": False}]
    [vol] = presenters.rows("volumes", inv)
    assert (vol["host"], vol["containers"], vol["container_ids"]) == ("web-01", ["nginx"], ["c1"])
    [node] = presenters.rows("nodes", inv)
    assert (node["hosts"], node["cores_allocated"], node["memory_allocated_mib"]) == (2, 6, 12288)
    [project] = presenters.rows("projects", inv)
    assert project["quota"]["vms"] == 3 and project["used"]["vcpus"] == 4


def test_json_is_one_array_with_an_item_per_line():
    buf = io.StringIO()
    output.print_json(presenters.rows("hosts", _inventory()), buf)
    text = buf.getvalue()
    assert [h["name"] for h in json.loads(text)] == ["web-01", "web-02"]
    assert text.count("\n") == 4  # "[", two items, "]"
    empty = io.StringIO()
    output.print_json([], empty)
    assert json.loads(empty.getvalue()) == []


def test_plain_table_when_not_a_terminal():
    buf = io.StringIO()
    output.print_table("hosts", presenters.rows("hosts", _inventory()), buf)
    lines = buf.getvalue().splitlines()
    assert lines[0].split() == ["NAME", "STATE", "IP", "CORES", "MEMORY", "MIB", "ENGINE", "NODE", "PROJECT", "CONTAINERS"]
    assert lines[1].split() == ["web-01", "running", "127.0.10.1", "4", "8192", "26.1.4", "node-01", "sandbox", "2"]
    assert lines[1].index("running") == lines[0].index("STATE")  # aligned columns


def test_rich_table_on_a_terminal_shows_quota_use():
    buf = _Terminal()
    output.print_table("projects", presenters.rows("projects", _inventory()), buf)
    text = buf.getvalue()
    assert "\x1b[" in text  # styled for a terminal
    assert "sandbox" in text and "4/16" in text and "2/3" in text and "8192/32768" in text


def test_progress_writes_a_line_per_change_when_not_a_terminal():
    buf = io.StringIO()
    task = Task("t1", "create_host", "web-01", TaskStatus.RUNNING, 10, "cloning image")
    with output.TaskProgress(buf) as progress:
        progress.update(task)
        progress.update(task)  # no change, no line
        progress.update(Task("t1", "create_host", "web-01", TaskStatus.SUCCEEDED, 100, "running"))
    assert buf.getvalue().splitlines() == [
        "create_host web-01: RUNNING 10% cloning image",
        "create_host web-01: SUCCEEDED 100% running",
    ]


def test_progress_draws_a_bar_on_a_terminal():
    buf = _Terminal()
    with output.TaskProgress(buf) as progress:
        progress.update(Task("t1", "create_host", "web-01", TaskStatus.RUNNING, 40, "installing engine"))
    text = buf.getvalue()
    assert "create_host web-01" in text and "40%" in text and "installing engine" in text
