"""`GET /_cluster/health` and `GET /_cluster/health/{index}`
(RestClusterHealthAction and TransportClusterHealthAction in Elasticsearch).

The health itself comes from the routing table of the applied cluster state, with this
node's own copies checked against their engines (action/cluster_health.py). Each
`wait_for_*` parameter is one condition; the answer comes as soon as all of them hold,
or when `timeout` (30s by default) passes, and then it is a 408 with `timed_out: true`
and the health as it stood. Naming an index that does not exist is a condition too: the
health waits for it to appear and is red meanwhile. The conditions are re-evaluated on
every cluster state change, and every 50ms for a local engine that fails between states.

Parameters are read in Elasticsearch's order, and every one is checked before any
waiting starts, so a bad value is a 400 at once, never a 408 later.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..action.cluster_admin import catch_up_with_master
from ..action.cluster_health import ClusterHealth, Status, delayed_unassigned, index_views
from ..common.errors import IllegalArgument, IndexNotFound, NodeClosed, NumberFormatError
from .cluster_state import ClusterStateHandlers, node_counts
from .controller import RestController, RestResponse
from .request import RestRequest

HEALTH_PARAMS = ("expand_wildcards", "ignore_unavailable", "allow_no_indices", "level", "local",
                 "master_timeout", "timeout", "wait_for_status", "wait_for_nodes", "wait_for_events",
                 "wait_for_active_shards", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards",
                 "wait_for_relocating_shards")
LEVELS = ("cluster", "indices", "shards")
PRIORITIES = ("IMMEDIATE", "URGENT", "HIGH", "NORMAL", "LOW", "LANGUID")
POLL_SECONDS = 0.05
# wait_for_nodes forms, in the order TransportClusterHealthAction tries them.
NODE_CONDITIONS: tuple[tuple[str, Callable[[int, int], bool]], ...] = (
    (">=", operator.ge), ("ge(", operator.ge), ("<=", operator.le), ("le(", operator.le),
    (">", operator.gt), ("gt(", operator.gt), ("<", operator.lt), ("lt(", operator.lt))
_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def java_int(text: str) -> int:
    """Integer.parseInt: an optional sign and decimal digits, within 32 bits."""
    if _JAVA_INT.fullmatch(text) and -(2**31) <= int(text) < 2**31:
        return int(text)
    raise NumberFormatError(f'For input string: "{text}"')


def parse_wait_for_nodes(text: str) -> Callable[[int], bool]:
    """`N`, `>=N`, `>N`, `<=N`, `<N` or `ge(N)`, `gt(N)`, `le(N)`, `lt(N)`."""
    for prefix, compare in NODE_CONDITIONS:
        if text.startswith(prefix):
            number = text[len(prefix):-1] if prefix.endswith("(") else text[len(prefix):]
            expected = java_int(number)
            return lambda nodes: compare(nodes, expected)
    expected = java_int(text)
    return lambda nodes: nodes == expected


def parse_active_shard_count(text: str) -> int | str | None:
    """ActiveShardCount.parseString: `all` or a non-negative count; 0 waits for nothing."""
    if text == "all":
        return "all"
    try:
        count = java_int(text)
    except NumberFormatError as e:
        raise IllegalArgument(f"cannot parse ActiveShardCount[{text}]", caused_by=e) from None
    if count < 0:
        raise IllegalArgument("shard count cannot be a negative value")
    return count or None


def _enum(value: str, choices: tuple[str, ...], java_class: str) -> str:
    """Enum.valueOf of the upper-cased value, failing as Java words it."""
    name = value.upper()
    if name not in choices:
        raise IllegalArgument(f"No enum constant {java_class}.{name}")
    return name


@dataclass(frozen=True)
class HealthRequest:
    indices: list[str]
    ignore_unavailable: bool
    allow_no_indices: bool
    expand_wildcards: str
    timeout: float
    level: str
    wait_for_status: Status | None
    wait_for_no_initializing_shards: bool
    wait_for_active_shards: int | str | None
    wait_for_nodes: Callable[[int], bool] | None
    wait_for_no_relocating_shards: bool = False

    @classmethod
    def parse(cls, request: RestRequest) -> HealthRequest:
        indices = request.list_param("index")
        # IndicesOptions.lenientExpandHidden: missing names and empty wildcards are fine.
        ignore_unavailable = request.bool_param("ignore_unavailable", True)
        allow_no_indices = request.bool_param("allow_no_indices", True)
        expand_wildcards = request.expand_wildcards_param("all")
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        timeout = request.time_param("timeout", 30.0)
        status = request.param("wait_for_status")
        wait_for_status = Status[_enum(status, tuple(s.name for s in Status),
                                       "org.elasticsearch.cluster.health.ClusterHealthStatus")] \
            if status is not None else None
        no_relocating = request.bool_param("wait_for_no_relocating_shards")
        no_initializing = request.bool_param("wait_for_no_initializing_shards")
        if request.has_param("wait_for_relocating_shards"):
            raise IllegalArgument("wait_for_relocating_shards has been removed, use "
                                  "wait_for_no_relocating_shards [true/false] instead")
        active = request.param("wait_for_active_shards")
        active_shards = parse_active_shard_count(active) if active is not None else None
        nodes = request.param("wait_for_nodes", "")
        events = request.param("wait_for_events")
        if events is not None:
            # No master task queue exists yet, so every event of any priority is processed.
            _enum(events, PRIORITIES, "org.elasticsearch.common.Priority")
        level = request.param("level", "cluster")
        if level.lower() not in LEVELS:
            raise IllegalArgument("level parameter must be one of [cluster] or [indices] or [shards] but "
                                  f"was [{level}]")
        return cls(indices, ignore_unavailable, allow_no_indices, expand_wildcards, timeout, level.lower(),
                   wait_for_status, no_initializing, active_shards,
                   parse_wait_for_nodes(nodes) if nodes else None, no_relocating)


class ClusterHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_cluster/health", self.health, HEALTH_PARAMS, rest_task="cluster:monitor/health")
        c.register("GET", "/_cluster/health/{index}", self.health, HEALTH_PARAMS,
                   rest_task="cluster:monitor/health")
        ClusterStateHandlers(self.node).register(c)

    async def health(self, request: RestRequest) -> RestResponse:
        req = HealthRequest.parse(request)
        human = request.bool_param("human")
        if not request.bool_param("local") and self.node.coordination is not None:
            # Health is read on the master in Elasticsearch: see at least what it has applied.
            await catch_up_with_master(self.node, request.time_param("master_timeout", 30.0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + req.timeout
        while True:
            body, ready = self._evaluate(req, human)
            remaining = deadline - loop.time()
            if ready or req.timeout <= 0 or remaining <= 0:
                body["timed_out"] = not ready
                return RestResponse(200 if ready else 408, body)
            # A cluster state change wakes the wait at once; a node shutting down answers
            # at once rather than holding its shutdown.
            await self._wait(min(POLL_SECONDS, remaining))
            if self.node.closing.is_set():
                raise NodeClosed(f"node closed {{{self.node.name}}}{{{self.node.node_id}}}")

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

    def _evaluate(self, req: HealthRequest, human: bool) -> tuple[dict[str, Any], bool]:
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
        if req.wait_for_nodes is not None:
            wanted, met = wanted + 1, met + req.wait_for_nodes(self._node_counts()[0])
        return self._body(health, status, human, req.level), met == wanted

    def _body(self, health: ClusterHealth, status: Status, human: bool, level: str) -> dict[str, Any]:
        nodes, data_nodes = self._node_counts()
        body: dict[str, Any] = {
            "cluster_name": self.node.cluster_name, "status": status.text, "timed_out": False,
            "number_of_nodes": nodes, "number_of_data_nodes": data_nodes,
            **health.counts.to_json(),
            "delayed_unassigned_shards": delayed_unassigned(self.node),
            "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
        }
        if human:
            body["task_max_waiting_in_queue"] = "0s"
        body["task_max_waiting_in_queue_millis"] = 0
        if human:
            body["active_shards_percent"] = f"{health.active_shards_percent:.1f}%"
        body["active_shards_percent_as_number"] = health.active_shards_percent
        if level != "cluster":
            body["indices"] = {i.name: i.to_json(with_shards=level == "shards") for i in health.indices}
        return body
