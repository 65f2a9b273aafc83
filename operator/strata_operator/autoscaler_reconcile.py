"""What the StrataAutoscaler handler does each polling period, as a plain function over a
Kube client and a client of the cluster's REST API (autoscaler.py holds the arithmetic):

1. read the autoscaler and its StrataCluster; each policy's node sets are those whose
   roles are exactly the policy's;
2. put every policy into the cluster (`PUT /_autoscaling/policy/{name}`, a no-op when it
   is unchanged) and delete the policies the autoscaler no longer names (a policy file
   settings own is left, and said so);
3. read `GET /_autoscaling/capacity` and turn each policy's required capacity into node
   counts and per-node resources within its limits;
4. patch the StrataCluster's node sets when they change; its own reconcile then grows,
   drains or restarts the nodes safely, one step at a time.

The status says, per policy, the node sets' counts and resources, what the cluster
required, and which limits held it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .autoscaler import (
    AUTOSCALER_KIND,
    node_set_roles,
    parse_autoscaler,
    policy_body,
    recommend,
    scaled_node_sets,
)
from .cluster_client import ClusterUnavailable
from .kube import ApplyError, Kube, ReadError
from .reconcile import ERROR, READY, Connect, Outcome, ready_condition
from .spec import API_VERSION, CLUSTER_KIND, InvalidSpec, parse_cluster

PENDING = "Pending"


def _policy_status(recommendation, node_sets: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The node sets as scaled, and the per-node resources as written into them."""
    sets = [{"name": ns["name"], "count": ns.get("count", 0)} for ns in node_sets]
    out: dict[str, Any] = {"name": recommendation.policy, "nodeSets": sets,
                           "requiredCapacity": recommendation.required,
                           "limited": list(recommendation.limited)}
    first = node_sets[0]
    requests = (first.get("resources") or {}).get("requests") or {}
    written = {"memory": (recommendation.memory, requests.get("memory")),
               "cpu": (recommendation.cpu, requests.get("cpu")),
               "storage": (recommendation.storage, (first.get("storage") or {}).get("size"))}
    resources = {k: text for k, (sized, text) in written.items() if sized is not None and text is not None}
    if resources:
        out["resources"] = resources
    return out


def _first_autoscaler(autoscalers: list[Mapping[str, Any]], cluster: str) -> str | None:
    """The autoscaler that scales the cluster when several name it: the oldest."""
    naming = [a for a in autoscalers
              if ((a.get("spec") or {}).get("clusterRef") or {}).get("name") == cluster]
    if not naming:
        return None
    oldest = min(naming, key=lambda a: ((a.get("metadata") or {}).get("creationTimestamp") or "",
                                        (a.get("metadata") or {}).get("name") or ""))
    return (oldest.get("metadata") or {}).get("name")


