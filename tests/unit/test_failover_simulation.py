"""A seeded simulation of primary failover: a primary replicates writes to its group with
messages that arrive late, in any order, or never; copies fail and recover; the primary
dies and an in-sync replica takes over in a new term, fills its sequence number gaps with
no-ops and resyncs the others, each of which keeps what it holds above the global
checkpoint when the new primary holds it too (`primary_holds`) and rolls back the rest.

After every step: every acknowledged write is on every in-sync copy, under the term that
wrote it; the global checkpoint never goes back within a term and never passes an in-sync
copy. At the end, with every message delivered, the global checkpoint has caught up with
the primary: no gap the old primary left holds it back."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest

from strata_node.engine.checkpoint_tracker import LocalCheckpointTracker
from strata_node.replication.replica import primary_holds, seq_no_gaps
from strata_node.replication.tracker import ReplicationTracker

SEEDS = int(os.environ.get("STRATA_FAILOVER_SEEDS", "400"))


class Copy:
    """A shard copy: the operations it processed (seq_no -> term), as its engine keeps them."""

    def __init__(self, ops: dict[int, int] | None = None, term: int = 1, known_global: int = -1):
        self.ops: dict[int, int] = {}
        self.tracker = LocalCheckpointTracker()
        self.term = term  # the newest primary term whose operations it takes
        self.known_global = known_global
        for seq_no, op_term in sorted((ops or {}).items()):
            self.apply(seq_no, op_term)

    def apply(self, seq_no: int, term: int) -> None:
        if not self.tracker.has_processed(seq_no):  # processed once, as the engine does
            self.ops[seq_no] = term
            self.tracker.mark_processed(seq_no)

    def roll_back(self, global_checkpoint: int, keep: set[tuple[int, int]]) -> None:
        """engine/rollback.py: what lies above the checkpoint and the new primary does not
        hold is undone; the copy has processed what it had up to the checkpoint and the rest."""
        kept = {s: t for s, t in self.ops.items() if s <= global_checkpoint or (s, t) in keep}
        self.ops = {}
        self.tracker = LocalCheckpointTracker()
        for seq_no, term in sorted(kept.items()):
            self.apply(seq_no, term)

    def above(self, global_checkpoint: int) -> list[tuple[int, int]]:
        return sorted((s, t) for s, t in self.ops.items() if s > global_checkpoint)


@dataclass
class Message:
    """A replication request: operations (seq_no, term) of the primary of `term`."""

    term: int
    ops: list[tuple[int, int]]
    global_checkpoint: int
    held: list[tuple[int, int]] | None
    pending: set[str]
    write: bool  # a client's write, acknowledged once every copy answered
    sender: str = ""
    answered: set[str] = field(default_factory=set)


class Group:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.term = 1
        self.primary = "p0"
        self.copies = {"p0": Copy()}
        self.tracker = ReplicationTracker("p0")
        for k in range(rng.randint(1, 3)):
            self.copies[f"r{k}"] = Copy()
        self.tracker.update_from_master(set(self.copies), set(self.copies))
        self.held: list[tuple[int, int]] | None = []  # what the primary of this term resyncs
        self.messages: list[Message] = []
        self.acknowledged: dict[int, int] = {}
        self.last_global = self.tracker.global_checkpoint
        self.names = 0

    def send(self, ops: list[tuple[int, int]], write: bool) -> None:
        self.messages.append(Message(self.term, ops, self.tracker.global_checkpoint, self.held,
                                     set(self.tracker.replication_targets()), write, self.primary))

    def write(self) -> None:
        primary = self.copies[self.primary]
        seq_no = primary.tracker.max_seq_no + 1
        primary.apply(seq_no, self.term)
        self.tracker.update_local_checkpoint(self.primary, primary.tracker.checkpoint)
        self.send([(seq_no, self.term)], write=True)

    def fail(self, name: str) -> None:
        """The master fails a copy: out of the group, its store gone."""
        self.tracker.remove(name)
        self.copies.pop(name, None)
        for message in self.messages:
            message.pending.discard(name)

    def deliver(self) -> None:
        message = self.rng.choice(self.messages)
        if not message.pending:
            return
        name = self.rng.choice(sorted(message.pending))
        message.pending.discard(name)
        copy = self.copies.get(name)
        if copy is None or message.term < copy.term:
            return  # gone, or an older primary's request, refused
        if message.term > copy.term:
            # the first request of a new primary (replica.apply_on_copy)
            if copy.tracker.max_seq_no > message.global_checkpoint and \
                    not primary_holds(message.held, copy.above(message.global_checkpoint)):
                copy.roll_back(message.global_checkpoint, set(message.held))
            copy.term = message.term
        for seq_no, term in message.ops:
            copy.apply(seq_no, term)
        copy.known_global = max(copy.known_global, message.global_checkpoint)
        message.answered.add(name)
        if message.term == self.term:
            self.tracker.update_local_checkpoint(name, copy.tracker.checkpoint)

    def settle(self) -> None:
        """A write every copy it was sent to answered (or left) is acknowledged, if its
        primary is still there to acknowledge it."""
        for message in list(self.messages):
            if not message.pending:
                self.messages.remove(message)
                if message.write and message.sender == self.primary and message.term == self.term:
                    for seq_no, term in message.ops:
                        self.acknowledged[seq_no] = term

    def recover_new_copy(self) -> None:
        self.names += 1
        name = f"n{self.names}"
        primary = self.copies[self.primary]
        self.copies[name] = Copy(primary.ops, self.term, self.tracker.global_checkpoint)
        self.tracker.initiate_tracking(name)
        assert self.tracker.mark_in_sync(name, self.copies[name].tracker.checkpoint)

    def promote(self, to: str | None = None) -> bool:
        candidates = sorted(a for a in self.tracker.in_sync_ids() - {self.primary} if a in self.copies)
        if not candidates:
            return False
        in_sync = self.tracker.in_sync_ids()
        del self.copies[self.primary]  # its node died; what it sent may still arrive
        self.primary = to or self.rng.choice(candidates)
        self.term += 1
        primary = self.copies[self.primary]
        for seq_no in seq_no_gaps(primary.tracker):  # replica.fill_seq_no_gaps
            primary.apply(seq_no, self.term)
        primary.term = self.term
        assert primary.tracker.checkpoint == primary.tracker.max_seq_no
        self.tracker = ReplicationTracker(self.primary, primary.tracker.checkpoint, primary.known_global)
        self.tracker.update_from_master(set(self.copies), in_sync & set(self.copies))
        self.last_global = self.tracker.global_checkpoint
        self.held = primary.above(self.tracker.global_checkpoint)
        self.send(sorted(self.held), write=False)  # the resync
        return True

    def check(self, seed: int) -> None:
        assert self.tracker.global_checkpoint >= self.last_global, seed
        self.last_global = self.tracker.global_checkpoint
        for name in self.tracker.in_sync_ids():
            copy = self.copies[name]
            assert self.tracker.global_checkpoint <= copy.tracker.checkpoint, (seed, name)
            lost = {s: t for s, t in self.acknowledged.items() if copy.ops.get(s) != t}
            assert not lost, (seed, name, sorted(lost.items())[:5])


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulated_failovers_keep_acknowledged_writes_on_every_in_sync_copy(seed):
    rng = random.Random(seed)
    group = Group(rng)
    for _ in range(rng.randint(30, 250)):
        roll = rng.random()
        if roll < 0.4:
            group.write()
        elif roll < 0.85 and group.messages:
            group.deliver()
        elif roll < 0.88 and group.tracker.replication_targets():
            group.fail(rng.choice(group.tracker.replication_targets()))
        elif roll < 0.92:
            group.recover_new_copy()
        elif roll < 0.97:
            group.promote()
        group.settle()
        group.check(seed)
    while any(m.pending for m in group.messages):  # the network settles
        group.deliver()
        group.settle()
        group.check(seed)
    primary = group.copies[group.primary]
    assert group.tracker.global_checkpoint == primary.tracker.checkpoint == primary.tracker.max_seq_no, seed


def group_of(copies: dict[str, Copy], global_checkpoint: int) -> Group:
    """p0 primary of term 1 with these copies, every one in sync and heard from."""
    group = Group(random.Random(0))
    group.copies = copies
    group.tracker = ReplicationTracker("p0", copies["p0"].tracker.checkpoint, global_checkpoint)
    group.tracker.update_from_master(set(copies), set(copies))
    for name, copy in copies.items():
        group.tracker.update_local_checkpoint(name, copy.tracker.checkpoint)
    return group


def test_a_replica_holding_what_the_new_primary_holds_takes_the_resync():
    group = group_of({"p0": Copy({0: 1, 1: 1, 2: 1}), "r0": Copy({0: 1, 1: 1, 2: 1}, known_global=0),
                      "r1": Copy({0: 1, 1: 1}, known_global=0)}, 1)
    group.promote(to="r0")
    assert group.held == [(1, 1), (2, 1)]
    while group.messages[0].pending:
        group.deliver()
    assert group.copies["r1"].ops == {0: 1, 1: 1, 2: 1} and group.copies["r1"].term == 2
    assert group.tracker.in_sync_ids() == {"r0", "r1"}


def test_a_promoted_primary_fills_its_gaps_and_a_replica_holding_the_old_operation_there_rolls_back():
    # seq_no 1 reached r0 only, seq_no 2 reached r1 only: r1 is promoted with a gap at 1
    group = group_of({"p0": Copy({0: 1, 1: 1, 2: 1}), "r0": Copy({0: 1, 1: 1}, known_global=0),
                      "r1": Copy({0: 1, 2: 1}, known_global=0)}, 0)
    group.promote(to="r1")
    assert group.copies["r1"].ops == {0: 1, 1: 2, 2: 1}  # a no-op of term 2 at 1
    assert group.held == [(1, 2), (2, 1)]
    group.deliver()  # r0 undoes the old primary's 1, then takes the no-op and 2
    assert group.copies["r0"].ops == {0: 1, 1: 2, 2: 1}
    assert group.tracker.in_sync_ids() == {"r0", "r1"}
    assert group.tracker.global_checkpoint == 2  # nothing holds it back any more
