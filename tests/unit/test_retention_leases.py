"""Retention leases on the replication tracker: the lease arithmetic, then a seeded
simulation of a primary and its replicas under writes, lease syncs, history pruning,
copy failures, returns and promotions, checking after every step that the primary keeps
the history every in-sync copy needs and every lease it once satisfied, and that every
recovery leaves the copy with every operation of its primary.

(A promoted replica may hold less history than a lease it was sent retains, when its own
files came from a primary that had pruned further: recovery then checks the history, not
the lease, and copies files, as Elasticsearch's does.)"""

import os
import random

import pytest

from strata_node.engine.retention_leases import (
    PEER_RECOVERY_SOURCE,
    RetentionLease,
    RetentionLeases,
    peer_recovery_lease_id,
)
from strata_node.replication.tracker import ReplicationTracker

SEEDS = int(os.environ.get("STRATA_RETENTION_SEEDS", "300"))
HOUR = 3600 * 1000
PERIOD = 12 * HOUR


def group(in_sync=("p", "r"), all_started=True) -> ReplicationTracker:
    """A primary `p` on node n-p with copies on nodes n-<id>."""
    tracker = ReplicationTracker("p", node_id="n-p", primary_term=1)
    tracker.update_from_master(set(in_sync), set(in_sync), {aid: f"n-{aid}" for aid in in_sync},
                               all_started=all_started)
    return tracker


def retaining(tracker) -> dict[str, int]:
    return {lease.id: lease.retaining_seq_no for lease in tracker.retention_leases().leases}


def test_a_peer_recovery_lease_is_named_for_the_node_and_its_source_is_peer_recovery():
    tracker = group()
    lease = tracker.add_peer_recovery_lease("n-r", 0, now=5)
    assert (lease.id, lease.source, lease.timestamp) == ("peer_recovery/n-r", PEER_RECOVERY_SOURCE, 5)


def test_renewal_retains_from_the_global_checkpoint_each_copy_acknowledged_plus_one():
    tracker = group()
    tracker.update_local_checkpoint("p", 20)
    tracker.update_local_checkpoint("r", 20)
    tracker.update_global_checkpoint_on_copy("r", 12)
    tracker.renew_peer_recovery_leases(now=1, period=PERIOD)
    assert retaining(tracker) == {"peer_recovery/n-p": 21, "peer_recovery/n-r": 13}
    tracker.update_global_checkpoint_on_copy("r", 20)
    tracker.renew_peer_recovery_leases(now=2, period=PERIOD)
    assert retaining(tracker) == {"peer_recovery/n-p": 21, "peer_recovery/n-r": 21}


def test_renewal_never_moves_a_lease_back():
    tracker = group()
    tracker.add_peer_recovery_lease("n-r", 40, now=0)
    tracker.update_local_checkpoint("p", 20)
    tracker.update_local_checkpoint("r", 20)
    tracker.update_global_checkpoint_on_copy("r", 20)
    tracker.renew_peer_recovery_leases(now=1, period=PERIOD)
    assert retaining(tracker)["peer_recovery/n-r"] == 40


