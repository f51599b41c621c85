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
from typing import TYPE_CHECKING, Any, Awaitable, Callable, NoReturn

from backends import registry
from backends.errors import BackendError, InvalidInput
from backends.settings import field_type

if TYPE_CHECKING:
    from backends.contract import Backend
    from backends.models import Task
    from backends.settings import Settings
    from console.config import Config

PROG = "ntnx-console"
LIST_KINDS = ("hosts", "containers", "volumes", "tasks", "images", "networks", "projects", "nodes", "events")

class UsageError(InvalidInput):
    title = "Usage"


def _check_inputs(args: argparse.Namespace) -> None:
    """What the user typed, by the rules the forms and the backends use, before connecting:
    bad input costs nothing."""
    from backends import validation as v

    handler = getattr(args, "handler", None)
    if handler is _create_host:
        v.check_host_name(args.name)
    elif handler is _create_volume:
        v.check_volume_name(args.name)
        v.check_volume_size(args.size_gib)
    elif handler is _attach_volume and args.mount:
        v.check_mount_path(args.mount)
    elif handler is _run_container:
        v.check_image_ref(args.image)
        if args.name is not None:
            v.check_container_name(args.name)
        for _, path in _pairs(args.volume, ":", "volume"):
            v.check_mount_path(path)


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
    g.add_argument("--context", metavar="NAME", default=default(None), help="a context from the config file")
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
    for about in registry.infos().values():
        group = s if about.name == "simulator" else p.add_argument_group(about.options_title or about.name)
        for f in about.option_fields():
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

    cfg = commands.add_parser("config", help="the config file").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    leaf(cfg, "path", _config_path, "print where the config file is")

    for kind in LIST_KINDS:
        sub = commands.add_parser(kind, help=f"list {kind}" + (", upgrade hosts" if kind == "hosts" else ""))
        actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
        leaf(actions, "list", _list, f"list {kind}").set_defaults(kind=kind)
        if kind == "hosts":
            p = leaf(actions, "upgrade", _upgrade_hosts, "rolling upgrade of Docker Engine on hosts, in waves")
            p.add_argument("hosts", nargs="*", metavar="HOST", help="host names or ids")
            p.add_argument("--all", action="store_true", help="every container machine")
            p.add_argument("--to", required=True, metavar="VERSION", help="the Docker Engine version")
            p.add_argument("--batch", type=_positive_int, default=1, metavar="N", help="hosts per wave (default 1)")
            p.add_argument("--continue-on-failure", action="store_true", help="go on after a failed wave")
            wait_option(p)

    host = commands.add_parser("host", help="create, delete, power hosts").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    p = leaf(host, "create", _create_host, "create a container machine")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--image", required=True, metavar="IMG")
    p.add_argument("--cores", required=True, type=_positive_int, metavar="N")
    p.add_argument("--memory-mib", required=True, type=_positive_int, metavar="M")
    p.add_argument("--network", required=True, metavar="NET")
    p.add_argument("--project", metavar="P")
    p.add_argument("--ssh", dest="ssh_target", metavar="USER@HOST[:PORT]", help="docker: the machine to provision")
    wait_option(p)
    for name, method in (("delete", "delete_host"), ("power-on", "power_on_host"), ("power-off", "power_off_host")):
        p = leaf(host, name, _host_action, f"{name.replace('-', ' ')} a host")
        p.add_argument("host", metavar="HOST")
        p.set_defaults(method=method)
        wait_option(p)

    volume = commands.add_parser("volume", help="create, attach, detach, delete volumes").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    p = leaf(volume, "create", _create_volume, "create a volume")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--size-gib", required=True, type=_positive_float, metavar="G")
    p.add_argument("--host", metavar="HOST", help="attach it to this host at once")
    p.add_argument("--driver", metavar="DRIVER")
    wait_option(p)
    p = leaf(volume, "attach", _attach_volume, "attach a volume to a host (and mount it in a container)")
    p.add_argument("volume", metavar="VOLUME")
    p.add_argument("--host", required=True, metavar="HOST")
    p.add_argument("--container", metavar="C")
    p.add_argument("--mount", metavar="PATH", help="where the container sees it (with --container)")
    wait_option(p)
    for name, method in (("detach", "detach_volume"), ("delete", "delete_volume")):
        p = leaf(volume, name, _volume_action, f"{name} a volume")
        p.add_argument("volume", metavar="VOLUME")
        p.set_defaults(method=method)
        wait_option(p)

    container = commands.add_parser("container", help="run, start, stop, remove containers; logs").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    for name in ("start", "stop", "restart", "remove"):
        p = leaf(container, name, _container_action, f"{name} a container")
        p.add_argument("container", metavar="CONTAINER")
        p.set_defaults(method=f"{name}_container")
        if name == "remove":
            p.add_argument("--force", action="store_true", help="remove it even when running")
        wait_option(p)
    p = leaf(container, "run", _run_container, "run a container on a host")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command_args", nargs="*", metavar="COMMAND", help="after --: the command and its arguments")
    p.add_argument("--host", required=True, metavar="H")
    p.add_argument("--name", metavar="N")
    p.add_argument("--volume", action="append", default=[], metavar="VOL:PATH", help="mount a volume (repeatable)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="(repeatable)")
    p.add_argument("--publish", action="append", default=[], metavar="[HOST_PORT:]PORT", help="(repeatable)")
    p.add_argument("--restart", default="no", metavar="POLICY", help="no, always, unless-stopped, on-failure")
    wait_option(p)
    p = leaf(container, "logs", _logs, "print a container's logs")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--tail", type=_positive_int, metavar="N")

    sim = commands.add_parser("sim", help="the simulator served as Prism Central").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    p = leaf(sim, "serve", _sim_serve, "serve the simulator as Prism Central over HTTPS on 127.0.0.1")
    p.add_argument("--port", type=int, default=9440)
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
    if args.context:
        settings = config.settings_for(args.context)
        if chosen and chosen != settings.backend:
            raise UsageError(f"context {args.context!r} is a {settings.backend} context, not {chosen}")
    elif chosen:
        settings = Settings(backend=chosen)  # an explicit backend ignores current_context
    else:
        settings = config.settings_for(None)

    given = _given_backend_options(args)
    for backend, options in given.items():
        if options and backend != settings.backend:
            flags = [flag for flag, _ in options]
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        return int(stop.code or 0) if not isinstance(stop.code, str) else 2
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
    _check_inputs(args)
    from console.config import load_config

    config = load_config()
    # Following logs needs time to pass; every other command runs for a moment.
    headless = handler is not None and not getattr(args, "follow", False)
    settings = resolve_settings(args, config, headless=headless)
    from backends.endpoints import check_settings, warnings

    check_settings(settings)  # before anything is looked up or connected
    for line in warnings(settings):
        _err(line)  # on every command: a protection is off
    if handler is None:
        return _open_console(settings, config)
    if handler is _sim_serve:
        return _sim_serve(args, settings)
    return _with_backend(settings, handler, args)


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _open_console(settings: "Settings", config: "Config") -> int:
    from console.app import run_app

    return run_app(settings, config)


def _config_path(args: argparse.Namespace) -> int:
    from console.config import config_path

    print(config_path())
    return 0


def _sim_serve(args: argparse.Namespace, settings: "Settings") -> int:
    if settings.backend != "simulator":
        raise UsageError("sim serve serves the simulator: it takes no --backend or non-simulator --context")
    from backends.prism.sim_server import main as serve

    sim = settings.simulator
    return serve(
        argparse.Namespace(
            port=args.port,
            seed=sim.seed,
            scale=sim.scale,
            speed=1.0 if args.speed is None else sim.speed,  # a server runs in real time
            faults=sim.faults,
            activity=sim.activity,
            state_path=sim.state_path,
            debug=args.debug,
        )
    ) or 0


def _with_backend(settings: "Settings", handler: Callable[..., Awaitable[int]], args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_session(settings, handler, args))


async def _session(settings: "Settings", handler: Callable[..., Awaitable[int]], args: argparse.Namespace) -> int:
    from backends.factory import open_backend

    backend = open_backend(settings)
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
    from console import output

    items = output.rows(args.kind, await backend.snapshot())
    if args.json:
        output.print_json(items)
    else:
        output.print_table(args.kind, items)
    return 0


async def _finish(backend: "Backend", task: "Task", args: argparse.Namespace) -> int:
    """Print a started task, or follow it to its end and print the result."""
    from backends.models import TaskStatus
    from console import output

    if args.wait and not task.done:
        with output.TaskProgress() as progress:
            task = await backend.wait_task(task.id, progress.update)
    if args.json:
        output.print_json(output.task_row(task))
    elif args.wait or task.done:
        print(output.task_line(task))
    else:
        print(f"{output.task_line(task)} (task {task.id})")
    if task.done and task.status is not TaskStatus.SUCCEEDED:
        _err(f"Task failed: {task.kind} {task.target}: {task.status.value}: {task.error or task.message}")
        return 1
    return 0


async def _find(backend: "Backend", kind: str, ref: str) -> Any:
    from backends.contract import resolve

    inv = await backend.snapshot()
    return resolve(inv.of(kind).values(), ref, kind[:-1])


async def _create_host(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import HostSpec

    spec = HostSpec(
        name=args.name,
        image=args.image,
        cores=args.cores,
        memory_mib=args.memory_mib,
        network=args.network,
        project=args.project,
        ssh_target=args.ssh_target,
        engine_check=not args.no_engine_check,
    )
    return await _finish(backend, await backend.create_host(spec), args)


async def _host_action(backend: "Backend", args: argparse.Namespace) -> int:
    host = await _find(backend, "hosts", args.host)
    return await _finish(backend, await getattr(backend, args.method)(host.id), args)


async def _upgrade_hosts(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import UpgradeSpec, resolve
    from backends.models import HostState

    if args.all == bool(args.hosts):
        raise UsageError("name the hosts to upgrade, or give --all (not both)")
    inv = await backend.snapshot()
    if args.all:
        machines = sorted((h for h in inv.hosts.values() if h.role == "container-machine"), key=lambda h: h.name)
        hosts = [h for h in machines if h.state is HostState.RUNNING]
        for h in machines:
            if h.state is not HostState.RUNNING:
                _err(f"skipping {h.name}: {h.state.value}")
        if not hosts:
            raise InvalidInput("there are no running container machines to upgrade")
    else:
        hosts = [resolve(inv.hosts.values(), ref, "host") for ref in args.hosts]
    spec = UpgradeSpec(
        host_ids=tuple(dict.fromkeys(h.id for h in hosts)),
        target_version=args.to,
        batch_size=args.batch,
        continue_on_failure=args.continue_on_failure,
    )
    return await _finish(backend, await backend.upgrade_hosts(spec), args)


async def _create_volume(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import VolumeSpec

    spec = VolumeSpec(name=args.name, size_gib=args.size_gib, driver=args.driver, host=args.host)
    return await _finish(backend, await backend.create_volume(spec), args)


async def _attach_volume(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import resolve

    if bool(args.container) != bool(args.mount):
        raise UsageError("--container and --mount go together")
    inv = await backend.snapshot()
    volume = resolve(inv.volumes.values(), args.volume, "volume")
    host = resolve(inv.hosts.values(), args.host, "host")
    container_id = resolve(inv.containers.values(), args.container, "container").id if args.container else None
    task = await backend.attach_volume(volume.id, host.id, container_id=container_id, mount_path=args.mount)
    return await _finish(backend, task, args)


async def _volume_action(backend: "Backend", args: argparse.Namespace) -> int:
    volume = await _find(backend, "volumes", args.volume)
    return await _finish(backend, await getattr(backend, args.method)(volume.id), args)


async def _container_action(backend: "Backend", args: argparse.Namespace) -> int:
    container = await _find(backend, "containers", args.container)
    if args.method == "remove_container":
        task = await backend.remove_container(container.id, force=args.force)
    else:
        task = await getattr(backend, args.method)(container.id)
    return await _finish(backend, task, args)


def _pairs(values: list[str], sep: str, what: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        left, found, right = value.partition(sep)
        if not found or not left or not right:
            raise UsageError(f"{what} {value!r}: expected {what.upper()}{sep}...")
        out.append((left, right))
    return out


async def _run_container(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import ContainerSpec, MountSpec

    mounts = []
    for volume, path in _pairs(args.volume, ":", "volume"):
        mounts.append(MountSpec(volume=volume, path=path))
    ports = []
    for text in args.publish:
        host_port, _, container_port = text.rpartition(":")
        try:
            ports.append((int(container_port), int(host_port) if host_port else None))
        except ValueError:
            raise UsageError(f"--publish {text!r}: expected [HOST_PORT:]PORT") from None
    spec = ContainerSpec(
        image=args.image,
        host=args.host,
        name=args.name,
        command=tuple(args.command_args),
        env=tuple(_pairs(args.env, "=", "env")),
        ports=tuple(ports),
        mounts=tuple(mounts),
        restart_policy=args.restart,
    )
    return await _finish(backend, await backend.run_container(spec), args)


async def _logs(backend: "Backend", args: argparse.Namespace) -> int:
    import json

    container = await _find(backend, "containers", args.container)
    async for line in backend.logs(container.id, follow=args.follow, tail=args.tail):
        if args.json:
            sys.stdout.write(json.dumps({"time": line.time, "stream": line.stream, "text": line.text}) + "\n")
        else:
            (sys.stderr if line.stream == "stderr" else sys.stdout).write(line.text.rstrip("\n") + "\n")
        if args.follow:
            sys.stdout.flush()
    return 0
