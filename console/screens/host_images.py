"""The Images screen: the container images on one host's engine (`I` on Hosts, or `:images`),
live, filtered and sorted as the panes are. Its keys come from the action records of the
``host_images`` pane (``console.actions``): pull (a form with the image reference; progress
in the Tasks strip), remove (a confirmation; the engine's refusal names the containers) and
prune (a confirmation saying how many images and how many bytes at most would go)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from backends.contract import PullSpec
from backends.validation import check_image_ref
from backends.errors import InvalidInput
from widgets.resource_table import ResourceTable
from widgets.terminal_text import visible

from .. import actions
from ..presenters import host_images
from ..presenters.base import shown
from .forms import FormScreen
from .lists import ListScreen

PANE = "host_images"


def _bindings() -> list[Binding]:
    return [
        Binding(a.keys, f"act({a.id!r})", a.title, id=a.id, tooltip=a.help)
        for a in actions.ACTIONS
        if a.keys and a.panes == (PANE,)
    ]


class PullImageForm(FormScreen):
    """The reference to pull onto the Images screen's host; the credentials are looked up
    when it runs (``console.registry_auth``), never typed here."""

    HEADING = "Pull an image"
    SUBMIT = "Pull"

    def __init__(self, host_id: str, host_name: str) -> None:
        super().__init__(actions.FormContext(pane=PANE, host_id=host_id))
        self.host_id = host_id
        self.host_name = host_name

    def fields(self) -> ComposeResult:
        yield from self.field(
            "Image", Input(placeholder="registry.example.local:5000/app:1.2", id="image", compact=True),
            "[registry/]repository[:tag|@digest]; a configured registry's credentials are sent with it",
        )

    def on_mount(self) -> None:
        self.query_one(".form-title", Static).update(shown(f"Pull an image onto {self.host_name}"))
        super().on_mount()

    def problems(self) -> dict[str, str]:
        text = self.value("image")
        if not text:
            return {"image": "the image to pull"}
        try:
            check_image_ref(text)
        except InvalidInput as err:
            return {"image": err.message}
        return {}

    def spec(self) -> PullSpec:
        return PullSpec(host=self.host_id, image=self.value("image"))


class HostImagesScreen(ListScreen):
    KIND = PANE
    SORT = "repository"
    SORT_REVERSE = False
    BINDINGS = [
        Binding("escape", "back", "Back", id="images.back"),
        Binding("slash", "filter", "Filter", id="images.filter"),
        Binding("o", "sort", "Sort", id="images.sort"),
        *_bindings(),
    ]

    def __init__(self, host_id: str) -> None:
        super().__init__()
        self.host_id = host_id

    @property
    def host_name(self) -> str:
        host = self.app.store.inventory.hosts.get(self.host_id)
        return host.name if host is not None else self.host_id

    def columns(self):
        return host_images.columns()

    def title_text(self) -> str:
        return f"Images on {self.host_name}"

    def empty_text(self) -> str:
        return "No images on this host"

    def keep(self, image) -> bool:
        return image.host_id == self.host_id

    def rows(self) -> list:
        return [i for i in self.app.store.inventory.host_images.values() if self.keep(i)]

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = isinstance(self.focused, Input)
        if action == "act":
            record = actions.by_id().get(str(parameters[0])) if parameters else None
            if record is None or (typing and not record.while_typing):
                return False
            return actions.allowed(record, self.app.backend, PANE)
        return not typing or action == "back"

    def action_act(self, action_id: str) -> None:
        record = actions.get(action_id)
        if not actions.allowed(record, self.app.backend, PANE):
            return
        if action_id == "host_image.pull":
            self._pull(record)
        elif action_id == "host_image.remove":
            self._remove(record)
        elif action_id == "host_image.prune":
            self._prune(record)

    def _pull(self, record: actions.Action) -> None:
        def done(spec: PullSpec | None) -> None:
            if spec is not None:
                self.app.perform(record, spec, what=f"pull {spec.image}")

        self.app.open_screen(PullImageForm(self.host_id, self.host_name), done)

    def _remove(self, record: actions.Action) -> None:
        from ..host_image_commands import RemoveImageRequest
        from .confirm import ConfirmDelete

        image = self.query_one(ResourceTable).cursor_row
        if image is None:
            self.notify("no image chosen", severity="warning")
            return
        label = image.repo_tags[0] if image.repo_tags else image.image_id.removeprefix("sha256:")[:12]
        # Named by its tag, a tagged image loses that tag (the engine keeps an image other
        # tags still name); an untagged one goes by id.
        target = f"{self.host_id}/{image.repo_tags[0]}" if image.repo_tags else image.id
        warning = ""
        if image.container_ids:
            inv = self.app.store.inventory
            names = [inv.containers[c].name if c in inv.containers else c[:12] for c in image.container_ids]
            warning = f"in use by {len(names)} container(s): {', '.join(names[:5])}" + (
                f" and {len(names) - 5} more" if len(names) > 5 else "") + ": the engine will refuse it"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.app.perform(record, RemoveImageRequest(id=target, name=label), what=f"remove image {label}")

        self.app.open_screen(ConfirmDelete("images", [label], warning, verb="Remove"), done)

    def _prune(self, record: actions.Action) -> None:
        from ..host_image_commands import PruneRequest, prunable
        from .confirm import ConfirmDelete

        count, size = prunable(self.app.store.inventory, self.host_id, unused=False)
        if count == 0:
            self.notify(f"no dangling images on {visible(self.host_name)}", timeout=3)
            return
        names = [i.image_id.removeprefix("sha256:")[:12] for i in self.app.store.inventory.host_images.values()
                 if i.host_id == self.host_id and i.dangling and not i.container_ids]
        warning = f"{count} dangling image(s), up to {host_images._size(size)} reclaimed"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.app.perform(record, PruneRequest(host=self.host_id, name=self.host_name),
                                 what=f"prune images on {self.host_name}")

        self.app.open_screen(ConfirmDelete("images", names, warning, verb="Prune"), done)
