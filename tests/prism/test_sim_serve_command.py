"""``ntnx-console sim serve`` as a user starts it: it prints where it listens, the CA bundle
to trust and the generated password, and the console's own CLI then lists its hosts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.daemons import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_sim_serve_prints_how_to_connect_and_serves_the_simulator(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env["NTNX_CONSOLE_SIM_DIR"] = str(tmp_path)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "console", "sim", "serve", "--port", str(port), "--speed", "0", "--seed", "3"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"sim serve did not listen: {log.read_text()}"
                time.sleep(0.05)
        text = log.read_text()
        assert f"https://127.0.0.1:{port}" in text
        password = re.search(r"user admin, password (\S+)", text).group(1)
        bundle = re.search(r"CA bundle: (\S+)", text).group(1)
        # One certificate directory per port: servers running at once never share one.
        assert Path(bundle).parent == tmp_path / f"port-{port}"
        env["NTNX_PASSWORD"] = password
        done = subprocess.run(
            [sys.executable, "-m", "console", "--backend", "prism", "--prism-endpoint", f"https://127.0.0.1:{port}",
             "--prism-user", "admin", "--ca-bundle", bundle, "hosts", "list", "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        hosts = json.loads(done.stdout)
        assert len(hosts) >= 10 and all(h["ip"].startswith("127.") for h in hosts)
        assert password not in done.stdout + done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
