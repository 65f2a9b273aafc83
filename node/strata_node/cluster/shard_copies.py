"""Where the copies of a shard are, read from a cluster state's routing table: pure
functions, so the coordinating step of every shard-level action (bulk, get, search,
broadcast) asks one place which node serves a shard."""

from __future__ import annotations

import re
from collections.abc import Mapping

import mmh3

from ..common.errors import IllegalArgument, NumberFormatError
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

# Preference.parse's names (ES 8: `_primary`, `_replica` and the like went in ES 7), with
# the alias it still reads; a preference starting with `_` must name one of them.
PREFERENCES = {"_shards": "_shards", "_prefer_nodes": "_prefer_nodes", "_local": "_local",
               "_only_local": "_only_local", "_onlyLocal": "_only_local", "_only_nodes": "_only_nodes"}
SHARDS = "_shards"
JAVA_INT = re.compile(r"[+-]?\d+")


def copies(content: ClusterStateContent, index: str, shard: int) -> list[ShardRouting]:
    return [c for c in content.routing_table.indices.get(index, ()) if c.shard == shard]


def active_primary(content: ClusterStateContent, index: str, shard: int) -> ShardRouting | None:
    """The started primary that writes go to, if there is one."""
    for copy in copies(content, index, shard):
        if copy.primary and copy.state in ACTIVE and copy.node is not None:
            return copy
    return None


def preference_type(preference: str) -> str:
    """Preference.parse: the name before the first colon, refused when it is none of ES's."""
    name = preference.split(":", 1)[0]
    if name not in PREFERENCES:
        raise IllegalArgument(f"no Preference for [{name}]")
    return PREFERENCES[name]


def _java_int(text: str) -> int:
    """Integer.parseInt, which reads a `_shards` number (a NumberFormatException, 400, when
    it cannot)."""
    if not JAVA_INT.fullmatch(text) or not -2**31 <= int(text) < 2**31:
        raise NumberFormatError(f'For input string: "{text}"')
    return int(text)


def _comma_split(text: str) -> list[str]:
    """Strings.splitStringByCommaToArray: Java's split, which drops trailing empty parts."""
    parts = text.split(",") if text else []
    while parts and not parts[-1]:
        parts.pop()
    return parts


def shard_preference(preference: str | None, shard: int) -> tuple[bool, str | None]:
    """OperationRouting.preferenceActiveShardIterator's first step for one shard: whether a
    search reads the shard at all and the preference its copies are then picked by.
    `_shards:0,2` names the shard numbers read (read in order until this shard's, as ES
    reads them); what follows a `|` is the copies' preference (none when nothing does). A
    preference starting with `_` that ES does not know is refused here, before any shard is
    asked, as ES refuses it while it lists the shards."""
    if not preference:
        return True, None
    if preference[0] != "_":
        return True, preference
    if preference_type(preference) != SHARDS:
        return True, preference
    bar = preference.find("|")
    listed = preference[len(SHARDS) + 1:] if bar == -1 else preference[len(SHARDS) + 1:bar]
    if not any(_java_int(number) == shard for number in _comma_split(listed)):
        return False, None
    rest = preference[bar + 1:] if bar != -1 else ""
    if rest.startswith("_") and preference_type(rest) == SHARDS:
        raise IllegalArgument("unknown preference [SHARDS]")  # ES's switch has no case for a second one
    return True, rest or None


def read_copies(content: ClusterStateContent, index: str, shard: int, local_node: str,
                preference: str | None = None,
                ranks: Mapping[str, float] | None = None) -> list[ShardRouting]:
    """The active copies a read tries, in order. Without a preference, adaptive replica
    selection: by `ranks` (lower first; see `replica_rank`), this node breaking ties. With
    `_local` this node's copy first, then the primary, then the rest; `_only_local` only
    this node's; `_only_nodes:a,b` only those nodes; `_prefer_nodes:a,b` those first; any
    other string not starting with `_` picks the same order for the same string, so one
    user's searches see one copy (ES's custom preference). A `_shards:` list is for the
    caller to apply (`shard_preference`): here only what follows its `|` counts."""
    if preference and preference[0] == "_" and preference_type(preference) == SHARDS:
        preference = shard_preference(preference, shard)[1]
    active = [c for c in copies(content, index, shard) if c.state in ACTIVE and c.node is not None]
    if not preference and ranks is not None:
        return sorted(active, key=lambda c: (ranks.get(c.node, 0.0), c.node != local_node, c.node))
    kind = preference_type(preference) if preference and preference[0] == "_" else None
    if not preference or kind == "_local":
        return sorted(active, key=lambda c: (c.node != local_node, not c.primary, c.node))
    if kind == "_only_local":
        return [c for c in active if c.node == local_node]
    if kind == "_only_nodes":
        wanted = set(preference[len(kind) + 1:].split(","))
        return [c for c in active if c.node in wanted]
    if kind == "_prefer_nodes":
        wanted = set(preference[len(kind) + 1:].split(","))
        return sorted(active, key=lambda c: (c.node not in wanted, c.node != local_node, c.node))
    ordered = sorted(active, key=lambda c: c.allocation_id or "")
    if not ordered:
        return ordered
    start = mmh3.hash(f"{preference}:{index}:{shard}") % len(ordered)
    return ordered[start:] + ordered[:start]
