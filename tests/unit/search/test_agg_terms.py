"""terms: counts per value, order, size and shard_size accounting, keys of every field
type, `missing`, include/exclude, sub-aggregations, and the reduce across shards."""

import pytest

from strata_node.common.errors import IllegalArgument

from .shards import one_shard, run, shards

MAPPING = {"properties": {"status": {"type": "keyword"}, "code": {"type": "long"},
                          "price": {"type": "double"},
                          "ts": {"type": "date"}, "ok": {"type": "boolean"}, "ip": {"type": "ip"}}}
DOCS = [{"status": "ok", "code": 200, "price": 10.0, "ts": "2024-01-01", "ok": True, "ip": "10.0.0.1"},
        {"status": "ok", "code": 200, "price": 20.5, "ts": "2024-01-02", "ok": True, "ip": "10.0.0.2"},
        {"status": "error", "code": 500, "price": 10.0, "ts": "2024-01-01", "ok": False, "ip": "10.0.0.1"},
        {"status": "ok", "code": 404},
        {"status": "warn"}]


def buckets(out, name="t"):
    return [(b["key"], b["doc_count"]) for b in out[name]["buckets"]]


def test_buckets_are_counts_biggest_first_then_by_key(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "status"}}})
    assert out == {"t": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "ok", "doc_count": 3}, {"key": "error", "doc_count": 1}, {"key": "warn", "doc_count": 1}]}}


def test_size_keeps_the_top_and_counts_the_rest_as_other(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "status", "size": 1}}})
    assert buckets(out) == [("ok", 3)]
    assert out["t"]["sum_other_doc_count"] == 2


def test_order_by_key_and_by_count_ascending(tmp_path):
    by_key = one_shard(tmp_path / "a", MAPPING, DOCS,
                       {"t": {"terms": {"field": "status", "order": {"_key": "desc"}}}})
    assert buckets(by_key) == [("warn", 1), ("ok", 3), ("error", 1)]
    rare = one_shard(tmp_path / "b", MAPPING, DOCS,
                     {"t": {"terms": {"field": "status", "order": {"_count": "asc"}}}})
    assert buckets(rare) == [("error", 1), ("warn", 1), ("ok", 3)]


def test_order_by_a_sub_aggregation_metric(tmp_path):
    body = {"t": {"terms": {"field": "status", "order": {"p.max": "desc"}},
                  "aggs": {"p": {"stats": {"field": "price"}}}},
            "u": {"terms": {"field": "status", "order": [{"avg_code": "asc"}]},
                  "aggs": {"avg_code": {"avg": {"field": "code"}}}}}
    out = one_shard(tmp_path, MAPPING, DOCS, body)
    assert [k for k, _ in buckets(out)] == ["ok", "error", "warn"]  # 20.5, 10.0, then no value last
    assert [b["avg_code"]["value"] for b in out["u"]["buckets"]] == [268.0, 500.0, None]


def test_an_order_path_to_a_missing_aggregation_is_refused():
    from strata_node.search.aggregations import parse_aggregations

    with pytest.raises(IllegalArgument, match=r"Invalid aggregator order path \[nope\]"):
        parse_aggregations({"t": {"terms": {"field": "status", "order": {"nope": "desc"}}}})


def test_numeric_keys_stay_numbers(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"t": {"terms": {"field": "code"}}, "p": {"terms": {"field": "price"}}})
    assert out["t"]["buckets"] == [{"key": 200, "doc_count": 2}, {"key": 404, "doc_count": 1},
                                   {"key": 500, "doc_count": 1}]
    assert out["p"]["buckets"] == [{"key": 10.0, "doc_count": 2}, {"key": 20.5, "doc_count": 1}]


def test_booleans_are_keyed_one_and_zero_with_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "ok"}}})
    assert out["t"]["buckets"] == [{"key": 1, "key_as_string": "true", "doc_count": 2},
                                   {"key": 0, "key_as_string": "false", "doc_count": 1}]


def test_dates_are_keyed_by_epoch_millis_with_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "ts"}},
                                              "f": {"terms": {"field": "ts", "format": "yyyy/MM/dd"}}})
    assert out["t"]["buckets"][0] == {"key": 1704067200000, "key_as_string": "2024-01-01T00:00:00.000Z",
                                      "doc_count": 2}
    assert out["f"]["buckets"][1]["key_as_string"] == "2024/01/02"


