"""Parent pipelines, which rewrite the buckets of the aggregation they sit in:
cumulative_sum and derivative (histogram and date_histogram only) and bucket_sort.
"""

from __future__ import annotations

import math
import re
from functools import cmp_to_key
from typing import Any

from ....common.errors import (
    IllegalArgument,
    NumberFormatError,
    ParsingError,
    StrataError,
    XContentParseError,
)
from ....common.suggest import did_you_mean
from ....common.xcontent import scalar_text, token_name
from ....index.mapping.numbers import parse_java_double
from ..metrics import java_divide
from . import buckets
from .base import Pipeline, parent_check, parse_gap_policy, path_texts, value_body
from .errors import ClassCastError
from .paths import SKIPPABLE, java_list, parse_path, path_strings, resolve_bucket_value


def _parse_simple(pipeline: Pipeline, body: dict[str, Any], strings: tuple[str, ...], what: str) -> dict:
    """The hand-written parsers of cumulative_sum and derivative: string fields, or an
    array for buckets_path; anything else is refused by its token. BucketMetricsParser
    (sibling.py) reads the same shapes but words every refusal otherwise, so the two stay
    apart."""
    found: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, str):
            if key not in strings:
                raise ParsingError(f"Unknown key for a VALUE_STRING in [{pipeline.name}]: [{key}].")
            found[key] = [value] if key == "buckets_path" else value
        elif isinstance(value, list):
            if key != "buckets_path":
                raise ParsingError(f"Unknown key for a START_ARRAY in [{pipeline.name}]: [{key}].")
            found[key] = path_texts(value)
        else:
            raise ParsingError(f"Unexpected token {token_name(value)} in [{pipeline.name}].")
    if "buckets_path" not in found:
        # cumulative_sum's parser says derivative too
        raise ParsingError(f"Missing required field [buckets_path] for {what} aggregation [{pipeline.name}]")
    pipeline.buckets_paths = found["buckets_path"][:1]
    pipeline.format = found.get("format")
    return found


class CumulativeSum(Pipeline):
    """The running sum of a metric over the histogram's buckets, gaps counting as 0."""

    type_name = "cumulative_sum"
    result_type = "simple_value"
    sibling = False

    def parse(self, body: dict[str, Any]) -> None:
        _parse_simple(self, body, ("format", "buckets_path"), "derivative")

    def validate(self, level, parent, errors: list[str]) -> None:
        parent_check(self.type_name, self.name, parent, errors, without_gaps=False)

    def rewrite(self, agg, reduced: dict[str, Any]) -> dict[str, Any]:
        path = path_strings(parse_path(self.buckets_paths[0]))
        total = 0.0
        rows = []
        for row in buckets.rows(reduced):
            value = resolve_bucket_value(agg, reduced, row, path, "insert_zeros")
            if value is not None and math.isfinite(value):
                total += value
            subs = {**buckets.subs_of(agg, row), self.name: {"value": total}}
            rows.append(buckets.with_subs(agg, row, subs))
        return buckets.with_rows(reduced, rows)


# DateHistogramAggregationBuilder.DATE_FIELD_UNITS, in the millis of each unit's estimated
# duration (ChronoUnit: a year of 365.2425 days, a month a twelfth of that)
_DATE_UNITS = {
    "year": 31_556_952_000, "1y": 31_556_952_000, "quarter": 7_889_238_000, "1q": 7_889_238_000,
    "month": 2_629_746_000, "1M": 2_629_746_000, "week": 604_800_000, "1w": 604_800_000,
    "day": 86_400_000, "1d": 86_400_000, "hour": 3_600_000, "1h": 3_600_000, "minute": 60_000,
    "1m": 60_000, "second": 1_000, "1s": 1_000,
}
_TIME_UNITS = (("nanos", 1), ("micros", 1_000), ("ms", 10**6), ("s", 10**9), ("m", 60 * 10**9),
               ("h", 3_600 * 10**9), ("d", 86_400 * 10**9))
_UNIT_SETTING = "DerivativePipelineAggregationBuilder.unit"


def time_value_millis(text: str, setting: str) -> int:
    """TimeValue.parseTimeValue(...).getMillis(): `m` is minutes only in lower case."""
    normalized = text.lower().strip()
    for suffix, nanos in _TIME_UNITS:
        if (text if suffix == "m" else normalized).endswith(suffix):
            number = normalized[:-len(suffix)].strip()
            if not re.fullmatch(r"[+-]?\d+", number):
                try:
                    parse_java_double(number)
                except Exception:  # any refusal of Double.parseDouble
                    raise IllegalArgument(f"failed to parse [{text}]") from None
                raise IllegalArgument(f"failed to parse [{text}], fractional time values are not supported")
            value = int(number)
            if value < -1:
                raise IllegalArgument(f"failed to parse setting [{setting}] with value [{text}] as a time "
                                      "value: negative durations are not supported")
            return int(value * nanos / 10**6) if value < 0 else value * nanos // 10**6
    if re.fullmatch(r"-0*1", normalized):
        return -1
    if re.fullmatch(r"0+", normalized):
        return 0
    raise IllegalArgument(f"failed to parse setting [{setting}] with value [{text}] as a time value: unit is "
                          "missing or unrecognized")


