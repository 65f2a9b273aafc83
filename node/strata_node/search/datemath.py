"""Date math as Elasticsearch's JavaDateMathParser reads it: `now-1d/d`,
`2024-01-31||+1M/M`, rounding, round-up semantics and time zones.

`round_up` is what range bounds ask for: `gt` and `lte` round up (a rounded unit ends at
its last millisecond, and a date without a time fills the missing fields with their
maximum, so `lte: 2024-01-31` takes the whole day), `gte` and `lt` round down. Calendar
arithmetic and rounding happen in `time_zone` (UTC when none), as on a ZonedDateTime;
`now` itself is an instant and the zone does not move it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from ..common.errors import IllegalArgument, ParseError
from ..index.mapping.dates import (
    DEFAULT_FORMAT,
    MS_PER_DAY,
    DateFormatter,
    DateParseError,
    civil_from_days,
    days_from_civil,
    month_length,
)
from ..index.mapping.dates import (
    formatter as compile_format,
)

_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "H": 3_600_000}
_OFFSET = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?")
# Whether a date text carries its own zone or offset: then `time_zone` does not apply.
_HAS_ZONE = re.compile(
    r"(?:[T\s]\d{1,2}(?::?\d{2}){0,2}(?:[.,]\d+)?)\s*(?:Z|[+-]\d{2}(?::?\d{2}){0,2}|[A-Za-z][A-Za-z0-9_/+-]+)$"
    r"|\s[+-]\d{4}$|\s[A-Za-z]+/[A-Za-z_]+$", re.IGNORECASE)
# The ISO shapes, to see how precise a date is: `lte: 2024-01` rounds up to the month's end.
_ISO_PARTS = re.compile(
    r"[+-]?\d{1,9}(?P<M>-\d{1,2}(?P<d>-\d{1,2}(?:T(?P<H>\d{1,2})?(?P<m>:\d{1,2}(?P<s>:\d{1,2}(?P<S>[.,]\d+)?)?)?)?)?)?"
    r".*")
_PATTERN_UNITS = (("S", "S"), ("s", "s"), ("m", "m"), ("H", "H"), ("k", "H"), ("h", "H"), ("K", "H"),
                  ("d", "d"), ("D", "d"), ("E", "d"), ("M", "M"), ("L", "M"))


class Zone:
    """A time zone: a fixed offset or a region, giving offsets at instants and local times."""

    def __init__(self, name: str):
        self.name = name
        self.fixed: int | None = None
        self.info = None
        upper = name.upper()
        if upper in ("Z", "UTC", "GMT", "UT"):
            self.fixed = 0
            return
        text = name
        for prefix in ("UTC", "GMT", "UT"):
            if upper.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)] in "+-":
                text = name[len(prefix):]
                break
        m = _OFFSET.fullmatch(text)
        if m is not None:
            sign = -1 if m.group(1) == "-" else 1
            hours, minutes, seconds = int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0)
            if hours > 18 or minutes > 59 or seconds > 59:
                raise IllegalArgument(f"Invalid ID for ZoneOffset, invalid format: {name}")
            self.fixed = sign * (hours * 3_600_000 + minutes * 60_000 + seconds * 1000)
            return
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            self.info = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, a name too long
            raise IllegalArgument(f"Unknown time-zone ID: {name}") from None

    def offset_at_utc(self, millis: int) -> int:
        if self.fixed is not None:
            return self.fixed
        try:
            instant = datetime.fromtimestamp(millis / 1000, tz=self.info)
        except (OverflowError, ValueError, OSError):
            return 0
        return int((instant.utcoffset() or timedelta(0)).total_seconds() * 1000)

    def offset_at_local(self, local_millis: int) -> int:
        """The offset in force at a local time (the earlier one in an overlap, and the
        one before a gap, as ZonedDateTime.ofLocal resolves them)."""
        if self.fixed is not None:
            return self.fixed
        days, rest = divmod(local_millis, MS_PER_DAY)
        year, month, day = civil_from_days(days)
        if not 1 <= year <= 9999:
            return 0
        hour, rest = divmod(rest, 3_600_000)
        minute, rest = divmod(rest, 60_000)
        second = rest // 1000
        local = datetime(year, month, day, hour, minute, second, tzinfo=self.info)
        return int((local.utcoffset() or timedelta(0)).total_seconds() * 1000)

    def to_local(self, utc_millis: int) -> int:
        return utc_millis + self.offset_at_utc(utc_millis)

    def to_utc(self, local_millis: int) -> int:
        return local_millis - self.offset_at_local(local_millis)


@lru_cache(maxsize=256)
def zone(name: str) -> Zone:
    return Zone(name)


def parse_date_math(text: str, now_millis: int, *, round_up: bool, formatter: DateFormatter | None = None,
                    time_zone: str | None = None) -> int:
    """Epoch milliseconds of a date math expression. Raises ParseError (parse_exception)
    for text that is neither a date of `formatter` nor valid math."""
    tz = zone(time_zone) if time_zone else None
    fmt = formatter or compile_format(DEFAULT_FORMAT)
    if text.startswith("now"):
        time = now_millis
        math = text[3:]
    else:
        cut = text.find("||")
        if cut == -1:
            return _parse_date(text, fmt, round_up, tz)
        time = _parse_date(text[:cut], fmt, False, tz)
        math = text[cut + 2:]
    return _apply_math(math, time, round_up, tz)


def _parse_date(text: str, fmt: DateFormatter, round_up: bool, tz: Zone | None) -> int:
    for name in fmt.pattern.split("||"):
        try:
            millis = compile_format(name).parse_millis(text)
        except DateParseError:
            continue
        epoch = name in ("epoch_millis", "epoch_second")
        if round_up:
            if name == "epoch_second" and "." not in text:
                millis += 999  # the round-up parser fills the missing fraction with nines
            elif not epoch:
                millis = _round_up_missing(text, name, millis)
        if tz is not None and not epoch and tz.fixed != 0 and not _HAS_ZONE.search(text):
            millis = tz.to_utc(millis)  # read as local time in the zone
        return millis
    raise ParseError(f"failed to parse date field [{text}] with format [{fmt.pattern}]: "
                     f"[failed to parse date field [{text}] with format [{fmt.pattern}]]",
                     caused_by=IllegalArgument(f"failed to parse date field [{text}] with format "
                                               f"[{fmt.pattern}]"))


def _precision(text: str, pattern: str) -> str:
    """The finest unit a date text gives: y, M, d, H, m, s or S."""
    if pattern in ("strict_date_optional_time", "strict_date_optional_time_nanos", "date_optional_time",
                   "iso8601"):
        m = _ISO_PARTS.fullmatch(text)
        if m is None:
            return "S"
        for unit in ("S", "s", "m", "H", "d", "M"):
            if m.group(unit):
                return unit
        if "T" in text:
            return "d" if not m.group("H") else "H"
        return "y"
    letters = re.sub(r"'[^']*'", "", pattern)
    for letter, unit in _PATTERN_UNITS:
        if letter in letters:
            return unit
    return "y"


def _round_up_missing(text: str, pattern: str, millis: int) -> int:
    """JavaDateFormatter's round-up parser: the fields a date leaves out take their
    largest value (`2024-01` -> the last millisecond of January)."""
    unit = _precision(text, pattern)
    if unit == "S":
        return millis
    return _add(_truncate(millis, unit), unit, 1) - 1


def _apply_math(math: str, time: int, round_up: bool, tz: Zone | None) -> int:
    local = tz.to_local(time) if tz is not None else time
    i, n = 0, len(math)
    while i < n:
        c = math[i]
        i += 1
        if c == "/":
            rounding, sign = True, 1
        elif c in "+-":
            rounding, sign = False, 1 if c == "+" else -1
        else:
            raise ParseError(f"operator not supported for date math [{math}]")
        if i >= n:
            raise ParseError(f"truncated date math [{math}]")
        num = 1
        if math[i].isdigit():
            start = i
            while i < n and math[i].isdigit():
                i += 1
            if i >= n:
                raise ParseError(f"truncated date math [{math}]")
            num = int(math[start:i])
        if rounding and num != 1:
            raise ParseError(f"rounding `/` can only be used on single unit types [{math}]")
        unit = math[i]
        i += 1
        if unit not in "yMwdhHms":
            raise ParseError(f"unit [{unit}] not supported for date math [{math}]")
        if rounding:
            local = _truncate(local, unit)
            if round_up:
                local = _add(local, unit, 1) - 1
        else:
            local = _add(local, unit, sign * num)
    return tz.to_utc(local) if tz is not None else local


def _truncate(local: int, unit: str) -> int:
    days, _rest = divmod(local, MS_PER_DAY)
    if unit in _MS:
        return local - local % _MS[unit]
    if unit == "d":
        return days * MS_PER_DAY
    if unit == "w":
        return (days - (days + 3) % 7) * MS_PER_DAY  # 1970-01-01 was a Thursday
    year, month, _ = civil_from_days(days)
    if unit == "M":
        return days_from_civil(year, month, 1) * MS_PER_DAY
    return days_from_civil(year, 1, 1) * MS_PER_DAY  # y


def _add(local: int, unit: str, amount: int) -> int:
    if unit in _MS:
        return local + amount * _MS[unit]
    if unit == "S":
        return local + amount
    if unit == "d":
        return local + amount * MS_PER_DAY
    if unit == "w":
        return local + amount * 7 * MS_PER_DAY
    days, rest = divmod(local, MS_PER_DAY)
    year, month, day = civil_from_days(days)
    months = year * 12 + (month - 1) + (amount * 12 if unit == "y" else amount)
    year, month = divmod(months, 12)
    month += 1
    day = min(day, month_length(year, month))
    return days_from_civil(year, month, day) * MS_PER_DAY + rest
