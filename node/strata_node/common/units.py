"""Time values and byte sizes as Elasticsearch writes them ("1s", "500ms", "512mb")."""

from __future__ import annotations

import math
import re

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1  # Java's long range: sizes and times are longs in ES
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1  # Java's int range
_JAVA_INT = re.compile(r"[+-]?[0-9]+")
_TIME = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)$")
_TIME_SECONDS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g|tb|t|pb|p)?$", re.IGNORECASE)
_BYTE_UNITS = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30,
               "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}


def java_int(text: str) -> int | None:
    """Integer.parseInt: ASCII digits with an optional sign, within Java's int range (Python's
    int() also takes spaces, underscores and other scripts' digits); None when it fails."""
    return _java_integer(text, INT_MIN, INT_MAX)


def java_long(text: str) -> int | None:
    """Long.parseLong, as java_int reads an int."""
    return _java_integer(text, LONG_MIN, LONG_MAX)


def _java_integer(text: str, low: int, high: int) -> int | None:
    if _JAVA_INT.fullmatch(text) is None:
        return None
    n = int(text)
    return n if low <= n <= high else None


def parse_time(value: object, setting: str) -> float:
    """Seconds; -1 (or "-1") means disabled, as in Elasticsearch."""
    text = str(value).strip()
    if text in ("-1", "-1s"):
        return -1.0
    m = _TIME.match(text)
    if not m:
        if text.lstrip("-").isdigit():
            raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a time value: "
                             "unit is missing or unrecognized")
        raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a time value: "
                         "unit is missing or unrecognized")
    seconds = float(m.group(1)) * _TIME_SECONDS[m.group(2)]
    if seconds < 0:
        raise ValueError(f"failed to parse value [{text}] for setting [{setting}], must be >= [-1]")
    if not math.isfinite(seconds) or seconds * 1000 > LONG_MAX:
        raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a time value: "
                         "out of range")
    return seconds


def parse_bytes(value: object, setting: str) -> int:
    text = str(value).strip()
    m = _BYTES.match(text)
    if not m or (m.group(2) is None and text != "0" and text != "-1"):
        raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a size in bytes: "
                         "unit is missing or unrecognized")
    size = float(m.group(1)) * _BYTE_UNITS[(m.group(2) or "b").lower()]
    if not math.isfinite(size) or size > LONG_MAX:  # ByteSizeValue's own refusal
        raise ValueError(f"Values greater than {LONG_MAX} bytes are not supported: {text}")
    return int(size)


def format1decimals(value: float, suffix: str) -> str:
    """Strings.format1Decimals: one decimal, truncated; none when it is zero."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    whole, _, fraction = text.partition(".")
    digit = fraction[:1] or "0"
    return whole + suffix if digit == "0" else f"{whole}.{digit}{suffix}"


_HUMAN_BYTES = (("pb", 1 << 50), ("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10))


def human_bytes(n: int) -> str:
    """ByteSizeValue.toString: the largest unit the size reaches, one decimal."""
    for suffix, unit in _HUMAN_BYTES:
        if n >= unit:
            return format1decimals(n / unit, suffix)
    return format1decimals(float(n), "b")


def human_millis(ms: float) -> str:
    """TimeValue.toString."""
    if ms < 0:
        return "-1"
    if ms == 0:
        return "0s"
    for suffix, unit in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= unit:
            return format1decimals(ms / unit, suffix)
    return format1decimals(float(ms), "ms")


class RelativeByteSize:
    """A disk watermark (ES's RelativeByteSizeValue): a share of the disk in use ("85%",
    "0.85") or, given as a byte size, the free space that must remain ("500mb")."""

    __slots__ = ("bytes", "percent", "text")

    def __init__(self, percent: float | None, size: int | None, text: str):
        self.percent, self.bytes, self.text = percent, size, text

    @property
    def absolute(self) -> bool:
        return self.bytes is not None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"RelativeByteSize({self.text})"


def _ratio_percent(text: str) -> float | None:
    """RatioValue.parseRatioValue: percent, or None when the text is no ratio, or one out
    of range (ES then tries a byte size, and names neither when that fails too)."""
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            return None
        return percent if 0.0 <= percent <= 100.0 else None
    try:
        ratio = float(text)
    except ValueError:
        return None
    return ratio * 100.0 if 0.0 <= ratio <= 1.0 else None


def _percent_text(percent: float) -> str:
    return (f"{percent:f}".rstrip("0").rstrip(".") or "0") + "%"


def parse_relative_bytes(value: object, setting: str) -> RelativeByteSize:
    """As RelativeByteSizeValue.parseRelativeByteSizeValue: a text ending in `b` is a byte
    size; any other is tried as a ratio first (a zero ratio without `%` is zero bytes)."""
    text = str(value).strip()
    if not text.endswith("b"):
        percent = _ratio_percent(text)
        if percent is not None:
            if percent != 0.0 or text.endswith("%"):
                return RelativeByteSize(percent, None, _percent_text(percent))
            return RelativeByteSize(None, 0, "0b")
    try:
        size = parse_bytes(text, setting)
    except ValueError:
        raise ValueError(f"unable to parse [{setting}={text}] as either percentage or bytes") from None
    return RelativeByteSize(None, size, text.lower().replace(" ", ""))
