"""Node shutdown (Elasticsearch's `PUT|GET|DELETE /_nodes/{node_id}/shutdown`), what
operators and the Kubernetes operator use before they restart or remove a pod.

A marker in the cluster state's metadata customs (`node_shutdown`: node id -> type,
reason, start time, allocation delay, target) is all there is: the allocator reads it
(allocation/deciders.py `node_shutdown`, allocator `_drain` and `delay_of`), so a `remove`
or `replace` drains every copy off the node and takes no new one, and a `restart` keeps
the node's replicas waiting for it, up to the longer of `allocation_delay` and the index's
`index.unassigned.node_left.delayed_timeout` (the master reroutes when the wait ends,
allocation/delayed.py), instead of copying them elsewhere. The status is computed from
the routing table, as ES computes it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..allocation.allocator import best_node
from ..allocation.cluster_info import EMPTY, ClusterInfo
from ..allocation.deciders import SHUTDOWN_CUSTOM, THROTTLE, Allocation, decide
from ..cluster.state import ClusterStateContent, with_custom
from ..common.errors import ActionRequestValidation, IllegalArgument, ParseError, StrataError
from ..common.units import parse_time
from ..tasks.task import Task
from ..transport.wire import Empty, Message
from .cluster_admin import catch_up_with_master
from .master import DEFAULT_MASTER_TIMEOUT, MasterNodeRequest

PUT = "cluster:admin/shutdown/create"
DELETE = "cluster:admin/shutdown/delete"
GET = "cluster:admin/shutdown/get"
TYPES = ("restart", "remove", "replace")
DEFAULT_RESTART_DELAY_MS = 5 * 60 * 1000


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class PutShutdownRequest(MasterNodeRequest):
    node_id: str
    marker: bytes  # JSON


class GetShutdownRequest(MasterNodeRequest):
    node_ids: list[str] = []  # empty: every node with a shutdown marker


class GetShutdownResponse(Message):
    body: dict[str, Any]


class DeleteShutdownRequest(MasterNodeRequest):
    node_id: str


def parse_marker(node_id: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The marker a PUT body describes, checked as PutShutdownNodeAction.Request checks it."""
    errors = []
    kind = body.get("type")
    reason = body.get("reason")
    for key in body:
        if key not in ("type", "reason", "allocation_delay", "target_node_name"):
            raise IllegalArgument(f"[put_shutdown_node_request] unknown field [{key}]")
    if not isinstance(kind, str) or not kind:
        errors.append("the shutdown type is required")
    elif kind.lower() not in TYPES:
        raise IllegalArgument(f"unknown type [{kind}]")
    if not isinstance(reason, str) or not reason:
        errors.append("the reason for shutdown is required")
    delay = body.get("allocation_delay")
    target = body.get("target_node_name")
    kind = kind.lower() if isinstance(kind, str) else kind
    if delay is not None and kind != "restart":
        errors.append("[allocation_delay] is only allowed for RESTART-type shutdown requests")
    if kind == "replace" and not target:
        errors.append("target node name is required for REPLACE-type shutdown requests")
    if target is not None and kind != "replace":
        errors.append("target node name is only valid for REPLACE-type shutdown requests")
    if errors:
        raise ActionRequestValidation(errors)
    marker: dict[str, Any] = {"node_id": node_id, "type": kind, "reason": reason, "shutdown_started": now_ms}
    if kind == "restart":
        try:
            marker["allocation_delay_ms"] = (int(parse_time(str(delay), "allocation_delay") * 1000)
                                             if delay is not None else DEFAULT_RESTART_DELAY_MS)
        except ValueError as e:  # TimeValue.parseTimeValue's ElasticsearchParseException
            raise ParseError(str(e)) from None
        if delay is not None:
            marker["allocation_delay"] = str(delay)
    if target:
        marker["target_node_name"] = target
    return marker


def put_marker(content: ClusterStateContent, marker: dict[str, Any]) -> ClusterStateContent:
    markers = dict(content.metadata.customs.get(SHUTDOWN_CUSTOM) or {})
    existing = markers.get(marker["node_id"])
    if existing is not None and {k: v for k, v in existing.items() if k != "shutdown_started"} == \
            {k: v for k, v in marker.items() if k != "shutdown_started"}:
        return content  # the same request again changes nothing
    markers[marker["node_id"]] = marker
    return _with_markers(content, markers)


def delete_marker(content: ClusterStateContent, node_id: str) -> ClusterStateContent:
    markers = dict(content.metadata.customs.get(SHUTDOWN_CUSTOM) or {})
    if node_id not in markers:
        raise ResourceNotFound(f"node [{node_id}] is not currently shutting down")
    del markers[node_id]
    return _with_markers(content, markers)


def _with_markers(content: ClusterStateContent, markers: dict[str, Any]) -> ClusterStateContent:
    return with_custom(content, SHUTDOWN_CUSTOM, markers)


