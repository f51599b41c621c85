"""Container images on the simulated hosts' engines (``docker image ls`` on each machine).

Every engine holds the images its containers were made from, and a few more as real engines
do: an older tag left by the last deploy, a tool pulled once, a dangling ``<none>`` left when a
tag moved to a newer build. Which host holds which extra comes from a generator of its own
seeded by the world's seed (never the world's generator: the world of a seed stays what it
was before images existed, so its snapshots do too).

- **Pull** runs in virtual time with a step per layer, as the engine's progress stream goes:
  resolve, download each layer (sized as the registry serves it), extract. From the
  simulator's registries (``registries``) the image is what they serve; the private one
  refuses a pull without the right credentials with the registry's own reason
  (``unauthorized: authentication required``). Other references are taken from Docker Hub,
  sized from a table (or from the name, for an image the table does not know). Whether the
  registry lets the pull in is decided when it starts, so a credential never goes into the
  task's arguments (which ``--demo-state`` saves).
- **Remove** is refused (``Conflict`` naming the containers) while a container uses the
  image; forced, it untags an image still in use (it stays, dangling, as Docker keeps it) and
  deletes one nobody uses.
- **Prune** removes the dangling images no container uses (with ``unused``, every image no
  container uses); the task's last message says how many and how much space came back.

The rows follow the containers: a store hook sees every container created, moved or removed
(a ``docker run`` of an image the engine lacks pulls it, as the engine does) and every host
removed, and patches the rows in the same batch of changes.
"""

from __future__ import annotations

import hashlib
import random
import weakref
from dataclasses import replace
from typing import Any

from ..contract import Change, PullSpec, RegistryAuth
from ..errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from ..models import Container, HostImage, HostState, Severity
from ..validation import check_image_ref
from . import rules
from .registries import PullRefused, pull_from, split_reference
from .tasks import StepFailed, TaskContext
from .world import World

# On disk an image takes about this many times the compressed bytes a registry serves.
UNPACKED_RATIO = 2.4
# Docker Hub images the world runs: (bytes on disk, layers, days old at the epoch).
HUB_IMAGES: dict[str, tuple[int, int, float]] = {
    "nginx:1.25.4": (187_650_000, 7, 40),
    "postgres:16.2": (431_300_000, 14, 55),
    "redis:7.2.4": (116_900_000, 8, 60),
    "rabbitmq:3.13-management": (251_400_000, 11, 35),
    "prom/prometheus:v2.51.0": (262_100_000, 10, 30),
    "grafana/grafana:10.4.1": (434_800_000, 12, 28),
    "traefik:v2.11": (152_600_000, 6, 45),
    "elasticsearch:8.13.0": (1_260_300_000, 10, 25),
    "busybox:1.36": (4_270_000, 1, 120),
    "alpine:3.19": (7_380_000, 1, 90),
}
# Extras: (reference, share of hosts that hold it, unused on purpose).
EXTRAS = (
    ("registry.example.local/shop/api:3.14.1", 0.5),
    ("registry.example.local/shop/worker:3.14.1", 0.35),
    ("registry.example.local/tools/debug:1.0", 0.2),
    ("busybox:1.36", 0.25),
)
DANGLING_SHARE = 0.4  # hosts with a <none> left by a tag that moved
PRIVATE_EXTRA = "private.example.local/payments/ledger:2.3.1"  # on a few hosts, pulled with credentials once
EPOCH = 1772442000.0  # the simulator's clock starts here (clock.EPOCH)

_BY_WORLD: "weakref.WeakKeyDictionary[World, HostImages]" = weakref.WeakKeyDictionary()


def normal_tag(ref: str) -> str:
    """``ref`` as an engine lists it: a missing tag is ``latest``; Docker Hub's prefix dropped."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail:
        return ref
    return ref + ":latest"


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def size_text(n: float) -> str:
    """Bytes as Docker says them (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}"


class Plan:
    """What a pull of one reference gets: the image id, its layers (compressed bytes), the
    bytes on disk and when it was built."""

    __slots__ = ("tag", "image_id", "layers", "size_bytes", "created_at")

    def __init__(self, tag: str, image_id: str, layers: list[int], size_bytes: int, created_at: float) -> None:
        self.tag, self.image_id, self.layers, self.size_bytes, self.created_at = tag, image_id, layers, size_bytes, created_at


