"""`indices:monitor/recovery` (TransportRecoveryAction): how each copy of the resolved
indices came to be where it is, gathered from every node with one
`indices:monitor/recovery[n]` request each; a node that does not answer leaves its
copies out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..common.errors import StrataError
from ..tasks.task import Task
from ..transport.wire import Message
from .resolve import IndicesOptions, resolve_names

log = logging.getLogger(__name__)

RECOVERY = "indices:monitor/recovery"
NODE_ACTION = "indices:monitor/recovery[n]"


class NodeRecoveriesRequest(Message):
    indices: list[str]
    active_only: bool = False


class NodeRecoveriesResponse(Message):
    recoveries: list[dict[str, Any]]


class RecoveryRequest(Message):
    expression: str | None = None
    options: IndicesOptions = IndicesOptions()
    active_only: bool = False


class RecoveryResponse(Message):
    recoveries: list[dict[str, Any]]  # by index, shard, primary first
    nodes: dict[str, dict[str, Any]]  # node id -> who it is, for the source and target of each


def register(node) -> None:
    def on_node(request: NodeRecoveriesRequest, task: Task) -> NodeRecoveriesResponse:
        wanted = set(request.indices)
        states = [s.to_json() for s in node.recoveries.local_states()
                  if s.index in wanted and (s.active or not request.active_only)]
        return NodeRecoveriesResponse(recoveries=states)

    async def recovery(request: RecoveryRequest, task: Task) -> RecoveryResponse:
        names = resolve_names(node.indices, request.expression, request.options)
        ask = NodeRecoveriesRequest(indices=names, active_only=request.active_only)

        async def one(node_id: str, address: str | None) -> list[dict[str, Any]]:
            try:
                response = await node.transport.execute(NODE_ACTION, ask, address=address, timeout=30.0)
                return response.recoveries
            except StrataError as e:  # a node that does not answer leaves its copies out
                log.warning("node [%s] did not report its recoveries: %s", node_id, e)
                return []

        nodes = node.cluster_nodes()
        answers = await asyncio.gather(*(one(n, a) for n, a in nodes.items()))
        entries = [entry for answer in answers for entry in answer]
        entries.sort(key=lambda e: (e["index"], e["id"], not e["primary"]))
        involved = {e[k] for e in entries for k in ("source_node", "target_node") if e.get(k)}
        return RecoveryResponse(recoveries=entries, nodes={n: _node(node, n) for n in involved})

    node.transport.register(NODE_ACTION, NodeRecoveriesRequest, NodeRecoveriesResponse, on_node)
    node.transport.register(RECOVERY, RecoveryRequest, RecoveryResponse, recovery)


def _node(node, node_id: str) -> dict[str, Any]:
    coordination = node.coordination
    state = coordination.applied_state if coordination is not None else None
    details = state.node_details.get(node_id) if state is not None else None
    if details is None:
        return {"id": node_id}
    host = (details.transport_address or "").rsplit(":", 1)[0]
    return {"id": node_id, "host": host, "transport_address": details.transport_address, "ip": host,
            "name": details.name}
