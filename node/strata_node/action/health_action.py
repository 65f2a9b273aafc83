"""`cluster:monitor/health` (TransportClusterHealthAction): the health from the routing
table of the applied cluster state, with this node's own copies checked against their
engines (cluster_health.py). Each `wait_for_*` of the request is one condition; the
answer comes as soon as all of them hold, or when `timeout` passes, with `timed_out` and
the health as it stood. Naming an index that does not exist is a condition too: the
health waits for it to appear and is red meanwhile. The conditions are re-evaluated on
every cluster state change, and every 50ms for a local engine that fails between states.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import Callable
from typing import Any

from ..cluster.coordination.discovery_node import DATA_ROLES
from ..common import units
from ..common.errors import IndexNotFound, NodeClosed, NumberFormatError
from ..tasks.task import Task
from ..transport.wire import Message
from .cluster_admin import catch_up_with_master
from .cluster_health import ClusterHealth, Status, delayed_unassigned, index_views

HEALTH = "cluster:monitor/health"
POLL_SECONDS = 0.05
# wait_for_nodes forms, in the order TransportClusterHealthAction tries them.
NODE_CONDITIONS: tuple[tuple[str, Callable[[int, int], bool]], ...] = (
    (">=", operator.ge), ("ge(", operator.ge), ("<=", operator.le), ("le(", operator.le),
    (">", operator.gt), ("gt(", operator.gt), ("<", operator.lt), ("lt(", operator.lt))


def java_int(text: str) -> int:
    """Integer.parseInt, failing as it fails."""
    number = units.java_int(text)
    if number is None:
        raise NumberFormatError(f'For input string: "{text}"')
    return number


def parse_wait_for_nodes(text: str) -> Callable[[int], bool]:
    """`N`, `>=N`, `>N`, `<=N`, `<N` or `ge(N)`, `gt(N)`, `le(N)`, `lt(N)`."""
    for prefix, compare in NODE_CONDITIONS:
        if text.startswith(prefix):
            number = text[len(prefix):-1] if prefix.endswith("(") else text[len(prefix):]
            expected = java_int(number)
            return lambda nodes: compare(nodes, expected)
    expected = java_int(text)
    return lambda nodes: nodes == expected



class HealthRequest(Message):
    indices: list[str] = []
    ignore_unavailable: bool = True  # IndicesOptions.lenientExpandHidden
    allow_no_indices: bool = True
    expand_wildcards: str = "all"
    timeout: float = 30.0
    level: str = "cluster"
    wait_for_status: Status | None = None
    wait_for_no_initializing_shards: bool = False
    wait_for_active_shards: int | str | None = None
    wait_for_nodes: str | None = None  # `N`, `>=N`, `ge(N)`, ... (parse_wait_for_nodes)
    wait_for_no_relocating_shards: bool = False
    wait_for_events: str | None = None  # a priority: the master's queue up to here is applied first
    local: bool = False
    master_timeout: float = 30.0
    human: bool = False


class HealthResponse(Message):
    body: dict[str, Any]
    ready: bool  # every wait condition held


class ClusterHealthAction:
    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        self.node.transport.register(HEALTH, HealthRequest, HealthResponse, self._health, cancellable=True)

    async def _health(self, req: HealthRequest, task: Task) -> HealthResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + req.timeout
        wait_for_nodes = parse_wait_for_nodes(req.wait_for_nodes) if req.wait_for_nodes else None
        try:
            queue = await self._master_queue(req)
        except TimeoutError:  # the events did not run in time: the health as it stands, timed out
            body, _ = self._evaluate(req, wait_for_nodes, (0, 0))
            body["timed_out"] = True
            return HealthResponse(body=body, ready=False)
        while True:
            body, ready = self._evaluate(req, wait_for_nodes, queue)
            remaining = deadline - loop.time()
            if ready or req.timeout <= 0 or remaining <= 0:
                body["timed_out"] = not ready
                return HealthResponse(body=body, ready=ready)
            # A cluster state change wakes the wait at once; a node shutting down answers
            # at once rather than holding its shutdown.
            await self._wait(min(POLL_SECONDS, remaining))
            if self.node.closing.is_set():
                raise NodeClosed(f"node closed {{{self.node.name}}}{{{self.node.node_id}}}")

    async def _master_queue(self, req: HealthRequest) -> tuple[int, int] | None:
        """Health is read on the master in Elasticsearch: see at least what it has applied,
        after the events asked for, and learn its queue of cluster state updates (pending
        tasks, longest wait); None when this node is the one to ask (its own master's queue,
        or none). `wait_for_events` is bounded by the request's timeout, as ES bounds the
        empty task it submits."""
        coordination = self.node.coordination
        if coordination is None:
            return None
        events = req.wait_for_events
        if req.local:
            if events is not None and coordination.is_master:
                empty = coordination.submit(f"cluster_health (wait_for_events [{events}])",
                                            lambda unchanged: unchanged, events)
                await asyncio.wait_for(empty, req.timeout)
            return None
        catch_up = catch_up_with_master(self.node, req.master_timeout, events)
        answer = await (asyncio.wait_for(catch_up, req.timeout) if events is not None else catch_up)
        return None if coordination.is_master else (answer.pending_tasks, answer.max_task_wait_millis)

    async def _wait(self, seconds: float) -> None:
        waiters = [asyncio.ensure_future(self.node.closing.wait())]
        if self.node.coordination is not None:
            waiters.append(asyncio.ensure_future(self.node.coordination.wait_for_change(seconds)))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waiters, return_exceptions=True)

    def _node_counts(self) -> tuple[int, int]:
        """(nodes, data nodes) of the applied cluster state; this node alone before one."""
        return node_counts(self.node)

    def _evaluate(self, req: HealthRequest, wait_for_nodes: Callable[[int], bool] | None,
                  queue: tuple[int, int] | None) -> tuple[dict[str, Any], bool]:
        """The health now, and whether every wait condition holds (prepareResponse)."""
        indices = self.node.indices
        try:
            names = indices.resolve(",".join(req.indices) or None, ignore_unavailable=req.ignore_unavailable,
                                    allow_no_indices=req.allow_no_indices,
                                    expand_wildcards=req.expand_wildcards)
            missing = False
        except IndexNotFound:
            names, missing = [], True
        health = ClusterHealth.of(index_views(self.node, names), index_views(self.node))
        counts = health.counts
        status = Status.RED if missing else counts.status
        if self.node.coordination is not None and self.node.coordination.master_node is None:
            status = Status.RED  # the no-master block is a global block of status 503 (ClusterStateHealth)
        wanted = met = 0
        if req.wait_for_status is not None:
            wanted, met = wanted + 1, met + (status <= req.wait_for_status)
        if req.wait_for_no_relocating_shards:
            wanted, met = wanted + 1, met + (counts.relocating == 0)
        if req.wait_for_no_initializing_shards:
            wanted, met = wanted + 1, met + (counts.initializing == 0)
        if req.wait_for_active_shards == "all":
            wanted, met = wanted + 1, met + (counts.unassigned == 0 and counts.initializing == 0)
        elif req.wait_for_active_shards is not None:
            wanted, met = wanted + 1, met + (counts.active >= req.wait_for_active_shards)
        if req.indices:
            wanted += 1
            try:  # the named indices must exist (IndicesOptions.strictExpand)
                indices.resolve(",".join(req.indices), ignore_unavailable=False, allow_no_indices=True,
                                expand_wildcards="open,closed")
                met += 1
            except IndexNotFound:
                status = Status.RED
        if wait_for_nodes is not None:
            wanted, met = wanted + 1, met + wait_for_nodes(self._node_counts()[0])
        return self._body(health, status, req.human, req.level, queue), met == wanted

    def _queue(self) -> tuple[int, int]:
        """This node's queue of cluster state updates: (pending tasks, longest wait)."""
        coordination = self.node.coordination
        if coordination is None or not coordination.is_master:
            return 0, 0
        return len(coordination.pending_tasks()), coordination.max_task_wait_millis()

    def _body(self, health: ClusterHealth, status: Status, human: bool, level: str,
              queue: tuple[int, int] | None) -> dict[str, Any]:
        nodes, data_nodes = self._node_counts()
        pending, max_wait = queue if queue is not None else self._queue()
        body: dict[str, Any] = {
            "cluster_name": self.node.cluster_name, "status": status.text, "timed_out": False,
            "number_of_nodes": nodes, "number_of_data_nodes": data_nodes,
            **health.counts.to_json(),
            "delayed_unassigned_shards": delayed_unassigned(self.node),
            "number_of_pending_tasks": pending, "number_of_in_flight_fetch": 0,
        }
        if human:
            body["task_max_waiting_in_queue"] = units.human_millis(max_wait)
        body["task_max_waiting_in_queue_millis"] = max_wait
        if human:
            body["active_shards_percent"] = f"{health.active_shards_percent:.1f}%"
        body["active_shards_percent_as_number"] = health.active_shards_percent
        if level != "cluster":
            body["indices"] = {i.name: i.to_json(with_shards=level == "shards") for i in health.indices}
        return body


def node_counts(node) -> tuple[int, int]:
    """(nodes, data nodes) in the applied cluster state; this node alone before one."""
    state = node.coordination.applied_state if node.coordination is not None else None
    own_roles = node.settings.get("node.roles")
    if state is None:
        return 1, int(any(r in DATA_ROLES for r in own_roles))
    data = 0
    for node_id in state.nodes:
        details = state.node_details.get(node_id)
        roles = own_roles if node_id == node.node_id else (details.roles if details is not None else ())
        data += any(r in DATA_ROLES for r in roles)
    return len(state.nodes), data