def plan(ref: str, auth: RegistryAuth | None, *, checked: bool = False) -> Plan:
    """The pull of ``ref``; ``PullRefused`` with the registry's reason when it refuses
    (``checked``: the credentials were accepted before, only the content is looked up)."""
    tag = normal_tag(ref)
    pushed = pull_from(tag, auth, checked=checked)
    if pushed is not None:
        size = int(sum(pushed.layers) * UNPACKED_RATIO)
        return Plan(tag, pushed.config_digest, list(pushed.layers), size, pushed.created_at)
    known = HUB_IMAGES.get(tag)
    h = _hash_int(tag)
    if known is not None:
        size, count, days = known
    else:
        size, count, days = 5_000_000 + h % 295_000_000, 1 + h % 5, float(5 + h % 200)
    # Layers: the compressed bytes, a base layer and the rest in falling shares.
    compressed = size / UNPACKED_RATIO
    shares = [2 ** -(i + 1) for i in range(count)]
    layers = [max(1024, int(compressed * s / sum(shares))) for s in shares]
    image_id = "sha256:" + hashlib.sha256(f"image:{tag}".encode()).hexdigest()
    return Plan(tag, image_id, layers, size, EPOCH - days * 86400)


class HostImages:
    """The host images of one world, kept in step with its containers and hosts."""

    def __init__(self, world: World, *, build: bool = False) -> None:
        """``build``: a world just generated gets its engines' images; a restored one has them."""
        self.world = world
        self.store = world.store
        # container id -> (the host image it is counted in, the image it was made from)
        self._where: dict[str, tuple[str, str]] = {}
        if build:
            self.build()
        else:
            self._reindex()
        self.store.before_flush.append(self._follow)
        _BY_WORLD[world] = self

    # -- the generated engines -----------------------------------------------------------

    def build(self) -> None:
        """Each host's images: its containers' images and a few extras (seeded, see above)."""
        store = self.store
        rng = random.Random(f"host-images/{self.world.seed}")
        used: dict[str, dict[str, list[str]]] = {}  # host -> tag -> container ids
        tag_of: dict[str, str] = {}  # a handful of images among up to 500,000 containers
        for c in store.containers.values():
            tag = tag_of.get(c.image) or tag_of.setdefault(c.image, normal_tag(c.image))
            used.setdefault(c.host_id, {}).setdefault(tag, []).append(c.id)
        plans: dict[str, Plan] = {}

        def planned(tag: str) -> Plan:
            if tag not in plans:
                # Pulled before the console looked (the private image with the demo's
                # credentials, which the simulator never holds: hence checked=True).
                plans[tag] = plan(tag, None, checked=True)
            return plans[tag]

        table = store.tables["host_images"]
        for i, host in enumerate(store.hosts.values()):
            tags = used.get(host.id, {})
            pulled = self._pull_time(rng, host.created_at)
            for tag, cids in tags.items():
                p = planned(tag)
                self._put(table, host.id, p, (tag,), tuple(sorted(cids)), pulled)
            for tag, share in EXTRAS:
                if tag not in tags and rng.random() < share:
                    self._put(table, host.id, planned(tag), (tag,), (), pulled)
            if i % 5 == 1:
                self._put(table, host.id, planned(PRIVATE_EXTRA), (PRIVATE_EXTRA,), (), pulled)
            if rng.random() < DANGLING_SHARE:
                old = f"sha256:{rng.getrandbits(256):064x}"
                size = int(rng.uniform(40, 320) * 1_000_000)
                hid = f"{host.id}/{old}"
                table[hid] = HostImage(hid, host.id, old, (), size, pulled - rng.uniform(5, 60) * 86400, ())
        # Bulk inserts skip the journal, as the world's own build does: nobody subscribes yet.
        self._reindex()

    @staticmethod
    def _pull_time(rng: random.Random, host_created: float | None) -> float:
        start = host_created or EPOCH - 30 * 86400
        return start + rng.uniform(0.01, 1.0) * max(0.0, EPOCH - start)

    @staticmethod
    def _put(table: dict[str, HostImage], host_id: str, p: Plan, tags: tuple[str, ...], cids: tuple[str, ...], pulled: float) -> None:
        hid = f"{host_id}/{p.image_id}"
        row = table.get(hid)
        if row is not None:  # two tags of one image (shop/api:3.14.2 and :latest)
            table[hid] = replace(row, repo_tags=tuple(sorted(set(row.repo_tags) | set(tags))),
                                 container_ids=tuple(sorted(set(row.container_ids) | set(cids))))
            return
        table[hid] = HostImage(hid, host_id, p.image_id, tags, p.size_bytes, min(p.created_at, pulled), cids)

    def _reindex(self) -> None:
        containers = self.store.containers
        self._where = {
            cid: (row.id, containers[cid].image if cid in containers else "")
            for row in self.store.host_images.values() for cid in row.container_ids
        }

    # -- following the containers --------------------------------------------------------

    def _follow(self, pending: dict[tuple[str, str], Change]) -> None:
        """Before a batch goes out: rows for the containers and hosts it changes."""
        changes = [c for (kind, _), c in pending.items() if kind == "containers" or (kind == "hosts" and c.op == "delete")]
        for change in changes:
            if change.kind == "hosts":
                for row in [r for r in self.store.host_images.values() if r.host_id == change.id]:
                    self.store.delete("host_images", row.id)
                    for cid in row.container_ids:
                        self._where.pop(cid, None)  # its containers went with the host
            elif change.op == "delete":
                self._unlink(change.id)
            else:
                self._link(change.item)

    def _link(self, c: Container) -> None:
        current = self._where.get(c.id)
        row = self.store.host_images.get(current[0]) if current else None
        if row is not None and row.host_id == c.host_id and current[1] == c.image:
            return  # the common case: a container's figures changed, not its image
        if current is not None:
            self._unlink(c.id)
        tag = normal_tag(c.image)
        if c.host_id not in self.store.hosts:
            return
        target = self.by_tag(c.host_id, tag)
        if target is None:
            # `docker run` of an image the engine lacks pulls it first (its credentials were
            # checked when the run was asked for: check_run).
            try:
                p = plan(tag, None, checked=True)
            except PullRefused:
                return
            self._put(self.store.tables["host_images"], c.host_id, p, (tag,), (), self.store.clock.now)
            target = self.store.host_images[f"{c.host_id}/{p.image_id}"]
            self.store.upsert(target)  # journalled: _put wrote the table directly
        self.store.upsert(replace(target, container_ids=tuple(sorted(set(target.container_ids) | {c.id}))))
        self._where[c.id] = (target.id, c.image)

    def _unlink(self, container_id: str) -> None:
        where = self._where.pop(container_id, None)
        row = self.store.host_images.get(where[0]) if where else None
        if row is not None and container_id in row.container_ids:
            self.store.upsert(replace(row, container_ids=tuple(i for i in row.container_ids if i != container_id)))

    # -- reads ------------------------------------------------------------------------------

    def on_host(self, host_id: str) -> list[HostImage]:
        return [r for r in self.store.host_images.values() if r.host_id == host_id]

    def by_tag(self, host_id: str, tag: str) -> HostImage | None:
        return next((r for r in self.on_host(host_id) if tag in r.repo_tags), None)

    def row(self, image_id: str) -> HostImage:
        row = self.store.host_images.get(image_id)
        if row is None:
            raise NotFound(f"image {image_id} not found (an image is named <host id>/<image id>, as images list --host shows)")
        return row

    # -- the actions' checks (before a task starts) ----------------------------------------

    def pull_args(self, spec: PullSpec) -> tuple[Any, dict[str, Any]]:
        check_image_ref(spec.image)
        host = rules.host(self.world, spec.host)
        if host.state is not HostState.RUNNING:
            raise Conflict(f"host {host.name!r} is {host.state.value}: its engine cannot pull")
        tag = normal_tag(spec.image)
        refused: str | None = None
        try:
            p = plan(tag, spec.registry_auth)
        except PullRefused as err:
            refused, p = str(err), Plan(tag, "", [], 0, 0.0)  # it fails at its first step
        rng = self.world.rng
        bandwidth = rng.uniform(40, 120) * 1_000_000  # bytes a second, drawn once per pull
        durations = [round(rng.uniform(0.5, 2.0), 1)] + [round(max(0.2, n / bandwidth), 1) for n in p.layers]
        durations.append(round(max(0.5, p.size_bytes / 400_000_000), 1))
        # The credential is not in the args (they are saved with the task): only its verdict.
        return host, dict(
            host_id=host.id, tag=tag, image_id=p.image_id, layers=p.layers, size_bytes=p.size_bytes,
            created_at=p.created_at, refused=refused, durations=durations,
        )

    def check_run(self, host_id: str, image: str, auth: RegistryAuth | None) -> None:
        """A ``docker run`` of an image the engine lacks pulls it: refused like a pull."""
        tag = normal_tag(image)
        if self.by_tag(host_id, tag) is not None:
            return
        try:
            plan(tag, auth)
        except PullRefused as err:
            raise AuthenticationFailed(f"pull {tag}: {err}") if err.args[0].startswith("unauthorized") else InvalidInput(
                f"pull {tag}: {err}"
            ) from None

    def remove_check(self, image_id: str, force: bool) -> HostImage:
        row = self.row(image_id)
        if row.container_ids and not force:
            names = [self.store.containers[c].name for c in row.container_ids if c in self.store.containers]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            what = row.repo_tags[0] if row.repo_tags else row.image_id[7:19]
            raise Conflict(
                f"image {what} is used by {len(names)} container{'s' if len(names) != 1 else ''} ({shown}): "
                "remove them first, or force the removal (the image then stays, untagged, until they go)"
            )
        return row

    def prunable(self, host_id: str, unused: bool) -> list[HostImage]:
        return [r for r in self.on_host(host_id) if not r.container_ids and (unused or not r.repo_tags)]


