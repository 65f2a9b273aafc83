"""Aggregations through `_search` on a real node: every aggregation type once, reduced
across shards to the same answer a one-shard index gives, beside hits, post_filter and
typed_keys."""

from __future__ import annotations

import pytest

from tests.support.sharded import sharded_copies

MAPPING = {"properties": {"n": {"type": "long"}, "k": {"type": "keyword"}, "d": {"type": "date"},
                          "p": {"type": "double"}}}
DOCS = [{"n": i % 5, "k": f"k{i % 3}", "d": f"2024-0{i % 4 + 1}-15", "p": i + 0.5} for i in range(20)]
AGGS = {
    "avg_n": {"avg": {"field": "n"}},
    "distinct_k": {"cardinality": {"field": "k"}},
    "max_p": {"max": {"field": "p"}},
    "min_p": {"min": {"field": "p"}},
    "stats_n": {"stats": {"field": "n"}},
    "sum_n": {"sum": {"field": "n"}},
    "count_k": {"value_count": {"field": "k"}},
    "by_k": {"terms": {"field": "k", "size": 2}, "aggs": {"sum_n": {"sum": {"field": "n"}}}},
    "p_hist": {"histogram": {"field": "p", "interval": 10}},
    "by_month": {"date_histogram": {"field": "d", "calendar_interval": "month"}},
    "n_ranges": {"range": {"field": "n", "ranges": [{"to": 2}, {"from": 2}]}},
    "early": {"date_range": {"field": "d", "ranges": [{"to": "2024-03-01"}]}},
    "only_k1": {"filter": {"term": {"k": "k1"}}, "aggs": {"avg_p": {"avg": {"field": "p"}}}},
    "n_is": {"filters": {"filters": {"one": {"term": {"n": 1}}, "two": {"term": {"n": 2}}}}},
    "top": {"top_hits": {"size": 1, "sort": [{"p": "desc"}], "_source": ["p"]}},
}


@pytest.fixture(scope="module")
def indices(node):
    """The same documents in indices of 1 and 3 shards."""
    return list(sharded_copies(node, "aggs", (1, 3), MAPPING, DOCS).values())


def aggregations(http, index, aggs=AGGS, **body):
    r = http.post(f"/{index}/_search", json={"size": 0, "aggs": aggs, **body})
    assert r.status_code == 200, r.text
    return r.json()["aggregations"]


def without_index(value):
    """Top hits name their index; the rest must not depend on the shard count."""
    if isinstance(value, dict):
        return {k: without_index(v) for k, v in value.items() if k != "_index"}
    if isinstance(value, list):
        return [without_index(v) for v in value]
    return value


def test_every_aggregation_type(http, indices):
    aggs = aggregations(http, indices[0])
    assert aggs["avg_n"] == {"value": 2.0}
    assert aggs["distinct_k"] == {"value": 3}
    assert (aggs["max_p"], aggs["min_p"]) == ({"value": 19.5}, {"value": 0.5})
    assert aggs["stats_n"] == {"count": 20, "min": 0.0, "max": 4.0, "avg": 2.0, "sum": 40.0}
    assert (aggs["sum_n"], aggs["count_k"]) == ({"value": 40.0}, {"value": 20})
    assert aggs["by_k"]["sum_other_doc_count"] == 6
    assert [(b["key"], b["doc_count"], b["sum_n"]["value"]) for b in aggs["by_k"]["buckets"]] == \
        [("k0", 7, 13.0), ("k1", 7, 15.0)]
    assert [(b["key"], b["doc_count"]) for b in aggs["p_hist"]["buckets"]] == [(0.0, 10), (10.0, 10)]
    assert [(b["key_as_string"], b["doc_count"]) for b in aggs["by_month"]["buckets"]] == \
        [(f"2024-0{m}-01T00:00:00.000Z", 5) for m in range(1, 5)]
    assert [b["doc_count"] for b in aggs["n_ranges"]["buckets"]] == [8, 12]
    assert aggs["early"]["buckets"][0]["doc_count"] == 10
    assert aggs["only_k1"]["doc_count"] == 7
    assert aggs["only_k1"]["avg_p"]["value"] == pytest.approx(sum(d["p"] for d in DOCS if d["k"] == "k1") / 7)
    assert {k: b["doc_count"] for k, b in aggs["n_is"]["buckets"].items()} == {"one": 4, "two": 4}
    [top] = aggs["top"]["hits"]["hits"]
    assert (top["_id"], top["_source"]) == ("19", {"p": 19.5})


def test_shards_reduce_to_the_one_shard_answer(http, indices):
    one, three = (without_index(aggregations(http, name)) for name in indices)
    assert three == one


def test_aggregations_follow_the_query_not_the_post_filter(http, indices):
    r = http.post(f"/{indices[1]}/_search", json={
        "query": {"range": {"n": {"gte": 3}}}, "post_filter": {"term": {"k": "k0"}},
        "aggs": {"by_k": {"terms": {"field": "k"}}}, "size": 20})
    body = r.json()
    expected = [i for i, d in enumerate(DOCS) if d["n"] >= 3 and d["k"] == "k0"]
    assert sorted(int(h["_id"]) for h in body["hits"]["hits"]) == expected
    assert body["hits"]["total"]["value"] == len(expected)
    buckets = {b["key"]: b["doc_count"] for b in body["aggregations"]["by_k"]["buckets"]}
    assert sum(buckets.values()) == sum(1 for d in DOCS if d["n"] >= 3)


def test_typed_keys_and_msearch(http, indices):
    r = http.post(f"/{indices[1]}/_search", params={"typed_keys": "true"},
                  json={"size": 0, "aggs": {"m": {"max": {"field": "n"}}, "t": {"terms": {"field": "k"}}}})
    assert set(r.json()["aggregations"]) == {"max#m", "sterms#t"}
    data = b'{}\n{"size":0,"aggs":{"s":{"sum":{"field":"n"}}}}\n'
    r = http.post(f"/{indices[1]}/_msearch", content=data, headers={"content-type": "application/x-ndjson"},
                  params={"typed_keys": "true"})
    assert r.json()["responses"][0]["aggregations"] == {"sum#s": {"value": 40.0}}


def test_aggregation_errors(http, indices):
    r = http.post(f"/{indices[1]}/_search", json={"aggs": {"x": {"no_such_agg": {}}}})
    assert r.status_code == 400
    assert r.json()["error"]["type"] in ("parsing_exception", "x_content_parse_exception")
    r = http.post(f"/{indices[1]}/_search", json={"aggs": {"x": {"terms": {"field": "n", "size": -1}}}})
    assert r.status_code == 400
