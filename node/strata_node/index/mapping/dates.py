"""Date formats as Elasticsearch reads them: the built-in names (`strict_date_optional_time`,
`epoch_millis`, `epoch_second`, `date`, `basic_date_time`, ...) and Java DateTimeFormatter
patterns (`yyyy-MM-dd HH:mm:ss`, `dd/MMM/yyyy:HH:mm:ss Z`), joined with `||` to try
several in order. A formatter turns text into epoch milliseconds (UTC unless the text
carries an offset or zone) and back, for responses that print dates.

Patterns compile to one regular expression each, with named groups for the fields, and
a resolver that checks the calendar strictly (February 30th fails, as with Java's STRICT
resolver) and does the arithmetic itself, so any year Elasticsearch accepts works, not
only Python's 1-9999. Missing fields default as Elasticsearch's DateFormatters.from does:
year 1970, month and day 1, time midnight.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ...common.errors import IllegalArgument

MS_PER_DAY = 86_400_000
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class DateParseError(ValueError):
    """Text that none of a formatter's patterns accepts."""


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm),
    for any year, without datetime's 1-9999 limit."""
    year -= month <= 2
    era = year // 400  # Python's // floors, so negative years need no adjustment
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# -- ISO 8601, the default format, by hand: it is on the write path of every log line ---------

_ISO_STRICT = re.compile(
    r"(?P<y>[0-9]{4}|[+-][0-9]{5,9})-(?P<M>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:T(?:(?P<H>[0-9]{2})(?::(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<S>[0-9]{1,9}))?)?)?"
    r"(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?|[A-Za-z][A-Za-z0-9_/+-]*)?)?)?")
_ISO_LENIENT = re.compile(
    r"(?P<y>[+-]?[0-9]{1,9})(?:-(?P<M>[0-9]{1,2})(?:-(?P<d>[0-9]{1,2}))?)?"
    r"(?:T(?:(?P<H>[0-9]{1,2})(?::(?P<m>[0-9]{1,2})(?::(?P<s>[0-9]{1,2})(?:[.,](?P<S>[0-9]{1,9}))?)?)?"
    r"(?P<zone>Z|[+-][0-9]{1,2}(?::?[0-9]{2}(?::?[0-9]{2})?)?|[A-Za-z][A-Za-z0-9_/+-]*)?)?)?")

_day_cache: dict[tuple[int, int, int], int] = {}


def _resolve(year: int, month: int, day: int, hour: int, minute: int, second: int, fraction: str | None,
             offset_ms: int) -> int:
    if not (1 <= month <= 12 and 1 <= day <= month_length(year, month) and hour <= 23 and minute <= 59
            and second <= 59):
        raise DateParseError("field value out of range")
    key = (year, month, day)
    days = _day_cache.get(key)
    if days is None:
        days = days_from_civil(year, month, day)
        if len(_day_cache) < 4096:
            _day_cache[key] = days
    millis = days * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 - offset_ms
    if fraction:
        millis += int((fraction + "00")[:3])
    if not LONG_MIN <= millis <= LONG_MAX:
        raise DateParseError("out of range")
    return millis


_iso_days: dict[str, int] = {}  # "2024-01-31" -> its first millisecond, once read in full
_iso_minutes: dict[str, int] = {}  # "2024-01-31T12:34:" -> the minute's first millisecond


def _iso_fast(text: str) -> int | None:
    """`2024-01-31T12:34:56.789Z` (or without millis), the shape nearly every log
    timestamp has, read without the regular expression: the minute is looked up (log
    timestamps share it), the seconds and millis are one int(). None for anything else,
    and for a day not yet read in full (the regular expression validates it first)."""
    n = len(text)
    if n == 24:
        if text[19] != "." or text[23] != "Z":
            return None
        tail = text[17:19] + text[20:23]
    elif n == 20:
        if text[19] != "Z":
            return None
        tail = text[17:19] + "000"
    else:
        return None
    if not (tail.isdigit() and tail.isascii()):
        return None
    millis = int(tail)
    if millis >= 60_000:
        return None
    minute = _iso_minutes.get(text[:17])
    if minute is None:
        day = _iso_days.get(text[:10])
        clock = text[11:13] + text[14:16]
        if day is None or text[10] != "T" or text[13] != ":" or text[16] != ":" \
                or not (clock.isdigit() and clock.isascii()):
            return None
        hour, minutes = int(clock[:2]), int(clock[2:])
        if hour > 23 or minutes > 59:
            return None
        minute = day + hour * 3_600_000 + minutes * 60_000
        if len(_iso_minutes) >= 65_536:
            _iso_minutes.clear()
        _iso_minutes[text[:17]] = minute
    return minute + millis


