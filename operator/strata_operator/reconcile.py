"""What a handler does for one resource, as plain functions over a Kube client and a cluster
probe: read what exists, build, apply, and work out the status. The kopf handlers only call
these and write back what they return.

Safety rules kept here until draining and rolling restarts exist (see docs/architecture.md,
Operator): a node set's StatefulSet never shrinks and a node set dropped from the spec keeps
its StatefulSet (the nodes may hold the only copy of some data), and nothing is restarted
(OnDelete: a changed pod template waits until its pods are deleted)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .builders import build_cluster_objects
from .builders.common import (
    ANNOTATION_CLUSTER_UUID,
    LABEL_NODE_SET,
    cluster_selector,
    file_settings_config_map_name,
    secret_name,
)
from .builders.file_settings import ANNOTATION_SOURCE, build_file_settings_config_map, next_version
from .builders.secret import ClusterSecrets
from .cluster_client import ClusterClient, ClusterUnavailable
from .kube import ApplyError, Kube, NotOwned
from .spec import (
    API_VERSION,
    CLUSTER_KIND,
    ClusterSpec,
    InvalidSpec,
    parse_cluster,
    parse_file_settings,
    resolve_cluster,
)

READY, APPLYING, MIGRATING, STALLED, INVALID = (
    "Ready",
    "ApplyingChanges",
    "MigratingData",
    "Stalled",
    "Invalid",
)
ERROR = "Error"


@dataclass(frozen=True)
class Observed:
    """What the cluster's REST API said; None for anything it did not (or could not) say."""

    health: str | None = None
    nodes: int | None = None
    master: str | None = None
    cluster_uuid: str | None = None


def observe(client: ClusterClient) -> Observed:
    """Each reading on its own: one failing leaves the others."""
    health = nodes = master = uuid = None
    try:
        body = client.health()
        health, nodes = body.get("status"), body.get("number_of_nodes")
    except ClusterUnavailable:
        pass
    try:
        master = client.master_node()
    except ClusterUnavailable:
        pass
    try:
        uuid = client.formed_cluster_uuid()
    except ClusterUnavailable:
        pass
    return Observed(health, nodes, master, uuid)


