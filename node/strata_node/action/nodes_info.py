"""Nodes info (`cluster:monitor/nodes/info`, `GET /_nodes`): what each selected node says
about itself, gathered over the transport with one `cluster:monitor/nodes/info[n]`
request per node."""

from __future__ import annotations

import asyncio
from typing import Any

from .. import ES_COMPAT_VERSION, __version__
from ..common.errors import StrataError, error_to_dict
from ..tasks.task import Task
from ..transport.wire import Message
from .node_selection import select_nodes

NODES_INFO = "cluster:monitor/nodes/info"
NODES_INFO_NODE = "cluster:monitor/nodes/info[n]"


class NodesInfoRequest(Message):
    metrics: list[str] = []


class NodeInfo(Message):
    node_id: str
    info: dict[str, Any]


class NodesRequest(Message):
    """A nodes-level action's request: the nodes it asks (selectors; empty: every node)."""

    node_ids: list[str] = []
    metrics: list[str] = []  # empty: every metric


class NodesResponse(Message):
    total: int  # the nodes asked
    nodes: dict[str, dict[str, Any]]  # node id -> what it answered
    failures: list[dict[str, Any]] = []  # ES-shaped errors of those that did not


def local_info(node) -> dict[str, Any]:
    transport = node.transport.address
    host = transport.rsplit(":", 1)[0] if transport else "127.0.0.1"
    return {
        "name": node.name,
        "transport_address": transport,
        "host": host,
        "ip": host,
        "version": ES_COMPAT_VERSION,
        "build_flavor": "default",
        "build_type": "tar",
        "build_hash": f"strata-{__version__}",
        "roles": sorted(node.settings.get("node.roles")),
        "attributes": {},
        "http": {"bound_address": [node.http_address], "publish_address": node.http_address,
                 "max_content_length_in_bytes": node.settings.get("http.max_content_length")},
        "transport": {"bound_address": [transport], "publish_address": transport},
    }


def register(node) -> None:
    async def handle(request: NodesInfoRequest, task: Task) -> NodeInfo:
        return NodeInfo(node_id=node.node_id, info=local_info(node))

    async def nodes_info(request: NodesRequest, task: Task) -> NodesResponse:
        targets = select_nodes(node, request.node_ids, node.cluster_nodes())

        async def one(address: str | None) -> NodeInfo | dict[str, Any]:
            try:
                return await node.transport.execute(NODES_INFO_NODE, NodesInfoRequest(), NodeInfo,
                                                    address=address, timeout=30.0)
            except StrataError as e:
                return error_to_dict(e)

        answers = await asyncio.gather(*(one(a) for a in targets.values()))
        return NodesResponse(total=len(targets),
                             nodes={a.node_id: a.info for a in answers if isinstance(a, NodeInfo)},
                             failures=[a for a in answers if not isinstance(a, NodeInfo)])

    node.transport.register(NODES_INFO_NODE, NodesInfoRequest, NodeInfo, handle)
    node.transport.register(NODES_INFO, NodesRequest, NodesResponse, nodes_info)
