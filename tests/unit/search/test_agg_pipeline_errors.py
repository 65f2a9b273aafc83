"""Pipeline aggregations refused as Elasticsearch 8 refuses them: while the body is parsed
(parsing_exception, x_content_parse_exception), by SearchRequest.validate before anything
runs (action_request_validation_exception listing every error), and during the final
reduce (search_phase_execution_exception around the cause, phase rank-feature)."""

import pytest

from strata_node.common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    ParsingError,
    XContentParseError,
    error_body,
)
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationInitializationError
from strata_node.search.aggregations.pipelines import ReducePhaseError
from strata_node.search.request import parse_search

from .shards import run, shards

MAPPING = {"properties": {"n": {"type": "long"}, "price": {"type": "double"}, "k": {"type": "keyword"},
                          "d": {"type": "date"}}}
DOCS = [{"n": 1, "price": 10.0, "k": "a", "d": "2024-01-10"},
        {"n": 12, "price": 20.0, "k": "b", "d": "2024-02-01"}]
HISTO = {"histogram": {"field": "n", "interval": 10}, "aggs": {
    "s": {"sum": {"field": "price"}}, "st": {"stats": {"field": "price"}}}}
TERMS = {"terms": {"field": "k"}, "aggs": {"s": {"sum": {"field": "price"}}}}
BUILDERS = "org.elasticsearch.search.aggregations."
UNQUALIFIED = ("Unable to find unqualified multi-bucket aggregation in buckets_path. Path must include a "
               "multi-bucket aggregation for aggregation")
NOT_A_NUMBER = ("buckets_path must reference either a number value or a single value numeric metric "
                "aggregation")
UNIT = "failed to parse setting [DerivativePipelineAggregationBuilder.unit] with value"


def errors(body: dict) -> list[str]:
    return parse_aggregations(body).validate()


def bucket_sort(params: dict) -> dict:
    return {"t": {**TERMS, "aggs": {"o": {"bucket_sort": params}}}}


def parse_error(body: dict, kind: type = ParsingError):
    with pytest.raises(kind) as e:
        parse_aggregations(body)
    return e.value


def reduce_error(tmp_path, body: dict) -> ReducePhaseError:
    assert errors(body) == []
    with shards(tmp_path, MAPPING, [DOCS]) as contexts, pytest.raises(ReducePhaseError) as e:
        run(body, contexts)
    return e.value


# -- validation ------------------------------------------------------------------------------


def test_a_path_to_nothing_is_refused():
    assert errors({"h": HISTO, "m": {"max_bucket": {"buckets_path": "nope"}}}) == [
        "No aggregation found for path [nope]"]


def test_a_path_to_a_missing_sub_aggregation_is_refused():
    assert errors({"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>nope"}}}) == [
        "No aggregation [nope] found for path [h>nope]"]


def test_pipelines_reading_each_other_are_a_cycle():
    body = {"h": {**HISTO, "aggs": {"x": {"cumulative_sum": {"buckets_path": "y"}},
                                    "y": {"cumulative_sum": {"buckets_path": "x"}}}}}
    assert errors(body) == ["Cyclical dependency found with pipeline aggregator [x]"]


def test_a_bucket_metric_must_read_a_sibling_aggregation_not_a_pipeline():
    body = {"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>s"}},
            "a": {"avg_bucket": {"buckets_path": "m"}}}
    assert errors(body) == ["buckets_path aggregation does not exist for aggregation [a]: m"]


def test_a_bucket_metric_path_into_a_pipeline_in_a_filter_is_refused_with_the_path_so_far():
    inner = {"hh": HISTO, "p": {"max_bucket": {"buckets_path": "hh>s"}}}
    body = {"f": {"filter": {"term": {"k": "a"}}, "aggs": inner},
            "m": {"max_bucket": {"buckets_path": "f>p"}}}
    assert errors(body) == ["buckets_path aggregation does not exist for aggregation [m]: [f, p]"]


