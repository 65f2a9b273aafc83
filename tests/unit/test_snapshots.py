"""The pure parts of snapshots: names, the repository's root and its blobs, the entries
under way in the cluster state, restore renaming and settings, and what a snapshot's
info says."""

from __future__ import annotations

import dataclasses
import struct

import msgspec
import pytest

from strata_node.action.index_admin import build_index_metadata, create_index, delete_indices
from strata_node.cluster.state import ClusterStateContent, ShardRouting
from strata_node.common.errors import IllegalArgument, IndexNotFound
from strata_node.rest.snapshots import duration_millis
from strata_node.snapshots import in_progress, repository
from strata_node.snapshots.blobs import BlobAlreadyExists, FsBlobContainer
from strata_node.snapshots.in_progress import (
    ConcurrentSnapshotExecution,
    InvalidSnapshotName,
    SnapshotInProgress,
)
from strata_node.snapshots.repository import RepositoryData, RepositoryError
from strata_node.snapshots.service import (
    SnapshotMissing,
    SnapshotRestoreError,
    java_replacement,
    renamed,
    resolve_in_snapshot,
    restore_finished,
    restore_global_state,
    restore_indices,
    restore_settings,
    running_status,
    select_snapshots,
    snapshot_info,
    start_restore,
    validate_snapshot_name,
)
from strata_node.snapshots.throttle import RESTORE_RATE, SNAPSHOT_RATE, RateLimiter, Throttles, pace, rate_of


def entry(uuid: str = "u1", repository_name: str = "repo", name: str = "snap", **shards) -> dict:
    return {"repository": repository_name, "snapshot": name, "uuid": uuid, "state": "STARTED",
            "include_global_state": True, "partial": False, "metadata": None, "start_time": 1000,
            "indices": {"logs": {"id": "id-logs", "uuid": "uuid-logs"}},
            "shards": {key.replace("_", "/"): value for key, value in shards.items()}}


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "reason"), [
    ("", "cannot be empty"), ("a b", "must not contain whitespace"), ("a,b", "must not contain ','"),
    ("a#b", "must not contain '#'"), ("_snap", "must not start with '_'"), ("Snap", "must be lowercase"),
    ("a/b", 'must not contain the following characters [\\, /, *, ?, ", <, >, |]'),
])
def test_invalid_snapshot_names_are_refused_as_elasticsearch_refuses_them(name, reason):
    with pytest.raises(InvalidSnapshotName) as e:
        validate_snapshot_name("repo", name)
    assert e.value.reason == f"[repo:{name}] Invalid snapshot name [{name}], {reason}"
    assert e.value.status == 400


def test_a_repository_name_with_a_comma_is_refused():
    with pytest.raises(RepositoryError,
                       match=r"\[a,b\] Invalid repository name \[a,b\], must not contain ','"):
        repository.validate_name("a,b")


# -- where an fs repository may live ----------------------------------------------------------


def test_a_relative_location_resolves_against_the_first_path_repo(tmp_path):
    assert repository.location_of("r", {"location": "backups"}, [str(tmp_path)]) == tmp_path / "backups"


def test_a_location_outside_every_path_repo_is_refused(tmp_path):
    with pytest.raises(RepositoryError, match=r"doesn't match any of the locations specified by path\.repo"):
        repository.location_of("r", {"location": "/etc"}, [str(tmp_path)])
    with pytest.raises(RepositoryError, match="doesn't match"):
        repository.location_of("r", {"location": "../elsewhere"}, [str(tmp_path)])


def test_without_path_repo_no_location_is_allowed(tmp_path):
    with pytest.raises(RepositoryError, match="because this setting is empty"):
        repository.location_of("r", {"location": str(tmp_path)}, [])


def test_a_repository_definition_keeps_its_settings_as_strings():
    settings = {"location": "x", "compress": True, "chunk": {"size": 10}}
    definition = repository.parse_definition("r", {"type": "fs", "settings": settings})
    assert definition == {"type": "fs", "settings": {"location": "x", "compress": "true", "chunk.size": "10"}}


