"""TaskManager: the node's register of running tasks, and the rules of cancellation.

The manager is plain state, no network: cancelling a task answers which remote nodes ran
its children, and the transport shell sends them the ban (as Elasticsearch's
TaskCancellationService does). A ban on a parent cancels that parent's children here and
refuses new ones, so a child request that arrives after the cancellation cannot start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..common.errors import IllegalArgument, TaskCancelled
from ..common.patterns import simple_match_any
from .task import Task, TaskId

StatusSource = Callable[[], dict[str, Any] | None]


class TaskManager:
    def __init__(self, node_id: str, *, clock_ns: Callable[[], int] = time.time_ns):
        self.node_id = node_id
        # Numbers start from the clock in microseconds: a restarted node starts above
        # every number it gave out before (unless it ran a million tasks a second), so a
        # stored result is never confused with a new task. Still below 2**53 until 2255,
        # so JSON clients that read numbers as doubles keep them exact.
        self._next = clock_ns() // 1000
        self._tasks: dict[int, Task] = {}
        self._children: dict[TaskId, set[int]] = {}  # parent -> local children
        self._child_nodes: dict[TaskId, set[str]] = {}  # local task -> nodes running its children
        self._bans: dict[TaskId, str] = {}  # banned parent -> reason

    # -- registration ----------------------------------------------------------------------

    def register(self, action: str, *, type: str = "transport", description: str = "",
                 parent: TaskId | None = None, headers: dict[str, str] | None = None,
                 cancellable: bool = False, status: StatusSource | None = None) -> Task:
        if parent is not None:
            reason = self._bans.get(parent)
            if reason is None:
                local = self._tasks.get(parent.id) if parent.node_id == self.node_id else None
                if local is not None and local.cancelled:
                    reason = local.cancelled_reason
            if reason is not None:
                raise TaskCancelled("The parent task was cancelled, shouldn't start any child tasks, "
                                    + reason)
        task = Task(TaskId(self.node_id, self._next), action, type, description, parent,
                    dict(headers or {}), cancellable, status)
        self._next += 1
        self._tasks[task.id.id] = task
        if parent is not None:
            self._children.setdefault(parent, set()).add(task.id.id)
        return task

    def unregister(self, task: Task) -> None:
        self._tasks.pop(task.id.id, None)
        task.finish()
        self._child_nodes.pop(task.id, None)
        if task.parent is not None:
            siblings = self._children.get(task.parent)
            if siblings is not None:
                siblings.discard(task.id.id)
                if not siblings:
                    del self._children[task.parent]

    def register_child_node(self, parent: Task, node_id: str) -> None:
        """Remember that `node_id` runs a child of `parent`, so a cancellation reaches it.
        A cancelled parent sends no more children: the bans already went out without them
        (ES's registerChildConnection)."""
        if parent.cancelled:
            raise TaskCancelled(f"parent task was cancelled [{parent.cancelled_reason}]")
        if node_id != self.node_id:
            self._child_nodes.setdefault(parent.id, set()).add(node_id)

    # -- lookups -----------------------------------------------------------------------------

    def get(self, task_id: TaskId) -> Task | None:
        return self._tasks.get(task_id.id) if task_id.node_id == self.node_id else None

    def tasks(self) -> list[Task]:
        return list(self._tasks.values())

    def list(self, *, actions: Iterable[str] = (), parent: TaskId | None = None) -> list[Task]:
        """Tasks whose action matches one of the `*` patterns (all when none) and,
        when given, whose parent is `parent`."""
        patterns = [p for a in actions for p in a.split(",") if p]
        out = []
        for task in self._tasks.values():
            if patterns and not simple_match_any(patterns, task.action):
                continue
            if parent is not None and task.parent != parent:
                continue
            out.append(task)
        return sorted(out, key=lambda t: t.id.id)

    def descendants(self, task_id: TaskId) -> list[Task]:
        out, frontier = [], [task_id]
        while frontier:
            parent = frontier.pop()
            for child_id in sorted(self._children.get(parent, ())):
                child = self._tasks.get(child_id)
                if child is not None:
                    out.append(child)
                    frontier.append(child.id)
        return out

    # -- cancellation --------------------------------------------------------------------------

    def cancel(self, task: Task, reason: str) -> set[str]:
        """Cancel a task and its descendants on this node; returns the other nodes that
        ran children of any of them, which must be sent a ban. Descendants that cannot
        be cancelled run to their end, as in Elasticsearch."""
        if not task.cancellable:
            raise IllegalArgument(f"task [{task.id}] doesn't support cancellation")
        nodes: set[str] = set()
        for t in [task, *self.descendants(task.id)]:
            if t.cancellable:
                t.cancel(reason)
            nodes |= self._child_nodes.get(t.id, set())
        return nodes

    def ban_parent(self, parent: TaskId, reason: str) -> list[Task]:
        """A remote parent was cancelled: cancel its children here, refuse new ones.
        Returns the children cancelled now."""
        self._bans[parent] = reason
        cancelled = []
        for child_id in list(self._children.get(parent, ())):
            child = self._tasks.get(child_id)
            if child is not None and child.cancellable:
                self.cancel(child, reason)
                cancelled.append(child)
        return cancelled

    def remove_ban(self, parent: TaskId) -> None:
        self._bans.pop(parent, None)

    def remove_bans_from(self, node_id: str) -> None:
        """The parent's node left the cluster: its bans will never be lifted by it."""
        for parent in [p for p in self._bans if p.node_id == node_id]:
            del self._bans[parent]

    @property
    def bans(self) -> dict[TaskId, str]:
        return dict(self._bans)
