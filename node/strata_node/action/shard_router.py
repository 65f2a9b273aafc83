"""The coordinating step's half of every shard-level action: find the node that serves a
shard in this node's applied cluster state and run the shard action there, over the
transport (locally through the same path), retrying while the routing is in flux.

A write goes to the active primary; while there is none (the index is being created, its
node left, a copy is being promoted) it waits for the next cluster state, up to the
request's timeout, as Elasticsearch's ReroutePhase does. A read tries the active copies in
the order `read_copies` gives and falls back to the next on a failure that says the copy
is gone rather than that the request is wrong.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..cluster.shard_copies import ACTIVE, active_primary, copies, read_copies, replica_rank, updated_ewma
from ..cluster.state import content_of
from ..common.errors import NoShardAvailable, StrataError, UnavailableShards
from ..transport.wire import Message

# Failures that say the copy or its node is gone, not that the request is bad: the
# coordinating step tries again elsewhere or once the cluster state moves on.
RETRYABLE = frozenset({
    "shard_not_found_exception", "connect_transport_exception", "node_closed_exception",
    "node_not_connected_exception", "receive_timeout_transport_exception", "index_closed_exception",
    "unavailable_shards_exception", "no_shard_available_action_exception",
    # A primary demoted while it failed a copy (replication/replica.py): the new one serves.
    "retry_on_primary_exception",
})


def retryable(error: BaseException) -> bool:
    return isinstance(error, StrataError) and error.type in RETRYABLE


def format_timeout(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    if seconds >= 1 and seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


def unassigned_reason(content, index: str, shard: int) -> str:
    """Why the shard's primary is not active, for the error a client sees (the reason the
    master recorded, e.g. the failure that closed the copy)."""
    for copy in copies(content, index, shard):
        if copy.primary:
            if copy.state == "UNASSIGNED":
                details = f": {copy.unassigned_details}" if copy.unassigned_details else ""
                return f": primary is unassigned [{copy.unassigned_reason}]{details}"
            return f": primary is {copy.state}"
    return ""


class ShardRouter:
    def __init__(self, node):
        self.node = node
        # What adaptive replica selection knows of each node: the moving average of its
        # response times to this node's reads, and the reads still outstanding there.
        self._response_ewma: dict[str, float] = {}
        self._outstanding: dict[str, int] = {}

    def ranks(self) -> dict[str, float]:
        return {node: replica_rank(ewma, self._outstanding.get(node, 0))
                for node, ewma in self._response_ewma.items()}

    def _record(self, node_id: str, millis: float) -> None:
        self._response_ewma[node_id] = updated_ewma(self._response_ewma.get(node_id), millis)

    def _decay(self, passed_over) -> None:
        """Nodes passed over look a little better each time (ES adjusts the stats of the
        nodes it did not pick), so a node that was slow once is tried again later."""
        for node in passed_over:
            if node in self._response_ewma:
                self._response_ewma[node] *= 0.95

    def adaptive_selection_stats(self) -> dict[str, dict[str, float | int]]:
        """ES's `adaptive_selection` section of nodes stats, per node this one reads from."""
        ranks = self.ranks()
        return {node: {"outgoing_searches": self._outstanding.get(node, 0),
                       "avg_response_time_ns": int(ewma * 1e6), "rank": f"{ranks[node]:.1f}"}
                for node, ewma in sorted(self._response_ewma.items())}

    @property
    def state(self):
        return self.node.coordination.applied_state

    @property
    def content(self):
        return self.node.coordination.content

    def address(self, node_id: str) -> str | None:
        """The transport address to call `node_id` at; None for this node."""
        if node_id == self.node.node_id:
            return None
        address = self.node.coordination.address_of(node_id)
        if address is None:
            raise NoShardAvailable(f"node [{node_id}] has no known transport address")
        return address

    async def on_primary(self, action: str, index: str, shard: int,
                         request: Message | Callable[[bool], Message], timeout: float,
                         response_type: type[Message] | None = None) -> Any:
        """Run `action` on the node of the shard's active primary, waiting for one (and
        retrying after a retryable failure) until `timeout` seconds have passed. `request`
        may be a function of whether the call is local (what a local call may carry that
        the wire does not, such as already-parsed documents)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: StrataError | None = None
        while True:
            state = self.state
            primary = active_primary(self.content, index, shard)
            if primary is not None:
                try:
                    address = self.address(primary.node)
                    message = request(address is None) if callable(request) else request
                    return await self.node.transport.execute(action, message, response_type, address=address)
                except StrataError as e:
                    if not retryable(e):
                        raise
                    last = e
            remaining = deadline - loop.time()
            if remaining <= 0:
                reason = (f"[{index}][{shard}] primary shard is not active "
                          f"Timeout: [{format_timeout(timeout)}]")
                if last is not None:
                    reason += f", last failure: [{last.type}] {last.reason}"
                else:
                    reason += unassigned_reason(self.content, index, shard)
                raise UnavailableShards(reason, index=index, shard=str(shard))
            # After a failure the state may never change (a failed copy): try again soon.
            wait = min(remaining, 1.0) if last is not None else remaining
            await self.node.coordination.wait_for_state(lambda s, seen=state: s is not seen, wait)

    def active_copies(self, index: str, shard: int, state=None) -> int:
        content = self.content if state is None else content_of(state)
        return sum(1 for c in copies(content, index, shard) if c.state in ACTIVE)

    async def wait_for_active_copies(self, index: str, shard: int, needed: int, timeout: float) -> int:
        """Until `needed` copies of the shard are active or `timeout` passed; how many are."""
        await self.node.coordination.wait_for_state(lambda s: self.active_copies(index, shard, s) >= needed,
                                                    timeout)
        return self.active_copies(index, shard)

    async def on_copy(self, action: str, index: str, shard: int, request: Message | Callable[[bool], Message],
                      preference: str | None = None, response_type: type[Message] | None = None,
                      on_node: Callable[[str], None] | None = None) -> Any:
        """Run a read on the first active copy that answers, in preference order. `request`
        may be a function of whether the call is local, as for `on_primary`; `on_node`
        hears of each node tried (the last one answered, or failed)."""
        candidates = read_copies(self.content, index, shard, self.node.node_id, preference, self.ranks())
        last: StrataError | None = None
        for copy in candidates:
            if on_node is not None:
                on_node(copy.node)
            started = time.monotonic()
            self._outstanding[copy.node] = self._outstanding.get(copy.node, 0) + 1
            try:
                address = self.address(copy.node)
                message = request(address is None) if callable(request) else request
                response = await self.node.transport.execute(action, message, response_type, address=address)
                self._record(copy.node, (time.monotonic() - started) * 1000)
                if not preference:
                    self._decay(c.node for c in candidates if c.node != copy.node)
                return response
            except StrataError as e:
                self._record(copy.node, (time.monotonic() - started) * 1000)
                if not retryable(e):
                    raise
                last = e
            finally:
                self._outstanding[copy.node] -= 1
        reason = f"No shard available for [{index}][{shard}]"
        if last is not None:
            reason += f": [{last.type}] {last.reason}"
        elif not candidates:
            reason += unassigned_reason(self.content, index, shard)
        raise NoShardAvailable(reason, index=index, shard=str(shard))
