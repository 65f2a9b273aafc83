"""Snapshots to an `fs` repository and restores from it, on three real node processes
sharing one `path.repo`, through elasticsearch-py as an application would call them."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from elasticsearch import ApiError, Elasticsearch, helpers

from tests.support.cluster import LocalCluster
from tests.support.polling import wait_until

NODES = ["s0", "s1", "s2"]


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory):
    return tmp_path_factory.mktemp("repos")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, repo_root):
    cluster = LocalCluster(tmp_path_factory.mktemp("snapshots"), NODES, f"path.repo={repo_root}").start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def es(cluster):
    client = Elasticsearch(cluster.nodes[0].url, request_timeout=60)
    yield client
    client.close()


@pytest.fixture
def repo(es, request):
    name = request.node.name.lower().replace("_", "-")[:60]
    es.snapshot.create_repository(name=name, repository={"type": "fs", "settings": {"location": name}})
    return name


def index_docs(es: Elasticsearch, index: str, count: int, start: int = 0, shards: int = 2,
               replicas: int = 1) -> None:
    if not es.indices.exists(index=index):
        es.indices.create(index=index, settings={"number_of_shards": shards, "number_of_replicas": replicas})
    helpers.bulk(es, ({"_index": index, "_id": str(i), "n": i, "text": f"document number {i}"}
                      for i in range(start, start + count)), refresh=True)


def green(es: Elasticsearch, index: str) -> None:
    health = es.cluster.health(index=index, wait_for_status="green", timeout="60s")
    assert health["status"] == "green", health


def all_docs(es: Elasticsearch, index: str) -> dict[str, dict]:
    hits = es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def test_a_deleted_index_comes_back_whole_from_its_snapshot(es, repo):
    index_docs(es, "logs-a", 300)
    green(es, "logs-a")
    before = all_docs(es, "logs-a")
    taken = es.snapshot.create(repository=repo, snapshot="snap-1", indices="logs-a", wait_for_completion=True)
    assert taken["snapshot"]["state"] == "SUCCESS"
    assert taken["snapshot"]["shards"] == {"total": 2, "failed": 0, "successful": 2}
    assert taken["snapshot"]["indices"] == ["logs-a"]
    es.indices.delete(index="logs-a")

    restored = es.snapshot.restore(repository=repo, snapshot="snap-1", wait_for_completion=True)
    assert restored["snapshot"] == {"snapshot": "snap-1", "indices": ["logs-a"],
                                    "shards": {"total": 2, "failed": 0, "successful": 2}}
    green(es, "logs-a")  # the replicas recovered from the restored primaries
    assert all_docs(es, "logs-a") == before
    assert es.count(index="logs-a", query={"match": {"text": "number"}})["count"] == 300
    # The restored index takes writes and continues its sequence numbers.
    written = es.index(index="logs-a", id="new", document={"n": -1}, refresh=True)
    assert written["_seq_no"] >= 150
    assert es.count(index="logs-a")["count"] == 301


def test_a_restored_primary_shows_a_snapshot_recovery(es, repo):
    index_docs(es, "logs-rec", 20, shards=1, replicas=0)
    es.snapshot.create(repository=repo, snapshot="s", wait_for_completion=True, indices="logs-rec")
    es.indices.delete(index="logs-rec")
    es.snapshot.restore(repository=repo, snapshot="s", wait_for_completion=True)
    shard = es.indices.recovery(index="logs-rec")["logs-rec"]["shards"][0]
    assert shard["type"] == "SNAPSHOT" and shard["stage"] == "DONE"
    assert shard["source"]["repository"] == repo and shard["source"]["snapshot"] == "s"
    assert shard["index"]["files"]["recovered"] == shard["index"]["files"]["total"] > 0


def shard_files(repo_root, repo: str, snapshot_uuid: str) -> dict[str, str]:
    """Physical file name -> blob, over the shards of one snapshot in the repository."""
    files = {}
    for shard_blob in (repo_root / repo / "indices").glob(f"*/*/snap-{snapshot_uuid}.dat"):
        shard = shard_blob.parent.name
        files.update({f"{shard}/{f['physical_name']}": f["name"]
                      for f in orjson.loads(shard_blob.read_bytes())["files"]})
    return files


def table_files(cluster) -> set[str]:
    """Every LevelDB table file of every node, by path."""
    return {str(p) for node in cluster.nodes for p in node.data.glob("indices/*/*/index/*.ldb")}


def compaction_settled(cluster) -> bool:
    """No table file written or compacted away over half a second (LevelDB compacts in
    the background after a flush, which would give the next snapshot new files)."""
    before = table_files(cluster)
    time.sleep(0.5)
    return table_files(cluster) == before


def test_a_second_snapshot_of_an_unchanged_index_copies_no_table_file(es, cluster, repo, repo_root):
    index_docs(es, "logs-b", 200)
    es.indices.flush(index="logs-b")
    wait_until(lambda: compaction_settled(cluster))
    first = es.snapshot.create(repository=repo, snapshot="first", indices="logs-b",
                               wait_for_completion=True)["snapshot"]["uuid"]
    second = es.snapshot.create(repository=repo, snapshot="second", indices="logs-b",
                                wait_for_completion=True)["snapshot"]["uuid"]
    old, new = shard_files(repo_root, repo, first), shard_files(repo_root, repo, second)
    tables = [name for name in new if name.endswith(".ldb")]
    assert tables and all(new[name] == old[name] for name in tables)  # the same blobs, not copies
    status = {s["snapshot"]: s
              for s in es.snapshot.status(repository=repo, snapshot="first,second")["snapshots"]}
    # Only each shard's MANIFEST (LevelDB appends to it) is new.
    assert status["second"]["stats"]["incremental"]["file_count"] <= 2
    assert (status["second"]["stats"]["incremental"]["file_count"]
            < status["first"]["stats"]["incremental"]["file_count"])
    assert status["second"]["shards_stats"]["done"] == 2


def test_deleting_a_snapshot_keeps_what_the_others_still_use(es, repo, repo_root):
    index_docs(es, "logs-c", 100)
    es.snapshot.create(repository=repo, snapshot="old", indices="logs-c", wait_for_completion=True)
    index_docs(es, "logs-c", 100, start=100)
    es.snapshot.create(repository=repo, snapshot="new", indices="logs-c", wait_for_completion=True)
    before = sum(1 for _ in (repo_root / repo).rglob("__*"))
    assert es.snapshot.delete(repository=repo, snapshot="old")["acknowledged"] is True
    after = sum(1 for _ in (repo_root / repo).rglob("__*"))
    assert after < before  # the blobs only "old" used are gone
    assert [s["snapshot"] for s in es.snapshot.get(repository=repo, snapshot="_all")["snapshots"]] == ["new"]
    assert es.snapshot.cleanup_repository(name=repo)["results"] == {"deleted_bytes": 0, "deleted_blobs": 0}
    es.indices.delete(index="logs-c")
    es.snapshot.restore(repository=repo, snapshot="new", wait_for_completion=True)
    assert es.count(index="logs-c")["count"] == 200


def test_a_restore_under_a_new_name_leaves_the_original_alone(es, repo):
    index_docs(es, "logs-d", 50)
    es.snapshot.create(repository=repo, snapshot="s", indices="logs-d", wait_for_completion=True)
    es.index(index="logs-d", id="later", document={"n": 1000}, refresh=True)
    with pytest.raises(ApiError) as refused:
        es.snapshot.restore(repository=repo, snapshot="s", wait_for_completion=True)
    assert refused.value.meta.status == 500
    assert refused.value.body["error"]["type"] == "snapshot_restore_exception"
    assert "an open index with same name already exists" in refused.value.body["error"]["reason"]
    es.snapshot.restore(repository=repo, snapshot="s", wait_for_completion=True, rename_pattern="logs-(.+)",
                        rename_replacement="restored-$1", index_settings={"index.number_of_replicas": 0})
    assert es.count(index="restored-d")["count"] == 50
    assert es.count(index="logs-d")["count"] == 51
    settings = es.indices.get_settings(index="restored-d")["restored-d"]["settings"]["index"]
    assert settings["number_of_replicas"] == "0" and settings["number_of_shards"] == "2"


def test_snapshots_list_in_start_order_and_filter_by_name(es, repo):
    index_docs(es, "logs-e", 5, shards=1, replicas=0)
    for name in ("b-snap", "a-snap", "c-other"):
        es.snapshot.create(repository=repo, snapshot=name, indices="logs-e", wait_for_completion=True,
                           metadata={"taken_by": "test"} if name == "a-snap" else None)
    listed = es.snapshot.get(repository=repo, snapshot="*")
    assert [s["snapshot"] for s in listed["snapshots"]] == ["b-snap", "a-snap", "c-other"]
    assert listed["total"] == 3 and listed["remaining"] == 0
    # After a wildcard, a leading `-` excludes, and need not name a snapshot.
    excluded = es.snapshot.get(repository=repo, snapshot="*,-b-snap,-never")["snapshots"]
    assert [s["snapshot"] for s in excluded] == ["a-snap", "c-other"]
    by_name = es.snapshot.get(repository=repo, snapshot="*-snap", sort="name")["snapshots"]
    assert [s["snapshot"] for s in by_name] == ["a-snap", "b-snap"]
    assert by_name[0]["metadata"] == {"taken_by": "test"}
    brief = es.snapshot.get(repository=repo, snapshot="a-snap", verbose=False)["snapshots"][0]
    assert set(brief) == {"snapshot", "uuid", "repository", "indices", "data_streams", "state"}


def test_a_snapshot_without_a_started_primary_is_refused_unless_partial(es, repo):
    es.indices.create(index="logs-nowhere", settings={"number_of_shards": 1, "number_of_replicas": 0,
                                                      "index.routing.allocation.require._name": "absent"},
                      wait_for_active_shards="0")
    index_docs(es, "logs-f", 10, shards=1, replicas=0)
    with pytest.raises(ApiError) as refused:
        es.snapshot.create(repository=repo, snapshot="s", indices="logs-nowhere,logs-f",
                           wait_for_completion=True)
    assert refused.value.body["error"]["type"] == "snapshot_exception"
    assert "Indices don't have primary shards [logs-nowhere]" in refused.value.body["error"]["reason"]
    taken = es.snapshot.create(repository=repo, snapshot="s", indices="logs-nowhere,logs-f", partial=True,
                               wait_for_completion=True)["snapshot"]
    assert taken["state"] == "PARTIAL"
    assert taken["shards"] == {"total": 2, "failed": 1, "successful": 1}
    # `_status` has no PARTIAL: a finished snapshot is SUCCESS unless every shard failed.
    assert es.snapshot.status(repository=repo, snapshot="s")["snapshots"][0]["state"] == "SUCCESS"
    assert taken["failures"][0]["index"] == "logs-nowhere"
    failed = es.snapshot.create(repository=repo, snapshot="none", indices="logs-nowhere", partial=True,
                                wait_for_completion=True)["snapshot"]
    assert failed["state"] == "FAILED"
    es.indices.delete(index="logs-nowhere")

    with pytest.raises(ApiError) as unrestorable:
        es.snapshot.restore(repository=repo, snapshot="none", wait_for_completion=True)
    assert unrestorable.value.body["error"]["type"] == "snapshot_restore_exception"
    assert "unsupported snapshot state [FAILED]" in unrestorable.value.body["error"]["reason"]
    with pytest.raises(ApiError) as not_partial:
        es.snapshot.restore(repository=repo, snapshot="s", indices="logs-nowhere", wait_for_completion=True)
    assert "index [logs-nowhere] wasn't fully snapshotted - cannot restore" in \
        not_partial.value.body["error"]["reason"]
    # A partial restore starts the shard the snapshot failed empty, and counts it failed.
    restored = es.snapshot.restore(repository=repo, snapshot="s", indices="logs-nowhere", partial=True,
                                   wait_for_completion=True,
                                   ignore_index_settings=["index.routing.allocation.require._name"])
    assert restored["snapshot"]["shards"] == {"total": 1, "failed": 1, "successful": 0}
    health = es.cluster.health(index="logs-nowhere", wait_for_status="green", timeout="30s")
    assert health["status"] == "green"
    assert es.count(index="logs-nowhere")["count"] == 0
    assert es.indices.recovery(index="logs-nowhere")["logs-nowhere"]["shards"][0]["type"] == "EMPTY_STORE"
    es.indices.delete(index="logs-nowhere")


def test_repository_and_snapshot_errors_are_elasticsearch_shaped(es, cluster, repo):
    def error(call) -> tuple[int, str, str]:
        with pytest.raises(ApiError) as e:
            call()
        return e.value.meta.status, e.value.body["error"]["type"], e.value.body["error"]["reason"]

    assert error(lambda: es.snapshot.get_repository(name="nope")) == \
        (404, "repository_missing_exception", "[nope] missing")
    status, kind, reason = error(lambda: es.snapshot.create_repository(
        name="outside", repository={"type": "fs", "settings": {"location": "/etc"}}))
    assert (status, kind) == (500, "repository_exception")
    assert "doesn't match any of the locations specified by path.repo" in reason
    assert error(lambda: es.snapshot.create_repository(
        name="x", repository={"type": "hdfs", "settings": {}}))[2] \
        == "[x] repository type [hdfs] does not exist"
    assert error(lambda: es.snapshot.create(repository=repo, snapshot="Upper")) == \
        (400, "invalid_snapshot_name_exception",
         f"[{repo}:Upper] Invalid snapshot name [Upper], must be lowercase")
    index_docs(es, "logs-g", 3, shards=1, replicas=0)
    es.snapshot.create(repository=repo, snapshot="once", indices="logs-g", wait_for_completion=True)
    assert error(lambda: es.snapshot.create(repository=repo, snapshot="once"))[:2] == \
        (400, "invalid_snapshot_name_exception")
    assert error(lambda: es.snapshot.get(repository=repo, snapshot="never")) == \
        (404, "snapshot_missing_exception", f"[{repo}:never] is missing")
    assert es.snapshot.get(repository=repo, snapshot="never", ignore_unavailable=True)["snapshots"] == []
    assert error(lambda: es.snapshot.delete(repository=repo, snapshot="never"))[:2] == \
        (404, "snapshot_missing_exception")
    assert error(lambda: es.snapshot.restore(repository=repo, snapshot="once", indices="logs-zzz")) == \
        (404, "index_not_found_exception", "no such index [logs-zzz]")
    # A leading exclusion starts from every index of the snapshot: here, none is left to restore.
    assert es.snapshot.restore(repository=repo, snapshot="once", indices="-logs-g",
                               wait_for_completion=True)["snapshot"]["indices"] == []
    with cluster.nodes[1].client() as http:
        unknown = http.post(f"/_snapshot/{repo}/other", json={"indices": "logs-g", "colour": "red"})
        assert unknown.status_code == 400, unknown.text
        assert unknown.json()["error"]["reason"] == "Unknown parameter colour"
        bad_json = http.post(f"/_snapshot/{repo}/other", content=b"{not json",
                             headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400
        assert http.get(f"/_snapshot/{repo}/_all").json()["total"] == 1  # nothing half-made
        # The body is read before the name is checked, so a bad body is the client's 400 whatever the name.
        bad_body_bad_name = http.put("/_snapshot/star*name", content=b"0",
                                     headers={"Content-Type": "application/json"})
        assert (bad_body_bad_name.status_code, bad_body_bad_name.json()["error"]["type"]) == \
            (400, "parse_exception")


def test_a_repository_is_verified_on_every_node(es, repo):
    verified = es.snapshot.verify_repository(name=repo)
    assert sorted(n["name"] for n in verified["nodes"].values()) == NODES
    assert es.snapshot.get_repository(name=repo)[repo] == {"type": "fs", "settings": {"location": repo}}
    es.snapshot.delete_repository(name=repo)
    with pytest.raises(ApiError):
        es.snapshot.get_repository(name=repo)


def test_snapshots_survive_a_kill_of_every_node(cluster, es, repo):
    index_docs(es, "logs-h", 40)
    es.snapshot.create(repository=repo, snapshot="durable", indices="logs-h", wait_for_completion=True)
    es.indices.delete(index="logs-h")
    for node in cluster.nodes:
        node.kill()
    for node in cluster.nodes:
        node.start()
    cluster.wait_for_nodes(len(NODES))
    client = Elasticsearch(cluster.nodes[2].url, request_timeout=60)
    wait_until(lambda: repo in client.snapshot.get_repository(name="_all"), timeout=30)
    assert [s["snapshot"]
            for s in client.snapshot.get(repository=repo, snapshot="_all")["snapshots"]] == ["durable"]
    client.snapshot.restore(repository=repo, snapshot="durable", wait_for_completion=True)
    green(client, "logs-h")
    assert client.count(index="logs-h")["count"] == 40


def test_cat_lists_repositories_and_snapshots(es, repo):
    index_docs(es, "logs-cat", 5, shards=1, replicas=0)
    es.snapshot.create(repository=repo, snapshot="cat-1", indices="logs-cat", wait_for_completion=True)
    repositories = es.cat.repositories(format="json").body
    assert {"id": repo, "type": "fs"} in repositories
    rows = es.cat.snapshots(repository=repo, format="json").body
    assert [(r["id"], r["repository"], r["status"], r["indices"], r["successful_shards"], r["failed_shards"],
             r["total_shards"]) for r in rows] == [("cat-1", repo, "SUCCESS", "1", "1", "0", "1")]
    assert int(rows[0]["end_epoch"]) >= int(rows[0]["start_epoch"]) > 0
    assert len(rows[0]["start_time"]) == 8  # HH:MM:SS
    text = es.cat.snapshots(repository=repo, v=True, h="id,status").body
    assert text.splitlines() == ["id    status", "cat-1 SUCCESS"]


def test_a_get_of_several_repositories_reports_one_it_cannot_read_and_answers_with_the_others(
        es, cluster, repo_root):
    index_docs(es, "logs-two", 1, shards=1, replicas=0)
    for name in ("readable", "unreadable"):
        es.snapshot.create_repository(name=name, repository={"type": "fs", "settings": {"location": name}})
        es.snapshot.create(repository=name, snapshot=f"{name}-1", indices="logs-two",
                           wait_for_completion=True)
    root = repo_root / "unreadable" / "index-0"
    committed = root.read_bytes()
    root.write_bytes(b"{unreadable")
    try:
        answer = es.snapshot.get(repository="readable,unreadable", snapshot="_all")
        assert [s["snapshot"] for s in answer["snapshots"]] == ["readable-1"]
        assert list(answer["failures"]) == ["unreadable"]
        assert answer["failures"]["unreadable"]["type"] == "repository_exception"
        assert "could not read repository data" in answer["failures"]["unreadable"]["reason"]
        with cluster.nodes[1].client() as http:  # a table cannot show what is missing: it fails
            table = http.get("/_cat/snapshots")
        assert table.status_code == 500, table.text
        assert table.json()["error"]["reason"] == "Repositories [unreadable] failed to retrieve snapshots"
        assert table.json()["error"]["root_cause"][0]["type"] == "repository_exception"
    finally:
        root.write_bytes(committed)
    for name in ("readable", "unreadable"):
        es.snapshot.delete_repository(name=name)
    es.indices.delete(index="logs-two")


def test_a_restore_is_held_to_the_repository_rate_and_says_how_long(es):
    rate = 512 * 1024
    es.snapshot.create_repository(name="slow", repository={"type": "fs", "settings": {
        "location": "slow", "max_restore_bytes_per_sec": "512kb", "max_snapshot_bytes_per_sec": "-1"}})
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    es.indices.create(index="logs-slow", settings={"number_of_shards": 1, "number_of_replicas": 0},
                      mappings={"properties": {"pad": stored_only}})
    helpers.bulk(es, ({"_index": "logs-slow", "_id": str(i), "pad": secrets.token_urlsafe(900)}
                      for i in range(2500)), refresh=True)  # ~2.5mb that compresses little
    es.indices.flush(index="logs-slow")
    es.snapshot.create(repository="slow", snapshot="s", indices="logs-slow", wait_for_completion=True)
    es.indices.delete(index="logs-slow")
    es.snapshot.restore(repository="slow", snapshot="s", wait_for_completion=True)
    shard = es.indices.recovery(index="logs-slow")["logs-slow"]["shards"][0]
    size = shard["index"]["size"]["total_in_bytes"]
    assert 2 * 1024 * 1024 < size < 8 * 1024 * 1024, size  # several chunks
    # The first chunk (1mb) may pass at once, when the limiter has been idle.
    held_back = 1000 * ((size - 1024 * 1024) / rate - 1)
    assert shard["index"]["target_throttle_time_in_millis"] >= held_back
    assert es.count(index="logs-slow")["count"] == 2500

    # Without a rate of its own, a restore still keeps to recoveries'.
    es.snapshot.create_repository(name="slow", repository={"type": "fs", "settings": {"location": "slow"}})
    es.indices.delete(index="logs-slow")
    es.cluster.put_settings(persistent={"indices.recovery.max_bytes_per_sec": "512kb"})
    try:
        es.snapshot.restore(repository="slow", snapshot="s", wait_for_completion=True)
    finally:
        es.cluster.put_settings(persistent={"indices.recovery.max_bytes_per_sec": None})
    shard = es.indices.recovery(index="logs-slow")["logs-slow"]["shards"][0]
    assert shard["index"]["target_throttle_time_in_millis"] >= held_back
    es.indices.delete(index="logs-slow")


def shard_copy_throttled(es: Elasticsearch) -> bool:
    """A shard's copy into a repository waits for the repository's rate. (A copy's task
    shows no status until it has opened the repository.)"""
    nodes = es.tasks.list(actions="internal:cluster/snapshot/shard", detailed=True)["nodes"]
    return any(t.get("status", {}).get("throttle_time_in_millis", 0) > 0
               for n in nodes.values() for t in n["tasks"].values())


@pytest.mark.filterwarnings("ignore:This API is in technical preview")  # the tasks API, to the client
def test_deleting_a_running_snapshot_aborts_it_and_removes_what_it_wrote(es, repo_root):
    es.snapshot.create_repository(name="aborting", repository={"type": "fs", "settings": {
        "location": "aborting", "max_snapshot_bytes_per_sec": "64kb"}})  # slow enough to catch it running
    index_docs(es, "logs-abort", 3000, shards=1, replicas=0)
    es.indices.flush(index="logs-abort")
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(es.snapshot.create, repository="aborting", snapshot="long",
                              indices="logs-abort", wait_for_completion=True)
        wait_until(lambda: es.snapshot.status(repository="aborting")["snapshots"], timeout=30)
        wait_until(lambda: shard_copy_throttled(es), timeout=30)
        [running] = es.cat.snapshots(repository="aborting", format="json", h="id,status,duration", time="ms")
        assert running["status"] == "IN_PROGRESS" and int(running["duration"]) > 0  # now - start, as ES
        assert es.snapshot.delete(repository="aborting", snapshot="long")["acknowledged"] is True
        with pytest.raises(ApiError) as aborted:
            waiting.result(timeout=60)
    assert "[aborting:long] Snapshot was aborted by deletion" in aborted.value.body["error"]["reason"]
    with pytest.raises(ApiError) as gone:
        es.snapshot.get(repository="aborting", snapshot="long")
    assert gone.value.meta.status == 404
    assert es.snapshot.status()["snapshots"] == []
    assert not list((repo_root / "aborting").rglob("__*"))  # the files it had copied are gone
    assert es.snapshot.cleanup_repository(name="aborting")["results"]["deleted_blobs"] == 0

    # The repository and the index are free again: the same name can be taken anew.
    es.indices.put_settings(index="logs-abort", settings={"index.number_of_replicas": 0})
    es.snapshot.create_repository(name="aborting", repository={"type": "fs", "settings": {
        "location": "aborting", "max_snapshot_bytes_per_sec": "-1"}})
    taken = es.snapshot.create(repository="aborting", snapshot="long", indices="logs-abort",
                               wait_for_completion=True)["snapshot"]
    assert taken["state"] == "SUCCESS"
    es.indices.delete(index="logs-abort")


@pytest.mark.filterwarnings("ignore:This API is in technical preview")  # the tasks API, to the client
def test_a_snapshot_that_fails_to_finalize_is_removed_and_frees_its_repository(es, repo_root):
    es.snapshot.create_repository(name="unfinished", repository={"type": "fs", "settings": {
        "location": "unfinished", "max_snapshot_bytes_per_sec": "64kb"}})  # slow enough to catch it running
    index_docs(es, "logs-small", 1, shards=1, replicas=0)
    es.snapshot.create(repository="unfinished", snapshot="first", indices="logs-small",
                       wait_for_completion=True)
    index_docs(es, "logs-unfinished", 3000, shards=1, replicas=0)
    es.indices.flush(index="logs-unfinished")
    root = repo_root / "unfinished" / "index-0"
    committed = root.read_bytes()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(es.snapshot.create, repository="unfinished", snapshot="second",
                              indices="logs-unfinished", wait_for_completion=True)
        wait_until(lambda: shard_copy_throttled(es), timeout=30)
        root.write_bytes(b"{unreadable")  # what the master reads to finalize it
        with pytest.raises(ApiError) as failed:
            waiting.result(timeout=60)
    assert es.snapshot.status(repository="unfinished")["snapshots"] == []
    assert es.snapshot.get(repository="unfinished", snapshot="_current")["snapshots"] == []
    assert "[unfinished:second] failed to finalize" in failed.value.body["error"]["reason"]

    root.write_bytes(committed)  # readable again: the repository takes deletions, cleanup and changes
    assert es.snapshot.cleanup_repository(name="unfinished")["results"]["deleted_blobs"] > 0
    assert [s["snapshot"] for s in es.snapshot.get(repository="unfinished", snapshot="_all")["snapshots"]] \
        == ["first"]
    es.snapshot.delete(repository="unfinished", snapshot="first")
    es.snapshot.delete_repository(name="unfinished")
    es.indices.delete(index="logs-small,logs-unfinished")
