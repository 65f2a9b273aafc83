"""`GET /_cluster/pending_tasks` and `GET /_cat/pending_tasks` (RestPendingClusterTasksAction
and RestPendingClusterTasksAction's cat twin): the elected master's cluster state updates
not yet applied, read on the master unless `local`, then this node's own (only a master
has any).
"""

from __future__ import annotations

from typing import Any

from ..action.cluster_admin import PENDING_TASKS, PendingTasksRequest, PendingTasksResponse
from ..common.units import human_millis
from .cat import CAT_PARAMS, CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

PARAMS = ("local", "master_timeout")
CAT_PENDING_PARAMS = (*CAT_PARAMS, "time", *PARAMS)
COLUMNS = [
    col("insertOrder", "o", "task insertion order", right=True),
    col("timeInQueue", "t", "how long task has been in queue", right=True),
    col("priority", "p", "task priority"),
    col("source", "s", "task source"),
]


class PendingTasksHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_cluster/pending_tasks", self.pending_tasks, PARAMS, action=PENDING_TASKS)
        c.register("GET", "/_cat/pending_tasks", self.cat, CAT_PENDING_PARAMS, action=PENDING_TASKS)

    async def _tasks(self, request: RestRequest) -> list[dict[str, Any]]:
        local = request.bool_param("local")
        master_timeout = request.time_param("master_timeout", 30.0)
        if local:
            coordination = self.node.coordination
            return coordination.pending_tasks() if coordination is not None else []
        answer: PendingTasksResponse = await self.node.client.execute(
            PENDING_TASKS, PendingTasksRequest(master_timeout=master_timeout))
        return answer.tasks

    async def pending_tasks(self, request: RestRequest) -> RestResponse:
        tasks = await self._tasks(request)
        shown = [{**task, "time_in_queue": human_millis(task["time_in_queue_millis"])} for task in tasks]
        return RestResponse(200, {"tasks": shown})

    async def cat(self, request: RestRequest) -> RestResponse:
        tasks = await self._tasks(request)
        table = CatTable(COLUMNS)
        for task in tasks:
            table.add({"insertOrder": task["insert_order"],
                       "timeInQueue": Millis(task["time_in_queue_millis"]),
                       "priority": task["priority"], "source": task["source"]})
        return table.response(request)
