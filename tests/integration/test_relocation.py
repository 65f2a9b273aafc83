"""Moving started shards between real node processes: a primary moved while it is written
to loses and duplicates nothing, an exclude filter drains a node, and the node shutdown
API drains a node for removal and reports its progress as Elasticsearch does."""

from __future__ import annotations

import threading
import time

import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import LocalCluster
from tests.support.writer import Writer

NODES = ["m0", "m1", "m2"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("relocation"), NODES).start()
    yield cluster
    cluster.stop()


def es(cluster: LocalCluster) -> Elasticsearch:
    return Elasticsearch(cluster.nodes[0].url, request_timeout=60)


def ids_by_name(cluster: LocalCluster) -> dict[str, str]:
    nodes = es(cluster).cluster.state(metric="nodes")["nodes"]
    return {node["name"]: node_id for node_id, node in nodes.items()}


def copies(cluster: LocalCluster, index: str) -> list[dict]:
    state = es(cluster).cluster.state(metric="routing_table", index=index)
    return [c for cs in state["routing_table"]["indices"][index]["shards"].values() for c in cs]


def settled(cluster: LocalCluster, index: str) -> None:
    health = es(cluster).cluster.health(index=index, wait_for_status="green",
                                        wait_for_no_relocating_shards=True, timeout="90s")
    assert health["status"] == "green" and health["relocating_shards"] == 0, health


def test_a_primary_moved_under_write_load_loses_and_duplicates_nothing(cluster):
    client = es(cluster)
    client.indices.create(index="moving", settings={"number_of_shards": 1, "number_of_replicas": 1})
    settled(cluster, "moving")
    names = {v: k for k, v in ids_by_name(cluster).items()}
    primary = next(c for c in copies(cluster, "moving") if c["primary"])
    holding = {c["node"] for c in copies(cluster, "moving")}
    free = next(n for n in ids_by_name(cluster).values() if n not in holding)
    writer = Writer(cluster, "moving", seed=3)
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        time.sleep(0.5)
        answer = client.cluster.reroute(commands=[{"move": {"index": "moving", "shard": 0,
                                                            "from_node": primary["node"], "to_node": free}}])
        assert answer["acknowledged"] is True
        settled(cluster, "moving")
        time.sleep(0.5)
    finally:
        writer.stop.set()
        thread.join(60)
    after = copies(cluster, "moving")
    assert next(c for c in after if c["primary"])["node"] == free, names
    assert primary["node"] not in {c["node"] for c in after}
    certain = {i: v for i, v in writer.acked.items() if i not in writer.uncertain}
    assert certain and writer.requests > 0
    for copy in after:  # every copy has every acknowledged write, once, at its version
        only = f"_only_nodes:{copy['node']}"
        docs = client.mget(index="moving", ids=sorted(certain), preference=only)["docs"]
        for doc in docs:
            result, version = certain[doc["_id"]]
            assert doc["found"] == (result not in ("deleted", "not_found")), (doc, result)
            if doc["found"]:
                assert doc["_version"] == version
    client.indices.refresh(index="moving")  # the count reads the last refresh; exists is real time
    count = client.count(index="moving")["count"]
    assert count == len({d for d in (f"w{n}" for n in range(300))
                         if client.exists(index="moving", id=d)})


def test_an_exclude_filter_drains_a_node(cluster):
    client = es(cluster)
    client.indices.create(index="drained", settings={"number_of_shards": 3, "number_of_replicas": 0})
    settled(cluster, "drained")
    client.bulk(operations=[op for n in range(60) for op in ({"index": {"_index": "drained", "_id": str(n)}},
                                                             {"n": n})], refresh=True)
    client.cluster.put_settings(transient={"cluster.routing.allocation.exclude._name": "m2"})
    try:
        settled(cluster, "drained")
        assert ids_by_name(cluster)["m2"] not in {c["node"] for c in copies(cluster, "drained")}
        assert client.count(index="drained")["count"] == 60
    finally:
        client.cluster.put_settings(transient={"cluster.routing.allocation.exclude._name": None})


def test_a_node_shut_down_for_removal_is_drained_and_reported_complete(cluster):
    client = es(cluster)
    client.indices.create(index="leaving", settings={"number_of_shards": 2, "number_of_replicas": 1})
    settled(cluster, "leaving")
    target = ids_by_name(cluster)["m1"]
    with cluster.nodes[0].client() as c:
        put = c.put(f"/_nodes/{target}/shutdown", json={"type": "remove", "reason": "scaling down"})
        assert put.json() == {"acknowledged": True}
        deadline = time.monotonic() + 60
        while True:
            [status] = c.get(f"/_nodes/{target}/shutdown").json()["nodes"]
            if status["status"] == "COMPLETE" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status["type"] == "REMOVE" and status["reason"] == "scaling down"
        assert status["status"] == "COMPLETE", status
        assert status["shard_migration"] == {"status": "COMPLETE", "shard_migrations_remaining": 0}
        assert target not in {cp["node"] for cp in copies(cluster, "leaving")}
        settled(cluster, "leaving")
        # nothing new lands there meanwhile
        client.indices.create(index="after-marker", settings={"number_of_shards": 2, "number_of_replicas": 0})
        settled(cluster, "after-marker")
        assert target not in {cp["node"] for cp in copies(cluster, "after-marker")}
        assert c.delete(f"/_nodes/{target}/shutdown").json() == {"acknowledged": True}
        assert c.get("/_nodes/shutdown").json() == {"nodes": []}


def test_a_removal_with_nowhere_to_move_reports_stalled_and_a_restart_reports_complete(cluster):
    client = es(cluster)
    client.indices.create(index="everywhere", settings={"number_of_shards": 1, "number_of_replicas": 2})
    settled(cluster, "everywhere")
    ids = ids_by_name(cluster)
    with cluster.nodes[0].client() as c:
        c.put(f"/_nodes/{ids['m2']}/shutdown", json={"type": "remove", "reason": "r"}).raise_for_status()
        c.put(f"/_nodes/{ids['m1']}/shutdown", json={"type": "restart", "reason": "upgrade",
                                                      "allocation_delay": "10m"}).raise_for_status()
        try:
            statuses = {s["node_id"]: s for s in c.get("/_nodes/shutdown").json()["nodes"]}
            stalled = statuses[ids["m2"]]
            assert stalled["status"] == "STALLED"
            assert stalled["shard_migration"]["shard_migrations_remaining"] >= 1
            assert "cannot move" in stalled["shard_migration"]["explanation"]
            restart = statuses[ids["m1"]]
            assert (restart["status"], restart["type"]) == ("COMPLETE", "RESTART")
            assert restart["allocation_delay"] == "10m"
            refused = c.put(f"/_nodes/{ids['m0']}/shutdown", json={"type": "remove", "reason": "r",
                                                                    "allocation_delay": "1m"})
            assert refused.status_code == 400
            assert "[allocation_delay] is only allowed for RESTART-type shutdown requests" in refused.text
        finally:
            for node in ("m1", "m2"):
                c.delete(f"/_nodes/{ids[node]}/shutdown").raise_for_status()
