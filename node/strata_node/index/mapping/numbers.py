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
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from .errors import EmptyNumber, MalformedValue, illegal, number_format

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
# What Java's Double.parseDouble reads (decimal forms, with optional d/f suffix, NaN and
# Infinity), so that "1e5" counts as a number and "nan" does not.
_JAVA_DOUBLE = re.compile(
    r"\s*[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)\s*")
# What Java's BigDecimal(String) reads
_BIG_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT32 = struct.Struct("<f")
_HALF = struct.Struct("<e")
_FLOAT_MAX = 3.4028234663852886e38

# type -> (minimum, maximum, the article and name its range message uses, Java class)
WHOLE_TYPES: dict[str, tuple[int, int, str, str]] = {
    "long": (-(1 << 63), (1 << 63) - 1, "a long", "Long"),
    "integer": (-(1 << 31), (1 << 31) - 1, "an integer", "Integer"),
    "short": (-(1 << 15), (1 << 15) - 1, "a short", "Short"),
    "byte": (-(1 << 7), (1 << 7) - 1, "a byte", "Byte"),
}
# half_float: held at half precision (HalfFloatPoint); scaled_float: a double the index
# holds as the nearest multiple of 1/scaling_factor
FLOAT_TYPES = ("double", "float", "half_float", "scaled_float")
# The smallest magnitude half precision rounds to infinity (its largest finite is 65504).
HALF_OVERFLOW = 65520.0
NUMERIC_TYPES = (*WHOLE_TYPES, *FLOAT_TYPES)
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
UNSIGNED = "unsigned_long"
UNSIGNED_MAX = (1 << 64) - 1
# An unsigned long is held (terms and doc values) as the signed long v - 2^63, as
# UnsignedLongFieldMapper shifts it: signed order is then unsigned order.
UNSIGNED_SHIFT = 1 << 63
_UNSIGNED_TEXT = re.compile(r"\+?[0-9]+")  # what Long.parseUnsignedLong reads


def is_java_long(text: str) -> bool:
    return _INTEGER_TEXT.fullmatch(text) is not None and -(1 << 63) <= int(text) < (1 << 63)


def is_java_double(text: str) -> bool:
    return _JAVA_DOUBLE.fullmatch(text) is not None


