"""Reading the search structures of one refresh as numpy arrays.

Every engine write batch is a segment whose keys are written once and never change, so a
decoded block (a term's postings in one batch, a field's doc values in one batch) is
cached by its LevelDB key for the life of the engine: a refresh only decodes the batches
written since the previous one. What depends on the snapshot (which batches exist, which
versions are dead) is worked out once per SegmentReader, and the engine hands out one
reader per refresh.

Sequence numbers are the document numbers. Arrays of them are int64, sorted ascending;
a multi-valued field repeats a sequence number once per value in its column.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from . import index_structures as ix
from . import operation as ops
from .read_gate import ReadGate

EMPTY_SEQS = np.empty(0, dtype=np.int64)
_SEQ_SIZE = ix.SEQ.size


@dataclass(frozen=True)
class Postings:
    """A term's live postings: sequence numbers, term frequencies (1 for exact terms), and
    when asked for, positions: every document's positions in one int32 array, each
    document's run starting at `position_starts[i]` and `freqs[i]` long. `exact` says
    the term was indexed without positions (keywords, numbers)."""

    seqs: np.ndarray
    freqs: np.ndarray
    flat_positions: np.ndarray | None = None
    position_starts: np.ndarray | None = None
    exact: bool = False

    @property
    def positions(self) -> list[list[int] | None] | None:
        """Per document positions as lists (None per document for exact terms); for
        tests and small postings, the arrays are what queries use."""
        if self.flat_positions is None:
            return [None] * len(self.seqs) if self.exact else None
        flat = self.flat_positions
        return [flat[s:s + f].tolist() for s, f in zip(self.position_starts.tolist(), self.freqs.tolist(),
                                                       strict=True)]

    def positions_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, the row each belongs to) for the given rows, in row order."""
        counts = self.freqs[rows].astype(np.int64)
        starts = self.position_starts[rows]
        total = int(counts.sum())
        run_starts = np.cumsum(counts) - counts
        within = np.arange(total, dtype=np.int64) - np.repeat(run_starts, counts)
        return self.flat_positions[np.repeat(starts, counts) + within], np.repeat(rows, counts)


@dataclass(frozen=True)
class Column:
    """A field's live doc values (or norms): one (seq, value) pair per value.

    values are int64 for integer and date fields, float64 for floating point fields, bool
    for booleans and an object array of str for keywords and IPs."""

    seqs: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.seqs)


EMPTY_COLUMN = Column(EMPTY_SEQS, np.empty(0, dtype=np.int64))


def _undelta(deltas: list[int]) -> np.ndarray:
    return np.cumsum(np.asarray(deltas, dtype=np.int64), dtype=np.int64)


def _values_array(values: list[Any]) -> np.ndarray:
    first = values[0]
    if first.__class__ is bool:
        return np.asarray(values, dtype=bool)
    if first.__class__ is str:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if any(v.__class__ is float for v in values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values, dtype=np.int64)


