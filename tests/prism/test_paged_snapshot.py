"""Prism's paged snapshot: the first page of vms/list is the first picture, handed over before
the later pages are even answered; the first poll lists the rest (going on from that page) and
ends the load. A lying total is refused at the first page, as the whole list refuses it."""

from __future__ import annotations

import asyncio
import threading

import pytest
from starlette.responses import JSONResponse

from backends.contract import ChangeBatch
from backends.errors import ProtocolError
from tests.prism.servers import backend_for, serve
from tests.prism.test_protocol_errors import Hostile, hostile_app, v3_page, vm
from tests.waiting import wait_until


@pytest.fixture
def hostile():
    h = Hostile()
    with serve(hostile_app(h)) as server:
        yield server, h


async def test_page_one_is_shown_before_page_two_is_answered(hostile):
    server, h = hostile
    page_two = threading.Event()  # set by the test: the server thread answers offset 3 then
    offsets: list[int] = []

    async def vms(body):
        offsets.append(body["offset"])
        if body["offset"] == 0:
            return JSONResponse(v3_page("vm", [vm(f"vm-{i}") for i in range(3)], total=6))
        while not page_two.is_set():  # held back: the console must not be waiting on it
            await asyncio.sleep(0.01)
        return JSONResponse(v3_page("vm", [vm(f"vm-{i}") for i in range(3, 6)], total=6, offset=3))

    h.v3["vm"] = lambda body: _Deferred(vms, body)
    backend = backend_for(server, poll_interval=60.0)
    try:
        stream = backend.updates()
        async with asyncio.timeout(10):  # a snapshot that waited for page two would end here
            first = await backend.paged_snapshot()
        assert sorted(host.name for host in first.hosts.values()) == ["vm-0", "vm-1", "vm-2"]
        assert first.loading is not None and first.loading.kind == "hosts" and first.loading.total == 6
        await wait_until(lambda: 3 in offsets, what="page two asked for")
        assert not page_two.is_set()  # the first picture came while page two was held back

        page_two.set()
        inventory = first
        async with asyncio.timeout(20):
            async for update in stream:
                if isinstance(update, ChangeBatch):
                    inventory.apply(update)
                    if update.loading is not None and update.loading.done:
                        break
        assert sorted(host.name for host in inventory.hosts.values()) == [f"vm-{i}" for i in range(6)]
        assert offsets.count(0) == 1  # page one was not asked for again
    finally:
        page_two.set()
        await backend.close()


async def test_a_lying_total_is_refused_at_the_first_page(hostile):
    server, h = hostile
    h.v3["vm"] = lambda body: JSONResponse(v3_page("vm", [vm(f"vm-{body['offset']}")], total=1_000_000, offset=body["offset"]))
    backend = backend_for(server, poll_interval=60.0)
    try:
        with pytest.raises(ProtocolError, match=r"claims total_matches 1,000,000, more than the 100,000"):
            await backend.paged_snapshot()
        assert h.calls["vm"] == 1  # no page after the first
    finally:
        await backend.close()


class _Deferred:
    """An ASGI response made by a coroutine: the hostile server's answers are plain functions
    of the request body, and this one must wait (in the server's own loop) before answering."""

    def __init__(self, make, body) -> None:
        self.make, self.body = make, body

    async def __call__(self, scope, receive, send) -> None:
        response = await self.make(self.body)
        await response(scope, receive, send)


async def test_sim_serve_serves_a_large_world_whole():
    # The simulator makes a world this large in pages; Prism's API has no such thing, so the
    # served world is made whole before the first answer.
    from backends.prism_sim.server import PrismFacade
    from backends.simulator import SimulatorBackend

    sim = SimulatorBackend(seed=7, scale=3_000, activity=False)
    facade = PrismFacade(sim, advance_on_poll=True)
    try:
        await facade.start()
        assert len((await facade.inventory()).containers) == 3_000
    finally:
        await sim.close()
