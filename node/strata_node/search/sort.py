"""Sorting: the `sort` of a search body, the per-shard top k, sort values and search_after.

A sort is a list of keys (`_score`, `_doc` or a field). On a shard every key becomes an
array aligned with the matched documents, in *value space*: the numbers or strings the
hits' `sort` arrays show, with a missing document given the value Elasticsearch gives it
(Long.MAX_VALUE / +Infinity for a numeric `_last` ascending, null for a keyword). The top
k is then picked with numpy (a partition on the first key, a lexsort of the candidates),
ties broken by sequence number as Lucene breaks them by doc id. search_after filters on
the same value space, so a sort value handed back to a client is exactly what it sends
back on the next page. The coordinator merges shards with `compare_hits` on the same
values, ties broken by shard then sequence number.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..common.errors import IllegalArgument, ParsingError, QueryShardError, XContentParseError
from ..common.units import LONG_MAX, LONG_MIN, java_long
from ..common.xcontent import token_name
from ..index.mapping.dates import DEFAULT_FORMAT, formatter
from ..index.mapping.errors import MalformedValue
from ..index.mapping.numbers import (
    UNSIGNED,
    UNSIGNED_SHIFT,
    java_round,
    parse_java_double,
    parse_unsigned,
    parse_unsigned_long,
    text_of_scalar,
    unshift_unsigned,
)
from ..index.mapping.types import FIELD_TYPES
from .context import ShardContext
from .datemath import parse_date_math
from .geo_sort import GeoDistanceSort, geo_distances, parse_geo_distance_sort

SCORE = "_score"
DOC = "_doc"
MODES = ("min", "max", "sum", "avg", "median")
INTEGRAL_TYPES = ("long", "integer", "short", "byte", "date", "boolean")
FLOAT_TYPES = ("double", "float", "half_float", "scaled_float")
STRING_TYPES = ("keyword", "ip")
SORT_OPTIONS = ("order", "missing", "unmapped_type", "mode", "numeric_type", "format")


@dataclass(frozen=True)
class SortKey:
    """One key of a sort: `_score`, `_doc` or a field, with its order and options."""

    field: str
    order: str = "asc"
    missing: Any = "_last"
    unmapped_type: str | None = None
    mode: str | None = None
    geo: GeoDistanceSort | None = None  # a `_geo_distance` sort on the geo_point `field`
    format: str | None = None  # a date field's sort values printed with it (DocValueFormat)

    @property
    def reverse(self) -> bool:
        return self.order == "desc"

    @property
    def is_score(self) -> bool:
        return self.field == SCORE


# -- parsing ---------------------------------------------------------------------------------

def _order(value: Any) -> str:
    if isinstance(value, str) and value.lower() in ("asc", "desc"):
        return value.lower()
    raise IllegalArgument(f"Unknown SortOrder [{value}]")


def _key(field: str, options: Any) -> SortKey:
    if field == "_geo_distance":
        geo_field, order, mode, geo = parse_geo_distance_sort(options)
        return SortKey(geo_field, order, "_last", None, mode, geo)
    if field == "_script":
        raise IllegalArgument(f"sort type [{field}] is not supported")
    default_order = "desc" if field == SCORE else "asc"
    if isinstance(options, str):
        return SortKey(field, _order(options))
    if not isinstance(options, dict):
        raise ParsingError(f"[{'_score' if field == SCORE else 'field_sort'}] unexpected token "
                           f"[{token_name(options)}] for sort field [{field}]")
    parser = "score_sort" if field in (SCORE, DOC) else "field_sort"
    known = ("order",) if field == SCORE else SORT_OPTIONS
    for name in options:
        if name not in known:
            raise XContentParseError(f"[{parser}] unknown field [{name}]")
    order = _order(options["order"]) if "order" in options else default_order
    mode = options.get("mode")
    if mode is not None and mode not in MODES:
        raise IllegalArgument(f"Unknown SortMode [{mode}]")
    missing = options.get("missing", "_last")
    if missing is None:
        missing = "_last"
    unmapped_type = options.get("unmapped_type")
    if unmapped_type is not None and not isinstance(unmapped_type, str):
        raise XContentParseError(f"[{parser}] unmapped_type doesn't support values of type: "
                                 f"{'START_OBJECT' if isinstance(unmapped_type, dict) else 'START_ARRAY'}")
    fmt = options.get("format")
    if fmt is not None:
        if isinstance(fmt, dict | list):
            raise XContentParseError(f"[{parser}] format doesn't support values of type: {token_name(fmt)}")
        fmt = text_of_scalar(fmt)
    return SortKey(field, order, missing, unmapped_type, mode, format=fmt)


def parse_sort(value: Any) -> list[SortKey]:
    """A body's `sort`: a field name, an object of field -> order or options, or an array
    of those (SortBuilder.fromXContent)."""
    items = value if isinstance(value, list) else [value]
    keys: list[SortKey] = []
    for item in items:
        if isinstance(item, str):
            keys.append(SortKey(item, "desc" if item == SCORE else "asc"))
        elif isinstance(item, dict):
            keys.extend(_key(field, options) for field, options in item.items())
        else:
            raise ParsingError(f"malformed sort format, within the sort array, an object, or an actual "
                               f"string are allowed, got [{token_name(item)}]")
    return keys


def parse_sort_param(text: str) -> list[SortKey]:
    """The `sort` URL parameter: `field`, `field:asc`, `field:desc`, comma separated. A
    part with a colon and any other order is passed over, as RestSearchAction does."""
    keys = []
    for part in text.split(","):
        if not part:
            continue
        field, sep, order = part.rpartition(":")
        if not sep:
            keys.append(SortKey(part, "desc" if part == SCORE else "asc"))
        elif order in ("asc", "desc"):
            keys.append(SortKey(field, order))
    return keys


def is_relevance(keys: Sequence[SortKey] | None) -> bool:
    """No sort, or `_score` descending alone: the default relevance order, whose hits
    carry no `sort` values (SortBuilder.buildSort returns no sort for it)."""
    return not keys or (len(keys) == 1 and keys[0].is_score and keys[0].reverse)


def needs_scores(keys: Sequence[SortKey] | None) -> bool:
    return not keys or any(k.is_score for k in keys)


# -- per shard: values of the matched documents ----------------------------------------------

_reduced_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _per_document(ctx: ShardContext, field: str, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(sequence numbers, one value each) of a field's doc values, a multi-valued document
    reduced by `mode`. Kept per reader (one per refresh), since every sorted search on the
    field needs it and a reader's columns never change."""
    reader = ctx.reader
    with _cache_lock:
        per_reader = _reduced_cache.setdefault(reader, {})
        cached = per_reader.get((field, mode))
    if cached is not None:
        return cached
    column = ctx.doc_values(field)
    seqs, values = column.seqs, column.values
    if len(seqs) and np.any(seqs[1:] == seqs[:-1]):
        uniq, starts = np.unique(seqs, return_index=True)
        if mode == "min":
            values = np.minimum.reduceat(values, starts)
        elif mode == "max":
            values = np.maximum.reduceat(values, starts)
        else:
            values = _combine(values, starts, mode)
        seqs = uniq
    result = (seqs, values)
    with _cache_lock:
        _reduced_cache.setdefault(reader, {})[(field, mode)] = result
    return result