def test_ips_are_keyed_by_their_text(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "ip"}}})
    assert buckets(out) == [("10.0.0.1", 2), ("10.0.0.2", 1)]


def test_ips_sort_by_address_not_by_text(tmp_path):
    docs = [{"ip": "10.0.0.10"}, {"ip": "10.0.0.2"}, {"ip": "::1"}, {"ip": "2001:db8::1"}, {"code": 1}]
    out = one_shard(tmp_path, MAPPING, docs, {"t": {"terms": {"field": "ip", "order": {"_key": "asc"},
                                                              "missing": "10.0.0.3"}}})
    assert [k for k, _ in buckets(out)] == ["::1", "10.0.0.2", "10.0.0.3", "10.0.0.10", "2001:db8::1"]


def test_missing_puts_documents_without_a_value_in_a_bucket(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "ok", "missing": False}},
                                              "c": {"terms": {"field": "code", "missing": 0}},
                                              "k": {"terms": {"field": "status", "missing": "none"}}})
    assert buckets(out) == [(0, 3), (1, 2)]
    assert buckets(out, "c") == [(200, 2), (0, 1), (404, 1), (500, 1)]
    assert buckets(out, "k") == [("ok", 3), ("error", 1), ("warn", 1)]  # every document has a status


def test_min_doc_count_zero_lists_the_fields_terms_not_matched(tmp_path):
    from strata_node.search.matches import Matches

    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"t": {"terms": {"field": "status", "min_doc_count": 0}}}, contexts,
                  matches=lambda ctx: Matches(ctx.reader.docs()[:1]))
    assert buckets(out) == [("ok", 1), ("error", 0), ("warn", 0)]


def test_min_doc_count_drops_small_buckets(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "status", "min_doc_count": 2}}})
    assert buckets(out) == [("ok", 3)]


def test_buckets_under_min_doc_count_are_not_counted_as_other(tmp_path):
    docs = [{"status": "a"}] * 3 + [{"status": "b"}]
    out = one_shard(tmp_path, MAPPING, docs, {"t": {"terms": {"field": "status", "min_doc_count": 2}}})
    assert out["t"] == {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                        "buckets": [{"key": "a", "doc_count": 3}]}


def test_other_counts_the_buckets_size_leaves_out_not_those_under_min_doc_count(tmp_path):
    docs = [{"status": "a"}] * 3 + [{"status": "b"}] * 2 + [{"status": "c"}]
    out = one_shard(tmp_path, MAPPING, docs,
                    {"t": {"terms": {"field": "status", "size": 1, "min_doc_count": 2}}})
    assert buckets(out) == [("a", 3)]
    assert out["t"]["sum_other_doc_count"] == 2  # b, cut by size; c, under min_doc_count, is dropped


def test_include_and_exclude_filter_terms(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"terms": {"field": "status", "include": "o.*|w.*",
                                                              "exclude": ["warn"]}},
                                              "n": {"terms": {"field": "code", "exclude": [200]}}})
    assert buckets(out, "r") == [("ok", 3)]
    assert buckets(out, "n") == [(404, 1), (500, 1)]


def test_a_regular_expression_include_on_numbers_is_refused(tmp_path):
    with pytest.raises(IllegalArgument, match="can only be applied to string fields"):
        one_shard(tmp_path, MAPPING, DOCS, {"n": {"terms": {"field": "code", "include": "2.*"}}})


def test_a_multi_valued_document_counts_once_per_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"status": ["a", "b", "a"]}, {"status": "a"}],
                    {"t": {"terms": {"field": "status"}}})
    assert buckets(out) == [("a", 2), ("b", 1)]


def test_sub_aggregations_see_only_their_buckets_documents(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "status"},
                                                    "aggs": {"p": {"sum": {"field": "price"}},
                                                             "c": {"terms": {"field": "code"}}}}})
    ok = out["t"]["buckets"][0]
    assert ok["key"] == "ok" and ok["p"] == {"value": 30.5}
    assert [(b["key"], b["doc_count"]) for b in ok["c"]["buckets"]] == [(200, 2), (404, 1)]


def test_an_unmapped_field_has_no_buckets(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "nope"}}})
    assert out == {"t": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []}}


