"""The top-level task management actions behind `_tasks`: `cluster:monitor/tasks/lists`,
`cluster:monitor/task/get` and `cluster:admin/tasks/cancel` (ES's TransportListTasksAction,
TransportGetTaskAction and TransportCancelTasksAction).

Listing and cancelling fan out one node-level request per node (this node takes the same
path, through the transport's local dispatch), so the node-level tasks are children of
the top-level one, as in Elasticsearch's output. A node that fails to answer (or, when a
listing waits, times out) is a `node_failures` entry; a cancellation whose wait for the
cancelled tasks to end times out fails as a whole. Getting a task is forwarded to the node
that runs it: only that node sees the task end and its result stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..action.node_selection import select_nodes
from ..common.errors import IllegalArgument, StrataError, error_to_dict
from ..transport.wire import Message
from .actions import CANCEL_NODE, LIST_NODE, CancelTasks, ListNodeTasks, NodeTasks, TaskFilter
from .task import Task, TaskId, TimedOut, ended, within

LIST = "cluster:monitor/tasks/lists"
GET = "cluster:monitor/task/get"
CANCEL = "cluster:admin/tasks/cancel"
# Seconds a node's answer may take beyond the wait it was asked for, so that its own
# timeout answers rather than the transport's.
ANSWER_GRACE = 5.0


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class ListTasksRequest(Message):
    filter: TaskFilter
    nodes: list[str] = []  # names or ids; empty or `_all`: every node
    wait_for_completion: bool = False
    timeout: float = 30.0


class ListTasksResponse(Message):
    nodes: list[NodeTasks]
    node_failures: list[dict[str, Any]] = []


class GetTaskRequest(Message):
    task_id: str
    wait_for_completion: bool = False
    timeout: float = 30.0


class GetTaskResponse(Message):
    body: dict[str, Any]  # `completed`, `task` and, once done, `response` or `error`


class CancelTasksRequest(Message):
    filter: TaskFilter  # with `task_id`: that task only
    nodes: list[str] = []
    wait_for_completion: bool = False
    timeout: float = 30.0


class TaskApiActions:
    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        transport = self.node.transport
        transport.register(LIST, ListTasksRequest, ListTasksResponse, self._list)
        transport.register(GET, GetTaskRequest, GetTaskResponse, self._get)
        transport.register(CANCEL, CancelTasksRequest, ListTasksResponse, self._cancel)

    def _targets(self, wanted: list[str]) -> dict[str, str | None]:
        """node id -> address (None for this node) of the nodes `nodes` names, resolved
        against the whole cluster as ES's TransportTasksAction does (DiscoveryNodes.resolveNodes):
        any node's name, `_master`, `role:true`, `attr:value`..."""
        return select_nodes(self.node, wanted, self.node.cluster_nodes())

    async def _fan_out(self, action: str, message: Message, targets: dict[str, str | None],
                       timeout: float = 30.0, *, raise_timed_out: bool = False,
                       ) -> tuple[list[NodeTasks], list[dict[str, Any]]]:
        """Every node's answer, and a failure for each node that failed; with
        `raise_timed_out`, a node's wait that timed out is the error of the whole."""
        async def one(node_id: str, address: str | None) -> NodeTasks | tuple[str, StrataError]:
            try:
                return await self.node.transport.execute(action, message, NodeTasks, address=address,
                                                         timeout=timeout)
            except StrataError as e:
                return node_id, e

        answers = await asyncio.gather(*(one(n, a) for n, a in targets.items()))
        failed = [a for a in answers if not isinstance(a, NodeTasks)]
        if raise_timed_out:
            for _, error in failed:
                if error.type == TimedOut.type:
                    raise error
        return ([a for a in answers if isinstance(a, NodeTasks)],
                [{"type": "failed_node_exception", "reason": f"Failed node [{node_id}]", "node_id": node_id,
                  "caused_by": error_to_dict(e)} for node_id, e in failed])

    async def _list(self, request: ListTasksRequest, task: Task) -> ListTasksResponse:
        # Each node waits for the tasks that matched there when the listing arrived and
        # answers with them (ES's TransportListTasksAction).
        node_request = ListNodeTasks(filter=request.filter, wait_for_completion=request.wait_for_completion,
                                     timeout=request.timeout)
        targets = self._targets(request.nodes)
        timeout = request.timeout + ANSWER_GRACE if request.wait_for_completion else 30.0
        answers, failures = await self._fan_out(LIST_NODE, node_request, targets, timeout)
        return ListTasksResponse(nodes=answers, node_failures=failures)

    def _address(self, task_id: TaskId) -> str | None:
        if task_id.node_id == self.node.node_id:
            return None
        address = self.node.cluster_nodes().get(task_id.node_id)
        if address is None:
            raise ResourceNotFound(_not_in_cluster(task_id))
        return address

    async def _get(self, request: GetTaskRequest, task: Task) -> GetTaskResponse:
        task_id = TaskId.parse(request.task_id)
        if task_id.node_id == self.node.node_id:
            return GetTaskResponse(body=await self._get_here(task_id, request))
        address = self.node.cluster_nodes().get(task_id.node_id)
        if address is None:  # the node left: what it stored is all there is
            return GetTaskResponse(body=await self._stored(task_id, _not_in_cluster(task_id)))
        return await self.node.transport.execute(GET, request, GetTaskResponse, address=address,
                                                 timeout=request.timeout + ANSWER_GRACE)

    async def _get_here(self, task_id: TaskId, request: GetTaskRequest) -> dict[str, Any]:
        """A task of this node: running (a detached one until its result is stored), or
        ended, when only its stored result can tell of it."""
        results = self.node.task_results
        running = self.node.tasks.get(task_id) or results.pending(task_id)
        if running is None:
            missing = f"task [{task_id}] isn't running and hasn't stored its results"
            return await self._stored(task_id, missing)
        info = running.info(detailed=True)
        if not request.wait_for_completion:
            return {"completed": False, "task": info}
        async with within(request.timeout, lambda: f"Timed out waiting for completion of task [{task_id}]"):
            await ended([running])
            await results.wait_stored(task_id)  # a detached task stores after it ends
        # A task that stores no result (any not started detached) is told of as last seen.
        return await results.get(task_id) or {"completed": True, "task": info}

    async def _stored(self, task_id: TaskId, missing: str) -> dict[str, Any]:
        stored = await self.node.task_results.get(task_id)
        if stored is None:
            raise ResourceNotFound(missing)
        return stored

    async def _running(self, task_id: TaskId) -> dict[str, Any] | None:
        address = self._address(task_id)
        listing = ListNodeTasks(filter=TaskFilter(task_id=str(task_id), detailed=True))
        answer = await self.node.transport.execute(LIST_NODE, listing, NodeTasks, address=address,
                                                   timeout=30.0)
        return answer.tasks[0] if answer.tasks else None

    async def _cancel(self, request: CancelTasksRequest, task: Task) -> ListTasksResponse:
        raw_id = request.filter.task_id
        if raw_id is not None:
            task_id = TaskId.parse(raw_id)
            targets = {task_id.node_id: self._address(task_id)}
        else:
            targets = self._targets(request.nodes)
        # Each node waits for the tasks it cancelled to end (ES's TransportCancelTasksAction).
        node_request = CancelTasks(filter=request.filter, wait_for_completion=request.wait_for_completion,
                                   timeout=request.timeout)
        timeout = request.timeout + ANSWER_GRACE if request.wait_for_completion else 30.0
        answers, failures = await self._fan_out(CANCEL_NODE, node_request, targets, timeout,
                                                raise_timed_out=True)
        if raw_id is not None and not failures and not any(a.tasks for a in answers):
            running = await self._running(task_id)
            if running is None:
                raise ResourceNotFound(f"task [{raw_id}] is not found")
            if not running.get("cancellable"):
                raise IllegalArgument(f"task [{raw_id}] doesn't support cancellation")
        return ListTasksResponse(nodes=answers, node_failures=failures)


def _not_in_cluster(task_id: TaskId) -> str:
    return (f"task [{task_id}] belongs to the node [{task_id.node_id}] which isn't part of the cluster "
            "and there is no record of the task")

