"""Real daemons for tests: a private dockerd and a private OpenSSH sshd, each in a temp dir.

Nothing here mocks anything: ``DockerDaemon`` runs Debian's ``dockerd`` with a config that
works without network privileges (no bridge, no iptables, vfs storage, low ulimits), and
``SSHDaemon`` runs ``/usr/sbin/sshd`` on 127.0.0.1 with generated keys. Missing binaries skip
the tests with a clear reason, unless ``NTNX_CONSOLE_REQUIRE_DAEMONS=1`` (CI), which fails.

Fixtures (import them into a conftest): ``dockerd`` (session) and ``sshd`` (session).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TEST_IMAGE = "ntnx-test-busybox:latest"
DEFAULT_COMMAND = "echo ready; trap 'exit 0' TERM; sleep 3600 & wait"
BUSYBOX_APPLETS = ("sh", "sleep", "echo", "cat", "ls", "true", "false", "printf", "env", "touch", "rm", "mkdir", "ps")


def require(binary: str, package: str) -> str:
    """The binary's path, or skip (fail under NTNX_CONSOLE_REQUIRE_DAEMONS=1)."""
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}", f"/bin/{binary}") if os.access(p, os.X_OK)), None
    )
    if path:
        return path
    reason = f"{binary} not found: install Debian's {package} (apt-get install -y {package})"
    if os.environ.get("NTNX_CONSOLE_REQUIRE_DAEMONS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, *, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout}s\n{tail}")


def _unix_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# dockerd


