"""What a container machine is made with, as docker-machine's Nutanix driver made it: an SSH
key pair for the console to log in with, a host key generated here so the first SSH
connection is already verified, and cloud-init user-data that installs both and Docker Engine.

What is stored where, and with which modes
------------------------------------------
Everything the console keeps per machine lives under one directory, ``machines_dir()``
(``NTNX_CONSOLE_MACHINES_DIR``, else ``<platform data dir>/ntnx-console/machines``), created
0700 and tightened to 0700 whenever it is found looser. In it, each machine has one directory
named by its VM's uuid in canonical form (``machines/1b4e28ba-2fa1-41d2-883f-0016d3cca427/``,
0700), holding:

- ``id_ed25519`` (0600) and ``id_ed25519.pub`` (0600): the key pair the console logs in with;
- ``known_hosts`` (0600): the machine's pre-generated host key, for its address;
- ``engine`` (optional, written by the user): another URL for the machine's engine (a
  forwarded port, or ``tcp://IP:2376`` with ``ca.pem``/``cert.pem``/``key.pem`` beside it, as
  docker-machine kept them); without it the engine is ``ssh://docker@IP``.

The VM's name is display text only, never part of a path: Prism (or whoever can rename a VM
there) controls it. A key that is not a canonical uuid is refused with ``InvalidInput`` before
anything is touched, every path is checked to resolve inside ``machines_dir()``, and a machine
directory (or a file in it) that is a symbolic link is refused rather than followed.

While a machine is being created its keys are made before Prism gives it a uuid (cloud-init
carries them), in a private ``.pending-*`` directory inside ``machines_dir()`` that is renamed
to the uuid once known, or removed if the create fails.

Versions before this kept a machine's directory under its name. ``adopt_legacy`` moves such a
directory once to its uuid, only when the name is a lower-case RFC 1123 label and exactly one
VM has it; any other is left where it is, with a warning.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable


from ..errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from ..contract import RegistryAuth

log = logging.getLogger(__name__)

SSH_USER = "docker"
ENGINE_FILE = "engine"
CLIENT_KEY = "id_ed25519"
KNOWN_HOSTS = "known_hosts"
PENDING_PREFIX = ".pending-"
ENGINE_FILE_MAX = 4096  # bytes: a URL, nothing more
# The names older versions could have made a machine under (create_host's own rule then).
LEGACY_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_UUID_LENGTH = 36

_warned: set[tuple[str, str]] = set()  # (directory, why): each said once per process


def machines_dir() -> Path:
    """Where the machines' directories live (not created here)."""
    override = os.environ.get("NTNX_CONSOLE_MACHINES_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("ntnx-console")) / "machines"


def _shown(text: str, limit: int = 60) -> str:
    """A server-controlled string made safe to put in a message: escaped, and short."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def is_machine_id(key: object) -> bool:
    """True when ``key`` is a uuid in canonical form (lower case, 8-4-4-4-12)."""
    if not isinstance(key, str) or len(key) != _UUID_LENGTH:
        return False
    try:
        return str(uuid.UUID(key)) == key
    except ValueError:
        return False


def check_machine_id(key: object) -> str:
    """``key`` if it may name a machine's directory; InvalidInput otherwise. uuid.UUID alone
    also takes braces, ``urn:uuid:``, upper case and no dashes: only its canonical form is
    one path component that is exactly one VM."""
    if not is_machine_id(key):
        raise InvalidInput(f"{_shown(str(key))} is not a VM uuid: a machine's files are kept under its VM's uuid")
    return str(key)


def _root(*, create: bool) -> Path | None:
    """machines_dir(), resolved, a directory, 0700 (tightened if looser); None when it does not
    exist and ``create`` is false (nothing has been made on this computer)."""
    base = machines_dir()
    try:
        if create:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
        root = base.resolve(strict=True)
        mode = root.stat().st_mode
    except FileNotFoundError:
        return None
    except (OSError, RuntimeError) as err:
        raise InvalidInput(f"the machines directory {base}: {err}") from None
    if not stat.S_ISDIR(mode):
        raise InvalidInput(f"the machines directory {base} is not a directory")
    if stat.S_IMODE(mode) & 0o077:
        # It holds private keys: nobody else may list or enter it.
        try:
            os.chmod(root, 0o700)
        except OSError as err:
            raise InvalidInput(f"the machines directory {base} is open to others and cannot be made private: {err}") from None
    return root


def _inside(directory: Path, path: Path) -> Path:
    """``path`` resolved, once it is known to be no symbolic link and to resolve strictly
    inside ``directory`` (itself resolved); InvalidInput otherwise."""
    if path.is_symlink():
        raise InvalidInput(f"{_shown(str(path), 200)} is a symbolic link: refused")
    resolved = path.resolve()
    if resolved == directory or not resolved.is_relative_to(directory):
        raise InvalidInput(f"{_shown(str(path), 200)} is outside {directory}: refused")
    return resolved


def _machine_dir(vm_id: str) -> Path | None:
    """The machine's directory if this computer holds one; None if not. Checked first."""
    key = check_machine_id(vm_id)
    root = _root(create=False)
    if root is None or not os.path.lexists(root / key):
        return None
    directory = _inside(root, root / key)
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory")
    return directory


def _write_private(path: Path, text: str, *, overwrite: bool = False) -> None:
    """Write a 0600 file, never through a symbolic link planted where it goes."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o600)
        f.write(text)


def _keypair() -> tuple[str, str]:
    # Imported here: only making a machine needs a key; listing Prism's VMs should not load it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
        return self.directory / CLIENT_KEY

    @property
    def known_hosts_path(self) -> Path:
        return self.directory / KNOWN_HOSTS

    @property
    def pending(self) -> bool:
        """True until the keys are moved to their VM's uuid (``claim``)."""
        return self.directory.name.startswith(PENDING_PREFIX)

    def _checked(self) -> Path:
        root = _root(create=False)
        if root is None:
            raise InvalidInput(f"the machines directory {machines_dir()} is gone")
        directory = _inside(root, self.directory)
        if directory.parent != root:
            raise InvalidInput(f"{directory} is not a machine's directory")
        return directory

    def remember_address(self, ip: str) -> None:
        """Once the machine has an address, its (pre-generated) host key is known for it. The
        address comes from Prism: anything but an IP address could add lines to known_hosts."""
        try:
            address = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidInput(f"Prism gave the machine {_shown(str(ip))} as its address: not an IP address") from None
        directory = self._checked()
        _write_private(_inside(directory, directory / KNOWN_HOSTS), f"{address} {self.host_public}\n", overwrite=True)

    def claim(self, vm_id: str) -> "MachineKeys":
        """The pending keys, moved to the directory of the VM Prism made for them."""
        key = check_machine_id(vm_id)
        source = self._checked()
        root = source.parent
        target = root / key
        if os.path.lexists(target):
            raise Conflict(f"{target} exists already: keys of another machine with this VM's uuid")
        os.rename(source, target)
        return replace(self, directory=target)

    def discard(self) -> None:
        """Remove these keys' own directory (pending or claimed), nothing else; never raises:
        it cleans up after a failure that is the one to report."""
        try:
            directory = self._checked()
        except (InvalidInput, OSError) as err:
            log.warning("machine keys %s left in place: %s", _shown(str(self.directory), 200), err)
            return
        shutil.rmtree(directory, ignore_errors=True)


def new_machine_keys() -> MachineKeys:
    """Keys for a machine Prism has not made yet, in a private pending directory."""
    root = _root(create=True)
    assert root is not None  # created just now
    directory = Path(tempfile.mkdtemp(prefix=PENDING_PREFIX, dir=root))  # 0700, a random name
    try:
        client_private, client_public = _keypair()
        host_private, host_public = _keypair()
        _write_private(directory / CLIENT_KEY, client_private)
        _write_private(directory / f"{CLIENT_KEY}.pub", client_public + "\n")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return MachineKeys(directory, client_public, host_private, host_public)


def forget_machine(vm_id: str) -> None:
    """Remove the machine's directory, if this computer holds one."""
    directory = _machine_dir(vm_id)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def known_machine(vm_id: str) -> tuple[Path, Path] | None:
    """(client key, known_hosts) of a machine the console made, if this computer made it."""
    directory = _machine_dir(vm_id)
    if directory is None:
        return None
    key, known = (directory / CLIENT_KEY), (directory / KNOWN_HOSTS)
    if not (os.path.lexists(key) and os.path.lexists(known)):
        return None
    key, known = _inside(directory, key), _inside(directory, known)
    return (key, known) if key.is_file() and known.is_file() else None


def engine_url(vm_id: str, ip: str) -> str:
    """The URL of the machine's engine: its ``engine`` file's, else ssh to its address."""
    directory = _machine_dir(vm_id)
    override = directory / ENGINE_FILE if directory is not None else None
    if override is not None and os.path.lexists(override):
        with _inside(directory, override).open("rb") as f:
            return f.read(ENGINE_FILE_MAX).decode(errors="replace").strip()
    return f"ssh://{SSH_USER}@{ip}"


def adopt_legacy(vms: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Move the directories older versions kept under a machine's name to its VM's uuid:
    {name: uuid} of those moved. Only a name that is one safe path component and exactly one
    VM's; any other directory stays where it is, with a warning (once). Never raises: it runs
    in the poll."""
    try:
        root = _root(create=False)
        if root is None:
            return {}
        with os.scandir(root) as entries:
            legacy = [
                e for e in entries
                if not e.name.startswith(".") and not is_machine_id(e.name)  # pending, or the console's own
                and (e.is_symlink() or e.is_dir(follow_symlinks=False))
            ]
    except (InvalidInput, OSError) as err:
        _warn_once(str(machines_dir()), f"older machines not looked for: {err}")
        return {}
    if not legacy:
        return {}
    ids_of: dict[str, list[str]] = {}
    for vm_id, name in vms:
        ids_of.setdefault(name, []).append(vm_id)
    moved: dict[str, str] = {}
    for entry in legacy:
        ids = ids_of.get(entry.name, [])
        why = _why_not_adopted(root, entry, ids)
        if why:
            _warn_once(entry.path, why)
            continue
        try:
            os.rename(entry.path, root / ids[0])
        except OSError as err:
            _warn_once(entry.path, str(err))
            continue
        log.info("machine keys %s moved to %s", _shown(entry.path, 200), root / ids[0])
        moved[entry.name] = ids[0]
    return moved


def _why_not_adopted(root: Path, entry: os.DirEntry, ids: list[str]) -> str:
    if entry.is_symlink():
        return "a symbolic link"
    if not LEGACY_NAME.fullmatch(entry.name):
        return "not a name the console made machines under"
    if not ids:
        return "no VM has this name"
    if len(ids) > 1:
        return f"{len(ids)} VMs have this name: which one is this machine's is unknown"
    if not is_machine_id(ids[0]):
        return f"its VM's id {_shown(ids[0])} is not a uuid"
    if os.path.lexists(root / ids[0]):
        return f"{root / ids[0]} exists already"
    return ""


def _warn_once(path: str, why: str) -> None:
    if (path, why) not in _warned:
        _warned.add((path, why))
        log.warning("machine keys %s left where they are: %s", _shown(path, 200), why)


# A registry's host[:port] as it becomes a directory name under certs.d and a key of the
# engine's config.json: nothing that could leave that directory or break the document.
_REGISTRY_SERVER = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
MAX_CA_PEM = 64 * 1024  # a CA bundle of a few certificates; past this it is not one


def registry_files(registries: "Iterable[RegistryAuth]") -> list[dict[str, str]]:
    """cloud-init ``write_files`` for a machine's registries: the engine's client config
    (``/root/.docker/config.json``, 0600, with each registry's credentials) and each registry's
    own CA in ``/etc/docker/certs.d/HOST:PORT/ca.crt``, which the engine trusts for it."""
    auths: dict[str, dict[str, str]] = {}
    files: list[dict[str, str]] = []
    for r in registries:
        if not _REGISTRY_SERVER.match(r.server):
            raise InvalidInput(f"registry {r.server!r}: not a HOST[:PORT] a machine's engine can be configured for")
        if ":" in r.username:
            raise InvalidInput(f"registry {r.server}: a user name cannot hold ':'")
        if r.username:  # an anonymous registry needs only its CA
            auths[r.server] = {"auth": base64.b64encode(f"{r.username}:{r.password}".encode()).decode()}
        if r.ca_pem:
            if len(r.ca_pem) > MAX_CA_PEM or "-----BEGIN CERTIFICATE-----" not in r.ca_pem:
                raise InvalidInput(f"registry {r.server}: its CA bundle is not a PEM certificate bundle")
            files.append({"path": f"/etc/docker/certs.d/{r.server}/ca.crt", "permissions": "0644", "content": r.ca_pem})
    if auths:
        files.insert(0, {
            "path": "/root/.docker/config.json",
            "permissions": "0600",
            "owner": "root:root",
            "content": json.dumps({"auths": auths}, indent=1) + "\n",
        })
    return files


def user_data(keys: MachineKeys, hostname: str, registries: "Iterable[RegistryAuth]" = ()) -> str:
    """cloud-init user-data, base64 as Prism's ``guest_customization.cloud_init`` wants it.
    ``registries`` (the machine's project's) go into the engine's configuration.

    JSON is valid YAML, so the ``#cloud-config`` document is written with ``json`` rather
    than a YAML library."""
    config: dict[str, Any] = {
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
    files = registry_files(registries)
    if files:
        config["write_files"] = files
    text = "#cloud-config\n" + json.dumps(config, indent=1) + "\n"
    return base64.b64encode(text.encode()).decode()
