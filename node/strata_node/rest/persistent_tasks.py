"""Internal endpoints to start and remove persistent tasks, for tests and demos (as
`POST /_strata/sleep` is for tasks); Elasticsearch has no REST API for them, its features
start their own. Served only with `strata.test_actions.enabled: true`.

    PUT    /_strata/persistent/{task_id}  {"name": "strata/test/counter",
                                            "params": {"count_to": 50, "step_millis": 100}}
    DELETE /_strata/persistent/{task_id}

Both answer once this node has applied the state carrying the change, with the task in
the shape `GET /_cluster/state` shows it (as placed, or as it was when removed).
"""

from __future__ import annotations

from ..action.persistent_tasks import (
    REMOVE,
    START,
    PersistentTaskResponse,
    RemovePersistentTaskRequest,
    StartPersistentTaskRequest,
)
from ..common.errors import IllegalArgument
from .controller import RestController, RestResponse
from .request import RestRequest


class PersistentTaskHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        if not self.node.settings.get("strata.test_actions.enabled"):
            return
        c.register("PUT", "/_strata/persistent/{task_id}", self.start, ("master_timeout",), action=START)
        c.register("DELETE", "/_strata/persistent/{task_id}", self.remove, ("master_timeout",),
                   action=REMOVE)

    async def start(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        unknown = sorted(set(body) - {"name", "params"})
        if unknown:
            raise IllegalArgument(f"unknown fields {unknown}")
        name, params = body.get("name"), body.get("params", {})
        if not isinstance(name, str) or not name:
            raise IllegalArgument("[name] must be the name of a persistent task")
        if not isinstance(params, dict):
            raise IllegalArgument("[params] must be an object")
        response: PersistentTaskResponse = await self.node.client.execute(START, StartPersistentTaskRequest(
            task_id=request.param("task_id"), task_name=name, params=params,
            master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"acknowledged": True, "task": response.task})

    async def remove(self, request: RestRequest) -> RestResponse:
        response: PersistentTaskResponse = await self.node.client.execute(REMOVE, RemovePersistentTaskRequest(
            task_id=request.param("task_id"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"acknowledged": True, "task": response.task})
