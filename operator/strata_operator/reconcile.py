"""What a handler does for one resource, as plain functions over a Kube client and a client
of the cluster's REST API: read what exists, build, apply, and work out the status. The kopf
handlers only call these and write back what they return.

Safety rules (see docs/architecture.md, Operator): a StatefulSet shrinks only past nodes
the cluster reports drained (scale_down.py plans it), a node set dropped from the spec is
drained to zero replicas the same way, a pod on an older template is deleted only when
the cluster allows it, one step at a time (rolling.py plans it: the StatefulSets use
OnDelete, so a changed template reaches a pod only when the operator deletes it), volumes
grow in place, never shrink (volumes.py plans it), and a dropped node set's StatefulSet,
Service and ConfigMap are deleted only once it is at zero replicas with no pod and no node
left (node_set_removal.py plans it)."""

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
    config_map_name,
    file_settings_config_map_name,
    node_set_service_name,
    secret_name,
    statefulset_name,
)
from .builders.file_settings import (
    ANNOTATION_SOURCE,
    build_file_settings_config_map,
    settings_document,
    settings_versions,
    status_floor,
)
from .builders.secret import ClusterSecrets
from .cluster_client import ClusterClient, ClusterUnavailable
from .file_settings_release import Release, another_resources, release_clusters
from .kube import ApplyError, DeleteError, Kube, NotOwned, ReadError
from .node_set_removal import DroppedNodeSet, plan_deletes, plan_removals, run_removal
from .reserved_state import Readback, read_back, read_validation, version_to_ship
from .rolling import (
    NodeSetPods,
    Pod,
    RollingPlan,
    plan_rolling_restart,
    read_health_view,
    read_pods,
    rolled_out,
    run_restart_actions,
)
from .scale_down import (
    ClusterView,
    NodeSetScale,
    node_operation,
    plan_scale_down,
    read_cluster_view,
    run_actions,
)
from .spec import (
    API_VERSION,
    CLUSTER_KIND,
    ClusterSpec,
    InvalidSpec,
    file_settings_owner,
    parse_cluster,
    parse_file_settings,
    resolve_cluster,
)
from .volumes import STORAGE_API, classes_to_read, node_set_claims, plan_volumes, run_volume_actions

READY, APPLYING, MIGRATING, STALLED, INVALID = (
    "Ready",
    "ApplyingChanges",
    "MigratingData",
    "Stalled",
    "Invalid",
)
ERROR = "Error"

# How a reconcile reaches a cluster's REST API: (cluster name, namespace) -> a client, used
# as a context manager and closed after the reconcile.
Connect = Callable[[str, str], ClusterClient]


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
    waiting: str = ""  # what a deletion still waits for (its handler comes back for it)


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


def cluster_status(
    spec: ClusterSpec,
    previous: Mapping[str, Any] | None,
    node_sets: list[NodeSetPods],
    pods: list[Pod],
    observed: Observed,
    problems: list[str],
    stalled: bool,
    migrating: bool = False,
    operations: list[dict[str, Any]] | None = None,
    restarting: bool = False,
    removing: list[str] | None = None,
) -> dict[str, Any]:
    """Stalled when something cannot go on without a person (`stalled`); MigratingData while
    leaving nodes drain (`migrating`); ApplyingChanges while pods restart onto a new template
    (`restarting`), are missing, not ready, or not on the update revision, or while a dropped node
    set waits to be removed (`removing`: what it waits for, or why its last attempt failed; not
    an error, so not Stalled, but not done either, so not Ready); Ready otherwise.
    `node_sets` and `pods`: the StatefulSets as applied and their pods (rolling.read_pods).
    `operations`: status.nodeOperations. A field the cluster does not tell is written None,
    which the status merge patch removes, so no stale value stays (masterNode while there
    is no master)."""
    expected = {name for ns in node_sets for name in ns.expected}
    ready_nodes = sum(1 for p in pods if p.name in expected and p.ready and not p.terminating)
    pending = [ns.statefulset for ns in node_sets if not rolled_out(ns, pods)]
    told = [*problems, *(removing or [])]
    if stalled:
        phase, message = STALLED, "; ".join(told)
    elif migrating:
        phase = MIGRATING
        message = "; ".join(told) or "nodes are leaving the cluster (see nodeOperations)"
    elif restarting:
        phase = APPLYING
        message = "; ".join(told) or "nodes restart onto the new pod template (see nodeOperations)"
    elif pending:
        phase = APPLYING
        message = "; ".join(
            [
                *told,
                f"waiting for StatefulSets {sorted(pending)}: pods missing, not ready or not on the update "
                "revision",
            ]
        )
    elif removing:
        phase, message = APPLYING, "; ".join(told)
    else:
        phase, message = READY, "; ".join(told) or "every node set is up to date"
    return {
        "phase": phase,
        "message": message,
        "health": observed.health if observed.health in ("green", "yellow", "red") else "unknown",
        "availableNodes": observed.nodes if observed.nodes is not None else ready_nodes,
        "observedGeneration": spec.generation,
        "nodeOperations": list(operations or []),
        "conditions": [ready_condition(previous, phase == READY, phase, message, spec.generation)],
        "masterNode": observed.master,
    }


