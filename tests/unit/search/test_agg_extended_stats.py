"""extended_stats: every figure as Elasticsearch prints it (InternalExtendedStats), empty
results, `missing`, `sigma`, formats and dates, the reduce across shards (Kahan sums, as
ES adds), and the refusals ES makes with its words and status."""

import msgspec
import pytest

from strata_node.common.errors import IllegalArgument, NumberFormatError, XContentParseError
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationInitializationError

from .shards import match_all, one_shard, run, shards

MAPPING = {"properties": {"n": {"type": "long"}, "f": {"type": "double"}, "d": {"type": "date"},
                          "k": {"type": "keyword"}, "b": {"type": "boolean"}}}
EXAMS = [{"n": 50}, {"n": 100}]
BOUNDS = ("upper", "lower", "upper_population", "lower_population", "upper_sampling", "lower_sampling")


def es(field: str = "n", **params) -> dict:
    return {"es": {"extended_stats": {"field": field, **params}}}


def test_the_documented_example_gives_every_figure(tmp_path):
    # the reference page's response for grades 50 and 100, key for key and in ES's order
    out = one_shard(tmp_path, MAPPING, EXAMS, es())["es"]
    assert list(out.items()) == [
        ("count", 2), ("min", 50.0), ("max", 100.0), ("avg", 75.0), ("sum", 150.0),
        ("sum_of_squares", 12500.0), ("variance", 625.0), ("variance_population", 625.0),
        ("variance_sampling", 1250.0), ("std_deviation", 25.0), ("std_deviation_population", 25.0),
        ("std_deviation_sampling", 35.35533905932738),
        ("std_deviation_bounds", {"upper": 125.0, "lower": 25.0, "upper_population": 125.0,
                                  "lower_population": 25.0, "upper_sampling": 145.71067811865476,
                                  "lower_sampling": 4.289321881345245})]
    assert list(out["std_deviation_bounds"]) == list(BOUNDS)


def test_sigma_sets_how_many_deviations_the_bounds_lie_from_the_mean(tmp_path):
    bounds = one_shard(tmp_path, MAPPING, EXAMS, es(sigma=3))["es"]["std_deviation_bounds"]
    assert bounds["upper"] == 150.0 and bounds["lower"] == 0.0
    assert bounds["upper_sampling"] == 75.0 + 35.35533905932738 * 3


def test_sigma_zero_puts_every_bound_at_the_mean(tmp_path):
    bounds = one_shard(tmp_path, MAPPING, EXAMS, es(sigma=0))["es"]["std_deviation_bounds"]
    assert bounds == dict.fromkeys(BOUNDS, 75.0)


def test_sigma_may_be_a_fraction_given_as_a_string(tmp_path):
    bounds = one_shard(tmp_path, MAPPING, EXAMS, es(sigma="1.5"))["es"]["std_deviation_bounds"]
    assert bounds["upper"] == 112.5 and bounds["lower"] == 37.5


def test_no_values_print_null_figures_and_a_zero_sum(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"k": "x"}], es(format="0.0"))["es"]
    assert out == {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0, "sum_of_squares": None,
                   "variance": None, "variance_population": None, "variance_sampling": None,
                   "std_deviation": None, "std_deviation_population": None, "std_deviation_sampling": None,
                   "std_deviation_bounds": dict.fromkeys(BOUNDS)}


def test_an_unmapped_field_gives_the_empty_result(tmp_path):
    out = one_shard(tmp_path, MAPPING, EXAMS, es("nope"))["es"]
    assert out["count"] == 0 and out["sum_of_squares"] is None
    assert out["std_deviation_bounds"] == dict.fromkeys(BOUNDS)


def test_one_value_makes_the_sampling_figures_nan_strings(tmp_path):
    # (x² - x²/1) / 0 is NaN in Java, and Jackson writes a NaN double as the string "NaN"
    out = one_shard(tmp_path, MAPPING, [{"n": 7}], es())["es"]
    assert out["variance"] == 0.0 and out["std_deviation"] == 0.0
    assert out["variance_sampling"] == "NaN" and out["std_deviation_sampling"] == "NaN"
    assert out["std_deviation_bounds"]["upper"] == 7.0
    assert out["std_deviation_bounds"]["upper_sampling"] == "NaN"
    assert out["std_deviation_bounds"]["lower_sampling"] == "NaN"


def test_figures_that_overflow_print_as_infinity_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"f": 1e200}, {"f": 1e200}], es("f"))
    assert out["es"]["sum_of_squares"] == "Infinity"
    assert out["es"]["variance"] == "NaN"  # Infinity - Infinity


def test_missing_fills_documents_without_a_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, [*EXAMS, {"k": "no grade"}], es(missing=0))["es"]
    assert (out["count"], out["sum"], out["min"]) == (3, 150.0, 0.0)
    assert out["sum_of_squares"] == 12500.0 and out["avg"] == 50.0


def test_missing_on_an_unmapped_field_gives_every_document_that_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, EXAMS, es("nope", missing=3))
    assert (out["es"]["count"], out["es"]["sum"], out["es"]["sum_of_squares"]) == (2, 6.0, 18.0)
    assert out["es"]["variance"] == 0.0


