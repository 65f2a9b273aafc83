"""Snapshot and restore rates per node and repository (Elasticsearch's
`max_snapshot_bytes_per_sec` and `max_restore_bytes_per_sec`, with Lucene's
SimpleRateLimiter's arithmetic): every copy of one repository on a node shares a limit,
so running more shards at once does not copy faster. The copies run on executor threads,
and so do the pauses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..common.units import parse_bytes

SNAPSHOT_RATE = "max_snapshot_bytes_per_sec"
RESTORE_RATE = "max_restore_bytes_per_sec"
DEFAULTS = {SNAPSHOT_RATE: 40 * 1024 * 1024, RESTORE_RATE: 0}  # ES 8's; 0: no limit


def rate_of(settings: Mapping[str, Any], key: str) -> int:
    """A repository's rate in bytes per second (0: unlimited; ES reads -1 and 0 so)."""
    raw = settings.get(key)
    if raw is None:
        return DEFAULTS[key]
    if str(raw).strip() == "-1":
        return 0
    return max(parse_bytes(raw, key), 0)


class RateLimiter:
    """Pauses a writer so that what passes through averages `rate` bytes per second."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()  # when the bytes let through so far have had their time
        self.paused = 0.0  # seconds, in all

    def pass_bytes(self, n: int) -> float:
        """Let `n` bytes through, after waiting for their share of time; returns the wait."""
        if self.rate <= 0 or n <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            # Idle time earns no credit: a burst after a pause is paced like any other.
            self._next = max(self._next, now) + n / self.rate
            wait = self._next - now
            self.paused += wait
        self._sleep(wait)
        return wait


class Throttles:
    """The node's limiters, by what they limit (a repository and direction, or recoveries
    as a whole); a changed rate makes a new one."""

    def __init__(self):
        self._limiters: dict[tuple[str, ...], RateLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, key: tuple[str, ...], rate: int) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None or limiter.rate != rate:
                limiter = self._limiters[key] = RateLimiter(rate)
            return limiter

    def repository(self, name: str, settings: Mapping[str, Any], key: str) -> RateLimiter:
        return self.limiter((name, key), rate_of(settings, key))
