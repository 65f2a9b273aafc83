"""Merging a shard's segments: what `POST /{index}/_forcemerge` runs on every copy.

Every engine write batch is a segment (index_structures.py): a shard that took a million
documents in bulk requests of a thousand holds a thousand keys of a common term, and a
version a later write replaced stays in the postings, the columns and the field
statistics, marked dead, until a merge drops it, as Lucene keeps deleted documents until
a merge expunges them. A merge here rewrites the batches below a bound as one segment:
each term's keys, each field's columns and the documents' lists become one key under the
first merged batch's base, without the dead versions it purges, and the field statistics
lose what those held, so scores come out as if they had never been indexed.

The bound is the lower of the global and the local checkpoint:
- a batch is merged only when every document in it is at or below the bound. A rollback
  (rollback.py) undoes operations above the global checkpoint and finds their batches by
  their own keys, and every operation the store has not taken yet is above the local
  checkpoint, so no rollback and no later write touches a merged batch's keys;
- a dead version is purged only when what replaced it is at or below the bound: only a
  rollback of what replaced a version makes it live again. Its marker goes unless the
  version is in a batch left out; a version in no batch (a delete a replica took after a
  newer version) is in no key either;
- every key below the first batch left out is rewritten, so a key an earlier merge left
  under its own batch's base (a term only one batch held) is merged too;
- the merged batches are the first ones in base order, up to one whose documents all come
  before the next batch's base, so keys in order stay documents in order (what the block
  cache's incremental postings rely on).

The plan is read from one snapshot off the event loop and written in chunks of about a
megabyte, each with the engine's writes held, so that no staged write's field statistics
cross it. A chunk holds whole terms, and a purged version's dead marker goes only with the
last chunk, once no key holds it: a search of any snapshot between chunks sees every
document once, dead markers hiding what an unmerged key still holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from . import index_structures as ix
from .index_structures import SEQ

CHUNK_BYTES = 1 << 20
_HEADERLESS_POSTINGS = 0x93  # msgpack fixarray of 3: [deltas, freqs, positions], before the base


@dataclass
class Chunk:
    """Key changes (None deletes) and what they take out of each field's statistics."""

    changes: dict[bytes, bytes | None] = field(default_factory=dict)
    stats: dict[str, list[int]] = field(default_factory=dict)  # field -> [docs, sum] to subtract
    size: int = 0

    def put(self, key: bytes, value: bytes | None) -> None:
        self.changes[key] = value
        self.size += len(key) + (len(value) if value is not None else 0)

    def subtract(self, name: str, docs: int, total: int) -> None:
        totals = self.stats.setdefault(name, [0, 0])
        totals[0] += docs
        totals[1] += total


@dataclass
class MergeResult:
    batches: int = 0  # batches merged into one
    purged: int = 0  # dead versions taken out of the search structures
    keys_before: int = 0  # keys of the merged batches before and after
    keys_after: int = 0
    docs: int = 0  # documents of the merged batches, purged ones included
    bytes: int = 0  # keys and values written and deleted so far

    def to_json(self) -> dict[str, int]:
        return {"batches": self.batches, "purged": self.purged, "keys_before": self.keys_before,
                "keys_after": self.keys_after}


def merged_batches(snapshot, bound: int) -> tuple[list[tuple[int, list[int]]], list[tuple[int, list[int]]]]:
    """The batches to merge and those after them, as (base, seqs) in base order."""
    batches = [(SEQ.unpack(key[1:])[0], list(accumulate(ix.decode_docs(raw))))
               for key, raw in snapshot.iterator(prefix=ix.DOCS)]
    chosen: list[tuple[int, list[int]]] = []
    for base, seqs in batches:
        if seqs and max(seqs) > bound:
            break
        chosen.append((base, seqs))
    # documents in order: the last merged document must come before the next batch's base
    while chosen and len(chosen) < len(batches):
        following = batches[len(chosen)][0]
        if max(max(s) for _, s in chosen if s) < following:
            break
        chosen.pop()
    return chosen, batches[len(chosen):]


