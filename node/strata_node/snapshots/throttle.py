"""Snapshot and restore rates per node and repository (Elasticsearch's
`max_snapshot_bytes_per_sec` and `max_restore_bytes_per_sec`, with Lucene's
SimpleRateLimiter's arithmetic): every copy of one repository on a node shares a limit,
so running more shards at once does not copy faster. The copies run on the `snapshot`
executor's threads and wait there, a quarter second at a time, so that an aborted or
cancelled copy stops waiting at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..common.units import parse_bytes

SNAPSHOT_RATE = "max_snapshot_bytes_per_sec"
RESTORE_RATE = "max_restore_bytes_per_sec"
DEFAULTS = {SNAPSHOT_RATE: 40 * 1024 * 1024, RESTORE_RATE: 0}  # ES 8's; 0: no limit
INTERRUPT_EVERY = 0.25  # seconds


def rate_of(settings: Mapping[str, Any], key: str) -> int:
    """A repository's rate in bytes per second (0: unlimited; ES reads -1 and 0 so)."""
    raw = settings.get(key)
    if raw is None:
        return DEFAULTS[key]
    if str(raw).strip() == "-1":
        return 0
    return max(parse_bytes(raw, key), 0)


class RateLimiter:
    """What passes through averages at most `rate` bytes per second: each chunk is due
    `n / rate` seconds after the one before, and waits only if it comes earlier (a copy
    slower than the rate is never held back; idle time earns no burst)."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()  # when the chunks let through so far were due
        self.paused = 0.0  # seconds of waits handed out, in all

    def set_rate(self, rate: int) -> None:
        with self._lock:
            self.rate = rate

    def reserve(self, n: int) -> float:
        """Book `n` bytes; returns how long their writer must wait."""
        with self._lock:
            if self.rate <= 0 or n <= 0:
                return 0.0
            now = self._clock()
            due = self._last + n / self.rate
            if due <= now:
                self._last = now
                return 0.0
            self._last = due
            self.paused += due - now
            return due - now


def pace(limiters: Iterable[RateLimiter], n: int, interrupt: Callable[[], None] | None = None,
         sleep: Callable[[float], None] = time.sleep,
         on_wait: Callable[[float], None] | None = None) -> float:
    """Hold a writer of `n` bytes to the slowest of `limiters`; `on_wait` hears of the
    wait before it starts (a status shows it at once), `interrupt` runs every quarter
    second of it and raises to give it up. Returns the wait. Blocking."""
    wait = max((limiter.reserve(n) for limiter in limiters), default=0.0)
    if on_wait is not None and wait > 0:
        on_wait(wait)
    remaining = wait
    while remaining > 0:
        step = min(remaining, INTERRUPT_EVERY)
        sleep(step)
        remaining -= step
        if interrupt is not None:
            interrupt()
    return wait


class Throttles:
    """The node's limiters, by what they limit (a repository and direction, or restores
    as a whole for `indices.recovery.max_bytes_per_sec`); a new rate applies to the
    limiter in place, so copies under way follow it."""

    def __init__(self):
        self._limiters: dict[tuple[str, ...], RateLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, key: tuple[str, ...], rate: int) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = RateLimiter(rate)
        limiter.set_rate(rate)
        return limiter

    def repository(self, name: str, settings: Mapping[str, Any], key: str) -> RateLimiter:
        return self.limiter((name, key), rate_of(settings, key))
