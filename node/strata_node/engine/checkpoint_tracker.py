"""Local checkpoint tracking: the highest sequence number below which every operation
has been processed. Operations may complete out of order (on replicas, and on a primary
once writes are concurrent), so completed numbers above the checkpoint wait in a set."""

from __future__ import annotations


class LocalCheckpointTracker:
    def __init__(self, max_seq_no: int = -1, local_checkpoint: int = -1):
        self.max_seq_no = max_seq_no
        self.checkpoint = local_checkpoint
        self._pending: set[int] = set()

    def advance_max_seq_no(self, seq_no: int) -> None:
        self.max_seq_no = max(self.max_seq_no, seq_no)

    def mark_processed(self, seq_no: int) -> None:
        self.advance_max_seq_no(seq_no)
        if seq_no <= self.checkpoint:
            return
        self._pending.add(seq_no)
        while self.checkpoint + 1 in self._pending:
            self.checkpoint += 1
            self._pending.discard(self.checkpoint)

    def mark_processed_range(self, first: int, last: int) -> None:
        """A primary's batch completes a contiguous range; skip the set when it extends
        the checkpoint directly."""
        if first == self.checkpoint + 1 and not self._pending:
            self.checkpoint = last
            self.max_seq_no = max(self.max_seq_no, last)
            return
        for seq_no in range(first, last + 1):
            self.mark_processed(seq_no)

    def has_processed(self, seq_no: int) -> bool:
        return seq_no <= self.checkpoint or seq_no in self._pending