def test_an_unknown_repository_type_is_refused():
    with pytest.raises(RepositoryError, match=r"\[r\] repository type \[s4\] does not exist"):
        repository.parse_definition("r", {"type": "s4"})


# -- blobs and the root -------------------------------------------------------------------------


def test_a_blob_written_only_if_new_is_refused_when_it_exists(tmp_path):
    blobs = FsBlobContainer(tmp_path)
    blobs.write("index-0", b"first", fail_if_exists=True)
    with pytest.raises(BlobAlreadyExists):
        blobs.write("index-0", b"second", fail_if_exists=True)
    assert blobs.read("index-0") == b"first"
    assert blobs.list() == {"index-0": 5}  # no temporary file is left behind


def test_each_root_is_a_new_generation_and_index_latest_names_it(tmp_path):
    blobs = FsBlobContainer(tmp_path)
    assert repository.read_repository_data("r", blobs) == RepositoryData()
    summary = {"name": "s1", "uuid": "u1", "state": "SUCCESS"}
    data = RepositoryData().with_snapshot(summary, {"logs": "id-logs"})
    assert repository.write_repository_data("r", blobs, data) == 0
    assert struct.unpack(">q", blobs.read("index.latest"))[0] == 0
    read = repository.read_repository_data("r", blobs)
    assert read.generation == 0 and read.snapshot("s1")["uuid"] == "u1"
    assert read.snapshots_of_index("logs") == ["u1"]


def test_a_root_no_cluster_state_named_does_not_block_the_next_writer(tmp_path):
    blobs = FsBlobContainer(tmp_path)
    a = RepositoryData().with_snapshot({"name": "a", "uuid": "ua"}, {})
    b = RepositoryData().with_snapshot({"name": "b", "uuid": "ub"}, {})
    assert repository.write_repository_data("r", blobs, a) == 0
    assert repository.write_repository_data("r", blobs, b) == 1  # from the same generation
    assert repository.read_repository_data("r", blobs, 0).snapshot("a") is not None
    assert repository.read_repository_data("r", blobs).snapshot("b") is not None


def test_a_root_left_without_index_latest_does_not_block_the_next_writers(tmp_path):
    blobs = FsBlobContainer(tmp_path)
    a = RepositoryData().with_snapshot({"name": "a", "uuid": "ua"}, {})
    assert repository.write_repository_data("r", blobs, a) == 0
    blobs.write("index-1", b"{}")  # a writer failed after writing its root, before index.latest
    committed = repository.read_repository_data("r", blobs)
    assert committed.generation == 0
    b = committed.with_snapshot({"name": "b", "uuid": "ub"}, {})
    assert repository.write_repository_data("r", blobs, b) == 2
    c = msgspec.structs.replace(b, generation=2).with_snapshot({"name": "c", "uuid": "uc"}, {})
    assert repository.write_repository_data("r", blobs, c) == 3
    assert [s["name"] for s in repository.read_repository_data("r", blobs).snapshots] == ["a", "b", "c"]


def test_a_root_is_never_overwritten(tmp_path, monkeypatch):
    blobs = FsBlobContainer(tmp_path)
    blobs.write("index-0", b"{}")  # another writer's, committed after this one looked
    monkeypatch.setattr(repository, "next_generation", lambda blobs, data: 0)
    b = RepositoryData().with_snapshot({"name": "b", "uuid": "ub"}, {})
    with pytest.raises(repository.ConcurrentModification):
        repository.write_repository_data("r", blobs, b)
    assert blobs.read("index-0") == b"{}"


def test_the_cluster_state_refuses_a_root_moved_meanwhile():
    definition = {"type": "fs", "settings": {}, "generation": 3}
    content = repository.with_repositories(ClusterStateContent(), {"r": definition})
    with pytest.raises(repository.ConcurrentModification):
        repository.with_generation(content, "r", 2, 4)
    moved = repository.with_generation(content, "r", 3, 4)
    assert repository.of(moved)["r"]["generation"] == 4


