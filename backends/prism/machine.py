"""What a container machine is made with, as docker-machine's Nutanix driver made it: an SSH
key pair for the console to log in with, a host key generated here so the first SSH
connection is already verified, and cloud-init user-data that installs both and Docker Engine.

Each machine's keys live in its own directory (``NTNX_CONSOLE_MACHINES_DIR``, else the
platform's data directory), like ``~/.docker/machine/machines/NAME``. The engine is reached at
``ssh://docker@IP``, unless the directory's ``engine`` file names another URL (a forwarded
port, say, or ``tcp://IP:2376`` with ``ca.pem``/``cert.pem``/``key.pem`` beside it, as
docker-machine kept them).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSH_USER = "docker"
ENGINE_FILE = "engine"


def machines_dir() -> Path:
    override = os.environ.get("NTNX_CONSOLE_MACHINES_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("ntnx-console")) / "machines"


def _keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return private, public


@dataclass(frozen=True, slots=True)
class MachineKeys:
    directory: Path
    client_public: str
    host_private: str
    host_public: str

    @property
    def client_key_path(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.directory / "known_hosts"

    def remember_address(self, ip: str) -> None:
        """Once the machine has an address, its (pre-generated) host key is known for it."""
        self.known_hosts_path.write_text(f"{ip} {self.host_public}\n")


def new_machine_keys(name: str) -> MachineKeys:
    directory = machines_dir() / name
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    client_private, client_public = _keypair()
    host_private, host_public = _keypair()
    key_path = directory / "id_ed25519"
    key_path.write_text(client_private)
    key_path.chmod(0o600)
    (directory / "id_ed25519.pub").write_text(client_public + "\n")
    return MachineKeys(directory, client_public, host_private, host_public)


def forget_machine(name: str) -> None:
    shutil.rmtree(machines_dir() / name, ignore_errors=True)


def known_machine(name: str) -> tuple[Path, Path] | None:
    """(client key, known_hosts) of a machine the console made, if this computer made it."""
    directory = machines_dir() / name
    key, known = directory / "id_ed25519", directory / "known_hosts"
    return (key, known) if key.exists() and known.exists() else None


def engine_url(name: str, ip: str) -> str:
    """The URL of the machine's engine: its ``engine`` file's, else ssh to its address."""
    override = machines_dir() / name / ENGINE_FILE
    if override.exists():
        return override.read_text().strip()
    return f"ssh://{SSH_USER}@{ip}"


def user_data(keys: MachineKeys, hostname: str) -> str:
    """cloud-init user-data, base64 as Prism's ``guest_customization.cloud_init`` wants it.

    JSON is valid YAML, so the ``#cloud-config`` document is written with ``json`` rather
    than a YAML library."""
    config = {
        "hostname": hostname,
        "users": [
            {
                "name": SSH_USER,
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "shell": "/bin/bash",
                "ssh_authorized_keys": [keys.client_public],
            }
        ],
        "ssh_keys": {"ed25519_private": keys.host_private, "ed25519_public": keys.host_public},
        "ssh_deletekeys": True,
        "runcmd": [
            # Container-host images carry Docker Engine already; any other image gets it here.
            "command -v docker >/dev/null || (curl -fsSL https://get.docker.com | sh)",
            f"usermod -aG docker {SSH_USER}",
            "systemctl enable --now docker",
        ],
    }
    text = "#cloud-config\n" + json.dumps(config, indent=1) + "\n"
    return base64.b64encode(text.encode()).decode()
