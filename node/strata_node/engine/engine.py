"""The shard engine: one LevelDB store plus a translog, as DESIGN.md describes.

Keyspaces in the store:
  d<id>          the latest version of a document: seq_no, primary term, version and
                 whether it is a delete tombstone (25 bytes; the operation itself is in h)
  h<seq_no:8>    operations by sequence number: the history peer recovery replays, and
                 where GET finds a document's source through its d<id> pointer
  r<seq_no:8>    the d<id> pointer the operation at seq_no replaced, when it replaced one:
                 what rolling the operation back restores (rollback.py); the dead marker
                 x<seq_no> of a replaced version holds the sequence number replacing it
  m:count        live document count, so a match_all count reads one key
  m:commit       the commit point written by flush (synced)
  m:retained     the lowest sequence number from which the history is complete
  m:prior_since  the first sequence number whose r record is kept (stores older than the
                 r keyspace keep none below it, and cannot roll those back)
  u<seq_no:8><term:8>  an operation rolled back, valued the translog generation its
                 rollback started: replay skips it in the generations before (a flush that
                 commits past it drops the key)

History retention works as Lucene's soft deletes do: an operation stays in the history
while a retention lease may need it (`retention_leases`, persisted in the shard's _state
folder: the primary's own, or those it sent this replica); below that, pruning deletes the
operations no document points to any more (superseded versions, deletes, no-ops) and
keeps each live document's own operation, which holds its source, and each version a
rollback may make live again (one replaced by an operation above the global checkpoint).

A write batch is staged on the event loop, appended to the translog, then written to the
store in one LevelDB batch. Store writes are not synced; the translog is, before the
write is acknowledged. Refresh swaps the searchers' LevelDB snapshot; GET reads the store
directly and so is real time.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import msgspec
import plyvel

from ..common.errors import IllegalArgument, StrataError, VersionConflict
from ..common.files import fsync_dir
from ..common.ids import auto_id_timestamp
from ..common.to_the_end import on_thread, to_the_end
from . import file_set, index_structures, merge, retention_leases
from . import operation as ops
from .checkpoint_tracker import LocalCheckpointTracker
from .index_structures import EncodedSegment, IndexedDocument, SegmentWriter
from .operation import CommitPoint, Operation
from .read_gate import ReadGate
from .segment_reader import BlockCache, SegmentReader
from .translog import Translog

log = logging.getLogger(__name__)

DOC = b"d"
HISTORY = b"h"
COUNT_KEY = b"m:count"
COMMIT_KEY = b"m:commit"
PRIOR = b"r"
PRIOR_SINCE_KEY = b"m:prior_since"
UNDONE = b"u"
MIN_RETAINED_KEY = b"m:retained"
PRUNE_BATCH = 5000  # history keys looked at per LevelDB batch while pruning
# The fewest purgeable versions worth a background merge: fewer cost little to keep.
MIN_DEAD_TO_MERGE = 1000
PAST_ALL_KEYS = b"\xff\xff"  # sorts after every key of every keyspace
SEQ = struct.Struct(">Q")
POINTER = struct.Struct(">qqq?")  # seq_no, primary_term, version, deleted

UNASSIGNED_SEQ_NO = -2
MATCH_ANY = -3  # version: no constraint
MAX_VERSION = (1 << 63) - 1  # versions are Java longs in Elasticsearch, and in the d<id> pointer


def write_changes(wb, changes: dict[bytes, bytes | None]) -> None:
    """Put each key's new value into a write batch; None deletes the key."""
    for key, value in changes.items():
        if value is None:
            wb.delete(key)
        else:
            wb.put(key, value)


def history_key(seq_no: int) -> bytes:
    return HISTORY + SEQ.pack(seq_no)


def prior_key(seq_no: int) -> bytes:
    return PRIOR + SEQ.pack(seq_no)


def undone_key(seq_no: int, term: int) -> bytes:
    return UNDONE + SEQ.pack(seq_no) + SEQ.pack(term)


class DocVersion:
    """What the d<id> pointer says about a document: enough for concurrency checks
    without reading the operation."""

    __slots__ = ("deleted", "primary_term", "seq_no", "version")

    def __init__(self, seq_no: int, primary_term: int, version: int, deleted: bool):
        self.seq_no = seq_no
        self.primary_term = primary_term
        self.version = version
        self.deleted = deleted

    @property
    def is_delete(self) -> bool:
        return self.deleted

    def encode(self) -> bytes:
        return POINTER.pack(self.seq_no, self.primary_term, self.version, self.deleted)

    @classmethod
    def decode(cls, raw: bytes) -> DocVersion:
        return cls(*POINTER.unpack(raw))

    @classmethod
    def of(cls, op: Operation) -> DocVersion:
        return cls(op.seq_no, op.primary_term, op.version, op.op_type == ops.DELETE)


@dataclass(frozen=True)
class ShardRef:
    index: str
    index_uuid: str
    shard: int

    def __str__(self) -> str:
        return f"[{self.index}][{self.shard}]"


@dataclass(slots=True)
class IndexOp:
    id: str
    source: bytes
    routing: str | None = None
    create: bool = False  # op_type=create
    if_seq_no: int = UNASSIGNED_SEQ_NO
    if_primary_term: int = 0
    version: int = MATCH_ANY
    version_type: str = "internal"
    auto_generated_id: bool = False
    indexed: IndexedDocument | None = None  # what the mapping and analyzers made of the source
    # A request sent again after a failure that may have come after it was written (ES's
    # IndexRequest.isRetry): its generated id may exist already, so it is looked up.
    retry: bool = False


@dataclass(slots=True)
class DeleteOp:
    id: str
    routing: str | None = None
    if_seq_no: int = UNASSIGNED_SEQ_NO
    if_primary_term: int = 0
    version: int = MATCH_ANY
    version_type: str = "internal"


class WriteResult(NamedTuple):
    """An item's outcome. A tuple: one is made per written document, and a frozen
    dataclass costs several times as much to build."""

    operation: Operation
    result: str  # created | updated | deleted | not_found


class _StagedWrite(NamedTuple):
    """A write batch, its sequence numbers assigned, not yet in the store."""

    batch: object  # plyvel.WriteBatch
    payloads: list[bytes]
    first_seq: int
    last_seq: int
    seq_nos: list[int] | None = None  # a replica's, which may leave gaps; else first..last
    indexed: int = 0  # index and delete operations among them (no-ops are neither)
    deleted: int = 0
    started: int = 0  # perf_counter_ns when staging began: what indexing stats time


T = TypeVar("T")

# The engine's counters, as index and node stats show them (times in nanoseconds): the
# operations of primary and replica writes (not of translog replay or peer recovery, as
# ES's indexing listener skips recovery origins), the writes' time
# from staging to landing shared between their index and delete operations, merges,
# refreshes and flushes.
STATS = ("index_total", "index_nanos", "index_failed", "delete_total", "delete_nanos",
         "merge_total", "merge_nanos", "merge_docs", "merge_bytes", "merge_current", "merge_current_docs",
         "merge_current_bytes", "refresh_total", "refresh_nanos", "flush_total", "flush_periodic",
         "flush_nanos")

# The threads `write_async` writes LevelDB batches on. Any number of engines share them;
# each engine has at most one write in flight.
_STORE_WRITERS = ThreadPoolExecutor(max(2, os.cpu_count() or 2), "store-write")


def _retrieve(task: asyncio.Task) -> None:
    """A write whose caller was cancelled still ends: its error is the engine's failure
    (logged by `Engine.fail`), not an unretrieved task exception."""
    if not task.cancelled():
        task.exception()


class EngineClosed(StrataError):
    type = "already_closed_exception"
    status = 503


