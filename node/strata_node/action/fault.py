"""The fault switch tests throw (`strata.fault_injection: true` only, never in
production), as one action, `cluster:admin/strata/fault`, so a thrown switch is a task
like any other request: partitions (`disconnect`, `reconnect`), a failed shard copy
(`fail_shard`) and slow query phases (`search_delay`).
"""

from __future__ import annotations

from ..common.errors import IllegalArgument, IllegalState
from ..tasks.task import Task
from ..transport.wire import Message

FAULT = "cluster:admin/strata/fault"


class FaultRequest(Message):
    kind: str  # disconnect | reconnect | fail_shard | search_delay
    nodes: list[str] = []  # disconnect: names or ids
    index: str | None = None  # fail_shard
    shard: int = 0
    mode: str = "engine"  # fail_shard: engine | refuse_writes
    millis: int = 0  # search_delay


class FaultResponse(Message):
    disconnected: list[str] = []


def register(node) -> None:
    def known() -> dict[str, str]:
        """name or id -> node id, for every node this node knows of."""
        found: dict[str, str] = {}
        state = node.coordination.applied_state
        if state is not None:
            for node_id, details in state.node_details.items():
                found[details.name] = node_id
                found[node_id] = node_id
        for node_id in node.transport.peers():
            found.setdefault(node_id, node_id)
        for handshake in node.coordination.discovered.values():
            found.setdefault(handshake.node_name, handshake.node_id)
        return found

    async def on_fault(request: FaultRequest, task: Task) -> FaultResponse:
        if request.kind == "disconnect":
            names = known()
            unknown = [n for n in request.nodes if n not in names]
            if unknown:
                raise IllegalArgument(f"unknown nodes {unknown}")
            ids = {names[n] for n in request.nodes}
            node.coordination.disconnect(ids)
            return FaultResponse(disconnected=sorted(ids))
        if request.kind == "reconnect":
            node.coordination.reconnect()
        elif request.kind == "fail_shard":
            shard = node.indices.local_shard(request.index, request.shard)
            if request.mode == "refuse_writes":
                shard.refuse_writes = True  # a copy that fails every write it is sent, engine intact
            else:
                shard.engine.fail("injected by the fault switch", IllegalState("injected shard failure"))
        elif request.kind == "search_delay":
            node.search_shards.query_delay = request.millis / 1000
        else:
            raise IllegalArgument(f"unknown fault [{request.kind}]")
        return FaultResponse()

    if node.settings.get("strata.fault_injection"):
        node.transport.register(FAULT, FaultRequest, FaultResponse, on_fault)