def _combine(values: np.ndarray, starts: np.ndarray, mode: str) -> np.ndarray:
    """The sum, avg or median of each document's values (`starts` opens each document's
    run), as MultiValueMode picks them. An integral column stays in long arithmetic (a sum
    wraps as Java's does; a double would lose digits past 2^53), its average and the middle
    pair of an even median rounded half up (Math.round), so the values remain longs."""
    counts = np.diff(np.append(starts, len(values)))
    floating = np.issubdtype(values.dtype, np.floating)
    if not floating:
        values = values.astype(np.int64)  # booleans count as 0 and 1
    # each document's values in ascending order, as sorted numeric doc values hold them
    documents = np.repeat(np.arange(len(starts)), counts)
    values = values[np.lexsort((values, documents))]
    if mode == "median":
        low, high = values[starts + (counts - 1) // 2], values[starts + counts // 2]
        odd = counts % 2 == 1
        if floating:
            return np.where(odd, low, (low + high) / 2)
        return np.where(odd, low, _java_rounded((low.astype(np.float64) + high.astype(np.float64)) / 2))
    sums = np.add.reduceat(values, starts)
    if mode == "sum":
        return sums
    if floating:
        return sums / counts
    return np.where(counts > 1, _java_rounded(sums.astype(np.float64) / counts), sums)


def _java_rounded(numbers: np.ndarray) -> np.ndarray:
    """Math.round of doubles that lie within a long's range: half up, 2^63 clamped to
    Long.MAX_VALUE (the nearest double to it)."""
    beyond = numbers >= 2.0 ** 63
    numbers = np.where(beyond, 0.0, numbers)
    whole = np.floor(numbers)
    rounded = (whole + (numbers - whole >= 0.5)).astype(np.int64)
    rounded[beyond] = LONG_MAX
    return rounded


def _sort_form(kind: str, value: Any) -> Any:
    """How a string-like value compares: an IP by its 16-byte form, a keyword as itself
    (Python compares str by code point, which is the UTF-8 byte order Lucene uses)."""
    return _ip_bytes(value) if kind == "ip" else value


def _ordinals(ctx: ShardContext, field: str, mode: str, kind: str):
    """Global ordinals of a string field for one reader, as Lucene keeps them per segment:
    (seqs, each document's ordinal, the distinct values in order, their sort forms).
    Sorting a million keyword values then compares integers, and the string sort is done
    once per refresh rather than per request."""
    with _cache_lock:
        cached = _reduced_cache.setdefault(ctx.reader, {}).get((field, mode, "ordinals"))
    if cached is not None:
        return cached
    seqs, values = _per_document(ctx, field, mode)
    if kind == "ip":
        distinct = sorted(set(values.tolist()), key=_ip_bytes)
        position = {v: i for i, v in enumerate(distinct)}
        ranks = np.fromiter((position[v] for v in values.tolist()), np.int64, len(values))
        lookup = np.empty(len(distinct), dtype=object)
        lookup[:] = distinct
        forms = np.empty(len(distinct), dtype=object)
        forms[:] = [_ip_bytes(v) for v in distinct]
    else:
        lookup, ranks = np.unique(values, return_inverse=True)
        forms = lookup
    result = (seqs, ranks.astype(np.int64), lookup, forms)
    with _cache_lock:
        _reduced_cache.setdefault(ctx.reader, {})[(field, mode, "ordinals")] = result
    return result


def _rank(forms: np.ndarray, kind: str, value: Any) -> int:
    """A value's place among the distinct values, doubled so that a value the shard does
    not hold falls between two that it does (odd: held, even: between)."""
    form = _sort_form(kind, value)
    lo = int(np.searchsorted(forms, form, side="left")) if len(forms) else 0
    return 2 * lo + 1 if lo < len(forms) and forms[lo] == form else 2 * lo


@dataclass
class KeyValues:
    """One sort key's values for the matched documents. Numbers are kept in value space
    (`values`, a missing document holding the value Elasticsearch gives it); strings as
    doubled ordinals (`ranks`, see `_rank`) into `lookup`, with `missing` marking documents
    without a value (a substituted `missing` value is `custom`)."""

    key: SortKey
    values: np.ndarray | None
    kind: str  # "int", "unsigned" (held shifted, as doc values hold it), "float", "float32", "str", "ip"
    missing: np.ndarray | None = None
    ranks: np.ndarray | None = None
    lookup: np.ndarray | None = None
    forms: np.ndarray | None = None
    custom: Any = None
    type_name: str | None = None  # the field's mapped type (None: _score, _doc, unmapped)
    date_format: str | None = None  # a date field's: the sort's `format`, else the mapping's

    @property
    def size(self) -> int:
        return len(self.ranks if self.values is None else self.values)

    @property
    def formatted(self) -> bool:
        """Sort values printed as dates: only when the sort names a format, as ES's
        DocValueFormat.DateTime.formatSortValue prints them (else the raw millis)."""
        return self.key.format is not None and self.date_format is not None

    def subset(self, positions: np.ndarray) -> KeyValues:
        return KeyValues(self.key, None if self.values is None else self.values[positions], self.kind,
                         None if self.missing is None else self.missing[positions],
                         None if self.ranks is None else self.ranks[positions], self.lookup, self.forms,
                         self.custom, self.type_name, self.date_format)

    def render(self, i: int) -> Any:
        if self.missing is not None and self.missing[i]:
            return None
        if self.ranks is not None:
            rank = int(self.ranks[i])
            return self.lookup[rank // 2] if rank % 2 else self.custom
        value = self.values[i]
        if self.kind == "int":
            return formatter(self.date_format).format_millis(int(value)) if self.formatted else int(value)
        if self.kind == "unsigned":
            return unshift_unsigned(value)
        if self.kind == "float":
            return float(value)
        return _float32(value)

    def merge_value(self, i: int) -> Any:
        """What the coordinator compares: the rendered value, except an IP, which sorts by
        its 16-byte form rather than its text, and a date by its millis rather than its text."""
        if self.formatted:
            return int(self.values[i])
        value = self.render(i)
        if self.kind == "ip" and value is not None:
            return _ip_bytes(value)
        return value


def _float32(value: Any) -> float:
    """A float as Java prints a float: the shortest decimal that reads back to it."""
    return float(str(np.float32(value)))


def fielddata_error(ctx: ShardContext, field: str) -> IllegalArgument:
    return IllegalArgument(
        f"Fielddata is disabled on [{field}] in [{ctx.index}]. Text fields are not optimised for operations "
        "that require per-document field data like aggregations and sorting, so these operations are "
        "disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on "
        f"[{field}] in order to load field data by uninverting the inverted index. Note that this can "
        "use significant memory.")


def _type_of(ctx: ShardContext, key: SortKey) -> str | None:
    mapper = ctx.field(key.field)
    if mapper is None:
        if key.unmapped_type is None:
            raise QueryShardError(f"No mapping found for [{key.field}] in order to sort on",
                                  index_uuid="_na_", index=ctx.index)
        if key.unmapped_type not in FIELD_TYPES:
            raise IllegalArgument(f"No mapper found for type [{key.unmapped_type}]")
        return None
    if mapper.type_name == "text":
        raise fielddata_error(ctx, key.field)
    if mapper.type_name == "geo_point":
        raise IllegalArgument("can't sort on geo_point field without using specific sorting feature, like "
                              "geo_distance")
    if not mapper.doc_values:
        raise IllegalArgument(f"Can't load fielddata on [{key.field}] because fielddata is unsupported on "
                              f"fields of type [{mapper.type_name}]. Use doc values instead.")
    return mapper.type_name


def _date_format(key: SortKey, type_name: str | None, mapper: Any) -> str | None:
    """The date format a date field's sort values print and search_after values parse
    with; a `format` on a field that takes none is refused, as its docValueFormat refuses it."""
    if type_name == "date":
        pattern = key.format or (str(mapper.get("format")) if mapper is not None else DEFAULT_FORMAT)
        formatter(pattern)  # an invalid pattern: IllegalArgument("Invalid format: [...]")
        return pattern
    if key.format is not None and type_name in ("keyword", "ip", "boolean", "constant_keyword"):
        raise IllegalArgument(f"Field [{key.field}] of type [{type_name}] does not support custom formats")
    return None


def _kind(type_name: str) -> str:
    if type_name in INTEGRAL_TYPES:
        return "int"
    if type_name == UNSIGNED:
        return "unsigned"
    if type_name == "float" or type_name == "half_float":
        return "float32"
    if type_name in FLOAT_TYPES:
        return "float"
    if type_name == "ip":
        return "ip"
    return "str"


def _missing_value(key: SortKey, kind: str, convert: Callable[[Any], Any] | None) -> Any:
    """The value a document without one sorts (and shows) as."""
    last = key.missing == "_last"
    if key.missing in ("_last", "_first"):
        high = last != key.reverse
        if kind in ("int", "unsigned"):
            return LONG_MAX if high else LONG_MIN
        if kind in ("float", "float32"):
            return math.inf if high else -math.inf
        return None
    value = key.missing
    try:
        if convert is not None and kind not in ("float", "float32"):  # ES reads those as a double
            value = convert(value)
        if kind == "int":
            number = int(value)
            if not LONG_MIN <= number <= LONG_MAX:  # the column is a long's
                raise ValueError(value)
            return number
        if kind == "unsigned":
            return parse_unsigned(value) - UNSIGNED_SHIFT
        if kind in ("float", "float32"):
            return float(value)
        return str(value)
    except (TypeError, ValueError, OverflowError, MalformedValue):
        raise IllegalArgument(f"failed to parse missing value [{key.missing}] of sort field [{key.field}]") \
            from None


def key_values(ctx: ShardContext, key: SortKey, seqs: np.ndarray, scores: np.ndarray | None) -> KeyValues:
    """The values of one sort key for the matched documents `seqs`."""
    if key.field == SCORE:
        return KeyValues(key, scores if scores is not None else np.zeros(len(seqs), np.float32), "float32")
    if key.field == DOC:
        return KeyValues(key, seqs, "int")
    if key.geo is not None:
        return KeyValues(key, geo_distances(ctx, key.field, key.geo, key.reverse, key.mode, seqs), "float")
    type_name = _type_of(ctx, key)
    kind = _kind(type_name or key.unmapped_type)
    if key.mode in ("sum", "avg", "median") and kind not in ("int", "unsigned", "float", "float32"):
        raise IllegalArgument("we only support AVG, MEDIAN and SUM on number based fields")
    mapper = ctx.field(key.field)
    date_format = _date_format(key, type_name or key.unmapped_type, mapper)
    missing_value = _missing_value(key, kind, mapper.convert if mapper is not None else None)
    if type_name is None:
        doc_seqs, doc_values = seqs[:0], np.empty(0, dtype=object)
    else:
        doc_seqs, doc_values = _per_document(ctx, key.field, key.mode or ("max" if key.reverse else "min"))
    idx = np.searchsorted(doc_seqs, seqs)
    idx_clipped = np.minimum(idx, max(len(doc_seqs) - 1, 0))
    present = (idx < len(doc_seqs)) & (doc_seqs[idx_clipped] == seqs) if len(doc_seqs) else \
        np.zeros(len(seqs), dtype=bool)
    if kind in ("int", "unsigned", "float", "float32"):
        dtype = np.int64 if kind in ("int", "unsigned") else np.float64
        values = np.full(len(seqs), missing_value, dtype=dtype)
        if len(doc_seqs):
            values[present] = doc_values[idx_clipped[present]].astype(dtype)
        return KeyValues(key, values, kind, type_name=type_name or key.unmapped_type, date_format=date_format)
    if type_name is None:
        doc_ranks, lookup, forms = np.empty(0, np.int64), np.empty(0, dtype=object), np.empty(0, dtype=object)
    else:
        mode = key.mode or ("max" if key.reverse else "min")
        doc_seqs, doc_ranks, lookup, forms = _ordinals(ctx, key.field, mode, kind)
    ranks = np.zeros(len(seqs), dtype=np.int64)
    if len(doc_seqs):
        ranks[present] = 2 * doc_ranks[idx_clipped[present]] + 1
    if missing_value is not None:
        ranks[~present] = _rank(forms, kind, missing_value)
        return KeyValues(key, None, kind, None, ranks, lookup, forms, missing_value)
    return KeyValues(key, None, kind, ~present, ranks, lookup, forms)


def _ip_bytes(text: str) -> bytes:
    address = ipaddress.ip_address(text)
    if address.version == 4:
        return b"\0" * 10 + b"\xff\xff" + address.packed
    return address.packed


def _ordering_array(kv: KeyValues) -> np.ndarray:
    """An ascending numeric key for lexsort that orders documents as the sort key does."""
    if kv.ranks is None:
        values = kv.values
        if kv.kind in ("int", "unsigned"):
            return ~values if kv.key.reverse else values  # ~v reverses int64 order without overflow
        return -values.astype(np.float64) if kv.key.reverse else values.astype(np.float64)
    ranks = -kv.ranks if kv.key.reverse else kv.ranks.copy()
    if kv.missing is not None:
        beyond = 2 * len(kv.lookup) + 3
        ranks[kv.missing] = beyond if kv.key.missing == "_last" else -beyond
    return ranks


def top_k(keys: list[KeyValues], k: int) -> np.ndarray:
    """Positions of the first k documents in sort order (ties by position, which is
    sequence number order since matches are sorted by seq)."""
    n = keys[0].size if keys else 0
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    arrays = [_ordering_array(kv) for kv in keys]
    primary = arrays[0]
    if n > k:
        kth = np.partition(primary, k - 1)[k - 1]
        if len(arrays) == 1:
            less = np.flatnonzero(primary < kth)
            equal = np.flatnonzero(primary == kth)[:k - len(less)]
            candidates = np.concatenate([less, equal])
        else:
            candidates = np.flatnonzero(primary <= kth)
    else:
        candidates = np.arange(n)
    order = np.lexsort([candidates] + [a[candidates] for a in reversed(arrays)])
    return candidates[order][:k]


# -- search_after ----------------------------------------------------------------------------

def _after_value(kv: KeyValues, value: Any) -> Any:
    key = kv.key
    if kv.kind in ("int", "unsigned", "float", "float32"):
        if value is None:
            return _missing_value(key if key.missing in ("_last", "_first") else
                                  SortKey(key.field, key.order, "_last"), kv.kind, None)
        try:
            if kv.kind == "unsigned":  # DocValueFormat.UNSIGNED_LONG_SHIFTED.parseLong: parseUnsignedLong
                return parse_unsigned_long(text_of_scalar(value)) - UNSIGNED_SHIFT
            if kv.kind == "int":
                return _after_long(kv, value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)  # Number.doubleValue()
            return parse_java_double(text_of_scalar(value))  # DocValueFormat.RAW.parseDouble
        except (TypeError, ValueError, OverflowError, MalformedValue):
            raise IllegalArgument(f"Failed to parse search_after value for field [{key.field}].") from None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _after_long(kv: KeyValues, value: Any) -> int:
    """SearchAfterBuilder.convertValueFromSortType for a LONG sort: a number is read as
    Number.longValue() reads it (saturating), anything else as text through the field's
    DocValueFormat: a date by its format, a boolean by true/false, a number as RAW reads it."""
    if isinstance(value, float):
        return 0 if math.isnan(value) else max(LONG_MIN, min(LONG_MAX, int(value)))
    if isinstance(value, int) and not isinstance(value, bool):
        return max(LONG_MIN, min(LONG_MAX, value))  # past a long: RAW.parseLong of its text saturates
    text = text_of_scalar(value)
    if kv.date_format is not None:  # DocValueFormat.DateTime.parseLong: date math, without now
        if text.startswith("now"):
            raise IllegalArgument("now() is not allowed in [search_after] key")
        return parse_date_math(text, 0, round_up=False, formatter=formatter(kv.date_format))
    if kv.type_name == "boolean":
        if text in ("true", "false"):
            return int(text == "true")
        raise IllegalArgument(f"Cannot parse boolean [{text}], expected either [true] or [false]")
    whole = java_long(text)
    if whole is not None:
        return whole
    return java_round(math.floor(parse_java_double(text)))  # not a double: MalformedValue


def after_mask(keys: list[KeyValues], after: Sequence[Any]) -> np.ndarray:
    """Documents strictly after the `after` sort values (a tie is not after, as Lucene's
    paging collector excludes it)."""
    if len(after) != len(keys):
        raise IllegalArgument(f"search_after has {len(after)} value(s) but sort has {len(keys)}.")
    n = keys[0].size
    greater = np.zeros(n, dtype=bool)
    equal = np.ones(n, dtype=bool)
    for kv, raw in zip(keys, after, strict=True):
        a = _after_value(kv, raw)
        if kv.ranks is None:
            values = kv.values
            after_v = values < a if kv.key.reverse else values > a
            same = values == a
        else:
            missing = kv.missing if kv.missing is not None else np.zeros(n, dtype=bool)
            last = kv.key.missing == "_last"
            if a is None:
                after_v = np.zeros(n, dtype=bool) if last else ~missing
                same = missing.copy()
            else:
                try:
                    target = _rank(kv.forms, kv.kind, a)
                except ValueError:
                    raise IllegalArgument(f"Failed to parse search_after value for field [{kv.key.field}].") \
                        from None
                ranks = kv.ranks
                after_v = ((ranks < target) if kv.key.reverse else (ranks > target)) & ~missing
                same = (ranks == target) & ~missing
                if last:
                    after_v |= missing
        greater |= equal & after_v
        equal &= same
    return greater


# -- coordinating merge ------------------------------------------------------------------------

def _compare_value(key: SortKey, a: Any, b: Any) -> int:
    if a == b:
        return 0
    if a is None or b is None:  # strings without a value
        a_first = key.missing == "_first" if a is None else key.missing == "_last"
        return -1 if a_first else 1
    try:
        less = a < b
    except TypeError:
        raise IllegalArgument(f"Can't sort on field [{key.field}]: it has incompatible types across the "
                              "indices searched") from None
    result = -1 if less else 1
    return -result if key.reverse else result


def sort_comparator(keys: Sequence[SortKey]) -> Callable[[Any], Any]:
    """A sort key function over (sort values, shard ordinal, seq) tuples: the merge order of
    hits from several shards."""

    def compare(x: tuple, y: tuple) -> int:
        for key, a, b in zip(keys, x[0], y[0], strict=True):
            c = _compare_value(key, a, b)
            if c:
                return c
        return (x[1] > y[1]) - (x[1] < y[1]) or (x[2] > y[2]) - (x[2] < y[2])

    return functools.cmp_to_key(compare)


def render_sort_value(value: Any) -> Any:
    """Infinity has no JSON number: Elasticsearch writes it as a string."""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
