"""The v4 APIs of ``sim serve``: vmm (AHV VMs), volumes (groups, disks, VM attachments),
prism (tasks) and clustermgmt (clusters, storage containers), in the shapes Nutanix's own v4
SDKs (``ntnx-*-py-client``) read and at every version path from v4.0 to the SDKs' current one,
as Prism Central serves several versions of each namespace at once.

What the SDKs rely on, and where it is done here:

- every object carries ``$objectType`` (the SDK picks the model class from it) and
  ``$reserved`` with ``$fv`` (``v4.r<minor>``); the SDK copies the ``ETag`` header of a GET
  into ``data.$reserved``, where ``ApiClient.get_etag()`` finds it: ``_reserved``, ``_one``;
- a list's ``metadata`` holds ``totalAvailableResults``, ``flags`` and ``links`` (self, first,
  prev, next, last), and lists take ``$page``/``$limit``/``$filter``/``$orderby``: ``_page``;
- the SDKs from 4.1 on negotiate the version (``OPTIONS /api/<ns>/unversioned/info``);
- an error is the v4 error envelope (``serving.v4_error``);
- a mutation carries ``NTNX-Request-Id``: the same id again gets the first answer, not a second
  change (``Idempotency``);
- an update, action or delete of one entity needs ``If-Match`` with the ETag of its last GET:
  none is 428, a stale one 412 (``_check_if_match``).

Behaviour is Prism's, not the console's: a volume group is created with or without disks
and disks are added after with ``create_volume_disk``; the console's own rule (one disk per
group it makes) lives in the console. What the simulator's world has no room for (a group's
disk list, its description, renamed groups, storage containers made over the API) is kept in
``V4Overlay`` beside the world, and saved beside ``--state``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..contract import VolumeSpec
from ..errors import BackendError, Conflict, InvalidInput, NotFound
from ..models import Host, HostState, Task, Volume
from ..prism.parse import GIB, MIB, when
from ..simulator import stats_history
from ..validation import volume_name_problem
from . import payloads as pay
from .serving import v4_error

# The facade is server.PrismFacade; it is not imported here (server imports this module), and
# annotations name it as text only.
PrismFacade = Any

#: The versions each namespace is served at: v4.0 (the SDKs 4.0.1 speak it) to the newest
#: published SDK's (4.3.2 for vmm, volumes, clustermgmt; 4.4.2 for prism).
VERSIONS: dict[str, tuple[str, ...]] = {
    "vmm": ("v4.0", "v4.1", "v4.2", "v4.3"),
    "volumes": ("v4.0", "v4.1", "v4.2", "v4.3"),
    "clustermgmt": ("v4.0", "v4.1", "v4.2", "v4.3"),
    "prism": ("v4.0", "v4.1", "v4.2", "v4.3", "v4.4"),
}
MAX_LIMIT = 100  # the v4 APIs' largest page
DEFAULT_LIMIT = 50
IDEMPOTENCY_KEPT = 1000  # request ids remembered (the newest)
#: The size a volume group made without disks has in the simulator's world, which knows only
#: volumes with a size; Prism clients never see it (they see the group's disks: none).
EMPTY_GROUP_GIB = 1 / 1024


class PreconditionFailed(BackendError):
    """412: the If-Match ETag is not the entity's current one."""


class PreconditionRequired(BackendError):
    """428: a change to an entity sent no If-Match."""


_STATUS: tuple[tuple[type[BackendError], int, str], ...] = (
    (PreconditionFailed, 412, "PRECONDITION_FAILED"),
    (PreconditionRequired, 428, "PRECONDITION_REQUIRED"),
)


class Idempotency:
    """``NTNX-Request-Id``: a repeated mutation gets the first answer, not a second change."""

    def __init__(self) -> None:
        self.answers: OrderedDict[str, tuple[str, int, dict[str, Any]]] = OrderedDict()

    def get(self, request_id: str | None, what: str) -> tuple[int, dict[str, Any]] | None:
        if not request_id or request_id not in self.answers:
            return None
        done_what, status, body = self.answers[request_id]
        if done_what != what:
            raise Conflict(f"NTNX-Request-Id {request_id} was already used for another request ({done_what})")
        return status, body

    def put(self, request_id: str | None, what: str, status: int, body: dict[str, Any]) -> None:
        if not request_id:
            return
        self.answers[request_id] = (what, status, body)
        while len(self.answers) > IDEMPOTENCY_KEPT:
            self.answers.popitem(last=False)


class V4Overlay:
    """What Prism's v4 APIs keep that the simulator's world does not: a volume group's own
    disk list (None: the world's one disk of the volume's size) and edited attributes, VM
    descriptions, and storage containers made over the API. Saved as JSON beside ``--state``."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.vms: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "groups": self.groups, "vms": self.vms, "containers": self.containers}

    def load(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            raise InvalidInput(f"cannot read {path}: {err}") from None
        if not isinstance(document, dict) or document.get("version") != 1:
            raise InvalidInput(f"{path} is not a state file of sim serve's v4 APIs")
        self.groups = dict(document.get("groups") or {})
        self.vms = dict(document.get("vms") or {})
        self.containers = dict(document.get("containers") or {})

    def save(self, path: Path) -> None:
        # Written whole then renamed: a crash leaves the old file or the new one.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), sort_keys=True, indent=1))
        tmp.replace(path)


def overlay_path(state_path: str | None) -> Path | None:
    return Path(state_path + ".prism-v4.json") if state_path else None


# -- envelopes ---------------------------------------------------------------------------------


def _fv(version: str) -> str:
    return "v4.r" + version.split(".", 1)[1]


def _reserved(value: Any, fv: str) -> Any:
    """Every object with an ``$objectType`` gets ``$reserved`` (``$fv``), as Prism sends them."""
    if isinstance(value, dict):
        out = {k: _reserved(v, fv) for k, v in value.items()}
        if "$objectType" in out and "$reserved" not in out:
            out = {"$reserved": {"$fv": fv}, **out}
        return out
    if isinstance(value, list):
        return [_reserved(v, fv) for v in value]
    return value


def etag_of(entity: dict[str, Any]) -> str:
    """Prism's ETag form: base64 of the media type, a colon, a digest of the entity."""
    digest = hashlib.sha256(json.dumps(entity, sort_keys=True).encode()).hexdigest()
    return base64.b64encode(b"application/json").decode() + ":" + digest


