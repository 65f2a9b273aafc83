"""Reading the `aggs` object: Elasticsearch's parsing_exception wording for unknown,
missing and doubled types, and the checks of each aggregation's parameters."""

import pytest

from strata_node.common.errors import IllegalArgument, ParsingError, XContentParseError
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationInitializationError

from .shards import one_shard


def test_an_unknown_type_is_a_parsing_exception_with_a_suggestion():
    with pytest.raises(ParsingError) as e:
        parse_aggregations({"x": {"term": {"field": "a"}}})
    assert e.value.type == "parsing_exception" and e.value.status == 400
    assert e.value.reason == "Unknown aggregation type [term] did you mean [terms]?"


def test_an_unknown_type_far_from_every_name_has_no_suggestion():
    with pytest.raises(ParsingError, match=r"^Unknown aggregation type \[foo\]$"):
        parse_aggregations({"x": {"foo": {}}})


def test_two_types_in_one_aggregation_are_refused():
    with pytest.raises(ParsingError) as e:
        parse_aggregations({"x": {"terms": {"field": "a"}, "avg": {"field": "b"}}})
    assert e.value.reason == "Found two aggregation type definitions in [x]: [terms] and [avg]"


def test_an_aggregation_without_a_type_is_refused():
    with pytest.raises(ParsingError, match=r"^Missing definition for aggregation \[x\]$"):
        parse_aggregations({"x": {"aggs": {"y": {"avg": {"field": "b"}}}}})


def test_a_type_whose_body_is_not_an_object_is_refused():
    with pytest.raises(ParsingError) as e:
        parse_aggregations({"x": {"terms": "a"}})
    assert e.value.reason == "Expected [START_OBJECT] under [terms], but got a [VALUE_STRING] in [x]"


def test_names_with_brackets_or_angle_brackets_are_refused():
    with pytest.raises(ParsingError, match=r"Invalid aggregation name \[a>b\]"):
        parse_aggregations({"a>b": {"avg": {"field": "n"}}})


def test_a_known_elasticsearch_type_strata_lacks_says_so():
    with pytest.raises(ParsingError, match=r"Aggregation type \[percentiles_bucket\] is not supported"):
        parse_aggregations({"p": {"percentiles_bucket": {"buckets_path": "h>_count"}}})


def test_an_unknown_parameter_is_named_with_its_aggregation():
    with pytest.raises(XContentParseError) as e:
        parse_aggregations({"t": {"terms": {"field": "a", "sise": 3}}})
    assert e.value.reason == "[terms] unknown field [sise] did you mean [size]?"


def test_a_parameter_of_the_wrong_kind_fails_to_parse():
    with pytest.raises(XContentParseError, match=r"\[terms\] failed to parse field \[size\]"):
        parse_aggregations({"t": {"terms": {"field": "a", "size": "ten"}}})


def test_a_values_source_aggregation_needs_a_field():
    with pytest.raises(IllegalArgument, match=r"Required one of fields \[field, script\]"):
        parse_aggregations({"m": {"max": {}}})


def test_metrics_refuse_sub_aggregations():
    with pytest.raises(AggregationInitializationError) as e:
        parse_aggregations({"m": {"avg": {"field": "n"}, "aggs": {"x": {"max": {"field": "n"}}}}})
    assert e.value.reason == "Aggregator [m] of type [avg] cannot accept sub-aggregations"


def test_meta_is_returned_first_in_the_aggregation(tmp_path):
    out = one_shard(tmp_path, {"properties": {"n": {"type": "long"}}}, [{"n": 1}],
                    {"m": {"max": {"field": "n"}, "meta": {"owner": "ops"}}})
    assert list(out["m"]) == ["meta", "value"] and out["m"]["meta"] == {"owner": "ops"}


def test_typed_keys_prefix_names_with_the_result_type(tmp_path):
    mapping = {"properties": {"n": {"type": "long"}, "k": {"type": "keyword"}, "f": {"type": "double"}}}
    from .shards import match_all, shards

    with shards(tmp_path, mapping, [[{"n": 1, "k": "a", "f": 1.5}]]) as (ctx,):
        aggs = parse_aggregations({"a": {"terms": {"field": "k"}}, "b": {"terms": {"field": "n"}},
                                   "c": {"terms": {"field": "f"}}, "d": {"avg": {"field": "n"}},
                                   "e": {"date_histogram": {"field": "n", "fixed_interval": "1d"}}})
        out = aggs.render(aggs.reduce([aggs.collect(ctx, match_all(ctx))]), typed_keys=True)
    assert sorted(out) == ["avg#d", "date_histogram#e", "dterms#c", "lterms#b", "sterms#a"]


def test_text_fields_are_refused_as_elasticsearch_refuses_fielddata(tmp_path):
    with pytest.raises(IllegalArgument) as e:
        one_shard(tmp_path, {"properties": {"msg": {"type": "text"}}}, [{"msg": "hello"}],
                  {"t": {"terms": {"field": "msg"}}})
    assert e.value.status == 400
    assert e.value.reason.startswith("Fielddata is disabled on [msg] in [test]. Text fields are not "
                                     "optimised for operations that require per-document field data like "
                                     "aggregations and sorting, so these operations are disabled by default. "
                                     "Please use a keyword field instead.")


def test_a_metric_on_a_keyword_field_is_not_supported(tmp_path):
    with pytest.raises(IllegalArgument, match=r"^Field \[k\] of type \[keyword\] is not supported for "
                                              r"aggregation \[avg\]$"):
        one_shard(tmp_path, {"properties": {"k": {"type": "keyword"}}}, [{"k": "a"}],
                  {"a": {"avg": {"field": "k"}}})


def test_needs_scores_is_true_only_for_top_hits_by_score():
    assert not parse_aggregations({"t": {"terms": {"field": "k"}}}).needs_scores
    assert parse_aggregations({"t": {"terms": {"field": "k"}, "aggs": {"h": {"top_hits": {}}}}}).needs_scores
    assert not parse_aggregations({"h": {"top_hits": {"sort": [{"n": "asc"}]}}}).needs_scores
