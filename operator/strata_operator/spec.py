"""A StrataCluster's spec as typed values: the CRD's defaults applied (so a resource the API
server has not defaulted, such as one in a test, builds the same objects) and the checks a
schema cannot express. Anything wrong raises InvalidSpec, which the handler reports as
phase Invalid instead of rendering pods that could never start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_GROUP = "strata.dev"
API_VERSION = f"{API_GROUP}/v1alpha1"
CLUSTER_KIND = "StrataCluster"
FILE_SETTINGS_KIND = "StrataFileSettings"

# The node's roles (strata_node.settings.ALL_ROLES; a test keeps them equal).
ALL_ROLES = (
    "master",
    "data",
    "data_content",
    "data_hot",
    "data_warm",
    "data_cold",
    "data_frozen",
    "ingest",
    "remote_cluster_client",
)

# The CRD's defaults (crds/strataclusters.strata.dev.yaml; a test keeps them equal).
DEFAULT_STORAGE_SIZE = "10Gi"
DEFAULT_HTTP_SERVICE_TYPE = "ClusterIP"
DEFAULT_MAX_UNAVAILABLE = 1
# Not CRD defaults (a default on a map would merge into the user's): the builder's.
DEFAULT_RESOURCES = {"requests": {"memory": "1Gi", "cpu": "500m"}, "limits": {"memory": "2Gi"}}
DEFAULT_IMAGE_REPOSITORY = "strata/strata-node"

MAX_CLUSTER_NAME = 30
MAX_NODE_SET_NAME = 20
RESERVED_NODE_SET_NAMES = ("http", "transport")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SETTING_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
# A storage size as the CRD's pattern allows it (a Kubernetes quantity without exponents).
STORAGE_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i|[kMGTPE])?$")
SIZE_UNITS = {
    "": 1,
    **{unit: 1000 ** (i + 1) for i, unit in enumerate("kMGTPE")},
    **{f"{unit}i": 1024 ** (i + 1) for i, unit in enumerate("KMGTPE")},
}

# Settings the operator sets itself: a node set's config may not name them.
MANAGED_SETTINGS = frozenset(
    {
        "cluster.name",
        "node.name",
        "node.roles",
        "path.data",
        "path.logs",
        "path.config",
        "network.host",
        "http.host",
        "http.port",
        "transport.host",
        "transport.port",
        "transport.secret",
        "discovery.seed_hosts",
        "discovery.type",
        "cluster.initial_master_nodes",
    }
)


class InvalidSpec(ValueError):
    """A resource the operator cannot turn into a working cluster; the message says why."""


@dataclass(frozen=True)
class SecureSetting:
    secret_name: str
    key: str
    setting: str


@dataclass(frozen=True)
class NodeSet:
    name: str
    count: int
    roles: tuple[str, ...] | None  # None: every role (the node's default)
    config: Mapping[str, Any]  # flat: {"a.b": 1}
    resources: Mapping[str, Any]
    storage_size: str
    storage_class: str | None
    pod_template: Mapping[str, Any]

    @property
    def master_eligible(self) -> bool:
        return self.roles is None or "master" in self.roles


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    namespace: str
    uid: str
    generation: int
    version: str
    image: str
    node_sets: tuple[NodeSet, ...]
    http_service_type: str = DEFAULT_HTTP_SERVICE_TYPE
    http_service_annotations: Mapping[str, str] = field(default_factory=dict)
    max_unavailable: int = DEFAULT_MAX_UNAVAILABLE
    secure_settings: tuple[SecureSetting, ...] = ()

    def node_set(self, name: str) -> NodeSet:
        for node_set in self.node_sets:
            if node_set.name == name:
                return node_set
        raise KeyError(name)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, as the node reads its settings file; lists stay values."""
    out: dict[str, Any] = {}
    for key, child in value.items():
        full = f"{prefix}{key}"
        if isinstance(child, Mapping):
            out.update(flatten(child, full + "."))
        else:
            out[full] = child
    return out


def storage_bytes(size: Any, what: str = "storage size") -> float:
    """A byte quantity in bytes ("10Gi" -> 10 * 2**30); raises InvalidSpec, naming `what`,
    for anything else."""
    match = STORAGE_SIZE.match(str(size))
    if match is None:
        raise InvalidSpec(f"{what} [{size}] is not a quantity such as 10Gi or 500M")
    return float(match.group(1)) * SIZE_UNITS[match.group(2) or ""]


def _metadata(resource: Mapping[str, Any]) -> tuple[str, str, str, int]:
    meta = resource.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not name or not namespace:
        raise InvalidSpec("the resource has no name or namespace")
    return name, namespace, meta.get("uid", ""), int(meta.get("generation") or 0)


def _node_set(raw: Mapping[str, Any]) -> NodeSet:
    name = raw.get("name")
    if not isinstance(name, str) or not DNS_LABEL.match(name) or len(name) > MAX_NODE_SET_NAME:
        raise InvalidSpec(
            f"node set name [{name}] must be a DNS label of at most {MAX_NODE_SET_NAME} characters"
        )
    if name in RESERVED_NODE_SET_NAMES:
        raise InvalidSpec(f"node set name [{name}] is reserved for the cluster's own Services")
    count = raw.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidSpec(f"node set [{name}]: count must be an integer >= 0")
    roles = raw.get("roles")
    if roles is not None:
        unknown = [r for r in roles if r not in ALL_ROLES]
        if unknown:
            raise InvalidSpec(
                f"node set [{name}]: unknown roles {unknown}; known roles are {list(ALL_ROLES)}"
            )
        roles = tuple(dict.fromkeys(roles))
    config = flatten(raw.get("config") or {})
    managed = sorted(k for k in config if k in MANAGED_SETTINGS)
    if managed:
        raise InvalidSpec(f"node set [{name}]: the operator manages {managed}; remove them from config")
    storage = raw.get("storage") or {}
    storage_bytes(str(storage.get("size") or DEFAULT_STORAGE_SIZE))
    return NodeSet(
        name=name,
        count=count,
        roles=roles,
        config=config,
        resources=raw.get("resources") or DEFAULT_RESOURCES,
        storage_size=str(storage.get("size") or DEFAULT_STORAGE_SIZE),
        storage_class=storage.get("storageClassName"),
        pod_template=raw.get("podTemplate") or {},
    )


