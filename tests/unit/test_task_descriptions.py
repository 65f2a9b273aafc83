"""The descriptions of the tasks that run long (and may be stored with
`wait_for_completion=false`), as the getDescription() of Elasticsearch's request says them."""

from strata_node.action.broadcast_actions import ForceMergeRequest
from strata_node.snapshots.service import CreateSnapshotRequest, DeleteSnapshotRequest, RestoreRequest


def test_a_force_merge_names_the_indices_as_given_and_minus_one_segments_when_unset():
    """ForceMergeRequest.getDescription: Arrays.toString of the request's indices."""
    assert ForceMergeRequest(expression="logs,metrics").description == (
        "Force-merge indices [logs, metrics], maxSegments[-1], onlyExpungeDeletes[false], flush[true]")
    assert ForceMergeRequest(max_num_segments=1, flush=False).description == (
        "Force-merge indices [], maxSegments[1], onlyExpungeDeletes[false], flush[false]")


def test_snapshot_creation_and_restore_name_the_repository_and_snapshot():
    """CreateSnapshotRequest and RestoreSnapshotRequest.getDescription."""
    created = CreateSnapshotRequest(repository="backups", snapshot="nightly", body=b"{}")
    restored = RestoreRequest(repository="backups", snapshot="nightly", body=b"{}")
    assert created.description == restored.description == "snapshot [backups:nightly]"


def test_a_snapshot_deletion_names_the_repository_then_the_snapshots():
    """DeleteSnapshotRequest.getDescription: `[%s]%s` of the repository and the names."""
    deleted = DeleteSnapshotRequest(repository="backups", snapshots=["a", "b*"])
    assert deleted.description == "[backups][a, b*]"
