"""weighted_avg: sum(value * weight) / sum(weight) as Elasticsearch computes and prints it
(WeightedAvgAggregator, InternalWeightedAvg): skipped and filled documents, multi-valued
values, the one-weight rule, formats that come from the request alone, the reduce across
shards (Kahan sums), and the refusals ES makes with its words and status."""

import msgspec
import pytest

from strata_node.common.errors import IllegalArgument, ParsingError, XContentParseError
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationInitializationError
from strata_node.search.matches import Matches

from .shards import match_all, one_shard, run, shards

MAPPING = {"properties": {"grade": {"type": "double"}, "weight": {"type": "long"}, "d": {"type": "date"},
                          "k": {"type": "keyword"}, "b": {"type": "boolean"}}}
EXAMS = [{"grade": 80, "weight": 1}, {"grade": 60, "weight": 3}]  # (80 + 180) / 4 = 65


def wavg(value=None, weight=None, **params) -> dict:
    body = {"value": {"field": "grade", **(value or {})}, "weight": {"field": "weight", **(weight or {})},
            **params}
    return {"w": {"weighted_avg": body}}


def test_values_are_averaged_by_their_weights(tmp_path):
    out = one_shard(tmp_path, MAPPING, EXAMS, wavg())
    assert out == {"w": {"value": 65.0}}
    assert isinstance(out["w"]["value"], float)


def test_each_value_of_a_document_takes_its_one_weight(tmp_path):
    # the reference page's example: ((1*2) + (2*2) + (3*2)) / (2+2+2) == 2
    out = one_shard(tmp_path, MAPPING, [{"grade": [1, 2, 3], "weight": 2}, {"grade": 9, "weight": 0}], wavg())
    assert out == {"w": {"value": 2.0}}


def test_documents_without_a_value_or_a_weight_are_skipped(tmp_path):
    docs = [*EXAMS, {"grade": 1000}, {"weight": 1000}, {"k": "neither"}]
    assert one_shard(tmp_path, MAPPING, docs, wavg()) == {"w": {"value": 65.0}}


def test_missing_fills_a_document_without_a_value_or_a_weight(tmp_path):
    docs = [*EXAMS, {"grade": 100}, {"weight": 2}]
    out = one_shard(tmp_path, MAPPING, docs, wavg(value={"missing": 10}, weight={"missing": 4}))
    assert out == {"w": {"value": (80 + 180 + 400 + 20) / (1 + 3 + 4 + 2)}}


def test_missing_on_an_unmapped_field_gives_every_document_that_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, EXAMS, wavg(weight={"field": "nope", "missing": "2"}))
    assert out == {"w": {"value": 70.0}}  # a plain mean: every weight is 2


def test_an_unmapped_field_without_missing_gives_null(tmp_path):
    assert one_shard(tmp_path, MAPPING, EXAMS, wavg(value={"field": "nope"})) == {"w": {"value": None}}


def test_no_matched_document_gives_null_and_no_value_as_string(tmp_path):
    with shards(tmp_path, MAPPING, [EXAMS]) as contexts:
        out = run(wavg(format="0.0"), contexts, matches=lambda ctx: Matches(ctx.reader.docs()[:0]))
    assert out == {"w": {"value": None}}


def test_weights_summing_to_zero_give_null(tmp_path):
    docs = [{"grade": 5, "weight": 2}, {"grade": 7, "weight": -2}]
    assert one_shard(tmp_path, MAPPING, docs, wavg(format="0.0")) == {"w": {"value": None}}


def test_negative_weights_count_as_they_are(tmp_path):
    docs = [{"grade": 10, "weight": 3}, {"grade": 4, "weight": -1}]
    assert one_shard(tmp_path, MAPPING, docs, wavg()) == {"w": {"value": 13.0}}  # (30 - 4) / 2


