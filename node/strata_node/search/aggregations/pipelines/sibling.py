"""Sibling pipelines over the buckets of a multi-bucket aggregation beside them:
avg_bucket, sum_bucket, min_bucket, max_bucket and stats_bucket (BucketMetricsPipeline*).

Every bucket's value is resolved through the rest of the path with the gap policy (skip
by default); NaN values (skipped gaps) are left out. Sums are plain `+=`, as ES adds them.
"""

from __future__ import annotations

import math
from typing import Any

from ....common.errors import ParsingError
from ....common.xcontent import token_name
from ..formats import format_value
from . import buckets
from .base import Pipeline, parse_gap_policy, path_texts, stats_body, stats_value
from .errors import InvalidAggregationPathError, InvalidPath
from .paths import has_bucket_key, java_list, parse_path, path_strings, resolve_bucket_value


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
        self.start()
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
            for row in buckets.rows(agg, reduced):
                value = resolve_bucket_value(agg, reduced, row, rest, self.gap_policy)
                if value is not None and not math.isnan(value):
                    self.collect(buckets.key_string(agg, reduced, row), value)
        return self.build()

    # -- the fold -------------------------------------------------------------------------

    def start(self) -> None:
        raise NotImplementedError

    def collect(self, key: str, value: float) -> None:
        raise NotImplementedError

    def build(self) -> dict[str, Any]:
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
        """InternalMultiBucketAggregation.getProperty of a quoted key: the bucket whose
        key prints as it."""
        for row in buckets.rows(self.agg, self.value):
            if buckets.key_string(self.agg, self.value, row) == quoted[1:-1]:
                return row
        raise InvalidAggregationPathError(f"Cannot find an key [{quoted}] in [{self.name}]")


class AvgBucket(BucketMetrics):
    type_name = "avg_bucket"
    result_type = "simple_value"

    def start(self) -> None:
        self._count, self._sum = 0, 0.0

    def collect(self, key: str, value: float) -> None:
        self._count += 1
        self._sum += value

    def build(self) -> dict[str, Any]:
        return {"value": self._sum / self._count if self._count else math.nan}


class SumBucket(BucketMetrics):
    type_name = "sum_bucket"
    result_type = "simple_value"

    def start(self) -> None:
        self._sum = 0.0

    def collect(self, key: str, value: float) -> None:
        self._sum += value

    def build(self) -> dict[str, Any]:
        return {"value": self._sum}


class _Extreme(BucketMetrics):
    """min_bucket and max_bucket: the value and the keys of every bucket that has it."""

    result_type = "bucket_metric_value"
    _start = 0.0

    def start(self) -> None:
        self._value, self._keys = self._start, []

    def beats(self, value: float) -> bool:
        raise NotImplementedError

    def collect(self, key: str, value: float) -> None:
        if self.beats(value):
            self._value, self._keys = value, [key]
        elif same_double(value, self._value):
            self._keys.append(key)

    def build(self) -> dict[str, Any]:
        return {"value": self._value, "keys": list(self._keys)}

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        """InternalBucketMetricValue: null only for an infinite value (no bucket had one)."""
        value = result["value"]
        out: dict[str, Any] = {"value": None if math.isinf(value) else value}
        if not math.isinf(value) and self.fmt is not None:
            out["value_as_string"] = format_value(self.fmt, value)
        out["keys"] = result["keys"]
        return out

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        if path == ["keys"]:
            return buckets.JavaObject("String[]")
        return super().property(result, path)


class MinBucket(_Extreme):
    type_name = "min_bucket"
    _start = math.inf

    def beats(self, value: float) -> bool:
        return value < self._value


class MaxBucket(_Extreme):
    type_name = "max_bucket"
    _start = -math.inf

    def beats(self, value: float) -> bool:
        return value > self._value


class StatsBucket(BucketMetrics):
    type_name = "stats_bucket"
    result_type = "stats_bucket"

    def start(self) -> None:
        self._count, self._sum, self._min, self._max = 0, 0.0, math.inf, -math.inf

    def collect(self, key: str, value: float) -> None:
        self._sum += value
        self._min = java_min(self._min, value)
        self._max = java_max(self._max, value)
        self._count += 1

    def build(self) -> dict[str, Any]:
        return {"count": self._count, "sum": self._sum, "min": self._min, "max": self._max}

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        return stats_body(result, self.fmt)

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        """A multi-value metric (InternalStats)."""
        if not path:
            return buckets.JavaObject("InternalStatsBucket", multi_value=True)
        if len(path) == 1:
            return stats_value(result, path[0])
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