def test_an_index_keeps_its_id_across_snapshots_and_leaves_with_its_last_one():
    data = RepositoryData().with_snapshot({"name": "s1", "uuid": "u1"}, {"logs": "id-1"})
    data = data.with_snapshot({"name": "s2", "uuid": "u2"}, {"logs": "id-other", "web": "id-2"})
    assert data.index_id("logs") == "id-1"
    assert data.snapshots_of_index("logs") == ["u1", "u2"]
    after = data.without_snapshots({"u2"})
    assert after.snapshots_of_index("logs") == ["u1"] and "web" not in after.indices


def test_cleanup_removes_only_what_no_committed_snapshot_refers_to(tmp_path):
    blobs = FsBlobContainer(tmp_path)
    shard = blobs.child("indices", "id-1", "0")
    shard.write("__kept", b"k" * 10)
    shard.write("__orphan", b"o" * 7)
    repository.write_json(shard, "snap-u1.dat", {"files": [{"name": "__kept"}]})
    repository.write_json(shard, "snap-failed.dat", {"files": [{"name": "__orphan"}]})
    blobs.child("indices", "id-gone", "0").write("__x", b"x")
    repository.write_json(blobs, "snap-u1.dat", {})
    repository.write_json(blobs, "snap-failed.dat", {})
    data = RepositoryData().with_snapshot({"name": "s1", "uuid": "u1"}, {"logs": "id-1"})
    data = msgspec.structs.replace(data, generation=repository.write_repository_data("r", blobs, data))
    count, size = repository.remove_unreferenced(blobs, data)
    assert count == 4 and size > 7  # the orphan, two blobs of the failed snapshot, the gone index
    assert set(shard.list()) == {"__kept", "snap-u1.dat"}
    assert blobs.child("indices").children() == ["id-1"]
    assert repository.remove_unreferenced(blobs, data) == (0, 0)


# -- entries under way ------------------------------------------------------------------------------


def test_a_snapshot_of_a_name_already_under_way_is_refused():
    content = in_progress.add(ClusterStateContent(), entry("u1"))
    with pytest.raises(InvalidSnapshotName, match="snapshot with the same name is already in-progress"):
        in_progress.add(content, entry("u2"))
    assert len(in_progress.entries(in_progress.add(content, entry("u3", name="other")))) == 2


def test_a_shard_is_done_once_and_a_late_report_changes_nothing():
    content = in_progress.add(ClusterStateContent(), entry(logs_0={"state": "INIT", "node": "n1"},
                                                           logs_1={"state": "INIT", "node": "n2"}))
    content = in_progress.update_shard(content, "u1", "logs/0", "SUCCESS", stats={"total": 1})
    assert not in_progress.all_done(in_progress.find(content, "u1"))
    again = in_progress.update_shard(content, "u1", "logs/0", "FAILED", "late")
    assert again is content
    content = in_progress.update_shard(content, "u1", "logs/1", "FAILED", "node left")
    done = in_progress.find(content, "u1")
    assert in_progress.all_done(done) and done["shards"]["logs/1"]["reason"] == "node left"
    assert in_progress.update_shard(content, "gone", "logs/0", "SUCCESS") is content
    assert in_progress.entries(in_progress.remove(content, "u1")) == []


def test_deleting_and_snapshotting_one_repository_exclude_each_other():
    running = in_progress.add(ClusterStateContent(), entry())
    with pytest.raises(ConcurrentSnapshotExecution, match="another snapshot is currently being created"):
        in_progress.add_deletion(running, {"id": "d", "repository": "repo", "snapshots": ["old"]})
    in_progress.add_deletion(running, {"id": "d", "repository": "other", "snapshots": ["old"]})
    deletion = {"id": "d", "repository": "repo", "snapshots": ["x"]}
    deleting = in_progress.add_deletion(ClusterStateContent(), deletion)
    with pytest.raises(ConcurrentSnapshotExecution) as e:
        in_progress.add(deleting, entry())
    assert e.value.status == 503
    assert in_progress.deletions(in_progress.remove_deletion(deleting, "d")) == []