def _one(ns: str, version: str, object_type: str, data: dict[str, Any], *, etag: str | None = None, status: int = 200) -> Response:
    body = _reserved({"data": data, "$objectType": object_type}, _fv(version))
    return JSONResponse(body, status_code=status, headers={"ETag": etag} if etag else None)


def _task_answer(ns: str, version: str, object_type: str, task_id: str) -> dict[str, Any]:
    return _reserved(
        {"data": {"$objectType": "prism.v4.config.TaskReference", "extId": task_id}, "$objectType": object_type}, _fv(version)
    )


_CLAUSE = re.compile(
    r"""^\s*(?:
        (?P<attr>[A-Za-z][\w/]*)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+(?P<value>'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|null)
      | (?P<fn>startswith|endswith|contains)\(\s*(?P<fattr>[A-Za-z][\w/]*)\s*,\s*(?P<fvalue>'(?:[^']|'')*')\s*\)
    )\s*$""",
    re.VERBOSE,
)


def _field(item: dict[str, Any], attr: str) -> Any:
    value: Any = item
    for part in attr.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return float(text) if "." in text else int(text)


def odata_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """The subset of OData ``$filter`` automation uses: ``attr eq 'v'`` (ne, gt, ge, lt, le),
    ``startswith``/``endswith``/``contains(attr, 'v')``, joined by ``and`` / ``or`` (``and``
    binds tighter). Anything else is a 400, never silently everything."""
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression.strip()):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            match = _CLAUSE.match(clause.strip("() ") if clause.count("(") != clause.count(")") else clause)
            if not match:
                raise InvalidInput(f"$filter: cannot read {clause.strip()!r} (supported: eq ne gt ge lt le, startswith, endswith, contains, and, or)")
            clauses.append(match)
        alternatives.append(clauses)

    def test(item: dict[str, Any], m: re.Match[str]) -> bool:
        if m.group("fn"):
            have, want = _field(item, m.group("fattr")), _literal(m.group("fvalue"))
            if not isinstance(have, str):
                return False
            return {"startswith": have.startswith, "endswith": have.endswith, "contains": have.__contains__}[m.group("fn")](want)
        have, want, op = _field(item, m.group("attr")), _literal(m.group("value")), m.group("op")
        if op in ("eq", "ne"):
            return (have == want) == (op == "eq")
        try:
            return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]
        except TypeError:
            return False

    return lambda item: any(all(test(item, m) for m in clauses) for clauses in alternatives)


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        raise InvalidInput(f"{name} must be from {low}" + (f" to {high}" if high is not None else " up"))
    return value