class Derivative(Pipeline):
    """The difference of a metric between each bucket and the one before, divided by the
    keys' distance in `unit`s (normalized_value) when a unit is given."""

    type_name = "derivative"
    result_type = "derivative"
    sibling = False

    def parse(self, body: dict[str, Any]) -> None:
        found = _parse_simple(self, body, ("format", "buckets_path", "gap_policy", "unit"), "derivative")
        self.gap_policy = parse_gap_policy(found["gap_policy"]) if "gap_policy" in found else "skip"
        self.unit = found.get("unit")

    def validate(self, level, parent, errors: list[str]) -> None:
        parent_check(self.type_name, self.name, parent, errors, without_gaps=True)

    def x_axis_units(self) -> float | None:
        """Read when the pipeline is created for the final reduce, as ES reads it."""
        if self.unit is None:
            return None
        if self.unit in _DATE_UNITS:
            return float(_DATE_UNITS[self.unit])
        return float(time_value_millis(self.unit, _UNIT_SETTING))

    def rewrite(self, agg, reduced: dict[str, Any]) -> dict[str, Any]:
        units = self.x_axis_units()
        path = path_strings(parse_path(self.buckets_paths[0]))
        rows = []
        last_key = last_value = None
        for row in buckets.rows(reduced):
            key = buckets.histogram_key(row)
            value = resolve_bucket_value(agg, reduced, row, path, self.gap_policy)
            if last_value is not None and value is not None:
                factor = -1.0 if units is None else java_divide(key - last_key, units)
                result = {"value": value - last_value, "factor": factor}
                subs = {**buckets.subs_of(agg, row), self.name: result}
                row = buckets.with_subs(agg, row, subs)
            rows.append(row)
            last_key, last_value = key, value
        return buckets.with_rows(reduced, rows)

    @staticmethod
    def normalized(result: dict[str, Any]) -> float:
        factor = result["factor"]
        return java_divide(result["value"], factor) if factor > 0 else result["value"]

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        out = value_body(result["value"], self.fmt)
        if result["factor"] > 0:
            out.update(value_body(self.normalized(result), self.fmt, "normalized_value"))
        return out

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        if path == ["normalized_value"]:
            return self.normalized(result)
        return super().property(result, path)


# -- bucket_sort ----------------------------------------------------------------------------

_SORT_FIELDS = ("sort", "from", "size", "gap_policy")


