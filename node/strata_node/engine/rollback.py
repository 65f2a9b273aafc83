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
  its documents may have are worked out again from their sources (today's mapping holds
  every field they were indexed with), and each key loses the operation (or goes, once
  empty); only what the keys hold is moved or counted out of the field statistics. A
  batch that starts with an undone operation moves under its first kept one, so that no
  later batch (whose first document may reuse an undone sequence number) can ever share
  its keys; a kept version that replaced an undone one is relinked past it;
- the memtable is written out, the translog rolls, and the batch goes in synced: the
  commit point's checkpoints come down to what is left, and u<seq><term> keys, valued
  the new generation, make translog replay skip the operations in the generations
  written before (a flush committing past one drops its key).

Only operations the store kept r records for can be undone (m:prior_since); a copy that
needs more is failed and recovers again, as before rollbacks existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from ..common.to_the_end import on_thread
from . import index_structures as ix
from . import operation as ops
from .checkpoint_tracker import LocalCheckpointTracker
from .engine import (
    COMMIT_KEY,
    COUNT_KEY,
    DOC,
    PRIOR_SINCE_KEY,
    DocVersion,
    history_key,
    prior_key,
    undone_key,
    write_changes,
)
from .index_structures import SEQ


class RollbackRefused(Exception):
    """The store cannot undo these operations (too many, or from before its r records)."""


@dataclass
class Rollback:
    changes: dict[bytes, bytes | None]  # key -> new value, None to delete
    undone: list[tuple[int, int]]  # (seq_no, term)
    tracker: LocalCheckpointTracker  # what the copy has processed once they are undone
    doc_count: int
    commit: ops.CommitPoint
    generation: int = -1  # the translog generation started before it: older ones hold them


def plan(engine, global_checkpoint: int, keep: set[tuple[int, int]], limit: int) -> Rollback | None:
    """What undoing every operation above `global_checkpoint` not in `keep` (seq_no, term)
    takes; None when there is none. Reads the store only. Blocking."""
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
        _unlink(db, changes, op.seq_no, undone_seqs)
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
        # an undone operation moves under its first kept one, or a later batch starting
        # with the reused number would share its keys. Its keys are worked out from every
        # document of it, all above the global checkpoint and so in the history (replicas
        # write batches in order: one starting above it holds nothing below it).
        move = base in undone_seqs
        if move and min(seqs) <= global_checkpoint:
            raise RollbackRefused(f"batch [{base}] starts with an undone operation and holds older ones")
        kept = [s for s in seqs if s not in undone_seqs]
        to = (min(kept) if kept else None) if move else base
        sources = seqs if move else [s for s in seqs if s in undone_seqs]
        keys = _batch_keys(engine, [by_seq[s] for s in sources if s in by_seq])
        _take_out(db, changes, stats, base, to, keys, undone_seqs)
    for name, (docs, total) in stats.items():
        key = ix.stats_key(name)
        current = ix.decode_stats(db.get(key))
        changes[key] = ix.encode_stats([max(0, current[0] + docs), max(0, current[1] + total)])

    changes[COUNT_KEY] = str(doc_count).encode()
    undone_ids = [(op.seq_no, op.primary_term) for op in undone]
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


def _unlink(db, changes: dict[bytes, bytes | None], seq_no: int, undone: set[int]) -> None:
    """Take an undone version out of its document's chain: the kept version that replaced
    it (its dead marker names it) now replaced the highest version below it not undone."""
    raw = db.get(ix.dead_key(seq_no))
    if not raw:
        return  # the live version, or nothing replaced it
    successor = SEQ.unpack(raw)[0]
    if successor in undone:
        return  # the kept one above both relinks past it
    below = db.get(prior_key(seq_no))
    while below is not None and DocVersion.decode(below).seq_no in undone:
        below = db.get(prior_key(DocVersion.decode(below).seq_no))
    changes[prior_key(successor)] = below
    if below is not None:
        replaced = ix.dead_key(DocVersion.decode(below).seq_no)
        if _current(db, changes, replaced) is not None:
            changes[replaced] = SEQ.pack(successor)


Keys = tuple[set[tuple[str, bytes]], set[tuple[bytes, str]]]


def _batch_keys(engine, operations: list[ops.Operation]) -> Keys:
    """The postings (field, term) and columns (kind, field) the documents' search
    structures may have: worked out again with today's mapping, which holds every field
    they were indexed with (mappings only grow); keys that never held them are skipped
    when read, so only what the batch's keys hold is ever moved or counted."""
    terms: set[tuple[str, bytes]] = set()
    columns: set[tuple[bytes, str]] = set()
    for op in operations:
        doc = engine.indexer(op) if op.op_type == ops.INDEX and engine.indexer is not None else None
        if doc is None:
            continue
        for name, (found, _) in doc.terms.items():
            terms.update((name, t.encode() if t.__class__ is str else t) for t in found)
        columns.update((ix.DOC_VALUES, name) for name in doc.doc_values)
        columns.update((ix.NORMS, name) for name in doc.lengths)
    return terms, columns


