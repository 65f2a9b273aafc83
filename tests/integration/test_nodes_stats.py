"""`GET /_nodes/stats` and node selectors on a real node."""

from __future__ import annotations

from tests.support.polling import wait_until


def test_nodes_stats_sections(http, node):
    body = http.get("/_nodes/stats").json()
    assert body["_nodes"] == {"total": 1, "successful": 1, "failed": 0}
    (stats,) = body["nodes"].values()
    assert stats["name"] == node.name
    assert stats["jvm"]["mem"]["heap_used_in_bytes"] > 0
    assert 0 <= stats["jvm"]["mem"]["heap_used_percent"] <= 100
    assert stats["process"]["open_file_descriptors"] > 0 and stats["process"]["max_file_descriptors"] > 0
    assert stats["process"]["cpu"]["total_in_millis"] >= 0
    assert stats["fs"]["total"]["total_in_bytes"] >= stats["fs"]["total"]["available_in_bytes"] > 0
    assert stats["fs"]["data"][0]["path"]
    assert stats["os"]["mem"]["total_in_bytes"] > 0
    assert set(stats["indices"]) >= {"docs", "store", "indexing", "search", "refresh", "flush", "get"}
    assert "strata" not in stats


def test_indices_counters_follow_writes(http, index):
    before = http.get("/_nodes/stats/indices").json()
    (stats,) = before["nodes"].values()
    http.post(f"/{index}/_doc", params={"refresh": "true"}, json={"a": 1})
    after = next(iter(http.get("/_nodes/_local/stats/indices/docs,indexing").json()["nodes"].values()))
    assert set(after) >= {"indices"} and set(after["indices"]) == {"docs", "indexing"}
    assert after["indices"]["indexing"]["index_total"] == stats["indices"]["indexing"]["index_total"] + 1
    assert after["indices"]["docs"]["count"] == stats["indices"]["docs"]["count"] + 1


def test_flushes_the_translog_size_started_count_as_periodic_apart_from_requested_ones(http, index_name):
    """ES's flush stats: every flush in `total`, those a full translog started in
    `periodic`, and the time they took; the index and node stats agree."""
    def flush_stats() -> dict:
        return http.get(f"/{index_name}/_stats").json()["indices"][index_name]["primaries"]["flush"]

    http.put(f"/{index_name}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 0,
                                                  "index.translog.flush_threshold_size": "200b"}})
    http.post(f"/{index_name}/_flush")  # requested: not periodic
    flush = flush_stats()
    assert (flush["total"], flush["periodic"]) == (1, 0)
    assert flush["total_time_in_millis"] >= 0
    http.post(f"/{index_name}/_doc", json={"message": "a long message to make a periodic flush happen " * 3})
    flush = wait_until(lambda: (f := flush_stats())["periodic"] and f, timeout=10, interval=0.05)
    assert flush["periodic"] == 1 and flush["total"] == 2
    node_flush = next(iter(http.get("/_nodes/_local/stats/indices/flush").json()["nodes"].values()))
    assert node_flush["indices"]["flush"]["periodic"] >= 1
    assert node_flush["indices"]["flush"]["total"] >= node_flush["indices"]["flush"]["periodic"]
    http.delete(f"/{index_name}")


def test_metric_filters_and_errors(http):
    only = next(iter(http.get("/_nodes/stats/jvm,fs").json()["nodes"].values()))
    assert "jvm" in only and "fs" in only and "os" not in only and "indices" not in only
    bad = http.get("/_nodes/stats/nope")
    assert bad.status_code == 400
    assert (
        bad.json()["error"]["reason"] == "request [/_nodes/stats/nope] contains unrecognized metric: [nope]"
    )


def test_node_selectors(http, node):
    me = http.get("/_cluster/state/master_node").json()["master_node"]
    for selector in (
        "_all",
        "_local",
        "_master",
        me,
        node.name,
        "master:true",
        "data:true",
        "n*",
        "127.0.0.1",
    ):
        for path in (f"/_nodes/{selector}/stats/os", f"/_nodes/{selector}"):
            body = http.get(path).json()
            assert list(body["nodes"]) == [me], (path, body)
    for selector in ("master:false", "other-name", "_all,master:false"):
        assert http.get(f"/_nodes/{selector}/stats/os").json()["nodes"] == {}


def test_the_official_client(es):
    stats = es.nodes.stats(metric="os,process")
    (one,) = stats["nodes"].values()
    assert "os" in one and "process" in one
    assert es.nodes.info(node_id="_local")["_nodes"]["total"] == 1
