"""Parametrizes the contract suite over every backend module in ``envs/``."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

from . import envs

ENV_NAMES = sorted(m.name for m in pkgutil.iter_modules(envs.__path__) if not m.name.startswith("_"))


def _open(name: str, read_only: bool) -> Any:
    return importlib.import_module(f"{envs.__name__}.{name}").open_env(read_only=read_only)


@pytest.fixture(params=ENV_NAMES)
async def env(request: pytest.FixtureRequest):
    async with _open(request.param, False) as e:
        yield e


@pytest.fixture(params=ENV_NAMES)
async def read_only_env(request: pytest.FixtureRequest):
    async with _open(request.param, True) as e:
        yield e
