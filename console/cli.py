"""The `ntnx-console` command: the TUI with no subcommand, else one headless command.

Start-up stays fast: this module imports only argparse and the light contract modules;
Textual, httpx, asyncssh and the backends load when a command needs them
(tests/test_import_hygiene.py holds us to it).

Exit codes: 0 ok, 1 the action failed, 2 usage or bad input, 3 backend unreachable,
4 authentication or permission refused, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING, Any, Awaitable, Callable, NamedTuple, NoReturn

from backends import registry
from backends.errors import BackendError, InvalidInput
from backends.settings import field_type
from widgets.terminal_text import visible

if TYPE_CHECKING:
    from backends.contract import Backend
    from backends.models import Task
    from backends.settings import Settings
    from console.config import Config

PROG = "ntnx-console"
INTERRUPT_GRACE = 2.0  # seconds a Ctrl-C'd command gets to unwind before it is ended
LIST_KINDS = (
    "hosts", "containers", "volumes", "tasks", "images", "networks", "projects", "nodes", "events", "services", "secrets",
    "configs",
)

class UsageError(InvalidInput):
    title = "Usage"


def _check_inputs(args: argparse.Namespace) -> None:
    """What the user typed, by the rules the forms and the backends use, before connecting:
    bad input costs nothing."""
    from backends import validation as v

    action = getattr(args, "action_id", None)
    if action == "host.create":
        v.check_host_name(args.name)
    elif action == "volume.create":
        v.check_volume_name(args.name)
        v.check_volume_size(args.size_gib)
    elif action == "volume.attach" and args.mount:
        v.check_mount_path(args.mount)
    elif action == "service.create":
        v.check_service_name(args.name)
        v.check_image_ref(args.image)
        for name in args.secret:
            v.check_secret_name(name)
        swarm_commands.check_inputs(action, args)
    elif action in ("service.update", "config.create", "secret.rotate"):
        swarm_commands.check_inputs(action, args)
    elif action == "secret.create":
        v.check_secret_name(args.name)
    elif action == "container.run":
        from console.run_options import run_request

        # Every option by the shared rules, before connecting; one line naming the field.
        run_request(image=args.image, host=args.host, name=args.name, command=args.command_args, ports=args.publish,
                    env=args.env, volumes=args.volume, restart=args.restart, labels=args.label)


# ---------------------------------------------------------------------------------------------
# Argument parsing


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every other error: no usage dump.
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def _port(text: str) -> int:
    from backends.endpoints import check_port

    try:
        return check_port(text, "port")
    except InvalidInput as err:
        raise ValueError(err.message.removeprefix("port: ")) from None


def _listen_port(text: str) -> int:
    return 0 if text.strip() == "0" else _port(text)  # 0: the system picks a free one


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _dest(f: Any) -> str:
    return f.metadata["option"]["flag"].lstrip("-").replace("-", "_")


def _add_option(group: Any, f: Any, default: Callable[[Any], Any]) -> None:
    """One settings field as an option: its flag, help, and parse from the field's metadata.
    Every default is None (or False for a switch), so the settings know what was given."""
    meta = f.metadata["option"]
    kwargs: dict[str, Any] = {"dest": _dest(f), "help": meta["help"]}
    if field_type(f) == "bool":
        kwargs.update(action="store_true", default=default(False))
    else:
        kwargs.update(metavar=meta["metavar"], default=default(None))
        if meta["repeat"]:
            kwargs["action"] = "append"
        if meta["parse"] is not None:
            kwargs["type"] = _argparse_type(meta["parse"])
    group.add_argument(meta["flag"], **kwargs)


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as err:  # argparse shows only an ArgumentTypeError's own words
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = parse.__name__
    return convert


def _global_options(suppress: bool) -> argparse.ArgumentParser:
    """The global options. Sub-commands get a copy whose defaults are SUPPRESS, so an option
    may come before or after the sub-command and the one given wins."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("backend")
    g.add_argument(
        "--context", metavar="NAME[,NAME]", action="append", default=default(None),
        help="a context from the config file; several (comma-separated or repeated) open together as one fleet",
    )
    g.add_argument(
        "--backend",
        choices=registry.names(),
        default=default(None),
        help="the backend to use: "
        + "; ".join(f"{about.name}: {about.summary}" for about in registry.infos().values()),
    )
    g.add_argument("--read-only", action="store_true", default=default(False), help="refuse every change")
    g.add_argument(
        "--insecure-transport",
        action="store_true",
        default=default(False),
        help="allow http:// to Prism and tcp:// without TLS to engines (credentials in clear; shown loudly)",
    )
    g.add_argument("--json", action="store_true", default=default(False), help="print JSON")
    g.add_argument("--debug", action="store_true", default=default(False), help="show tracebacks")
    s = p.add_argument_group(registry.info("simulator").options_title)
    s.add_argument("--demo", action="store_true", default=default(False), help="use the built-in simulator")
    added: set[str] = set()
    for about in registry.infos().values():
        group = s if about.name == "simulator" else p.add_argument_group(about.options_title or about.name)
        for f in about.option_fields():
            # A flag two backends share means one thing (the swarm's manager is a --docker-host):
            # it is offered once, and reaches whichever of them is chosen.
            if f.metadata["option"]["flag"] not in added:
                added.add(f.metadata["option"]["flag"])
                _add_option(group, f, default)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A keyboard-driven console for container infrastructure on Nutanix. "
        "With no command it opens the console; with a command it runs it and exits.",
        parents=[_global_options(suppress=False)],
    )
    globals_after = _global_options(suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def leaf(group: Any, name: str, handler: Callable[..., Any], help: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help, description=help, parents=[globals_after])
        p.set_defaults(handler=handler)
        return p

    def wait_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", action="store_true", help="follow the task until it ends")
        p.add_argument(
            "--timeout",
            type=_positive_float,
            metavar="SECONDS",
            help="with --wait: give up after this long, exit 1 with the task's last state (default per action)",
        )

    cfg = commands.add_parser("config", help="the config file; create, remove swarm configs").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    leaf(cfg, "path", _config_path, "print where the config file is")
    p = leaf(cfg, "use-context", _config_use_context, "remember the context(s) to open when none is named")
    p.add_argument("names", nargs="+", metavar="NAME", help="a context, or several (NAME,NAME or NAME NAME): a fleet")

    nouns: dict[str, Any] = {"config": cfg}  # a swarm config's create / remove sit beside `config path`
    for kind in LIST_KINDS:
        sub = commands.add_parser(kind, help=f"list {kind}" + (", upgrade hosts" if kind == "hosts" else ""))
        nouns[kind] = sub.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
        leaf(nouns[kind], "list", _list, f"list {kind}").set_defaults(kind=kind)
    for noun, help in (
        ("host", "create, delete, power hosts"),
        ("volume", "create, attach, detach, delete volumes"),
        ("container", "run, start, stop, remove containers; logs"),
        ("service", "create, scale, update, roll back, remove swarm services"),
        ("secret", "create, rotate, remove swarm secrets"),
        ("image", "pull, remove container images on a host"),
    ):
        nouns[noun] = commands.add_parser(noun, help=help).add_subparsers(
            dest="action", metavar="ACTION", required=True, parser_class=_Parser
        )

    # Every action with a CLI form, from its record (console.actions): one that works on a
    # spec takes its options from SPEC_COMMANDS; one that works on an item takes the item.
    from console import actions

    for record in actions.ACTIONS:
        for pane, (noun, verb) in record.cli.items():
            command = SPEC_COMMANDS.get(record.id)
            if command is not None:
                p = leaf(nouns[noun], verb, _spec_action, command.help)
                command.arguments(p)
            else:
                p = leaf(nouns[noun], verb, _item_action, f"{verb.replace('-', ' ')} a {pane[:-1]}")
                p.add_argument("item", metavar=pane[:-1].upper())
                for flag, help in record.cli_switches.get(pane, ()):
                    p.add_argument(flag, action="store_true", help=help)
                if record.impact_on(pane):
                    p.add_argument(
                        "--dry-run", action="store_true",
                        help="print what it would take down (containers, volumes, applications) and change nothing",
                    )
            p.set_defaults(action_id=record.id, pane=pane, switches=[f for f, _ in record.cli_switches.get(pane, ())])
            wait_option(p)
    container = nouns["container"]
    p = leaf(container, "logs", _logs, "print the logs of one or more containers (several: interleaved by time, each line prefixed)")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--tail", type=_positive_int, metavar="N")
    p.add_argument("--grep", metavar="TEXT|/RE/", help="only the lines that match: plain text (any case) or /regex/")

    sim = commands.add_parser("sim", help="the simulator served as Prism Central").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    p = leaf(sim, "serve", _sim_serve, "serve the simulator as Prism Central over HTTPS on 127.0.0.1")
    p.add_argument("--port", type=_argparse_type(_port), default=9440, help="the port on 127.0.0.1 (default 9440)")
    p.add_argument(
        "--state", metavar="PATH", dest="serve_state",
        help="keep the simulated world in this file across restarts (as --demo-state does)",
    )
    p = leaf(
        commands, "serve-web", _serve_web,
        "serve the console to a browser (textual-serve), behind a token printed in the URL to open",
    )
    p.add_argument(
        "--port", type=_argparse_type(_listen_port), default=8000, dest="web_port",
        help="the port to listen on (default 8000; 0: any free port)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", dest="web_host",
        help="the address to listen on (default 127.0.0.1: this machine only; see the README before changing it)",
    )
    # Registries (issue 13): registry add/remove, registries list, images list --registry.
    from console import registry_commands

    registry_commands.add_parsers(commands, leaf, nouns, _Parser)
    from console import host_image_commands

    host_image_commands.add_list_option(nouns["images"].choices["list"])
    host_image_commands.add_push_credentials(commands, leaf, wait_option)
    return parser


# ---------------------------------------------------------------------------------------------
# Settings: config context, then the options given


def resolve_settings(args: argparse.Namespace, config: "Config", *, headless: bool) -> "Settings":
    """The config context (or the simulator), then every option given on the command line,
    then the chosen backend's own defaults and checks (its ``about.finish``)."""
    from backends.settings import Settings

    chosen = "simulator" if args.demo else args.backend
    if args.demo and args.backend not in (None, "simulator"):
        raise UsageError(f"--demo is the simulator: it cannot go with --backend {args.backend}")
    from console.fleet_commands import context_names

    names = context_names(args)  # several are a fleet's (console.fleet_commands), one at a time
    if len(names) > 1:
        raise UsageError(f"one context at a time here, not {', '.join(names)}")
    context = names[0] if names else None
    if context:
        settings = config.settings_for(context)
        if chosen and chosen != settings.backend:
            raise UsageError(f"context {context!r} is a {settings.backend} context, not {chosen}")
    elif chosen:
        settings = Settings(backend=chosen)  # an explicit backend ignores current_context
    else:
        settings = config.settings_for(None)

    given = _given_backend_options(args)
    for backend, options in given.items():
        flags = [flag for flag, _ in options if flag not in {f for f, _ in given[settings.backend]}]
        if flags and backend != settings.backend:
            verb = "applies" if len(flags) == 1 else "apply"
            raise UsageError(f"{', '.join(flags)} {verb} only to the {backend} backend, not {settings.backend}")

    settings.read_only = settings.read_only or args.read_only
    settings.insecure_transport = settings.insecure_transport or args.insecure_transport
    about = registry.info(settings.backend)
    section = settings.chosen
    for f in about.option_fields():
        value = getattr(args, _dest(f))
        if value in (None, False):
            continue
        if field_type(f) == "bool":
            value = not f.metadata["option"]["negate"]
        setattr(section, f.name, list(value) if isinstance(value, list) else value)
    if about.finish is not None:
        how = registry.Resolving(
            headless=headless, demo=args.demo, given=frozenset(name for _, name in given[settings.backend])
        )
        about.finish(section, how)
    return settings


def _given_backend_options(args: argparse.Namespace) -> dict[str, list[tuple[str, str]]]:
    """For each backend, the (flag, field) of its options given on the command line."""
    return {
        about.name: [
            (f.metadata["option"]["flag"], f.name)
            for f in about.option_fields()
            if getattr(args, _dest(f), None) not in (None, False)
        ]
        for about in registry.infos().values()
    }


# ---------------------------------------------------------------------------------------------
# Entry


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """``container run IMAGE --host H -- CMD ARGS``: what follows ``--`` is the container's
    command. argparse cannot take it there (its positional list is filled before the
    options), so it is cut off first and handed over after parsing."""
    if "--" in argv:
        cut = argv.index("--")
        head = argv[:cut]
        if "container" in head and "run" in head[head.index("container") :]:
            return head, argv[cut + 1 :]
    return argv, []


def _interrupt_at_once() -> Any:
    """Ctrl-C ends the command at once with 130: the first press unwinds normally (locks
    released, temporaries removed), and if that has not finished within a moment, the
    process ends anyway rather than ignore the user."""
    import signal
    import threading

    def on_interrupt(signum: int, frame: Any) -> None:
        watchdog = threading.Timer(INTERRUPT_GRACE, lambda: os._exit(130))
        watchdog.daemon = True
        watchdog.start()
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: leave Python's default
        return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv, command = _split_command(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        return int(stop.code or 0) if not isinstance(stop.code, str) else 2
    if command:
        args.command_args = [*args.command_args, *command]
    previous = _interrupt_at_once() if getattr(args, "handler", None) is not None else None  # the TUI has its own keys
    try:
        return _run(args)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGINT, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a killed-by-SIGPIPE tool would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except BackendError as err:
        if args.debug:
            import traceback

            traceback.print_exc()
        _err(err.one_line())
        return err.exit_code
    except Exception as err:  # a bug: still one line, unless --debug
        if args.debug:
            import traceback

            traceback.print_exc()
        text = " ".join(str(err).split())
        _err(f"Error: unexpected {type(err).__name__}: {text} (run with --debug for details)")
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is _config_path:
        return _config_path(args)
    from console import fleet_commands

    if handler is _config_use_context:
        return fleet_commands.use_context(args)
    if len(fleet_commands.normalize(args)) > 1 and fleet_commands.needs_one(args):
        raise UsageError("this command takes one --context")
    from console.registry_commands import handler_for

    registry_command = handler_for(args)
    if registry_command is not None:  # no backend: the config file and the registries
        return registry_command(args)
    _check_inputs(args)
    from console.config import load_config

    config = load_config()
    # Following logs needs time to pass; every other command runs for a moment.
    headless = handler is not None and not getattr(args, "follow", False)
    fleet = fleet_commands.fleet_names(args, config)
    if fleet:  # several contexts at once (backends/fleet.py)
        given = [flag for options in _given_backend_options(args).values() for flag, _ in options]
        resolve = lambda one: resolve_settings(one, config, headless=headless)  # noqa: E731
        return fleet_commands.run(fleet, handler, args, config, resolve=resolve, given=given)
    settings = resolve_settings(args, config, headless=headless)
    args.row_context = settings.context  # every list's --json row says it
    from backends.endpoints import check_settings, warnings

    check_settings(settings)  # before anything is looked up or connected
    for line in warnings(settings):
        _err(line)  # on every command: a protection is off
    if handler is None:
        return _open_console(settings, config)
    if handler is _sim_serve:
        return _sim_serve(args, settings)
    if handler is _serve_web:
        return _serve_web(args)
    return _with_backend(settings, handler, args)


def _err(line: str) -> None:
    # Error lines carry servers' words (a Docker error, a VM's name): shown, never obeyed by
    # the terminal, and one line each.
    sys.stderr.write(visible(line) + "\n")
    sys.stderr.flush()


def _open_console(settings: "Settings", config: "Config") -> int:
    from console.app import run_app

    return run_app(settings, config)


def _config_use_context(args: argparse.Namespace) -> int:
    from console import fleet_commands

    return fleet_commands.use_context(args)


def _config_path(args: argparse.Namespace) -> int:
    from console.config import config_path

    print(config_path())
    return 0


def _sim_serve(args: argparse.Namespace, settings: "Settings") -> int:
    if settings.backend != "simulator":
        raise UsageError("sim serve serves the simulator: it takes no --backend or non-simulator --context")
    from backends.prism_sim.server import main as serve

    sim = settings.simulator
    return serve(
        argparse.Namespace(
            port=args.port,
            seed=sim.seed,
            scale=sim.scale,
            speed=1.0 if args.speed is None else sim.speed,  # a server runs in real time
            faults=sim.faults,
            activity=sim.activity,
            state_path=getattr(args, "serve_state", None) or sim.state_path,
            debug=args.debug,
        )
    ) or 0


def console_argv(args: argparse.Namespace) -> list[str]:
    """The global options given, as words that open the console the same way: what a
    browser's console is started with (serve-web). Rebuilt from the parsed values (each
    parses back to itself), so an abbreviated or reordered option comes out whole."""
    argv: list[str] = []
    for action in _global_options(suppress=False)._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest in ("help", "json") or value in (None, False, []):
            continue
        flag = action.option_strings[0]
        if action.nargs == 0:  # a switch
            argv.append(flag)
        else:  # FLAG=VALUE: a value that starts with '-' stays the option's
            argv += [f"{flag}={v}" for v in (value if isinstance(value, list) else [value])]
    return argv


def _serve_web(args: argparse.Namespace) -> int:
    from console import web

    return web.serve(console_argv(args), host=args.web_host, port=args.web_port)


def _with_backend(settings: "Settings", handler: Callable[..., Awaitable[int]], args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_session(settings, handler, args))


async def _session(settings: "Settings", handler: Callable[..., Awaitable[int]], args: argparse.Namespace) -> int:
    from backends.factory import open_backend

    backend = open_backend(settings)
    if settings.backend == "simulator":
        # A call is short: it holds the --demo-state file's lock from load to save, so
        # parallel calls on one file queue rather than overwrite each other's changes.
        backend.exclusive_state = True  # type: ignore[attr-defined]
    connected = False
    try:
        await backend.connect()
        connected = True
        # The inventory lives until exit: keep the collector from walking it again and again
        # while a large list is turned into rows (a second saved at 100,000 containers).
        gc.freeze()
        if backend.simulated:
            _err(f"simulated data ({_simulated_source(settings, backend)})")
        return await handler(backend, args)
    finally:
        if connected:
            if settings.backend == "simulator" and settings.simulator.state_path and settings.simulator.speed == 0:
                # "As fast as possible": what this call started is done by the next call.
                await backend.finish_running_tasks()  # type: ignore[attr-defined]
            await backend.close()
        else:
            try:
                await backend.close()
            except BackendError:
                pass  # the connect error is the one to report


def _simulated_source(settings: "Settings", backend: "Backend") -> str:
    if settings.backend != "simulator":  # e.g. the prism backend talking to `sim serve`
        return f"{backend.label}, served by the simulator"
    sim = settings.simulator
    scale = f", scale {sim.scale}" if sim.scale else ""
    return f"built-in simulator, seed {sim.seed}{scale}"


# ---------------------------------------------------------------------------------------------
# Commands


async def _list(backend: "Backend", args: argparse.Namespace) -> int:
    from console import output, presenters

    if getattr(args, "images_host", None):  # images list --host H: the engine's images
        from console.host_image_commands import list_host_images

        return await list_host_images(backend, args)

    inventory = await backend.snapshot()
    from console.fleet_commands import row_context, table_columns, with_context

    if args.json:
        # Each row is written as it is made (one JSON array): 100,000 containers are never
        # held as dicts and as text at once.
        def contextual() -> Any:
            add = row_context(backend, args)  # every row says its context, a fleet's or the one named
            for row in presenters.stream_rows(args.kind, inventory):
                add(row)
                yield row

        output.print_json(contextual())
        return 0
    items = presenters.rows(args.kind, inventory)
    several = with_context(items, backend, args)
    if several:  # a CONTEXT column only with more than one context
        output.print_columns(table_columns(args.kind), items)
    else:
        output.print_table(args.kind, items)
    return 0


async def _finish(backend: "Backend", task: "Task", args: argparse.Namespace) -> int:
    """Print a started task, or follow it to its end (within its timeout) and print the result."""
    import asyncio

    from backends.models import TaskStatus
    from console import output
    from console.presenters import tasks

    if args.wait and not task.done:
        from console import actions

        limit = args.timeout or actions.get(args.action_id).wait_timeout
        last = [task]

        def seen(current: "Task") -> None:
            last[0] = current
            progress.update(current)

        with output.TaskProgress() as progress:
            try:
                task = await asyncio.wait_for(backend.wait_task(task.id, seen), limit)
            except asyncio.TimeoutError:
                task = last[0]
                timed_out = True
            else:
                timed_out = False
        if timed_out:
            _err(
                f"Timed out: {task.kind} {task.target} still {task.status.value} at {task.progress}% after {limit:g}s"
                f" ({task.message}); it goes on in the backend (task {task.id})"
            )
            return 1
    if not args.wait and not task.done:
        # Returns once the backend has the action in hand (at once where its server runs it;
        # at its end where this process does, as for Docker): exiting must not cut it short.
        from console import actions

        limit = args.timeout or actions.get(args.action_id).wait_timeout
        try:
            task = await asyncio.wait_for(backend.handed_over(task.id), limit)
        except asyncio.TimeoutError:
            _err(f"Timed out: {task.kind} {task.target} not handed over after {limit:g}s (task {task.id})")
            return 1
    # --demo-state: the change is kept before a result is printed, so a save that fails is the
    # one line said (exit 1), never after a SUCCEEDED.
    save = getattr(backend, "save_state", None)
    if save is not None:
        await save(finish_tasks=True)
    if args.json:
        output.print_json(tasks.row(task))
    elif args.wait or task.done:
        print(tasks.line(task))
    else:
        print(f"{tasks.line(task)} (task {visible(task.id)})")
    if task.done and task.status is not TaskStatus.SUCCEEDED:
        _err(f"Task failed: {task.kind} {task.target}: {task.status.value}: {task.error or task.message}")
        return 1
    return 0


async def _find(backend: "Backend", kind: str, ref: str) -> Any:
    from backends.contract import resolve

    inv = await backend.snapshot()
    return resolve(inv.of(kind).values(), ref, kind[:-1])


async def _item_action(backend: "Backend", args: argparse.Namespace) -> int:
    """A registered action on one item: ``host delete web-01``, ``container stop db-1``."""
    from console import actions

    record = actions.get(args.action_id)
    item = await _find(backend, args.pane, args.item)
    if getattr(args, "dry_run", False):
        return await _dry_run(backend, record.impact_on(args.pane) or "", args.pane, item, args)
    switches = {flag.lstrip("-").replace("-", "_"): getattr(args, flag.lstrip("-").replace("-", "_")) for flag in args.switches}
    run = record.runner(args.pane)
    return await _finish(backend, await run(backend, item, **switches), args)


async def _dry_run(backend: "Backend", action: str, kind: str, item: Any, args: argparse.Namespace) -> int:
    """What the action would take down, from the same analysis the console's confirmation
    shows (backends.blast); nothing is sent to the backend but reads."""
    from backends.blast import impact
    from console import output

    found = impact(await backend.snapshot(), kind, [item.id], action)
    if args.json:
        output.print_json(found.as_dict())
    else:
        lines = found.lines() or ["nothing else is affected"]
        print(visible(f"{action} {item.name}: dry run, nothing changed"))
        for line in lines:
            print(visible(f"  {line}"))
    return 0


async def _spec_action(backend: "Backend", args: argparse.Namespace) -> int:
    """A registered action on a spec made from the options: ``host create``, ``container run``."""
    from console import actions

    record = actions.get(args.action_id)
    command = SPEC_COMMANDS[record.id]
    spec = await command.spec(backend, args)
    if command.preview is not None and getattr(args, "dry_run", False):
        return await command.preview(backend, spec, args)  # says what would happen; changes nothing
    return await _finish(backend, await record.runner(args.pane)(backend, spec), args)


# -- the options of each action that works on a spec, and the spec made from them -------------


def _host_create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")
    p.add_argument("--image", required=True, metavar="IMG")
    p.add_argument("--cores", required=True, type=_positive_int, metavar="N")
    p.add_argument("--memory-mib", required=True, type=_positive_int, metavar="M")
    p.add_argument("--network", required=True, metavar="NET")
    p.add_argument("--project", metavar="P")
    p.add_argument("--ssh", dest="ssh_target", metavar="USER@HOST[:PORT]", help="docker: the machine to provision")


async def _host_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import HostSpec

    return HostSpec(
        name=args.name,
        image=args.image,
        cores=args.cores,
        memory_mib=args.memory_mib,
        network=args.network,
        project=args.project,
        ssh_target=args.ssh_target,
        engine_check=not args.no_engine_check,
    )


def _upgrade_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="*", metavar="HOST", help="host names or ids")
    p.add_argument("--all", action="store_true", help="every container machine (on a swarm: every node)")
    p.add_argument("--to", required=True, metavar="VERSION", help="the Docker Engine version")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="N", help="hosts per wave (default 1)")
    p.add_argument("--continue-on-failure", action="store_true", help="go on after a failed wave")
    p.add_argument(
        "--dry-run", action="store_true",
        help="print the waves (on a swarm: the tasks each wave moves, and a wave refused) and change nothing",
    )


