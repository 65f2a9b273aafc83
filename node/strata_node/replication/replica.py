"""The replica side of a write, and the primary's step that sends it (Elasticsearch's
ReplicationOperation and TransportShardBulkAction's replica half).

The primary executes a batch, then sends the operations it wrote, encoded as its translog
records, to every copy of its replication group in parallel: the in-sync replicas and the
copies recovering from it. A replica applies them with their own sequence numbers, terms
and versions (`Engine.apply_operations`), makes them durable as the primary did, and
answers with its local checkpoint. A copy that fails is reported to the master, which
removes it from the in-sync set, before the write is acknowledged; if the master refuses
(this primary was superseded), this copy fails itself and the write is not acknowledged
here: the coordinating step retries it on the new primary.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import orjson

from ..action.index_admin import NoLongerPrimary
from ..common.errors import IllegalState, ShardNotFound, StrataError
from ..engine import operation as ops
from ..engine import rollback
from ..engine.engine import PrebuiltSegment
from ..engine.index_structures import EncodedSegment, IndexedDocument
from ..index.indexing import encode_documents
from ..index.indexing_pool import MIN_WORKER_BATCH, PART_SIZE, POOL, IndexingSession, log_worker_failure
from ..index.mapping import ParsedDocument
from ..index.service import IndexService
from ..index.shard import IndexShard
from ..tasks.task import Task
from ..transport.wire import Message

log = logging.getLogger(__name__)

REPLICA_ACTION = "indices:data/write/bulk[s][r]"
MAPPING_WAIT_SECONDS = 30.0
# More operations above the global checkpoint than this are not rolled back: the copy
# recovers again instead (undoing each re-analyzes it and rewrites its keys).
MAX_ROLLBACK = 10_000
# A replica that does not answer within this is failed like one that refused the write
# (a hung node must not hold a primary's writes for ever).
REPLICA_TIMEOUT = 60.0
RESYNC_CHUNK = 1000  # operations per resync request


class ReplicaRequest(Message):
    index: str
    index_uuid: str
    shard: int
    primary_term: int
    global_checkpoint: int
    operations: list[bytes]  # translog records, as the primary wrote them
    refresh: bool = False
    # A promoted primary's operations above the global checkpoint while it resyncs.
    held_above_global_checkpoint: list[tuple[int, int]] | None = None
    # The search structures the primary's write built for every index operation of the
    # request (a bulk batch indexed by its worker): the copy applies them as they are
    # instead of parsing and analysing each document again, as segment replication ships
    # what the primary indexed.
    segment: PrebuiltSegment | None = None
    # The copy the primary's replication group sends to (ES's targetAllocationID): a node
    # holding another copy of the shard by now (the one meant was removed, a new one is
    # recovering there) refuses rather than applying writes meant for a copy it lacks.
    target_allocation_id: str | None = None

    @property
    def description(self) -> str:
        return f"[{self.index}][{self.shard}] operations [{len(self.operations)}]"


class ReplicaResponse(Message):
    local_checkpoint: int


class ReplicationOutcome:
    """What `_shards` says of one shard request's copies."""

    def __init__(self, total: int):
        self.total = total
        self.successful = 1  # the primary
        self.failures: list[dict[str, Any]] = []


def check_operation_term(shard: IndexShard, service: IndexService, primary_term: int) -> None:
    """A copy refuses operations of a primary older than the one it knows (fencing a
    primary that a partition left behind)."""
    current = service.metadata.primary_terms[shard.ref.shard]
    if primary_term < current:
        raise IllegalState(f"{shard.ref} operation primary term [{primary_term}] is too old "
                           f"(current [{current}])")


Applied = list[tuple[ops.Operation, bytes, IndexedDocument | None]]


