"""The top-level task management actions behind `_tasks`: `cluster:monitor/tasks/lists`,
`cluster:monitor/task/get` and `cluster:admin/tasks/cancel` (ES's TransportListTasksAction,
TransportGetTaskAction and TransportCancelTasksAction).

Listing and cancelling fan out one node-level request per node (this node takes the same
path, through the transport's local dispatch), so the node-level tasks are children of
the top-level one, as in Elasticsearch's output. A node that fails to answer is a
`node_failures` entry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..common.errors import IllegalArgument, StrataError, error_to_dict
from ..transport.wire import Message
from .actions import CANCEL_NODE, LIST_NODE, CancelTasks, NodeTasks, TaskFilter
from .task import Task, TaskId

LIST = "cluster:monitor/tasks/lists"
GET = "cluster:monitor/task/get"
CANCEL = "cluster:admin/tasks/cancel"


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class TimedOut(StrataError):
    """ES's ElasticsearchTimeoutException: 429, "the closest thing to 'your request took
    longer than you asked for'"."""

    type = "elasticsearch_timeout_exception"
    status = 429


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
        """node id -> address (None for this node), filtered by `nodes`."""
        targets = self.node.cluster_nodes()
        if wanted and "_all" not in wanted:
            names = {self.node.node_id: self.node.name}
            targets = {n: a for n, a in targets.items() if n in wanted or names.get(n) in wanted
                       or (wanted == ["_local"] and a is None)}
        return targets

    async def _fan_out(self, action: str, message: Message, targets: dict[str, str | None]
                       ) -> tuple[list[NodeTasks], list[dict[str, Any]]]:
        async def one(node_id: str, address: str | None):
            try:
                return await self.node.transport.execute(action, message, NodeTasks, address=address,
                                                         timeout=30.0)
            except StrataError as e:
                return {"type": "failed_node_exception", "reason": f"Failed node [{node_id}]",
                        "node_id": node_id, "caused_by": error_to_dict(e)}

        answers = await asyncio.gather(*(one(n, a) for n, a in targets.items()))
        return ([a for a in answers if isinstance(a, NodeTasks)],
                [a for a in answers if not isinstance(a, NodeTasks)])

    async def _list(self, request: ListTasksRequest, task: Task) -> ListTasksResponse:
        if request.wait_for_completion:
            await self._wait_until_gone(request, task)
        answers, failures = await self._fan_out(LIST_NODE, request.filter, self._targets(request.nodes))
        return ListTasksResponse(nodes=answers, node_failures=failures)

    async def _wait_until_gone(self, request: ListTasksRequest, task: Task) -> None:
        """Until no task but this listing (and its own children) matches."""
        deadline = time.monotonic() + request.timeout
        me = str(task.id)
        while time.monotonic() < deadline:
            answers, _ = await self._fan_out(LIST_NODE, request.filter, self._targets(request.nodes))
            others = [t for a in answers for t in a.tasks
                      if f"{t['node']}:{t['id']}" != me and t.get("parent_task_id") != me]
            if not others:
                return
            await asyncio.sleep(0.05)
        raise TimedOut("Timed out waiting for all nodes to process the request")

    def _address(self, task_id: TaskId) -> str | None:
        if task_id.node_id == self.node.node_id:
            return None
        address = self.node.cluster_nodes().get(task_id.node_id)
        if address is None:
            raise ResourceNotFound(f"task [{task_id}] belongs to the node [{task_id.node_id}] which isn't "
                                   "part of the cluster and there is no record of the task")
        return address

    async def _get(self, request: GetTaskRequest, task: Task) -> GetTaskResponse:
        task_id = TaskId.parse(request.task_id)
        results = self.node.task_results
        deadline = time.monotonic() + request.timeout
        while True:
            stored = await results.get(task_id)
            if stored is not None:
                return GetTaskResponse(body=stored)
            pending = results.pending(task_id)
            running = await self._running(task_id) if pending is None else pending.info(detailed=True)
            if running is None:
                raise ResourceNotFound(f"task [{task_id}] isn't running and hasn't stored its results")
            if not request.wait_for_completion:
                return GetTaskResponse(body={"completed": False, "task": running})
            if pending is not None:
                try:
                    remaining = max(0.0, deadline - time.monotonic())
                    await asyncio.wait_for(results.wait_stored(task_id), remaining)
                except TimeoutError:
                    raise TimedOut(f"Timed out waiting for completion of task [{task_id}]") from None
                continue
            if time.monotonic() > deadline:
                raise TimedOut(f"Timed out waiting for completion of task [{task_id}]")
            await asyncio.sleep(0.05)

    async def _running(self, task_id: TaskId) -> dict[str, Any] | None:
        address = self._address(task_id)
        answer = await self.node.transport.execute(LIST_NODE, TaskFilter(task_id=str(task_id), detailed=True),
                                                   NodeTasks, address=address, timeout=30.0)
        return answer.tasks[0] if answer.tasks else None

    async def _cancel(self, request: CancelTasksRequest, task: Task) -> ListTasksResponse:
        raw_id = request.filter.task_id
        if raw_id is not None:
            task_id = TaskId.parse(raw_id)
            targets = {task_id.node_id: self._address(task_id)}
        else:
            targets = self._targets(request.nodes)
        answers, failures = await self._fan_out(CANCEL_NODE, CancelTasks(filter=request.filter), targets)
        if raw_id is not None and not failures and not any(a.tasks for a in answers):
            running = await self._running(task_id)
            if running is None:
                raise ResourceNotFound(f"task [{raw_id}] is not found")
            if not running.get("cancellable"):
                raise IllegalArgument(f"task [{raw_id}] doesn't support cancellation")
        if request.wait_for_completion:
            deadline = time.monotonic() + request.timeout
            for a in answers:
                for t in a.tasks:
                    await self._wait_gone(TaskId(t["node"], t["id"]), deadline)
        return ListTasksResponse(nodes=answers, node_failures=failures)

    async def _wait_gone(self, task_id: TaskId, deadline: float) -> None:
        while await self._running(task_id) is not None:
            if time.monotonic() > deadline:
                raise TimedOut(f"Timed out waiting for the cancelled task [{task_id}] to end")
            await asyncio.sleep(0.05)

