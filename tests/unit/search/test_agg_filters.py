"""filter and filters: buckets defined by queries, intersected with the request's
matches, named or anonymous, with an optional bucket for what no filter matched."""

from strata_node.search.matches import Matches

from .shards import one_shard, run, shards

MAPPING = {"properties": {"status": {"type": "keyword"}, "n": {"type": "long"}}}
DOCS = [{"status": "ok", "n": 1}, {"status": "ok", "n": 2}, {"status": "error", "n": 3},
        {"status": "warn", "n": 4}]


def test_filter_counts_the_matches_its_query_also_matches(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"f": {"filter": {"term": {"status": "ok"}},
                                                    "aggs": {"s": {"sum": {"field": "n"}}}}})
    assert out == {"f": {"doc_count": 2, "s": {"value": 3.0}}}


def test_filter_only_sees_the_requests_matches(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"f": {"filter": {"range": {"n": {"gte": 2}}}}}, contexts,
                  matches=lambda ctx: Matches(ctx.reader.docs()[:2]))
    assert out == {"f": {"doc_count": 1}}


def test_named_filters_are_keyed_and_in_key_order(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"f": {"filters": {"filters": {
        "warnings": {"term": {"status": "warn"}}, "errors": {"term": {"status": "error"}}}}}})
    assert out == {"f": {"buckets": {"errors": {"doc_count": 1}, "warnings": {"doc_count": 1}}}}
    assert list(out["f"]["buckets"]) == ["errors", "warnings"]


def test_anonymous_filters_are_a_list_in_request_order(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"f": {"filters": {"filters": [
        {"term": {"status": "warn"}}, {"range": {"n": {"lte": 2}}}]}}})
    assert out == {"f": {"buckets": [{"doc_count": 1}, {"doc_count": 2}]}}


def test_the_other_bucket_holds_what_no_filter_matched(tmp_path):
    out = one_shard(tmp_path / "a", MAPPING, DOCS, {"f": {"filters": {"other_bucket_key": "rest", "filters": {
        "ok": {"term": {"status": "ok"}}}}, "aggs": {"s": {"sum": {"field": "n"}}}}})
    assert out["f"]["buckets"] == {"ok": {"doc_count": 2, "s": {"value": 3.0}},
                                   "rest": {"doc_count": 2, "s": {"value": 7.0}}}
    anonymous = one_shard(tmp_path / "b", MAPPING, DOCS, {"f": {"filters": {"other_bucket": True, "filters": [
        {"term": {"status": "ok"}}]}}})
    assert anonymous["f"]["buckets"] == [{"doc_count": 2}, {"doc_count": 2}]


def test_named_filters_unkeyed_carry_their_key(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"f": {"filters": {"keyed": False, "other_bucket": True, "filters": {
        "ok": {"term": {"status": "ok"}}}}}})
    assert out["f"]["buckets"] == [{"key": "ok", "doc_count": 2}, {"key": "_other_", "doc_count": 2}]


def test_reduce_adds_filter_counts_across_shards(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        out = run({"f": {"filter": {"terms": {"status": ["ok", "warn"]}}},
                   "g": {"filters": {"filters": {"a": {"term": {"status": "ok"}}, "b": {"match_all": {}}}}}},
                  contexts)
    assert out == {"f": {"doc_count": 3}, "g": {"buckets": {"a": {"doc_count": 2}, "b": {"doc_count": 4}}}}


def test_terms_can_order_by_a_filters_count_or_metric(tmp_path):
    big = {"filter": {"range": {"n": {"gte": 2}}}, "aggs": {"s": {"sum": {"field": "n"}}}}
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "status", "order": {"big>s": "desc"}},
                                                    "aggs": {"big": big}}})
    assert [b["key"] for b in out["t"]["buckets"]] == ["warn", "error", "ok"]
