"""Retention leases, history pruning and the choice between operation-based and file-based
peer recovery, across real node processes: a primary holds a peer-recovery lease per copy
(shown in `GET /{index}/_stats?level=shards`), prunes its history down to them, a copy that
was away briefly replays what it missed, one whose lease expired and whose history was
pruned gets the primary's files, and a promoted replica keeps the leases."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import LocalCluster
from tests.support.polling import ok, wait_until

NODES = ["l0", "l1", "l2"]
SETTINGS = {"number_of_shards": 1, "number_of_replicas": 1,
            "index.soft_deletes.retention_lease.sync_interval": "500ms",
            # Only two nodes: a replica whose node is away comes back there.
            "index.routing.allocation.include._name": "l0,l1",
            "index.unassigned.node_left.delayed_timeout": "5m"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("leases"), NODES).start()
    yield cluster
    cluster.stop()


def client(cluster: LocalCluster) -> Elasticsearch:
    return Elasticsearch(cluster.running()[0].url, request_timeout=60)


def green(cluster: LocalCluster, index: str) -> None:
    health = client(cluster).cluster.health(index=index, wait_for_status="green", timeout="60s",
                                            wait_for_no_relocating_shards=True)
    assert health["status"] == "green", health


def names(cluster: LocalCluster) -> dict[str, str]:
    """Node id -> node name."""
    nodes = client(cluster).cluster.state(metric="nodes")["nodes"]
    return {node_id: node["name"] for node_id, node in nodes.items()}


def shard_stats(cluster: LocalCluster, index: str) -> list[dict]:
    body = ok(cluster.running()[0], "GET", f"/{index}/_stats", params={"level": "shards"})
    return body["indices"][index]["shards"]["0"]


def primary_stats(cluster: LocalCluster, index: str) -> dict:
    return next(s for s in shard_stats(cluster, index) if s["routing"]["primary"])


def lease_ids(stats: dict) -> set[str]:
    return {lease["id"] for lease in stats["retention_leases"]["leases"]}


def update_rounds(es: Elasticsearch, index: str, rounds: int, ids: int = 20) -> None:
    """`rounds` versions of `ids` documents: every version but the last is superseded."""
    for r in range(rounds):
        ops = []
        for i in range(ids):
            ops += [{"index": {"_index": index, "_id": str(i)}}, {"round": r}]
        assert not es.bulk(operations=ops)["errors"]


def node_named(cluster: LocalCluster, name: str):
    return next(n for n in cluster.nodes if n.name == name)


def replica_node(cluster: LocalCluster, index: str):
    state = client(cluster).cluster.state(metric="routing_table", index=index)
    [replica] = [c for c in state["routing_table"]["indices"][index]["shards"]["0"] if not c["primary"]]
    return node_named(cluster, names(cluster)[replica["node"]])


def peer_recovery(cluster: LocalCluster, index: str) -> dict:
    shards = client(cluster).indices.recovery(index=index)[index]["shards"]
    return next(s for s in shards if not s["primary"])


def test_the_primary_holds_a_peer_recovery_lease_for_every_copy_shown_in_shard_stats(cluster):
    es = client(cluster)
    es.indices.create(index="leased", settings=SETTINGS)
    green(cluster, "leased")
    update_rounds(es, "leased", 1)
    nodes = {c["routing"]["node"] for c in shard_stats(cluster, "leased")}
    expected = {f"peer_recovery/{node_id}" for node_id in nodes}
    stats = wait_until(lambda: (s := primary_stats(cluster, "leased")) and lease_ids(s) == expected and s)
    leases = stats["retention_leases"]
    assert leases["primary_term"] == 1 and leases["version"] > 0
    assert {lease["source"] for lease in leases["leases"]} == {"peer recovery"}
    # Renewed as the checkpoints advance: each retains from the global checkpoint + 1.
    wait_until(lambda: {lease["retaining_seq_no"] for lease in
                        primary_stats(cluster, "leased")["retention_leases"]["leases"]} == {20})


def test_the_primarys_history_stays_bounded_under_many_updates(cluster):
    es = client(cluster)
    es.indices.create(index="bounded", settings=SETTINGS)
    green(cluster, "bounded")
    for _ in range(5):
        update_rounds(es, "bounded", 20)
        es.indices.flush(index="bounded")
    assert primary_stats(cluster, "bounded")["indexing"]["index_total"] == 2000
    every_index = ok(cluster.running()[0], "GET", "/_stats", params={"level": "cluster"})
    assert "indices" not in every_index
    assert every_index["_all"]["primaries"]["indexing"]["index_total"] >= 2000
    # 1980 superseded versions were written; once pruned, the history holds the live ones.
    wait_until(lambda: all(s["docs"]["deleted"] == 0 for s in shard_stats(cluster, "bounded")), timeout=30)


def test_a_copy_away_briefly_keeps_its_lease_and_replays_only_what_it_missed(cluster):
    es = client(cluster)
    es.indices.create(index="brief", settings=SETTINGS)
    green(cluster, "brief")
    update_rounds(es, "brief", 5)  # seq_no 0..99
    wait_until(lambda: {lease["retaining_seq_no"] for lease in
                        primary_stats(cluster, "brief")["retention_leases"]["leases"]} == {100})
    victim = replica_node(cluster, "brief")
    victim.kill()
    cluster.wait_for_nodes(2)
    es = client(cluster)
    update_rounds(es, "brief", 3)  # seq_no 100..159, which it misses
    es.indices.flush(index="brief")
    # Its lease retains from 100: of the superseded versions only 100..139 stay.
    wait_until(lambda: primary_stats(cluster, "brief")["docs"]["deleted"] == 40, timeout=30)
    victim.start()
    cluster.wait_for_nodes(3)
    green(cluster, "brief")
    peer = peer_recovery(cluster, "brief")
    assert peer["translog"]["total"] == 60 and peer["index"]["files"]["total"] == 0
    assert peer["index"]["size"]["reused_in_bytes"] > 0
    assert_copies_agree(cluster, "brief", 20)


def test_a_copy_whose_lease_expired_recovers_from_the_primarys_files(cluster):
    es = client(cluster)
    es.indices.create(index="expired", settings={**SETTINGS,
                                                 "index.soft_deletes.retention_lease.period": "1s"})
    green(cluster, "expired")
    update_rounds(es, "expired", 2)
    victim = replica_node(cluster, "expired")
    victim_id = next(i for i, n in names(cluster).items() if n == victim.name)
    victim.kill()
    cluster.wait_for_nodes(2)
    es = client(cluster)
    update_rounds(es, "expired", 50)  # 1000 operations it misses
    es.indices.flush(index="expired")
    # Its lease expires, then the primary prunes what only that lease retained.
    wait_until(lambda: f"peer_recovery/{victim_id}" not in lease_ids(primary_stats(cluster, "expired")))
    wait_until(lambda: primary_stats(cluster, "expired")["docs"]["deleted"] == 0, timeout=30)
    es.cluster.put_settings(transient={"indices.recovery.max_bytes_per_sec": "100kb"})
    try:
        victim.start()
        cluster.wait_for_nodes(3)
        green(cluster, "expired")
    finally:
        es.cluster.put_settings(transient={"indices.recovery.max_bytes_per_sec": None})
    peer = peer_recovery(cluster, "expired")
    files = peer["index"]["files"]
    assert files["total"] > 0 and files["recovered"] == files["total"] and files["reused"] == 0
    size = peer["index"]["size"]["recovered_in_bytes"]
    assert size > 0
    # Held to 100kb/s: the source waited about as long as the bytes take at that rate.
    throttled = peer["index"]["source_throttle_time_in_millis"]
    assert throttled > 0 and throttled >= size / 102_400 * 1000 - 1000, (throttled, size)
    assert peer["translog"]["total"] < 1000  # only what came after the file set
    assert_copies_agree(cluster, "expired", 20)
    rows = es.cat.recovery(index="expired", format="json", h="type,files_total,files_recovered")
    total = str(files["total"])
    assert {"type": "peer", "files_total": total, "files_recovered": total} in rows


def test_a_promoted_primary_keeps_the_retention_leases(cluster):
    es = client(cluster)
    es.indices.create(index="promoted", settings=SETTINGS)
    green(cluster, "promoted")
    update_rounds(es, "promoted", 2)
    before = wait_until(lambda: (s := primary_stats(cluster, "promoted")) and len(lease_ids(s)) == 2 and s)
    stats = shard_stats(cluster, "promoted")
    # The replica has them too once the background sync reached it.
    wait_until(lambda: all(lease_ids(s) == lease_ids(before) for s in shard_stats(cluster, "promoted")))
    old_primary = node_named(cluster, names(cluster)[next(s for s in stats if s["routing"]["primary"])
                                                    ["routing"]["node"]])
    old_primary.kill()
    cluster.wait_for_nodes(2)
    after = wait_until(lambda: (s := primary_stats(cluster, "promoted"))
                       and s["retention_leases"]["primary_term"] == 2 and s, ignore=(StopIteration,))
    # The old primary's node keeps its lease: its copy is unassigned and may come back.
    assert lease_ids(after) == lease_ids(before)
    old_primary.start()
    cluster.wait_for_nodes(3)
    green(cluster, "promoted")


def assert_copies_agree(cluster: LocalCluster, index: str, count: int) -> None:
    es = client(cluster)
    ids = [str(i) for i in range(count)]
    views = []
    for copy in shard_stats(cluster, index):
        docs = es.mget(index=index, ids=ids, preference=f"_only_nodes:{copy['routing']['node']}")["docs"]
        views.append({d["_id"]: (d["_seq_no"], d["_source"]) for d in docs if d["found"]})
    assert len(views) == 2 and views[0] == views[1] and len(views[0]) == count
