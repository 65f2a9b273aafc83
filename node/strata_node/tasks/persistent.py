"""Persistent tasks: work recorded in cluster state that outlives the node running it
(Elasticsearch's PersistentTasksCustomMetadata, PersistentTasksClusterService and
PersistentTasksNodeService).

The state is an immutable value the master changes and publishes; every change of
assignment bumps the task's allocation id, so a report from the node that ran an older
allocation (a node that left and came back, a slow message) names a stale id and is
ignored. `PersistentTasksNodeService` is the node side: given the published state, it
starts what is newly assigned here and cancels what is no longer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..common.errors import StrataError

log = logging.getLogger("strata.tasks.persistent")


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class ResourceAlreadyExists(StrataError):
    type = "resource_already_exists_exception"
    status = 400


@dataclass(frozen=True)
class Assignment:
    executor_node: str | None
    explanation: str = ""

    @property
    def assigned(self) -> bool:
        return self.executor_node is not None


UNASSIGNED = Assignment(None, "waiting for initial assignment")


@dataclass(frozen=True)
class PersistentTask:
    id: str
    task_name: str
    params: dict[str, Any]
    allocation_id: int
    assignment: Assignment = UNASSIGNED
    state: dict[str, Any] | None = None  # the progress the executing node last reported


# Decides where a task runs: (task, eligible node ids) -> assignment. Executors register one.
Assigner = Callable[[PersistentTask, list[str]], Assignment]


def least_loaded(task: PersistentTask, nodes: list[str], load: dict[str, int] | None = None) -> Assignment:
    if not nodes:
        return Assignment(None, "no node is available to run the task")
    load = load or {}
    node = min(sorted(nodes), key=lambda n: load.get(n, 0))
    return Assignment(node, "")


@dataclass(frozen=True)
class PersistentTasks:
    """The cluster state custom: tasks by id and the last allocation id handed out."""

    tasks: dict[str, PersistentTask] = field(default_factory=dict)
    last_allocation_id: int = 0

    def _with(self, task: PersistentTask) -> PersistentTasks:
        last = max(self.last_allocation_id, task.allocation_id)
        return PersistentTasks({**self.tasks, task.id: task}, last)

    def add(self, task_id: str, task_name: str, params: dict[str, Any],
            assignment: Assignment) -> PersistentTasks:
        if task_id in self.tasks:
            raise ResourceAlreadyExists(f"task with id {{{task_id}}} already exist")
        return self._with(PersistentTask(task_id, task_name, params, self.last_allocation_id + 1, assignment))

    def remove(self, task_id: str) -> PersistentTasks:
        if task_id not in self.tasks:
            raise ResourceNotFound(f"the task with id {task_id} doesn't exist")
        return PersistentTasks({k: v for k, v in self.tasks.items() if k != task_id}, self.last_allocation_id)

    def update_state(self, task_id: str, allocation_id: int, state: dict[str, Any]) -> PersistentTasks:
        """A progress report from the node running `allocation_id`; a stale one is refused."""
        task = self.tasks.get(task_id)
        if task is None:
            raise ResourceNotFound(f"the task with id {task_id} doesn't exist")
        if task.allocation_id != allocation_id:
            raise ResourceNotFound(f"the task with id {task_id} and allocation id {allocation_id} "
                                   "doesn't exist")
        return self._with(replace(task, state=state))

    def reassign(self, live_nodes: list[str], assigner: Callable[[PersistentTask, list[str]], Assignment]
                 ) -> PersistentTasks:
        """Give every task whose node is gone (or that never got one) a new assignment;
        a changed assignment gets a new allocation id."""
        out = self
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            if task.assignment.assigned and task.assignment.executor_node in live_nodes:
                continue
            assignment = assigner(task, live_nodes)
            if assignment == task.assignment:
                continue
            # Every change of assignment, to no node included, gets a new allocation id: a
            # late report from the node that had the task names the old one and is refused.
            out = out._with(replace(task, assignment=assignment, allocation_id=out.last_allocation_id + 1))
        return out

    def assigned_to(self, node_id: str) -> dict[str, PersistentTask]:
        return {t.id: t for t in self.tasks.values() if t.assignment.executor_node == node_id}


class PersistentTasksNodeService:
    """Runs the tasks assigned to this node. `start(task)` and `cancel(task, reason)` are
    the shell's (they register a local task `<name>[c]` and run its executor); this class
    only decides which to call when a new state arrives."""

    def __init__(self, node_id: str, start: Callable[[PersistentTask], None],
                 cancel: Callable[[PersistentTask, str], None]):
        self.node_id = node_id
        self._start = start
        self._cancel = cancel
        self.running: dict[str, PersistentTask] = {}  # by task id, the allocation running here

    def apply(self, state: PersistentTasks) -> None:
        assigned = state.assigned_to(self.node_id)
        for task_id, running in list(self.running.items()):
            current = assigned.get(task_id)
            if current is None or current.allocation_id != running.allocation_id:
                del self.running[task_id]
                removed = task_id not in state.tasks
                self._cancel(running, "task has been removed, cancelling locally" if removed
                             else "task has been reassigned, cancelling locally")
        for task_id, task in sorted(assigned.items()):
            if task_id not in self.running:
                self.running[task_id] = task
                self._start(task)
