"""What the master knows of its data nodes' disks (Elasticsearch's ClusterInfo): the disk
usage of each node's data path and the size on disk of each shard copy, as gathered last
by the cluster info service (info_service.py). Not part of the cluster state: the master
hands it to each reroute and allocation explanation beside the state.

Each Strata node has one data path, so a node's least and most available paths are the
same one. Sizes are keyed as ES keys them, `[index][shard][p]` or `[r]`; a copy's size
comes from its own copy kind (ES's ClusterInfo.getShardSize), unknown until gathered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..common.units import format1decimals, human_bytes


class DiskUsage(NamedTuple):
    node_id: str
    node_name: str
    path: str
    total: int
    free: int  # what the node's user may still write (statvfs's available blocks)

    @property
    def used(self) -> int:
        return self.total - self.free

    @property
    def free_percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.free / self.total

    @property
    def used_percent(self) -> float:
        return 100.0 - self.free_percent

    def __str__(self) -> str:
        return (f"[{self.node_id}][{self.node_name}][{self.path}] free: {human_bytes(max(self.free, 0))}"
                f"[{format1decimals(self.free_percent, '%')}]")

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "total_bytes": self.total, "used_bytes": self.used,
                "free_bytes": self.free, "free_disk_percent": _tenths(self.free_percent),
                "used_disk_percent": _tenths(self.used_percent)}


def _tenths(percent: float) -> float:
    """ES's truncatePercent: to one decimal, halves up."""
    return math.floor(percent * 10.0 + 0.5) / 10.0


class ShardCopySize(NamedTuple):
    """One copy a node holds, as it reports it."""

    index: str
    shard: int
    primary: bool
    size: int
    path: str


def shard_key(index: str, shard: int, primary: bool) -> str:
    return f"[{index}][{shard}][{'p' if primary else 'r'}]"


class ClusterInfo(NamedTuple):
    usages: Mapping[str, DiskUsage]  # node id -> the usage of its data path
    shard_sizes: Mapping[str, int]  # shard_key -> bytes
    data_set_sizes: Mapping[tuple[str, int], int]  # (index, shard) -> the largest copy's bytes
    shard_paths: Mapping[tuple[str, str, int], str]  # (node id, index, shard) -> data path

    def shard_size(self, index: str, shard: int, primary: bool, default: int = 0) -> int:
        size = self.shard_sizes.get(shard_key(index, shard, primary))
        return default if size is None else size

    def expected_size(self, copy: Any) -> int:
        """What a copy will take: its own kind's measured size, else the shard's largest
        copy (a new replica, or a probe of a primary that may move), else 0."""
        size = self.shard_sizes.get(shard_key(copy.index, copy.shard, copy.primary))
        if size:
            return size
        return self.data_set_sizes.get((copy.index, copy.shard), 0)

    def shard_path(self, node_id: str, index: str, shard: int) -> str | None:
        return self.shard_paths.get((node_id, index, shard))

    def to_json(self) -> dict[str, Any]:
        """As the allocation explain API's `cluster_info` (include_disk_info)."""
        return {
            "nodes": {node_id: {"node_name": usage.node_name, "least_available": usage.to_json(),
                                "most_available": usage.to_json()}
                      for node_id, usage in sorted(self.usages.items())},
            "shard_sizes": {f"{key}_bytes": size for key, size in sorted(self.shard_sizes.items())},
            "shard_data_set_sizes": {f"[{index}][{shard}]_bytes": size
                                     for (index, shard), size in sorted(self.data_set_sizes.items())},
            "shard_paths": {f"NodeAndShard[nodeId={node_id}, shardId=[{index}][{shard}]]": path
                            for (node_id, index, shard), path in sorted(self.shard_paths.items())},
            "reserved_sizes": [],
        }


EMPTY = ClusterInfo({}, {}, {}, {})


def build(usages: Iterable[DiskUsage], copies: Mapping[str, Iterable[ShardCopySize]]) -> ClusterInfo:
    """The info from what each node reported: its disk usage and the copies it holds."""
    sizes: dict[str, int] = {}
    data_sets: dict[tuple[str, int], int] = {}
    paths: dict[tuple[str, str, int], str] = {}
    for node_id, held in copies.items():
        for copy in held:
            key = shard_key(copy.index, copy.shard, copy.primary)
            # A move's target reports as a replica while it fills: the whole copy is larger.
            sizes[key] = max(copy.size, sizes.get(key, 0))
            data_sets[(copy.index, copy.shard)] = max(copy.size, data_sets.get((copy.index, copy.shard), 0))
            paths[(node_id, copy.index, copy.shard)] = copy.path
    return ClusterInfo({u.node_id: u for u in usages}, sizes, data_sets, paths)
