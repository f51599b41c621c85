"""Prism-compatible servers for tests: the real uvicorn serving an ASGI app over HTTPS on
127.0.0.1, in a background thread with its own event loop, started and stopped with
deadlines."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import uvicorn

from backends.prism import PrismBackend
from backends.prism.client import Credentials
from backends.prism_sim.serving import CertFiles, PrismLogin, self_signed_cert
from backends.prism.about import PrismSettings
from tests.daemons import free_port

PASSWORD = "s3cret-for-tests"


@dataclass
class RunningServer:
    endpoint: str
    cert: CertFiles
    app: PrismLogin
    server: uvicorn.Server

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])


def backend_for(server: "RunningServer", **options: Any) -> PrismBackend:
    """A Prism backend for ``server``, trusting its certificate, logged in as admin."""
    settings = PrismSettings(endpoint=server.endpoint, user="admin", ca_bundle=str(server.cert.cert))
    return PrismBackend(settings, credentials=Credentials("admin", PASSWORD), **options)


@contextlib.contextmanager
def serve(app: PrismLogin, *, startup_timeout: float = 20.0) -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory(prefix="prism-test-") as tmp:
        cert = self_signed_cert(Path(tmp))
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(cert.cert),
            ssl_keyfile=str(cert.key),
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"prism-test-server-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the test Prism server on port {port} did not start")
            time.sleep(0.02)
        try:
            yield RunningServer(f"https://127.0.0.1:{port}", cert, app, server)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def sim_app(*, announce: bool = True, **sim_options: Any) -> PrismLogin:
    from backends.prism_sim.server import PrismFacade, build_app
    from backends.simulator import SimulatorBackend

    options = {"seed": 7, "speed": 0.0, "activity": False, **sim_options}
    sim = SimulatorBackend(**options)
    facade = PrismFacade(sim, advance_on_poll=options["speed"] == 0)
    return build_app(facade, user="admin", password=PASSWORD, announce=announce)