def test_a_bucket_metric_over_a_metric_is_refused_naming_its_builder():
    body = {"total": {"sum": {"field": "price"}}, "m": {"max_bucket": {"buckets_path": "total"}}}
    assert errors(body) == [
        f"{UNQUALIFIED} [m] found :{BUILDERS}metrics.SumAggregationBuilder for buckets path: total"]


def test_a_bucket_metric_over_a_filter_without_sub_aggregations_is_refused():
    body = {"f": {"filter": {"term": {"k": "a"}}}, "m": {"max_bucket": {"buckets_path": "f"}}}
    assert errors(body) == [
        f"{UNQUALIFIED} [m] found :{BUILDERS}bucket.filter.FilterAggregationBuilder for buckets path: f"]


def test_a_derivative_at_the_top_has_no_parent():
    assert errors({"h": HISTO, "d": {"derivative": {"buckets_path": "h>s"}}}) == [
        "derivative aggregation [d] must have a histogram, date_histogram or auto_date_histogram as parent "
        "but doesn't have a parent"]


def test_a_cumulative_sum_under_terms_is_refused():
    body = {"t": {**TERMS, "aggs": {**TERMS["aggs"], "c": {"cumulative_sum": {"buckets_path": "s"}}}}}
    assert errors(body) == ["cumulative_sum aggregation [c] must have a histogram, date_histogram or "
                            "auto_date_histogram as parent"]


def test_a_derivative_needs_a_histogram_with_min_doc_count_0():
    histo = {"histogram": {"field": "n", "interval": 10, "min_doc_count": 1},
             "aggs": {"d": {"derivative": {"buckets_path": "_count"}}}}
    assert errors({"h": histo}) == [
        "parent histogram of derivative aggregation [d] must have min_doc_count of 0"]


def test_a_cumulative_sum_does_not_need_min_doc_count_0():
    histo = {"histogram": {"field": "n", "interval": 10, "min_doc_count": 1},
             "aggs": {"c": {"cumulative_sum": {"buckets_path": "_count"}}}}
    assert errors({"h": histo}) == []


def test_a_bucket_sort_at_the_top_is_refused():
    assert errors({"t": TERMS, "o": {"bucket_sort": {"size": 1}}}) == [
        "bucket_sort aggregation [o] must be declared inside of another aggregation"]


def test_a_bucket_sort_with_nothing_to_do_is_refused():
    assert errors({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {}}}}}) == [
        "[o] is configured to perform nothing. Please set either of [sort, size, from] to use bucket_sort"]


def test_a_bucket_sort_on_a_missing_metric_is_refused():
    assert errors({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"sort": [{"nope": "asc"}]}}}}}) == [
        "No aggregation found for path [nope]"]


def test_a_malformed_path_is_refused():
    assert errors({"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>s["}}}) == [
        "Invalid path element [s[] in path [h>s[]"]


def test_an_empty_path_is_refused():
    assert errors({"h": HISTO, "m": {"max_bucket": {"buckets_path": " > "}}}) == ["Invalid path []"]


def test_only_the_first_of_several_buckets_paths_is_used():
    aggs = parse_aggregations({"h": HISTO, "m": {"max_bucket": {"buckets_path": ["h>s", "nope"]}}})
    assert aggs.validate() == [] and aggs.pipeline("m").buckets_paths == ["h>s"]


def test_the_search_request_lists_every_validation_error_top_level_first():
    histo = {"histogram": {"field": "n", "interval": 10, "min_doc_count": 1},
             "aggs": {"d": {"derivative": {"buckets_path": "_count"}}}}
    with pytest.raises(ActionRequestValidation) as e:
        parse_search({"aggs": {"h": histo, "o": {"bucket_sort": {"size": 1}}}}, {})
    assert e.value.status == 400 and e.value.type == "action_request_validation_exception"
    assert e.value.reason == ("Validation Failed: 1: bucket_sort aggregation [o] must be declared inside "
                              "of another aggregation;2: parent histogram of derivative aggregation [d] must "
                              "have min_doc_count of 0;")


# -- parsing ---------------------------------------------------------------------------------


