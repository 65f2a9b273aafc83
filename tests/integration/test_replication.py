"""Primary-backup replication across real node processes: replicas are placed on other
nodes and recover from their primary, every write reaches every in-sync copy before it
is acknowledged, and losing a node (kill -9) loses no acknowledged write: an in-sync
replica is promoted and the cluster goes green again once the node is back."""

from __future__ import annotations

import random
import threading
import time

import pytest
from elasticsearch import Elasticsearch

from strata_node.index.routing import shard_id
from tests.support.cluster import LocalCluster
from tests.support.writer import Writer

NODES = ["r0", "r1", "r2"]
FAULTS = "strata.fault_injection=true"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("replication"), NODES, FAULTS).start()
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
    """Green with no copy on the move: the balancer may still be evening out the copies."""
    health = any_running(cluster).cluster.health(index=index, wait_for_status="green", timeout=timeout,
                                                 wait_for_no_relocating_shards=True)
    assert health["status"] == "green", health


def assert_copies_agree(cluster: LocalCluster, index: str, ids: list[str]) -> None:
    """Every copy of every shard holds the same version of every document of that shard."""
    client = any_running(cluster)
    shards = copies(cluster, index)
    for number, shard_copies in shards.items():
        mine = [i for i in ids if shard_id(i, None, len(shards)) == number]
        views = []
        for copy in shard_copies:
            assert copy["state"] == "STARTED"
            docs = client.mget(index=index, ids=mine, preference=f"_only_nodes:{copy['node']}")["docs"]
            assert not [d for d in docs if "error" in d], docs
            views.append({d["_id"]: (d["_seq_no"], d["_version"]) for d in docs if d["found"]})
        assert all(v == views[0] for v in views), (number, views)


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
    updated = es(cluster, "r2").update(index="replicated", id="one", doc={"v": 2})
    assert updated["_shards"] == {"total": 2, "successful": 2, "failed": 0}


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


def test_replicas_of_bulk_indexed_batches_answer_searches_as_their_primaries_do(cluster):
    """Large batches are indexed by the primary's worker and its segment shipped to the
    replica; some items of the second request fail (create of an existing id)."""
    client = any_running(cluster)
    client.indices.create(index="shipped", settings={"number_of_shards": 1, "number_of_replicas": 1})
    green(cluster, "shipped")
    words = ["red", "green", "blue", "cart", "shoes", "lamp", "error", "GET"]
    rng = random.Random(7)

    def doc(n: int) -> dict:
        return {"message": " ".join(rng.choice(words) for _ in range(6)), "method": rng.choice(words[:3]),
                "status": rng.choice([200, 404, 500]), "n": n}

    first = [line for n in range(600) for line in ({"index": {"_id": f"s{n}"}}, doc(n))]
    assert not client.bulk(index="shipped", operations=first)["errors"]
    second = [line for n in range(550, 900) for line in ({"create": {"_id": f"s{n}"}}, doc(n))]
    items = client.bulk(index="shipped", operations=second, refresh=True)["items"]
    assert sum(1 for item in items if item["create"]["status"] == 409) == 50
    assert_copies_agree(cluster, "shipped", [f"s{n}" for n in range(900)])
    queries = [{"match_all": {}}, {"match": {"message": "error lamp"}}, {"term": {"method.keyword": "red"}},
               {"range": {"status": {"gte": 500}}}, {"match_phrase": {"message": "red green"}}]
    answers = []
    for copy in copies(cluster, "shipped")[0]:
        answers.append([])
        for query in queries:
            found = client.search(index="shipped", query=query, size=5, track_total_hits=True,
                                  preference=f"_only_nodes:{copy['node']}",
                                  aggs={"m": {"terms": {"field": "method.keyword"}}})
            hits = [(hit["_id"], hit["_score"]) for hit in found["hits"]["hits"]]
            answers[-1].append((found["hits"]["total"]["value"], hits, found["aggregations"]["m"]["buckets"]))
    assert len(answers) == 2 and answers[0] == answers[1]
    assert answers[0][0][0] == 900


