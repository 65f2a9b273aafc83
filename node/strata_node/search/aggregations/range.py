"""range and date_range: a bucket per range, `from` included and `to` excluded.

Ranges are sorted by (from, to) as AbstractRangeBuilder.processRanges sorts them, and a
range without a key is named from its bounds as InternalRange.Bucket.generateKey names
it: `*-100.0`, `100.0-200.0`, `200.0-*` (doubles as Java prints them, or dates in the
format for date_range). A document with several values counts once per range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError
from ...common.xcontent import token_name
from ...index.mapping.dates import DEFAULT_FORMAT
from ...index.mapping.numbers import java_double
from ..matches import Matches
from .base import Aggregator, Params, collect_subs, reduce_subs, render_subs, sorted_unique, subset
from .formats import format_value
from .values import NUMERIC, matched, parse_date, resolve, value_format, with_missing

_PARAMS = ("field", "ranges", "keyed", "missing", "format", "script", "value_type")


class Range(Aggregator):
    type_name = "range"
    kinds: tuple[str, ...] = NUMERIC

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, self._params())
        self.field = p.field()
        self.keyed = p.boolean("keyed", False)
        self.missing = p.get("missing")
        self.format = p.string("format")
        self.time_zone = p.string("time_zone") if p.has("time_zone") else None
        raw = p.get("ranges")
        if raw is None:
            raise IllegalArgument(f"No [ranges] specified for the [{name}] aggregation")
        if not isinstance(raw, list):
            raise p.fail("ranges")
        self.ranges = []
        for item in raw:
            if not isinstance(item, dict):
                raise ParsingError(f"Unexpected token {token_name(item)} in [ranges].")
            r = Params("range", item, ("from", "to", "key"))
            self.ranges.append((r.string("key"), item.get("from"), item.get("to")))
        if not self.ranges:
            raise IllegalArgument(f"No [ranges] specified for the [{name}] aggregation")

    def _params(self) -> tuple[str, ...]:
        return _PARAMS

    def _bound(self, raw: Any, ctx, fmt: Any, upper: bool) -> float:
        """A range end as a number; a missing `to` is +inf, a missing `from` -inf."""
        if raw is None:
            return math.inf if upper else -math.inf
        if fmt is not None and fmt[0] == "date":
            return float(parse_date(raw, fmt[1], ctx.now_millis if ctx else 0, round_up=False,
                                    time_zone=self.time_zone))
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise IllegalArgument(f"For input string: \"{raw}\"") from None

    def _source(self, ctx):
        return with_missing(resolve(ctx, self.field, self.type_name, self.kinds), self.missing)

    def _resolved(self, ctx, fmt: Any) -> list[tuple[str, float, float]]:
        """(key, from, to) of every range in (from, to) order, bounds as numbers."""
        resolved = [(key, self._bound(frm, ctx, fmt, False), self._bound(to, ctx, fmt, True))
                    for key, frm, to in self.ranges]
        order = sorted(range(len(resolved)), key=lambda i: (resolved[i][1], resolved[i][2]))  # stable, as ES
        out = []
        for i in order:
            key, frm, to = resolved[i]
            if key is None:
                key = f"{self._from_text(frm, fmt)}-{_bound_text(to, fmt)}"
            out.append((key, frm, to))
        return out

    def _values(self, ctx, matches: Matches) -> tuple[np.ndarray, np.ndarray, Any]:
        """(seqs, values as doubles, format) of the matched documents."""
        vs = self._source(ctx)
        fmt = value_format(vs, self.format, self.time_zone) if vs.mapped else self._default_fmt()
        if not vs.mapped:
            return np.empty(0, dtype=np.int64), np.empty(0), fmt
        seqs, values = matched(vs, ctx, matches.seqs, self.missing)
        return seqs, values.astype(np.float64), fmt

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        seqs, values, fmt = self._values(ctx, matches)
        ranges = self._resolved(ctx, fmt)
        presorted = bool(len(seqs) < 2 or np.all(seqs[1:] >= seqs[:-1]))
        buckets = []
        for key, frm, to in ranges:
            inside = (values >= frm) & (values < to)
            docs = sorted_unique(seqs[inside], presorted=presorted)
            buckets.append([key, _plain(frm), _plain(to), len(docs),
                            collect_subs(self, ctx, subset(matches, docs)) if self.subs else {}])
        return {"fmt": fmt, "buckets": buckets}

    def _default_fmt(self) -> Any:
        return None

    def _from_text(self, bound: float, fmt: Any) -> str:
        """The lower bound as the generated key prints it."""
        return _bound_text(bound, fmt)

    def empty(self) -> dict[str, Any]:
        fmt = self._default_fmt()
        ranges = self._resolved(None, fmt) if fmt is None else []
        return {"fmt": fmt, "buckets": [[key, _plain(frm), _plain(to), 0,
                                         self.subs.empty() if self.subs else {}]
                                        for key, frm, to in ranges]}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        filled = [p for p in partials if p["buckets"]]
        if not filled:
            return {"fmt": partials[0]["fmt"], "buckets": []}
        fmt = next((p["fmt"] for p in filled if p["fmt"] is not None), None)
        first = filled[0]["buckets"]
        buckets = []
        for i, (key, frm, to, _, _) in enumerate(first):
            count = sum(p["buckets"][i][3] for p in filled)
            subs = reduce_subs(self, [p["buckets"][i][4] for p in filled])
            buckets.append([key, frm, to, count, subs])
        return {"fmt": fmt, "buckets": buckets}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        fmt = reduced["fmt"]
        rendered = []
        for key, frm, to, count, subs in reduced["buckets"]:
            bucket: dict[str, Any] = {} if self.keyed else {"key": key}
            if frm is not None:
                bucket["from"] = float(frm)
                if fmt is not None:
                    bucket["from_as_string"] = format_value(fmt, frm)
            if to is not None:
                bucket["to"] = float(to)
                if fmt is not None:
                    bucket["to_as_string"] = format_value(fmt, to)
            bucket["doc_count"] = count
            rendered.append((key, render_subs(self, subs, bucket, typed_keys)))
        if self.keyed:
            return {"buckets": {key: b for key, b in rendered}}
        return {"buckets": [b for _, b in rendered]}


class DateRange(Range):
    """Ranges of dates: bounds are date math (`now-10d/d`, `2024-01-01||+1M`) read with
    the aggregation's `format` (else the field's) in `time_zone`, or epoch millis."""

    type_name = "date_range"
    kinds = ("date",)

    def _params(self) -> tuple[str, ...]:
        return (*_PARAMS, "time_zone")

    def _default_fmt(self) -> Any:
        return ["date", self.format or DEFAULT_FORMAT, self.time_zone]

    def _bound(self, raw: Any, ctx, fmt: Any, upper: bool) -> float:
        """A range end as a number; a missing `to` is +inf, a missing `from` -inf."""
        if raw is None:
            return math.inf if upper else -math.inf
        return float(parse_date(raw, fmt[1], ctx.now_millis if ctx else 0, round_up=False,
                                time_zone=self.time_zone))


def _plain(bound: float) -> float | None:
    return None if math.isinf(bound) else bound


def _bound_text(bound: float, fmt: Any) -> str:
    if math.isinf(bound):
        return "*"
    return format_value(fmt, bound) if fmt is not None else java_double(bound)


__all__ = ["DateRange", "Range"]
