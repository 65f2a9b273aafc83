"""extended_stats, weighted_avg, missing, global and the pipeline aggregations through
`_search` on a real node, with elasticsearch-py as an application sends them: the same
answer from 1 and 3 shards, and the errors ES gives for a misplaced global or a path to
nothing."""

from __future__ import annotations

import math

import pytest
from elasticsearch import ApiError

from tests.support.sharded import sharded_copies

MAPPING = {"properties": {"n": {"type": "long"}, "k": {"type": "keyword"}, "d": {"type": "date"},
                          "p": {"type": "double"}}}
# n is 0..4 four times over; the last two documents have no p and no n.
DOCS = [{"n": i % 5, "k": f"k{i % 3}", "d": f"2024-0{i % 4 + 1}-15", "p": i + 0.5} for i in range(20)] + \
    [{"k": "k0", "d": "2024-01-20"}, {"k": "k1", "d": "2024-03-20"}]


@pytest.fixture(scope="module")
def indices(node):
    return sharded_copies(node, "more-aggs", (1, 3), MAPPING, DOCS)


def search(es, index, aggs, **body):
    return es.search(index=index, size=0, aggs=aggs, **body).body["aggregations"]


@pytest.mark.parametrize("shards", [1, 3])
def test_extended_stats_gives_variances_and_bounds(es, indices, shards):
    stats = search(es, indices[shards], {"es": {"extended_stats": {"field": "n", "sigma": 1}}})["es"]
    # 0..4 four times: sum 40, sum of squares 4 * 30, population variance 6 - 2^2
    assert (stats["count"], stats["sum"], stats["avg"], stats["sum_of_squares"]) == (20, 40.0, 2.0, 120.0)
    assert stats["variance"] == stats["variance_population"] == 2.0
    assert stats["variance_sampling"] == pytest.approx(40 / 19)
    assert stats["std_deviation"] == pytest.approx(math.sqrt(2))
    bounds = stats["std_deviation_bounds"]
    assert bounds["upper"] == pytest.approx(2 + math.sqrt(2))
    assert bounds["lower"] == pytest.approx(2 - math.sqrt(2))
    assert bounds["upper_sampling"] == pytest.approx(2 + math.sqrt(40 / 19))


def test_extended_stats_of_no_values_prints_nulls(es, indices):
    stats = search(es, indices[3], {"es": {"extended_stats": {"field": "n"}}},
                   query={"term": {"k": "nothing"}})["es"]
    assert (stats["count"], stats["sum"], stats["variance"], stats["sum_of_squares"]) == (0, 0.0, None, None)
    assert set(stats["std_deviation_bounds"].values()) == {None}


@pytest.mark.parametrize("shards", [1, 3])
def test_weighted_avg_weighs_each_value(es, indices, shards):
    aggs = {"w": {"weighted_avg": {"value": {"field": "n"}, "weight": {"field": "p"}}}}
    got = search(es, indices[shards], aggs)
    weighted = [(d["n"], d["p"]) for d in DOCS if "p" in d]
    assert got["w"]["value"] == pytest.approx(sum(n * p for n, p in weighted) / sum(p for _, p in weighted))


def test_weighted_avg_missing_fills_an_absent_weight(es, indices):
    got = search(es, indices[3], {"w": {"weighted_avg": {"value": {"field": "n", "missing": 10},
                                                         "weight": {"field": "p", "missing": 0}}}},
                 query={"term": {"k": "k0"}})
    k0 = [d for d in DOCS if d["k"] == "k0"]
    assert got["w"]["value"] == pytest.approx(sum(d.get("n", 10) * d.get("p", 0) for d in k0)
                                              / sum(d.get("p", 0) for d in k0))


@pytest.mark.parametrize("shards", [1, 3])
def test_missing_buckets_the_documents_without_the_field(es, indices, shards):
    got = search(es, indices[shards], {
        "no_p": {"missing": {"field": "p"}, "aggs": {"ks": {"terms": {"field": "k"}}}},
        "no_such": {"missing": {"field": "unmapped"}}})
    assert got["no_p"]["doc_count"] == 2
    assert sorted(b["key"] for b in got["no_p"]["ks"]["buckets"]) == ["k0", "k1"]
    assert got["no_such"]["doc_count"] == len(DOCS)


