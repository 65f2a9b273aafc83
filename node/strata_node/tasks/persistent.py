"""Persistent tasks: work recorded in cluster state that outlives the node running it
(Elasticsearch's PersistentTasksCustomMetadata, PersistentTasksClusterService and
PersistentTasksNodeService).

The state is an immutable value the master changes and publishes; every change of
assignment bumps the task's allocation id, so a report from the node that ran an older
allocation (a node that left and came back, a slow message) names a stale id and is
refused. It lives in the cluster state's metadata customs as plain data (followers decode
customs without knowing their types): `of` reads it, `with_tasks` writes it back.
`reassign_tasks` is the master's step on every state it builds; the updates below it are
what the master actions run. `PersistentTasksNodeService` is the node side: given the
published state, it starts what is newly assigned here and cancels what is no longer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent
from ..common.errors import ResourceAlreadyExists, StrataError

log = logging.getLogger("strata.tasks.persistent")

CUSTOM = "persistent_tasks"  # the key in metadata customs, as Elasticsearch names it


class ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404


class Assignment(msgspec.Struct, frozen=True):
    executor_node: str | None
    explanation: str = ""

    @property
    def assigned(self) -> bool:
        return self.executor_node is not None


INITIAL_ASSIGNMENT = Assignment(None, "waiting for initial assignment")
NO_NODE_FOUND = Assignment(None, "no appropriate nodes found for the assignment")


class PersistentTask(msgspec.Struct, frozen=True):
    id: str
    task_name: str
    params: dict[str, Any]
    allocation_id: int
    assignment: Assignment = INITIAL_ASSIGNMENT
    state: dict[str, Any] | None = None  # the progress the executing node last reported
    # As Elasticsearch keeps it: the allocation that reported `state`, or on a
    # reassignment the allocation the task had before.
    allocation_id_on_last_status_update: int | None = None


class PersistentTasks(msgspec.Struct, frozen=True):
    """The cluster state custom: tasks by id and the last allocation id handed out."""

    tasks: dict[str, PersistentTask] = {}
    last_allocation_id: int = 0

    def _with(self, task: PersistentTask) -> PersistentTasks:
        last = max(self.last_allocation_id, task.allocation_id)
        return PersistentTasks({**self.tasks, task.id: task}, last)

    def add(self, task_id: str, task_name: str, params: dict[str, Any],
            assignment: Assignment = INITIAL_ASSIGNMENT) -> PersistentTasks:
        if task_id in self.tasks:
            raise ResourceAlreadyExists(f"task with id {{{task_id}}} already exist")
        return self._with(PersistentTask(task_id, task_name, params, self.last_allocation_id + 1, assignment))

    def remove(self, task_id: str) -> PersistentTasks:
        if task_id not in self.tasks:
            raise ResourceNotFound(f"the task with id {task_id} doesn't exist")
        return PersistentTasks({k: v for k, v in self.tasks.items() if k != task_id}, self.last_allocation_id)

    def _allocation(self, task_id: str, allocation_id: int) -> PersistentTask:
        task = self.tasks.get(task_id)
        if task is None or task.allocation_id != allocation_id:
            raise ResourceNotFound(f"the task with id {task_id} and allocation id {allocation_id} "
                                   "doesn't exist")
        return task

    def update_state(self, task_id: str, allocation_id: int, state: dict[str, Any]) -> PersistentTasks:
        """A progress report from the node running `allocation_id`; a stale one is refused."""
        task = self._allocation(task_id, allocation_id)
        return self._with(msgspec.structs.replace(task, state=state,
                                                  allocation_id_on_last_status_update=allocation_id))

    def complete(self, task_id: str, allocation_id: int) -> PersistentTasks:
        """The node running `allocation_id` says the task ended (done or failed): it goes.
        A stale allocation's word is refused: the task runs elsewhere now."""
        self._allocation(task_id, allocation_id)
        return self.remove(task_id)

    def reassign(self, nodes: Mapping[str, DiscoveryNode],
                 assigner_for: Callable[[str], Assigner]) -> PersistentTasks:
        """Give every task whose node is gone (or that has none) a new assignment; a
        changed assignment gets a new allocation id."""
        out = self
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            if task.assignment.assigned and task.assignment.executor_node in nodes:
                continue
            assignment = assigner_for(task.task_name)(task, nodes, out)
            if assignment == task.assignment:
                continue
            if task.assignment == INITIAL_ASSIGNMENT:
                # No node ever ran this allocation, so no report can name it: the task
                # keeps the id it was created with (ES assigns it in the creating update).
                out = out._with(msgspec.structs.replace(task, assignment=assignment))
                continue
            # Every other change of assignment, to no node included, gets a new allocation
            # id: a late report from the node that had the task names the old one.
            out = out._with(msgspec.structs.replace(
                task, assignment=assignment, allocation_id=out.last_allocation_id + 1,
                allocation_id_on_last_status_update=task.allocation_id))
        return out

    def assigned_to(self, node_id: str) -> dict[str, PersistentTask]:
        return {t.id: t for t in self.tasks.values() if t.assignment.executor_node == node_id}

    def count_on(self, node_id: str, task_name: str) -> int:
        return sum(1 for t in self.tasks.values()
                   if t.task_name == task_name and t.assignment.executor_node == node_id)


