"""Writes and gets routed between real node processes: whatever node a request reaches
coordinates it, and each shard's part runs on the node of that shard's primary
(`indices:data/write/bulk[s]`, `indices:data/read/get[s]`). Three data nodes hold one
primary each of a three-shard index; a fourth node holds no data at all."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import LocalCluster
from tests.support.polling import wait_until

DATA = ["d0", "d1", "d2"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("writes"), [*DATA, "coord"], roles={"coord": ""}).start()
    client = Elasticsearch(cluster.node("coord").url)
    client.indices.create(index="spread", settings={"number_of_shards": 3, "number_of_replicas": 0})
    client.cluster.health(index="spread", wait_for_status="green", wait_for_no_relocating_shards=True,
                          timeout="60s")
    yield cluster
    cluster.stop()


def es(cluster: LocalCluster, name: str) -> Elasticsearch:
    return Elasticsearch(cluster.node(name).url, request_timeout=30)


def primaries_by_node(cluster: LocalCluster, index: str) -> dict[str, int]:
    state = es(cluster, "d0").cluster.state(metric="nodes,routing_table", index=index)
    names = {node_id: node["name"] for node_id, node in state["nodes"].items()}
    counts: dict[str, int] = {}
    for copies in state["routing_table"]["indices"][index]["shards"].values():
        for copy in copies:
            if copy["primary"] and copy["state"] == "STARTED":
                counts[names[copy["node"]]] = counts.get(names[copy["node"]], 0) + 1
    return counts


def test_the_shards_of_an_index_are_spread_one_primary_per_data_node(cluster):
    # A node that joined last may get its shard by a rebalance the health wait did not see
    # begin: the balancer's end state is what is promised.
    wait_until(lambda: primaries_by_node(cluster, "spread") == {"d0": 1, "d1": 1, "d2": 1}, timeout=60)


def test_a_bulk_through_any_node_is_read_back_through_every_node(cluster):
    written = {}
    for name in [*DATA, "coord"]:
        ops = []
        for n in range(20):
            ops += [{"index": {"_index": "spread", "_id": f"{name}-{n}"}}, {"from": name, "n": n}]
        response = es(cluster, name).bulk(operations=ops)
        assert not response["errors"], response
        for item in response["items"]:
            written[item["index"]["_id"]] = (item["index"]["_seq_no"], item["index"]["_primary_term"])
    for name in [*DATA, "coord"]:
        docs = es(cluster, name).mget(index="spread", ids=sorted(written))["docs"]
        assert all(d["found"] for d in docs)
        assert {d["_id"]: (d["_seq_no"], d["_primary_term"]) for d in docs} == written


def test_a_write_through_a_node_without_the_shard_publishes_its_new_fields(cluster):
    coord = es(cluster, "coord")
    coord.index(index="spread", id="mapped", document={"brand_new_field": 42}, refresh=True)
    for name in DATA:
        mapping = es(cluster, name).indices.get_mapping(index="spread")
        assert mapping["spread"]["mappings"]["properties"]["brand_new_field"] == {"type": "long"}


def test_an_index_is_created_on_first_write_through_a_coordinating_node(cluster):
    coord = es(cluster, "coord")
    created = coord.index(index="auto-created", id="1", document={"a": 1})
    assert created["result"] == "created"
    for name in DATA:
        assert es(cluster, name).get(index="auto-created", id="1")["_source"] == {"a": 1}
    assert "coord" not in primaries_by_node(cluster, "auto-created")


def test_updates_and_deletes_go_to_the_primary_wherever_they_arrive(cluster):
    es(cluster, "d0").index(index="spread", id="counter", document={"n": 0})
    for step, name in enumerate(["d1", "d2", "coord"], start=1):
        updated = es(cluster, name).update(index="spread", id="counter", doc={"n": step})
        assert updated["_version"] == step + 1
    assert es(cluster, "d0").get(index="spread", id="counter")["_source"] == {"n": 3}
    assert es(cluster, "coord").delete(index="spread", id="counter")["result"] == "deleted"
    assert not es(cluster, "d2").exists(index="spread", id="counter")


def test_a_routed_document_is_found_with_its_routing_from_every_node(cluster):
    es(cluster, "coord").index(index="spread", id="routed", routing="user-7", document={"u": 7})
    for name in [*DATA, "coord"]:
        doc = es(cluster, name).get(index="spread", id="routed", routing="user-7")
        assert doc["_routing"] == "user-7" and doc["_source"] == {"u": 7}


def test_concurrent_creates_of_one_id_through_different_nodes_admit_exactly_one(cluster):
    def create(name: str) -> int:
        response = es(cluster, name).options(ignore_status=409).index(
            index="spread", id="contended", document={"by": name}, op_type="create")
        return 409 if response.get("status") == 409 else 201

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(create, [*DATA, "coord"]))
    assert statuses == [201, 409, 409, 409]


def test_a_write_to_a_shard_whose_node_is_gone_waits_for_its_timeout_then_fails_that_item(cluster):
    victim = cluster.node("d2")
    victim.kill()
    cluster.wait_for_nodes(3, nodes=[cluster.node(n) for n in ["d0", "d1", "coord"]])
    ops = []
    for n in range(30):
        ops += [{"index": {"_index": "spread", "_id": f"gone-{n}"}}, {"n": n}]
    started = time.monotonic()
    response = es(cluster, "coord").bulk(operations=ops, timeout="1s")
    waited = time.monotonic() - started
    failed = [i["index"] for i in response["items"] if "error" in i["index"]]
    succeeded = [i["index"] for i in response["items"] if "error" not in i["index"]]
    assert failed and succeeded  # the other shards' items are written all the same
    assert {f["error"]["type"] for f in failed} == {"unavailable_shards_exception"}
    assert {f["status"] for f in failed} == {503}
    assert "primary shard is not active Timeout: [1s]" in failed[0]["error"]["reason"]
    assert 1.0 <= waited < 10
    victim.start()
    cluster.wait_for_nodes(4)
    victim.wait_for_shards()
    retried = es(cluster, "coord").bulk(operations=ops)
    assert not retried["errors"]