def test_an_unmapped_field_with_missing_puts_everything_in_one_bucket(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "nope", "missing": "n/a"}}})
    assert buckets(out) == [("n/a", 5)]


def test_reduce_sums_counts_of_the_same_key_across_shards(tmp_path):
    shard_docs = [[{"status": "a"}, {"status": "b"}], [{"status": "b"}, {"status": "c"}], [{"status": "b"}]]
    with shards(tmp_path, MAPPING, shard_docs) as contexts:
        out = run({"t": {"terms": {"field": "status"}}}, contexts)
    assert out["t"] == {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "b", "doc_count": 3}, {"key": "a", "doc_count": 1}, {"key": "c", "doc_count": 1}]}


def test_reduce_reports_the_error_bound_when_shards_cut_their_lists(tmp_path):
    # shard_size 1: each shard sends only its top term, so a term can be missed
    shard_docs = [[{"status": "a"}, {"status": "a"}, {"status": "b"}],
                  [{"status": "b"}, {"status": "b"}, {"status": "c"}]]
    with shards(tmp_path, MAPPING, shard_docs) as contexts:
        out = run({"t": {"terms": {"field": "status", "size": 1, "shard_size": 1,
                                   "show_term_doc_count_error": True}}}, contexts)
    # each shard's smallest returned count (2 and 2) bounds what it may have left out
    assert out["t"]["doc_count_error_upper_bound"] == 4
    assert out["t"]["sum_other_doc_count"] == 4  # b and c from the shards, then a dropped by size
    assert out["t"]["buckets"] == [{"key": "a", "doc_count": 2, "doc_count_error_upper_bound": 2}]


def test_one_shard_never_reports_an_error_bound(tmp_path):
    docs = [{"status": s} for s in "aabbc"]
    out = one_shard(tmp_path, MAPPING, docs,
                    {"t": {"terms": {"field": "status", "size": 1, "shard_size": 1}}})
    assert out["t"]["doc_count_error_upper_bound"] == 0 and out["t"]["sum_other_doc_count"] == 3


def test_reduce_merges_sub_aggregations_per_key(tmp_path):
    shard_docs = [[{"status": "a", "price": 1.0}],
                  [{"status": "a", "price": 3.0}, {"status": "b", "price": 7.0}]]
    with shards(tmp_path, MAPPING, shard_docs) as contexts:
        out = run({"t": {"terms": {"field": "status"}, "aggs": {"avg": {"avg": {"field": "price"}}}}},
                  contexts)
    assert [(b["key"], b["avg"]["value"]) for b in out["t"]["buckets"]] == [("a", 2.0), ("b", 7.0)]


def test_reduce_orders_by_a_sub_aggregation_after_merging(tmp_path):
    shard_docs = [[{"status": "a", "price": 1.0}, {"status": "b", "price": 5.0}],
                  [{"status": "a", "price": 9.0}]]
    with shards(tmp_path, MAPPING, shard_docs) as contexts:
        out = run({"t": {"terms": {"field": "status", "order": {"s": "desc"}},
                         "aggs": {"s": {"sum": {"field": "price"}}}}}, contexts)
    assert [(b["key"], b["s"]["value"]) for b in out["t"]["buckets"]] == [("a", 10.0), ("b", 5.0)]


def test_sub_aggregations_stay_right_with_many_buckets(tmp_path):
    # more buckets than the per-bucket comparison handles: documents go through one sort
    docs = [{"code": i % 40, "price": float(i)} for i in range(400)]
    out = one_shard(tmp_path, MAPPING, docs, {"t": {"terms": {"field": "code", "size": 40},
                                                    "aggs": {"s": {"sum": {"field": "price"}},
                                                             "m": {"min": {"field": "price"}}}}})
    got = {b["key"]: (b["doc_count"], b["s"]["value"], b["m"]["value"]) for b in out["t"]["buckets"]}
    assert got == {c: (10, float(sum(range(c, 400, 40))), float(c)) for c in range(40)}


def test_a_size_below_one_is_refused():
    from strata_node.search.aggregations import parse_aggregations

    with pytest.raises(IllegalArgument, match=r"\[size\] must be greater than 0. Found \[0\] in \[t\]"):
        parse_aggregations({"t": {"terms": {"field": "status", "size": 0}}})
