"""`_tasks` and `_cat/tasks`: list, get, cancel, as Elasticsearch shapes them, over every
node the transport knows; and `POST /_strata/sleep`, the test action with children (only
with `strata.test_actions.enabled: true`).

Listing and cancelling fan out one transport request per node (this node takes the same
path, through the transport's local dispatch), so the tasks of the listing itself show
up as in Elasticsearch. A node that fails to answer is a `node_failures` entry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import ES_COMPAT_VERSION
from ..common.errors import IllegalArgument, StrataError, error_to_dict
from ..tasks.actions import CANCEL_NODE, LIST_NODE, SLEEP, CancelTasks, NodeTasks, Sleep, TaskFilter
from ..tasks.results import TaskResults
from ..tasks.task import TaskId
from ..transport import context
from .cat import CAT_PARAMS as CAT_TABLE_PARAMS
from .cat import CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

LIST_PARAMS = ("nodes", "actions", "parent_task_id", "detailed", "group_by", "wait_for_completion", "timeout")
GET_PARAMS = ("wait_for_completion", "timeout")
CANCEL_PARAMS = ("nodes", "actions", "parent_task_id", "wait_for_completion", "timeout")
CAT_PARAMS = ("nodes", "actions", "parent_task_id", "detailed", "bytes", "time", "timeout", *CAT_TABLE_PARAMS)
# RestTasksAction's columns; the default ones are Strata's long-standing `_cat/tasks` columns.
CAT_TASK_COLUMNS = [
    col("id", "", "id of the task with the node", default=False),
    col("action", "ac", "task action"),
    col("task_id", "ti", "unique task id"),
    col("parent_task_id", "pti", "parent task id"),
    col("type", "ty", "task type"),
    col("start_time", "start", "start time in ms"),
    col("timestamp", "ts,hms,hhmmss", "start time in HH:MM:SS"),
    col("running_time_ns", "", "running time ns", default=False, right=True),
    col("running_time", "time", "running time", right=True),
    col("node_id", "ni", "unique node id", default=False),
    col("ip", "i", "ip address"),
    col("port", "po", "bound transport port", default=False),
    col("node", "n", "node name"),
    col("version", "v", "es version", default=False),
    col("x_opaque_id", "x", "X-Opaque-ID header", default=False),
    col("description", "desc", "task action", default=False),
]
GROUP_BY = ("nodes", "parents", "none")


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class TimedOut(StrataError):
    """ES's ElasticsearchTimeoutException: 429, "the closest thing to 'your request took
    longer than you asked for'"."""

    type = "elasticsearch_timeout_exception"
    status = 429


class TaskHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_tasks", self.list, LIST_PARAMS, action="cluster:monitor/tasks/lists")
        c.register("GET", "/_tasks/{task_id}", self.get, GET_PARAMS, action="cluster:monitor/task/get")
        c.register("POST", "/_tasks/_cancel", self.cancel, CANCEL_PARAMS, action="cluster:admin/tasks/cancel")
        c.register("POST", "/_tasks/{task_id}/_cancel", self.cancel, CANCEL_PARAMS,
                   action="cluster:admin/tasks/cancel")
        c.register("GET", "/_cat/tasks", self.cat, CAT_PARAMS, action="cluster:monitor/tasks/lists")
        if self.node.settings.get("strata.test_actions.enabled"):
            c.register("POST", "/_strata/sleep", self.sleep, ("millis", "children", "executor",
                                                              "wait_for_completion"),
                       action=SLEEP, cancellable=True)

    @property
    def results(self) -> TaskResults:
        return self.node.task_results

    # -- fan-out ---------------------------------------------------------------------------

    def _targets(self, request: RestRequest) -> dict[str, str | None]:
        """node id -> address (None for this node), filtered by `nodes`."""
        targets = self.node.cluster_nodes()
        wanted = request.list_param("nodes")
        if wanted and "_all" not in wanted:
            names = {self.node.node_id: self.node.name}
            targets = {n: a for n, a in targets.items() if n in wanted or names.get(n) in wanted
                       or (wanted == ["_local"] and a is None)}
        return targets

    async def _fan_out(self, action: str, message, targets: dict[str, str | None]
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

    def _filter(self, request: RestRequest, task_id: str | None = None) -> TaskFilter:
        parent = request.param("parent_task_id")
        if parent is not None and parent != "-1":
            TaskId.parse(parent)  # a malformed id is a 400 before anything is sent
        return TaskFilter(actions=request.list_param("actions"),
                          parent_task_id=parent if parent not in (None, "-1") else None,
                          task_id=task_id, detailed=request.bool_param("detailed"))

    # -- handlers --------------------------------------------------------------------------

    async def list(self, request: RestRequest) -> RestResponse:
        group_by = request.param("group_by", "nodes")
        if group_by not in GROUP_BY:
            raise IllegalArgument(f"unknown value for group_by [{group_by}], must be one of {list(GROUP_BY)}")
        task_filter = self._filter(request)
        if request.bool_param("wait_for_completion"):
            await self._wait_until_gone(request, task_filter)
        answers, failures = await self._fan_out(LIST_NODE, task_filter, self._targets(request))
        return RestResponse(200, self._render(answers, failures, group_by))

    async def _wait_until_gone(self, request: RestRequest, task_filter: TaskFilter) -> None:
        deadline = time.monotonic() + request.time_param("timeout", 30.0)
        me = context.current().task_id
        while time.monotonic() < deadline:
            answers, _ = await self._fan_out(LIST_NODE, task_filter, self._targets(request))
            others = [t for a in answers for t in a.tasks
                      if f"{t['node']}:{t['id']}" != me and t.get("parent_task_id") != me]
            if not others:
                return
            await asyncio.sleep(0.05)
        raise TimedOut("Timed out waiting for all nodes to process the request")

    def _render(self, answers: list[NodeTasks], failures: list[dict[str, Any]],
                group_by: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if failures:
            body["node_failures"] = failures
        infos = [t for a in answers for t in a.tasks]
        if group_by == "none":
            body["tasks"] = infos
        elif group_by == "parents":
            by_id = {f"{t['node']}:{t['id']}": dict(t) for t in infos}
            roots: dict[str, Any] = {}
            for task_id, info in by_id.items():
                parent = by_id.get(info.get("parent_task_id", ""))
                if parent is not None:
                    parent.setdefault("children", []).append(info)
                else:
                    roots[task_id] = info
            body["tasks"] = roots
        else:
            body["nodes"] = {a.node_id: {"name": a.node_name, "transport_address": a.transport_address,
                                         "host": a.transport_address.rsplit(":", 1)[0],
                                         "ip": a.transport_address,
                                         "roles": self._roles(a.node_id),
                                         "attributes": {},
                                         "tasks": {f"{t['node']}:{t['id']}": t for t in a.tasks}}
                             for a in answers}
        return body

    def _roles(self, node_id: str) -> list[str]:
        if node_id == self.node.node_id:
            return sorted(self.node.settings.get("node.roles"))
        state = self.node.coordination.applied_state if self.node.coordination is not None else None
        details = state.node_details.get(node_id) if state is not None else None
        return sorted(details.roles) if details is not None else []

    def _address(self, task_id: TaskId) -> str | None:
        if task_id.node_id == self.node.node_id:
            return None
        address = self.node.cluster_nodes().get(task_id.node_id)
        if address is None:
            raise ResourceNotFound(f"task [{task_id}] belongs to the node [{task_id.node_id}] which isn't "
                                   "part of the cluster and there is no record of the task")
        return address

    async def get(self, request: RestRequest) -> RestResponse:
        task_id = TaskId.parse(request.param("task_id"))
        wait = request.bool_param("wait_for_completion")
        deadline = time.monotonic() + request.time_param("timeout", 30.0)
        while True:
            stored = await self.results.get(task_id)
            if stored is not None:
                return RestResponse(200, stored)
            pending = self.results.pending(task_id)
            running = await self._running(task_id) if pending is None else pending.info(detailed=True)
            if running is None:
                raise ResourceNotFound(f"task [{task_id}] isn't running and hasn't stored its results")
            if not wait:
                return RestResponse(200, {"completed": False, "task": running})
            if pending is not None:
                try:
                    await asyncio.wait_for(self.results.wait_stored(task_id),
                                           max(0.0, deadline - time.monotonic()))
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

    async def cancel(self, request: RestRequest) -> RestResponse:
        raw_id = request.param("task_id")
        if raw_id is not None:
            task_id = TaskId.parse(raw_id)
            targets = {task_id.node_id: self._address(task_id)}
            message = CancelTasks(filter=TaskFilter(task_id=raw_id))
        else:
            targets = self._targets(request)
            message = CancelTasks(filter=self._filter(request))
        answers, failures = await self._fan_out(CANCEL_NODE, message, targets)
        if raw_id is not None and not failures and not any(a.tasks for a in answers):
            running = await self._running(task_id)
            if running is None:
                raise ResourceNotFound(f"task [{raw_id}] is not found")
            if not running.get("cancellable"):
                raise IllegalArgument(f"task [{raw_id}] doesn't support cancellation")
        if request.bool_param("wait_for_completion"):
            deadline = time.monotonic() + request.time_param("timeout", 30.0)
            for a in answers:
                for t in a.tasks:
                    await self._wait_gone(TaskId(t["node"], t["id"]), deadline)
        return RestResponse(200, self._render(answers, failures, "nodes"))

    async def _wait_gone(self, task_id: TaskId, deadline: float) -> None:
        while await self._running(task_id) is not None:
            if time.monotonic() > deadline:
                raise TimedOut(f"Timed out waiting for the cancelled task [{task_id}] to end")
            await asyncio.sleep(0.05)

    async def cat(self, request: RestRequest) -> RestResponse:
        answers, _ = await self._fan_out(LIST_NODE, self._filter(request), self._targets(request))
        table = CatTable(CAT_TASK_COLUMNS)
        for a in answers:
            for t in a.tasks:
                start = t["start_time_in_millis"]
                host = a.transport_address.rsplit(":", 1)[0]
                table.add({"id": t["id"], "action": t["action"], "task_id": f"{t['node']}:{t['id']}",
                           "parent_task_id": t.get("parent_task_id", "-"), "type": t["type"],
                           "start_time": start,
                           "timestamp": time.strftime("%H:%M:%S", time.gmtime(start / 1000)),
                           "running_time_ns": t["running_time_in_nanos"],
                           "running_time": Millis(t["running_time_in_nanos"] / 1e6), "node_id": t["node"],
                           "ip": host, "port": a.transport_address.rsplit(":", 1)[-1], "node": a.node_name,
                           "version": ES_COMPAT_VERSION,
                           "x_opaque_id": t.get("headers", {}).get("X-Opaque-Id"),
                           "description": t.get("description")})
        return table.response(request)

    async def sleep(self, request: RestRequest) -> RestResponse:
        millis = request.int_param("millis", 1000)
        if millis < 0:
            raise IllegalArgument(f"[millis] must be positive, got [{millis}]")
        executor = request.param("executor")
        if executor is not None and executor not in self.node.executors:
            raise IllegalArgument(f"[executor] must be one of {sorted(self.node.executors)}, "
                                  f"got [{executor}]")
        message = Sleep(millis=millis, children=request.list_param("children"), executor=executor)
        if request.bool_param("wait_for_completion", True):
            # The request's own task is the sleep, as a REST action's task is in ES.
            own_task = self.node.tasks.get(TaskId.parse(context.current().task_id))
            await self.node.task_actions.sleep(message, own_task)
            return RestResponse(200, {"acknowledged": True})
        started = asyncio.get_running_loop().create_future()
        # Detached from the REST task: the action outlives the request that started it.
        with context.bound(context.RequestContext(context.current().headers, None)):
            work = self.node.transport.execute(SLEEP, message, on_task=started.set_result)
            task_id = await self.results.run_detached(started, work)
        return RestResponse(200, {"task": str(task_id)})

