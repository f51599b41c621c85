"""With --demo the CLI lists and reads the simulator's two registries with no config at all
(the same client as for a real registry, over an in-process transport); without --demo a
config of real registries lists those alone."""

from __future__ import annotations

import json

from tests.cli.conftest import run_command

DEMO_PASSWORD = "demo-password"  # the README's demo section


def test_the_demos_registries_are_listed_and_answer():
    listed = run_command("--demo", "registries", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {r["name"]: r for r in json.loads(listed.out)}
    assert sorted(rows) == ["example", "private"]
    assert rows["example"]["url"] == "https://registry.example.local" and rows["example"]["reachable"] is True
    assert rows["private"]["user"] == "demo" and rows["private"]["reachable"] is True
    plain = run_command("registries", "list", "--json")  # not the demo: nothing configured, nothing listed
    assert plain.code == 0 and json.loads(plain.out) == []


def test_the_public_registry_lists_its_tags_without_a_password():
    done = run_command("--demo", "images", "list", "--registry", "example", "--json")
    assert done.code == 0, done.err
    rows = {(r["repository"], r["tag"]): r for r in json.loads(done.out)}
    assert rows[("shop/api", "3.14.2")]["digest"] == rows[("shop/api", "latest")]["digest"]
    assert rows[("base/python", "3.12-slim")]["platforms"] == ["linux/amd64", "linux/arm64/v8"]


def test_the_private_registry_needs_the_demo_password():
    done = run_command("--demo", "images", "list", "--registry", "private", "--json", env={"NTNX_REGISTRY_PASSWORD": DEMO_PASSWORD})
    assert done.code == 0, done.err
    assert {r["repository"] for r in json.loads(done.out)} == {"payments/ledger", "payments/gateway", "internal/audit-agent"}
    wrong = run_command("--demo", "images", "list", "--registry", "private", env={"NTNX_REGISTRY_PASSWORD": "not-it"})
    assert wrong.code == 4 and len(wrong.err.strip().splitlines()) == 1 and "refused the password of demo" in wrong.err
    assert "not-it" not in wrong.err + wrong.out
    none = run_command("--demo", "images", "list", "--registry", "private")
    assert none.code == 4 and "NTNX_REGISTRY_PASSWORD" in none.err and len(none.err.strip().splitlines()) == 1
