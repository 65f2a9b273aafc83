"""`POST /{index}/_delete_by_query`, `POST /{index}/_update_by_query`, `POST /_reindex` and
their `_rethrottle` (Elasticsearch's RestDeleteByQueryAction, RestUpdateByQueryAction,
RestReindexAction and RestRethrottleAction).

The request is parsed whole here (action/bulk_by_scroll.py's parsers), so a bad one is a
400 before any task exists. With `wait_for_completion` (the default) the answer is the
action's BulkByScrollResponse, whose status is the worst failure's (or 408 for a search
that timed out); delete by query leaves out `created` and `updated`, update by query
`created`, as ES's INCLUDE_CREATED/INCLUDE_UPDATED params do. With
`wait_for_completion=false` the answer is `{"task": "node:id"}` and the response, all
counts included, is stored in `.tasks` when the action ends. Either way the action is not
cancelled when the client goes away: ES runs these through `executeLocally`, not the
cancellable client.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..action.bulk_by_scroll import (
    DELETE_BY_QUERY,
    REINDEX,
    RETHROTTLE,
    UPDATE_BY_QUERY,
    BulkByScrollResponse,
    RethrottleRequest,
    parse_by_query,
    parse_reindex,
    parse_requests_per_second,
)
from ..common.errors import IllegalArgument
from ..node_client import observing
from ..search.request import QUERY_STRING_PARAMS
from ..tasks.api import ListTasksResponse
from ..tasks.task import TaskId
from .controller import RestController, RestResponse
from .indices import RESOLVE_PARAMS
from .request import RestRequest
from .tasks import TaskHandlers, _group_by

COMMON_PARAMS = ("refresh", "timeout", "wait_for_active_shards", "wait_for_completion", "requests_per_second",
                 "slices", "max_docs", "scroll")
# What the by-query APIs read: their own, and the search request's (RestSearchAction.parseSearchRequest).
BY_QUERY_PARAMS = (*COMMON_PARAMS, *RESOLVE_PARAMS, *QUERY_STRING_PARAMS, "conflicts", "routing",
                   "preference", "search_type", "search_timeout", "scroll_size", "from", "size", "sort",
                   "terminate_after", "stats", "version", "request_cache", "_source", "_source_includes",
                   "_source_excludes")
UPDATE_BY_QUERY_PARAMS = (*BY_QUERY_PARAMS, "pipeline")
REINDEX_PARAMS = (*COMMON_PARAMS, "require_alias", "pipeline")
RETHROTTLE_PARAMS = ("requests_per_second", "group_by")
LEFT_OUT = {DELETE_BY_QUERY: ("created", "updated"), UPDATE_BY_QUERY: ("created",), REINDEX: ()}


class BulkByScrollHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("POST", "/{index}/_delete_by_query", self.delete_by_query, BY_QUERY_PARAMS,
                   action=DELETE_BY_QUERY)
        c.register("POST", "/{index}/_update_by_query", self.update_by_query, UPDATE_BY_QUERY_PARAMS,
                   action=UPDATE_BY_QUERY)
        c.register("POST", "/_reindex", self.reindex, REINDEX_PARAMS, action=REINDEX)
        for path in ("/_reindex/{task_id}/_rethrottle", "/_update_by_query/{task_id}/_rethrottle",
                     "/_delete_by_query/{task_id}/_rethrottle"):
            c.register("POST", path, self.rethrottle, RETHROTTLE_PARAMS, action=RETHROTTLE)

    async def delete_by_query(self, request: RestRequest) -> RestResponse:
        message = parse_by_query("delete", request.param("index"), request.body, request.params)
        return await self._run(DELETE_BY_QUERY, message, request)

    async def update_by_query(self, request: RestRequest) -> RestResponse:
        message = parse_by_query("update", request.param("index"), request.body, request.params)
        return await self._run(UPDATE_BY_QUERY, message, request)

    async def reindex(self, request: RestRequest) -> RestResponse:
        return await self._run(REINDEX, parse_reindex(request.body, request.params), request)

    async def _run(self, action: str, message, request: RestRequest) -> RestResponse:
        wait = request.bool_param("wait_for_completion", True)
        # A client going away leaves the action be, as ES's executeLocally does.
        with observing(None):
            if wait:
                response: BulkByScrollResponse = await self.node.client.execute(action, message)
                body = {k: v for k, v in response.body.items() if k not in LEFT_OUT[action]}
                return RestResponse(response.status, body)
            started = asyncio.get_running_loop().create_future()

            async def work() -> dict[str, Any]:  # stored as the task's response: every count
                answer = await self.node.client.execute(action, message, on_task=started.set_result)
                return answer.body

            task_id = await self.node.task_results.run_detached(started, work())
        return RestResponse(200, {"task": str(task_id)})

    async def rethrottle(self, request: RestRequest) -> RestResponse:
        group_by = _group_by(request)
        raw_id = request.param("task_id")
        TaskId.parse(raw_id)
        if request.param("requests_per_second") is None:
            raise IllegalArgument("requests_per_second is a required parameter")
        rate = parse_requests_per_second(request.param("requests_per_second"))
        response: ListTasksResponse = await self.node.client.execute(
            RETHROTTLE, RethrottleRequest(task_id=raw_id, requests_per_second=rate))
        body = TaskHandlers(self.node)._render(response.nodes, response.node_failures, group_by)
        return RestResponse(200, body)
