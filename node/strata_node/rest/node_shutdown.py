"""`PUT|GET|DELETE /_nodes/{node_id}/shutdown` and `GET /_nodes/shutdown` (the node
shutdown API; the work is in action/node_shutdown.py and the allocator)."""

from __future__ import annotations

import orjson

from ..action import node_shutdown as shutdown
from ..common.errors import ParseError
from .controller import RestController, RestResponse
from .request import RestRequest

PARAMS = ("master_timeout", "timeout")


class NodeShutdownHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("PUT", "/_nodes/{node_id}/shutdown", self.put, PARAMS, action=shutdown.PUT)
        c.register("DELETE", "/_nodes/{node_id}/shutdown", self.delete, PARAMS, action=shutdown.DELETE)
        for path in ("/_nodes/shutdown", "/_nodes/{node_id}/shutdown"):
            c.register("GET", path, self.get, ("master_timeout",), action=shutdown.GET)

    async def put(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        if not isinstance(body, dict):
            raise ParseError("request body must be an object")
        node_id = request.param("node_id")
        marker = shutdown.parse_marker(node_id, body, shutdown.now_ms())
        await self.node.client.execute(
            shutdown.PUT, shutdown.PutShutdownRequest(node_id=node_id, marker=orjson.dumps(marker),
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"acknowledged": True})

    async def delete(self, request: RestRequest) -> RestResponse:
        await self.node.client.execute(
            shutdown.DELETE, shutdown.DeleteShutdownRequest(node_id=request.param("node_id"),
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"acknowledged": True})

    async def get(self, request: RestRequest) -> RestResponse:
        ids = [i for i in (request.param("node_id") or "").split(",") if i and i != "_all"]
        master_timeout = request.time_param("master_timeout", 30.0)
        get = shutdown.GetShutdownRequest(node_ids=ids, master_timeout=master_timeout)
        response: shutdown.GetShutdownResponse = await self.node.client.execute(shutdown.GET, get)
        return RestResponse(200, response.body)
