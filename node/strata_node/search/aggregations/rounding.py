"""Date rounding for date_histogram: which bucket an instant falls in, and the next
bucket after a key (Elasticsearch's Rounding).

Fixed intervals (and calendar minutes and hours) are integer divisions of local time.
Calendar days and weeks divide local days; months, quarters and years truncate through
numpy's datetime64 month and year units. The local time of a million instants is
instant + offset, the offsets read from the zone's few offset segments over the data's
span (zones.py). A bucket's key is the UTC instant its local start maps to.

Intervals of an hour or less stay in UTC steps, so when a clock falls back the repeated
local hour gives two buckets, as Elasticsearch gives; longer ones round in local time
and map the local start back through the zone.
"""

from __future__ import annotations

import numpy as np

from .zones import TimeZone

DAY = 86_400_000
HOUR = 3_600_000
CALENDAR_UNITS = {
    "second": ("fixed", 1000), "1s": ("fixed", 1000),
    "minute": ("fixed", 60_000), "1m": ("fixed", 60_000),
    "hour": ("fixed", HOUR), "1h": ("fixed", HOUR),
    "day": ("day", 1), "1d": ("day", 1),
    "week": ("week", 1), "1w": ("week", 1),
    "month": ("month", 1), "1M": ("month", 1),
    "quarter": ("month", 3), "1q": ("month", 3),
    "year": ("year", 1), "1y": ("year", 1),
}


class Rounding:
    """Bucket keys of instants: `index` maps an int64 array of epoch millis to bucket
    indices (dense integers, so they can be counted with bincount) and a function from
    distinct indices to keys; `round` and `next` work on one key for empty buckets."""

    def __init__(self, unit: str, size: int, zone: TimeZone, offset: int = 0):
        self.unit = unit  # fixed (size in ms), day, week, month (size in months), year
        self.size = size
        self.zone = zone
        self.offset = offset

    # -- many instants -------------------------------------------------------------------------

    def index(self, millis: np.ndarray):
        millis = millis.astype(np.int64, copy=False)
        if self.zone.fixed is not None:  # one offset: a single pass to local time
            shift = self.zone.fixed - self.offset
            local = millis + shift if shift else millis
            offsets = np.full(1, self.zone.fixed, dtype=np.int64)
        else:
            t = millis - self.offset
            offsets = self.zone.offsets(t)
            local = t + offsets
        if self.unit == "fixed":
            idx = np.floor_divide(local, self.size)
            if self.zone.fixed is not None or not len(offsets) or (offsets == offsets[0]).all():
                shift = int(offsets[0]) if len(offsets) else (self.zone.fixed or 0)
                if self.size <= HOUR or self.zone.fixed is not None:
                    return idx, lambda d: [int(i * self.size - shift + self.offset) for i in d.tolist()]
                return idx, self._local_starts
            if self.size <= HOUR:
                keys = idx * self.size - offsets  # distinct buckets for a repeated local hour
                return keys, lambda d: [int(k + self.offset) for k in d.tolist()]
            return idx, self._local_starts
        idx = _calendar_index(local, self.unit, self.size)
        return idx, lambda d: [self.zone.local_to_utc(int(v)) + self.offset
                               for v in _index_to_local(d, self.unit, self.size).tolist()]

    def _local_starts(self, distinct: np.ndarray) -> list[int]:
        """Keys of fixed-length buckets counted in local time: each start through the zone."""
        return [self.zone.local_to_utc(int(i * self.size)) + self.offset for i in distinct.tolist()]

    # -- one key ---------------------------------------------------------------------------------

    def round(self, millis: int) -> int:
        idx, key_of = self.index(np.array([millis], dtype=np.int64))
        return key_of(idx)[0]

    def next(self, key: int) -> int:
        """The key of the bucket after the one starting at `key`."""
        t = key - self.offset
        if self.unit == "fixed":
            if self.size <= HOUR or self.zone.fixed is not None:
                return key + self.size
            local = t + self.zone.offset_at(t)
            return self.zone.local_to_utc(local + self.size) + self.offset
        local = t + self.zone.offset_at(t)
        idx = _calendar_index(np.array([local], dtype=np.int64), self.unit, self.size)
        following = _index_to_local(idx + 1, self.unit, self.size)
        return self.zone.local_to_utc(int(following[0])) + self.offset


def _calendar_index(local: np.ndarray, unit: str, size: int) -> np.ndarray:
    if unit == "day":
        return np.floor_divide(local, DAY)
    if unit == "week":  # 1970-01-01 was a Thursday: weeks start on the Mondays 4 days later
        return np.floor_divide(np.floor_divide(local, DAY) - 4, 7)
    if unit == "month":
        months = local.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
        return np.floor_divide(months, size)
    years = local.astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64)
    return np.floor_divide(years, size)


def _index_to_local(idx: np.ndarray, unit: str, size: int) -> np.ndarray:
    """The local start (epoch millis of the wall clock) of each calendar index."""
    idx = np.asarray(idx, dtype=np.int64)
    if unit == "day":
        return idx * DAY
    if unit == "week":
        return (idx * 7 + 4) * DAY
    if unit == "month":
        return (idx * size).astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
    return (idx * size).astype("datetime64[Y]").astype("datetime64[ms]").astype(np.int64)
