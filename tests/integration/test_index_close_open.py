"""`POST /{index}/_close` and `_open` on real nodes: a closed index keeps its documents and
its shards (replicated closed indices, as in Elasticsearch 7.2 and later) but refuses
every read and write with `index_closed_exception` until it is opened again; its static
settings, analysis included, change only while it is closed."""

from __future__ import annotations

import json

import elasticsearch
import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import LocalCluster
from tests.support.polling import call, ok, wait_until

NO_REPLICAS = {"number_of_shards": 1, "number_of_replicas": 0}


@pytest.fixture
def closed(index_name, es) -> str:
    """An index of the test's own holding two documents, then closed."""
    es.indices.create(index=index_name, settings=NO_REPLICAS)
    es.index(index=index_name, id="1", document={"title": "Hello World"})
    es.index(index=index_name, id="2", document={"title": "second"}, refresh=True)
    answer = es.indices.close(index=index_name)
    assert answer.body == {"acknowledged": True, "shards_acknowledged": True,
                           "indices": {index_name: {"closed": True}}}
    return index_name


def assert_closed_error(response, index: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["reason"], error["index"]) == ("index_closed_exception", "closed", index)


def test_a_closed_index_refuses_searches_gets_and_writes(http, closed):
    assert_closed_error(http.post(f"/{closed}/_search", json={"query": {"match_all": {}}}), closed)
    assert_closed_error(http.get(f"/{closed}/_count"), closed)
    assert_closed_error(http.get(f"/{closed}/_doc/1"), closed)
    assert_closed_error(http.put(f"/{closed}/_doc/3", json={"title": "x"}), closed)
    assert_closed_error(http.post(f"/{closed}/_update/1", json={"doc": {"title": "x"}}), closed)
    assert_closed_error(http.post(f"/{closed}/_refresh"), closed)


@pytest.fixture
def other(closed, http) -> str:
    """An open index beside the closed one, its name sharing the closed one's prefix."""
    name = f"{closed}-open"
    assert http.put(f"/{name}", json={"settings": NO_REPLICAS}).status_code == 200
    return name


def test_a_bulk_item_for_a_closed_index_fails_alone(http, closed, other):
    lines = [{"index": {"_index": closed, "_id": "9"}}, {"n": 1},
             {"index": {"_index": other, "_id": "9"}}, {"n": 1}]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    answer = http.post("/_bulk", content=body, headers={"content-type": "application/x-ndjson"}).json()
    assert answer["errors"] is True
    failed, written = (item["index"] for item in answer["items"])
    assert failed["status"] == 400 and failed["error"]["type"] == "index_closed_exception"
    assert written["status"] == 201


def test_the_client_sees_a_bad_request(es, closed):
    with pytest.raises(elasticsearch.BadRequestError) as raised:
        es.search(index=closed)
    assert raised.value.error == "index_closed_exception"


def test_wildcard_searches_skip_closed_indices_and_ignore_unavailable_skips_named_ones(http, closed, other):
    searched = http.get(f"/{closed}*/_search").json()
    assert searched["_shards"]["total"] == 1  # the open one only
    assert_closed_error(http.get(f"/{closed}*/_search", params={"expand_wildcards": "all"}), closed)
    skipped = http.get(f"/{closed},{other}/_search", params={"ignore_unavailable": "true"}).json()
    assert skipped["_shards"]["total"] == 1


def test_metadata_apis_still_show_a_closed_index(es, closed):
    settings = es.indices.get_settings(index=closed)[closed]["settings"]["index"]
    assert settings["verified_before_close"] == "true"
    assert closed in es.indices.get(index=closed)
    blocks = es.cluster.state(metric="blocks")["blocks"]["indices"][closed]
    assert blocks == {"4": {"description": "index closed", "retryable": False, "levels": ["read", "write"]}}


def test_cat_indices_shows_a_closed_index_without_figures_and_health_counts_its_shards(es, closed):
    [row] = es.cat.indices(index=closed, format="json")
    assert (row["status"], row["health"], row["pri"]) == ("close", "green", "1")
    assert row["docs.count"] is None and row["store.size"] is None
    health = es.cluster.health(index=closed, level="indices")
    assert health["indices"][closed]["active_primary_shards"] == 1
    assert es.cluster.health(index=f"{closed}*", expand_wildcards="open")["active_shards"] == 0
    assert es.cluster.health(index=f"{closed}*", expand_wildcards="closed")["active_shards"] == 1


def test_closing_an_index_closed_already_acknowledges_without_closing_anything(es, closed):
    answer = es.indices.close(index=closed)
    assert answer.body == {"acknowledged": True, "shards_acknowledged": False, "indices": {}}


def test_opening_brings_the_documents_back_and_takes_writes_again(es, closed):
    assert es.indices.open(index=closed).body == {"acknowledged": True, "shards_acknowledged": True}
    assert es.get(index=closed, id="1")["_source"] == {"title": "Hello World"}
    assert es.count(index=closed)["count"] == 2
    es.index(index=closed, id="3", document={"title": "third"}, refresh=True)
    assert es.count(index=closed)["count"] == 3
    assert "verified_before_close" not in es.indices.get_settings(index=closed)[closed]["settings"]["index"]


