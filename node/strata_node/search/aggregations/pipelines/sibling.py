"""Sibling pipelines over the buckets of a multi-bucket aggregation beside them:
avg_bucket, sum_bucket, min_bucket, max_bucket and stats_bucket (BucketMetricsPipeline*).

Every bucket's value is resolved through the rest of the path with the gap policy (skip
by default); NaN values (skipped gaps) are left out. Sums are plain `+=`, as ES adds them.
A run folds the values into its own accumulator: the parsed request serves every search
that runs it, so it holds no running figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ....common.errors import IllegalArgument, ParsingError
from ....common.xcontent import token_name
from ..metrics import STATS_METRIC_NAMES, extreme_body, stats_body, stats_metric
from . import buckets
from .base import Pipeline, parse_gap_policy, path_texts
from .errors import InvalidAggregationPathError, InvalidPath
from .paths import (
    PathNotFound,
    has_bucket_key,
    java_list,
    keyed_bucket,
    parse_path,
    path_strings,
    resolve_bucket_value,
)


def same_double(a: float, b: float) -> bool:
    """Double.equals: 0.0 and -0.0 differ."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


class BucketMetrics(Pipeline):
    """BucketMetricsPipelineAggregator: parsing (BucketMetricsParser), validation and the
    walk to the buckets; subclasses fold the values."""

    def parse(self, body: dict[str, Any]) -> None:
        paths: list[str] | None = None
        self.gap_policy = "skip"
        for key, value in body.items():
            if isinstance(value, str) and key in ("format", "buckets_path", "gap_policy"):
                if key == "format":
                    self.format = value
                elif key == "buckets_path":
                    paths = [value]
                else:
                    self.gap_policy = parse_gap_policy(value)
            elif isinstance(value, list) and key == "buckets_path":
                paths = path_texts(value)
            else:
                raise ParsingError(f"Unexpected token {token_name(value)} [{key}] in [{self.name}]")
        if paths is None:
            raise ParsingError(f"Missing required field [buckets_path] for aggregation [{self.name}]")
        self.buckets_paths = paths[:1]  # the builder keeps the first path only

    @property
    def path(self) -> str:
        return self.buckets_paths[0]

    def validate(self, level, parent, errors: list[str]) -> None:
        path = parse_path(self.path)
        pos = 0
        current = path[pos]
        pos += 1
        agg = level.get(current.name)
        if agg is None:
            errors.append(f"buckets_path aggregation does not exist for aggregation [{self.name}]: "
                          f"{self.path}")
            return
        # through single-bucket aggregations, and multi-bucket ones narrowed to a bucket by key
        while agg is not None and pos < len(path) and (
                (buckets.cardinality(agg) == buckets.MANY and has_bucket_key(current))
                or (buckets.cardinality(agg) == buckets.ONE and len(agg.subs.aggregators))):
            current = path[pos]
            pos += 1
            agg = agg.subs.get(current.name)
        if agg is None:
            errors.append(f"buckets_path aggregation does not exist for aggregation [{self.name}]: "
                          f"{java_list(path_strings(path[:pos]))}")
            return
        if buckets.cardinality(agg) != buckets.MANY:
            errors.append("Unable to find unqualified multi-bucket aggregation in buckets_path. Path must "
                          f"include a multi-bucket aggregation for aggregation [{self.name}] found :"
                          f"{buckets.builder_class(agg)} for buckets path: {self.path}")

    def compute(self, level, values: dict[str, Any]) -> dict[str, Any]:
        totals = self.start()
        path = parse_path(self.path)
        target = _Node.named(level, values, path[0].name)
        if target is not None:
            i = 0
            while i < len(path) - 1:
                if target is None:
                    raise InvalidPath(f"bucket_path [{self.path}] expected aggregation with name "
                                      f"[{path[i].name}] but was missing in search response")
                if target.cardinality == buckets.ONE:
                    i += 1
                    target = _Node.named(target.agg.subs, target.value["subs"], path[i].name)
                elif has_bucket_key(path[i]):
                    if target.cardinality != buckets.MANY:
                        raise InvalidPath(f"bucket_path [{self.path}] indicates bucket_key [{path[i].key}] "
                                          f"at position [{i}] but encountered on agg [{target.name}] which "
                                          "is not a multi_bucket aggregation")
                    row = target.bucket(path[i].key)
                    i += 1
                    target = _Node.named(target.agg.subs, buckets.subs_of(target.agg, row), path[i].name)
                else:
                    break
            if target is None or target.cardinality != buckets.MANY:
                found = "" if target is None else f" Found [{target.name}]"
                raise InvalidPath(f"did not find multi-bucket aggregation for extraction.{found}")
            rest = path_strings(path[i:])[1:]
            agg, reduced = target.agg, target.value
            for row in buckets.rows(reduced):
                value = resolve_bucket_value(agg, reduced, row, rest, self.gap_policy)
                if value is not None and not math.isnan(value):
                    self.collect(totals, buckets.key_string(agg, reduced, row), value)
        return self.build(totals)

    # -- the fold, into an accumulator of this run's own ----------------------------------

    def start(self) -> Any:
        raise NotImplementedError

    def collect(self, totals: Any, key: str, value: float) -> None:
        raise NotImplementedError

    def build(self, totals: Any) -> dict[str, Any]:
        raise NotImplementedError