class Engine:
    def __init__(self, shard: ShardRef, path: Path, primary_term: int):
        self.shard = shard
        self.path = path
        self.primary_term = primary_term
        self.db: plyvel.DB | None = None
        self.store_opened = False  # the open ran to its end (a failed or cut-short open is not flushed)
        self.translog: Translog | None = None
        self.tracker = LocalCheckpointTracker()
        self.commit: CommitPoint | None = None
        self._searcher = None
        # The block cache's epoch when _searcher was taken: a merge chunk that rewrote keys
        # after it clears the cache, and a reader made later over this older snapshot must
        # then neither read nor fill it.
        self._searcher_epoch = 0
        self._reader: SegmentReader | None = None  # over _searcher, made at first use
        self.block_cache = BlockCache()
        self._last_segment_seq = -1  # first seq of the newest batch in the store
        self._refresh_held = False  # a rollback is rewriting keys the block cache holds
        self._generation = 0  # counts refreshes, so readers know which snapshot is newer
        self._refresh_listeners: list[asyncio.Future] = []
        self._dirty = False  # writes since the last refresh
        self._flush_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()  # one write_async at a time: see there
        # The batch appended to the translog and on its way into the store (a write_async's
        # is on a store-writer thread meanwhile); what index_current and delete_current count.
        self._in_flight: _StagedWrite | None = None
        self._between_writes: asyncio.Future | None = None  # see run_between_writes
        self._doc_count = 0
        # The newest generated id a retried request carried (ES's maxUnsafeAutoIdTimestamp):
        # a request with an older generated id may be the original of a retry already
        # written, arriving late, so it is looked up; -1 while no retry came. Kept in memory:
        # an original still in flight to this engine dies with it.
        self._max_unsafe_auto_id = -1
        self.failure: BaseException | None = None
        # Rebuilds a replayed operation's search structures (set by the shard from its
        # mapping and analyzers); live writes bring theirs in IndexOp.indexed.
        self.indexer: Callable[[Operation], IndexedDocument | None] | None = None
        self._field_stats: dict[str, list[int]] = {}
        self.closed = False
        self._closing: asyncio.Future | None = None
        # Reads of the store on other threads (searches, history reads): see read_gate.
        self.reads = ReadGate(str(shard), lambda: EngineClosed(f"{shard} engine is closed"))
        # Counters and the time spent (nanoseconds), as the index and node stats show them.
        self.stats = dict.fromkeys(STATS, 0)
        # What opening found: a new store, or the operations replayed from the translog
        # (what the recovery APIs report for a copy recovered from its own store).
        self.created_empty = False
        self.recovered_operations = 0
        # Told when the engine fails at runtime: the node reports the copy to the master,
        # which fails it (and promotes a replica of a failed primary).
        self.on_failure: Callable[[str, BaseException], None] | None = None
        # The history is complete from here on (operations below may have been pruned).
        self.min_retained_seq_no = 0
        # The leases as last persisted (the primary's tracker's, or those a replica was
        # sent): what pruning honours, so a promoted replica has what they retain.
        self.retention_leases = retention_leases.RetentionLeases()
        self._leases_lock = threading.Lock()  # persist_retention_leases runs on executor threads
        self._prune_lock = asyncio.Lock()
        self._merge_lock = asyncio.Lock()  # one merge at a time (merge.py)
        self._merged_below = -2  # the bound of the last background merge (see maybe_merge)
        self._unpurged = 0  # purgeable-looking markers the last background merge left (see there)
        self._undone: dict[tuple[int, int], int] = {}  # (seq_no, term) -> generation: see u<...>

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open or create the store and translog; replay the translog above the commit."""
        # A cancelled open (the node stopping, the index deleted) waits for the store to be
        # open, so the close that follows closes it: otherwise LevelDB's lock outlives the
        # engine and the next open of this shard in the process fails on it.
        replayed = await on_thread(None, self._open_store)
        self.recovered_operations = replayed
        self._searcher = self.db.snapshot()
        if replayed:
            log.info("%s recovered %d operations from the translog", self.shard, replayed)
        if self.translog.min_generation < self.translog.current_generation:
            # Opening started a new generation; commit and trim, or every restart of an
            # idle shard would leave one more generation behind, never trimmed.
            await self.flush(force=True)

    def _open_store(self) -> int:
        replayed = self._open_blocking()
        self.store_opened = True  # a close may flush: the store holds what the commit will say
        return replayed

    def _open_blocking(self) -> int:
        store_path = self.path / "index"
        translog_path = self.path / "translog"
        fresh = not (store_path / "CURRENT").exists()
        self.created_empty = fresh
        store_path.mkdir(parents=True, exist_ok=True)
        # No block compression: LevelDB compresses every block again each time compaction
        # rewrites it, which cost about a third of the node's CPU time while bulk
        # indexing (the search structures are compact msgpack already; sources are what
        # grows). Each block records its own compression, so tables written compressed
        # before still read, and are rewritten uncompressed as compaction reaches them.
        self.db = plyvel.DB(str(store_path), create_if_missing=True, bloom_filter_bits=10,
                            write_buffer_size=32 * 1024 * 1024, lru_cache_size=32 * 1024 * 1024,
                            compression=None)
        raw_commit = self.db.get(COMMIT_KEY)
        # Batches written before this open count too: one with a lower first seq arriving
        # now (a replica's gap filled) is out of order for the readers' postings cache.
        newest = next(self.db.iterator(prefix=index_structures.DOCS, reverse=True, include_value=False), None)
        self._last_segment_seq = SEQ.unpack_from(newest, 1)[0] if newest is not None else -1
        self.min_retained_seq_no = self._read_min_retained(self.db)
        self.retention_leases = retention_leases.load(self.path / "_state")
        if fresh or raw_commit is None:
            self.translog = Translog.create(translog_path)
            self.commit = CommitPoint(-1, -1, self.translog.current_generation,
                                      self.translog.translog_uuid, uuid.uuid4().hex)
            self.db.put(PRIOR_SINCE_KEY, SEQ.pack(0))
            self.db.put(COMMIT_KEY, ops.encode_commit(self.commit), sync=True)
            return 0
        self.commit = ops.decode_commit(raw_commit)
        self.tracker = LocalCheckpointTracker(self.commit.max_seq_no, self.commit.local_checkpoint)
        self._undone = {(SEQ.unpack_from(key, 1)[0], SEQ.unpack_from(key, 9)[0]): SEQ.unpack(value)[0]
                        for key, value in self.db.iterator(prefix=UNDONE)}
        self.translog, generations = Translog.open_by_generation(translog_path)
        if self.translog.translog_uuid != self.commit.translog_uuid:
            raise StrataError(f"{self.shard} translog does not belong to this store "
                              "(translog uuid differs from the commit point)")
        replayed = 0
        wb = self.db.write_batch()
        staged: dict[str, DocVersion] = {}
        priors: dict[int, DocVersion | None] = {}
        count = self._read_count(self.db)
        segment = SegmentWriter()
        for generation, payload in ((g, p) for g, payloads in generations for p in payloads):
            op = ops.decode(payload)
            if op.seq_no <= self.commit.local_checkpoint \
                    or self._undone.get((op.seq_no, op.primary_term), -1) > generation:
                continue  # committed, or rolled back after it was written here
            self.tracker.mark_processed(op.seq_no)
            # A LevelDB batch is atomic: an operation whose history record the store has
            # came with its document pointer and search structures, and is not redone.
            if self.db.get(history_key(op.seq_no)) is not None:
                continue
            count += self._stage_replay(wb, op, payload, staged, segment, priors=priors)
            replayed += 1
        self._write_segment(wb, segment)
        wb.put(COUNT_KEY, str(count).encode())
        wb.write()
        # The store may hold operations whose translog records were lost (async durability):
        # the history keyspace is the ground truth of what the store applied.
        for key, _ in self.db.iterator(start=history_key(self.tracker.checkpoint + 1),
                                       stop=HISTORY + b"\xff" * 8):
            seq_no = SEQ.unpack(key[1:])[0]
            if not self.tracker.has_processed(seq_no):
                self.tracker.mark_processed(seq_no)
                replayed += 1
        if self.db.get(PRIOR_SINCE_KEY) is None:  # a store from before the r keyspace: none below
            self.db.put(PRIOR_SINCE_KEY, SEQ.pack(self.tracker.max_seq_no + 1))
        self._doc_count = count
        return replayed

    def _stage_replay(self, wb, op: Operation, payload: bytes, staged: dict[str, DocVersion],
                      segment: SegmentWriter, indexed: IndexedDocument | None = None,
                      priors: dict[int, DocVersion | None] | None = None) -> int:
        """Apply an operation with its sequence number already assigned (translog replay,
        replication, recovery), unless the store holds a newer version of the document
        (operations of one document may arrive out of order); returns the change in live
        document count. `priors` holds the r records this batch wrote."""
        wb.put(history_key(op.seq_no), payload)
        if op.op_type == ops.NO_OP:
            return 0
        priors = {} if priors is None else priors
        current = staged.get(op.id) or self._version(op.id)
        if current is not None and current.seq_no >= op.seq_no:
            if current.seq_no > op.seq_no:  # a newer version is already here
                successor = self._insert_prior(wb, priors, current, DocVersion.of(op))
                wb.put(index_structures.dead_key(op.seq_no), SEQ.pack(successor))
                # indexed all the same, dead: a rollback of the newer ones may make it live
                self._index_into(segment, op, indexed)
            return 0
        if current is not None:
            wb.put(prior_key(op.seq_no), current.encode())
            priors[op.seq_no] = current
            if not current.deleted:
                wb.put(index_structures.dead_key(current.seq_no), SEQ.pack(op.seq_no))
        self._index_into(segment, op, indexed)
        version = DocVersion.of(op)
        staged[op.id] = version
        wb.put(DOC + op.id.encode(), version.encode())
        was_live = current is not None and not current.is_delete
        return int(not op.is_delete) - int(was_live)

    def _index_into(self, segment: SegmentWriter, op: Operation, indexed: IndexedDocument | None) -> None:
        if not op.is_delete:
            if indexed is None and self.indexer is not None:
                indexed = self.indexer(op)
            if indexed is not None:
                segment.add(op.seq_no, indexed)

    def _prior(self, seq_no: int, priors: dict[int, DocVersion | None]) -> DocVersion | None:
        if seq_no in priors:
            return priors[seq_no]
        raw = self.db.get(prior_key(seq_no))
        return DocVersion.decode(raw) if raw is not None else None

    def _insert_prior(self, wb, priors: dict[int, DocVersion | None], newest: DocVersion,
                      version: DocVersion) -> int:
        """A version that arrived after a newer one goes into the document's chain of r
        records, in sequence number order, so that a rollback of the newer ones finds the
        highest version left. Returns the version it now precedes."""
        successor, below = newest.seq_no, self._prior(newest.seq_no, priors)
        while below is not None and below.seq_no > version.seq_no:
            successor, below = below.seq_no, self._prior(below.seq_no, priors)
        wb.put(prior_key(successor), version.encode())
        priors[successor] = version
        if below is not None:
            wb.put(prior_key(version.seq_no), below.encode())
            priors[version.seq_no] = below
            if not below.deleted:  # a dead marker names the next version up the chain
                wb.put(index_structures.dead_key(below.seq_no), SEQ.pack(version.seq_no))
        return successor

    @staticmethod
    def _read_min_retained(reader) -> int:
        raw = reader.get(MIN_RETAINED_KEY)
        return SEQ.unpack(raw)[0] if raw else 0

    @staticmethod
    def _read_count(reader) -> int:
        raw = reader.get(COUNT_KEY)
        return int(raw) if raw else 0

    async def close(self, flush: bool = True) -> None:
        """Flush (unless told not to or failed), then close. Concurrent and repeated calls
        share one close; a caller cancelled while waiting does not cut the close short."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close(flush))
        await asyncio.shield(self._closing)

    async def _close(self, flush: bool) -> None:
        if flush and self.failure is None and self.store_opened:
            try:
                await self.flush()
            except Exception:
                log.exception("%s failed to flush on close", self.shard)
        self.closed = True
        self.reads.shut()
        self._fail_refresh_listeners(EngineClosed(f"{self.shard} engine is closed"))
        # A flush, sync or roll still running uses the files and the store: let it end
        # before closing them (a closed descriptor number may be reused by another file).
        async with self._flush_lock, self._prune_lock, self._write_lock:
            if self.translog is not None:
                try:
                    await self.translog.aclose(sync=self.failure is None)
                except Exception:
                    log.exception("%s failed to sync the translog on close", self.shard)

            def close_blocking() -> None:
                self.reads.wait_until_empty()
                with self._leases_lock:  # a persist under way ends; none starts (closed is set)
                    pass
                if self._searcher is not None:
                    self._searcher.close()
                if self.db is not None:
                    self.db.close()

            await asyncio.get_running_loop().run_in_executor(None, close_blocking)

    async def read_off_loop(self, fn: Callable[..., T], *args, executor=None) -> T:
        """`fn(*args)`, a blocking read of the store, on `executor`'s thread inside the
        read gate: the engine's close waits for it rather than closing the store under it."""
        def read() -> T:
            with self.reads.entered():
                return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(executor, read)

    def fail(self, reason: str, error: BaseException) -> None:
        if self.failure is None:
            log.error("%s shard failed: %s", self.shard, reason, exc_info=error)
            self.failure = error
            # No refresh will come for a failed shard: release everyone waiting for one.
            self._fail_refresh_listeners(StrataError(f"{self.shard} engine failed", caused_by=error))
            if self.on_failure is not None:
                self.on_failure(reason, error)

    def _fail_refresh_listeners(self, error: StrataError) -> None:
        listeners, self._refresh_listeners = self._refresh_listeners, []
        for f in listeners:
            if not f.done():
                f.set_exception(error)

    def ensure_open(self) -> None:
        if self.closed:
            raise EngineClosed(f"{self.shard} engine is closed")
        if self.failure is not None:
            raise StrataError(f"{self.shard} engine failed", caused_by=self.failure)

    # -- writes (event loop, synchronous) ------------------------------------------------

    def _version(self, id: str, reader=None) -> DocVersion | None:
        raw = (reader or self.db).get(DOC + id.encode())
        return DocVersion.decode(raw) if raw is not None else None

    def _read_live(self, id: str, reader) -> Operation | None:
        version = self._version(id, reader)
        if version is None or version.deleted:
            return None
        raw = reader.get(history_key(version.seq_no))
        if raw is None:
            raise StrataError(f"{self.shard} history is missing seq_no [{version.seq_no}] of [{id}]")
        return ops.decode(raw)

    def _conflict(self, id: str, message: str) -> VersionConflict:
        return VersionConflict(f"[{id}]: version conflict, {message}", index_uuid=self.shard.index_uuid,
                               shard=str(self.shard.shard), index=self.shard.index)

    def _check(self, req: IndexOp | DeleteOp, current: DocVersion | None) -> int:
        """Validate the request's concurrency constraints; returns the new version."""
        live = current if current is not None and not current.is_delete else None
        if req.if_seq_no != UNASSIGNED_SEQ_NO:
            if live is None:
                raise self._conflict(req.id, f"required seqNo [{req.if_seq_no}], primary term "
                                             f"[{req.if_primary_term}]. but no document was found")
            if live.seq_no != req.if_seq_no or live.primary_term != req.if_primary_term:
                raise self._conflict(req.id, f"required seqNo [{req.if_seq_no}], primary term "
                                             f"[{req.if_primary_term}]. current document has seqNo "
                                             f"[{live.seq_no}] and primary term [{live.primary_term}]")
        if isinstance(req, IndexOp) and req.create and live is not None:
            raise self._conflict(req.id, f"document already exists (current version [{live.version}])")
        if req.version_type in ("external", "external_gte"):
            if current is not None:
                higher = req.version > current.version if req.version_type == "external" \
                    else req.version >= current.version
                if not higher:
                    what = "higher or equal to" if req.version_type == "external" else "higher than"
                    raise self._conflict(req.id, f"current version [{current.version}] is {what} "
                                                 f"the one provided [{req.version}]")
            return req.version
        if current is None:
            return 1
        if current.version >= MAX_VERSION:
            raise IllegalArgument(f"[{req.id}]: version [{current.version}] cannot be incremented "
                                  "any further: use external versioning or delete the document")
        return current.version + 1

    def write(self, requests: list[IndexOp | DeleteOp],
              on_item: Callable[[int, WriteResult | StrataError], None],
              segment: EncodedSegment | None = None) -> int:
        """Execute write requests as the primary, in order, as one batch. Each item's
        outcome goes to `on_item`; returns the number of operations written.

        `segment`, when given, holds the batch's search structures built beforehand
        (`indexing.index_part`, in a worker process) with each document numbered by its
        place in `requests`; the IndexOps' own `indexed` is then not used. Sequence
        numbers are still assigned here, so the segment only learns them as it is written:
        request i becomes sequence number first + i, unless an item failed.

        The LevelDB batch is written on the calling thread: for in-process callers and
        tests. The event loop uses `write_async`, which must not overlap this."""
        if self._in_flight is not None:
            raise IllegalArgument(f"{self.shard} has a write in flight; use write_async")
        staged = self._stage_write(requests, on_item, segment)
        return 0 if staged is None else self._write_here(staged)

    async def write_async(self, requests: list[IndexOp | DeleteOp],
                          on_item: Callable[[int, WriteResult | StrataError], None],
                          segment: EncodedSegment | None = None) -> int:
        """`write` for the event loop: the LevelDB batch of a bulk request (a megabyte or
        more, 7-10 ms to insert) is written on a store-writer thread, plyvel releasing the
        GIL, so the loop parses and analyses the next request meanwhile.

        Writes are one at a time (`_write_lock`): the next batch's version lookups must
        see this one's documents, and flush reads the checkpoint for its commit between
        writes, so an older translog generation never holds an operation the store has not
        taken. Waiting for the lock can be cancelled; once the operations are in the
        translog the write runs to its end even if the caller is cancelled, since the
        store must take them or the engine fail."""
        return await self._write_in_turn(lambda: self._stage_write(requests, on_item, segment)) or 0

    async def _write_in_turn(self, stage: Callable[[], _StagedWrite | None]) -> int | None:
        """Stage a batch once this write's turn has come (after any step
        `run_between_writes` put ahead), append it to the translog and land it on a
        store-writer thread; None when `stage` gave nothing to write."""
        while self._between_writes is not None:
            await asyncio.shield(self._between_writes)
        await self._write_lock.acquire()
        try:
            staged = stage()
            if staged is not None:
                self._append_to_translog(staged)
        except BaseException:
            self._write_lock.release()
            raise
        if staged is None:
            self._write_lock.release()
            return None
        task = asyncio.ensure_future(self._land(staged))
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    def _write_here(self, staged: _StagedWrite) -> int:
        """Append a staged batch to the translog and write it on the calling thread."""
        self._append_to_translog(staged)
        try:
            staged.batch.write()
        except Exception as e:
            raise self._write_failed(e) from e
        finally:
            self._in_flight = None
        return self._landed(staged)

    async def writes_landed(self) -> None:
        """Wait until the writes that have their turn, or wait for it, are in the store."""
        async with self._write_lock:
            pass

    def run_between_writes(self, step: Callable[[], T] | Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Run `step` once the writes already taking their turn have landed, and before any
        write asked for from now on: at once when nothing is being written, else as soon
        as the store is free. A promoted primary fills its gaps and lists what it holds so:
        an old primary's batch still on its way into the store must land first, and its
        own first writes must come after. `step` is short and blocking, or returns an
        awaitable (a long read it sends off the loop), awaited with the writes held."""
        loop = asyncio.get_running_loop()
        started: Awaitable[T] | None = None
        if not self._write_lock.locked() and self._between_writes is None:
            done = loop.create_future()
            try:
                result = step()
            except Exception as e:
                done.set_exception(e)
                return done
            if not inspect.isawaitable(result):
                done.set_result(result)
                return done
            started = result  # the writes are held from here until it is done
        barrier = self._between_writes = loop.create_future()

        async def run() -> T:
            async with self._write_lock:
                result = started if started is not None else step()
                return await result if inspect.isawaitable(result) else result

        def release(_: asyncio.Future) -> None:  # also when cancelled before it ever ran
            if self._between_writes is barrier:
                self._between_writes = None
            barrier.set_result(None)

        task = asyncio.ensure_future(run())
        task.add_done_callback(release)
        return task

    def _append_to_translog(self, staged: _StagedWrite) -> None:
        try:
            self.translog.append(staged.payloads, staged.first_seq, staged.last_seq)
        except Exception as e:
            raise self._write_failed(e) from e
        self._in_flight = staged

    async def _land(self, staged: _StagedWrite) -> int:
        """Write a staged batch on a store-writer thread; releases the write lock."""
        try:
            await asyncio.get_running_loop().run_in_executor(_STORE_WRITERS, staged.batch.write)
        except Exception as e:
            raise self._write_failed(e) from e
        finally:
            self._in_flight = None
            self._write_lock.release()
        return self._landed(staged)

    def _write_failed(self, error: Exception) -> StrataError:
        """Fails the engine: its translog and store may now disagree (the error to raise)."""
        self.fail("failed to write operations", error)
        return StrataError(f"{self.shard} failed to write operations", caused_by=error)

    def _landed(self, staged: _StagedWrite) -> int:
        """The batch is in the store: its operations count as processed."""
        if staged.seq_nos is None:
            self.tracker.mark_processed_range(staged.first_seq, staged.last_seq)
        else:
            for seq_no in staged.seq_nos:
                self.tracker.mark_processed(seq_no)
        self._dirty = True
        if staged.started:
            stats = self.stats
            spent = time.perf_counter_ns() - staged.started
            on_index = spent * staged.indexed // max(1, staged.indexed + staged.deleted)
            stats["index_total"] += staged.indexed
            stats["index_nanos"] += on_index
            stats["delete_total"] += staged.deleted
            stats["delete_nanos"] += spent - on_index if staged.deleted else 0
        return len(staged.payloads)

    def current_operations(self) -> tuple[int, int]:
        """Index and delete operations staged and not yet in the store."""
        staged = self._in_flight
        return (staged.indexed, staged.deleted) if staged is not None else (0, 0)

    def _stage_write(self, requests: list[IndexOp | DeleteOp],
                     on_item: Callable[[int, WriteResult | StrataError], None],
                     segment: EncodedSegment | None) -> _StagedWrite | None:
        """Sequence numbers, version checks and the LevelDB batch of a primary's write;
        None when every request failed. Nothing is written yet."""
        self.ensure_open()
        started = time.perf_counter_ns()
        wb = self.db.write_batch()
        put = wb.put
        encode = ops.encode
        pack_pointer = POINTER.pack
        staged: dict[str, DocVersion] = {}
        payloads: list[bytes] = []
        writer = SegmentWriter() if segment is None else None
        failed: list[int] = []  # requests that wrote nothing
        count_delta = 0
        deletes = 0
        first_seq = self.tracker.max_seq_no + 1
        seq_no = first_seq - 1
        term = self.primary_term
        unsafe = self._max_unsafe_auto_id
        for i, req in enumerate(requests):
            if req.__class__ is IndexOp and req.auto_generated_id and not req.retry and (
                    unsafe < 0 or (auto_id_timestamp(req.id) or 0) > unsafe):
                # A fresh id cannot exist yet and carries no constraints: append-only,
                # no lookup, version 1 (the common case for logs, kept lean).
                seq_no += 1
                op = Operation(ops.INDEX, seq_no, term, 1, req.id, req.source, req.routing)
                payload = encode(op)
                payloads.append(payload)
                put(DOC + req.id.encode(), pack_pointer(seq_no, term, 1, False))
                put(HISTORY + SEQ.pack(seq_no), payload)
                if writer is not None and req.indexed is not None:
                    writer.add(seq_no, req.indexed)
                count_delta += 1
                on_item(i, WriteResult(op, "created"))
                continue
            current = staged.get(req.id)
            if current is None:
                current = self._version(req.id)
            # A retried generated id carries no constraints: a copy its first attempt wrote is
            # replaced as if it were not there (ES's overrideExistingAsIfNotThere), version 1;
            # so is the late original of a retry (mayHaveBeenIndexedBefore), whichever lands first.
            retried_id = req.__class__ is IndexOp and req.auto_generated_id
            if retried_id and req.retry:
                stamp = auto_id_timestamp(req.id)
                unsafe = self._max_unsafe_auto_id = max(unsafe, stamp if stamp is not None else 2**63)
            try:
                version = 1 if retried_id else self._check(req, current)
            except StrataError as e:
                failed.append(i)
                if req.__class__ is IndexOp:
                    self.stats["index_failed"] += 1
                on_item(i, e)
                continue
            seq_no += 1
            was_live = current is not None and not current.deleted
            if current is not None:
                put(PRIOR + SEQ.pack(seq_no), current.encode())  # what a rollback restores
            if was_live:
                put(index_structures.dead_key(current.seq_no), SEQ.pack(seq_no))  # superseded by seq_no
            if req.__class__ is IndexOp:
                op = Operation(ops.INDEX, seq_no, term, version, req.id, req.source, req.routing)
                if writer is not None and req.indexed is not None:
                    writer.add(seq_no, req.indexed)
                result = "updated" if was_live and not retried_id else "created"
                count_delta += 0 if was_live else 1
            else:
                op = Operation(ops.DELETE, seq_no, term, version, req.id, None, req.routing)
                result = "deleted" if was_live else "not_found"
                count_delta -= 1 if was_live else 0
                deletes += 1
            payload = encode(op)
            payloads.append(payload)
            pointer = DocVersion.of(op)
            staged[req.id] = pointer
            put(DOC + req.id.encode(), pointer.encode())
            put(HISTORY + SEQ.pack(seq_no), payload)
            on_item(i, WriteResult(op, result))
        if not payloads:
            return None
        if writer is not None:
            self._write_segment(wb, writer)
        else:
            self._write_segment(wb, segment, first_seq,
                                self._sequence_numbers(len(requests), first_seq, failed))
        self._doc_count += count_delta
        wb.put(COUNT_KEY, str(self._doc_count).encode())
        self.tracker.advance_max_seq_no(seq_no)
        return _StagedWrite(wb, payloads, first_seq, seq_no, None, len(payloads) - deletes, deletes, started)

    def apply_operations(self, operations: list[tuple[Operation, bytes, IndexedDocument | None]],
                         prebuilt: PrebuiltSegment | None = None) -> int:
        """Apply operations the primary already executed (peer recovery's replay, a
        promoted primary's no-ops) as one batch, written on the calling thread: each keeps
        its sequence number, primary term and version; an operation this copy has already
        processed is skipped, and an older version of a document never replaces a newer
        one. Returns how many were applied. With `prebuilt`, the worker has indexed every
        index operation of the batch. The event loop uses `apply_operations_async`, which
        must not overlap this."""
        if self._in_flight is not None:
            raise IllegalArgument(f"{self.shard} has a write in flight; use apply_operations_async")
        staged = self._stage_apply(operations, prebuilt)
        return 0 if staged is None else self._write_here(staged)

    async def apply_operations_async(self, operations: list[tuple[Operation, bytes, IndexedDocument | None]],
                                     prebuilt: PrebuiltSegment | None = None,
                                     admit: Callable[[], bool] = lambda: True,
                                     counted: bool = False) -> int | None:
        """`apply_operations` for the event loop, a replica's write: its batch goes to the
        store on a store-writer thread as a primary's does (`write_async`), one write at a
        time. `admit` is asked once this write's turn has come: when it says no (a term
        change began while the write waited), nothing is written and None is returned.
        `counted`: a replica's write, which indexing stats count (a recovery's is not)."""
        admitted = False

        def stage() -> _StagedWrite | None:
            nonlocal admitted
            admitted = admit()
            return self._stage_apply(operations, prebuilt, counted) if admitted else None

        written = await self._write_in_turn(stage)
        return written if written is not None else (0 if admitted else None)

    def _stage_apply(self, operations: list[tuple[Operation, bytes, IndexedDocument | None]],
                     prebuilt: PrebuiltSegment | None, counted: bool = False) -> _StagedWrite | None:
        """The LevelDB batch of operations applied with their sequence numbers; None when
        this copy has processed them all. Nothing is written yet."""
        self.ensure_open()
        started = time.perf_counter_ns() if counted else 0
        wb = self.db.write_batch()
        staged: dict[str, DocVersion] = {}
        priors: dict[int, DocVersion | None] = {}
        segment = SegmentWriter() if prebuilt is None else _IndexedElsewhere()
        payloads: list[bytes] = []
        seqs: list[int] = []
        kinds: list[int] = []
        delta = 0
        seen: set[int] = set()
        for op, payload, indexed in operations:
            if self.tracker.has_processed(op.seq_no) or op.seq_no in seen:
                continue
            seen.add(op.seq_no)
            delta += self._stage_replay(wb, op, payload, staged, segment,
                                        indexed if prebuilt is None else _PREBUILT, priors)
            payloads.append(payload)
            seqs.append(op.seq_no)
            kinds.append(op.op_type)
        if not payloads:
            return None
        if prebuilt is None:
            self._write_segment(wb, segment)
        else:
            prebuilt.write_into(self, wb, segment.seq_nos)
        self._doc_count += delta
        wb.put(COUNT_KEY, str(self._doc_count).encode())
        indexed = deleted = 0
        if counted:
            indexed, deleted = kinds.count(ops.INDEX), kinds.count(ops.DELETE)
        return _StagedWrite(wb, payloads, min(seqs), max(seqs), seqs, indexed, deleted, started)

    def history(self, from_seq_no: int, to_seq_no: int) -> list[bytes]:
        """The encoded operations with sequence numbers in [from, to] the store holds, in
        order (what operation-based recovery replays)."""
        self.ensure_open()
        return [value for _, value in self.db.iterator(start=history_key(from_seq_no),
                                                       stop=history_key(to_seq_no + 1))]

    def holds_history_from(self, seq_no: int) -> bool:
        """Whether every operation from `seq_no` on is in the history (operation-based
        recovery from there is possible)."""
        return seq_no >= self.min_retained_seq_no

    # -- history retention -------------------------------------------------------------

    def persist_retention_leases(self, leases: retention_leases.RetentionLeases, *,
                                 only_newer: bool = False) -> bool:
        """Make `leases` durable with the shard, then honour them; with `only_newer`, only
        when they supersede the leases held (a sync overtaken by a newer one changes
        nothing). True when they were taken. Blocking.

        One persist at a time per shard: each lists the generations on disk, writes the
        next and unlinks the older ones, so two at once (a recovery's end and a background
        sync reaching the copy meanwhile, on two recovery threads) would write the same
        generation and unlink each other's files, and one would fail. The check sits
        under the same lock, so it compares with what is held when the leases land.

        A closed engine refuses (EngineClosed), and its close waits for a persist under
        way: the shard's folder may be removed as soon as the close returns (a deleted
        index), and a persist must not write into it meanwhile."""
        with self._leases_lock:
            if self.closed:
                raise EngineClosed(f"{self.shard} engine is closed")
            if only_newer and not leases.supersedes(self.retention_leases):
                return False
            retention_leases.persist(self.path / "_state", leases)
            # Never older than what is honoured: a recovery's lease added while this persist
            # ran (sync_soon) must keep pruning below it; the next sync persists it.
            if not self.retention_leases.supersedes(leases):
                self.retention_leases = leases
            return True

    def prune_bound(self) -> int:
        """Where pruning may go up to: what the leases retain (all of it without any),
        never past the global checkpoint (copies may lack the operations above it), nor
        past the last commit (local recovery replays the translog above it against the
        history)."""
        leased = self.retention_leases.min_retaining_seq_no()
        if leased is None:
            return 0
        return min(leased, self.translog.global_checkpoint + 1, self.commit.local_checkpoint + 1)

    async def prune_history(self, executor=None) -> int:
        """Delete the operations below the prune bound that no live document points to,
        in bounded batches on `executor`; returns how many went. The bound is taken on the
        event loop and the in-memory minimum moves first, so a recovery deciding after this
        call started already sees the history as incomplete below it."""
        if self.closed or self.failure is not None or self._prune_lock.locked():
            return 0
        async with self._prune_lock:
            bound = self.prune_bound()
            global_checkpoint = self.translog.global_checkpoint
            start = self.min_retained_seq_no
            if bound <= start:
                return 0
            self.min_retained_seq_no = bound
            pruned = 0
            while start < bound and not self.closed:
                stop = min(start + PRUNE_BATCH, bound)
                try:
                    pruned += await on_thread(executor, self._prune_blocking, start, stop, global_checkpoint)
                except Exception as e:
                    self.fail("failed to prune the history", e)
                    raise
                start = stop
            if pruned:
                log.debug("%s pruned %d operations below seq_no [%d]", self.shard, pruned, bound)
            return pruned

    def _prune_blocking(self, start: int, stop: int, global_checkpoint: int) -> int:
        """One batch: the operations in [start, stop) whose document points elsewhere (or
        is deleted) go, and the minimum retained sequence number moves to `stop` with them.
        A version replaced by an operation above the global checkpoint stays: a new primary
        may have the copy roll that operation back, which makes the version live again (its
        dead marker names what replaced it); the pass that reaches that operation lets it
        go. The r records below `stop` go too: no operation there is ever rolled back.
        Blocking."""
        pruned = 0
        with self.db.write_batch() as wb:
            for key, payload in self.db.iterator(start=history_key(start), stop=history_key(stop)):
                op = ops.decode(payload)
                if op.op_type == ops.INDEX:
                    pointer = self._version(op.id)
                    if pointer is not None and pointer.seq_no == op.seq_no and not pointer.deleted:
                        continue
                    replaced_by = self.db.get(index_structures.dead_key(op.seq_no))
                    if replaced_by and SEQ.unpack(replaced_by)[0] > global_checkpoint:
                        continue
                wb.delete(key)
                pruned += 1
            for key, raw in self.db.iterator(start=prior_key(start), stop=prior_key(stop)):
                replaced = DocVersion.decode(raw).seq_no
                if replaced < start and self.db.get(history_key(replaced)) is not None:
                    wb.delete(history_key(replaced))  # held back by an earlier pass for this one's sake
                    pruned += 1
                wb.delete(key)
            wb.put(MIN_RETAINED_KEY, SEQ.pack(stop))
        return pruned

    async def force_merge(self, result: merge.MergeResult | None = None, executor=None) -> merge.MergeResult:
        """Merge the batches at or below the global and local checkpoints into one segment,
        purging the dead versions replaced at or below them (merge.py); `result` fills in
        as it goes (a task's status). Searches go on meanwhile; writes wait only while each
        chunk of about a megabyte is written."""
        async with self._merge_lock:
            self.ensure_open()
            bound = self._merge_bound()
            result = result if result is not None else merge.MergeResult()
            snapshot = self.db.snapshot()
            stats = self.stats
            started = time.perf_counter_ns()
            stats["merge_current"] = 1
            try:
                chunks = merge.plan(snapshot, bound, result)
                while (chunk := await self.read_off_loop(next, chunks, None, executor=executor)) is not None:
                    stats["merge_current_docs"] = result.docs
                    await self._write_merge_chunk(chunk)
                    result.bytes += chunk.size
                    stats["merge_current_bytes"] = result.bytes
            finally:
                stats["merge_current"] = stats["merge_current_docs"] = stats["merge_current_bytes"] = 0
                if not self.closed:  # a close released it with the store
                    snapshot.close()
            if result.batches:
                stats["merge_total"] += 1
                stats["merge_nanos"] += time.perf_counter_ns() - started
                stats["merge_docs"] += result.docs
                stats["merge_bytes"] += result.bytes
                log.info("%s merged %d batches below seq_no [%d], purging %d dead versions: %d keys -> %d",
                         self.shard, result.batches, bound + 1, result.purged, result.keys_before,
                         result.keys_after)
            return result

    async def maybe_merge(self, deletes_pct_allowed: float, executor=None) -> merge.MergeResult | None:
        """The merge policy: merge once the replaced versions a merge could purge (replaced
        at or below the bound) pass `deletes_pct_allowed` percent of the indexed versions and
        MIN_DEAD_TO_MERGE. A merge rewrites every key of the batches it covers (their keys
        spread over the whole keyspace), so it waits for that share rather than running
        after every few batches; an index never updated never merges. A bound no higher
        than the last merge's finds nothing new to purge (writes since are above it), and
        the markers a merge left (versions in a batch that reaches past the bound) do not
        count towards the next: only a merge that could purge enough new ones runs."""
        if self.closed or self.failure is not None or self._merge_lock.locked():
            return None
        bound = self._merge_bound()
        if bound <= self._merged_below:
            return None
        dead = await self.read_off_loop(self._purgeable, bound, executor=executor)
        fresh = dead - self._unpurged
        if fresh < MIN_DEAD_TO_MERGE or dead * 100 <= deletes_pct_allowed * (self._doc_count + dead):
            return None
        self._merged_below = bound
        result = await self.force_merge(executor=executor)
        self._unpurged = max(0, dead - result.purged)
        return result

    def _merge_bound(self) -> int:
        """What a merge may cover: no rollback undoes and no write to come adds anything at
        or below the global and the local checkpoint (merge.py)."""
        return min(self.translog.global_checkpoint, self.tracker.checkpoint)

    def _purgeable(self, bound: int) -> int:
        """Dead markers whose successor is at or below `bound`. Blocking."""
        return sum(1 for _, successor in self.db.iterator(prefix=index_structures.DEAD)
                   if SEQ.unpack(successor)[0] <= bound)

    async def _write_merge_chunk(self, chunk: merge.Chunk) -> None:
        """One chunk with the writes held: a staged write's field statistics were counted
        from the in-memory ones, which must not change under it. The batch is about a
        megabyte, written here so no refresh comes between it and the cache's clear."""
        async with self._write_lock:
            self.ensure_open()
            stats = {}
            for name, (docs, total) in chunk.stats.items():
                current = self._field_stats_of(name)
                stats[name] = [max(0, current[0] - docs), max(0, current[1] - total)]
            try:
                with self.db.write_batch() as wb:
                    write_changes(wb, chunk.changes)
                    for name, totals in stats.items():
                        wb.put(index_structures.stats_key(name), index_structures.encode_stats(totals))
            except Exception as e:
                self.fail("failed to write a merge", e)
                raise
            self._field_stats.update(stats)
            self.block_cache.clear()  # keys of the merged batches hold other values now
            self._dirty = True

    def history_size(self) -> int:
        """How many operations the history holds. Blocking (walks the keyspace)."""
        self.ensure_open()
        return sum(1 for _ in self.db.iterator(prefix=HISTORY, include_value=False))

    @property
    def max_unsafe_auto_id_timestamp(self) -> int:
        """The newest retried generated id's timestamp (Long.MAX_VALUE when a retry's id had
        none), -1 while no retry came: what segment stats show."""
        return min(self._max_unsafe_auto_id, 2**63 - 1)

    def segment_count(self) -> int:
        """How many segments (write batches, or what merges made of them) the search
        structures hold: one documents key each. Blocking (walks those keys)."""
        self.ensure_open()
        return sum(1 for _ in self.db.iterator(prefix=index_structures.DOCS, include_value=False))

    def translog_figures(self) -> dict[str, int]:
        """Operations and bytes of the translog, all of it and what the last commit does
        not cover (ES's translog stats)."""
        translog = self.translog
        if translog is None or self.commit is None:
            return dict.fromkeys(("translog_operations", "translog_bytes", "translog_uncommitted_operations",
                                  "translog_uncommitted_bytes"), 0)
        committed = self.commit.translog_generation
        return {"translog_operations": translog.operations(translog.min_generation),
                "translog_bytes": translog.size_in_bytes(translog.min_generation),
                "translog_uncommitted_operations": translog.operations(committed),
                "translog_uncommitted_bytes": translog.size_in_bytes(committed)}

    # -- file sets (file-based peer recovery's first phase) ------------------------------

    async def take_file_set(self, target: Path, executor=None) -> tuple[list[str], int]:
        """Hard-link a consistent set of the store's files into `target` (file_set.py);
        returns the file names and the local checkpoint the set covers (every operation up
        to it is in the set; some after it may be too)."""
        async with self._flush_lock:
            self.ensure_open()
            checkpoint = self.tracker.checkpoint
            names = await on_thread(executor, file_set.take, self.path / "index", target,
                                    self._flush_memtable)
            return names, checkpoint

    def _flush_memtable(self) -> None:
        self.db.compact_range(start=PAST_ALL_KEYS, stop=PAST_ALL_KEYS)

    @staticmethod
    def install_file_set(shard_path: Path, files: Path, local_checkpoint: int,
                         global_checkpoint: int) -> None:
        """Make the files received from a primary this (closed) copy's store, with a new
        translog and a commit point at the set's local checkpoint: opening the shard then
        takes up the operations above it that the set's history holds. The store gets a
        history uuid of its own, as an empty one would: it holds the primary's history
        only once the recovery has replayed the rest (then it takes the primary's up), so
        a copy cut short cannot pass for one that kept a whole history. Blocking."""
        store = shard_path / "index"
        shutil.rmtree(store, ignore_errors=True)
        files.rename(store)
        fsync_dir(shard_path)  # the old store's removal and the rename, durable before the commit point
        db = plyvel.DB(str(store), create_if_missing=False, compression=None)
        try:
            translog = Translog.create(shard_path / "translog", global_checkpoint=global_checkpoint)
            try:
                commit = CommitPoint(local_checkpoint, local_checkpoint, translog.current_generation,
                                     translog.translog_uuid, uuid.uuid4().hex)
                db.put(COMMIT_KEY, ops.encode_commit(commit), sync=True)
            finally:
                translog.close()
        finally:
            db.close()

    @staticmethod
    def _sequence_numbers(count: int, first_seq: int, failed: list[int]) -> list[int | None] | None:
        """The sequence number of each request of a batch, None for those that failed;
        None when none failed (request i is then first_seq + i)."""
        if not failed:
            return None
        skip = set(failed)
        numbers: list[int | None] = []
        seq_no = first_seq
        for i in range(count):
            if i in skip:
                numbers.append(None)
            else:
                numbers.append(seq_no)
                seq_no += 1
        return numbers

    def _write_segment(self, wb, segment: SegmentWriter | EncodedSegment, base: int = 0,
                       seq_of: list[int | None] | None = None) -> None:
        """Add a batch's search structures and updated field stats to its LevelDB batch:
        a SegmentWriter's (numbered by sequence number), or an EncodedSegment's whose
        local number i is sequence number base + i, or seq_of[i] when given."""
        totals: dict[str, list[int]] = {}
        first = segment.first_seq if segment.__class__ is SegmentWriter else \
            (min((s for s in seq_of if s is not None), default=None) if seq_of is not None else base)
        if first is not None:
            if first <= self._last_segment_seq:
                self.block_cache.in_order = False  # readers walk every key from now on
            self._last_segment_seq = max(self._last_segment_seq, first)
        if segment.__class__ is SegmentWriter:
            segment.emit(wb.put, totals)
        else:
            segment.emit(wb.put, base, totals, seq_of)
        for name, (docs, length) in totals.items():
            current = self._field_stats_of(name)
            current[0] += docs
            current[1] += length
            wb.put(index_structures.stats_key(name), index_structures.encode_stats(current))

    def _field_stats_of(self, name: str) -> list[int]:
        """A field's statistics as the writes so far left them (read once, then kept)."""
        current = self._field_stats.get(name)
        if current is None:
            current = self._field_stats[name] = index_structures.decode_stats(
                self.db.get(index_structures.stats_key(name)))
        return current

    def searcher(self) -> SegmentReader:
        """The search structures as of the last refresh (one reader per refresh, so what
        it works out about the snapshot is worked out once)."""
        self.ensure_open()
        reader = self._reader
        if reader is None or reader.snapshot is not self._searcher:
            reader = self._reader = SegmentReader(self._searcher, self.block_cache, self._generation,
                                                  self.reads, epoch=self._searcher_epoch)
        return reader

    async def sync_translog(self) -> None:
        try:
            await self.translog.sync()
        except Exception as e:
            self.fail("failed to sync the translog", e)
            raise StrataError(f"{self.shard} failed to sync the translog", caused_by=e) from e

    async def roll_translog(self) -> int:
        """Start a new translog generation (the size-triggered roll between flushes)."""
        self.ensure_open()
        try:
            return await self.translog.roll_generation()
        except Exception as e:
            if not self.closed:  # a close that won the race is no failure
                self.fail("failed to roll the translog", e)
            raise

    # -- reads ---------------------------------------------------------------------------

    def get(self, id: str) -> Operation | None:
        """Real-time get: the latest indexed version, refreshed or not."""
        self.ensure_open()
        return self._read_live(id, self.db)

    def get_refreshed(self, id: str) -> Operation | None:
        """Get as of the last refresh (`realtime=false`)."""
        self.ensure_open()
        return self._read_live(id, self._searcher)

    def count(self) -> int:
        """Live documents visible to search (as of the last refresh)."""
        self.ensure_open()
        return self._read_count(self._searcher)

    @property
    def doc_count(self) -> int:
        return self._doc_count

    # -- refresh and flush ---------------------------------------------------------------

    def refresh(self) -> None:
        self.ensure_open()
        if self._refresh_held:
            # A rollback is writing: a snapshot of its keys with the cache's blocks of the
            # keys it replaces would mix two stores. It refreshes when it is done.
            return
        started = time.perf_counter_ns()
        # The old snapshot is not closed here: a search on a worker thread may still read
        # it. plyvel releases it when its last reader lets go of it.
        self._searcher = self.db.snapshot()
        self._searcher_epoch = self.block_cache.epoch
        self._generation += 1
        self._dirty = False
        self.stats["refresh_total"] += 1
        self.stats["refresh_nanos"] += time.perf_counter_ns() - started
        listeners, self._refresh_listeners = self._refresh_listeners, []
        for f in listeners:
            if not f.done():
                f.set_result(None)

    @property
    def needs_refresh(self) -> bool:
        return self._dirty

    def wait_for_refresh(self) -> asyncio.Future:
        """A future done at the next refresh (for `?refresh=wait_for`); a closed or failed
        engine has no next refresh, so it raises instead."""
        self.ensure_open()
        f = asyncio.get_running_loop().create_future()
        self._refresh_listeners.append(f)
        return f

    def uncommitted_translog_bytes(self) -> int:
        return self.translog.size_in_bytes(self.commit.translog_generation)

    def holds_nothing(self) -> bool:
        """No key but the commit point and where r records start: a store as a new copy
        starts. Blocking."""
        self.ensure_open()
        fresh = (COMMIT_KEY, PRIOR_SINCE_KEY)
        first = zip(self.db.iterator(include_value=False), range(3), strict=False)
        return all(key in fresh for key, _ in first)

    @property
    def history_uuid(self) -> str:
        """Which history this store holds (ES's history uuid): a primary's, taken up by
        every copy recovered from it, so a copy that comes back can tell whether its store
        still belongs to the shard's history."""
        return self.commit.history_uuid

    async def adopt_history_uuid(self, history_uuid: str) -> None:
        """Record durably that this store now holds `history_uuid`'s history (a recovery
        completed from that primary, or a primary forced onto stale data starting anew)."""
        await to_the_end(self._adopt_history_uuid(history_uuid), f"{self.shard} history uuid")

    async def _adopt_history_uuid(self, history_uuid: str) -> None:
        async with self._flush_lock:
            self.ensure_open()
            commit = CommitPoint(self.commit.local_checkpoint, self.commit.max_seq_no,
                                 self.commit.translog_generation, self.commit.translog_uuid, history_uuid)
            await on_thread(None, lambda: self.db.put(COMMIT_KEY, ops.encode_commit(commit), sync=True))
            self.commit = commit

    def _write_commit(self, commit: CommitPoint) -> None:
        """Make every operation up to the commit's checkpoint durable in the store, then
        record the commit point. A synced write syncs only LevelDB's current log file:
        writes in a log LevelDB switched away from (memtable full) stay unsynced until
        their memtable becomes a table file. So first force the memtable out (a compaction
        of a key range past every key flushes it, writes the table file and the manifest
        synced, and compacts nothing), then write the commit point synced."""
        self.db.compact_range(start=PAST_ALL_KEYS, stop=PAST_ALL_KEYS)
        with self.db.write_batch(sync=True) as wb:
            # replay starts past the checkpoint: what was rolled back up to it needs no skipping
            for key in self.db.iterator(prefix=UNDONE, include_value=False):
                if SEQ.unpack_from(key, 1)[0] > commit.local_checkpoint:
                    break
                wb.delete(key)
            wb.put(COMMIT_KEY, ops.encode_commit(commit))

    async def flush(self, force: bool = False, *, periodic: bool = False) -> bool:
        """Write a synced commit point and trim the translog generations it covers.
        `periodic`: the translog outgrew its flush threshold (counted apart, as ES does).
        Runs to the end when its caller is cancelled: a commit written is the commit held."""
        return await to_the_end(self._flush(force, periodic), f"{self.shard} flush")

    async def _flush(self, force: bool, periodic: bool) -> bool:
        async with self._flush_lock:
            self.ensure_open()
            started = time.perf_counter_ns()
            if not force and self.tracker.checkpoint == self.commit.local_checkpoint and (
                    self.tracker.max_seq_no == self.commit.max_seq_no):
                # Nothing to commit. (With operations past a gap in the sequence numbers,
                # there is: the commit keeps them in the store, whose history recovery reads
                # above the checkpoint, and the translog holding them is trimmed.) A requested
                # flush counts whether or not there was anything to commit, as ES counts the
                # requests; a periodic one that found nothing does not.
                if not periodic:
                    self._count_flush(started, False)
                return False
            try:
                new_generation = await self.translog.roll_generation()
            except Exception as e:
                self.fail("failed to roll the translog", e)
                raise
            # A write appends to the translog and lands in the store under the write lock:
            # once it is ours, every operation of an older generation is in the store, and
            # the commit's synced write makes them durable there.
            async with self._write_lock:
                commit = CommitPoint(self.tracker.checkpoint, self.tracker.max_seq_no, new_generation,
                                     self.translog.translog_uuid, self.commit.history_uuid)
            try:
                await on_thread(None, self._write_commit, commit)
                self.commit = commit
                self._undone = {u: g for u, g in self._undone.items() if u[0] > commit.local_checkpoint}
                await self.translog.trim_below(new_generation)
            except Exception as e:
                self.fail("failed to flush", e)
                raise
            self._count_flush(started, periodic)
            return True

    def _count_flush(self, started: int, periodic: bool) -> None:
        self.stats["flush_total"] += 1
        self.stats["flush_periodic"] += periodic
        self.stats["flush_nanos"] += time.perf_counter_ns() - started


# What `_stage_replay` is given for a document the worker has indexed: not None, so it is
# not indexed again here; `_IndexedElsewhere` only notes its sequence number.
_PREBUILT = IndexedDocument()


class _IndexedElsewhere:
    """Stands in for a batch's SegmentWriter when the worker built the segment: the
    sequence numbers of the documents the batch applies, in order."""

    def __init__(self) -> None:
        self.seq_nos: list[int] = []

    def add(self, seq_no: int, doc: IndexedDocument) -> None:
        self.seq_nos.append(seq_no)


class PrebuiltSegment(msgspec.Struct, array_like=True, frozen=True):
    """A replica batch's search structures, built before the batch is applied: the
    segment of every index operation of the batch (`seq_nos`, ascending).

    Built by this node's indexing worker, it numbers each document by its sequence
    number minus the first one's (`base` None), the numbering a batch indexed here gets.
    Shipped by the primary (`ReplicaRequest.segment`), it is the segment the primary's
    own write emitted, with the same `base` and `seq_of` (`EncodedSegment.emit`), so the
    replica's keys are the primary's."""

    segment: EncodedSegment
    seq_nos: list[int]
    base: int | None = None
    seq_of: list[int | None] | None = None

    def write_into(self, engine: Engine, wb, applied: list[int]) -> None:
        """Add the structures of the documents the batch applied; one already processed
        (skipped) is left out, and the batch is then numbered from its first applied one."""
        base = self.seq_nos[0] if self.base is None else self.base
        if applied == self.seq_nos:
            engine._write_segment(wb, self.segment, base, self.seq_of)
            return
        kept = set(applied)
        seqs = self.seq_of if self.seq_of is not None else range(base, self.seq_nos[-1] + 1)
        engine._write_segment(wb, self.segment, 0, [seq if seq in kept else None for seq in seqs])
