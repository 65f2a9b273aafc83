"""date_histogram: calendar and fixed intervals, time zones (fixed offsets and regions
across daylight saving changes), offsets, formats, bounds, and merging shards."""

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.aggregations import parse_aggregations

from .shards import one_shard, run, shards

MAPPING = {"properties": {"ts": {"type": "date"}, "day": {"type": "date", "format": "yyyy-MM-dd"},
                          "n": {"type": "long"}}}


def hist(tmp_path, docs, **params):
    params.setdefault("field", "ts")
    out = one_shard(tmp_path, MAPPING, docs, {"h": {"date_histogram": params}})
    return out["h"]["buckets"]


def pairs(buckets):
    return [(b["key_as_string"], b["doc_count"]) for b in buckets]


def test_calendar_months_fill_empty_months_between(tmp_path):
    docs = [{"ts": "2024-01-15T10:00:00Z"}, {"ts": "2024-01-31T23:59:59Z"}, {"ts": "2024-04-01T00:00:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="month")
    assert buckets[0] == {"key_as_string": "2024-01-01T00:00:00.000Z", "key": 1704067200000, "doc_count": 2}
    assert pairs(buckets)[1:] == [("2024-02-01T00:00:00.000Z", 0), ("2024-03-01T00:00:00.000Z", 0),
                                  ("2024-04-01T00:00:00.000Z", 1)]


def test_calendar_weeks_start_on_monday(tmp_path):
    docs = [{"ts": "2024-01-07T12:00:00Z"}, {"ts": "2024-01-08T00:00:00Z"}]  # a Sunday, then a Monday
    assert pairs(hist(tmp_path, docs, calendar_interval="1w")) == [("2024-01-01T00:00:00.000Z", 1),
                                                                   ("2024-01-08T00:00:00.000Z", 1)]


def test_calendar_quarters_and_years(tmp_path):
    docs = [{"ts": "2023-12-31T23:00:00Z"}, {"ts": "2024-05-05T00:00:00Z"}, {"ts": "2024-06-30T00:00:00Z"}]
    assert pairs(hist(tmp_path / "q", docs, calendar_interval="quarter")) == [
        ("2023-10-01T00:00:00.000Z", 1), ("2024-01-01T00:00:00.000Z", 0), ("2024-04-01T00:00:00.000Z", 2)]
    assert pairs(hist(tmp_path / "y", docs, calendar_interval="1y")) == [
        ("2023-01-01T00:00:00.000Z", 1), ("2024-01-01T00:00:00.000Z", 2)]


def test_fixed_intervals_divide_time_from_the_epoch(tmp_path):
    docs = [{"ts": "2024-01-01T05:00:00Z"}, {"ts": "2024-01-01T13:00:00Z"}, {"ts": "2024-01-01T14:30:00Z"}]
    assert pairs(hist(tmp_path, docs, fixed_interval="12h")) == [("2024-01-01T00:00:00.000Z", 1),
                                                                 ("2024-01-01T12:00:00.000Z", 2)]


def test_a_fixed_offset_zone_starts_days_at_local_midnight(tmp_path):
    docs = [{"ts": "2024-01-01T23:30:00Z"}, {"ts": "2024-01-01T22:30:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="day", time_zone="+01:00")
    assert buckets == [{"key_as_string": "2024-01-01T00:00:00.000+01:00", "key": 1704063600000,
                        "doc_count": 1},
                       {"key_as_string": "2024-01-02T00:00:00.000+01:00", "key": 1704150000000,
                        "doc_count": 1}]


def test_a_region_zone_follows_daylight_saving_time(tmp_path):
    # Paris moves to +02:00 at 2024-03-31T01:00Z: that day starts at +01:00, the next at +02:00
    docs = [{"ts": "2024-03-30T23:30:00Z"}, {"ts": "2024-03-31T22:30:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="day", time_zone="Europe/Paris")
    assert [(b["key_as_string"], b["key"]) for b in buckets] == [
        ("2024-03-31T00:00:00.000+01:00", 1711839600000), ("2024-04-01T00:00:00.000+02:00", 1711922400000)]


def test_the_repeated_hour_when_clocks_fall_back_is_two_buckets(tmp_path):
    # Paris goes back from +02:00 to +01:00 at 2024-10-27T01:00Z: local 02:00-03:00 happens twice
    docs = [{"ts": "2024-10-27T00:30:00Z"}, {"ts": "2024-10-27T01:30:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="hour", time_zone="Europe/Paris")
    assert pairs(buckets) == [("2024-10-27T02:00:00.000+02:00", 1), ("2024-10-27T02:00:00.000+01:00", 1)]


def test_an_offset_moves_the_start_of_each_bucket(tmp_path):
    docs = [{"ts": "2024-01-01T05:00:00Z"}, {"ts": "2024-01-01T07:00:00Z"}]
    assert pairs(hist(tmp_path, docs, calendar_interval="day", offset="+6h")) == [
        ("2023-12-31T06:00:00.000Z", 1), ("2024-01-01T06:00:00.000Z", 1)]


def test_format_prints_keys_and_the_fields_format_is_the_default(tmp_path):
    docs = [{"ts": "2024-01-01T05:00:00Z", "day": "2024-02-03"}]
    assert hist(tmp_path / "a", docs, calendar_interval="day", format="yyyy/MM/dd")[0]["key_as_string"] == \
        "2024/01/01"
    assert hist(tmp_path / "b", docs, field="day",
                calendar_interval="day")[0]["key_as_string"] == "2024-02-03"


def test_extended_bounds_in_the_format_stretch_the_buckets(tmp_path):
    docs = [{"ts": "2024-02-10T00:00:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="month", format="yyyy-MM",
                   extended_bounds={"min": "2024-01", "max": "2024-03"})
    assert pairs(buckets) == [("2024-01", 0), ("2024-02", 1), ("2024-03", 0)]


def test_extended_bounds_take_date_math_from_the_requests_now(tmp_path):
    # now is 2023-11-14T22:13:20Z in these tests
    buckets = hist(tmp_path, [{"ts": "2023-11-13T10:00:00Z"}], calendar_interval="day",
                   extended_bounds={"min": "now-2d/d", "max": "now/d"})
    assert [b["key_as_string"][:10] for b in buckets] == ["2023-11-12", "2023-11-13", "2023-11-14"]


def test_extended_bounds_round_without_the_offset_then_shift_by_it(tmp_path):
    # 2020-01-04T03:00 rounds to 2020-01-04, so the last key is 2020-01-04T06:00 although the
    # bound comes before it; with the offset in the rounding the first key would be 2019-12-31T06
    buckets = hist(tmp_path, [{"ts": "2020-01-03T12:00:00Z"}], calendar_interval="day", offset="+6h",
                   extended_bounds={"min": "2020-01-01", "max": "2020-01-04T03:00:00"})
    assert pairs(buckets) == [("2020-01-01T06:00:00.000Z", 0), ("2020-01-02T06:00:00.000Z", 0),
                              ("2020-01-03T06:00:00.000Z", 1), ("2020-01-04T06:00:00.000Z", 0)]


def test_an_extended_bounds_max_date_is_its_first_millisecond(tmp_path):
    buckets = hist(tmp_path, [{"ts": "2020-01-03T12:00:00Z"}], fixed_interval="1h",
                   extended_bounds={"min": "2020-01-03T10:00:00Z", "max": "2020-01-04"})
    assert len(buckets) == 15
    assert buckets[-1]["key_as_string"] == "2020-01-04T00:00:00.000Z"


def test_hard_bounds_keep_keys_from_the_rounded_min_to_before_the_rounded_max(tmp_path):
    docs = [{"ts": "2020-01-02T12:00:00Z"}, {"ts": "2020-01-03T12:00:00Z"}, {"ts": "2020-01-04T12:00:00Z"},
            {"ts": "2020-01-05T12:00:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="day",
                   hard_bounds={"min": "2020-01-03T10:00:00Z", "max": "2020-01-04T10:00:00Z"})
    assert pairs(buckets) == [("2020-01-03T00:00:00.000Z", 1)]


def test_a_hard_bounds_max_date_is_its_first_millisecond(tmp_path):
    docs = [{"ts": "2020-01-03T23:30:00Z"}, {"ts": "2020-01-04T00:30:00Z"}]
    buckets = hist(tmp_path, docs, fixed_interval="1h", hard_bounds={"max": "2020-01-04"})
    assert pairs(buckets) == [("2020-01-03T23:00:00.000Z", 1)]


def test_hard_bounds_rounded_without_the_offset_are_compared_with_offset_keys(tmp_path):
    docs = [{"ts": "2020-01-02T12:00:00Z"}, {"ts": "2020-01-03T12:00:00Z"}, {"ts": "2020-01-04T12:00:00Z"}]
    buckets = hist(tmp_path, docs, calendar_interval="day", offset="+6h",
                   hard_bounds={"min": "2020-01-03", "max": "2020-01-04"})
    assert pairs(buckets) == [("2020-01-03T06:00:00.000Z", 1)]


def test_extended_bounds_past_the_hard_bounds_are_refused(tmp_path):
    with pytest.raises(IllegalArgument, match=r"Extended bounds have to be inside hard bounds, hard bounds: "
                                              r"\[2020-01-02--2020-01-05\], extended bounds: "
                                              r"\[2020-01-01--\]"):
        hist(tmp_path, [{"ts": "2020-01-03T12:00:00Z"}], calendar_interval="day",
             hard_bounds={"min": "2020-01-02", "max": "2020-01-05"}, extended_bounds={"min": "2020-01-01"})


def test_min_doc_count_one_skips_empty_buckets_and_keyed_names_by_string(tmp_path):
    docs = [{"ts": "2024-01-01T00:00:00Z"}, {"ts": "2024-01-05T00:00:00Z"}]
    out = one_shard(tmp_path, MAPPING, docs, {"h": {"date_histogram": {
        "field": "ts", "calendar_interval": "1d", "min_doc_count": 1, "keyed": True,
        "format": "yyyy-MM-dd"}}})
    assert out["h"]["buckets"] == {
        "2024-01-01": {"key_as_string": "2024-01-01", "key": 1704067200000, "doc_count": 1},
        "2024-01-05": {"key_as_string": "2024-01-05", "key": 1704412800000, "doc_count": 1}}


def test_sub_aggregations_run_per_bucket(tmp_path):
    docs = [{"ts": "2024-01-01T01:00:00Z", "n": 1}, {"ts": "2024-01-01T02:00:00Z", "n": 5},
            {"ts": "2024-01-03T00:00:00Z", "n": 7}]
    out = one_shard(tmp_path, MAPPING, docs,
                    {"h": {"date_histogram": {"field": "ts", "calendar_interval": "day"},
                                                    "aggs": {"s": {"sum": {"field": "n"}}}}})
    assert [b["s"]["value"] for b in out["h"]["buckets"]] == [6.0, 0.0, 7.0]


def test_reduce_merges_shards_and_fills_the_gaps(tmp_path):
    shard_docs = [[{"ts": "2024-01-01T00:00:00Z"}, {"ts": "2024-01-04T00:00:00Z"}],
                  [{"ts": "2024-01-01T10:00:00Z"}]]
    with shards(tmp_path, MAPPING, shard_docs) as contexts:
        out = run({"h": {"date_histogram": {"field": "ts", "fixed_interval": "1d"}}}, contexts)
    assert [b["doc_count"] for b in out["h"]["buckets"]] == [2, 0, 0, 1]


def test_both_interval_kinds_or_neither_are_refused():
    with pytest.raises(IllegalArgument, match=r"Cannot use \[fixed_interval\] with \[calendar_interval\]"):
        parse_aggregations({"h": {"date_histogram": {"field": "ts", "fixed_interval": "1d",
                                                     "calendar_interval": "day"}}})
    with pytest.raises(IllegalArgument, match="Invalid interval specified, must be non-null and non-empty"):
        parse_aggregations({"h": {"date_histogram": {"field": "ts"}}})


def test_bad_intervals_are_refused_with_elasticsearchs_words():
    with pytest.raises(IllegalArgument,
                       match=r"The supplied interval \[2d\] could not be parsed as a calendar"):
        parse_aggregations({"h": {"date_histogram": {"field": "ts", "calendar_interval": "2d"}}})
    with pytest.raises(IllegalArgument,
                       match=r"failed to parse setting \[date_histogram.fixedInterval\] with value "
                                              r"\[1M\] as a time value: unit is missing or unrecognized"):
        parse_aggregations({"h": {"date_histogram": {"field": "ts", "fixed_interval": "1M"}}})


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(IllegalArgument, match=r"Unknown time-zone ID: Mars/Olympus"):
        parse_aggregations({"h": {"date_histogram": {"field": "ts", "calendar_interval": "day",
                                                     "time_zone": "Mars/Olympus"}}})


def test_an_unmapped_field_still_fills_its_extended_bounds(tmp_path):
    buckets = hist(tmp_path, [{"n": 1}], field="nope", calendar_interval="day",
                   extended_bounds={"min": "2024-01-01", "max": "2024-01-02"})
    assert pairs(buckets) == [("2024-01-01T00:00:00.000Z", 0), ("2024-01-02T00:00:00.000Z", 0)]
