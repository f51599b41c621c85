"""Several engines paint as each one answers: one slow engine does not hold back the others."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backends.contract import ChangeBatch, Loading
from backends.docker import DockerBackend
from backends.models import HostState
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


class SlowEngine:
    """A unix socket that accepts a request and holds it until released (bounded), then hangs
    up without an answer: an engine whose first attempt is slow and then fails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"unix://{path}"
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "SlowEngine":
        self.server = await asyncio.start_unix_server(self._hold, path=str(self.path))
        return self

    async def __aexit__(self, *exc) -> None:
        self.release.set()
        assert self.server is not None
        self.server.close()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.asked.set()
            await asyncio.wait_for(self.release.wait(), timeout=15)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_the_first_engine_paints_before_a_slow_one_answers(dockerd, image, name, tmp_path):
    dockerd.cli("create", "--network", "none", "--name", name, image)
    async with SlowEngine(tmp_path / "slow.sock") as slow:
        backend = DockerBackend([dockerd.url, slow.url])
        batches: list[ChangeBatch] = []

        async def follow() -> None:
            async for update in backend.updates():
                if isinstance(update, ChangeBatch):
                    batches.append(update)

        follower = asyncio.create_task(follow())
        try:
            await asyncio.wait_for(backend.connect(), timeout=10)
            await wait_until(lambda: backend._broadcast.subscribed, what="the follower subscribed")
            first = await backend.paged_snapshot()
            assert slow.asked.is_set() and not slow.release.is_set()
            assert first.loading == Loading("hosts", 2)
            assert [h.endpoint for h in first.hosts.values()] == [dockerd.url]
            assert next(iter(first.hosts.values())).state is HostState.RUNNING
            assert name in {c.name for c in first.containers.values()}

            slow.release.set()
            await wait_until(lambda: any(b.loading and b.loading.done for b in batches), what="the load's last page")
            pages = [b for b in batches if b.loading is not None]
            assert pages[-1].loading == Loading("hosts", 2, done=True)
            for batch in batches:
                first.apply(batch)
            late = {h.endpoint: h for h in first.hosts.values()}[slow.url]
            assert late.state is HostState.UNREACHABLE and late.reason
            # The CLI's one-shot view lists both, as it always did.
            assert {h.endpoint for h in (await backend.snapshot()).hosts.values()} == {dockerd.url, slow.url}
        finally:
            await backend.close()
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            dockerd.cli("rm", "-f", name, check=False)


async def test_one_shot_snapshot_waits_for_every_first_attempt(dockerd, tmp_path):
    async with SlowEngine(tmp_path / "slow.sock") as slow:
        backend = DockerBackend([dockerd.url, slow.url])
        try:
            await asyncio.wait_for(backend.connect(), timeout=10)
            whole = asyncio.create_task(backend.snapshot())
            await wait_until(lambda: slow.asked.is_set(), what="the slow engine asked")
            done, _ = await asyncio.wait({whole}, timeout=0.3)
            assert not done  # still on the slow engine's first attempt
            slow.release.set()
            hosts = {h.endpoint: h for h in (await asyncio.wait_for(whole, timeout=10)).hosts.values()}
            assert set(hosts) == {dockerd.url, slow.url} and hosts[slow.url].state is HostState.UNREACHABLE
        finally:
            await backend.close()
