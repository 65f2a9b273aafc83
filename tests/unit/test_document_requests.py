"""Document API request values read as Elasticsearch reads them: version types, the
versions a get accepts, and numbers in bulk action lines and update bodies."""

import pytest

from strata_node.action.update import as_int, as_long, parse_update_body
from strata_node.common.errors import IllegalArgument, NumberFormatError, XContentParseError
from strata_node.common.units import LONG_MAX, LONG_MIN
from strata_node.rest.bulk import parse_bulk
from strata_node.rest.documents import location
from strata_node.rest.write_params import parse_version_type, read_version_errors


def bulk_items(*lines: str) -> list:
    return parse_bulk("".join(line + "\n" for line in lines).encode(), "i", None, False)


# -- version types ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "version_type"), [
    (None, "internal"), ("internal", "internal"), ("external", "external"), ("external_gt", "external"),
    ("external_gte", "external_gte"),
])
def test_version_types_are_read_as_version_type_from_string_reads_them(name, version_type):
    assert parse_version_type(name) == version_type


def test_a_bulk_action_line_takes_external_gt_as_external():
    [item] = bulk_items('{"index": {"_id": "1", "version": 3, "version_type": "external_gt"}}', "{}")
    assert (item.version, item.version_type) == (3, "external")


# -- versions of reads --------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "version_type", "valid"), [
    (1, "internal", True), (-3, "internal", True), (0, "internal", False), (-1, "internal", False),
    (-5, "internal", False), (0, "external", True), (-3, "external", True), (-1, "external", False),
    (0, "external_gte", True), (-2, "external_gte", False),
])
def test_a_get_version_is_checked_as_validate_version_for_reads_checks_it(version, version_type, valid):
    reason = f"illegal version value [{version}] for version type [{version_type.upper()}]"
    assert read_version_errors(version, version_type) == ([] if valid else [reason])


# -- numbers in bulk action lines and update bodies ---------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (7, 7), (7.5, 7), (-7.5, -7), ("8", 8), ("+8", 8), ("8.5", 8), ("-8.9", -8), ("1e3", 1000),
    ("1.5E1", 15), (".5", 0), ("5.", 5), ("1e-25", 0), ("9223372036854775807", LONG_MAX),
    ("-9223372036854775808.9", LONG_MIN), (2.0 ** 63, LONG_MAX),
    # a scale above 19 is 0 whatever the integer part (AbstractXContentParser.toLong, ES 8.15+)
    ("123456789012345678901234.12345678901234567890", 0),
])
def test_longs_are_coerced_as_xcontent_parser_long_value_coerces_them(value, expected):
    assert as_long(value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("abc", 'For input string: "abc"'), ("", 'For input string: ""'), (" 8", 'For input string: " 8"'),
    ("1_0", 'For input string: "1_0"'), ("NaN", 'For input string: "NaN"'),
    ("1e99999999999", 'For input string: "1e99999999999"'),  # more exponent digits than BigDecimal reads
    ("1e2147483648", 'For input string: "1e2147483648"'),  # an exponent past an int
    ("1e-2147483648", 'For input string: "1e-2147483648"'),  # a scale past an int
    ("9223372036854775808", "Value [9223372036854775808] is out of range for a long"),
    ("1e19", "Value [1e19] is out of range for a long"), ("0e20", "Value [0e20] is out of range for a long"),
    ("1e2147483647", "Value [1e2147483647] is out of range for a long"),
    (1 << 63, "Value [9223372036854775808] is out of range for a long"),
])
def test_a_long_that_is_no_number_or_past_the_range_is_an_illegal_argument(value, reason):
    with pytest.raises(IllegalArgument) as raised:
        as_long(value)
    assert (raised.value.type, raised.value.reason) == ("illegal_argument_exception", reason)


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), (2.9, 2), ("3", 3), ("2.9", 2), (" 4 ", 4), ("1e1", 10), ("NaN", 0),
])
def test_ints_are_coerced_as_xcontent_parser_int_value_coerces_them(value, expected):
    assert as_int(value) == expected


@pytest.mark.parametrize(("value", "error", "reason"), [
    ("abc", NumberFormatError, 'For input string: "abc"'), ("", NumberFormatError, "empty String"),
    ("2147483648", IllegalArgument, "Value [2147483648] is out of range for an integer"),
    (1 << 31, IllegalArgument, "Value [2147483648] is out of range for an integer"),
])
def test_an_int_that_is_no_number_or_out_of_range_is_refused_as_parse_double_refuses_it(value, error, reason):
    with pytest.raises(error) as raised:
        as_int(value)
    assert raised.value.reason == reason


def test_bulk_action_line_numbers_are_coerced():
    delete, update = bulk_items(
        '{"delete": {"_id": "1", "if_seq_no": "8.5", "if_primary_term": 1.9}}',
        '{"update": {"_id": "2", "retry_on_conflict": "2.9"}}', '{"doc": {}}')
    assert (delete.if_seq_no, delete.if_primary_term) == (8, 1)
    assert update.retry_on_conflict == 2
    [index] = bulk_items('{"index": {"_id": "3", "version": 7.5, "version_type": "external"}}', "{}")
    assert index.version == 7


def test_a_bulk_action_line_number_that_is_no_number_fails_the_request_as_an_illegal_argument():
    with pytest.raises(IllegalArgument, match=r'^For input string: "abc"$'):
        bulk_items('{"index": {"_id": "1", "version": "abc", "version_type": "external"}}', "{}")


def test_update_body_numbers_are_coerced_and_a_bad_one_is_located():
    spec = parse_update_body(b'{"doc": {}, "if_seq_no": "8.5", "if_primary_term": 1.9}')
    assert (spec.if_seq_no, spec.if_primary_term) == (8, 1)
    with pytest.raises(XContentParseError) as raised:
        parse_update_body(b'{"doc": {}, "if_seq_no": "abc"}')
    assert raised.value.reason == "[1:26] [UpdateRequest] failed to parse field [if_seq_no]"
    cause = raised.value.caused_by
    assert (cause.type, cause.reason) == ("illegal_argument_exception", 'For input string: "abc"')


# -- the Location of a created document ---------------------------------------------------------


@pytest.mark.parametrize(("index", "id", "routing", "expected"), [
    ("t1", "loc/1", "a b", "/t1/_doc/loc%2F1?routing=a+b"),
    ("t1", "1", None, "/t1/_doc/1"),
    ("t1", "a b~*._-", "", "/t1/_doc/a+b%7E*._-?routing="),
    ("t1", "é日+%", "r&s=t", "/t1/_doc/%C3%A9%E6%97%A5%2B%25?routing=r%26s%3Dt"),
])
def test_the_location_of_a_created_document_is_url_encoded_as_doc_write_response_encodes_it(
        index, id, routing, expected):
    assert location(index, id, routing) == expected
