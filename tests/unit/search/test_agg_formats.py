"""How aggregation values print: Java's Double.toString, DecimalFormat patterns, and
dates in a time zone."""

import pytest

from strata_node.index.mapping.numbers import java_double
from strata_node.search.aggregations.formats import _decimal, format_millis


@pytest.mark.parametrize(("value", "text"), [
    (100.0, "100.0"), (0.1, "0.1"), (-2.5, "-2.5"), (1e7, "1.0E7"), (12345678.9, "1.23456789E7"),
    (0.001, "0.001"), (0.0001, "1.0E-4"), (0.0, "0.0"), (1.5e300, "1.5E300"), (9999999.0, "9999999.0"),
])
def test_doubles_print_as_java_prints_them(value, text):
    assert java_double(value) == text


@pytest.mark.parametrize(("pattern", "value", "text"), [
    ("0.00", 2.0, "2.00"), ("#,##0.0", 1234567.891, "1,234,567.9"), ("0", 2.5, "2"), ("0", 3.5, "4"),
    ("#.##", 0.5, ".5"), ("$0.00 USD", 3.14159, "$3.14 USD"), ("0.0", -1.25, "-1.2"),
])
def test_decimal_patterns_round_half_even(pattern, value, text):
    assert _decimal(pattern, value) == text


def test_dates_print_in_a_zone_with_its_offset():
    millis = 1704067200000  # 2024-01-01T00:00:00Z
    assert format_millis(millis, "strict_date_optional_time", None) == "2024-01-01T00:00:00.000Z"
    assert format_millis(millis, "strict_date_optional_time", "-05:30") == "2023-12-31T18:30:00.000-05:30"
    assert format_millis(millis, "strict_date_optional_time", "Asia/Tokyo") == "2024-01-01T09:00:00.000+09:00"
    assert format_millis(millis, "yyyy-MM-dd HH:mm", "Asia/Tokyo") == "2024-01-01 09:00"
    assert format_millis(millis, "epoch_millis", "Asia/Tokyo") == "1704067200000"
