"""Removing a node set dropped from the spec, once its nodes are gone: a pure planner from the
dropped node sets' objects, the cluster's pods, the cluster view and the scale-down plan to
the deletes to send, as Elastic's operator deletes the StatefulSet of a nodeSet taken out of
its spec.

The scale-down (scale_down.py) drains a dropped node set to zero replicas first. Its objects
are deleted only when every sign says its nodes are gone: its StatefulSet was already at zero
replicas when the reconcile read it (never in the reconcile that shrinks it), the StatefulSet
controller counts no replica, no pod of the node set remains, the cluster could be read and
lists no node of it, and the scale-down plan has no step for it. Anything that cannot be
told keeps it. A node set still in the spec is never removed, whatever its count.

Its headless Service and ConfigMap go first and the StatefulSet last: while the StatefulSet
exists it is the record of a removal not finished, so a delete that failed is taken up again
on the next reconcile. Only objects the cluster's resource owns are deleted, each by its uid.
The PersistentVolumeClaims stay: the StatefulSets retain them (whenDeleted: Retain) and the
spec has no policy to delete them, so they are kept, as on every scale-down, and a node set
added again under the same name takes them up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .builders.common import LABEL_NODE_SET
from .kube import controller_uid
from .scale_down import ClusterView, ScaleDownPlan


@dataclass(frozen=True)
class DroppedNodeSet:
    """A node set no longer in the spec, with its objects as they exist (None: there is none)."""

    name: str
    statefulset: Mapping[str, Any]
    service: Mapping[str, Any] | None = None
    config_map: Mapping[str, Any] | None = None
    claims: tuple[str, ...] = ()  # the names of its PersistentVolumeClaims, kept


@dataclass(frozen=True)
class Deletion:
    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class Removal:
    """One node set's deletes, in order (the StatefulSet last), and the event told once done."""

    node_set: str
    deletions: tuple[Deletion, ...]
    message: str


@dataclass
class RemovalPlan:
    removals: list[Removal] = field(default_factory=list)


def _pods_of(node_set: str, pods: list[Mapping[str, Any]]) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if ((p.get("metadata") or {}).get("labels") or {}).get(LABEL_NODE_SET) == node_set
    )


def _is_pod_of(statefulset: str, name: str) -> bool:
    head, _, tail = name.rpartition("-")
    return head == statefulset and tail.isdigit()


def _gone(
    dropped: DroppedNodeSet,
    pods: list[Mapping[str, Any]],
    view: ClusterView | None,
    scale_down: ScaleDownPlan,
) -> bool:
    """Whether every sign says the node set's nodes are gone and its data moved off."""
    sts = dropped.statefulset
    name = sts["metadata"]["name"]
    if (sts.get("spec") or {}).get("replicas") != 0 or (sts.get("status") or {}).get("replicas", 0) != 0:
        return False
    if _pods_of(dropped.name, pods) or view is None:
        return False
    if any(_is_pod_of(name, node) for node in view.nodes):
        return False
    if dropped.name in scale_down.replicas:
        return False
    return not any(_is_pod_of(name, op.get("node", "")) for op in scale_down.operations)


def plan_removals(
    dropped: list[DroppedNodeSet],
    pods: list[Mapping[str, Any]],
    view: ClusterView | None,
    scale_down: ScaleDownPlan,
    owner_uid: str,
) -> RemovalPlan:
    """The deletes of every dropped node set whose nodes are gone. `pods`: the cluster's pods;
    `view`: the cluster as the scale-down read it (None: it could not be read); `owner_uid`:
    the cluster resource's uid (an object it does not own is left alone)."""
    plan = RemovalPlan()
    for node_set in dropped:
        sts = node_set.statefulset
        if controller_uid(sts) != owner_uid or not _gone(node_set, pods, view, scale_down):
            continue
        deletions, deleted, left = [], [], []
        for api_version, kind, obj in (
            ("v1", "Service", node_set.service),
            ("v1", "ConfigMap", node_set.config_map),
            ("apps/v1", "StatefulSet", sts),
        ):
            if obj is None:
                continue
            meta = obj["metadata"]
            if controller_uid(obj) != owner_uid:
                left.append(f"{kind} {meta['name']}")
                continue
            deletions.append(Deletion(api_version, kind, meta["name"], meta.get("uid", "")))
            deleted.append(f"{kind} {meta['name']}")
        message = (
            f"node set [{node_set.name}] left the spec and its nodes are gone: {', '.join(deleted)} deleted"
        )
        if left:
            message += f"; {', '.join(left)} left in place (not owned by this cluster)"
        if node_set.claims:
            message += (
                f"; its PersistentVolumeClaims {list(node_set.claims)} are kept (delete them by hand "
                "if their data is not wanted; a node set added again under this name takes them up)"
            )
        plan.removals.append(Removal(node_set.name, tuple(deletions), message))
    return plan


def run_removal(kube: Any, namespace: str, removal: Removal) -> None:
    """Send one node set's deletes in order; the first failure raises kube.DeleteError, so the
    StatefulSet goes only once everything else of the node set has."""
    for d in removal.deletions:
        kube.delete(d.api_version, d.kind, namespace, d.name, d.uid)