def parse_cluster(resource: Mapping[str, Any]) -> ClusterSpec:
    name, namespace, uid, generation = _metadata(resource)
    if not DNS_LABEL.match(name) or len(name) > MAX_CLUSTER_NAME:
        raise InvalidSpec(
            f"cluster name [{name}] must be a DNS label of at most {MAX_CLUSTER_NAME} characters"
        )
    spec = resource.get("spec") or {}
    version = spec.get("version")
    if not version:
        raise InvalidSpec("spec.version is required")
    raw_sets = spec.get("nodeSets") or []
    if not raw_sets:
        raise InvalidSpec("spec.nodeSets must name at least one node set")
    node_sets = tuple(_node_set(raw) for raw in raw_sets)
    names = [ns.name for ns in node_sets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidSpec(f"node set names must be unique: {duplicates}")
    if not any(ns.master_eligible and ns.count > 0 for ns in node_sets):
        raise InvalidSpec(
            "the cluster needs at least one master-eligible node: give a node set with "
            "count >= 1 the master role"
        )
    secure = []
    for ref in spec.get("secureSettings") or []:
        for entry in ref.get("entries") or []:
            setting = entry.get("setting", "")
            if not SETTING_NAME.match(setting):
                raise InvalidSpec(f"secure setting [{setting}] is not a setting name")
            if setting in MANAGED_SETTINGS:
                raise InvalidSpec(f"secure setting [{setting}] is managed by the operator")
            secure.append(SecureSetting(ref["secretName"], entry["key"], setting))
    settings = [s.setting for s in secure]
    if len(set(settings)) != len(settings):
        raise InvalidSpec("a setting is named twice in secureSettings")
    for node_set in node_sets:
        both = sorted(set(settings) & set(node_set.config))
        if both:
            raise InvalidSpec(f"node set [{node_set.name}]: {both} set both in config and in secureSettings")
    http = (spec.get("http") or {}).get("service") or {}
    return ClusterSpec(
        name=name,
        namespace=namespace,
        uid=uid,
        generation=generation,
        version=version,
        image=spec.get("image") or f"{DEFAULT_IMAGE_REPOSITORY}:{version}",
        node_sets=node_sets,
        http_service_type=http.get("type") or DEFAULT_HTTP_SERVICE_TYPE,
        http_service_annotations=dict(http.get("annotations") or {}),
        max_unavailable=int(
            (spec.get("updateStrategy") or {}).get("maxUnavailable") or DEFAULT_MAX_UNAVAILABLE
        ),
        secure_settings=tuple(secure),
    )


@dataclass(frozen=True)
class FileSettingsSpec:
    name: str
    namespace: str
    uid: str
    generation: int
    cluster_ref: str | None
    cluster_selector: Mapping[str, str] | None
    state: Mapping[str, Any]


def parse_file_settings(resource: Mapping[str, Any]) -> FileSettingsSpec:
    name, namespace, uid, generation = _metadata(resource)
    spec = resource.get("spec") or {}
    ref = (spec.get("clusterRef") or {}).get("name")
    selector = (spec.get("clusterSelector") or {}).get("matchLabels")
    if bool(ref) == bool(selector):
        raise InvalidSpec("name the cluster with exactly one of spec.clusterRef and spec.clusterSelector")
    state = spec.get("settings")
    if not isinstance(state, Mapping):
        raise InvalidSpec("spec.settings must be an object")
    return FileSettingsSpec(
        name, namespace, uid, generation, ref, dict(selector) if selector else None, dict(state)
    )


def file_settings_owner(resource: Mapping[str, Any]) -> FileSettingsSpec:
    """A StrataFileSettings as the owner of what it shipped, asking for no settings: what
    giving its settings back ships, whatever its spec says (it may not parse any more)."""
    name, namespace, uid, generation = _metadata(resource)
    return FileSettingsSpec(name, namespace, uid, generation, None, None, {})


def resolve_cluster(spec: FileSettingsSpec, clusters: list[Mapping[str, Any]]) -> str:
    """The name of the one StrataCluster of the namespace the settings are for."""
    names = sorted(
        (c.get("metadata") or {}).get("name", "")
        for c in clusters
        if spec.cluster_ref is None
        and all(
            ((c.get("metadata") or {}).get("labels") or {}).get(k) == v
            for k, v in (spec.cluster_selector or {}).items()
        )
    )
    if spec.cluster_ref is not None:
        if not any((c.get("metadata") or {}).get("name") == spec.cluster_ref for c in clusters):
            raise InvalidSpec(f"StrataCluster [{spec.cluster_ref}] not found in namespace [{spec.namespace}]")
        return spec.cluster_ref
    if len(names) != 1:
        raise InvalidSpec(
            f"clusterSelector {dict(spec.cluster_selector or {})} must match exactly one "
            f"StrataCluster in namespace [{spec.namespace}]; it matches {names}"
        )
    return names[0]
