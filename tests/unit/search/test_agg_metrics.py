"""min, max, sum, avg, stats, value_count and cardinality: values as Elasticsearch prints
them, empty results, `missing`, dates, and the reduce across shards (Kahan sums, as ES adds)."""

import math

import numpy as np
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


KAHAN = {"sum": {"sum": {"field": "f"}}, "avg": {"avg": {"field": "f"}}, "st": {"stats": {"field": "f"}}}


@pytest.mark.parametrize(("values", "total"), [([0.1] * 100, 10.0), ([0.1, 0.2, 0.3], 0.6),
                                               ([1e16, 1.0, 1.0, -1e16], 2.0)])
def test_a_shard_sums_in_document_order_with_kahan_summation(tmp_path, values, total):
    # numpy's pairwise sum gives 9.999999999999998, 0.6000000000000001 and 0.0
    out = one_shard(tmp_path, MAPPING, [{"f": v} for v in values], KAHAN)
    assert out["sum"] == {"value": total}
    assert out["avg"] == {"value": total / len(values)}
    assert out["st"]["sum"] == total and out["st"]["avg"] == total / len(values)


def test_the_reduce_kahan_sums_the_shard_sums_in_shard_order(tmp_path):
    # 1e16 + 1 loses the 1 to rounding and Kahan's compensation takes it back out with
    # -1e16: ES answers 0.0 where an exact sum (math.fsum) answers 1.0
    with shards(tmp_path, MAPPING, [[{"f": 1e16}], [{"f": 1.0}], [{"f": -1e16}]]) as ctxs:
        out = run(KAHAN, ctxs)
    assert out["sum"] == {"value": 0.0} and out["avg"] == {"value": 0.0}
    assert out["st"]["sum"] == 0.0


def test_missing_values_are_summed_where_their_documents_are(tmp_path):
    # in document order 1e16, 1, -1e16 sums to 0.0; the fill added last would give 1.0
    docs = [{"f": 1e16}, {"k": "no value"}, {"f": -1e16}]
    out = one_shard(tmp_path, MAPPING, docs, {"s": {"sum": {"field": "f", "missing": 1}}})
    assert out["s"] == {"value": 0.0}


def test_compensated_sum_stops_at_an_infinite_or_nan_sum():
    from strata_node.search.aggregations.metrics import compensated_sum

    # the bare recurrence turns an overflow into NaN; CompensatedSum keeps the infinity
    assert compensated_sum([1e308, 1e308, 1.0]) == math.inf
    assert compensated_sum([-1e308, -1e308, 5.0]) == -math.inf
    assert compensated_sum([math.inf, 1.0]) == math.inf
    assert math.isnan(compensated_sum([math.inf, -math.inf, 1.0]))
    assert math.isnan(compensated_sum([1.0, math.nan]))
    assert compensated_sum([]) == 0.0


@pytest.mark.parametrize("values", [
    np.arange(-50, 150, dtype=np.int64),                           # longs: the exact fast path
    np.full(100, -0.0),                                            # never a negative zero
    np.array([2.0 ** 53] + [1.0] * 99),                            # too large to add exactly
    np.array([3.0, 0.5] * 50),                                     # not whole numbers
    np.array([2 ** 62, 1, 1] * 30, dtype=np.int64),                # longs beyond 2^53
])
def test_the_whole_number_fast_path_gives_the_kahan_sum(values):
    from strata_node.search.aggregations.metrics import _shard_sum, compensated_sum

    floats = values.astype(np.float64)
    got = _shard_sum(values, floats)
    want = compensated_sum(floats.tolist())
    assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def test_a_multi_valued_documents_values_add_in_ascending_order(tmp_path):
    # ES reads a document's values sorted: -1e16, 1, 3, 1e16 sums to 4.0 (5.0 as listed)
    docs = [{"f": [3.0, 1e16, -1e16, 1.0]}, {"k": "no value"}]
    out = one_shard(tmp_path, MAPPING, docs, {**KAHAN, "m": {"sum": {"field": "f", "missing": 1}}})
    assert out["sum"] == {"value": 4.0} and out["st"]["sum"] == 4.0 and out["avg"] == {"value": 1.0}
    assert out["m"] == {"value": 5.0}


def test_min_max_and_exact_sums_leave_the_values_unsorted(tmp_path, monkeypatch):
    # order matters to the Kahan loop alone: min and max never add, and whole numbers add
    # exactly in any order, so none of them sorts a multi-valued field's values
    from strata_node.search.aggregations import metrics, parse_aggregations

    from .shards import match_all

    docs = [{"n": [i, -i], "f": [i + 0.5, -i]} for i in range(50)]
    body = {"min": {"min": {"field": "f"}}, "max": {"max": {"field": "f"}}, "s": {"sum": {"field": "n"}},
            "st": {"stats": {"field": "n", "missing": 1}}}
    aggs = parse_aggregations(body)
    with shards(tmp_path, MAPPING, [docs]) as (ctx,):
        aggs.collect(ctx, match_all(ctx))  # the columns are read and cached first

        def refuse(*args, **kwargs):
            raise AssertionError("sorted or Kahan-summed")

        monkeypatch.setattr(np, "lexsort", refuse)
        monkeypatch.setattr(np, "argsort", refuse)
        monkeypatch.setattr(metrics, "compensated_sum", refuse)
        partial = aggs.collect(ctx, match_all(ctx))
        monkeypatch.undo()
    out = aggs.render(aggs.reduce([partial]))
    assert out["min"] == {"value": -49.0} and out["max"] == {"value": 49.5}
    assert out["s"] == {"value": 0.0} and out["st"]["sum"] == 0.0


@pytest.mark.parametrize(("agg", "fill"), [("min", "-Infinity"), ("max", "Infinity")])
def test_an_infinite_min_or_max_prints_null_and_no_string(tmp_path, agg, fill):
    # InternalMin/InternalMax: hasValue = !Double.isInfinite(value)
    body = {"m": {agg: {"field": "f", "missing": fill, "format": "0.0"}},
            "st": {"stats": {"field": "f", "missing": fill}}}
    out = one_shard(tmp_path, MAPPING, DOCS, body)
    assert out["m"] == {"value": None}
    assert out["st"][agg] == fill  # InternalStats prints its min and max as doubles, as Jackson writes them


def test_a_nan_min_still_prints(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"m": {"min": {"field": "f", "missing": "NaN"}}})
    assert out["m"] == {"value": "NaN"}