def test_the_recovery_apis_report_how_each_copy_came_to_be(cluster):
    names = {v: k for k, v in node_ids(cluster).items()}
    [primary] = [c for c in copies(cluster, "late-replica")[0] if c["primary"]]
    for name in NODES:
        shards = es(cluster, name).indices.recovery(index="late-replica")["late-replica"]["shards"]
        assert [(s["type"], s["stage"], s["primary"]) for s in shards] == [
            ("EMPTY_STORE", "DONE", True), ("PEER", "DONE", False)]
        peer = shards[1]
        assert peer["source"]["name"] == names[primary["node"]]
        assert peer["translog"]["recovered"] == peer["translog"]["total"] == 500
    rows = es(cluster, "r2").cat.recovery(index="late-replica", format="json",
                                          h="index,shard,type,stage,source_node,translog_ops_recovered")
    assert [r["type"] for r in rows] == ["empty_store", "peer"]
    assert rows[1]["source_node"] == names[primary["node"]] and rows[1]["translog_ops_recovered"] == "500"
    assert es(cluster, "r0").indices.recovery(index="late-replica", active_only=True) == {}


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


def test_bulk_indexing_while_nodes_are_killed_and_restarted_loses_no_acknowledged_write(cluster):
    client = any_running(cluster)
    client.indices.create(index="chaos", settings={"number_of_shards": 2, "number_of_replicas": 1})
    green(cluster, "chaos")
    writer = Writer(cluster, "chaos", seed=5)
    thread = threading.Thread(target=writer.run)
    thread.start()
    rng = random.Random(9)
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 1.5))
            victim = rng.choice(cluster.running())
            victim.kill()
            time.sleep(rng.uniform(0.5, 1.5))
            victim.start()
            cluster.wait_for_nodes(3)
            green(cluster, "chaos", timeout="90s")
        time.sleep(0.5)
    finally:
        writer.stop.set()
        thread.join(90)
    assert writer.requests > 0
    green(cluster, "chaos", timeout="90s")
    certain = {i: v for i, v in writer.acked.items() if i not in writer.uncertain}
    assert certain
    docs = any_running(cluster).mget(index="chaos", ids=sorted(certain))["docs"]
    for doc in docs:
        result, version = certain[doc["_id"]]
        if result in ("deleted", "not_found"):
            assert not doc["found"], doc
        else:
            assert doc["found"] and doc["_version"] == version, (doc, result, version)
    every = sorted({f"w{n}" for n in range(300)})
    assert_copies_agree(cluster, "chaos", every)


def test_a_primary_cut_off_by_a_partition_cannot_acknowledge_writes_and_rejoins_as_a_replica(cluster):
    client = any_running(cluster)
    client.indices.create(index="fenced", settings={"number_of_shards": 3, "number_of_replicas": 1})
    green(cluster, "fenced")
    master = cluster.master_name(cluster.running()[0])
    ids = node_ids(cluster)
    names = {v: k for k, v in ids.items()}
    shard, stale = next((n, cluster.node(names[c["node"]]))
                        for n, cs in sorted(copies(cluster, "fenced").items())
                        for c in cs if c["primary"] and names[c["node"]] != master)
    doc = next(str(i) for i in range(1000) if shard_id(str(i), None, 3) == shard)
    others = [n for n in cluster.nodes if n is not stale]
    term = client.cluster.state(metric="metadata", index="fenced")["metadata"]["indices"]["fenced"][
        "primary_terms"][str(shard)]
    for node, cut in [(stale, [n.name for n in others])] + [(n, [stale.name]) for n in others]:
        with node.client() as c:
            c.post("/_strata/fault/disconnect", json={"nodes": cut}).raise_for_status()
    try:
        cluster.wait_for_nodes(2, nodes=others)
        majority = Elasticsearch(others[0].url, request_timeout=90)
        terms = majority.cluster.state(metric="metadata", index="fenced")["metadata"]["indices"]["fenced"]
        assert terms["primary_terms"][str(shard)] == term + 1  # its replica was promoted
        with stale.client(timeout=90) as c:
            refused = c.put(f"/fenced/_doc/{doc}", json={"by": "stale"}, params={"timeout": "5s"})
        assert refused.status_code >= 500, refused.text  # never acknowledged
        written = majority.index(index="fenced", id=doc, document={"by": "majority"})
        assert written["_shards"]["successful"] >= 1
    finally:
        for node in cluster.nodes:
            with node.client() as c:
                c.post("/_strata/fault/reconnect").raise_for_status()
    cluster.wait_for_nodes(3)
    green(cluster, "fenced", timeout="90s")
    for copy in copies(cluster, "fenced")[shard]:
        got = any_running(cluster).get(index="fenced", id=doc, preference=f"_only_nodes:{copy['node']}")
        assert got["_source"] == {"by": "majority"}


