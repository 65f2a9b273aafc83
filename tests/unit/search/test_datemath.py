"""Date math as Elasticsearch's JavaDateMathParser reads it: `now` and anchored
expressions, arithmetic, rounding down and up, time zones and the errors."""

import pytest

from strata_node.common.errors import IllegalArgument, ParseError
from strata_node.index.mapping.dates import formatter
from strata_node.search.datemath import parse_date_math

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z, a Tuesday
ISO = formatter("strict_date_optional_time")


def at(text: str, *, round_up: bool = False, fmt: str | None = None, tz: str | None = None) -> str:
    millis = parse_date_math(text, NOW, round_up=round_up, formatter=formatter(fmt) if fmt else None,
                             time_zone=tz)
    return ISO.format_millis(millis)


def test_now_is_the_request_instant():
    assert parse_date_math("now", NOW, round_up=False) == NOW


def test_arithmetic_on_every_unit():
    assert at("now-1d") == "2023-11-13T22:13:20.000Z"
    assert at("now+2h") == "2023-11-15T00:13:20.000Z"
    assert at("now-90m") == "2023-11-14T20:43:20.000Z"
    assert at("now+30s") == "2023-11-14T22:13:50.000Z"
    assert at("now-1w") == "2023-11-07T22:13:20.000Z"
    assert at("now-1M") == "2023-10-14T22:13:20.000Z"
    assert at("now+1y-1M") == "2024-10-14T22:13:20.000Z"


def test_rounding_down_starts_the_unit():
    assert at("now/d") == "2023-11-14T00:00:00.000Z"
    assert at("now/M") == "2023-11-01T00:00:00.000Z"
    assert at("now/y") == "2023-01-01T00:00:00.000Z"
    assert at("now/w") == "2023-11-13T00:00:00.000Z"  # weeks start on Monday
    assert at("now/h") == "2023-11-14T22:00:00.000Z"


def test_rounding_up_ends_the_unit():
    assert at("now/d", round_up=True) == "2023-11-14T23:59:59.999Z"
    assert at("now-1M/M", round_up=True) == "2023-10-31T23:59:59.999Z"
    assert at("now/w", round_up=True) == "2023-11-19T23:59:59.999Z"


def test_anchored_dates_take_math_after_the_double_bar():
    assert at("2024-01-31||+1M") == "2024-02-29T00:00:00.000Z"  # the month's last day, not March 2nd
    assert at("2024-01-31T10:00:00Z||/d") == "2024-01-31T00:00:00.000Z"


def test_round_up_fills_the_fields_a_date_leaves_out():
    assert at("2024-01-15", round_up=True) == "2024-01-15T23:59:59.999Z"
    assert at("2024-01", round_up=True, fmt="date_optional_time") == "2024-01-31T23:59:59.999Z"
    assert at("2024/01/15 10:00", round_up=True, fmt="yyyy/MM/dd HH:mm") == "2024-01-15T10:00:59.999Z"
    assert at("2024-01-15T10:11:12.345Z", round_up=True) == "2024-01-15T10:11:12.345Z"


def test_epoch_values_ignore_round_up_and_time_zone():
    assert parse_date_math("1700000000000", NOW, round_up=True, time_zone="+05:00") == NOW
    assert parse_date_math("1700000000", NOW, round_up=True, formatter=formatter("epoch_second")) == NOW + 999


def test_time_zone_reads_local_dates_and_rounds_in_the_zone():
    assert at("2024-01-15T10:00:00", tz="+02:00") == "2024-01-15T08:00:00.000Z"
    assert at("2024-07-15", tz="Europe/Paris") == "2024-07-14T22:00:00.000Z"  # summer time
    assert at("now/d", tz="-05:00") == "2023-11-14T05:00:00.000Z"
    assert at("2024-01-15T10:00:00Z", tz="+02:00") == "2024-01-15T10:00:00.000Z"  # the text's own zone wins


def test_bad_dates_and_bad_math_are_parse_errors():
    with pytest.raises(ParseError, match=r"failed to parse date field \[yesterday\] with format "
                                         r"\[strict_date_optional_time\|\|epoch_millis\]"):
        parse_date_math("yesterday", NOW, round_up=False)
    with pytest.raises(ParseError, match=r"unit \[x\] not supported for date math \[\+1x\]"):
        parse_date_math("now+1x", NOW, round_up=False)
    with pytest.raises(ParseError, match=r"truncated date math \[-1\]"):
        parse_date_math("now-1", NOW, round_up=False)
    with pytest.raises(ParseError, match="rounding `/` can only be used on single unit types"):
        parse_date_math("now/2d", NOW, round_up=False)
    with pytest.raises(ParseError, match=r"operator not supported for date math \[\*2d\]"):
        parse_date_math("now*2d", NOW, round_up=False)


def test_unknown_time_zones_are_refused():
    with pytest.raises(IllegalArgument, match=r"Unknown time-zone ID: Mars/Olympus"):
        parse_date_math("now", NOW, round_up=False, time_zone="Mars/Olympus")
