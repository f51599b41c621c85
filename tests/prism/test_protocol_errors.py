"""A hostile Prism: every answer outside the API is one typed error naming the request and
what was wrong, in bounded time and memory, never a JSONDecodeError or AttributeError; and
the poller heals when the server comes back.

The server is the real uvicorn over TLS on 127.0.0.1 (tests/prism/servers.py); what each list
or task answers is set per test. Timeouts are made small through the client's constructor or
the modules' constants, so each case ends in about a second.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections import Counter
from typing import Any, Callable

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from backends.contract import ChangeBatch, ConnectionChanged, ConnectionState
from backends.errors import ProtocolError, TaskFailed, Unavailable
from backends.prism.client import Credentials, PrismClient
from backends.prism_sim.serving import PrismLogin
from tests.prism.servers import PASSWORD, backend_for, serve
from tests.prism.test_cli import cli
from tests.waiting import wait_until

Answer = Callable[[dict[str, Any]], Response]


def v3_page(kind: str, entities: list[dict[str, Any]], total: Any = None, offset: int = 0) -> dict[str, Any]:
    total = len(entities) if total is None else total
    return {"api_version": "3.1", "metadata": {"kind": kind, "total_matches": total, "offset": offset, "length": len(entities)}, "entities": entities}


def vm(name: str) -> dict[str, Any]:
    return {"metadata": {"uuid": f"uuid-{name}", "kind": "vm"}, "spec": {"name": name}, "status": {"name": name, "resources": {"power_state": "ON"}}}


class Hostile:
    """What each endpoint answers (a function of the request's JSON body, or of the query for
    GETs); by default a well-behaved, empty Prism. ``calls`` counts requests per endpoint."""

    def __init__(self) -> None:
        self.v3: dict[str, Answer] = {}
        self.v4_groups: Answer | None = None
        self.task: Answer | None = None
        self.calls: Counter[str] = Counter()


def hostile_app(h: Hostile) -> PrismLogin:
    async def v3_list(request: Request) -> Response:
        kind = request.path_params["kind"]
        h.calls[kind] += 1
        body = json.loads(await request.body())
        answer = h.v3.get(kind)
        return answer(body) if answer else JSONResponse(v3_page(kind, []))

    async def volume_groups(request: Request) -> Response:
        h.calls["volume-groups"] += 1
        if h.v4_groups:
            return h.v4_groups(dict(request.query_params))
        return JSONResponse({"data": [], "metadata": {"totalAvailableResults": 0}})

    async def task(request: Request) -> Response:
        h.calls["task"] += 1
        return h.task({}) if h.task else JSONResponse({"uuid": "t", "status": "SUCCEEDED"})

    async def v4_task(request: Request) -> Response:
        h.calls["v4 task"] += 1
        return JSONResponse({"data": {"extId": "t4", "status": "RUNNING", "progressPercentage": 40}})

    app = Starlette(
        routes=[
            Route("/api/nutanix/v3/{kind:str}s/list", v3_list, methods=["POST"]),
            Route("/api/volumes/v4.0/config/volume-groups", volume_groups, methods=["GET"]),
            Route("/api/nutanix/v3/tasks/{id:str}", task, methods=["GET"]),
            Route("/api/prism/v4.0/config/tasks/{id:str}", v4_task, methods=["GET"]),
        ]
    )
    return PrismLogin(app, user="admin", password=PASSWORD, product="pc.hostile", simulated=False)


@pytest.fixture(scope="module")
def served():
    h = Hostile()
    with serve(hostile_app(h)) as server:
        yield server, h


@pytest.fixture
def hostile(served):
    server, h = served
    h.__init__()
    return server, h


@pytest.fixture
async def client(hostile):
    server, h = hostile
    c = PrismClient(
        server.endpoint, Credentials("admin", PASSWORD), ca_bundle=str(server.cert.cert),
        timeout=5.0, total_timeout=1.0, max_body=1024 * 1024, max_retry_wait=0.5, max_retries=2, task_poll=(0.01, 0.05),
    )
    yield c, h, server
    await c.close()


def raw(body: bytes | str, status: int = 200, content_type: str = "application/json", **headers: str) -> Answer:
    return lambda _: Response(body, status_code=status, media_type=content_type, headers=headers or None)


def as_json(value: Any, status: int = 200) -> Answer:
    return lambda _: JSONResponse(value, status_code=status)


HTML = "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"

# (case, answer of vms/list, what the one-line error must say)
MALFORMED = [
    ("truncated JSON", raw('{"entities": [{"metadata": '), "not JSON"),
    ("JSON then junk", raw('{"entities": []} trailing'), "not JSON"),
    ("not UTF-8", raw(b'{"entities": ["\xff\xfe"]}'), "not JSON"),
    ("deeply nested", raw("[" * 200_000 + "]" * 200_000), "not JSON"),
    ("HTML with a JSON type", raw(HTML), "an HTML page (HTTP 200)"),
    ("HTML as HTML", raw(HTML, content_type="text/html"), "an HTML page (HTTP 200)"),
    ("204 empty", raw(b"", status=204), "HTTP 204 with an empty body"),
    ("200 empty", raw(b""), "HTTP 200 with an empty body"),
    ("302 redirect", raw(b"", status=302, Location="https://login.example.invalid/"), "HTTP 302, a redirect to https://login.example.invalid/"),
    ("301 redirect", raw(b"moved", status=301, content_type="text/plain"), "HTTP 301, a redirect to nowhere"),
    ("a list, not an object", as_json([vm("a")]), "a JSON list where an object was expected"),
    ("a string, not an object", as_json("ok"), "a JSON string where an object was expected"),
    ("null", as_json(None), "a JSON null where an object was expected"),
    ("entities an object", as_json({"entities": {"a": 1}, "metadata": {}}), "entities as a JSON object, not a list"),
    ("entities a number", as_json({"entities": 3, "metadata": {}}), "entities as a JSON number, not a list"),
    ("an entity a string", as_json({"entities": ["vm-1"], "metadata": {}}), "entities[0] as a JSON string, not an object"),
    ("an entity's metadata a list", as_json({"entities": [{"metadata": []}], "metadata": {}}), "entities[0].metadata as a JSON list"),
    ("an entity's status a number", as_json({"entities": [{"status": 7}], "metadata": {}}), "entities[0].status as a JSON number"),
    ("metadata a list", as_json({"entities": [], "metadata": []}), "metadata as a JSON list, not an object"),
    ("total_matches a string", as_json({"entities": [vm("a")], "metadata": {"total_matches": "lots"}}), "total_matches 'lots', not a count"),
    ("total_matches negative", as_json({"entities": [vm("a")], "metadata": {"total_matches": -1}}), "total_matches -1, not a count"),
    ("total_matches a boolean", as_json({"entities": [vm("a")], "metadata": {"total_matches": True}}), "total_matches True, not a count"),
]


@pytest.mark.parametrize("case, answer, says", MALFORMED, ids=[c[0] for c in MALFORMED])
async def test_a_malformed_answer_is_a_protocol_error_naming_the_request(client, case, answer, says):
    c, h, server = client
    h.v3["vm"] = answer
    started = time.monotonic()
    with pytest.raises(ProtocolError) as caught:
        await c.v3_list("vm")
    assert time.monotonic() - started < 5
    line = caught.value.one_line()
    assert line.startswith(f"Protocol error: {server.endpoint}: POST /api/nutanix/v3/vms/list "), line
    assert says in line and "\n" not in line and len(line) < 400, line
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    "answer, says",
    [
        (as_json({"data": {"extId": "x"}}), "data as a JSON object, not a list"),
        (as_json({"data": [1, 2]}), "data[0] as a JSON number, not an object"),
        (as_json({"data": [{"extId": "a"}], "metadata": {"totalAvailableResults": "many"}}), "totalAvailableResults 'many', not a count"),
        (raw(HTML, content_type="text/html"), "an HTML page"),
    ],
    ids=["data an object", "items numbers", "total a string", "HTML"],
)
async def test_v4_lists_are_checked_the_same_way(client, answer, says):
    c, h, server = client
    h.v4_groups = answer
    with pytest.raises(ProtocolError, match="GET /api/volumes/v4.0/config/volume-groups") as caught:
        await c.volume_groups()
    assert says in caught.value.one_line()


async def test_a_server_that_drips_a_byte_at_a_time_ends_at_the_whole_request_deadline(client):
    c, h, _ = client

    async def drip():
        yield b'{"entities": ['
        for _ in range(50):  # each byte well inside the 5 s read timeout; the client gives up at 1 s
            await asyncio.sleep(0.1)
            yield b" "

    h.v3["vm"] = lambda _: StreamingResponse(drip(), media_type="application/json")
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await c.v3_list("vm")
    assert 0.9 < time.monotonic() - started < 4
    assert "did not finish answering POST /api/nutanix/v3/vms/list within 1s" in caught.value.one_line()


@pytest.mark.parametrize("announced", [True, False], ids=["Content-Length", "streamed without end"])
async def test_an_answer_past_the_size_cap_is_refused(client, announced):
    c, h, _ = client
    if announced:
        h.v3["vm"] = raw(b"{" + b" " * (2 * 1024 * 1024) + b"}")
    else:
        async def endless():
            yield b'{"entities": ["'
            for _ in range(64):  # 4 MiB, four times the cap (a generator without end would outlive the test)
                yield b"x" * 65536

        h.v3["vm"] = lambda _: StreamingResponse(endless(), media_type="application/json")
    with pytest.raises(ProtocolError, match=r"POST /api/nutanix/v3/vms/list answer larger than 1 MiB"):
        await c.v3_list("vm")


async def test_an_impossible_v3_total_is_refused_at_the_first_page_in_bounded_memory(client):
    c, h, _ = client
    # The lying Prism: a million matches, one entity a page (8.4 GB before).
    h.v3["vm"] = lambda body: JSONResponse(v3_page("vm", [vm(f"vm-{body['offset']}")], total=1_000_000, offset=body["offset"]))
    c.total_timeout = 10.0  # tracing every allocation (the server's thread too) slows TLS down
    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(ProtocolError) as caught:
            await c.v3_list("vm")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10 and peak < 50 * 1024 * 1024
    assert "claims total_matches 1,000,000, more than the 100,000 the console accepts" in caught.value.one_line()
    assert h.calls["vm"] == 1


async def test_a_total_needing_too_many_pages_is_refused(client):
    c, h, _ = client
    h.v3["vm"] = lambda body: JSONResponse(v3_page("vm", [vm(f"vm-{body['offset']}")], total=5_000, offset=body["offset"]))
    with pytest.raises(ProtocolError, match=r"claims total_matches 5,000 at 1 a page: 5,000 pages, more than the 1,000"):
        await c.v3_list("vm")
    assert h.calls["vm"] == 1


async def test_an_impossible_v4_total_is_refused(client):
    c, h, _ = client
    h.v4_groups = lambda q: JSONResponse({"data": [{"extId": f"vg-{q['$page']}"}], "metadata": {"totalAvailableResults": 10_000_000}})
    with pytest.raises(ProtocolError, match=r"claims totalAvailableResults 10,000,000, more than the 100,000"):
        await c.volume_groups()
    assert h.calls["volume-groups"] == 1


async def test_a_page_that_repeats_ends_paging(client):
    c, h, _ = client
    # A plausible total, but every page is the first one again: paging would never add anything.
    h.v3["vm"] = lambda body: JSONResponse(v3_page("vm", [vm("same-1"), vm("same-2")], total=900))
    with pytest.raises(ProtocolError, match=r"sent a page \(\d+\) of 2 entities all seen before"):
        await c.v3_list("vm")
    assert h.calls["vm"] <= 1 + 2 * c.page_concurrency  # stopped at once, not 450 pages later


async def test_a_v4_page_that_repeats_ends_paging(client):
    c, h, _ = client
    h.v4_groups = lambda q: JSONResponse({"data": [{"extId": f"vg-{i}"} for i in range(100)], "metadata": {"totalAvailableResults": 5_000}})
    with pytest.raises(ProtocolError, match="all seen before"):
        await c.volume_groups()
    assert h.calls["volume-groups"] <= 1 + 2 * c.page_concurrency


async def test_a_list_that_shrinks_while_read_ends_without_error(client):
    c, h, _ = client
    names = [f"vm-{i}" for i in range(5)]

    def shrinking(body):
        # says 7, has 5: the pages past the end are empty (VMs deleted while listing)
        return JSONResponse(v3_page("vm", [vm(n) for n in names[body["offset"] : body["offset"] + 2]], total=7))

    h.v3["vm"] = shrinking
    assert [e["spec"]["name"] for e in await c.v3_list("vm")] == names


async def test_a_huge_retry_after_is_not_waited_for(client):
    c, h, _ = client
    h.v3["cluster"] = raw(b'{"message": "busy"}', status=503, **{"Retry-After": "1000000000"})
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await c.open()
    assert time.monotonic() - started < 2
    assert "asked to retry after 1000000000s, longer than the 0s the console waits" in caught.value.one_line() or \
        "asked to retry after 1000000000s" in caught.value.one_line()
    assert caught.value.retry_after == 1e9 and h.calls["cluster"] == 1


async def test_busy_retries_are_bounded_and_visible(client, caplog):
    c, h, _ = client
    h.v3["cluster"] = raw(b'{"message": "slow down"}', status=429, **{"Retry-After": "0.05"})
    with caplog.at_level("WARNING", logger="backends.prism.client"):
        with pytest.raises(Unavailable) as caught:
            await c.open()
    assert h.calls["cluster"] == 3  # the first try and max_retries=2
    assert "still busy (HTTP 429: slow down) after 2 retries over 0.1s" in caught.value.one_line()
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        f"{c.endpoint} busy (HTTP 429), retry 1 of 2 in 0.1s",
        f"{c.endpoint} busy (HTTP 429), retry 2 of 2 in 0.1s",
    ]


async def test_a_task_that_never_ends_is_given_up_naming_its_last_state(client):
    c, h, _ = client
    h.task = as_json({"uuid": "t", "status": "RUNNING", "percentage_complete": 30})
    started = time.monotonic()
    with pytest.raises(TaskFailed) as caught:
        await c.wait_v3_task("t", timeout=0.3)
    assert time.monotonic() - started < 2
    assert caught.value.one_line() == "Task failed: task t did not end within 0.3s (last RUNNING at 30%); it may still be running on Prism"
    with pytest.raises(TaskFailed, match=r"task t4 did not end within 0.3s \(last RUNNING at 40%\)"):
        await c.wait_v4_task("t4", timeout=0.3)


async def test_a_task_with_a_wrong_status_type_is_a_protocol_error(client):
    c, h, _ = client
    h.task = as_json({"uuid": "t", "status": ["RUNNING"]})
    with pytest.raises(ProtocolError, match=r"GET /api/nutanix/v3/tasks/t answered the task's status as a JSON list"):
        await c.wait_v3_task("t", timeout=1)


async def test_wrong_types_deep_in_an_entity_are_a_protocol_error_from_the_backend(hostile):
    server, h = hostile
    # Valid at the list level; the VM's resources are a list where the parser reads an object.
    bad = vm("odd")
    bad["status"]["resources"] = ["not", "an", "object"]
    h.v3["vm"] = as_json(v3_page("vm", [bad]))
    backend = backend_for(server)
    try:
        with pytest.raises(ProtocolError) as caught:
            await backend.snapshot()
    finally:
        await backend.close()
    assert "answered in a shape the console cannot read (AttributeError" in caught.value.one_line()


# -- through the CLI: exit 3 and exactly one line -------------------------------------------


@pytest.mark.parametrize(
    "answer, says",
    [
        (raw('{"entities": ['), "not JSON"),
        (raw(HTML, content_type="text/html"), "an HTML page (HTTP 200)"),
        (raw(b"", status=302, Location="https://login.example.invalid/"), "a redirect to https://login.example.invalid/"),
        (raw(b"", status=204), "HTTP 204 with an empty body"),
        (as_json({"entities": [vm("a")], "metadata": {"total_matches": 1_000_000}}), "more than the 100,000"),
    ],
    ids=["not JSON", "HTML", "302", "204", "a million"],
)
def test_the_cli_says_it_in_one_line_and_exits_3(hostile, answer, says):
    server, h = hostile
    h.v3["vm"] = answer
    # The real entry point in its own process (as tests/prism/test_cli.py runs it): its exit
    # closes every connection, so the module's server stops at once after the tests.
    started = time.monotonic()
    done = cli(server, "hosts", "list", "--json", timeout=30)
    assert time.monotonic() - started < 20
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3 and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("Protocol error: ") and says in lines[0], done.stderr


# -- polling heals -------------------------------------------------------------------------


async def test_polling_reports_garbage_then_reconnects_with_fresh_data(hostile):
    server, h = hostile
    h.v3["vm"] = as_json(v3_page("vm", [vm("web-1")]))
    backend = backend_for(server, poll_interval=0.1)
    updates: list[Any] = []

    async def collect() -> None:
        async for update in backend.updates():
            updates.append(update)

    try:
        first = await backend.snapshot()
        assert {x.name for x in first.hosts.values()} == {"web-1"}
        backend._poller.max_backoff = 0.3  # the backoff's cap, small for the test
        collector = asyncio.create_task(collect())
        # The failure: seconds of HTML and malformed JSON in turn.
        garbage = iter([raw(HTML, content_type="text/html"), raw('{"entities": [')] * 1000)
        h.v3["vm"] = lambda body: next(garbage)(body)
        states = lambda: [u for u in updates if isinstance(u, ConnectionChanged)]  # noqa: E731
        await wait_until(lambda: len(states()) >= 2, timeout=10, what="unreachable notices while the server is broken")
        down = states()[0]
        assert down.state is ConnectionState.UNREACHABLE
        assert down.reason.startswith("Protocol error: ") and "(retry 1 in " in down.reason, down.reason
        assert down.since <= time.time()  # when the data was last good: its age counts from there
        # The server recovers, with a new machine: the poller says so and brings it.
        h.v3["vm"] = as_json(v3_page("vm", [vm("web-1"), vm("web-2")]))
        await wait_until(lambda: states()[-1].state is ConnectionState.CONNECTED, timeout=10, what="connected again")
        await wait_until(
            lambda: any(isinstance(u, ChangeBatch) and any(c.id == "uuid-web-2" for c in u.changes) for u in updates),
            timeout=10, what="the new machine after recovery",
        )
        assert backend._poller.failures == 0
        collector.cancel()
    finally:
        await backend.close()
