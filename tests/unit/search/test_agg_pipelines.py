"""Pipeline aggregations computed on the reduced results: the bucket metrics (avg, sum,
min, max, stats_bucket), cumulative_sum, derivative and bucket_sort, their paths, gap
policies, formats and typed keys, and that shards never see them.

The data: a histogram of `n` by 10 has buckets 0 (2 docs, prices 10 and 30), 10 (2 docs,
one price: 20), 20 (empty) and 30 (1 doc, price 5); terms on `k` are a (2 docs, 10 + 20),
c (2 docs, 5 and no price) and b (1 doc, 30), in that order."""

import pytest

from strata_node.search.aggregations import parse_aggregations

from .shards import match_all, run, shards

MAPPING = {"properties": {"n": {"type": "long"}, "price": {"type": "double"}, "k": {"type": "keyword"},
                          "d": {"type": "date"}}}
DOCS = [{"n": 1, "price": 10.0, "k": "a"}, {"n": 5, "price": 30.0, "k": "b"},
        {"n": 12, "price": 20.0, "k": "a"}, {"n": 15, "k": "c"}, {"n": 35, "price": 5.0, "k": "c"}]
# monthly: January 10, February 40, March nothing, April 10
DATES = [{"d": "2024-01-10", "price": 10.0}, {"d": "2024-02-05", "price": 40.0},
         {"d": "2024-04-01", "price": 10.0}]

HISTO = {"histogram": {"field": "n", "interval": 10}, "aggs": {
    "s": {"sum": {"field": "price"}}, "a": {"avg": {"field": "price"}}, "st": {"stats": {"field": "price"}}}}
TERMS = {"terms": {"field": "k"}, "aggs": {"s": {"sum": {"field": "price"}}}}


def search(tmp_path, body: dict, docs=DOCS) -> dict:
    assert parse_aggregations(body).validate() == []
    with shards(tmp_path, MAPPING, [docs]) as contexts:
        return run(body, contexts)


def histo_with(**pipelines) -> dict:
    return {"h": {**HISTO, "aggs": {**HISTO["aggs"], **pipelines}}}


def avg_bucket(path: str, gap: str) -> dict:
    return {"h": HISTO, "p": {"avg_bucket": {"buckets_path": path, "gap_policy": gap}}}


def column(out: dict, name: str, agg: str = "h") -> list:
    """Each bucket's pipeline result (None where the bucket has none)."""
    return [b.get(name) for b in out[agg]["buckets"]]


# -- bucket metrics -------------------------------------------------------------------------


def test_avg_bucket_averages_a_sibling_histograms_metric_skipping_empty_buckets(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"avg_bucket": {"buckets_path": "h>s"}}})
    assert out["p"] == {"value": 65.0 / 3}


def test_sum_bucket_adds_the_metric_of_every_bucket(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"sum_bucket": {"buckets_path": "h>s"}}})
    assert out["p"] == {"value": 65.0}


def test_min_bucket_gives_the_smallest_value_and_the_key_of_its_bucket(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"min_bucket": {"buckets_path": "h>s"}}})
    assert out["p"] == {"value": 5.0, "keys": ["30.0"]}


def test_max_bucket_lists_every_key_tied_for_the_largest_value(tmp_path):
    out = search(tmp_path, {"t": TERMS, "p": {"max_bucket": {"buckets_path": "t>s"}}})
    assert out["p"] == {"value": 30.0, "keys": ["a", "b"]}


def test_stats_bucket_gives_count_min_max_avg_and_sum(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"stats_bucket": {"buckets_path": "h>s"}}})
    assert out["p"] == {"count": 3, "min": 5.0, "max": 40.0, "avg": 65.0 / 3, "sum": 65.0}


