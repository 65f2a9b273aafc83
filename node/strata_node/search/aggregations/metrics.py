"""Single- and multi-value metrics over a numeric field: min, max, sum, avg, stats,
value_count and cardinality.

min, max, sum, avg and stats share one partial, {count, sum, min, max, fmt} (avg is a
sum and a count until the end, as InternalAvg keeps it). Sums are Elasticsearch's Kahan
sums, to the last digit: a shard adds its values in document order, the reduce adds the
shards' sums in shard order, and each shard's leftover compensation is dropped, as
InternalSum, InternalAvg and InternalStats drop it.
Values print as Elasticsearch prints doubles (200.0, never 200); `value_as_string`
appears when the field has a format (dates, booleans, or the aggregation's `format`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..matches import Matches
from .base import Aggregator, Params, sorted_unique
from .formats import format_value
from .values import NUMERIC, matched, ordinals, resolve, value_format, with_missing

_VALUES_SOURCE_PARAMS = ("field", "missing", "format", "script", "value_type")
_EXACT_LIMIT = float(1 << 53)  # integers below this add exactly, in any order
_FAST_PATH_MIN = 64  # fewer values: the plain loop costs less than the numpy checks


def compensated_sum(values: list[float]) -> float:
    """CompensatedSum.add over `values` from zero, in order: Elasticsearch's Kahan sum,
    whose digits differ from both a pairwise and an exact sum (100 x 0.1 is 10.0; 1e16,
    1, -1e16 is 0.0). The first pass skips the finiteness checks; a result that is not
    finite is redone with them, because ES stops adding once its sum is infinite or NaN
    where the bare recurrence would turn an infinity into NaN."""
    total = delta = 0.0
    for value in values:
        corrected = value + delta
        updated = total + corrected
        delta = corrected - (updated - total)
        total = updated
    return total if math.isfinite(total) else _compensated_sum_checked(values)


def _compensated_sum_checked(values: list[float]) -> float:
    """CompensatedSum.add exactly: an infinite or NaN value is added plainly, and once the
    sum is not finite nothing changes it but another such value."""
    total = delta = 0.0
    for value in values:
        if not math.isfinite(value):
            total += value
        elif math.isfinite(total):
            corrected = value + delta
            updated = total + corrected
            delta = corrected - (updated - total)
            total = updated
    return total


def _shard_sum(values: np.ndarray, floats: np.ndarray) -> float:
    """A shard's Kahan sum of its values (in document order; `floats` is them as doubles,
    which ES sums for long fields too). Whole numbers whose magnitudes add up to less
    than 2^53 add exactly whatever the method, so those (most long and date fields) take
    numpy's sum and skip the loop."""
    if len(floats) >= _FAST_PATH_MIN and _adds_exactly(values, floats):
        return float(floats.sum()) + 0.0  # + 0.0: a Kahan sum from 0.0 is never -0.0
    return compensated_sum(floats.tolist())


def _adds_exactly(values: np.ndarray, floats: np.ndarray) -> bool:
    """Whether every partial sum, in any order, is a whole number below 2^53 (so no
    addition rounds). NaN and infinities fail both tests."""
    whole = values.dtype.kind in "iub" or np.array_equal(floats, np.trunc(floats))
    return whole and float(np.abs(floats).sum()) < _EXACT_LIMIT


def _stats_partial(values: np.ndarray, fmt: Any) -> dict[str, Any]:
    if not len(values):
        return {"count": 0, "sum": 0.0, "min": None, "max": None, "fmt": fmt}
    floats = values.astype(np.float64, copy=False)
    return {"count": len(values), "sum": _shard_sum(values, floats), "min": float(floats.min()),
            "max": float(floats.max()), "fmt": fmt}


def _reduce_stats(partials: list[dict[str, Any]]) -> dict[str, Any]:
    mins = [p["min"] for p in partials if p["min"] is not None]
    maxes = [p["max"] for p in partials if p["max"] is not None]
    return {"count": sum(p["count"] for p in partials),
            "sum": compensated_sum([p["sum"] for p in partials]),
            "min": min(mins) if mins else None, "max": max(maxes) if maxes else None,
            "fmt": next((p["fmt"] for p in partials if p["fmt"] is not None), None)}


