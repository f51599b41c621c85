"""The rules for what a user types: names, sizes, image references, mount paths.

One home for them: the console's forms (as you type), the CLI (before connecting) and every
backend (before sending) ask these same functions, so a value gets the same verdict
everywhere. A backend may only narrow a rule, and says why (Docker names need two
characters, for instance).

Each ``*_problem`` function returns what is wrong, in words a user can act on, or None; each
``check_*`` raises ``InvalidInput`` with that reason (exit 2 in the CLI).
"""

from __future__ import annotations

import math
import re

from .errors import InvalidInput

# A host name becomes the VM's name and the machine's hostname: one lower-case DNS label
# (RFC 1123), the same on every backend.
HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Volumes: Prism volume groups and Docker volumes both take these (Docker wants two or more).
VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Docker's rule for container names (two characters or more).
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$")
# An image reference as Docker parses it: [registry[:port]/]path[:tag][@digest], the path's
# components lower-case.
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REF = re.compile(
    rf"^{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$"
)
# Swarm services (swarmkit's rule: the name is also a DNS name inside the swarm) and secrets.
SERVICE_NAME = re.compile(r"^[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
# A placement constraint as swarmkit parses it: node.* or engine.* attribute, == or !=, a value
# (``node.role==manager``, ``node.labels.zone != a``).
CONSTRAINT = re.compile(r"^(node|engine)\.[A-Za-z0-9_.-]+\s*(==|!=)\s*[^\s=!].*$")
CONSTRAINT_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch")
CONSTRAINT_PREFIXES = ("node.labels.", "engine.labels.")
# An update's delay between waves: more than an hour is a typo, not a plan.
MAX_UPDATE_DELAY_S = 3600.0
UPDATE_FAILURE_ACTIONS = ("pause", "continue", "rollback")
UPDATE_ORDERS = ("stop-first", "start-first")
# The most replicas one service may ask for: more is a typo, not a plan.
MAX_REPLICAS = 10000
# An image id, as `docker run` also takes it.
IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_IMAGE_REF = 255
# The largest volume group Prism makes (64 TiB); larger is a typo, not a plan.
MAX_VOLUME_GIB = 65536


def _shown(text: str) -> str:
    # The value goes back into an error line: show it, but never let it steer the terminal.
    return repr(re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", text[:80]) + ("…" if len(text) > 80 else ""))


def host_name_problem(name: str) -> str | None:
    if not name:
        return "a name is needed"
    if len(name) > 63:
        return f"at most 63 characters (this has {len(name)})"
    if HOST_NAME.match(name):
        return None
    bad = sorted({ch for ch in name if not (("a" <= ch <= "z") or ch.isdigit() and ch.isascii() or ch == "-")})
    if bad:
        shown = " ".join(_shown(ch) for ch in bad)
        return f"not a DNS label: {shown} not allowed (use a-z, 0-9 and '-', e.g. {suggest_host_name(name)})"
    return "not a DNS label: it must start and end with a letter or digit"


def suggest_host_name(name: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return label[:63].strip("-") or "web-01"


def volume_name_problem(name: str) -> str | None:
    if not name:
        return "a name is needed"
    if not VOLUME_NAME.match(name):
        return "use letters, digits, '_', '.' and '-' (at most 64), starting with a letter or digit"
    return None


def container_name_problem(name: str) -> str | None:
    if not CONTAINER_NAME.match(name):
        return "use two or more letters, digits, '_', '.' and '-', starting with a letter or digit"
    return None


def service_name_problem(name: str) -> str | None:
    if not name:
        return "a name is needed"
    if len(name) > 63 or not SERVICE_NAME.match(name):
        return "use at most 63 letters, digits, '-' and '_', starting and ending with a letter or digit"
    return None


def secret_name_problem(name: str) -> str | None:
    if not name:
        return "a name is needed"
    if len(name) > 64 or not SECRET_NAME.match(name):
        return "use at most 64 letters, digits, '_', '.' and '-', starting and ending with a letter or digit"
    return None


def replicas_problem(value: int) -> str | None:
    return whole_number_problem(str(value), "replicas", 0, MAX_REPLICAS)


def image_ref_problem(ref: str) -> str | None:
    if not ref:
        return "an image is needed"
    if len(ref) > MAX_IMAGE_REF or not (IMAGE_REF.match(ref) or IMAGE_ID.match(ref)):
        return "not an image reference (e.g. busybox, busybox:1.36, registry.example.com:5000/team/app:1.2)"
    return None


def whole_number_problem(text: str, what: str, low: int, high: int | None = None, why_high: str = "") -> str | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return f"{what} must be a whole number"
    if value < low:
        return f"{what} must be at least {low}"
    if high is not None and value > high:
        return f"{what} {value} is more than {high}" + (f", {why_high}" if why_high else "")
    return None


def size_problem(text: str | float, what: str, high: float | None, why_high: str = "") -> str | None:
    try:
        value = float(text)
    except ValueError:
        return f"{what} must be a number"
    if not math.isfinite(value):
        return f"{what} must be a finite number"
    if value <= 0:
        return f"{what} must be more than 0"
    if high is not None and value > high:
        return f"{what} {value:g} is more than {high:g}" + (f", {why_high}" if why_high else "")
    return None


def volume_size_problem(size_gib: str | float) -> str | None:
    return size_problem(size_gib, "size", MAX_VOLUME_GIB, "the largest volume")


def mount_path_problem(path: str) -> str | None:
    if not path:
        return "a mount path is needed"
    if not path.startswith("/"):
        return "the mount path must be absolute (start with /)"
    if re.search(r"[\x00-\x1f\x7f]", path):
        return "the mount path must not contain control characters"
    if path == "/" or "//" in path or any(part in (".", "..") for part in path.split("/")):
        return "the mount path must be a plain directory such as /data"
    return None


# -- the same rules as errors ------------------------------------------------------------------


def _raise(problem: str | None, what: str, value: str) -> None:
    if problem:
        raise InvalidInput(f"{what} {_shown(value)}: {problem}")


def check_host_name(name: str) -> None:
    _raise(host_name_problem(name), "host name", name)


def check_volume_name(name: str) -> None:
    _raise(volume_name_problem(name), "volume name", name)


def check_container_name(name: str) -> None:
    _raise(container_name_problem(name), "container name", name)


def check_image_ref(ref: str) -> None:
    _raise(image_ref_problem(ref), "image", ref)


def check_volume_size(size_gib: float) -> None:
    problem = volume_size_problem(size_gib)
    if problem:
        raise InvalidInput(f"volume {problem}")


def check_mount_path(path: str) -> None:
    _raise(mount_path_problem(path), "mount path", path)


def check_service_name(name: str) -> None:
    _raise(service_name_problem(name), "service name", name)


def check_secret_name(name: str) -> None:
    _raise(secret_name_problem(name), "secret name", name)


def check_replicas(value: int) -> None:
    problem = replicas_problem(value)
    if problem:
        raise InvalidInput(problem)


def config_name_problem(name: str) -> str | None:
    # A swarm config's name follows a secret's rule (swarmkit checks both alike).
    return secret_name_problem(name)


def constraint_problem(expr: str) -> str | None:
    if not expr.strip():
        return "a constraint is needed"
    if len(expr) > 256 or not CONSTRAINT.match(expr.strip()):
        return "expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE (e.g. node.role==worker, node.labels.zone!=a)"
    key = re.split(r"\s*(?:==|!=)", expr.strip(), maxsplit=1)[0]
    if key not in CONSTRAINT_KEYS and not any(key.startswith(p) and len(key) > len(p) for p in CONSTRAINT_PREFIXES):
        return f"unknown attribute {key}: use {', '.join(CONSTRAINT_KEYS)}, node.labels.NAME or engine.labels.NAME"
    return None


def update_delay_problem(text: str | float) -> str | None:
    try:
        value = float(text)
    except ValueError:
        return "the delay must be a number of seconds"
    if not math.isfinite(value) or value < 0:
        return "the delay must be 0 seconds or more"
    if value > MAX_UPDATE_DELAY_S:
        return f"the delay {value:g} s is more than {MAX_UPDATE_DELAY_S:g} s"
    return None


def update_parallelism_problem(text: str | int) -> str | None:
    return whole_number_problem(str(text), "update parallelism", 0, MAX_REPLICAS)


def failure_action_problem(text: str) -> str | None:
    return None if text in UPDATE_FAILURE_ACTIONS else f"choose {', '.join(UPDATE_FAILURE_ACTIONS)}"


def update_order_problem(text: str) -> str | None:
    return None if text in UPDATE_ORDERS else f"choose {' or '.join(UPDATE_ORDERS)}"


def check_config_name(name: str) -> None:
    _raise(config_name_problem(name), "config name", name)


def check_constraint(expr: str) -> None:
    _raise(constraint_problem(expr), "constraint", expr)


def check_update_policy(policy) -> None:
    """An UpdatePolicy (``backends.models``) as a user may give it."""
    for problem in (
        update_parallelism_problem(policy.parallelism),
        update_delay_problem(policy.delay_s),
        failure_action_problem(policy.failure_action),
        update_order_problem(policy.order),
    ):
        if problem:
            raise InvalidInput(problem)
