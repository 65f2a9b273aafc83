"""Partial updates: reading an update body as Elasticsearch's UpdateRequest parser does,
merging a `doc` into the current source (objects merge recursively, every other value
replaces), and detecting no-ops."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..common.errors import IllegalArgument, NumberFormatError, StrataError
from ..common.units import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, java_long
from ..common.xcontent import ObjectFields
from ..index.mapping.numbers import is_java_double, parse_java_double
from .source_filter import check_fetch_source

# What `new BigDecimal(text)` reads: the fraction's digits (either form) and the exponent
_BIG_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_LONG_DIGITS = 19  # the digits of Long.MAX_VALUE: toLong checks a BigDecimal's scale against it


def merge(current: dict[str, Any], changes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Returns the merged document and whether anything changed."""
    merged = dict(current)
    changed = False
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            child, child_changed = merge(old, value)
            merged[key] = child
            changed |= child_changed
        else:
            if key not in merged or old != value or type(old) is not type(value):
                changed = True
            merged[key] = value
    return merged, changed


@dataclass
class UpdateSpec:
    doc: dict[str, Any] | None = None
    upsert: dict[str, Any] | None = None
    doc_as_upsert: bool = False
    detect_noop: bool = True
    fetch_source: Any = None  # the `_source` of the update body, for the `get` section
    if_seq_no: int | None = None  # compare-and-set may also come in the body
    if_primary_term: int | None = None


PARSER_NAME = "UpdateRequest"
# The fields of UpdateRequest's ObjectParser and the tokens each accepts.
_FIELDS: dict[str, tuple[str, ...]] = {
    "script": ("START_OBJECT", "VALUE_STRING"),
    "scripted_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "upsert": ("START_OBJECT",),
    "doc": ("START_OBJECT",),
    "doc_as_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "detect_noop": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "_source": ("START_OBJECT", "START_ARRAY", "VALUE_BOOLEAN", "VALUE_STRING"),
    "if_seq_no": ("VALUE_NUMBER", "VALUE_STRING"),
    "if_primary_term": ("VALUE_NUMBER", "VALUE_STRING"),
}


def parse_update_body(raw: bytes, *, line_offset: int = 0) -> UpdateSpec:
    """Read an update body. Problems are x_content_parse_exception located at the field,
    worded as Elasticsearch's ObjectParser words them. An empty body is an empty update,
    which validation then refuses ("script or doc is missing")."""
    spec = UpdateSpec()
    if not raw.strip():
        return spec
    body = ObjectFields(PARSER_NAME, raw, _FIELDS, line_offset=line_offset)
    fail = body.fail
    for key, value in body.items():
        if key in ("script", "scripted_upsert"):
            raise IllegalArgument("scripted updates are not supported by Strata: use [doc] or [upsert]")
        if key in ("doc_as_upsert", "detect_noop"):
            if isinstance(value, str):
                if value not in ("true", "false"):
                    raise fail(key, f"failed to parse field [{key}]", cause=IllegalArgument(
                        f"Failed to parse value [{value}] as only [true] or [false] are allowed."))
                value = value == "true"
            setattr(spec, key, value)
        elif key in ("if_seq_no", "if_primary_term"):
            try:
                setattr(spec, key, as_long(value))
            except IllegalArgument as e:  # ObjectParser wraps whatever its field parser throws
                raise fail(key, f"failed to parse field [{key}]", cause=e) from None
        elif key == "_source":
            try:
                check_fetch_source(value)
            except StrataError as e:
                raise fail(key, f"failed to parse field [{key}]", cause=e) from None
            spec.fetch_source = value
        else:
            setattr(spec, key, value)
    return spec


def as_long(value: Any) -> int:
    """A long as XContentParser.longValue() reads one, coercing as Elasticsearch always does
    (DEFAULT_NUMBER_COERCE_POLICY): text as AbstractXContentParser.toLong reads it, and a
    JSON number with its fraction dropped, as Jackson's getLongValue drops it (7.5 is 7)."""
    if isinstance(value, str):
        return _long_of_text(value)
    if isinstance(value, float):
        # Jackson casts a double between the longs' bounds as doubles (2^63 saturating to
        # Long.MAX_VALUE) and refuses one past them.
        if not -(2.0 ** 63) <= value <= 2.0 ** 63:
            raise _long_out_of_range(value)
        return min(int(value), LONG_MAX)
    if not LONG_MIN <= value <= LONG_MAX:
        raise _long_out_of_range(value)
    return value


def _long_of_text(text: str) -> int:
    """AbstractXContentParser.toLong, coercing: Long.parseLong, else `new BigDecimal(text)`
    truncated toward zero ("8.5" is 8, "1e3" 1000); text that is no number at all is
    `For input string`, as an IllegalArgumentException. As in Elasticsearch 8.15+, the
    BigDecimal's scale is checked first: below -19 it is out of range ("0e20" too), above 19
    the number is 0 whatever its integer part."""
    number = java_long(text)
    if number is not None:
        return number
    scale = _big_decimal_scale(text)
    if scale is None:
        raise IllegalArgument(f'For input string: "{text}"')
    if scale < -_LONG_DIGITS:
        raise _long_out_of_range(text)
    if scale > _LONG_DIGITS:
        return 0
    decimal = Decimal(text)
    if decimal.adjusted() >= _LONG_DIGITS:  # 10^19 or more: past a long, not worth converting
        raise _long_out_of_range(text)
    whole = int(decimal)  # toward zero, as BigDecimal.toBigInteger
    if not LONG_MIN <= whole <= LONG_MAX:
        raise _long_out_of_range(text)
    return whole


def _big_decimal_scale(text: str) -> int | None:
    """The scale `new BigDecimal(text)` gives (its fraction's digits less its exponent);
    None when it refuses the text, as it refuses an exponent or a scale past an int."""
    match = _BIG_DECIMAL.fullmatch(text)
    if match is None:
        return None
    fraction, only_fraction, exponent_text = match.groups()
    exponent = 0
    if exponent_text is not None:
        if len(exponent_text.lstrip("+-").lstrip("0")) > 10:  # BigDecimal: too many exponent digits
            return None
        exponent = int(exponent_text)
    scale = len(fraction or only_fraction or "") - exponent
    if not INT_MIN <= exponent <= INT_MAX or not INT_MIN <= scale <= INT_MAX:
        return None
    return scale


def _long_out_of_range(value: Any) -> IllegalArgument:
    return IllegalArgument(f"Value [{value}] is out of range for a long")


def as_int(value: Any) -> int:
    """An int as XContentParser.intValue() reads one, coercing: text through
    Double.parseDouble, range-checked and truncated ("7.5" is 7; text that is no number is
    Java's NumberFormatException, which intValue does not turn into an
    IllegalArgumentException as toLong does), and a JSON number with its fraction dropped."""
    if isinstance(value, str):
        if not value.strip():
            raise NumberFormatError("empty String")
        if not is_java_double(value):
            raise NumberFormatError(f'For input string: "{value.strip()}"')
        number = parse_java_double(value)
        if number < INT_MIN or number > INT_MAX:
            raise IllegalArgument(f"Value [{value}] is out of range for an integer")
        return 0 if math.isnan(number) else int(number)  # Java's (int) of NaN is 0
    if not INT_MIN <= value <= INT_MAX:
        raise IllegalArgument(f"Value [{value}] is out of range for an integer")
    return int(value)
