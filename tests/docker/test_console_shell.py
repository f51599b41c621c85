"""A shell in a container from the real console in a real terminal (tmux): the console hands
the terminal to ``docker exec -it``, the user types in the container, and the console comes
back when the shell ends. A headless Pilot cannot suspend, so this one runs in tmux."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemons import require
from tests.waiting import wait_until

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """One tmux session on a private tmux server (``-L``), so no user's tmux is touched."""

    def __init__(self, tmux: str, server: str) -> None:
        self.tmux = tmux
        self.server = server

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([self.tmux, "-L", self.server, *args], capture_output=True, text=True, timeout=10)
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "console", check=False)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "console", *keys)

    def text(self, text: str) -> None:
        self.run("send-keys", "-t", "console", "-l", text)

    async def shows(self, text: str, what: str, timeout: float = 15.0) -> None:
        try:
            await wait_until(lambda: text in self.screen(), what=what, timeout=timeout, interval=0.1)
        except AssertionError as err:
            raise AssertionError(f"{err}; the screen:\n{self.screen()}") from None


@pytest.fixture
def terminal(tmp_path: Path):
    term = Terminal(require("tmux", "tmux"), f"ntnx-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.run("kill-server", check=False)


async def test_shell_in_a_container_hands_over_the_terminal_and_comes_back(terminal, dockerd, image, name, tmp_path):
    require("docker", "docker.io")  # the console runs the docker CLI for the shell
    name = name[:16]  # shown whole in the NAME column
    dockerd.cli("run", "-d", "--network", "none", "--name", name, "-e", "MARK=in-the-container", image)
    # Without the COLUMNS / LINES a test runner may set: the size is the terminal's.
    console = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", sys.executable, "-m", "console", "--backend", "docker", "--docker-host", dockerd.url])
    terminal.run(
        "new-session", "-d", "-s", "console", "-x", "160", "-y", "48", "-c", str(REPO),
        "-e", f"NTNX_CONSOLE_CONFIG={tmp_path / 'config.toml'}", "-e", f"DOCKER_CONFIG={tmp_path / 'docker'}",
        # The session ends with the console: its exit status is left on a file.
        f"{console}; echo $? > {shlex.quote(str(tmp_path / 'status'))}",
    )
    await terminal.shows(name, "the container in the console")

    # Keys that arrive in one burst (a fast typist, a slow ssh link): tab still moves on
    # before the next letters land.
    terminal.keys("r")
    await terminal.shows("Run a container", "the run form")
    terminal.run("send-keys", "-t", "console", "-l", image, ";", "send-keys", "-t", "console", "Tab", ";", "send-keys", "-t", "console", "-l", "typed-fast")
    await terminal.shows("typed-fast", "the name typed")
    # The form's fields are what sits between its borders (the panes behind show at the sides).
    fields = [m.group(1).strip() for m in re.finditer(r"█ (.*?) *█", terminal.screen())]
    assert image in fields and "typed-fast" in fields, terminal.screen()
    terminal.keys("Escape")
    await wait_until(lambda: "Run a container" not in terminal.screen(), what="the form closed", interval=0.1)
    assert "No tasks" in terminal.screen()  # nothing was started

    terminal.keys("Tab")  # the Containers pane
    terminal.keys("/")
    terminal.text(name)
    terminal.keys("Enter")
    await terminal.shows(f"filter {name}", "the filtered pane")
    terminal.keys("s")
    await terminal.shows("/ #", "the container's shell prompt")
    terminal.text("echo $((6*7))-$MARK-$(cat /etc/hostname)")
    terminal.keys("Enter")
    cid = dockerd.cli("inspect", "--format", "{{.Id}}", name).strip()
    await terminal.shows(f"42-in-the-container-{cid[:12]}", "the command's output from inside the container")

    terminal.text("exit")
    terminal.keys("Enter")
    await terminal.shows(f"shell closed: sh in container {name}", "the console back, saying the shell closed")
    assert "Containers (" in terminal.screen()
    terminal.keys("q")
    status = tmp_path / "status"
    await wait_until(lambda: status.exists() and status.read_text().strip() != "", what="the console to quit", timeout=15)
    assert status.read_text().strip() == "0"
    dockerd.cli("rm", "-f", name)