def _iso_parser(regex: re.Pattern, fast: bool = False) -> Callable[[str], int]:
    match = regex.fullmatch

    def parse(text: str) -> int:
        if fast:
            millis = _iso_fast(text)
            if millis is not None:
                return millis
        m = match(text)
        if m is None:
            raise DateParseError(text)
        y, mo, d, h, mi, s, frac, zone = m.groups()
        offset = _zone_offset_ms(zone, y, mo, d, h, mi, s) if zone is not None and zone != "Z" else 0
        millis = _resolve(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), frac,
                          offset)
        if fast and len(y) == 4 and len(_iso_days) < 100_000:
            _iso_days[text[:10]] = days_from_civil(int(y), int(mo), int(d)) * MS_PER_DAY
        return millis

    return parse


def _zone_offset_ms(zone: str, *local: str | None) -> int:
    """Milliseconds to subtract from the local time: `+01:00` -> 3,600,000. Region ids
    (`Europe/Paris`) depend on the local date, hence the other fields."""
    if zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        if len(digits) % 2:
            digits = "0" + digits
        hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
        if hours > 18 or minutes > 59 or seconds > 59:
            raise DateParseError(zone)
        return sign * (hours * 3_600_000 + minutes * 60_000 + seconds * 1000)
    return _region_offset_ms(zone, *local)


def _region_offset_ms(zone: str, *local: str | None) -> int:
    upper = zone.upper()
    if upper in ("Z", "UTC", "GMT", "UT"):
        return 0
    for prefix in ("UTC", "GMT", "UT"):
        if upper.startswith(prefix) and upper[len(prefix)] in "+-":
            return _zone_offset_ms(zone[len(prefix):])
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, not a zone key, a folder of zones
        raise DateParseError(zone) from None
    defaults = ("1970", 1, 1, 0, 0, 0)
    y, mo, d, h, mi, s = (int(v or default) for v, default in zip(local, defaults, strict=True))
    try:
        offset = datetime(y, mo, d, h, mi, s, tzinfo=info).utcoffset() or timedelta(0)
    except ValueError:
        raise DateParseError(zone) from None
    return int(offset.total_seconds() * 1000)


# -- epoch formats ------------------------------------------------------------------------------

_EPOCH = re.compile(r"(-)?([0-9]{1,19})(?:\.([0-9]{0,9}))?")


def _epoch_millis(text: str) -> int:
    m = _EPOCH.fullmatch(text)
    if m is None:
        raise DateParseError(text)
    value = int(m.group(2))
    if m.group(1):
        value = -value
    if not LONG_MIN <= value <= LONG_MAX:
        raise DateParseError(text)
    return value


def _epoch_second(text: str) -> int:
    m = _EPOCH.fullmatch(text)
    if m is None:
        raise DateParseError(text)
    millis = int(m.group(2)) * 1000 + int(((m.group(3) or "") + "000")[:3])
    millis = -millis if m.group(1) else millis
    if not LONG_MIN <= millis <= LONG_MAX:
        raise DateParseError(text)
    return millis


# -- Java DateTimeFormatter patterns ------------------------------------------------------------

_JAVA_LETTERS = set("GuyDMLdQqYwWEecFahKkHmsSAnNVvzOXxZpB")
_TEXT = {"M": MONTHS, "L": MONTHS, "E": DAYS, "e": DAYS, "c": DAYS}


