"""Histograms: `histogram` here, and the machinery `date_histogram` shares with it.

A value's bucket is an integer index (floor((value - offset) / interval) for numbers,
integer division or a search among calendar boundaries for dates); counting indices
is a bincount over their span, so a million values cost one pass. Shards send
non-empty buckets in key order; the reduce merges them and, with min_doc_count 0 (the
default), fills the empty buckets between the first and last key, stretched to
`extended_bounds`, as InternalHistogram.addEmptyBuckets does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument
from ...index.mapping.numbers import java_double
from ..matches import Matches
from .base import (
    Aggregator,
    BucketDocs,
    Params,
    check_bucket_count,
    collect_subs,
    reduce_subs,
    render_subs,
    unique_counts,
    unique_pairs,
)
from .formats import format_value
from .order import KEY, BucketOrder
from .values import NUMERIC, matched, resolve, value_format, with_missing

_SMALL_SPAN = 1 << 22  # bucket indices spanning less than this are counted with bincount


def count_buckets(seqs: np.ndarray,
                  index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct indices in order, their document counts, and the deduplicated (seq,
    index) pairs): a document counts once per bucket however many values it has there."""
    seqs, index = unique_pairs(seqs, index)
    if not len(index):
        return index, np.empty(0, dtype=np.int64), seqs, index
    low, high = int(index.min()), int(index.max())
    if high - low < _SMALL_SPAN:
        counts = np.bincount(index - low)
        present = np.flatnonzero(counts)
        return present + low, counts[present], seqs, index
    distinct, counts = unique_counts(index)
    return distinct, counts, seqs, index


