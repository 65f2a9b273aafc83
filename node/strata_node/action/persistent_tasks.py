"""Persistent tasks across the cluster (Elasticsearch's PersistentTasksClusterService,
PersistentTasksNodeService, PersistentTasksService and AllocatedPersistentTask).

The master holds the tasks in the cluster state (tasks/persistent.py) and changes them
through four master actions, each one cluster state update: start, remove, update_status
(a running allocation reports progress) and completion (it ended, done or failed). The
master places tasks on every state it builds (`reassign_tasks`, from the coordination
service's allocation hook), so a task whose node left moves to a survivor under a new
allocation id.

Every node listens to applied states: `PersistentTasksNodeService` decides what to start
and cancel, and this shell registers a local task `<name>[c]` (in `GET /_tasks`, with the
task's params in its description and its last reported state as status) and runs the
executor registered for the task name on the event loop; an executor with long CPU work
hands it to a thread itself. When the executor ends, the node tells the master (retrying
across master changes while the state still shows that allocation). A task cancelled
because the state moved or removed it ends silently; one cancelled by a user through
`_tasks/_cancel` is completed with its task_cancelled_exception, as in Elasticsearch.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import msgspec
import orjson

from ..cluster.state import ClusterStateContent, content_of
from ..common.errors import IllegalArgument, IllegalState, StrataError, TaskCancelled, error_to_dict
from ..tasks import persistent
from ..tasks.persistent import PersistentTask, PersistentTasksNodeService
from ..tasks.task import Task, TaskId, run_as
from ..transport import context
from ..transport.wire import Message
from .master import MasterNodeRequest
from .persistent_recheck import PersistentTasksRechecker

log = logging.getLogger("strata.tasks.persistent")

CUSTOM = persistent.CUSTOM
START = "cluster:admin/persistent/start"
REMOVE = "cluster:admin/persistent/remove"
UPDATE_STATUS = "cluster:admin/persistent/update_status"
COMPLETION = "cluster:admin/persistent/completion"
# Reports wait out a master election rather than fail the task over it.
REPORT_MASTER_TIMEOUT = 300.0
APPLY_TIMEOUT = 30.0


class StartPersistentTaskRequest(MasterNodeRequest):
    task_id: str
    task_name: str
    params: dict[str, Any] = {}


class RemovePersistentTaskRequest(MasterNodeRequest):
    task_id: str


class UpdatePersistentTaskStatusRequest(MasterNodeRequest):
    task_id: str
    allocation_id: int
    state: dict[str, Any]


class CompletionPersistentTaskRequest(MasterNodeRequest):
    task_id: str
    allocation_id: int
    failure: dict[str, Any] | None = None  # the error the task ended with, ES-shaped


class PersistentTaskResponse(Message):
    """The task as the state carrying the change has it (as it was, for one that went),
    and that state's (term, version), which the requesting node waits to apply."""

    term: int
    version: int
    task: dict[str, Any] | None = None


class PersistentTaskExecutor(Protocol):
    """What runs one kind of persistent task. Register it on every node (in code), so the
    master can validate what it starts and any node can run what it is assigned."""

    name: str

    def validate(self, params: dict[str, Any]) -> None:
        """Raise on params the task cannot run with (checked on the master at start)."""

    def run(self, task: AllocatedPersistentTask) -> Awaitable[None]:
        """The work; resumes from `task.state`, reports with `task.update_status`."""


class AllocatedPersistentTask:
    """One allocation of a persistent task running on this node."""

    def __init__(self, service: PersistentTasksService, task: PersistentTask, local: Task):
        self._service = service
        self.id = task.id
        self.task_name = task.task_name
        self.allocation_id = task.allocation_id
        self.params = task.params
        self.state = task.state  # the last reported state: where a reassigned task resumes
        self.local = local
        # Set when the cluster state moved or removed the task: its end is not reported.
        self.aborted_by_state = False

    async def update_status(self, state: dict[str, Any]) -> None:
        """Record progress in the cluster state; refused (resource_not_found_exception)
        once this allocation is stale."""
        await self._service.update_status(self.id, self.allocation_id, state)
        self.state = state

    def ensure_not_cancelled(self) -> None:
        self.local.ensure_not_cancelled()