def test_an_open_waiting_for_all_copies_answers_unacknowledged_shards_while_a_replica_waits(http, index_name):
    assert http.put(f"/{index_name}", json={"settings": {"number_of_replicas": 1}}).status_code == 200
    assert http.post(f"/{index_name}/_close").json()["shards_acknowledged"] is True  # the primary is enough
    waited = http.post(f"/{index_name}/_open", params={"wait_for_active_shards": "all", "timeout": "300ms"})
    assert waited.json() == {"acknowledged": True, "shards_acknowledged": False}
    again = http.post(f"/{index_name}/_open", params={"wait_for_active_shards": "1"})
    assert again.json() == {"acknowledged": True, "shards_acknowledged": True}


def test_static_settings_are_refused_while_open_and_taken_while_closed(es, index_name):
    es.indices.create(index=index_name, settings={**NO_REPLICAS, "analysis": {
        "analyzer": {"names": {"type": "custom", "tokenizer": "standard"}}}},
                      mappings={"properties": {"title": {"type": "text", "analyzer": "names"}}})
    es.index(index=index_name, id="1", document={"title": "Hello"}, refresh=True)
    lowercase = {"analysis": {"analyzer": {"names": {"type": "custom", "tokenizer": "standard",
                                                     "filter": ["lowercase"]}}}}
    with pytest.raises(elasticsearch.BadRequestError, match="Can't update non dynamic settings"):
        es.indices.put_settings(index=index_name, settings=lowercase)
    es.indices.close(index=index_name)
    es.indices.put_settings(index=index_name, settings=lowercase)
    with pytest.raises(elasticsearch.BadRequestError, match="final index setting"):
        es.indices.put_settings(index=index_name, settings={"number_of_shards": 2})
    es.indices.open(index=index_name)
    es.index(index=index_name, id="2", document={"title": "Hello"}, refresh=True)
    # The document indexed before the change keeps its terms; the new one is lowercased.
    hits = es.search(index=index_name, query={"match": {"title": "hello"}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["2"]


def test_a_closed_index_stays_closed_with_its_documents_across_a_restart(fresh_node):
    node = fresh_node().start()
    ok(node, "PUT", "/kept", json={"settings": NO_REPLICAS})
    assert call(node, "PUT", "/kept/_doc/1", json={"n": 1}).status_code == 201  # not flushed yet
    ok(node, "POST", "/kept/_close")
    node.stop()
    node.start().wait_for_shards()
    [row] = ok(node, "GET", "/_cat/indices/kept", params={"format": "json"})
    assert row["status"] == "close"
    ok(node, "POST", "/kept/_open")
    assert ok(node, "GET", "/kept/_doc/1")["_source"] == {"n": 1}


def test_destructive_requires_name_refuses_to_close_by_wildcard(fresh_node):
    node = fresh_node().start()
    ok(node, "PUT", "/one", json={"settings": NO_REPLICAS})
    with node.client() as http:
        refused = http.post("/on*/_close")
    assert refused.status_code == 400
    assert refused.json()["error"]["reason"] == "Wildcard expressions or all indices are not allowed"


def test_a_closed_index_keeps_its_replicas_in_sync_and_every_node_refuses_it(tmp_path):
    cluster = LocalCluster(tmp_path, ["c0", "c1"]).start()
    try:
        first, second = cluster.nodes
        client = Elasticsearch(first.url, request_timeout=60)
        client.indices.create(index="pair", settings={"number_of_shards": 2, "number_of_replicas": 1},
                              wait_for_active_shards="all")
        for i in range(20):
            client.index(index="pair", id=str(i), document={"n": i})
        client.indices.close(index="pair")
        with second.client() as http:
            assert_closed_error(http.get("/pair/_search"), "pair")
            assert_closed_error(http.get("/pair/_doc/1"), "pair")
        health = client.cluster.health(index="pair", wait_for_status="green", timeout="30s")
        assert health["active_shards"] == 4
        Elasticsearch(second.url, request_timeout=60).indices.open(index="pair")
        wait_until(lambda: client.cluster.health(index="pair")["status"] == "green")
        for node_id in client.nodes.info()["nodes"]:  # each node holds a copy of both shards
            preference = f"_only_nodes:{node_id}"
            answer = client.search(index="pair", preference=preference, size=0)
            assert answer["hits"]["total"]["value"] == 20, preference
    finally:
        cluster.stop()


def test_a_wildcard_reset_removes_an_unused_analyzer_of_a_closed_index(es, index_name):
    analyzers = {"used": {"type": "custom", "tokenizer": "standard"},
                 "unused": {"type": "custom", "tokenizer": "whitespace"}}
    es.indices.create(index=index_name, settings={**NO_REPLICAS, "analysis": {"analyzer": analyzers}},
                      mappings={"properties": {"title": {"type": "text", "analyzer": "used"}}})
    es.indices.close(index=index_name)
    es.indices.put_settings(index=index_name, settings={"index.analysis.analyzer.unused.*": None})
    with pytest.raises(elasticsearch.BadRequestError, match="analyzer \\[used\\] has not been configured"):
        es.indices.put_settings(index=index_name, settings={"index.analysis.analyzer.used.*": None})
    left = es.indices.get_settings(index=index_name)[index_name]["settings"]["index"]["analysis"]
    assert list(left["analyzer"]) == ["used"]
