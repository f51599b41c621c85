"""The Images screen: the container images on one host's engine (`I` on Hosts, or `:images`),
live, filtered and sorted as the panes are. Its keys come from the action records of the
``host_images`` pane (``console.actions``): pull (a form with the image reference; progress
in the Tasks strip), remove (a confirmation; the engine's refusal names the containers) and
prune (dangling images only, or also every image no container uses, as ``images prune
--unused``; then a confirmation saying which, how many images and how many bytes at most)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

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
        from ..host_image_commands import prunable

        inv = self.app.store.inventory
        dangling = prunable(inv, self.host_id, unused=False)
        unused = prunable(inv, self.host_id, unused=True)
        if unused[0] == 0:
            self.notify(f"no dangling images and no unused ones on {visible(self.host_name)}", timeout=3)
            return

        def chosen(also_unused: bool | None) -> None:
            if also_unused is not None:
                self._confirm_prune(record, also_unused, unused if also_unused else dangling)

        self.app.open_screen(PruneChoice(self.host_name, dangling, unused), chosen)

    def _confirm_prune(self, record: actions.Action, also_unused: bool, counted: tuple[int, int]) -> None:
        from ..host_image_commands import PruneRequest
        from .confirm import ConfirmDelete

        count, size = counted
        if count == 0:
            self.notify(f"no {'unused' if also_unused else 'dangling'} images on {visible(self.host_name)}", timeout=3)
            return
        gone = [i for i in self.app.store.inventory.host_images.values()
                if i.host_id == self.host_id and not i.container_ids and (also_unused or i.dangling)]
        names = [i.repo_tags[0] if i.repo_tags else i.image_id.removeprefix("sha256:")[:12] for i in gone]
        which = "image(s) no container uses (dangling or not)" if also_unused else "dangling image(s)"
        warning = f"{count} {which}, up to {host_images._size(size)} reclaimed"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.app.perform(record, PruneRequest(host=self.host_id, unused=also_unused, name=self.host_name),
                                 what=f"prune {'unused' if also_unused else 'dangling'} images on {self.host_name}")

        self.app.open_screen(ConfirmDelete("images", names, warning, verb="Prune"), done)


class PruneChoice(ModalScreen[bool | None]):
    """Which images a prune removes, each choice with its count (from the inventory): the
    dangling ones only, or also every image no container uses (``images prune --unused``).
    Dismissed with True for the latter, False for dangling only, None when cancelled; the
    confirmation comes after."""

    BINDINGS = [
        Binding("escape", "choose('')", "Cancel", id="images.prune.cancel"),
        Binding("d", "choose('dangling')", "Dangling only", id="images.prune.dangling"),
        Binding("u", "choose('unused')", "Also unused", id="images.prune.unused"),
    ]

    def __init__(self, host_name: str, dangling: tuple[int, int], unused: tuple[int, int]) -> None:
        super().__init__(classes="form-screen")
        self.host_name = host_name
        self.dangling = dangling
        self.unused = unused

    def compose(self) -> ComposeResult:
        (d, d_size), (u, u_size) = self.dangling, self.unused
        with Vertical(classes="form", id="prune-choice"):
            yield Static(visible(f"Prune images on {self.host_name}"), classes="form-title", markup=False)
            yield Static(
                f"d: dangling only: {d} image(s), up to {host_images._size(d_size)}\n"
                f"u: also unused (no container uses them): {u} image(s), up to {host_images._size(u_size)}",
                id="prune-counts", markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(f"Dangling only ({d})", id="dangling", disabled=d == 0)
                yield Button(f"Also unused ({u})", id="unused", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose("" if event.button.id == "cancel" else str(event.button.id))

    def action_choose(self, which: str) -> None:
        self.app.close_screen(self, {"dangling": False, "unused": True}.get(which))
