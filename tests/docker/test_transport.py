"""Reaching an engine the ways Docker does: tcp with mutual TLS, DOCKER_HOST, contexts."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from backends.docker import DockerBackend
from backends.docker.transport import parse_endpoint
from backends.errors import InvalidInput, Unavailable

pytestmark = pytest.mark.docker


async def _names(backend: DockerBackend) -> set[str]:
    await backend.connect()
    try:
        return {c.name for c in (await backend.snapshot()).containers.values()}
    finally:
        await backend.close()


def _cli_names(dockerd) -> set[str]:
    return {p["Names"] for p in dockerd.ps_json()}


async def test_tcp_with_mutual_tls_from_the_cert_path(dockerd, image, name):
    dockerd.cli("create", "--network", "none", "--name", name, image)
    names = await _names(DockerBackend([dockerd.tls_url], tls_verify=True, cert_path=str(dockerd.tls_dir)))
    assert name in names and names == _cli_names(dockerd)


async def test_tls_follows_docker_tls_verify_and_docker_cert_path(dockerd, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", dockerd.tls_url)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(dockerd.tls_dir))
    assert await _names(DockerBackend()) == _cli_names(dockerd)


async def test_tls_refuses_a_server_it_cannot_verify(dockerd, tmp_path):
    # The client's own certificate, but no CA that signed the server's: verification fails.
    for f in ("cert.pem", "key.pem"):
        shutil.copy(dockerd.tls_dir / f, tmp_path / f)
    backend = DockerBackend([dockerd.tls_url], tls_verify=True, cert_path=str(tmp_path))
    with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed") as err:
        await backend.connect()
    assert "\n" not in err.value.one_line()


async def test_a_docker_context_names_the_endpoint_and_its_tls_files(dockerd, tmp_path, monkeypatch):
    config = tmp_path / "docker-config"
    digest = hashlib.sha256(b"lab").hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    meta.joinpath("meta.json").write_text(
        json.dumps({"Name": "lab", "Endpoints": {"docker": {"Host": dockerd.tls_url, "SkipTLSVerify": False}}})
    )
    shutil.copytree(dockerd.tls_dir, config / "contexts" / "tls" / digest / "docker")
    config.joinpath("config.json").write_text(json.dumps({"currentContext": "lab"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    assert parse_endpoint("lab").context == "lab"
    assert await _names(DockerBackend()) == _cli_names(dockerd)  # the current context
    assert await _names(DockerBackend(["lab"])) == _cli_names(dockerd)
    with pytest.raises(InvalidInput, match="neither an engine URL nor a Docker context"):
        parse_endpoint("nowhere")


def test_endpoint_urls_parse_as_docker_reads_them():
    e = parse_endpoint("ssh://ops@10.0.0.5:2222")
    assert (e.scheme, e.user, e.host, e.port, e.path) == ("ssh", "ops", "10.0.0.5", 2222, "/var/run/docker.sock")
    assert parse_endpoint("ssh://ops@h/run/user/1000/docker.sock").path == "/run/user/1000/docker.sock"
    assert parse_endpoint("unix:///var/run/docker.sock").display == "local"
    assert parse_endpoint("tcp://h:2375", tls_verify=False).tls is None
    with pytest.raises(InvalidInput):
        parse_endpoint("ftp://h")
