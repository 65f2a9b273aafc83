"""Single- and multi-value metrics over a numeric field: min, max, sum, avg, stats,
extended_stats, weighted_avg, value_count and cardinality.

min, max, sum, avg, stats and extended_stats share one partial, {count, sum, min, max,
fmt} (avg is a sum and a count until the end, as InternalAvg keeps it; extended_stats adds
its sum of squares; min and max never add, and leave the sum at 0.0). Sums are
Elasticsearch's Kahan sums, to the last digit: a shard adds its values in document order (a
document's own values ascending, as SortedNumericDocValues hands them out), the reduce adds
the shards' sums in shard order, and each shard's leftover compensation is dropped, as
InternalSum, InternalAvg, InternalStats, InternalExtendedStats and InternalWeightedAvg drop
it. Only that loop needs the order, so only it sorts (DocumentOrder).
Values print as Elasticsearch prints doubles (200.0, never 200; NaN and the infinities as
the strings Jackson writes for them, save an infinite min or max, which is no value);
`value_as_string` appears when the field has a format (dates, booleans, or the
aggregation's `format`). The pipelines print their stats and extremes with the same code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError, XContentParseError
from ...common.units import LONG_MAX, LONG_MIN
from ...common.xcontent import token_name
from ...engine.segment_reader import EMPTY_COLUMN
from ...index.mapping.dates import DEFAULT_FORMAT
from ...index.mapping.numbers import java_double
from ..matches import Matches
from .base import Aggregator, Params, sorted_unique
from .formats import BOOL_FORMAT, date_format, decimal_format, format_value
from .values import (
    NUMERIC,
    VALUE_TYPES,
    ValuesSource,
    ValueType,
    is_multi_valued,
    matched,
    ordinals,
    resolve,
    value_format,
    with_missing,
)

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


def _shard_sum(values: np.ndarray, floats: np.ndarray, order: DocumentOrder | None = None) -> float:
    """A shard's Kahan sum of its values (`floats` is them as doubles, which ES sums for
    long fields too). Whole numbers whose magnitudes add up to less than 2^53 add exactly
    whatever the method, so those (most long and date fields) take numpy's sum in any
    order and skip the loop; only the loop needs `order`, so only it pays for the sort."""
    if len(floats) >= _FAST_PATH_MIN and _adds_exactly(values, floats):
        return float(floats.sum()) + 0.0  # + 0.0: a Kahan sum from 0.0 is never -0.0
    return compensated_sum((floats if order is None else order(floats)).tolist())


def _adds_exactly(values: np.ndarray, floats: np.ndarray) -> bool:
    """Whether every partial sum, in any order, is a whole number below 2^53 (so no
    addition rounds). NaN and infinities fail both tests."""
    whole = values.dtype.kind in "iub" or np.array_equal(floats, np.trunc(floats))
    return whole and float(np.abs(floats).sum()) < _EXACT_LIMIT


class DocumentOrder:
    """The order ES adds a shard's values in, on which a Kahan sum's last digits depend:
    document by document, a document's own values ascending (SortedNumericDocValues; a
    column keeps them as the source listed them), a `missing` fill where its document is
    (`matched` appends the fills after every document's own values). Sorting a million
    values costs more than the exact sums that need no order, so the permutation is found
    on first use, by the Kahan loop alone."""

    _UNSORTED: Any = object()

    def __init__(self, seqs: np.ndarray, values: np.ndarray, column_seqs: np.ndarray, missing: Any):
        self._seqs, self._values, self._column_seqs, self._missing = seqs, values, column_seqs, missing
        self._order = self._UNSORTED

    def __call__(self, aligned: np.ndarray) -> np.ndarray:
        """`aligned` (one entry per value, as collected) in document order."""
        if self._order is self._UNSORTED:
            self._order = self._permutation()
        return aligned if self._order is None else aligned[self._order]

    def _permutation(self) -> np.ndarray | None:
        seqs = self._seqs
        multi = is_multi_valued(self._column_seqs)
        if len(seqs) < 2 or (self._missing is None and not multi):
            return None
        if multi:
            return np.lexsort((self._values, seqs))
        if np.any(seqs[1:] < seqs[:-1]):
            return np.argsort(seqs, kind="stable")
        return None


def _stats_partial(values: np.ndarray, fmt: Any, order: DocumentOrder | None) -> dict[str, Any]:
    """count, sum, min and max of a shard; `order` None leaves the sum out (0.0), for min
    and max, which never read it."""
    if not len(values):
        return {"count": 0, "sum": 0.0, "min": None, "max": None, "fmt": fmt}
    floats = values.astype(np.float64, copy=False)
    total = 0.0 if order is None else _shard_sum(values, floats, order)
    return {"count": len(values), "sum": total, "min": float(floats.min()), "max": float(floats.max()),
            "fmt": fmt}


def _reduce_stats(partials: list[dict[str, Any]], summed: bool = True) -> dict[str, Any]:
    """The shards' partials in one; without `summed` the sum stays 0.0 (min and max)."""
    mins = [p["min"] for p in partials if p["min"] is not None]
    maxes = [p["max"] for p in partials if p["max"] is not None]
    return {"count": sum(p["count"] for p in partials),
            "sum": compensated_sum([p["sum"] for p in partials]) if summed else 0.0,
            "min": min(mins) if mins else None, "max": max(maxes) if maxes else None,
            "fmt": next((p["fmt"] for p in partials if p["fmt"] is not None), None)}


def json_double(value: float | None) -> float | str | None:
    """A double as Jackson writes it: NaN and the infinities have no JSON number, so they
    go out as the strings "NaN", "Infinity" and "-Infinity"."""
    if value is None or math.isfinite(value):
        return value
    return java_double(value)


def as_string(fmt: Any, value: float) -> str:
    """DocValueFormat.format(double). A date format casts to long first, as Java casts (NaN
    to 0, past the ends of the range to the ends), so a variance of dates still prints."""
    if fmt[0] == "date":
        value = 0 if math.isnan(value) else LONG_MAX if value >= 2.0 ** 63 else \
            LONG_MIN if value <= -2.0 ** 63 else int(value)
    return format_value(fmt, value)


def java_divide(a: float, b: float) -> float:
    """Java's double division, where dividing by zero gives NaN or an infinity."""
    if b:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _with_string(out: dict[str, Any], key: str, value: Any, fmt: Any) -> dict[str, Any]:
    out[key] = json_double(value)
    if fmt is not None and value is not None:
        out[f"{key}_as_string"] = as_string(fmt, value)
    return out


def extreme_body(value: float | None, fmt: Any) -> dict[str, Any]:
    """InternalMin and InternalMax (InternalBucketMetricValue too): an infinite value is
    what no value leaves behind (the fold starts at +/-Infinity), so ES prints null and no
    string for it, even when a `missing` of "-Infinity" put it there; NaN still prints."""
    if value is None or math.isinf(value):
        return {"value": None}
    return _with_string({}, "value", value, fmt)


STATS_METRIC_NAMES = ("count", "min", "max", "avg", "sum")  # InternalStats.Metrics


def stats_body(reduced: dict[str, Any], fmt: Any) -> dict[str, Any]:
    """InternalStats.doXContentBody, stats_bucket's too: null min/max/avg and a sum of 0.0
    when nothing was counted; else the four as doubles, their `*_as_string` after them."""
    count = reduced["count"]
    if not count:
        return {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
    values = {"min": reduced["min"], "max": reduced["max"], "avg": reduced["sum"] / count,
              "sum": float(reduced["sum"])}
    out: dict[str, Any] = {"count": count, **{key: json_double(v) for key, v in values.items()}}
    if fmt is not None:
        for key, value in values.items():
            out[f"{key}_as_string"] = as_string(fmt, value)
    return out


def stats_metric(reduced: dict[str, Any], key: str) -> float:
    """InternalStats.value(name) for a name of STATS_METRIC_NAMES: an empty result has min
    +Infinity, max -Infinity and a NaN avg, which is where ordering by them puts it."""
    count = reduced["count"]
    if key == "count":
        return float(count)
    if key == "sum":
        return float(reduced["sum"])
    if key == "avg":
        return java_divide(reduced["sum"], count)
    if not count:
        return math.inf if key == "min" else -math.inf
    return reduced[key]


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
        order = DocumentOrder(seqs, values, vs.column.seqs, self.missing)
        return self.partial(values, order, value_format(vs, self.format) if vs.mapped else None)

    def partial(self, values: np.ndarray, order: DocumentOrder, fmt: Any) -> dict[str, Any]:
        """One shard's partial from its values as collected; `order` puts them in the order
        ES adds them."""
        return _stats_partial(values, fmt, order)

    def empty(self) -> dict[str, Any]:
        return _stats_partial(np.empty(0), None, None)

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


class _Extreme(NumericMetric):
    """min and max: no sum to add up, and an infinite value prints as no value."""

    def partial(self, values: np.ndarray, order: DocumentOrder, fmt: Any) -> dict[str, Any]:
        return _stats_partial(values, fmt, None)

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return _reduce_stats(partials, summed=False)

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return extreme_body(self.value(reduced), reduced["fmt"])


class Min(_Extreme):
    type_name = "min"
    _no_value = math.inf

    def value(self, reduced):
        return reduced["min"]


class Max(_Extreme):
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
    # the metric names an `order` may give after the aggregation's
    _METRICS: tuple[str, ...] = STATS_METRIC_NAMES

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return stats_body(reduced, reduced["fmt"])

    def metric(self, reduced: dict[str, Any], key: str) -> float:
        return stats_metric(reduced, key)

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if len(path) != 1 or path[0] not in self._METRICS:
            raise IllegalArgument(f"Found unknown metric name [{'.'.join(path)}] in multi-value metric "
                                  f"aggregation [{self.name}]" if path else
                                  f"Missing value key in [{self.name}] which refers to a multi-value metric "
                                  f"aggregation")
        return self.metric(reduced, path[0])


# InternalExtendedStats' fields after stats' own, and its bounds: the name in the response
# and the metric name an `order` uses for each
_EXTENDED = ("sum_of_squares", "variance", "variance_population", "variance_sampling", "std_deviation",
             "std_deviation_population", "std_deviation_sampling")
_BOUNDS = {"upper": "std_upper", "lower": "std_lower", "upper_population": "std_upper_population",
           "lower_population": "std_lower_population", "upper_sampling": "std_upper_sampling",
           "lower_sampling": "std_lower_sampling"}


class ExtendedStats(Stats):
    """stats with the sum of squares, the variances and standard deviations (population
    and sampling; the plain ones are the population ones) and the bounds `sigma` standard
    deviations either side of the mean (InternalExtendedStats), in Java's arithmetic: one
    value makes the sampling figures 0 / 0, which ES prints as "NaN"; no value makes every
    figure past the sum null."""

    type_name = "extended_stats"
    extra_params = ("sigma",)
    _METRICS = (*Stats._METRICS, *_EXTENDED, *_BOUNDS.values())

    def configure(self, p: Params) -> None:
        super().configure(p)
        self.sigma = 2.0
        if not p.has("sigma"):
            return
        raw = p.get("sigma")
        if raw is None or isinstance(raw, bool | list | dict):  # ObjectParser's DOUBLE: numbers and strings
            raise XContentParseError(f"[{self.type_name}] sigma doesn't support values of type: "
                                     f"{token_name(raw)}")
        sigma = p.number("sigma")
        if sigma < 0.0:  # the builder's setter, which the parser wraps; NaN passes, as in Java
            raise p.fail("sigma", IllegalArgument(
                f"[sigma] must be greater than or equal to 0. Found [{java_double(sigma)}] in [{self.name}]"))
        self.sigma = sigma

    def partial(self, values: np.ndarray, order: DocumentOrder, fmt: Any) -> dict[str, Any]:
        out = _stats_partial(values, fmt, order)
        floats = values.astype(np.float64, copy=False)
        with np.errstate(over="ignore"):  # a square past the doubles is Infinity, as in Java
            squares = floats * floats
        out["sum_of_squares"] = _shard_sum(squares, squares, order)
        return out

    def empty(self) -> dict[str, Any]:
        return {**super().empty(), "sum_of_squares": 0.0}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        out = _reduce_stats(partials)
        out["sum_of_squares"] = compensated_sum([p["sum_of_squares"] for p in partials])
        return out

    def figures(self, reduced: dict[str, Any]) -> dict[str, float]:
        """InternalExtendedStats.value(name) for each of its extended names."""
        count, total, squares = reduced["count"], float(reduced["sum"]), reduced["sum_of_squares"]
        avg = java_divide(total, count)
        spread = squares - java_divide(total * total, count)
        population = _not_negative(java_divide(spread, count))
        sampling = _not_negative(java_divide(spread, count - 1))
        std_population, std_sampling = math.sqrt(population), math.sqrt(sampling)
        upper, lower = avg + std_population * self.sigma, avg - std_population * self.sigma
        return {"sum_of_squares": squares, "variance": population, "variance_population": population,
                "variance_sampling": sampling, "std_deviation": std_population,
                "std_deviation_population": std_population, "std_deviation_sampling": std_sampling,
                "std_upper": upper, "std_lower": lower, "std_upper_population": upper,
                "std_lower_population": lower, "std_upper_sampling": avg + std_sampling * self.sigma,
                "std_lower_sampling": avg - std_sampling * self.sigma}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        out = super().render(reduced, typed_keys)
        if not reduced["count"]:
            out.update(dict.fromkeys(_EXTENDED))
            out["std_deviation_bounds"] = dict.fromkeys(_BOUNDS)
            return out
        figures = self.figures(reduced)
        bounds = {key: figures[metric] for key, metric in _BOUNDS.items()}
        out.update({key: json_double(figures[key]) for key in _EXTENDED})
        out["std_deviation_bounds"] = {key: json_double(value) for key, value in bounds.items()}
        fmt = reduced["fmt"]
        if fmt is not None:
            out.update({f"{key}_as_string": as_string(fmt, figures[key]) for key in _EXTENDED})
            out["std_deviation_bounds_as_string"] = {key: as_string(fmt, v) for key, v in bounds.items()}
        return out

    def metric(self, reduced: dict[str, Any], key: str) -> float:
        if key in Stats._METRICS:
            return super().metric(reduced, key)
        return self.figures(reduced)[key]


def _not_negative(variance: float) -> float:
    return 0.0 if variance < 0 else variance  # NaN stays NaN, as `variance < 0 ? 0 : variance` keeps it


# the values source types ValueType.isA counts as numeric: what weighted_avg's value_type may name
_NUMERIC_SOURCES = ("numeric", "date", "boolean")
_FIELD_CONFIG_PARAMS = ("field", "missing", "script")


class WeightedAvg(Aggregator):
    """sum(value * weight) / sum(weight) over the matched documents (WeightedAvgAggregator),
    each of a document's values taking the document's one weight. A document without a
    value or without a weight (and no `missing` for it) is skipped; one with several
    weights is refused. Both sums are Kahan sums, as ES keeps them.

    The format comes from the request alone (MultiValuesSourceAggregationBuilder.resolveFormat),
    never from the fields: `format` as a DecimalFormat pattern, or with a `value_type` that
    type's own format (dates print as dates, longs and doubles never print a string)."""

    type_name = "weighted_avg"
    accepts_subs = False
    kinds = NUMERIC

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("value", "weight", "format", "value_type"))
        self.configs: dict[str, tuple[str, Any]] = {}
        self.value_type: ValueType | None = None
        pattern = None
        for key in body:  # in body order, as ObjectParser meets them
            if key == "format":
                pattern = p.string("format")
            elif key == "value_type":
                self.value_type = self._value_type(p)
            else:
                self.configs[key] = self._field_config(p, key)
        if self.value_type is None:
            self.fmt = None if pattern is None else decimal_format(pattern)
        else:
            formats = {"date": date_format(DEFAULT_FORMAT), "boolean": BOOL_FORMAT}  # the others are RAW
            self.fmt = formats.get(self.value_type.source)

    def _value_type(self, p: Params) -> ValueType:
        raw = p.get("value_type")
        if not isinstance(raw, str):
            raise XContentParseError(f"[{self.type_name}] value_type doesn't support values of type: "
                                     f"{token_name(raw)}")
        value_type = VALUE_TYPES.get(raw)
        if value_type is None:
            raise p.fail("value_type")  # ES: lenientParse answers null, and checking null throws
        if value_type.source not in _NUMERIC_SOURCES:
            raise p.fail("value_type", ParsingError(
                f"Aggregation [{self.type_name}] was configured with an incompatible value type "
                f"[{value_type.description}].  It can only work on value off type [numeric]"))
        return value_type

    def _field_config(self, p: Params, key: str) -> tuple[str, Any]:
        """A `value` or `weight` object (MultiValuesSourceFieldConfig): its problems are
        reported inside "failed to parse field [value]", as the outer parser wraps them."""
        raw = p.get(key)
        if not isinstance(raw, dict):
            raise XContentParseError(f"[{self.type_name}] {key} doesn't support values of type: "
                                     f"{token_name(raw)}")
        try:
            inner = Params("field_config", raw, _FIELD_CONFIG_PARAMS)
            missing = raw.get("missing")
            if isinstance(missing, list | dict):
                raise XContentParseError(f"[field_config] missing doesn't support values of type: "
                                         f"{token_name(missing)}")
            field = inner.string("field")
        except XContentParseError as e:
            raise p.fail(key, e) from None
        if "script" in raw:
            raise IllegalArgument(f"[{self.type_name}] scripts are not supported by Strata")
        if not field:
            raise p.fail(key, IllegalArgument(
                "[field] and [script] cannot both be null.  Please specify one or the other."))
        return field, missing

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        if not self.configs:  # no values source at all: ES builds its unmapped aggregator
            return self.empty()
        sources = {key: self._source(ctx, field, missing) for key, (field, missing) in self.configs.items()}
        absent = next((key for key in ("value", "weight") if key not in sources), None)
        if absent is not None:  # the collector asks for both fields on each of the shard's segments
            if len(ctx.reader.docs()):
                raise IllegalArgument(f"Could not find field name [{absent}] in multiValuesSource")
            return self.empty()
        value_missing, weight_missing = self.configs["value"][1], self.configs["weight"][1]
        value_seqs, raw_values = matched(sources["value"], ctx, matches.seqs, value_missing)
        weight_seqs, weights = self._weights(sources["weight"], ctx, matches, weight_missing)
        if not len(value_seqs) or not len(weight_seqs):
            return self.empty()
        starts = np.flatnonzero(np.concatenate(([True], weight_seqs[1:] != weight_seqs[:-1])))
        weighted_docs = weight_seqs[starts]
        at = np.minimum(np.searchsorted(weighted_docs, value_seqs), len(weighted_docs) - 1)
        weighted = weighted_docs[at] == value_seqs  # the values whose document has a weight
        at = at[weighted]
        if len(starts) < len(weight_seqs) and np.any(np.diff(np.append(starts, len(weight_seqs)))[at] > 1):
            raise IllegalArgument("Encountered more than one weight for a single document. Use a script to "
                                  "combine multiple weights-per-doc into a single value.")
        value_weights = weights[starts[at]]
        raw_values = raw_values[weighted]
        values = raw_values.astype(np.float64, copy=False)  # as SortedNumericDoubleValues reads them
        with np.errstate(over="ignore", invalid="ignore"):  # Infinity and NaN, as Java's doubles give
            products = values * value_weights
        order = DocumentOrder(value_seqs[weighted], raw_values, sources["value"].column.seqs, value_missing)
        return {"sum": _shard_sum(products, products, order),
                "weight": _shard_sum(value_weights, value_weights, order)}

    def _source(self, ctx, field: str, missing: Any) -> ValuesSource:
        """The field, or for an unmapped one with `missing` a field of no values whose
        documents all take it, of the `value_type`'s kind (ES's NUMERIC by default)."""
        vs = resolve(ctx, field, self.type_name, NUMERIC)
        if vs.mapped or missing is None:
            return vs
        source = self.value_type.source if self.value_type is not None else None
        kind = source if source in ("date", "boolean") else "double"
        fmt = date_format(DEFAULT_FORMAT) if kind == "date" else BOOL_FORMAT if kind == "boolean" else None
        return ValuesSource(field, kind, EMPTY_COLUMN, fmt)

    @staticmethod
    def _weights(vs: ValuesSource, ctx, matches: Matches, missing: Any) -> tuple[np.ndarray, np.ndarray]:
        """The weights in seq order, which finding each value's weight needs (`missing`
        fills come after the documents' own weights)."""
        seqs, weights = matched(vs, ctx, matches.seqs, missing)
        if missing is not None and len(seqs) > 1 and np.any(seqs[1:] < seqs[:-1]):
            order = np.argsort(seqs, kind="stable")
            seqs, weights = seqs[order], weights[order]
        return seqs, weights.astype(np.float64, copy=False)  # as SortedNumericDoubleValues reads them

    def empty(self) -> dict[str, Any]:
        return {"sum": 0.0, "weight": 0.0}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sum": compensated_sum([p["sum"] for p in partials]),
                "weight": compensated_sum([p["weight"] for p in partials])}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        weight = reduced["weight"]
        return _with_string({}, "value", reduced["sum"] / weight if weight != 0 else None, self.fmt)

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if path and path != ["value"]:
            return super().sort_value(reduced, path)
        return java_divide(reduced["sum"], reduced["weight"])


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
