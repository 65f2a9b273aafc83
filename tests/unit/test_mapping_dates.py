"""Date formats: Elasticsearch's built-in names and Java patterns, to epoch millis and back."""

from __future__ import annotations

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.index.mapping.dates import (
    DEFAULT_FORMAT,
    DateParseError,
    civil_from_days,
    days_from_civil,
    formatter,
)

JAN_1_2024 = 1_704_067_200_000


@pytest.mark.parametrize("text, millis", [
    ("2024-01-01", JAN_1_2024),
    ("2024-01-01T00:00:00Z", JAN_1_2024),
    ("2024-01-01T00:00:00.123Z", JAN_1_2024 + 123),
    ("2024-01-01T10", JAN_1_2024 + 10 * 3_600_000),
    ("2024-01-01T10:30", JAN_1_2024 + 10 * 3_600_000 + 30 * 60_000),
    ("2024-01-01T10:00:00+01:00", JAN_1_2024 + 9 * 3_600_000),
    ("2024-01-01T10:00:00-0130", JAN_1_2024 + 11 * 3_600_000 + 30 * 60_000),
    ("2024-01-01T00:00:00.123456789Z", JAN_1_2024 + 123),  # below millis is dropped
    ("2024-01-01T00:00:00,5Z", JAN_1_2024 + 500),
    ("1704067200000", JAN_1_2024),  # epoch_millis, the default's second format
    ("-1000", -1000),
    ("1969-12-31T23:59:59.999Z", -1),
])
def test_the_default_format_reads_iso_dates_with_optional_time_and_epoch_millis(text, millis):
    assert formatter(DEFAULT_FORMAT).parse_millis(text) == millis


@pytest.mark.parametrize("text", [
    "2024-02-30", "2023-02-29", "2024-13-01", "2024-1-1", "2024-01-01T24:00:00Z", "2024-01-01T10:60Z",
    "2024-01-01 10:00:00", "yesterday", "", "2024-01-01T10:00:00+25:00", "1.5e3",
])
def test_the_default_format_refuses_what_strict_date_optional_time_refuses(text):
    with pytest.raises(DateParseError, match=r"failed to parse date field \[.*\] with format "
                                             r"\[strict_date_optional_time\|\|epoch_millis\]"):
        formatter(DEFAULT_FORMAT).parse_millis(text)


def test_the_shortcut_for_log_timestamps_agrees_with_the_full_reader():
    iso = formatter("strict_date_optional_time")
    for text in ("2024-03-10T23:59:59.999Z", "2024-03-10T00:00:00Z", "2024-02-29T12:34:56.789Z"):
        first = iso.parse_millis(text)  # the full reader, which also teaches the shortcut the day
        assert iso.parse_millis(text) == first
    with pytest.raises(DateParseError):
        iso.parse_millis("2024-03-10T23:59:60.000Z")
    with pytest.raises(DateParseError):
        iso.parse_millis("2024-03-10T2 :59:59.000Z")


