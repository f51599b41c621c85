"""Start-up stays fast: importing the CLI, or asking it for help, loads no heavy library."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "httpx", "asyncssh", "uvicorn", "starlette", "aiohttp", "textual_serve")


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


# What the console's start may not load: libraries only other backends or screens use, and our
# own modules for them (the forms load when a form opens, the Prism and registry clients when
# those backends or screens are used, the simulator's HTTP server with `sim serve`).
NOT_AT_START = (
    "httpx", "httpcore", "h11", "anyio", "asyncssh", "cryptography", "starlette", "uvicorn",
    "aiohttp", "textual_serve", "console.web",
    "console.screens.forms", "console.screens.details", "console.screens.plots", "console.screens.logs", "console.screens.upgrade",
    "backends.registries.client", "backends.prism.client", "backends.prism.backend", "backends.prism_sim",
    "backends.docker.backend", "backends.swarm.backend",
)  # fmt: skip


def _modules_after(code: str, tmp_path: Path) -> set[str]:
    probe = (
        "import os\n"
        f"os.environ['NTNX_CONSOLE_CONFIG'] = {str(tmp_path / 'none.toml')!r}\n"
        + code
        + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(out.stdout.split())


def _not_needed(loaded: set[str]) -> list[str]:
    return [m for m in NOT_AT_START if any(name == m or name.startswith(m + ".") for name in loaded)]


def test_the_demo_shows_its_first_screen_without_what_it_does_not_use(tmp_path):
    # `ntnx-console --demo` as a user starts it (cli.main, the app on the simulator), stopped
    # once the first snapshot is drawn; run headless, as nothing here needs a terminal.
    code = (
        "from textual.app import App\n"
        "run = App.run\n"
        "def headless_run(self, *args, **kwargs):\n"
        "    kwargs['headless'] = True\n"
        "    mount = type(self).on_mount\n"
        "    def on_mount(app):\n"
        "        mount(app)\n"
        "        app.set_interval(0.05, lambda: app.store.loaded and app.call_after_refresh(app.exit))\n"
        "    type(self).on_mount = on_mount\n"
        "    return run(self, *args, **kwargs)\n"
        "App.run = headless_run\n"
        "from console.cli import main\n"
        "assert main(['--demo']) == 0\n"
    )
    loaded = _modules_after(code, tmp_path)
    assert "console.app" in loaded and "backends.simulator.backend" in loaded  # it did start
    assert _not_needed(loaded) == []


def test_listing_containers_as_json_loads_no_console_and_no_client(tmp_path):
    code = (
        "import contextlib, io\n"
        "from console.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['--demo', 'containers', 'list', '--json']) == 0\n"
    )
    loaded = _modules_after(code, tmp_path)
    assert _not_needed(loaded) == []
    # Nor the full-screen console, Textual or Rich: a JSON list needs none of them.
    assert [m for m in ("textual", "rich", "console.app", "widgets.resource_table") if m in loaded] == []


def test_the_prism_backend_loads_httpx_but_no_ssh_or_key_making(tmp_path):
    # Listing Prism's VMs speaks HTTP only: SSH (a machine's engine upgrade, its volumes) and
    # key generation (making a machine) load when they are used.
    loaded = _modules_after("import backends.prism.backend\n", tmp_path)
    assert "httpx" in loaded
    assert [m for m in ("asyncssh", "cryptography") if m in loaded] == []