def of(world: World) -> HostImages:
    return _BY_WORLD[world]


# -- the task processes ------------------------------------------------------------------------


async def pull_image(ctx: TaskContext, host_id: str, tag: str, image_id: str, layers: list[int], size_bytes: int,
                     created_at: float, refused: str | None, durations: list[float]) -> str:
    store = ctx.world.store
    host, repository, reference = split_reference(tag)
    registry = host or "docker.io"
    await ctx.step(f"resolving {tag} at {registry}", durations[0], 5)
    if refused:
        # As the engine words it: the request it made, then the registry's own reason.
        raise StepFailed(f'Head "https://{registry}/v2/{repository}/manifests/{reference}": {refused}')
    total = max(1, sum(layers))
    done = 0
    for i, n in enumerate(layers):
        done += n
        await ctx.step(f"downloading layer {i + 1}/{len(layers)} ({size_text(n)})", durations[1 + i], 5 + int(85 * done / total))
    await ctx.step(f"extracting {size_text(size_bytes)}", durations[-1], 99)
    if host_id not in store.hosts:
        raise StepFailed("the host went away during the pull")
    images = of(ctx.world)
    hid = f"{host_id}/{image_id}"
    # The tag moves to the new image: an older image that loses its last tag is dangling.
    for row in images.on_host(host_id):
        if tag in row.repo_tags and row.id != hid:
            store.upsert(replace(row, repo_tags=tuple(t for t in row.repo_tags if t != tag)))
    row = store.host_images.get(hid)
    if row is not None and tag in row.repo_tags:
        ctx.final_message = f"{tag}: image is up to date"
        return hid
    if row is not None:
        store.upsert(replace(row, repo_tags=tuple(sorted(set(row.repo_tags) | {tag}))))
    else:
        store.upsert(HostImage(hid, host_id, image_id, (tag,), size_bytes, created_at, ()))
    ctx.final_message = f"downloaded newer image for {tag} ({size_text(size_bytes)})"
    return hid


