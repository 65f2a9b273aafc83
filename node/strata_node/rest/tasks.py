"""`_tasks` and `_cat/tasks`: list, get, cancel, as Elasticsearch shapes them, over every
node the transport knows; and `POST /_strata/sleep`, the test action with children (only
with `strata.test_actions.enabled: true`).

Each runs as its Elasticsearch action through the node client (tasks/api.py: listing and
cancelling fan out to every node from there); this module parses and renders. With
`wait_for_completion=false` the sleep is started detached from the request and its result
stored when it ends (tasks/results.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import ES_COMPAT_VERSION
from ..common.errors import IllegalArgument
from ..node_client import observing
from ..tasks.actions import SLEEP, NodeTasks, Sleep, TaskFilter
from ..tasks.api import (
    CANCEL,
    GET,
    LIST,
    CancelTasksRequest,
    GetTaskRequest,
    GetTaskResponse,
    ListTasksRequest,
    ListTasksResponse,
)
from ..tasks.results import TaskResults
from ..tasks.task import TaskId
from .cat import CAT_PARAMS as CAT_TABLE_PARAMS
from .cat import CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

LIST_PARAMS = ("nodes", "actions", "parent_task_id", "detailed", "group_by", "wait_for_completion", "timeout")
GET_PARAMS = ("wait_for_completion", "timeout")
CANCEL_PARAMS = ("nodes", "actions", "parent_task_id", "group_by", "wait_for_completion", "timeout")
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


class TaskHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_tasks", self.list, LIST_PARAMS, action=LIST)
        c.register("GET", "/_tasks/{task_id}", self.get, GET_PARAMS, action=GET)
        c.register("POST", "/_tasks/_cancel", self.cancel, CANCEL_PARAMS, action=CANCEL)
        c.register("POST", "/_tasks/{task_id}/_cancel", self.cancel, CANCEL_PARAMS, action=CANCEL)
        c.register("GET", "/_cat/tasks", self.cat, CAT_PARAMS, action=LIST)
        if self.node.settings.get("strata.test_actions.enabled"):
            c.register("POST", "/_strata/sleep", self.sleep, ("millis", "children", "executor",
                                                              "wait_for_completion"), action=SLEEP)

    @property
    def results(self) -> TaskResults:
        return self.node.task_results

    def _filter(self, request: RestRequest, task_id: str | None = None) -> TaskFilter:
        parent = request.param("parent_task_id")
        if parent is not None and parent != "-1":
            TaskId.parse(parent)  # a malformed id is a 400 before anything is sent
        return TaskFilter(actions=request.list_param("actions"),
                          parent_task_id=parent if parent not in (None, "-1") else None,
                          task_id=task_id, detailed=request.bool_param("detailed"))

    async def _list(self, request: RestRequest, *, wait: bool = False) -> ListTasksResponse:
        return await self.node.client.execute(LIST, ListTasksRequest(
            filter=self._filter(request), nodes=request.list_param("nodes"), wait_for_completion=wait,
            timeout=request.time_param("timeout", 30.0)))

    # -- handlers --------------------------------------------------------------------------

    async def list(self, request: RestRequest) -> RestResponse:
        group_by = _group_by(request)
        response = await self._list(request, wait=request.bool_param("wait_for_completion"))
        return RestResponse(200, self._render(response.nodes, response.node_failures, group_by))

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
            # ES groups the tasks found by the node running them (getPerNodeTasks): a node
            # with no matching task is not listed at all.
            body["nodes"] = {a.node_id: self._grouped_node(a) for a in answers if a.tasks}
        return body

    def _grouped_node(self, answer: NodeTasks) -> dict[str, Any]:
        """A node's entry of a listing grouped by node (ListTasksResponse.groupedByNode):
        `attributes` only when the node has some."""
        grouped: dict[str, Any] = {"name": answer.node_name, "transport_address": answer.transport_address,
                                   "host": answer.transport_address.rsplit(":", 1)[0],
                                   "ip": answer.transport_address, "roles": answer.roles}
        attributes = self._attributes(answer.node_id)
        if attributes:
            grouped["attributes"] = attributes
        grouped["tasks"] = {f"{t['node']}:{t['id']}": t for t in answer.tasks}
        return grouped

    def _attributes(self, node_id: str) -> dict[str, str]:
        """A node's custom attributes, as the cluster state this node applied tells them."""
        coordination = self.node.coordination
        state = coordination.applied_state if coordination is not None else None
        details = state.node_details.get(node_id) if state is not None else None
        return dict(details.attributes) if details is not None else {}

    async def get(self, request: RestRequest) -> RestResponse:
        task_id = request.param("task_id")
        TaskId.parse(task_id)
        response: GetTaskResponse = await self.node.client.execute(GET, GetTaskRequest(
            task_id=task_id, wait_for_completion=request.bool_param("wait_for_completion"),
            timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, response.body)

    async def cancel(self, request: RestRequest) -> RestResponse:
        group_by = _group_by(request)  # refused before anything is cancelled
        raw_id = request.param("task_id")
        if raw_id is not None:
            TaskId.parse(raw_id)
            task_filter, nodes = TaskFilter(task_id=raw_id), []
        else:
            task_filter, nodes = self._filter(request), request.list_param("nodes")
        response: ListTasksResponse = await self.node.client.execute(CANCEL, CancelTasksRequest(
            filter=task_filter, nodes=nodes, wait_for_completion=request.bool_param("wait_for_completion"),
            timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, self._render(response.nodes, response.node_failures, group_by))

    async def cat(self, request: RestRequest) -> RestResponse:
        answers = (await self._list(request)).nodes
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
            await self.node.client.execute(SLEEP, message)
            return RestResponse(200, {"acknowledged": True})
        started = asyncio.get_running_loop().create_future()
        # The action outlives the request that started it: a client going away leaves it be.
        with observing(None):
            work = self.node.client.execute(SLEEP, message, on_task=started.set_result)
            task_id = await self.results.run_detached(started, work)
        return RestResponse(200, {"task": str(task_id)})


def _group_by(request: RestRequest) -> str:
    """How a listing or a cancellation renders its tasks (ES's listTasksResponseListener)."""
    group_by = request.param("group_by", "nodes")
    if group_by not in GROUP_BY:
        raise IllegalArgument(f"[group_by] must be one of [nodes], [parents] or [none] but was [{group_by}]")
    return group_by
