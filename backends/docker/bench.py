"""Listing N containers: the console versus ``docker ps -a`` on the same engine.

    .venv/bin/python -m backends.docker.bench [--count 1000] [--docker-host unix://PATH]

Without ``--docker-host`` it starts a private dockerd (tests/daemons.py; run it from the
repository root). It creates N containers the way ``docker create`` does (POST
/containers/create, a few at a time, from a tiny image, never started), times each way of
listing them, and removes what it made.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import httpx

LABEL = "ntnx-console-bench"
IMAGE = "ntnx-bench-empty:latest"
CREATE_CONCURRENCY = 4


def _client(url: str) -> httpx.AsyncClient:
    if not url.startswith("unix://"):
        raise SystemExit("the bench talks to a unix:// engine")
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=url[len("unix://"):]), base_url="http://docker", timeout=120
    )


def _empty_image_tar() -> bytes:
    # Containers that are only created need no runnable file: a near-empty image keeps the
    # vfs storage driver from copying megabytes per container.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"bench\n"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def create_containers(url: str, count: int) -> None:
    async with _client(url) as client:
        response = await client.post(
            "/images/create", params={"fromSrc": "-", "repo": IMAGE.split(":")[0], "tag": "latest"},
            content=_empty_image_tar(), headers={"Content-Type": "application/x-tar"},
        )
        response.raise_for_status()
        queue = iter(range(count))

        async def worker() -> None:
            for i in queue:
                body = {"Image": IMAGE, "Cmd": ["/README"], "Labels": {LABEL: "1"}, "HostConfig": {"NetworkMode": "none"}}
                r = await client.post("/containers/create", params={"name": f"bench-{i:04d}"}, json=body)
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))


async def remove_containers(url: str) -> None:
    async with _client(url) as client:
        filters = json.dumps({"label": [LABEL]})
        (await client.post("/containers/prune", params={"filters": filters})).raise_for_status()
        await client.delete(f"/images/{IMAGE}")


def time_command(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=300, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def time_backend(url: str, runs: int, count: int) -> float:
    from backends.docker import DockerBackend

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backend = DockerBackend([url])
        await backend.connect()
        inv = await backend.snapshot()
        times.append(time.perf_counter() - start)
        await backend.close()
        if len(inv.containers) < count:
            raise SystemExit(f"the backend listed {len(inv.containers)} containers, expected {count}+")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backends.docker.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--docker-host", help="unix:// URL of an engine (default: start a private dockerd)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 5000:
        raise SystemExit("--count must be between 1 and 5000")

    daemon = None
    url = args.docker_host
    if url is None:
        sys.path.insert(0, os.getcwd())
        from tests.daemons import cleanup_dockerd, start_dockerd

        daemon = start_dockerd()
        url = daemon.url
    docker = shutil.which("docker") or "docker"
    env_dir = tempfile.mkdtemp(prefix="ntnx-bench-")
    try:
        started = time.perf_counter()
        asyncio.run(create_containers(url, args.count))
        print(f"created {args.count} containers in {time.perf_counter() - started:.1f}s")
        ps = time_command([docker, "-H", url, "ps", "-a"], args.runs)
        ps_json = time_command([docker, "-H", url, "ps", "-a", "--format", "{{json .}}"], args.runs)
        backend = asyncio.run(time_backend(url, args.runs, args.count))
        cli = time_command(
            [sys.executable, "-m", "console", "--backend", "docker", "--docker-host", url, "containers", "list", "--json"],
            max(1, args.runs // 2),
            env={**os.environ, "NTNX_CONSOLE_CONFIG": os.path.join(env_dir, "config.toml")},
        )
        print(f"docker ps -a                                  {ps * 1000:8.0f} ms")
        print(f"docker ps -a --format json                    {ps_json * 1000:8.0f} ms")
        print(f"DockerBackend connect + snapshot              {backend * 1000:8.0f} ms")
        print(f"ntnx-console containers list --json (process) {cli * 1000:8.0f} ms")
    finally:
        asyncio.run(remove_containers(url))
        shutil.rmtree(env_dir, ignore_errors=True)
        if daemon is not None:
            cleanup_dockerd(daemon)


if __name__ == "__main__":
    main()
