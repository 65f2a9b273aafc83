"""Snapshots and deletions under way, as the cluster state holds them (Elasticsearch's
SnapshotsInProgress and SnapshotDeletionsInProgress), and the pure changes to them.

An entry names each shard of the snapshot with the node of its primary and a state:
INIT (the node is copying it), SUCCESS, FAILED (with a reason), MISSING (no started
primary when the snapshot began, allowed with `partial`). The master drives an entry
until every shard is done, then finalizes it into the repository and removes it; an
entry a deletion ABORTED is removed without being committed. Being in
the cluster state, an entry survives a change of master, which takes it up again, and
every node can answer `_status` and `_current` from it.

A restore has no entry of its own: an index restores while its restore source is set and
some primary has no in-sync copy yet (IndexMetadata.restores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..cluster.state import ClusterStateContent, ShardRouting, with_custom
from ..common.errors import StrataError
from ..index.metadata import IndexMetadata

CUSTOM = "snapshots"
DELETIONS = "snapshot_deletions"
SHARD_DONE = ("SUCCESS", "FAILED", "MISSING")


class SnapshotFailure(StrataError):
    """A failure about one snapshot: its reason names it as `[repository:snapshot]`."""

    def __init__(self, repository: str, snapshot: str, reason: str):
        super().__init__(f"[{repository}:{snapshot}] {reason}")


class ConcurrentSnapshotExecution(SnapshotFailure):
    type = "concurrent_snapshot_execution_exception"
    status = 503


class SnapshotInProgress(StrataError):
    type = "snapshot_in_progress_exception"
    status = 400


class InvalidSnapshotName(SnapshotFailure):
    type = "invalid_snapshot_name_exception"
    status = 400

    def __init__(self, repository: str, snapshot: str, reason: str):
        super().__init__(repository, snapshot, f"Invalid snapshot name [{snapshot}], {reason}")


def shard_key(index: str, shard: int) -> str:
    return f"{index}/{shard}"


def split_key(key: str) -> tuple[str, int]:
    index, _, shard = key.rpartition("/")
    return index, int(shard)


def entries(content: ClusterStateContent) -> list[dict[str, Any]]:
    return list(content.metadata.customs.get(CUSTOM) or [])


def deletions(content: ClusterStateContent) -> list[dict[str, Any]]:
    return list(content.metadata.customs.get(DELETIONS) or [])


def find(content: ClusterStateContent, uuid: str) -> dict[str, Any] | None:
    return next((e for e in entries(content) if e["uuid"] == uuid), None)


def takes_or_deletes(content: ClusterStateContent, repository: str) -> bool:
    """The repository takes a snapshot or deletes some."""
    return any(e["repository"] == repository for e in entries(content)) or \
        any(d["repository"] == repository for d in deletions(content))


def in_use(content: ClusterStateContent, repository: str) -> bool:
    """The repository takes a snapshot, deletes some, or a restore still reads from it
    (RepositoriesService.isRepositoryInUse): it may be neither changed nor removed."""
    return takes_or_deletes(content, repository) or \
        any(_restoring(content, lambda source: source.get("repository") == repository))


def restoring(content: ClusterStateContent, of_source: Callable[[dict[str, Any]], bool]) -> list[str]:
    """The indices a restore whose source `of_source` accepts still copies into (ES's
    RestoreInProgress entries): some primary has no in-sync copy yet and has not given up
    after `index.allocation.max_retries` failed attempts."""
    return list(_restoring(content, of_source))


def _restoring(content: ClusterStateContent, of_source: Callable[[dict[str, Any]], bool]) -> Iterator[str]:
    return (m.name for m in content.metadata.indices.values()
            if m.restore_source is not None and of_source(m.restore_source) and _still_restoring(content, m))


def _still_restoring(content: ClusterStateContent, metadata: IndexMetadata) -> bool:
    retries = metadata.setting("index.allocation.max_retries")
    given_up = {c.shard for c in content.routing_table.indices.get(metadata.name, ()) if gave_up(c, retries)}
    return any(metadata.restores(n) and n not in given_up for n in range(metadata.number_of_shards))


def gave_up(copy: ShardRouting, max_retries: int) -> bool:
    """A primary left unassigned after `index.allocation.max_retries` failed attempts: its
    restore is over, failed."""
    return copy.primary and copy.state == "UNASSIGNED" and copy.failed_attempts >= max_retries


def check_not_deleting(content: ClusterStateContent, repository: str, snapshot: str, uuid: str) -> None:
    """A restore may not begin while its snapshot is being deleted (RestoreService's
    ensureSnapshotNotDeleted): the deletion frees the blobs it would read."""
    if any(d["repository"] == repository and uuid in d["uuids"] for d in deletions(content)):
        raise ConcurrentSnapshotExecution(
            repository, snapshot,
            f"cannot restore a snapshot while a snapshot deletion is in-progress [{repository}:{snapshot}]")


def add(content: ClusterStateContent, entry: dict[str, Any]) -> ClusterStateContent:
    """A new snapshot begins: refused while its repository deletes snapshots (their blobs
    might be shared with it), or when one of the same name is already under way."""
    repository, name = entry["repository"], entry["snapshot"]
    if any(d["repository"] == repository for d in deletions(content)):
        raise ConcurrentSnapshotExecution(repository, name, "cannot snapshot while a snapshot deletion is "
                                                            "in-progress in [" + repository + "]")
    if any(e["repository"] == repository and e["snapshot"] == name for e in entries(content)):
        raise InvalidSnapshotName(repository, name, "snapshot with the same name is already in-progress")
    return with_custom(content, CUSTOM, [*entries(content), entry])


def update_shard(content: ClusterStateContent, uuid: str, key: str, state: str,
                 reason: str | None = None, stats: dict[str, Any] | None = None) -> ClusterStateContent:
    """A shard of a running snapshot is done; a report for a snapshot or shard no longer
    under way changes nothing (a retried report, or one from before a new master)."""
    items = entries(content)
    for i, entry in enumerate(items):
        if entry["uuid"] != uuid:
            continue
        shard = entry["shards"].get(key)
        if shard is None or shard["state"] in SHARD_DONE:
            return content
        updated = {**shard, "state": state}
        if reason is not None:
            updated["reason"] = reason
        if stats is not None:
            updated["stats"] = stats
        items[i] = {**entry, "shards": {**entry["shards"], key: updated}}
        return with_custom(content, CUSTOM, items)
    return content


def remove(content: ClusterStateContent, uuid: str) -> ClusterStateContent:
    items = entries(content)
    kept = [e for e in items if e["uuid"] != uuid]
    return content if len(kept) == len(items) else with_custom(content, CUSTOM, kept)


def abort(content: ClusterStateContent, uuid: str) -> ClusterStateContent:
    """A deletion asks a running snapshot to stop: its entry turns ABORTED, every node
    copying one of its shards stops at its next chunk, and the master removes the entry
    without committing it once every shard has answered."""
    items = entries(content)
    for i, entry in enumerate(items):
        if entry["uuid"] == uuid and entry["state"] != "ABORTED":
            items[i] = {**entry, "state": "ABORTED"}
            return with_custom(content, CUSTOM, items)
    return content


def aborted(content: ClusterStateContent) -> set[str]:
    return {e["uuid"] for e in entries(content) if e["state"] == "ABORTED"}


def all_done(entry: dict[str, Any]) -> bool:
    return all(s["state"] in SHARD_DONE for s in entry["shards"].values())


def add_deletion(content: ClusterStateContent, deletion: dict[str, Any]) -> ClusterStateContent:
    """Deleting snapshots: refused while the repository takes one (the new snapshot may
    reuse blobs the deletion would free) or deletes others."""
    repository = deletion["repository"]
    names = ",".join(deletion["snapshots"])
    running = [e for e in entries(content) if e["repository"] == repository]
    if running:
        raise ConcurrentSnapshotExecution(repository, names, "cannot delete - another snapshot is currently "
                                                             f"being created [{running[0]['snapshot']}]")
    if any(d["repository"] == repository for d in deletions(content)):
        raise ConcurrentSnapshotExecution(repository, names, "cannot delete - another snapshot is currently "
                                                             "being deleted")
    busy = restoring(content, lambda source: source.get("snapshot_uuid") in deletion["uuids"])
    if busy:
        raise ConcurrentSnapshotExecution(repository, names, "cannot delete snapshot during a restore in "
                                                             f"progress in {busy}")
    return with_custom(content, DELETIONS, [*deletions(content), deletion])


def remove_deletion(content: ClusterStateContent, deletion_id: str) -> ClusterStateContent:
    items = deletions(content)
    kept = [d for d in items if d["id"] != deletion_id]
    return content if len(kept) == len(items) else with_custom(content, DELETIONS, kept)


def indices_being_snapshotted(content: ClusterStateContent, names: list[str]) -> list[str]:
    """Of `names`, the indices of a running snapshot (they cannot be deleted until it is
    finalized, which writes their metadata: ES's SnapshotInProgressException)."""
    busy = {index for entry in entries(content) for index, ids in entry["indices"].items()
            if content.metadata.indices.get(index) is not None
            and content.metadata.indices[index].uuid == ids["uuid"]}
    return [n for n in names if n in busy]