def test_only_the_matched_documents_count(tmp_path):
    with shards(tmp_path, MAPPING, [[*EXAMS, {"grade": 0, "weight": 100}]]) as contexts:
        out = run(wavg(), contexts, matches=lambda ctx: Matches(ctx.reader.docs()[:2]))
    assert out == {"w": {"value": 65.0}}


def test_several_weights_for_a_document_are_refused(tmp_path):
    with pytest.raises(IllegalArgument) as caught:
        one_shard(tmp_path, MAPPING, [*EXAMS, {"grade": 100, "weight": [2, 3]}], wavg())
    e = caught.value
    assert (e.status, e.type) == (400, "illegal_argument_exception")
    assert e.reason == ("Encountered more than one weight for a single document. Use a script to combine "
                        "multiple weights-per-doc into a single value.")


def test_several_weights_on_a_document_without_a_value_are_never_read(tmp_path):
    out = one_shard(tmp_path, MAPPING, [*EXAMS, {"weight": [2, 3]}], wavg())
    assert out == {"w": {"value": 65.0}}


def test_several_weights_are_refused_when_missing_gives_the_document_a_value(tmp_path):
    with pytest.raises(IllegalArgument, match="more than one weight"):
        one_shard(tmp_path, MAPPING, [{"weight": [2, 3]}], wavg(value={"missing": 1}))


def test_shards_reduce_their_sums_and_weights_not_their_means(tmp_path):
    with shards(tmp_path, MAPPING, [[EXAMS[0]], [], [EXAMS[1]]]) as contexts:
        out = run(wavg(), contexts)
    assert out == {"w": {"value": 65.0}}  # the shards' means would average to 70


def test_a_shard_kahan_sums_in_document_order(tmp_path):
    # 100 x 0.1: the Kahan sum is 10.0, plain addition 9.99999999999998
    out = one_shard(tmp_path, MAPPING, [{"grade": 0.1, "weight": 1}] * 100, wavg())
    assert out == {"w": {"value": 0.1}}


def test_a_documents_values_add_in_ascending_order(tmp_path):
    # -1e16, 1, 3, 1e16 sums to 4.0 over a weight of 4 (5.0 in the order listed); the second
    # document's weight comes from `missing`
    docs = [{"grade": [3.0, 1e16, -1e16, 1.0], "weight": 1}, {"grade": 0.5}]
    assert one_shard(tmp_path, MAPPING, docs[:1], wavg()) == {"w": {"value": 1.0}}
    out = one_shard(tmp_path / "filled", MAPPING, docs, wavg(weight={"missing": 2}))
    assert out == {"w": {"value": 5.0 / 6}}


def test_the_reduce_kahan_sums_the_shard_sums_in_shard_order(tmp_path):
    # 1e16, 1, -1e16 in shard order: Kahan answers 0.0 where an exact sum answers 1.0
    docs = [[{"grade": 1e16, "weight": 1}], [{"grade": 1.0, "weight": 1}], [{"grade": -1e16, "weight": 1}]]
    with shards(tmp_path, MAPPING, docs) as contexts:
        assert run(wavg(), contexts) == {"w": {"value": 0.0}}


def test_a_format_prints_value_as_string(tmp_path):
    docs = [{"grade": 2, "weight": 1}, {"grade": 3, "weight": 2}]
    out = one_shard(tmp_path, MAPPING, docs, wavg(format="0.00"))
    assert out == {"w": {"value": 2.6666666666666665, "value_as_string": "2.67"}}


def test_a_date_field_has_no_value_as_string_of_its_own(tmp_path):
    # the format comes from the request (resolveFormat), never from the value field's mapping
    docs = [{"d": "2024-01-01T00:00:00Z", "weight": 1}, {"d": "2024-01-03T00:00:00Z", "weight": 1}]
    out = one_shard(tmp_path, MAPPING, docs, wavg(value={"field": "d"}))
    assert out == {"w": {"value": 1704153600000.0}}