class HistogramBase(Aggregator):
    """Collect, reduce (with empty buckets) and render, for a subclass that knows how a
    value maps to a bucket index and an index to its key."""

    kinds = NUMERIC
    _COMMON = ("field", "min_doc_count", "extended_bounds", "hard_bounds", "keyed", "order", "missing",
               "format",
               "script", "value_type")

    def _read_common(self, p: Params) -> None:
        self.field = p.field()
        self.min_doc_count = p.integer("min_doc_count", 0)
        if self.min_doc_count < 0:
            raise IllegalArgument(f"[min_doc_count] must be greater than or equal to 0. Found "
                                  f"[{self.min_doc_count}] in [{self.name}]")
        self.keyed = p.boolean("keyed", False)
        self.order = BucketOrder.parse(p.get("order"), [(KEY, True)])
        self.order.validate(self.name, self.subs)
        self.missing = p.get("missing")
        self.format = p.string("format")

    # -- subclass hooks -----------------------------------------------------------------------

    def _source(self, ctx):
        return with_missing(resolve(ctx, self.field, self.type_name, self.kinds), self.missing)

    def _index(self, ctx, values: np.ndarray) -> tuple[np.ndarray, Any]:
        """(bucket index per value, function from distinct indices to keys)."""
        raise NotImplementedError

    def _fmt(self, vs) -> Any:
        return value_format(vs, self.format)

    def _fill(self, keys: list, bounds: Any) -> Iterator:
        """Every key from the first to the last of `keys` (sorted), stretched to the
        extended bounds and cut at the hard bounds."""
        raise NotImplementedError

    def _keep(self, key: Any) -> bool:
        return True

    def _render_key(self, key: Any) -> Any:
        return key

    # -- the contract ---------------------------------------------------------------------------

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = self._source(ctx)
        if not vs.mapped:  # no buckets, but extended bounds still give empty ones
            return {"fmt": self._fmt(vs), "buckets": [], "bounds": self._shard_bounds(ctx, vs)}
        seqs, values = matched(vs, ctx, matches.seqs, self.missing)
        if vs.kind == "boolean":
            values = values.astype(np.int64)
        index, key_of = self._index(ctx, values)
        distinct, counts, seqs, index = count_buckets(seqs, index)
        keys = key_of(distinct) if len(distinct) else []
        docs = BucketDocs(matches, seqs, index, wanted=len(distinct)) if self.subs else None
        buckets = []
        for key, i, count in zip(keys, distinct.tolist(), counts.tolist(), strict=True):
            if not self._keep(key):
                continue
            buckets.append([key, count, collect_subs(self, ctx, docs.docs(i)) if docs else {}])
        return {"fmt": self._fmt(vs), "buckets": buckets, "bounds": self._shard_bounds(ctx, vs)}

    def _shard_bounds(self, ctx, vs) -> Any:
        return None

    def empty(self) -> dict[str, Any]:
        return {"fmt": None, "buckets": [], "bounds": None}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        # a shard that maps the field knows its format better than one that does not
        fmt = next((p["fmt"] for p in partials if p["fmt"] is not None and p["buckets"]),
                   next((p["fmt"] for p in partials if p["fmt"] is not None), None))
        bounds = self._reduce_bounds(partials)
        merged: dict[Any, list] = {}
        for p in partials:
            for key, count, subs in p["buckets"]:
                entry = merged.get(key)
                if entry is None:
                    merged[key] = [key, count, [subs]]
                else:
                    entry[1] += count
                    entry[2].append(subs)
        buckets = [[key, count, reduce_subs(self, subs)] for key, count, subs in
                   (merged[k] for k in sorted(merged))]
        if self.min_doc_count == 0:
            buckets = self._with_empty(buckets, bounds)
        else:
            buckets = [b for b in buckets if b[1] >= self.min_doc_count]
        check_bucket_count(len(buckets))
        if self.order.criteria != [(KEY, True)]:
            buckets = self.order.sort(buckets, key_of=lambda b: b[0], count_of=lambda b: b[1],
                                      subs_of=lambda b: b[2], subs=self.subs)
        return {"fmt": fmt, "buckets": buckets, "bounds": bounds}

    def _reduce_bounds(self, partials: list[dict[str, Any]]) -> Any:
        """Bounds the shards resolved (date math needs the request's clock), if any."""
        return None

    def _with_empty(self, buckets: list, bounds: Any) -> list:
        present = {b[0]: b for b in buckets}
        keys = list(self._fill([b[0] for b in buckets], bounds))
        check_bucket_count(len(keys))
        if not keys:
            return buckets
        empty = reduce_subs(self, [self.subs.empty()]) if self.subs else {}
        return [present.get(k) or [k, 0, empty] for k in keys]

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        fmt = reduced["fmt"]
        rendered = []
        for key, count, subs in reduced["buckets"]:
            bucket: dict[str, Any] = {}
            if fmt is not None:
                bucket["key_as_string"] = format_value(fmt, key)
            bucket["key"] = self._render_key(key)
            bucket["doc_count"] = count
            rendered.append((key, render_subs(self, subs, bucket, typed_keys)))
        if self.keyed:
            return {"buckets": {self._keyed_name(key, fmt): b for key, b in rendered}}
        return {"buckets": [b for _, b in rendered]}

    def _keyed_name(self, key: Any, fmt: Any) -> str:
        return format_value(fmt, key) if fmt is not None else java_double(float(key))


