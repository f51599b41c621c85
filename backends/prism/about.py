"""The Prism backend as the registry sees it: its settings (config keys and options) and
endpoint checks. Light on purpose: no httpx here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contract import HOST_IMAGE_CAPABILITIES, Capability
from ..endpoints import check_https_url
from ..errors import InvalidInput
from ..registry import BackendInfo, Resolving
from .settings import PrismSettings

if TYPE_CHECKING:
    from ..settings import Settings


def finish(p: PrismSettings, how: Resolving) -> None:
    if not p.endpoint:
        raise InvalidInput("the prism backend needs --prism-endpoint https://HOST:9440 (or a context)")


def check(settings: "Settings") -> None:
    if settings.prism.endpoint:
        check_https_url(settings.prism.endpoint, "Prism endpoint", insecure_transport=settings.insecure_transport)


def before_full_screen(p: PrismSettings) -> None:
    # The password prompt comes first, on the terminal as the user left it: once Textual has
    # it (raw, and the backend connects in a worker) a prompt would ignore Enter.
    from .credentials import ask_before_full_screen

    ask_before_full_screen(p)


def warnings(settings: "Settings") -> list[str]:
    if settings.prism.insecure:
        return ["Warning: TLS verification is OFF (--insecure): anyone on the path can read the password and the data"]
    return []


# Containers come from the machines' own engines: the container capabilities are claimed at
# run time while at least one engine is followed (see PrismBackend).
ENGINE_CAPABILITIES = frozenset(
    {
        Capability.CONTAINERS_RUN,
        Capability.CONTAINERS_LIFECYCLE,
        Capability.CONTAINERS_REMOVE,
        Capability.CONTAINERS_LOGS,
        Capability.CONTAINERS_SHELL,
        Capability.CONTAINERS_INSPECT,
        Capability.STATS,
        # The images on each machine's engine (listed, pulled, removed, pruned), as the Docker backend's.
        *HOST_IMAGE_CAPABILITIES,
    }
)
OWN_CAPABILITIES = frozenset(
    {
        Capability.HOSTS_CREATE,
        Capability.HOSTS_DELETE,
        Capability.HOSTS_POWER,
        Capability.HOSTS_UPGRADE,
        Capability.HOSTS_SHELL,
        Capability.VOLUMES_CREATE,
        Capability.VOLUMES_ATTACH,
        Capability.VOLUMES_HOST_ATTACH,
        Capability.VOLUMES_DELETE,
        Capability.TASKS_CONTROL,
        Capability.PROJECTS,
        Capability.NODES,
        Capability.NETWORKS,
        Capability.STATS_HISTORY,  # a VM's past from Prism's stats API (hosts; containers have none)
    }
)

BACKEND = BackendInfo(
    name="prism",
    summary="Prism Central's v3 REST API and v4 Volumes API: container machines on Nutanix",
    settings=PrismSettings,
    loader="backends.prism.backend:PrismBackend",
    capabilities=OWN_CAPABILITIES | ENGINE_CAPABILITIES,
    options_title="prism (--backend prism; the password comes from NTNX_PASSWORD or a prompt)",
    finish=finish,
    check=check,
    warnings=warnings,
    before_full_screen=before_full_screen,
)
