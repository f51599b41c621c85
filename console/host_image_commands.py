"""The CLI's commands for container images on hosts (issue 13), apart from ``cli.py`` so that
it only wires them:

    images list --host H [--json]          repository, tag, id, size_bytes, created, containers, dangling
    image pull HOST REF [--wait]           with the configured registry's credentials
    image remove IMAGE --host H [--force]  IMAGE: an id (short or whole), a tag, or HOST_ID/IMAGE_ID
    images prune --host H [--unused] [--wait]

Pull, remove and prune are action records (``console.actions``) whose specs are made here
(``SPEC_COMMANDS`` in ``cli.py`` names these functions). Light at import: the CLI imports
this to build its parser.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backends.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from backends.contract import Backend, Inventory, RegistryAuth
    from backends.models import Host, HostImage


@dataclass(frozen=True)
class RemoveImageRequest:
    """What ``image remove`` asks: one HostImage (by its id, or HOST_ID/TAG to untag), forced or not."""

    id: str
    name: str
    force: bool = False


@dataclass(frozen=True)
class PruneRequest:
    host: str
    unused: bool = False
    name: str = ""


# -- lookups -------------------------------------------------------------------------------------


def find_host(inv: "Inventory", ref: str) -> "Host":
    from backends.contract import resolve

    return resolve(inv.hosts.values(), ref, "host")


def find_image(inv: "Inventory", host: "Host", ref: str) -> tuple["HostImage", str]:
    """The image ``ref`` names on ``host`` (its HostImage id, its image id whole or as the
    12-digit short form, or one of its tags), and what to remove: the tag when a tag was
    named (``docker rmi TAG``), else the HostImage id."""
    on_host = [i for i in inv.host_images.values() if i.host_id == host.id]
    bare = ref.removeprefix(f"{host.id}/")
    for i in on_host:
        if bare in (i.image_id, i.id):
            return i, i.id
        if bare in i.repo_tags or (":" not in bare.rpartition("/")[2] and f"{bare}:latest" in i.repo_tags):
            tag = bare if bare in i.repo_tags else f"{bare}:latest"
            return i, f"{host.id}/{tag}"
    digits = bare.removeprefix("sha256:")
    short = [i for i in on_host if len(digits) >= 4 and i.image_id.removeprefix("sha256:").startswith(digits)]
    if len(short) == 1:
        return short[0], short[0].id
    if len(short) > 1:
        raise InvalidInput(f"image {ref!r} names {len(short)} images on {host.name}: give more of the id")
    raise NotFound(f"image {ref} not found on {host.name} (images list --host {host.name})")


def host_project(inv: "Inventory", host: "Host") -> str | None:
    """The name of the project the host belongs to (Prism's machines), for its registries."""
    project = inv.projects.get(host.project_id or "")
    return project.name if project is not None else None


def auth_for(backend: "Backend", inv: "Inventory", image: str, host_ref: str | None) -> "RegistryAuth | None":
    """The configured registry's credentials for ``image`` (None: none configured or anonymous)."""
    from console.registry_auth import registry_auth

    project = None
    context = backend.label or None
    if host_ref:
        try:
            host = find_host(inv, host_ref)
            project = host_project(inv, host)
            if backend.kind == "fleet":  # several contexts: the registries of the host's own
                context = host.id.partition("/")[0]
        except (NotFound, InvalidInput):
            project = None  # the backend says what is wrong with the host
    return registry_auth(image, context=context, project=project)


# -- images list --host ------------------------------------------------------------------------


def add_list_option(images_list: argparse.ArgumentParser) -> None:
    images_list.add_argument(
        "--host", dest="images_host", metavar="H",
        help="list the container images on a host's engine (without: the backend's disk images)",
    )


async def list_host_images(backend: "Backend", args: argparse.Namespace) -> int:
    from backends.contract import Capability
    from console import output
    from console.presenters import host_images

    if not backend.supports(Capability.HOST_IMAGES):
        raise InvalidInput(f"the {backend.kind} backend lists no container images on hosts")
    inv = await backend.snapshot()
    host = find_host(inv, args.images_host)
    rows = [r for r in host_images.rows(inv) if r["host_id"] == host.id]
    if args.json:
        output.print_json(rows)
    else:
        output.print_table("host_images", rows)
    return 0


# -- image pull ----------------------------------------------------------------------------------


def pull_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", metavar="HOST")
    p.add_argument("image", metavar="REF", help="[registry/]repository[:tag|@digest]")


async def pull_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    from backends.contract import PullSpec
    from backends.validation import check_image_ref

    check_image_ref(args.image)  # before a password is looked up for it
    inv = await backend.snapshot()
    return PullSpec(host=args.host, image=args.image, registry_auth=auth_for(backend, inv, args.image, args.host))


# -- image remove --------------------------------------------------------------------------------


def remove_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="an image id (short or whole), a tag, or HOST_ID/IMAGE_ID")
    p.add_argument("--host", required=True, metavar="H")
    p.add_argument("--force", action="store_true", help="remove it even while containers use it (asks first on a terminal)")


