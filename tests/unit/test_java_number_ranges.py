"""Numbers past Java's int and long ranges are refused where Elasticsearch refuses them
(sizes and times are longs, counts and shards ints), so no value Strata cannot encode
reaches the cluster state, a transport message or a response."""

import pytest

from strata_node.allocation.commands import parse_commands
from strata_node.common.errors import IllegalArgument, ParseError, XContentParseError
from strata_node.common.units import LONG_MAX, java_int, java_long, parse_bytes, parse_time
from strata_node.index.mapping.params import parse_int
from strata_node.index.templates.metadata import parse_component_template, parse_index_template
from strata_node.rest.request import RestRequest
from strata_node.search.aggregations.date_histogram import parse_time_value
from strata_node.settings import SettingsError, _int


def test_a_byte_size_past_a_long_is_refused_as_byte_size_value_refuses_it():
    with pytest.raises(ValueError, match="Values greater than 9223372036854775807 bytes are not supported"):
        parse_bytes("16384pb", "fixed.storage")
    assert parse_bytes("8191pb", "fixed.storage") == 8191 << 50


def test_a_byte_size_of_hundreds_of_digits_is_refused_not_overflowed():
    with pytest.raises(ValueError):
        parse_bytes("1" + "0" * 400 + "b", "indices.recovery.max_bytes_per_sec")


@pytest.mark.parametrize("text", ["1" + "0" * 400 + "s", "99999999999999999999d", "200000000000000000s"])
def test_a_time_past_a_long_of_milliseconds_is_refused(text):
    with pytest.raises(ValueError, match="as a time value: out of range"):
        parse_time(text, "master_timeout")


def test_times_within_range_still_parse():
    assert parse_time("106751991167d", "t") == 106751991167 * 86400.0
    assert parse_time("-1", "t") == -1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("42", 42),
        ("+7", 7),
        ("-2147483648", -(2**31)),
        ("2147483647", 2**31 - 1),
        ("2147483648", None),
        ("1_000", None),
        ("٣", None),
        (" 5", None),
        ("", None),
    ],
)
def test_java_int_reads_what_integer_parse_int_reads(text, expected):
    assert java_int(text) == expected


def test_an_int_setting_past_the_int_range_is_refused():
    with pytest.raises(SettingsError, match=r"Failed to parse value \[99999999999999999999\] for setting"):
        _int(0)("99999999999999999999", "index.number_of_replicas")


def test_an_int_query_parameter_past_the_int_range_is_refused():
    request = RestRequest("POST", "/i/_update/1", {"retry_on_conflict": "99999999999999999999"}, {}, b"")
    with pytest.raises(IllegalArgument, match=r"Failed to parse int parameter \[retry_on_conflict\]"):
        request.int_param("retry_on_conflict", 0)


@pytest.mark.parametrize(
    "value, expected", [(1e20, 2**31 - 1), (-1e20, -(2**31)), (float("nan"), 0), (2**40 + 5, 5), (256.9, 256)]
)
def test_a_mapping_int_parameter_takes_a_numbers_int_value_as_java_does(value, expected):
    # XContentMapValues.nodeIntegerValue: (int) of a double saturates, intValue() of a long keeps 32 bits
    assert parse_int(value, "ignore_above") == expected


def test_a_template_version_past_a_long_is_a_parse_error():
    with pytest.raises(XContentParseError, match=r"failed to parse field \[version\]"):
        parse_component_template({"template": {}, "version": "99999999999999999999"})
    assert parse_component_template({"template": {}, "version": str(LONG_MAX)}).version == LONG_MAX


def test_a_template_priority_past_a_long_is_a_parse_error():
    with pytest.raises(XContentParseError, match=r"failed to parse field \[priority\]"):
        parse_index_template({"index_patterns": ["x*"], "priority": "1" + "0" * 30})


@pytest.mark.parametrize("shard", ["99999999999999999999", 1e20, float("inf")])
def test_a_reroute_shard_past_the_int_range_is_a_parse_error(shard):
    with pytest.raises(ParseError, match="failed to parse the shard parameter"):
        parse_commands([{"cancel": {"index": "i", "shard": shard, "node": "n"}}])


def test_a_date_histogram_interval_past_a_long_of_milliseconds_is_refused():
    with pytest.raises(IllegalArgument, match="as a time value: out of range"):
        parse_time_value("99999999999999999999d", "date_histogram.fixedInterval")
    assert parse_time_value("1d", "date_histogram.fixedInterval") == 86_400_000


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9223372036854775807", LONG_MAX),
        ("9223372036854775808", None),
        ("-9223372036854775808", -LONG_MAX - 1),
        ("1_0", None),
    ],
)
def test_java_long_reads_what_long_parse_long_reads(text, expected):
    assert java_long(text) == expected