def test_an_index_a_snapshot_still_copies_cannot_be_deleted():
    metadata = build_index_metadata("logs", {"settings": {"number_of_shards": 1}})
    content = create_index(ClusterStateContent(), metadata)
    running = entry(logs_0={"state": "SUCCESS", "node": "n1"})
    running["indices"]["logs"]["uuid"] = metadata.uuid
    content = in_progress.add(content, running)
    with pytest.raises(SnapshotInProgress) as e:  # its metadata is written only at the end
        delete_indices(content, ["logs"])
    expected = f"Cannot delete indices that are being snapshotted: [[logs/{metadata.uuid}]]"
    assert e.value.reason.startswith(expected)
    finalized = in_progress.remove(content, "u1")
    assert "logs" not in delete_indices(finalized, ["logs"]).metadata.indices


# -- a finished snapshot's info --------------------------------------------------------------------


@pytest.mark.parametrize(("states", "expected"), [
    (["SUCCESS", "SUCCESS"], "SUCCESS"), (["SUCCESS", "FAILED"], "PARTIAL"),
    (["FAILED", "MISSING"], "FAILED"),
])
def test_a_snapshot_is_partial_when_some_shards_failed(states, expected):
    shards = {f"logs_{i}": {"state": s, "node": "n1", "reason": "boom" if s != "SUCCESS" else None}
              for i, s in enumerate(states)}
    info = snapshot_info(entry(**shards), end_ms=2500)
    assert info["state"] == expected
    assert info["shards"]["total"] == 2
    assert info["shards"]["failed"] == sum(s != "SUCCESS" for s in states)
    assert all(f["index"] == "logs" and f["index_uuid"] == "uuid-logs" for f in info["failures"])
    assert (info["end_time_in_millis"], info["start_time_in_millis"]) == (2500, 1000)


# -- restore ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("replacement", "expected"), [
    ("restored_$1", "restored_logs"), ("${name}-copy", "logs-copy"), ("\\$1", "$1"), ("a\\\\b", "a\\b"),
])
def test_java_replacements_rename_as_java_does(replacement, expected):
    assert renamed(["logs-1"], r"(?P<name>[a-z]+)-\d", replacement) == {"logs-1": expected}


def test_a_bad_group_reference_is_refused():
    with pytest.raises(IllegalArgument):
        java_replacement("x$")


AVAILABLE = ["logs-1", "logs-2", "web"]


def test_indices_of_a_snapshot_resolve_with_wildcards_and_exclusions():
    assert resolve_in_snapshot(None, AVAILABLE, ignore_unavailable=False) == AVAILABLE
    assert resolve_in_snapshot("logs-*,-logs-2", AVAILABLE, ignore_unavailable=False) == ["logs-1"]
    assert resolve_in_snapshot("web,nope", AVAILABLE, ignore_unavailable=True) == ["web"]


@pytest.mark.parametrize(("expression", "expected"), [
    ("-web", ["logs-1", "logs-2"]), ("-web,logs-1", ["logs-1", "logs-2"]), ("-logs-*", ["web"]),
])
def test_a_leading_exclusion_starts_from_every_index_of_the_snapshot(expression, expected):
    assert resolve_in_snapshot(expression, AVAILABLE, ignore_unavailable=False) == expected


@pytest.mark.parametrize("expression", ["nope", "web,nope", "-nope"])
def test_an_index_the_snapshot_lacks_is_not_found_unless_ignored(expression):
    with pytest.raises(IndexNotFound) as e:
        resolve_in_snapshot(expression, AVAILABLE, ignore_unavailable=False)
    assert (e.value.status, e.value.reason) == (404, "no such index [nope]")


