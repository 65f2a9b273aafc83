"""Numeric field values: what Elasticsearch's NumberFieldMapper.NumberType accepts for
each type, and the messages it gives for what it refuses.

Whole-number types take JSON integers, floats (truncated toward zero when `coerce`, the
default) and numeric strings (when `coerce`); a value outside the type's range fails
with "Value [x] is out of range for a long". Floating types refuse infinities and NaN;
`float` values are rounded to single precision, as Lucene stores them, so a range query
or an aggregation later sees the number the index holds.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .errors import MalformedValue, illegal, number_format

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
# What Java's Double.parseDouble reads (decimal forms, with optional d/f suffix, NaN and
# Infinity), so that "1e5" counts as a number and "nan" does not.
_JAVA_DOUBLE = re.compile(
    r"\s*[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)\s*")
# What Java's BigDecimal(String) reads
_BIG_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT32 = struct.Struct("<f")

# type -> (minimum, maximum, the article and name its range message uses, Java class)
WHOLE_TYPES: dict[str, tuple[int, int, str, str]] = {
    "long": (-(1 << 63), (1 << 63) - 1, "a long", "Long"),
    "integer": (-(1 << 31), (1 << 31) - 1, "an integer", "Integer"),
    "short": (-(1 << 15), (1 << 15) - 1, "a short", "Short"),
    "byte": (-(1 << 7), (1 << 7) - 1, "a byte", "Byte"),
}
FLOAT_TYPES = ("double", "float")
NUMERIC_TYPES = (*WHOLE_TYPES, *FLOAT_TYPES)


def is_java_long(text: str) -> bool:
    return _INTEGER_TEXT.fullmatch(text) is not None and -(1 << 63) <= int(text) < (1 << 63)


def is_java_double(text: str) -> bool:
    return _JAVA_DOUBLE.fullmatch(text) is not None


def _java_double(text: str) -> float:
    if not _JAVA_DOUBLE.fullmatch(text):
        raise number_format(text)
    text = text.strip().rstrip("fFdD")
    if text.endswith("NaN"):
        return math.nan
    return float(text)


def whole_converter(type_name: str, coerce: bool) -> Callable[[Any], int]:
    """A function from a document value to the field's integer, raising MalformedValue."""
    low, high, article, java = WHOLE_TYPES[type_name]
    long = type_name == "long"

    def out_of_range(value: Any) -> MalformedValue:
        return illegal(f"Value [{value}] is out of range for {article}")

    def convert(value: Any) -> int:
        cls = value.__class__
        if cls is int:
            if low <= value <= high:
                return value
            raise out_of_range(value)
        if cls is float:
            if not math.isfinite(value):
                raise out_of_range(value)
            if not coerce and not value.is_integer():
                raise illegal(f"Value [{value}] has a decimal part")
            if not low <= value <= high:
                raise out_of_range(value)
            return int(value)
        if cls is str:
            if not coerce:
                raise illegal(f"{java} value passed as String")
            if _INTEGER_TEXT.fullmatch(value):
                n = int(value)
                if low <= n <= high:
                    return n
                raise out_of_range(value)
            if long:
                # Numbers.toLong: Long.parseLong, then BigDecimal, truncated
                if not _BIG_DECIMAL.fullmatch(value):
                    raise illegal(f'For input string: "{value}"')
                number = Decimal(value)
            else:
                # XContentParser.intValue: Double.parseDouble, range-checked, truncated
                number = _java_double(value)
                if math.isnan(number):
                    return 0
            if not low <= number <= high:
                raise out_of_range(value)
            return int(number)
        raise _not_numeric(value)

    return convert


def float_converter(type_name: str, coerce: bool) -> Callable[[Any], float]:
    single = type_name == "float"

    def finite(value: float) -> float:
        if single:
            if abs(value) > 3.4028234663852886e38:
                value = math.copysign(math.inf, value)
            else:
                value = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
        if math.isfinite(value):
            return value
        raise illegal(f"[{type_name}] supports only finite values, but got [{_java_float(value)}]")

    def convert(value: Any) -> float:
        cls = value.__class__
        if cls is float or cls is int:
            return finite(float(value))
        if cls is str:
            if not coerce:
                raise illegal(f"{'Float' if single else 'Double'} value passed as String")
            return finite(_java_double(value))
        raise _not_numeric(value)

    return convert


def converter(type_name: str, coerce: bool = True) -> Callable[[Any], int | float]:
    if type_name in WHOLE_TYPES:
        return whole_converter(type_name, coerce)
    return float_converter(type_name, coerce)


def _java_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _not_numeric(value: Any) -> MalformedValue:
    token = "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else \
        "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
    return illegal(f"Current token ({token}) not numeric, can not use numeric value accessors")


def parse_null_value(type_name: str, value: Any) -> int | float:
    """`null_value` of a numeric field, read as NumberType.parse(value, coerce=false)
    reads it when the mapping is parsed."""
    if isinstance(value, str) and type_name in WHOLE_TYPES:
        if _INTEGER_TEXT.fullmatch(value):
            value = int(value)
        else:
            if not _BIG_DECIMAL.fullmatch(value):
                raise illegal(f'For input string: "{value}"')
            decimal = Decimal(value)
            if decimal != decimal.to_integral_value():
                raise illegal(f"Value [{value}] has a decimal part")
            value = int(decimal)
    elif isinstance(value, str):
        value = _java_double(value)
    return converter(type_name, coerce=False)(value)
