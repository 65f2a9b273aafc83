"""The replication tracker: unit behaviours, then a seeded simulation of a primary, its
replicas, failing copies and recoveries, checking after every step that the global
checkpoint never goes back and never passes an in-sync copy, and that every acknowledged
operation is on every in-sync copy; and one of a primary that applies the master's states
late while copies recover from it."""

import os
import random

import pytest

from strata_node.engine.checkpoint_tracker import LocalCheckpointTracker
from strata_node.replication.tracker import ReplicationTracker

SEEDS = int(os.environ.get("STRATA_REPLICATION_SEEDS", "300"))


def test_the_global_checkpoint_is_the_lowest_in_sync_local_checkpoint():
    tracker = ReplicationTracker("p")
    tracker.update_from_master({"p", "r1", "r2"}, {"p", "r1", "r2"})
    tracker.update_local_checkpoint("p", 9)
    assert tracker.global_checkpoint == -1  # replicas not heard from yet
    tracker.update_local_checkpoint("r1", 7)
    tracker.update_local_checkpoint("r2", 5)
    assert tracker.global_checkpoint == 5
    tracker.update_local_checkpoint("r2", 9)
    assert tracker.global_checkpoint == 7


def test_a_new_tracker_does_not_raise_the_global_checkpoint_to_its_own_checkpoint():
    tracker = ReplicationTracker("p", local_checkpoint=11, global_checkpoint=5)
    tracker.update_from_master({"p", "r"}, {"p", "r"})
    tracker.update_local_checkpoint("r", 10)
    assert tracker.global_checkpoint == 10


def test_a_recovering_copy_gets_writes_but_does_not_hold_the_global_checkpoint_back():
    tracker = ReplicationTracker("p")
    tracker.update_local_checkpoint("p", 4)
    tracker.initiate_tracking("new")
    assert tracker.replication_targets() == ["new"]
    assert tracker.global_checkpoint == 4


def test_a_copy_is_in_sync_only_once_it_reaches_the_global_checkpoint():
    tracker = ReplicationTracker("p")
    tracker.update_local_checkpoint("p", 4)
    tracker.initiate_tracking("new")
    assert not tracker.mark_in_sync("new", 3)
    assert tracker.mark_in_sync("new", 4)
    assert tracker.in_sync_ids() == {"p", "new"}


def test_a_copy_the_master_unassigns_leaves_the_group():
    tracker = ReplicationTracker("p")
    tracker.update_from_master({"p", "r"}, {"p", "r"})
    tracker.update_from_master({"p"}, {"p", "r"})
    tracker.update_local_checkpoint("p", 4)
    assert tracker.replication_targets() == [] and tracker.global_checkpoint == 4


class Copy:
    def __init__(self):
        self.tracker = LocalCheckpointTracker()
        self.ops: set[int] = set()

    def apply(self, seq: int) -> None:
        self.ops.add(seq)
        self.tracker.mark_processed(seq)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulated_replication_keeps_acknowledged_operations_on_every_in_sync_copy(seed):
    rng = random.Random(seed)
    primary = Copy()
    replicas = {f"r{i}": Copy() for i in range(rng.randint(1, 3))}
    tracker = ReplicationTracker("p")
    tracker.update_from_master({"p", *replicas}, {"p", *replicas})
    in_flight: list[tuple[int, set[str]]] = []  # (seq, copies still to apply it)
    acknowledged: set[int] = set()
    next_seq = 0
    last_global = tracker.global_checkpoint
    for _ in range(rng.randint(20, 200)):
        roll = rng.random()
        if roll < 0.45:  # the primary executes a write and sends it to the group
            seq, next_seq = next_seq, next_seq + 1
            primary.apply(seq)
            tracker.update_local_checkpoint("p", primary.tracker.checkpoint)
            in_flight.append((seq, set(tracker.replication_targets())))
        elif roll < 0.85 and in_flight:  # a replica applies some write, in any order
            seq, pending = rng.choice(in_flight)
            if pending:
                aid = rng.choice(sorted(pending))
                pending.discard(aid)
                if aid in replicas and aid in tracker.copies:
                    replicas[aid].apply(seq)
                    tracker.update_local_checkpoint(aid, replicas[aid].tracker.checkpoint)
        elif roll < 0.9 and tracker.replication_targets():  # a replica fails a write: removed
            aid = rng.choice(tracker.replication_targets())
            tracker.remove(aid)
            replicas.pop(aid, None)
            for _, pending in in_flight:
                pending.discard(aid)
        elif roll < 0.95:  # a new copy recovers: tracked, replays history, then in sync
            aid = f"n{next_seq}-{rng.randrange(1000)}"
            replicas[aid] = Copy()
            tracker.initiate_tracking(aid)
            for seq in sorted(primary.ops):
                replicas[aid].apply(seq)
            if not tracker.mark_in_sync(aid, replicas[aid].tracker.checkpoint):
                assert replicas[aid].tracker.checkpoint < tracker.global_checkpoint
        # a write is acknowledged once every copy it was sent to applied it or left
        for seq, pending in list(in_flight):
            if not pending:
                in_flight.remove((seq, pending))
                acknowledged.add(seq)
        assert tracker.global_checkpoint >= last_global
        last_global = tracker.global_checkpoint
        for aid in tracker.in_sync_ids() - {"p"}:
            copy = replicas[aid]
            known = tracker.copies[aid].local_checkpoint
            assert tracker.global_checkpoint <= known <= copy.tracker.checkpoint
            # acknowledged writes sent while the copy was in the group are on it
            missing = {s for s in acknowledged if s not in copy.ops and s <= tracker.global_checkpoint}
            assert not missing, (seed, aid, sorted(missing)[:5])