def java_double(value: float) -> str:
    """Java's Double.toString: the shortest digits that read back, in plain notation
    between 10^-3 and 10^7 and as `d.dddE±n` outside it, always with a fractional part."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(float(value))
        if "e" in text or "E" in text:  # repr switches to exponents below 1e-4 only; be safe
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(float(value))).as_tuple()
    digits_text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + exponent
    mantissa = digits_text[0] + "." + (digits_text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def parse_java_double(text: str) -> float:
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
            if not value and coerce:
                raise EmptyNumber()
            if not coerce:
                raise illegal(f"{java} value passed as String")
            if _INTEGER_TEXT.fullmatch(value):
                n = _integer_of_text(value)
                if n is not None and low <= n <= high:
                    return n
                raise out_of_range(value)
            if long:
                # Numbers.toLong: Long.parseLong, then BigDecimal, truncated
                number = _big_decimal(value)
                if number is None:
                    raise illegal(f'For input string: "{value}"')
            else:
                # XContentParser.intValue: Double.parseDouble, range-checked, truncated
                number = parse_java_double(value)
                if math.isnan(number):
                    return 0
            if not low <= number <= high:
                raise out_of_range(value)
            return int(number)
        raise _not_numeric(value)

    return convert


def parse_unsigned(value: Any) -> int:
    """UnsignedLongFieldMapper.parseUnsignedLong of a document value: integers in
    [0, 2^64-1], as numbers or text, never with a decimal part (there is no `coerce`)."""
    cls = value.__class__
    if cls is int:
        if 0 <= value <= UNSIGNED_MAX:
            return value
        if _LONG_MIN <= value < 0:  # a Long: its own message, with a full stop
            raise illegal(f"Value [{value}] is out of range for unsigned long.")
        raise illegal(f"Value [{value}] is out of range for unsigned long")
    if cls is float:
        if not math.isfinite(value) or not value.is_integer():
            raise illegal(f'Value "{java_double(value)}" has a decimal part')
        if value >= 2.0 ** 64:  # an integer past 2^64-1 reads as a double here, a BigInteger there
            raise illegal(f"Value [{int(value)}] is out of range for unsigned long")
        whole = max(min(int(value), _LONG_MAX), _LONG_MIN)  # Number.longValue() of a double saturates
        if whole < 0:
            raise illegal(f"Value [{whole}] is out of range for unsigned long.")
        return whole
    if cls is str:
        if not value:
            raise EmptyNumber()
        return unsigned_of_text(value)
    if value is True or value is False:
        raise number_format("true" if value else "false")
    raise _not_numeric(value)


def unsigned_of_text(text: str) -> int:
    """Long.parseUnsignedLong, else an exact BigDecimal with no decimal part."""
    if _UNSIGNED_TEXT.fullmatch(text):
        number = _unsigned_digits(text)
        if number is None:
            raise illegal(f"Value [{text}] is out of range for unsigned long")
    else:
        decimal = _big_decimal(text)
        if decimal is None:
            raise number_format(text)
        if decimal != decimal.to_integral_value():
            raise illegal(f'Value "{text}" has a decimal part')
        if not 0 <= decimal <= UNSIGNED_MAX:  # compared before int(): "1e999999" is a valid BigDecimal
            raise illegal(f"Value [{text}] is out of range for unsigned long")
        number = int(decimal)
    return number


def _integer_of_text(text: str) -> int | None:
    """The value of a sign and digits, None past 21 digits (beyond every whole type's
    range; int() refuses text of over 4,300 digits, and need not read it)."""
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 21:
        return None
    number = int(digits or "0")  # without the leading zeros, which may be thousands too
    return -number if text.startswith("-") else number


def _unsigned_digits(text: str) -> int | None:
    """The value of an optional `+` and digits, None past 2^64-1."""
    number = _integer_of_text(text)
    return number if number is not None and number <= UNSIGNED_MAX else None


def _big_decimal(text: str) -> Decimal | None:
    """`new BigDecimal(text)`, None for text it refuses (an exponent past Decimal's range
    too, as BigDecimal refuses one past an int)."""
    if not _BIG_DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def unsigned_term(value: Any) -> int | None:
    """UnsignedLongFieldType.parseTerm: the unsigned long a term query names, None for
    any other number (negative, past 2^64-1, any double: it matches nothing); text that
    is no number at all is refused."""
    cls = value.__class__
    if cls is int:
        return value if 0 <= value <= UNSIGNED_MAX else None
    if cls is float:
        return None
    text = text_of_scalar(value)
    if _UNSIGNED_TEXT.fullmatch(text):
        return _unsigned_digits(text)
    try:
        parse_java_double(text)  # only its syntax: a well-formed number matches nothing
    except MalformedValue as e:
        raise e.cause from None
    return None


def unsigned_bound(value: Any, *, lower: bool, include: bool) -> int | None:
    """A range bound of an unsigned_long field as parseLowerRangeTerm/parseUpperRangeTerm
    move it: a lower bound up to the next whole number (0 below zero), an upper bound down
    (2^64-1 past the top); None when the range holds nothing on that side."""
    if value.__class__ is int and _LONG_MIN <= value <= _LONG_MAX:  # a Long: taken as it is
        if lower:
            return 0 if value < 0 else value if include else value + 1
        if value < 0 or (value == 0 and not include):
            return None
        return value if include else value - 1
    number = _exact_decimal(value)
    if lower:
        if number <= 0:
            return 0
        if number > UNSIGNED_MAX or (number == UNSIGNED_MAX and not include):
            return None
        whole = int(number)
        return whole + 1 if not include or whole != number else whole
    if number < 0 or (number == 0 and not include):
        return None
    if number > UNSIGNED_MAX:
        return UNSIGNED_MAX
    whole = int(number)
    return whole - 1 if not include and whole == number else whole


def _exact_decimal(value: Any) -> Decimal:
    """`new BigDecimal(value.toString())`: a double by its shortest decimal text."""
    cls = value.__class__
    if cls is int:
        return Decimal(value)
    if cls is float:
        if not math.isfinite(value):
            raise number_format(java_double(value)).cause
        return Decimal(repr(value))
    text = text_of_scalar(value)
    decimal = _big_decimal(text)
    if decimal is None:
        raise number_format(text).cause
    return decimal


def text_of_scalar(value: Any) -> str:
    """Object.toString() of a query's scalar."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if value.__class__ is float:
        return java_double(value)
    return str(value)


def parse_unsigned_long(text: str) -> int:
    """Java's Long.parseUnsignedLong: digits only, at most 2^64-1 (ValueError otherwise)."""
    number = _unsigned_digits(text) if _UNSIGNED_TEXT.fullmatch(text) else None
    if number is None:
        raise ValueError(text)
    return number


