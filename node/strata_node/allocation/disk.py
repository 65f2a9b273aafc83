"""Disk watermarks (Elasticsearch's DiskThresholdSettings, DiskThresholdDecider and
DiskThresholdMonitor), pure functions of the settings, the cluster info and the state.

A watermark is either a share of the disk in use (`85%`, `0.85`) or the free space that
must remain (`500gb`). A share's free-space threshold on a disk of `total` bytes is
`total - ceil(share * total)`, capped at the watermark's max headroom (so a large disk
is not asked to keep 15% free), unless the headroom is -1.

- low (85%): no replica, and no copy of an existing shard, goes to a node past it; a new
  empty primary still may, until the high watermark;
- high (90%): no copy goes to a node past it, nor where it would take the node past it;
  copies on a node past it must move (`disk_can_remain`), and the monitor asks for a
  reroute (at most every `reroute_interval`) so they do;
- flood stage (95%): the monitor puts `index.blocks.read_only_allow_delete` on every
  index with a copy on the node, and takes it off again once every node holding the
  index is under the high watermark.

Relocations under way count: a copy moving in is charged to its target now, and (for
`canRemain`) one moving out is credited to its source. Without disk usages (the info is
empty, or the decider disabled) every answer is YES.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ..cluster.blocks import WRITE, blocks_of
from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, ShardRouting
from ..common.cluster_settings import byte_size_text
from ..common.units import RelativeByteSize, format1decimals, human_bytes
from ..index.metadata import IndexMetadata
from ..settings import (
    DISK_PREFIX,
    NODE_SETTINGS,
    WATERMARK_FLOOD,
    WATERMARK_HIGH,
    WATERMARK_LOW,
    SettingsError,
)
from .cluster_info import ClusterInfo, DiskUsage
from .decision import NO, YES, Decision

if TYPE_CHECKING:
    from .deciders import Allocation, NodeInfo

NAME = "disk_threshold"
BLOCK = "index.blocks.read_only_allow_delete"


class Stage(NamedTuple):
    key: str
    watermark: RelativeByteSize
    headroom: int  # -1: none

    def used_threshold(self, total: int) -> int:
        if self.watermark.absolute:
            return total - self.watermark.bytes  # type: ignore[operator]
        used = math.ceil(self.watermark.percent / 100.0 * total)  # type: ignore[operator]
        return max(used, total - self.headroom) if self.headroom != -1 else used

    def free_threshold(self, total: int) -> int:
        """The free bytes a node of this disk size must keep."""
        if self.watermark.absolute:
            return self.watermark.bytes  # type: ignore[return-value]
        return total - self.used_threshold(total)

    def describe(self, total: int, with_key: bool = True) -> str:
        """The setting that decides the threshold on this disk: the headroom when it caps."""
        w = self.watermark
        if (not w.absolute and w.percent and self.headroom != -1
                and total - math.ceil(w.percent / 100.0 * total) > self.headroom):
            text = f"max_headroom={byte_size_text(self.headroom)}"
            return f"{self.key}.{text}" if with_key else text
        return f"{self.key}={w}" if with_key else str(w)


class DiskThresholds(NamedTuple):
    enabled: bool
    low: Stage
    high: Stage
    flood: Stage
    reroute_interval_ms: int


def disk_thresholds(layers: Iterable[Mapping[str, Any]]) -> DiskThresholds:
    """The disk settings of layers given highest first (transient, persistent, the
    master's own); a value that no longer parses counts as unset, as elsewhere in a
    reroute, which never fails on a setting."""
    merged: dict[str, Any] = {}
    for layer in reversed(list(layers)):
        merged.update((k, v) for k, v in layer.items() if k.startswith(DISK_PREFIX))

    def get(key: str) -> Any:
        try:
            return NODE_SETTINGS[key].get(merged)
        except SettingsError:
            return NODE_SETTINGS[key].get({k: v for k, v in merged.items() if k != key})

    def stage(key: str) -> Stage:
        return Stage(key, get(key), get(key + ".max_headroom"))

    return DiskThresholds(get(DISK_PREFIX + "threshold_enabled"), stage(WATERMARK_LOW), stage(WATERMARK_HIGH),
                          stage(WATERMARK_FLOOD), round(get(DISK_PREFIX + "reroute_interval") * 1000))


# -- the decider ----------------------------------------------------------------------------------


def _early(alloc: Allocation) -> Decision | None:
    if not alloc.disk.enabled:
        return Decision(YES, NAME, "the disk threshold decider is disabled")
    if not alloc.info.usages:
        return Decision(YES, NAME, "disk usages are unavailable")
    return None


def usage_of(node_id: str, node_name: str, usages: Mapping[str, DiskUsage]) -> DiskUsage:
    """A node's usage, or (not gathered yet) the average of the others' on no path."""
    usage = usages.get(node_id)
    if usage is not None:
        return usage
    if not usages:
        return DiskUsage(node_id, node_name, "_na_", 0, 0)
    count = len(usages)
    return DiskUsage(node_id, node_name, "_na_", sum(u.total for u in usages.values()) // count,
                     sum(u.free for u in usages.values()) // count)


class _Usage(NamedTuple):
    """A node's usage with the relocations under way charged (DiskUsageWithRelocations)."""

    usage: DiskUsage
    relocating: int

    @property
    def free(self) -> int:
        return self.usage.free - self.relocating

    @property
    def used_percent(self) -> float:
        total = self.usage.total
        return 0.0 if total == 0 else 100.0 - 100.0 * self.free / total


def _node_usage(node: NodeInfo, alloc: Allocation, leaving_counts: bool) -> _Usage:
    usage = usage_of(node.id, node.name, alloc.info.usages)
    relocating = alloc.incoming_bytes.get(node.id, 0)
    if leaving_counts:
        relocating -= alloc.leaving_bytes.get(node.id, 0)
    return _Usage(usage, relocating)


def fresh_primary(copy: ShardRouting, alloc: Allocation) -> bool:
    """A primary never allocated before, starting empty (ES's EMPTY_STORE source)."""
    if not copy.primary or copy.state in ("STARTED", "RELOCATING"):
        return False
    metadata = alloc.indices[copy.index]
    return not metadata.in_sync(copy.shard) and not metadata.restores(copy.shard)


def disk_threshold(copy: ShardRouting, node: NodeInfo, shard: object, alloc: Allocation) -> Decision:
    """canAllocate."""
    early = _early(alloc)
    if early is not None:
        return early
    u = _node_usage(node, alloc, False)
    free, total, s = u.free, u.usage.total, alloc.disk
    if free < 0:
        return Decision(NO, NAME, "the node has fewer free bytes remaining than the total size of all "
                        f"incoming shards: free space [{u.usage.free}B], relocating shards [{u.relocating}B]")
    actual = f"actual free: [{human_bytes(free)}], actual used: [{format1decimals(u.used_percent, '%')}]"
    low, high = s.low.free_threshold(total), s.high.free_threshold(total)
    if free < low:
        if not fresh_primary(copy, alloc):
            return Decision(NO, NAME, "the node is above the low watermark cluster setting "
                            f"[{s.low.describe(total)}], having less than the minimum required "
                            f"[{human_bytes(low)}] free space, {actual}")
        if free > high:
            return Decision(YES, NAME, "the node is above the low watermark, but less than the high "
                            "watermark, and this primary shard has never been allocated before")
        return Decision(NO, NAME, "the node is above the high watermark cluster setting "
                        f"[{s.high.describe(total)}], having less than the minimum required "
                        f"[{human_bytes(high)}] free space, {actual}")
    size = alloc.info.expected_size(copy)
    after = free - size
    used = format1decimals(u.used_percent, "%")
    if after < high:
        return Decision(NO, NAME, "allocating the shard to this node will bring the node above the high "
                        f"watermark cluster setting [{s.high.describe(total)}] and cause it to have less "
                        f"than the minimum required [{human_bytes(high)}] of free space (free: "
                        f"[{human_bytes(free)}], used: [{used}], estimated shard size: "
                        f"[{human_bytes(size)}])")
    return Decision(YES, NAME, f"enough disk for shard on node, free: [{human_bytes(free)}], used: [{used}], "
                    f"shard size: [{human_bytes(size)}], free after allocating shard: [{human_bytes(after)}]")


def disk_can_remain(copy: ShardRouting, node: NodeInfo, shard: object, alloc: Allocation) -> Decision:
    """canRemain: copies on a node past the high watermark must go."""
    early = _early(alloc)
    if early is not None:
        return early
    u = _node_usage(node, alloc, True)
    path = alloc.info.shard_path(node.id, copy.index, copy.shard)
    if path is None or path != u.usage.path:
        return Decision(YES, NAME, "this shard is not allocated on the most utilized disk and can remain")
    free, total, s = u.free, u.usage.total, alloc.disk
    if free < 0:
        return Decision(NO, NAME, "the shard cannot remain on this node because the node has fewer free "
                        "bytes remaining than the total size of all incoming shards: free space "
                        f"[{u.usage.free}], relocating shards [{u.relocating}]")
    high = s.high.free_threshold(total)
    if free < high:
        return Decision(NO, NAME, "the shard cannot remain on this node because it is above the high "
                        f"watermark cluster setting [{s.high.describe(total)}] and there is less than the "
                        f"required [{human_bytes(high)}] free space on node, actual free: "
                        f"[{human_bytes(free)}], actual used: [{format1decimals(u.used_percent, '%')}]")
    return Decision(YES, NAME, "there is enough disk on this node for the shard to remain, free: "
                    f"[{human_bytes(free)}]")


# -- the monitor ----------------------------------------------------------------------------------


class MonitorState(NamedTuple):
    """What the monitor remembers between two infos."""

    over_low: frozenset[str] = frozenset()
    over_high: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()  # the nodes whose usage the last info had
    last_reroute_ms: int = -(1 << 62)


class Assessment(NamedTuple):
    block: tuple[str, ...]  # indices to mark read-only-allow-delete
    release: tuple[str, ...]  # indices whose block comes off
    reroute: str | None  # why a reroute is due, if one is
    logs: tuple[tuple[int, str], ...]  # (logging level, message)
    state: MonitorState


def _indices_on(content: ClusterStateContent, node_id: str) -> set[str]:
    return {name for name, copies in content.routing_table.indices.items()
            if any(c.node == node_id for c in copies)}


def flood_blocked(metadata: IndexMetadata) -> bool:
    """Whether the index has the flood-stage block (set by the monitor or by hand)."""
    return bool(metadata.setting(BLOCK))


def assess(info: ClusterInfo, content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode],
           s: DiskThresholds, state: MonitorState, now_ms: int) -> Assessment:
    """DiskThresholdMonitor.onNewInfo: what a new info calls for."""
    logs: list[tuple[int, str]] = []
    over_low, over_high = set(state.over_low), set(state.over_high)
    to_block: set[str] = set()
    keep_blocked: set[str] = set()
    reroute: str | None = None
    due = now_ms - state.last_reroute_ms >= s.reroute_interval_ms
    usages = {n: u for n, u in info.usages.items() if n in nodes}
    if set(usages) - state.known:
        reroute = "new disk usage from nodes"  # the deciders see these nodes' disks for the first time
    for node_id, usage in sorted(usages.items()):
        total, free = usage.total, usage.free
        if free < s.flood.free_threshold(total):
            on_node = _indices_on(content, node_id)
            to_block |= on_node
            keep_blocked |= on_node
            over_low.add(node_id)
            over_high.add(node_id)
            logs.append((logging.WARNING, f"flood stage disk watermark [{s.flood.describe(total, False)}] "
                                          f"exceeded on {usage}, all indices on this node will be marked "
                                          "read-only"))
            continue
        if free < s.high.free_threshold(total):
            keep_blocked |= _indices_on(content, node_id)
            over_low.add(node_id)
            over_high.add(node_id)
            if due:
                reroute = reroute or "high disk watermark exceeded on one or more nodes"
                logs.append((logging.WARNING, f"high disk watermark [{s.high.describe(total, False)}] "
                                              f"exceeded on {usage}, shards will be relocated away from "
                                              "this node"))
        elif free < s.low.free_threshold(total):
            was_under_low = node_id not in over_low
            was_over_high = node_id in over_high
            over_low.add(node_id)
            over_high.discard(node_id)
            if was_under_low:
                logs.append((logging.INFO, f"low disk watermark [{s.low.describe(total, False)}] exceeded on "
                                           f"{usage}, replicas will not be assigned to this node"))
            elif was_over_high:
                logs.append((logging.INFO, f"high disk watermark [{s.high.describe(total, False)}] no longer "
                                           f"exceeded on {usage}, but low disk watermark "
                                           f"[{s.low.describe(total, False)}] is still exceeded"))
        elif node_id in over_low and due:
            reroute = reroute or "one or more nodes has gone under the high or low watermark"
            over_low.discard(node_id)
            over_high.discard(node_id)
            logs.append((logging.INFO, f"low disk watermark [{s.low.describe(total, False)}] no longer "
                                       f"exceeded on {usage}"))
    indices = content.metadata.indices
    release = []
    for name, metadata in sorted(indices.items()):
        if not flood_blocked(metadata) or name in keep_blocked:
            continue
        holders = {c.node for c in content.routing_table.indices.get(name, ()) if c.node is not None}
        if all(h in usages for h in holders):
            release.append(name)
    if release:
        logs.append((logging.INFO, f"releasing read-only block on indices [{', '.join(release)}] since they "
                                   "are now allocated to nodes with sufficient disk space"))
    block = tuple(sorted(n for n in to_block
                         if n in indices and not blocks_of(indices[n], WRITE)))
    # Nodes still members keep their marks through a round they were not measured in.
    members = set(nodes)
    new_state = MonitorState(frozenset(over_low & members), frozenset(over_high & members),
                             frozenset((state.known & members) | set(usages)),
                             now_ms if reroute else state.last_reroute_ms)
    return Assessment(block, tuple(release), reroute, tuple(logs), new_state)