async def _upgrade_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import UpgradeSpec, resolve
    from backends.models import HostState

    if args.all == bool(args.hosts):
        raise UsageError("name the hosts to upgrade, or give --all (not both)")
    inv = await backend.snapshot()
    if args.all:
        # A swarm's hosts are its nodes (manager or worker): each runs an engine to upgrade.
        machines = sorted((h for h in inv.hosts.values() if h.role in ("container-machine", "manager", "worker")),
                          key=lambda h: h.name)
        hosts = [h for h in machines if h.state is HostState.RUNNING]
        for h in machines:
            if h.state is not HostState.RUNNING:
                _err(f"skipping {h.name}: {h.state.value}")
        if not hosts:
            raise InvalidInput("there are no running container machines to upgrade")
    else:
        hosts = [resolve(inv.hosts.values(), ref, "host") for ref in args.hosts]
    return UpgradeSpec(
        host_ids=tuple(dict.fromkeys(h.id for h in hosts)),
        target_version=args.to,
        batch_size=args.batch,
        continue_on_failure=args.continue_on_failure,
    )


async def _upgrade_preview(backend: "Backend", spec: Any, args: argparse.Namespace) -> int:
    """``hosts upgrade --dry-run``: the plan the backend would run, from the inventory as it
    is now; on a swarm, what each wave drains away and a wave refused (exit as the upgrade
    itself would be refused)."""
    from backends.errors import Conflict
    from backends.waves import plan_waves
    from console import output

    inv = await backend.snapshot()
    plan = plan_waves([inv.hosts[i] for i in spec.host_ids], spec.target_version, spec.batch_size, inventory=inv)
    refusal = None
    if backend.kind_for(spec.host_ids) == "swarm":  # a swarm's context in a fleet too
        from backends.swarm.upgrade import preview

        shown = preview(inv, plan)
        lines, data, refusal = shown.lines(), shown.as_dict(), shown.refusal()
    else:
        lines = [f"{plan.host_count} host(s) in {len(plan.waves)} wave(s) to Docker {plan.target_version}"]
        lines += [f"  ! {w}" for w in plan.warnings]
        for w in plan.waves:
            lines.append(f"  wave {w.number}: " + ", ".join(f"{h.name} ({h.from_version or '?'})" for h in w.hosts))
            # Why each host is in this wave: the failure domains the planner kept apart.
            lines += [f"      {h.name}: {h.why.split(': ', 1)[-1]}" for h in w.hosts if h.why]
        lines += [f"  skip {h.name}: {h.skip_reason}" for h in plan.skipped]
        data = {
            "target_version": plan.target_version,
            "waves": [{"number": w.number, "hosts": [{"id": h.host_id, "name": h.name, "from_version": h.from_version,
                                                      "why": h.why} for h in w.hosts]} for w in plan.waves],
            "skipped": [{"id": h.host_id, "name": h.name, "reason": h.skip_reason} for h in plan.skipped],
            "warnings": list(plan.warnings),
        }
    if args.json:
        output.print_json(data)
    else:
        for line in lines:  # names are the servers': shown, never obeyed by the terminal
            print(visible(line))
    if refusal:
        raise Conflict(refusal)
    return 0