def test_value_type_date_prints_the_value_as_a_date(tmp_path):
    docs = [{"d": "2024-01-01T00:00:00Z", "weight": 1}, {"d": "2024-01-03T00:00:00Z", "weight": 1}]
    out = one_shard(tmp_path, MAPPING, docs, wavg(value={"field": "d"}, value_type="date", format="yyyy"))
    assert out == {"w": {"value": 1704153600000.0, "value_as_string": "2024-01-02T00:00:00.000Z"}}


def test_value_type_boolean_prints_the_value_as_a_boolean(tmp_path):
    docs = [{"b": True, "weight": 1}, {"b": False, "weight": 3}]
    out = one_shard(tmp_path, MAPPING, docs, wavg(value={"field": "b"}, value_type="boolean"))
    assert out == {"w": {"value": 0.25, "value_as_string": "true"}}


def test_value_type_long_drops_the_format(tmp_path):
    # a value_type's own format wins, and a long's is RAW: no value_as_string at all
    out = one_shard(tmp_path, MAPPING, EXAMS, wavg(value_type="long", format="0.00"))
    assert out == {"w": {"value": 65.0}}


@pytest.mark.parametrize("value_type", ["numeric", "number", "integer", "short", "byte"])
def test_every_name_lenient_parse_reads_as_long_is_a_long(tmp_path, value_type):
    # ValueType.lenientParse: number, numeric, long, integer, short and byte are LONG, whose format is RAW
    out = one_shard(tmp_path, MAPPING, EXAMS, wavg(value_type=value_type, format="0.00"))
    assert out == {"w": {"value": 65.0}}


def test_value_type_ip_is_refused_by_its_description():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(wavg(value_type="ip"))
    assert caught.value.caused_by.reason == ("Aggregation [weighted_avg] was configured with an incompatible "
                                             "value type [ip].  It can only work on value off type [numeric]")


def test_value_type_string_is_refused_as_not_numeric():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(wavg(value_type="string"))
    e = caught.value
    assert (e.status, e.reason) == (400, "[weighted_avg] failed to parse field [value_type]")
    assert isinstance(e.caused_by, ParsingError)
    assert e.caused_by.reason == ("Aggregation [weighted_avg] was configured with an incompatible value type "
                                  "[string].  It can only work on value off type [numeric]")


def test_an_unknown_value_type_is_refused():
    with pytest.raises(XContentParseError, match=r"^\[weighted_avg\] failed to parse field \[value_type\]$"):
        parse_aggregations(wavg(value_type="decimal"))


@pytest.mark.parametrize(("raw", "token"), [("grade", "VALUE_STRING"), (None, "VALUE_NULL"),
                                            ([], "START_ARRAY")])
def test_value_must_be_an_object(raw, token):
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations({"w": {"weighted_avg": {"value": raw, "weight": {"field": "weight"}}}})
    assert caught.value.reason == f"[weighted_avg] value doesn't support values of type: {token}"


def test_an_unknown_field_of_weight_is_refused_inside_a_parse_failure():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(wavg(weight={"format": "0.0"}))
    e = caught.value
    assert e.reason == "[weighted_avg] failed to parse field [weight]"
    assert isinstance(e.caused_by, XContentParseError)
    assert e.caused_by.reason == "[field_config] unknown field [format]"


def test_a_missing_that_is_not_a_value_is_refused():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(wavg(value={"missing": [1]}))
    assert caught.value.reason == "[weighted_avg] failed to parse field [value]"
    reason = caught.value.caused_by.reason
    assert reason == "[field_config] missing doesn't support values of type: START_ARRAY"


@pytest.mark.parametrize("config", [{}, {"field": ""}, {"missing": 1}])
def test_a_value_without_a_field_is_refused(config):
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations({"w": {"weighted_avg": {"value": config, "weight": {"field": "weight"}}}})
    e = caught.value
    assert e.reason == "[weighted_avg] failed to parse field [value]"
    assert isinstance(e.caused_by, IllegalArgument)
    assert e.caused_by.reason == "[field] and [script] cannot both be null.  Please specify one or the other."


