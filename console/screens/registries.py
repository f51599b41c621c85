"""`:registries`: browse container registries, registries → repositories → tags.

The registries are the config's ``[registries.NAME]`` tables for this context and, on the
simulator, its own two (``backends/simulator/registries.py``: a public one and a private one
that asks for a password). Enter goes down a level, Escape comes back up one, `/` filters
the level shown, `r` reads it again. On a tag, `p` pulls it onto a host (``pull_tag``: the
Images screen's pull action, so the configured registry's credentials, not the password
typed here).

Everything is read through ``backends.registries.client.RegistryClient`` in a worker (the
screen shows a loading line meanwhile); a failure is one line saying what kind it is
(unauthorized, unreachable, TLS...) and the client's reason, never a traceback. What a
registry sends (names, tags, reasons) reaches the terminal only through the table's cells
and ``visible()``.

A password is looked up only when a registry asks for one: ``NTNX_REGISTRY_PASSWORD``, the
registry's ``password_command`` (refused from a config others can write), the keyring, and
else a masked field in a modal. It is kept in memory while the Registries screen is open (so
each level does not ask again), dropped when a registry refuses it, and never written,
logged or shown.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static

from backends.errors import (
    AuthenticationFailed,
    BackendError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Unavailable,
    one_line,
)
from widgets.key_bar import KeyBar
from widgets.resource_table import ResourceTable
from widgets.terminal_text import visible

from ..presenters import registries as present
from .live import Live
from .status import StatusHeader

if TYPE_CHECKING:
    from backends.registries.client import RegistryClient
    from backends.registries.models import RegistryEntry

#: Seconds the Registries level gives each registry to answer its probe.
PROBE_CONNECT_TIMEOUT = 5.0
PROBE_TOTAL_TIMEOUT = 10.0


class PasswordNeeded(Exception):
    """The registry asked for credentials and no password is known yet (not a BackendError:
    it is a question for the user, not a failure)."""


def problem_line(err: BaseException) -> str:
    """One line: what kind of failure, then the reason."""
    text = one_line(err)
    if isinstance(err, AuthenticationFailed):
        kind = "unauthorized"
    elif isinstance(err, PermissionDenied):
        kind = "denied"
    elif isinstance(err, Unavailable):
        kind = "TLS" if "TLS" in text else "unreachable"
    elif isinstance(err, NotFound):
        kind = "not found"
    elif isinstance(err, ProtocolError):
        kind = "protocol"
    elif isinstance(err, BackendError):
        kind = "error"
    else:  # a bug of ours: still one line
        kind, text = "error", f"{type(err).__name__}: {err}"
    return visible(f"{kind}: {text}")


@dataclass(frozen=True, slots=True)
class Source:
    entry: "RegistryEntry"
    transport: Callable[[], Any] | None = None  # the simulator's in-process registries
    builtin: bool = False


def sources(app: Any) -> list[Source]:
    """The configured registries of this context, then the backend's own (the simulator's),
    a configured name hiding a built-in one of the same name."""
    config = getattr(app, "config", None)
    context = getattr(app.settings, "context", None)
    found: dict[str, Source] = {}
    for name, entry in sorted((getattr(config, "registries", None) or {}).items()):
        if entry.context in (None, context):
            found[name] = Source(entry)
    builtin = getattr(app.backend, "builtin_registries", None)
    for b in builtin() if callable(builtin) else ():
        found.setdefault(b.entry.name, Source(b.entry, b.transport, builtin=True))
    return list(found.values())


class Session:
    """One registry while the screen is open: its client (tokens cached per scope) and the
    password, once known. Nothing of it outlives the Registries screen."""

    def __init__(self, source: Source, config_path: Any = None) -> None:
        self.source = source
        self.entry = source.entry
        self.config_path = config_path
        self._password: str | None = None
        self._client: "RegistryClient | None" = None

    def give_password(self, password: str) -> None:
        self._password = password

    def client(self, **bounds: Any) -> "RegistryClient":
        from backends.registries.client import RegistryClient

        if bounds:  # a one-off (the probe): its own client, closed by the caller
            return self._new(RegistryClient, **bounds)
        if self._client is None:
            self._client = self._new(RegistryClient)
        return self._client

    def _new(self, cls: type, **bounds: Any) -> "RegistryClient":
        e = self.entry
        return cls(
            e.url, name=e.name, user=e.user, password=self._ask, ca_bundle=e.ca_bundle, insecure=e.insecure,
            insecure_transport=e.insecure_transport, transport=self.source.transport() if self.source.transport else None,
            **bounds,
        )

    def _ask(self) -> str:
        if self._password is None:
            raise PasswordNeeded()
        return self._password

    async def end(self) -> None:
        """The screen is gone: the password and the tokens with it."""
        self._password = None
        await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def run(self, fetch: Callable[["RegistryClient"], Awaitable[Any]]) -> Any:
        """``fetch`` with the client; the password looked up (off the event loop) the first
        time the registry asks; ``PasswordNeeded`` when no source has one."""
        while True:
            try:
                return await fetch(self.client())
            except PasswordNeeded:
                found = await asyncio.to_thread(self._lookup)
                if found is None:
                    raise
                self._password = found
            except AuthenticationFailed:
                # Refused: a fresh client (the refused password is cached in it) and ask again.
                self._password = None
                await self.close()
                raise

    def _lookup(self) -> str | None:
        from backends.registries.credentials import password_for
        from console.config import ConfigError, unsafe_reason

        entry = self.entry
        if entry.password_command and self.config_path is not None:
            problem = unsafe_reason(self.config_path)
            if problem:
                raise ConfigError(f"refusing password_command of registry {entry.name}: {problem}")
        try:
            # Never the terminal's prompt: the console owns the terminal (the modal asks).
            return password_for(entry, env=os.environ, interactive=lambda: False)
        except AuthenticationFailed:
            return None


# -- messages from the workers -----------------------------------------------------------------


class Loaded(Message):
    def __init__(self, rows: list[Any] | None, problem: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.problem = problem


class PasswordWanted(Message):
    pass


class Probed(Message):
    def __init__(self, item: present.RegistryItem) -> None:
        super().__init__()
        self.item = item


# -- the password modal ------------------------------------------------------------------------


class PasswordPrompt(ModalScreen[str | None]):
    """A masked field for a registry's password: dismissed with it (None when cancelled).
    The text is never echoed, logged or kept by the modal."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="registries.password.cancel")]

    def __init__(self, entry: "RegistryEntry") -> None:
        super().__init__(classes="form-screen")
        self.entry = entry

    def compose(self) -> ComposeResult:
        e = self.entry
        with Vertical(classes="form", id="password-form"):
            yield Static(
                visible(f"Password for {e.user} at registry {e.name} ({e.url})"), classes="form-title", markup=False
            )
            yield Input(password=True, placeholder="password (not kept after this screen)", id="password")
            yield Static(
                "Enter to send it; Escape to cancel. NTNX_REGISTRY_PASSWORD or a password_command would answer instead.",
                classes="hint",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Log in", id="login", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "login":
            self._send()
        else:
            self.action_cancel()

    def _send(self) -> None:
        field = self.query_one("#password", Input)
        value, field.value = field.value, ""
        self.app.close_screen(self, value or None)

    def action_cancel(self) -> None:
        self.app.close_screen(self, None)


# -- the three levels --------------------------------------------------------------------------


class _Level(Live, Screen):
    """A level of the browser: where it is, a one-line state (loading, or what failed), the
    table, the filter prompt and the keys. Live only for its header (the backend's state)."""

    TABLE_ID = ""
    BINDINGS = [
        Binding("escape", "back", "Back", id="registries.back"),
        Binding("slash", "filter", "Filter", id="registries.filter"),
        Binding("r", "reload", "Reload", id="registries.reload"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield Static(Text(visible(self.where()), style="bold"), id="where")
        yield Static("", id="line")
        yield ResourceTable(self.columns(), id=self.TABLE_ID, empty_text=self.empty_text())
        yield Input(placeholder="filter: text or /regex/", id="prompt")
        yield KeyBar()

    # What a level gives.
    def where(self) -> str:
        raise NotImplementedError

    def columns(self) -> list[Any]:
        raise NotImplementedError

    def empty_text(self) -> str:
        return "Nothing here"

    def loading_text(self) -> str:
        return "loading…"

    async def fetch(self) -> list[Any]:
        raise NotImplementedError

    def session(self) -> Session | None:
        return None

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        self.query_one("#prompt").display = False
        self.table.focus()
        self.load()

    def load(self) -> None:
        self._say(None)
        self.table.set_loading(visible(self.loading_text()))
        self.run_worker(self._load, group="registries", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        try:
            rows = await self.fetch()
        except asyncio.CancelledError:
            raise
        except PasswordNeeded:
            self.post_message(PasswordWanted())
            return
        except Exception as err:  # every failure is one line, never a traceback
            self.post_message(Loaded(None, problem_line(err)))
            return
        self.post_message(Loaded(rows))

    def on_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.rows is None:
            table.set_rows([])
            self._say(message.problem, error=True)
            return
        # In the order fetched (sorted there); a user's sort (the table's own key) stays.
        table.set_rows(message.rows)
        self._say(None)

    def on_password_wanted(self, message: PasswordWanted) -> None:
        session = self.session()
        if session is None:
            return
        self.table.set_loading(None)
        self._say("the registry asks for a password", error=False)

        def given(password: str | None) -> None:
            if password:
                session.give_password(password)
                self.load()
            else:
                self.table.set_rows([])
                self._say(
                    f"unauthorized: registry {session.entry.name} asks for a password and none was given (r to try again)",
                    error=True,
                )

        self.app.open_screen(PasswordPrompt(session.entry), given)

    def _say(self, text: str | None, *, error: bool = False) -> None:
        line = self.query_one("#line", Static)
        line.update(Text(visible(text or ""), style="bold red" if error else "italic"))
        line.display = bool(text)

    # Keys.
    def action_back(self) -> None:
        prompt = self.query_one("#prompt", Input)
        if prompt.display:
            self.table.set_filter("")
            self._close_prompt()
            return
        self.app.close_screen(self)

    def action_filter(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.value = self.table.filter_text
        prompt.display = True
        prompt.focus()

    def action_reload(self) -> None:
        self.load()

    def _close_prompt(self) -> None:
        self.query_one("#prompt").display = False
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "prompt":
            self.table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "prompt":
            self._close_prompt()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Typing in the filter: r and / are letters there.
        if action in ("reload", "filter") and isinstance(self.focused, Input):
            return False
        return True


class RegistriesScreen(_Level):
    """The registries: name, URL, user, whether it answers (probed in the background)."""

    TABLE_ID = "registries"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, Session] = {}

    def where(self) -> str:
        return "Registries"

    def columns(self) -> list[Any]:
        return present.registry_columns()

    def empty_text(self) -> str:
        return "No registries: add one with `ntnx-console registry add NAME --url URL`"

    def loading_text(self) -> str:
        return "reading the registries…"

    async def fetch(self) -> list[Any]:
        found = sorted(sources(self.app), key=lambda s: s.entry.name)
        config_path = getattr(getattr(self.app, "config", None), "path", None)
        self.sessions = {s.entry.name: self.sessions.get(s.entry.name) or Session(s, config_path) for s in found}
        return [self._item(s) for s in found]

    def on_loaded(self, message: Loaded) -> None:
        super().on_loaded(message)
        # The probes go on once the rows are shown: a registry that does not answer costs its
        # row a "…" for a few seconds, not the whole list.
        for item in message.rows or ():
            session = self.sessions.get(item.id)
            if session is not None:
                # A partial, not a lambda: Textual runs a coroutine function as an async worker.
                self.run_worker(partial(self._probe, session.source), group="registries.probe", exit_on_error=False)

    @staticmethod
    def _item(s: Source, reachable: bool | None = None, problem: str | None = None) -> present.RegistryItem:
        e = s.entry
        return present.RegistryItem(e.name, e.name, e.url, e.user, s.builtin, reachable, problem)

    async def _probe(self, s: Source) -> None:
        session = self.sessions[s.entry.name]
        try:
            client = session.client(connect_timeout=PROBE_CONNECT_TIMEOUT, total_timeout=PROBE_TOTAL_TIMEOUT)
            try:
                await client.ping()  # no credentials: it only asks whether a registry answers
            finally:
                await client.close()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.post_message(Probed(self._item(s, False, problem_line(err))))
            return
        self.post_message(Probed(self._item(s, True)))

    def on_probed(self, message: Probed) -> None:
        if message.item.id in self.table.rows_by_id:
            self.table.apply([message.item])

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        session = self.sessions.get(event.row_id)
        if session is not None:
            self.app.open_screen(RepositoriesScreen(session))

    async def on_unmount(self) -> None:
        # The passwords and tokens go with the screen.
        sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            try:
                await session.end()
            except Exception:  # a client that failed to close must not stop the others
                pass


class RepositoriesScreen(_Level):
    TABLE_ID = "repositories"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def session(self) -> Session:
        return self._session

    def where(self) -> str:
        e = self._session.entry
        return f"Registries › {e.name} ({e.url}) › repositories"

    def columns(self) -> list[Any]:
        return present.repository_columns()

    def empty_text(self) -> str:
        return "No repositories"

    def loading_text(self) -> str:
        return f"reading the catalog of {self._session.entry.name}…"

    async def fetch(self) -> list[Any]:
        async def catalog(client: "RegistryClient") -> list[str]:
            return await client.catalog()

        names = await self._session.run(catalog)
        return [present.RepositoryItem(n, n) for n in sorted(names)]

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        self.app.open_screen(TagsScreen(self._session, event.row_id))


class TagsScreen(_Level):
    TABLE_ID = "tags"
    BINDINGS = [Binding("p", "pull", "Pull", id="registries.pull", tooltip="Pull the tag onto a host")]

    def __init__(self, session: Session, repository: str) -> None:
        super().__init__()
        self._session = session
        self.repository = repository

    def session(self) -> Session:
        return self._session

    def where(self) -> str:
        e = self._session.entry
        return f"Registries › {e.name} ({e.url}) › {self.repository} › tags"

    def columns(self) -> list[Any]:
        return present.tag_columns()

    def empty_text(self) -> str:
        return f"No tags in {self.repository}"

    def loading_text(self) -> str:
        return f"reading the tags of {self.repository} and their manifests…"

    async def fetch(self) -> list[Any]:
        from backends.registries.listing import describe

        repository = self.repository

        async def tags(client: "RegistryClient") -> list[Any]:
            names = await client.tags(repository)

            async def one(tag: str) -> Any:
                try:
                    return await describe(client, repository, tag)
                except NotFound:  # deleted between the list and its read: gone, not an error
                    return None

            # At most the client's concurrency at once (its own bound).
            found = await asyncio.gather(*(one(t) for t in names))
            return [present.tag_item(i) for i in sorted((i for i in found if i is not None), key=lambda i: i.tag)]

        return await self._session.run(tags)

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        pass  # the last level

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pull":
            from .. import actions

            # Not while typing a filter (p is a letter there), and only where a pull can run.
            return not isinstance(self.focused, Input) and actions.allowed(
                actions.get("host_image.pull"), self.app.backend, "host_images"
            )
        return super().check_action(action, parameters)

    def action_pull(self) -> None:
        """The tag under the cursor onto a host: the Images screen's pull, same credentials."""
        from .. import actions
        from .pull_tag import PullTagForm, reference_of

        record = actions.get("host_image.pull")
        if not actions.allowed(record, self.app.backend, "host_images"):
            return
        tag = self.table.cursor_row
        if tag is None:
            self.notify("no tag chosen", severity="warning")
            return

        def done(spec: Any) -> None:
            if spec is not None:
                self.app.perform(record, spec, what=f"pull {spec.image}")

        self.app.open_screen(PullTagForm(reference_of(self._session.entry, self.repository, tag.id)), done)
