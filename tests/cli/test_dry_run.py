"""`--dry-run` on the actions that take things down: it says what goes (containers, volumes,
applications, quota), worst first, from the same analysis as the console's confirmation,
and changes nothing (the kept state compared before and after)."""

from __future__ import annotations

import json

import pytest

from .conftest import run_command


def _world(cli, state: str) -> dict[str, list]:
    found = {}
    for kind in ("hosts", "containers", "volumes", "tasks"):
        result = cli("--demo", "--demo-state", state, kind, "list", "--json")
        assert result.code == 0, result.err
        found[kind] = sorted(json.loads(result.out), key=lambda r: r["id"])
    return found


def test_host_delete_dry_run_lists_what_goes_down_and_changes_nothing(cli, tmp_path):
    state = str(tmp_path / "demo.json")
    before = _world(cli, state)
    result = cli("--demo", "--demo-state", state, "host", "delete", "cm-app-01", "--dry-run", "--json")
    assert result.code == 0, result.err
    impact = json.loads(result.out)
    on_host = {c["name"] for c in before["containers"] if c["host"] == "cm-app-01"}
    attached = {v["name"] for v in before["volumes"] if v["host"] == "cm-app-01"}
    assert impact["targets"] == ["cm-app-01"]
    assert set(impact["containers_stopped"]) == on_host and on_host
    assert set(impact["volumes_detached"]) == attached and attached
    assert impact["quota_freed"] and impact["quota_freed"][0]["project"] == "production"
    assert _world(cli, state) == before  # nothing changed, no task started


def test_the_last_replica_is_an_outage_named_first(cli, tmp_path):
    state = str(tmp_path / "demo.json")
    containers = _world(cli, state)["containers"]
    # Stop every running replica of one application but one, then ask about the last one.
    db = sorted(c["name"] for c in containers if c["name"].startswith("db-") and c["state"] == "running")
    for name in db[:-1]:
        assert cli("--demo", "--demo-state", state, "--speed", "0", "container", "stop", name, "--wait").code == 0
    result = cli("--demo", "--demo-state", state, "container", "stop", db[-1], "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"stop {db[-1]}: dry run, nothing changed"
    assert lines[1] == "  OUTAGE: shop/db loses every running replica (1 → 0)"


def test_dry_run_is_offered_only_where_there_is_an_analysis():
    result = run_command("--demo", "host", "power-on", "cm-ci-02", "--dry-run")
    assert result.code == 2 and "--dry-run" in result.err
