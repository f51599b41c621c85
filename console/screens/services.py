"""Swarm forms: scale a service (``service.scale``), update its image with the preview of the
waves (``service.update``), confirm a rollback (``service.rollback``), rotate a secret with a
masked value (``secret.rotate``)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Static

from backends import validation
from backends.contract import ScaleSpec, ServiceUpdateSpec
from backends.validation import MAX_REPLICAS

from widgets.resource_table import ResourceTable

from ..actions import RotateRequest, UpdateRequest
from ..presenters import configs as configs_presenter
from ..presenters import services as services_presenter
from ..presenters.base import shown
from ..store import Drained
from .forms import FormScreen
from .lists import ListScreen


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


# -- rolling update, rollback, rotation -------------------------------------------------------


class _ServiceForm(FormScreen):
    """A form about the service under the Services pane's cursor."""

    @property
    def service(self):
        return self.inventory.services.get(self.context.cursor("services") or "")

    def preview(self, lines: list[str]) -> None:
        # Names and images are the server's: each line Text (never markup, its controls
        # made visible), joined by real line breaks.
        self.query_one("#preview", Static).update(Text("\n").join(shown(line) for line in lines))

    def retitle(self, text: str) -> None:
        self.query_one(".form-title", Static).update(shown(text))


class UpdateServiceForm(_ServiceForm):
    """The new image, and the waves the service's update policy will make of its tasks (the
    same lines ``service update --dry-run`` prints), before anything is sent."""

    HEADING = "Update a service"
    SUBMIT = "Update"

    def fields(self) -> ComposeResult:
        s = self.service
        yield from self.field(
            "Image", Input(s.image if s is not None else "", id="image", compact=True),
            "the new image; the swarm replaces the tasks in the waves below",
        )
        yield Static("", id="preview", classes="hint")

    def revalidate(self) -> dict[str, str]:
        problems = super().revalidate()
        s = self.service
        if s is None:
            return problems
        image = self.value("image")
        waves = services_presenter.update_plan(self.inventory, s, self.app.store.host_name)
        count = services_presenter.task_count(waves)
        self.retitle(f"Update {s.name} ({count} task{'s' if count != 1 else ''}) to {image or '…'}")
        self.preview([f"from {s.image}", f"policy: {services_presenter.policy_text(s.update_policy)}",
                      *services_presenter.wave_lines(waves)])
        return problems

    def problems(self) -> dict[str, str]:
        s = self.service
        if s is None:
            return {"image": "the service is gone"}
        image = self.value("image")
        if (p := validation.image_ref_problem(image)):
            return {"image": p}
        if image == s.image:
            return {"image": f"{s.name} already runs {image}"}
        return {}

    def spec(self) -> UpdateRequest:
        s = self.service
        return UpdateRequest(s.name, ServiceUpdateSpec(service=s.id, image=self.value("image")))


class RollbackServiceForm(_ServiceForm):
    """The confirmation of a rollback: to which image, and the waves the service's rollback
    policy makes. Dismissed with the service."""

    HEADING = "Roll back a service"
    SUBMIT = "Roll back"

    def fields(self) -> ComposeResult:
        yield Static("", id="preview", classes="hint")
        yield Static("", classes="error", id="rollback-error")

    def first_field(self):
        return self.query_one("#cancel")

    def revalidate(self) -> dict[str, str]:
        problems = super().revalidate()
        s = self.service
        if s is not None:
            self.retitle(f"Roll back {s.name} to {s.previous_image or '(nothing)'}")
            waves = services_presenter.update_plan(self.inventory, s, self.app.store.host_name, policy=s.rollback_policy)
            self.preview([f"from {s.image}", f"rollback policy: {services_presenter.policy_text(s.rollback_policy)}",
                          *services_presenter.wave_lines(waves)])
        return problems

    def problems(self) -> dict[str, str]:
        s = self.service
        if s is None:
            return {"rollback": "the service is gone"}
        if s.previous_image is None:
            return {"rollback": f"{s.name} has no previous spec: nothing to roll back to"}
        return {}

    def spec(self):
        return self.service


class RotateSecretForm(FormScreen):
    """The new value of the secret under the Secrets pane's cursor, typed masked. The value
    leaves only in the request (never in a notification: those name the secret)."""

    HEADING = "Rotate a secret"
    SUBMIT = "Rotate"

    @property
    def secret(self):
        return self.inventory.secrets.get(self.context.cursor("secrets") or "")

    def fields(self) -> ComposeResult:
        s = self.secret
        users = sorted(v.name for v in self.inventory.services.values() if s is not None and s.id in v.secret_ids)
        moved = f"services moved to the new secret: {', '.join(users)}" if users else "no service uses it"
        yield from self.field("New value", Input(id="value", password=True, compact=True), moved)

    def on_mount(self) -> None:
        s = self.secret
        if s is not None:
            self.query_one(".form-title", Static).update(shown(f"Rotate secret {s.name}"))
        super().on_mount()

    def problems(self) -> dict[str, str]:
        if self.secret is None:
            return {"value": "the secret is gone"}
        data = self.query_one("#value", Input).value.encode()
        if not data:
            return {"value": "a value is needed"}
        if len(data) > 500 * 1024:
            return {"value": "at most 500 KiB"}
        return {}

    def spec(self) -> RotateRequest:
        s = self.secret
        # As typed: a secret's spaces are part of it.
        return RotateRequest(s.name, s.id, self.query_one("#value", Input).value.encode())


# -- :configs ---------------------------------------------------------------------------------


class ConfigsScreen(ListScreen):
    """`:configs` where the backend has them: every config with the services that use it
    (rows patched when their services change); filtered with /, closed with escape.
    Creating and removing one is the CLI's (`config create`, `config remove`)."""

    KIND = "configs"
    SORT = "name"

    def columns(self):
        return configs_presenter.columns()

    def on_mount(self, event) -> None:
        event.prevent_default()  # the list's own on_mount would show the bare Configs
        table = self.query_one(ResourceTable)
        table.set_rows(configs_presenter.pane_rows(self.app.store.inventory))
        table.sort_by(self.SORT)
        table.focus()
        self.query_one("#prompt").display = False

    def apply_changes(self, drained: Drained) -> None:
        if drained.resynced or drained.touched("configs") or drained.touched("services"):
            table = self.query_one(ResourceTable)
            rows = configs_presenter.pane_rows(self.app.store.inventory)
            shown_now = table.rows_by_id
            changed = [row for row in rows if shown_now.get(row.id) != row]
            gone = set(shown_now) - {row.id for row in rows}
            if changed or gone:
                table.apply(changed, gone)
        self.refresh_status()
