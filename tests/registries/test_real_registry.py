"""Against a real registry (Debian's docker-registry 2.8, TLS from our own CA, htpasswd):
the client's catalog and tags equal the registry's own API across pages; the CLI lists every
tag with the digest, size and platforms pushed; a wrong password is exit 4 and an untrusted
certificate exit 3, each in one line; the password is in no config file, output or command
line."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from backends.errors import AuthenticationFailed
from backends.registries.client import RegistryClient
from tests.cli.conftest import run_command
from tests.registries.conftest import REPOSITORIES
from tests.registries.registry_daemon import PASSWORD, USER, Registry


def own_list(registry: Registry, path: str, field: str) -> list[str]:
    """The registry's own answer, in one page (it holds far fewer than 1,000)."""
    with registry.http() as http:
        answer = http.get(path, params={"n": 1000})
        assert answer.status_code == 200 and "Link" not in answer.headers, answer.text
        return answer.json()[field] or []


async def test_catalog_and_tags_agree_with_the_registry_across_pages(registry: Registry):
    # The registry pages its catalog at 2, so the client's catalog below took four pages.
    # distribution 2.8 ignores n on tags/list (all tags, no Link): the client's tags paging
    # is held to a server of ours in test_hostile_registry.py.
    with registry.http() as http:
        assert 'rel="next"' in http.get("/v2/_catalog", params={"n": 2}).headers.get("Link", "")
        assert "Link" not in http.get("/v2/team/web/tags/list", params={"n": 2}).headers
    client = RegistryClient(registry.url, user=USER, password=lambda: PASSWORD, ca_bundle=registry.ca, page_size=2)
    try:
        catalog = await client.catalog()
        assert catalog == own_list(registry, "/v2/_catalog", "repositories")
        assert set(catalog) == set(REPOSITORIES) | {"multi"}
        for repo in catalog:
            assert await client.tags(repo) == own_list(registry, f"/v2/{repo}/tags/list", "tags"), repo
    finally:
        await client.close()


async def test_a_client_asks_for_the_password_once_and_only_when_challenged(registry: Registry):
    asked = []

    def password() -> str:
        asked.append(1)
        return PASSWORD

    client = RegistryClient(registry.url, user=USER, password=password, ca_bundle=registry.ca, page_size=2)
    try:
        await client.ping()  # no credentials needed to see it is a registry
        assert asked == []
        await client.catalog()
        await client.tags("team/web")
        assert asked == [1]
    finally:
        await client.close()
    anonymous = RegistryClient(registry.url, ca_bundle=registry.ca)
    try:
        with pytest.raises(AuthenticationFailed, match="none are configured"):
            await anonymous.catalog()
    finally:
        await anonymous.close()


def add(registry: Registry, *extra: str, name: str = "lab") -> None:
    done = run_command("registry", "add", name, "--url", registry.url, "--user", USER, *extra)
    assert done.code == 0, done.err


def test_images_list_shows_every_tag_as_pushed(registry: Registry, config_file: Path):
    add(registry, "--ca-bundle", registry.ca, "--project", "apps")
    done = run_command("images", "list", "--registry", "lab", "--json", env={"NTNX_REGISTRY_PASSWORD": PASSWORD})
    assert done.code == 0, done.err
    rows = json.loads(done.out)
    shown = {(r["repository"], r["tag"]): {k: r[k] for k in ("digest", "size_bytes", "platforms")} for r in rows}
    assert shown == registry.described
    # The digests are the registry's own (its Docker-Content-Digest), not only our arithmetic.
    with registry.http() as http:
        for (repo, tag), row in shown.items():
            head = http.head(
                f"/v2/{repo}/manifests/{tag}",
                headers={"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json"},
            )
            assert head.headers["Docker-Content-Digest"] == row["digest"], (repo, tag)
    assert shown[("multi", "latest")]["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    # The table too, one line per tag after the header.
    table = run_command("images", "list", "--registry", "lab", env={"NTNX_REGISTRY_PASSWORD": PASSWORD})
    assert table.code == 0 and len(table.out.splitlines()) == len(rows) + 1
    listed = run_command("registries", "list", "--json")
    assert json.loads(listed.out) == [
        {"name": "lab", "url": registry.url, "user": USER, "project": "apps", "context": None, "reachable": True, "problem": None}
    ]


def test_a_wrong_password_exits_4_in_one_line(registry: Registry):
    add(registry, "--ca-bundle", registry.ca)
    done = run_command("images", "list", "--registry", "lab", env={"NTNX_REGISTRY_PASSWORD": "not-" + PASSWORD})
    assert done.code == 4, done.err
    assert len(done.err.strip().splitlines()) == 1 and done.err.startswith("Authentication failed:"), done.err
    assert done.out == ""


def test_an_untrusted_certificate_exits_3_in_one_line(registry: Registry):
    add(registry)  # no --ca-bundle: the test CA is no system CA
    done = run_command("images", "list", "--registry", "lab", env={"NTNX_REGISTRY_PASSWORD": PASSWORD})
    assert done.code == 3, done.err
    assert len(done.err.strip().splitlines()) == 1 and "not trusted" in done.err and "--ca-bundle" in done.err, done.err
    listed = json.loads(run_command("registries", "list", "--json").out)
    assert listed[0]["reachable"] is False and "not trusted" in listed[0]["problem"]


def test_the_password_is_in_no_config_output_or_command_line(registry: Registry, config_file: Path, tmp_path: Path):
    add(registry, "--ca-bundle", registry.ca)
    # A password_command that, while the CLI waits for it, reads every process's command line
    # (the CLI's own included) and records any that holds the password; the password itself
    # comes from a file, as a password manager's would.
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    seen = tmp_path / "seen"
    script = tmp_path / "pw.py"
    script.write_text(textwrap.dedent(f"""\
        import os
        password = open({str(secret)!r}).read().strip()
        leaks = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                    if password.encode() in f.read():
                        leaks.append(pid)
            except OSError:
                pass
        open({str(seen)!r}, "w").write(",".join(leaks) or "none")
        print(password)
        """))
    with config_file.open("a") as f:
        f.write(f'password_command = "{sys.executable} {script}"\n')  # appended to [registries.lab]
    done = run_command("--debug", "images", "list", "--registry", "lab", "--json")
    assert done.code == 0, done.err
    assert seen.read_text() == "none"
    assert PASSWORD not in done.out and PASSWORD not in done.err
    text = config_file.read_text()
    assert "password_command" in text and PASSWORD not in text
    for leftover in config_file.parent.iterdir():
        assert PASSWORD.encode() not in leftover.read_bytes(), leftover
    # A config others can write is refused its password_command, before it runs.
    seen.unlink()
    config_file.parent.chmod(0o777)
    try:
        refused = run_command("images", "list", "--registry", "lab")
    finally:
        config_file.parent.chmod(0o700)
    assert refused.code == 2 and "refusing password_command" in refused.err and not seen.exists()
    assert stat.S_IMODE(os.stat(config_file).st_mode) == 0o600