def _confirm_forced(image: "HostImage", label: str, host: "Host", containers: list[str]) -> None:
    """A counted confirmation: the user types how many containers lose their image."""
    from widgets.terminal_text import visible

    count = len(containers)
    shown = ", ".join(containers[:5]) + (f" and {count - 5} more" if count > 5 else "")
    sys.stderr.write(visible(f"Force-remove image {label} on {host.name}, used by {count} container(s): {shown}?") + "\n")
    try:
        answer = input(f"Type {count} to confirm: ")
    except EOFError:
        answer = ""
    if answer.strip() != str(count):
        raise InvalidInput("not confirmed: nothing removed")


async def remove_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    inv = await backend.snapshot()
    host = find_host(inv, args.host)
    image, target = find_image(inv, host, args.image)
    label = image.repo_tags[0] if image.repo_tags else image.image_id.removeprefix("sha256:")[:12]
    if args.force and image.container_ids and sys.stdin.isatty():
        names = [inv.containers[c].name if c in inv.containers else c[:12] for c in image.container_ids]
        _confirm_forced(image, label, host, names)
    return RemoveImageRequest(id=target, name=label, force=bool(args.force))


# -- images prune --------------------------------------------------------------------------------


def prune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, metavar="H")
    p.add_argument("--unused", action="store_true", help="every image no container uses, not only dangling ones")


async def prune_spec(backend: "Backend", args: argparse.Namespace) -> Any:
    inv = await backend.snapshot()
    host = find_host(inv, args.host)
    return PruneRequest(host=host.id, unused=bool(args.unused), name=host.name)


def prunable(inv: "Inventory", host_id: str, unused: bool) -> tuple[int, int]:
    """(images, bytes) a prune would remove as far as the inventory knows: dangling images no
    container uses (with ``unused``: every image none uses). Bytes are an upper bound: layers
    shared with images that stay are not freed."""
    gone = [i for i in inv.host_images.values()
            if i.host_id == host_id and not i.container_ids and (unused or i.dangling)]
    return len(gone), sum(i.size_bytes for i in gone)


# -- registry push-credentials ---------------------------------------------------------------------


def add_push_credentials(commands: Any, leaf: Any, wait_option: Any) -> None:
    """``registry push-credentials HOST`` under the ``registry`` command (registry_commands)."""
    registry = commands.choices["registry"]
    group = next(a for a in registry._actions if isinstance(a, argparse._SubParsersAction))
    p = leaf(
        group, "push-credentials", push_credentials,
        "write the registries of a container machine's project (credentials, CAs) into its engine's "
        "configuration over SSH, as a new machine gets them at create time",
    )
    p.add_argument("host", metavar="HOST")
    wait_option(p)


async def push_credentials(backend: "Backend", args: argparse.Namespace) -> int:
    import asyncio

    from console.presenters import tasks
    from console.registry_auth import project_registries
    from widgets.terminal_text import visible

    push = getattr(backend, "push_registries", None)
    if push is None:
        raise InvalidInput(f"registry push-credentials: the {backend.kind} backend has no container machines to write to")
    inv = await backend.snapshot()
    host = find_host(inv, args.host)
    project = inv.projects.get(host.project_id or "")
    if project is None:
        raise InvalidInput(f"{host.name} belongs to no project: its project's registries are what is pushed")
    registries = await project_registries(backend, project)
    if not registries:
        raise InvalidInput(f"no registry is configured for project {project.name} (registry add NAME --url URL --project {project.name})")
    task = await push(host.id, registries)
    task = await asyncio.wait_for(backend.wait_task(task.id), args.timeout or 300.0) if args.wait else await backend.handed_over(task.id)
    print(tasks.line(task))
    if task.done and task.error:
        sys.stderr.write(visible(f"Task failed: {task.kind} {task.target}: {task.error}") + "\n")
        return 1
    return 0