async def remove_image(ctx: TaskContext, image_id: str, force: bool, durations: list[float]) -> str:
    store = ctx.world.store
    await ctx.step("removing image", durations[0], 90)
    row = store.host_images.get(image_id)
    if row is None:
        raise StepFailed("the image is already gone")
    if row.container_ids:
        if not force:  # a container was made from it since the removal was asked for
            raise StepFailed(f"conflict: the image is used by {len(row.container_ids)} container(s)")
        store.upsert(replace(row, repo_tags=()))
        ctx.final_message = f"untagged {', '.join(row.repo_tags) or row.image_id[7:19]}: still used by {len(row.container_ids)} container(s)"
        return image_id
    store.delete("host_images", image_id)
    ctx.final_message = f"deleted {row.image_id[7:19]}, {size_text(row.size_bytes)} reclaimed"
    return image_id


async def prune_images(ctx: TaskContext, host_id: str, unused: bool, durations: list[float]) -> str:
    world = ctx.world
    await ctx.step("pruning " + ("unused" if unused else "dangling") + " images", durations[0], 90)
    gone = of(world).prunable(host_id, unused)
    for row in gone:
        world.store.delete("host_images", row.id)
    reclaimed = sum(r.size_bytes for r in gone)
    host = world.store.hosts.get(host_id)
    message = f"{len(gone)} image{'s' if len(gone) != 1 else ''} deleted, {size_text(reclaimed)} reclaimed"
    ctx.final_message = message
    world.event(Severity.INFO, host.name if host else host_id, f"Images pruned: {message}", "host.images_pruned", host_id)
    return host_id


PROCESSES = {"pull_image": pull_image, "remove_image": remove_image, "prune_images": prune_images}
