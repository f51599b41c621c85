"""What the console does inside a container machine, over SSH with the machine's own key and
its pre-generated host key (so the host key is checked from the first connection).

Only machines this computer made have their keys here; for any other machine the caller
skips these steps and says why.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

from ..errors import Conflict, Unavailable
from .machine import SSH_USER

MOUNT_ROOT = "/mnt/ntnx-console"


class Guest:
    def __init__(self, ip: str, client_key: Path, known_hosts: Path, *, port: int = 22, user: str = SSH_USER) -> None:
        self.ip, self.port, self.user = ip, port, user
        self._key, self._known = client_key, known_hosts

    async def run(self, command: str, *, check: bool = True, timeout: float = 600, input: str | None = None) -> str:
        """``command`` on the machine; ``input`` is its standard input (where secrets go: a
        command line is seen by every process on the machine)."""
        import asyncssh  # here, not at the top: listing Prism's VMs needs no SSH (start-up time)

        try:
            async with asyncssh.connect(
                self.ip,
                port=self.port,
                username=self.user,
                client_keys=[str(self._key)],
                known_hosts=str(self._known),
                connect_timeout=15,
            ) as conn:
                result = await asyncio.wait_for(conn.run(command, check=False, input=input), timeout)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as err:
            raise Unavailable(f"ssh {self.user}@{self.ip}: {err or type(err).__name__}") from None
        if check and result.exit_status != 0:
            detail = str(result.stderr or result.stdout or "").strip().splitlines()
            raise Unavailable(f"on {self.ip}: `{command.split()[0]}` failed: {detail[-1] if detail else result.exit_status}")
        return str(result.stdout or "")

    async def engine_version(self) -> str:
        return (await self.run("docker version --format '{{.Server.Version}}'")).strip()

    async def wait_engine(self, timeout: float) -> str:
        """The engine's version once it answers (cloud-init may still be installing it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 2.0
        while True:
            try:
                return await self.engine_version()
            except Unavailable:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 15.0)

    async def disks(self) -> set[str]:
        out = await self.run("lsblk -dn -o NAME,TYPE")
        return {line.split()[0] for line in out.splitlines() if line.split()[1:] == ["disk"]}

    async def prepare_volume(self, name: str, disks_before: set[str], *, timeout: float = 120) -> str:
        """Find the disk the attach added, make a filesystem only if it has none, mount it and
        make a Docker volume on it. Returns the mount point."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (new := sorted(await self.disks() - disks_before)):
            if asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"no new disk appeared on {self.ip} after the attach")
            await asyncio.sleep(2)
        device = f"/dev/{new[0]}"
        mount = f"{MOUNT_ROOT}/{name}"
        q = shlex.quote
        script = " && ".join(
            [
                f"(sudo blkid -o value -s TYPE {device} >/dev/null || sudo mkfs.ext4 -q -L {q(name[:16])} {device})",
                f"sudo mkdir -p {q(mount)}",
                f"sudo mount {device} {q(mount)}",
                f"(grep -q {q(mount)} /etc/fstab || echo \"UUID=$(sudo blkid -o value -s UUID {device}) {mount} ext4 defaults,nofail 0 2\" | sudo tee -a /etc/fstab >/dev/null)",
            ]
        )
        await self.run(script)
        plugins = await self.run("docker plugin ls --format '{{.Name}} {{.Enabled}}'", check=False)
        nutanix = next((p.split()[0] for p in plugins.splitlines() if "nutanix" in p and p.endswith("true")), None)
        if nutanix:
            await self.run(f"docker volume create --driver {q(nutanix)} {q(name)}")
        else:
            await self.run(
                f"docker volume create --driver local --opt type=none --opt o=bind --opt device={q(mount)} {q(name)}"
            )
        return mount

    async def release_volume(self, name: str) -> None:
        """Refuse while a container uses the volume; otherwise remove it and unmount."""
        q = shlex.quote
        users = (await self.run(f"docker ps -a -q --filter volume={q(name)}")).split()
        if users:
            raise Conflict(f"volume {name} is used by {len(users)} container(s) on {self.ip}: remove them first")
        mount = f"{MOUNT_ROOT}/{name}"
        await self.run(
            f"docker volume rm {q(name)} >/dev/null 2>&1; "
            f"(! mountpoint -q {q(mount)} || sudo umount {q(mount)}) && sudo sed -i '\\#{mount} #d' /etc/fstab"
        )

    async def install_files(self, files: list[dict[str, str]], *, prefix: str = "") -> None:
        """Write cloud-init style ``files`` (path, permissions, content) on the machine, each
        replaced atomically and never readable by others while it is written; the content on
        standard input, never on a command line. ``prefix`` roots the paths elsewhere (tests)."""
        q = shlex.quote
        for f in files:
            path = prefix + f["path"]
            mode = f.get("permissions", "0644")
            if not re.fullmatch(r"0[0-7]{3}", mode) or "/../" in path or not path.startswith("/"):
                raise Conflict(f"refusing to write {path!r} with mode {mode!r}")
            tmp = f"{path}.ntnx-console.tmp"
            directory = path.rsplit("/", 1)[0] or "/"
            # sudo only where the login is not root already (a machine's docker user is not).
            script = (
                'S=$(test "$(id -u)" = 0 || echo sudo); '
                f"$S mkdir -p {q(directory)} && $S sh -c {q(f'umask 077; cat > {q(tmp)}')} && "
                f"$S chmod {mode} {q(tmp)} && $S mv -f {q(tmp)} {q(path)}"
            )
            await self.run(script, input=f["content"], timeout=60)

    async def upgrade_engine(self, version: str, timeout: float = 1800) -> str:
        """Install Docker Engine ``version`` with Docker's own install script; returns the
        version the engine reports afterwards."""
        await self.run(f"curl -fsSL https://get.docker.com | sudo VERSION={shlex.quote(version)} sh", timeout=timeout)
        return await self.engine_version()