def _flatten(seqs: np.ndarray, values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Multi-valued documents keep a list: repeat their sequence number per value."""
    if not any(v.__class__ is list for v in values):
        return seqs, _values_array(values)
    flat_seqs: list[int] = []
    flat: list[Any] = []
    for seq, value in zip(seqs.tolist(), values, strict=True):
        if value.__class__ is list:
            flat_seqs.extend([seq] * len(value))
            flat.extend(value)
        else:
            flat_seqs.append(seq)
            flat.append(value)
    return np.asarray(flat_seqs, dtype=np.int64), _values_array(flat)


def drop_dead(seqs: np.ndarray, dead: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Remove dead sequence numbers from `seqs` and the arrays aligned with it."""
    if not len(dead) or not len(seqs):
        return (seqs, *others)
    keep = ~np.isin(seqs, dead, assume_unique=False)
    if keep.all():
        return (seqs, *others)
    return (seqs[keep], *(o[keep] for o in others))


class BlockCache:
    """Decoded segment blocks by LevelDB key, least recently used dropped first once the
    arrays pass `max_bytes`. Readers on several threads share it."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
        self.max_bytes = max_bytes
        # True while every batch was written with a first seq above all earlier ones, so a
        # term's keys after the last one a reader saw are exactly the new batches (what
        # the incremental postings below rely on). The engine clears it otherwise.
        self.in_order = True
        self.bytes = 0
        self._blocks: OrderedDict[bytes, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # Counts clears: a reader of an older epoch (a snapshot from before a rollback
        # rewrote keys) neither reads nor fills the cache, whose blocks are of other values.
        self.epoch = 0

    def get(self, key: bytes, epoch: int | None = None) -> Any:
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return None
            entry = self._blocks.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._blocks.move_to_end(key)
            self.hits += 1
            return entry[1]

    def clear(self) -> None:
        """Forget every block: a rollback rewrote segment keys, which otherwise never change."""
        with self._lock:
            self._blocks.clear()
            self.bytes = 0
            self.epoch += 1

    def put(self, key: bytes, block: Any, size: int, *, replace: bool = False,
            epoch: int | None = None) -> None:
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return
            old = self._blocks.get(key)
            if old is not None:
                if not replace:
                    return
                self.bytes -= old[0]
            self._blocks[key] = (size, block)
            self._blocks.move_to_end(key)
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._blocks) > 1:
                _, (old_size, _) = self._blocks.popitem(last=False)
                self.bytes -= old_size


def _nbytes(*arrays: np.ndarray) -> int:
    # object arrays hold pointers; count the strings behind them roughly
    return sum(a.nbytes * (8 if a.dtype == object else 1) for a in arrays) + 64


class SegmentReader:
    """The search structures as one LevelDB snapshot (one refresh) has them."""

    def __init__(self, snapshot, cache: BlockCache, generation: int = 0, reads: ReadGate | None = None,
                 epoch: int | None = None):
        self.snapshot = snapshot
        self.reads = reads  # the engine's gate (None: a reader no close can pull away)
        self.cache = cache
        # which keys' values the cache holds for this snapshot: the cache's epoch when the
        # snapshot was taken (a reader made later over it must not fill a cleared cache)
        self.epoch = cache.epoch if epoch is None else epoch
        self.generation = generation  # increases with every refresh: which snapshot is newer
        self._dead: np.ndarray | None = None
        self._docs: np.ndarray | None = None
        self._columns: dict[tuple[bytes, str], Column] = {}
        self._lock = threading.Lock()

    def reading(self) -> AbstractContextManager:
        """Hold the store open while a search phase reads it on its thread (the engine's
        close waits); raises the engine's closed error once a close has begun."""
        return nullcontext() if self.reads is None else self.reads.entered()

    @property
    def closed(self) -> bool:
        """Whether the engine's close has begun: the reader will not read again."""
        return self.reads is not None and self.reads.is_shut

    def ensure_open(self) -> None:
        """The engine's closed error once its close has begun (a phase looks between steps)."""
        if self.reads is not None:
            self.reads.check()

    # -- documents -------------------------------------------------------------------------

    @property
    def dead(self) -> np.ndarray:
        """Sequence numbers of versions a later write or a delete replaced, sorted."""
        if self._dead is None:
            found = [ix.SEQ.unpack(k[1:])[0]
                     for k in self.snapshot.iterator(prefix=ix.DEAD, include_value=False)]
            self._dead = np.asarray(found, dtype=np.int64)
        return self._dead

    def docs(self) -> np.ndarray:
        """Every live indexed document: what match_all matches."""
        if self._docs is None:
            blocks = [self._block(key, ix.decode_docs, lambda d: (_undelta(d),))[0]
                      for key in self.snapshot.iterator(prefix=ix.DOCS, include_value=False)]
            seqs = np.concatenate(blocks) if blocks else EMPTY_SEQS
            if len(blocks) > 1 and np.any(seqs[1:] < seqs[:-1]):
                seqs = np.sort(seqs)  # batches replayed out of order
            self._docs = drop_dead(seqs, self.dead)[0]
        return self._docs

    def document(self, seq_no: int) -> ops.Operation:
        from .engine import history_key

        raw = self.snapshot.get(history_key(seq_no))
        if raw is None:
            raise KeyError(seq_no)
        return ops.decode(raw)

    def seq_for_id(self, doc_id: str) -> int | None:
        """The live version of a document in this snapshot (what an ids query matches)."""
        from .engine import DOC, DocVersion  # the engine imports this module

        raw = self.snapshot.get(DOC + doc_id.encode())
        if raw is None:
            return None
        version = DocVersion.decode(raw)
        return None if version.deleted else version.seq_no

    # -- postings ----------------------------------------------------------------------------

    def _block(self, key: bytes, decode, convert, *, cache_key: bytes | None = None) -> Any:
        """A decoded block, from the cache or read from `key` (cached under `cache_key`
        when one key yields two blocks, as postings and their positions do)."""
        cache_key = cache_key or key
        block = self.cache.get(cache_key, self.epoch)
        if block is None:
            block = convert(decode(self.snapshot.get(key)))
            self.cache.put(cache_key, block, _nbytes(*[b for b in block if isinstance(b, np.ndarray)]),
                           epoch=self.epoch)
        return block

    def _all_postings(self, prefix: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """A term's postings over every batch, dead versions included, built incrementally:
        the concatenation a reader made is cached with the last key it covered, and a later
        reader reads only the keys past it (a small batch costs a key per term, so a term
        of a million documents may span thousands of keys; walking them all on every
        query is what this saves). None when the batches are not known to be in order."""
        if not self.cache.in_order:
            return None
        cache_key = b"T" + prefix
        cached = self.cache.get(cache_key, self.epoch)
        if cached is not None and cached[0] > self.generation:
            cached = None  # made from a newer snapshot than this one: it may hold more
        last_key = cached[1] if cached is not None else None
        start = last_key + b"\x00" if last_key is not None else prefix
        seq_blocks = [cached[2]] if cached is not None else []
        freq_blocks = [cached[3]] if cached is not None else []
        for key in self.snapshot.iterator(start=start, stop=prefix[:-1] + bytes([prefix[-1] + 1]),
                                          include_value=False):
            seqs, freqs = self._block(key, ix.decode_postings, _postings_block)
            seq_blocks.append(seqs)
            freq_blocks.append(freqs)
            last_key = key
        if not seq_blocks:
            return EMPTY_SEQS, np.empty(0, dtype=np.int32)
        if cached is not None and len(seq_blocks) == 1:
            return cached[2], cached[3]
        seqs, freqs = np.concatenate(seq_blocks), np.concatenate(freq_blocks)
        if np.any(seqs[1:] < seqs[:-1]):
            return None  # out of order after all: read block by block
        self.cache.put(cache_key, (self.generation, last_key, seqs, freqs),
                       _nbytes(seqs, freqs), replace=True, epoch=self.epoch)
        return seqs, freqs

    def postings(self, name: str, term: bytes, *, positions: bool = False) -> Postings:
        """The term's live postings in sequence number order."""
        prefix = ix.term_prefix(name, term)
        if not positions:
            whole = self._all_postings(prefix)
            if whole is not None:
                seqs, freqs = whole
                if len(self.dead) and len(seqs):
                    keep = ~np.isin(seqs, self.dead)
                    if not keep.all():
                        seqs, freqs = seqs[keep], freqs[keep]
                return Postings(seqs, freqs)
        seq_blocks, freq_blocks, position_blocks = [], [], []
        exact = False
        for key in self.snapshot.iterator(prefix=prefix, include_value=False):
            seqs, freqs = self._block(key, ix.decode_postings, _postings_block)
            seq_blocks.append(seqs)
            freq_blocks.append(freqs)
            if positions:
                (flat,) = self._block(key, ix.decode_postings, _positions_block, cache_key=key + b"#p")
                exact = exact or flat is None
                position_blocks.append(flat)
        if not seq_blocks:
            empty = np.empty(0, dtype=np.int32)
            return Postings(EMPTY_SEQS, empty, empty if positions else None,
                            np.empty(0, dtype=np.int64) if positions else None)
        seqs = np.concatenate(seq_blocks)
        freqs = np.concatenate(freq_blocks)
        flat = starts = None
        if positions and not exact:
            flat = np.concatenate(position_blocks)
            starts = np.cumsum(freqs, dtype=np.int64) - freqs
        if len(seq_blocks) > 1 and np.any(seqs[1:] < seqs[:-1]):
            order = np.argsort(seqs, kind="stable")
            seqs, freqs = seqs[order], freqs[order]
            starts = starts[order] if starts is not None else None
        dead = self.dead
        if len(dead):
            keep = ~np.isin(seqs, dead)
            if not keep.all():
                seqs, freqs = seqs[keep], freqs[keep]
                starts = starts[keep] if starts is not None else None
        return Postings(seqs, freqs, flat, starts, exact=exact)

    def doc_freq(self, name: str, term: bytes) -> int:
        """Documents containing the term, dead versions included (as Lucene counts)."""
        whole = self._all_postings(ix.term_prefix(name, term))
        if whole is not None:
            return len(whole[0])
        return sum(len(self._block(key, ix.decode_postings, _postings_block)[0])
                   for key in self.snapshot.iterator(prefix=ix.term_prefix(name, term), include_value=False))

    def terms(self, name: str, start: bytes = b"", stop: bytes | None = None) -> Iterator[bytes]:
        """Distinct terms of a field in byte order, from `start` (inclusive) to `stop`
        (exclusive): what range, prefix and wildcard queries walk."""
        prefix = ix.field_prefix(ix.POSTINGS, name)
        last = None
        begin = prefix + (ix.escape_term(start)[:-2] if start else b"")
        end = prefix[:-1] + b"\x01"  # just past every key of this field
        for key in self.snapshot.iterator(start=begin, stop=end, include_value=False):
            term = ix.unescape_term(key[len(prefix):-_SEQ_SIZE])
            if stop is not None and term >= stop:
                return
            if term != last:
                last = term
                yield term

    # -- columns -----------------------------------------------------------------------------

    def doc_values(self, name: str) -> Column:
        """The field's live doc values, sorted by sequence number."""
        return self._column(ix.DOC_VALUES, name)

    def norms(self, name: str) -> Column:
        """The live field lengths (token counts) of a text field, for BM25."""
        return self._column(ix.NORMS, name)

    def _column(self, kind: bytes, name: str) -> Column:
        cached = self._columns.get((kind, name))
        if cached is not None:
            return cached
        seq_blocks, value_blocks = [], []
        for key in self.snapshot.iterator(prefix=ix.field_prefix(kind, name), include_value=False):
            seqs, values = self._block(key, ix.decode_column, _column_block)
            seq_blocks.append(seqs)
            value_blocks.append(values)
        if not seq_blocks:
            column = EMPTY_COLUMN
        else:
            seqs = np.concatenate(seq_blocks)
            values = _concat_values(value_blocks)
            if len(seq_blocks) > 1 and np.any(seqs[1:] < seqs[:-1]):
                order = np.argsort(seqs, kind="stable")
                seqs, values = seqs[order], values[order]
            seqs, values = drop_dead(seqs, self.dead, values)
            column = Column(seqs, values)
        with self._lock:
            self._columns[(kind, name)] = column
        return column

    def field_stats(self, name: str) -> tuple[int, int]:
        """(documents with the field, sum of their lengths), dead versions included."""
        docs, total = ix.decode_stats(self.snapshot.get(ix.stats_key(name)))
        return docs, total


def _postings_block(decoded) -> tuple[np.ndarray, np.ndarray]:
    deltas, freqs, _positions = decoded
    seqs = _undelta(deltas)
    if freqs is None:
        return seqs, np.ones(len(seqs), dtype=np.int32)
    return seqs, np.asarray(freqs, dtype=np.int32)


def _positions_block(decoded) -> tuple[np.ndarray | None]:
    positions = decoded[2]
    if positions is None:
        return (None,)
    return (np.fromiter(chain.from_iterable(positions), dtype=np.int32,
                        count=sum(len(p) for p in positions)),)


def _column_block(decoded) -> tuple[np.ndarray, np.ndarray]:
    deltas, values = decoded
    return _flatten(_undelta(deltas), values)


def _concat_values(blocks: list[np.ndarray]) -> np.ndarray:
    kinds = {b.dtype for b in blocks}
    if len(kinds) == 1:
        return np.concatenate(blocks)
    if np.dtype(object) in kinds:
        return np.concatenate([b.astype(object) for b in blocks])
    if np.dtype(np.float64) in kinds:
        return np.concatenate([b.astype(np.float64) for b in blocks])
    return np.concatenate([b.astype(np.int64) for b in blocks])

