"""Phrase matching over positions, and phrase scoring.

An exact phrase is an intersection of keys: each term's occurrences, in the documents
every term shares, become `seq << 32 | (position - the term's place in the phrase)`, and
a key present for every term is one occurrence of the phrase; the phrase frequency of a
document is how many such keys it has. A sloppy phrase (slop > 0) follows Lucene's
SloppyPhraseMatcher per candidate document: the smallest window holding every term is
minimised as the leading term advances, and each match adds 1 / (1 + its length).

A phrase scores as one BM25 term whose frequency is the phrase frequency and whose idf
is the sum of its terms' idfs (MultiPhraseQuery: of every alternative at every place).
"""

from __future__ import annotations

import heapq

import numpy as np

from ...common.errors import IllegalState
from ...engine.segment_reader import EMPTY_SEQS, Postings
from ..context import ShardContext
from ..matches import Matches
from ..similarity import bm25, field_statistics, idf, idf_sum, norms_of, weight
from .combine import member

_SHIFT = np.int64(32)
_OFFSET = np.int64(1 << 30)  # keeps position - place positive
_LOW = np.int64((1 << 32) - 1)


def _occurrences(postings: Postings, seqs: np.ndarray, place: int) -> np.ndarray:
    """Sorted keys of one term's occurrences in the given documents."""
    found, idx = member(seqs, postings.seqs)
    flat, rows = postings.positions_of(idx[found])
    docs = postings.seqs[rows]
    return np.sort((docs << _SHIFT) | (flat.astype(np.int64) - place + _OFFSET))


class PhraseSpec:
    """A phrase: per place in the phrase, its position and the alternative terms there
    (one for a plain phrase; the prefix expansions at a match_phrase_prefix's end)."""

    def __init__(self, field: str, places: list[tuple[int, list[bytes]]], slop: int = 0):
        self.field = field
        self.places = places
        self.slop = slop


def phrase_matches(ctx: ShardContext, spec: PhraseSpec, scored: bool, boost: np.float32) -> Matches:
    reader = ctx.reader
    field = spec.field
    per_place: list[list[Postings]] = []
    for _, alternatives in spec.places:
        postings = [reader.postings(field, t, positions=True) for t in alternatives]
        postings = [p for p in postings if len(p.seqs)]
        if not postings:
            return Matches.none(scored)
        per_place.append(postings)
    if any(p.exact for place in per_place for p in place):
        shown = " ".join(t[0].decode("utf-8", "replace") for _, t in spec.places)
        raise IllegalState(f"field:[{field}] was indexed without position data; cannot run PhraseQuery "
                           f"(phrase={field}:\"{shown}\")")
    # candidate documents: those with some alternative of every place
    candidates = None
    for place in per_place:
        seqs = place[0].seqs if len(place) == 1 else np.unique(np.concatenate([p.seqs for p in place]))
        candidates = seqs if candidates is None else candidates[member(candidates, seqs)[0]]
        if not len(candidates):
            return Matches.none(scored)
    assert candidates is not None
    keys_per_place = []
    for (position, _), place in zip(spec.places, per_place, strict=True):
        keys = [_occurrences(p, candidates, position) for p in place]
        keys_per_place.append(keys[0] if len(keys) == 1 else np.unique(np.concatenate(keys)))
    if spec.slop == 0:
        seqs, freqs = _exact(keys_per_place)
    else:
        seqs, freqs = _sloppy(keys_per_place, spec.slop)
    if not scored:
        return Matches(seqs)
    stats = field_statistics(reader, field, 1)
    term_idfs = [idf(reader.doc_freq(field, t), max(stats.doc_count, reader.doc_freq(field, t)))
                 for _, alternatives in spec.places for t in alternatives]
    w = weight(boost, idf_sum(term_idfs))
    return Matches(seqs, bm25(freqs, norms_of(reader, field, seqs), w, stats.avgdl))


def _exact(keys_per_place: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    keys = min(keys_per_place, key=len)
    for other in keys_per_place:
        if other is not keys:
            keys = keys[member(keys, other)[0]]
    docs = keys >> _SHIFT
    if not len(docs):
        return EMPTY_SEQS, np.empty(0, dtype=np.float32)
    seqs, counts = np.unique(docs, return_counts=True)
    return seqs, counts.astype(np.float32)


def _sloppy(keys_per_place: list[np.ndarray], slop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate document (Python per document, only for sloppy phrases)."""
    docs_per_place = [k >> _SHIFT for k in keys_per_place]
    candidates = np.unique(docs_per_place[0])
    for docs in docs_per_place[1:]:
        candidates = candidates[member(candidates, np.unique(docs))[0]]
    bounds = [(np.searchsorted(d, candidates, "left"), np.searchsorted(d, candidates, "right"))
              for d in docs_per_place]
    positions = [(k & _LOW) - _OFFSET for k in keys_per_place]
    out_seqs, out_freqs = [], []
    for n, seq in enumerate(candidates.tolist()):
        lists = [pos[lo[n]:hi[n]].tolist() for pos, (lo, hi) in zip(positions, bounds, strict=True)]
        freq = _sloppy_freq(lists, slop)
        if freq > 0:
            out_seqs.append(seq)
            out_freqs.append(freq)
    return np.asarray(out_seqs, dtype=np.int64), np.asarray(out_freqs, dtype=np.float32)


def _sloppy_freq(lists: list[list[int]], slop: int) -> np.float32:
    """SloppyPhraseMatcher's phrase frequency of one document: each term's positions
    (already shifted by its place in the phrase)."""
    heap = [(p[0], i) for i, p in enumerate(lists)]
    heapq.heapify(heap)
    cursor = [0] * len(lists)
    end = max(p for p, _ in heap)
    freq = np.float32(0.0)
    position, i = heapq.heappop(heap)
    match_length = end - position
    following = heap[0][0] if heap else position
    while True:
        cursor[i] += 1
        if cursor[i] >= len(lists[i]):
            break
        position = lists[i][cursor[i]]
        if position > end:
            end = position
        if position > following:
            if match_length <= slop:
                freq += np.float32(1.0) / np.float32(match_length + 1)
            heapq.heappush(heap, (position, i))
            position, i = heapq.heappop(heap)
            following = heap[0][0] if heap else position
            match_length = end - position
        else:
            match_length = min(match_length, end - position)
    if match_length <= slop:
        freq += np.float32(1.0) / np.float32(match_length + 1)
    return np.float32(freq)
