"""Every repository and tag of a registry, with the digest, size and platforms of what each
tag points to, read through ``RegistryClient`` (whose bounds apply to every request).

Sizes are what the registry stores: an image manifest's config and layers (compressed, as
pushed); for an index (a manifest list), the sum over the images it lists. Platforms come
from an image's config blob (``os/architecture[/variant]``), or from an index's entries
(``unknown/unknown`` entries, build attestations, are no platform and are left out).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import NotFound
from .client import DIGEST, IMAGE_CONFIGS, IMAGE_MANIFESTS, INDEXES, MAX_INDEX_ENTRIES, RegistryClient, descriptor_size
from .models import ImageTag


def _platform(p: Any) -> str | None:
    if not isinstance(p, dict):
        return None
    os_, arch, variant = p.get("os"), p.get("architecture"), p.get("variant")
    if not isinstance(os_, str) or not isinstance(arch, str) or not os_ or not arch:
        return None
    if (os_, arch) == ("unknown", "unknown"):
        return None
    return f"{os_}/{arch}/{variant}" if isinstance(variant, str) and variant else f"{os_}/{arch}"


def _descriptor(client: RegistryClient, d: Any, what: str) -> tuple[str, int, str]:
    """(digest, size, mediaType) of a descriptor, checked: a digest goes into a URL path."""
    if not isinstance(d, dict):
        raise client._protocol(what, "lists a descriptor that is not an object")
    digest, size, media_type = d.get("digest"), descriptor_size(d.get("size")), d.get("mediaType", "")
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise client._protocol(what, f"lists a descriptor whose digest is not sha256:<64 hex> ({str(digest)[:80]!r})")
    if size is None:
        raise client._protocol(what, f"lists a descriptor of {digest} with no valid size")
    return digest, size, media_type if isinstance(media_type, str) else ""


async def _image(client: RegistryClient, repository: str, body: dict[str, Any], what: str) -> tuple[int, tuple[str, ...]]:
    """(size, platforms) of an image manifest."""
    config = _descriptor(client, body.get("config"), what)
    layers = body.get("layers") or []
    if not isinstance(layers, list):
        raise client._protocol(what, "lists layers that are not a list")
    size = config[1] + sum(_descriptor(client, layer, what)[1] for layer in layers)
    platforms: tuple[str, ...] = ()
    if config[2] in IMAGE_CONFIGS:
        platform = _platform(await client.blob_json(repository, config[0]))
        platforms = (platform,) if platform else ()
    return size, platforms


async def describe(client: RegistryClient, repository: str, tag: str) -> ImageTag:
    manifest = await client.manifest(repository, tag)
    what = f"manifest {repository}:{tag}"
    body = manifest.body
    if manifest.media_type in IMAGE_MANIFESTS or (not manifest.media_type and "layers" in body):
        size, platforms = await _image(client, repository, body, what)
    elif manifest.media_type in INDEXES or "manifests" in body:
        entries = body.get("manifests")
        if not isinstance(entries, list):
            raise client._protocol(what, "is an index whose manifests are not a list")
        if len(entries) > MAX_INDEX_ENTRIES:
            raise client._protocol(what, f"is an index of {len(entries):,} manifests, more than the {MAX_INDEX_ENTRIES} read")
        children = [(_descriptor(client, e, what), _platform(e.get("platform"))) for e in entries]
        images = [(d, p) for d, p in children if p is not None]

        async def child_size(digest: str) -> int:
            child = await client.manifest(repository, digest)
            if child.media_type not in IMAGE_MANIFESTS:
                raise client._protocol(what, f"lists {digest}, which is no image manifest ({child.media_type[:80]})")
            return sum([_descriptor(client, child.body.get("config"), what)[1]] + [
                _descriptor(client, layer, what)[1] for layer in (child.body.get("layers") or [])
            ])

        sizes = await asyncio.gather(*(child_size(d[0]) for d, _ in images))
        size = sum(sizes)
        platforms = tuple(p for _, p in images if p)
    else:
        # Schema 1 (signed, long deprecated) or an artifact we cannot size: listed, not sized.
        size, platforms = None, ()
    return ImageTag(repository, tag, manifest.digest, manifest.media_type, size, platforms)


async def list_images(client: RegistryClient) -> list[ImageTag]:
    """Every tag of every repository, sorted by repository then tag. Credentials are checked
    first, so a refused password is one error rather than one per request."""
    await client.check_credentials()
    repositories = await client.catalog()
    # A repository or tag deleted between the catalog and its read is gone, not an error.
    async def tags(repository: str) -> list[str]:
        try:
            return await client.tags(repository)
        except NotFound:
            return []

    async def described(repository: str, tag: str) -> ImageTag | None:
        try:
            return await describe(client, repository, tag)
        except NotFound:
            return None

    tags_of = await asyncio.gather(*(tags(r) for r in repositories))
    pairs = [(r, t) for r, names in zip(repositories, tags_of) for t in names]
    found = await asyncio.gather(*(described(r, t) for r, t in pairs))
    return sorted((i for i in found if i is not None), key=lambda i: (i.repository, i.tag))


__all__ = ["describe", "list_images"]