def test_a_wildcard_matching_no_index_of_the_snapshot_is_not_found_unless_allowed():
    assert resolve_in_snapshot("db-*", AVAILABLE, ignore_unavailable=False) == []
    with pytest.raises(IndexNotFound, match=r"no such index \[db-\*\]"):
        resolve_in_snapshot("db-*", AVAILABLE, ignore_unavailable=False, allow_no_indices=False)


def test_restore_settings_change_what_they_may_and_refuse_the_rest():
    metadata = build_index_metadata("logs", {"settings": {"number_of_shards": 2, "refresh_interval": "5s"}})
    settings = restore_settings(metadata, {"index_settings": {"number_of_replicas": 3},
                                           "ignore_index_settings": ["index.refresh_interval"]}, "r", "s")
    assert settings["index.number_of_replicas"] == "3" and "index.refresh_interval" not in settings
    with pytest.raises(SnapshotRestoreError, match=r"cannot modify setting \[index.number_of_shards\]"):
        restore_settings(metadata, {"index_settings": {"number_of_shards": 1}}, "r", "s")
    with pytest.raises(SnapshotRestoreError, match=r"cannot remove setting \[index.number_of_replicas\]"):
        restore_settings(metadata, {"ignore_index_settings": "number_of_replicas"}, "r", "s")


@pytest.mark.parametrize("key", [
    "index.number_of_shards", "index.version.created", "index.uuid", "index.creation_date",
    "index.history.uuid", "index.number_of_replicas", "index.auto_expand_replicas",
])
def test_ignoring_an_unremovable_setting_by_its_name_is_refused(key):
    metadata = build_index_metadata("logs", {"settings": {"number_of_shards": 2}})
    with pytest.raises(SnapshotRestoreError) as e:
        restore_settings(metadata, {"ignore_index_settings": [key]}, "r", "s")
    assert e.value.reason == f"[r:s] cannot remove setting [{key}] on restore"


@pytest.mark.parametrize("pattern", ["index.number_*", "*"])
def test_a_wildcard_in_ignore_index_settings_never_removes_an_unremovable_setting(pattern):
    metadata = build_index_metadata("logs", {"settings": {"number_of_shards": 3, "number_of_replicas": 2,
                                                          "refresh_interval": "5s"}})
    settings = restore_settings(metadata, {"ignore_index_settings": [pattern]}, "r", "s")
    assert (settings["index.number_of_shards"], settings["index.number_of_replicas"]) == ("3", "2")
    assert {"index.uuid", "index.creation_date", "index.version.created"} <= set(settings)
    if pattern == "*":
        assert "index.refresh_interval" not in settings


def restored(name: str = "logs", replicas: int = 1):
    body = {"settings": {"number_of_shards": 2, "number_of_replicas": replicas}}
    metadata = build_index_metadata(name, body)
    return dataclasses.replace(metadata, restore_source={"repository": "r", "snapshot": "s"})


def test_a_restored_index_starts_with_every_copy_unassigned_and_restores_until_a_copy_is_in_sync():
    metadata = restored()
    content = restore_indices(ClusterStateContent(), [metadata])
    copies = content.routing_table.indices["logs"]
    assert len(copies) == 4 and all(c.state == "UNASSIGNED" and c.unassigned_reason == "NEW_INDEX_RESTORED"
                                    for c in copies)
    assert metadata.restores(0)
    assert not metadata.with_in_sync(0, ("a1",)).restores(0)


def test_a_restore_over_an_existing_index_is_refused():
    content = create_index(ClusterStateContent(), build_index_metadata("logs", {}))
    with pytest.raises(SnapshotRestoreError, match="because an open index with same name already exists"):
        restore_indices(content, [restored()])


def test_a_restore_is_finished_once_every_primary_started_or_gave_up():
    metadata = restored(replicas=0)
    content = restore_indices(ClusterStateContent(), [metadata])
    assert restore_finished(content, [metadata.uuid]) == (False, 0, 0)
    started = ShardRouting("logs", 0, True, state="STARTED", node="n1", allocation_id="a0")
    failed = ShardRouting("logs", 1, True, failed_attempts=5)
    routing = msgspec.structs.replace(content.routing_table, indices={"logs": (started, failed)})
    settled = msgspec.structs.replace(content, routing_table=routing)
    assert restore_finished(settled, [metadata.uuid]) == (True, 1, 1)
    assert restore_finished(ClusterStateContent(), [metadata.uuid]) == (True, 0, 0)  # deleted meanwhile


