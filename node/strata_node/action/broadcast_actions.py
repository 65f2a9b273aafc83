"""The top-level refresh, flush and force merge actions, `indices:admin/refresh`,
`indices:admin/flush` and `indices:admin/forcemerge`: the node that takes one resolves
the indices and broadcasts the shard-level action (`[s]`) to every active copy
(broadcast.py), whose requests are children of its task."""

from __future__ import annotations

from typing import Any

from ..common.errors import ActionRequestValidation
from ..tasks.task import Task
from ..transport.wire import Message
from .broadcast import (
    FLUSH_SHARD,
    FORCE_MERGE_SHARD,
    REFRESH_SHARD,
    FlushShardRequest,
    ForceMergeShardRequest,
    RefreshShardRequest,
    broadcast,
)
from .resolve import IndicesOptions, resolve_names

REFRESH = "indices:admin/refresh"
FLUSH = "indices:admin/flush"
FORCE_MERGE = "indices:admin/forcemerge"


class RefreshRequest(Message):
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()

    @property
    def description(self) -> str:
        return f"indices[{self.expression or ''}]"


class FlushRequest(RefreshRequest):
    force: bool = False
    wait_if_ongoing: bool = True


class ForceMergeRequest(RefreshRequest):
    max_num_segments: int = -1  # -1: as the merge finds; any other value merges all it may into one
    only_expunge_deletes: bool = False
    flush: bool = True

    @property
    def description(self) -> str:
        """ForceMergeRequest.getDescription: the indices as the request names them
        (Arrays.toString), the segment count `-1` when unset, Java's booleans."""
        names = (self.expression or "").split(",")
        while names and not names[-1]:  # String.split drops trailing empty parts
            names.pop()
        return (f"Force-merge indices [{', '.join(names)}], maxSegments[{self.max_num_segments}], "
                f"onlyExpungeDeletes[{str(self.only_expunge_deletes).lower()}], "
                f"flush[{str(self.flush).lower()}]")


class BroadcastResponse(Message):
    shards: dict[str, Any]  # `_shards`: total, successful, failed and the failures


def validate_force_merge(request: ForceMergeRequest) -> None:
    """ForceMergeRequest.validate (the REST layer checks it too, before a detached run)."""
    if request.only_expunge_deletes and request.max_num_segments != -1:
        raise ActionRequestValidation(["cannot set only_expunge_deletes and max_num_segments at the same "
                                       "time, those two parameters are mutually exclusive"])


def register(node) -> None:
    async def refresh(request: RefreshRequest, task: Task) -> BroadcastResponse:
        names = resolve_names(node.indices, request.expression, request.options)
        result = await broadcast(node, REFRESH_SHARD, names, lambda md, shard: RefreshShardRequest(
            index=md.name, index_uuid=md.uuid, shard=shard))
        return BroadcastResponse(shards=result.to_json())

    async def flush(request: FlushRequest, task: Task) -> BroadcastResponse:
        if request.force and not request.wait_if_ongoing:
            # FlushRequest.validate: checked before any index is resolved or flushed.
            raise ActionRequestValidation(["wait_if_ongoing must be true for a force flush"])
        names = resolve_names(node.indices, request.expression, request.options)
        result = await broadcast(node, FLUSH_SHARD, names, lambda md, shard: FlushShardRequest(
            index=md.name, index_uuid=md.uuid, shard=shard, force=request.force,
            wait_if_ongoing=request.wait_if_ongoing))
        return BroadcastResponse(shards=result.to_json())

    async def force_merge(request: ForceMergeRequest, task: Task) -> BroadcastResponse:
        validate_force_merge(request)
        names = resolve_names(node.indices, request.expression, request.options)
        result = await broadcast(node, FORCE_MERGE_SHARD, names, lambda md, shard: ForceMergeShardRequest(
            index=md.name, index_uuid=md.uuid, shard=shard, flush=request.flush))
        return BroadcastResponse(shards=result.to_json())

    node.transport.register(REFRESH, RefreshRequest, BroadcastResponse, refresh)
    node.transport.register(FORCE_MERGE, ForceMergeRequest, BroadcastResponse, force_merge)
    node.transport.register(FLUSH, FlushRequest, BroadcastResponse, flush)
