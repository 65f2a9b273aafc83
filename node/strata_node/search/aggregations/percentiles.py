"""percentiles and percentile_ranks with Elasticsearch's TDigest method (tdigest.py):
InternalTDigestPercentiles and InternalTDigestPercentileRanks.

A shard adds its values to a HybridDigest in document order and sends the compressed
state's centroids (None when it had no value); the reduce merges them into a new digest
and compresses it, as AbstractInternalTDigestPercentiles.reduce does. Percentiles are the
digest's quantile(percent / 100); ranks are its cdf(value), kept within [0, 1], times 100.

The request is read as AbstractPercentilesAggregationBuilder's ConstructingObjectParser
reads it: `percents` (sorted as Arrays.sort sorts doubles; the defaults 1, 5, 25, 50, 75, 95,
99) or `values` (required, sorted the same way), `keyed`, `tdigest: {compression,
execution_hint}`, the values-source fields; the builder's refusals come wrapped in "Failed
to build [...] after last required field arrived". The `hdr` method (HdrHistogram) is refused
as not supported by Strata, and the `high_accuracy` execution hint (an AVLTreeDigest in ES)
is accepted, as TDigestExecutionHint.parse accepts it (and DEFAULT and HIGH_ACCURACY), but
computed with the default HybridDigest. A compression that is NaN or infinite is refused
here (ES takes it and fails building the digest).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, NumberFormatError, XContentParseError
from ...common.xcontent import token_name
from ...index.mapping.errors import MalformedValue
from ...index.mapping.numbers import java_double, parse_java_double
from ..matches import Matches
from .base import Params
from .metrics import DocumentOrder, FieldMetric, as_string, json_double
from .tdigest import HybridDigest, reduce_partials, shard_partial
from .values import NUMERIC, matched, value_format

DEFAULT_PERCENTS = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
DEFAULT_COMPRESSION = 100.0
# TDigestExecutionHint.parse: the two lower-case names and "", else Enum.valueOf's exact names
EXECUTION_HINTS = ("default", "high_accuracy", "", "DEFAULT", "HIGH_ACCURACY")


def java_double_value(p: Params, name: str, value: Any) -> float:
    """XContentParser.doubleValue of a number or a string (Double.parseDouble's grammar: no
    '_' separators; "NaN" and "Infinity" are read as such); an integer beyond a double's
    range is infinite, as Java's BigInteger.doubleValue makes it."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise p.fail(name)
    if isinstance(value, str):
        try:
            return parse_java_double(value)
        except MalformedValue:
            raise p.fail(name, NumberFormatError(f'For input string: "{value}"')) from None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def java_sorted_doubles(values: list[float]) -> list[float]:
    """Arrays.sort(double[]): ascending, -0.0 before 0.0, NaN last, duplicates kept."""
    return sorted(values, key=lambda v: (math.isnan(v), 0.0 if math.isnan(v) else v, math.copysign(1.0, v)))


