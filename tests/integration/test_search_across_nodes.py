"""Search across three real node processes: an index with one primary on each node, searched
from every node. The coordinating node runs the shards' query and fetch phases on the
nodes that hold them, over the signed transport, and answers as one node would: the same
hits, totals, sorted pages, aggregations, counts and errors from every node; a shard whose
node died is a shard failure beside the others' results; a cancelled search stops its
children on the other nodes; the search contexts kept for fetches are all freed."""

from __future__ import annotations

import statistics
import threading

import httpx
import orjson
import pytest

from tests.support.cluster import LocalCluster
from tests.support.node_process import NodeProcess
from tests.support.polling import wait_until

FAULTS = "strata.fault_injection=true"
MAPPING = {"properties": {"title": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "integer"},
                          "price": {"type": "double"}, "day": {"type": "date"}}}
TAGS = ["red", "green", "blue"]
DOCS = {str(i): {"title": f"book {i} {'quick fox' if i % 4 == 0 else 'lazy dog'}", "tag": TAGS[i % 3], "n": i,
                 "price": round(1.5 * (i % 11), 2), "day": f"2024-{1 + i % 3:02d}-{1 + i % 28:02d}"}
        for i in range(60)}




def routing(node: NodeProcess, index: str) -> dict[int, str]:
    """Shard number -> the node id of its primary."""
    with node.client() as c:
        table = c.get(f"/_cluster/state/routing_table/{index}").json()["routing_table"]
    shards = table["indices"][index]["shards"]
    return {int(n): copy["node"] for n, copies in shards.items() for copy in copies if copy["primary"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("search"), ["s0", "s1", "s2"], FAULTS).start()
    with local.nodes[0].client() as c:
        names = {node_id: n["name"] for node_id, n in c.get("/_cluster/state/nodes").json()["nodes"].items()}
    # The allocator puts a lone shard on the emptiest node, the smallest id first; the create
    # goes to that node, since PUT /{index} still answers from a local copy of the index.
    solo_holder = local.node(names[min(names)])
    for node, name, shards in ((solo_holder, "solo", 1), (local.nodes[0], "logs", 3)):
        with node.client() as c:
            settings = {"number_of_shards": shards, "number_of_replicas": 0}
            created = c.put(f"/{name}", json={"settings": settings, "mappings": MAPPING})
            assert created.status_code == 200, created.text
    with local.nodes[0].client() as c:
        lines = []
        for doc_id, doc in DOCS.items():
            lines += [orjson.dumps({"index": {"_index": "logs", "_id": doc_id}}), orjson.dumps(doc)]
        lines += [orjson.dumps({"index": {"_index": "solo", "_id": "only"}}), orjson.dumps({"tag": "solo"})]
        bulk = c.post("/_bulk", params={"refresh": "true"}, content=b"\n".join(lines) + b"\n",
                      headers={"content-type": "application/x-ndjson"}).json()
        assert bulk["errors"] is False
    yield local
    local.stop()


@pytest.fixture(scope="module")
def node_ids(cluster) -> dict[str, str]:
    """Node name -> node id."""
    with cluster.nodes[0].client() as c:
        nodes = c.get("/_cluster/state/nodes").json()["nodes"]
    return {details["name"]: node_id for node_id, details in nodes.items()}


def search_everywhere(cluster, index: str, body: dict, **params) -> list[dict]:
    """The response of every node to one search, `took` left out."""
    out = []
    for node in cluster.running():
        with node.client() as c:
            r = c.post(f"/{index}/_search", json=body, params=params)
        assert r.status_code == 200, r.text
        response = r.json()
        del response["took"]
        out.append(response)
    return out


def the_same(responses: list) -> dict:
    assert all(r == responses[0] for r in responses[1:]), responses
    return responses[0]


def ids(response: dict) -> list[str]:
    return [h["_id"] for h in response["hits"]["hits"]]


def test_the_index_has_one_primary_on_each_node(cluster, node_ids):
    assert set(routing(cluster.nodes[0], "logs").values()) == set(node_ids.values())


def test_every_node_answers_a_search_with_the_same_hits_scores_and_totals(cluster):
    query = {"query": {"match": {"title": "quick fox"}}, "size": 20, "version": True}
    body = the_same(search_everywhere(cluster, "logs", query))
    assert body["_shards"] == {"total": 3, "successful": 3, "skipped": 0, "failed": 0}
    assert body["hits"]["total"] == {"value": 15, "relation": "eq"}
    assert sorted(ids(body), key=int) == [str(i) for i in range(0, 60, 4)]
    assert all(h["_source"] == DOCS[h["_id"]] and h["_version"] == 1 for h in body["hits"]["hits"])
    scores = [h["_score"] for h in body["hits"]["hits"]]
    assert scores == sorted(scores, reverse=True) and body["hits"]["max_score"] == scores[0]
    filtered = the_same(search_everywhere(cluster, "logs", {"size": 60, "_source": ["tag"],
                                                           "docvalue_fields": ["day"], "fields": ["n"]}))
    for hit in filtered["hits"]["hits"]:
        doc = DOCS[hit["_id"]]
        assert hit["_source"] == {"tag": doc["tag"]}
        assert hit["fields"] == {"day": [f"{doc['day']}T00:00:00.000Z"], "n": [doc["n"]]}


def test_sorted_pages_are_merged_across_the_shards_of_every_node(cluster):
    page = the_same(search_everywhere(cluster, "logs", {"sort": [{"n": "asc"}], "from": 5, "size": 10}))
    assert ids(page) == [str(i) for i in range(5, 15)]
    assert [h["sort"] for h in page["hits"]["hits"]] == [[i] for i in range(5, 15)]
    assert page["hits"]["max_score"] is None
    last = the_same(search_everywhere(cluster, "logs", {"sort": [{"tag": "desc"}, {"n": "desc"}], "size": 4}))
    assert ids(last) == ["57", "54", "51", "48"]  # red (n % 3 == 0), largest n first
    after = the_same(search_everywhere(cluster, "logs", {"sort": [{"n": "asc"}], "size": 10,
                                                        "search_after": [9]}))
    assert ids(after) == [str(i) for i in range(10, 20)]
    param_sorted = the_same(search_everywhere(cluster, "logs", {"size": 3}, sort="price:desc,n:asc"))
    assert ids(param_sorted) == ["10", "21", "32"]


def test_aggregations_reduce_the_partials_of_every_node(cluster):
    body = {"size": 0, "aggs": {
        "tags": {"terms": {"field": "tag"},
                 "aggs": {"top": {"top_hits": {"size": 1, "sort": [{"n": "desc"}]}}}},
        "months": {"date_histogram": {"field": "day", "calendar_interval": "month"},
                   "aggs": {"avg_price": {"avg": {"field": "price"}}}},
        "price": {"stats": {"field": "price"}},
        "distinct": {"cardinality": {"field": "n"}}}}
    out = the_same(search_everywhere(cluster, "logs", body))
    aggs = out["aggregations"]
    assert out["hits"]["total"] == {"value": 60, "relation": "eq"} and out["hits"]["hits"] == []
    assert [(b["key"], b["doc_count"]) for b in aggs["tags"]["buckets"]] == [("blue", 20), ("green", 20),
                                                                             ("red", 20)]
    assert [b["top"]["hits"]["hits"][0]["_id"] for b in aggs["tags"]["buckets"]] == ["59", "58", "57"]
    months = {}
    for doc in DOCS.values():
        months.setdefault(doc["day"][:7], []).append(doc["price"])
    assert [(b["key_as_string"][:7], b["doc_count"]) for b in aggs["months"]["buckets"]] == \
        [(m, len(p)) for m, p in sorted(months.items())]
    for bucket in aggs["months"]["buckets"]:
        month = bucket["key_as_string"][:7]
        assert bucket["avg_price"]["value"] == pytest.approx(statistics.mean(months[month]))
    prices = [d["price"] for d in DOCS.values()]
    assert aggs["price"]["count"] == 60 and aggs["price"]["sum"] == pytest.approx(sum(prices))
    assert (aggs["price"]["min"], aggs["price"]["max"]) == (min(prices), max(prices))
    assert aggs["distinct"]["value"] == 60


def test_counts_and_query_validation_from_every_node(cluster):
    for node in cluster.nodes:
        with node.client() as c:
            assert c.get("/logs/_count").json() == {"count": 60, "_shards": {"total": 3, "successful": 3,
                                                                             "skipped": 0, "failed": 0}}
            assert c.get("/logs/_count", params={"q": "tag:red"}).json()["count"] == 20
            ranged = c.post("/logs,solo/_count", json={"query": {"range": {"n": {"gte": 50}}}}).json()
            assert ranged["count"] == 10
            counted = c.post("/logs/_count", params={"terminate_after": "2"}).json()
            assert counted["count"] == 6 and counted["terminated_early"] is True
    explanations = []
    for node in cluster.nodes:
        with node.client() as c:
            valid = c.post("/logs/_validate/query", params={"all_shards": "true", "explain": "true"},
                           json={"query": {"term": {"tag": "red"}}}).json()
            assert valid["valid"] is True and len(valid["explanations"]) == 3
            invalid = c.post("/logs/_validate/query", params={"explain": "true"},
                             json={"query": {"range": {"day": {"gte": "not a date"}}}}).json()
            assert invalid["valid"] is False
            explanations.append(invalid["explanations"])
    assert "not a date" in explanations[0][0]["error"]
    the_same(explanations)


def test_a_shard_error_reads_the_same_from_every_node(cluster, node_ids):
    errors = []
    for node in cluster.nodes:
        with node.client() as c:
            r = c.post("/logs/_search", json={"sort": ["nope"]})
        assert r.status_code == 400
        errors.append(r.json())
    error = the_same(errors)["error"]
    assert error["type"] == "search_phase_execution_exception"
    with cluster.nodes[0].client() as c:
        uuid = c.get("/logs/_settings").json()["logs"]["settings"]["index"]["uuid"]
    assert error["root_cause"] == [{"type": "query_shard_exception",
                                    "reason": "No mapping found for [nope] in order to sort on",
                                    "index_uuid": uuid, "index": "logs"}]
    assert {f["node"] for f in error["failed_shards"]} <= set(node_ids.values())


def test_msearch_from_a_node_that_holds_no_shard_of_the_index(cluster, node_ids):
    holder = routing(cluster.nodes[0], "solo")[0]
    other = next(n for n in cluster.nodes if node_ids[n.name] != holder)
    lines = [{"index": "solo"}, {"query": {"match_all": {}}}, {"index": "logs"},
             {"size": 0, "aggs": {"tags": {"terms": {"field": "tag"}}}}, {"index": "nope"}, {},
             {"index": "logs", "preference": "_local"}, {"sort": [{"n": "desc"}], "size": 1}]
    with other.client() as c:
        r = c.post("/_msearch", content=b"\n".join(orjson.dumps(line) for line in lines) + b"\n",
                   headers={"content-type": "application/x-ndjson"})
    solo, tags, missing, top = r.json()["responses"]
    assert [(h["_index"], h["_id"], h["_source"]) for h in solo["hits"]["hits"]] == [("solo", "only",
                                                                                      {"tag": "solo"})]
    assert [b["doc_count"] for b in tags["aggregations"]["tags"]["buckets"]] == [20, 20, 20]
    assert missing["status"] == 404 and missing["error"]["type"] == "index_not_found_exception"
    assert ids(top) == ["59"] and top["status"] == 200


def open_contexts(node: NodeProcess) -> dict[str, int]:
    with node.client() as c:
        nodes = c.get("/_nodes/stats/indices").json()["nodes"]
    return {n["name"]: n["indices"]["search"]["open_contexts"] for n in nodes.values()}


def test_the_search_contexts_kept_for_fetches_are_all_freed(cluster):
    # Each search leaves a context on every shard with a hit; the fetch frees those of
    # the page and the coordinator the others (size 1: two shards have none on the page).
    for node in cluster.nodes:
        with node.client() as c:
            for body in ({"size": 1}, {"size": 10, "sort": ["n"]}, {"query": {"match": {"title": "fox"}}}):
                assert c.post("/logs/_search", json=body).status_code == 200
    wait_until(lambda: set(open_contexts(cluster.nodes[0]).values()) == {0}, timeout=10)


def test_reindex_and_by_query_actions_scroll_every_shard_on_its_node_and_free_the_scrolls(cluster):
    # `logs` is only read: the copy, one shard on each node too, takes the writes.
    with cluster.nodes[1].client() as c:
        assert c.put("/logs-copy", json={"settings": {"number_of_shards": 3, "number_of_replicas": 0},
                                         "mappings": MAPPING}).status_code == 200
        copied = c.post("/_reindex", params={"refresh": "true"},
                        json={"source": {"index": "logs", "size": 7}, "dest": {"index": "logs-copy"}}).json()
    assert (copied["total"], copied["created"], copied["batches"], copied["failures"]) == (60, 60, 9, [])
    with cluster.nodes[2].client() as c:
        updated = c.post("/logs-copy/_update_by_query", params={"scroll_size": "6", "refresh": "true"},
                         json={"query": {"term": {"tag": "red"}}}).json()
        deleted = c.post("/logs-copy/_delete_by_query", params={"refresh": "true"},
                         json={"query": {"range": {"n": {"lt": 30}}}}).json()
        remaining = c.post("/logs-copy/_count").json()["count"]
    assert (updated["updated"], updated["batches"]) == (20, 4)
    assert (deleted["deleted"], remaining) == (30, 30)
    wait_until(lambda: set(open_contexts(cluster.nodes[0]).values()) == {0}, timeout=10)


def search_tasks(node: NodeProcess) -> dict[str, dict]:
    with node.client() as c:
        listed = c.get("/_tasks", params={"actions": "indices:data/read/search*", "detailed": "true"}).json()
    return {tid: t for n in listed["nodes"].values() for tid, t in n["tasks"].items()}


def delay_queries(cluster, millis: int) -> None:
    for node in cluster.nodes:
        with node.client() as c:
            assert c.post("/_strata/fault/search_delay", json={"millis": millis}).status_code == 200


def test_cancelling_a_search_cancels_its_shard_phases_on_the_other_nodes(cluster, node_ids):
    coordinator = cluster.nodes[0]
    delay_queries(cluster, 60_000)  # every query phase waits, cancellably, until cancelled
    try:
        answers: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: answers.append(_search(coordinator)), daemon=True)
        thread.start()
        tasks = wait_until(lambda: (found := search_tasks(coordinator)) and len(found) == 4 and found)
        [parent] = [tid for tid, t in tasks.items() if t["action"] == "indices:data/read/search"]
        children = [t for t in tasks.values() if t["action"] == "indices:data/read/search[phase/query]"]
        assert {t["node"] for t in children} == set(node_ids.values())
        assert all(t["parent_task_id"] == parent and t["cancellable"] for t in children)
        assert {t["description"] for t in children} == {f"shardId[[logs][{n}]]" for n in range(3)}
        with coordinator.client() as c:
            c.post(f"/_tasks/{parent}/_cancel").raise_for_status()
        # Gone from every node long before the 60 s the phases would otherwise wait.
        wait_until(lambda: not any(search_tasks(n) for n in cluster.nodes), timeout=10)
        thread.join(10)
        assert answers and answers[0].status_code == 400
        assert answers[0].json()["error"]["type"] == "task_cancelled_exception"
        # A client that goes away cancels its search the same way.
        with pytest.raises(httpx.ReadTimeout), coordinator.client(timeout=1.0) as short:
            short.post("/logs/_search", json={})
        wait_until(lambda: not any(search_tasks(n) for n in cluster.nodes), timeout=10)
    finally:
        delay_queries(cluster, 0)
    assert the_same(search_everywhere(cluster, "logs", {"size": 0}))["hits"]["total"]["value"] == 60


