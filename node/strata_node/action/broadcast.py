"""Refresh, flush and force merge as broadcast actions: any node coordinates them, sending a
shard-level request (`indices:admin/refresh[s]`, `indices:admin/flush[s]`,
`indices:admin/forcemerge[s]`) to every active copy of every
shard of the resolved indices, and sums the answers into `_shards`, as Elasticsearch's
TransportBroadcastReplicationAction and TransportBroadcastByNodeAction do.

`total` counts every configured copy (primaries and replicas). A copy that is not active
(an unassigned replica, a primary whose node left) is in `total` only, and so is a copy
that turned out to be gone when its request arrived (the shard moved, the index was
deleted): Elasticsearch leaves "shard not available" out of the failures. A primary whose
allocation failed is a failure, with the reason the master recorded, and so is a copy that
answers with an error or whose node cannot be reached: those are faults a client must see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cluster.shard_copies import ACTIVE
from ..cluster.state import ShardRouting
from ..common.errors import StrataError, UnavailableShards
from ..engine.merge import MergeResult
from ..index.metadata import IndexMetadata
from ..tasks.task import Task
from ..transport.wire import Empty, Message
from . import index_stats

REFRESH_SHARD = "indices:admin/refresh[s]"
FLUSH_SHARD = "indices:admin/flush[s]"
FORCE_MERGE_SHARD = "indices:admin/forcemerge[s]"

# Answers that say the copy is not there (any more), not that the operation failed.
NOT_AVAILABLE = frozenset({"shard_not_found_exception", "index_not_found_exception"})
# How long a broadcast waits for primaries that are opening (an index just created, a node
# that restarted) to start, so that a node a state behind does not skip them.
INITIALIZING_WAIT = 30.0

FAILED = "ALLOCATION_FAILED"  # the unassigned reason of a copy that failed to open or failed later

STATUS_NAMES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 409: "CONFLICT", 500: "INTERNAL_SERVER_ERROR",
                503: "SERVICE_UNAVAILABLE"}


class ShardBroadcastRequest(Message):
    index: str
    index_uuid: str
    shard: int

    @property
    def description(self) -> str:
        return f"[{self.index}][{self.shard}]"


class RefreshShardRequest(ShardBroadcastRequest):
    pass


class FlushShardRequest(ShardBroadcastRequest):
    force: bool = False
    wait_if_ongoing: bool = True


class ForceMergeShardRequest(ShardBroadcastRequest):
    flush: bool = True


def register(node) -> None:
    """The shard-level refresh and flush actions, and the node-level stats action that
    `_cat/indices` and `_cat/shards` broadcast (action/index_stats.py)."""
    index_stats.register(node)

    def refresh(request: RefreshShardRequest, task: Task) -> Empty:
        node.indices.local_shard(request.index, request.shard, request.index_uuid).active_engine().refresh()
        return Empty()

    async def flush(request: FlushShardRequest, task: Task) -> Empty:
        engine = node.indices.local_shard(request.index, request.shard, request.index_uuid).active_engine()
        # wait_if_ongoing=false: a flush already running is enough (ES's flush returns
        # without flushing when it cannot take the flush lock at once).
        if request.wait_if_ongoing or not engine._flush_lock.locked():
            await engine.flush(force=request.force)
        return Empty()

    async def force_merge(request: ForceMergeShardRequest, task: Task) -> Empty:
        """Every copy merges on its own, as Lucene's do (engine/merge.py); one merge at a
        time per node, as ES's force_merge pool of one thread has it."""
        async with node.force_merges:
            shard = node.indices.local_shard(request.index, request.shard, request.index_uuid)
            engine = shard.active_engine()
            result = MergeResult()
            task.status = result.to_json
            await engine.force_merge(result)
            if request.flush:
                await engine.flush(force=True)  # makes the merge durable: its batches are not synced
        return Empty()

    node.transport.register(REFRESH_SHARD, RefreshShardRequest, Empty, refresh)
    node.transport.register(FLUSH_SHARD, FlushShardRequest, Empty, flush)
    node.transport.register(FORCE_MERGE_SHARD, ForceMergeShardRequest, Empty, force_merge)


@dataclass
class BroadcastResult:
    """What `_shards` reports: every configured copy, those that succeeded, and the failures
    as (index, shard, error)."""

    total: int = 0
    successful: int = 0
    failures: list[tuple[str, int, StrataError]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"total": self.total, "successful": self.successful,
                                "failed": len(self.failures)}
        if self.failures:
            body["failures"] = [shard_failure(index, shard, error) for index, shard, error in self.failures]
        return body


def shard_failure(index: str, shard: int, error: StrataError) -> dict[str, Any]:
    """One entry of `_shards.failures` (DefaultShardOperationFailedException)."""
    return {"shard": shard, "index": index, "status": STATUS_NAMES.get(error.status, str(error.status)),
            "reason": error.to_dict()}


def _opening(content, names: list[str]) -> bool:
    return any(c.primary and c.state == "INITIALIZING"
               for name in names for c in content.routing_table.indices.get(name, ()))


async def broadcast(node, action: str, names: list[str],
                    request: Callable[[IndexMetadata, int], Message]) -> BroadcastResult:
    """Run a shard-level `action` on every active copy of every shard of `names` (`request`
    builds the shard request from the index's metadata and the shard number)."""
    coordination = node.coordination
    if _opening(coordination.content, names):
        await coordination.wait_for_state(lambda s: not _opening(coordination.content, names),
                                          INITIALIZING_WAIT)
    content = coordination.content
    members = node.cluster_nodes()
    result = BroadcastResult()
    sends = []
    for name in names:
        metadata = content.metadata.indices.get(name)
        if metadata is None:  # deleted since it was resolved: nothing of it to count
            continue
        result.total += metadata.number_of_shards * (1 + metadata.number_of_replicas)
        for copy in content.routing_table.indices.get(name, ()):
            if copy.state in ACTIVE and copy.node in members:
                sends.append(_send(node, action, copy, request(metadata, copy.shard)))
            elif copy.primary and copy.state == "UNASSIGNED" and copy.unassigned_reason == FAILED:
                result.failures.append((name, copy.shard, _failed_allocation(metadata, copy)))
    for copy, error in await asyncio.gather(*sends):
        if error is None:
            result.successful += 1
        elif error.type not in NOT_AVAILABLE:
            result.failures.append((copy.index, copy.shard, error))
    result.failures.sort(key=lambda f: (f[0], f[1]))
    return result


async def _send(node, action: str, copy: ShardRouting,
                request: Message) -> tuple[ShardRouting, StrataError | None]:
    try:
        await node.transport.execute(action, request, Empty, address=node.shard_router.address(copy.node))
        return copy, None
    except StrataError as e:
        return copy, e


def _failed_allocation(metadata: IndexMetadata, copy: ShardRouting) -> StrataError:
    details = f": {copy.unassigned_details}" if copy.unassigned_details else ""
    return UnavailableShards(f"[{metadata.name}][{copy.shard}] primary shard is not active{details}",
                             index_uuid=metadata.uuid, shard=str(copy.shard), index=metadata.name)