@pytest.mark.parametrize("shards", [1, 3])
def test_global_holds_every_document_whatever_the_query(es, indices, shards):
    got = search(es, indices[shards], {"all": {"global": {}, "aggs": {"ks": {"cardinality": {"field": "k"}}}},
                                       "ks": {"cardinality": {"field": "k"}}},
                 query={"term": {"k": "k1"}})
    assert (got["all"]["doc_count"], got["all"]["ks"]["value"]) == (len(DOCS), 3)
    assert got["ks"]["value"] == 1


def test_global_through_a_filtered_alias_keeps_the_alias_filter(es, http, indices):
    r = http.post("/_aliases", json={"actions": [{"add": {"index": indices[3], "alias": "only-k2",
                                                         "filter": {"term": {"k": "k2"}}}}]})
    assert r.status_code == 200, r.text
    got = search(es, "only-k2", {"all": {"global": {}}}, query={"term": {"n": 0}})
    assert got["all"]["doc_count"] == sum(d["k"] == "k2" for d in DOCS)


def test_a_nested_global_fails_every_shard(es, indices):
    with pytest.raises(ApiError) as e:
        search(es, indices[3], {"t": {"terms": {"field": "k"}, "aggs": {"g": {"global": {}}}}})
    assert e.value.status_code == 500
    error = e.value.body["error"]
    assert error["type"] == "search_phase_execution_exception"
    assert error["root_cause"][0]["reason"] == (
        "Aggregation [t] cannot have a global sub-aggregation [g]. "
        "Global aggregations can only be defined as top level aggregations")


PIPELINES = {
    "by_month": {"date_histogram": {"field": "d", "calendar_interval": "month"},
                 "aggs": {"s": {"sum": {"field": "p"}},
                          "running": {"cumulative_sum": {"buckets_path": "s"}},
                          "change": {"derivative": {"buckets_path": "_count"}}}},
    "avg_month": {"avg_bucket": {"buckets_path": "by_month>s"}},
    "best_month": {"max_bucket": {"buckets_path": "by_month>s"}},
    "month_counts": {"stats_bucket": {"buckets_path": "by_month._count"}},
    "top_ks": {"terms": {"field": "k"},
               "aggs": {"p": {"sum": {"field": "p"}},
                        "sorted": {"bucket_sort": {"sort": [{"p": {"order": "desc"}}], "size": 2}}}},
}


def month_sums() -> list[float]:
    sums = [0.0] * 4
    for d in DOCS:
        sums[int(d["d"][6]) - 1] += d.get("p", 0)
    return sums


@pytest.mark.parametrize("shards", [1, 3])
def test_pipelines_run_over_the_reduced_buckets(es, indices, shards):
    got = search(es, indices[shards], PIPELINES)
    sums = month_sums()
    buckets = got["by_month"]["buckets"]
    assert [b["s"]["value"] for b in buckets] == sums
    assert [b["running"]["value"] for b in buckets] == [sum(sums[:i + 1]) for i in range(4)]
    counts = [b["doc_count"] for b in buckets]
    assert "change" not in buckets[0]
    assert [b["change"]["value"] for b in buckets[1:]] == [counts[i] - counts[i - 1] for i in range(1, 4)]
    assert got["avg_month"]["value"] == sum(sums) / 4
    assert got["best_month"]["value"] == max(sums)
    assert got["best_month"]["keys"] == ["2024-04-01T00:00:00.000Z"]
    assert (got["month_counts"]["count"], got["month_counts"]["sum"]) == (4, float(len(DOCS)))
    by_p = sorted(({"k0", "k1", "k2"}), key=lambda k: -sum(d.get("p", 0) for d in DOCS if d["k"] == k))
    assert [b["key"] for b in got["top_ks"]["buckets"]] == by_p[:2]


def test_pipelines_answer_the_same_from_one_and_three_shards(es, indices):
    assert search(es, indices[3], PIPELINES) == search(es, indices[1], PIPELINES)


def test_a_path_to_no_aggregation_is_a_validation_error(es, indices):
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"x": {"avg_bucket": {"buckets_path": "nope>s"}}})
    assert e.value.status_code == 400
    assert e.value.body["error"]["type"] == "action_request_validation_exception"
    assert "No aggregation found for path [nope>s]" in e.value.body["error"]["reason"]
