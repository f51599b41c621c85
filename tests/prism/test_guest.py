"""In-guest steps: the machine's cloud-init carries the keys the console will trust, and SSH
to a machine checks its host key (a real sshd on 127.0.0.1)."""

from __future__ import annotations

import base64
import json

import pytest

from backends.errors import Unavailable
from backends.prism.guest import Guest
from backends.prism.machine import forget_machine, known_machine, new_machine_keys, user_data
from tests.daemons import sshd  # noqa: F401  (session fixture)

pytestmark = pytest.mark.ssh


def test_user_data_installs_the_console_key_the_host_key_and_docker(tmp_path, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path))
    keys = new_machine_keys()
    text = base64.b64decode(user_data(keys, "web-01")).decode()
    assert text.startswith("#cloud-config\n")
    config = json.loads(text.split("\n", 1)[1])
    assert config["users"][0]["ssh_authorized_keys"] == [keys.client_public]
    assert config["ssh_keys"]["ed25519_public"] == keys.host_public
    assert any("get.docker.com" in c for c in config["runcmd"])
    vm_id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    keys = keys.claim(vm_id)
    assert keys.directory == tmp_path / vm_id
    assert (tmp_path / vm_id / "id_ed25519").stat().st_mode & 0o077 == 0
    keys.remember_address("127.16.0.9")
    assert known_machine(vm_id) == (keys.client_key_path, keys.known_hosts_path)
    assert keys.known_hosts_path.read_text() == f"127.16.0.9 {keys.host_public}\n"
    forget_machine(vm_id)
    assert known_machine(vm_id) is None
    assert list(tmp_path.iterdir()) == []


async def test_ssh_runs_commands_with_the_host_key_checked(sshd):  # noqa: F811
    guest = Guest("127.0.0.1", sshd.client_key, sshd.known_hosts, port=sshd.port, user=sshd.user)
    assert (await guest.run("echo guest-ok")).strip() == "guest-ok"
    with pytest.raises(Unavailable, match="failed"):
        await guest.run("exit 3")


async def test_ssh_refuses_a_machine_whose_host_key_is_not_the_one_generated(sshd, tmp_path):  # noqa: F811
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGlxc2c4bT3VCqZ7f2ejT3KMPOXVJaJvv0xVGfKcfg7Z\n")
    guest = Guest("127.0.0.1", sshd.client_key, other, port=sshd.port, user=sshd.user)
    with pytest.raises(Unavailable, match=f"ssh {sshd.user}@127.0.0.1"):
        await guest.run("true")
