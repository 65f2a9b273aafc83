"""Nodes info (`GET /_nodes`): what each node says about itself, gathered over the
transport with one `cluster:monitor/nodes/info[n]` request per node."""

from __future__ import annotations

from typing import Any

from .. import ES_COMPAT_VERSION, __version__
from ..tasks.task import Task
from ..transport.wire import Message

NODES_INFO_NODE = "cluster:monitor/nodes/info[n]"


class NodesInfoRequest(Message):
    metrics: list[str] = []


class NodeInfo(Message):
    node_id: str
    info: dict[str, Any]


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

    node.transport.register(NODES_INFO_NODE, NodesInfoRequest, NodeInfo, handle)