def render_task(task: PersistentTask) -> dict[str, Any]:
    """One task in Elasticsearch's shape (PersistentTask.toXContent, API context)."""
    described: dict[str, Any] = {"params": task.params}
    if task.state is not None:
        described["state"] = task.state
    out: dict[str, Any] = {
        "id": task.id,
        "task": {task.task_name: described},
        "allocation_id": task.allocation_id,
        "assignment": {"executor_node": task.assignment.executor_node,
                       "explanation": task.assignment.explanation},
    }
    if task.allocation_id_on_last_status_update is not None:
        out["allocation_id_on_last_status_update"] = task.allocation_id_on_last_status_update
    return out


def render(data: Any) -> dict[str, Any]:
    """The cluster state custom (plain data) in Elasticsearch's shape."""
    tasks = msgspec.convert(data, persistent.PersistentTasks)
    return {"last_allocation_id": tasks.last_allocation_id,
            "tasks": [render_task(t) for _, t in sorted(tasks.tasks.items())]}


class PersistentTasksService:
    def __init__(self, node):
        self.node = node
        self.executors: dict[str, PersistentTaskExecutor] = {}
        self.node_service: PersistentTasksNodeService | None = None
        self._allocated: dict[tuple[str, int], AllocatedPersistentTask] = {}
        self._runners: set[asyncio.Task] = set()
        self._applied: Any = None  # the custom of the last state applied, to skip unchanged ones
        self._closed = False
        self.rechecker = PersistentTasksRechecker(node)

    def register(self) -> None:
        """Once the node id is known: the master actions and the built-in executors."""
        master = self.node.master_actions
        master.register(START, StartPersistentTaskRequest, PersistentTaskResponse, self._on_start,
                        coordinate=functools.partial(self._applied_here, START))
        master.register(REMOVE, RemovePersistentTaskRequest, PersistentTaskResponse, self._on_remove,
                        coordinate=functools.partial(self._applied_here, REMOVE))
        master.register(UPDATE_STATUS, UpdatePersistentTaskStatusRequest, PersistentTaskResponse,
                        self._on_update_status)
        master.register(COMPLETION, CompletionPersistentTaskRequest, PersistentTaskResponse,
                        self._on_completion)
        self.node_service = PersistentTasksNodeService(self.node.node_id, self._start_local,
                                                       self._cancel_local)
        if self.node.settings.get("strata.test_actions.enabled"):
            self.register_executor(CounterExecutor())
            persistent.register_assigner(CounterExecutor.name, CounterExecutor.assign)

    def register_executor(self, executor: PersistentTaskExecutor) -> None:
        if executor.name in self.executors:
            raise ValueError(f"persistent task executor [{executor.name}] is already registered")
        self.executors[executor.name] = executor

    def _executor(self, task_name: str) -> PersistentTaskExecutor:
        executor = self.executors.get(task_name)
        if executor is None:
            raise IllegalState(f"Unknown persistent executor [{task_name}]")
        return executor

    # -- the client side: any node ------------------------------------------------------

    async def _execute(self, action: str, request: Message, master_timeout: float = 30.0
                       ) -> PersistentTaskResponse:
        response: PersistentTaskResponse = await self.node.master_actions.execute(
            action, request, master_timeout=master_timeout)
        return response

    async def _applied_here(self, action: str, request: Message, task: Task) -> PersistentTaskResponse:
        """The master's answer, once this node has applied the state carrying it."""
        response: PersistentTaskResponse = await self.node.master_actions.on_master(action, request, task)

        def reached(state) -> bool:
            return state is not None and (state.term, state.version) >= (response.term, response.version)

        await self.node.coordination.wait_for_state(reached, APPLY_TIMEOUT)
        return response

    async def start(self, task_id: str, task_name: str, params: dict[str, Any],
                    master_timeout: float = 30.0) -> dict[str, Any] | None:
        """Start a task; answers it as placed, once this node has applied that state."""
        response = await self._execute(START, StartPersistentTaskRequest(
            task_id=task_id, task_name=task_name, params=params), master_timeout)
        return response.task

    async def remove(self, task_id: str, master_timeout: float = 30.0) -> dict[str, Any] | None:
        response = await self._execute(REMOVE, RemovePersistentTaskRequest(task_id=task_id), master_timeout)
        return response.task

    async def update_status(self, task_id: str, allocation_id: int, state: dict[str, Any]) -> None:
        await self._execute(UPDATE_STATUS, UpdatePersistentTaskStatusRequest(
            task_id=task_id, allocation_id=allocation_id, state=state), REPORT_MASTER_TIMEOUT)

    # -- the master side: each action is one cluster state update -----------------------

    async def _submit(self, source: str, update, task_id: str) -> PersistentTaskResponse:
        state = await self.node.coordination.submit(source, update)
        task = persistent.of(content_of(state)).tasks.get(task_id)
        return PersistentTaskResponse(term=state.term, version=state.version,
                                      task=render_task(task) if task is not None else None)

    async def _on_start(self, request: StartPersistentTaskRequest, task: Task) -> PersistentTaskResponse:
        executor = self._executor(request.task_name)
        executor.validate(request.params)
        return await self._submit(
            f"create persistent task [{request.task_name}] with id [{request.task_id}]",
            lambda content: persistent.start_task(content, request.task_id, request.task_name,
                                                  request.params), request.task_id)

    async def _on_remove(self, request: RemovePersistentTaskRequest, task: Task) -> PersistentTaskResponse:
        removed: list[PersistentTask] = []

        def update(content: ClusterStateContent) -> ClusterStateContent:
            removed[:] = [t for t in [persistent.of(content).tasks.get(request.task_id)] if t is not None]
            return persistent.remove_task(content, request.task_id)

        response = await self._submit(f"remove persistent task [{request.task_id}]", update, request.task_id)
        return PersistentTaskResponse(term=response.term, version=response.version,
                                      task=render_task(removed[0]) if removed else None)

    async def _on_update_status(self, request: UpdatePersistentTaskStatusRequest,
                                task: Task) -> PersistentTaskResponse:
        return await self._submit(
            f"update persistent task state [{request.task_id}] allocation [{request.allocation_id}]",
            lambda content: persistent.update_task_state(content, request.task_id, request.allocation_id,
                                                         request.state), request.task_id)

    async def _on_completion(self, request: CompletionPersistentTaskRequest,
                             task: Task) -> PersistentTaskResponse:
        if request.failure is not None:
            log.warning("persistent task [%s] allocation [%d] failed: %s", request.task_id,
                        request.allocation_id, request.failure.get("reason"))
        completed: list[PersistentTask] = []

        def update(content: ClusterStateContent) -> ClusterStateContent:
            completed[:] = [t for t in [persistent.of(content).tasks.get(request.task_id)] if t is not None]
            return persistent.complete_task(content, request.task_id, request.allocation_id)

        response = await self._submit(f"finish persistent task [{request.task_id}]", update, request.task_id)
        return PersistentTaskResponse(term=response.term, version=response.version,
                                      task=render_task(completed[0]) if completed else None)

    # -- the node side: every node --------------------------------------------------------

    def apply_cluster_state(self, old, new) -> None:
        """A cluster state listener: start what is assigned here, cancel what moved away."""
        if self._closed or self.node_service is None:
            return
        self.rechecker.apply_cluster_state(new)  # before the shortcut: a master or setting change counts
        data = content_of(new).metadata.customs.get(persistent.CUSTOM)
        if data is not None and data == self._applied:
            return
        self._applied = data
        self.node_service.apply(persistent.of(content_of(new)))

    def _start_local(self, ptask: PersistentTask) -> None:
        allocated: AllocatedPersistentTask | None = None
        try:
            executor = self._executor(ptask.task_name)
            # ES names the parent after the allocation: "cluster:<allocation id>".
            local = self.node.tasks.register(
                f"{ptask.task_name}[c]", type="persistent", cancellable=True,
                description=f"id={ptask.id}, params={orjson.dumps(ptask.params).decode()}",
                parent=TaskId("cluster", ptask.allocation_id),
                status=lambda: allocated.state if allocated is not None else None)
        except StrataError as e:
            log.warning("failed to start persistent task [%s] allocation [%d]: %s", ptask.id,
                        ptask.allocation_id, e)
            self._spawn(self._report_completion(ptask.id, ptask.allocation_id, error_to_dict(e)))
            return
        allocated = AllocatedPersistentTask(self, ptask, local)
        self._allocated[(ptask.id, ptask.allocation_id)] = allocated
        log.info("started persistent task [%s] [%s] allocation [%d]%s", ptask.task_name, ptask.id,
                 ptask.allocation_id, f", resuming from {ptask.state}" if ptask.state is not None else "")
        self._spawn(self._run(executor, allocated))

    def _cancel_local(self, ptask: PersistentTask, reason: str) -> None:
        allocated = self._allocated.get((ptask.id, ptask.allocation_id))
        if allocated is None or allocated.local.finished:
            return
        allocated.aborted_by_state = True
        log.info("cancelling persistent task [%s] allocation [%d]: %s", ptask.id, ptask.allocation_id, reason)
        # Through the task actions, so children the task sent to other nodes are banned too.
        self._spawn(self.node.task_actions.cancel_local(allocated.local, reason))

    async def _run(self, executor: PersistentTaskExecutor, allocated: AllocatedPersistentTask) -> None:
        failure: dict[str, Any] | None = None
        local = allocated.local
        try:
            with context.bound(context.RequestContext({}, str(local.id))):
                await run_as(local, executor.run(allocated))
        except TaskCancelled as e:
            failure = e.to_dict()
        except asyncio.CancelledError:
            allocated.aborted_by_state = True  # the node is stopping: the master reassigns it
            raise
        except Exception as e:
            log.warning("persistent task [%s] allocation [%d] failed: %s", allocated.id,
                        allocated.allocation_id, e)
            failure = error_to_dict(e)
        finally:
            self.node.tasks.unregister(local)
            self._allocated.pop((allocated.id, allocated.allocation_id), None)
        if not allocated.aborted_by_state:
            await self._report_completion(allocated.id, allocated.allocation_id, failure)

    def _current(self, task_id: str, allocation_id: int) -> bool:
        task = persistent.of(self.node.coordination.content).tasks.get(task_id)
        return task is not None and task.allocation_id == allocation_id

    async def _report_completion(self, task_id: str, allocation_id: int,
                                 failure: dict[str, Any] | None) -> None:
        """Tell the master, across master changes, while the state still shows this
        allocation (once it does not, the task was removed or moved: nothing to say)."""
        request = CompletionPersistentTaskRequest(task_id=task_id, allocation_id=allocation_id,
                                                  failure=failure)
        with context.unparented(headers={}):  # not a child of the ended task
            while not self.node.closing.is_set() and self._current(task_id, allocation_id):
                try:
                    await self._execute(COMPLETION, request, REPORT_MASTER_TIMEOUT)
                    return
                except StrataError as e:
                    if e.type == persistent.ResourceNotFound.type:
                        return  # stale: the task moved on meanwhile
                    log.info("failed to report the end of persistent task [%s] allocation [%d], "
                             "retrying: %s", task_id, allocation_id, e)
                    await self.node.coordination.wait_for_change(1.0)

    def _spawn(self, work) -> None:
        runner = asyncio.get_running_loop().create_task(work)
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)

    async def close(self) -> None:
        """The node stops: its tasks end unreported (the master reassigns them)."""
        self._closed = True
        await self.rechecker.close()
        for allocated in list(self._allocated.values()):
            allocated.aborted_by_state = True
            self.node.tasks.cancel(allocated.local, "node is shutting down")
        for runner in list(self._runners):
            runner.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)