@dataclass
class DockerDaemon:
    """A private dockerd; ``url`` is its ``unix://`` endpoint."""

    root: Path
    dockerd: str
    docker: str
    proc: subprocess.Popen | None = None
    containerd_proc: subprocess.Popen | None = None
    image: str = TEST_IMAGE
    tls_port: int | None = None  # also listen on tcp://127.0.0.1:PORT with mutual TLS
    env: dict[str, str] = field(default_factory=dict)

    @property
    def socket_path(self) -> str:
        return str(self.root / "d.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def tls_dir(self) -> Path:
        """ca.pem, cert.pem and key.pem for a client, as DOCKER_CERT_PATH expects."""
        return self.root / "tls" / "client"

    @property
    def tls_url(self) -> str:
        return f"tcp://127.0.0.1:{self.tls_port}"

    def start(self, timeout: float = 60.0) -> None:
        config = {
            "bridge": "none",
            "iptables": False,
            "ip-forward": False,
            "ip-masq": False,
            "storage-driver": "vfs",
            "default-ulimits": {
                "nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024},
                "nproc": {"Name": "nproc", "Hard": 1024, "Soft": 1024},
            },
        }
        (self.root / "daemon.json").write_text(json.dumps(config))
        self._start_containerd(timeout)
        log = self.root / "dockerd.log"
        self.proc = subprocess.Popen(
            [
                self.dockerd,
                "--config-file", str(self.root / "daemon.json"),
                "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"),
                "--containerd", self.containerd_socket,
                "-H", self.url,
                *self._tls_args(),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env},
        )
        _wait(lambda: _unix_ping(self.socket_path), timeout=timeout, what="dockerd", proc=self.proc, log=log)

    def _tls_args(self) -> list[str]:
        if self.tls_port is None:
            return []
        server = self.root / "tls" / "server"
        if not server.exists():
            make_tls_material(self.root / "tls")
        return [
            "-H", self.tls_url, "--tlsverify",
            "--tlscacert", str(server / "ca.pem"), "--tlscert", str(server / "cert.pem"), "--tlskey", str(server / "key.pem"),
        ]

    @property
    def containerd_socket(self) -> str:
        return str(self.root / "cd.sock")

    def _start_containerd(self, timeout: float) -> None:
        """Our own containerd, outliving dockerd: a killed dockerd (a fault the tests inject)
        must find it again when it restarts, as with a system containerd."""
        if self.containerd_proc is not None and self.containerd_proc.poll() is None:
            return
        log = self.root / "containerd.log"
        self.containerd_proc = subprocess.Popen(
            [
                require("containerd", "containerd"),
                "--root", str(self.root / "cd-root"),
                "--state", str(self.root / "cd-state"),
                "--address", self.containerd_socket,
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait(lambda: os.path.exists(self.containerd_socket), timeout=timeout, what="containerd", proc=self.containerd_proc, log=log)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        if self.containerd_proc is not None and self.containerd_proc.poll() is None:
            self.containerd_proc.terminate()
            try:
                self.containerd_proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.containerd_proc.kill()
        self.containerd_proc = None

    def kill(self) -> None:
        """Kill dockerd abruptly (a fault, not a shutdown); containerd and the shims live on."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def cli(self, *args: str, check: bool = True, timeout: float = 60.0, input: bytes | None = None) -> str:
        """Run the real ``docker`` CLI against this daemon."""
        done = subprocess.run(
            [self.docker, "-H", self.url, *args],
            capture_output=True,
            timeout=timeout,
            check=False,
            input=input,
            env={**os.environ, "DOCKER_CONFIG": str(self.root / "cli")},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode()

    def ps_json(self) -> list[dict]:
        """``docker ps -a --format json`` (one JSON object per line), parsed."""
        out = self.cli("ps", "-a", "--no-trunc", "--format", "{{json .}}")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def import_busybox_image(self) -> None:
        """Make the tiny test image: a root filesystem with busybox-static and its applets."""
        busybox = require("busybox", "busybox-static")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for d in ("bin", "tmp", "data", "etc"):
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
                tar.addfile(info)
            info = tar.gettarinfo(busybox, "bin/busybox")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(busybox, "rb") as f:
                tar.addfile(info, f)
            for applet in BUSYBOX_APPLETS:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        # The default command says it is ready, then waits, and stops at once on SIGTERM.
        self.cli("import", "-c", f"CMD {json.dumps(['sh', '-c', DEFAULT_COMMAND])}", "-", self.image, input=buf.getvalue())

    def remove_all_containers(self) -> None:
        ids = self.cli("ps", "-aq").split()
        if ids:
            self.cli("rm", "-f", *ids, check=False)


def make_tls_material(root: Path, ips: tuple[str, ...] = ("127.0.0.1",)) -> None:
    """A CA, a server certificate for ``ips`` (127.0.0.1) and a client certificate, in
    ``root/server`` and ``root/client`` (each with ca.pem, cert.pem, key.pem, as Docker names them)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("ntnx-test-ca")).issuer_name(name("ntnx-test-ca"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    for role, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH), ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder().subject_name(name(f"ntnx-test-{role}")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if role == "server":
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        out = root / role
        out.mkdir(parents=True, exist_ok=True)
        (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (out / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (out / "key.pem").write_bytes(pem_key(key))
        (out / "key.pem").chmod(0o600)


def start_dockerd(tmp_root: Path | None = None, *, tls: bool = False) -> DockerDaemon:
    dockerd = require("dockerd", "docker.io")
    docker = require("docker", "docker.io")
    # Unix socket paths are limited to 107 bytes: keep the directory short.
    root = Path(tempfile.mkdtemp(prefix="ntd", dir=str(tmp_root) if tmp_root else "/tmp"))
    daemon = DockerDaemon(root, dockerd, docker, tls_port=free_port() if tls else None)
    try:
        daemon.start()
        daemon.import_busybox_image()
    except BaseException:
        daemon.kill()
        raise
    return daemon


def cleanup_dockerd(daemon: DockerDaemon) -> None:
    try:
        if daemon.proc is not None:
            daemon.remove_all_containers()
    finally:
        daemon.stop()
        # dockerd bind-mounts its data root onto itself, and a killed daemon can leave
        # container mounts under its exec root: unmount both before removing the directory.
        for sub in ("exec", "data"):
            subprocess.run(["umount", "-R", str(daemon.root / sub)], capture_output=True, check=False)
        shutil.rmtree(daemon.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# sshd


@dataclass
class SSHDaemon:
    """A private OpenSSH server on 127.0.0.1; log in as ``user`` with ``client_key``."""

    root: Path
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_key: Path
    proc: subprocess.Popen | None = None

    @property
    def target(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def ssh_url(self, socket_path: str) -> str:
        """An ``ssh://`` engine URL that tunnels to ``socket_path`` on the remote side."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{urllib.parse.quote(socket_path)}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, capture_output=True)


def start_sshd() -> SSHDaemon:
    sshd = require("sshd", "openssh-server")
    require("ssh-keygen", "openssh-client")
    root = Path(tempfile.mkdtemp(prefix="nts", dir="/tmp"))
    host_key, client_key = root / "host_ed25519", root / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"PidFile {root / 'sshd.pid'}",
                f"AuthorizedKeysFile {client_key}.pub",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "AllowStreamLocalForwarding yes",
                "AllowTcpForwarding yes",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    known_hosts = root / "known_hosts"
    key_type, key_data = (host_key.with_suffix(".pub").read_text().split()[:2])
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_data}\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = root / "sshd.log"
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    daemon = SSHDaemon(root, port, user, client_key, known_hosts, host_key, proc)

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                return s.recv(4) == b"SSH-"
        except OSError:
            return False

    try:
        _wait(listening, timeout=20, what="sshd", proc=proc, log=log)
    except BaseException:
        daemon.stop()
        raise
    return daemon


# ---------------------------------------------------------------------------------------------
# pytest fixtures


@pytest.fixture(scope="session")
def dockerd():
    daemon = start_dockerd(tls=True)
    try:
        yield daemon
    finally:
        cleanup_dockerd(daemon)


@pytest.fixture(scope="session")
def sshd():
    daemon = start_sshd()
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)