def _take_out(db, changes: dict[bytes, bytes | None], stats: dict[str, list[int]], base: int, to: int | None,
              keys: Keys, undone: set[int]) -> None:
    """Take the undone documents out of the batch at `base`, moving what is left under
    `to` (the same base, another, or None when nothing is left), and count what the undone
    ones took out of the field statistics (docs, and distinct terms or field lengths)."""
    old, new = SEQ.pack(base), SEQ.pack(to) if to is not None else None
    terms, columns = keys
    exact_found: dict[str, dict[int, int]] = {}  # field -> undone document -> its distinct terms
    for name, term in terms:
        stem = ix.term_prefix(name, term)
        raw = _current(db, changes, stem + old)
        if raw is None:
            continue
        deltas, freqs, positions = ix.decode_postings(raw)
        seqs = list(accumulate(deltas))
        keep = [i for i, s in enumerate(seqs) if s not in undone]
        if freqs is None:
            for s in seqs:
                if s in undone:
                    found = exact_found.setdefault(name, {})
                    found[s] = found.get(s, 0) + 1
        changes[stem + old] = None
        if keep and new is not None:
            left = [seqs[i] for i in keep]
            if freqs is None:
                changes[stem + new] = ix.encode_postings(to, left, None, None)
            else:
                flat = [p for i in keep for p in positions[i]] if positions is not None else None
                changes[stem + new] = ix.encode_postings(to, left, [freqs[i] for i in keep], flat)
    for name, found in exact_found.items():
        totals = stats.setdefault(name, [0, 0])
        totals[0] -= len(found)
        totals[1] -= sum(found.values())
    for kind, name in columns:
        prefix = ix.field_prefix(kind, name)
        raw = _current(db, changes, prefix + old)
        if raw is None:
            continue
        deltas, values = ix.decode_column(raw)
        pairs = list(zip(accumulate(deltas), values, strict=True))
        if kind == ix.NORMS:
            lengths = [v for s, v in pairs if s in undone]
            totals = stats.setdefault(name, [0, 0])
            totals[0] -= len(lengths)
            totals[1] -= sum(lengths)
        pairs = [(s, v) for s, v in pairs if s not in undone]
        changes[prefix + old] = None
        if pairs and new is not None:
            changes[prefix + new] = ix.encode_column(to, [s for s, _ in pairs], [v for _, v in pairs])
    docs_key = ix.DOCS + old
    left = [s for s in accumulate(ix.decode_docs(_current(db, changes, docs_key))) if s not in undone]
    changes[docs_key] = None
    if left and new is not None:
        changes[ix.DOCS + new] = ix.encode_docs(to, left)


def _current(db, changes: dict[bytes, bytes | None], key: bytes) -> bytes | None:
    return changes[key] if key in changes else db.get(key)


def write(engine, rollback: Rollback) -> None:
    """Apply a planned rollback to the store in one synced batch, after the writes before
    it were made durable (a synced write syncs only LevelDB's current log: see
    Engine._write_commit), since it rewrites keys those wrote. Blocking."""
    engine._flush_memtable()
    with engine.db.write_batch(sync=True) as wb:
        write_changes(wb, rollback.changes)


def adopt(engine, rollback: Rollback) -> None:
    """The engine's state after the rollback was written (on the event loop)."""
    engine.tracker = rollback.tracker
    engine._undone.update((undone, rollback.generation) for undone in rollback.undone)
    engine.commit = rollback.commit
    engine._doc_count = rollback.doc_count
    engine._field_stats = {}
    engine.block_cache.in_order = False  # the batches are no longer in sequence number order
    engine.block_cache.clear()
    engine.refresh()


async def roll_back(engine, global_checkpoint: int, keep: set[tuple[int, int]], limit: int) -> int:
    """Undo every operation above `global_checkpoint` not in `keep`; returns how many.
    Flushes and pruning wait meanwhile (a commit point must not name what is being
    undone); so does a write on its way into the store, which lands first. The caller
    keeps later writes away. Raises RollbackRefused when the store cannot."""
    # pruning keeps what this may restore; an older term's batch in flight lands before
    async with engine._flush_lock, engine._prune_lock, engine._write_lock:
        engine.ensure_open()
        rollback = await on_thread(None, plan, engine, global_checkpoint, keep, limit)
        if rollback is None:
            return 0
        try:
            # what the undone operations were written in ends here: replay skips them there
            rollback.generation = await engine.translog.roll_generation()
            for seq_no, term in rollback.undone:
                rollback.changes[undone_key(seq_no, term)] = SEQ.pack(rollback.generation)
            engine._refresh_held = True  # until adopt has cleared the block cache
            await on_thread(None, write, engine, rollback)
        except Exception as e:
            engine.fail("failed to roll back operations above the global checkpoint", e)
            raise
        finally:
            engine._refresh_held = False
        adopt(engine, rollback)
        return len(rollback.undone)