def test_every_value_of_a_multi_valued_document_counts(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"n": [50, 100]}], es())["es"]
    assert (out["count"], out["sum_of_squares"], out["variance"]) == (2, 12500.0, 625.0)


def test_a_documents_values_add_in_ascending_order(tmp_path):
    # SortedNumericDocValues hands ES a document's values sorted: -1e16, 1, 3, 1e16 sums to
    # 4.0; in the order the source lists them it would be 5.0
    out = one_shard(tmp_path, MAPPING, [{"f": [3.0, 1e16, -1e16, 1.0]}], es("f"))
    assert out["es"]["sum"] == 4.0


def test_only_the_matched_documents_count(tmp_path):
    from strata_node.search.matches import Matches

    with shards(tmp_path, MAPPING, [[*EXAMS, {"n": 1000}]]) as contexts:
        out = run(es(), contexts, matches=lambda ctx: Matches(ctx.reader.docs()[:2]))
    assert out["es"]["count"] == 2 and out["es"]["variance"] == 625.0


def test_several_shards_reduce_to_the_figures_of_one(tmp_path):
    docs = [{"n": v} for v in (3, 9, 27, 81, 243)]
    with shards(tmp_path / "many", MAPPING, [docs[:2], docs[2:3], [], docs[3:]]) as contexts:
        many = run(es(sigma=1.5), contexts)
    assert many == one_shard(tmp_path / "one", MAPPING, docs, es(sigma=1.5))
    assert many["es"]["count"] == 5 and many["es"]["sum_of_squares"] == 9.0 + 81 + 729 + 6561 + 59049


def test_a_shard_kahan_sums_the_squares_in_document_order(tmp_path):
    # 100 x 0.1: ES's Kahan sums give 10.0 and 1.0000000000000002; adding plainly gives
    # 9.99999999999998 and 1.0000000000000007
    out = one_shard(tmp_path, MAPPING, [{"f": 0.1}] * 100, es("f"))["es"]
    assert out["sum"] == 10.0 and out["avg"] == 0.1
    assert out["sum_of_squares"] == 1.0000000000000002


def test_the_reduce_kahan_sums_the_shards_squares_in_shard_order(tmp_path):
    # squares 1e16, 1, 1: plain addition loses both ones, Kahan's compensation keeps them
    with shards(tmp_path, MAPPING, [[{"f": 1e8}], [{"f": 1.0}], [{"f": 1.0}]]) as contexts:
        out = run(es("f"), contexts)
    assert out["es"]["sum_of_squares"] == 1.0000000000000002e16


def test_a_format_prints_every_figure_as_a_string(tmp_path):
    out = one_shard(tmp_path, MAPPING, EXAMS, es(format="0.00"))["es"]
    assert (out["min_as_string"], out["avg_as_string"], out["sum_as_string"]) == ("50.00", "75.00", "150.00")
    assert out["sum_of_squares_as_string"] == "12500.00" and out["variance_sampling_as_string"] == "1250.00"
    assert out["std_deviation_sampling_as_string"] == "35.36"
    assert out["std_deviation_bounds_as_string"] == {
        "upper": "125.00", "lower": "25.00", "upper_population": "125.00", "lower_population": "25.00",
        "upper_sampling": "145.71", "lower_sampling": "4.29"}
    strings = [key for key in out if key.endswith("_as_string")]
    assert strings[:4] == ["min_as_string", "max_as_string", "avg_as_string", "sum_as_string"]
    assert list(out).index("std_deviation_bounds") < list(out).index("sum_of_squares_as_string")


def test_a_nan_figure_prints_nan_in_a_numeric_format(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"n": 7}], es(format="0.0"))["es"]
    assert out["variance_sampling_as_string"] == "NaN"
    assert out["std_deviation_bounds_as_string"]["upper_sampling"] == "NaN"


def test_date_figures_print_as_dates_cast_to_long_as_java_casts(tmp_path):
    docs = [{"d": "2024-01-01T00:00:00Z"}, {"d": "2024-01-03T00:00:00Z"}]
    out = one_shard(tmp_path, MAPPING, docs, es("d"))["es"]
    assert out["avg_as_string"] == "2024-01-02T00:00:00.000Z"
    assert out["std_deviation_bounds_as_string"]["upper"] == "2024-01-03T23:59:59.996Z"
    # a sum of squares of epoch millis is past Long.MAX_VALUE: (long) saturates there
    assert out["sum_of_squares_as_string"] == "+292278994-08-17T07:12:55.807Z"


def test_a_nan_date_figure_prints_the_epoch(tmp_path):
    # (long) NaN is 0 in Java
    out = one_shard(tmp_path, MAPPING, [{"d": "2024-01-01T00:00:00Z"}],
                    es("d", format="yyyy-MM-dd"))["es"]
    assert out["variance_sampling"] == "NaN" and out["variance_sampling_as_string"] == "1970-01-01"