def unshift_unsigned(value: int) -> int:
    return int(value) + UNSIGNED_SHIFT


def to_single(value: float) -> float:
    """The single-precision number nearest a double, or an infinity past a float's range."""
    if abs(value) > _FLOAT_MAX:
        return math.copysign(math.inf, value)
    return _FLOAT32.unpack(_FLOAT32.pack(value))[0]


def to_half(value: float) -> float:
    """The half-precision number nearest a float, or an infinity past half's range."""
    single = to_single(value)
    if not math.isfinite(single) or abs(single) >= HALF_OVERFLOW:
        return math.copysign(math.inf, single) if not math.isnan(single) else single
    return _HALF.unpack(_HALF.pack(single))[0]


def java_float_text(value: float) -> str:
    """Float.toString of a float: its shortest digits, plain between 10^-3 and 10^7, else as
    `1.0E10`."""
    if math.isnan(value):
        return "NaN"
    if abs(value) > _FLOAT_MAX:  # past a float's range: Infinity, as Float.parseFloat reads it
        return _java_float(value)
    single = np.float32(value)
    if single == 0 or 1e-3 <= abs(single) < 1e7:
        return np.format_float_positional(single, unique=True, trim="0")
    mantissa, _, exponent = np.format_float_scientific(single, unique=True, trim="0").partition("e")
    return f"{mantissa}E{int(exponent)}"


def float_converter(type_name: str, coerce: bool) -> Callable[[Any], float]:
    single = type_name == "float"
    half = type_name == "half_float"

    def finite(value: float) -> float:
        if half:
            rounded = to_half(value)
            if math.isfinite(rounded):
                return rounded
            # HALF_FLOAT.validateParsed prints the float it read, not its half
            raise illegal(f"[half_float] supports only finite values, but got [{java_float_text(value)}]")
        if single:
            value = to_single(value)
        if math.isfinite(value):
            return value
        raise illegal(f"[{type_name}] supports only finite values, but got [{_java_float(value)}]")

    java = "Float" if single or half else "Double"

    def convert(value: Any) -> float:
        cls = value.__class__
        if cls is float or cls is int:
            return finite(float(value))
        return finite(_double_of_text(value, coerce, java))

    return convert


def _double_of_text(value: Any, coerce: bool, java: str) -> float:
    """What a floating field reads from a value that is not a JSON number."""
    if value.__class__ is not str:
        raise _not_numeric(value)
    if not value and coerce:
        raise EmptyNumber()
    if not coerce:
        raise illegal(f"{java} value passed as String")
    return parse_java_double(value)


def java_round(value: float) -> int:
    """Java's Math.round: half up, and clamped to the range of a long."""
    if math.isnan(value):
        return 0
    if value >= _LONG_MAX:
        return _LONG_MAX
    if value <= _LONG_MIN:
        return _LONG_MIN
    whole = math.floor(value)
    return whole + (value - whole >= 0.5)  # exact, where floor(value + 0.5) can round twice


def scaled(value: float, scaling_factor: float) -> float:
    """The value a scaled_float holds for a double: ScaledFloatFieldMapper stores
    Math.round(value * scaling_factor), read back divided by the factor."""
    return java_round(value * scaling_factor) / scaling_factor


def scale_query_value(value: float, scaling_factor: float) -> float:
    """A query's number times the factor, as ScaledFloatFieldType.scale computes it: in
    decimal (BigDecimal of Double.toString), so 1.1 * 100 is 110, not 110.00000000000001."""
    return float(Decimal(repr(value)) * Decimal(repr(scaling_factor)))


def scaled_float_converter(scaling_factor: float, coerce: bool) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        cls = value.__class__
        number = float(value) if cls is float or cls is int else _double_of_text(value, coerce, "Double")
        if not math.isfinite(number):
            # stored as a long, which has no NaN nor infinities
            raise illegal(f"[scaled_float] only supports finite values, but got [{_java_float(number)}]")
        return scaled(number, scaling_factor)

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
            whole = _integer_of_text(value)
            if whole is None:
                article = WHOLE_TYPES[type_name][2]
                raise illegal(f"Value [{value}] is out of range for {article}")
            value = whole
        else:
            decimal = _big_decimal(value)
            if decimal is None:
                raise illegal(f'For input string: "{value}"')
            if decimal != decimal.to_integral_value():
                raise illegal(f"Value [{value}] has a decimal part")
            value = int(decimal)
    elif isinstance(value, str):
        value = parse_java_double(value)
    return converter(type_name, coerce=False)(value)