class Histogram(HistogramBase):
    """Fixed-width numeric buckets: key = floor((value - offset) / interval) * interval +
    offset, printed as doubles."""

    type_name = "histogram"

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, (*self._COMMON, "interval", "offset"))
        self._read_common(p)
        self.interval = p.number("interval")
        if self.interval is None or not self.interval > 0:
            raise IllegalArgument(f"[interval] must be >0 for histogram aggregation [{name}]")
        self.offset = p.number("offset", 0.0)
        for what, value in (("interval", self.interval), ("offset", self.offset)):
            if not math.isfinite(value):
                raise IllegalArgument(f"[{what}] must be a finite number, got [{value}]")
        self.extended = self._bounds(p, "extended_bounds")
        self.hard = self._bounds(p, "hard_bounds")
        if self.extended and self.extended[0] is not None and self.extended[1] is not None \
                and self.extended[0] > self.extended[1]:
            raise IllegalArgument(f"[extended_bounds.min][{self.extended[0]}] cannot be greater than "
                                  f"[extended_bounds.max][{self.extended[1]}] for histogram aggregation "
                                  f"[{name}]")

    def _bounds(self, p: Params, what: str) -> tuple[float | None, float | None] | None:
        raw = p.get(what)
        if raw is None:
            return None
        if not isinstance(raw, dict) or set(raw) - {"min", "max"}:
            raise p.fail(what)
        inner = Params(what, raw, ("min", "max"))
        low, high = inner.number("min"), inner.number("max")
        for bound, value in (("min", low), ("max", high)):
            if value is not None and not math.isfinite(value):  # no bucket starts at infinity
                raise IllegalArgument(f"[{what}.{bound}] must be a finite number, got [{value}]")
        return low, high

    def _shard_bounds(self, ctx, vs) -> Any:
        """Refuses extended bounds reaching past the hard bounds, where ES refuses them: on
        the shard, as HistogramAggregationBuilder.innerBuild builds the aggregator (so a
        search that reaches no shard answers without the error)."""
        if extends_past(self.extended, self.hard):
            # an absent end: empty in DoubleBounds.toString, Java's null where the message
            # joins the extended bounds' ends itself
            hard, extended = _bounds_text(self.hard, ""), _bounds_text(self.extended, "null")
            raise IllegalArgument(f"Extended bounds have to be inside hard bounds, hard bounds: [{hard}], "
                                  f"extended bounds: [{extended}]")
        return None

    def _index(self, ctx, values: np.ndarray):
        interval, offset = self.interval, self.offset
        index = np.floor((values.astype(np.float64) - offset) / interval).astype(np.int64)
        return index, lambda distinct: [float(i * interval + offset) for i in distinct.tolist()]

    def _round(self, value: float) -> float:
        return math.floor((value - self.offset) / self.interval) * self.interval + self.offset

    def _keep(self, key: float) -> bool:
        if self.hard is None:
            return True
        low, high = self.hard
        return (low is None or key >= low) and (high is None or key <= high)

    def _fill(self, keys: list, bounds: Any) -> Iterator[float]:
        first = keys[0] if keys else None
        last = keys[-1] if keys else None
        if self.extended:
            low, high = self.extended
            if low is not None:
                low = self._round(low)
                first = low if first is None else min(first, low)
            if high is not None:
                high = self._round(high)
                last = high if last is None else max(last, high)
        if first is None or last is None:
            return
        if self.hard is not None:
            first = max(first, self._round(self.hard[0])) if self.hard[0] is not None else first
            last = min(last, self._round(self.hard[1])) if self.hard[1] is not None else last
        start = round((first - self.offset) / self.interval)
        stop = round((last - self.offset) / self.interval)
        check_bucket_count(stop - start + 1)
        for i in range(start, stop + 1):
            yield float(i * self.interval + self.offset)

    def _render_key(self, key: Any) -> float:
        return float(key)


_Bounds = tuple[float | None, float | None] | None


def extends_past(extended: _Bounds, hard: _Bounds) -> bool:
    """Extended bounds reaching past hard bounds, which ES refuses (an absent end reaches
    nowhere): a histogram compares the request's, a date histogram the rounded ones."""
    if extended is None or hard is None:
        return False
    (low, high), (hard_low, hard_high) = extended, hard
    return (high is not None and hard_high is not None and high > hard_high) or \
        (low is not None and hard_low is not None and low < hard_low)


def _bounds_text(bounds: _Bounds, absent: str) -> str:
    """Bounds as `min--max` in Java doubles, `absent` for an end not given."""
    low, high = bounds or (None, None)
    return f"{absent if low is None else java_double(low)}--{absent if high is None else java_double(high)}"
