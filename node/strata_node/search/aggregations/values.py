"""Field values for aggregations (Elasticsearch's ValuesSource): which field, of what
kind, and its doc values for the documents a query matched.

A column holds (seq, value) pairs sorted by seq, a multi-valued document repeating its
seq. Matched seqs become column rows without a per-document loop: nothing to do when
the query matched every live document; a bitmap over seq numbers when the matches are
many; two binary searches per match when they are few, which is what keeps a bucket's
sub-aggregations proportional to the bucket and not to the shard.

Keyword and ip columns are object arrays of str; counting them needs integer ordinals,
built once per column (one dict pass, about 70 ms for a million values) and kept while
the column lives, that is until the next refresh replaces the reader's columns.
"""

from __future__ import annotations

import ipaddress
import threading
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...common.errors import IllegalArgument
from ...common.units import LONG_MAX, LONG_MIN
from ...engine.segment_reader import EMPTY_COLUMN, EMPTY_SEQS, Column
from ...index.mapping.dates import DEFAULT_FORMAT
from ...index.mapping.errors import MalformedValue
from ...index.mapping.numbers import FLOAT_TYPES, UNSIGNED, UNSIGNED_SHIFT, WHOLE_TYPES, parse_unsigned
from .formats import BOOL_FORMAT, UNSIGNED_FORMAT, date_format

NUMERIC = ("long", "double", "date", "boolean")
_BITMAP_LIMIT = 1 << 28  # seq numbers past this use binary search only


class ValueType(NamedTuple):
    """A `value_type` hint: the description ES's messages print (ValueType.toString) and
    the values source type it asks for (keyword, numeric, date, ip or boolean)."""

    description: str
    source: str


_LONG = ValueType("byte|short|integer|long", "numeric")
_DOUBLE = ValueType("float|double", "numeric")
# ValueType.lenientParse: every name a `value_type` may give; any other parses to null
VALUE_TYPES: dict[str, ValueType] = {
    "string": ValueType("string", "keyword"), "double": _DOUBLE, "float": _DOUBLE,
    **dict.fromkeys(("number", "numeric", "long", "integer", "short", "byte"), _LONG),
    "date": ValueType("date", "date"), "ip": ValueType("ip", "ip"),
    "boolean": ValueType("boolean", "boolean"),
}


def kind_of(type_name: str) -> str:
    if type_name in WHOLE_TYPES:
        return "long"
    if type_name in FLOAT_TYPES or type_name == UNSIGNED:  # unsigned: read as doubles, as ES reads it
        return "double"
    if type_name == "constant_keyword":
        return "keyword"
    return type_name  # date, boolean, keyword, ip, text


