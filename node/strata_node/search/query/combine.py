"""Combining Matches without a loop over documents: conjunctions and exclusions by binary
search of the shorter list in the longer, or through a table indexed by sequence number
when both are long; disjunctions by scattering each clause into one array over the union
(indexed by sequence number when the union fills a fair part of the seq range, compact
after a sort otherwise).

Scores add up in double and are cast to float at the end, as Lucene's conjunction and
disjunction scorers sum them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...engine.segment_reader import EMPTY_SEQS
from ..matches import Matches


def _dense(size: int, top: int) -> bool:
    """Whether arrays indexed by seq (up to `top`) are cheaper than sorting or binary
    searches for `size` elements: when they fill a fair part of the range."""
    return top <= 16 * size + (1 << 16)


def _small(part: int, whole: int) -> bool:
    """Whether binary searches of `part` elements in `whole` beat a pass over a table."""
    return part * 32 < whole


def member(seqs: np.ndarray, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted `seqs`: which of them are in sorted `among`, and where."""
    if not len(among) or not len(seqs):
        return np.zeros(len(seqs), dtype=bool), np.zeros(len(seqs), dtype=np.intp)
    top = max(int(seqs[-1]), int(among[-1]))
    if not _small(len(seqs), len(among)) and _dense(len(seqs) + len(among), top):
        # a table from seq to its place in `among`, left uninitialised (no 4 bytes per
        # seq to clear): every lookup is checked against `among` instead
        where = np.empty(top + 1, dtype=np.int32)
        where[among] = np.arange(len(among), dtype=np.int32)
        idx = where[seqs]
        np.clip(idx, 0, len(among) - 1, out=idx)
        return among[idx] == seqs, idx.astype(np.intp)
    idx = np.searchsorted(among, seqs)
    idx[idx >= len(among)] = len(among) - 1
    return among[idx] == seqs, idx