class LaggingPrimary:
    """A primary that applies the master's states some steps after they are published, as
    a node behind the rest does: copies recover once their own node has the state that
    assigns them, and the primary serves a recovery only once its applied state assigns the
    copy too (recovery.py's `_check_serves`)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.primary = Copy()
        self.copies = {f"r{i}": Copy() for i in range(rng.randint(1, 2))}
        members = {"p", *self.copies}
        self.states = [(frozenset(members), frozenset(members))]  # (assigned, in sync), by version
        self.applied = 0
        self.tracker = ReplicationTracker("p")
        self.tracker.update_from_master(set(members), set(members))
        self.recovering: list[str] = []
        self.in_flight: list[tuple[int, set[str]]] = []
        self.acknowledged: set[int] = set()
        self.names = 0

    def publish(self, assigned: set[str], in_sync: set[str]) -> None:
        self.states.append((frozenset(assigned), frozenset(in_sync)))

    @property
    def master(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.states[-1]

    def apply_next_state(self) -> None:
        if self.applied + 1 < len(self.states):
            self.applied += 1
            assigned, in_sync = self.states[self.applied]
            self.tracker.update_from_master(set(assigned), set(in_sync))

    def write(self) -> None:
        seq = self.primary.tracker.max_seq_no + 1
        self.primary.apply(seq)
        self.tracker.update_local_checkpoint("p", self.primary.tracker.checkpoint)
        self.in_flight.append((seq, set(self.tracker.replication_targets())))

    def deliver(self) -> None:
        seq, pending = self.rng.choice(self.in_flight)
        if pending:
            aid = self.rng.choice(sorted(pending))
            pending.discard(aid)
            if aid in self.copies:
                self.copies[aid].apply(seq)
                self.tracker.update_local_checkpoint(aid, self.copies[aid].tracker.checkpoint)

    def assign_new_copy(self) -> None:
        self.names += 1
        aid = f"n{self.names}"
        assigned, in_sync = self.master
        self.publish(assigned | {aid}, in_sync)
        self.copies[aid] = Copy()
        self.recovering.append(aid)

    def recover(self, aid: str) -> None:
        if not self.tracker.is_assigned(aid):
            return  # delayed: the target asks again later
        self.tracker.initiate_tracking(aid)
        copy = self.copies[aid]
        for seq in sorted(self.primary.ops):
            copy.apply(seq)
        if self.tracker.mark_in_sync(aid, copy.tracker.checkpoint):
            self.recovering.remove(aid)
            assigned, in_sync = self.master
            self.publish(assigned, in_sync | {aid})  # the copy started

    def fail(self, aid: str) -> None:
        """A copy fails a write: the master removes it, then the primary does."""
        assigned, in_sync = self.master
        self.publish(assigned - {aid}, in_sync - {aid})
        self.tracker.remove(aid)
        self.copies.pop(aid, None)
        if aid in self.recovering:
            self.recovering.remove(aid)
        for _, pending in self.in_flight:
            pending.discard(aid)

    def settle(self) -> None:
        for seq, pending in list(self.in_flight):
            if not pending:
                self.in_flight.remove((seq, pending))
                self.acknowledged.add(seq)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulated_recoveries_under_a_lagging_primary_state_keep_acknowledged_operations_in_sync(seed):
    rng = random.Random(seed)
    group = LaggingPrimary(rng)
    last_global = group.tracker.global_checkpoint
    for _ in range(rng.randint(30, 250)):
        roll = rng.random()
        if roll < 0.35:
            group.write()
        elif roll < 0.65 and group.in_flight:
            group.deliver()
        elif roll < 0.75:
            group.apply_next_state()
        elif roll < 0.82:
            group.assign_new_copy()
        elif roll < 0.95 and group.recovering:
            group.recover(rng.choice(group.recovering))
        elif group.tracker.replication_targets():
            group.fail(rng.choice(group.tracker.replication_targets()))
        group.settle()
        assert group.tracker.global_checkpoint >= last_global, seed
        last_global = group.tracker.global_checkpoint
        # What a promotion picks from: the master's in-sync copies hold every acknowledged write.
        for aid in group.master[1] - {"p"}:
            missing = group.acknowledged - group.copies[aid].ops
            assert not missing, (seed, aid, sorted(missing)[:5])
