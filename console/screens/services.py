"""Swarm forms: scale a service (the Services pane's scale key, ``service.scale``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from backends import validation
from backends.contract import ScaleSpec
from backends.validation import MAX_REPLICAS

from ..presenters.base import shown
from .forms import FormScreen


class ScaleServiceForm(FormScreen):
    """The number of tasks for the service under the Services pane's cursor, starting from
    how many it wants now. A global service runs one task per node: said, and not sent."""

    HEADING = "Scale a service"
    SUBMIT = "Scale"

    @property
    def service(self):
        return self.inventory.services.get(self.context.cursor("services") or "")

    def fields(self) -> ComposeResult:
        s = self.service
        now = f"{s.replicas_running} of {s.replicas_desired} running now" if s is not None else ""
        yield from self.field(
            "Replicas",
            Input(str(s.replicas_desired) if s is not None else "1", id="replicas", compact=True),
            f"0 to {MAX_REPLICAS}; {now}" if now else f"0 to {MAX_REPLICAS}",
        )

    def on_mount(self) -> None:
        # The service's name is data: put in the heading as Text, never read as markup.
        s = self.service
        if s is not None:
            self.query_one(".form-title", Static).update(shown(f"Scale service {s.name}"))
        super().on_mount()

    def problems(self) -> dict[str, str]:
        s = self.service
        if s is None:
            return {"replicas": "the service is gone"}
        if s.mode != "replicated":
            return {"replicas": f"{s.name} is {s.mode}: it runs one task per node and is not scaled"}
        text = self.value("replicas")
        if (p := validation.whole_number_problem(text, "replicas", 0, MAX_REPLICAS)):
            return {"replicas": p}
        return {}

    def spec(self) -> ScaleSpec:
        return ScaleSpec(service=self.service.id, replicas=int(self.value("replicas")))
