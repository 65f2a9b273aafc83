"""One shard copy on this node: its engine, its state, and what happens when it fails.

A shard whose store or translog cannot be recovered is FAILED: the node keeps running,
the failure is logged and every request to the shard answers with it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..common.errors import StrataError, UnavailableShards
from ..engine.engine import Engine, ShardRef
from .shard_stats import ReadStats

log = logging.getLogger(__name__)

INITIALIZING = "INITIALIZING"
STARTED = "STARTED"
FAILED = "FAILED"
CLOSED = "CLOSED"


class IndexShard:
    def __init__(self, ref: ShardRef, path: Path, primary_term: int):
        self.ref = ref
        self.path = path
        self.engine = Engine(ref, path, primary_term)
        self.state = INITIALIZING
        # Counters of this copy (index stats): gets and search phases, updates that were
        # no-ops, and the shard bulk requests it took as the primary ([requests,
        # nanoseconds, bytes of their documents]). The engine keeps its own writes'.
        self.read_stats = ReadStats()
        self.noop_updates = 0
        self.bulk_stats = [0, 0, 0]
        self.recoveries_as_source = 0  # peer recoveries this copy is serving
        self.recovery_throttle_seconds = 0.0  # held back serving them, all of them (max_bytes_per_sec)
        self.failure: BaseException | None = None
        # The copy the cluster state routes here: its allocation id and role. A primary
        # keeps its replication group's tracker (replication/tracker.py).
        self.allocation_id: str | None = None
        self.primary = True
        self.tracker = None
        # The highest primary term whose operations this copy has taken (a replica checks
        # the first operations of a newer primary against its own history).
        self.operation_term = primary_term
        # A primary that handed off to its relocation target takes no more writes: they
        # wait for the cluster state that makes the target primary.
        self.relocated = False
        self.handoff_tracked: list[str] = []  # a relocation target's inherited replication group
        self.relocating_from: str | None = None  # the source node, while a relocation target
        # A promoted primary, while it resyncs: the operations it holds above the global
        # checkpoint, (seq_no, primary term), sent with its requests so that a replica
        # holding only some of those keeps its store (replication/replica.py).
        self.resync_held: list[tuple[int, int]] | None = None
        # Held by a replica taking up a new primary's term (and rolling back for it):
        # the requests that come meanwhile wait.
        self.term_change = asyncio.Lock()
        self.refuse_writes = False  # the fault switch's replica that fails what it is sent
        self._writes = 0
        self._no_writes = asyncio.Event()
        self._no_writes.set()
        self._flush_task: asyncio.Task | None = None

    @property
    def primary_term(self) -> int:
        return self.engine.primary_term

    def begin_write(self) -> None:
        self._writes += 1
        self._no_writes.clear()

    def end_write(self) -> None:
        self._writes -= 1
        if self._writes == 0:
            self._no_writes.set()

    async def drain_writes(self) -> None:
        """Until every write this primary has begun has finished (replicated included)."""
        await self._no_writes.wait()

    async def start(self) -> None:
        try:
            await self.engine.open()
            self.state = STARTED
        except Exception as e:  # the shard fails; the node goes on
            self.state = FAILED
            self.failure = e
            log.error("%s failed to recover: %s", self.ref, e, exc_info=not isinstance(e, StrataError))
            await self.engine.close(flush=False)

    @property
    def is_active(self) -> bool:
        """Started, and its engine has neither failed nor closed (background work skips
        a shard that is not, rather than failing on it every interval)."""
        return self.state == STARTED and self.engine.failure is None and not self.engine.closed

    def active_engine(self) -> Engine:
        """The engine, or the error a request to this shard gets."""
        if self.state == STARTED and self.engine.failure is not None:
            self.state, self.failure = FAILED, self.engine.failure
        if self.state != STARTED:
            reason = f"{self.ref} primary shard is not active"
            if self.failure is not None:
                reason += f": {self.failure}"
            raise UnavailableShards(reason, index_uuid=self.ref.index_uuid, shard=str(self.ref.shard),
                                    index=self.ref.index)
        return self.engine

    def maybe_flush(self, threshold: int, generation_threshold: int) -> None:
        """Flush in the background once the uncommitted translog passes the threshold."""
        if self._flush_task is not None and not self._flush_task.done():
            return
        engine = self.engine
        if self.state != STARTED or engine.closed or engine.failure is not None:
            return  # closing (index deleted, node stopping) or failed: nothing to flush
        if engine.uncommitted_translog_bytes() > threshold:
            self._flush_task = asyncio.create_task(self._background(engine.flush(periodic=True)))
        elif engine.translog.current_generation_size() > generation_threshold:
            self._flush_task = asyncio.create_task(self._background(engine.roll_translog()))

    async def _background(self, work) -> None:
        try:
            await work
        except Exception:
            log.exception("%s background flush failed", self.ref)

    async def close(self, flush: bool = True) -> None:
        if self._flush_task is not None:
            await asyncio.gather(self._flush_task, return_exceptions=True)
        # A shard that failed at runtime still has its store and translog open: close
        # them too (the engine does not flush a failed store).
        await self.engine.close(flush=flush and self.state != FAILED)
        self.state = CLOSED
