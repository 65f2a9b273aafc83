"""Removing a node set dropped from the spec, once its nodes are gone: a pure planner from the
dropped node sets' StatefulSets, the cluster's pods and the cluster view to which node sets go,
which wait (and for what) and which need a person, then from a going node set's Service and
ConfigMap to the deletes to send, as Elastic's operator deletes the StatefulSet of a nodeSet
taken out of its spec.

The scale-down (scale_down.py) drains a dropped node set to zero replicas first; until its
StatefulSet was read at zero the scale-down reports it, and this planner leaves it out (never
in the reconcile that shrinks it). The StatefulSet at zero is the record that the drain
finished: the scale-down plans steps only for a node set above its desired count, so a
dropped node set read at zero has none. Its objects are then deleted only when every sign
says its nodes are gone: the StatefulSet controller counts no replica, no pod of the node set
remains, the cluster could be read and lists no node of it. Until then the removal waits, and
the reason names what remains (the pods, the nodes, the unreadable cluster): the status shows
it, so the phase never says everything is done while a removal waits. A node set still in the
spec is never removed, whatever its count.

Refused, for a person to act on (the node set stays): a StatefulSet the cluster's resource
does not control, an object without a uid (a delete is always pinned to the object read, and
an empty uid pins nothing), and a StatefulSet whose persistentVolumeClaimRetentionPolicy no
longer says whenDeleted: Retain (deleting it would delete the claims and their data).

The Service and ConfigMap are read only for a node set that is ready to go (plan_deletes), not
on every reconcile of a drain. They go first and the StatefulSet last: while the StatefulSet
exists it is the record of a removal not finished, so a delete that failed is taken up again
on the next reconcile. A Service or ConfigMap another owner controls is left in place.

The PersistentVolumeClaims stay: the StatefulSets retain them and the spec has no policy to
delete them, as on every scale-down. A node set added again under the same name reuses them
as they are, at their old size and with their old data (its pods are <cluster>-<set>-<n> again
and claim data-<pod>): whoever wants a fresh node set deletes the claims first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .builders.common import LABEL_NODE_SET
from .kube import controller_uid
from .scale_down import ClusterView

RETAIN = "Retain"


@dataclass(frozen=True)
class DroppedNodeSet:
    """A node set no longer in the spec, with its StatefulSet as the reconcile read it."""

    name: str
    statefulset: Mapping[str, Any]
    claims: tuple[str, ...] = ()  # the names of its PersistentVolumeClaims, kept


@dataclass(frozen=True)
class Deletion:
    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class Removal:
    """One node set's deletes, in order (the StatefulSet last), and the event told once done;
    or, `refused` set, why nothing of it is deleted (a person must act)."""

    node_set: str
    deletions: tuple[Deletion, ...] = ()
    message: str = ""
    refused: str = ""


@dataclass(frozen=True)
class Waiting:
    """A dropped node set at zero replicas whose objects stay for now: not an error, outstanding
    work. `nodes`: the pods and cluster nodes of it still there, for status.nodeOperations."""

    node_set: str
    reason: str
    nodes: tuple[str, ...] = ()


@dataclass
class RemovalPlan:
    ready: list[DroppedNodeSet] = field(default_factory=list)  # to read and plan_deletes
    waiting: list[Waiting] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # for a person: problems, phase Stalled


def _pods_of(node_set: str, pods: list[Mapping[str, Any]]) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if ((p.get("metadata") or {}).get("labels") or {}).get(LABEL_NODE_SET) == node_set
    )


def _is_pod_of(statefulset: str, name: str) -> bool:
    head, _, tail = name.rpartition("-")
    return head == statefulset and tail.isdigit()


def _refusal(dropped: DroppedNodeSet, owner_uid: str) -> str | None:
    """Why the node set's StatefulSet must not be deleted by the operator; None when it may."""
    sts = dropped.statefulset
    meta = sts.get("metadata") or {}
    name = meta.get("name")
    stays = f"node set [{dropped.name}] left the spec but StatefulSet {name} is left in place"
    if controller_uid(sts) != owner_uid:
        return f"{stays}: this cluster does not control it (delete it by hand if it is not wanted)"
    if not meta.get("uid"):
        return f"{stays}: it has no uid, so a delete could not be pinned to the object read"
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    # Kubernetes' default is Retain; an API server without the field retains claims too.
    when_deleted = policy.get("whenDeleted", RETAIN)
    if when_deleted != RETAIN:
        return (
            f"{stays}: its persistentVolumeClaimRetentionPolicy.whenDeleted is {when_deleted}, so "
            f"deleting it would delete its claims {list(dropped.claims)} and their data; set it back "
            "to Retain for the operator to remove it, or delete the StatefulSet by hand"
        )
    return None


