"""Rolling a replica back to the global checkpoint (Elasticsearch's
resetEngineToGlobalCheckpoint): a new primary may not hold every operation an old one
sent to this copy above the global checkpoint, and will reuse their sequence numbers.

Lucene reopens its last safe commit and replays the translog; a LevelDB store has no
commit to reopen, so the operations are undone in place, in one synced write batch:

- each document an undone operation wrote points again at the highest version left: the
  r<seq> records chain a document's versions in sequence number order (each operation
  that replaced a version records it, and one that arrives after a newer version is
  linked in below it), so the walk down from the document's pointer past the undone ones
  ends there, or nowhere; a version that is live again loses its dead marker;
- the operation's history record, dead marker and r record go;
- its search structures go: the batch holding it is found by its a<base> key, the keys
  the operation wrote are worked out again from its source (the engine's indexer), and
  each loses the operation (or goes, once empty). A batch that starts with an undone
  operation is rebuilt without the undone ones, under the first kept one, so that no
  later batch (whose first document may reuse an undone sequence number) can ever share
  its keys;
- the commit point's checkpoints come down to what is left, and m:undone lists the
  operations, so translog replay never brings one back.

Only operations the store kept r records for can be undone (m:prior_since); a copy that
needs more is failed and recovers again, as before rollbacks existed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from itertools import accumulate, pairwise

import msgspec

from . import index_structures as ix
from . import operation as ops
from .checkpoint_tracker import LocalCheckpointTracker

_encode = msgspec.msgpack.Encoder().encode


class RollbackRefused(Exception):
    """The store cannot undo these operations (too many, or from before its r records)."""


@dataclass
class Rollback:
    changes: dict[bytes, bytes | None]  # key -> new value, None to delete
    undone: list[tuple[int, int]]  # (seq_no, term)
    tracker: LocalCheckpointTracker  # what the copy has processed once they are undone
    doc_count: int
    commit: ops.CommitPoint


def plan(engine, global_checkpoint: int, keep: set[tuple[int, int]], limit: int) -> Rollback | None:
    """What undoing every operation above `global_checkpoint` not in `keep` (seq_no, term)
    takes; None when there is none. Reads the store only. Blocking."""
    from .engine import (
        COMMIT_KEY,
        COUNT_KEY,
        DOC,
        PRIOR_SINCE_KEY,
        SEQ,
        UNDONE_KEY,
        DocVersion,
        decode_undone,
        history_key,
        prior_key,
    )

    db = engine.db
    above = [ops.decode(raw) for _, raw in db.iterator(start=history_key(global_checkpoint + 1),
                                                        stop=history_key(engine.tracker.max_seq_no + 1))]
    undone = [op for op in above if (op.seq_no, op.primary_term) not in keep]
    if not undone:
        return None
    if len(undone) > limit:
        raise RollbackRefused(f"[{len(undone)}] operations to undo, more than [{limit}]")
    raw_since = db.get(PRIOR_SINCE_KEY)
    since = SEQ.unpack(raw_since)[0] if raw_since else None
    if since is None or min(op.seq_no for op in undone) < since:
        raise RollbackRefused("the store keeps no record of what those operations replaced")
    undone_seqs = {op.seq_no for op in undone}
    changes: dict[bytes, bytes | None] = {}

    # -- documents ---------------------------------------------------------------------------
    doc_count = engine.doc_count
    for doc_id in {op.id for op in undone if op.op_type != ops.NO_OP}:
        raw = db.get(DOC + doc_id.encode())
        current = DocVersion.decode(raw) if raw is not None else None
        restored = current
        while restored is not None and restored.seq_no in undone_seqs:
            prior = db.get(prior_key(restored.seq_no))
            restored = DocVersion.decode(prior) if prior is not None else None
        if restored is current:
            continue
        doc_count += _live(restored) - _live(current)
        changes[DOC + doc_id.encode()] = restored.encode() if restored is not None else None
        if _live(restored):
            changes[ix.dead_key(restored.seq_no)] = None  # live again
    for op in undone:
        changes[history_key(op.seq_no)] = None
        changes[ix.dead_key(op.seq_no)] = None
        changes[prior_key(op.seq_no)] = None

    # -- search structures -------------------------------------------------------------------
    by_seq = {op.seq_no: op for op in above}
    stats: dict[str, list[int]] = {}
    for key, raw in db.iterator(prefix=ix.DOCS):
        seqs = list(accumulate(ix.decode_docs(raw)))
        if undone_seqs.isdisjoint(seqs):
            continue
        base = SEQ.unpack(key[len(ix.DOCS):])[0]
        # A batch's keys end in its first document's sequence number: one starting with
        # an undone operation must move to another, or a later batch starting with the
        # reused number would share its keys. Only one whose every document lies above the
        # global checkpoint (all in the history) can be rebuilt; replicas write batches in
        # order, so a batch starting above it holds nothing below it.
        rebuild = base in undone_seqs
        if rebuild and min(seqs) <= global_checkpoint:
            raise RollbackRefused(f"batch [{base}] starts with an undone operation and holds older ones")
        removed = set(seqs) if rebuild else undone_seqs.intersection(seqs)
        indexed = {s: engine.indexer(by_seq[s]) for s in removed if s in by_seq and engine.indexer}
        _remove(db, changes, stats, base, key, seqs, removed, indexed)
        if rebuild:
            writer = ix.SegmentWriter()
            for s in sorted(set(seqs) - undone_seqs):
                if indexed.get(s) is not None:
                    writer.add(s, indexed[s])
            added: dict[str, list[int]] = {}
            writer.emit(changes.__setitem__, added)
            for name, (docs, total) in added.items():
                totals = stats.setdefault(name, [0, 0])
                totals[0] += docs
                totals[1] += total
    for name, (docs, total) in stats.items():
        key = ix.stats_key(name)
        current = ix.decode_stats(db.get(key))
        changes[key] = ix.encode_stats([max(0, current[0] + docs), max(0, current[1] + total)])

    changes[COUNT_KEY] = str(doc_count).encode()
    undone_ids = [(op.seq_no, op.primary_term) for op in undone]
    changes[UNDONE_KEY] = _encode(sorted(decode_undone(db.get(UNDONE_KEY)) | set(undone_ids)))
    tracker = _processed_after(engine.tracker, undone_seqs)
    old = engine.commit
    commit = ops.CommitPoint(min(old.local_checkpoint, tracker.checkpoint),
                             min(old.max_seq_no, tracker.max_seq_no),
                             old.translog_generation, old.translog_uuid, old.history_uuid)
    changes[COMMIT_KEY] = ops.encode_commit(commit)
    return Rollback(changes, undone_ids, tracker, doc_count, commit)


def _processed_after(tracker: LocalCheckpointTracker, undone: set[int]) -> LocalCheckpointTracker:
    """What the copy has processed once `undone` is: all it had but those (operations it
    pruned from its history count too, as they were processed)."""
    checkpoint = min(tracker.checkpoint, min(undone) - 1)
    after = LocalCheckpointTracker(checkpoint, checkpoint)
    for s in [*range(checkpoint + 1, tracker.checkpoint + 1), *sorted(tracker._pending)]:
        if s not in undone:
            after.mark_processed(s)
    return after


def _live(version) -> int:
    return int(version is not None and not version.deleted)


def _remove(db, changes: dict[bytes, bytes | None], stats: dict[str, list[int]], base: int, docs_key: bytes,
            seqs: list[int], removed: set[int], indexed: dict) -> None:
    """Take the documents `removed` out of the batch at `base`: from its document list,
    and from every key their search structures wrote (`indexed`: their IndexedDocuments)."""
    suffix = ix.SEQ.pack(base)
    left = [s for s in seqs if s not in removed]
    changes[docs_key] = _encode([base, _deltas(left, base)]) if left else None
    for doc in indexed.values():
        if doc is None:
            continue
        for name, (terms, positions) in doc.terms.items():
            for term in set(terms):
                key = ix.term_prefix(name, term.encode() if term.__class__ is str else term) + suffix
                _rewrite_postings(db, changes, key, base, removed)
            totals = stats.setdefault(name, [0, 0])
            if positions is None:  # an exact field counts its distinct terms
                totals[0] -= 1
                totals[1] -= len(set(terms))
        for name, length in doc.lengths.items():
            totals = stats.setdefault(name, [0, 0])
            totals[0] -= 1
            totals[1] -= length
        for kind, names in ((ix.DOC_VALUES, doc.doc_values), (ix.NORMS, doc.lengths)):
            for name in names:
                _rewrite_column(db, changes, ix.field_prefix(kind, name) + suffix, base, removed)


def _current(db, changes: dict[bytes, bytes | None], key: bytes) -> bytes | None:
    return changes[key] if key in changes else db.get(key)


def _deltas(seqs: list[int], base: int) -> list[int]:
    return [seqs[0] - base, *(b - a for a, b in pairwise(seqs))] if seqs else []


def _rewrite_postings(db, changes, key: bytes, base: int, removed: set[int]) -> None:
    raw = _current(db, changes, key)
    if raw is None:
        return
    deltas, freqs, positions = ix.decode_postings(raw)
    seqs = list(accumulate(deltas))
    keep = [i for i, s in enumerate(seqs) if s not in removed]
    if not keep:
        changes[key] = None
        return
    left = [seqs[i] for i in keep]
    if freqs is None:
        changes[key] = _encode([base, _deltas(left, base), None, None])
    else:
        flat = [p for i in keep for p in positions[i]] if positions is not None else None
        changes[key] = _encode([base, _deltas(left, base), [freqs[i] for i in keep], flat])


def _rewrite_column(db, changes, key: bytes, base: int, removed: set[int]) -> None:
    raw = _current(db, changes, key)
    if raw is None:
        return
    deltas, values = ix.decode_column(raw)
    pairs = [(s, v) for s, v in zip(accumulate(deltas), values, strict=True) if s not in removed]
    changes[key] = _encode([base, _deltas([s for s, _ in pairs], base), [v for _, v in pairs]]) if pairs \
        else None


def write(engine, rollback: Rollback) -> None:
    """Apply a planned rollback to the store in one synced batch. Blocking."""
    with engine.db.write_batch(sync=True) as wb:
        for key, value in rollback.changes.items():
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value)


def adopt(engine, rollback: Rollback) -> None:
    """The engine's state after the rollback was written (on the event loop)."""
    engine.tracker = rollback.tracker
    engine.commit = rollback.commit
    engine._doc_count = rollback.doc_count
    engine._field_stats = {}
    engine.block_cache.in_order = False  # the batches are no longer in sequence number order
    engine.block_cache.clear()
    engine.refresh()


async def roll_back(engine, global_checkpoint: int, keep: set[tuple[int, int]], limit: int) -> int:
    """Undo every operation above `global_checkpoint` not in `keep`; returns how many.
    Flushes and pruning wait meanwhile (a commit point must not name what is being
    undone); the caller keeps writes away. Raises RollbackRefused when the store cannot."""
    async with engine._flush_lock, engine._prune_lock:  # pruning keeps what this may restore
        engine.ensure_open()
        loop = asyncio.get_running_loop()
        rollback = await loop.run_in_executor(None, plan, engine, global_checkpoint, keep, limit)
        if rollback is None:
            return 0
        try:
            await loop.run_in_executor(None, write, engine, rollback)
        except Exception as e:
            engine.fail("failed to roll back operations above the global checkpoint", e)
            raise
        adopt(engine, rollback)
        return len(rollback.undone)
