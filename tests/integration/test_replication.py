"""Primary-backup replication across real node processes: replicas are placed on other
nodes and recover from their primary, every write reaches every in-sync copy before it
is acknowledged, and losing a node (kill -9) loses no acknowledged write: an in-sync
replica is promoted and the cluster goes green again once the node is back."""

from __future__ import annotations

import random

import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import LocalCluster

NODES = ["r0", "r1", "r2"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("replication"), NODES).start()
    yield cluster
    cluster.stop()


def es(cluster: LocalCluster, name: str) -> Elasticsearch:
    return Elasticsearch(cluster.node(name).url, request_timeout=60)


def any_running(cluster: LocalCluster) -> Elasticsearch:
    return Elasticsearch(cluster.running()[0].url, request_timeout=60)


def copies(cluster: LocalCluster, index: str) -> dict[int, list[dict]]:
    state = any_running(cluster).cluster.state(metric="routing_table", index=index)
    return {int(n): c for n, c in state["routing_table"]["indices"][index]["shards"].items()}


def node_ids(cluster: LocalCluster) -> dict[str, str]:
    nodes = any_running(cluster).cluster.state(metric="nodes")["nodes"]
    return {node["name"]: node_id for node_id, node in nodes.items()}


def green(cluster: LocalCluster, index: str, timeout: str = "60s") -> None:
    health = any_running(cluster).cluster.health(index=index, wait_for_status="green", timeout=timeout)
    assert health["status"] == "green", health


def assert_copies_agree(cluster: LocalCluster, index: str, ids: list[str]) -> None:
    """Every copy of every shard holds the same version of every document."""
    names = {v: k for k, v in node_ids(cluster).items()}
    client = any_running(cluster)
    for shard_copies in copies(cluster, index).values():
        views = []
        for copy in shard_copies:
            assert copy["state"] == "STARTED"
            docs = client.mget(index=index, ids=ids, preference=f"_only_nodes:{copy['node']}")["docs"]
            views.append({d["_id"]: (d["_seq_no"], d["_version"]) for d in docs if d.get("found")})
        assert all(v == views[0] for v in views), (names, views)


def test_replicas_are_placed_on_other_nodes_and_the_index_turns_green(cluster):
    any_running(cluster).indices.create(index="replicated",
                                        settings={"number_of_shards": 3, "number_of_replicas": 1})
    green(cluster, "replicated")
    for shard_copies in copies(cluster, "replicated").values():
        assert len({c["node"] for c in shard_copies}) == 2
        assert sorted(c["primary"] for c in shard_copies) == [False, True]


def test_a_write_is_acknowledged_by_every_copy(cluster):
    response = es(cluster, "r0").index(index="replicated", id="one", document={"v": 1})
    assert response["_shards"] == {"total": 2, "successful": 2, "failed": 0}
    found = []
    for node_id in node_ids(cluster).values():  # real-time gets from each copy
        doc = es(cluster, "r1").options(ignore_status=(404, 503)).get(
            index="replicated", id="one", preference=f"_only_nodes:{node_id}")
        if doc.get("found"):
            found.append((doc["_seq_no"], doc["_primary_term"], doc["_source"]))
    assert found == [(response["_seq_no"], response["_primary_term"], {"v": 1})] * 2


def test_a_replica_recovers_what_its_primary_had_before_it_existed(cluster):
    client = es(cluster, "r1")
    client.indices.create(index="late-replica", settings={"number_of_shards": 1, "number_of_replicas": 0})
    ops = []
    for n in range(500):
        ops += [{"index": {"_index": "late-replica", "_id": str(n)}}, {"n": n}]
    assert not client.bulk(operations=ops)["errors"]
    client.indices.put_settings(index="late-replica", settings={"number_of_replicas": 1})
    green(cluster, "late-replica")
    assert_copies_agree(cluster, "late-replica", [str(n) for n in range(500)])


def test_no_acknowledged_write_is_lost_when_a_primarys_node_is_killed(cluster):
    rng = random.Random(11)
    acknowledged: dict[str, int] = {}
    for round_ in range(2):
        client = any_running(cluster)
        for batch in range(5):
            ops = []
            for _n in range(100):
                doc = f"k{rng.randrange(400)}"
                ops += [{"index": {"_index": "replicated", "_id": doc}}, {"round": round_, "batch": batch}]
            response = client.bulk(operations=ops)
            for item in response["items"]:
                if "error" not in item["index"]:
                    acknowledged[item["index"]["_id"]] = item["index"]["_version"]
        ids = node_ids(cluster)
        holders = {c["node"] for cs in copies(cluster, "replicated").values() for c in cs if c["primary"]}
        victim = next(cluster.node(name) for name, node_id in ids.items() if node_id in holders)
        victim.kill()
        survivors = [n for n in cluster.running()]
        cluster.wait_for_nodes(2, nodes=survivors)
        # the replicas of the lost primaries take over at once: never red for long
        health = any_running(cluster).cluster.health(index="replicated", wait_for_status="yellow",
                                                     timeout="30s")
        assert health["status"] in ("yellow", "green"), health
        docs = any_running(cluster).mget(index="replicated", ids=sorted(acknowledged))["docs"]
        assert {d["_id"]: d["_version"] for d in docs if d.get("found")} == acknowledged
        victim.start()
        cluster.wait_for_nodes(3)
        green(cluster, "replicated")
        assert_copies_agree(cluster, "replicated", sorted(acknowledged))


def test_an_index_with_two_replicas_has_a_copy_on_every_node(cluster):
    any_running(cluster).indices.create(index="everywhere",
                                        settings={"number_of_shards": 1, "number_of_replicas": 2})
    green(cluster, "everywhere")
    assert len({c["node"] for c in copies(cluster, "everywhere")[0]}) == 3
    response = any_running(cluster).index(index="everywhere", id="x", document={"x": 1})
    assert response["_shards"] == {"total": 3, "successful": 3, "failed": 0}