class _Node:
    """One aggregation (or pipeline result) met while walking a sibling's path."""

    def __init__(self, name: str, agg, value: Any):
        self.name, self.agg, self.value = name, agg, value
        self.cardinality = buckets.cardinality(agg) if agg is not None else buckets.NONE

    @classmethod
    def named(cls, level, values: dict[str, Any], name: str) -> _Node | None:
        if name not in values or level is None:
            return None
        return cls(name, level.get(name), values[name])

    def bucket(self, quoted: str) -> Any:
        """The bucket a quoted key names; here ES lets the path exception escape (500)."""
        try:
            return keyed_bucket(self.agg, self.value, quoted)
        except PathNotFound as e:
            raise InvalidAggregationPathError(str(e)) from None


@dataclass
class _Totals:
    """One run's count, sum, min and max of the bucket values."""

    count: int = 0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf


@dataclass
class _Best:
    """One run's extreme value so far and the keys of the buckets that have it."""

    value: float
    keys: list[str] = field(default_factory=list)


class AvgBucket(BucketMetrics):
    type_name = "avg_bucket"
    result_type = "simple_value"

    def start(self) -> _Totals:
        return _Totals()

    def collect(self, totals: _Totals, key: str, value: float) -> None:
        totals.count += 1
        totals.sum += value

    def build(self, totals: _Totals) -> dict[str, Any]:
        return {"value": totals.sum / totals.count if totals.count else math.nan}


class SumBucket(BucketMetrics):
    type_name = "sum_bucket"
    result_type = "simple_value"

    def start(self) -> _Totals:
        return _Totals()

    def collect(self, totals: _Totals, key: str, value: float) -> None:
        totals.sum += value

    def build(self, totals: _Totals) -> dict[str, Any]:
        return {"value": totals.sum}


class _Extreme(BucketMetrics):
    """min_bucket and max_bucket: the value and the keys of every bucket that has it."""

    result_type = "bucket_metric_value"
    _start = 0.0

    def start(self) -> _Best:
        return _Best(self._start)

    def beats(self, value: float, best: float) -> bool:
        raise NotImplementedError

    def collect(self, totals: _Best, key: str, value: float) -> None:
        if self.beats(value, totals.value):
            totals.value, totals.keys = value, [key]
        elif same_double(value, totals.value):
            totals.keys.append(key)

    def build(self, totals: _Best) -> dict[str, Any]:
        return {"value": totals.value, "keys": list(totals.keys)}

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        """InternalBucketMetricValue, which prints its value as InternalMin does (null when
        no bucket had one), then the keys."""
        return {**extreme_body(result["value"], self.fmt), "keys": result["keys"]}

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        if path == ["keys"]:
            return buckets.JavaObject("String[]")
        return super().property(result, path)


class MinBucket(_Extreme):
    type_name = "min_bucket"
    _start = math.inf

    def beats(self, value: float, best: float) -> bool:
        return value < best


class MaxBucket(_Extreme):
    type_name = "max_bucket"
    _start = -math.inf

    def beats(self, value: float, best: float) -> bool:
        return value > best


class StatsBucket(BucketMetrics):
    type_name = "stats_bucket"
    result_type = "stats_bucket"

    def start(self) -> _Totals:
        return _Totals()

    def collect(self, totals: _Totals, key: str, value: float) -> None:
        totals.sum += value
        totals.min = java_min(totals.min, value)
        totals.max = java_max(totals.max, value)
        totals.count += 1

    def build(self, totals: _Totals) -> dict[str, Any]:
        return {"count": totals.count, "sum": totals.sum, "min": totals.min, "max": totals.max}

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        """InternalStatsBucket prints as InternalStats does."""
        return stats_body(result, self.fmt)

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        """A multi-value metric (InternalStats)."""
        if not path:
            return buckets.JavaObject("InternalStatsBucket", multi_value=True)
        if len(path) == 1:
            if path[0] not in STATS_METRIC_NAMES:
                raise IllegalArgument(f"No enum constant {buckets.STATS_METRICS}.{path[0]}")
            return stats_metric(result, path[0])
        return super().property(result, path)


def java_min(a: float, b: float) -> float:
    """Math.min: -0.0 is below 0.0."""
    if a == b == 0.0:
        return a if math.copysign(1.0, a) < 0 else b
    return a if a < b else b


def java_max(a: float, b: float) -> float:
    if a == b == 0.0:
        return a if math.copysign(1.0, a) > 0 else b
    return a if a > b else b
