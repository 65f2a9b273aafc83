"""Cluster health from the routing table of the applied cluster state (ClusterStateHealth,
ClusterIndexHealth and ClusterShardHealth in Elasticsearch).

Per shard: a STARTED primary is active, and the shard is green when every replica is
active too, yellow when some are not (replicas stay unassigned until replication lands);
an INITIALIZING primary is recovering: yellow when it starts empty or from a snapshot with
no failed attempt (a new index), red when it recovers an existing store;
an UNASSIGNED primary is yellow on the same terms unless the last reroute found every
node refusing it (`allocation_status` deciders_no), and red otherwise (a store or
translog that did not recover, a node that left).
A copy this node holds counts as active only while its shard really is: an engine that
failed since it started makes its shard red at once, before the master hears of it.

Nothing here reads a clock or waits; the REST handler re-evaluates until its wait
conditions hold or its timeout passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..cluster.state import ShardRouting, content_of
from ..index.metadata import IndexMetadata
from ..index.service import IndexService
from ..index.shard import INITIALIZING, STARTED, IndexShard


class Status(IntEnum):
    """Ordered as Elasticsearch orders ClusterHealthStatus: a wait for yellow is met by green."""

    GREEN = 0
    YELLOW = 1
    RED = 2

    @property
    def text(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ShardHealth:
    shard: int
    status: Status
    primary_active: bool
    active: int
    initializing: int
    unassigned: int
    unassigned_primary: int
    relocating: int = 0

    @property
    def active_primary(self) -> int:
        return int(self.primary_active)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.text, "primary_active": self.primary_active,
                "active_shards": self.active, "relocating_shards": self.relocating,
                "initializing_shards": self.initializing, "unassigned_shards": self.unassigned,
                "unassigned_primary_shards": self.unassigned_primary}


@dataclass
class Counts:
    """The shard counters every level reports."""

    active_primary: int = 0
    active: int = 0
    initializing: int = 0
    unassigned: int = 0
    unassigned_primary: int = 0
    relocating: int = 0
    status: Status = Status.GREEN

    def add(self, other: ShardHealth | Counts) -> None:
        self.relocating += other.relocating
        self.active_primary += other.active_primary
        self.active += other.active
        self.initializing += other.initializing
        self.unassigned += other.unassigned
        self.unassigned_primary += other.unassigned_primary
        self.status = max(self.status, other.status)

    def to_json(self) -> dict[str, Any]:
        return {"active_primary_shards": self.active_primary, "active_shards": self.active,
                "relocating_shards": self.relocating, "initializing_shards": self.initializing,
                "unassigned_shards": self.unassigned, "unassigned_primary_shards": self.unassigned_primary}


@dataclass
class IndexHealth:
    name: str
    number_of_shards: int
    number_of_replicas: int
    shards: list[ShardHealth]
    counts: Counts = field(default_factory=Counts)

    def to_json(self, with_shards: bool) -> dict[str, Any]:
        body = {"status": self.counts.status.text, "number_of_shards": self.number_of_shards,
                "number_of_replicas": self.number_of_replicas, **self.counts.to_json()}
        if with_shards:
            body["shards"] = {str(s.shard): s.to_json() for s in self.shards}
        return body


def primary_is_active(shard: IndexShard) -> bool:
    return shard.state == STARTED and shard.engine.failure is None


@dataclass(frozen=True)
class IndexView:
    """One index as health sees it: its metadata, its copies, and this node's shards of it."""

    metadata: IndexMetadata
    copies: tuple[ShardRouting, ...]
    local: IndexService | None
    node_id: str

    @property
    def name(self) -> str:
        return self.metadata.name

    def copy_active(self, copy: ShardRouting) -> bool:
        if copy.state not in (STARTED, "RELOCATING"):
            return False
        if copy.node == self.node_id:
            shard = self.local.local.get(copy.shard) if self.local is not None else None
            return shard is not None and primary_is_active(shard)
        return True


