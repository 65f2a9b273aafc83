"""How a query value becomes what a field indexed, per field type, and the documents an
exact value or a range of values matches.

Keywords are their normalized text; numbers, dates and IPs are the order-preserving
bytes index/indexing.py writes (so a range is a walk over the field's terms), and when
the field has doc values a numeric or date range is one vectorised comparison over the
column instead (Elasticsearch's IndexOrDocValuesQuery makes the same choice). Values a
field cannot hold raise the errors Elasticsearch gives, which execution wraps in
"failed to create query".
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
import weakref
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, NumberFormatError, QueryShardError
from ...common.units import LONG_MAX, LONG_MIN
from ...engine.segment_reader import EMPTY_SEQS, SegmentReader
from ...index.indexing import sortable_double, sortable_ip, sortable_long
from ...index.mapping.dates import DEFAULT_FORMAT, formatter
from ...index.mapping.mappers import FieldMapper
from ...index.mapping.numbers import (
    FLOAT_TYPES,
    UNSIGNED,
    UNSIGNED_SHIFT,
    WHOLE_TYPES,
    java_float_text,
    java_round,
    scale_query_value,
    to_half,
    to_single,
    unsigned_term,
)
from ..context import ShardContext
from ..datemath import parse_date_math
from .combine import union_seqs

TEXT = ("text", "match_only_text")
TERM_SCORED = ("text", "match_only_text", "keyword", "boolean")  # TermQuery, BM25
_F32 = np.float32


CONSTANT = "constant_keyword"


def constant_seqs(ctx: ShardContext, mapper: FieldMapper, accept) -> np.ndarray:
    """A query on a constant_keyword field matches every document of the index or none,
    as the constant passes its test or not (ConstantFieldType): documents that leave the
    field out have the constant all the same."""
    value = mapper.constant
    return ctx.reader.docs() if value is not None and accept(value) else EMPTY_SEQS


def check_searchable(mapper: FieldMapper) -> None:
    if mapper.type_name == CONSTANT:
        return
    if not mapper.index and not mapper.doc_values:
        raise QueryShardError(f"Cannot search on field [{mapper.path}] since it is not indexed.")


def string_field(ctx: ShardContext, field: str, kind: str) -> FieldMapper | None:
    """The keyword or text field a term-walking query (prefix, wildcard, regexp, fuzzy)
    searches, None when unmapped; other types are refused with the message
    Elasticsearch gives for `kind`."""
    mapper = ctx.field(field)
    if mapper is None:
        return None
    if mapper.type_name not in ("keyword", CONSTANT, *TEXT):
        kinds = "keyword and text" if kind in ("regexp", "fuzzy") else "keyword, text and wildcard"
        raise QueryShardError(f"Can only use {kind} queries on {kinds} fields - not on [{field}] "
                              f"which is of type [{mapper.type_name}]")
    check_searchable(mapper)
    return mapper


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def keyword_term(ctx: ShardContext, mapper: FieldMapper, value: Any) -> bytes:
    text = text_of(value)
    if mapper.type_name == "keyword" and mapper.normalizer:
        normalizer = ctx.analyzers.normalizer(mapper.normalizer)
        if normalizer is not None:
            text = "".join(normalizer.analyze(text).terms)
    return text.encode()


def boolean_term(value: Any) -> bytes:
    if value is True or value == "true":
        return b"T"
    if value is False or value == "false" or value == "":
        return b"F"
    raise IllegalArgument(f"Can't parse boolean value [{text_of(value)}], expected [true] or [false]")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, dict | list)) or value is None:
        raise IllegalArgument(f"Cannot parse value [{text_of(value)}] as a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise IllegalArgument(f"Value [{value}] is out of range for a long")
        return Decimal(repr(value))
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise NumberFormatError(f'For input string: "{value}"') from None
    if not number.is_finite():
        raise NumberFormatError(f'For input string: "{value}"')
    return number


def whole_value(mapper: FieldMapper, value: Any) -> tuple[int, bool]:
    """A value for a whole-number field, truncated toward zero, and whether it had a
    decimal part (a term with one matches nothing; a range bound moves)."""
    number = _decimal(value)
    low, high, article, _ = WHOLE_TYPES[mapper.type_name]
    if not low - 1 < number < high + 1:  # compared first: int() of 1e999999999 would need gigabytes
        raise IllegalArgument(f"Value [{text_of(value)}] is out of range for {article}")
    truncated = int(number)
    if not low <= truncated <= high:
        raise IllegalArgument(f"Value [{text_of(value)}] is out of range for {article}")
    return truncated, number != truncated


def whole_term(mapper: FieldMapper, value: Any) -> int | None:
    """A term's value for a whole-number field; None when the field cannot hold it (a
    decimal part, out of the type's range): such a term matches nothing."""
    number = _decimal(value)
    low, high, _, _ = WHOLE_TYPES[mapper.type_name]
    if not low <= number <= high or number != int(number):
        return None
    return int(number)


