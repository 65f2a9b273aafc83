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

from ..common.errors import IllegalArgument, IllegalState
from .controller import RestController, RestResponse
from .request import RestRequest


class FaultHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        if not self.node.settings.get("strata.fault_injection"):
            return
        c.register("POST", "/_strata/fault/disconnect", self.disconnect)
        c.register("POST", "/_strata/fault/reconnect", self.reconnect)
        c.register("POST", "/_strata/fault/fail_shard", self.fail_shard)

    def _known(self) -> dict[str, str]:
        """name or id -> node id, for every node this node knows of."""
        known: dict[str, str] = {}
        state = self.node.coordination.applied_state
        if state is not None:
            for node_id, details in state.node_details.items():
                known[details.name] = node_id
                known[node_id] = node_id
        for node_id in self.node.transport.peers():
            known.setdefault(node_id, node_id)
        for handshake in self.node.coordination.discovered.values():
            known.setdefault(handshake.node_name, handshake.node_id)
        return known

    async def disconnect(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        names = body.get("nodes")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise IllegalArgument("[nodes] must be a list of node names or ids")
        known = self._known()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise IllegalArgument(f"unknown nodes {unknown}")
        ids = {known[n] for n in names}
        self.node.coordination.disconnect(ids)
        return RestResponse(200, {"acknowledged": True, "disconnected": sorted(ids)})

    async def reconnect(self, request: RestRequest) -> RestResponse:
        self.node.coordination.reconnect()
        return RestResponse(200, {"acknowledged": True})

    async def fail_shard(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        index, number = body.get("index"), body.get("shard", 0)
        if not isinstance(index, str) or not isinstance(number, int):
            raise IllegalArgument("[index] must be an index name and [shard] a shard number")
        shard = self.node.indices.local_shard(index, number)
        if body.get("mode", "engine") == "refuse_writes":
            shard.refuse_writes = True  # a copy that fails every write it is sent, engine intact
        else:
            shard.engine.fail("injected by the fault switch", IllegalState("injected shard failure"))
        return RestResponse(200, {"acknowledged": True})
