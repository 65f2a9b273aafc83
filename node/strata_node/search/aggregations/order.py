"""Bucket order (`order` of terms and histograms), as InternalOrder parses and applies it.

`{"_count": "desc"}`, `{"_key": "asc"}`, `{"my_avg": "desc"}`, `{"my_stats.max": "asc"}`,
`{"my_filter>my_avg": "desc"}`, or a list of those. Elasticsearch appends `_key asc`
as the tie-breaker of an order that does not end with a key order, so equal counts come
out in key order on every shard and after every reduce.
"""

from __future__ import annotations

import math
from functools import cmp_to_key
from typing import Any

from ...common.errors import IllegalArgument, ParsingError

COUNT, KEY = "_count", "_key"


class BucketOrder:
    """A list of (what, ascending) criteria: `_count`, `_key` or a sub-aggregation path."""

    def __init__(self, criteria: list[tuple[str, bool]]):
        self.criteria = criteria

    @classmethod
    def parse(cls, raw: Any, default: list[tuple[str, bool]], *, tie_break: bool = True) -> BucketOrder:
        if raw is None:
            return cls(list(default))
        items = raw if isinstance(raw, list) else [raw]
        criteria: list[tuple[str, bool]] = []
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                raise ParsingError("Order must be an object with a single field, or an array of them")
            (what, direction), = item.items()
            if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
                raise ParsingError(f"Unknown order direction [{direction}]")
            if what == "_term":
                raise IllegalArgument("Invalid bucket order [_term], use [_key] instead")
            criteria.append((what, direction.lower() == "asc"))
        if tie_break and criteria[-1][0] != KEY:
            criteria.append((KEY, True))
        return cls(criteria)

    @property
    def is_key_order(self) -> bool:
        return self.criteria[0][0] == KEY

    @property
    def is_count_desc(self) -> bool:
        return self.criteria[0] == (COUNT, False)

    @property
    def by_count_or_key(self) -> bool:
        return all(what in (COUNT, KEY) for what, _ in self.criteria)

    def paths(self) -> list[list[str]]:
        """Sub-aggregation paths the order names, each split into [agg, ..., metric]."""
        return [split_path(what) for what, _ in self.criteria if what not in (COUNT, KEY)]

    def validate(self, agg_name: str, subs) -> None:
        """Every path must name a sub-aggregation that can be sorted on."""
        for what, _ in self.criteria:
            if what in (COUNT, KEY):
                continue
            path = split_path(what)
            head = subs.get(path[0]) if subs else None
            if head is None:
                raise IllegalArgument(
                    f"Invalid aggregator order path [{what}]. The provided aggregation [{path[0]}] either "
                    "does not exist, or is a pipeline aggregation and cannot be used to sort the buckets.")
            head.check_order_path(path[1:])

    def sort(self, buckets: list, key_of, count_of, subs_of, subs) -> list:
        """Buckets in this order; subs_of(bucket) gives its reduced sub-aggregations."""

        def value(bucket, what: str):
            if what == COUNT:
                return count_of(bucket)
            if what == KEY:
                return key_of(bucket)
            path = split_path(what)
            return subs.get(path[0]).sort_value(subs_of(bucket)[path[0]], path[1:])

        def compare(a, b) -> int:
            for what, ascending in self.criteria:
                c = java_compare(value(a, what), value(b, what))
                if c:
                    return c if ascending else -c
            return 0

        return sorted(buckets, key=cmp_to_key(compare))


def split_path(what: str) -> list[str]:
    """`a>b.max` -> [a, b, max]; a metric name after the first `.` of the last element, or
    a multi-value metric's key in its brackets (`a>pct[99.9]` -> [a, pct, 99.9]).

    Strata splits the last element at its first `.`, so `pct.99.9` reads key `99.9`; ES's
    AggregationPath.parse splits at the last `.` (name `pct.99`, key `9`). Kept as it is."""
    parts = what.split(">")
    last = parts[-1]
    if last.endswith("]") and "[" in last:  # `pct[99.9]`: a multi-value metric's key
        agg, _, key = last[:-1].rpartition("[")
        return [*parts[:-1], agg, key]
    if "." in last:
        agg, metric = last.split(".", 1)
        return [*parts[:-1], agg, metric]
    return parts


def java_compare(a: Any, b: Any) -> int:
    """Double.compare for numbers (NaN after everything), natural order otherwise."""
    if isinstance(a, float) or isinstance(b, float):
        a_nan = isinstance(a, float) and math.isnan(a)
        b_nan = isinstance(b, float) and math.isnan(b)
        if a_nan or b_nan:
            return (a_nan and not b_nan) - (b_nan and not a_nan)
    return (a > b) - (a < b)