def float_value(mapper: FieldMapper, value: Any, *, scale: bool = True, rounded: bool = True) -> float:
    """A query's number as the field holds it: at single precision for `float`, at half
    precision for `half_float` (unless `rounded` is off), and for `scaled_float` rounded to
    its scale (unless `scale` is off): range bounds round their own way."""
    if isinstance(value, (bool, dict | list)) or value is None:
        raise IllegalArgument(f"Cannot parse value [{text_of(value)}] as a number")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise NumberFormatError(f'For input string: "{value}"') from None
    else:
        number = float(value)
    if mapper.type_name in ("float", "half_float"):  # read as a float (Float.parseFloat), then checked
        number = to_single(number)
        held = to_half(number) if mapper.type_name == "half_float" else number
        if not math.isfinite(held):
            raise IllegalArgument(f"[{mapper.type_name}] supports only finite values, but got "
                                  f"[{java_float_text(number)}]")
        if rounded:
            number = held
    if math.isnan(number):
        raise IllegalArgument(f"[{mapper.type_name}] supports only finite values, but got [NaN]")
    if scale and mapper.type_name == "scaled_float":
        factor = mapper.get("scaling_factor")
        return java_round(scale_query_value(number, factor)) / factor
    return number


def ip_value(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text_of(value).split("%", 1)[0])
    except ValueError:
        raise IllegalArgument(f"'{text_of(value)}' is not an IP string literal.") from None