def _remaining(
    dropped: DroppedNodeSet, pods: list[Mapping[str, Any]], view: ClusterView | None
) -> tuple[list[str], list[str]]:
    """What of a node set at zero replicas is still there: the reasons, and the pods and nodes."""
    sts = dropped.statefulset
    name = sts["metadata"]["name"]
    reasons, nodes = [], []
    counted = (sts.get("status") or {}).get("replicas", 0)
    if counted != 0:
        reasons.append(f"the StatefulSet controller still counts {counted} replica{'s' * (counted != 1)}")
    own_pods = _pods_of(dropped.name, pods)
    if own_pods:
        reasons.append(f"pods {own_pods} still exist")
        nodes.extend(own_pods)
    if view is None:
        reasons.append("the cluster could not be read to tell whether its nodes left")
    else:
        listed = sorted(node for node in view.nodes if _is_pod_of(name, node))
        if listed:
            reasons.append(f"the cluster still lists nodes {listed}")
            nodes.extend(n for n in listed if n not in nodes)
    return reasons, nodes


def plan_removals(
    dropped: list[DroppedNodeSet],
    pods: list[Mapping[str, Any]],
    view: ClusterView | None,
    owner_uid: str,
) -> RemovalPlan:
    """Which dropped node sets are ready to go, which wait and why, which are refused. `pods`:
    the cluster's pods; `view`: the cluster as the scale-down read it (None: it could not be
    read); `owner_uid`: the cluster resource's uid. A node set whose StatefulSet is not at zero
    replicas yet is left out: the scale-down is draining it and reports that itself."""
    plan = RemovalPlan()
    for node_set in dropped:
        if (node_set.statefulset.get("spec") or {}).get("replicas") != 0:
            continue
        refusal = _refusal(node_set, owner_uid)
        if refusal is not None:
            plan.refused.append(refusal)
            continue
        reasons, nodes = _remaining(node_set, pods, view)
        if reasons:
            reason = f"removing node set [{node_set.name}] waits: {', '.join(reasons)}"
            plan.waiting.append(Waiting(node_set.name, reason, tuple(nodes)))
        else:
            plan.ready.append(node_set)
    return plan


def plan_deletes(
    node_set: DroppedNodeSet,
    service: Mapping[str, Any] | None,
    config_map: Mapping[str, Any] | None,
    owner_uid: str,
) -> Removal:
    """The deletes of a node set plan_removals found ready, from its Service and ConfigMap as
    read just now (None: there is none)."""
    sts = node_set.statefulset
    deletions, deleted, left = [], [], []
    for api_version, kind, obj in (
        ("v1", "Service", service),
        ("v1", "ConfigMap", config_map),
        ("apps/v1", "StatefulSet", sts),
    ):
        if obj is None:
            continue
        meta = obj["metadata"]
        if controller_uid(obj) != owner_uid:
            left.append(f"{kind} {meta['name']}")
            continue
        if not meta.get("uid"):
            refused = (
                f"node set [{node_set.name}] left the spec but is left in place: {kind} {meta['name']} "
                "has no uid, so a delete could not be pinned to the object read"
            )
            return Removal(node_set.name, refused=refused)
        deletions.append(Deletion(api_version, kind, meta["name"], meta["uid"]))
        deleted.append(f"{kind} {meta['name']}")
    message = f"node set [{node_set.name}] left the spec and its nodes are gone: {', '.join(deleted)} deleted"
    if left:
        message += f"; {', '.join(left)} left in place (not owned by this cluster)"
    if node_set.claims:
        message += (
            f"; its PersistentVolumeClaims {list(node_set.claims)} are kept: a node set added again "
            "under this name reuses them as they are, at their old size and with their old data "
            "(delete them first for a fresh node set, or to drop the data)"
        )
    return Removal(node_set.name, tuple(deletions), message)


def run_removal(kube: Any, namespace: str, removal: Removal) -> None:
    """Send one node set's deletes in order; the first failure raises kube.DeleteError, so the
    StatefulSet goes only once everything else of the node set has."""
    for d in removal.deletions:
        kube.delete(d.api_version, d.kind, namespace, d.name, d.uid)