def test_booleans_count_as_zero_and_one(tmp_path):
    out = one_shard(tmp_path, MAPPING, [{"b": True}, {"b": False}], es("b"))
    assert (out["es"]["avg"], out["es"]["variance"]) == (0.5, 0.25)
    assert out["es"]["variance_as_string"] == "true"  # DocValueFormat.BOOLEAN: anything but 0 is true


def test_terms_can_order_by_an_extended_figure(tmp_path):
    docs = [{"k": "wide", "n": 0}, {"k": "wide", "n": 100},
            {"k": "narrow", "n": 50}, {"k": "narrow", "n": 51}]
    body = {"t": {"terms": {"field": "k", "order": {"es.variance": "desc"}},
                  "aggs": es("n")}}
    out = one_shard(tmp_path, MAPPING, docs, body)
    assert [b["key"] for b in out["t"]["buckets"]] == ["wide", "narrow"]
    body["t"]["terms"]["order"] = {"es.std_lower": "desc"}
    out = one_shard(tmp_path / "again", MAPPING, docs, body)
    assert [b["key"] for b in out["t"]["buckets"]] == ["narrow", "wide"]


def test_ordering_by_an_unknown_figure_is_refused(tmp_path):
    with pytest.raises(IllegalArgument, match=r"unknown metric name \[std_deviation_bounds\] in .* \[es\]"):
        parse_aggregations({"t": {"terms": {"field": "k", "order": {"es.std_deviation_bounds": "desc"}},
                                  "aggs": es("n")}})


def test_partials_are_plain_data_for_the_transport(tmp_path):
    with shards(tmp_path, MAPPING, [EXAMS]) as (ctx,):
        aggs = parse_aggregations(es(format="0.0"))
        partial = aggs.collect(ctx, match_all(ctx))
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(partial))
    assert aggs.render(aggs.reduce([wire])) == aggs.render(aggs.reduce([partial]))


def test_typed_keys_name_the_type_extended_stats(tmp_path):
    aggs = parse_aggregations(es())
    assert list(aggs.render(aggs.reduce([]), typed_keys=True)) == ["extended_stats#es"]


def test_a_negative_sigma_is_refused_inside_a_parse_failure():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(es(sigma=-1))
    e = caught.value
    assert (e.status, e.type, e.reason) == (400, "x_content_parse_exception",
                                           "[extended_stats] failed to parse field [sigma]")
    assert isinstance(e.caused_by, IllegalArgument)
    assert e.caused_by.reason == "[sigma] must be greater than or equal to 0. Found [-1.0] in [es]"


def test_a_sigma_below_zero_prints_as_java_prints_the_double():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(es(sigma=-0.001))
    reason = caught.value.caused_by.reason
    assert reason == "[sigma] must be greater than or equal to 0. Found [-0.001] in [es]"


def test_a_sigma_string_that_is_no_number_is_refused():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(es(sigma="wide"))
    assert caught.value.reason == "[extended_stats] failed to parse field [sigma]"
    assert isinstance(caught.value.caused_by, NumberFormatError)
    assert caught.value.caused_by.reason == 'For input string: "wide"'


@pytest.mark.parametrize(("sigma", "token"), [(None, "VALUE_NULL"), (True, "VALUE_BOOLEAN"),
                                              ([2], "START_ARRAY"), ({"v": 2}, "START_OBJECT")])
def test_a_sigma_of_another_type_is_refused(sigma, token):
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(es(sigma=sigma))
    assert caught.value.reason == f"[extended_stats] sigma doesn't support values of type: {token}"
    assert caught.value.status == 400


def test_an_unknown_parameter_is_refused_with_a_suggestion():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(es(sigmas=2))
    assert caught.value.reason == "[extended_stats] unknown field [sigmas] did you mean [sigma]?"


def test_a_keyword_field_is_refused(tmp_path):
    with pytest.raises(IllegalArgument) as caught:
        one_shard(tmp_path, MAPPING, [{"k": "a"}], es("k"))
    assert caught.value.reason == ("Field [k] of type [keyword] is not supported for aggregation "
                                   "[extended_stats]")
    assert caught.value.status == 400


def test_scripts_are_refused():
    with pytest.raises(IllegalArgument, match=r"\[extended_stats\] scripts are not supported by Strata"):
        parse_aggregations({"es": {"extended_stats": {"script": "doc['n'].value"}}})


def test_sub_aggregations_are_refused():
    with pytest.raises(AggregationInitializationError) as caught:
        parse_aggregations({"es": {"extended_stats": {"field": "n"}, "aggs": {"m": {"max": {"field": "n"}}}}})
    assert caught.value.reason == "Aggregator [es] of type [extended_stats] cannot accept sub-aggregations"


def test_a_variance_rounded_below_zero_is_clamped_to_zero(tmp_path):
    # three 0.1s: 0.03 - 0.3² / 3 is -3.5e-18 in doubles; `variance < 0 ? 0 : variance`
    out = one_shard(tmp_path, MAPPING, [{"f": 0.1}] * 3, es("f"))["es"]
    assert out["variance"] == 0.0 and out["variance_sampling"] == 0.0 and out["std_deviation"] == 0.0
    assert out["std_deviation_bounds"]["upper"] == out["avg"]
