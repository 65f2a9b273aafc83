"""date_histogram: buckets of calendar units (`calendar_interval`: minute, hour, day,
week, month, quarter, year, or 1m/1h/1d/1w/1M/1q/1y) or of fixed length
(`fixed_interval`: 30s, 90m, 12h, 7d), in a time zone, keyed by the bucket's start in
epoch millis with `key_as_string` in the field's (or the aggregation's) format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument
from ...common.units import LONG_MAX
from ...index.mapping.dates import DEFAULT_FORMAT
from .base import Params, check_bucket_count
from .formats import date_format
from .histogram import HistogramBase, extends_past
from .rounding import CALENDAR_UNITS, Rounding
from .values import parse_date, resolve, with_missing
from .zones import parse_zone

_TIME_UNITS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000,
               "d": 86_400_000}
# The instants Python's datetime holds, through which keys in a time zone are computed
_FIRST_MILLIS, _LAST_MILLIS = -62_135_596_800_000, 253_402_300_799_999
_TIME_VALUE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)\s*")


def parse_time_value(text: Any, setting: str) -> int:
    """TimeValue.parseTimeValue, in milliseconds: `90m`, `1.5h`, `500ms`."""
    m = _TIME_VALUE.fullmatch(str(text)) if isinstance(text, str) else None
    if m is None:
        raise IllegalArgument(f"failed to parse setting [{setting}] with value [{text}] as a time value: "
                              "unit is missing or unrecognized")
    millis = float(m.group(1)) * _TIME_UNITS[m.group(2)]
    if not math.isfinite(millis) or abs(millis) > LONG_MAX:
        raise IllegalArgument(f"failed to parse setting [{setting}] with value [{text}] as a time value: "
                              "out of range")
    return round(millis)


def parse_offset(text: Any) -> int:
    """The `offset` of a date histogram: `+6h`, `-1d`, or millis."""
    if text is None:
        return 0
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    text = str(text).strip()
    sign = -1 if text.startswith("-") else 1
    return sign * parse_time_value(text.lstrip("+-"), "date_histogram.offset")


class DateHistogram(HistogramBase):
    type_name = "date_histogram"
    kinds = ("date", "long")

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, (*self._COMMON, "calendar_interval", "fixed_interval", "time_zone",
                                          "offset"))
        self._read_common(p)
        calendar, fixed = p.string("calendar_interval"), p.string("fixed_interval")
        if calendar is not None and fixed is not None:
            raise IllegalArgument("Cannot use [fixed_interval] with [calendar_interval] configuration "
                                  "option.")
        if calendar is None and fixed is None:
            raise IllegalArgument("Invalid interval specified, must be non-null and non-empty")
        if calendar is not None:
            if calendar not in CALENDAR_UNITS:
                raise IllegalArgument(f"The supplied interval [{calendar}] could not be parsed as a calendar "
                                      "interval.")
            self.unit, self.size = CALENDAR_UNITS[calendar]
        else:
            size = parse_time_value(fixed, "date_histogram.fixedInterval")
            if size <= 0:
                raise IllegalArgument(f"Zero or negative time interval not supported: [{fixed}]")
            self.unit, self.size = "fixed", size
        self.time_zone = p.string("time_zone")
        self.zone = parse_zone(self.time_zone) if self.time_zone is not None else parse_zone("UTC")
        self.offset = parse_offset(p.get("offset"))
        self.rounding = Rounding(self.unit, self.size, self.zone, self.offset)
        # bounds round without the offset (LongBounds.round): hard bounds meet the keys (which
        # carry it) as they are; extended bounds gain it when empty buckets are filled
        self.bounds_rounding = Rounding(self.unit, self.size, self.zone)
        self.extended = self._date_bounds(p, "extended_bounds")
        self.hard = self._date_bounds(p, "hard_bounds")

    def _date_bounds(self, p: Params, what: str) -> dict[str, Any] | None:
        raw = p.get(what)
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise p.fail(what)
        Params(what, raw, ("min", "max"))
        return raw

    def _resolve_bounds(self, bounds: dict[str, Any] | None, fmt: Any,
                        now: int) -> tuple[int | None, int | None]:
        """LongBounds.parseAndValidate, then round: both ends parsed rounding down (`max`
        too: a bare date is its first millisecond), then rounded down without the offset."""
        if not bounds:
            return None, None
        pattern = fmt[1] if fmt else (self.format or DEFAULT_FORMAT)
        low = bounds.get("min")
        high = bounds.get("max")
        low = None if low is None else parse_date(low, pattern, now, time_zone=self.time_zone)
        high = None if high is None else parse_date(high, pattern, now, time_zone=self.time_zone)
        what = "extended_bounds" if bounds is self.extended else "hard_bounds"
        for value in (low, high):
            if value is not None and not _FIRST_MILLIS <= value <= _LAST_MILLIS:
                raise IllegalArgument(f"[{what}] [{value}] is outside the dates Strata's date histogram "
                                      "supports (years 1 to 9999)")
        if low is not None and high is not None and low > high:
            raise IllegalArgument(f"[{what}.min][{low}] cannot be greater than [{what}.max][{high}] for "
                                  f"histogram aggregation [{self.name}]")
        return (None if low is None else self.bounds_rounding.round(low),
                None if high is None else self.bounds_rounding.round(high))

    def _source(self, ctx):
        return with_missing(resolve(ctx, self.field, self.type_name, self.kinds), self.missing)

    def _fmt(self, vs) -> Any:
        base = vs.fmt[1] if vs.fmt else DEFAULT_FORMAT
        return date_format(self.format or base, self.time_zone)

    def _index(self, ctx, values: np.ndarray):
        return self.rounding.index(values)

    def _shard_bounds(self, ctx, vs) -> Any:
        """[extended min, extended max, hard min, hard max] in epoch millis, rounded
        without the offset: date math in the bounds is resolved on the shard, where the
        request's `now` is known."""
        if not self.extended and not self.hard:
            return None
        fmt = self._fmt(vs)
        extended = self._resolve_bounds(self.extended, fmt, ctx.now_millis)
        hard = self._resolve_bounds(self.hard, fmt, ctx.now_millis)
        if extends_past(extended, hard):
            raise IllegalArgument(f"Extended bounds have to be inside hard bounds, hard bounds: "
                                  f"[{_bounds_text(self.hard)}], extended bounds: "
                                  f"[{_bounds_text(self.extended)}]")
        return [*extended, *hard]

    def _keep_in(self, key: int, bounds: Any) -> bool:
        return bounds is None or _contains((bounds[2], bounds[3]), key)

    def collect(self, ctx, matches):
        partial = super().collect(ctx, matches)
        if self.hard and partial["bounds"] is not None:
            partial["buckets"] = [b for b in partial["buckets"] if self._keep_in(b[0], partial["bounds"])]
        return partial

    def _reduce_bounds(self, partials: list[dict[str, Any]]) -> Any:
        return next((p["bounds"] for p in partials if p.get("bounds") is not None), None)

    def _fill(self, keys: list, bounds: Any) -> Iterator[int]:
        """Every key from the first to the last, stretched to the extended bounds plus the
        offset (InternalDateHistogram.iterateEmptyBuckets). As in ES, hard bounds cut no
        empty bucket: the extended ones must lie inside them, and keys outside were dropped."""
        low, high = (bounds[0], bounds[1]) if bounds is not None else (None, None)
        first = keys[0] if keys else None
        last = keys[-1] if keys else None
        if low is not None:
            low += self.offset
            first = low if first is None else min(first, low)
        if high is not None:
            high += self.offset
            last = high if last is None else max(last, high)
        if first is None or last is None:
            return
        count = 0
        key = first
        while key <= last:
            count += 1
            check_bucket_count(count)
            yield key
            key = self.rounding.next(key)


def _contains(bounds: tuple[int | None, int | None], key: int) -> bool:
    """LongBounds.contain: the hard bounds keep min <= key < max."""
    low, high = bounds
    return (low is None or key >= low) and (high is None or key < high)


def _bounds_text(bounds: dict[str, Any] | None) -> str:
    """Bounds as LongBounds.toString prints the request's: `min--max`, an absent end empty."""
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(int(value))  # a number is read as a long
        return str(value)
    bounds = bounds or {}
    return f"{text(bounds.get('min'))}--{text(bounds.get('max'))}"
