"""The Textual application: owns the backend, the inventory store and the action plumbing.

Workers only talk to the backend and post messages (or feed the store, which holds no
widgets); the UI changes on the message handlers and on the drain timer, never in a worker.
A backend error becomes one notification line (``BackendError.one_line()``), never a
traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from textual.app import App, SuspendNotSupported
from textual.await_complete import AwaitComplete
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Input

from backends.contract import Backend, ConnectionChanged, ConnectionState, ShellCommand
from backends.errors import BackendError, one_line
from backends.factory import open_backend
from backends.models import Severity, Task
from backends.settings import Settings
from widgets.terminal_text import visible

from . import keymap
from .commands import ConsoleCommands, ConsolePalette
from .messages import ActionFailed, ActionStarted, ShellReady
from .screens.live import Live

if TYPE_CHECKING:
    from .actions import Action
from .presenters.tasks import outcome as task_outcome
from .history import DEFAULT_MINUTES
from .store import DRAIN_INTERVAL, Drained, InventoryStore

RECONNECT_MAX = 30.0  # seconds between attempts to reach a backend that is down
STATS_INTERVAL = 3.0  # seconds between asks for fresh CPU / memory of the containers in view
EVENT_NOTICES_PER_DRAIN = 3  # warnings and errors from the backend shown as notifications


def _page_keys_wait_for_layout() -> None:
    """Textual 8.2's OptionList (the palette's list, a Select's drop-down) pages through a
    line table it builds once it has a size; pageup / pagedown between the list opening and
    its first layout raised KeyError out of the app. Until then a page key does nothing."""
    from textual.widgets import OptionList

    move_page = OptionList._move_page
    if getattr(move_page, "waits_for_layout", False):
        return

    def _move_page(self: OptionList, direction: int) -> None:
        if self.highlighted is not None and self.highlighted not in self._index_to_line:
            return
        move_page(self, direction)

    _move_page.waits_for_layout = True  # type: ignore[attr-defined]
    OptionList._move_page = _move_page  # type: ignore[method-assign]


_page_keys_wait_for_layout()


class NtnxConsoleApp(App):
    CSS_PATH = "styles/console.tcss"
    close_error: str | None = None  # why closing the backend failed (a state file not saved)
    TITLE = "ntnx-console"
    BINDINGS = keymap.APP_BINDINGS
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    def __init__(
        self, settings: Settings, config: Any = None, *, backend: Backend | None = None, owns_backend: bool | None = None
    ) -> None:
        super().__init__()
        self.settings = settings
        self.config = config
        self.backend = backend if backend is not None else open_backend(settings)
        # A fleet (several contexts, backends/fleet.py) is made by the caller and closed here.
        self._owns_backend = backend is None if owns_backend is None else owns_backend
        # The simulator's virtual clock when there is one: ages and times shown follow it.
        has_clock = hasattr(self.backend, "clock")
        # The plots' window: [preferences] history_minutes (console/history.py).
        minutes = (getattr(config, "preferences", None) or {}).get("history_minutes") or DEFAULT_MINUTES
        self.store = InventoryStore(clock=(lambda: self.backend.clock.now) if has_clock else time.time, history_minutes=minutes)
        self.keymap_overrides: dict[str, str] = dict(getattr(config, "keymap", None) or {})
        # Your own commands ([[commands]]): a key that is a built-in one on its pane is refused
        # here, before anything is on screen (one line, exit 2).
        from .user_commands import check_keys

        self.user_commands = check_keys(config)
        self.project_ref: str | None = getattr(config, "project", None)
        self._my_tasks: set[str] = set()
        self._dashboard: Screen | None = None  # the floor of the screen stack, once mounted

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, the screens' too (theirs come here): plain text, cleaned.

        Notifications carry servers' words (a task's error, a target's name, a reason): they
        are shown through visible() and never read as markup, so a name like "[bold]x" is
        shown as typed and an escape sequence cannot reach the terminal. ``markup`` is taken
        and ignored (Widget.notify always passes it): no notification here is markup.
        """
        super().notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)

    # -- start and stop ---------------------------------------------------------------------

    def on_mount(self) -> None:
        from .screens.dashboard import DashboardScreen

        # Workers get functions, not coroutines: one cancelled before it starts (an exclusive
        # worker replaced, or the app quitting) then leaves no coroutine that was never awaited.
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
            self.set_timer(0.5, self._check_keymap)
        self._dashboard = DashboardScreen()
        self.push_screen(self._dashboard)
        # The theme and each pane's sort from the config, written back when they change.
        from .preferences import Keeper

        self.preferences = Keeper(self)
        self.preferences.start()
        self.run_worker(self._feed, name="feed", group="feed", exit_on_error=False)
        self.set_interval(DRAIN_INTERVAL, self._drain)
        self.set_interval(1.0, self._refresh_age)
        self.set_interval(STATS_INTERVAL, self._request_stats)

    def _check_keymap(self) -> None:
        # Textual ignores an id it does not know; a typo in the config must not do so silently.
        from .screens.help import known_binding_ids

        unknown = sorted(set(self.keymap_overrides) - known_binding_ids())
        if unknown:
            self.notify(
                f"config [keymap]: no binding with id {', '.join(unknown)} (the ids are in the help, ?)",
                severity="warning",
                timeout=15,
            )

    async def on_unmount(self) -> None:
        if self._owns_backend:
            try:
                await self.backend.close()
            except BackendError as err:
                # The simulator's --demo-state not saved (another process saved it since,
                # a read-only directory): said once the terminal is back (run_app).
                self.close_error = err.one_line()
            except Exception:  # closing a broken backend must not stop the terminal restore
                pass

    async def _discard_backend(self) -> None:
        try:
            await self.backend.close()
        except Exception:  # closing a broken backend must not stop the terminal restore
            pass

    async def _feed(self) -> None:
        """Connect, load a snapshot, then follow the change stream; after any failure keep
        retrying with backoff, so the console recovers by itself when the backend returns."""
        delay = 1.0
        connected = False
        while True:
            try:
                if not connected:
                    await self.backend.connect()
                    connected = True
                stream = self.backend.updates()
                # The first page at once where the backend pages (the rest comes in the stream),
                # shown now rather than at the next tick of the drain.
                self.store.load(await self.backend.paged_snapshot())
                self.call_later(self._drain)
                delay = 1.0
                async for update in stream:
                    was_stale = self.store.stale
                    self.store.ingest(update)
                    if isinstance(update, ConnectionChanged) and update.state is not ConnectionState.UNREACHABLE and was_stale:
                        # Changes made while we could not see them: take the whole picture again.
                        self.store.load(await self.backend.paged_snapshot())
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.store.unreachable(one_line(err))
                if not connected and self._owns_backend:
                    # A backend whose connect failed half way is not reused: start afresh.
                    await self._discard_backend()
                    self.backend = open_backend(self.settings)
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    # -- applying changes -------------------------------------------------------------------

    def _drain(self) -> None:
        if not self.is_running:  # shutting down: the screens' widgets are going away
            return
        drained = self.store.drain()
        if not drained:
            return
        with self.batch_update():
            for screen in self._live_screens():
                screen.apply_changes(drained)
        if drained.resynced or drained.loaded:
            # The inventory and the tables' indexes now live until the next snapshot: keep the
            # collector from walking them again and again (a full collection over 100,000
            # containers is a 100-200 ms pause, in the middle of a keystroke or a tick).
            import gc

            gc.freeze()
        self._announce(drained)

    def _live_screens(self) -> list[Any]:
        """The live screens whose widgets exist: one pushed a moment ago is not composed yet
        (it draws the store as it is when it mounts), and a drain must not query it."""
        return [s for s in self.screen_stack if isinstance(s, Live) and s.is_mounted]

    def _announce(self, drained: Drained) -> None:
        for task in drained.finished_tasks:
            self._notify_done(task)
        notable = [e for e in drained.new_events if e.severity is not Severity.INFO]
        for event in sorted(notable, key=lambda e: e.time)[-EVENT_NOTICES_PER_DRAIN:]:
            self.notify(
                f"{event.target}: {event.message}",
                severity="error" if event.severity is Severity.ERROR else "warning",
            )

    def _notify_done(self, task: Task) -> None:
        if task.id not in self._my_tasks:
            return
        self._my_tasks.discard(task.id)
        message, severity = task_outcome(task)
        self.notify(message, severity=severity, timeout=6)

    def _refresh_age(self) -> None:
        # Several contexts: one may be down while the rest is live, its data's age ticking.
        if self.store.stale or hasattr(self.backend, "context_states"):
            for screen in self._live_screens():
                screen.refresh_status()

    def _request_stats(self) -> None:
        """Backends that fetch container figures on demand (Docker) get asked for the rows
        the user sees now, and only those; the call runs in a worker, off the frame path."""
        ids = self.screen.stats_wanted() if self.screen in self._live_screens() else []
        if not ids or self.store.stale:
            return
        backend = self.backend

        async def ask() -> None:
            backend.request_stats(ids)

        self.run_worker(ask, group="stats", exclusive=True, exit_on_error=False)

    # -- actions ----------------------------------------------------------------------------

    def start_action(
        self,
        what: str,
        call: Callable[[], Awaitable[Task]],
        on_started: Callable[[Task], None] | None = None,
    ) -> None:
        """Run one backend action in a worker; it shows in the Tasks strip and ends with a
        notification saying what happened. ``on_started`` gets the task, on the UI's side."""

        async def run() -> None:
            try:
                task = await call()
            except Exception as err:
                self.post_message(ActionFailed(what, one_line(err)))
                return
            self.post_message(ActionStarted(task, on_started))

        self.run_worker(run, group="actions", exit_on_error=False)

    def on_action_started(self, message: ActionStarted) -> None:
        task = message.task
        self._my_tasks.add(task.id)
        self.notify(f"{task.kind.replace('_', ' ')} {task.target}: started", timeout=3)
        if message.on_started is not None and self._still_shown(message.on_started):
            message.on_started(task)
        latest = self.store.inventory.tasks.get(task.id, task)
        if latest.done:
            self._notify_done(latest)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(f"{message.what}: {message.reason}", severity="error", timeout=8)

    def _still_shown(self, callback: Callable[..., object]) -> bool:
        """False for a screen's callback once that screen is closed: a slow backend answers
        after the user has left the form (an upgrade's progress view), and a closed screen's
        widgets are gone."""
        owner = getattr(callback, "__self__", None)
        return not isinstance(owner, Screen) or owner in self.screen_stack

    def control_task(self, task_id: str, verb: str) -> None:
        """Pause, resume or abort a running task."""
        method = {"pause": self.backend.pause_task, "resume": self.backend.resume_task, "abort": self.backend.abort_task}[verb]

        async def run() -> None:
            try:
                await method(task_id)
            except Exception as err:
                self.post_message(ActionFailed(verb, one_line(err)))

        self.run_worker(run, group="actions", exit_on_error=False)

    def open_shell(self, kind: str, target_id: str) -> None:
        async def run() -> None:
            try:
                command = await self.backend.shell(kind, target_id)  # type: ignore[arg-type]
            except Exception as err:
                self.post_message(ActionFailed("shell", one_line(err)))
                return
            self.post_message(ShellReady(command))

        self.run_worker(run, group="actions", exit_on_error=False)

    def on_shell_ready(self, message: ShellReady) -> None:
        command = message.command
        env = {**os.environ, **dict(command.env)}
        if self._driver is None:  # the console is closing: there is no terminal to hand over
            return
        try:
            with self.suspend():
                subprocess.run(command.argv, env=env, check=False)
        except SuspendNotSupported:
            self.notify(f"shell: this terminal cannot be handed over; run {' '.join(command.argv)}", severity="warning")
            return
        except OSError as err:
            self.notify(f"shell: {one_line(err)}", severity="error")
            return
        self.notify(f"shell closed: {command.description or ' '.join(command.argv)}", timeout=3)

    # -- screens: every push and pop goes through here ----------------------------------------
    #
    # Keys race screens opening and closing: a form's Enter and Escape both close it, the
    # palette's Enter arrives after its Escape, a Button.Pressed queued before the key that
    # closed its dialog. Textual's dismiss() pops whatever is on top *now*, so a second close
    # used to pop the screen beneath (at last the dashboard, leaving Textual's blank default
    # screen, and then "Can't pop screen"). Here a late or double close does nothing.

    @property
    def dashboard(self) -> Screen | None:
        return self._dashboard

    def open_screen(self, screen: Screen, callback: Callable[[Any], None] | None = None) -> None:
        """Push ``screen``; ``callback`` gets what it is closed with (not when it is popped
        by ``back_to_dashboard``: a form left that way is cancelled)."""
        if not self.is_running:  # keys still queued while the console shuts down
            return
        self.push_screen(screen, callback)

    def close_screen(self, screen: Screen, result: Any = None) -> bool:
        """Close ``screen`` with ``result`` if it is the one on top; False (nothing done)
        when it is already closed, covered by another screen, or the dashboard."""
        stack = self.screen_stack
        if screen is self._dashboard or len(stack) <= 1 or stack[-1] is not screen:
            return False
        # Textual's own dismiss (runs the callback, then pops), not a screen's override of it:
        # the palette's dismiss comes here.
        Screen.dismiss(screen, result)
        return True

    def back_to_dashboard(self) -> Screen | None:
        """Close everything above the dashboard (modals, forms, the palette, help, lists),
        whatever is there; each is popped from the top, none is dismissed with a result."""
        dashboard = self._dashboard
        while dashboard in self.screen_stack and self.screen_stack[-1] is not dashboard:
            self.pop_screen()
        return dashboard if dashboard in self.screen_stack else None

    def pop_screen(self) -> AwaitComplete:
        """Textual's pop, which also serves Textual's own dismiss(); it never takes the
        dashboard or the last screen away (Textual would raise ScreenStackError on the last,
        and without the dashboard there is nothing to come back to)."""
        stack = self.screen_stack
        if len(stack) <= 1 or stack[-1] is self._dashboard:
            return AwaitComplete.nothing()
        # Its workers stop now, not when its removal completes: in between, the palette's
        # search worker used to fill a list whose widgets were already gone (NoMatches).
        self.workers.cancel_node(stack[-1])
        return super().pop_screen()

    def action_command_palette(self) -> None:
        """ctrl+p: at most one palette. Textual's own check looks at the top screen only, so a
        second ctrl+p with a palette beneath another screen, or one still being removed, pushed
        another with the same id (DuplicateIds)."""
        self._open_palette(ConsolePalette())

    def search_commands(self, commands: Any, placeholder: str = "Search for commands…") -> Any:
        # Textual's own palettes (its Theme command comes here too) close through the guarded
        # path like ours.
        from textual.command import SimpleProvider

        self._open_palette(ConsolePalette(providers=[SimpleProvider(self.screen, commands)], placeholder=placeholder))
        return AwaitComplete.nothing()

    def search_themes(self) -> None:
        from textual.theme import ThemeProvider

        self._open_palette(ConsolePalette(providers=[ThemeProvider], placeholder="Search for themes…"))

    def _open_palette(self, palette: CommandPalette) -> None:
        if self.use_command_palette and not any(isinstance(s, CommandPalette) for s in self.screen_stack):
            self.open_screen(palette)

    # -- app-wide keys ----------------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.open_screen(HelpScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `:` is a priority key; in a text field it is just a character.
        if action == "command_line" and isinstance(self.focused, Input):
            return False
        return True

    def action_command_line(self) -> None:
        if isinstance(self.screen, Live):
            self.screen.open_command_line()

    def run_command(self, text: str) -> None:
        """A `:` command: a pane (:hosts :containers :volumes, and :services :secrets where the
        backend has them), :tasks, :events, :registries, :images, :projects, :nodes,
        :networks (where the backend has them), :quit."""
        from .screens.dashboard import DashboardScreen
        from .screens.lists import EventsScreen, TasksScreen

        word = text.strip().lstrip(":").strip().lower()
        if word in ("q", "quit", "exit"):
            self.exit()
            return
        if word == "images":  # the Images screen of the host in focus (as I on Hosts)
            self.open_images(None)
            return
        if word in ("tasks", "events"):
            self.open_screen(TasksScreen() if word == "tasks" else EventsScreen())
            return
        from backends.contract import Capability

        if word == "configs" and self.backend.supports(Capability.CONFIGS):  # a swarm's configs
            from .screens.services import ConfigsScreen

            self.open_screen(ConfigsScreen())
            return
        if word == "registries":
            from .screens.registries import RegistriesScreen

            self.open_screen(RegistriesScreen())
            return
        if word in ("projects", "nodes", "networks"):  # the cluster's, where the backend knows them
            from .screens.cluster import NEEDS, SCREENS

            if not self.backend.supports(NEEDS[word]):
                self.notify(f"the {self.backend.kind} backend has no {word}", severity="warning")
                return
            self.open_screen(SCREENS[word]())
            return
        if word == "ctx" or word.startswith(("ctx ", "ctx\t")):  # add or drop a context (issue 14)
            from .fleet_view import context_command

            context_command(self, text.strip().lstrip(":").strip()[3:].strip())
            return
        dashboard = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        panes = dashboard.kinds if dashboard is not None else ("hosts", "containers", "volumes")
        if word in panes:  # :services and :secrets where the backend has them
            # Whatever is open (a modal, the palette, a form, help, a list) closes first.
            dashboard = self.back_to_dashboard()
            if isinstance(dashboard, DashboardScreen):
                dashboard.show_pane(word)
            return
        from .screens.cluster import NEEDS

        configs = ("configs",) if self.backend.supports(Capability.CONFIGS) else ()
        views = (*configs, *(w for w, need in NEEDS.items() if self.backend.supports(need)))
        images = ("images",) if self.backend.supports(Capability.HOST_IMAGES) else ()
        known = " ".join(f":{w}" for w in (*panes, *views, *images, "tasks", "events", "registries", "quit"))
        self.notify(f"unknown command :{word} (try {known})", severity="warning")

    def open_images(self, host_id: str | None) -> None:
        """The Images screen of ``host_id`` (None: the host in focus on the dashboard)."""
        from backends.contract import Capability

        from .screens.dashboard import DashboardScreen
        from .screens.host_images import HostImagesScreen

        if not self.backend.supports(Capability.HOST_IMAGES):
            self.notify(f"the {self.backend.kind} backend shows no container images on hosts", severity="warning")
            return
        if host_id is None:
            dashboard = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
            host_id = dashboard.focused_host_id() if dashboard is not None else None
        if host_id is None or host_id not in self.store.inventory.hosts:
            self.notify("no host in focus: put the cursor on a host (Hosts pane) first", severity="warning")
            return
        self.open_screen(HostImagesScreen(host_id))

    def open_details(self, kind: str, item_id: str) -> None:
        from .screens.details import DETAILS

        if item_id in self.store.inventory.of(kind):
            self.open_screen(DETAILS[kind](item_id))

    def run_user_command(self, command: Any, values: dict[str, str], target: str) -> None:
        """One of your own commands: in the background (its output in a screen) or in the
        terminal (handed over as the shell key does). Never through a shell."""
        from .user_commands import CommandError, argv_for

        try:
            argv = argv_for(command, values)
        except CommandError as err:
            self.notify(err.message, severity="warning", timeout=6)
            return
        if command.mode == "background":
            from .screens.command_output import CommandOutputScreen

            self.open_screen(CommandOutputScreen(command, argv, target))
            return
        self.post_message(ShellReady(ShellCommand(tuple(argv), description=f"{command.name} on {target}")))

    def open_logs(self, container_ids: "str | list[str]", title: str | None = None) -> None:
        """The logs of one container, or of several interleaved by time (``title`` names them)."""
        from .screens.logs import LogsScreen

        self.open_screen(LogsScreen(container_ids, title))

    # -- registered actions (console.actions) -----------------------------------------------

    def open_form(self, record: "Action", context: Any) -> None:
        """The action's form; the spec it is dismissed with is what the action runs on."""
        import importlib

        module, _, name = (record.form or "").partition(":")
        form = getattr(importlib.import_module(module), name)(context)

        def done(spec: Any) -> None:
            if spec is not None:
                self.perform(record, spec)

        self.open_screen(form, done)

    def perform(
        self, record: "Action", subject: Any, *, what: str = "", on_started: Callable[[Task], None] | None = None, pane: str | None = None
    ) -> None:
        """Run ``record`` on one item or spec, as a task the user follows."""
        run = record.runner(pane)
        if run is None:
            return
        backend = self.backend
        self.start_action(what or f"{record.says()} {self._label(subject)}".strip(), lambda: run(backend, subject), on_started)

    def run_on_items(self, record: "Action", kind: str, items: list) -> None:
        for item in items:
            self.perform(record, item, pane=kind)

    def _label(self, subject: Any) -> str:
        """How the notifications name what an action runs on."""
        volume_id = getattr(subject, "volume_id", None)
        if volume_id and volume_id in self.store.inventory.volumes:
            return self.store.inventory.volumes[volume_id].name
        return str(getattr(subject, "name", None) or getattr(subject, "image", None) or "")


def run_app(settings: Settings, config: Any = None) -> int:
    """Run the console on one context until the user quits."""
    return run_until_quit([settings], lambda: NtnxConsoleApp(settings, config))


def run_until_quit(contexts: Iterable[Settings], make_app: Callable[[], "NtnxConsoleApp"]) -> int:
    """Run the console (one context's or a fleet's) until the user quits; the terminal is
    restored on every way out. What a backend must ask before the full screen (Prism's
    password) is asked first, for each context."""
    from backends.registry import info

    for each in contexts:
        about = info(each.backend)
        if about.before_full_screen is not None:  # e.g. Prism's password prompt
            about.before_full_screen(each.chosen)
    app = make_app()
    app.run()
    if app.close_error:
        import sys

        sys.stderr.write(visible(app.close_error) + "\n")
        return app.return_code or 1
    return app.return_code or 0