def test_stats_bucket_prints_its_figures_as_stats_prints_them(tmp_path):
    # two bucket sums of 1e308 add up past the doubles: Jackson writes "Infinity" for both
    docs = [{"n": 1, "price": 1e308}, {"n": 12, "price": 1e308}]
    body = {"h": HISTO, "p": {"stats_bucket": {"buckets_path": "h>s"}},
            "f": {"stats_bucket": {"buckets_path": "h>s", "format": "0.0"}},
            "st": {"stats": {"field": "price"}}}
    out = search(tmp_path, body, docs)
    assert out["p"] == {"count": 2, "min": 1e308, "max": 1e308, "avg": "Infinity", "sum": "Infinity"}
    assert {key: out["st"][key] for key in ("avg", "sum")} == {"avg": "Infinity", "sum": "Infinity"}
    assert (out["f"]["sum"], out["f"]["sum_as_string"]) == ("Infinity", "∞")


def test_running_sibling_pipelines_leaves_the_parsed_request_unchanged(tmp_path):
    # one parsed request may serve searches running at once: a run keeps its figures to itself
    kinds = ("avg_bucket", "sum_bucket", "min_bucket", "max_bucket", "stats_bucket")
    body = {"h": HISTO, **{kind: {kind: {"buckets_path": "h>s"}} for kind in kinds}}
    aggs = parse_aggregations(body)
    before = {p.name: dict(vars(p)) for p in aggs.pipelines}
    with shards(tmp_path, MAPPING, [DOCS]) as (ctx,):
        reduced = aggs.reduce([aggs.collect(ctx, match_all(ctx))])
    first = aggs.render(aggs.run_pipelines(reduced))
    assert {p.name: vars(p) for p in aggs.pipelines} == before
    assert aggs.render(aggs.run_pipelines(reduced)) == first


def test_bucket_metrics_over_no_buckets_have_no_value(tmp_path):
    body = {"h": HISTO, "avg": {"avg_bucket": {"buckets_path": "h>s"}},
            "sum": {"sum_bucket": {"buckets_path": "h>s"}}, "min": {"min_bucket": {"buckets_path": "h>s"}},
            "stats": {"stats_bucket": {"buckets_path": "h>s"}}}
    out = search(tmp_path, body, docs=[{"k": "no n"}])
    assert out["avg"] == {"value": None} and out["sum"] == {"value": 0.0}
    assert out["min"] == {"value": None, "keys": []}
    assert out["stats"] == {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}


# -- gap policies and paths -----------------------------------------------------------------


def test_insert_zeros_counts_an_empty_bucket_as_zero(tmp_path):
    out = search(tmp_path, avg_bucket("h>s", "insert_zeros"))
    assert out["p"] == {"value": 65.0 / 4}


def test_keep_values_keeps_the_finite_value_of_an_empty_bucket(tmp_path):
    out = search(tmp_path, avg_bucket("h>s", "keep_values"))
    assert out["p"] == {"value": 65.0 / 4}


def test_keep_values_leaves_out_a_metric_without_value(tmp_path):
    out = search(tmp_path, avg_bucket("h>a", "keep_values"))
    assert out["p"] == {"value": 45.0 / 3}


def test_insert_zeros_turns_a_metric_without_value_into_zero(tmp_path):
    out = search(tmp_path, avg_bucket("h>a", "insert_zeros"))
    assert out["p"] == {"value": 45.0 / 4}


def test_a_count_path_ignores_the_gap_policy(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"stats_bucket": {"buckets_path": "h>_count"}}})
    assert out["p"] == {"count": 4, "min": 0.0, "max": 2.0, "avg": 1.25, "sum": 5.0}


def test_a_path_through_terms_reaches_a_metric(tmp_path):
    out = search(tmp_path, {"t": TERMS, "p": {"min_bucket": {"buckets_path": "t>s"}}})
    assert out["p"] == {"value": 5.0, "keys": ["c"]}


def test_a_path_to_count_reads_the_doc_counts(tmp_path):
    out = search(tmp_path, {"t": TERMS, "p": {"sum_bucket": {"buckets_path": "t>_count"}}})
    assert out["p"] == {"value": 5.0}


def test_a_path_names_one_stat_of_a_multi_value_metric(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"max_bucket": {"buckets_path": "h>st.max"}}})
    assert out["p"] == {"value": 30.0, "keys": ["0.0"]}