def test_a_bucket_metric_without_buckets_path_is_refused():
    assert parse_error({"m": {"max_bucket": {}}}).reason == (
        "Missing required field [buckets_path] for aggregation [m]")


def test_a_derivative_without_buckets_path_is_refused():
    assert parse_error({"d": {"derivative": {}}}).reason == (
        "Missing required field [buckets_path] for derivative aggregation [d]")


def test_a_cumulative_sum_without_buckets_path_is_refused_in_the_derivatives_words():
    assert parse_error({"c": {"cumulative_sum": {}}}).reason == (
        "Missing required field [buckets_path] for derivative aggregation [c]")


def test_a_bucket_metric_refuses_an_unknown_field_by_its_token():
    error = parse_error({"m": {"max_bucket": {"buckets_path": "h>s", "foo": "x"}}})
    assert error.type == "parsing_exception" and error.reason == "Unexpected token VALUE_STRING [foo] in [m]"


def test_a_bucket_metric_refuses_a_known_field_of_the_wrong_kind():
    assert parse_error({"m": {"max_bucket": {"buckets_path": "h>s", "format": 3}}}).reason == (
        "Unexpected token VALUE_NUMBER [format] in [m]")


def test_a_derivative_refuses_an_unknown_field():
    assert parse_error({"d": {"derivative": {"buckets_path": "s", "foo": "x"}}}).reason == (
        "Unknown key for a VALUE_STRING in [d]: [foo].")


def test_a_derivative_refuses_a_value_that_is_not_a_string():
    assert parse_error({"d": {"derivative": {"buckets_path": "s", "unit": 1}}}).reason == (
        "Unexpected token VALUE_NUMBER in [d].")


def test_a_cumulative_sum_has_no_gap_policy():
    assert parse_error({"c": {"cumulative_sum": {"buckets_path": "s", "gap_policy": "skip"}}}).reason == (
        "Unknown key for a VALUE_STRING in [c]: [gap_policy].")


@pytest.mark.parametrize("policy", ["zero", "SKIP"])
def test_an_unknown_gap_policy_is_refused(policy):
    assert parse_error({"m": {"avg_bucket": {"buckets_path": "h>s", "gap_policy": policy}}}).reason == (
        f"Invalid gap policy: [{policy}], accepted values: [insert_zeros, skip, keep_values]")


def test_an_empty_buckets_path_array_fails_as_elasticsearch_does():
    error = parse_error({"m": {"avg_bucket": {"buckets_path": []}}}, Exception)
    assert (error.type, error.status, error.reason) == (
        "array_index_out_of_bounds_exception", 500, "Index 0 out of bounds for length 0")


def test_bucket_sort_refuses_an_unknown_field_with_a_suggestion():
    error = parse_error({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"sizes": 1}}}}}, XContentParseError)
    assert error.reason == "[bucket_sort] unknown field [sizes] did you mean [size]?"


def test_bucket_sort_refuses_a_negative_from_read_after_sort():
    error = parse_error({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"sort": ["_key"], "from": -1}}}}},
                        XContentParseError)
    assert error.reason == "[bucket_sort] failed to parse field [from]"
    assert error.caused_by.reason == "[from] must be a non-negative integer: [-1]"


def test_bucket_sort_refuses_a_zero_size_when_it_is_built_at_the_end():
    error = parse_error({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"size": 0}}}}}, XContentParseError)
    assert error.reason == "Failed to build [bucket_sort] after last required field arrived"
    assert error.caused_by.reason == "[size] must be a positive integer: [0]"


def test_bucket_sort_refuses_a_zero_size_read_before_sort_when_sort_arrives():
    error = parse_error({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"size": 0, "sort": ["_key"]}}}}},
                        XContentParseError)
    assert error.reason == "[bucket_sort] failed to parse field [sort]"
    assert error.caused_by.reason == "Failed to build [bucket_sort] after last required field arrived"
    assert error.caused_by.caused_by.reason == "[size] must be a positive integer: [0]"