def _in_document_order(seqs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`matched` appends the `missing` fills after the documents' own values; the Kahan
    sum depends on the order, and ES adds each document's value (own or missing) as it
    meets the document."""
    if not np.any(seqs[1:] < seqs[:-1]):
        return values
    return values[np.argsort(seqs, kind="stable")]  # stable: a document's values keep their order


def _with_string(out: dict[str, Any], key: str, value: Any, fmt: Any) -> dict[str, Any]:
    out[key] = value
    if fmt is not None and value is not None:
        out[f"{key}_as_string"] = format_value(fmt, value)
    return out


class FieldMetric(Aggregator):
    """A metric over one field's values, with `missing` filling documents that have none:
    what every metric here reads from its body and how it finds the values. Subclasses
    add their own parameters (`extra_params`, read in `configure`)."""

    accepts_subs = False
    extra_params: tuple[str, ...] = ()
    kinds: tuple[str, ...] | None = None  # the field types it takes; None for any

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, (*_VALUES_SOURCE_PARAMS, *self.extra_params))
        self.field = p.field()
        self.missing = p.get("missing")
        self.configure(p)

    def configure(self, p: Params) -> None:
        """Reads the parameters a subclass adds."""

    def values_source(self, ctx):
        return with_missing(resolve(ctx, self.field, self.type_name, self.kinds), self.missing)


class NumericMetric(FieldMetric):
    """The shared collection of min, max, sum, avg and stats: the matched documents'
    values folded into count, sum, min and max."""

    kinds = NUMERIC

    def configure(self, p: Params) -> None:
        self.format = p.string("format")

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = self.values_source(ctx)
        seqs, values = matched(vs, ctx, matches.seqs, self.missing)
        if self.missing is not None and len(seqs) > 1:
            values = _in_document_order(seqs, values)
        return _stats_partial(values, value_format(vs, self.format) if vs.mapped else None)

    def empty(self) -> dict[str, Any]:
        return _stats_partial(np.empty(0), None)

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return _reduce_stats(partials)

    def value(self, reduced: dict[str, Any]) -> float | None:
        raise NotImplementedError

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return _with_string({}, "value", self.value(reduced), reduced["fmt"])

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if path and path != ["value"]:
            return super().sort_value(reduced, path)
        value = self.value(reduced)
        return self._no_value if value is None else value

    _no_value = math.nan


class Min(NumericMetric):
    type_name = "min"
    _no_value = math.inf

    def value(self, reduced):
        return reduced["min"]


class Max(NumericMetric):
    type_name = "max"
    _no_value = -math.inf

    def value(self, reduced):
        return reduced["max"]


class Sum(NumericMetric):
    type_name = "sum"

    def value(self, reduced):
        return float(reduced["sum"])


class Avg(NumericMetric):
    type_name = "avg"

    def value(self, reduced):
        return reduced["sum"] / reduced["count"] if reduced["count"] else None


class Stats(NumericMetric):
    """count, min, max, avg and sum at once (InternalStats): null min/max/avg and a sum of
    0.0 when no document had a value."""

    type_name = "stats"

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        count = reduced["count"]
        if not count:
            return {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
        values = {"min": reduced["min"], "max": reduced["max"], "avg": reduced["sum"] / count,
                  "sum": float(reduced["sum"])}
        out: dict[str, Any] = {"count": count, **values}
        fmt = reduced["fmt"]
        if fmt is not None:
            for key, value in values.items():
                out[f"{key}_as_string"] = format_value(fmt, value)
        return out

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if len(path) != 1 or path[0] not in ("count", "min", "max", "avg", "sum"):
            from ...common.errors import IllegalArgument

            raise IllegalArgument(f"Found unknown metric name [{'.'.join(path)}] in multi-value metric "
                                  f"aggregation [{self.name}]" if path else
                                  f"Missing value key in [{self.name}] which refers to a multi-value metric "
                                  f"aggregation")
        key = path[0]
        count = reduced["count"]
        if key == "count":
            return float(count)
        if key == "sum":
            return float(reduced["sum"])
        if not count:
            return {"min": math.inf, "max": -math.inf, "avg": math.nan}[key]
        return reduced["sum"] / count if key == "avg" else reduced[key]


class ValueCount(FieldMetric):
    """How many values the matched documents have (every value of a multi-valued
    document counts), for fields of any type with doc values."""

    type_name = "value_count"

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        _, values = matched(self.values_source(ctx), ctx, matches.seqs, self.missing)
        return {"count": len(values)}

    def empty(self) -> dict[str, Any]:
        return {"count": 0}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"count": sum(p["count"] for p in partials)}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return {"value": reduced["count"]}

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if path and path != ["value"]:
            return super().sort_value(reduced, path)
        return float(reduced["count"])


class Cardinality(FieldMetric):
    """The number of distinct values among the matched documents.

    This count is exact: each shard sends its distinct values and the reduce takes their
    union. Elasticsearch estimates with HyperLogLog++ and is exact only below
    `precision_threshold` (default 3000), so the two agree wherever Elasticsearch itself
    is exact; above that Strata is right where Elasticsearch is approximately right, at the
    cost of shipping every distinct value (fine for the cardinalities Strata's shards see).
    `precision_threshold` and `execution_hint` are accepted and have nothing to tune."""

    type_name = "cardinality"
    extra_params = ("precision_threshold", "rehash", "execution_hint")

    def configure(self, p: Params) -> None:
        threshold = p.integer("precision_threshold")
        if threshold is not None and threshold < 0:
            from ...common.errors import IllegalArgument

            raise IllegalArgument("[precisionThreshold] must be greater than or equal to 0. Found "
                                  f"[{threshold}] in [{self.name}]")

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = self.values_source(ctx)
        if self.missing is None and vs.kind in ("keyword", "ip") and vs.mapped:
            rows = vs.rows(ctx, matches.seqs)
            terms, ords = ordinals(vs.column.values)
            chosen = ords if rows is None else ords[rows]
            present = np.bincount(chosen, minlength=len(terms)) if len(chosen) else np.zeros(len(terms), int)
            return {"values": terms[present > 0].tolist()}
        _, values = matched(vs, ctx, matches.seqs, self.missing)
        if not len(values):
            return {"values": []}
        if values.dtype == object:
            return {"values": sorted(set(values.tolist()))}
        return {"values": sorted_unique(values).tolist()}

    def empty(self) -> dict[str, Any]:
        return {"values": []}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        if len(partials) == 1:
            return partials[0]
        union: set = set()
        for p in partials:
            union.update(p["values"])
        return {"values": sorted(union, key=lambda v: (str(type(v)), v))}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return {"value": len(reduced["values"])}

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if path and path != ["value"]:
            return super().sort_value(reduced, path)
        return float(len(reduced["values"]))
