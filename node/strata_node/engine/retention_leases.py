"""Retention leases (Elasticsearch's RetentionLease and RetentionLeases): a claim on the
shard's history from a sequence number on, which history pruning honours.

The primary's tracker owns them and increments `version` with every change; replicas
receive them by the background sync and keep them, so a promoted replica retains what
the copies of its group need. They persist with the shard, in its `_state` folder, as
`retention-leases-<generation>.st` (ES's file name), the newest generation winning.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec

from ..common.files import fsync_dir, write_atomically

PEER_RECOVERY_SOURCE = "peer recovery"
FILE_RE = re.compile(r"retention-leases-(\d+)\.st")


def peer_recovery_lease_id(node_id: str) -> str:
    return f"peer_recovery/{node_id}"


class RetentionLease(msgspec.Struct, frozen=True):
    id: str
    retaining_seq_no: int
    timestamp: int  # milliseconds since the epoch, of the last renewal
    source: str

    def to_json(self) -> dict:
        return {"id": self.id, "retaining_seq_no": self.retaining_seq_no, "timestamp": self.timestamp,
                "source": self.source}


class RetentionLeases(msgspec.Struct, frozen=True):
    primary_term: int = 0
    version: int = 0
    leases: tuple[RetentionLease, ...] = ()

    def supersedes(self, other: RetentionLeases) -> bool:
        return (self.primary_term, self.version) > (other.primary_term, other.version)

    def min_retaining_seq_no(self) -> int | None:
        return min((lease.retaining_seq_no for lease in self.leases), default=None)

    def to_json(self) -> dict:
        return {"primary_term": self.primary_term, "version": self.version,
                "leases": [lease.to_json() for lease in self.leases]}


def load(state_dir: Path) -> RetentionLeases:
    """The newest persisted leases; none when the shard has not persisted any. Blocking."""
    generations = _generations(state_dir)
    if not generations:
        return RetentionLeases()
    return msgspec.json.decode((state_dir / _name(max(generations))).read_bytes(), type=RetentionLeases)


def persist(state_dir: Path, leases: RetentionLeases) -> None:
    """Write a new generation durably, then drop the older ones. Blocking."""
    state_dir.mkdir(parents=True, exist_ok=True)
    generations = _generations(state_dir)
    generation = max(generations, default=-1) + 1
    write_atomically(state_dir / _name(generation), msgspec.json.encode(leases))
    for old in generations:
        os.unlink(state_dir / _name(old))
    fsync_dir(state_dir)


def _name(generation: int) -> str:
    return f"retention-leases-{generation}.st"


def _generations(state_dir: Path) -> list[int]:
    if not state_dir.is_dir():
        return []
    return [int(m.group(1)) for p in state_dir.iterdir() if (m := FILE_RE.fullmatch(p.name))]