def test_a_partial_restore_starts_the_shards_the_snapshot_failed_empty_and_counts_them_failed():
    metadata = restored(replicas=0)
    metadata = dataclasses.replace(metadata, restore_source={**metadata.restore_source, "empty_shards": [1]})
    assert metadata.restores(0) and not metadata.restores(1)
    content = restore_indices(ClusterStateContent(), [metadata])
    both = tuple(ShardRouting("logs", n, True, state="STARTED", node="n1", allocation_id=f"a{n}")
                 for n in (0, 1))
    routing = msgspec.structs.replace(content.routing_table, indices={"logs": both})
    assert restore_finished(msgspec.structs.replace(content, routing_table=routing), [metadata.uuid]) == \
        (True, 1, 1)


def test_a_restore_of_a_snapshot_being_deleted_is_refused():
    deletion = {"id": "d", "repository": "r", "snapshots": ["s"], "uuids": ["uuid-s"]}
    deleting = in_progress.add_deletion(ClusterStateContent(), deletion)
    with pytest.raises(ConcurrentSnapshotExecution) as e:
        start_restore(deleting, "r", "s", "uuid-s", [restored()], None)
    assert (e.value.status, e.value.type) == (503, "concurrent_snapshot_execution_exception")
    assert e.value.reason == "[r:s] cannot restore a snapshot while a snapshot deletion is in-progress [r:s]"
    assert "logs" in start_restore(deleting, "r", "other", "uuid-other", [restored()], None).metadata.indices


def test_a_repository_is_in_use_while_a_restore_reads_from_it():
    content = restore_indices(ClusterStateContent(), [restored()])
    assert in_progress.in_use(content, "r")
    assert not in_progress.in_use(content, "other")


def test_a_restore_done_or_given_up_leaves_its_repository_free():
    metadata = restored(replicas=0)
    content = restore_indices(ClusterStateContent(), [metadata])
    done = msgspec.structs.replace(content.metadata, indices={
        "logs": metadata.with_in_sync(0, ("a0",)).with_in_sync(1, ("a1",))})
    assert not in_progress.in_use(msgspec.structs.replace(content, metadata=done), "r")
    given_up = tuple(ShardRouting("logs", n, True, failed_attempts=5) for n in (0, 1))  # max_retries
    routing = msgspec.structs.replace(content.routing_table, indices={"logs": given_up})
    assert not in_progress.in_use(msgspec.structs.replace(content, routing_table=routing), "r")


def test_restoring_the_global_state_replaces_the_persistent_settings():
    metadata = msgspec.structs.replace(ClusterStateContent().metadata,
                                       persistent_settings={"action.auto_create_index": "false",
                                                            "search.default_search_timeout": "5s"})
    content = msgspec.structs.replace(ClusterStateContent(), metadata=metadata)
    snapshot = {"action.destructive_requires_name": "true"}
    after = restore_global_state(content, {"persistent_settings": snapshot})
    assert after.metadata.persistent_settings == snapshot


def test_restoring_the_global_state_replaces_the_index_and_component_templates_whole():
    from strata_node.index.templates.metadata import parse_component_template, parse_index_template

    kept_only_here = parse_index_template({"index_patterns": ["local-*"]})
    metadata = msgspec.structs.replace(
        ClusterStateContent().metadata, index_templates={"local": kept_only_here, "shared": kept_only_here},
        component_templates={"local-c": parse_component_template({"template": {}})})
    content = msgspec.structs.replace(ClusterStateContent(), metadata=metadata)
    snapshot = {"index_templates": {"shared": msgspec.to_builtins(parse_index_template(
        {"index_patterns": ["snap-*"]}))}, "component_templates": {}}
    after = restore_global_state(content, snapshot)
    assert list(after.metadata.index_templates) == ["shared"]
    assert after.metadata.index_templates["shared"].index_patterns == ("snap-*",)
    assert after.metadata.component_templates == {}