def test_every_change_increments_the_version_and_a_renewal_that_changes_nothing_does_not():
    tracker = group()
    tracker.update_local_checkpoint("p", 3)
    tracker.update_local_checkpoint("r", 3)
    tracker.update_global_checkpoint_on_copy("r", 3)
    tracker.renew_peer_recovery_leases(now=1, period=PERIOD)
    version = tracker.retention_leases().version
    tracker.renew_peer_recovery_leases(now=2, period=PERIOD)
    assert tracker.retention_leases().version == version
    tracker.renew_peer_recovery_leases(now=PERIOD // 2 + 1, period=PERIOD)  # half the period: timestamps
    assert tracker.retention_leases().version == version + 2


def test_the_minimum_retained_sequence_number_is_the_lowest_lease_capped_at_the_global_checkpoint():
    tracker = group()
    tracker.update_local_checkpoint("p", 50)
    tracker.update_local_checkpoint("r", 50)
    tracker.update_global_checkpoint_on_copy("r", 50)
    assert tracker.min_retained_seq_no() == 0  # no lease yet: keep everything
    tracker.add_peer_recovery_lease("n-gone", 7, now=0)
    tracker.add_peer_recovery_lease("n-r", 90, now=0)
    assert tracker.min_retained_seq_no() == 7
    tracker.expire_leases(now=PERIOD + 1, period=PERIOD)
    tracker.renew_peer_recovery_leases(now=PERIOD + 1, period=PERIOD)
    assert tracker.min_retained_seq_no() == 51  # the global checkpoint + 1 bounds n-r's 90


def test_the_lease_of_a_node_without_a_copy_stays_while_a_copy_is_unassigned():
    tracker = group(in_sync=("p",), all_started=False)  # r failed: unassigned, its node gone
    tracker.add_peer_recovery_lease("n-r", 4, now=0)
    assert tracker.expire_leases(now=PERIOD, period=PERIOD) == []
    assert tracker.expire_leases(now=PERIOD + 1, period=PERIOD) == ["peer_recovery/n-r"]


def test_the_lease_of_a_node_without_a_copy_expires_once_every_copy_is_started():
    tracker = group(in_sync=("p",), all_started=True)
    tracker.add_peer_recovery_lease("n-r", 4, now=0)
    assert tracker.expire_leases(now=1, period=PERIOD) == ["peer_recovery/n-r"]


def test_the_leases_of_assigned_copies_never_expire():
    tracker = group()
    tracker.add_peer_recovery_lease("n-r", 4, now=0)
    assert tracker.expire_leases(now=10 * PERIOD, period=PERIOD) == []


def test_a_promoted_replica_starts_from_the_leases_it_was_sent():
    lease = RetentionLease(peer_recovery_lease_id("n-x"), 17, 100, PEER_RECOVERY_SOURCE)
    sent = RetentionLeases(3, 9, (lease,))
    tracker = ReplicationTracker("r", node_id="n-r", primary_term=4, leases=sent)
    assert tracker.peer_recovery_lease("n-x").retaining_seq_no == 17
    tracker.add_peer_recovery_lease("n-y", 20, now=0)
    leases = tracker.retention_leases()
    assert (leases.primary_term, leases.version) == (4, 10) and leases.supersedes(sent)


# -- simulation -------------------------------------------------------------------------------


class Node:
    """One node's copy: its operations (seq_no -> primary term), what its history still
    holds from (`min_retained`), its knowledge of the global checkpoint, and the leases it
    last persisted (a primary's own, or those its primary sent it)."""

    def __init__(self, name):
        self.name = name
        self.ops: dict[int, int] = {}
        self.min_retained = 0
        self.global_checkpoint = -1
        self.leases = RetentionLeases()

    @property
    def checkpoint(self) -> int:
        n = -1
        while n + 1 in self.ops:
            n += 1
        return n

    def prune(self) -> None:
        """engine.prune_bound: the lowest lease (nothing without one), never above the
        global checkpoint + 1 (the commit is taken to be at the checkpoint)."""
        leased = self.leases.min_retaining_seq_no()
        if leased is None:
            return
        bound = min(leased, self.global_checkpoint + 1, self.checkpoint + 1)
        self.min_retained = max(self.min_retained, bound)

    def holds_history_from(self, seq_no: int) -> bool:
        return seq_no >= self.min_retained


class Cluster:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = 0
        self.term = 1
        self.nodes = {f"n{i}": Node(f"n{i}") for i in range(rng.randint(2, 4))}
        self.primary = "n0"
        self.replicas: set[str] = set()  # in sync
        self.tracker = ReplicationTracker("n0", node_id="n0", primary_term=1)
        self.in_flight: list[tuple[int, int, set[str]]] = []
        self.next_seq = 0
        self.satisfied: dict[str, int] = {}  # leases the primary's history covers, by id
        for name in list(self.nodes)[1:]:
            self.recover(name)

    def update_master(self) -> None:
        copies = {self.primary, *self.replicas}
        self.tracker.update_from_master(copies, copies, {c: c for c in copies},
                                        all_started=len(copies) == len(self.nodes))

    def write(self) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.nodes[self.primary].ops[seq] = self.term
        self.tracker.update_local_checkpoint(self.primary, self.nodes[self.primary].checkpoint)
        self.in_flight.append((seq, self.term, self.tracker.global_checkpoint,
                               set(self.tracker.replication_targets())))

    def deliver(self) -> None:
        seq, term, global_checkpoint, pending = self.rng.choice(self.in_flight)
        if pending:
            target = self.rng.choice(sorted(pending))
            pending.discard(target)
            if target in self.replicas:
                node = self.nodes[target]
                node.ops[seq] = term
                node.global_checkpoint = max(node.global_checkpoint, global_checkpoint)
                self.tracker.update_local_checkpoint(target, node.checkpoint)
                self.tracker.update_global_checkpoint_on_copy(target, global_checkpoint)
        self.in_flight = [f for f in self.in_flight if f[3]]

    def sync(self) -> None:
        """The background sync: renew, expire, send to replicas; then everyone prunes."""
        self.tracker.primary_term = self.term
        self.tracker.renew_peer_recovery_leases(self.now, PERIOD)
        self.tracker.expire_leases(self.now, PERIOD)
        leases = self.tracker.retention_leases()
        primary = self.nodes[self.primary]
        primary.leases = leases
        primary.global_checkpoint = self.tracker.global_checkpoint
        for name in sorted(self.replicas):
            if self.rng.random() < 0.8:  # a sync may be lost: the next one catches up
                node = self.nodes[name]
                if leases.supersedes(node.leases):
                    node.leases = leases
                node.global_checkpoint = max(node.global_checkpoint, self.tracker.global_checkpoint)
                self.tracker.update_global_checkpoint_on_copy(name, self.tracker.global_checkpoint)
        for node in self.nodes.values():
            if self.rng.random() < 0.7:
                node.prune()

    def fail_replica(self) -> None:
        name = self.rng.choice(sorted(self.replicas))
        self.replicas.discard(name)
        self.tracker.remove(name)
        self.update_master()

    def recover(self, name: str) -> None:
        """ES's decision: operation-based with a lease and the history from the copy's
        checkpoint on; file-based otherwise (the primary's operations up to its
        checkpoint, as a file set), the lease in place before anything is read."""
        primary, node = self.nodes[self.primary], self.nodes[name]
        start = node.checkpoint + 1
        lease = self.tracker.peer_recovery_lease(name)
        diverged = any(primary.ops.get(s) != t for s, t in node.ops.items())
        if not diverged and lease is not None and primary.holds_history_from(start):
            self.tracker.add_peer_recovery_lease(name, min(start, node.global_checkpoint + 1), self.now)
        else:
            self.tracker.add_peer_recovery_lease(name, self.tracker.global_checkpoint + 1, self.now)
            start = primary.checkpoint + 1
            node.ops = {s: t for s, t in primary.ops.items() if s < start}
            node.min_retained = primary.min_retained
        primary.leases = self.tracker.retention_leases()  # sync_soon: honoured at once
        assert primary.holds_history_from(start), "the replay needs history the primary pruned"
        node.ops.update({s: t for s, t in primary.ops.items() if s >= start})
        node.global_checkpoint = self.tracker.global_checkpoint
        for *_, pending in self.in_flight:  # sent before it was tracked: the replay had them
            pending.discard(name)
        self.tracker.initiate_tracking(name, name)
        self.tracker.update_global_checkpoint_on_copy(name, node.global_checkpoint)
        assert self.tracker.mark_in_sync(name, node.checkpoint)
        self.replicas.add(name)
        self.update_master()
        assert node.ops == primary.ops, "a recovered copy lacks operations of its primary"
        node.leases = self.tracker.retention_leases()  # the recovery's answer carries them

    def promote(self) -> None:
        """The primary's node fails; an in-sync replica takes over with the leases it last
        persisted, and resyncs what it holds above the global checkpoint."""
        self.primary = self.rng.choice(sorted(self.replicas))
        self.replicas.discard(self.primary)
        self.term += 1
        new = self.nodes[self.primary]
        self.tracker = ReplicationTracker(self.primary, new.checkpoint, new.global_checkpoint,
                                          node_id=self.primary, primary_term=self.term, leases=new.leases)
        self.satisfied = {}
        self.in_flight = []
        for name in list(self.replicas):  # resync, or the copy is failed and recovers again
            node = self.nodes[name]
            if any(new.ops.get(s) != t for s, t in node.ops.items() if s > new.global_checkpoint):
                self.replicas.discard(name)
            else:
                node.ops.update({s: t for s, t in new.ops.items() if s > new.global_checkpoint})
        # Operations the old primary never replicated to the new one are lost with it.
        self.next_seq = max(new.ops, default=-1) + 1
        self.update_master()
        for name in self.replicas:
            self.tracker.update_local_checkpoint(name, self.nodes[name].checkpoint)

    def check(self) -> None:
        primary = self.nodes[self.primary]
        leases = self.tracker.retention_leases().leases
        for lease in leases:
            if lease.id in self.satisfied and lease.retaining_seq_no >= self.satisfied[lease.id]:
                assert primary.holds_history_from(lease.retaining_seq_no), (lease, primary.min_retained)
        self.satisfied = {lease.id: lease.retaining_seq_no for lease in leases
                          if primary.holds_history_from(lease.retaining_seq_no)}
        for name in self.replicas:
            replica = self.nodes[name]
            assert primary.holds_history_from(min(replica.checkpoint, self.tracker.global_checkpoint) + 1)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulated_leases_keep_every_operation_an_in_sync_or_leased_copy_needs(seed):
    rng = random.Random(seed)
    cluster = Cluster(rng)
    for _ in range(rng.randint(50, 300)):
        cluster.now += rng.choice((1, 1000, HOUR))
        roll = rng.random()
        if roll < 0.35:
            cluster.write()
        elif roll < 0.6 and cluster.in_flight:
            cluster.deliver()
        elif roll < 0.8:
            cluster.sync()
        elif roll < 0.88 and cluster.replicas:
            cluster.fail_replica()
        elif roll < 0.96:
            away = [n for n in cluster.nodes if n != cluster.primary and n not in cluster.replicas]
            if away:
                cluster.recover(rng.choice(away))
        elif cluster.replicas:
            cluster.promote()
        cluster.check()