def contains(seqs: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For sorted `seqs`: which of them are in sorted `among`."""
    if not len(among) or not len(seqs):
        return np.zeros(len(seqs), dtype=bool)
    top = max(int(seqs[-1]), int(among[-1]))
    if not _small(len(seqs), len(among)) and _dense(len(seqs) + len(among), top):
        mask = np.zeros(top + 1, dtype=bool)
        mask[among] = True
        return mask[seqs]
    return member(seqs, among)[0]


def restrict(seqs: np.ndarray, within: np.ndarray | None, *aligned: np.ndarray) -> tuple[np.ndarray, ...]:
    """The seqs that are also in `within` (all of them when it is None), with the arrays
    aligned with them. A short `within` is looked up in `seqs`; otherwise a mask of it
    is read at every seq."""
    if within is None:
        return (seqs, *aligned)
    if _small(len(within), len(seqs)):
        found, idx = member(within, seqs)
        idx = idx[found]
        return (within[found], *(a[idx] for a in aligned))
    found = contains(seqs, within)
    if found.all():
        return (seqs, *aligned)
    return (seqs[found], *(a[found] for a in aligned))


def conjunction(required: Sequence[Matches], scoring: Sequence[bool], scored: bool) -> Matches:
    """Documents every clause matches; with scores, the sum of the scoring clauses'."""
    if not required:
        return Matches.none(scored)
    order = sorted(range(len(required)), key=lambda i: len(required[i]))
    first = required[order[0]]
    seqs = first.seqs
    total = np.zeros(len(seqs), dtype=np.float64) if scored else None
    if scored and scoring[order[0]] and first.scores is not None:
        total += first.scores
    for i in order[1:]:
        if not len(seqs):
            break
        other = required[i]
        found, idx = member(seqs, other.seqs)
        if not found.all():
            seqs = seqs[found]
            idx = idx[found]
            if total is not None:
                total = total[found]
        if total is not None and scoring[i] and other.scores is not None:
            total += other.scores[idx]
    return Matches(seqs, total.astype(np.float32) if total is not None else None)


class _Union:
    """The union of several clauses' seqs, with each clause's positions in it."""

    def __init__(self, clauses: Sequence[Matches]):
        total = sum(len(m) for m in clauses)
        top = max(int(m.seqs[-1]) for m in clauses)
        self.dense = _dense(total, top)
        if self.dense:
            self.size = top + 1
            self.positions = [m.seqs for m in clauses]
            self.seqs = None
        else:
            self.seqs = np.unique(np.concatenate([m.seqs for m in clauses]))
            self.size = len(self.seqs)
            self.positions = [np.searchsorted(self.seqs, m.seqs) for m in clauses]

    def result(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seqs of the kept union slots (a bool array over the union), and those slots."""
        slots = np.flatnonzero(keep)
        seqs = slots.astype(np.int64) if self.dense else self.seqs[slots]
        return seqs, slots


def disjunction(clauses: Sequence[Matches], scored: bool, minimum: int = 1) -> Matches:
    """Documents at least `minimum` clauses match; with scores, the sum of theirs."""
    clauses = [m for m in clauses if len(m)]
    if minimum > len(clauses) or not clauses:
        return Matches.none(scored)
    if len(clauses) == 1:
        m = clauses[0]
        return m if scored or m.scores is None else Matches(m.seqs)
    union = _Union(clauses)
    if minimum <= 1:  # a mask is enough, and scattering into it is cheaper than counting
        hit = np.zeros(union.size, dtype=bool)
        for pos in union.positions:
            hit[pos] = True
    else:
        counts = np.zeros(union.size, dtype=np.int32)
        for pos in union.positions:
            counts[pos] += 1
        hit = counts >= minimum
    seqs, slots = union.result(hit)
    if not scored:
        return Matches(seqs)
    sums = np.zeros(union.size, dtype=np.float64)
    for m, pos in zip(clauses, union.positions, strict=True):
        if m.scores is not None:
            sums[pos] += m.scores
    return Matches(seqs, sums[slots].astype(np.float32))


def dis_max(clauses: Sequence[Matches], scored: bool, tie_breaker: float) -> Matches:
    """The union; with scores, the best clause's plus tie_breaker times the others'
    (DisjunctionMaxScorer)."""
    clauses = [m for m in clauses if len(m)]
    if not clauses:
        return Matches.none(scored)
    if len(clauses) == 1:
        return clauses[0]
    union = _Union(clauses)
    hit = np.zeros(union.size, dtype=bool)
    for pos in union.positions:
        hit[pos] = True
    seqs, slots = union.result(hit)
    if not scored:
        return Matches(seqs)
    best = np.zeros(union.size, dtype=np.float32)
    sums = np.zeros(union.size, dtype=np.float64)
    for m, pos in zip(clauses, union.positions, strict=True):
        scores = m.scores if m.scores is not None else np.zeros(len(m), dtype=np.float32)
        best[pos] = np.maximum(best[pos], scores)
        sums[pos] += scores
    top = best[slots].astype(np.float64)
    others = sums[slots] - top
    return Matches(seqs, (top + others * np.float32(tie_breaker)).astype(np.float32))


def exclude(matches: Matches, excluded: np.ndarray) -> Matches:
    if not len(excluded) or not len(matches):
        return matches
    keep = ~contains(matches.seqs, excluded)
    if keep.all():
        return matches
    return Matches(matches.seqs[keep], matches.scores[keep] if matches.scores is not None else None)


def union_seqs(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted distinct seqs of several arrays (the postings of several terms)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return EMPTY_SEQS
    if len(parts) == 1:
        return parts[0]
    joined = np.concatenate(parts)
    top = int(joined.max())
    if _dense(len(joined), top):
        mask = np.zeros(top + 1, dtype=bool)
        mask[joined] = True
        return np.flatnonzero(mask).astype(np.int64)
    return np.unique(joined)


def add_scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float addition, as ReqOptSumScorer adds the optional clauses' score."""
    return (a.astype(np.float32) + b.astype(np.float32)).astype(np.float32)