def _resized(statefulset: Mapping[str, Any], replicas: int) -> dict[str, Any]:
    """A StatefulSet the spec no longer builds (its node set was dropped), as it is but for
    its replica count: what is applied while its nodes drain away."""
    meta = statefulset["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "labels", "annotations", "ownerReferences")
            if key in meta
        },
        "spec": {**statefulset["spec"], "replicas": replicas},
    }


def _new_warnings(
    previous: Mapping[str, Any], events: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """Events less the Warnings the previous status already told (a drain stalled for an hour
    is one Warning, not one per periodic re-check)."""
    told = previous.get("message") or ""
    return [e for e in events if e[0] != "Warning" or e[2] not in told]


def _invalid(previous: Mapping[str, Any], generation: int, message: str) -> Outcome:
    """Phase Invalid: nothing is built or asked, so what the status said of the cluster is
    removed rather than left stale, and the Warning is told once, not on every re-check."""
    status = {
        "phase": INVALID,
        "message": message,
        "observedGeneration": generation,
        "conditions": [ready_condition(previous, False, INVALID, message, generation)],
        **dict.fromkeys(("health", "availableNodes", "masterNode", "nodeOperations")),
    }
    return Outcome(status, events=_new_warnings(previous, [("Warning", INVALID, message)]))


def reconcile_cluster(resource: Mapping[str, Any], kube: Kube, connect: Connect) -> Outcome:
    """Build and apply a StrataCluster's objects, take the next step of any scale-down, and
    work out the status."""
    meta = resource.get("metadata") or {}
    previous = resource.get("status") or {}
    try:
        spec = parse_cluster(resource)
    except InvalidSpec as e:
        return _invalid(previous, int(meta.get("generation") or 0), str(e))
    with connect(spec.name, spec.namespace) as client:
        return _reconcile_cluster(spec, meta, previous, kube, client)


def _reconcile_cluster(
    spec: ClusterSpec, meta: Mapping[str, Any], previous: Mapping[str, Any], kube: Kube, client: ClusterClient
) -> Outcome:
    outcome = Outcome({})
    observed = observe(client)
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
    dropped = sorted(n for n in existing if n is not None and n not in {ns.name for ns in spec.node_sets})
    pods = kube.list("v1", "Pod", spec.namespace, cluster_selector(spec.name))
    scales = [
        NodeSetScale(name, statefulset_name(spec.name, name), current, desired, master_eligible)
        for name, desired, master_eligible in [
            *((ns.name, ns.count, ns.master_eligible) for ns in spec.node_sets),
            *((n, 0, True) for n in dropped),
        ]
        if (current := _current_replicas(existing.get(name), pods, name)) is not None
    ]
    # Read on every reconcile, not only while a node set shrinks: the clean-up after the last
    # node left (markers, exclusions) needs it too.
    view, unreadable = None, ""
    try:
        view = read_cluster_view(client)
    except ClusterUnavailable as e:
        unreadable = str(e)
    plan = plan_scale_down(scales, view, unreadable)
    problems = list(plan.problems)
    stalled = plan.stalled
    # No restart starts while nodes leave, or after anything in this reconcile went wrong.
    hold = "a scale-down is in progress" if plan.phase else ""
    outcome.events.extend(plan.events)
    try:
        run_actions(client, plan.actions)
    except ClusterUnavailable as e:
        problems.append(f"a request to the cluster failed, it is retried on the next check: {e}")
        outcome.events.append(("Warning", "ClusterRequestFailed", str(e)))
        hold = hold or "a request to the cluster failed"

    claims = kube.list("v1", "PersistentVolumeClaim", spec.namespace, cluster_selector(spec.name))
    live = {n: s for n, s in existing.items() if n is not None}
    # A StorageClass that cannot be read raises: the reconcile fails and is retried, nothing grown.
    classes = {c: kube.get(STORAGE_API, "StorageClass", None, c) for c in classes_to_read(spec, live, claims)}
    volumes = plan_volumes(
        spec, live, claims, classes, hold="a scale-down is in progress" if plan.phase else ""
    )
    problems.extend(volumes.problems)
    stalled = stalled or volumes.stalled
    outcome.events.extend(volumes.events)
    try:
        run_volume_actions(kube, spec.namespace, volumes.actions)
    except (ApplyError, DeleteError) as e:
        problems.append(f"a volume expansion step failed, it is retried on the next check: {e}")
        outcome.events.append(("Warning", "VolumeExpansionFailed", str(e)))
    hold = hold or ("volumes are being expanded" if volumes.pending else "")

    objects = build_cluster_objects(
        spec,
        secrets=secrets,
        bootstrapped=bootstrapped,
        replicas={n: r for n, r in plan.replicas.items() if n not in dropped},
        claim_sizes=volumes.claim_sizes,
        disruptions_allowed=observed.health == "green",
    )
    held = {statefulset_name(spec.name, n) for n in volumes.held}
    objects = [o for o in objects if not (o["kind"] == "StatefulSet" and o["metadata"]["name"] in held)]
    objects.extend(
        _resized(existing[n], plan.replicas[n])
        for n in dropped
        if plan.replicas.get(n, 0) != existing[n]["spec"]["replicas"]
    )
    applied_sets = {}
    for obj in objects:
        try:
            applied = kube.apply(obj, spec.uid)
        except (NotOwned, ApplyError) as e:
            problems.append(str(e))
            stalled = True
            outcome.events.append(("Warning", "ApplyFailed", str(e)))
            hold = hold or "an object of the cluster could not be applied"
            break
        if obj["kind"] == "StatefulSet":
            applied_sets[obj["metadata"]["name"]] = applied
    removal = _remove_dropped(spec, kube, dropped, existing, claims, pods, view, outcome, problems)
    stalled = stalled or removal.stalled
    statefulsets = [
        *applied_sets.values(),
        *(
            existing[n]
            for n in [*dropped, *volumes.held]
            if n in existing
            and n not in removal.removed
            and statefulset_name(spec.name, n) not in applied_sets
        ),
    ]
    node_sets, pod_views = read_pods(statefulsets, pods)
    rolling = _restart_step(
        spec, kube, client, (view, unreadable), (node_sets, pod_views), outcome, problems, hold
    )
    outcome.status = cluster_status(
        spec,
        previous,
        node_sets,
        pod_views,
        observed,
        problems,
        stalled or rolling.stalled,
        plan.migrating,
        [*plan.operations, *removal.operations, *rolling.operations],
        restarting=rolling.active or volumes.pending,
        removing=removal.unfinished,
    )
    # A Warning the previous status already told is not posted again.
    outcome.events = _new_warnings(previous, outcome.events)
    return outcome


@dataclass
class _Removals:
    """What _remove_dropped did: the node sets removed, and for the status the removals not
    finished (why), the nodeOperations of the pods and nodes they wait for, and whether one
    needs a person (phase Stalled)."""

    removed: set[str] = field(default_factory=set)
    unfinished: list[str] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    stalled: bool = False


def _remove_dropped(
    spec: ClusterSpec,
    kube: Kube,
    dropped: list[str],
    existing: Mapping[str | None, Mapping[str, Any]],
    claims: list[Mapping[str, Any]],
    pods: list[Mapping[str, Any]],
    view: ClusterView | None,
    outcome: Outcome,
    problems: list[str],
) -> _Removals:
    """Delete the objects of the dropped node sets whose nodes are gone (node_set_removal.py
    plans it). The checks that need no request come first: a node set's Service and ConfigMap
    are read only once it is ready to go, not on every reconcile of its drain, and a read
    that fails costs that node set alone, not the reconcile (the applies already went out).
    A removal that waits is outstanding work, not an error: phase ApplyingChanges, its pods
    and nodes in nodeOperations. A read or delete that failed is outstanding work too, with a
    Warning; the StatefulSet, deleted last, keeps the node set for the next reconcile to take
    up again. A refusal needs a person: a problem, phase Stalled, a Warning (once)."""
    done = _Removals()
    candidates = [
        DroppedNodeSet(
            name, existing[name], claims=tuple(c["metadata"]["name"] for c in node_set_claims(claims, name))
        )
        for name in dropped
    ]
    plan = plan_removals(candidates, pods, view, spec.uid)
    for waiting in plan.waiting:
        done.unfinished.append(waiting.reason)
        done.operations.extend(node_operation(n, "Remove", waiting.reason) for n in waiting.nodes)
    refused, warnings = list(plan.refused), []
    for node_set in plan.ready:
        name = node_set.name
        try:
            service = kube.get("v1", "Service", spec.namespace, node_set_service_name(spec.name, name))
            config_map = kube.get("v1", "ConfigMap", spec.namespace, config_map_name(spec.name, name))
            removal = plan_deletes(node_set, service, config_map, spec.uid)
            if removal.refused:
                refused.append(removal.refused)
                continue
            run_removal(kube, spec.namespace, removal)
        except (ReadError, DeleteError) as e:
            message = f"removing node set [{name}] failed, it is retried on the next check: {e}"
            done.unfinished.append(message)
            warnings.append(("Warning", "NodeSetRemovalFailed", message))
            continue
        done.removed.add(name)
        outcome.events.append(("Normal", "NodeSetRemoved", removal.message))
    problems.extend(refused)
    done.stalled = bool(refused)
    warnings.extend(("Warning", "NodeSetRemovalRefused", message) for message in refused)
    outcome.events.extend(warnings)
    return done


def _current_replicas(
    statefulset: Mapping[str, Any] | None, pods: list[Mapping[str, Any]], node_set: str
) -> int | None:
    """A node set's replicas as its StatefulSet has them; while the StatefulSet is being made
    again (volumes.py deleted it, orphaning its pods), as many as its running pods reach, so
    a scale-down asked meanwhile still drains them first. None: no StatefulSet, no pods."""
    if statefulset is not None:
        return (statefulset.get("spec") or {}).get("replicas")
    ordinals = [
        int(tail)
        for pod in pods
        if ((pod.get("metadata") or {}).get("labels") or {}).get(LABEL_NODE_SET) == node_set
        and (tail := pod["metadata"]["name"].rsplit("-", 1)[-1]).isdigit()
    ]
    return max(ordinals) + 1 if ordinals else None


def _restart_step(
    spec: ClusterSpec,
    kube: Kube,
    client: ClusterClient,
    cluster: tuple[ClusterView | None, str],
    applied: tuple[list[NodeSetPods], list[Pod]],
    outcome: Outcome,
    problems: list[str],
    hold: str,
) -> RollingPlan:
    """Plan and take the next step of a rolling restart over the StatefulSets as applied and
    their pods (`applied`, rolling.read_pods; `cluster`: the view read for the scale-down, or
    None and why it could not be read)."""
    view, unreadable = cluster
    node_sets, pods = applied
    health = None
    if view is not None:
        try:
            health = read_health_view(client)
        except ClusterUnavailable as e:
            unreadable = str(e)
    rolling = plan_rolling_restart(
        node_sets, pods, view, health, max_unavailable=spec.max_unavailable, hold=hold, unreadable=unreadable
    )
    problems.extend(rolling.problems)
    outcome.events.extend(rolling.events)
    try:
        run_restart_actions(client, kube, spec.namespace, rolling.actions)
    except (ClusterUnavailable, DeleteError) as e:
        problems.append(f"a restart step failed, it is retried on the next check: {e}")
        outcome.events.append(("Warning", "RestartStepFailed", str(e)))
    return rolling


def _file_settings_status(
    previous: Mapping[str, Any],
    generation: int,
    phase: str,
    message: str,
    *,
    cluster: str,
    config_map: str,
    expected: int | None,
    applied: int | None,
    errors: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": phase,
        "cluster": cluster,
        "configMap": config_map,
        "errors": list(errors),
        "observedGeneration": generation,
        "conditions": [ready_condition(previous, phase == READY, phase, message, generation)],
    }
    if expected is not None:
        status["expectedVersion"] = expected
    if applied is not None:
        status["appliedVersion"] = applied
    return status


def _changed(previous: Mapping[str, Any], phase: str, errors: tuple[str, ...] | list[str]) -> bool:
    """Whether a status differs from the previous one in phase or errors: a Warning event is
    posted on the change, not on every periodic re-check."""
    return previous.get("phase") != phase or list(previous.get("errors") or []) != list(errors)


def reconcile_file_settings(resource: Mapping[str, Any], kube: Kube, connect: Connect) -> Outcome:
    """Ship a StrataFileSettings to the cluster it names, then give back the settings of any
    cluster it shipped to before (file_settings_release.py): an empty settings.json there,
    read back as applied, then that cluster's ConfigMap deleted, so another resource may
    give it settings. A spec that names no cluster it can resolve gives nothing back on a
    guess; status.releasing keeps the clusters still giving settings back."""
    outcome = _ship_file_settings(resource, kube, connect)
    target = outcome.status.get("cluster")
    if target is None:
        return outcome
    previous = resource.get("status") or {}
    namespace = (resource.get("metadata") or {}).get("namespace", "")
    releases = release_clusters(file_settings_owner(resource), previous, target, kube, connect)
    return _with_releases(outcome, [_forget(kube, namespace, r) for r in releases], previous)


def release_file_settings(resource: Mapping[str, Any], kube: Kube, connect: Connect) -> Outcome:
    """What deleting a StrataFileSettings waits for: every cluster it shipped settings to
    (status.cluster and status.releasing) has applied an empty settings.json, or has
    nothing to give back. `waiting` says what is left; the garbage collector deletes the
    ConfigMaps once the resource is gone."""
    previous = resource.get("status") or {}
    releases = release_clusters(file_settings_owner(resource), previous, None, kube, connect)
    events = [e for r in releases for e in r.events]
    waiting = [r for r in releases if not r.done]
    if not waiting:
        return Outcome({}, events=events)
    message = "; ".join(r.message for r in waiting)
    generation = int((resource.get("metadata") or {}).get("generation") or 0)
    status = {
        "phase": APPLYING,
        "releasing": [r.cluster for r in waiting],
        "conditions": [ready_condition(previous, False, APPLYING, message, generation)],
    }
    return Outcome(status, events=events, waiting=message)


def _forget(kube: Kube, namespace: str, release: Release) -> Release:
    """A cluster whose settings were given back loses the resource's ConfigMap (its uid
    pinned), which would keep another resource from giving it settings."""
    if not release.done or release.config_map_uid is None:
        return release
    name = file_settings_config_map_name(release.cluster)
    try:
        kube.delete("v1", "ConfigMap", namespace, name, release.config_map_uid)
    except DeleteError as e:
        message = f"ConfigMap {name} could not be deleted, it is retried: {e}"
        return Release(release.cluster, False, message, (("Warning", "SettingsReleaseFailed", message),))
    return release


def _with_releases(outcome: Outcome, releases: list[Release], previous: Mapping[str, Any]) -> Outcome:
    """The target's outcome with the releases in: their events, the clusters still giving
    settings back in status.releasing, and never Ready while one does."""
    outcome.events.extend(e for r in releases for e in r.events)
    waiting = [r for r in releases if not r.done]
    status = outcome.status
    status["releasing"] = [r.cluster for r in waiting]
    if waiting:
        phase = APPLYING if status["phase"] == READY else status["phase"]
        message = "; ".join([status["conditions"][0]["message"], *(r.message for r in waiting)])
        generation = status["observedGeneration"]
        status["phase"] = phase
        status["conditions"] = [ready_condition(previous, False, phase, message, generation)]
    return outcome


def _ship_file_settings(resource: Mapping[str, Any], kube: Kube, connect: Connect) -> Outcome:
    """Ship a StrataFileSettings as its cluster's settings.json ConfigMap, once the cluster's
    validation endpoint has accepted it, and read back what the cluster applied.

    A document the cluster finds invalid is not shipped: the ConfigMap keeps the version it
    has and the status carries the cluster's errors. When the cluster cannot be asked (not
    formed yet, no master, unreachable), the file ships unvalidated and the status says so:
    the node checks it again before applying it and never applies an invalid file in part
    (it records the error, which the read-back then shows), while holding it back would keep
    a cluster that is starting from its settings until it answers."""
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
            events=[("Warning", ERROR, message)] if _changed(previous, ERROR, [message]) else [],
        )

    try:
        spec = parse_file_settings(resource)
        cluster = resolve_cluster(spec, kube.list(API_VERSION, CLUSTER_KIND, spec.namespace))
    except InvalidSpec as e:
        return error(str(e))
    name = file_settings_config_map_name(cluster)
    current = kube.get("v1", "ConfigMap", spec.namespace, name)
    if another_resources(current, spec.uid):
        source = ((current.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_SOURCE)
        if source is None:
            message = (
                f"ConfigMap {spec.namespace}/{name} exists and is not owned by this resource; "
                "rename or delete it"
            )
        elif source == spec.name:
            message = (
                f"ConfigMap {name} is an earlier StrataFileSettings [{source}]'s, deleted since: this one "
                "ships its settings once the garbage collector has deleted it"
            )
        else:
            message = f"StrataCluster [{cluster}] already has file settings [{source}]; a cluster takes one"
        return error(message, cluster=cluster)
    shipped, version = settings_versions(current, spec.state, floor=status_floor(previous))
    events: list[tuple[str, str, str]] = []
    unvalidated = None
    with connect(cluster, spec.namespace) as client:
        if version != shipped:
            try:
                validation = read_validation(client.validate_settings(settings_document(spec.state, version)))
            except ClusterUnavailable as e:
                validation, unvalidated = None, str(e)
            if validation is not None and not validation.valid:
                kind = validation.error_kind or "unknown"
                errors = validation.errors or (f"the cluster found the document invalid ({kind})",)
                message = (
                    f"the cluster's validation refused settings.json version {version} ({kind} error); "
                    f"ConfigMap {name} keeps {'version ' + str(shipped) if shipped else 'no settings.json'}: "
                    + "; ".join(errors)
                )
                if _changed(previous, ERROR, errors):
                    events.append(("Warning", "ValidationFailed", message))
                status = _file_settings_status(
                    previous,
                    generation,
                    ERROR,
                    message,
                    cluster=cluster,
                    config_map=name,
                    expected=shipped or None,
                    applied=previous.get("appliedVersion"),
                    errors=errors,
                )
                return Outcome(status, events=events)
            if validation is not None:
                version = version_to_ship(version, validation.current_version)
            try:
                kube.apply(build_file_settings_config_map(spec, cluster, version), spec.uid)
            except (NotOwned, ApplyError) as e:
                return error(str(e), cluster=cluster)
            events.append(
                ("Normal", "SettingsShipped", f"settings.json version {version} shipped to cluster {cluster}")
            )
            if unvalidated is not None:
                events.append(
                    (
                        "Warning",
                        "ValidationSkipped",
                        f"settings.json version {version} shipped without validation, the cluster "
                        f"did not answer ({unvalidated}); the node validates it before applying it",
                    )
                )
        try:
            readback = read_back(version, client.file_settings_state())
        except ClusterUnavailable as e:
            readback = Readback(
                APPLYING,
                previous.get("appliedVersion"),
                (),
                f"settings.json version {version} is in ConfigMap {name}; the cluster's reserved "
                f"state could not be read ({e})",
            )
    message = readback.message
    if unvalidated is not None:
        message += f"; version {version} shipped without validation (the cluster did not answer)"
    if readback.phase == ERROR and _changed(previous, ERROR, readback.errors):
        events.append(("Warning", "SettingsRefused", message))
    elif readback.phase == READY and previous.get("appliedVersion") != version:
        events.append(("Normal", "SettingsApplied", message))
    status = _file_settings_status(
        previous,
        generation,
        readback.phase,
        message,
        cluster=cluster,
        config_map=name,
        expected=version,
        applied=readback.applied_version,
        errors=readback.errors,
    )
    return Outcome(status, events=events)
