"""Time values and byte sizes as Elasticsearch writes them ("1s", "500ms", "512mb")."""

from __future__ import annotations

import re

_TIME = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)$")
_TIME_SECONDS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g|tb|t|pb|p)?$", re.IGNORECASE)
_BYTE_UNITS = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30,
               "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}


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
    return seconds


def parse_bytes(value: object, setting: str) -> int:
    text = str(value).strip()
    m = _BYTES.match(text)
    if not m or (m.group(2) is None and text != "0" and text != "-1"):
        raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a size in bytes: "
                         "unit is missing or unrecognized")
    return int(float(m.group(1)) * _BYTE_UNITS[(m.group(2) or "b").lower()])


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
    for suffix, unit in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= unit:
            return format1decimals(ms / unit, suffix)
    return format1decimals(float(ms), "ms")