def test_a_promoted_primary_brings_the_other_replica_in_line_with_it(cluster):
    client = any_running(cluster)
    client.indices.create(index="resynced", settings={"number_of_shards": 1, "number_of_replicas": 2})
    green(cluster, "resynced")
    writer = Writer(cluster, "resynced", seed=21)
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        time.sleep(1.0)
        names = {v: k for k, v in node_ids(cluster).items()}
        [primary] = [c for c in copies(cluster, "resynced")[0] if c["primary"]]
        victim = cluster.node(names[primary["node"]])
        victim.kill()
        cluster.wait_for_nodes(2, nodes=cluster.running())
        time.sleep(1.0)
    finally:
        writer.stop.set()
        thread.join(90)
    # the two survivors agree (the other replica took the resync, or recovered again)
    health = any_running(cluster).cluster.health(index="resynced", wait_for_active_shards=2, timeout="60s")
    assert not health["timed_out"], health
    certain = {i: v for i, v in writer.acked.items() if i not in writer.uncertain}
    docs = any_running(cluster).mget(index="resynced", ids=sorted(certain))["docs"]
    for doc in docs:
        result, version = certain[doc["_id"]]
        assert doc["found"] == (result not in ("deleted", "not_found")), (doc, result)
        if doc["found"]:
            assert doc["_version"] == version, (doc, version)
    started = [c for c in copies(cluster, "resynced")[0] if c["state"] == "STARTED"]
    assert len(started) == 2
    victim.start()
    cluster.wait_for_nodes(3)
    green(cluster, "resynced", timeout="90s")
    assert_copies_agree(cluster, "resynced", sorted({f"w{n}" for n in range(300)}))


def test_a_replica_holding_only_what_the_promoted_primary_holds_stays_in_sync(cluster):
    client = any_running(cluster)
    client.indices.create(index="kept-in-sync", settings={"number_of_shards": 1, "number_of_replicas": 2})
    green(cluster, "kept-in-sync")
    for n in range(5):
        client.index(index="kept-in-sync", id=f"k{n}", document={"n": n})
    # Each replica now holds the last write above the global checkpoint it was last told
    # of, and so does the replica about to be promoted: nothing differs, nothing to undo.
    before = {c["allocation_id"]["id"]: c for c in copies(cluster, "kept-in-sync")[0]}
    [primary] = [aid for aid, c in before.items() if c["primary"]]
    names = {v: k for k, v in node_ids(cluster).items()}
    victim = cluster.node(names[before[primary]["node"]])
    victim.kill()
    try:
        cluster.wait_for_nodes(2, nodes=cluster.running())
        client = any_running(cluster)
        health = client.cluster.health(index="kept-in-sync", wait_for_active_shards=2, timeout="60s")
        assert not health["timed_out"], health
        time.sleep(2.0)  # the resync has long been answered (or refused) by now
        started = {c["allocation_id"]["id"] for c in copies(cluster, "kept-in-sync")[0]
                   if c["state"] == "STARTED"}
        assert started == set(before) - {primary}  # neither survivor was failed and recovered again
        state = client.cluster.state(metric="metadata", index="kept-in-sync")
        assert started <= set(state["metadata"]["indices"]["kept-in-sync"]["in_sync_allocations"]["0"])
        docs = client.mget(index="kept-in-sync", ids=[f"k{n}" for n in range(5)])["docs"]
        assert all(d["found"] for d in docs), docs
    finally:
        victim.start()
        cluster.wait_for_nodes(3)
    green(cluster, "kept-in-sync", timeout="90s")


def test_a_large_shard_recovers_by_copying_its_store_then_replaying_what_came_after(cluster):
    client = es(cluster, "r0")
    client.indices.create(index="big-replica", settings={"number_of_shards": 1, "number_of_replicas": 0})
    ids = [str(n) for n in range(12_000)]
    for start in range(0, len(ids), 2000):
        ops = []
        for i in ids[start:start + 2000]:
            ops += [{"index": {"_index": "big-replica", "_id": i}},
                    {"n": int(i), "text": f"document number {i}"}]
        assert not client.bulk(operations=ops)["errors"]
    client.indices.put_settings(index="big-replica", settings={"number_of_replicas": 1})
    green(cluster, "big-replica")
    shards = client.indices.recovery(index="big-replica")["big-replica"]["shards"]
    [peer] = [s for s in shards if not s["primary"]]
    assert peer["index"]["size"]["recovered_in_bytes"] > 0  # the store was copied ...
    assert peer["translog"]["total"] < 12_000  # ... and only what came after it replayed
    sample = ids[::97]
    assert_copies_agree(cluster, "big-replica", sample)
    replica = next(c for c in copies(cluster, "big-replica")[0] if not c["primary"])
    found = client.search(index="big-replica", preference=f"_only_nodes:{replica['node']}",
                          query={"match": {"text": "number 4242"}}, size=1)
    assert found["hits"]["hits"][0]["_id"] == "4242"  # the copied search structures answer


