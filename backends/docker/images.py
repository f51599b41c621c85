"""Container images on one engine: the list, a pull with its progress stream, remove, prune.

Plain coroutines over ``DockerAPI``, shared by the Docker backend (every engine) and the swarm
backend (its manager). A pull's credentials go in ``X-Registry-Auth`` (never a URL or a log
line); its progress stream is read a line at a time, each line bounded, the whole pull bounded
in time, and a stream that goes quiet for ``PULL_IDLE_TIMEOUT`` is a failure, not a hang.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Callable

from ..contract import RegistryAuth
from ..errors import BackendError, ProtocolError, TaskFailed, Unavailable
from ..models import HostImage
from .api import DockerAPI

#: A pull of a large image over a slow link takes minutes; past an hour something is wrong.
PULL_TIMEOUT = 3600.0
#: The engine sends progress every few hundred milliseconds while it downloads or extracts;
#: a stream silent this long is stuck (extraction of a big layer is the longest quiet spell).
PULL_IDLE_TIMEOUT = 300.0
#: Layers followed for the percentage: an image has tens; past this the stream is not a pull.
MAX_LAYERS = 4096
#: Seconds for a remove or a prune: removing many large images on a slow disk takes a while.
REMOVE_TIMEOUT = 300.0


def registry_auth_header(auth: RegistryAuth | None) -> dict[str, str]:
    """``X-Registry-Auth`` as the Engine API wants it: base64url of a JSON object with
    username, password and serveraddress. Empty when there are no credentials."""
    if auth is None:
        return {}
    doc = {"username": auth.username, "password": auth.password, "serveraddress": auth.server}
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()}


def split_reference(ref: str) -> tuple[str, str]:
    """(fromImage, tag) for ``POST /images/create``: "reg:5000/app:1" -> ("reg:5000/app", "1");
    a digest stays in the name; no tag means "latest" (as ``docker pull``)."""
    if "@" in ref:
        return ref, ""
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail:
        return head, tail
    return ref, "latest"


def registry_of(ref: str) -> str | None:
    """The registry part (host[:port]) of an image reference, or None for Docker Hub: the first
    path component counts as a registry only if it has a dot or a port or is localhost (as
    the engine decides)."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def host_image_from_list(item: dict[str, Any], host_id: str, container_ids: tuple[str, ...]) -> HostImage:
    """A HostImage from one entry of ``GET /images/json``."""
    tags = tuple(t for t in item.get("RepoTags") or () if isinstance(t, str) and t != "<none>:<none>")
    image_id = str(item.get("Id") or "")
    return HostImage(
        id=f"{host_id}/{image_id}",
        host_id=host_id,
        image_id=image_id,
        repo_tags=tags,
        size_bytes=int(item.get("Size") or 0),
        created_at=float(item.get("Created") or 0),
        container_ids=container_ids,
    )


async def list_images(api: DockerAPI) -> dict[str, dict[str, Any]]:
    """Image id -> its ``/images/json`` entry (entries without an id are not images)."""
    items = await api.get("/images/json")
    if not isinstance(items, list):
        raise ProtocolError(f"{api.where}: GET /images/json answered something other than a list")
    return {str(i["Id"]): i for i in items if isinstance(i, dict) and isinstance(i.get("Id"), str)}


# What the engine says of one layer ("Pulling from REPO" and "Digest: ..." carry the tag or
# nothing as their id: they are not layers).
_LAYER_STATUSES = (
    "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Extracting",
    "Pull complete", "Already exists",
)


