"""The range query, per field type as Elasticsearch's field types build it.

Whole numbers move a decimal bound inward (`gte: 1.5` starts at 2, `lte: -1.5` ends at
-2); floating types move exclusive bounds by one ulp in the field's precision; dates
parse bounds as date math with `gt`/`lte` rounding up and `gte`/`lt` rounding down;
keywords and text compare terms as bytes; IPs compare addresses. All are constant-score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError, QueryShardError
from ...engine.segment_reader import EMPTY_SEQS
from ...index.mapping.dates import formatter
from ...index.mapping.numbers import (
    FLOAT_TYPES,
    UNSIGNED,
    UNSIGNED_MAX,
    UNSIGNED_SHIFT,
    WHOLE_TYPES,
    java_round,
    scale_query_value,
    unsigned_bound,
)
from ..context import ShardContext
from ..datemath import zone
from ..matches import Matches
from .base import Query, constant, register, set_common, single_field, to_bool, to_str, unsupported
from .fields import (
    CONSTANT,
    LONG_MAX,
    LONG_MIN,
    TEXT,
    boolean_term,
    check_searchable,
    constant_seqs,
    date_millis,
    double_range,
    float_value,
    ip_bytes,
    ip_value,
    keyword_term,
    next_down,
    next_up,
    successor,
    term_range_seqs,
    text_of,
    whole_range,
    whole_value,
)

_RELATIONS = ("intersects", "contains", "within")


class Range(Query):
    kind = "range"

    def __init__(self, field: str):
        self.field = field
        self.lower: Any = None
        self.upper: Any = None
        self.include_lower = True
        self.include_upper = True
        self.format: str | None = None
        self.time_zone: str | None = None

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = ctx.field(self.field)
        if mapper is None:
            return Matches.none(scored)
        check_searchable(mapper)
        kind = mapper.type_name  # format and time_zone matter only to dates; others ignore them
        if kind in WHOLE_TYPES:
            seqs = self._whole(ctx, mapper)
        elif kind == UNSIGNED:
            seqs = self._unsigned(ctx, mapper)
        elif kind in FLOAT_TYPES:
            seqs = self._double(ctx, mapper)
        elif kind == "date":
            seqs = self._date(ctx, mapper)
        elif kind == "ip":
            seqs = self._ip(ctx, mapper)
        elif kind in ("keyword", *TEXT):
            lower = keyword_term(ctx, mapper, self.lower) if self.lower is not None else None
            upper = keyword_term(ctx, mapper, self.upper) if self.upper is not None else None
            seqs = self._terms(ctx, lower, upper)
        elif kind == CONSTANT:
            seqs = constant_seqs(ctx, mapper, self._holds)
        elif kind == "boolean":
            lower = boolean_term(self.lower) if self.lower is not None else None
            upper = boolean_term(self.upper) if self.upper is not None else None
            seqs = self._terms(ctx, lower, upper)
        else:
            raise QueryShardError(f"Field [{self.field}] of type [{kind}] does not support range queries")
        return constant(seqs, scored, boost)

    def _holds(self, value: str) -> bool:
        """Whether the range holds a constant_keyword's value, compared as UTF-8 bytes
        as Lucene compares terms."""
        term = value.encode()
        if self.lower is not None:
            lower = text_of(self.lower).encode()
            if lower > term or (lower == term and not self.include_lower):
                return False
        if self.upper is not None:
            upper = text_of(self.upper).encode()
            if term > upper or (term == upper and not self.include_upper):
                return False
        return True

    def _terms(self, ctx: ShardContext, lower: bytes | None, upper: bytes | None) -> np.ndarray:
        return term_range_seqs(ctx.reader, self.field, lower, upper, self.include_lower, self.include_upper)

    def _whole(self, ctx: ShardContext, mapper) -> np.ndarray:
        low, high = LONG_MIN, LONG_MAX
        if self.lower is not None:
            low, fraction = whole_value(mapper, self.lower)
            if (not fraction and not self.include_lower) or (fraction and _positive(self.lower)):
                if low == LONG_MAX:
                    return EMPTY_SEQS
                low += 1
        if self.upper is not None:
            high, fraction = whole_value(mapper, self.upper)
            if (not fraction and not self.include_upper) or (fraction and not _positive(self.upper)):
                if high == LONG_MIN:
                    return EMPTY_SEQS
                high -= 1
        return whole_range(ctx.reader, mapper, low, high)

    def _unsigned(self, ctx: ShardContext, mapper) -> np.ndarray:
        low, high = 0, UNSIGNED_MAX
        if self.lower is not None:
            low = unsigned_bound(self.lower, lower=True, include=self.include_lower)
        if self.upper is not None:
            high = unsigned_bound(self.upper, lower=False, include=self.include_upper)
        if low is None or high is None:
            return EMPTY_SEQS
        return whole_range(ctx.reader, mapper, low - UNSIGNED_SHIFT, high - UNSIGNED_SHIFT)

    def _double(self, ctx: ShardContext, mapper) -> np.ndarray:
        if mapper.type_name == "scaled_float":
            return self._scaled(ctx, mapper)
        if mapper.type_name == "half_float":
            return self._half(ctx, mapper)
        low, high = -np.inf, np.inf
        if self.lower is not None:
            low = float_value(mapper, self.lower)
            if not self.include_lower:
                low = next_up(low, mapper)
        if self.upper is not None:
            high = float_value(mapper, self.upper)
            if not self.include_upper:
                high = next_down(high, mapper)
        return double_range(ctx.reader, mapper, low, high)

    def _scaled(self, ctx: ShardContext, mapper) -> np.ndarray:
        """Bounds moved inward to whole multiples of 1/scaling_factor, as ScaledFloatFieldMapper
        takes the ceiling of the lower bound and the floor of the upper in its long space."""
        factor = mapper.get("scaling_factor")
        low, high = -np.inf, np.inf
        if self.lower is not None:
            value = scale_query_value(float_value(mapper, self.lower, scale=False), factor)
            if not self.include_lower:
                value = math.nextafter(value, math.inf)
            low = java_round(math.ceil(value)) / factor if math.isfinite(value) else value
        if self.upper is not None:
            value = scale_query_value(float_value(mapper, self.upper, scale=False), factor)
            if not self.include_upper:
                value = math.nextafter(value, -math.inf)
            high = java_round(math.floor(value)) / factor if math.isfinite(value) else value
        return double_range(ctx.reader, mapper, low, high)

    def _half(self, ctx: ShardContext, mapper) -> np.ndarray:
        """Bounds moved inward to the nearest half-precision numbers, as HALF_FLOAT's range
        query moves them (nextUp of nextDown for an inclusive lower bound, and so on)."""
        low, high = -np.inf, np.inf
        if self.lower is not None:
            value = float_value(mapper, self.lower, rounded=False)  # at single precision
            low = next_up(value if self.include_lower is False else next_down(value, mapper), mapper)
        if self.upper is not None:
            value = float_value(mapper, self.upper, rounded=False)
            high = next_down(value if self.include_upper is False else next_up(value, mapper), mapper)
        return double_range(ctx.reader, mapper, low, high)

    def _date(self, ctx: ShardContext, mapper) -> np.ndarray:
        low, high = LONG_MIN, LONG_MAX
        if self.lower is not None:
            low = date_millis(ctx, mapper, self.lower, round_up=not self.include_lower, format=self.format,
                              time_zone=self.time_zone)
            if not self.include_lower:
                low += 1
        if self.upper is not None:
            high = date_millis(ctx, mapper, self.upper, round_up=self.include_upper, format=self.format,
                               time_zone=self.time_zone)
            if not self.include_upper:
                high -= 1
        return whole_range(ctx.reader, mapper, low, high)

    def _ip(self, ctx: ShardContext, mapper) -> np.ndarray:
        lower = b"\x00" * 16
        upper = b"\xff" * 16
        if self.lower is not None:
            lower = ip_bytes(ip_value(self.lower))
            if not self.include_lower:
                lower = successor(lower)
                if lower is None:
                    return EMPTY_SEQS
        if self.upper is not None:
            upper = ip_bytes(ip_value(self.upper))
            if not self.include_upper:
                if upper == b"\x00" * 16:
                    return EMPTY_SEQS
                upper = (int.from_bytes(upper, "big") - 1).to_bytes(16, "big")
        return term_range_seqs(ctx.reader, self.field, lower, upper, True, True)


def _positive(value: Any) -> bool:
    if isinstance(value, int | float):
        return value > 0
    return not str(value).strip().startswith("-")


@register("range")
def parse_range(kind: str, body: dict[str, Any]) -> Query:
    field, spec = single_field(kind, body)
    if not isinstance(spec, dict):
        raise ParsingError(f"[{kind}] query does not support [{field}]")
    query = Range(field)
    for key, value in spec.items():
        if key in ("from", "gt", "gte"):
            query.lower = _bound(value)
            if key != "from":
                query.include_lower = key == "gte"
        elif key in ("to", "lt", "lte"):
            query.upper = _bound(value)
            if key != "to":
                query.include_upper = key == "lte"
        elif key == "include_lower":
            query.include_lower = to_bool(kind, key, value)
        elif key == "include_upper":
            query.include_upper = to_bool(kind, key, value)
        elif key == "format":
            query.format = to_str(kind, key, value)
            formatter(query.format)  # an invalid format fails the request
        elif key == "time_zone":
            query.time_zone = to_str(kind, key, value)
            zone(query.time_zone)  # an unknown zone fails the request, not each shard
        elif key == "relation":
            relation = to_str(kind, key, value)
            if relation.lower() not in (*_RELATIONS, "disjoint"):
                raise IllegalArgument(f"{relation} is not a valid relation")
            if relation.lower() == "disjoint":
                raise IllegalArgument(f"[{kind}] query does not support relation [{relation}]")
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    return query


def _bound(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise ParsingError("[range] query does not support values of type [START_OBJECT]"
                           if isinstance(value, dict) else "[range] query does not support values of type "
                           "[START_ARRAY]")
    return value