# Decides where a task runs: (task, the state's nodes, every task as assigned so far) ->
# assignment. Executors may register their own per task name.
Assigner = Callable[[PersistentTask, Mapping[str, DiscoveryNode], PersistentTasks], Assignment]


def least_loaded(task: PersistentTask, nodes: Mapping[str, DiscoveryNode],
                 tasks: PersistentTasks) -> Assignment:
    """Elasticsearch's default: the data node running the fewest tasks of this name (ties
    by node id, so every master decides alike)."""
    candidates = sorted(n for n, details in nodes.items() if details.is_data_node)
    if not candidates:
        return NO_NODE_FOUND
    return Assignment(min(candidates, key=lambda n: tasks.count_on(n, task.task_name)), "")


_assigners: dict[str, Assigner] = {}


def register_assigner(task_name: str, assigner: Assigner) -> None:
    """An executor's own placement rule. Registered in code, at import, so every
    master-eligible node places tasks alike."""
    _assigners[task_name] = assigner


def assigner_for(task_name: str) -> Assigner:
    return _assigners.get(task_name, least_loaded)


# -- the custom in the cluster state, and the master's updates of it -------------------------


def of(content: ClusterStateContent) -> PersistentTasks:
    data = content.metadata.customs.get(CUSTOM)
    return msgspec.convert(data, PersistentTasks) if data is not None else PersistentTasks()


def with_tasks(content: ClusterStateContent, tasks: PersistentTasks) -> ClusterStateContent:
    """The content carrying `tasks`, as plain data (so the master holds what followers
    decode, and states compare equal across a round trip); a metadata change bumps the
    metadata version."""
    customs = {**content.metadata.customs, CUSTOM: msgspec.to_builtins(tasks)}
    metadata = msgspec.structs.replace(content.metadata, customs=customs,
                                       version=content.metadata.version + 1)
    return msgspec.structs.replace(content, metadata=metadata)


def reassign_tasks(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode]) -> ClusterStateContent:
    """The master's step on every state it builds: tasks of nodes that left, or with no
    node, get a new assignment among `nodes`. The same content when nothing changes."""
    if CUSTOM not in content.metadata.customs:
        return content
    tasks = of(content)
    reassigned = tasks.reassign(nodes, assigner_for)
    return content if reassigned == tasks else with_tasks(content, reassigned)


def start_task(content: ClusterStateContent, task_id: str, task_name: str,
               params: dict[str, Any]) -> ClusterStateContent:
    """A new task, unassigned: the master's step that follows every update places it."""
    return with_tasks(content, of(content).add(task_id, task_name, params))


def remove_task(content: ClusterStateContent, task_id: str) -> ClusterStateContent:
    return with_tasks(content, of(content).remove(task_id))


def update_task_state(content: ClusterStateContent, task_id: str, allocation_id: int,
                      state: dict[str, Any]) -> ClusterStateContent:
    return with_tasks(content, of(content).update_state(task_id, allocation_id, state))


def complete_task(content: ClusterStateContent, task_id: str, allocation_id: int) -> ClusterStateContent:
    return with_tasks(content, of(content).complete(task_id, allocation_id))


class PersistentTasksNodeService:
    """Runs the tasks assigned to this node. `start(task)` and `cancel(task, reason)` are
    the shell's (they register a local task `<name>[c]` and run its executor); this class
    only decides which to call when a new state arrives."""

    def __init__(self, node_id: str, start: Callable[[PersistentTask], None],
                 cancel: Callable[[PersistentTask, str], None]):
        self.node_id = node_id
        self._start = start
        self._cancel = cancel
        # By task id, the allocation started here. An allocation whose work has ended
        # stays until the state drops it, so the states that still show it before the
        # master applies its completion do not start it again.
        self.running: dict[str, PersistentTask] = {}

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