def _volume_create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")
    p.add_argument("--size-gib", required=True, type=_positive_float, metavar="G")
    p.add_argument("--host", metavar="HOST", help="attach it to this host at once")
    p.add_argument("--driver", metavar="DRIVER")


async def _volume_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import VolumeSpec

    return VolumeSpec(name=args.name, size_gib=args.size_gib, driver=args.driver, host=args.host)


def _attach_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", metavar="VOLUME")
    p.add_argument("--host", required=True, metavar="HOST")
    p.add_argument("--container", metavar="C")
    p.add_argument("--mount", metavar="PATH", help="where the container sees it (with --container)")


async def _attach_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import resolve
    from console.actions import AttachRequest

    if bool(args.container) != bool(args.mount):
        raise UsageError("--container and --mount go together")
    inv = await backend.snapshot()
    volume = resolve(inv.volumes.values(), args.volume, "volume")
    host = resolve(inv.hosts.values(), args.host, "host")
    container_id = resolve(inv.containers.values(), args.container, "container").id if args.container else None
    return AttachRequest(host.id, volume_id=volume.id, container_id=container_id, mount_path=args.mount)


def _pairs(values: list[str], sep: str, what: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        left, found, right = value.partition(sep)
        if not found or not left or not right:
            raise UsageError(f"{what} {value!r}: expected {what.upper()}{sep}...")
        out.append((left, right))
    return out


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command_args", nargs="*", metavar="COMMAND", help="after --: the command and its arguments")
    p.add_argument("--host", required=True, metavar="H")
    p.add_argument("--name", metavar="N")
    p.add_argument(
        "-v", "--volume", action="append", default=[], metavar="VOL:/PATH[:ro]",
        help="mount an existing volume, or make a new one first with VOL:SIZE_GIB:/PATH (repeatable)",
    )
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE", help="(repeatable)")
    p.add_argument(
        "-p", "--publish", action="append", default=[], metavar="[HOST:]PORT[/tcp]", help="publish a tcp port (repeatable)"
    )
    p.add_argument("--restart", default="no", metavar="POLICY", help="no, always, unless-stopped, on-failure")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="(repeatable)")


