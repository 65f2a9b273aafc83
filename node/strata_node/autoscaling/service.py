"""The autoscaling actions: policies put and deleted on the master as cluster state
updates, read from the master's state, and the capacity computed on the master from what
the policies' nodes report of themselves (Elasticsearch's Transport*AutoscalingPolicyAction,
TransportGetAutoscalingCapacityAction and AutoscalingNodeInfoService).

The master asks the nodes for their resources each time capacity is asked for, in
parallel and bounded by `NODE_INFO_TIMEOUT`: a node that does not answer counts as zero and
makes the deciders' view of the current capacity unknown, as ES treats a node whose
info it has not fetched yet.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import orjson

from ..action.cluster_admin import catch_up_with_master
from ..action.index_admin import APPLY_TIMEOUT, AppliedVersion
from ..action.master import MasterNodeRequest
from ..common.errors import StrataError
from ..common.machine import disk_space, total_memory_bytes
from ..tasks.task import Task
from ..transport.wire import Message
from . import policy as policies
from .calculate import capacity, policy_nodes
from .capacity import Resources
from .storage import ClusterView

log = logging.getLogger(__name__)

PUT_POLICY = "cluster:admin/autoscaling/put_autoscaling_policy"
DELETE_POLICY = "cluster:admin/autoscaling/delete_autoscaling_policy"
GET_POLICY = "cluster:admin/autoscaling/get_autoscaling_policy"
GET_CAPACITY = "cluster:admin/autoscaling/get_autoscaling_capacity"
NODE_RESOURCES = "cluster:monitor/autoscaling/node_resources[n]"
# ES fetches node info in the background (15 s); here the request waits for it, so the
# bound stays under the clients' usual 10 s request timeout.
NODE_INFO_TIMEOUT = 5.0


class PutPolicyRequest(MasterNodeRequest):
    name: str
    body: bytes  # the request body, JSON
    ack_timeout: float = APPLY_TIMEOUT  # how long every node may take to apply it (`timeout`)


class DeletePolicyRequest(MasterNodeRequest):
    name: str
    ack_timeout: float = APPLY_TIMEOUT


class GetPolicyRequest(Message):
    name: str
    master_timeout: float = 30.0


class GetPolicyResponse(Message):
    policy: dict[str, Any]


class GetCapacityRequest(MasterNodeRequest):
    pass


class CapacityResponse(Message):
    body: dict[str, Any]


class NodeResourcesRequest(Message):
    pass


class NodeResources(Message):
    storage: int  # bytes of the disk holding path.data
    memory: int
    processors: float


class AutoscalingService:
    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        master = self.node.master_actions
        master.register(PUT_POLICY, PutPolicyRequest, AppliedVersion, self._put,
                        coordinate=self._coordinate_put)
        master.register(DELETE_POLICY, DeletePolicyRequest, AppliedVersion, self._delete,
                        coordinate=functools.partial(self.node.index_admin.applied_here, DELETE_POLICY))
        master.register(GET_CAPACITY, GetCapacityRequest, CapacityResponse, self._capacity)
        self.node.transport.register(GET_POLICY, GetPolicyRequest, GetPolicyResponse, self._get)
        self.node.transport.register(NODE_RESOURCES, NodeResourcesRequest, NodeResources, self._resources)

    # -- the coordinating side -----------------------------------------------------------

    async def _coordinate_put(self, request: PutPolicyRequest, task: Task) -> AppliedVersion:
        policies.read_put(request.name, orjson.loads(request.body))  # a bad policy never reaches the master
        # Applied here before the answer, so a read that follows on this node sees it.
        return await self.node.index_admin.applied_here(PUT_POLICY, request, task)

    async def _get(self, request: GetPolicyRequest, task: Task) -> GetPolicyResponse:
        await catch_up_with_master(self.node, request.master_timeout)
        found = policies.policies(self.node.coordination.content).get(request.name)
        if found is None:
            raise policies.PolicyNotFound(request.name)
        return GetPolicyResponse(policy=found)

    # -- the master side -----------------------------------------------------------------

    async def _put(self, request: PutPolicyRequest, task: Task) -> AppliedVersion:
        put = policies.read_put(request.name, orjson.loads(request.body))
        return await self.node.index_admin.submit(f"put autoscaling policy [{request.name}]",
                                                  lambda content: policies.put(content, request.name, put),
                                                  ack_timeout=request.ack_timeout)

    async def _delete(self, request: DeletePolicyRequest, task: Task) -> AppliedVersion:
        return await self.node.index_admin.submit(f"delete autoscaling policy [{request.name}]",
                                                  lambda content: policies.delete(content, request.name),
                                                  ack_timeout=request.ack_timeout)

    async def _capacity(self, request: GetCapacityRequest, task: Task) -> CapacityResponse:
        state = self.node.coordination.applied_state
        content = self.node.coordination.content
        by_name = policies.policies(content)
        nodes = [d for d in state.node_details.values() if d.id in state.nodes] if state is not None else []
        reported = await self._gather({n.id: n.transport_address for p in by_name.values()
                                       for n in policy_nodes(p["roles"], nodes)})
        view = ClusterView(content, {n.id: n for n in nodes}, self.node.info_service.info,
                           self.node.settings.values)
        # The storage deciders simulate allocation over the whole routing table: off the loop.
        body = await asyncio.to_thread(capacity, by_name, nodes, reported, view)
        return CapacityResponse(body=body)

    async def _gather(self, addresses: dict[str, str]) -> dict[str, Resources | None]:
        async def one(node_id: str, address: str) -> Resources | None:
            try:
                answer: NodeResources = await asyncio.wait_for(self.node.transport.execute(
                    NODE_RESOURCES, NodeResourcesRequest(), NodeResources,
                    address=None if node_id == self.node.node_id else address, timeout=NODE_INFO_TIMEOUT),
                    NODE_INFO_TIMEOUT)
            except (StrataError, OSError, TimeoutError) as e:
                # Counted as not reported: the deciders then see no current capacity.
                log.info("autoscaling: no resources from node [%s]: %r", node_id, e)
                return None
            return Resources(answer.storage, answer.memory, answer.processors)

        ids = sorted(addresses)
        answers = await asyncio.gather(*(one(i, addresses[i]) for i in ids))
        return dict(zip(ids, answers, strict=True))

    # -- every node ------------------------------------------------------------------------

    async def _resources(self, request: NodeResourcesRequest, task: Task) -> NodeResources:
        def measure() -> tuple[int, int]:
            return disk_space(self.node.data_path).total, total_memory_bytes()

        storage, memory = await asyncio.to_thread(measure)
        return NodeResources(storage=storage, memory=memory, processors=self.node.processors)
