"""`containers list --json` is written as its rows are made: the same array, item for item, as
the rows made all at once."""

from __future__ import annotations

import argparse
import asyncio
import io
import json

from backends.settings import Settings
from backends.simulator.about import SimulatorSettings
from console import cli, output, presenters


def _all_at_once(rows: list[dict]) -> str:
    """How the array was written before it was streamed: one string."""
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"


def test_a_generator_is_written_as_the_same_array_as_a_list():
    rows = [{"id": f"c{n}", "name": f"app-{n}", "cpu": n / 3, "ports": [n], "gone": None} for n in range(250)]
    for count in (0, 1, output.JSON_BATCH - 1, output.JSON_BATCH, output.JSON_BATCH + 1, 250):
        streamed = io.StringIO()
        output.print_json((row for row in rows[:count]), streamed)
        assert streamed.getvalue() == _all_at_once(rows[:count])
        assert json.loads(streamed.getvalue()) == rows[:count]


def test_containers_list_json_streams_the_rows_of_the_snapshot(capsys):
    from backends.factory import open_backend

    async def run() -> list[dict]:
        settings = Settings(simulator=SimulatorSettings(seed=11, scale=400, speed=0.0, activity=False))
        backend = open_backend(settings)
        await backend.connect()
        try:
            args = argparse.Namespace(kind="containers", json=True, images_host=None)
            assert await cli._list(backend, args) == 0
            # The rows made all at once from the same snapshot, as before.
            return presenters.rows("containers", await backend.snapshot())
        finally:
            await backend.close()

    expected = asyncio.run(run())
    printed = capsys.readouterr().out
    streamed = json.loads(printed)
    assert len(streamed) == len(expected) > 300
    # A row may carry the context it came from (several contexts): the same with or without it.
    assert [{k: v for k, v in r.items() if k != "context"} for r in streamed] == expected
    assert presenters.rows("containers", _empty()) == list(presenters.stream_rows("containers", _empty())) == []


def _empty():
    from backends.contract import Inventory

    return Inventory()