def test_bucket_sort_sort_must_be_an_object_or_array():
    error = parse_error(bucket_sort({"sort": "_key"}), XContentParseError)
    assert error.reason == "[bucket_sort] sort doesn't support values of type: VALUE_STRING"


def test_bucket_sort_refuses_a_score_sort():
    error = parse_error(bucket_sort({"sort": ["_score"]}), XContentParseError)
    assert error.reason == "[bucket_sort] failed to parse field [sort]"
    assert error.caused_by.reason == ('[bucket_sort] only supports field based sorting; incompatible sort: '
                                      '[{\n  "_score" : {\n    "order" : "desc"\n  }\n}]')


def test_bucket_sort_gap_policy_must_be_a_string():
    error = parse_error({"t": {**TERMS, "aggs": {"o": {"bucket_sort": {"size": 1, "gap_policy": 1}}}}},
                        XContentParseError)
    assert error.reason == "[bucket_sort] gap_policy doesn't support values of type: VALUE_NUMBER"


@pytest.mark.parametrize(("key", "number"), [("size", 2**40), ("from", -2**31 - 1), ("size", 1e20),
                                            ("from", 2147483647.5)])
def test_bucket_sort_refuses_a_number_past_the_int_range_in_jacksons_words(key, number):
    # declareInt reads XContentParser.intValue, where Jackson refuses what an int cannot hold;
    # it quotes the number's JSON text, which for a fraction Strata no longer has
    error = parse_error(bucket_sort({"sort": ["_key"], key: number}), XContentParseError)
    assert (error.status, error.reason) == (400, f"[bucket_sort] failed to parse field [{key}]")
    cause = error.caused_by
    assert cause.type == "x_content_parse_exception"
    assert cause.reason == f"Numeric value ({number}) out of range of int (-2147483648 - 2147483647)"


def test_bucket_sort_refuses_a_text_number_past_the_int_range():
    error = parse_error(bucket_sort({"size": "1e20"}), XContentParseError)
    assert (error.reason, error.caused_by.reason) == ("[bucket_sort] failed to parse field [size]",
                                                      "Value [1e20] is out of range for an integer")


def test_bucket_sort_truncates_a_fraction_within_the_int_range():
    body = bucket_sort({"size": 2147483647.0, "from": 1.9})
    pipeline = parse_aggregations(body).get("t").subs.pipeline("o")
    assert (pipeline.size, pipeline.from_) == (2147483647, 1)


def test_a_pipeline_cannot_have_sub_aggregations():
    body = {"m": {"max_bucket": {"buckets_path": "h>s"}, "aggs": {"x": {"avg": {"field": "n"}}}}}
    error = parse_error(body, IllegalArgument)
    assert error.reason == "Aggregation [m] cannot define sub-aggregations"


def test_a_metric_cannot_hold_a_pipeline():
    error = parse_error({"a": {"avg": {"field": "n"}, "aggs": {"m": {"max_bucket": {"buckets_path": "x"}}}}},
                        AggregationInitializationError)
    assert error.reason == "Aggregator [a] of type [avg] cannot accept sub-aggregations"


@pytest.mark.parametrize("kind", ["bucket_script", "bucket_selector"])
def test_script_pipelines_stay_unsupported(kind):
    assert parse_error({"x": {kind: {"buckets_path": {"a": "_count"}, "script": "a > 1"}}}).reason == (
        f"Aggregation type [{kind}] is not supported by Strata")


def test_a_terms_order_cannot_name_a_pipeline():
    inner = {"hh": HISTO, "p": {"max_bucket": {"buckets_path": "hh>s"}}}
    body = {"t": {"terms": {"field": "k", "order": {"p": "desc"}}, "aggs": inner}}
    assert parse_error(body, IllegalArgument).reason == (
        "Invalid aggregator order path [p]. The provided aggregation [p] either does not exist, or is a "
        "pipeline aggregation and cannot be used to sort the buckets.")


# -- the final reduce ------------------------------------------------------------------------


