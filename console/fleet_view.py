"""``:ctx NAME`` and ``:ctx -NAME``: open or close a context in a running console (issue 14).

A console with one context becomes a fleet (``backends.fleet``) when a second is opened: its
backend, already connected, is the fleet's first context, and the dashboard is drawn again
with a CONTEXT column. The contexts open are remembered in the config (``fleet = [...]``,
``console.context_config``) when every one of them is a context of the file.
"""

from __future__ import annotations

from typing import Any

from backends.errors import one_line


def context_command(app: Any, arg: str) -> None:
    from backends.validation import context_name_problem

    open_now = getattr(app.backend, "contexts", None) or [_own_name(app)]
    if not arg:
        app.notify(f"contexts open: {', '.join(open_now)} (:ctx NAME opens one, :ctx -NAME closes one)", timeout=6)
        return
    drop = arg.startswith("-")
    name = arg[1:].strip() if drop else arg
    problem = context_name_problem(name)
    if problem:
        app.notify(f":ctx {arg}: {problem}", severity="warning")
        return
    config = app.config
    if not drop and (config is None or name not in getattr(config, "contexts", {})):
        known = ", ".join(sorted(getattr(config, "contexts", {}) or {})) or "none defined"
        app.notify(f":ctx {name}: no such context in the config (contexts: {known})", severity="warning")
        return
    if (name in open_now) != drop:
        app.notify(f":ctx {arg}: context {name} is {'not ' if drop else ''}open", severity="warning")
        return

    async def change() -> None:
        from .messages import ActionFailed

        try:
            await (_close(app, name) if drop else _open(app, name))
        except Exception as err:
            app.post_message(ActionFailed(f":ctx {arg}", one_line(err)))

    app.run_worker(change, group="contexts", exit_on_error=False)


def _own_name(app: Any) -> str:
    return app.settings.context or app.settings.backend


async def _open(app: Any, name: str) -> None:
    from backends.endpoints import check_settings
    from backends.factory import open_backend
    from backends.fleet import FleetBackend

    settings = app.config.settings_for(name)
    settings.read_only = settings.read_only or app.settings.read_only
    check_settings(settings)
    reopen = lambda: open_backend(settings)  # noqa: E731
    backend = app.backend
    if isinstance(backend, FleetBackend):
        several = len(backend.contexts) > 1
        await backend.add(name, open_backend(settings), reopen)
        if not several:
            app.call_later(_redraw, app)
    else:
        own, own_settings = _own_name(app), app.settings
        fleet = FleetBackend({own: backend}, reopen={own: lambda: open_backend(own_settings)}, connected=[own])
        await fleet.add(name, open_backend(settings), reopen)
        app.call_later(_use, app, fleet)
    app.call_later(_remember, app)
    app.call_later(app.notify, f"context {name} opened", timeout=4)


async def _close(app: Any, name: str) -> None:
    backend = app.backend
    if len(backend.contexts) <= 1:
        raise ValueError(f"{name} is the only context open")
    await backend.remove(name)
    if len(backend.contexts) == 1:
        app.call_later(_redraw, app)  # one context: no CONTEXT column
    app.call_later(_remember, app)
    app.call_later(app.notify, f"context {name} closed", timeout=4)


def _use(app: Any, fleet: Any) -> None:
    """The app follows the fleet from now on: a new feed (which connects it and loads its
    picture) and a dashboard drawn for it."""
    app.workers.cancel_group(app, "feed")
    app.backend = fleet
    app._owns_backend = True  # the fleet closes every context's backend, the first one too
    app.run_worker(app._feed, name="feed", group="feed", exit_on_error=False)
    _redraw(app)


def _redraw(app: Any) -> None:
    from .screens.dashboard import DashboardScreen

    if not app.is_running or app.back_to_dashboard() is None:
        return
    dashboard = DashboardScreen()
    app._dashboard = dashboard
    app.switch_screen(dashboard)


def _remember(app: Any) -> None:
    """The contexts open, written as the ones to open next time (when each is the config's)."""
    from .context_config import use_contexts

    names = list(getattr(app.backend, "contexts", []))
    config = app.config
    if config is None or not names or any(n not in config.contexts for n in names):
        return  # e.g. --demo, which is no context of the file: nothing to remember it by
    try:
        use_contexts(config.path, names)
    except Exception as err:
        app.notify(f"contexts not remembered: {one_line(err)}", severity="warning")
        return
    config.current_context = names[0]
    config.fleet = names if len(names) > 1 else []
