"""The simulator's shell: a small local program that says where it is and reads commands.

Run by the console as ``python -m backends.simulator.shell`` with ``NTNX_SIM_SHELL`` holding
where it is (JSON). It never connects anywhere.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    where = json.loads(os.environ.get("NTNX_SIM_SHELL", "{}") or "{}")
    kind = where.get("kind", "host")
    name = where.get("name", "unknown")
    prompt = f"root@{where.get('id', name)}:/# " if kind == "container" else f"core@{name}:~$ "
    print(f"Simulated shell on {kind} {name} (host {where.get('host')}, {where.get('ip')}).")
    print("Nothing here runs on a real machine. Try: hostname, uptime, docker ps, df -h, help, exit.")
    answers = {
        "hostname": where.get("id", name) if kind == "container" else name,
        "uptime": " 09:41:07 up 12 days,  3:02,  1 user,  load average: 0.42, 0.37, 0.31",
        "df -h": "Filesystem      Size  Used Avail Use% Mounted on\n/dev/sda1        40G   11G   29G  28% /",
        "whoami": "root" if kind == "container" else "core",
        "help": "hostname, uptime, whoami, df -h, docker ps, docker version, exit",
    }
    if kind == "host":
        containers = where.get("containers", [])
        answers["docker ps"] = "NAMES\n" + "\n".join(containers) if containers else "NAMES"
        answers["docker version"] = f"Server: Docker Engine - Community\n Engine:\n  Version: {where.get('engine')}"
    while True:
        try:
            line = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line in ("exit", "logout", "quit"):
            return 0
        if not line:
            continue
        print(answers.get(line, f"{line.split()[0]}: not available in the simulated shell (try help)"))


if __name__ == "__main__":
    sys.exit(main())