@dataclass
class Outcome:
    status: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)  # to set on the resource
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_condition(
    previous: Mapping[str, Any] | None, ready: bool, reason: str, message: str, generation: int
) -> dict[str, Any]:
    """A Ready condition; lastTransitionTime moves only when the status changes."""
    status = "True" if ready else "False"
    old = next((c for c in (previous or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    since = (
        old["lastTransitionTime"]
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else _now()
    )
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def _settled(sts: Mapping[str, Any]) -> bool:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    replicas = spec.get("replicas", 0)
    return (
        status.get("observedGeneration", 0) >= (sts.get("metadata") or {}).get("generation", 0)
        and status.get("readyReplicas", 0) >= replicas
        and status.get("currentRevision") == status.get("updateRevision")
    )


def cluster_status(
    spec: ClusterSpec,
    previous: Mapping[str, Any] | None,
    statefulsets: list[Mapping[str, Any]],
    observed: Observed,
    problems: list[str],
    stalled: bool,
) -> dict[str, Any]:
    ready_nodes = sum((s.get("status") or {}).get("readyReplicas", 0) for s in statefulsets)
    pending = [s["metadata"]["name"] for s in statefulsets if not _settled(s)]
    if stalled:
        phase, message = STALLED, "; ".join(problems)
    elif pending:
        phase = APPLYING
        message = "; ".join(
            [
                *problems,
                f"waiting for StatefulSets {sorted(pending)}: pods not ready, or pods "
                "on an older template (OnDelete: they change when deleted)",
            ]
        )
    else:
        phase, message = READY, "; ".join(problems) or "every node set is up to date"
    status: dict[str, Any] = {
        "phase": phase,
        "message": message,
        "health": observed.health if observed.health in ("green", "yellow", "red") else "unknown",
        "availableNodes": observed.nodes if observed.nodes is not None else ready_nodes,
        "observedGeneration": spec.generation,
        "conditions": [ready_condition(previous, phase == READY, phase, message, spec.generation)],
    }
    if observed.master is not None:
        status["masterNode"] = observed.master
    return status


def reconcile_cluster(
    resource: Mapping[str, Any], kube: Kube, probe: Callable[[ClusterSpec], Observed]
) -> Outcome:
    """Build and apply a StrataCluster's objects; the status to report."""
    meta = resource.get("metadata") or {}
    previous = resource.get("status") or {}
    try:
        spec = parse_cluster(resource)
    except InvalidSpec as e:
        generation = int(meta.get("generation") or 0)
        return Outcome(
            {
                "phase": INVALID,
                "message": str(e),
                "observedGeneration": generation,
                "conditions": [ready_condition(previous, False, INVALID, str(e), generation)],
            },
            events=[("Warning", INVALID, str(e))],
        )
    outcome = Outcome({})
    observed = probe(spec)
    bootstrapped = ANNOTATION_CLUSTER_UUID in (meta.get("annotations") or {})
    if not bootstrapped and observed.cluster_uuid:
        outcome.annotations[ANNOTATION_CLUSTER_UUID] = observed.cluster_uuid
        outcome.events.append(
            (
                "Normal",
                "Bootstrapped",
                f"cluster formed with uuid {observed.cluster_uuid}; "
                "cluster.initial_master_nodes is no longer set",
            )
        )
        bootstrapped = True

    existing_secret = kube.get("v1", "Secret", spec.namespace, secret_name(spec.name))
    secrets = ClusterSecrets.from_secret(existing_secret) or ClusterSecrets.generate()

    existing = {
        (s["metadata"].get("labels") or {}).get(LABEL_NODE_SET): s
        for s in kube.list("apps/v1", "StatefulSet", spec.namespace, cluster_selector(spec.name))
    }
    problems: list[str] = []
    replicas: dict[str, int] = {}
    for node_set in spec.node_sets:
        current = ((existing.get(node_set.name) or {}).get("spec") or {}).get("replicas")
        if current is not None and current > node_set.count:
            replicas[node_set.name] = current
            problems.append(
                f"node set [{node_set.name}] keeps {current} nodes, not {node_set.count}: "
                "scaling down needs draining, which this operator version does not do yet"
            )
    dropped = sorted(n for n in existing if n is not None and n not in {ns.name for ns in spec.node_sets})
    if dropped:
        problems.append(
            f"node sets {dropped} are no longer in the spec and keep running: removing a node "
            "set needs draining, which this operator version does not do yet"
        )
    stalled = bool(problems)

    objects = build_cluster_objects(
        spec,
        secrets=secrets,
        bootstrapped=bootstrapped,
        replicas=replicas,
        disruptions_allowed=observed.health == "green",
    )
    statefulsets = [existing[n] for n in dropped]
    for obj in objects:
        try:
            applied = kube.apply(obj, spec.uid)
        except (NotOwned, ApplyError) as e:
            problems.append(str(e))
            stalled = True
            outcome.events.append(("Warning", "ApplyFailed", str(e)))
            break
        if obj["kind"] == "StatefulSet":
            statefulsets.append(applied)
    outcome.status = cluster_status(spec, previous, statefulsets, observed, problems, stalled)
    return outcome


def reconcile_file_settings(resource: Mapping[str, Any], kube: Kube) -> Outcome:
    """Ship a StrataFileSettings as its cluster's settings.json ConfigMap."""
    meta = resource.get("metadata") or {}
    previous = resource.get("status") or {}
    generation = int(meta.get("generation") or 0)

    def error(message: str, **extra: Any) -> Outcome:
        return Outcome(
            {
                "phase": ERROR,
                "errors": [message],
                "observedGeneration": generation,
                **extra,
                "conditions": [ready_condition(previous, False, ERROR, message, generation)],
            },
            events=[("Warning", ERROR, message)],
        )

    try:
        spec = parse_file_settings(resource)
        cluster = resolve_cluster(spec, kube.list(API_VERSION, CLUSTER_KIND, spec.namespace))
    except InvalidSpec as e:
        return error(str(e))
    name = file_settings_config_map_name(cluster)
    current = kube.get("v1", "ConfigMap", spec.namespace, name)
    source = ((current or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION_SOURCE)
    if current is not None and source not in (None, spec.name):
        return error(
            f"StrataCluster [{cluster}] already has file settings [{source}]; a cluster takes one",
            cluster=cluster,
        )
    floor = max(int(previous.get("expectedVersion") or 0), int(previous.get("appliedVersion") or 0))
    version = next_version(current, spec.state, floor=floor)
    try:
        kube.apply(build_file_settings_config_map(spec, cluster, version), spec.uid)
    except (NotOwned, ApplyError) as e:
        return error(str(e), cluster=cluster)
    message = (
        f"settings.json version {version} shipped in ConfigMap {name}; the version the cluster "
        "applied is not read back yet"
    )
    status = {
        "phase": APPLYING,
        "cluster": cluster,
        "configMap": name,
        "expectedVersion": version,
        "errors": [],
        "observedGeneration": generation,
        "conditions": [ready_condition(previous, False, APPLYING, message, generation)],
    }
    events = (
        []
        if previous.get("expectedVersion") == version
        else [("Normal", "SettingsShipped", f"settings.json version {version} shipped to cluster {cluster}")]
    )
    return Outcome(status, events=events)