def _page(request: Request, version: str, items: list[dict[str, Any]], object_type: str) -> Response:
    """One page of a v4 list: ``$filter``, ``$orderby``, then ``$page``/``$limit``; the
    metadata's links are the same query at the first, previous, next and last pages."""
    if request.query_params.get("$filter"):
        keep = odata_filter(request.query_params["$filter"])
        items = [i for i in items if keep(i)]
    orderby = request.query_params.get("$orderby")
    if orderby:
        for key in reversed([k.strip() for k in orderby.split(",") if k.strip()]):
            attr, _, direction = key.partition(" ")
            if direction.strip().lower() not in ("", "asc", "desc"):
                raise InvalidInput(f"$orderby: {key!r} is not 'attribute [asc|desc]'")
            items = sorted(items, key=lambda i: (_field(i, attr) is None, str(_field(i, attr))), reverse=direction.strip().lower() == "desc")
    page = _int_param(request, "$page", 0, 0, None)
    limit = _int_param(request, "$limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    total = len(items)
    last = max(0, (total - 1) // limit)

    def link(rel: str, number: int) -> dict[str, Any]:
        query = {k: v for k, v in request.query_params.items() if k not in ("$page", "$limit")}
        query.update({"$page": number, "$limit": limit})
        href = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{urlencode(query)}"
        return {"$objectType": "common.v1.response.ApiLink", "href": href, "rel": rel}

    links = [link("self", page), link("first", 0), link("last", last)]
    if page > 0:
        links.append(link("prev", page - 1))
    if page < last:
        links.append(link("next", page + 1))
    body = {
        "data": items[page * limit : (page + 1) * limit],
        "metadata": {
            "$objectType": "common.v1.response.ApiResponseMetadata",
            "$reserved": {"$fv": "v1.r0"},
            "flags": [
                {"$objectType": "common.v1.config.Flag", "$reserved": {"$fv": "v1.r0"}, "name": "hasError", "value": False},
                {"$objectType": "common.v1.config.Flag", "$reserved": {"$fv": "v1.r0"}, "name": "isPaginated", "value": True},
            ],
            "links": [{**lk, "$reserved": {"$fv": "v1.r0"}} for lk in links],
            "totalAvailableResults": total,
        },
        "$objectType": object_type,
    }
    return JSONResponse(_reserved(body, _fv(version)))


def _body(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body is not a JSON object")
    return body


def _check_if_match(request: Request, etag: str, what: str) -> None:
    sent = request.headers.get("If-Match")
    if not sent:
        raise PreconditionRequired(f"If-Match with the ETag of {what} is required (GET it first)")
    if sent.strip() != etag:
        raise PreconditionFailed(f"{what} changed since it was read: the If-Match ETag is not its current one")


# -- the world as v4 entities ------------------------------------------------------------------


class V4:
    """The v4 namespaces over one ``PrismFacade``."""

    def __init__(self, facade: "PrismFacade", overlay_file: Path | None = None) -> None:
        self.facade = facade
        self.overlay = V4Overlay()
        self.overlay_file = overlay_file
        if overlay_file is not None:
            self.overlay.load(overlay_file)
        self.requests = Idempotency()

    def save(self) -> None:
        if self.overlay_file is not None:
            self.overlay.save(self.overlay_file)

    # -- clusters and storage containers --

    def cluster_id(self, inv: Any) -> str:
        return pay.cluster_ref(self.facade.cluster_name(inv))["uuid"]

    def clusters(self, inv: Any) -> list[dict[str, Any]]:
        name = self.facade.cluster_name(inv)
        hosts = len(inv.hosts)

        def one(cluster_name: str, function: str, version: str, nodes: int, vms: int) -> dict[str, Any]:
            return {
                "$objectType": "clustermgmt.v4.config.Cluster",
                "extId": pay.cluster_ref(cluster_name)["uuid"],
                "name": cluster_name,
                "config": {
                    "$objectType": "clustermgmt.v4.config.ClusterConfigReference",
                    "clusterFunction": [function],
                    "buildInfo": {"$objectType": "clustermgmt.v4.config.BuildReference", "buildType": "release", "version": version},
                    "hypervisorTypes": ["AHV"],
                    "redundancyFactor": 2,
                    "operationMode": "NORMAL",
                    "isAvailable": True,
                    "timezone": "UTC",
                },
                "nodes": {"$objectType": "clustermgmt.v4.config.NodeReference", "numberOfNodes": nodes},
                "vmCount": vms,
            }

        # Prism Central lists itself among the clusters, as the v3 list does.
        return [one(name, "AOS", "6.8.1", len(inv.nodes), hosts), one(pay.PC_NAME, "PRISM_CENTRAL", "pc.2024.3", 1, 0)]

    def containers(self, inv: Any) -> list[dict[str, Any]]:
        cluster = self.facade.cluster_name(inv)
        default_id = pay.stable_uuid(f"container:{pay.STORAGE_CONTAINER}")
        base = {
            default_id: {"name": pay.STORAGE_CONTAINER, "maxCapacityBytes": 20 * 1024 * GIB, "replicationFactor": 2},
            **self.overlay.containers,
        }
        out = []
        for ext_id, attrs in base.items():
            out.append(
                {
                    "$objectType": "clustermgmt.v4.config.StorageContainer",
                    "extId": ext_id,
                    "containerExtId": ext_id,
                    "name": attrs["name"],
                    "clusterExtId": pay.cluster_ref(cluster)["uuid"],
                    "clusterName": cluster,
                    "maxCapacityBytes": attrs.get("maxCapacityBytes"),
                    "replicationFactor": attrs.get("replicationFactor", 2),
                    "isCompressionEnabled": bool(attrs.get("isCompressionEnabled", False)),
                    "isEncrypted": False,
                    "isInternal": False,
                    "isMarkedForRemoval": False,
                }
            )
        return [{k: v for k, v in c.items() if v is not None} for c in out]

    def container_ids(self, inv: Any) -> set[str]:
        return {c["extId"] for c in self.containers(inv)}

    # -- volume groups --

    def disks(self, vol: Volume) -> list[dict[str, Any]]:
        kept = (self.overlay.groups.get(vol.id) or {}).get("disks")
        if kept is None:
            return [pay.volume_disk(vol)]
        return [{"$objectType": "volumes.v4.config.VolumeDisk", **d} for d in kept]

    def group(self, vol: Volume, inv: Any) -> dict[str, Any]:
        vg = pay.volume_group(vol, cluster=self.facade.cluster_name(inv))
        vg.pop("createdTime", None)  # not a field of the v4 VolumeGroup model
        vg.update((self.overlay.groups.get(vol.id) or {}).get("attrs") or {})
        return vg

    def group_etag(self, vol: Volume, inv: Any) -> str:
        return etag_of({"group": self.group(vol, inv), "disks": self.disks(vol), "host": vol.host_id})

    # -- VMs --

    def vm(self, host: Host, inv: Any, volume_ids: list[str]) -> dict[str, Any]:
        cluster = self.cluster_id(inv)
        container = pay.stable_uuid(f"container:{pay.STORAGE_CONTAINER}")
        disks: list[dict[str, Any]] = [
            {
                "$objectType": "vmm.v4.ahv.config.Disk",
                "extId": pay.stable_uuid(f"disk:{host.id}"),
                "backingInfo": {
                    "$objectType": "vmm.v4.ahv.config.VmDisk",
                    "diskExtId": pay.stable_uuid(f"disk:{host.id}"),
                    "isMigrationInProgress": False,
                    "diskSizeBytes": int(host.storage_gib * GIB),
                    "storageContainer": {"$objectType": "vmm.v4.ahv.config.VmDiskContainerReference", "extId": container},
                },
                "diskAddress": {"$objectType": "vmm.v4.ahv.config.DiskAddress", "busType": "SCSI", "index": 0},
            }
        ]
        for index, vg_id in enumerate(volume_ids, start=1):
            disks.append(
                {
                    "$objectType": "vmm.v4.ahv.config.Disk",
                    "extId": pay.stable_uuid(f"vg-disk:{vg_id}"),
                    "backingInfo": {"$objectType": "vmm.v4.ahv.config.ADSFVolumeGroupReference", "volumeGroupExtId": vg_id},
                    "diskAddress": {"$objectType": "vmm.v4.ahv.config.DiskAddress", "busType": "SCSI", "index": index},
                }
            )
        ipv4: dict[str, Any] = {"$objectType": "vmm.v4.ahv.config.Ipv4Info", "learnedIpAddresses": []}
        if host.ip:
            ipv4["learnedIpAddresses"] = [{"$objectType": "common.v1.config.IPv4Address", "value": host.ip, "prefixLength": 32}]
        nic = {
            "$objectType": "vmm.v4.ahv.config.Nic",
            "extId": pay.stable_uuid(f"nic:{host.id}"),
            "backingInfo": {"$objectType": "vmm.v4.ahv.config.EmulatedNic", "macAddress": pay._mac(host.id), "isConnected": True, "numQueues": 1},
            "networkInfo": {
                "$objectType": "vmm.v4.ahv.config.NicNetworkInfo",
                "nicType": "NORMAL_NIC",
                "vlanMode": "ACCESS",
                "ipv4Info": ipv4,
                **({"subnet": {"$objectType": "vmm.v4.ahv.config.SubnetReference", "extId": host.network_id}} if host.network_id else {}),
            },
        }
        power = pay.vm_resources(host, (), pay.STORAGE_CONTAINER)["power_state"]
        vm: dict[str, Any] = {
            "$objectType": "vmm.v4.ahv.config.Vm",
            "extId": host.id,
            "createTime": pay.rfc3339(host.created_at),
            "name": host.name,
            "description": "container machine made by ntnx-console" if host.role == "container-machine" else "",
            "numSockets": host.cores,
            "numCoresPerSocket": 1,
            "numThreadsPerCore": 1,
            "numNumaNodes": 0,
            "memorySizeBytes": host.memory_mib * MIB,
            "isVcpuHardPinningEnabled": False,
            "isCpuPassthroughEnabled": False,
            "isMemoryOvercommitEnabled": False,
            "isGpuConsoleEnabled": False,
            "isCpuHotplugEnabled": True,
            "isScsiControllerEnabled": True,
            "generationUuid": pay.stable_uuid(f"generation:{host.id}"),
            "biosUuid": host.id,
            "bootConfig": {"$objectType": "vmm.v4.ahv.config.LegacyBoot", "bootOrder": ["CDROM", "DISK", "NETWORK"]},
            "ownershipInfo": {
                "$objectType": "vmm.v4.ahv.config.OwnershipInfo",
                "owner": {"$objectType": "vmm.v4.ahv.config.OwnerReference", "extId": pay.OWNER["uuid"]},
            },
            "cluster": {"$objectType": "vmm.v4.ahv.config.ClusterReference", "extId": cluster},
            "hardwareClockTimezone": "UTC",
            "isBrandingEnabled": True,
            "isVgaConsoleEnabled": True,
            "machineType": "PC",
            "powerState": power,
            "vtpmConfig": {"$objectType": "vmm.v4.ahv.config.VtpmConfig", "isVtpmEnabled": False},
            "isAgentVm": False,
            "apcConfig": {"$objectType": "vmm.v4.ahv.config.ApcConfig", "isApcEnabled": False},
            "disks": disks,
            "nics": [nic],
            "protectionType": "UNPROTECTED",
        }
        if host.node_id:
            vm["host"] = {"$objectType": "vmm.v4.ahv.config.HostReference", "extId": host.node_id}
        vm.update((self.overlay.vms.get(host.id) or {}).get("attrs") or {})
        return vm

    def vms(self, inv: Any) -> list[dict[str, Any]]:
        by_host: dict[str, list[str]] = {}
        for vol in inv.volumes.values():
            if vol.host_id:
                by_host.setdefault(vol.host_id, []).append(vol.id)
        return [self.vm(h, inv, sorted(by_host.get(h.id, []))) for h in sorted(inv.hosts.values(), key=lambda h: h.name)]

    # -- tasks --

    def task(self, task: Task, inv: Any) -> dict[str, Any]:
        data = pay.task_v4(task, cluster=self.facade.cluster_name(inv))
        for ref in data.get("entitiesAffected", ()):
            ref["$objectType"] = "prism.v4.config.EntityReference"
        data.setdefault("lastUpdatedTime", data.get("completedTime") or data.get("startedTime") or data.get("createdTime"))
        # The v4 Task has no operationDescription of None; an unfinished task keeps its step.
        if not data.get("operationDescription"):
            data.pop("operationDescription", None)
        data["ownedBy"] = {"$objectType": "prism.v4.config.OwnerReference", "extId": pay.OWNER["uuid"], "name": "admin"}
        return data


# -- routes ------------------------------------------------------------------------------------


def routes(facade: "PrismFacade", v4: V4, status_of: Callable[[BackendError], tuple[int, str]]) -> list[Route]:
    """Every v4 route, at every version of its namespace; ``status_of`` maps the simulator's
    errors to an HTTP status and code, as the v3 routes do."""

    def endpoint(ns: str, handler: Callable[[Request, str], Awaitable[Response]], *, mutates: bool = False):
        async def run(request: Request) -> Response:
            version = request.path_params["version"]
            try:
                if version not in VERSIONS[ns]:
                    raise NotFound(f"/api/{ns}/{version} is not served (versions: {', '.join(VERSIONS[ns])})")
                request_id = request.headers.get("NTNX-Request-Id") if mutates else None
                what = f"{request.method} {request.url.path}"
                if mutates:
                    done = v4.requests.get(request_id, what)
                    if done is not None:
                        return JSONResponse(done[1], status_code=done[0])
                answer = await handler(request, version)
                if mutates and 200 <= answer.status_code < 300:
                    v4.requests.put(request_id, what, answer.status_code, json.loads(bytes(answer.body)))
                    v4.save()
                return answer
            except BackendError as err:
                status, code = _status(err)
                return v4_error(status, ns, err.message, code, retry_after=0.2 if status == 503 else None)

        return run

    def _status(err: BackendError) -> tuple[int, str]:
        for kind, status, code in _STATUS:
            if isinstance(err, kind):
                return status, code
        return status_of(err)

    async def inventory() -> Any:
        return await facade.inventory()

    # -- volumes ----------------------------------------------------------------------------

    async def volume(request: Request, key: str = "extId") -> tuple[Volume, Any]:
        inv = await inventory()
        vol_id = request.path_params[key]
        vol = inv.volumes.get(vol_id)
        if vol is None:
            raise NotFound(f"Volume group {vol_id} not found")
        return vol, inv

    async def vg_list(request: Request, version: str) -> Response:
        inv = await inventory()
        items = [v4.group(vol, inv) for vol in sorted(inv.volumes.values(), key=lambda v: v.name)]
        return _page(request, version, items, "volumes.v4.config.ListVolumeGroupsApiResponse")

    async def vg_get(request: Request, version: str) -> Response:
        vol, inv = await volume(request)
        return _one("volumes", version, "volumes.v4.config.GetVolumeGroupApiResponse", v4.group(vol, inv), etag=v4.group_etag(vol, inv))

    def disk_of(raw: Any, inv: Any, index: int) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise InvalidInput("a disk is a JSON object")
        size = raw.get("diskSizeBytes")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise InvalidInput("a disk needs diskSizeBytes, a whole number of bytes above 0")
        container = raw.get("storageContainerId") or pay.stable_uuid(f"container:{pay.STORAGE_CONTAINER}")
        if container not in v4.container_ids(inv):
            raise NotFound(f"Storage container {container} not found")
        return {
            "extId": str(uuid.uuid4()),
            "index": int(raw.get("index", index)),
            "diskSizeBytes": size,
            "storageContainerId": container,
            "description": str(raw.get("description") or ""),
        }

    async def vg_create(request: Request, version: str) -> Response:
        body = _body(await request.body())
        inv = await inventory()
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 256:
            raise InvalidInput("a volume group needs a name (1 to 256 characters)")
        cluster = body.get("clusterReference")
        if cluster is not None and cluster != v4.cluster_id(inv):
            raise NotFound(f"Cluster {cluster} not found")
        disks = [disk_of(d, inv, i) for i, d in enumerate(body.get("disks") or [])]
        # The world keeps volumes named as the console names them, once each; Prism allows
        # any name and the same name twice: a name the world refuses is kept in the overlay.
        taken = {v.name for v in inv.volumes.values()}
        world_name = name if volume_name_problem(name) is None and name not in taken else f"vg-{uuid.uuid4().hex[:12]}"
        size_gib = sum(d["diskSizeBytes"] for d in disks) / GIB if disks else EMPTY_GROUP_GIB
        container = disks[0]["storageContainerId"] if disks else None
        default = pay.stable_uuid(f"container:{pay.STORAGE_CONTAINER}")
        task = await facade.sim.create_volume(VolumeSpec(name=world_name, size_gib=size_gib, storage_container=pay.STORAGE_CONTAINER))
        attrs = {k: body[k] for k in ("description", "sharingStatus", "usageType", "isHidden", "shouldLoadBalanceVmAttachments") if k in body}
        if world_name != name:
            attrs["name"] = name
        kept: dict[str, Any] = {}
        if attrs:
            kept["attrs"] = attrs
        # One disk in the default container is what the world already shows for the volume.
        if len(disks) != 1 or container != default:
            kept["disks"] = [{**d, "index": i} for i, d in enumerate(disks)]
        if kept and task.target_id:
            v4.overlay.groups[task.target_id] = kept
        return JSONResponse(_task_answer("volumes", version, "volumes.v4.config.CreateVolumeGroupApiResponse", task.id), status_code=202)

    async def vg_update(request: Request, version: str) -> Response:
        vol, inv = await volume(request)
        _check_if_match(request, v4.group_etag(vol, inv), f"volume group {vol.name}")
        body = _body(await request.body())
        current = v4.group(vol, inv)
        kept = v4.overlay.groups.setdefault(vol.id, {})
        attrs = dict(kept.get("attrs") or {})
        for key in ("name", "description", "sharingStatus", "usageType", "isHidden", "shouldLoadBalanceVmAttachments"):
            if key in body and body[key] is not None and body[key] != current.get(key):
                if key == "name" and (not isinstance(body[key], str) or not body[key] or len(body[key]) > 256):
                    raise InvalidInput("a volume group's name is 1 to 256 characters")
                attrs[key] = body[key]
        kept["attrs"] = attrs
        task = facade.instant_task("update_volume_group", vol.name, vol.id)
        return JSONResponse(_task_answer("volumes", version, "volumes.v4.config.UpdateVolumeGroupApiResponse", task.id), status_code=202)

    async def vg_delete(request: Request, version: str) -> Response:
        vol, inv = await volume(request)
        _check_if_match(request, v4.group_etag(vol, inv), f"volume group {vol.name}")
        task = await facade.sim.delete_volume(vol.id)
        v4.overlay.groups.pop(vol.id, None)
        return JSONResponse(_task_answer("volumes", version, "volumes.v4.config.DeleteVolumeGroupApiResponse", task.id), status_code=202)

    async def vg_disks(request: Request, version: str) -> Response:
        vol, _ = await volume(request, "volumeGroupExtId")
        return _page(request, version, v4.disks(vol), "volumes.v4.config.ListVolumeDisksApiResponse")

    async def vg_disk_get(request: Request, version: str) -> Response:
        vol, _ = await volume(request, "volumeGroupExtId")
        for disk in v4.disks(vol):
            if disk["extId"] == request.path_params["extId"]:
                return _one("volumes", version, "volumes.v4.config.GetVolumeDiskApiResponse", disk, etag=etag_of(disk))
        raise NotFound(f"Volume disk {request.path_params['extId']} not found in volume group {vol.id}")

    async def vg_disk_create(request: Request, version: str) -> Response:
        vol, inv = await volume(request, "volumeGroupExtId")
        if request.headers.get("If-Match"):  # optional here; checked when sent
            _check_if_match(request, v4.group_etag(vol, inv), f"volume group {vol.name}")
        disks = v4.disks(vol)
        disk = disk_of(_body(await request.body()), inv, len(disks))
        if any(d["index"] == disk["index"] for d in disks):
            raise Conflict(f"volume group {vol.name} already has a disk at index {disk['index']}")
        kept = v4.overlay.groups.setdefault(vol.id, {})
        kept["disks"] = [{k: v for k, v in d.items() if k != "$objectType"} for d in disks] + [disk]
        task = facade.instant_task("create_volume_disk", vol.name, vol.id)
        return JSONResponse(_task_answer("volumes", version, "volumes.v4.config.CreateVolumeDiskApiResponse", task.id), status_code=202)

    async def vg_disk_delete(request: Request, version: str) -> Response:
        vol, inv = await volume(request, "volumeGroupExtId")
        disks = v4.disks(vol)
        disk = next((d for d in disks if d["extId"] == request.path_params["extId"]), None)
        if disk is None:
            raise NotFound(f"Volume disk {request.path_params['extId']} not found in volume group {vol.id}")
        _check_if_match(request, etag_of(disk), f"disk {disk['extId']}")
        kept = v4.overlay.groups.setdefault(vol.id, {})
        kept["disks"] = [{k: v for k, v in d.items() if k != "$objectType"} for d in disks if d is not disk]
        task = facade.instant_task("delete_volume_disk", vol.name, vol.id)
        return JSONResponse(_task_answer("volumes", version, "volumes.v4.config.DeleteVolumeDiskApiResponse", task.id), status_code=202)

    async def vg_attachments(request: Request, version: str) -> Response:
        vol, _ = await volume(request, "volumeGroupExtId")
        items = [{"$objectType": "volumes.v4.config.VmAttachment", "extId": vol.host_id, "index": 0}] if vol.host_id else []
        return _page(request, version, items, "volumes.v4.config.ListVmAttachmentsApiResponse")

    async def vg_action(request: Request, version: str) -> Response:
        vol, inv = await volume(request)
        action = request.path_params["action"]
        if action not in ("attach-vm", "detach-vm"):
            raise NotFound(f"no action {action} on volume groups here (attach-vm, detach-vm)")
        _check_if_match(request, v4.group_etag(vol, inv), f"volume group {vol.name}")
        vm_id = str(_body(await request.body()).get("extId") or "")
        if vm_id not in inv.hosts:
            raise NotFound(f"VM {vm_id} not found")
        if action == "attach-vm":
            task = await facade.sim.attach_volume(vol.id, vm_id)
            kind = "volumes.v4.config.AttachVmApiResponse"
        else:
            if vol.host_id != vm_id:
                raise Conflict(f"volume group {vol.name} is not attached to VM {vm_id}")
            task = await facade.sim.detach_volume(vol.id)
            kind = "volumes.v4.config.DetachVmApiResponse"
        return JSONResponse(_task_answer("volumes", version, kind, task.id), status_code=202)

    # -- vmm --------------------------------------------------------------------------------

    async def host_of(request: Request) -> tuple[Host, Any, dict[str, Any]]:
        inv = await inventory()
        host = inv.hosts.get(request.path_params["extId"])
        if host is None:
            raise NotFound(f"VM {request.path_params['extId']} not found")
        attached = sorted(v.id for v in inv.volumes.values() if v.host_id == host.id)
        return host, inv, v4.vm(host, inv, attached)

    async def vm_list(request: Request, version: str) -> Response:
        return _page(request, version, v4.vms(await inventory()), "vmm.v4.ahv.config.ListVmsApiResponse")

    async def vm_get(request: Request, version: str) -> Response:
        _, _, vm = await host_of(request)
        return _one("vmm", version, "vmm.v4.ahv.config.GetVmApiResponse", vm, etag=etag_of(vm))

    async def vm_update(request: Request, version: str) -> Response:
        host, _, vm = await host_of(request)
        _check_if_match(request, etag_of(vm), f"VM {host.name}")
        body = _body(await request.body())
        # The simulator's world can change a VM's power and engine, not its shape: what it
        # cannot do is refused by name rather than accepted and dropped.
        fixed = ("numSockets", "numCoresPerSocket", "memorySizeBytes", "name")
        changed = [k for k in fixed if k in body and body[k] is not None and body[k] != vm.get(k)]
        if changed:
            raise InvalidInput(f"the simulator cannot change {', '.join(changed)} of a VM (only description)")
        if "description" in body and body["description"] != vm.get("description"):
            v4.overlay.vms.setdefault(host.id, {}).setdefault("attrs", {})["description"] = str(body["description"] or "")
        task = facade.instant_task("update_host", host.name, host.id)
        return JSONResponse(_task_answer("vmm", version, "vmm.v4.ahv.config.UpdateVmApiResponse", task.id), status_code=202)

    async def vm_delete(request: Request, version: str) -> Response:
        host, _, vm = await host_of(request)
        _check_if_match(request, etag_of(vm), f"VM {host.name}")
        task = await facade.sim.delete_host(host.id)
        v4.overlay.vms.pop(host.id, None)
        return JSONResponse(_task_answer("vmm", version, "vmm.v4.ahv.config.DeleteVmApiResponse", task.id), status_code=202)

    async def vm_action(request: Request, version: str) -> Response:
        host, _, vm = await host_of(request)
        action = request.path_params["action"]
        kinds = {
            "power-on": "PowerOnVmApiResponse",
            "power-off": "PowerOffVmApiResponse",
            "shutdown": "ShutdownVmApiResponse",
            "guest-shutdown": "ShutdownVmApiResponse",
            "reboot": "RebootVmApiResponse",
            "guest-reboot": "RebootVmApiResponse",
            "power-cycle": "PowerCycleVmApiResponse",
            "reset": "ResetVmApiResponse",
        }
        if action not in kinds:
            raise NotFound(f"no action {action} on VMs here ({', '.join(kinds)})")
        _check_if_match(request, etag_of(vm), f"VM {host.name}")
        on = vm["powerState"] == "ON"
        if action == "power-on":
            task = await facade.sim.power_on_host(host.id) if not on else facade.instant_task("power_on_host", host.name, host.id)
        elif action in ("power-off", "shutdown", "guest-shutdown"):
            task = await facade.sim.power_off_host(host.id) if on else facade.instant_task("power_off_host", host.name, host.id)
        else:
            # A restart: Prism refuses it for a VM that is off, as here.
            if not on or host.state is not HostState.RUNNING:
                raise Conflict(f"VM {host.name} is not running")
            task = facade.instant_task("restart_host", host.name, host.id)
        return JSONResponse(_task_answer("vmm", version, f"vmm.v4.ahv.config.{kinds[action]}", task.id), status_code=202)

    async def vm_stats(request: Request, version: str) -> Response:
        # The simulator's past is a function of the time (simulator/stats_history.py), so the
        # window asked for is answered in its own times, ending with the VM's figures of now.
        host, _, _ = await host_of(request)
        query = request.query_params
        start, end = when(query.get("$startTime")), when(query.get("$endTime"))
        if not start or not end or end < start:
            raise InvalidInput("$startTime and $endTime are required (ISO-8601), the end not before the start")
        try:
            interval = int(query.get("$samplingInterval") or 30)
        except ValueError:
            raise InvalidInput("$samplingInterval is a whole number of seconds") from None
        if interval < 1:
            raise InvalidInput("$samplingInterval is a whole number of seconds, 1 or more")
        samples = stats_history.samples(facade.sim.seed, host, start, interval, end)
        return _one("vmm", version, "vmm.v4.ahv.stats.GetVmStatsApiResponse", pay.vm_stats(host, samples, interval))

    # -- prism tasks ------------------------------------------------------------------------

    async def task_list(request: Request, version: str) -> Response:
        inv = await inventory()
        tasks = sorted([*inv.tasks.values(), *facade.instant.values()], key=lambda t: t.created_at, reverse=True)
        return _page(request, version, [v4.task(t, inv) for t in tasks], "prism.v4.config.ListTasksApiResponse")

    async def task_get(request: Request, version: str) -> Response:
        task, _ = await facade.task(request.path_params["extId"])
        inv = await inventory()
        data = v4.task(task, inv)
        return _one("prism", version, "prism.v4.config.GetTaskApiResponse", data, etag=etag_of(data))

    async def task_cancel(request: Request, version: str) -> Response:
        task, _ = await facade.task(request.path_params["taskExtId"])
        if task.done:
            raise Conflict(f"task {task.id} has ended ({task.status.value}); it cannot be cancelled")
        await facade.sim.abort_task(task.id)
        body = {"$objectType": "prism.v4.config.CancelTaskApiResponse", "data": {"$objectType": "prism.v4.config.TaskReference", "extId": task.id}}
        return JSONResponse(_reserved(body, _fv(version)), status_code=202)

    # -- clustermgmt ------------------------------------------------------------------------

    async def cluster_list(request: Request, version: str) -> Response:
        return _page(request, version, v4.clusters(await inventory()), "clustermgmt.v4.config.ListClustersApiResponse")

    async def cluster_get(request: Request, version: str) -> Response:
        for cluster in v4.clusters(await inventory()):
            if cluster["extId"] == request.path_params["extId"]:
                return _one("clustermgmt", version, "clustermgmt.v4.config.GetClusterApiResponse", cluster, etag=etag_of(cluster))
        raise NotFound(f"Cluster {request.path_params['extId']} not found")

    async def sc_list(request: Request, version: str) -> Response:
        return _page(request, version, v4.containers(await inventory()), "clustermgmt.v4.config.ListStorageContainersApiResponse")

    async def container_of(request: Request) -> tuple[dict[str, Any], Any]:
        inv = await inventory()
        for container in v4.containers(inv):
            if container["extId"] == request.path_params["extId"]:
                return container, inv
        raise NotFound(f"Storage container {request.path_params['extId']} not found")

    async def sc_get(request: Request, version: str) -> Response:
        container, _ = await container_of(request)
        return _one("clustermgmt", version, "clustermgmt.v4.config.GetStorageContainerApiResponse", container, etag=etag_of(container))

    async def sc_create(request: Request, version: str) -> Response:
        inv = await inventory()
        body = _body(await request.body())
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("a storage container needs a name")
        if any(c["name"] == name for c in v4.containers(inv)):
            raise Conflict(f"a storage container named {name} exists")
        # The SDK names the cluster in X-Cluster-Id (required by its create_storage_container).
        cluster = request.headers.get("X-Cluster-Id") or body.get("clusterExtId")
        if cluster and cluster != v4.cluster_id(inv):
            raise NotFound(f"Cluster {cluster} not found")
        ext_id = str(uuid.uuid4())
        v4.overlay.containers[ext_id] = {
            "name": name,
            "maxCapacityBytes": body.get("maxCapacityBytes"),
            "replicationFactor": body.get("replicationFactor") or 2,
            "isCompressionEnabled": bool(body.get("isCompressionEnabled", False)),
        }
        task = facade.instant_task("create_storage_container", name, ext_id)
        return JSONResponse(_task_answer("clustermgmt", version, "clustermgmt.v4.config.CreateStorageContainerApiResponse", task.id), status_code=202)

    async def sc_update(request: Request, version: str) -> Response:
        container, _ = await container_of(request)
        _check_if_match(request, etag_of(container), f"storage container {container['name']}")
        if container["extId"] not in v4.overlay.containers:
            raise Conflict(f"storage container {container['name']} is the cluster's default; the simulator keeps it as it is")
        body = _body(await request.body())
        kept = v4.overlay.containers[container["extId"]]
        for key in ("name", "maxCapacityBytes", "replicationFactor", "isCompressionEnabled"):
            if key in body and body[key] is not None:
                kept[key] = body[key]
        task = facade.instant_task("update_storage_container", kept["name"], container["extId"])
        return JSONResponse(_task_answer("clustermgmt", version, "clustermgmt.v4.config.UpdateStorageContainerApiResponse", task.id), status_code=202)

    async def sc_delete(request: Request, version: str) -> Response:
        container, inv = await container_of(request)
        _check_if_match(request, etag_of(container), f"storage container {container['name']}")
        if container["extId"] not in v4.overlay.containers:
            raise Conflict(f"storage container {container['name']} holds the cluster's disks; it cannot be deleted")
        used = [v.name for v in inv.volumes.values() if any(d.get("storageContainerId") == container["extId"] for d in v4.disks(v))]
        if used:
            raise Conflict(f"storage container {container['name']} holds disks of volume groups {', '.join(sorted(used))}")
        del v4.overlay.containers[container["extId"]]
        task = facade.instant_task("delete_storage_container", container["name"], container["extId"])
        return JSONResponse(_task_answer("clustermgmt", version, "clustermgmt.v4.config.DeleteStorageContainerApiResponse", task.id), status_code=202)

    def info(ns: str):
        # The SDKs from 4.1 on ask each namespace for the newest version it serves (OPTIONS
        # /api/<ns>/unversioned/info, read as ``data``) and speak no newer one.
        async def run(request: Request) -> Response:
            return JSONResponse({"data": VERSIONS[ns][-1]})

        return run

    VG = "/api/volumes/{version:str}/config/volume-groups"
    VM = "/api/vmm/{version:str}/ahv/config/vms"
    TASKS = "/api/prism/{version:str}/config/tasks"
    CM = "/api/clustermgmt/{version:str}/config"
    return [
        *(Route(f"/api/{ns}/unversioned/info", info(ns), methods=["OPTIONS", "GET"]) for ns in VERSIONS),
        Route(VG, endpoint("volumes", vg_list), methods=["GET"]),
        Route(VG, endpoint("volumes", vg_create, mutates=True), methods=["POST"]),
        Route(VG + "/{extId:str}", endpoint("volumes", vg_get), methods=["GET"]),
        Route(VG + "/{extId:str}", endpoint("volumes", vg_update, mutates=True), methods=["PUT"]),
        Route(VG + "/{extId:str}", endpoint("volumes", vg_delete, mutates=True), methods=["DELETE"]),
        Route(VG + "/{extId:str}/$actions/{action:str}", endpoint("volumes", vg_action, mutates=True), methods=["POST"]),
        Route(VG + "/{volumeGroupExtId:str}/disks", endpoint("volumes", vg_disks), methods=["GET"]),
        Route(VG + "/{volumeGroupExtId:str}/disks", endpoint("volumes", vg_disk_create, mutates=True), methods=["POST"]),
        Route(VG + "/{volumeGroupExtId:str}/disks/{extId:str}", endpoint("volumes", vg_disk_get), methods=["GET"]),
        Route(VG + "/{volumeGroupExtId:str}/disks/{extId:str}", endpoint("volumes", vg_disk_delete, mutates=True), methods=["DELETE"]),
        Route(VG + "/{volumeGroupExtId:str}/vm-attachments", endpoint("volumes", vg_attachments), methods=["GET"]),
        Route(VM, endpoint("vmm", vm_list), methods=["GET"]),
        Route(VM + "/{extId:str}", endpoint("vmm", vm_get), methods=["GET"]),
        Route(VM + "/{extId:str}", endpoint("vmm", vm_update, mutates=True), methods=["PUT"]),
        Route(VM + "/{extId:str}", endpoint("vmm", vm_delete, mutates=True), methods=["DELETE"]),
        Route(VM + "/{extId:str}/$actions/{action:str}", endpoint("vmm", vm_action, mutates=True), methods=["POST"]),
        Route("/api/vmm/{version:str}/ahv/stats/vms/{extId:str}", endpoint("vmm", vm_stats), methods=["GET"]),
        Route(TASKS, endpoint("prism", task_list), methods=["GET"]),
        Route(TASKS + "/{extId:str}", endpoint("prism", task_get), methods=["GET"]),
        Route(TASKS + "/{taskExtId:str}/$actions/cancel", endpoint("prism", task_cancel, mutates=True), methods=["POST"]),
        Route(CM + "/clusters", endpoint("clustermgmt", cluster_list), methods=["GET"]),
        Route(CM + "/clusters/{extId:str}", endpoint("clustermgmt", cluster_get), methods=["GET"]),
        Route(CM + "/storage-containers", endpoint("clustermgmt", sc_list), methods=["GET"]),
        Route(CM + "/storage-containers", endpoint("clustermgmt", sc_create, mutates=True), methods=["POST"]),
        Route(CM + "/storage-containers/{extId:str}", endpoint("clustermgmt", sc_get), methods=["GET"]),
        Route(CM + "/storage-containers/{extId:str}", endpoint("clustermgmt", sc_update, mutates=True), methods=["PUT"]),
        Route(CM + "/storage-containers/{extId:str}", endpoint("clustermgmt", sc_delete, mutates=True), methods=["DELETE"]),
    ]
