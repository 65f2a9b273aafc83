"""StrataAutoscaler, the pure part (ECK's ElasticsearchAutoscaler): read the spec, turn a
policy's required capacity into node counts and per-node resources within its limits, and
write them into the StrataCluster's node sets.

A policy names node roles, the deciders to run, and the limits of the node sets with
exactly those roles: `nodeCount` (min, max), and optionally `memory`, `cpu` and `storage`
per node (min, max). From the cluster's `GET /_autoscaling/capacity`:
- per node, each resource is the required node capacity, at least the min and at most
  the max (the min when no decider asks for it); storage never below what the node sets
  already have, since a volume grows but never shrinks, even when that is above the max
  (reported as a limit that held it);
- the node count is the largest of ceil(required total / per node) over memory and CPU (a
  resource the policy does not size counts nodes as they are now, or as large as a node
  must be) and, for storage, today's nodes plus as many as the storage lacking takes,
  within nodeCount; a count or size the max holds back is reported as a limit reached;
- an undetermined requirement (a decider could not tell) changes nothing;
- the count is spread over the policy's node sets evenly, the first ones taking any
  remainder.
Memory is set as both the request and the limit, CPU as the request (and as the limit
when the node set had one); sizes are written in whole Mi (memory) and Gi (storage),
rounded up.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .spec import (
    ALL_ROLES,
    DEFAULT_RESOURCES,
    DEFAULT_STORAGE_SIZE,
    DNS_LABEL,
    InvalidSpec,
    storage_bytes,
)

AUTOSCALER_KIND = "StrataAutoscaler"
DEFAULT_POLLING_PERIOD = 60.0
_DURATION = re.compile(r"^([0-9]+)(s|m|h)$")
MAX_NODE_COUNT = 1000  # the StrataCluster CRD's bound on a node set's count
_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m)?$")
MI, GI = 1 << 20, 1 << 30


@dataclass(frozen=True)
class Range:
    min: float | None = None
    max: float | None = None

    def clamp(self, value: float) -> float:
        if self.min is not None:
            value = max(value, self.min)
        if self.max is not None:
            value = min(value, self.max)
        return value


@dataclass(frozen=True)
class PolicySpec:
    name: str
    roles: tuple[str, ...]
    deciders: Mapping[str, Any]
    node_count: Range
    memory: Range | None = None  # bytes
    cpu: Range | None = None  # cores
    storage: Range | None = None  # bytes


@dataclass(frozen=True)
class AutoscalerSpec:
    name: str
    namespace: str
    uid: str
    generation: int
    cluster: str
    polling_period: float
    policies: tuple[PolicySpec, ...]


def cpu_cores(text: Any, what: str) -> float:
    match = _CPU.match(str(text))
    if match is None:
        raise InvalidSpec(f"{what} [{text}] is not a CPU quantity such as 2 or 500m")
    value = float(match.group(1))
    return value / 1000 if match.group(2) else value


def _duration(text: Any) -> float:
    match = _DURATION.match(str(text))
    if match is None:
        raise InvalidSpec(f"spec.pollingPeriod [{text}] is not a duration such as 30s or 1m")
    unit = {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return max(float(match.group(1)) * unit, 1.0)


def _range(raw: Any, what: str, read) -> Range | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or "min" not in raw or "max" not in raw:
        raise InvalidSpec(f"{what} needs min and max")
    low, high = read(raw["min"], f"{what}.min"), read(raw["max"], f"{what}.max")
    if read is not _count and low <= 0:
        raise InvalidSpec(f"{what}.min must be more than zero")
    if low > high:
        raise InvalidSpec(f"{what}.min [{raw['min']}] is more than {what}.max [{raw['max']}]")
    return Range(low, high)


def _count(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NODE_COUNT:
        raise InvalidSpec(f"{what} must be an integer from 0 to {MAX_NODE_COUNT}")
    return value


def _policy(raw: Mapping[str, Any], index: int) -> PolicySpec:
    name = raw.get("name")
    if not isinstance(name, str) or not DNS_LABEL.match(name):
        raise InvalidSpec(f"spec.policies[{index}].name [{name}] must be a DNS label")
    roles = raw.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidSpec(f"policy [{name}]: roles must be a list of role names")
    unknown = [r for r in roles if r not in ALL_ROLES]
    if unknown:
        raise InvalidSpec(f"policy [{name}]: unknown roles {unknown}")
    resources = raw.get("resources") or {}
    node_count = _range(resources.get("nodeCount"), f"policy [{name}]: resources.nodeCount", _count)
    if node_count is None:
        raise InvalidSpec(f"policy [{name}]: resources.nodeCount (min, max) is required")
    deciders = raw.get("deciders") or {}
    if not isinstance(deciders, Mapping):
        raise InvalidSpec(f"policy [{name}]: deciders must be an object")
    return PolicySpec(
        name=name, roles=tuple(sorted(set(roles))), deciders=dict(deciders), node_count=node_count,
        memory=_range(resources.get("memory"), f"policy [{name}]: resources.memory", storage_bytes),
        cpu=_range(resources.get("cpu"), f"policy [{name}]: resources.cpu", cpu_cores),
        storage=_range(resources.get("storage"), f"policy [{name}]: resources.storage", storage_bytes))


def parse_autoscaler(resource: Mapping[str, Any]) -> AutoscalerSpec:
    meta = resource.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not name or not namespace:
        raise InvalidSpec("the resource has no name or namespace")
    spec = resource.get("spec") or {}
    cluster = (spec.get("clusterRef") or {}).get("name")
    if not cluster:
        raise InvalidSpec("spec.clusterRef.name is required")
    raw = spec.get("policies") or []
    policies = tuple(_policy(p, i) for i, p in enumerate(raw))
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise InvalidSpec(f"policy names must be unique: {names}")
    roles = [p.roles for p in policies]
    if len(set(roles)) != len(roles):
        raise InvalidSpec("two policies have the same roles; a node set belongs to one policy")
    period = _duration(spec["pollingPeriod"]) if spec.get("pollingPeriod") else DEFAULT_POLLING_PERIOD
    return AutoscalerSpec(name, namespace, meta.get("uid", ""), int(meta.get("generation") or 0), cluster,
                          period, policies)


def polling_period(resource: Mapping[str, Any]) -> float:
    """Seconds between two polls; the default for a spec that does not parse (its
    reconcile reports why)."""
    try:
        return parse_autoscaler(resource).polling_period
    except InvalidSpec:
        return DEFAULT_POLLING_PERIOD


def policy_body(policy: PolicySpec) -> dict[str, Any]:
    """The `PUT /_autoscaling/policy/{name}` body."""
    return {"roles": list(policy.roles), "deciders": dict(policy.deciders)}


# -- from required capacity to node sets ---------------------------------------------------


def node_set_roles(raw: Mapping[str, Any]) -> tuple[str, ...]:
    roles = raw.get("roles")
    return tuple(sorted(set(ALL_ROLES if roles is None else roles)))


@dataclass(frozen=True)
class Recommendation:
    policy: str
    node_sets: tuple[str, ...]
    counts: Mapping[str, int]  # node set -> count
    memory: float | None = None  # bytes per node
    cpu: float | None = None  # cores per node
    storage: float | None = None  # bytes per node
    limited: tuple[str, ...] = ()  # what the limits held back
    required: Mapping[str, Any] = field(default_factory=dict)


def _per_node(required: float | None, limits: Range | None, floor: float = 0.0) -> float | None:
    """The required size within the limits (their min when nothing is required), and never
    below `floor` (a volume the node sets already have)."""
    if limits is None:
        return None
    return max(limits.clamp(required if required is not None else limits.min or 0.0), floor)


def _shown(resource: str, value: float) -> str:
    """A size as a person reads it in a status: Gi for bytes, cores for CPU."""
    if resource == "cpu":
        return f"{value:g} cores"
    return f"{value / GI:.2f}".rstrip("0").rstrip(".") + "Gi"


def _storage_nodes(asked: float | None, have: float | None, per_node: float, nodes: int) -> float:
    """Nodes for storage: as many more as the storage lacking takes. The disks the nodes
    report are not the volumes the spec sizes (a hostPath reports its host's disk), so
    the total is read against what the nodes report, never divided by a volume's size."""
    if not asked or not per_node:
        return 0.0
    if have is None:
        return math.ceil(asked / per_node)
    return nodes + math.ceil(max(asked - have, 0.0) / per_node)


def spread(count: int, node_sets: tuple[str, ...]) -> dict[str, int]:
    base, extra = divmod(count, len(node_sets))
    return {name: base + (1 if i < extra else 0) for i, name in enumerate(node_sets)}


def recommend(policy: PolicySpec, node_sets: list[Mapping[str, Any]],
              capacity: Mapping[str, Any] | None) -> Recommendation | None:
    """The node sets' new counts and resources, or None when nothing is known to be needed
    (the requirement is undetermined, or the policy has no node set)."""
    names = tuple(ns["name"] for ns in node_sets)
    required = (capacity or {}).get("required_capacity")
    if not names or not required:
        return None
    node, total = required.get("node") or {}, required.get("total") or {}
    limited: list[str] = []
    current_storage = max((storage_bytes((ns.get("storage") or {}).get("size") or DEFAULT_STORAGE_SIZE,
                                          "storage") for ns in node_sets), default=0.0)
    per_node = {
        "memory": _per_node(node.get("memory"), policy.memory),
        "cpu": _per_node(node.get("processors"), policy.cpu),
        "storage": _per_node(node.get("storage"), policy.storage, floor=current_storage),
    }
    storage_max = policy.storage.max if policy.storage is not None else None
    # A volume above its max is held at its size (said below), not at the max.
    storage_limits = None if storage_max is not None and current_storage > storage_max else policy.storage
    for resource, key, limits in (("memory", "memory", policy.memory), ("cpu", "processors", policy.cpu),
                                  ("storage", "storage", storage_limits)):
        asked = node.get(key)
        if limits is not None and asked is not None and limits.max is not None and asked > limits.max:
            limited.append(f"{resource} per node held at its max {_shown(resource, limits.max)} "
                           f"({_shown(resource, asked)} asked)")
    if storage_max is not None and current_storage > storage_max:
        limited.append(f"storage per node held at the node sets' current size "
                       f"{_shown('storage', current_storage)}, above its max "
                       f"{_shown('storage', storage_max)}: a volume never shrinks")
    wanted = float(policy.node_count.min or 0)
    current = (capacity or {}).get("current_capacity") or {}
    have, have_total = current.get("node") or {}, current.get("total") or {}
    for resource, key in (("memory", "memory"), ("cpu", "processors")):
        size, asked = per_node[resource], total.get(key)
        if size is None:
            # Not sized by the policy: a node is what it is now, or what a node must be.
            size = max(node.get(key) or 0, have.get(key) or 0)
        if size and asked:
            wanted = max(wanted, math.ceil(asked / size))
    wanted = max(wanted, _storage_nodes(total.get("storage"), have_total.get("storage"),
                                        per_node["storage"] or max(have.get("storage") or 0, current_storage),
                                        sum(int(ns.get("count") or 0) for ns in node_sets)))
    count = int(policy.node_count.clamp(wanted))
    if wanted > count:
        limited.append(f"node count held at its max {count} ({int(wanted)} needed)")
    return Recommendation(policy.name, names, spread(count, names), per_node["memory"], per_node["cpu"],
                          per_node["storage"], tuple(limited), dict(required))


def _quantity(value: float, unit: int, suffix: str, cap: float | None, old: Any, read,
              grows_only: bool = False) -> str:
    """`value` in whole units, rounded up but never past the policy's max, and the text the
    spec already has when it says the same amount or, for a volume (`grows_only`), more: the
    cluster's reconcile refuses a smaller volume, so writing one would only come back on
    every poll."""
    units = math.ceil(round(value / unit, 6))
    if cap is not None and units * unit > cap + unit / 2:
        units = math.floor(round(cap / unit, 6))
    if old is not None:
        try:
            amount = read(old, "quantity")
        except InvalidSpec:  # not a quantity this reads: written anew
            return f"{units}{suffix}"
        if abs(amount - units * unit) < unit / 2 or (grows_only and units * unit < amount):
            return str(old)
    return f"{units}{suffix}"


def scaled_node_sets(node_sets: list[Mapping[str, Any]], recommendations: list[Recommendation],
                     policies: Mapping[str, PolicySpec]) -> list[dict[str, Any]]:
    """The StrataCluster's `spec.nodeSets` with the recommendations written in. A node set
    without resources starts from the operator's defaults, so sizing one resource does not
    drop the others' requests and limits."""
    by_set = {name: r for r in recommendations for name in r.node_sets}
    out = []
    for raw in node_sets:
        ns = copy.deepcopy(dict(raw))
        r = by_set.get(ns["name"])
        if r is not None:
            policy = policies[r.policy]
            ns["count"] = r.counts[ns["name"]]
            resources = copy.deepcopy(dict(ns.get("resources") or DEFAULT_RESOURCES))
            requests, limits = resources.setdefault("requests", {}), resources.setdefault("limits", {})
            if r.memory is not None:
                cap = policy.memory.max if policy.memory else None
                for side in (requests, limits):
                    side["memory"] = _quantity(r.memory, MI, "Mi", cap, side.get("memory"), storage_bytes)
            if r.cpu is not None:
                cap = policy.cpu.max if policy.cpu else None
                requests["cpu"] = _quantity(r.cpu, 0.001, "m", cap, requests.get("cpu"), cpu_cores)
                if "cpu" in limits:
                    limits["cpu"] = _quantity(r.cpu, 0.001, "m", cap, limits.get("cpu"), cpu_cores)
            if r.memory is not None or r.cpu is not None:
                ns["resources"] = resources
            if r.storage is not None:
                storage = dict(ns.get("storage") or {})
                cap = policy.storage.max if policy.storage else None
                size = storage.get("size") or DEFAULT_STORAGE_SIZE
                storage["size"] = _quantity(r.storage, GI, "Gi", cap, size, storage_bytes, grows_only=True)
                ns["storage"] = storage
        out.append(ns)
    return out
