"""min, max, sum, avg, stats, value_count and cardinality: values as Elasticsearch prints
them, empty results, `missing`, dates, and exact reduction across shards."""

import pytest

from .shards import one_shard, run, shards

MAPPING = {"properties": {"n": {"type": "long"}, "f": {"type": "double"}, "d": {"type": "date"},
                          "k": {"type": "keyword"}, "b": {"type": "boolean"}}}
DOCS = [{"n": 100, "f": 1.5, "d": "2024-01-01T00:00:00Z", "k": "a", "b": True},
        {"n": 300, "f": 2.5, "d": "2024-01-03T00:00:00Z", "k": "b"},
        {"n": 200, "k": "a", "b": False},
        {"k": "c"}]


def test_single_value_metrics_are_doubles(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"min": {"min": {"field": "n"}}, "max": {"max": {"field": "n"}},
                                              "sum": {"sum": {"field": "n"}}, "avg": {"avg": {"field": "n"}}})
    assert out == {"min": {"value": 100.0}, "max": {"value": 300.0}, "sum": {"value": 600.0},
                   "avg": {"value": 200.0}}
    assert all(isinstance(v["value"], float) for v in out.values())


def test_no_values_give_null_min_max_avg_and_a_zero_sum(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"k": "x"}],
                    {"min": {"min": {"field": "n"}}, "max": {"max": {"field": "n"}},
                     "sum": {"sum": {"field": "n"}}, "avg": {"avg": {"field": "n"}}})
    assert out == {"min": {"value": None}, "max": {"value": None}, "sum": {"value": 0.0},
                   "avg": {"value": None}}


def test_stats_reports_all_five_and_nulls_without_values(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"s": {"stats": {"field": "f"}}, "e": {"stats": {"field": "missing"}}})
    assert out["s"] == {"count": 2, "min": 1.5, "max": 2.5, "avg": 2.0, "sum": 4.0}
    assert out["e"] == {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}


def test_missing_fills_documents_without_a_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"s": {"stats": {"field": "f", "missing": 10}}})
    assert out["s"] == {"count": 4, "min": 1.5, "max": 10.0, "avg": 6.0, "sum": 24.0}


def test_dates_add_value_as_string_in_the_field_format(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"min": {"min": {"field": "d"}},
                                              "st": {"stats": {"field": "d", "format": "yyyy-MM-dd"}}})
    assert out["min"] == {"value": 1704067200000.0, "value_as_string": "2024-01-01T00:00:00.000Z"}
    assert out["st"]["min_as_string"] == "2024-01-01" and out["st"]["max_as_string"] == "2024-01-03"
    assert out["st"]["avg_as_string"] == "2024-01-02"


def test_a_numeric_format_prints_value_as_string(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"a": {"avg": {"field": "f", "format": "#,##0.00"}},
                                              "s": {"sum": {"field": "n", "format": "0000.0"}}})
    assert out["a"] == {"value": 2.0, "value_as_string": "2.00"}
    assert out["s"] == {"value": 600.0, "value_as_string": "0600.0"}


def test_booleans_aggregate_as_zero_and_one(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"m": {"max": {"field": "b"}}, "a": {"avg": {"field": "b"}}})
    assert out["m"] == {"value": 1.0, "value_as_string": "true"}
    assert out["a"]["value"] == 0.5


def test_value_count_counts_every_value_of_any_type(tmp_path):
    docs = [{"k": ["a", "b"]}, {"k": "c"}, {"n": 1}]
    out = one_shard(tmp_path, MAPPING, docs,
                    {"c": {"value_count": {"field": "k"}}, "z": {"value_count": {"field": "f"}}})
    assert out == {"c": {"value": 3}, "z": {"value": 0}}


def test_multi_valued_numbers_all_count(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"n": [1, 5]}, {"n": 3}], {"s": {"stats": {"field": "n"}}})
    assert out["s"] == {"count": 3, "min": 1.0, "max": 5.0, "avg": 3.0, "sum": 9.0}


def test_cardinality_counts_distinct_values_exactly(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"k": {"cardinality": {"field": "k"}}, "n": {"cardinality": {"field": "n"}},
                                              "m": {"cardinality": {"field": "f", "missing": 0}}})
    assert out == {"k": {"value": 3}, "n": {"value": 3}, "m": {"value": 3}}


def test_an_unmapped_field_gives_empty_metrics(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"a": {"avg": {"field": "nope"}}, "c": {"cardinality": {"field": "nope"}},
                                              "v": {"value_count": {"field": "nope"}}})
    assert out == {"a": {"value": None}, "c": {"value": 0}, "v": {"value": 0}}


def test_only_the_matched_documents_count(tmp_path):
    import numpy as np

    from strata_node.search.matches import Matches

    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"s": {"sum": {"field": "n"}}}, contexts,
                  matches=lambda ctx: Matches(ctx.reader.docs()[:2]))
        none = run({"s": {"min": {"field": "n"}}}, contexts,
                   matches=lambda ctx: Matches(np.empty(0, np.int64)))
    assert out == {"s": {"value": 400.0}}
    assert none == {"s": {"value": None}}


def test_deleted_documents_do_not_count(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"s": {"sum": {"field": "n"}}}, deleted=("0-2",))
    assert out == {"s": {"value": 400.0}}


def test_reduce_takes_min_of_mins_and_avg_from_sums_and_counts(tmp_path):
    body = {"min": {"min": {"field": "n"}}, "max": {"max": {"field": "n"}}, "avg": {"avg": {"field": "n"}},
            "st": {"stats": {"field": "n"}}, "card": {"cardinality": {"field": "k"}}}
    with shards(tmp_path, MAPPING,
                [[{"n": 10, "k": "a"}, {"n": 20, "k": "b"}], [{"n": 60, "k": "b"}], []]) as ctxs:
        out = run(body, ctxs)
    assert out["min"] == {"value": 10.0} and out["max"] == {"value": 60.0}
    assert out["avg"] == {"value": 30.0}  # (10 + 20 + 60) / 3, not the mean of the shards' means
    assert out["st"] == {"count": 3, "min": 10.0, "max": 60.0, "avg": 30.0, "sum": 90.0}
    assert out["card"] == {"value": 2}


def test_partials_are_plain_data_for_the_transport(tmp_path):
    import msgspec

    from strata_node.search.aggregations import parse_aggregations

    from .shards import match_all

    body = {"s": {"stats": {"field": "d"}}, "c": {"cardinality": {"field": "k"}},
            "t": {"terms": {"field": "k"}, "aggs": {"h": {"top_hits": {"size": 1}}}},
            "h": {"date_histogram": {"field": "d", "calendar_interval": "day"}}}
    with shards(tmp_path, MAPPING, [DOCS]) as (ctx,):
        aggs = parse_aggregations(body)
        partial = aggs.collect(ctx, match_all(ctx, scored=True))
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(partial))
    assert aggs.render(aggs.reduce([wire])) == aggs.render(aggs.reduce([partial]))


@pytest.mark.parametrize("agg", ["min", "max", "sum", "avg", "stats"])
def test_numeric_metrics_refuse_keywords(tmp_path, agg):
    from strata_node.common.errors import IllegalArgument

    with pytest.raises(IllegalArgument, match=f"aggregation \\[{agg}\\]"):
        one_shard(tmp_path, MAPPING, DOCS, {"x": {agg: {"field": "k"}}})
