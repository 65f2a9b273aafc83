"""`buckets_path`: AggregationPath's syntax, and how a path resolves to a number inside one
bucket (BucketHelpers.resolveBucketValue), gap policies included.

    parse_path("sales>stats.avg")    -> [sales], [stats . avg]
    parse_path("histo['2024']>_count")  a bucket picked by its key (quotes included)

A path resolves through the reduced values as Elasticsearch's getProperty walks its
result objects: `_count`, `_key`, sub-aggregations by name, `value` or a metric name at a
metric, `_bucket_count` or a quoted bucket key at a multi-bucket aggregation. Where the
walk meets something that is not a number, the error names the Java class Elasticsearch
would have found there (JavaObject), since that is what its message prints.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ....common.errors import IllegalArgument
from . import buckets
from .errors import AggregationExecutionError, InvalidPath

GAP_POLICIES = ("insert_zeros", "skip", "keep_values")
SKIPPABLE = ("skip", "keep_values")


class PathElement(NamedTuple):
    full: str
    name: str
    key: str | None
    metric: str | None


class PathNotFound(Exception):
    """InvalidAggregationPathException: nothing at the path in this bucket. Resolving a
    bucket's value answers None for it (the bucket is passed over), as ES catches it."""


def parse_path(path: str) -> list[PathElement]:
    """AggregationPath.parse: `>` separates elements (trimmed, empty ones dropped); the
    last may end in `.metric` or `[key]`, any other in `[key]`."""
    elements = [e.strip() for e in path.split(">")]
    elements = [e for e in elements if e]
    if not elements:
        raise IllegalArgument("Invalid path []")
    out: list[PathElement] = []
    last = len(elements) - 1
    for i, element in enumerate(elements):
        key_index = element.rfind("[")
        if i == last:
            metric_index = element.rfind(".")
            if key_index >= 0:
                end = element.rfind("]")
                if key_index == 0 or key_index > len(element) - 3 or end < key_index or \
                        (metric_index < 0 and end != len(element) - 1):
                    raise _invalid(element, path)
                metric = None if metric_index < end else element[metric_index + 1:]
                out.append(PathElement(element, element[:key_index], element[key_index + 1:end], metric))
            elif metric_index < 0:
                out.append(PathElement(element, element, None, None))
            elif metric_index == 0 or metric_index > len(element) - 2:
                raise _invalid(element, path)
            else:
                out.append(PathElement(element, element[:metric_index], None, element[metric_index + 1:]))
        elif key_index >= 0:
            if key_index == 0 or key_index > len(element) - 3 or element[-1] != "]":
                raise _invalid(element, path)
            out.append(PathElement(element, element[:key_index], element[key_index + 1:-1], None))
        else:
            out.append(PathElement(element, element, None, None))
    return out


def _invalid(element: str, path: str) -> IllegalArgument:
    return IllegalArgument(f"Invalid path element [{element}] in path [{path}]")


def path_strings(elements: list[PathElement]) -> list[str]:
    """getPathElementsAsStringList: each element's name, then its key and metric if any."""
    out: list[str] = []
    for e in elements:
        out.append(e.name)
        if e.key is not None:
            out.append(e.key)
        if e.metric is not None:
            out.append(e.metric)
    return out


def has_bucket_key(element: PathElement) -> bool:
    """pathElementContainsBucketKey: a key in single quotes names one bucket."""
    return element.key is not None and element.key.startswith("'") and element.key.endswith("'")


def java_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def apply_gap_policy(policy: str, doc_count: int, value: float) -> float:
    """GapPolicy.processValue: what an empty bucket or a value that is not finite becomes."""
    if policy == "insert_zeros":
        return 0.0 if not math.isfinite(value) or doc_count == 0 else value
    if policy == "skip":
        return math.nan if math.isinf(value) or doc_count == 0 else value
    return math.nan if not math.isfinite(value) else value


# -- resolving a path inside a bucket -------------------------------------------------------


def resolve_bucket_value(agg, reduced: dict[str, Any], row: Any, path: list[str], gap_policy: str
                         ) -> float | None:
    """BucketHelpers.resolveBucketValue: the number at `path` (string elements) in one bucket
    of the multi-bucket `agg`, the gap policy applied (never to `_count`); None when the
    path leads nowhere in this bucket."""
    count = buckets.count_of(agg, row)
    try:
        value = bucket_property(agg.subs, buckets.subs_of(agg, row), count,
                                lambda: buckets.key_value(agg, row), agg.name, path,
                                buckets.bucket_class(agg))
    except PathNotFound:
        return None
    if value is None:
        raise AggregationExecutionError("buckets_path must reference either a number value or a single value "
                                        "numeric metric aggregation")
    if isinstance(value, buckets.JavaObject):
        raise _resolution_error(agg.name, path, value)
    value = float(value)
    if len(path) == 1 and path[0] == "_count":
        return value
    return apply_gap_policy(gap_policy, count, value)