class BucketSort(Pipeline):
    """Sorts the parent's buckets by `_key`, `_count` or metric paths, then keeps `size`
    of them from `from`. A bucket none of whose sort values resolves (a gap, skipped) is
    dropped; one missing only some of them sorts after the others on those."""

    type_name = "bucket_sort"
    sibling = False

    def parse(self, body: dict[str, Any]) -> None:
        """ConstructingObjectParser, `sort` its only constructor argument: the `from` and
        `size` setters run once `sort` is read, or at the end, the last queued first, and
        their refusals are worded after when they ran."""
        self.sorts: list[tuple[str, bool]] = []
        self.from_, self.size, self.gap_policy = 0, None, "skip"
        queued: list[IllegalArgument] = []
        built = False
        for key, value in body.items():
            if key not in _SORT_FIELDS:
                raise XContentParseError(f"[bucket_sort] unknown field [{key}]"
                                         f"{did_you_mean(key, _SORT_FIELDS)}")
            if key == "sort":
                if not isinstance(value, dict | list):
                    raise XContentParseError(f"[bucket_sort] sort doesn't support values of type: "
                                             f"{token_name(value)}")
                try:
                    self.sorts = _parse_sorts(value)
                except StrataError as e:
                    raise _field_failure("sort", e) from None
                built = True
                if queued:
                    raise _field_failure("sort", _build_failure(queued[-1]))
            elif key in ("from", "size"):
                number = _int_value(key, value)
                refused = self._set(key, number)
                if refused is not None:
                    if built:
                        raise _field_failure(key, refused)
                    queued.append(refused)
            else:
                if not isinstance(value, str):
                    raise XContentParseError(f"[bucket_sort] gap_policy doesn't support values of type: "
                                             f"{token_name(value)}")
                try:
                    self.gap_policy = parse_gap_policy(value.lower())
                except ParsingError as e:
                    raise _field_failure("gap_policy", e) from None
        if queued:
            raise _build_failure(queued[-1])
        self.buckets_paths = [field for field, _ in self.sorts]

    def _set(self, key: str, number: int) -> IllegalArgument | None:
        if key == "from":
            if number < 0:
                return IllegalArgument(f"[from] must be a non-negative integer: [{number}]")
            self.from_ = number
        else:
            if number <= 0:
                return IllegalArgument(f"[size] must be a positive integer: [{number}]")
            self.size = number
        return None

    def validate(self, level, parent, errors: list[str]) -> None:
        if parent is None:
            errors.append(f"bucket_sort aggregation [{self.name}] must be declared inside of another "
                          "aggregation")
        if not self.sorts and self.size is None and self.from_ == 0:
            errors.append(f"[{self.name}] is configured to perform nothing. Please set either of "
                          f"{java_list(list(('sort', 'size', 'from')))} to use bucket_sort")

    def rewrite(self, agg, reduced: dict[str, Any]) -> dict[str, Any]:
        if buckets.cardinality(agg) != buckets.MANY:
            raise ClassCastError(f"class {buckets.agg_class(agg, reduced)} cannot be cast to class "
                                 "org.elasticsearch.search.aggregations.InternalMultiBucketAggregation")
        rows = buckets.rows(reduced)
        size = len(rows) if self.size is None else self.size
        if self.from_ >= len(rows):
            return buckets.with_rows(reduced, [])
        if not self.sorts:
            return buckets.with_rows(reduced, rows[self.from_:min(self.from_ + size, len(rows))])
        paths = [None if field == "_key" else path_strings(parse_path(field)) for field, _ in self.sorts]
        entries = []
        for row in rows:
            values: dict[int, Any] = {}
            for i, path in enumerate(paths):
                if path is None:
                    values[i] = buckets.sort_key(agg, row)
                    continue
                value = resolve_bucket_value(agg, reduced, row, path, self.gap_policy)
                if self.gap_policy in SKIPPABLE and (value is None or math.isnan(value)):
                    continue
                values[i] = value
            if values:
                entries.append((row, values))
        entries.sort(key=cmp_to_key(self._compare))  # stable, as Collections.sort
        limit = min(self.from_ + size, len(entries))
        return buckets.with_rows(reduced, [row for row, _ in entries[self.from_:limit]])

    def _compare(self, a: tuple, b: tuple) -> int:
        for i, (_, ascending) in enumerate(self.sorts):
            x, y = a[1].get(i), b[1].get(i)
            if x is None and y is None:
                continue
            if x is None:
                return 1
            if y is None:
                return -1
            c = _java_compare(x, y)
            if c:
                return c if ascending else -c
        return 0

    def render(self, result: dict[str, Any]) -> dict[str, Any]:  # adds no result
        return {}


def _java_compare(a: Any, b: Any) -> int:
    """Double.compare for doubles (-0.0 below 0.0, NaN above all), natural order else."""
    if isinstance(a, float) and isinstance(b, float):
        a_nan, b_nan = math.isnan(a), math.isnan(b)
        if a_nan or b_nan:
            return a_nan - b_nan
        if a == b:
            a, b = math.copysign(1.0, a), math.copysign(1.0, b)
    return (a > b) - (a < b)


def _field_failure(key: str, cause: StrataError) -> XContentParseError:
    return XContentParseError(f"[bucket_sort] failed to parse field [{key}]", caused_by=cause)


def _build_failure(cause: IllegalArgument) -> XContentParseError:
    return XContentParseError("Failed to build [bucket_sort] after last required field arrived",
                              caused_by=cause)


_INT_MIN, _INT_MAX = -2**31, 2**31 - 1


def _int_value(key: str, value: Any) -> int:
    """ObjectParser's declareInt, XContentParser.intValue: a number (a fraction truncated)
    or its text, either within Java's int range. Jackson refuses a number past it with its
    own words (the location ES adds to them is not known here)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise XContentParseError(f"[bucket_sort] {key} doesn't support values of type: {token_name(value)}")
    if isinstance(value, str):
        try:
            number = parse_java_double(value)
        except Exception:  # any refusal of Double.parseDouble
            raise _field_failure(key, NumberFormatError(f'For input string: "{value}"')) from None
        if not _INT_MIN <= number <= _INT_MAX:
            raise _field_failure(key, IllegalArgument(f"Value [{value}] is out of range for an integer"))
        return int(number)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _field_failure(key, XContentParseError(
            f"Numeric value ({scalar_text(value)}) out of range of int ({_INT_MIN} - {_INT_MAX})"))
    return int(value)


def _parse_sorts(value: Any) -> list[tuple[str, bool]]:
    """SortBuilder.fromXContent, keeping field sorts only."""
    from ...sort import SCORE, parse_sort

    out = []
    for key in parse_sort(value):
        if key.is_score or key.geo is not None:
            name = SCORE if key.is_score else "_geo_distance"
            raise IllegalArgument(f"[bucket_sort] only supports field based sorting; incompatible sort: "
                                  f'[{{\n  "{name}" : {{\n    "order" : "{key.order}"\n  }}\n}}]')
        out.append((key.field, key.order == "asc"))
    return out


__all__ = ["BucketSort", "CumulativeSum", "Derivative"]