def test_a_replica_that_fails_a_write_is_dropped_from_the_in_sync_set_and_recovered_again(cluster):
    client = any_running(cluster)
    client.indices.create(index="flaky", settings={"number_of_shards": 1, "number_of_replicas": 1})
    green(cluster, "flaky")
    names = {v: k for k, v in node_ids(cluster).items()}
    [replica] = [c for c in copies(cluster, "flaky")[0] if not c["primary"]]
    with cluster.node(names[replica["node"]]).client() as c:
        c.post("/_strata/fault/fail_shard", json={"index": "flaky", "shard": 0,
                                                   "mode": "refuse_writes"}).raise_for_status()
    written = client.index(index="flaky", id="after-failure", document={"v": 1})
    assert written["result"] == "created"  # acknowledged by the primary alone ...
    shards = written["_shards"]
    assert (shards["total"], shards["successful"], shards["failed"]) == (2, 1, 1)
    assert shards["failures"][0]["_node"] == replica["node"] and shards["failures"][0]["primary"] is False
    metadata = client.cluster.state(metric="metadata", index="flaky")["metadata"]["indices"]["flaky"]
    # ... once the copy was out of the in-sync set
    assert replica["allocation_id"]["id"] not in metadata["in_sync_allocations"]["0"]
    green(cluster, "flaky")  # a new replica recovered from the primary
    assert_copies_agree(cluster, "flaky", ["after-failure"])


def test_a_primary_whose_engine_fails_is_reported_and_its_replica_takes_over(cluster):
    client = any_running(cluster)
    client.indices.create(index="broken-primary", settings={"number_of_shards": 1, "number_of_replicas": 1})
    green(cluster, "broken-primary")
    client.index(index="broken-primary", id="before", document={"v": 1})
    names = {v: k for k, v in node_ids(cluster).items()}
    [primary] = [c for c in copies(cluster, "broken-primary")[0] if c["primary"]]
    with cluster.node(names[primary["node"]]).client() as c:
        c.post("/_strata/fault/fail_shard", json={"index": "broken-primary", "shard": 0}).raise_for_status()
    written = client.index(index="broken-primary", id="after", document={"v": 2}, timeout="30s")
    assert written["result"] == "created"  # the replica was promoted: writes go on
    promoted = next(c for c in copies(cluster, "broken-primary")[0] if c["primary"])
    assert promoted["node"] != primary["node"]
    assert client.get(index="broken-primary", id="before")["found"]


def test_a_replica_whose_node_restarts_keeps_its_store_and_replays_only_what_it_missed(tmp_path):
    pair = LocalCluster(tmp_path, ["p0", "p1", "p2"]).start()
    try:
        client = Elasticsearch(pair.nodes[0].url, request_timeout=60)
        # On two of the three nodes only, so the replica can only come back where its data is.
        client.indices.create(index="kept", settings={"number_of_shards": 1, "number_of_replicas": 1,
                                                      "index.routing.allocation.include._name": "p0,p1"})
        green(pair, "kept")
        first = [str(n) for n in range(300)]
        assert not client.bulk(operations=[x for i in first for x in (
            {"index": {"_index": "kept", "_id": i}}, {"n": int(i)})])["errors"]
        replica = next(c for c in copies(pair, "kept")[0] if not c["primary"])
        victim = next(n for n in pair.nodes if node_ids(pair)[n.name] == replica["node"])
        survivors = [n for n in pair.nodes if n is not victim]
        client = Elasticsearch(survivors[0].url, request_timeout=60)
        victim.kill()
        pair.wait_for_nodes(2, nodes=survivors)
        later = [str(n) for n in range(300, 340)]
        assert not client.bulk(operations=[x for i in later for x in (
            {"index": {"_index": "kept", "_id": i}}, {"n": int(i)})])["errors"]
        victim.start()
        pair.wait_for_nodes(3)
        green(pair, "kept")
        [peer] = [s for s in client.indices.recovery(index="kept")["kept"]["shards"] if not s["primary"]]
        size = peer["index"]["size"]
        assert size["reused_in_bytes"] > 0 and size["recovered_in_bytes"] == 0
        assert peer["translog"]["total"] == 40  # only the operations it missed
        assert_copies_agree(pair, "kept", first + later)
    finally:
        pair.stop()