@dataclass(frozen=True)
class _Token:
    kind: str  # literal | field | optional_start | optional_end
    letter: str = ""
    count: int = 0
    text: str = ""


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            end = i + 1
            literal = []
            while True:
                if end >= n:
                    raise ValueError(f"Pattern ends with an incomplete string literal: {pattern}")
                if pattern[end] == "'":
                    if end + 1 < n and pattern[end + 1] == "'":
                        literal.append("'")
                        end += 2
                        continue
                    break
                literal.append(pattern[end])
                end += 1
            tokens.append(_Token("literal", text="".join(literal) if literal or end > i + 1 else "'"))
            i = end + 1
        elif ch == "[":
            tokens.append(_Token("optional_start"))
            i += 1
        elif ch == "]":
            tokens.append(_Token("optional_end"))
            i += 1
        elif ch.isascii() and ch.isalpha():
            if ch not in _JAVA_LETTERS:
                raise ValueError(f"Unknown pattern letter: {ch}")
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            tokens.append(_Token("field", ch, j - i))
            i = j
        elif ch in "{}#":
            raise ValueError(f"Pattern includes reserved character: '{ch}'")
        else:
            tokens.append(_Token("literal", text=ch))
            i += 1
    depth = 0
    for t in tokens:
        depth += t.kind == "optional_start"
        depth -= t.kind == "optional_end"
        if depth < 0:
            raise ValueError("Pattern invalid as it contains ] without previous [")
    return tokens


def _digits(low: int, high: int) -> str:
    return f"[0-9]{{{low},{high}}}" if low != high else f"[0-9]{{{low}}}"


_OFFSET = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?)"


def _field_regex(token: _Token, group: str) -> str:
    letter, count = token.letter, token.count
    if letter in "uyY":
        if count == 2:
            return f"(?P<{group}>{_digits(2, 2)})"
        return f"(?P<{group}>[+-]?{_digits(max(count, 1), 9 if count < 4 else 10)})"
    if letter in "ML":
        if count >= 3:
            names = MONTHS if count == 4 else tuple(m[:3] for m in MONTHS)
            return f"(?P<{group}>{'|'.join(names)})"
        return f"(?P<{group}>{_digits(count, 2)})"
    if letter in "dHhKkmsFW":
        if count > 2:
            raise ValueError(f"Too many pattern letters: {letter}")
        return f"(?P<{group}>{_digits(count, 2)})"
    if letter == "D":
        if count > 3:
            raise ValueError(f"Too many pattern letters: {letter}")
        return f"(?P<{group}>{_digits(count, 3)})"
    if letter == "S":
        return f"(?P<{group}>{_digits(count, count)})"
    if letter == "n":
        return f"(?P<{group}>{_digits(count, 9)})"
    if letter == "A":
        return f"(?P<{group}>{_digits(count, 19)})"
    if letter == "a":
        return f"(?P<{group}>AM|PM|am|pm)"
    if letter in "Eec":
        if letter in "ec" and count <= 2:
            return f"(?P<{group}>[1-7])"
        names = DAYS if count == 4 else tuple(d[:3] for d in DAYS)
        return f"(?P<{group}>{'|'.join(names)})"
    if letter in "ZXxO":
        return f"(?P<{group}>{_OFFSET}|GMT{_OFFSET}?)"
    if letter in "zVv":
        return f"(?P<{group}>[A-Za-z][A-Za-z0-9_/+-]*)"
    raise ValueError(f"Unsupported pattern letter: {letter}")


