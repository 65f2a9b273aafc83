"""The primary's view of its replication group (Elasticsearch's ReplicationTracker): a
pure state machine, fed what the master says (which copies are assigned and in sync),
what replicas answer (their local checkpoints) and what recovery reports; it answers
which copies a write goes to and what the global checkpoint is.

Invariants: the global checkpoint is the lowest local checkpoint of the in-sync copies
and never goes back; a copy becomes in sync only once it has every operation up to the
global checkpoint; the primary's own copy is always in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = -1


@dataclass
class CopyState:
    local_checkpoint: int = UNKNOWN
    in_sync: bool = False


class ReplicationTracker:
    def __init__(self, allocation_id: str, local_checkpoint: int = UNKNOWN, global_checkpoint: int = UNKNOWN):
        self.allocation_id = allocation_id
        # The global checkpoint starts as what this copy last learned of it: its own local
        # checkpoint alone says nothing of the other in-sync copies (update_from_master
        # adds them; only then may it move on).
        self.copies: dict[str, CopyState] = {allocation_id: CopyState(local_checkpoint, True)}
        self.global_checkpoint = global_checkpoint

    def update_from_master(self, assigned: set[str], in_sync: set[str]) -> None:
        """The copies the routing table assigns, and the master's in-sync set: a copy no
        longer assigned leaves the group; an assigned copy the master has in sync counts
        as in sync (its checkpoint unknown until it answers, which holds the global
        checkpoint back, as it must)."""
        for aid in list(self.copies):
            if aid != self.allocation_id and aid not in assigned:
                del self.copies[aid]
        for aid in assigned & in_sync:
            self.copies.setdefault(aid, CopyState()).in_sync = True
        self._recompute()

    def initiate_tracking(self, allocation_id: str) -> None:
        """A recovering copy: it receives every write from now on, but does not count for
        the global checkpoint until it is marked in sync."""
        self.copies.setdefault(allocation_id, CopyState())

    def update_local_checkpoint(self, allocation_id: str, checkpoint: int) -> None:
        copy = self.copies.get(allocation_id)
        if copy is not None and checkpoint > copy.local_checkpoint:
            copy.local_checkpoint = checkpoint
            self._recompute()

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

    def _recompute(self) -> None:
        lowest = min(c.local_checkpoint for c in self.copies.values() if c.in_sync)
        if lowest > self.global_checkpoint:
            self.global_checkpoint = lowest