def test_scripts_are_refused():
    with pytest.raises(IllegalArgument, match=r"\[weighted_avg\] scripts are not supported by Strata"):
        parse_aggregations({"w": {"weighted_avg": {"value": {"script": "doc.grade.value + 1"},
                                                   "weight": {"field": "weight"}}}})


def test_an_unknown_parameter_is_refused_with_a_suggestion():
    with pytest.raises(XContentParseError) as caught:
        parse_aggregations(wavg(weights={"field": "weight"}))
    assert caught.value.reason == "[weighted_avg] unknown field [weights] did you mean [weight]?"


@pytest.mark.parametrize("absent", ["value", "weight"])
def test_a_shard_with_documents_refuses_a_missing_value_or_weight(tmp_path, absent):
    body = wavg()
    del body["w"]["weighted_avg"][absent]
    with pytest.raises(IllegalArgument) as caught:
        one_shard(tmp_path, MAPPING, EXAMS, body)
    assert caught.value.reason == f"Could not find field name [{absent}] in multiValuesSource"
    assert caught.value.status == 400


def test_a_missing_weight_goes_unnoticed_on_shards_without_documents(tmp_path):
    body = {"w": {"weighted_avg": {"value": {"field": "grade"}}}}
    with shards(tmp_path, MAPPING, [[], []]) as contexts:
        assert run(body, contexts) == {"w": {"value": None}}


def test_neither_value_nor_weight_gives_null(tmp_path):
    # no values source at all: ES builds its unmapped aggregator
    assert one_shard(tmp_path, MAPPING, EXAMS, {"w": {"weighted_avg": {}}}) == {"w": {"value": None}}


def test_a_keyword_field_is_refused(tmp_path):
    with pytest.raises(IllegalArgument) as caught:
        one_shard(tmp_path, MAPPING, [{"k": "a", "weight": 1}], wavg(value={"field": "k"}))
    assert caught.value.reason == ("Field [k] of type [keyword] is not supported for aggregation "
                                   "[weighted_avg]")


def test_sub_aggregations_are_refused():
    with pytest.raises(AggregationInitializationError) as caught:
        parse_aggregations({"w": {**wavg()["w"], "aggs": {"m": {"max": {"field": "grade"}}}}})
    assert caught.value.reason == "Aggregator [w] of type [weighted_avg] cannot accept sub-aggregations"


def test_terms_can_order_by_the_weighted_average(tmp_path):
    docs = [{"k": "low", "grade": 10, "weight": 1}, {"k": "high", "grade": 90, "weight": 1},
            {"k": "high", "grade": 10, "weight": 1}, {"k": "none", "weight": 1}]
    body = {"t": {"terms": {"field": "k", "order": {"w": "asc"}}, "aggs": wavg()}}
    out = one_shard(tmp_path, MAPPING, docs, body)
    # a bucket without weights has a NaN average, which sorts after every number
    assert [b["key"] for b in out["t"]["buckets"]] == ["low", "high", "none"]
    assert out["t"]["buckets"][2]["w"] == {"value": None}


def test_partials_are_plain_data_for_the_transport(tmp_path):
    with shards(tmp_path, MAPPING, [EXAMS]) as (ctx,):
        aggs = parse_aggregations(wavg(format="0.0"))
        partial = aggs.collect(ctx, match_all(ctx))
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(partial))
    assert aggs.render(aggs.reduce([wire])) == aggs.render(aggs.reduce([partial])) == {
        "w": {"value": 65.0, "value_as_string": "65.0"}}


def test_typed_keys_name_the_type_weighted_avg():
    aggs = parse_aggregations(wavg())
    assert list(aggs.render(aggs.reduce([]), typed_keys=True)) == ["weighted_avg#w"]
