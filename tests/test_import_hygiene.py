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


def test_a_simulator_list_loads_only_what_it_uses(tmp_path):
    code = (
        "import os\n"
        f"os.environ['NTNX_CONSOLE_CONFIG'] = {str(tmp_path / 'none.toml')!r}\n"
        "import contextlib, io\n"
        "from console.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['--demo', 'hosts', 'list', '--json']) == 0\n"
    )
    assert _loaded_after(code) == []