def test_restoring_the_global_state_marks_reserved_state_for_the_file_to_be_applied_again():
    from strata_node.reservedstate.metadata import RESTORED_VERSION, ReservedStateMetadata

    reserved = ReservedStateMetadata("file_settings", 7, {"cluster_settings": ("action.auto_create_index",)})
    metadata = msgspec.structs.replace(ClusterStateContent().metadata,
                                       reserved_state={"file_settings": reserved},
                                       persistent_settings={"action.auto_create_index": "false"})
    after = restore_global_state(msgspec.structs.replace(ClusterStateContent(), metadata=metadata),
                                 {"persistent_settings": {}})
    assert after.metadata.reserved_state["file_settings"].version == RESTORED_VERSION
    assert after.metadata.reserved_state["file_settings"].handlers == reserved.handlers


def test_a_restored_setting_this_node_does_not_know_is_archived():
    after = restore_global_state(ClusterStateContent(), {"persistent_settings": {"plugin.gone": "1"}})
    assert after.metadata.persistent_settings == {"archived.plugin.gone": "1"}


# -- which snapshots a get asks for and what status says ---------------------------------------------


COMMITTED = ["snap1", "snap2", "other"]


@pytest.mark.parametrize(("patterns", "expected"), [
    (["*", "-snap1"], {"snap2", "other", "run1", "run2"}), (["snap*", "-nope"], {"snap1", "snap2"}),
    (["_current", "-run1"], {"run2"}), (["*", "-snap*", "-run1"], {"other", "run2"}),
])
def test_a_dash_after_a_wildcard_excludes_and_need_not_name_a_snapshot(patterns, expected):
    assert select_snapshots(patterns, COMMITTED, ["run1", "run2"], "repo", False) == expected


def test_a_dash_before_any_wildcard_names_a_snapshot():
    with pytest.raises(SnapshotMissing, match=r"^\[repo:-snap1\] is missing$"):
        select_snapshots(["-snap1", "*"], COMMITTED, [], "repo", False)


def test_a_snapshot_named_that_is_neither_committed_nor_running_is_missing_unless_ignored():
    with pytest.raises(SnapshotMissing, match=r"^\[repo:nope\] is missing$"):
        select_snapshots(["snap1", "nope"], COMMITTED, [], "repo", False)
    assert select_snapshots(["snap1", "nope"], COMMITTED, [], "repo", True) == {"snap1"}


def test_a_get_selecting_no_snapshot_is_missing_unless_ignored_or_of_current_ones_only():
    with pytest.raises(SnapshotMissing, match=r"^\[repo:no\*\] is missing$"):
        select_snapshots(["no*"], COMMITTED, [], "repo", False)
    assert select_snapshots(["no*"], COMMITTED, [], "repo", True) == set()
    assert select_snapshots(["_current"], COMMITTED, [], "repo", False) == set()


def test_a_running_snapshot_a_deletion_aborted_has_the_status_aborted():
    running = entry(logs_0={"state": "INIT", "node": "n1"})
    assert running_status(running)["state"] == "STARTED"
    aborted = in_progress.find(in_progress.abort(in_progress.add(ClusterStateContent(), running), "u1"), "u1")
    assert running_status(aborted)["state"] == "ABORTED"


# -- rates ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_rate_limiter_paces_bytes_to_its_rate_and_idle_time_earns_no_burst():
    clock = FakeClock()
    limiter = RateLimiter(1024 * 1024, clock)
    waits = [pace([limiter], 512 * 1024, sleep=clock.sleep) for _ in range(4)]
    assert waits == [0.5, 0.5, 0.5, 0.5] and clock.now == 2.0  # 2mb at 1mb/s
    clock.now += 60  # idle
    assert pace([limiter], 1024 * 1024, sleep=clock.sleep) == 0.0  # one chunk, not a minute's worth
    assert pace([limiter], 1024 * 1024, sleep=clock.sleep) == 1.0
    assert limiter.paused == 3.0


