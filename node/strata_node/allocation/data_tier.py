"""The data tier decider (Elasticsearch's DataTierAllocationDecider): an index's copies go
to the first tier of its `index.routing.allocation.include._tier_preference` that any node
of the cluster has, and only to nodes of that tier.

A node with the generic `data` role belongs to every tier. Which tier applies is a fact of
the whole cluster, not of the node asked about: `data_warm,data_hot` with one warm node
means warm for every node, and a hot node then refuses (and a started copy there must
move). Nodes being removed (a `remove` or `replace` shutdown) do not make a tier present.
When no tier of the preference has a node, every node refuses: a new index waits rather
than landing on the wrong hardware.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ShardRouting
from ..settings import DATA_TIERS
from .decision import NO, YES, Decision

if TYPE_CHECKING:
    from .deciders import Allocation, NodeInfo

NAME = "data_tier"


def present_tiers(nodes: Iterable[DiscoveryNode]) -> frozenset[str]:
    tiers: set[str] = set()
    for node in nodes:
        if "data" in node.roles:
            return frozenset(DATA_TIERS)
        tiers.update(role for role in node.roles if role in DATA_TIERS)
    return frozenset(tiers)


def preferred_tier(preference: tuple[str, ...], present: frozenset[str]) -> str | None:
    return next((tier for tier in preference if tier in present), None)


def in_tier(tier: str, node: DiscoveryNode) -> bool:
    return "data" in node.roles or tier in node.roles


def data_tier(copy: ShardRouting, node: NodeInfo, shard: object, alloc: Allocation) -> Decision:
    """canAllocate and canRemain alike."""
    preference = alloc.index(copy.index).tier_preference
    if not preference:
        return Decision(YES, NAME, "node passes tier preference filters")
    tiers = ",".join(preference)
    tier = alloc.preferred_tier(preference)
    if tier is None:
        return Decision(NO, NAME, f"index has a preference for tiers [{tiers}], but no nodes for any of "
                        "those tiers are available in the cluster")
    roles = node.node.roles
    if "data" in roles:
        return Decision(YES, NAME, f"index has a preference for tiers [{tiers}] and node has tier [data]")
    if tier in roles:
        return Decision(YES, NAME, f"index has a preference for tiers [{tiers}] and node has tier [{tier}]")
    return Decision(NO, NAME, f"index has a preference for tiers [{tiers}] and node does not meet the "
                    f"required [{tier}] tier")