async def index_operations(node, service: IndexService,
                           payloads: list[bytes]) -> tuple[Applied, PrebuiltSegment | None]:
    """Decode operations and build their search structures with the index's mapping: in
    the indexing worker, as the primary does, for a batch with enough documents (a
    replica's analysis would otherwise take its event loop's core while the worker idles),
    here otherwise or when the worker fails. A document with a field this node's mapping
    does not have yet waits for the cluster state that carries it (the primary published
    it through the master before writing)."""
    deadline = asyncio.get_running_loop().time() + MAPPING_WAIT_SECONDS
    while True:
        decoded = [(ops.decode(payload), payload) for payload in payloads]
        parse = _WorkerParse(service) if _for_the_worker(decoded) else None
        indexer = service.indexer
        mapping = indexer.mapping
        limits = service.copy_limits
        out: Applied = []
        missing = None
        try:
            for op, payload in decoded:
                indexed = None
                if op.op_type == ops.INDEX:
                    # the fields the primary left out by the field limit are left out here too
                    parsed = mapping.parse_document(orjson.loads(op.source), op.id, limits)
                    if parsed.dynamic_update:
                        missing = op.id
                        break
                    if parse is None:
                        indexed = indexer(parsed)
                    else:
                        parse.add(op.seq_no, parsed)
                out.append((op, payload, indexed))
        except BaseException:
            if parse is not None:  # or the worker keeps the parts sent for ever
                parse.discard()
            raise
        if missing is None:
            prebuilt = await parse.finish() if parse is not None else None
            if parse is not None and prebuilt is None:  # the worker failed: index here
                parsed_in_order = iter(parse.parsed)
                out = [(op, payload, indexer(next(parsed_in_order)) if op.op_type == ops.INDEX else None)
                       for op, payload, _ in out]
            return out, prebuilt
        if parse is not None:
            parse.discard()
        await _wait_for_mapping(node, service, deadline, f"document [{missing}]")


def _for_the_worker(decoded: list[tuple[ops.Operation, bytes]]) -> bool:
    """Enough documents to be worth the round trip, in ascending sequence numbers (a
    batch's structures are numbered from its first document)."""
    seqs = [op.seq_no for op, _ in decoded if op.op_type == ops.INDEX]
    return len(seqs) >= MIN_WORKER_BATCH and all(a < b for a, b in itertools.pairwise(seqs))


class _WorkerParse:
    """A replica batch's parsed documents, sent to the worker in parts as they are parsed
    (the worker indexes one part while the loop parses the next)."""

    def __init__(self, service: IndexService):
        self.indexer = service.indexer
        self.session: IndexingSession | None = POOL.session()
        self.seq_nos: list[int] = []
        self.parsed: list[ParsedDocument] = []  # kept: indexed here if the worker fails
        self.sent = 0

    def add(self, seq_no: int, parsed: ParsedDocument) -> None:
        self.seq_nos.append(seq_no)
        self.parsed.append(parsed)
        if len(self.parsed) - self.sent >= PART_SIZE and self.session is not None:
            try:
                self.session.send(*self._part())
            except Exception as e:  # no worker: the batch is indexed here
                log_worker_failure(e, len(self.seq_nos))
                self.discard()

    def _part(self) -> tuple[bytes, list[int], bytes]:
        fields = [parsed.fields for parsed in self.parsed[self.sent:]]
        base = self.seq_nos[0]
        numbers = [seq - base for seq in self.seq_nos[self.sent:]]
        self.sent = len(self.parsed)
        return self.indexer.plans(fields), numbers, encode_documents(fields)

    async def finish(self) -> PrebuiltSegment | None:
        """The batch's structures, or None when the worker failed."""
        if self.session is None:
            return None
        try:
            segment = await self.session.finish(*self._part())
        except Exception as e:
            log_worker_failure(e, len(self.seq_nos))
            self.discard()  # the last part may have failed before the session could give up
            return None
        return PrebuiltSegment(segment, self.seq_nos)

    def discard(self) -> None:
        if self.session is not None:
            self.session.discard()
            self.session = None


async def apply_on_copy(node, request: ReplicaRequest, recovery: bool = False) -> int:
    """Apply a primary's operations to this node's copy; its local checkpoint after. A
    recovery's operations do not count in the copy's indexing stats, as in ES."""
    shard = node.indices.local_shard(request.index, request.shard, request.index_uuid)
    if request.target_allocation_id is not None and shard.allocation_id != request.target_allocation_id:
        raise ShardNotFound(request.index, request.index_uuid, request.shard,
                            f"expected allocation id [{request.target_allocation_id}] but found "
                            f"[{shard.allocation_id}]")
    service = node.indices.indices[request.index]
    check_operation_term(shard, service, request.primary_term)
    await _refuse_an_older_term(shard, request)
    engine = shard.active_engine()
    if shard.refuse_writes:
        raise IllegalState(f"{shard.ref} refuses writes (fault injection)")
    if request.primary_term > shard.operation_term:
        async with shard.term_change:
            if request.primary_term > shard.operation_term:
                await _take_new_term(shard, engine, request)
    operations, prebuilt = shipped_operations(request)
    if prebuilt is None:
        operations, prebuilt = await index_operations(node, service, request.operations)
    else:
        await wait_for_fields(node, service, segment_fields(prebuilt.segment))
    admit = _admit(shard, request)
    while True:
        await _refuse_an_older_term(shard, request)  # a newer primary may have come meanwhile
        if await engine.apply_operations_async(operations, prebuilt, admit, counted=not recovery) is not None:
            break  # else a term change began while the write waited for its turn
    # Persisted with this request's operations: the global checkpoint this copy
    # acknowledges, which its retention lease retains from, is the one it finds after a
    # restart (and vouches for the operations above).
    engine.translog.global_checkpoint = max(engine.translog.global_checkpoint, request.global_checkpoint)
    if service.metadata.setting("index.translog.durability") == "request":
        await engine.sync_translog()
    if request.refresh:
        engine.refresh()
    service.after_write(shard)
    return engine.tracker.checkpoint


