"""The CLI's swarm commands beyond create / scale / remove (issue 12): a service's rolling
update (with the preview of its waves, and ``--dry-run``), rollback, secret creation and
rotation, and configs. ``console/cli.py`` lists them in ``SPEC_COMMANDS``; this module gives
their options, the checks made before connecting, and the specs.

Light at import (argparse only): the CLI's start-up stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from backends.errors import InvalidInput

if TYPE_CHECKING:
    from backends.contract import Backend

MAX_VALUE_BYTES = 500 * 1024  # a secret's (and here a config's) largest value on a swarm


class _UsageError(InvalidInput):
    title = "Usage"  # as console.cli's UsageError (not imported: the CLI imports this module)


def _usage(message: str) -> InvalidInput:
    return _UsageError(message)


def _print(line: str) -> None:
    from widgets.terminal_text import visible

    print(visible(line))  # names and images are the server's: shown, never obeyed


# -- service create: the options beyond image, replicas, secrets and env -----------------------


def add_create_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[], metavar="CONFIG", help="mount the config at /CONFIG (repeatable)")
    p.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                   help="placement, e.g. node.role==worker (repeatable)")
    p.add_argument("--update-parallelism", type=int, metavar="N", help="tasks updated at a time (0: all; default 1)")
    p.add_argument("--update-delay", metavar="SECONDS", help="pause between waves of an update (default 0)")
    p.add_argument("--update-failure-action", metavar="ACTION", help="pause (default), continue or rollback")
    p.add_argument("--update-order", metavar="ORDER", help="stop-first (default) or start-first")


def check_create(args: argparse.Namespace) -> None:
    """The create options by the rules the forms and the backend use (exit 2, one line)."""
    from backends import validation as v

    for name in args.config:
        v.check_config_name(name)
    for expr in args.constraint:
        v.check_constraint(expr)
    v.check_update_policy(update_policy(args))


def update_policy(args: argparse.Namespace) -> Any:
    from backends import validation as v
    from backends.models import UpdatePolicy

    default = UpdatePolicy()
    delay = default.delay_s
    if args.update_delay is not None:
        if (problem := v.update_delay_problem(args.update_delay)):
            raise InvalidInput(f"--update-delay {args.update_delay!r}: {problem}")
        delay = float(args.update_delay)
    return UpdatePolicy(
        parallelism=default.parallelism if args.update_parallelism is None else args.update_parallelism,
        delay_s=delay,
        failure_action=args.update_failure_action or default.failure_action,
        order=args.update_order or default.order,
    )


# -- service update ---------------------------------------------------------------------------


def update_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("--image", required=True, metavar="IMAGE")
    p.add_argument("--dry-run", action="store_true", help="print the waves the update would make and change nothing")


def check_update(args: argparse.Namespace) -> None:
    from backends import validation as v

    v.check_image_ref(args.image)


async def _planned(backend: "Backend", ref: str, image: str) -> tuple[Any, Any]:
    from backends.contract import resolve
    from console.presenters import services

    inv = await backend.snapshot()
    s = resolve(inv.services.values(), ref, "service")
    if s.image == image:
        raise InvalidInput(f"service {s.name} already runs {image}: nothing to update")
    return s, services.update_plan(inv, s)


async def update_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    """The update, after printing its waves (unless --json: then only the task is printed)."""
    from backends.contract import ServiceUpdateSpec
    from console.actions import UpdateRequest
    from console.presenters import services

    s, waves = await _planned(backend, args.service, args.image)
    if args.dry_run:
        return UpdateRequest(s.name, ServiceUpdateSpec(service=s.id, image=args.image))
    if not args.json:
        for line in services.plan_lines(s, args.image, waves):
            _print(line)
        sys.stdout.flush()
    from console.host_image_commands import auth_for

    # Sent with the update so that every node can pull (as ``--with-registry-auth``).
    auth = auth_for(backend, await backend.snapshot(), args.image, None)
    return UpdateRequest(s.name, ServiceUpdateSpec(service=s.id, image=args.image, registry_auth=auth))


async def update_preview(backend: "Backend", request: Any, args: argparse.Namespace) -> int:
    """``service update --dry-run``: the waves, from the inventory as it is; nothing sent."""
    from console import output
    from console.presenters import services

    s, waves = await _planned(backend, request.spec.service, request.spec.image)
    if args.json:
        output.print_json(services.plan_row(s, request.spec.image, waves))
    else:
        for line in services.plan_lines(s, request.spec.image, waves):
            _print(line)
        _print("dry run: nothing changed")
    return 0


# -- service rollback ---------------------------------------------------------------------------


def rollback_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", metavar="SERVICE")


async def rollback_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import resolve

    inv = await backend.snapshot()
    return resolve(inv.services.values(), args.service, "service")


# -- values: a secret's or a config's, never an argument -----------------------------------------


def value_arguments(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("name", metavar="NAME")
    # The value is never an argument (it would sit in the process list and the shell's
    # history): a file, standard input, or (a secret, on a terminal) a masked prompt.
    p.add_argument("source", nargs="?", metavar="-", help="'-': read the value from standard input")
    p.add_argument("--file", metavar="PATH", help=f"read the {what} from this file")


def read_value(args: argparse.Namespace, command: str, *, prompt: str | None) -> bytes:
    if args.source not in (None, "-"):
        raise _usage(f"{command} NAME takes the value from --file PATH or '-' (standard input), never as an argument")
    if args.file and args.source == "-":
        raise _usage("give --file PATH or '-', not both")
    if args.file:
        try:
            with open(args.file, "rb") as f:
                data = f.read(MAX_VALUE_BYTES + 1)
        except OSError as err:
            raise InvalidInput(f"--file {args.file}: {err.strerror or err}") from None
    elif args.source == "-":
        data = sys.stdin.buffer.read(MAX_VALUE_BYTES + 1)
    elif prompt is not None and sys.stdin.isatty():
        import getpass

        data = getpass.getpass(prompt).encode()
    else:
        raise _usage(f"{command} NAME: give --file PATH, or '-' to read standard input")
    if len(data) > MAX_VALUE_BYTES:
        raise InvalidInput(f"{command.split()[0]} {args.name}: the value is larger than the swarm's 500 KiB")
    if not data:
        raise InvalidInput(f"{command.split()[0]} {args.name}: the value is empty")
    return data


def secret_create_arguments(p: argparse.ArgumentParser) -> None:
    value_arguments(p, "value")


async def secret_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import SecretSpec

    return SecretSpec(name=args.name, data=read_value(args, "secret create", prompt=f"value of secret {args.name} (not shown): "))


def rotate_arguments(p: argparse.ArgumentParser) -> None:
    value_arguments(p, "new value")


async def rotate_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import resolve
    from console.actions import RotateRequest

    inv = await backend.snapshot()
    secret = resolve(inv.secrets.values(), args.name, "secret")  # before asking for a value
    data = read_value(args, "secret rotate", prompt=f"new value of secret {secret.name} (not shown): ")
    return RotateRequest(secret.name, secret.id, data)


def config_create_arguments(p: argparse.ArgumentParser) -> None:
    value_arguments(p, "config's content")


async def config_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import ConfigSpec

    return ConfigSpec(name=args.name, data=read_value(args, "config create", prompt=None))


def check_inputs(action: str | None, args: argparse.Namespace) -> None:
    """What the user typed for these commands, checked before connecting."""
    from backends import validation as v

    if action == "service.create":
        check_create(args)
    elif action == "service.update":
        check_update(args)
    elif action in ("config.create", "secret.rotate"):
        if action == "config.create":
            v.check_config_name(args.name)
        if args.source not in (None, "-"):  # a value typed as an argument: refused before anything else
            raise _usage(f"{action.replace('.', ' ')} NAME takes the value from --file PATH or '-' (standard input), "
                         "never as an argument")
