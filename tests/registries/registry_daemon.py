"""A real registry for tests: Debian's ``docker-registry`` (CNCF distribution 2.8) on
127.0.0.1 with TLS from a CA made here and htpasswd (bcrypt) basic auth, and content pushed
through its own API (blobs, then a manifest): no engine, no network beyond loopback.

The password reaches ``htpasswd`` on its standard input (``-i``), never its command line.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.daemons import free_port, make_tls_material, require

USER = "alice"
PASSWORD = "pw-9f3c1e7a-registry-secret"  # unique: found nowhere unless leaked


@dataclass
class Registry:
    root: Path
    port: int
    proc: subprocess.Popen | None = None
    address: str = "127.0.0.1"  # another of this machine's addresses for an engine to verify (see start_registry)
    # (repository, tag) -> what the listing must show: digest, size_bytes, platforms
    described: dict[tuple[str, str], dict] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.root / "tls" / "server" / "ca.pem")

    def http(self) -> httpx.Client:
        """The registry's own API, as the tests read it to compare (verified TLS, Basic)."""
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=self.ca), auth=(USER, PASSWORD), timeout=30, trust_env=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    # -- pushing -----------------------------------------------------------------------------

    def _blob(self, http: httpx.Client, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = http.post(f"/v2/{repo}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        # The upload URL carries the registry's own state in its query: the digest is added to it.
        url = location + ("&" if "?" in location else "?") + f"digest={digest}"
        put = http.put(url, content=data, headers={"Content-Type": "application/octet-stream"})
        assert put.status_code == 201, put.text
        return digest

    def push_image(self, repo: str, tag: str, *, arch: str = "amd64", variant: str | None = None, layers: int = 2) -> dict:
        """An image manifest (Docker v2 schema 2) with a config and ``layers`` layers; returns
        what the listing must show for it."""
        with self.http() as http:
            blobs = [f"{repo}:{tag}:{arch}:layer {i}".encode() * (i + 3) for i in range(layers)]
            layer_descs = [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(b), "digest": self._blob(http, repo, b)}
                for b in blobs
            ]
            config = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
            if variant:
                config["variant"] = variant
            config_bytes = json.dumps(config).encode()
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config_bytes),
                    "digest": self._blob(http, repo, config_bytes),
                },
                "layers": layer_descs,
            }
            body = json.dumps(manifest).encode()
            put = http.put(f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": manifest["mediaType"]})
            assert put.status_code == 201, put.text
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        platform = f"linux/{arch}/{variant}" if variant else f"linux/{arch}"
        shown = {"digest": digest, "size_bytes": len(config_bytes) + sum(len(b) for b in blobs), "platforms": [platform]}
        self.described[(repo, tag)] = shown
        return shown

    def push_index(self, repo: str, tag: str, platforms: list[tuple[str, str | None]]) -> dict:
        """An OCI image index over one image per platform (each pushed by digest first)."""
        images = [self.push_image(repo, f"{tag}-{arch}", arch=arch, variant=variant) for arch, variant in platforms]
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": image["digest"],
                    "size": 0,  # filled below: the size of the child manifest's bytes
                    "platform": {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})},
                }
                for image, (arch, variant) in zip(images, platforms)
            ],
        }
        with self.http() as http:
            for entry in index["manifests"]:
                child = http.get(f"/v2/{repo}/manifests/{entry['digest']}", headers={"Accept": entry["mediaType"]})
                entry["size"] = len(child.content)
            body = json.dumps(index).encode()
            put = http.put(f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": index["mediaType"]})
            assert put.status_code == 201, put.text
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        shown = {
            "digest": digest,
            "size_bytes": sum(i["size_bytes"] for i in images),
            "platforms": [i["platforms"][0] for i in images],
        }
        self.described[(repo, tag)] = shown
        return shown


def _htpasswd(path: Path) -> None:
    binary = require("htpasswd", "apache2-utils")
    done = subprocess.run(
        [binary, "-B", "-i", "-n", USER], input=PASSWORD.encode(), capture_output=True, timeout=30, check=True
    )
    path.write_bytes(done.stdout)


def start_registry(address: str = "127.0.0.1") -> Registry:
    """``address``: where it listens. An engine treats any registry on 127.0.0.0/8 as insecure
    (TLS unverified, then plain HTTP), so a test of an engine's pull listens elsewhere."""
    binary = require("docker-registry", "docker-registry")
    root = Path(tempfile.mkdtemp(prefix="ntr", dir="/tmp"))
    port = free_port()
    make_tls_material(root / "tls", ips=tuple(dict.fromkeys((address, "127.0.0.1"))))
    _htpasswd(root / "htpasswd")
    server = root / "tls" / "server"
    # JSON is YAML: no YAML library needed to write the config.
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {
            "addr": f"{address}:{port}",
            "tls": {"certificate": str(server / "cert.pem"), "key": str(server / "key.pem")},
            "secret": "test-only-upload-state-secret",
        },
        "auth": {"htpasswd": {"realm": "ntnx-test", "path": str(root / "htpasswd")}},
    }
    (root / "config.yml").write_text(json.dumps(config))
    log = root / "registry.log"
    proc = subprocess.Popen(
        [binary, "serve", str(root / "config.yml")], stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    registry = Registry(root, port, proc, address)

    def answering() -> bool:
        try:
            with httpx.Client(verify=ssl.create_default_context(cafile=registry.ca), timeout=2, trust_env=False) as http:
                return http.get(f"{registry.url}/v2/").status_code == 401
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + 30
    while not answering():
        if proc.poll() is not None or time.monotonic() > deadline:
            registry.stop()
            raise RuntimeError(f"docker-registry did not come up within 30s\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)  # polling a condition under a deadline
    return registry


def cleanup(registry: Registry) -> None:
    registry.stop()
    shutil.rmtree(registry.root, ignore_errors=True)