def shipped_operations(request: ReplicaRequest) -> tuple[Applied, PrebuiltSegment | None]:
    """The request's operations with the segment the primary shipped, when it covers
    exactly their index operations; (nothing, None) otherwise (the copy indexes them)."""
    if request.segment is None:
        return [], None
    decoded = [(ops.decode(payload), payload) for payload in request.operations]
    if [op.seq_no for op, _ in decoded if op.op_type == ops.INDEX] != request.segment.seq_nos:
        log.warning("[%s][%d] the primary's segment does not cover the request's index operations; "
                    "indexing them here", request.index, request.shard)
        return [], None
    return [(op, payload, None) for op, payload in decoded], request.segment


def segment_fields(segment: EncodedSegment) -> set[str]:
    """The fields a segment holds structures of."""
    postings = {name for name, *_ in segment.postings}
    return postings | {name for _, name, _ in segment.columns} | set(segment.stats)


async def wait_for_fields(node, service: IndexService, fields: set[str]) -> None:
    """Wait until this node's mapping has every field of a shipped segment: the primary
    published them through the master before writing, and a copy must know the fields it
    holds structures of (a rollback rebuilds their keys from the mapping, searches read
    them by it), as a copy that parses the documents waits for them."""
    deadline = asyncio.get_running_loop().time() + MAPPING_WAIT_SECONDS
    while missing := sorted(f for f in fields if service.indexer.mapping.field(f) is None):
        await _wait_for_mapping(node, service, deadline, f"fields {missing}")


