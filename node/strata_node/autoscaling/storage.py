"""The reactive storage decider (Elasticsearch's ReactiveStorageDeciderService): more disk
for a data tier when its disks, and only its disks, keep shards from their place.

Two kinds of shard count, each with its size on disk (a replica not measured yet counts
its primary's size, a shard not measured at all 1kb):
- unassigned: copies that some node of the policy refuses only because of the disk
  threshold decider (every other decider there says yes) and that no node of the
  policy takes now; for a tier with no node yet, copies whose first preferred tier is
  the policy's and that no node of the cluster is of (so a tier can grow from zero);
- assigned: started copies on a node of the policy past the high watermark that may not
  remain there only because of the disk and that no other node of the policy takes;
  per node, what takes it back under the high watermark, and at least its smallest
  such copy.

The tier then needs, in total, its current storage plus both sums; and each node at
least the disk on which the largest shard sits below the low watermark, plus 10mb (ES's
node disk overhead). With nothing to place the requirement is the current storage, and
the summary `storage ok`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..allocation.cluster_info import ClusterInfo
from ..allocation.data_tier import present_tiers
from ..allocation.deciders import NO, Allocation, can_remain, decide, node_info
from ..allocation.disk import NAME as DISK_DECIDER
from ..allocation.disk import Stage
from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, ShardRouting
from ..common.units import human_bytes
from .capacity import Capacity, Resources

NODE_DISK_OVERHEAD = 10 * 1024 * 1024
MAX_SHARDS_LISTED = 512  # ES's MAX_AMOUNT_OF_SHARDS in the reason's details
ROLES = frozenset({"data", "data_content", "data_hot", "data_warm", "data_cold"})


class ClusterView(NamedTuple):
    """The master's view a storage decider reads beside the policy's own context."""

    content: ClusterStateContent
    nodes: Mapping[str, DiscoveryNode]
    info: ClusterInfo
    node_settings: Mapping[str, Any]


def _disk_only_no(decisions) -> bool:
    """ES's isDiskOnlyNoDecision: exactly one NO, and it is the disk threshold decider's."""
    refusals = [d for d in decisions if d.type == NO]
    return len(refusals) == 1 and refusals[0].decider == DISK_DECIDER


class _Tier:
    """The policy's data nodes and the allocation over them. Deciding stops at the first
    NO except where all the answers are needed (is the disk the only refusal?)."""

    def __init__(self, view: ClusterView, members: tuple[str, ...], roles: tuple[str, ...]):
        self.alloc = Allocation(view.content, view.nodes, info=view.info, node_settings=view.node_settings)
        self.alloc.count(view.content.routing_table.indices)
        self.info = view.info
        self.roles = frozenset(roles)
        self.members = {m: node_info(view.nodes[m]) for m in members
                        if m in view.nodes and view.nodes[m].is_data_node}
        self.shards: dict[tuple[str, int], list[ShardRouting]] = {}
        for copies in view.content.routing_table.indices.values():
            for c in copies:
                self.shards.setdefault((c.index, c.shard), []).append(c)
        self._tiers_present = present_tiers(n for n in view.nodes.values() if n.is_data_node)

    def size_of(self, copy: ShardRouting) -> int:
        """ES's sizeOf: a replica not measured yet at its primary's size, and a shard not
        measured at all at 1kb, so that it still asks for something."""
        size = self.info.shard_size(copy.index, copy.shard, copy.primary)
        if size == 0 and not copy.primary:
            size = self.info.shard_size(copy.index, copy.shard, True)
        return size or 1024

    def _all_decisions(self, run):
        self.alloc.debug = True
        try:
            return run()
        finally:
            self.alloc.debug = False

    def takes(self, copy: ShardRouting, skip: str | None = None) -> bool:
        """Whether some node of the tier (other than `skip`) would take the copy now."""
        shard = self.shards.get((copy.index, copy.shard), [copy])
        return any(decide(copy, n, shard, self.alloc)[0] != NO for i, n in self.members.items() if i != skip)

    def blocked_by_disk(self, copy: ShardRouting) -> bool:
        shard = self.shards.get((copy.index, copy.shard), [copy])
        return self._all_decisions(lambda: any(_disk_only_no(decide(copy, n, shard, self.alloc)[1])
                                               for n in self.members.values()))

    def cannot_remain_for_disk(self, copy: ShardRouting) -> bool:
        member = self.members[copy.node]  # type: ignore[index]
        shard = self.shards[(copy.index, copy.shard)]
        return self._all_decisions(lambda: _disk_only_no(can_remain(copy, member, shard, self.alloc)[1]))

    def needs_empty_tier(self, copy: ShardRouting) -> bool:
        """ES's needsThisTier for a tier with no node yet: the index's first preferred tier
        is one of the policy's, and no node of the cluster is of it."""
        preference = self.alloc.index(copy.index).tier_preference
        if not preference:
            return False
        first = preference[0]
        return ("data" in self.roles or first in self.roles) and first not in self._tiers_present

    def unmovable_size(self, node_id: str, copies: list[ShardRouting]) -> int:
        """ES's unmovableSize: what takes the node back under the high watermark, and at
        least its smallest stuck copy; nothing for a node not measured."""
        usage = self.info.usages.get(node_id)
        if usage is None:
            return 0
        missing = self.alloc.disk.high.free_threshold(usage.total) - usage.free
        return max(missing, min(self.size_of(c) for c in copies))


