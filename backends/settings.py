"""Settings that choose and configure a backend, merged from the CLI and a config context.

The CLI (``console.cli``) and the config (``console.config``) fill a ``Settings``;
``backends.factory.open_backend`` turns it into a backend, importing only the one chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SimulatorSettings:
    seed: int = 7
    scale: int | None = None  # containers to generate; None: the small demo cluster
    speed: float = 1.0  # simulated seconds per wall second; 0 means "as fast as possible"
    faults: str | None = None  # e.g. "all" or "crash,node,api-errors=0.05,latency=0.1,partition"
    activity: bool = True  # background activity: metrics move, containers come and go
    state_path: str | None = None  # --demo-state: keep the simulator's state between runs


@dataclass(slots=True)
class DockerSettings:
    hosts: list[str] = field(default_factory=list)  # unix://, tcp://, ssh:// URLs
    tls_verify: bool | None = None
    cert_path: str | None = None
    provision_script: str | None = None  # run on a machine without Docker Engine
    upgrade_command: str | None = None  # run over SSH for each host of an upgrade wave
    accept_new_host_keys: bool = False


@dataclass(slots=True)
class PrismSettings:
    endpoint: str | None = None  # https://HOST:9440
    user: str | None = None
    # The password is never a setting: NTNX_PASSWORD, a prompt, the keyring or password_command.
    password_command: str | None = None
    api_key_env: str | None = None
    insecure: bool = False
    ca_bundle: str | None = None
    engine_check: bool = True


@dataclass(slots=True)
class Settings:
    backend: str = "simulator"  # "simulator", "docker" or "prism"
    context: str | None = None  # the config context's name, shown in the header
    read_only: bool = False
    # Plain http:// to Prism or a registry, tcp:// without TLS to an engine: refused unless
    # the user says so (--insecure-transport), and then shown on every command and in the header.
    insecure_transport: bool = False
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    docker: DockerSettings = field(default_factory=DockerSettings)
    prism: PrismSettings = field(default_factory=PrismSettings)