def plan(snapshot, bound: int, result: MergeResult) -> Iterator[Chunk]:
    """The chunks that merge the batches at or below `bound` in `snapshot`, purging the dead
    versions whose successor is at or below it. Blocking (reads the store): each `next`
    belongs on a thread that holds the engine's read gate."""
    batches, after = merged_batches(snapshot, bound)
    # The keys to rewrite: every key below the first batch left out, a key an earlier merge
    # left under its own batch's base included.
    stop = after[0][0] if after else None
    # A marker whose successor is at or below the bound goes unless its version is in a
    # batch left out: a version in no batch at all (a delete a replica took after a newer
    # version) is in no key either.
    left_out = {s for _, seqs in after for s in seqs}
    purged = set()
    for key, raw in snapshot.iterator(prefix=ix.DEAD):
        seq = SEQ.unpack(key[1:])[0]
        if SEQ.unpack(raw)[0] <= bound and seq not in left_out:
            purged.add(seq)
    if not batches or (len(batches) < 2 and not purged):
        return
    result.batches, result.purged = len(batches), len(purged)
    result.docs = sum(len(seqs) for _, seqs in batches)
    first = batches[0][0]
    chunk = Chunk()
    exact_docs: dict[str, set[int]] = {}  # field -> purged documents already counted
    for kind in (ix.POSTINGS, ix.DOC_VALUES, ix.NORMS):
        group: list[tuple[bytes, bytes]] = []
        stem = None
        for key, raw in snapshot.iterator(prefix=kind):
            if stop is not None and SEQ.unpack(key[-8:])[0] >= stop:
                continue  # a batch after the merged ones
            if key[:-8] != stem:
                if group:
                    _merge_group(chunk, kind, stem, group, first, purged, exact_docs, result)
                group, stem = [], key[:-8]
            group.append((key, raw))
            if chunk.size >= CHUNK_BYTES and len(group) == 1:
                # the previous terms are complete: hand them over before this one grows
                yield chunk
                chunk = Chunk()
        if group:
            _merge_group(chunk, kind, stem, group, first, purged, exact_docs, result)
    docs = sorted(s for _, seqs in batches for s in seqs if s not in purged)
    for base, _ in batches:
        chunk.put(ix.DOCS + SEQ.pack(base), None)
    if docs:
        chunk.put(ix.DOCS + SEQ.pack(first), ix.encode_docs(first, docs))
    result.keys_before += len(batches)
    result.keys_after += 1 if docs else 0
    for seq in sorted(purged):
        chunk.put(ix.dead_key(seq), None)  # last: no key holds these documents any more
    yield chunk


def _merge_group(chunk: Chunk, kind: bytes, stem: bytes, group: list[tuple[bytes, bytes]], first: int,
                 purged: set[int], exact_docs: dict[str, set[int]], result: MergeResult) -> None:
    """One term's (or one column's) keys of the merged batches, as one key under `first`."""
    name = stem[1:stem.index(b"\x00")].decode()
    if kind == ix.POSTINGS:
        seqs, freqs, positions, exact, counted = [], [], [], False, []
        for _, raw in group:
            deltas, f, p = ix.decode_postings(raw)
            found = list(accumulate(deltas))
            seqs.extend(found)
            exact = exact or f is None
            freqs.extend(f if f is not None else [1] * len(found))
            positions.extend(p if p is not None else [None] * len(found))
            # exact fields' statistics began with the base header: older values never counted
            counted.extend([raw[0] != _HEADERLESS_POSTINGS] * len(found))
        keep = [i for i in sorted(range(len(seqs)), key=seqs.__getitem__) if seqs[i] not in purged]
        if exact:
            gone = [s for s, c in zip(seqs, counted, strict=True) if c and s in purged]
            if gone:
                seen = exact_docs.setdefault(name, set())
                fresh = set(gone) - seen
                seen.update(fresh)
                chunk.subtract(name, len(fresh), len(gone))
        if len(group) == 1 and len(keep) == len(seqs):
            return  # one key, nothing purged: it stays as it is
        left = [seqs[i] for i in keep]
        if exact:
            value = ix.encode_postings(first, left, None, None) if keep else None
        else:
            flat = None
            if all(positions[i] is not None for i in keep):
                flat = [p for i in keep for p in positions[i]]
            value = ix.encode_postings(first, left, [freqs[i] for i in keep], flat) if keep else None
    else:
        pairs = []
        for _, raw in group:
            deltas, values = ix.decode_column(raw)
            pairs.extend(zip(accumulate(deltas), values, strict=True))
        gone = [v for s, v in pairs if s in purged]
        if kind == ix.NORMS and gone:
            chunk.subtract(name, len(gone), sum(gone))
        if len(group) == 1 and not gone:
            return
        pairs = sorted(((s, v) for s, v in pairs if s not in purged), key=lambda pair: pair[0])
        value = None
        if pairs:
            value = ix.encode_column(first, [s for s, _ in pairs], [v for _, v in pairs])
    for key, _ in group:
        chunk.put(key, None)
    if value is not None:
        chunk.put(stem + SEQ.pack(first), value)
    result.keys_before += len(group)
    result.keys_after += 1 if value is not None else 0
