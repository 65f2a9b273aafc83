"""Values that broke Python rather than the request (regular expressions past the
engine's limits, numbers that read as infinite, zone names that are folders, nesting
hundreds deep) are refused with Elasticsearch's client errors, on a real shard."""

import pytest

from strata_node.common.errors import (
    IllegalArgument,
    NumberFormatError,
    ParsingError,
    QueryShardError,
    XContentParseError,
)
from strata_node.index.mapping.dates import DateParseError, formatter
from strata_node.search.aggregations.formats import _decimal
from strata_node.search.query import parse_query
from strata_node.search.request import parse_search
from strata_node.search.sort import SortKey, key_values, parse_sort

from .shards import ids, one_shard, shard

MAPPING = {
    "properties": {
        "k": {"type": "keyword"},
        "n": {"type": "long"},
        "x": {"type": "double"},
        "d": {"type": "date"},
        "t": {"type": "text"},
    }
}
DOCS = [
    {"k": ["a", "b"], "n": 1, "x": 1e30, "d": "2024-01-01", "t": "hello world"},
    {"k": "c", "n": 2, "x": 2.5, "d": "2024-02-01", "t": "goodbye"},
]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


@pytest.mark.parametrize("pattern", ["a{4294967296}", "(" * 600 + "a" + ")" * 600])
def test_a_regexp_past_the_engines_limits_is_an_invalid_regular_expression(ctx, pattern):
    with pytest.raises(QueryShardError, match="invalid regular expression"):
        ids(ctx, {"regexp": {"k": pattern}})


@pytest.mark.parametrize("zone", ["America", "x" * 300])
def test_a_time_zone_that_is_a_folder_or_too_long_is_unknown(zone):
    with pytest.raises(IllegalArgument, match="Unknown time-zone ID"):
        parse_query({"range": {"d": {"gte": "2024-01-01", "time_zone": zone}}})


def test_date_text_ending_in_a_folder_of_zones_does_not_parse():
    with pytest.raises(DateParseError):
        formatter("strict_date_optional_time").parse_millis("2024-01-01T00:00:00America")


def test_a_whole_number_bound_with_a_huge_exponent_is_out_of_range_not_computed(ctx):
    with pytest.raises(QueryShardError, match="out of range for a long"):
        ids(ctx, {"range": {"n": {"gte": "1e999999999999999999"}}})
    assert ids(ctx, {"term": {"n": "1e999999999999999999"}}) == []


@pytest.mark.parametrize("body", [{"size": "1.5e400"}, {"from": "1.5e400"}, {"terminate_after": "1.5e400"}])
def test_a_window_that_reads_as_infinite_is_not_a_number(body):
    with pytest.raises(IllegalArgument, match="must be a number"):
        parse_search(body, {})


def test_infinite_fuzziness_fails_to_parse():
    with pytest.raises(ParsingError, match="failed to parse fuzziness"):
        parse_query({"fuzzy": {"k": {"value": "a", "fuzziness": "Infinity"}}})


def test_a_minimum_should_match_percentage_too_large_for_a_float_is_refused(ctx):
    body = {
        "bool": {
            "should": [{"term": {"k": "a"}}, {"term": {"k": "c"}}],
            "minimum_should_match": "1" + "0" * 40 + "%",
        }
    }
    with pytest.raises(QueryShardError, match="For input string"):
        ids(ctx, body)


def test_sorting_a_keyword_by_its_average_is_refused(ctx):
    (key,) = parse_sort([{"k": {"mode": "avg"}}])
    with pytest.raises(IllegalArgument, match="we only support AVG, MEDIAN and SUM on number based fields"):
        key_values(ctx, key, ctx.reader.docs(), None)


def test_an_unmapped_type_that_is_an_object_fails_to_parse():
    with pytest.raises(
        XContentParseError, match="unmapped_type doesn't support values of type: START_OBJECT"
    ):
        parse_sort([{"zz": {"unmapped_type": {"a": 1}}}])


def test_a_missing_value_past_a_long_is_refused(ctx):
    key = SortKey("zz", "asc", 1e300, "long", None)
    with pytest.raises(IllegalArgument, match="failed to parse missing value"):
        key_values(ctx, key, ctx.reader.docs(), None)


@pytest.mark.parametrize("include", ["a{4294967296}", [[1]], [{}]])
def test_a_terms_include_the_aggregation_cannot_read_is_refused(tmp_path, include):
    with pytest.raises(IllegalArgument):
        one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "k", "include": include}}})


def test_a_terms_include_of_text_on_a_number_field_is_a_number_format_error(tmp_path):
    with pytest.raises(NumberFormatError):
        one_shard(tmp_path, MAPPING, DOCS, {"t": {"terms": {"field": "n", "include": ["abc"]}}})


def test_a_decimal_format_writes_values_past_28_digits_and_the_symbols():
    assert _decimal("0.00", 1e30) == "1000000000000000000000000000000.00"
    assert (_decimal("0.0", float("nan")), _decimal("0.0", float("-inf"))) == ("NaN", "-\u221e")


def test_an_average_of_a_value_past_28_digits_is_formatted(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"a": {"max": {"field": "x", "format": "0.00"}}})
    assert out["a"]["value_as_string"] == "1000000000000000000000000000000.00"


@pytest.mark.parametrize(
    "body",
    [
        {"histogram": {"field": "n", "interval": "Infinity"}},
        {"histogram": {"field": "n", "interval": 1, "extended_bounds": {"min": "-Infinity", "max": 5}}},
    ],
)
def test_a_histogram_refuses_infinite_intervals_and_bounds(tmp_path, body):
    with pytest.raises(IllegalArgument, match="must be"):
        one_shard(tmp_path, MAPPING, DOCS, {"h": body})


def test_a_date_histogram_refuses_bounds_past_the_dates_it_can_compute(tmp_path):
    body = {
        "date_histogram": {
            "field": "d",
            "calendar_interval": "year",
            "time_zone": "Europe/Paris",
            "extended_bounds": {"min": 253402214400000, "max": 253500000000000},
        }
    }
    with pytest.raises(IllegalArgument, match="years 1 to 9999"):
        one_shard(tmp_path, MAPPING, DOCS, {"h": body})


def test_bool_queries_nested_hundreds_deep_are_refused():
    body: dict = {"match_all": {}}
    for _ in range(400):
        body = {"bool": {"must": [body]}}
    with pytest.raises(ParsingError, match="nested too deeply"):
        parse_query(body)


def test_a_query_string_nested_hundreds_deep_fails_to_parse(ctx):
    with pytest.raises(QueryShardError, match="Failed to parse query"):
        ids(ctx, {"query_string": {"query": "(" * 500 + "hello" + ")" * 500}})


@pytest.mark.parametrize("missing", [1e300, "99999999999999999999"])
def test_an_aggregation_missing_value_past_a_long_on_a_long_field_is_refused(tmp_path, missing):
    docs = [*DOCS, {"k": "no number"}]
    with pytest.raises(IllegalArgument, match="out of range for a long"):
        one_shard(tmp_path, MAPPING, docs, {"a": {"avg": {"field": "n", "missing": missing}}})