def test_a_writer_slower_than_the_rate_is_never_held_back():
    clock = FakeClock()
    limiter = RateLimiter(1024 * 1024, clock)
    limiter.reserve(1024 * 1024)
    clock.now += 2.0  # the write took longer than its second
    assert limiter.reserve(1024 * 1024) == 0.0


def test_several_limiters_hold_a_writer_to_the_slowest():
    clock = FakeClock()
    fast, slow = RateLimiter(4 * 1024 * 1024, clock), RateLimiter(1024 * 1024, clock)
    assert pace([fast, slow], 1024 * 1024, sleep=clock.sleep) == 1.0 and clock.now == 1.0


def test_an_unlimited_rate_never_waits():
    clock = FakeClock()
    assert pace([RateLimiter(0, clock)], 10**9, sleep=clock.sleep) == 0.0 and clock.now == 0.0


def test_a_new_rate_applies_to_the_limiter_copies_already_hold():
    throttles = Throttles()
    held = throttles.repository("r", {"max_snapshot_bytes_per_sec": "1mb"}, SNAPSHOT_RATE)
    assert throttles.repository("r", {"max_snapshot_bytes_per_sec": "2mb"}, SNAPSHOT_RATE) is held
    assert held.rate == 2 * 1024 * 1024


@pytest.mark.parametrize(("settings", "rate"), [
    ({}, 40 * 1024 * 1024), ({"max_snapshot_bytes_per_sec": "-1"}, 0),
    ({"max_snapshot_bytes_per_sec": "0"}, 0), ({"max_snapshot_bytes_per_sec": "10mb"}, 10 * 1024 * 1024),
])
def test_the_snapshot_rate_defaults_to_40mb_and_0_or_minus_1_lift_it(settings, rate):
    assert rate_of(settings, SNAPSHOT_RATE) == rate
    assert rate_of({}, RESTORE_RATE) == 0


def test_a_rate_that_is_no_size_is_refused_when_the_repository_is_registered():
    with pytest.raises(RepositoryError, match=r"failed to parse setting \[max_restore_bytes_per_sec\]"):
        repository.parse_definition("r", {"type": "fs", "settings": {"max_restore_bytes_per_sec": "fast"}})


def test_an_aborted_snapshot_is_marked_once_and_known_to_every_node():
    running = in_progress.add(ClusterStateContent(), entry(logs_0={"state": "INIT", "node": "n1"}))
    assert in_progress.aborted(running) == set()
    aborted = in_progress.abort(running, "u1")
    assert in_progress.find(aborted, "u1")["state"] == "ABORTED"
    assert in_progress.aborted(aborted) == {"u1"}
    assert in_progress.abort(aborted, "u1") is aborted  # already: no new state
    assert in_progress.abort(running, "other") is running


def test_a_wait_for_the_rate_gives_up_when_interrupted():
    clock = FakeClock()
    limiter = RateLimiter(1024, clock)

    def interrupt() -> None:
        if clock.now >= 1.0:
            raise InterruptedError("aborted")
    with pytest.raises(InterruptedError):
        pace([limiter], 10 * 1024, interrupt, sleep=clock.sleep)  # a 10s wait
    assert clock.now == 1.0


def test_cat_snapshots_shows_a_running_snapshot_for_as_long_as_it_has_run():
    """RestSnapshotAction: an IN_PROGRESS snapshot's duration is now - start; a finished
    one's, end - start."""
    running = {"state": "IN_PROGRESS", "start_time_in_millis": 1_000, "end_time_in_millis": 0}
    assert duration_millis(running, now_ms=91_000) == 90_000
    done = {"state": "SUCCESS", "start_time_in_millis": 1_000, "end_time_in_millis": 4_500}
    assert duration_millis(done, now_ms=91_000) == 3_500