def reconcile_autoscaler(resource: Mapping[str, Any], kube: Kube, connect: Connect) -> Outcome:
    meta = resource.get("metadata") or {}
    previous = resource.get("status") or {}
    generation = int(meta.get("generation") or 0)

    # The policies this autoscaler put into the cluster: the only ones it ever deletes.
    managed = list(previous.get("managedPolicies") or [])

    def outcome(phase: str, message: str, events=(), **extra: Any) -> Outcome:
        status = {"phase": phase, "message": message, "observedGeneration": generation, "policies": [],
                  "managedPolicies": managed, **extra,
                  "conditions": [ready_condition(previous, phase == READY, phase, message, generation)]}
        changed = previous.get("phase") != phase or previous.get("message") != message
        warn = [("Warning", phase, message)] if phase == ERROR and changed else []
        return Outcome(status, events=[*warn, *events])

    try:
        spec = parse_autoscaler(resource)
    except InvalidSpec as e:
        return outcome(ERROR, str(e))
    try:
        cluster = kube.get(API_VERSION, CLUSTER_KIND, spec.namespace, spec.cluster)
        others = kube.list(API_VERSION, AUTOSCALER_KIND, spec.namespace)
    except ReadError as e:
        return outcome(PENDING, f"StrataCluster [{spec.cluster}] could not be read: {e}",
                       policies=previous.get("policies") or [])
    if cluster is None:
        return outcome(ERROR, f"StrataCluster [{spec.cluster}] not found in namespace [{spec.namespace}]")
    first = _first_autoscaler(others, spec.cluster)
    if first is not None and first != spec.name:
        return outcome(ERROR, f"StrataCluster [{spec.cluster}] is scaled by StrataAutoscaler [{first}]; a "
                              "cluster takes one")
    node_sets: list[Mapping[str, Any]] = list((cluster.get("spec") or {}).get("nodeSets") or [])
    members = {p.name: [ns for ns in node_sets if node_set_roles(ns) == p.roles] for p in spec.policies}
    orphans = [p.name for p in spec.policies if not members[p.name]]
    if orphans:
        return outcome(ERROR, f"policies {orphans} match no node set of StrataCluster [{spec.cluster}] "
                              "(a node set belongs to a policy when its roles are exactly the policy's)")
    notes: list[str] = []
    with connect(spec.cluster, spec.namespace) as client:
        try:
            refused = {}
            for p in spec.policies:
                reason = client.put_autoscaling_policy(p.name, policy_body(p))
                if reason is None:
                    managed = sorted({*managed, p.name})
                else:
                    refused[p.name] = reason
            if refused:
                return outcome(ERROR, "the cluster refused " + "; ".join(
                    f"policy [{name}]: {reason}" for name, reason in sorted(refused.items())))
            wanted = {p.name for p in spec.policies}
            present = set(client.autoscaling_policy_names())
            for name in [n for n in managed if n not in wanted]:
                try:
                    if name in present:
                        client.delete_autoscaling_policy(name)
                    managed.remove(name)
                except ClusterUnavailable as e:
                    notes.append(f"policy [{name}] not deleted ({e})")
            capacity = client.autoscaling_capacity()
        except ClusterUnavailable as e:
            return outcome(PENDING, f"the cluster's autoscaling API could not be used: {e}",
                           policies=previous.get("policies") or [])
    recommendations = [r for p in spec.policies if (r := recommend(p, members[p.name], capacity.get(p.name)))]
    scaled = scaled_node_sets(node_sets, recommendations, {p.name: p for p in spec.policies})
    events: list[tuple[str, str, str]] = []
    if scaled != [dict(ns) for ns in node_sets]:
        changed = {**cluster, "spec": {**(cluster.get("spec") or {}), "nodeSets": scaled}}
        try:
            parse_cluster(changed)
        except InvalidSpec as e:
            return outcome(ERROR, f"scaling StrataCluster [{spec.cluster}] would make it invalid: {e}")
        # With the version read: a node set edited meanwhile is not overwritten (a conflict,
        # and the next poll starts from the edit).
        version = (cluster.get("metadata") or {}).get("resourceVersion")
        patch: dict[str, Any] = {"spec": {"nodeSets": scaled}}
        if version:
            patch["metadata"] = {"resourceVersion": version}
        try:
            kube.patch(API_VERSION, CLUSTER_KIND, spec.namespace, spec.cluster, patch)
        except ApplyError as e:
            return outcome(PENDING, f"StrataCluster [{spec.cluster}] not scaled this time: {e}",
                           policies=previous.get("policies") or [])
        changes = ", ".join(f"{ns['name']}: {ns.get('count')} nodes" for ns in scaled
                            if ns not in [dict(old) for old in node_sets])
        events.append(("Normal", "Scaled", f"StrataCluster [{spec.cluster}] node sets set to {changes}"))
    by_name = {ns["name"]: ns for ns in scaled}
    policies = [_policy_status(r, [by_name[n] for n in r.node_sets]) for r in recommendations]
    undetermined = sorted(p.name for p in spec.policies if p.name not in {r.policy for r in recommendations})
    limited = [f"{r.policy}: {'; '.join(r.limited)}" for r in recommendations if r.limited]
    old_limited = {p.get("name"): p.get("limited") for p in previous.get("policies") or []}
    for r in recommendations:
        if r.limited and old_limited.get(r.policy) != list(r.limited):
            events.append(("Warning", "ScalingLimitReached", f"policy [{r.policy}]: {'; '.join(r.limited)}"))
    parts = [f"{len(recommendations)} of {len(spec.policies)} policies applied"]
    if undetermined:
        parts.append(f"required capacity undetermined for {undetermined}")
    if limited:
        parts.append("limits reached: " + " | ".join(limited))
    parts.extend(notes)
    return outcome(READY, "; ".join(parts), events, cluster=spec.cluster, policies=policies)
