"""The answer of `GET /_autoscaling/capacity` from the policies, the nodes and what each
node reported of itself (Elasticsearch's AutoscalingCalculateCapacityService).

Pure: the service gathers the nodes' resources and calls this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..cluster.coordination.discovery_node import DiscoveryNode
from .capacity import Resources, current, upper_bound
from .deciders import DECIDERS, Context, Decider, Result, deciders_of
from .storage import ClusterView


def policy_nodes(roles: Iterable[str], nodes: Iterable[DiscoveryNode]) -> list[DiscoveryNode]:
    """A node belongs to a policy when its roles are exactly the policy's."""
    wanted = set(roles)
    return sorted((n for n in nodes if set(n.roles) == wanted), key=lambda n: n.name)


def node_resources(node: DiscoveryNode, reported: Resources | None) -> Resources:
    """A node's part of the current capacity: its disk if it holds data, its memory and
    processors; what it has not reported counts as zero (processors as unknown)."""
    if reported is None:
        return Resources(0, 0, None)
    storage = (reported.storage or 0) if node.is_data_node else 0
    return Resources(storage, reported.memory or 0, reported.processors)


def policy_capacity(name: str, policy: Mapping[str, Any], nodes: Iterable[DiscoveryNode],
                    reported: Mapping[str, Resources | None],
                    known: Mapping[str, Decider] = DECIDERS,
                    cluster: ClusterView | None = None) -> dict[str, Any]:
    roles = tuple(policy["roles"])
    members = policy_nodes(roles, nodes)
    have = current(node_resources(n, reported.get(n.id)) for n in members)
    # Deciders see the current capacity only when every node reported it (ES's "accurate").
    accurate = all(reported.get(n.id) is not None for n in members)
    context = Context(roles=roles, current_capacity=have if accurate else None,
                      members=tuple(n.id for n in members), cluster=cluster)
    results: dict[str, Result] = {}
    for decider_name, configuration in deciders_of(name, roles, policy["deciders"], known).items():
        results[decider_name] = known[decider_name].scale(configuration, context)
    out: dict[str, Any] = {}
    # One undetermined decider leaves the policy's requirement undetermined.
    if all(r.required_capacity is not None for r in results.values()):
        out["required_capacity"] = upper_bound(r.required_capacity for r in results.values()).to_json()
    out["current_capacity"] = have.to_json()
    out["current_nodes"] = [{"name": n.name} for n in members]
    out["deciders"] = {d: r.to_json() for d, r in results.items()}
    return out


def capacity(policies: Mapping[str, Mapping[str, Any]], nodes: Iterable[DiscoveryNode],
             reported: Mapping[str, Resources | None], cluster: ClusterView | None = None) -> dict[str, Any]:
    nodes = list(nodes)
    return {"policies": {name: policy_capacity(name, policy, nodes, reported, cluster=cluster)
                         for name, policy in sorted(policies.items())}}
