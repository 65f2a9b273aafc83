"""`GET /{index}/_stats` and `/_stats/{metric}` on a real node: the sections count what
the copies did, as Elasticsearch's index stats do, and node stats sum the same."""

from __future__ import annotations


def primaries(http, index: str, metric: str = "") -> dict:
    path = f"/{index}/_stats/{metric}" if metric else f"/{index}/_stats"
    response = http.get(path)
    assert response.status_code == 200, response.text
    return response.json()["indices"][index]["primaries"]


def test_indexing_counts_index_delete_failed_and_noop_update_operations(http, index):
    for i in range(3):
        http.put(f"/{index}/_doc/{i}", json={"n": i})
    http.delete(f"/{index}/_doc/0")
    assert http.put(f"/{index}/_create/1", json={"n": 1}).status_code == 409
    assert http.post(f"/{index}/_update/2", json={"doc": {"n": 2}}).json()["result"] == "noop"
    indexing = primaries(http, index)["indexing"]
    assert (indexing["index_total"], indexing["delete_total"]) == (3, 1)
    assert (indexing["index_failed"], indexing["noop_update_total"]) == (1, 1)
    assert indexing["index_current"] == indexing["delete_current"] == 0


def test_gets_count_as_existing_or_missing(http, index):
    http.put(f"/{index}/_doc/1", json={"n": 1})
    http.get(f"/{index}/_doc/1")
    assert http.get(f"/{index}/_doc/2").status_code == 404
    get = primaries(http, index)["get"]
    assert (get["total"], get["exists_total"], get["missing_total"], get["current"]) == (2, 1, 1, 0)


def test_searches_count_their_query_and_fetch_phases(http, index):
    http.put(f"/{index}/_doc/1", params={"refresh": "true"}, json={"n": 1})
    http.post(f"/{index}/_search", json={"query": {"match_all": {}}})
    http.post(f"/{index}/_search", json={"query": {"term": {"n": 7}}})  # no hits: nothing to fetch
    http.get(f"/{index}/_count")
    search = primaries(http, index)["search"]
    assert (search["query_total"], search["fetch_total"]) == (3, 1)
    assert search["query_current"] == search["fetch_current"] == 0


def test_a_force_merge_counts_in_merges_and_leaves_one_segment(http, index):
    for i in range(4):
        http.put(f"/{index}/_doc/{i}", json={"tag": "x"})
    assert primaries(http, index)["segments"]["count"] == 4
    http.post(f"/{index}/_forcemerge")
    stats = primaries(http, index)
    assert (stats["merges"]["total"], stats["merges"]["total_docs"]) == (1, 4)
    assert stats["merges"]["total_size_in_bytes"] > 0 and stats["merges"]["current"] == 0
    assert stats["segments"]["count"] == 1


def test_the_translog_counts_operations_a_flush_has_not_committed(http, index):
    http.put(f"/{index}/_doc/1", json={"n": 1})
    http.put(f"/{index}/_doc/2", json={"n": 2})
    translog = primaries(http, index)["translog"]
    assert translog["operations"] == translog["uncommitted_operations"] == 2
    assert translog["uncommitted_size_in_bytes"] > 0
    http.post(f"/{index}/_flush")
    assert primaries(http, index)["translog"]["uncommitted_operations"] == 0


def test_shard_bulk_requests_count_with_their_documents_bytes(http, index):
    body = "".join(f'{{"index":{{"_index":"{index}"}}}}\n{{"n":{i}}}\n' for i in range(10))
    http.post("/_bulk", content=body, headers={"content-type": "application/x-ndjson"})
    bulk = primaries(http, index)["bulk"]
    assert bulk["total_operations"] == 1
    assert bulk["total_size_in_bytes"] == sum(len(f'{{"n":{i}}}') for i in range(10))


def test_a_metric_path_shows_only_its_sections(http, index):
    assert set(primaries(http, index, "merge,translog")) == {"merges", "translog"}
    assert "bulk" in primaries(http, index, "_all")


def test_unknown_metrics_and_all_beside_others_are_rejected(http, index):
    bad = http.get(f"/{index}/_stats/nope")
    assert bad.status_code == 400
    reason = bad.json()["error"]["reason"]
    assert reason == f"request [/{index}/_stats/nope] contains unrecognized metric: [nope]"
    mixed = http.get("/_stats/_all,docs")
    assert mixed.status_code == 400
    assert mixed.json()["error"]["type"] == "illegal_argument_exception"


def test_node_stats_show_the_same_counters(http, index):
    http.put(f"/{index}/_doc/1", json={"n": 1})
    http.get(f"/{index}/_doc/1")
    http.post(f"/{index}/_forcemerge")
    (node,) = http.get("/_nodes/_local/stats/indices/get,merge,segments").json()["nodes"].values()
    assert set(node["indices"]) == {"get", "merges", "segments"}
    assert node["indices"]["get"]["exists_total"] >= 1
    assert node["indices"]["merges"]["total"] >= 1 and node["indices"]["segments"]["count"] >= 1


def test_the_official_client_reads_a_metric(es, index):
    es.index(index=index, id="1", document={"n": 1}, refresh=True)
    stats = es.indices.stats(index=index, metric="indexing")
    assert stats["indices"][index]["primaries"]["indexing"]["index_total"] == 1
    assert set(stats["_all"]["total"]) == {"indexing"}


def test_cat_shards_shows_the_copy_s_query_count_and_global_checkpoint(http, index):
    http.put(f"/{index}/_doc/1", params={"refresh": "true"}, json={"n": 1})
    http.post(f"/{index}/_search", json={"query": {"match_all": {}}})
    (row,) = http.get(f"/_cat/shards/{index}", params={
        "h": "search.query_total,seq_no.local_checkpoint,seq_no.global_checkpoint", "format": "json"}).json()
    shards = http.get(f"/{index}/_stats", params={"level": "shards"}).json()["indices"][index]["shards"]
    stats = shards["0"][0]
    assert row["search.query_total"] == "1"
    assert row["seq_no.global_checkpoint"] == str(stats["seq_no"]["global_checkpoint"])


def test_each_index_shows_its_health_and_status_after_its_uuid(http, index):
    """IndicesStatsResponse: uuid, health (lowercase), status (the metadata's state), then
    the sections; a closed index reached with forbid_closed_indices=false says `close`."""
    http.get(f"/_cluster/health/{index}", params={"wait_for_status": "green"})
    entry = http.get(f"/{index}/_stats").json()["indices"][index]
    assert list(entry)[:5] == ["uuid", "health", "status", "primaries", "total"]
    assert (entry["health"], entry["status"]) == ("green", "open")
    assert http.post(f"/{index}/_close").status_code == 200
    closed = http.get(f"/{index}/_stats", params={"forbid_closed_indices": "false"}).json()
    assert (closed["indices"][index]["health"], closed["indices"][index]["status"]) == ("green", "close")