async def _wait_for_mapping(node, service: IndexService, deadline: float, what: str) -> None:
    """Wait for the next cluster state (it may carry the mapping update), or fail the
    request once the deadline has passed."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise IllegalState(f"[{service.name}] mapping for {what} did not arrive within "
                           f"[{MAPPING_WAIT_SECONDS}s]")
    await node.coordination.wait_for_change(min(remaining, 1.0))


def _admit(shard: IndexShard, request: ReplicaRequest) -> Callable[[], bool]:
    """Asked when the write's turn has come (the store takes one batch at a time): a
    newer primary, or a promotion, may have come while it waited. Refuses an older term's
    operations outright; a term change under way is waited out (the write looks again)."""
    def admit() -> bool:
        _check_term(shard, request)
        return not shard.term_change.locked()
    return admit


def _check_term(shard: IndexShard, request: ReplicaRequest) -> None:
    if request.primary_term < shard.operation_term:
        raise IllegalState(f"{shard.ref} operation primary term [{request.primary_term}] is too old "
                           f"(current [{shard.operation_term}])")


async def _refuse_an_older_term(shard: IndexShard, request: ReplicaRequest) -> None:
    """Once a newer primary's first operations came, an older one's may reuse their
    sequence numbers and must never be applied here (ES's operation-term check); a term
    change under way (and its rollback) is waited out first."""
    if shard.term_change.locked():
        async with shard.term_change:
            pass
    _check_term(shard, request)


async def _take_new_term(shard: IndexShard, engine, request: ReplicaRequest) -> None:
    """The first operations of a new primary. Operations above its global checkpoint may
    be ones the new primary never had, whose sequence numbers it will reuse: the copy rolls
    those back (ES's resetEngineToGlobalCheckpoint). A copy whose operations above it the
    new primary all holds, term for term, has nothing to undo. One that cannot roll back
    (the primary sent no list of what it holds, or the store keeps no record of what the
    operations replaced) refuses, is failed and recovers again."""
    # An older term's batch on its way into the store lands first, so that what this copy
    # holds is read whole; a write asking for its turn from now on waits out the term change.
    await engine.writes_landed()
    if engine.tracker.max_seq_no > request.global_checkpoint \
            and not await engine.read_off_loop(_held_by_primary, engine, request):  # a history read
        held = request.held_above_global_checkpoint
        refusal = (f"{shard.ref} holds operations above the global checkpoint [{request.global_checkpoint}] "
                   f"of primary term [{shard.operation_term}]; it must recover from the primary of term "
                   f"[{request.primary_term}]")
        if held is None:
            raise IllegalState(refusal)
        try:
            undone = await rollback.roll_back(engine, request.global_checkpoint,
                                              {(seq_no, term) for seq_no, term in held}, MAX_ROLLBACK)
        except rollback.RollbackRefused as e:
            raise IllegalState(f"{refusal}: {e}") from None
        log.info("%s rolled back %d operations above the global checkpoint [%d] for primary term [%d]",
                 shard.ref, undone, request.global_checkpoint, request.primary_term)
    shard.operation_term = request.primary_term


def primary_holds(held: list[tuple[int, int]] | None, mine: Iterable[tuple[int, int]]) -> bool:
    """Whether a new primary holding `held` above the global checkpoint holds each of a
    copy's operations `mine` there, both as (seq_no, term): the same sequence number from
    the same term is the same operation, as the primary of that term assigned it once.
    None (a primary too far ahead to list what it holds) vouches for nothing."""
    if held is None:
        return False
    primary = {(seq_no, term) for seq_no, term in held}
    return all(op in primary for op in mine)


def _held_by_primary(engine, request: ReplicaRequest) -> bool:
    mine = engine.history(request.global_checkpoint + 1, engine.tracker.max_seq_no)
    return primary_holds(request.held_above_global_checkpoint,
                         ((op.seq_no, op.primary_term) for op in map(ops.decode, mine)))


def seq_no_gaps(tracker) -> list[int]:
    """The sequence numbers up to the highest one seen that a copy never processed."""
    return [s for s in range(tracker.checkpoint + 1, tracker.max_seq_no) if not tracker.has_processed(s)]


def fill_seq_no_gaps(shard: IndexShard) -> int:
    """A promoted primary writes a no-op, in its own term, at every sequence number below
    its highest that it never received (ES's fillSeqNoGaps): the old primary's operation
    there reached some copies at most and was never acknowledged, and without it the local
    checkpoint, and so the global checkpoint, could never move past the gap. The resync
    then carries the no-ops to the other copies; one that holds the old operation there
    holds what this primary does not, and starts over."""
    engine = shard.engine
    noops = [ops.Operation(ops.NO_OP, seq_no, engine.primary_term, 1, "", reason="filling gaps")
             for seq_no in seq_no_gaps(engine.tracker)]
    if noops:
        engine.apply_operations([(op, ops.encode(op), None) for op in noops])
    return len(noops)


async def held_above_global_checkpoint(shard: IndexShard, limit: int) -> list[tuple[int, int]] | None:
    """What a promoted primary holds above its global checkpoint, (seq_no, term); None
    when that is more than `limit` operations (replicas holding any then start over).
    Up to `limit` operations are read and decoded on a thread, as every history read is."""
    engine = shard.engine
    start, end = shard.tracker.global_checkpoint + 1, engine.tracker.max_seq_no
    if end - start + 1 > limit:
        return None
    return await engine.read_off_loop(_held, engine, start, end)


def _held(engine, start: int, end: int) -> list[tuple[int, int]]:
    return [(op.seq_no, op.primary_term) for op in map(ops.decode, engine.history(start, end))]


def register(node) -> None:
    async def handle(request: ReplicaRequest, task: Task) -> ReplicaResponse:
        return ReplicaResponse(local_checkpoint=await apply_on_copy(node, request))

    node.transport.register(REPLICA_ACTION, ReplicaRequest, ReplicaResponse, handle)


async def replicate(node, service: IndexService, shard: IndexShard, written: list[ops.Operation],
                    refresh: bool, segment: PrebuiltSegment | None = None) -> ReplicationOutcome:
    """Send what the primary wrote to every other copy of the group, with the segment
    its write built for the index operations when there is one; returns the outcome for
    `_shards`. Raises when a failed copy could not be removed from the in-sync set: the
    write must not be acknowledged then."""
    tracker = shard.tracker
    if not written or tracker is None or not tracker.replication_targets():
        if tracker is not None:
            tracker.update_local_checkpoint(tracker.allocation_id, shard.engine.tracker.checkpoint)
            shard.engine.translog.global_checkpoint = tracker.global_checkpoint
        return ReplicationOutcome(1 + service.metadata.number_of_replicas)
    return await send_operations(node, service, shard, [ops.encode(op) for op in written], refresh, segment)


async def resync(node, service: IndexService, shard: IndexShard) -> None:
    """A replica promoted to primary sends what it holds above the global checkpoint to
    the other copies (Elasticsearch's primary-replica resync): what the old primary
    replicated to some copies only reaches them all. A copy that cannot take it fails and
    recovers again."""
    engine = shard.engine
    start = shard.tracker.global_checkpoint + 1
    end = engine.tracker.max_seq_no
    log.info("%s promoted to primary: resyncing operations [%d..%d]", shard.ref, start, end)
    try:
        if start > end:  # nothing to send but the new term, which every copy must learn of
            await send_operations(node, service, shard, [], refresh=False)
        while start <= end:
            chunk = await engine.read_off_loop(engine.history, start, min(start + RESYNC_CHUNK - 1, end))
            start += RESYNC_CHUNK
            await send_operations(node, service, shard, chunk, refresh=False)
    finally:
        shard.resync_held = None  # every copy now knows the new term


async def send_operations(node, service: IndexService, shard: IndexShard, payloads: list[bytes],
                          refresh: bool, segment: PrebuiltSegment | None = None) -> ReplicationOutcome:
    """Send to every copy of the primary's replication group, each on the node its
    tracker names: the group comes from the primary's applied cluster states and its
    recoveries only, as ES's ReplicationOperation takes it from the primary's replication
    group (never from a routing table read apart from it, where a copy the group holds
    could be missing)."""
    outcome = ReplicationOutcome(1 + service.metadata.number_of_replicas)
    tracker = shard.tracker
    tracker.update_local_checkpoint(tracker.allocation_id, shard.engine.tracker.checkpoint)
    targets = tracker.replication_targets()
    # Every copy the write is sent to counts, a recovering one too (as ES counts them).
    outcome.total = max(outcome.total, 1 + len(targets))
    request = ReplicaRequest(index=service.name, index_uuid=service.metadata.uuid, shard=shard.ref.shard,
                             primary_term=shard.engine.primary_term, operations=payloads, refresh=refresh,
                             global_checkpoint=tracker.global_checkpoint,
                             held_above_global_checkpoint=shard.resync_held, segment=segment)

    async def send(allocation_id: str) -> None:
        node_id = tracker.node_of(allocation_id)
        try:
            if node_id is None:
                raise IllegalState(f"copy [{allocation_id}] has no node in the replication group")
            response: ReplicaResponse = await node.transport.execute(
                REPLICA_ACTION, msgspec.structs.replace(request, target_allocation_id=allocation_id),
                address=node.shard_router.address(node_id), timeout=REPLICA_TIMEOUT)
            tracker.update_local_checkpoint(allocation_id, response.local_checkpoint)
            tracker.update_global_checkpoint_on_copy(allocation_id, request.global_checkpoint)
            outcome.successful += 1
        except StrataError as e:
            log.warning("%s replica [%s] on [%s] failed a write: %s", shard.ref, allocation_id, node_id, e)
            # The master must drop the copy from the in-sync set before the write is acknowledged.
            await fail_copy(node, service, shard, allocation_id, f"failed to perform {REPLICA_ACTION} on "
                            f"replica: {e}")
            tracker.remove(allocation_id)
            outcome.failures.append({
                "_index": service.name, "_shard": shard.ref.shard, "_node": node_id,
                "reason": e.to_dict(), "status": _status_name(e.status), "primary": False})

    await asyncio.gather(*(send(aid) for aid in targets))
    shard.engine.translog.global_checkpoint = tracker.global_checkpoint
    return outcome


class RetryOnPrimary(StrataError):
    """The primary was demoted while it failed a copy: the request goes to the new primary
    (ES's RetryOnPrimaryException, which the coordinating step retries)."""

    type = "retry_on_primary_exception"


async def fail_copy(node, service: IndexService, shard: IndexShard, allocation_id: str, reason: str) -> None:
    """Have the master fail a copy, as the primary of this term. A master that no longer
    has this copy as the primary of that term refuses: this copy fails itself, as ES's
    onNoLongerPrimary does (a superseded primary must not serve on), and the write is
    retried on the new primary."""
    term = shard.engine.primary_term
    try:
        await node.index_admin.fail_copy(service.name, service.metadata.uuid, shard.ref.shard,
                                         allocation_id, reason, term)
    except StrataError as e:
        if e.type != NoLongerPrimary.type:
            raise
        demoted = f"primary shard [{shard.ref}] of term [{term}] was demoted while failing replica shard"
        shard.engine.fail(demoted, e)  # reported to the master as any shard failure is
        raise RetryOnPrimary(f"{demoted}: {e.reason}", caused_by=e) from e


def _status_name(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 409: "CONFLICT", 429: "TOO_MANY_REQUESTS",
            500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}.get(status, str(status))
