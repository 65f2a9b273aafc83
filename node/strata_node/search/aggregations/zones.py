"""Time zones for date aggregations: fixed offsets (`+01:00`, `-0530`, `Z`, `UTC`) and
region zones (`Europe/Paris`) through zoneinfo.

Bucketing a million timestamps cannot ask zoneinfo per document, so a region zone is
turned into offset segments over the span the data covers: the instants where the
offset changes, found by stepping a week at a time and bisecting to the second. Two
changes of offset within one week (no zone in the tz database does this today) would be
seen as one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ...common.errors import IllegalArgument

_OFFSET = re.compile(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?")
_WEEK_MS = 7 * 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MS = -62_135_596_800_000 + 2 * 86_400_000  # 0001-01-03, clear of the range's edge
_MAX_MS = 253_402_300_799_000 - 2 * 86_400_000  # 9999-12-29


class TimeZone:
    """A zone's offset (milliseconds to add to UTC to get local time) at any instant."""

    def __init__(self, name: str, fixed: int | None, zone: ZoneInfo | None):
        self.name = name
        self.fixed = fixed
        self.zone = zone

    def offset_at(self, millis: int) -> int:
        if self.fixed is not None:
            return self.fixed
        # datetime covers years 1-9999; instants beyond take the offset at its ends
        millis = min(max(int(millis), _MIN_MS), _MAX_MS)
        when = _EPOCH + timedelta(milliseconds=millis)
        return int(self.zone.utcoffset(when.astimezone(self.zone)).total_seconds() * 1000)

    def segments(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, offsets): the offset in force from each start (the first start is
        `low`) up to the next, over [low, high]."""
        if self.fixed is not None:
            return np.array([low], dtype=np.int64), np.array([self.fixed], dtype=np.int64)
        starts, offsets = [low], [self.offset_at(low)]
        t = low
        while t < high:
            step = min(t + _WEEK_MS, high)
            after = self.offset_at(step)
            if after != offsets[-1]:
                a, b = t, step  # offset(a) == offsets[-1] != offset(b): bisect to the second
                while b - a > 1000:
                    mid = (a + b) // 2
                    if self.offset_at(mid) == offsets[-1]:
                        a = mid
                    else:
                        b = mid
                change = b - b % 1000 if self.offset_at(b - b % 1000) == after else b
                starts.append(change)
                offsets.append(after)
            t = step
        return np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.int64)

    def offsets(self, millis: np.ndarray) -> np.ndarray:
        """The offset at every instant of an int64 array."""
        if self.fixed is not None or not len(millis):
            return np.full(len(millis), self.fixed or 0, dtype=np.int64)
        starts, offsets = self.segments(int(millis.min()), int(millis.max()))
        return offsets[np.searchsorted(starts, millis, side="right") - 1]

    def local_to_utc(self, local: int) -> int:
        """The instant whose local time is `local` (epoch millis of the wall clock); the
        earlier one when the wall clock repeats, the later side of a gap when it skips."""
        if self.fixed is not None:
            return local - self.fixed
        wall = datetime(1970, 1, 1) + timedelta(milliseconds=int(local))
        aware = wall.replace(tzinfo=self.zone, fold=0)
        return int((aware - _EPOCH).total_seconds() * 1000)


@lru_cache(maxsize=256)
def parse_zone(name: str) -> TimeZone:
    """A zone as java.time.ZoneId.of reads it; unknown names are refused."""
    if not isinstance(name, str) or not name:
        raise IllegalArgument(f"Invalid ID for region-based ZoneId, invalid format: {name}")
    if name in ("Z", "UTC", "GMT", "UT", "Etc/UTC", "Etc/GMT"):
        return TimeZone(name, 0, None)
    m = _OFFSET.fullmatch(name)
    if m:
        sign, hours, minutes, seconds = m.groups()
        total = (int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)) * 1000
        if int(hours) > 18 or int(minutes or 0) > 59 or total > 18 * 3_600_000:
            raise IllegalArgument(f"Zone offset not in valid range: -18:00 to +18:00 [{name}]")
        return TimeZone(name, -total if sign == "-" else total, None)
    try:
        return TimeZone(name, None, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise IllegalArgument(f"Unknown time-zone ID: {name}") from None
