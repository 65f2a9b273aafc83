"""The local checkpoint: the highest sequence number below which nothing is missing."""

import random

from strata_node.engine.checkpoint_tracker import LocalCheckpointTracker


def test_checkpoint_waits_for_gaps_to_fill():
    t = LocalCheckpointTracker()
    for seq in (0, 2, 3):
        t.mark_processed(seq)
    assert t.checkpoint == 0 and t.max_seq_no == 3
    t.mark_processed(1)
    assert t.checkpoint == 3


def test_range_completion_matches_one_by_one_in_any_order():
    rng = random.Random(7)
    for _ in range(200):
        one, ranged = LocalCheckpointTracker(), LocalCheckpointTracker()
        ranges = []
        start = 0
        while start < 60:
            end = start + rng.randint(0, 5)
            ranges.append((start, end))
            start = end + 1
        rng.shuffle(ranges)
        for first, last in ranges:
            ranged.mark_processed_range(first, last)
            for seq in range(first, last + 1):
                one.mark_processed(seq)
            assert (one.checkpoint, one.max_seq_no) == (ranged.checkpoint, ranged.max_seq_no)
        assert ranged.checkpoint == start - 1


def test_processed_numbers_at_or_below_the_checkpoint_are_ignored():
    t = LocalCheckpointTracker(max_seq_no=5, local_checkpoint=5)
    t.mark_processed(3)
    assert t.checkpoint == 5 and not t._pending