def shard_migration(content: ClusterStateContent, nodes, marker: dict[str, Any],
                    info: ClusterInfo = EMPTY, node_settings: Mapping[str, Any] = {}) -> dict[str, Any]:
    """COMPLETE once no copy is left on the node; STALLED when a copy left there can go
    nowhere (the deciders refuse every other node); IN_PROGRESS otherwise."""
    node_id = marker["node_id"]
    if marker["type"] == "restart":
        return {"status": "COMPLETE", "shard_migrations_remaining": 0,
                "explanation": "no shard relocation is necessary for a node restart"}
    remaining = [c for copies in content.routing_table.indices.values() for c in copies if c.node == node_id]
    if not remaining:
        return {"status": "COMPLETE", "shard_migrations_remaining": 0}
    alloc = Allocation(content, nodes, info=info, node_settings=node_settings)
    alloc.count(content.routing_table.indices)
    for copy in remaining:
        if copy.state != "STARTED":
            continue  # moving already, or just placed: in progress
        shard = [c for c in content.routing_table.indices[copy.index] if c.shard == copy.shard]
        index_load = dict.fromkeys(alloc.data_nodes, 0)
        # The started copy itself, as the reroute's drain judges it (a primary stays a primary
        # for the enable decider, and awareness counts the move within its zone)
        if best_node(copy, shard, alloc, index_load) is None and not _throttled(copy, shard, alloc):
            role = "primary" if copy.primary else "replica"
            return {"status": "STALLED", "shard_migrations_remaining": len(remaining),
                    "explanation": f"shard [{copy.shard}] [{role}] of index [{copy.index}] cannot move, use "
                                   "the Cluster Allocation Explain API on this shard for details"}
    return {"status": "IN_PROGRESS", "shard_migrations_remaining": len(remaining)}


def _throttled(copy, shard, alloc: Allocation) -> bool:
    return any(decide(copy, info, shard, alloc)[0] == THROTTLE for n, info in alloc.data_nodes.items()
               if all(c.node != n for c in shard))


def status(content: ClusterStateContent, nodes, node_ids: list[str] | None, info: ClusterInfo = EMPTY,
           node_settings: Mapping[str, Any] = {}) -> dict[str, Any]:
    markers = content.metadata.customs.get(SHUTDOWN_CUSTOM) or {}
    out = []
    for node_id, marker in sorted(markers.items()):
        if node_ids and node_id not in node_ids:
            continue
        migration = shard_migration(content, nodes, marker, info, node_settings)
        entry: dict[str, Any] = {
            "node_id": node_id, "type": marker["type"].upper(), "reason": marker["reason"],
            "shutdown_startedmillis": marker["shutdown_started"], "status": migration["status"],
            "shard_migration": migration, "persistent_tasks": {"status": "COMPLETE"},
            "plugins": {"status": "COMPLETE"}}
        if "allocation_delay" in marker:
            entry["allocation_delay"] = marker["allocation_delay"]
        if "target_node_name" in marker:
            entry["target_node_name"] = marker["target_node_name"]
        out.append(entry)
    return {"nodes": out}


def register(node) -> None:
    async def put(request: PutShutdownRequest, task: Task) -> Empty:
        marker = orjson.loads(request.marker)
        await node.coordination.submit(f"put-node-shutdown [{request.node_id}]",
                                       lambda content: put_marker(content, marker))
        return Empty()

    async def delete(request: DeleteShutdownRequest, task: Task) -> Empty:
        await node.coordination.submit(f"delete-node-shutdown [{request.node_id}]",
                                       lambda content: delete_marker(content, request.node_id))
        return Empty()

    async def caught_up(action: str, request: MasterNodeRequest, task: Task) -> Empty:
        """Answered once this node has caught up with the master's state, which carries it."""
        await node.master_actions.on_master(action, request, task)
        await catch_up_with_master(node, DEFAULT_MASTER_TIMEOUT)
        return Empty()

    async def get(request: GetShutdownRequest, task: Task) -> GetShutdownResponse:
        """On the master (ES's TransportGetShutdownStatusAction): its cluster info is what
        tells a shard the disks keep from moving."""
        state = node.coordination.applied_state
        body = status(node.coordination.content, dict(state.node_details), request.node_ids or None,
                      node.info_service.info, node.settings.values)
        return GetShutdownResponse(body=body)

    node.master_actions.register(PUT, PutShutdownRequest, Empty, put,
                                 coordinate=functools.partial(caught_up, PUT))
    node.master_actions.register(DELETE, DeleteShutdownRequest, Empty, delete,
                                 coordinate=functools.partial(caught_up, DELETE))
    node.master_actions.register(GET, GetShutdownRequest, GetShutdownResponse, get)


def now_ms() -> int:
    return int(time.time() * 1000)