def test_a_path_through_a_filter_reaches_the_histogram_inside(tmp_path):
    body = {"f": {"filter": {"term": {"k": "a"}}, "aggs": {"hh": HISTO}},
            "p": {"max_bucket": {"buckets_path": "f>hh>s"}}}
    assert search(tmp_path, body)["p"] == {"value": 20.0, "keys": ["10.0"]}


def test_a_quoted_bucket_key_in_the_path_picks_that_bucket(tmp_path):
    body = {"t": {"terms": {"field": "k"}, "aggs": {"hh": HISTO}},
            "p": {"max_bucket": {"buckets_path": "t['a']>hh>s"}}}
    assert search(tmp_path, body)["p"] == {"value": 20.0, "keys": ["10.0"]}


def test_bucket_count_counts_the_buckets_of_an_aggregation(tmp_path):
    body = histo_with(t={"terms": {"field": "k"}}, c={"cumulative_sum": {"buckets_path": "t._bucket_count"}})
    assert column(search(tmp_path, body), "c") == [{"value": v} for v in (2.0, 4.0, 4.0, 5.0)]


def test_a_histogram_key_is_a_number_a_path_can_read_gaps_skipped(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"sum_bucket": {"buckets_path": "h>_key"}}})
    assert out["p"] == {"value": 40.0}  # 0 + 10 + 30: unlike _count, _key is not spared the gap policy


# -- parent pipelines -----------------------------------------------------------------------


def test_cumulative_sum_adds_up_the_buckets_so_far(tmp_path):
    out = search(tmp_path, histo_with(c={"cumulative_sum": {"buckets_path": "s"}}))
    assert column(out, "c") == [{"value": 40.0}, {"value": 60.0}, {"value": 60.0}, {"value": 65.0}]


def test_cumulative_sum_counts_a_metric_without_value_as_zero(tmp_path):
    out = search(tmp_path, histo_with(c={"cumulative_sum": {"buckets_path": "a"}}))
    assert column(out, "c") == [{"value": 20.0}, {"value": 40.0}, {"value": 40.0}, {"value": 45.0}]


def test_derivative_is_the_change_from_the_bucket_before_and_null_across_a_skipped_gap(tmp_path):
    out = search(tmp_path, histo_with(d={"derivative": {"buckets_path": "s"}}))
    assert column(out, "d") == [None, {"value": -20.0}, {"value": None}, {"value": None}]


def test_derivative_with_insert_zeros_reads_a_gap_as_zero(tmp_path):
    out = search(tmp_path, histo_with(d={"derivative": {"buckets_path": "s", "gap_policy": "insert_zeros"}}))
    assert column(out, "d") == [None, {"value": -20.0}, {"value": -20.0}, {"value": 5.0}]


def test_derivative_of_the_doc_count(tmp_path):
    out = search(tmp_path, histo_with(d={"derivative": {"buckets_path": "_count"}}))
    assert column(out, "d") == [None, {"value": 0.0}, {"value": -2.0}, {"value": 1.0}]


def test_derivative_unit_divides_by_the_days_between_the_keys(tmp_path):
    body = {"m": {"date_histogram": {"field": "d", "calendar_interval": "month"}, "aggs": {
        "s": {"sum": {"field": "price"}},
        "d": {"derivative": {"buckets_path": "s", "unit": "day", "gap_policy": "insert_zeros"}}}}}
    out = search(tmp_path, body, docs=DATES)
    # February has 31 days after January 1st, March 29 (2024 is a leap year), April 31
    assert column(out, "d", "m") == [None, {"value": 30.0, "normalized_value": 30.0 / 31},
                                     {"value": -40.0, "normalized_value": -40.0 / 29},
                                     {"value": 10.0, "normalized_value": 10.0 / 31}]


def test_derivative_unit_may_be_a_time_value(tmp_path):
    body = {"m": {"date_histogram": {"field": "d", "calendar_interval": "month"}, "aggs": {
        "d": {"derivative": {"buckets_path": "_count", "unit": "12h"}}}}}
    out = search(tmp_path, body, docs=DATES)
    assert column(out, "d", "m")[1] == {"value": 0.0, "normalized_value": 0.0}
    assert column(out, "d", "m")[2] == {"value": -1.0, "normalized_value": -1.0 / 58}