async def _run_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    """A RunRequest (console.actions): the spec, and the new volumes made on the host first.
    Every option is checked by the shared rules (console.run_options) before anything is sent."""
    import dataclasses

    from backends.contract import Capability, resolve
    from console.run_options import run_request

    inv = await backend.snapshot()
    try:
        host_id = resolve(inv.hosts.values(), args.host, "host").id
    except Exception:  # the backend says what is wrong with the host when it runs
        host_id = None
    request = run_request(
        image=args.image, host=args.host, name=args.name, command=args.command_args, ports=args.publish,
        env=args.env, volumes=args.volume, restart=args.restart, labels=args.label, inventory=inv, host_id=host_id,
        must_exist=backend.supports(Capability.VOLUMES_HOST_ATTACH) and host_id is not None,
    )
    # A pull it needs carries the configured registry's credentials (issue 13).
    auth = _images.auth_for(backend, inv, args.image, args.host)
    return dataclasses.replace(request, spec=dataclasses.replace(request.spec, registry_auth=auth))


def _service_create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME")
    p.add_argument("--image", required=True, metavar="IMAGE")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--replicas", type=_whole_number, metavar="N", help="tasks to run (default 1)")
    mode.add_argument("--global", dest="global_mode", action="store_true", help="one task on every node")
    p.add_argument("--secret", action="append", default=[], metavar="SECRET", help="mount at /run/secrets/SECRET (repeatable)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="(repeatable)")
    swarm_commands.add_create_options(p)


def _whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


async def _service_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import ServiceSpec

    return ServiceSpec(
        name=args.name,
        image=args.image,
        replicas=None if args.global_mode else (1 if args.replicas is None else args.replicas),
        env=tuple(_pairs(args.env, "=", "env")),
        secrets=tuple(args.secret),
        configs=tuple(args.config),
        constraints=tuple(args.constraint),
        update=swarm_commands.update_policy(args),
        # Sent with the service so that every node can pull (``--with-registry-auth``).
        registry_auth=_images.auth_for(backend, await backend.snapshot(), args.image, None),
    )


def _service_scale_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("replicas", type=_whole_number, metavar="N")


async def _scale_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import ScaleSpec

    return ScaleSpec(service=args.service, replicas=args.replicas)


from console import host_image_commands as _images  # noqa: E402  (light: argparse only at import)
from console import swarm_commands  # noqa: E402  (light: argparse only at import)


class _SpecCommand(NamedTuple):
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    spec: Callable[["Backend", argparse.Namespace], Awaitable[Any]]
    # With --dry-run (where the arguments offer it): print what would happen, change nothing.
    preview: Callable[["Backend", Any, argparse.Namespace], Awaitable[int]] | None = None


# By action id (console.actions): what the CLI asks for, and the spec it makes.
SPEC_COMMANDS: dict[str, _SpecCommand] = {
    "host.create": _SpecCommand("create a container machine", _host_create_arguments, _host_spec),
    "host.upgrade": _SpecCommand(
        "rolling upgrade of Docker Engine on hosts, in waves (on a swarm: drain, upgrade, activate)",
        _upgrade_arguments, _upgrade_spec, _upgrade_preview,
    ),
    "volume.create": _SpecCommand("create a volume", _volume_create_arguments, _volume_spec),
    "volume.attach": _SpecCommand(
        "attach a volume to a host (and mount it in a container)", _attach_arguments, _attach_spec
    ),
    "container.run": _SpecCommand("run a container on a host", _run_arguments, _run_spec),
    "service.create": _SpecCommand("create a swarm service", _service_create_arguments, _service_spec),
    "service.scale": _SpecCommand("scale a replicated service to N tasks", _service_scale_arguments, _scale_spec),
    "secret.create": _SpecCommand(
        "create a swarm secret from a file or standard input",
        swarm_commands.secret_create_arguments, swarm_commands.secret_spec,
    ),
    "service.update": _SpecCommand(
        "rolling update of a service's image (prints the waves first; --dry-run: only them)",
        swarm_commands.update_arguments, swarm_commands.update_spec, swarm_commands.update_preview,
    ),
    "service.rollback": _SpecCommand(
        "roll a service back to its previous spec", swarm_commands.rollback_arguments, swarm_commands.rollback_spec
    ),
    "secret.rotate": _SpecCommand(
        "rotate a secret from a file or standard input: a new secret, its services moved to it, the old one removed",
        swarm_commands.rotate_arguments, swarm_commands.rotate_spec,
    ),
    "config.create": _SpecCommand(
        "create a swarm config from a file or standard input", swarm_commands.config_create_arguments, swarm_commands.config_spec
    ),
    "host_image.pull": _SpecCommand(
        "pull an image onto a host (with the configured registry's credentials)", _images.pull_arguments, _images.pull_spec
    ),
    "host_image.remove": _SpecCommand(
        "remove an image from a host (refused while containers use it, unless --force)", _images.remove_arguments,
        _images.remove_spec,
    ),
    "host_image.prune": _SpecCommand(
        "remove a host's dangling images (--unused: every image no container uses); prints the space reclaimed",
        _images.prune_arguments, _images.prune_spec,
    ),
}


async def _logs(backend: "Backend", args: argparse.Namespace) -> int:
    from console.log_commands import print_logs

    return await print_logs(backend, args, [await _find(backend, "containers", ref) for ref in args.containers])

