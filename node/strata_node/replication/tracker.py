"""The primary's view of its replication group (Elasticsearch's ReplicationTracker): a
pure state machine, fed what the master says (which copies are assigned and in sync),
what replicas answer (their local checkpoints) and what recovery reports; it answers
which copies a write goes to and what the global checkpoint is.

Invariants: the global checkpoint is the lowest local checkpoint of the in-sync copies
and never goes back; a copy becomes in sync only once it has every operation up to the
global checkpoint; the primary's own copy is always in sync.

It also owns the shard's retention leases (ES's peer-recovery retention leases): one per
node holding a copy, `peer_recovery/<node id>`, retaining the history from the global
checkpoint that copy has acknowledged + 1: a copy coming back vouches for the operations
above its own global checkpoint, which the primary checks against its history. A lease is
added when a recovery starts, renewed as checkpoints advance, and outlives its copy: a
copy that failed comes back on its node and recovers from its lease's sequence number on.
A lease whose node holds no copy of the shard expires once every copy of the shard is
started, or after `index.soft_deletes.retention_lease.period` without renewal (ES's rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.retention_leases import (
    PEER_RECOVERY_SOURCE,
    RetentionLease,
    RetentionLeases,
    peer_recovery_lease_id,
)

UNKNOWN = -1


@dataclass
class CopyState:
    local_checkpoint: int = UNKNOWN
    in_sync: bool = False
    node: str | None = None  # the node holding it, whose peer-recovery lease it renews
    global_checkpoint: int = UNKNOWN  # the highest the copy acknowledged being sent


class ReplicationTracker:
    def __init__(self, allocation_id: str, local_checkpoint: int = UNKNOWN, global_checkpoint: int = UNKNOWN,
                 *, node_id: str | None = None, primary_term: int = 0, leases: RetentionLeases | None = None):
        self.allocation_id = allocation_id
        # The global checkpoint starts as what this copy last learned of it: its own local
        # checkpoint alone says nothing of the other in-sync copies (update_from_master
        # adds them; only then may it move on).
        self.copies: dict[str, CopyState] = {allocation_id: CopyState(local_checkpoint, True, node_id)}
        # The copies the primary's applied routing table assigns (ES's replication group's
        # routing table): a recovery is served only to one of them.
        self.assigned: set[str] = {allocation_id}
        self.global_checkpoint = global_checkpoint
        self.primary_term = primary_term
        # A promoted replica starts from the leases the old primary sent it.
        leases = leases or RetentionLeases()
        self.leases: dict[str, RetentionLease] = {lease.id: lease for lease in leases.leases}
        self.leases_version = leases.version
        self.all_started = False

    def update_from_master(self, assigned: set[str], in_sync: set[str],
                           nodes: Mapping[str, str] | None = None, all_started: bool = False) -> None:
        """The copies the routing table assigns (and the nodes holding them), the master's
        in-sync set, and whether every copy of the shard is started: a copy no longer
        assigned leaves the group; an assigned copy the master has in sync counts as in
        sync (its checkpoint unknown until it answers, which holds the global checkpoint
        back, as it must)."""
        self.assigned = set(assigned) | {self.allocation_id}
        for aid in list(self.copies):
            if aid != self.allocation_id and aid not in assigned:
                del self.copies[aid]
        for aid in assigned & in_sync:
            self.copies.setdefault(aid, CopyState()).in_sync = True
        for aid, node in (nodes or {}).items():
            if aid in self.copies:
                self.copies[aid].node = node
        self.all_started = all_started
        self._recompute()

    def initiate_tracking(self, allocation_id: str, node: str | None = None) -> None:
        """A recovering copy: it receives every write from now on, but does not count for
        the global checkpoint until it is marked in sync. A recovery tracks only a copy
        the routing assigns (`assigned`); the next update from the master drops any other."""
        copy = self.copies.setdefault(allocation_id, CopyState())
        if node is not None:
            copy.node = node

    def is_assigned(self, allocation_id: str) -> bool:
        return allocation_id in self.assigned

    def node_of(self, allocation_id: str) -> str | None:
        """The node holding a copy of the group, as the routing (or its recovery) named it."""
        copy = self.copies.get(allocation_id)
        return copy.node if copy is not None else None

    def update_local_checkpoint(self, allocation_id: str, checkpoint: int) -> None:
        copy = self.copies.get(allocation_id)
        if copy is not None and checkpoint > copy.local_checkpoint:
            copy.local_checkpoint = checkpoint
            self._recompute()

    def update_global_checkpoint_on_copy(self, allocation_id: str, global_checkpoint: int) -> None:
        """The copy acknowledged a request carrying `global_checkpoint` (it persists it
        with the operations of that request, or with the background sync's)."""
        copy = self.copies.get(allocation_id)
        if copy is not None and global_checkpoint > copy.global_checkpoint:
            copy.global_checkpoint = global_checkpoint

    def mark_in_sync(self, allocation_id: str, checkpoint: int) -> bool:
        """True once the copy is in sync: it must hold everything up to the global
        checkpoint, or a later failover could lose operations the cluster acknowledged."""
        copy = self.copies.get(allocation_id)
        if copy is None:
            return False
        self.update_local_checkpoint(allocation_id, checkpoint)
        if copy.local_checkpoint < self.global_checkpoint:
            return False
        copy.in_sync = True
        self._recompute()
        return True

    def remove(self, allocation_id: str) -> None:
        """A copy that failed a write: out of the group (the master is told first)."""
        if allocation_id != self.allocation_id:
            self.copies.pop(allocation_id, None)
            self._recompute()

    def replication_targets(self) -> list[str]:
        """Every copy but the primary's: in sync or recovering, each gets every write."""
        return [aid for aid in self.copies if aid != self.allocation_id]

    def in_sync_ids(self) -> set[str]:
        return {aid for aid, copy in self.copies.items() if copy.in_sync}

    # -- retention leases ----------------------------------------------------------------

    def retention_leases(self) -> RetentionLeases:
        return RetentionLeases(self.primary_term, self.leases_version,
                               tuple(sorted(self.leases.values(), key=lambda lease: lease.id)))

    def peer_recovery_lease(self, node_id: str) -> RetentionLease | None:
        return self.leases.get(peer_recovery_lease_id(node_id))

    def add_peer_recovery_lease(self, node_id: str, retaining_seq_no: int, now: int) -> RetentionLease:
        """A recovery to `node_id` starts: hold the history from `retaining_seq_no` for
        it. Replaces a lease the node already had, lower or not: the recovery decides from
        what it reads next, under this lease."""
        return self._put(RetentionLease(peer_recovery_lease_id(node_id), retaining_seq_no, now,
                                        PEER_RECOVERY_SOURCE))

    def renew_peer_recovery_leases(self, now: int, period: int) -> None:
        """Move each in-sync copy's lease up to the global checkpoint it acknowledged + 1
        (the primary's own: the global checkpoint + 1), creating the lease of an in-sync
        copy that has none, as a primary promoted before any sync must; and
        refresh the timestamps of the leases of copies still assigned once half the
        period has gone by."""
        for copy in self.copies.values():
            if copy.node is None:
                continue
            lease = self.peer_recovery_lease(copy.node)
            retaining = lease.retaining_seq_no if lease is not None else None
            if copy.in_sync:
                own = copy is self.copies[self.allocation_id]
                known = self.global_checkpoint if own else min(copy.global_checkpoint, self.global_checkpoint)
                held = known + 1
                retaining = held if retaining is None else max(retaining, held)
            if retaining is None:
                continue
            if lease is None or retaining > lease.retaining_seq_no or now - lease.timestamp >= period / 2:
                self._put(RetentionLease(peer_recovery_lease_id(copy.node), retaining, now,
                                         PEER_RECOVERY_SOURCE))

    def expire_leases(self, now: int, period: int) -> list[str]:
        """Drop the peer-recovery leases of nodes without a copy once every copy is started
        (nothing will come back to use them), and any lease not renewed within `period`;
        returns the ids dropped."""
        current = {peer_recovery_lease_id(c.node) for c in self.copies.values() if c.node is not None}
        expired = []
        for lease in list(self.leases.values()):
            if lease.source == PEER_RECOVERY_SOURCE and lease.id in current:
                continue
            if (lease.source == PEER_RECOVERY_SOURCE and self.all_started) or now - lease.timestamp > period:
                expired.append(lease.id)
        for lease_id in expired:
            del self.leases[lease_id]
        if expired:
            self.leases_version += 1
        return expired

    def min_retained_seq_no(self) -> int:
        """The lowest sequence number the history must keep: what the leases retain, and
        never anything above the global checkpoint (copies may still need those)."""
        leased = min((lease.retaining_seq_no for lease in self.leases.values()), default=0)
        return min(leased, self.global_checkpoint + 1)

    def _put(self, lease: RetentionLease) -> RetentionLease:
        if self.leases.get(lease.id) != lease:
            self.leases[lease.id] = lease
            self.leases_version += 1
        return lease

    def _recompute(self) -> None:
        lowest = min(c.local_checkpoint for c in self.copies.values() if c.in_sync)
        if lowest > self.global_checkpoint:
            self.global_checkpoint = lowest
