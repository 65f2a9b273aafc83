"""Cluster health from the shards this node really holds (ClusterStateHealth,
ClusterIndexHealth and ClusterShardHealth in Elasticsearch).

Every shard has one primary copy here and `number_of_replicas` replica copies that stay
unassigned until replication lands (there is no second node to put them on), so:

- a STARTED primary is active; the shard is green with no replicas, yellow with some;
- a FAILED primary (a store or translog that did not recover) is unassigned: red;
- an INITIALIZING primary is recovering an existing store (a new index is only
  published once its shards have started, so nothing else is ever seen initializing),
  which Elasticsearch reports red until it is done;
- a CLOSED primary (its index is being deleted, or the node is stopping) is unassigned: red.

Nothing here reads a clock or waits; the REST handler re-evaluates until its wait
conditions hold or its timeout passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

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

    @property
    def active_primary(self) -> int:
        return int(self.primary_active)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.text, "primary_active": self.primary_active,
                "active_shards": self.active, "relocating_shards": 0,
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
    status: Status = Status.GREEN

    def add(self, other: ShardHealth | Counts) -> None:
        self.active_primary += other.active_primary
        self.active += other.active
        self.initializing += other.initializing
        self.unassigned += other.unassigned
        self.unassigned_primary += other.unassigned_primary
        self.status = max(self.status, other.status)

    def to_json(self) -> dict[str, Any]:
        return {"active_primary_shards": self.active_primary, "active_shards": self.active,
                "relocating_shards": 0, "initializing_shards": self.initializing,
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


def shard_health(shard: IndexShard, replicas: int) -> ShardHealth:
    if primary_is_active(shard):
        status = Status.GREEN if replicas == 0 else Status.YELLOW
        return ShardHealth(shard.ref.shard, status, True, 1, 0, replicas, 0)
    if shard.state == INITIALIZING:
        return ShardHealth(shard.ref.shard, Status.RED, False, 0, 1, replicas, 0)
    # FAILED, CLOSED, or STARTED with an engine that has failed (marked FAILED on next use)
    return ShardHealth(shard.ref.shard, Status.RED, False, 0, 0, replicas + 1, 1)


def index_health(service: IndexService) -> IndexHealth:
    replicas = service.metadata.number_of_replicas
    health = IndexHealth(service.name, service.metadata.number_of_shards, replicas,
                         [shard_health(s, replicas) for s in service.shards])
    for shard in health.shards:
        health.counts.add(shard)
    if not health.shards:
        health.counts.status = Status.RED
    return health


@dataclass
class ClusterHealth:
    """The health of some indices (all of them unless the request names some), and the
    active-shard percentage of the whole node, as Elasticsearch computes it."""

    indices: list[IndexHealth]
    counts: Counts
    active_shards_percent: float

    @classmethod
    def of(cls, selected: Iterable[IndexService], everything: Iterable[IndexService]) -> ClusterHealth:
        indices = [index_health(s) for s in selected]
        counts = Counts()
        for index in indices:
            counts.add(index.counts)
        if counts.status == Status.GREEN:
            percent = 100.0
        else:
            total = active = 0
            for service in everything:
                copies = 1 + service.metadata.number_of_replicas
                total += copies * len(service.shards)
                active += sum(primary_is_active(s) for s in service.shards)
            percent = active / total * 100 if total else 100.0
        return cls(indices, counts, percent)