def _search(node: NodeProcess) -> httpx.Response:
    with node.client(timeout=120) as c:
        return c.post("/logs/_search", json={"query": {"match": {"title": "dog"}}})


def test_a_shard_whose_node_was_killed_is_a_failure_beside_the_other_shards_results(cluster, node_ids):
    """Last in the module: it kills a node."""
    victim = cluster.nodes[2]
    victim_id = node_ids[victim.name]
    [lost] = [n for n, holder in routing(cluster.nodes[0], "logs").items() if holder == victim_id]
    with cluster.nodes[0].client() as c:
        before = c.post("/logs/_search", json={"size": 60}).json()
    kept = {h["_id"] for h in before["hits"]["hits"]}
    with cluster.nodes[0].client() as c:
        only_victim = c.post("/logs/_search", params={"preference": f"_only_nodes:{victim_id}"},
                             json={"size": 60}).json()
    held_by_victim = {h["_id"] for h in only_victim["hits"]["hits"]}
    assert held_by_victim and held_by_victim < kept
    victim.kill()
    for attempt in ("at once", "once the master has noticed"):
        if attempt != "at once":
            cluster.wait_for_nodes(2, nodes=cluster.nodes[:2])
        for node in cluster.nodes[:2]:
            with node.client() as c:
                r = c.post("/logs/_search", json={"size": 60})
                counted = c.get("/logs/_count").json()
            assert r.status_code == 200, r.text
            body = r.json()
            shards = body["_shards"]
            assert (shards["total"], shards["successful"], shards["failed"]) == (3, 2, 1)
            [failure] = body["_shards"]["failures"]
            assert (failure["index"], failure["shard"]) == ("logs", lost)
            assert failure.get("node", victim_id) == victim_id  # no node once the copy is unassigned
            assert failure["reason"]["type"] == "no_shard_available_action_exception"
            assert {h["_id"] for h in body["hits"]["hits"]} == kept - held_by_victim
            assert body["hits"]["total"]["value"] == 60 - len(held_by_victim)
            assert counted["count"] == 60 - len(held_by_victim) and counted["_shards"]["failed"] == 1
