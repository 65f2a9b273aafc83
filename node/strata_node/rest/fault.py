"""The transport-level fault switch the partition tests throw (only with
`strata.fault_injection: true`, never in production).

    POST /_strata/fault/disconnect  {"nodes": ["<node name or id>", ...]}
    POST /_strata/fault/reconnect
    POST /_strata/fault/fail_shard  {"index": "<name>", "shard": <n>, "mode": "engine"|"refuse_writes"}

A disconnected node's requests are refused and requests to it fail as a dropped network
would, in both directions as far as this node is concerned; a partition is made by
throwing the switch on the nodes on both sides. `fail_shard` fails this node's copy of a
shard as a broken disk would (its engine fails, and the node reports it), or with
`refuse_writes` makes it fail every replicated write while its engine stays up.
"""

from __future__ import annotations

from ..action.fault import FAULT, FaultRequest, FaultResponse
from ..common.errors import IllegalArgument
from .controller import RestController, RestResponse
from .request import RestRequest


class FaultHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        if not self.node.settings.get("strata.fault_injection"):
            return
        c.register("POST", "/_strata/fault/disconnect", self.disconnect, action=FAULT)
        c.register("POST", "/_strata/fault/reconnect", self.reconnect, action=FAULT)
        c.register("POST", "/_strata/fault/fail_shard", self.fail_shard, action=FAULT)

    async def disconnect(self, request: RestRequest) -> RestResponse:
        names = request.json_body(required=True).get("nodes")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise IllegalArgument("[nodes] must be a list of node names or ids")
        response: FaultResponse = await self.node.client.execute(FAULT, FaultRequest(kind="disconnect",
                                                                                     nodes=names))
        return RestResponse(200, {"acknowledged": True, "disconnected": response.disconnected})

    async def reconnect(self, request: RestRequest) -> RestResponse:
        await self.node.client.execute(FAULT, FaultRequest(kind="reconnect"))
        return RestResponse(200, {"acknowledged": True})

    async def fail_shard(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        index, number = body.get("index"), body.get("shard", 0)
        if not isinstance(index, str) or not isinstance(number, int):
            raise IllegalArgument("[index] must be an index name and [shard] a shard number")
        await self.node.client.execute(FAULT, FaultRequest(kind="fail_shard", index=index, shard=number,
                                                           mode=body.get("mode", "engine")))
        return RestResponse(200, {"acknowledged": True})