@pytest.mark.parametrize("pattern, text, millis", [
    ("yyyy-MM-dd HH:mm:ss", "2024-01-01 10:11:12", JAN_1_2024 + 36_672_000),
    ("yyyy/MM/dd", "2024/01/01", JAN_1_2024),
    ("dd/MMM/yyyy:HH:mm:ss Z", "01/Jan/2024:01:00:00 +0100", JAN_1_2024),
    ("EEE, dd MMM yyyy HH:mm:ss", "Mon, 01 Jan 2024 00:00:00", JAN_1_2024),
    ("MMMM d, yyyy", "January 1, 2024", JAN_1_2024),
    ("hh:mm a", "01:30 PM", 13 * 3_600_000 + 30 * 60_000),  # no date: 1970-01-01
    ("yyyyMMdd'T'HHmmss", "20240101T000000", JAN_1_2024),
    ("yyyy-DDD", "2024-032", JAN_1_2024 + 31 * 86_400_000),
    ("yyyy-MM-dd['T'HH:mm]", "2024-01-01", JAN_1_2024),
    ("yyyy-MM-dd['T'HH:mm]", "2024-01-01T00:01", JAN_1_2024 + 60_000),
    ("yy-MM-dd", "24-01-01", JAN_1_2024),
    ("epoch_second", "1704067200", JAN_1_2024),
    ("epoch_second", "1704067200.5", JAN_1_2024 + 500),
    ("basic_date", "20240101", JAN_1_2024),
    ("basic_date_time", "20240101T000000.000Z", JAN_1_2024),
    ("date_time_no_millis", "2024-01-01T01:00:00+01:00", JAN_1_2024),
    ("strict_year_month", "2024-01", JAN_1_2024),
    ("date_optional_time", "2024-1-1T0:0:0Z", JAN_1_2024),
    ("year||epoch_millis", "2024", JAN_1_2024),
])
def test_java_patterns_and_built_in_names_read_dates(pattern, text, millis):
    assert formatter(pattern).parse_millis(text) == millis


def test_alternatives_are_tried_in_order():
    either = formatter("yyyy-MM-dd||dd.MM.yyyy||epoch_second")
    assert either.parse_millis("2024-01-01") == either.parse_millis("01.01.2024") == JAN_1_2024
    assert either.parse_millis("1704067200") == JAN_1_2024


@pytest.mark.parametrize("pattern, message", [
    ("yyyy-MM-ddTHH:mm:ss", "Invalid format: [yyyy-MM-ddTHH:mm:ss]: Unknown pattern letter: T"),
    ("foo_bar", "Invalid format: [foo_bar]: Unknown pattern letter: f"),
    ("yyyy||", "Invalid format: [yyyy||]: cannot be empty"),
    ("yyyy-MM-dd'T", "Invalid format: [yyyy-MM-dd'T]: Pattern ends with an incomplete string literal"),
])
def test_a_bad_pattern_is_refused_with_elasticsearchs_message(pattern, message):
    with pytest.raises(IllegalArgument) as e:
        formatter(pattern)
    assert e.value.reason.startswith(message)


def test_dates_print_with_the_first_format():
    assert formatter(DEFAULT_FORMAT).format_millis(JAN_1_2024 + 123) == "2024-01-01T00:00:00.123Z"
    assert formatter("yyyy/MM/dd HH:mm||epoch_millis").format_millis(JAN_1_2024) == "2024/01/01 00:00"
    assert formatter("epoch_millis").format_millis(-5) == "-5"
    assert formatter("dd MMM yyyy").format_millis(JAN_1_2024) == "01 Jan 2024"


@pytest.mark.parametrize(("pattern", "millis", "text"), [
    ("strict_date_optional_time", 253402300800000, "+10000-01-01T00:00:00.000Z"),  # past the padding: +
    ("strict_date_optional_time", 2**63 - 1, "+292278994-08-17T07:12:55.807Z"),  # a missing date's sort value
    ("strict_date_optional_time", -62198755200000, "-0001-01-01T00:00:00.000Z"),  # built-ins print the year
    ("date", -62135596800001, "0000-12-31"),
    ("yyyy-MM-dd", -62198755200000, "0002-01-01"),  # y is the year of the era: 2 BC
    ("uuuu-MM-dd", -62198755200000, "-0001-01-01"),
    ("yy", 253402300800000, "00"),
])
def test_years_print_with_javas_sign_and_era_rules(pattern, millis, text):
    assert formatter(pattern).format_millis(millis) == text


def test_calendar_arithmetic_covers_years_python_datetime_cannot():
    for year, month, day in ((1970, 1, 1), (2000, 2, 29), (1, 1, 1), (-500, 3, 1), (292_000_000, 12, 31)):
        assert civil_from_days(days_from_civil(year, month, day)) == (year, month, day)
    assert formatter("strict_date_optional_time").parse_millis("+12024-01-01") > 0
