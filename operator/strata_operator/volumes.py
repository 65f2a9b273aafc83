"""Volume expansion: a pure planner from a node set's storage size, its StatefulSet, its
PersistentVolumeClaims and their StorageClass to the next requests, as Elastic's operator
does it.

A StatefulSet's volumeClaimTemplates are immutable, so a larger `storage.size` takes three
steps: every claim of the node set is grown in place (its `spec.resources.requests.storage`
patched; the storage provider then grows the volume, most of them online), the StatefulSet
is deleted with its pods orphaned (`kubectl delete --cascade=orphan`: they keep running),
and the next reconcile makes it again with the larger claim template; the new StatefulSet
adopts the running pods, which are on its template already, so nothing restarts. Claims
grow only when their StorageClass says `allowVolumeExpansion: true` (the API server refuses
the patch otherwise). A smaller size is refused: a volume never shrinks, and the data might
not fit. A refused change keeps the StatefulSet's claim template as it is, so every other
change of the node set still goes out, and the status (phase Stalled) and a Warning say
what to do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .builders.common import LABEL_NODE_SET
from .builders.statefulset import DATA_VOLUME
from .spec import ClusterSpec, storage_bytes

STORAGE_API = "storage.k8s.io/v1"


@dataclass(frozen=True)
class VolumeAction:
    """`resize_claim`: patch the claim `name` to request `size`; `orphan_statefulset`: delete
    the StatefulSet `name` (by `uid`) with propagationPolicy Orphan."""

    kind: str
    name: str
    size: str = ""
    uid: str = ""


@dataclass
class VolumePlan:
    claim_sizes: dict[str, str] = field(default_factory=dict)  # node set -> size to build claims with
    held: set[str] = field(default_factory=set)  # node sets whose StatefulSet is not applied now
    actions: list[VolumeAction] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    problems: list[str] = field(default_factory=list)
    stalled: bool = False
    pending: bool = False  # an expansion is under way: phase ApplyingChanges


def claimed_size(statefulset: Mapping[str, Any] | None) -> str | None:
    """The storage size a StatefulSet's data claims are made with; None when there is none."""
    for template in ((statefulset or {}).get("spec") or {}).get("volumeClaimTemplates") or []:
        if (template.get("metadata") or {}).get("name") == DATA_VOLUME:
            return (((template.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
                "storage"
            )
    return None


def _requested(claim: Mapping[str, Any]) -> str:
    return str((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "0"))


def node_set_claims(claims: list[Mapping[str, Any]], node_set: str) -> list[Mapping[str, Any]]:
    """The data claims of a node set (the claim template's labels name it), by name."""
    return sorted(
        (
            c
            for c in claims
            if ((c.get("metadata") or {}).get("labels") or {}).get(LABEL_NODE_SET) == node_set
            and c["metadata"]["name"].startswith(f"{DATA_VOLUME}-")
        ),
        key=lambda c: c["metadata"]["name"],
    )


def storage_class_name(
    wanted: str | None, statefulset: Mapping[str, Any] | None, claims: list[Mapping[str, Any]]
) -> str | None:
    """The class a node set's claims are of: the spec's, else the one the API server filled in
    on the claims (the cluster's default class when the spec names none)."""
    if wanted:
        return wanted
    for claim in claims:
        name = (claim.get("spec") or {}).get("storageClassName")
        if name:
            return name
    for template in ((statefulset or {}).get("spec") or {}).get("volumeClaimTemplates") or []:
        name = (template.get("spec") or {}).get("storageClassName")
        if name:
            return name
    return None


def classes_to_read(
    spec: ClusterSpec, statefulsets: Mapping[str, Mapping[str, Any]], claims: list[Mapping[str, Any]]
) -> set[str]:
    """The StorageClasses the planner needs: those of node sets whose claims are to grow."""
    out = set()
    for node_set in spec.node_sets:
        own = node_set_claims(claims, node_set.name)
        sizes = [claimed_size(statefulsets.get(node_set.name)), *(_requested(c) for c in own)]
        if any(s is not None and storage_bytes(s) < storage_bytes(node_set.storage_size) for s in sizes):
            name = storage_class_name(node_set.storage_class, statefulsets.get(node_set.name), own)
            if name:
                out.add(name)
    return out


def plan_volumes(
    spec: ClusterSpec,
    statefulsets: Mapping[str, Mapping[str, Any]],
    claims: list[Mapping[str, Any]],
    classes: Mapping[str, Mapping[str, Any] | None],
    hold: str = "",
) -> VolumePlan:
    """The next step of any storage size change. `statefulsets`: node set -> its StatefulSet
    as it exists; `classes`: name -> StorageClass (None: there is no such class), as
    classes_to_read asked; `hold`: a reason, found elsewhere, not to start an expansion now
    (a scale-down in progress: the StatefulSet's replica count is its record of the nodes
    still draining)."""
    plan = VolumePlan()
    for node_set in spec.node_sets:
        sts = statefulsets.get(node_set.name)
        if sts is None:
            continue
        name = sts["metadata"]["name"]
        if (sts.get("metadata") or {}).get("deletionTimestamp"):
            plan.held.add(node_set.name)
            plan.pending = True
            plan.problems.append(
                f"StatefulSet {name} is being deleted (its pods are orphaned and keep running); it is "
                f"made again with claims of {node_set.storage_size} once it is gone"
            )
            continue
        claimed = claimed_size(sts)
        wanted = storage_bytes(node_set.storage_size)
        own = node_set_claims(claims, node_set.name)
        if claimed is None:
            continue
        if wanted < storage_bytes(claimed) or any(wanted < storage_bytes(_requested(c)) for c in own):
            largest = max([claimed, *(_requested(c) for c in own)], key=storage_bytes)
            _refuse(
                plan,
                node_set.name,
                claimed,
                "VolumeShrinkRefused",
                f"node set [{node_set.name}]: storage.size {node_set.storage_size} is smaller than the "
                f"{largest} its volumes have; a volume never shrinks, put back {largest} (or add a node "
                f"set with the smaller size and scale this one down)",
            )
            continue
        small = [c for c in own if storage_bytes(_requested(c)) < wanted]
        if wanted == storage_bytes(claimed) and not small:
            continue
        plan.claim_sizes[node_set.name] = claimed
        if hold:
            plan.pending = True
            plan.problems.append(
                f"node set [{node_set.name}]: its volumes grow to {node_set.storage_size} after this: {hold}"
            )
            continue
        if small:
            class_name = storage_class_name(node_set.storage_class, sts, own)
            why_not = _not_expandable(class_name, classes)
            if why_not is not None:
                _refuse(
                    plan,
                    node_set.name,
                    claimed,
                    "VolumeExpansionRefused",
                    f"node set [{node_set.name}]: storage.size {node_set.storage_size} is larger than the "
                    f"{claimed} its volumes have, and {why_not}; put back {claimed}, or allow expansion "
                    "on the StorageClass",
                )
                continue
        for claim in small:
            plan.actions.append(
                VolumeAction("resize_claim", claim["metadata"]["name"], node_set.storage_size)
            )
        plan.pending = True
        if wanted != storage_bytes(claimed):
            plan.held.add(node_set.name)
            plan.actions.append(VolumeAction("orphan_statefulset", name, uid=sts["metadata"].get("uid", "")))
        grown = [c["metadata"]["name"] for c in small]
        message = f"node set [{node_set.name}]: claims {grown} grown to {node_set.storage_size}"
        if wanted != storage_bytes(claimed):
            message += (
                f"; StatefulSet {name} deleted with its pods orphaned (they keep running), to be made "
                "again with the larger claim template"
            )
        plan.problems.append(message)
        plan.events.append(("Normal", "VolumeExpansion", message))
    return plan


def _not_expandable(class_name: str | None, classes: Mapping[str, Mapping[str, Any] | None]) -> str | None:
    """None when claims of the class may grow; else why not."""
    if class_name is None:
        return "the claims name no StorageClass, so whether they may grow cannot be told"
    storage_class = classes.get(class_name)
    if storage_class is None:
        return f"StorageClass {class_name} does not exist"
    if storage_class.get("allowVolumeExpansion") is not True:
        return f"StorageClass {class_name} does not allow volume expansion (allowVolumeExpansion is not true)"
    return None


def _refuse(plan: VolumePlan, node_set: str, claimed: str, reason: str, message: str) -> None:
    plan.claim_sizes[node_set] = claimed
    plan.stalled = True
    plan.problems.append(message)
    plan.events.append(("Warning", reason, message))


def run_volume_actions(kube: Any, namespace: str, actions: list[VolumeAction]) -> None:
    """Send a plan's requests in order; the first failure raises (kube.ApplyError,
    kube.DeleteError), so a StatefulSet is deleted only once every claim has grown."""
    for action in actions:
        if action.kind == "resize_claim":
            kube.patch(
                "v1",
                "PersistentVolumeClaim",
                namespace,
                action.name,
                {"spec": {"resources": {"requests": {"storage": action.size}}}},
            )
        elif action.kind == "orphan_statefulset":
            kube.delete("apps/v1", "StatefulSet", namespace, action.name, action.uid, orphan=True)
        else:
            raise ValueError(f"unknown action [{action.kind}]")