class CounterExecutor:
    """`strata/test/counter`, the test task: counts to `count_to`, one step every
    `step_millis`, reporting `{"count": i}` after each step; a reassigned task resumes from
    the last count it reported. With `not_before_millis` (epoch millis) no node may take
    it before that instant: a condition no cluster state change announces, which only
    the master's periodic recheck notices (action/persistent_recheck.py)."""

    name = "strata/test/counter"

    @staticmethod
    def assign(task: PersistentTask, nodes, tasks: persistent.PersistentTasks) -> persistent.Assignment:
        not_before = task.params.get("not_before_millis")
        if not_before is not None and time.time() * 1000 < not_before:
            return persistent.Assignment(None, f"no node may run this task before [{not_before}]")
        return persistent.least_loaded(task, nodes, tasks)

    def validate(self, params: dict[str, Any]) -> None:
        for key in params:
            if key not in ("count_to", "step_millis", "not_before_millis"):
                raise IllegalArgument(f"[{self.name}] unknown parameter [{key}]")
        for key, required in (("count_to", True), ("step_millis", False), ("not_before_millis", False)):
            value = params.get(key)
            if value is None and not required:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise IllegalArgument(f"[{self.name}] [{key}] must be a non-negative integer, got [{value}]")

    async def run(self, task: AllocatedPersistentTask) -> None:
        count_to = task.params["count_to"]
        step = task.params.get("step_millis", 100) / 1000
        count = int((task.state or {}).get("count", 0))
        while count < count_to:
            await asyncio.sleep(step)
            task.ensure_not_cancelled()
            count += 1
            await task.update_status({"count": count})