def _recovers_without_data(metadata: IndexMetadata, primary: ShardRouting) -> bool:
    """ClusterShardHealth.getInactivePrimaryHealth: a primary initializing for the first
    time, from an empty store or a snapshot, with no failed attempt, holds no data anyone
    has lost, so its shard is yellow; one recovering an existing store is red."""
    first_time = not metadata.in_sync(primary.shard) or metadata.restores(primary.shard)
    return first_time and primary.failed_attempts == 0


def shard_health(view: IndexView, shard: int) -> ShardHealth:
    # A relocation's target is not a copy of its own: its source counts, as relocating.
    copies = [c for c in view.copies if c.shard == shard
              and not (c.relocating_node is not None and c.state == INITIALIZING)]
    relocating = sum(c.state == "RELOCATING" for c in copies)
    primary = next((c for c in copies if c.primary), None)
    replicas = [c for c in copies if not c.primary]
    active_replicas = sum(view.copy_active(c) for c in replicas)
    initializing = sum(c.state == INITIALIZING for c in copies)
    if primary is not None and view.copy_active(primary):
        status = Status.GREEN if active_replicas == len(replicas) else Status.YELLOW
        unassigned = len(replicas) - active_replicas - sum(c.state == INITIALIZING for c in replicas)
        return ShardHealth(shard, status, True, 1 + active_replicas, initializing, unassigned, 0, relocating)
    if primary is not None and primary.state == INITIALIZING:
        status = Status.YELLOW if _recovers_without_data(view.metadata, primary) else Status.RED
        return ShardHealth(shard, status, False, active_replicas, initializing, len(replicas), 0)
    # Unassigned: a new primary no decider refused (only throttled, or not tried yet) is
    # yellow as well; one refused everywhere, or with data to recover, is red.
    status = Status.YELLOW if primary is not None and primary.allocation_status != "deciders_no" \
        and _recovers_without_data(view.metadata, primary) else Status.RED
    return ShardHealth(shard, status, False, active_replicas, initializing,
                       len(copies) - active_replicas - initializing, 1)


def index_health(view: IndexView) -> IndexHealth:
    metadata = view.metadata
    health = IndexHealth(view.name, metadata.number_of_shards, metadata.number_of_replicas,
                         [shard_health(view, n) for n in range(metadata.number_of_shards)])
    for shard in health.shards:
        health.counts.add(shard)
    if not health.shards:
        health.counts.status = Status.RED
    return health


@dataclass
class ClusterHealth:
    """The health of some indices (all of them unless the request names some), and the
    active-shard percentage of the whole cluster, as Elasticsearch computes it."""

    indices: list[IndexHealth]
    counts: Counts
    active_shards_percent: float

    @classmethod
    def of(cls, selected: Iterable[IndexView], everything: Iterable[IndexView]) -> ClusterHealth:
        indices = [index_health(v) for v in selected]
        counts = Counts()
        for index in indices:
            counts.add(index.counts)
        if counts.status == Status.GREEN:
            percent = 100.0
        else:
            total = active = 0
            for view in everything:
                total += len(view.copies)
                active += sum(view.copy_active(c) for c in view.copies)
            percent = active / total * 100 if total else 100.0
        return cls(indices, counts, percent)


def delayed_unassigned(node) -> int:
    """Replicas waiting for their node to come back, cluster-wide as ES counts them
    (UnassignedInfo.getNumberOfDelayedUnassigned): the reroute marks them `delayed`."""
    coordination = node.coordination
    content = content_of(coordination.applied_state if coordination is not None else None)
    return sum(c.delayed for name, copies in content.routing_table.indices.items()
               if name in content.metadata.indices for c in copies)


def index_views(node, names: Iterable[str] | None = None) -> list[IndexView]:
    """The named indices (every index of the applied state when None) as health sees them."""
    coordination = node.coordination
    content = content_of(coordination.applied_state if coordination is not None else None)
    wanted = content.metadata.indices if names is None else {
        n: content.metadata.indices[n] for n in names if n in content.metadata.indices}
    return [IndexView(metadata, content.routing_table.indices.get(name, ()), node.indices.indices.get(name),
                      node.node_id) for name, metadata in wanted.items()]
