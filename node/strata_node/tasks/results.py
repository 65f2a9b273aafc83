"""Stored task results: what an action started with `wait_for_completion=false` leaves in
the `.tasks` system index when it ends (Elasticsearch's TaskResultsService).

The document id is the task id; the document is `{"completed": true, "task": {...},
"response": {...}}` or with `"error"` instead of `"response"`, which is exactly what
`GET /_tasks/{id}` answers once the task is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import orjson

from ..action.bulk import BulkItem, WriteOptions
from ..action.get import GetRequest, get_document
from ..common.errors import IllegalState, IndexNotFound, StrataError, error_to_dict
from ..common.xcontent import materialize
from ..transport.wire import to_json_value
from .task import Task, TaskId

log = logging.getLogger("strata.tasks")

TASKS_INDEX = ".tasks"
# As TaskResultsService.getTaskResultIndexSettings: one shard, a replica only where there
# is a second node (a lone node stays green).
TASKS_INDEX_SETTINGS = {"settings": {"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1",
                                     "index.hidden": True},
                        "mappings": {"dynamic": False, "properties": {"completed": {"type": "boolean"}}}}


class TaskResults:
    def __init__(self, node):
        self.node = node
        self._running: set[asyncio.Future] = set()  # detached actions
        self._storing: set[asyncio.Future] = set()
        # Detached tasks whose result is not stored yet: between the end of the action and
        # the stored document, GET /_tasks/{id} still finds them here.
        self._pending: dict[TaskId, tuple[Task, asyncio.Future]] = {}

    async def run_detached(self, started: asyncio.Future, work: Awaitable[Any]) -> TaskId:
        """Run `work` (an action that reports its task through `started`) in the
        background; return its task id as soon as it is registered."""
        runner = asyncio.ensure_future(work)
        await asyncio.wait([started, runner], return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            runner.result()  # it failed before registering a task: the caller hears why
            raise IllegalState("the action ended without registering a task")
        self._running.add(runner)
        task: Task = started.result()
        self._pending[task.id] = (task, asyncio.get_running_loop().create_future())
        runner.add_done_callback(lambda f: self._stored_later(task, f))
        return task.id

    def pending(self, task_id: TaskId) -> Task | None:
        entry = self._pending.get(task_id)
        return entry[0] if entry is not None else None

    async def wait_stored(self, task_id: TaskId) -> None:
        entry = self._pending.get(task_id)
        if entry is not None:
            await asyncio.shield(entry[1])

    def _stored_later(self, task: Task, finished: asyncio.Future) -> None:
        self._running.discard(finished)
        store = asyncio.ensure_future(self._store(task, finished))
        self._storing.add(store)
        store.add_done_callback(self._storing.discard)

    async def _store(self, task: Task, finished: asyncio.Future) -> None:
        document: dict[str, Any] = {"completed": True, "task": task.info(detailed=True)}
        if finished.cancelled():
            document["error"] = {"type": "task_cancelled_exception", "reason": "task cancelled"}
        elif finished.exception() is not None:
            document["error"] = error_to_dict(finished.exception())
        else:
            document["response"] = to_json_value(finished.result())
        try:
            await self._ensure_index()
            item = BulkItem("index", TASKS_INDEX, str(task.id), source=orjson.dumps(document))
            [response] = await self.node.bulk.execute([item], WriteOptions(refresh="true"))
            if response.error is not None:
                raise response.error
        except Exception:  # any failure: the result is lost, and the log must say so
            log.exception("failed to store the result of task [%s]", task.id)
        finally:
            _, stored = self._pending.pop(task.id, (None, None))
            if stored is not None:
                stored.set_result(None)

    async def _ensure_index(self) -> None:
        try:
            self.node.indices.metadata(TASKS_INDEX)
        except IndexNotFound:
            try:
                await self.node.indices.create(TASKS_INDEX, TASKS_INDEX_SETTINGS)
            except StrataError as e:
                if e.type != "resource_already_exists_exception":
                    raise

    async def get(self, task_id: TaskId) -> dict[str, Any] | None:
        try:
            body = await get_document(self.node, GetRequest(TASKS_INDEX, str(task_id)))
        except IndexNotFound:
            return None
        return materialize(body["_source"]) if body["found"] else None

    async def close(self) -> None:
        """Cancel detached actions (a stopping node ends its tasks), then wait until every
        result, cancellations included, is stored."""
        for runner in list(self._running):
            runner.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)
        while self._storing:
            await asyncio.gather(*list(self._storing), return_exceptions=True)