class PullProgress:
    """The engine's pull stream, folded into one percentage and one line: bytes downloaded
    over bytes known, across the layers seen so far."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._layers: dict[str, tuple[int, int, str]] = {}  # id -> (current, total, status)
        self.last_status = ""

    def feed(self, doc: dict[str, Any]) -> str | None:
        """Take one line of the stream; the engine's error message if the line is one."""
        error = doc.get("error") or (doc.get("errorDetail") or {}).get("message")
        if error:
            return " ".join(str(error).split())
        status = str(doc.get("status") or "")
        layer = doc.get("id")
        is_layer = (
            isinstance(layer, str) and status.startswith(_LAYER_STATUSES)
            and (layer in self._layers or len(self._layers) < MAX_LAYERS)
        )
        if is_layer:
            detail = doc.get("progressDetail") or {}
            current, total = detail.get("current"), detail.get("total")
            old = self._layers.get(layer, (0, 0, ""))
            if status.startswith(("Download complete", "Pull complete", "Already exists", "Extracting")):
                done = old[1] or 1
                self._layers[layer] = (done, done, status)
            elif isinstance(current, int) and isinstance(total, int) and total > 0:
                self._layers[layer] = (min(current, total), total, status)
            else:
                self._layers[layer] = (old[0], old[1], status)
        elif status:
            self.last_status = status
        return None

    @property
    def percent(self) -> int:
        known = [(c, t) for c, t, _ in self._layers.values() if t]
        if not known:
            return 5
        return 5 + int(90 * sum(c for c, _ in known) / max(1, sum(t for _, t in known)))

    @property
    def message(self) -> str:
        if not self._layers:
            return f"pulling {self.ref}" + (f": {self.last_status}" if self.last_status else "")
        done = sum(1 for _, _, s in self._layers.values() if s.startswith(("Pull complete", "Already exists")))
        return f"pulling {self.ref}: {done}/{len(self._layers)} layers"


async def pull(
    api: DockerAPI,
    ref: str,
    auth: RegistryAuth | None = None,
    progress: Callable[[int, str], None] = lambda p, m: None,
    *,
    timeout: float = PULL_TIMEOUT,
    idle_timeout: float = PULL_IDLE_TIMEOUT,
) -> str:
    """Pull ``ref`` onto the engine; the last status line (e.g. "Downloaded newer image for
    ..."). A refusal (a registry's "unauthorized", "no basic auth credentials", a missing tag)
    is a ``TaskFailed`` with the engine's own words."""
    name, tag = split_reference(ref)
    tracker = PullProgress(ref)
    progress(5, f"pulling {ref}")
    params: dict[str, Any] = {"fromImage": name}
    if tag:
        params["tag"] = tag
    try:
        async with asyncio.timeout(timeout):
            async with api.stream(
                "/images/create", method="POST", headers=registry_auth_header(auth), read_timeout=idle_timeout, **params
            ) as response:
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        raise ProtocolError(f"{api.where}: POST /images/create sent a line that is not JSON") from None
                    if not isinstance(doc, dict):
                        continue
                    error = tracker.feed(doc)
                    if error:
                        raise TaskFailed(f"pull {ref}: {error}")
                    progress(tracker.percent, tracker.message)
    except TimeoutError:
        raise Unavailable(f"{api.where}: pull {ref} did not finish within {timeout:g}s") from None
    except TaskFailed:
        raise
    except BackendError as err:
        if isinstance(err, (Unavailable, ProtocolError)):
            raise
        # Refused before the stream started (HTTP 4xx/5xx): the engine's message, as a task error.
        raise TaskFailed(f"pull {ref}: {err.message}") from None
    return tracker.last_status or f"pulled {ref}"


async def remove(api: DockerAPI, image: str, *, force: bool = False) -> int:
    """Remove an image (by id or reference); how many layers and tags went."""
    response = await api.request("DELETE", f"/images/{image}", params={"force": force}, timeout=REMOVE_TIMEOUT)
    try:
        body = response.json()
    except ValueError:
        return 0
    return len(body) if isinstance(body, list) else 0


async def prune(api: DockerAPI, *, unused: bool = False) -> tuple[set[str], int]:
    """Prune dangling images (with ``unused``, every image no container uses): (the ids the
    engine deleted, which are images and their layers alike; bytes reclaimed)."""
    # dangling=false prunes every unused image, tagged or not (``docker image prune -a``).
    filters = {"dangling": ["false"]} if unused else {"dangling": ["true"]}
    body = await api.post("/images/prune", timeout=REMOVE_TIMEOUT, filters=filters) or {}
    if not isinstance(body, dict):
        raise ProtocolError(f"{api.where}: POST /images/prune answered something other than an object")
    deleted = {str(d["Deleted"]) for d in body.get("ImagesDeleted") or () if isinstance(d, dict) and d.get("Deleted")}
    reclaimed = body.get("SpaceReclaimed")
    return deleted, int(reclaimed) if isinstance(reclaimed, int) else 0


def size_text(n: int) -> str:
    """Bytes as ``docker`` prints them (decimal units): "12.3MB"."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.3g}{unit}"
        value /= 1000
    return f"{n}B"