@dataclass
class ValuesSource:
    """One field as an aggregation reads it. `kind` is long, double, date, boolean,
    keyword or ip; None for a field the index does not map (an empty result, as ES
    answers for unmapped fields). `fmt` is how keys and values print (formats.py)."""

    field: str
    kind: str | None
    column: Column
    fmt: Any
    type_name: str | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    @property
    def mapped(self) -> bool:
        return self.kind is not None

    def rows(self, ctx, seqs: np.ndarray) -> np.ndarray | None:
        """Column rows of the matched seqs; None means every row."""
        return select_rows(self.column.seqs, seqs, _all_docs(ctx, seqs))

    def values(self, ctx, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(seq, value) pairs of the matched documents, in seq order."""
        rows = self.rows(ctx, seqs)
        if rows is None:
            return self.column.seqs, self.column.values
        return self.column.seqs[rows], self.column.values[rows]

    def without_values(self, seqs: np.ndarray) -> np.ndarray:
        """The matched seqs that have no value in this field (what `missing` fills)."""
        col = self.column.seqs
        if not len(col) or not len(seqs):
            return seqs
        at = np.searchsorted(col, seqs)
        found = col[np.minimum(at, len(col) - 1)] == seqs
        return seqs[~found]


def _all_docs(ctx, seqs: np.ndarray) -> bool:
    # Matches are live documents, so as many as the shard has means all of them.
    return ctx is not None and len(seqs) > 0 and len(seqs) == len(ctx.reader.docs())


def select_rows(col_seqs: np.ndarray, seqs: np.ndarray, all_docs: bool = False) -> np.ndarray | None:
    """Row indices of `col_seqs` (sorted, repeats allowed) whose seq is in `seqs` (sorted,
    unique), in order. None when that is every row.

    A column keeps a seq -> first row table (built once, O(max seq)), so selecting rows
    costs one gather per matched document: a bucket's sub-aggregations pay for the
    bucket, not for the shard."""
    if all_docs:
        return None
    if not len(col_seqs) or not len(seqs):
        return EMPTY_SEQS
    table = _row_table(col_seqs)
    if table is None:
        return _search_rows(col_seqs, seqs)
    first, counts = table
    inside = seqs[seqs < len(first)] if int(seqs[-1]) >= len(first) else seqs
    lo = first[inside]
    present = lo >= 0
    lo = lo[present].astype(np.int64)
    if counts is None:
        return lo
    many = counts[inside[present]].astype(np.int64)
    return _expand(lo, many)


def _expand(lo: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row ranges [lo, lo + count) laid end to end."""
    if not len(counts) or counts.max() == 1:
        return lo
    total = int(counts.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(lo, counts) + within


def _search_rows(col_seqs: np.ndarray, seqs: np.ndarray) -> np.ndarray:
    """Binary searches, for seq numbers too large for a table."""
    lo = np.searchsorted(col_seqs, seqs, side="left")
    hi = np.searchsorted(col_seqs, seqs, side="right")
    counts = hi - lo
    present = counts > 0
    return _expand(lo[present], counts[present])


def _row_table(col_seqs: np.ndarray):
    """(first row per seq, -1 where none; rows per seq or None when single-valued),
    cached per column; None when seq numbers are too large for a table."""
    top = int(col_seqs[-1]) + 1
    if top > _BITMAP_LIMIT:
        return None

    def build():
        starts = np.flatnonzero(np.concatenate(([True], col_seqs[1:] != col_seqs[:-1])))
        dtype = np.int32 if len(col_seqs) < (1 << 31) else np.int64
        first = np.full(top, -1, dtype=dtype)
        first[col_seqs[starts]] = starts
        if len(starts) == len(col_seqs):
            return first, None
        counts = np.zeros(top, dtype=np.int32)
        counts[col_seqs[starts]] = np.diff(np.append(starts, len(col_seqs)))
        return first, counts

    return _cached(col_seqs, "rows", build)


def is_multi_valued(col_seqs: np.ndarray) -> bool:
    """Whether some document has several values (its seq repeats)."""
    return _cached(col_seqs, "multi",
                   lambda: bool(len(col_seqs) > 1 and np.any(col_seqs[1:] == col_seqs[:-1])))


def ordinals(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(terms, ords) of an object array of str: the distinct terms sorted (an object
    array), and each value's index into them (int32). Cached per column."""

    def build():
        listed = values.tolist()
        terms = sorted(set(listed))
        index = {term: position for position, term in enumerate(terms)}
        ords = np.fromiter(map(index.__getitem__, listed), dtype=np.int32, count=len(listed))
        out = np.empty(len(terms), dtype=object)
        out[:] = terms
        return out, ords

    return _cached(values, "ords", build)


_cache: dict[tuple[int, str], tuple[weakref.ref, Any]] = {}
_cache_lock = threading.Lock()


def _cached(array: np.ndarray, what: str, build):
    """A value derived from a column array, kept as long as that array lives."""
    key = (id(array), what)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0]() is array:
        return hit[1]
    value = build()
    ref = weakref.ref(array, lambda _r, key=key: _cache.pop(key, None))
    with _cache_lock:
        _cache[key] = (ref, value)
    return value


def resolve(ctx, field: Any, agg_type: str, kinds: tuple[str, ...] | None = None) -> ValuesSource:
    """The field an aggregation names, checked as ValuesSourceRegistry checks it: text
    fields have no field data, fields without doc values cannot be read, and a type the
    aggregation does not support is refused with Elasticsearch's words."""
    mapper = ctx.field(field)
    if mapper is None or getattr(mapper, "type_name", None) is None:
        return ValuesSource(field, None, EMPTY_COLUMN, None)
    type_name = mapper.type_name
    if type_name == "text":
        raise IllegalArgument(
            f"Fielddata is disabled on [{field}] in [{ctx.index}]. Text fields are not optimised for "
            "operations that require per-document field data like aggregations and sorting, so these "
            "operations are disabled by default. Please use a keyword field instead. Alternatively, set "
            f"fielddata=true on [{field}] in order to load field data by uninverting the inverted index. "
            "Note that this can use significant memory.")
    kind = kind_of(type_name)
    if type_name == UNSIGNED and (kinds is None or UNSIGNED in kinds):
        # terms, cardinality, value_count: exact, from the shifted longs the column holds
        # (ES's numeric aggregations read the doubles, its long-keyed ones the longs)
        kind = UNSIGNED
    if kinds is not None and kind not in kinds:
        raise IllegalArgument(f"Field [{field}] of type [{type_name}] is not supported for aggregation "
                              f"[{agg_type}]")
    if not mapper.doc_values:
        raise IllegalArgument(f"Can't load fielddata on [{field}] because fielddata is unsupported on fields "
                              f"of type [{type_name}]. Use doc values instead.")
    column = ctx.doc_values(field)
    if type_name == UNSIGNED:
        return ValuesSource(field, kind, _unsigned_column(column, kind), UNSIGNED_FORMAT if kind == "double"
                            else None, type_name)
    if kind == "double" and len(column) and column.values.dtype != np.float64:
        column = Column(column.seqs, column.values.astype(np.float64))
    if kind == "date":
        fmt = date_format(mapper.get("format") or DEFAULT_FORMAT)
    elif kind == "boolean":
        fmt = BOOL_FORMAT
    else:
        fmt = None
    if kind in ("long", "date") and len(column) and column.values.dtype != np.int64:
        column = Column(column.seqs, column.values.astype(np.int64))
    return ValuesSource(field, kind, column, fmt, type_name)


def _unsigned_column(column: Column, kind: str) -> Column:
    """An unsigned_long's column (v - 2^63 as int64): as it is for exact keys, else as
    doubles computed as UnsignedLongLeafFieldData.convertUnsignedLongToDouble does (below
    2^63 the value rounded once; from 2^63 up, 2^63 plus the shifted long's double, which
    rounds twice), so metrics print ES's digits."""
    values = column.values.astype(np.int64) if len(column) else np.empty(0, dtype=np.int64)
    if kind == UNSIGNED:
        return Column(column.seqs, values)
    below = (values ^ np.int64(-UNSIGNED_SHIFT)).astype(np.float64)  # v itself where v < 2^63
    from_top = float(UNSIGNED_SHIFT) + values.astype(np.float64)
    return Column(column.seqs, np.where(values < 0, below, from_top))


def parse_date(text: Any, pattern: str, now_millis: int, *, round_up: bool = False,
               time_zone: str | None = None) -> int:
    """A date given in a request (`missing`, range bounds, extended bounds): epoch
    millis as a number, else date math (`now-1d/d`, `2024-01-01||+1M`) with the format."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text)
    from ...index.mapping.dates import formatter
    from ..datemath import parse_date_math

    return parse_date_math(str(text), now_millis, round_up=round_up, formatter=formatter(pattern),
                           time_zone=time_zone)


def missing_value(vs: ValuesSource, raw: Any, ctx) -> Any:
    """The `missing` parameter as a value of the field's kind."""
    kind = vs.kind
    try:
        if kind == "long":
            if isinstance(raw, str):
                raw = float(raw) if any(c in raw for c in ".eE") else int(raw)
            number = int(raw)
            if not LONG_MIN <= number <= LONG_MAX:  # the column holds longs
                raise ValueError(f"Value [{raw}] is out of range for a long")
            return number
        if kind == "double":
            return float(raw)
        if kind == UNSIGNED:
            return parse_unsigned(raw) - UNSIGNED_SHIFT
        if kind == "date":
            return parse_date(raw, vs.fmt[1] if vs.fmt else DEFAULT_FORMAT, ctx.now_millis)
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if raw in ("true", "false"):
                return raw == "true"
            raise ValueError(raw)
        if kind == "ip":
            return str(ipaddress.ip_address(str(raw)))
    except (TypeError, ValueError, OverflowError, MalformedValue) as e:
        cause = e.cause.reason if isinstance(e, MalformedValue) and e.cause else \
            'For input string: ""' if isinstance(e, MalformedValue) else e
        raise IllegalArgument(f"Cannot use [{raw}] as the missing value of field [{vs.field}]: {cause}") \
            from None
    return raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)


def with_missing(vs: ValuesSource, raw_missing: Any) -> ValuesSource:
    """An unmapped field with `missing` reads as a field of the missing value's kind, so
    every document lands in the missing bucket (as ES's unmapped values source does)."""
    if vs.mapped or raw_missing is None:
        return vs
    if isinstance(raw_missing, bool):
        kind, fmt = "boolean", BOOL_FORMAT
    elif isinstance(raw_missing, int):
        kind, fmt = "long", None
    elif isinstance(raw_missing, float):
        kind, fmt = "double", None
    else:
        kind, fmt = "keyword", None
    return ValuesSource(vs.field, kind, EMPTY_COLUMN, fmt)


def matched(vs: ValuesSource, ctx, seqs: np.ndarray, missing: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(seq, value) pairs of the matched documents; with `missing` set, documents
    without a value get it (appended, so seqs are then not in order)."""
    if not vs.mapped:
        return EMPTY_SEQS, np.empty(0, dtype=np.float64)
    doc_seqs, values = vs.values(ctx, seqs)
    if missing is None:
        return doc_seqs, values
    absent = vs.without_values(seqs)
    if not len(absent):
        return doc_seqs, values
    fill = missing_value(vs, missing, ctx)
    if values.dtype == object or isinstance(fill, str):
        extra = np.empty(len(absent), dtype=object)
        extra[:] = [fill] * len(absent)
        values = values.astype(object) if values.dtype != object else values
    else:
        extra = np.full(len(absent), fill, dtype=values.dtype if len(values) else np.asarray(fill).dtype)
    return np.concatenate([doc_seqs, absent]), np.concatenate([values, extra])


def value_format(vs: ValuesSource, pattern: str | None, time_zone: str | None = None) -> Any:
    """The format keys and values print with: the aggregation's `format` when given
    (a date pattern for dates, a DecimalFormat pattern for numbers), else the field's."""
    from .formats import decimal_format

    if vs.kind == "date":
        return date_format(pattern or (vs.fmt[1] if vs.fmt else DEFAULT_FORMAT), time_zone)
    if pattern is not None and vs.kind in ("long", "double") and vs.type_name != UNSIGNED:  # ES ignores it
        return decimal_format(pattern)
    return vs.fmt