class _PatternParser:
    """One Java pattern: a regular expression, and how to read its groups."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.tokens = _tokenize(pattern)
        parts: list[str] = []
        self.fields: list[tuple[str, _Token]] = []
        for t in self.tokens:
            if t.kind == "literal":
                parts.append(re.escape(t.text))
            elif t.kind == "optional_start":
                parts.append("(?:")
            elif t.kind == "optional_end":
                parts.append(")?")
            else:
                group = f"g{len(self.fields)}"
                self.fields.append((group, t))
                parts.append(_field_regex(t, group))
        depth = sum(1 for t in self.tokens if t.kind == "optional_start") - \
            sum(1 for t in self.tokens if t.kind == "optional_end")
        parts.extend([")?"] * depth)
        self.regex = re.compile("".join(parts))

    def parse(self, text: str) -> int:
        m = self.regex.fullmatch(text)
        if m is None:
            raise DateParseError(text)
        year = month = day = doy = None
        hour = minute = second = 0
        half = hour12 = None
        nanos = 0
        zone = None
        for group, t in self.fields:
            raw = m.group(group)
            if raw is None:
                continue
            letter = t.letter
            if letter in "uyY":
                year = int(raw)
                if t.count == 2:
                    year += 2000
            elif letter in "ML":
                month = _text_index(MONTHS, raw) + 1 if t.count >= 3 else int(raw)
            elif letter == "d":
                day = int(raw)
            elif letter == "D":
                doy = int(raw)
            elif letter == "H":
                hour = int(raw)
            elif letter == "k":
                hour = int(raw) % 24 if 1 <= int(raw) <= 24 else 99
            elif letter in "hK":
                hour12 = int(raw) if letter == "K" else (int(raw) % 12 if 1 <= int(raw) <= 12 else 99)
            elif letter == "a":
                half = raw.upper()
            elif letter == "m":
                minute = int(raw)
            elif letter == "s":
                second = int(raw)
            elif letter == "S":
                nanos = int((raw + "000000000")[:9])
            elif letter == "n":
                nanos = int(raw)
            elif letter == "A":
                millis_of_day = int(raw)
                hour, rest = divmod(millis_of_day, 3_600_000)
                minute, rest = divmod(rest, 60_000)
                second, ms = divmod(rest, 1000)
                nanos = ms * 1_000_000
            elif letter in "ZXxOzVv":
                zone = raw
        if hour12 is not None:
            hour = hour12 + (12 if half == "PM" else 0)
        if year is None:
            year = 1970
        if doy is not None:
            if month is not None or day is not None or not 1 <= doy <= (366 if is_leap(year) else 365):
                raise DateParseError(text)
            days = days_from_civil(year, 1, 1) + doy - 1
            year, month, day = civil_from_days(days)
        month = 1 if month is None else month
        day = 1 if day is None else day
        offset = 0
        if zone is not None and zone != "Z":
            if zone.startswith("GMT") and len(zone) > 3:
                zone = zone[3:]
            local = (str(year), str(month), str(day), str(hour), str(minute), str(second))
            offset = _zone_offset_ms(zone, *local)
        if nanos >= 1_000_000_000:
            raise DateParseError(text)
        return _resolve(year, month, day, hour, minute, second, f"{nanos:09d}"[:3] if nanos else None, offset)

    def format(self, millis: int) -> str:
        days, rest = divmod(millis, MS_PER_DAY)
        year, month, day = civil_from_days(days)
        hour, rest = divmod(rest, 3_600_000)
        minute, rest = divmod(rest, 60_000)
        second, ms = divmod(rest, 1000)
        out: list[str] = []
        for t in self.tokens:
            if t.kind == "literal":
                out.append(t.text)
            elif t.kind == "field":
                out.append(_format_field(t, year, month, day, days, hour, minute, second, ms))
        return "".join(out)


def _text_index(names: tuple[str, ...], raw: str) -> int:
    for i, name in enumerate(names):
        if raw == name or raw == name[:3]:
            return i
    raise DateParseError(raw)


def _format_field(t: _Token, year: int, month: int, day: int, days: int, hour: int, minute: int,
                  second: int, ms: int) -> str:
    letter, count = t.letter, t.count
    if letter in "uyY":
        value = year if letter != "y" or year > 0 else 1 - year  # y is the year of the era
        if count == 2:
            return f"{value % 100:02d}"
        digits = f"{abs(value):0{count}d}"
        # four letters or more print as SignStyle.EXCEEDS_PAD: a sign past the padding (+10000)
        return ("-" if value < 0 else "+" if count >= 4 and len(digits) > count else "") + digits
    if letter in "ML":
        if count >= 3:
            return MONTHS[month - 1] if count == 4 else MONTHS[month - 1][:3]
        return f"{month:0{count}d}"
    if letter == "d":
        return f"{day:0{count}d}"
    if letter == "D":
        return f"{days - days_from_civil(year, 1, 1) + 1:0{count}d}"
    if letter == "H":
        return f"{hour:0{count}d}"
    if letter == "k":
        return f"{hour or 24:0{count}d}"
    if letter == "h":
        return f"{hour % 12 or 12:0{count}d}"
    if letter == "K":
        return f"{hour % 12:0{count}d}"
    if letter == "a":
        return "PM" if hour >= 12 else "AM"
    if letter == "m":
        return f"{minute:0{count}d}"
    if letter == "s":
        return f"{second:0{count}d}"
    if letter == "S":
        return f"{ms * 1_000_000:09d}"[:count]
    if letter == "n":
        return str(ms * 1_000_000)
    if letter == "A":
        return str(((hour * 60 + minute) * 60 + second) * 1000 + ms)
    if letter in "Eec":
        name = DAYS[(days + 3) % 7]
        if letter in "ec" and count <= 2:
            return str((days + 3) % 7 + 1)
        return name if count == 4 else name[:3]
    if letter in "XZOx":
        return "Z" if letter == "X" else "+0000" if letter == "Z" and count < 4 else "+00:00"
    if letter in "zVv":
        return "UTC" if letter != "V" else "Z"
    return ""


# -- the built-in names ---------------------------------------------------------------------------

# name -> (Java pattern to parse with, or None for a hand-written parser; pattern to print,
# with u: ES's built-ins print ChronoField.YEAR, so year 0 is 0000 and year -1 is -0001)
_T = "'T'"
_FRACTION = "[.SSSSSSSSS][.SSSSSS][.SSS][.SS][.S]"
_BUILT_IN: dict[str, tuple[str | None, str]] = {
    "date": ("yyyy-MM-dd", "uuuu-MM-dd"),
    "date_hour": (f"yyyy-MM-dd{_T}HH", f"uuuu-MM-dd{_T}HH"),
    "date_hour_minute": (f"yyyy-MM-dd{_T}HH:mm", f"uuuu-MM-dd{_T}HH:mm"),
    "date_hour_minute_second": (f"yyyy-MM-dd{_T}HH:mm:ss", f"uuuu-MM-dd{_T}HH:mm:ss"),
    "date_hour_minute_second_fraction": (f"yyyy-MM-dd{_T}HH:mm:ss{_FRACTION}", f"uuuu-MM-dd{_T}HH:mm:ss.SSS"),
    "date_hour_minute_second_millis": (f"yyyy-MM-dd{_T}HH:mm:ss{_FRACTION}", f"uuuu-MM-dd{_T}HH:mm:ss.SSS"),
    "date_time": (f"yyyy-MM-dd{_T}HH:mm:ss{_FRACTION}XXX", f"uuuu-MM-dd{_T}HH:mm:ss.SSSX"),
    "date_time_no_millis": (f"yyyy-MM-dd{_T}HH:mm:ssXXX", f"uuuu-MM-dd{_T}HH:mm:ssX"),
    "hour": ("HH", "HH"),
    "hour_minute": ("HH:mm", "HH:mm"),
    "hour_minute_second": ("HH:mm:ss", "HH:mm:ss"),
    "hour_minute_second_fraction": (f"HH:mm:ss{_FRACTION}", "HH:mm:ss.SSS"),
    "hour_minute_second_millis": (f"HH:mm:ss{_FRACTION}", "HH:mm:ss.SSS"),
    "ordinal_date": ("yyyy-DDD", "uuuu-DDD"),
    "ordinal_date_time": (f"yyyy-DDD{_T}HH:mm:ss{_FRACTION}XXX", f"uuuu-DDD{_T}HH:mm:ss.SSSX"),
    "ordinal_date_time_no_millis": (f"yyyy-DDD{_T}HH:mm:ssXXX", f"uuuu-DDD{_T}HH:mm:ssX"),
    "time": (f"HH:mm:ss{_FRACTION}XXX", "HH:mm:ss.SSSX"),
    "time_no_millis": ("HH:mm:ssXXX", "HH:mm:ssX"),
    "t_time": (f"{_T}HH:mm:ss{_FRACTION}XXX", f"{_T}HH:mm:ss.SSSX"),
    "t_time_no_millis": (f"{_T}HH:mm:ssXXX", f"{_T}HH:mm:ssX"),
    "year": ("yyyy", "uuuu"),
    "year_month": ("yyyy-MM", "uuuu-MM"),
    "year_month_day": ("yyyy-MM-dd", "uuuu-MM-dd"),
    "basic_date": ("yyyyMMdd", "uuuuMMdd"),
    "basic_date_time": (f"yyyyMMdd{_T}HHmmss.SSSXX", f"uuuuMMdd{_T}HHmmss.SSSX"),
    "basic_date_time_no_millis": (f"yyyyMMdd{_T}HHmmssXX", f"uuuuMMdd{_T}HHmmssX"),
    "basic_ordinal_date": ("yyyyDDD", "uuuuDDD"),
    "basic_ordinal_date_time": (f"yyyyDDD{_T}HHmmss.SSSXX", f"uuuuDDD{_T}HHmmss.SSSX"),
    "basic_ordinal_date_time_no_millis": (f"yyyyDDD{_T}HHmmssXX", f"uuuuDDD{_T}HHmmssX"),
    "basic_time": ("HHmmss.SSSXX", "HHmmss.SSSX"),
    "basic_time_no_millis": ("HHmmssXX", "HHmmssX"),
    "basic_t_time": (f"{_T}HHmmss.SSSXX", f"{_T}HHmmss.SSSX"),
    "basic_t_time_no_millis": (f"{_T}HHmmssXX", f"{_T}HHmmssX"),
}
_ISO_PRINT = f"uuuu-MM-dd{_T}HH:mm:ss.SSSX"


@dataclass(frozen=True)
class _Alternative:
    name: str
    parse: Callable[[str], int]
    format: Callable[[int], str]


def _lenient(pattern: str) -> str:
    """The non-strict variant of a built-in: one-digit months, days and hours allowed."""
    return re.sub(r"(?<![A-Za-z])(MM|dd|HH|mm|ss)(?![A-Za-z])", lambda m: m.group(1)[0], pattern)


def _alternative(name: str) -> _Alternative:
    if name == "epoch_millis":
        return _Alternative(name, _epoch_millis, str)
    if name == "epoch_second":
        return _Alternative(name, _epoch_second,
                            lambda ms: str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000}")
    printer = _PatternParser(_ISO_PRINT)
    if name in ("strict_date_optional_time", "strict_date_optional_time_nanos"):
        return _Alternative(name, _iso_parser(_ISO_STRICT, fast=True), printer.format)
    if name in ("date_optional_time", "iso8601"):
        return _Alternative(name, _iso_parser(_ISO_LENIENT), printer.format)
    strict = name.startswith("strict_")
    base = name[len("strict_"):] if strict else name
    if base in _BUILT_IN:
        parse_pattern, print_pattern = _BUILT_IN[base]
        lenient = not strict and not base.startswith("basic_")
        parser = _PatternParser(_lenient(parse_pattern) if lenient else parse_pattern)
        return _Alternative(name, parser.parse, _PatternParser(print_pattern).format)
    parser = _PatternParser(name)
    return _Alternative(name, parser.parse, parser.format)


_FAST_ISO = ("strict_date_optional_time", "strict_date_optional_time_nanos")


class DateFormatter:
    """A `||`-separated list of formats: parsing tries each in order, printing uses the
    first (Elasticsearch's JavaDateFormatter)."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        names = pattern.split("||")
        if not pattern.strip() or any(not n for n in names):
            raise IllegalArgument(f"Invalid format: [{pattern}]: cannot be empty")
        try:
            self._alternatives = tuple(_alternative(n) for n in names)
        except (ValueError, re.error) as e:
            raise IllegalArgument(f"Invalid format: [{pattern}]: {e}") from None
        self._parsers = tuple(a.parse for a in self._alternatives)
        # The shortcut for the shape of most timestamps, when the first format is ISO's:
        # it answers None for anything it does not read, and the formats then run in order.
        self.fast: Callable[[str], int | None] | None = _iso_fast if names[0] in _FAST_ISO else None

    def parse_millis(self, text: str) -> int:
        for parse in self._parsers:
            try:
                return parse(text)
            except DateParseError:
                continue
        raise DateParseError(f"failed to parse date field [{text}] with format [{self.pattern}]")

    def format_millis(self, millis: int) -> str:
        return self._alternatives[0].format(millis)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DateFormatter) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"DateFormatter({self.pattern!r})"


_formatters: dict[str, DateFormatter] = {}


def formatter(pattern: str) -> DateFormatter:
    """A compiled formatter, shared between every field that uses the same format."""
    cached = _formatters.get(pattern)
    if cached is None:
        cached = DateFormatter(pattern)
        if len(_formatters) < 1024:
            _formatters[pattern] = cached
    return cached


DEFAULT_FORMAT = "strict_date_optional_time||epoch_millis"
# RootObjectMapper.Defaults.DYNAMIC_DATE_TIME_FORMATTERS, as the code has them (the
# reference documentation lists "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z" for the second).
DEFAULT_DYNAMIC_DATE_FORMATS = (DEFAULT_FORMAT, "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis")


def utc_now_millis() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
