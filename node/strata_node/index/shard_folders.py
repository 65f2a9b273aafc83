"""The folders beside a shard's store that only live while one copy operation runs (a
file set hard-linked for a recovery or a snapshot, files on their way in): no copy
survives a restart of its node, so whatever of them a crash left is removed at start-up."""

from __future__ import annotations

from pathlib import Path

RECOVERY_SOURCE = "recovery."  # + target allocation id: the file set a primary sends
RECOVERY_STAGING = "index.recovering"  # the files a recovering copy receives
SNAPSHOT_SOURCE = "snapshot."  # + snapshot uuid: the file set a snapshot copies
RESTORE_STAGING = "index.restoring"  # + "." + allocation id: the files a restore fetches

_PREFIXES = (RECOVERY_SOURCE, SNAPSHOT_SOURCE, RESTORE_STAGING + ".")


def transient(shard_path: Path) -> list[Path]:
    """The copy folders in a shard's folder. Blocking."""
    try:
        entries = list(shard_path.iterdir())
    except FileNotFoundError:
        return []
    return [p for p in entries if p.is_dir() and (p.name == RECOVERY_STAGING or p.name.startswith(_PREFIXES))]


def of_index(index_path: Path) -> list[Path]:
    """The copy folders of every shard of an index's folder. Blocking."""
    return [c for shard in index_path.iterdir() if shard.is_dir() for c in transient(shard)]