class _TDigestMetric(FieldMetric):
    """What percentiles and percentile_ranks share: the parameters, the digest each shard
    builds, the reduce, and the `values` object they print."""

    kinds = NUMERIC
    keys_field = ""

    @property
    def extra_params(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.keys_field, "keyed", "tdigest", "hdr")

    def configure(self, p: Params) -> None:
        self.format = p.string("format")
        self.keyed = p.boolean("keyed", True)
        keys = self._parse_keys(p) if p.has(self.keys_field) else None
        self.compression = DEFAULT_COMPRESSION
        if p.has("tdigest"):
            self._parse_tdigest(p)
        if p.has("hdr"):
            hdr = p.get("hdr")
            if not isinstance(hdr, dict):
                raise XContentParseError(f"[{self.type_name}] hdr doesn't support values of type: "
                                         f"{token_name(hdr)}")
            if p.has("tdigest"):
                raise self.build_error(IllegalArgument("Only one percentiles method should be declared."))
        self.keys = self.build_keys(keys)
        if p.has("hdr"):
            raise IllegalArgument(f"The [hdr] method of the [{self.type_name}] aggregation is not supported "
                                  "by Strata; use the default [tdigest] method")

    def build_error(self, cause: BaseException) -> XContentParseError:
        """ConstructingObjectParser's wrapping of what the builder's constructor throws."""
        return XContentParseError(f"Failed to build [{self.type_name}] after last required field arrived",
                                  caused_by=cause)

    def build_keys(self, keys: list[float] | None) -> list[float]:
        raise NotImplementedError

    def _parse_keys(self, p: Params) -> list[float]:
        raw = p.get(self.keys_field)
        if raw is None or isinstance(raw, dict):
            raise XContentParseError(f"[{self.type_name}] {self.keys_field} doesn't support values of type: "
                                     f"{token_name(raw)}")
        items = raw if isinstance(raw, list) else [raw]
        return [java_double_value(p, self.keys_field, item) for item in items]

    def _parse_tdigest(self, p: Params) -> None:
        raw = p.get("tdigest")
        if not isinstance(raw, dict):
            raise XContentParseError(f"[{self.type_name}] tdigest doesn't support values of type: "
                                     f"{token_name(raw)}")
        try:
            inner = Params("tdigest", raw, ("compression", "execution_hint"))
            if inner.has("compression"):
                compression = java_double_value(inner, "compression", inner.get("compression"))
                if compression < 0.0:
                    raise inner.fail("compression", IllegalArgument(
                        "[compression] must be greater than or equal to 0. Found "
                        f"[{java_double(compression)}]"))
                if not math.isfinite(compression):  # ES takes it and fails building the digest
                    raise inner.fail("compression", IllegalArgument(
                        f"[compression] must be a finite number. Found [{java_double(compression)}]"))
                self.compression = compression
            if inner.has("execution_hint"):
                hint = inner.string("execution_hint")
                if hint not in EXECUTION_HINTS:
                    raise inner.fail("execution_hint", IllegalArgument(
                        f"Invalid execution_hint [{hint}], valid values are [default, high_accuracy]"))
        except XContentParseError as e:
            raise p.fail("tdigest", e) from None

    # -- collecting and reducing -------------------------------------------------------------

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = self.values_source(ctx)
        seqs, values = matched(vs, ctx, matches.seqs, self.missing)
        fmt = value_format(vs, self.format) if vs.mapped else None
        if not len(values):
            return {"state": None, "fmt": fmt}
        floats = values.astype(np.float64, copy=False)
        ordered = DocumentOrder(seqs, values, vs.column.seqs, self.missing)(floats)
        return {"state": shard_partial(ordered, self.compression), "fmt": fmt}

    def empty(self) -> dict[str, Any]:
        return {"state": None, "fmt": None}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"state": reduce_partials([p["state"] for p in partials]),
                "fmt": next((p["fmt"] for p in partials if p["fmt"] is not None), None)}

    # -- reading the result ------------------------------------------------------------------

    def value_of(self, digest: HybridDigest | None, key: float) -> float:
        raise NotImplementedError

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        state, fmt = reduced["state"], reduced["fmt"]
        digest = HybridDigest.from_partial(state) if state is not None else None
        present = digest is not None and digest.size() > 0
        if self.keyed:
            keyed: dict[str, Any] = {}
            for key in self.keys:
                name = java_double(key)
                value = self.value_of(digest, key)
                keyed[name] = json_double(value) if present else None
                if fmt is not None and present:
                    keyed[f"{name}_as_string"] = as_string(fmt, value)
            return {"values": keyed}
        listed = []
        for key in self.keys:
            value = self.value_of(digest, key)
            item: dict[str, Any] = {"key": key, "value": json_double(value) if present else None}
            if fmt is not None and present:
                item["value_as_string"] = as_string(fmt, value)
            listed.append(item)
        return {"values": listed}

    def path_value(self, reduced: dict[str, Any], name: str) -> float:
        """InternalNumericMetricsAggregation.MultiValue.value(name) (a buckets_path's
        `agg.99` or `agg[99.0]`): the figure of any key, requested or not."""
        try:
            key = parse_java_double(name)  # Double.parseDouble, as ES reads the key
        except MalformedValue:
            raise NumberFormatError(f'For input string: "{name}"') from None
        state = reduced["state"]
        return self.value_of(HybridDigest.from_partial(state) if state is not None else None, key)

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        """A terms `order` of `agg.50` or `agg[50.0]`: the key must be one the aggregation
        was asked for (hasMetric)."""
        if len(path) != 1 or not self._has_metric(path[0]):
            raise IllegalArgument(f"Found unknown metric name [{'.'.join(path)}] in multi-value metric "
                                  f"aggregation [{self.name}]" if path else
                                  f"Missing value key in [{self.name}] which refers to a multi-value metric "
                                  f"aggregation")
        return self.path_value(reduced, path[0])

    def _has_metric(self, name: str) -> bool:
        try:
            return parse_java_double(name) in self.keys
        except MalformedValue:
            return False


class Percentiles(_TDigestMetric):
    type_name = "percentiles"
    keys_field = "percents"

    def typed_name(self, reduced: Any) -> str:
        return "tdigest_percentiles"

    def build_keys(self, keys: list[float] | None) -> list[float]:
        """PercentilesAggregationBuilder.validatePercentiles (a repeated percent is only
        deprecated, so it stays)."""
        if keys is None:
            return list(DEFAULT_PERCENTS)
        if not keys:
            raise self.build_error(IllegalArgument(f"[percents] must not be empty: [{self.name}]"))
        ordered = java_sorted_doubles(keys)
        for percent in ordered:
            if percent < 0.0 or percent > 100.0 or math.isnan(percent):
                raise self.build_error(IllegalArgument(
                    f"percent must be in [0,100], got [{java_double(percent)}]: [{self.name}]"))
        return ordered

    def value_of(self, digest: HybridDigest | None, key: float) -> float:
        if digest is None or digest.size() == 0:
            return math.nan
        return digest.quantile(key / 100)


class PercentileRanks(_TDigestMetric):
    type_name = "percentile_ranks"
    keys_field = "values"

    def typed_name(self, reduced: Any) -> str:
        return "tdigest_percentile_ranks"

    def build_keys(self, keys: list[float] | None) -> list[float]:
        """AbstractPercentilesAggregationBuilder's constructor: `values` is required."""
        if keys is None:
            raise self.build_error(IllegalArgument(f"[values] must not be null: [{self.name}]"))
        if not keys:
            raise self.build_error(IllegalArgument(f"[values] must not be an empty array: [{self.name}]"))
        return java_sorted_doubles(keys)

    def value_of(self, digest: HybridDigest | None, key: float) -> float:
        """InternalTDigestPercentileRanks.percentileRank: the cdf within [0, 1], as a percent."""
        if digest is None or digest.size() == 0:
            return math.nan
        rank = digest.cdf(key)
        if rank < 0:
            rank = 0.0
        elif rank > 1:
            rank = 1.0
        return rank * 100
