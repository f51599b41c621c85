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


# -- what `docker run` takes besides the image: ports, environment, volumes, restart, labels ----

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
# POSIX's portable environment names; a shell in the container could not read any other.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Docker's recommendation for label keys (reverse DNS, lower-case letters, digits, '.', '-'),
# widened to upper case and '_' and '/' as compose and swarm write them; no blanks, no '='.
LABEL_KEY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_port_mapping(text: str) -> tuple[int, int | None]:
    """``80``, ``8080:80`` or ``8080:80/tcp`` as (container port, host port or None). Only tcp:
    the run contract (``ContainerSpec.ports``) carries no protocol, so udp is refused rather than
    silently published as tcp."""
    spec, _, proto = text.strip().partition("/")
    if proto and proto != "tcp":
        raise InvalidInput(f"port {_shown(text)}: only tcp ports can be published here")
    host, _, container = spec.rpartition(":")
    ports = []
    for part in (container, host):
        if part == "" and part is host:
            ports.append(None)
            continue
        if not part.isdigit() or not 1 <= int(part) <= 65535:
            raise InvalidInput(f"port {_shown(text)}: expected [HOST:]CONTAINER[/tcp], each 1-65535 (e.g. 8080:80)")
        ports.append(int(part))
    return ports[0], ports[1]  # type: ignore[return-value]


def port_mapping_problem(text: str) -> str | None:
    try:
        parse_port_mapping(text)
    except InvalidInput as err:
        return str(err)
    return None


def parse_env(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may be empty, and hold '=' and blanks)."""
    key, found, value = text.partition("=")
    if not found:
        raise InvalidInput(f"environment {_shown(text)}: expected KEY=VALUE")
    if not ENV_NAME.match(key):
        raise InvalidInput(f"environment {_shown(text)}: the name must be letters, digits and '_', not starting with a digit")
    if "\x00" in value:
        raise InvalidInput(f"environment {_shown(text)}: the value must not contain a NUL character")
    return key, value


def env_problem(text: str) -> str | None:
    try:
        parse_env(text)
    except InvalidInput as err:
        return str(err)
    return None


def parse_label(text: str) -> tuple[str, str]:
    """``KEY=VALUE``; a key alone is an empty value, as ``docker run --label KEY`` takes it."""
    key, _, value = text.partition("=")
    if not LABEL_KEY.match(key):
        raise InvalidInput(
            f"label {_shown(text)}: the key must be letters, digits, '.', '-', '_' and '/' (at most 128), "
            "starting and ending with a letter or digit"
        )
    if _CONTROL.search(value):
        raise InvalidInput(f"label {_shown(text)}: the value must not contain control characters")
    return key, value


def label_problem(text: str) -> str | None:
    try:
        parse_label(text)
    except InvalidInput as err:
        return str(err)
    return None


def restart_policy_problem(text: str) -> str | None:
    if text in RESTART_POLICIES:
        return None
    return f"restart policy {_shown(text)}: choose {', '.join(RESTART_POLICIES)}"


def check_restart_policy(text: str) -> None:
    if (problem := restart_policy_problem(text)):
        raise InvalidInput(problem)


def parse_volume_mount(text: str) -> tuple[str, float | None, str, bool]:
    """``VOLUME:/path[:ro]`` (an existing volume, by name or id) or ``VOLUME:SIZE:/path[:ro]``
    (a new one of SIZE GiB, made on the host first) as (volume, size or None, path, read-only).
    The path is the part that starts with '/', so a size never reads as a path."""
    parts = text.strip().split(":")
    at = next((i for i, part in enumerate(parts) if part.startswith("/")), None)
    if at is None or at not in (1, 2) or len(parts) - at > 2:
        raise InvalidInput(f"volume {_shown(text)}: expected VOLUME:/path[:ro] or NEW_VOLUME:SIZE_GIB:/path[:ro]")
    name, path = parts[0], parts[at]
    read_only = False
    if len(parts) - at == 2:
        if parts[-1] not in ("ro", "rw"):
            raise InvalidInput(f"volume {_shown(text)}: after the path only ':ro' or ':rw'")
        read_only = parts[-1] == "ro"
    if (problem := volume_name_problem(name)) and not name.count("/") == 1:  # "host/name" is an id
        raise InvalidInput(f"volume {_shown(text)}: {problem}")
    size = None
    if at == 2:
        if (problem := volume_size_problem(parts[1])):
            raise InvalidInput(f"volume {_shown(text)}: {problem} (GiB)")
        size = float(parts[1])
    if (problem := mount_path_problem(path)):
        raise InvalidInput(f"volume {_shown(text)}: {problem}")
    return name, size, path, read_only


def volume_mount_problem(text: str) -> str | None:
    try:
        parse_volume_mount(text)
    except InvalidInput as err:
        return str(err)
    return None


def check_run_options(spec) -> None:
    """A ContainerSpec's ports, environment, restart policy and labels (what a backend checks
    before sending, whoever made the spec)."""
    for cport, hport in spec.ports:
        for port in (cport, hport):
            if port is not None and not 1 <= int(port) <= 65535:
                raise InvalidInput(f"port {port}: ports are 1-65535")
    for key, value in spec.env:
        parse_env(f"{key}={value}")
    for key, value in spec.labels:
        parse_label(f"{key}={value}")
    check_restart_policy(spec.restart_policy)


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
    if (problem := update_parallelism_problem(policy.parallelism)):
        raise InvalidInput(problem)
    if (problem := update_delay_problem(policy.delay_s)):
        raise InvalidInput(f"update delay: {problem}")
    _raise(failure_action_problem(policy.failure_action), "update failure action", policy.failure_action)
    _raise(update_order_problem(policy.order), "update order", policy.order)


# -- context names (the config's [contexts.NAME]) ------------------------------------------------

# With several contexts open (backends/fleet.py) every id is "CONTEXT/ID" and a user names an
# item "CONTEXT/NAME"; `--context a,b` lists them with commas. Neither may be in a name, nor
# blanks or controls (a name is shown in the header and typed after `:ctx`).
CONTEXT_SEPARATOR = "/"
CONTEXT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,62}$")


def context_name_problem(name: str) -> str | None:
    if not name:
        return "a context needs a name"
    if CONTEXT_SEPARATOR in name or "," in name:
        return f"'{CONTEXT_SEPARATOR}' and ',' are not allowed (they join contexts and names)"
    if not CONTEXT_NAME.match(name):
        return "use letters, digits and . _ - @ + (starting with a letter or digit), at most 63"
    return None


def check_context_name(name: str) -> None:
    _raise(context_name_problem(name), "context name", name)
