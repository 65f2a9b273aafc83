"""Where the copies of a shard are, read from a cluster state's routing table: pure
functions, so the coordinating step of every shard-level action (bulk, get, search,
broadcast) asks one place which node serves a shard."""

from __future__ import annotations

import mmh3

from .state import ClusterStateContent, ShardRouting

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
                preference: str | None = None) -> list[ShardRouting]:
    """The active copies a read tries, in order: with `_local` (or no preference) this
    node's copy first, then the primary, then the rest; `_only_nodes:a,b` only those nodes;
    `_prefer_nodes:a,b` those first; any other string picks the same order for the same
    string, so one user's searches see one copy (ES's custom preference)."""
    active = [c for c in copies(content, index, shard) if c.state in ACTIVE and c.node is not None]
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
