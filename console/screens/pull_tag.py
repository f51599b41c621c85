"""Pull a registry's tag onto a host, from the Registries screen's tags level (`p`).

The form only picks the host; what runs is the Images screen's pull (the ``host_image.pull``
action record), so the credentials come from ``console.registry_auth`` as for every pull and
the progress shows in the Tasks strip. The reference is the one ``image pull`` takes: the
registry's server (host[:port] of its URL; none for Docker Hub), then repository:tag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Select, Static

from backends.contract import PullSpec

from .. import actions
from ..presenters.base import shown
from .forms import FormScreen

if TYPE_CHECKING:
    from backends.registries.models import RegistryEntry


def reference_of(entry: "RegistryEntry", repository: str, tag: str) -> str:
    """What a pull of ``repository:tag`` from ``entry`` names, as ``image pull`` would."""
    from console.registry_auth import DOCKER_HUB_HOSTS, server_of

    server = server_of(entry)
    return f"{repository}:{tag}" if server in DOCKER_HUB_HOSTS else f"{server}/{repository}:{tag}"


def default_host(app: Any, hosts: list[Any]) -> str | None:
    """The host in focus on the dashboard when it is one of ``hosts``, else the first."""
    from .dashboard import DashboardScreen

    dashboard = next((s for s in app.screen_stack if isinstance(s, DashboardScreen)), None)
    focused = dashboard.focused_host_id() if dashboard is not None else None
    ids = [h.id for h in hosts]
    return focused if focused in ids else (ids[0] if ids else None)


class PullTagForm(FormScreen):
    """The host to pull ``reference`` onto: the running hosts (the pull action needs a
    running engine); dismissed with a PullSpec, or None."""

    HEADING = "Pull an image"
    SUBMIT = "Pull"

    def __init__(self, reference: str) -> None:
        super().__init__(actions.FormContext(pane="host_images"))
        self.reference = reference

    def fields(self) -> ComposeResult:
        hosts = self.running_hosts()
        chosen = default_host(self.app, hosts)
        yield from self.field(
            "Host",
            Select([(shown(self.named(h)), h.id) for h in hosts], value=chosen or Select.NULL, id="host", compact=True),
            "a configured registry's credentials are sent with the pull",
        )

    def on_mount(self) -> None:
        self.query_one(".form-title", Static).update(shown(f"Pull {self.reference}"))
        super().on_mount()

    def problems(self) -> dict[str, str]:
        if self.choice("host") is None:
            return {"host": "no running host to pull onto" if not self.running_hosts() else "the host to pull onto"}
        return {}

    def spec(self) -> PullSpec:
        return PullSpec(host=self.choice("host"), image=self.reference)
