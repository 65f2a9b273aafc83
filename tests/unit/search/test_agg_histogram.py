"""histogram: fixed-width numeric buckets with empty buckets filled between the first and
last key (min_doc_count 0), offsets, extended and hard bounds, keyed output, and merging
shards' buckets."""

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.aggregations import parse_aggregations

from .shards import one_shard, run, shards

MAPPING = {"properties": {"price": {"type": "double"}, "n": {"type": "long"}, "k": {"type": "keyword"}}}
DOCS = [{"price": 12.0}, {"price": 18.0}, {"price": 55.0}, {"price": 99.9}, {"k": "no price"}]


def keys(out, name="h"):
    return [(b["key"], b["doc_count"]) for b in out[name]["buckets"]]


def test_values_fall_in_interval_wide_buckets_keyed_by_their_start(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {"field": "price", "interval": 50}}})
    assert out == {"h": {"buckets": [{"key": 0.0, "doc_count": 2}, {"key": 50.0, "doc_count": 2}]}}


def test_empty_buckets_between_the_first_and_last_are_filled(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {"field": "price", "interval": 20}}})
    assert keys(out) == [(0.0, 2), (20.0, 0), (40.0, 1), (60.0, 0), (80.0, 1)]


def test_min_doc_count_leaves_out_small_buckets(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {"field": "price", "interval": 20,
                                                                  "min_doc_count": 1}}})
    assert keys(out) == [(0.0, 2), (40.0, 1), (80.0, 1)]


def test_offset_shifts_the_bucket_boundaries(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"h": {"histogram": {"field": "price", "interval": 50, "offset": 15}}})
    assert keys(out) == [(-35.0, 1), (15.0, 2), (65.0, 1)]


def test_extended_bounds_add_empty_buckets_at_the_ends(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {
        "field": "price", "interval": 50, "extended_bounds": {"min": -100, "max": 200}}}})
    assert keys(out) == [(-100.0, 0), (-50.0, 0), (0.0, 2), (50.0, 2), (100.0, 0), (150.0, 0), (200.0, 0)]


def test_extended_bounds_give_buckets_even_without_documents(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"k": "x"}], {"h": {"histogram": {
        "field": "price", "interval": 10, "extended_bounds": {"min": 0, "max": 20}}}})
    assert keys(out) == [(0.0, 0), (10.0, 0), (20.0, 0)]


def test_hard_bounds_cut_buckets_outside(tmp_path):
    out = one_shard(tmp_path / "a", MAPPING, DOCS, {"h": {"histogram": {
        "field": "price", "interval": 20, "hard_bounds": {"min": 20, "max": 60}}}})
    assert keys(out) == [(40.0, 1)]
    inside = one_shard(tmp_path / "b", MAPPING, DOCS, {"h": {"histogram": {
        "field": "price", "interval": 20, "hard_bounds": {"min": 20, "max": 60},
        "extended_bounds": {"min": 20, "max": 60}}}})
    assert keys(inside) == [(20.0, 0), (40.0, 1), (60.0, 0)]


@pytest.mark.parametrize(("hard", "extended", "printed"), [
    ({"min": 0, "max": 10}, {"min": -10, "max": 20}, "[0.0--10.0], extended bounds: [-10.0--20.0]"),
    ({"min": 0, "max": 10}, {"min": 3, "max": 20}, "[0.0--10.0], extended bounds: [3.0--20.0]"),
    ({"min": 3}, {"min": 0, "max": 20}, "[3.0--], extended bounds: [0.0--20.0]"),
    ({"max": 10}, {"max": 20}, "[--10.0], extended bounds: [null--20.0]"),  # the message prints Java's null
])
def test_extended_bounds_past_the_hard_bounds_are_refused(tmp_path, hard, extended, printed):
    body = {"h": {"histogram": {"field": "price", "interval": 5, "hard_bounds": hard,
                                "extended_bounds": extended}}}
    with pytest.raises(IllegalArgument) as e:
        one_shard(tmp_path, MAPPING, DOCS, body)
    assert str(e.value) == f"Extended bounds have to be inside hard bounds, hard bounds: {printed}"


def test_extended_bounds_are_refused_even_on_an_unmapped_field(tmp_path):
    body = {"h": {"histogram": {"field": "nope", "interval": 5, "hard_bounds": {"min": 0, "max": 10},
                                "extended_bounds": {"min": 0, "max": 11}}}}
    with pytest.raises(IllegalArgument, match=r"Extended bounds have to be inside hard bounds"):
        one_shard(tmp_path, MAPPING, DOCS, body)


def test_keyed_buckets_are_named_by_java_doubles(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"h": {"histogram": {"field": "price", "interval": 50, "keyed": True}}})
    assert out["h"]["buckets"] == {"0.0": {"key": 0.0, "doc_count": 2}, "50.0": {"key": 50.0, "doc_count": 2}}


def test_order_by_count_descending(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {"field": "price", "interval": 20,
                                                                  "order": {"_count": "desc"}}}})
    assert keys(out) == [(0.0, 2), (40.0, 1), (80.0, 1), (20.0, 0), (60.0, 0)]


def test_a_document_with_two_values_in_one_bucket_counts_once(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"n": [1, 2, 15]}],
                    {"h": {"histogram": {"field": "n", "interval": 10}}})
    assert keys(out) == [(0.0, 1), (10.0, 1)]


def test_missing_puts_documents_in_the_missing_values_bucket(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"h": {"histogram": {"field": "price", "interval": 50, "missing": 0}}})
    assert keys(out) == [(0.0, 3), (50.0, 2)]


def test_empty_buckets_carry_empty_sub_aggregations(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"histogram": {"field": "price", "interval": 20},
                                                    "aggs": {"m": {"max": {"field": "price"}},
                                                             "c": {"value_count": {"field": "price"}}}}})
    assert out["h"]["buckets"][1] == {"key": 20.0, "doc_count": 0, "m": {"value": None}, "c": {"value": 0}}
    assert out["h"]["buckets"][0]["m"] == {"value": 18.0}


def test_reduce_merges_shards_and_fills_gaps_between_them(tmp_path):
    with shards(tmp_path, MAPPING,
                [[{"price": 5}, {"price": 45}], [{"price": 8}, {"price": 95}]]) as contexts:
        out = run({"h": {"histogram": {"field": "price", "interval": 30}}}, contexts)
    assert keys(out) == [(0.0, 2), (30.0, 1), (60.0, 0), (90.0, 1)]


def test_an_interval_must_be_positive():
    with pytest.raises(IllegalArgument, match=r"\[interval\] must be >0 for histogram aggregation \[h\]"):
        parse_aggregations({"h": {"histogram": {"field": "price", "interval": 0}}})
    with pytest.raises(IllegalArgument, match=r"\[interval\] must be >0"):
        parse_aggregations({"h": {"histogram": {"field": "price"}}})


def test_too_many_empty_buckets_are_refused(tmp_path):
    from strata_node.search.aggregations.base import TooManyBuckets

    with pytest.raises(TooManyBuckets) as e:
        one_shard(tmp_path, MAPPING, [{"price": 0}, {"price": 1e9}],
                  {"h": {"histogram": {"field": "price", "interval": 1}}})
    assert e.value.type == "too_many_buckets_exception"