def test_a_month_unit_is_the_average_month(tmp_path):
    body = {"m": {"date_histogram": {"field": "d", "calendar_interval": "month"}, "aggs": {
        "s": {"sum": {"field": "price"}}, "d": {"derivative": {"buckets_path": "s", "unit": "1M"}}}}}
    out = search(tmp_path, body, docs=DATES)
    assert column(out, "d", "m")[1]["normalized_value"] == 30.0 / (31 * 86_400_000 / 2_629_746_000)


def test_a_second_derivative_reads_the_first(tmp_path):
    out = search(tmp_path, histo_with(d1={"derivative": {"buckets_path": "_count"}},
                                      d2={"derivative": {"buckets_path": "d1", "gap_policy": "keep_values"}}))
    assert column(out, "d2") == [None, None, {"value": -2.0}, {"value": 3.0}]


def test_a_value_read_in_an_empty_bucket_is_a_gap_under_skip(tmp_path):
    out = search(tmp_path, histo_with(d1={"derivative": {"buckets_path": "_count"}},
                                      d2={"derivative": {"buckets_path": "d1"}}))
    assert column(out, "d2") == [None, None, {"value": None}, {"value": None}]


def test_a_pipeline_reading_another_runs_after_it_whatever_the_request_order(tmp_path):
    out = search(tmp_path, histo_with(d={"derivative": {"buckets_path": "c", "gap_policy": "keep_values"}},
                                      c={"cumulative_sum": {"buckets_path": "s"}}))
    assert column(out, "d") == [None, {"value": 20.0}, {"value": 0.0}, {"value": 5.0}]
    assert list(out["h"]["buckets"][1])[-2:] == ["c", "d"]  # results in the order they ran


def test_a_sibling_pipeline_reads_a_derivative_left_out_of_the_first_bucket(tmp_path):
    body = {"h": {**HISTO, "aggs": {"d": {"derivative": {"buckets_path": "_count"}}}},
            "p": {"max_bucket": {"buckets_path": "h>d"}}}
    assert search(tmp_path, body)["p"] == {"value": 1.0, "keys": ["30.0"]}


def test_a_sibling_pipeline_inside_a_bucket_runs_for_each_bucket(tmp_path):
    inner = {"hh": HISTO, "p": {"max_bucket": {"buckets_path": "hh>s"}}}
    out = search(tmp_path, {"t": {"terms": {"field": "k"}, "aggs": inner}})
    assert {b["key"]: b["p"] for b in out["t"]["buckets"]} == {
        "a": {"value": 20.0, "keys": ["10.0"]}, "c": {"value": 5.0, "keys": ["30.0"]},
        "b": {"value": 30.0, "keys": ["0.0"]}}


def test_a_sibling_pipeline_inside_a_filter_reads_the_filters_aggregations(tmp_path):
    inner = {"hh": HISTO, "p": {"sum_bucket": {"buckets_path": "hh>s"}}}
    out = search(tmp_path, {"f": {"filter": {"term": {"k": "a"}}, "aggs": inner}})
    assert out["f"]["doc_count"] == 2 and out["f"]["p"] == {"value": 30.0}


def test_a_histogram_of_pipelines_only_renders_them(tmp_path):
    body = {"h": {"histogram": {"field": "n", "interval": 10}, "aggs": {
        "c": {"cumulative_sum": {"buckets_path": "_count"}}}}}
    assert column(search(tmp_path, body), "c") == [{"value": v} for v in (2.0, 4.0, 4.0, 5.0)]


# -- bucket_sort ----------------------------------------------------------------------------


def keys(out: dict, agg: str) -> list:
    return [b["key"] for b in out[agg]["buckets"]]


def test_bucket_sort_orders_by_key(tmp_path):
    body = {"t": {**TERMS, "aggs": {**TERMS["aggs"], "o": {"bucket_sort": {"sort": [{"_key": "desc"}]}}}}}
    assert keys(search(tmp_path, body), "t") == ["c", "b", "a"]