def ip_bytes(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    return sortable_ip(str(address))


def date_format(mapper: FieldMapper, override: str | None = None):
    pattern = override or mapper.params.get("format") or DEFAULT_FORMAT
    return formatter(pattern)


def date_millis(ctx: ShardContext, mapper: FieldMapper, value: Any, *, round_up: bool,
                format: str | None = None, time_zone: str | None = None) -> int:
    """A date query value in epoch millis: numbers are read with the field's format as
    their text (so epoch_millis applies), strings as date math."""
    if isinstance(value, (bool, dict | list)) or value is None:
        raise IllegalArgument(f"failed to parse date field [{text_of(value)}]")
    text = text_of(value) if not isinstance(value, float) else _plain(value)
    return parse_date_math(text, ctx.now_millis, round_up=round_up, formatter=date_format(mapper, format),
                           time_zone=time_zone)


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# -- documents for exact values and ranges ------------------------------------------------------


def term_seqs(reader: SegmentReader, field: str, term: bytes) -> np.ndarray:
    return reader.postings(field, term).seqs


def term_range_seqs(reader: SegmentReader, field: str, lower: bytes | None, upper: bytes | None,
                    include_lower: bool, include_upper: bool) -> np.ndarray:
    """Documents with a term between two byte strings (TermRangeQuery)."""
    start = lower if lower is not None else b""
    parts = []
    for term in reader.terms(field, start):
        if lower is not None and not include_lower and term == lower:
            continue
        if upper is not None and (term > upper or (term == upper and not include_upper)):
            break
        parts.append(reader.postings(field, term).seqs)
    return union_seqs(parts)


def successor(term: bytes) -> bytes | None:
    """The next byte string of the same length (None past the largest)."""
    n = int.from_bytes(term, "big") + 1
    if n >> (8 * len(term)):
        return None
    return n.to_bytes(len(term), "big")


def closed_bytes_range(reader: SegmentReader, field: str, lower: bytes, upper: bytes) -> np.ndarray:
    """Documents with a fixed-width term in [lower, upper]."""
    if lower > upper:
        return EMPTY_SEQS
    stop = successor(upper)
    return union_seqs([reader.postings(field, t).seqs for t in reader.terms(field, lower, stop)])


def column_range(reader: SegmentReader, field: str, low: float, high: float) -> np.ndarray:
    """Documents with a doc value in [low, high]: one comparison over the column."""
    column = reader.doc_values(field)
    if not len(column) or low > high:
        return EMPTY_SEQS
    values = column.values
    if values.dtype.kind not in "iuf":
        return EMPTY_SEQS
    if values.dtype.kind in "iu":
        # bounds beyond int64 compare as the extreme int64 values
        low = max(low, LONG_MIN) if not math.isinf(low) else LONG_MIN
        high = min(high, LONG_MAX) if not math.isinf(high) else LONG_MAX
        low, high = math.ceil(low), math.floor(high)
        if low > high:
            return EMPTY_SEQS
    mask = values >= low
    mask &= values <= high
    seqs = column.seqs[mask]
    if len(seqs) > 1 and _multi_valued(reader, field):  # a document's values repeat its seq
        seqs = np.unique(seqs)
    return seqs


_MULTI_VALUED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MULTI_VALUED_LOCK = threading.Lock()


def _multi_valued(reader: SegmentReader, field: str) -> bool:
    """Whether any document has several values in the field's column (per reader)."""
    per_reader = _MULTI_VALUED.get(reader)
    if per_reader is None:
        with _MULTI_VALUED_LOCK:
            per_reader = _MULTI_VALUED.setdefault(reader, {})
    known = per_reader.get(field)
    if known is None:
        seqs = reader.doc_values(field).seqs
        known = per_reader[field] = bool(len(seqs) > 1 and not (seqs[1:] > seqs[:-1]).all())
    return known


def keyword_column_seqs(reader: SegmentReader, field: str, text: str) -> np.ndarray:
    column = reader.doc_values(field)
    if not len(column):
        return EMPTY_SEQS
    seqs = column.seqs[column.values == text]
    return np.unique(seqs) if _multi_valued(reader, field) else seqs


def whole_range(reader: SegmentReader, mapper: FieldMapper, low: int, high: int) -> np.ndarray:
    if low > high:
        return EMPTY_SEQS
    if mapper.doc_values:
        return column_range(reader, mapper.path, low, high)
    return closed_bytes_range(reader, mapper.path, sortable_long(max(low, LONG_MIN)),
                              sortable_long(min(high, LONG_MAX)))


def double_range(reader: SegmentReader, mapper: FieldMapper, low: float, high: float) -> np.ndarray:
    if low > high:
        return EMPTY_SEQS
    if mapper.doc_values:
        return column_range(reader, mapper.path, low, high)
    return closed_bytes_range(reader, mapper.path, sortable_double(low), sortable_double(high))


def next_up(value: float, mapper: FieldMapper) -> float:
    """Math.nextUp in the field's precision."""
    if mapper.type_name == "half_float":  # the first half-precision number above the value
        half = to_half(value)
        if half > value:
            return half
        with np.errstate(over="ignore"):  # past the largest half: infinity
            return float(np.nextafter(np.float16(half), np.float16(np.inf)))
    if mapper.type_name == "float":
        return float(np.nextafter(_F32(value), _F32(np.inf)))
    return math.nextafter(value, math.inf)


def next_down(value: float, mapper: FieldMapper) -> float:
    if mapper.type_name == "half_float":
        half = to_half(value)
        if half < value:
            return half
        with np.errstate(over="ignore"):
            return float(np.nextafter(np.float16(half), np.float16(-np.inf)))
    if mapper.type_name == "float":
        return float(np.nextafter(_F32(value), _F32(-np.inf)))
    return math.nextafter(value, -math.inf)


_CIDR = re.compile(r"(.+)/(\d{1,3})")


def ip_term_seqs(reader: SegmentReader, mapper: FieldMapper, value: Any) -> np.ndarray:
    """An IP term: one address, or every address of a CIDR block."""
    text = text_of(value)
    m = _CIDR.fullmatch(text)
    if m is None:
        return term_seqs(reader, mapper.path, ip_bytes(ip_value(text)))
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise IllegalArgument(f"Expected [ip/prefix] but was [{text}]") from None
    return closed_bytes_range(reader, mapper.path, ip_bytes(network.network_address),
                              ip_bytes(network.broadcast_address))


def exact_seqs(ctx: ShardContext, mapper: FieldMapper, value: Any) -> tuple[np.ndarray, bytes | None]:
    """The documents a term query of this value matches, and the term when the field
    scores by BM25 (None for points, which score a constant)."""
    reader, field, kind = ctx.reader, mapper.path, mapper.type_name
    check_searchable(mapper)
    if kind == CONSTANT:
        wanted = text_of(value)
        return constant_seqs(ctx, mapper, wanted.__eq__), None
    if kind in ("keyword", "text", "match_only_text"):
        term = keyword_term(ctx, mapper, value)
        if not mapper.index:  # a keyword searchable through its doc values only
            return keyword_column_seqs(reader, field, term.decode()), None
        return term_seqs(reader, field, term), term
    if kind == "boolean":
        term = boolean_term(value)
        return term_seqs(reader, field, term), term
    if kind in WHOLE_TYPES:
        number = whole_term(mapper, value)
        if number is None:
            return EMPTY_SEQS, None
        if not mapper.index:
            return column_range(reader, field, number, number), None
        return term_seqs(reader, field, sortable_long(number)), None
    if kind == UNSIGNED:
        number = unsigned_term(value)
        if number is None:
            return EMPTY_SEQS, None
        held = number - UNSIGNED_SHIFT
        if not mapper.index:
            return column_range(reader, field, held, held), None
        return term_seqs(reader, field, sortable_long(held)), None
    if kind in FLOAT_TYPES:
        number = float_value(mapper, value)
        if not mapper.index:
            return column_range(reader, field, number, number), None
        return term_seqs(reader, field, sortable_double(number)), None
    if kind == "date":
        low = date_millis(ctx, mapper, value, round_up=False)
        high = date_millis(ctx, mapper, value, round_up=True)
        return whole_range(reader, mapper, low, high), None
    if kind == "ip":
        return ip_term_seqs(reader, mapper, value), None
    if kind == "geo_point":
        raise QueryShardError("Geometry fields do not support exact searching, use dedicated geometry "
                              f"queries instead: [{field}]")
    raise QueryShardError(f"Field [{field}] of type [{kind}] does not support term queries")


METADATA = ("_id", "_index")


def metadata_seqs(ctx: ShardContext, field: str, values: list[Any]) -> np.ndarray:
    """Documents whose `_id` is one of the values, or all of them when `_index` names
    this shard's index (both constant-score, as their field types build them)."""
    if field == "_index":
        return ctx.reader.docs() if any(text_of(v) == ctx.index for v in values) else EMPTY_SEQS
    found = [ctx.reader.seq_for_id(text_of(v)) for v in values]
    return np.unique(np.asarray([s for s in found if s is not None], dtype=np.int64))


def exists_seqs(ctx: ShardContext, path: str) -> np.ndarray:
    """Documents with a value in the field, or in any field under an object path."""
    if path in METADATA:
        return ctx.reader.docs()
    mapper = ctx.field(path)
    if mapper is not None:
        return _field_exists(ctx.reader, mapper)
    prefix = path + "."
    parts = [_field_exists(ctx.reader, m) for p, m in ctx.mapping.fields.items() if p.startswith(prefix)]
    return union_seqs(parts)


def _field_exists(reader: SegmentReader, mapper: FieldMapper) -> np.ndarray:
    if mapper.type_name == CONSTANT:
        return reader.docs() if mapper.constant is not None else EMPTY_SEQS
    if mapper.type_name in TEXT:
        return reader.norms(mapper.path).seqs
    if mapper.doc_values:
        seqs = reader.doc_values(mapper.path).seqs
        return np.unique(seqs) if _multi_valued(reader, mapper.path) else seqs
    if not mapper.index:
        return EMPTY_SEQS
    return union_seqs([reader.postings(mapper.path, t).seqs for t in reader.terms(mapper.path)])
