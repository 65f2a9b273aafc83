"""The task management actions every node serves: list its tasks, cancel them, take a ban
on a parent, and a sleep action with children on other nodes for tests and demos (only
with `strata.test_actions.enabled: true`).

"Every node" is the nodes of the applied cluster state (Node.cluster_nodes()); bans go to
the nodes a task sent children to, which the transport has shaken hands with, and the bans
a node that left the cluster placed are dropped, since it can no longer lift them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from ..common.errors import IllegalArgument, StrataError
from ..transport import context
from ..transport.service import TransportService
from ..transport.wire import Empty, Message
from . import running
from .manager import TaskManager
from .task import Task, TaskId, ended, within

log = logging.getLogger("strata.tasks")

LIST_NODE = "cluster:monitor/tasks/lists[n]"
# A listing never waits for listings (its own, its node-level parts, another waiter's):
# ES leaves out every action starting with this.
LISTING = "cluster:monitor/tasks/lists"
CANCEL_NODE = "cluster:admin/tasks/cancel[n]"
BAN = "internal:admin/tasks/ban"
SLEEP = "cluster:admin/strata/sleep"
SLEEP_CHILD = "cluster:admin/strata/sleep[n]"
SLEEP_SLICE = 0.01  # seconds a sleep on a thread runs between looks at its task


class TaskFilter(Message):
    actions: list[str] = []
    parent_task_id: str | None = None
    task_id: str | None = None
    detailed: bool = False


class ListNodeTasks(Message):
    """One node's part of a listing; with `wait_for_completion`, answered once the tasks
    that matched when it arrived have ended (`timeout` seconds at most)."""

    filter: TaskFilter
    wait_for_completion: bool = False
    timeout: float = 30.0


class NodeTasks(Message):
    node_id: str
    node_name: str
    transport_address: str
    tasks: list[dict[str, Any]] = []
    roles: list[str] = []


class CancelTasks(Message):
    """One node's part of a cancellation; with `wait_for_completion`, answered once the
    tasks it cancelled have ended (`timeout` seconds at most)."""

    filter: TaskFilter
    reason: str = "by user request"
    wait_for_completion: bool = False
    timeout: float = 30.0


class BanParent(Message):
    parent_task_id: str
    reason: str = ""
    ban: bool = True  # False lifts the ban once the parent is gone


class Sleep(Message):
    """Sleep `millis`, first starting a child sleep on each node in `children`. With an
    `executor`, every sleep (the children's too) is blocking work on a thread of that
    named pool, which shows that cancelling stops thread-pool work too."""

    millis: int
    children: list[str] = []
    description: str = ""
    executor: str | None = None


def _matching(tasks: TaskManager, f: TaskFilter) -> list[Task]:
    parent = TaskId.parse(f.parent_task_id) if f.parent_task_id else None
    found = tasks.list(actions=f.actions, parent=parent)
    if f.task_id:
        wanted = TaskId.parse(f.task_id)
        found = [t for t in found if t.id == wanted]
    return found


class TaskActions:
    def __init__(self, transport: TransportService, tasks: TaskManager, *, test_actions: bool = False):
        self.transport = transport
        self.tasks = tasks
        self._pending: set[asyncio.Future] = set()
        transport.register(LIST_NODE, ListNodeTasks, NodeTasks, self._list_node)
        transport.register(CANCEL_NODE, CancelTasks, NodeTasks, self._cancel_node)
        transport.register(BAN, BanParent, Empty, self._ban)
        if test_actions:  # `strata.test_actions.enabled`: never in production
            transport.register(SLEEP, Sleep, Empty, self.sleep, cancellable=True)
            transport.register(SLEEP_CHILD, Sleep, Empty, self.sleep, cancellable=True)

    def _node_tasks(self, found: list[Task], detailed: bool) -> NodeTasks:
        return NodeTasks(node_id=self.tasks.node_id, node_name=self.transport.node_name,
                         transport_address=self.transport.address,
                         tasks=[t.info(detailed=detailed) for t in found], roles=sorted(self.transport.roles))

    async def _list_node(self, request: ListNodeTasks, task: Task) -> NodeTasks:
        # The listing task itself is a child of the caller's, as in ES's output.
        found = _matching(self.tasks, request.filter)
        if request.wait_for_completion:
            waited = [t for t in found if not t.action.startswith(LISTING)]
            millis = round(request.timeout * 1000)
            reason = f"timed out after [{millis}ms] waiting for the matching tasks to end"
            async with within(request.timeout, lambda: reason):
                await ended(waited)
        return self._node_tasks(found, request.filter.detailed)

    async def _cancel_node(self, request: CancelTasks, task: Task) -> NodeTasks:
        # Every match is cancelled in its own name, as ES does, even one its local parent's
        # cancellation reached first: its children on other nodes are banned under its id.
        matching = [t for t in _matching(self.tasks, request.filter) if t.cancellable and not t.cancelled]
        for found in matching:
            await self.cancel_local(found, request.reason)
        answer = self._node_tasks(matching, detailed=False)  # as they were when cancelled
        if request.wait_for_completion:  # as ES's cancel waits on each node
            async with within(request.timeout, lambda: _still_running(matching)):
                await ended(matching)
        return answer

    async def cancel_local(self, task: Task, reason: str) -> None:
        """Cancel a task here and ban its id on every node that ran its children; once
        the task has ended, lift the bans (late children can no longer arrive then)."""
        nodes = self.tasks.cancel(task, reason)
        addresses = self.transport.addresses_of(nodes)
        await asyncio.gather(*(self._send_ban(address, task, reason, True) for address in addresses))
        if addresses:
            task.on_done(lambda: self._background(
                asyncio.gather(*(self._send_ban(a, task, reason, False) for a in addresses))))

    def _background(self, work) -> None:
        future = asyncio.ensure_future(work)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def _send_ban(self, address: str, task: Task, reason: str, ban: bool) -> None:
        message = BanParent(parent_task_id=str(task.id), reason=reason, ban=ban)
        try:
            # Not a child of whatever task runs here: a lift sent as the cancelled task ends
            # runs in its caller's context, and a cancelled caller sends no children.
            with context.unparented():
                await self.transport.execute(BAN, message, address=address, timeout=30.0)
        except StrataError as e:
            log.warning("failed to %s children of [%s] on [%s]: %s", "ban" if ban else "lift the ban on",
                        task.id, address, e)

    async def _ban(self, request: BanParent, task: Task) -> Empty:
        parent = TaskId.parse(request.parent_task_id)
        if request.ban:
            # ES's banParent cancels each child with its descendants: the nodes their own
            # children run on are banned in turn (and lifted as each child ends).
            children = self.tasks.ban_parent(parent, request.reason)
            await asyncio.gather(*(self.cancel_local(child, request.reason) for child in children))
        else:
            self.tasks.remove_ban(parent)
        return Empty()

    def apply_cluster_state(self, old, new) -> None:
        """A node that left will never lift the bans it placed here (ES drops them when
        the parent's connection closes)."""
        if old is not None:
            for node_id in old.nodes - new.nodes:
                self.tasks.remove_bans_from(node_id)

    async def sleep(self, request: Sleep, task: Task) -> Empty:
        own: Awaitable[None]
        if request.executor is None:
            own = asyncio.sleep(request.millis / 1000)
        else:
            executor = self.transport.executors.get(request.executor)
            if executor is None:
                raise IllegalArgument(f"no executor [{request.executor}] on this node, it has "
                                      f"{sorted(self.transport.executors)}")
            own = running.run_in_executor(executor, task, _sleep_on_thread, request.millis / 1000)
        child = Sleep(millis=request.millis, executor=request.executor)
        waits = [asyncio.ensure_future(own), *(asyncio.ensure_future(self.transport.execute(
            SLEEP_CHILD, child, address=address)) for address in request.children)]
        try:
            await asyncio.gather(*waits)
        finally:  # one failed (or all were cancelled): the others stop with it
            for wait in waits:
                wait.cancel()
        return Empty()


def _still_running(cancelled: list[Task]) -> str:
    first = next((t for t in cancelled if not t.finished), cancelled[0])
    return f"Timed out waiting for the cancelled task [{first.id}] to end"


def _sleep_on_thread(seconds: float) -> None:
    """Blocking sleep in short slices, looking at the running task between them: the unit
    of work a cancelled task stops at."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        running.ensure_not_cancelled()
        time.sleep(min(SLEEP_SLICE, left))
