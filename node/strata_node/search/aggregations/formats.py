"""How aggregation responses print values: Elasticsearch's DocValueFormat.

A format travels inside shard partials as plain data (it must survive msgpack on the
transport), so it is a tuple-like list rather than an object:

    None                        RAW: numbers as they are, no `*_as_string`
    ["date", pattern, zone]     a date field (or an agg's `format`): epoch millis printed with
                                the pattern's first format, in `zone` (None for UTC)
    ["bool"]                    booleans: keys 1/0, printed "true"/"false"
    ["decimal", pattern]        a numeric field's `format`, a DecimalFormat pattern
    ["unsigned"]                an unsigned_long read as doubles (UNSIGNED_LONG_SHIFTED):
                                `*_as_string` is the double as Java prints it

Elasticsearch prints doubles with Java's Double.toString (`100.0`, `1.0E7`), which is
what range keys and keyed histogram keys are made of (index/mapping/numbers.java_double).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from typing import Any

from ...index.mapping.dates import formatter
from ...index.mapping.numbers import java_double
from .zones import parse_zone


def date_format(pattern: str, zone: str | None = None) -> list:
    return ["date", pattern, zone]


BOOL_FORMAT = ["bool"]
UNSIGNED_FORMAT = ["unsigned"]


def is_raw(fmt: Any) -> bool:
    return fmt is None


def format_value(fmt: Any, value: Any) -> str:
    """The `*_as_string` of a value under a non-RAW format."""
    kind = fmt[0]
    if kind == "bool":
        return "true" if value else "false"
    if kind == "date":
        return format_millis(int(value), fmt[1], fmt[2])
    if kind == "decimal":
        return _decimal(fmt[1], float(value))
    if kind == "unsigned":
        return java_double(float(value))
    return str(value)


def format_millis(millis: int, pattern: str, zone: str | None) -> str:
    """Print an instant with a date pattern in a time zone.

    The mapping's formatter prints in UTC; a zone shifts the instant by its offset first,
    then the printed zone designator (`Z`, `+0000`, `+00:00`) is replaced with the offset,
    as a Java formatter with that zone prints it. Epoch formats print the instant itself."""
    f = formatter(pattern)
    first = pattern.split("||", 1)[0]
    if zone is None or first.startswith("epoch_"):
        return f.format_millis(millis)
    offset = parse_zone(zone).offset_at(millis)
    text = f.format_millis(millis + offset)
    if offset == 0:
        return text
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60_000, 60)
    if text.endswith("+00:00"):
        return f"{text[:-6]}{sign}{hours:02d}:{minutes:02d}"
    if text.endswith("+0000"):
        return f"{text[:-5]}{sign}{hours:02d}{minutes:02d}"
    if text.endswith("Z"):
        return f"{text[:-1]}{sign}{hours:02d}:{minutes:02d}"
    return text


def render_number(value: Any, as_double: bool) -> Any:
    """Metric values: doubles print with a fraction (200.0), longs without."""
    if value is None:
        return None
    return float(value) if as_double else int(value)


def decimal_format(pattern: str) -> list:
    """A numeric field's `format`: a java.text.DecimalFormat pattern (`0.00`, `#,##0.0`,
    `$#,##0.00 USD`). Exponent patterns and `%` are not read."""
    return ["decimal", pattern]


def _decimal(pattern: str, value: float) -> str:
    body_chars = "#0,."
    start = next((i for i, c in enumerate(pattern) if c in body_chars), len(pattern))
    end = max((i for i, c in enumerate(pattern) if c in body_chars), default=start - 1) + 1
    prefix, body, suffix = pattern[:start], pattern[start:end], pattern[end:]
    integer_part, _, fraction_part = body.partition(".")
    min_int = integer_part.count("0")
    grouping = len(integer_part) - integer_part.rfind(",") - 1 if "," in integer_part else 0
    min_frac = fraction_part.count("0")
    max_frac = min_frac + fraction_part.count("#")
    if not math.isfinite(value):  # DecimalFormat writes the symbols, the infinity within the affixes
        return "NaN" if math.isnan(value) else f"{'-' if value < 0 else ''}{prefix}\u221e{suffix}"
    with localcontext() as exact:
        exact.prec = 330 + max_frac  # every digit of the largest double and of the fraction asked for
        step = Decimal(1).scaleb(-max_frac)
        number = Decimal(repr(float(value))).quantize(step, rounding="ROUND_HALF_EVEN")
    negative = number < 0
    digits = format(abs(number), "f")
    whole, _, frac = digits.partition(".")
    frac = frac.rstrip("0")
    if len(frac) < min_frac:
        frac = frac + "0" * (min_frac - len(frac))
    whole = whole.lstrip("0")
    if len(whole) < min_int:
        whole = "0" * (min_int - len(whole)) + whole
    if grouping and whole:
        groups = []
        while len(whole) > grouping:
            groups.insert(0, whole[-grouping:])
            whole = whole[:-grouping]
        groups.insert(0, whole)
        whole = ",".join(groups)
    text = whole + ("." + frac if frac else "")
    return f"{'-' if negative and text.strip('0.,') else ''}{prefix}{text or '0'}{suffix}"
