"""Every CLI test runs with its own config file path (never the user's) and a tmp state file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return path


@pytest.fixture
def state(tmp_path: Path) -> str:
    return str(tmp_path / "sim-state.json")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``main(argv)`` in this process, as the console script would."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_command(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """The real entry point in a child process: `python -m console ...`."""
    proc = subprocess.run(
        [sys.executable, "-m", "console", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