def _resolution_error(agg_name: str, path: list[str], found: buckets.JavaObject) -> InvalidPath:
    """formatResolutionError: it names the first element of the path, not the last."""
    name = path[0] if path else agg_name
    prefix = "buckets_path must reference either a number value or a single value numeric metric aggregation"
    if path and found.multi_value:
        return InvalidPath(f"{prefix}, but [{name}] contains multiple values. Please specify which to use.")
    return InvalidPath(f"{prefix}, got: [{found.name}] at aggregation [{name}]")


def bucket_property(level, subs: dict[str, Any], count: int, key, containing: str, path: list[str],
                    bucket_class: str) -> Any:
    """InternalBucket.getProperty: `key` is called only when the path asks for `_key`."""
    if not path:
        return buckets.JavaObject(bucket_class)
    head = path[0]
    if head == "_count":
        if len(path) > 1:
            raise PathNotFound("_count must be the last element in the path")
        return count
    if head == "_key":
        if len(path) > 1:
            raise PathNotFound("_key must be the last element in the path")
        return key()
    return named_property(level, subs, head, containing, path[1:])


def named_property(level, subs: dict[str, Any], name: str, containing: str, rest: list[str]) -> Any:
    """The property of the aggregation (or pipeline result) called `name` among a bucket's."""
    if name in subs:
        agg = level.get(name) if level is not None else None
        if agg is not None:
            return agg_property(agg, subs[name], rest)
        pipeline = level.pipeline(name) if level is not None else None
        if pipeline is not None:
            return pipeline.property(subs[name], rest)
    raise PathNotFound(f"Cannot find an aggregation named [{name}] in [{containing}]")


def agg_property(agg, reduced: Any, path: list[str]) -> Any:
    """InternalAggregation.getProperty for each kind of aggregation."""
    kind = buckets.cardinality(agg)
    if kind == buckets.MANY:
        if not path:
            return buckets.JavaObject(buckets.agg_class(agg, reduced))
        head = path[0]
        rows = buckets.rows(reduced)
        if head == "_bucket_count":
            return len(rows)
        if head.startswith("'") and head.endswith("'"):
            return _row_property(agg, reduced, keyed_bucket(agg, reduced, head), path[1:])
        for row in rows:  # each bucket answers (its errors surface) before the array is refused
            _row_property(agg, reduced, row, path)
        return buckets.JavaObject("Object[]")
    if kind == buckets.ONE:
        if not path:
            return buckets.JavaObject(buckets.agg_class(agg, reduced))
        if path[0] == "_count":
            if len(path) > 1:
                raise PathNotFound("_count must be the last element in the path")
            return reduced["doc_count"]
        return named_property(agg.subs, reduced["subs"], path[0], agg.name, path[1:])
    if agg.type_name in buckets.SINGLE_VALUE:
        if not path or path == ["value"]:
            return agg.sort_value(reduced, [])
        raise IllegalArgument(f"path not supported for [{agg.name}]: {java_list(path)}")
    if agg.type_name in buckets.MULTI_VALUE:
        if not path:
            return buckets.JavaObject(buckets.agg_class(agg, reduced), multi_value=True)
        if len(path) == 1 and hasattr(agg, "path_value"):  # percentiles: any key, as a double
            return agg.path_value(reduced, path[0])
        if len(path) == 1:
            try:
                return agg.sort_value(reduced, path)
            except IllegalArgument:
                raise IllegalArgument(f"No enum constant {buckets.STATS_METRICS}.{path[0]}") from None
        raise IllegalArgument(f"path not supported for [{agg.name}]: {java_list(path)}")
    if not path:
        return buckets.JavaObject(buckets.agg_class(agg, reduced))
    raise IllegalArgument(f"path not supported for [{agg.name}]: {java_list(path)}")


def keyed_bucket(agg, reduced: dict[str, Any], quoted: str) -> Any:
    """InternalMultiBucketAggregation.getProperty of a quoted key: the first bucket whose
    key prints as the text between the quotes."""
    wanted = quoted[1:-1]
    for row in buckets.rows(reduced):
        if buckets.key_string(agg, reduced, row) == wanted:
            return row
    raise PathNotFound(f"Cannot find an key [{quoted}] in [{agg.name}]")


def _row_property(agg, reduced: dict[str, Any], row: Any, path: list[str]) -> Any:
    return bucket_property(agg.subs, buckets.subs_of(agg, row), buckets.count_of(agg, row),
                           lambda: buckets.key_value(agg, row), agg.name, path,
                           buckets.bucket_class(agg))
