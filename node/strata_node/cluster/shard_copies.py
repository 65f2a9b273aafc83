"""Where the copies of a shard are, read from a cluster state's routing table: pure
functions, so the coordinating step of every shard-level action (bulk, get, search,
broadcast) asks one place which node serves a shard."""

from __future__ import annotations

from collections.abc import Mapping

import mmh3

from .state import ClusterStateContent, ShardRouting

EWMA_ALPHA = 0.3  # the weight of the newest response time, as ES's ResponseCollectorService


def replica_rank(response_ewma_ms: float, outstanding: int) -> float:
    """Adaptive replica selection's rank of a node (lower is better): Elasticsearch's C3
    formula with what a coordinating node sees itself, the response time moving average
    and its requests still outstanding there (the queue term cubed, so a busy node is
    avoided well before its latency shows it). A node never asked ranks 0: tried first,
    so every copy gets measured."""
    return response_ewma_ms * (1 + outstanding) ** 3


def updated_ewma(previous: float | None, sample_ms: float) -> float:
    return sample_ms if previous is None else EWMA_ALPHA * sample_ms + (1 - EWMA_ALPHA) * previous

ACTIVE = ("STARTED", "RELOCATING")


def copies(content: ClusterStateContent, index: str, shard: int) -> list[ShardRouting]:
    return [c for c in content.routing_table.indices.get(index, ()) if c.shard == shard]


def active_primary(content: ClusterStateContent, index: str, shard: int) -> ShardRouting | None:
    """The started primary that writes go to, if there is one."""
    for copy in copies(content, index, shard):
        if copy.primary and copy.state in ACTIVE and copy.node is not None:
            return copy
    return None


def read_copies(content: ClusterStateContent, index: str, shard: int, local_node: str,
                preference: str | None = None,
                ranks: Mapping[str, float] | None = None) -> list[ShardRouting]:
    """The active copies a read tries, in order. Without a preference, adaptive replica
    selection: by `ranks` (lower first; see `replica_rank`), this node breaking ties. With
    `_local` this node's copy first, then the primary, then the rest; `_only_nodes:a,b`
    only those nodes; `_prefer_nodes:a,b` those first; any other string picks the same
    order for the same string, so one user's searches see one copy (ES's custom
    preference)."""
    active = [c for c in copies(content, index, shard) if c.state in ACTIVE and c.node is not None]
    if not preference and ranks is not None:
        return sorted(active, key=lambda c: (ranks.get(c.node, 0.0), c.node != local_node, c.node))
    if not preference or preference == "_local":
        return sorted(active, key=lambda c: (c.node != local_node, not c.primary, c.node))
    if preference.startswith("_only_nodes:"):
        wanted = set(preference.removeprefix("_only_nodes:").split(","))
        return [c for c in active if c.node in wanted]
    if preference.startswith("_prefer_nodes:"):
        wanted = set(preference.removeprefix("_prefer_nodes:").split(","))
        return sorted(active, key=lambda c: (c.node not in wanted, c.node != local_node, c.node))
    if preference == "_primary":
        return [c for c in active if c.primary]
    ordered = sorted(active, key=lambda c: c.allocation_id or "")
    if not ordered:
        return ordered
    start = mmh3.hash(f"{preference}:{index}:{shard}") % len(ordered)
    return ordered[start:] + ordered[:start]
