"""Indexing in a worker process: the analysis and segment building of a bulk shard
request run beside the event loop, on another core.

The event loop parses requests and documents, assigns sequence numbers, appends to the
translog and writes LevelDB; turning a batch's parsed fields into postings is the other
half of a bulk request's work and needs nothing but the fields and the field plans, so it
goes to a process of its own (Python threads would share one core). The documents of a
batch are sent in parts as the event loop parses them (`IndexingSession`), so the worker
indexes one part while the loop parses the next, and while it indexes one request the
loop reads and parses the next: with two cores, the two halves run as a pipeline.

The segment comes back numbered by each document's place in the write batch, not by
sequence number (`EncodedSegment`), so the engine's write stays one synchronous step on
the event loop: sequence numbers, translog and the LevelDB batch (documents and search
structures together, atomic) are decided and written there, in order, exactly as without
the worker. Translog replay indexes in-process, as before.

Each worker is a one-process executor (a lane), so the parts of a batch reach the same
process in order. Workers are started on first use with the `spawn` method (a fork of a
process running an event loop and threads is not safe) and end with the node: at
interpreter exit, or on their own when the node process is gone (a kill -9 runs no exit
handler). A worker that dies or fails raises here; the caller then indexes in-process,
so a request never fails for the worker's sake.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..engine.index_structures import EncodedSegment, decode_segment
from .indexing import discard_batch, index_part

log = logging.getLogger("strata.indexing")

# Below this many documents a batch is indexed in-process: the round trip to the worker
# (two copies of the batch and a wake-up) would cost more than it frees the loop of.
MIN_WORKER_BATCH = 64
# Documents per part sent while a batch is being parsed: small enough that the worker
# starts early, big enough that a part's round trip is a small cost.
PART_SIZE = 250
# After a worker died, batches are indexed in-process for this long before a new worker
# is tried: a worker that cannot start must not cost every batch a failed start.
RETRY_AFTER = 60.0


class WorkerUnavailable(Exception):
    """The worker died recently; index in-process."""


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _worker_started(parent: int) -> None:
    # The worker allocates many short-lived containers and keeps none: the default
    # thresholds would run a collection every 700 allocations for nothing.
    gc.set_threshold(100_000, 50, 50)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _consume(future: asyncio.Future) -> None:
    """A done callback that marks a part's failure as seen: a session given up on does
    not wait for its parts."""
    if not future.cancelled():
        future.exception()


def log_worker_failure(error: Exception, documents: int) -> None:
    """Say why a batch is indexed in-process after all (a dead worker was logged when it
    died)."""
    if isinstance(error, WorkerUnavailable):
        return
    log.warning("indexing in the worker failed; indexing [%d] documents in-process", documents,
                exc_info=error)


class IndexingSession:
    """One batch's documents, sent to one worker in parts as they are parsed. `finish`
    sends the last part and returns the segment; `discard` gives the batch up."""

    def __init__(self, pool: IndexingPool, lane: int, batch: int):
        self.pool = pool
        self.lane = lane
        self.batch = batch
        self._parts: list[asyncio.Future] = []
        self._executor: ProcessPoolExecutor | None = None
        self.done = False

    def _submit(self, fn, *args) -> asyncio.Future:
        if self._executor is None:
            self._executor = self.pool._lane(self.lane)
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def send(self, plans: bytes, numbers: list[int], documents: bytes) -> None:
        """Queue a part for the worker; failures surface in `finish`. Raises
        WorkerUnavailable (or what starting a worker raises) when there is no worker."""
        try:
            self._parts.append(self._submit(index_part, self.batch, plans, numbers, documents, False))
        except BrokenProcessPool:
            self.pool._broken(self.lane, self._executor)
            raise

    async def finish(self, plans: bytes, numbers: list[int], documents: bytes) -> EncodedSegment:
        """Send the last part and return the batch's segment. Raises what stopped the
        worker (then index the batch in-process)."""
        self.done = True
        try:
            self._parts.append(self._submit(index_part, self.batch, plans, numbers, documents, True))
            *_, raw = await asyncio.gather(*self._parts)
        except BaseException as e:
            if isinstance(e, BrokenProcessPool):
                self.pool._broken(self.lane, self._executor)
            self._give_up()
            raise
        return decode_segment(raw)

    def discard(self) -> None:
        """Give the batch up (it is indexed in-process instead)."""
        if not self.done:
            self.done = True
            self._give_up()

    def _give_up(self) -> None:
        for part in self._parts:
            part.add_done_callback(_consume)
        if self._executor is not None and self._parts:
            try:
                self._submit(discard_batch, self.batch).add_done_callback(_consume)
            except (BrokenProcessPool, RuntimeError) as e:  # the worker is gone: so is the batch
                log.debug("indexing worker gone before batch %s was discarded: %s", self.batch, e)


class IndexingPool:
    def __init__(self, workers: int | None = None):
        # One core stays with the event loop; more workers only matter with more than
        # two cores (several shards indexing at once).
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) - 1))
        self._lanes: list[ProcessPoolExecutor | None] = [None] * self.workers
        self._retry_at = 0.0
        self._batches = itertools.count()

    def session(self) -> IndexingSession:
        batch = next(self._batches)
        return IndexingSession(self, batch % self.workers, batch)

    def _lane(self, lane: int) -> ProcessPoolExecutor:
        executor = self._lanes[lane]
        if executor is None:
            if time.monotonic() < self._retry_at:
                raise WorkerUnavailable("the indexing worker died recently")
            executor = self._lanes[lane] = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_started, initargs=(os.getpid(),))
        return executor

    def _broken(self, lane: int, executor: ProcessPoolExecutor | None) -> None:
        if executor is not None and self._lanes[lane] is executor:
            self._lanes[lane] = None
            self._retry_at = time.monotonic() + RETRY_AFTER
            executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        for lane, executor in enumerate(self._lanes):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
                self._lanes[lane] = None


POOL = IndexingPool()
