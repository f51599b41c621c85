"""Fixtures for every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_machines_dir(tmp_path_factory, monkeypatch):
    """Machine keys a test makes (Prism's create host) go to a directory of the test's own,
    never to the operator's data directory: a test must not read or leave keys there, and
    the simulator makes the same VM uuids run after run."""
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path_factory.mktemp("machines")))