def test_bucket_sort_orders_by_count_then_key(tmp_path):
    body = {"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"sort": [{"_count": "asc"}, "_key"]}}}}}
    assert keys(search(tmp_path, body), "t") == ["b", "a", "c"]


def test_bucket_sort_by_a_metric_keeps_ties_in_their_order_and_cuts_to_size(tmp_path):
    body = {"t": {**TERMS, "aggs": {**TERMS["aggs"], "o": {"bucket_sort": {"sort": {"s": {"order": "desc"}},
                                                                            "size": 2}}}}}
    out = search(tmp_path, body)
    assert keys(out, "t") == ["a", "b"]
    assert out["t"]["sum_other_doc_count"] == 0  # only the buckets change


def test_bucket_sort_without_sort_pages_with_from_and_size(tmp_path):
    body = {"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"from": 1, "size": 1}}}}}
    assert keys(search(tmp_path, body), "t") == ["c"]


def test_bucket_sort_from_past_the_end_leaves_no_bucket(tmp_path):
    body = {"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"sort": ["_key"], "from": 3}}}}}
    assert keys(search(tmp_path, body), "t") == []


def test_bucket_sort_drops_a_bucket_whose_sort_values_are_gaps(tmp_path):
    out = search(tmp_path, histo_with(o={"bucket_sort": {"sort": [{"a": "asc"}]}}))
    assert keys(out, "h") == [30.0, 0.0, 10.0]


def test_bucket_sort_keeps_a_gap_read_as_zero_with_insert_zeros(tmp_path):
    sort = {"sort": [{"a": "asc"}], "gap_policy": "INSERT_ZEROS"}  # read in any case, unlike elsewhere
    out = search(tmp_path, histo_with(o={"bucket_sort": sort}))
    assert keys(out, "h") == [20.0, 30.0, 0.0, 10.0]


def test_bucket_sort_puts_a_bucket_missing_one_sort_value_last_on_it(tmp_path):
    out = search(tmp_path, histo_with(o={"bucket_sort": {"sort": [{"a": "desc"}, {"_key": "asc"}]}}))
    assert keys(out, "h") == [0.0, 10.0, 30.0, 20.0]


# -- shards, the coordinator and rendering --------------------------------------------------


def test_pipelines_run_on_the_reduce_of_several_shards_as_on_one(tmp_path):
    body = {"h": {**HISTO, "aggs": {**HISTO["aggs"], "c": {"cumulative_sum": {"buckets_path": "s"}},
                                    "d": {"derivative": {"buckets_path": "_count"}}}},
            "t": TERMS, "avg": {"avg_bucket": {"buckets_path": "h>s"}},
            "mx": {"max_bucket": {"buckets_path": "t>s"}},
            "st": {"stats_bucket": {"buckets_path": "h>_count"}}}
    with shards(tmp_path / "one", MAPPING, [DOCS]) as contexts:
        one = run(body, contexts)
    with shards(tmp_path / "two", MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        two = run(body, contexts)
    assert two == one
    assert two["avg"] == {"value": 65.0 / 3} and two["mx"] == {"value": 30.0, "keys": ["a", "b"]}


def test_shards_collect_and_reduce_no_pipeline(tmp_path):
    aggs = parse_aggregations({"h": {"histogram": {"field": "n", "interval": 10}, "aggs": {
        "c": {"cumulative_sum": {"buckets_path": "_count"}}}},
        "p": {"sum_bucket": {"buckets_path": "h>_count"}}})
    with shards(tmp_path, MAPPING, [DOCS]) as (ctx,):
        partial = aggs.collect(ctx, match_all(ctx))
    assert list(partial) == ["h"] and all(subs == {} for _, _, subs in partial["h"]["buckets"])
    reduced = aggs.reduce([partial])
    assert list(reduced) == ["h"] and all(subs == {} for _, _, subs in reduced["h"]["buckets"])


def test_running_pipelines_leaves_the_reduced_value_alone(tmp_path):
    aggs = parse_aggregations(histo_with(c={"cumulative_sum": {"buckets_path": "s"}}))
    with shards(tmp_path, MAPPING, [DOCS]) as (ctx,):
        reduced = aggs.reduce([aggs.collect(ctx, match_all(ctx))])
    final = aggs.run_pipelines(reduced)
    assert "c" in final["h"]["buckets"][0][2] and "c" not in reduced["h"]["buckets"][0][2]


def test_pipelines_run_after_the_final_reduce_of_every_shard(tmp_path):
    aggs = parse_aggregations({"h": HISTO, "p": {"sum_bucket": {"buckets_path": "h>s"}}})
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        partials = [aggs.collect(ctx, match_all(ctx)) for ctx in contexts]
    assert all("p" not in partial for partial in partials)
    assert aggs.render(aggs.run_pipelines(aggs.reduce(partials)))["p"] == {"value": 65.0}


def test_typed_keys_name_each_pipeline_result_type(tmp_path):
    body = {"h": {**HISTO, "aggs": {**HISTO["aggs"], "c": {"cumulative_sum": {"buckets_path": "s"}},
                                    "d": {"derivative": {"buckets_path": "s"}}}},
            "avg": {"avg_bucket": {"buckets_path": "h>s"}}, "sum": {"sum_bucket": {"buckets_path": "h>s"}},
            "min": {"min_bucket": {"buckets_path": "h>s"}}, "max": {"max_bucket": {"buckets_path": "h>s"}},
            "stats": {"stats_bucket": {"buckets_path": "h>s"}}}
    aggs = parse_aggregations(body)
    with shards(tmp_path, MAPPING, [DOCS]) as (ctx,):
        reduced = aggs.run_pipelines(aggs.reduce([aggs.collect(ctx, match_all(ctx))]))
    out = aggs.render(reduced, typed_keys=True)
    assert list(out) == ["histogram#h", "simple_value#avg", "simple_value#sum", "bucket_metric_value#min",
                         "bucket_metric_value#max", "stats_bucket#stats"]
    assert list(out["histogram#h"]["buckets"][1])[-2:] == ["simple_value#c", "derivative#d"]


def test_format_prints_value_as_string(tmp_path):
    body = {"h": HISTO, "avg": {"avg_bucket": {"buckets_path": "h>s", "format": "0.00"}},
            "max": {"max_bucket": {"buckets_path": "h>s", "format": "#,##0.0"}}}
    out = search(tmp_path, body)
    assert out["avg"] == {"value": 65.0 / 3, "value_as_string": "21.67"}
    assert out["max"] == {"value": 40.0, "value_as_string": "40.0", "keys": ["0.0"]}


def test_format_prints_every_stat_of_stats_bucket(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"stats_bucket": {"buckets_path": "h>s", "format": "0.0"}}})
    assert out["p"] == {"count": 3, "min": 5.0, "max": 40.0, "avg": 65.0 / 3, "sum": 65.0,
                        "min_as_string": "5.0", "max_as_string": "40.0", "avg_as_string": "21.7",
                        "sum_as_string": "65.0"}


def test_format_prints_a_derivatives_normalized_value(tmp_path):
    derivative = {"buckets_path": "_count", "unit": "5ms", "format": "0.00"}
    body = {"h": {**HISTO, "aggs": {"d": {"derivative": derivative}}}}
    assert column(search(tmp_path, body), "d")[3] == {"value": 1.0, "value_as_string": "1.00",
                                                      "normalized_value": 0.5,
                                                      "normalized_value_as_string": "0.50"}


def test_meta_comes_first_in_a_pipeline_result(tmp_path):
    out = search(tmp_path, {"h": HISTO, "p": {"sum_bucket": {"buckets_path": "h>s"}, "meta": {"team": "x"}}})
    assert list(out["p"]) == ["meta", "value"] and out["p"]["meta"] == {"team": "x"}


@pytest.mark.parametrize("gap", ["skip", "insert_zeros", "keep_values"])
def test_every_gap_policy_is_accepted_by_every_bucket_metric(gap):
    for kind in ("avg_bucket", "sum_bucket", "min_bucket", "max_bucket", "stats_bucket"):
        aggs = parse_aggregations({"h": HISTO, "p": {kind: {"buckets_path": "h>s", "gap_policy": gap}}})
        assert aggs.pipeline("p").gap_policy == gap
