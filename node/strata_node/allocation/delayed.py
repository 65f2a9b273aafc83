"""Elasticsearch's DelayedAllocationService, the thin shell around the allocator's delays.

A replica whose node left waits (allocator.py `delay_of`), marked `delayed` in the routing
table; the reroute that places it elsewhere must run when the wait ends, not whenever some
other change happens to come. So the master, after every state it applies, finds the
earliest end of a delay (`next_delay_expiry`, pure) and submits an empty update then: the
allocator runs on every state the master builds, reads the master's clock, and finds the
delay over. A timer that fires a hair early or a master that changes meanwhile is harmless:
the schedule is looked at again after every state and after every submitted reroute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..cluster.state import ClusterStateContent, content_of
from ..common.errors import NotMasterError
from .allocator import next_delay_expiry

log = logging.getLogger(__name__)

SOURCE = "assign delayed unassigned shards"


def _unchanged(content: ClusterStateContent) -> ClusterStateContent:
    return content  # the reroute after it is the point


class DelayedAllocationService:
    def __init__(self, coordination: Any, clock: Callable[[], int]):
        self._coordination = coordination
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._at: int | None = None
        self._running: set[asyncio.Task] = set()

    def apply_cluster_state(self, old: Any, new: Any) -> None:
        self._schedule(new)

    def _schedule(self, state: Any) -> None:
        at = None
        if state is not None and self._coordination.is_master:
            nodes = {n: state.node_details[n] for n in state.nodes if n in state.node_details}
            at = next_delay_expiry(content_of(state), nodes)
        if at == self._at and (self._timer is not None or at is None):
            return
        self.stop()
        if at is None:
            return
        self._at = at
        delay = max(at - self._clock(), 0) / 1000
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer, self._at = None, None
        task = asyncio.get_running_loop().create_task(self._reroute(), name="delayed-allocation-reroute")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _reroute(self) -> None:
        try:
            await self._coordination.submit(SOURCE, _unchanged)
        except NotMasterError:
            log.debug("delayed allocation reroute skipped: no longer the master")
        except Exception:
            log.warning("delayed allocation reroute failed; retrying at the next state", exc_info=True)
        self._schedule(self._coordination.applied_state)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, None
