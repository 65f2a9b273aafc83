"""range and date_range: `from` included, `to` excluded, ranges sorted by (from, to), keys
named as Elasticsearch names them, keyed output, date math and formats."""

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.aggregations import parse_aggregations

from .shards import one_shard, run, shards

MAPPING = {"properties": {"price": {"type": "double"}, "ts": {"type": "date"}, "n": {"type": "long"}}}
DOCS = [{"price": 50, "ts": "2023-11-01T00:00:00Z"}, {"price": 100, "ts": "2023-11-10T00:00:00Z"},
        {"price": 150, "ts": "2023-11-14T00:00:00Z"}, {"price": 250, "ts": "2024-01-01T00:00:00Z"}, {}]
RANGES = [{"to": 100}, {"from": 100, "to": 200}, {"from": 200}]


def test_buckets_include_from_and_exclude_to(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"range": {"field": "price", "ranges": RANGES}}})
    assert out == {"r": {"buckets": [
        {"key": "*-100.0", "to": 100.0, "doc_count": 1},
        {"key": "100.0-200.0", "from": 100.0, "to": 200.0, "doc_count": 2},
        {"key": "200.0-*", "from": 200.0, "doc_count": 1}]}}


def test_ranges_come_back_sorted_by_from_then_to(tmp_path):
    ranges = [{"from": 200}, {"from": 100, "to": 300}, {"from": 100, "to": 200}, {"to": 100}]
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"range": {"field": "price", "ranges": ranges}}})
    assert [b["key"] for b in out["r"]["buckets"]] == ["*-100.0", "100.0-200.0", "100.0-300.0", "200.0-*"]


def test_overlapping_ranges_each_count_the_document(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"range": {"field": "price", "ranges": [
        {"from": 0, "to": 160}, {"from": 140, "to": 1000}]}}})
    assert [b["doc_count"] for b in out["r"]["buckets"]] == [3, 2]


def test_keys_and_keyed_output(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"range": {"field": "price", "keyed": True, "ranges": [
        {"key": "cheap", "to": 100}, {"from": 1e7}]}}})
    assert out["r"]["buckets"] == {"cheap": {"to": 100.0, "doc_count": 1},
                                   "1.0E7-*": {"from": 10000000.0, "doc_count": 0}}


def test_a_multi_valued_document_counts_once_per_range(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"n": [1, 2, 3]}],
                    {"r": {"range": {"field": "n", "ranges": [{"to": 10}]}}})
    assert out["r"]["buckets"][0]["doc_count"] == 1


def test_sub_aggregations_see_the_ranges_documents(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"r": {"range": {"field": "price", "ranges": RANGES},
                                                    "aggs": {"m": {"max": {"field": "price"}}}}})
    assert [b["m"]["value"] for b in out["r"]["buckets"]] == [50.0, 150.0, 250.0]


def test_reduce_adds_counts_range_by_range(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        out = run({"r": {"range": {"field": "price", "ranges": RANGES}}}, contexts)
    assert [b["doc_count"] for b in out["r"]["buckets"]] == [1, 2, 1]


def test_date_ranges_take_date_math_and_print_in_the_format(tmp_path):
    # now is 2023-11-14T22:13:20Z in these tests
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"d": {"date_range": {"field": "ts", "format": "yyyy-MM-dd", "ranges": [
        {"to": "now-10d/d"}, {"from": "now-10d/d", "to": "now/d"}, {"from": "now/d"}]}}})
    assert out["d"]["buckets"] == [
        {"key": "*-2023-11-04", "to": 1699056000000.0, "to_as_string": "2023-11-04", "doc_count": 1},
        {"key": "2023-11-04-2023-11-14", "from": 1699056000000.0, "from_as_string": "2023-11-04",
         "to": 1699920000000.0, "to_as_string": "2023-11-14", "doc_count": 1},
        {"key": "2023-11-14-*", "from": 1699920000000.0, "from_as_string": "2023-11-14", "doc_count": 2}]


def test_date_ranges_default_to_the_fields_format(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"d": {"date_range": {"field": "ts", "ranges": [
        {"from": "2023-11-10", "to": 1700000000000}]}}})
    bucket = out["d"]["buckets"][0]
    assert bucket["key"] == "2023-11-10T00:00:00.000Z-2023-11-14T22:13:20.000Z"
    assert bucket["doc_count"] == 2


def test_date_range_refuses_a_numeric_field(tmp_path):
    with pytest.raises(IllegalArgument, match=r"Field \[price\] of type \[double\] is not supported"):
        one_shard(tmp_path, MAPPING, DOCS,
                  {"d": {"date_range": {"field": "price", "ranges": [{"to": "now"}]}}})


def test_ranges_are_required():
    with pytest.raises(IllegalArgument, match=r"No \[ranges\] specified for the \[r\] aggregation"):
        parse_aggregations({"r": {"range": {"field": "price"}}})
