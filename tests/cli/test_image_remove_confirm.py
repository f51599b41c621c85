"""``image remove --force`` on a terminal asks first: the user types how many containers lose
their image; anything else removes nothing. Without a terminal (a script) it goes ahead; a
tag names that tag, an id (short or whole) the image."""

from __future__ import annotations

import argparse
import sys

import pytest

from backends.contract import Inventory
from backends.errors import InvalidInput, NotFound
from backends.models import Container, ContainerState, Host, HostImage, HostState
from console.host_image_commands import remove_spec

IMAGE_ID = "sha256:" + "ab12" * 16


class _Backend:
    def __init__(self) -> None:
        inv = Inventory()
        inv.hosts["h1"] = Host("h1", "node-1", HostState.RUNNING)
        for cid, name in (("c1", "web-1"), ("c2", "web-2")):
            inv.containers[cid] = Container(cid, name, "app:1", "h1", ContainerState.RUNNING)
        inv.host_images[f"h1/{IMAGE_ID}"] = HostImage(f"h1/{IMAGE_ID}", "h1", IMAGE_ID, ("app:1", "app:latest"), 100, 0.0, ("c1", "c2"))
        self.inv = inv

    async def snapshot(self) -> Inventory:
        return self.inv


def _args(image: str, force: bool) -> argparse.Namespace:
    return argparse.Namespace(image=image, host="node-1", force=force)


async def test_forced_on_a_terminal_asks_for_the_count(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "1")
    with pytest.raises(InvalidInput, match="not confirmed: nothing removed"):
        await remove_spec(_Backend(), _args("app:1", True))
    assert "used by 2 container(s): web-1, web-2" in capsys.readouterr().err
    monkeypatch.setattr("builtins.input", lambda prompt: "2")
    request = await remove_spec(_Backend(), _args("app:1", True))
    assert (request.id, request.force) == ("h1/app:1", True)


async def test_without_a_terminal_or_force_nothing_is_asked(monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked without a terminal"))
    assert (await remove_spec(_Backend(), _args("ab12ab12ab12", True))).id == f"h1/{IMAGE_ID}"
    assert (await remove_spec(_Backend(), _args("app", False))).id == "h1/app:latest"
    with pytest.raises(NotFound, match="image nope not found on node-1"):
        await remove_spec(_Backend(), _args("nope", False))
