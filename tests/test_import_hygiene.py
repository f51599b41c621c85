"""Start-up stays fast: importing the CLI, or asking it for help, loads no heavy library."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "httpx", "asyncssh", "uvicorn", "starlette")


def _loaded_after(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    top_level = set(out.stdout.split())
    return [m for m in HEAVY if m in top_level]


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import console.cli") == []


def test_help_loads_no_heavy_library_and_is_quick():
    assert _loaded_after("from console.cli import main\nassert main(['--help']) == 0") == []
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "console", "--help"], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0 and "usage: ntnx-console" in proc.stdout
    # Python itself starts in ~20 ms here; Textual alone would add ~300 ms.
    assert elapsed < 1.0, f"--help took {elapsed:.2f}s"
