"""`POST /_cluster/reroute` and the cluster allocation explain API on the master
(Elasticsearch's TransportClusterRerouteAction and TransportClusterAllocationExplainAction).

The reroute's commands and the explanation are pure functions (allocation/commands.py,
allocation/explain.py) of the master's state; this module runs them there. A reroute that
starts an empty primary first empties that node's folder of the shard
(`internal:cluster/reroute/shard_store`, which also tells whether a node holds data of a
shard, as allocate_stale_primary needs), then submits one cluster state update that runs
the commands again on the content it updates, followed by the usual reroute. `dry_run`
answers with what the commands would do without publishing anything.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import msgspec
import orjson

from ..allocation import commands as reroute_commands
from ..allocation.explain import explain, find_shard
from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent
from ..common.errors import IllegalState, ShardNotFound
from ..tasks.task import Task
from ..transport.wire import Message
from .index_admin import APPLY_TIMEOUT
from .master import MasterNodeRequest

REROUTE = "cluster:admin/reroute"
EXPLAIN = "cluster:monitor/allocation/explain"
SHARD_STORE = "internal:cluster/reroute/shard_store"
STORE_TIMEOUT = 30.0


class RerouteRequest(MasterNodeRequest):
    commands: bytes  # JSON: a list of allocation/commands.Command fields
    dry_run: bool = False
    explain: bool = False
    retry_failed: bool = False
    ack_timeout: float = APPLY_TIMEOUT  # how long every node may take to apply it (`timeout`)


class RerouteResponse(Message):
    term: int
    version: int
    explanations: bytes  # JSON list
    routing: bytes = b""  # with dry_run: the routing table the commands would give, JSON
    acknowledged: bool = True  # every node applied it within the ack timeout (a dry run: nothing asked)


class ExplainRequest(MasterNodeRequest):
    index: str | None = None
    shard: int | None = None
    primary: bool | None = None
    current_node: str | None = None
    include_yes_decisions: bool = False
    include_disk_info: bool = False


class ExplainResponse(Message):
    body: bytes  # JSON


class ShardStoreRequest(Message):
    index_uuid: str
    shard: int
    wipe: bool = False


class ShardStoreResponse(Message):
    exists: bool


def _remove(path) -> None:
    """Whatever is at a shard's path (a folder, or a file in its way)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def members(state) -> dict[str, DiscoveryNode]:
    """The nodes of a state, as the reroute on the master sees them."""
    if state is None:
        return {}
    return {n: state.node_details[n] for n in sorted(state.nodes) if n in state.node_details}


def register(node) -> None:
    def coordination():
        return node.coordination

    async def shard_store(request: ShardStoreRequest, task: Task) -> ShardStoreResponse:
        """Whether this node holds a folder for a shard; with `wipe`, empty it first (an
        empty primary is about to open there). A copy open here is closed first if it
        failed, refused otherwise."""
        # Only a shard of an index of the applied state: the path is built from the request.
        known = {m.uuid: m for m in coordination().content.metadata.indices.values()}
        metadata = known.get(request.index_uuid)
        if metadata is None or not 0 <= request.shard < metadata.number_of_shards:
            raise ShardNotFound(metadata.name if metadata else "_na_", request.index_uuid, request.shard)
        path = node.indices.root / request.index_uuid / str(request.shard)
        if request.wipe:
            for service in list(node.indices.indices.values()):
                if service.metadata.uuid != request.index_uuid:
                    continue
                local = service.local.get(request.shard)
                if local is not None:
                    if local.state != "FAILED":
                        raise IllegalState(f"[{service.name}][{request.shard}] is open on node [{node.name}]")
                    await service.close_shard(request.shard)
        loop = asyncio.get_running_loop()
        exists = await loop.run_in_executor(None, path.exists)
        if request.wipe and exists:
            await loop.run_in_executor(None, _remove, path)
        return ShardStoreResponse(exists=exists)

    async def ask_store(node_id: str, index_uuid: str, shard: int, wipe: bool) -> bool:
        answer = await node.transport.execute(
            SHARD_STORE, ShardStoreRequest(index_uuid=index_uuid, shard=shard, wipe=wipe), ShardStoreResponse,
            address=node.shard_router.address(node_id), timeout=STORE_TIMEOUT)
        return answer.exists

    async def reroute(request: RerouteRequest, task: Task) -> RerouteResponse:
        c = coordination()
        commands = [reroute_commands.Command(**fields) for fields in orjson.loads(request.commands)]
        nodes = members(c.applied_state)

        def run(content: ClusterStateContent, stores=None) -> reroute_commands.RerouteResult:
            return reroute_commands.execute(content, nodes, commands, explain=request.explain,
                                            retry_failed=request.retry_failed, stores=stores,
                                            now_ms=c.clock(), info=node.info_service.info,
                                            node_settings=node.settings.values)

        plan = run(c.content)  # a command that cannot run fails here, before anything happens
        stores = {key: await ask_store(*key, wipe=False) for key in plan.store_checks}
        if request.dry_run:
            if stores:
                plan = run(c.content, stores)
            state = c.applied_state
            return RerouteResponse(term=state.term, version=state.version,
                                   explanations=orjson.dumps(plan.explanations),
                                   routing=orjson.dumps(msgspec.to_builtins(plan.content.routing_table)))
        if stores and any(not exists for exists in stores.values()):
            plan = run(c.content, stores)  # refused, or explained as refused
        for node_id, index_uuid, shard in plan.wipes:
            await ask_store(node_id, index_uuid, shard, wipe=True)
        explained: dict[str, Any] = {}

        def update(content: ClusterStateContent) -> ClusterStateContent:
            result = run(content, stores)
            explained["explanations"] = result.explanations
            return result.content

        applied = await node.index_admin.submit("cluster_reroute (api)", update,
                                                ack_timeout=request.ack_timeout)
        return RerouteResponse(term=applied.term, version=applied.version,
                               explanations=orjson.dumps(explained.get("explanations", [])),
                               acknowledged=applied.acknowledged)

    async def explain_shard(request: ExplainRequest, task: Task) -> ExplainResponse:
        state = coordination().applied_state
        content = coordination().content
        nodes = members(state)
        copy = find_shard(content, nodes, request.index, request.shard, request.primary, request.current_node)
        specific = request.index is not None
        body = explain(content, nodes, copy, specific=specific, include_yes=request.include_yes_decisions,
                       include_disk_info=request.include_disk_info, now_ms=coordination().clock(),
                       info=node.info_service.info, node_settings=node.settings.values)
        return ExplainResponse(body=orjson.dumps(body))

    node.transport.register(SHARD_STORE, ShardStoreRequest, ShardStoreResponse, shard_store)
    async def coordinate_reroute(request: RerouteRequest, task: Task) -> RerouteResponse:
        """A reroute that changed the state answers once this node has applied it."""
        answer: RerouteResponse = await node.master_actions.on_master(REROUTE, request, task)
        if not request.dry_run:
            await node.index_admin.wait_for_applied(answer)
        return answer

    node.master_actions.register(REROUTE, RerouteRequest, RerouteResponse, reroute,
                                 coordinate=coordinate_reroute)
    node.master_actions.register(EXPLAIN, ExplainRequest, ExplainResponse, explain_shard)

