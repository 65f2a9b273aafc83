"""What a query matched on one shard, as arrays the next step works on without a loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.segment_reader import EMPTY_SEQS


@dataclass(frozen=True)
class Matches:
    """Sequence numbers (int64, sorted ascending, unique) and, when the query was run
    for scores, a float32 score per match (Lucene scores are floats). `scores` is None
    for a run that did not ask for scores (filter context, `_count`, `size: 0`)."""

    seqs: np.ndarray
    scores: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.seqs)

    @classmethod
    def none(cls, scored: bool = False) -> Matches:
        return cls(EMPTY_SEQS, np.empty(0, dtype=np.float32) if scored else None)