def test_a_failing_pipeline_fails_the_search_after_the_reduce_with_the_causes_status(tmp_path):
    error = reduce_error(tmp_path, {"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>st"}}})
    assert error_body(error) == {"error": {
        "root_cause": [], "type": "search_phase_execution_exception", "reason": "", "phase": "rank-feature",
        "grouped": True, "failed_shards": [],
        "caused_by": {"type": "invalid_path", "reason": f"{NOT_A_NUMBER}, but [st] contains multiple values. "
                      "Please specify which to use."}}, "status": 400}


def test_a_path_through_a_multi_bucket_aggregation_to_a_metric_is_refused(tmp_path):
    body = {"h": {**HISTO, "aggs": {"t": TERMS}}, "m": {"max_bucket": {"buckets_path": "h>t>s"}}}
    error = reduce_error(tmp_path, body)
    assert error.caused_by.reason == f"{NOT_A_NUMBER}, got: [Object[]] at aggregation [t]"


def test_a_path_to_the_buckets_themselves_is_refused(tmp_path):
    error = reduce_error(tmp_path, {"h": HISTO, "m": {"max_bucket": {"buckets_path": "h"}}})
    assert error.caused_by.reason == f"{NOT_A_NUMBER}, got: [Bucket] at aggregation [h]"


def test_a_date_key_is_not_a_number(tmp_path):
    body = {"m": {"date_histogram": {"field": "d", "calendar_interval": "month"}},
            "p": {"max_bucket": {"buckets_path": "m>_key"}}}
    assert reduce_error(tmp_path, body).caused_by.reason.endswith(
        "got: [ZonedDateTime] at aggregation [_key]")


def test_a_string_key_is_not_a_number(tmp_path):
    body = {"t": TERMS, "p": {"max_bucket": {"buckets_path": "t>_key"}}}
    assert reduce_error(tmp_path, body).caused_by.reason.endswith("got: [String] at aggregation [_key]")


def test_an_unknown_stat_is_refused_as_its_enum_refuses_it(tmp_path):
    error = reduce_error(tmp_path, {"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>st.foo"}}})
    assert (error.status, error.caused_by.type) == (400, "illegal_argument_exception")
    assert error.caused_by.reason == (
        "No enum constant org.elasticsearch.search.aggregations.metrics.InternalStats.Metrics.foo")


def test_a_single_value_metric_has_no_named_values(tmp_path):
    error = reduce_error(tmp_path, {"h": HISTO, "m": {"max_bucket": {"buckets_path": "h>s.foo"}}})
    assert error.caused_by.reason == "path not supported for [s]: [foo]"


@pytest.mark.parametrize(("unit", "reason"), [
    ("1x", f"{UNIT} [1x] as a time value: unit is missing or unrecognized"),
    ("1.5h", "failed to parse [1.5h], fractional time values are not supported"),
    ("-2d", f"{UNIT} [-2d] as a time value: negative durations are not supported"),
])
def test_a_derivative_unit_is_read_when_the_pipeline_runs(tmp_path, unit, reason):
    body = {"h": {**HISTO, "aggs": {"d": {"derivative": {"buckets_path": "_count", "unit": unit}}}}}
    error = reduce_error(tmp_path, body)
    assert (error.status, error.caused_by.type, error.caused_by.reason) == (400, "illegal_argument_exception",
                                                                            reason)


def test_a_bucket_sort_under_a_single_bucket_fails_its_cast(tmp_path):
    body = {"f": {"filter": {"term": {"k": "a"}}, "aggs": {"o": {"bucket_sort": {"size": 1}}}}}
    error = reduce_error(tmp_path, body)
    assert (error.status, error.caused_by.type) == (500, "class_cast_exception")


def test_a_bucket_key_no_bucket_has_fails_the_search(tmp_path):
    body = {"t": {"terms": {"field": "k"}, "aggs": {"hh": HISTO}},
            "p": {"max_bucket": {"buckets_path": "t['z']>hh>s"}}}
    error = reduce_error(tmp_path, body)
    assert (error.caused_by.type, error.caused_by.reason) == ("invalid_aggregation_path_exception",
                                                              "Cannot find an key ['z'] in [t]")