def _details(reason: str, unassigned: int, unassigned_ids: list[str], assigned: int,
             assigned_ids: list[str]) -> dict[str, Any]:
    return {"reason": reason, "unassigned": unassigned,
            "unassigned_shards": unassigned_ids[:MAX_SHARDS_LISTED],
            "unassigned_shards_count": len(unassigned_ids), "assigned": assigned,
            "assigned_shards": assigned_ids[:MAX_SHARDS_LISTED], "assigned_shards_count": len(assigned_ids)}


def _shard_ids(copies: list[ShardRouting]) -> list[str]:
    return [f"[{index}][{shard}]" for index, shard in sorted({(c.index, c.shard) for c in copies})]


def minimum_disk_below_low(used: int, low: Stage) -> int:
    """DiskThresholdSettings.getMinimumTotalSizeForBelowLowWatermark: the smallest disk on
    which `used` bytes leave the node under the low watermark."""
    if low.watermark.absolute:
        return used + low.watermark.bytes  # type: ignore[operator]
    percent = low.watermark.percent
    if not 0.0 <= percent < 100.0:  # type: ignore[operator]
        return used
    total = math.ceil(100 * used / percent) if percent else used  # type: ignore[operator]
    return min(total, used + low.headroom) if low.headroom >= 0 else total


def reactive(current: Capacity | None, roles: tuple[str, ...], members: tuple[str, ...],
             view: ClusterView | None):
    """(required capacity, summary, details) of the policy's nodes."""
    if current is None or current.total.storage is None or view is None:
        reason = "current capacity not available"
        return None, reason, _details(reason, -1, [], -1, [])
    tier = _Tier(view, members, roles)
    unassigned: list[ShardRouting] = []
    verdicts: dict[tuple[str, int, bool], bool] = {}  # a shard's unassigned replicas decide alike
    stuck: dict[str, list[ShardRouting]] = {}
    largest = 0
    pressed = tier.alloc.pressed_nodes() & tier.members.keys()
    for copies in view.content.routing_table.indices.values():
        for copy in copies:
            if copy.state == "UNASSIGNED":
                key = (copy.index, copy.shard, copy.primary)
                if key not in verdicts:
                    verdicts[key] = (tier.needs_empty_tier(copy) if not tier.members
                                     else not tier.takes(copy) and tier.blocked_by_disk(copy))
                if verdicts[key]:
                    unassigned.append(copy)
            elif copy.node in tier.members:
                largest = max(largest, tier.size_of(copy))
                if (copy.node in pressed and copy.state == "STARTED" and tier.cannot_remain_for_disk(copy)
                        and not tier.takes(copy, skip=copy.node)):
                    stuck.setdefault(copy.node, []).append(copy)
    unassigned_bytes = sum(tier.size_of(c) for c in unassigned)
    assigned_bytes = sum(tier.unmovable_size(node_id, copies) for node_id, copies in stuck.items())
    needed = unassigned_bytes + assigned_bytes
    reason = f"not enough storage available, needs {human_bytes(needed)}" if needed > 0 else "storage ok"
    total = current.total.storage + needed
    node = (minimum_disk_below_low(largest, tier.alloc.disk.low) + NODE_DISK_OVERHEAD) if total > 0 else 0
    required = Capacity(total=Resources(total, None, None), node=Resources(node, None, None))
    assigned = [c for copies in stuck.values() for c in copies]
    return required, reason, _details(reason, unassigned_bytes, _shard_ids(unassigned), assigned_bytes,
                                      _shard_ids(assigned))
