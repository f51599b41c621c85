"""One presenter per resource kind: the CLI and the console show a state in the same colour,
and every kind the CLI lists has a presenter."""

from __future__ import annotations

import io

from rich.console import Console

from backends.contract import KIND_NAMES, HostSpec
from backends.models import Volume, VolumeState
from backends.simulator import SimulatorBackend
from console import output, presenters
from console.presenters import volumes


def ansi(text) -> str:
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="standard", width=200).print(text, end="")
    return buf.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:  # the CLI colours its tables on a terminal only
        return True


async def test_every_kind_has_a_presenter_with_rows_and_a_table():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    await sim.connect()
    try:
        inv = await sim.snapshot()
        await sim.create_host(HostSpec("web-77", "ubuntu-22.04-docker-26.1.4", 1, 1024, "vlan110-apps"))  # a task
        inv = await sim.snapshot()
        for kind in KIND_NAMES:
            rows = presenters.rows(kind, inv)
            assert len(rows) == len(inv.of(kind)) and all("id" in r for r in rows), kind
            assert presenters.PRESENTERS[kind].table, kind
        assert presenters.rows("tasks", inv)
    finally:
        await sim.close()


def test_a_state_has_the_same_colour_in_the_cli_and_the_console():
    for state in VolumeState:
        volume = Volume(id="v1", name="data", size_gib=1.0, state=state)
        # The console's cell, as the table draws it.
        cell = next(c for c in volumes.columns(None) if c.key == "state").cell(volume)
        # The CLI's table on a terminal.
        out = Terminal()
        output.print_table("volumes", [{"name": "data", "size_gib": 1.0, "state": state.value, "host": None, "containers": []}], out)
        coloured = ansi(cell)
        code = coloured[: coloured.index(state.value)]
        if code:  # a state with a colour: the CLI's table carries the same escape before it
            assert code + state.value in out.getvalue(), (state, code, out.getvalue())
