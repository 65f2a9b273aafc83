"""When a candidate next tries to get elected.

Elasticsearch's ElectionSchedulerFactory: each attempt waits a random delay up to a bound
that grows by `back_off_time` per attempt (capped at `max_timeout`), plus the expected
duration of an election. Random delays break the symmetry that would have candidates
split every vote forever; the growing bound keeps contention falling while a quorum is
unreachable. The random source is the caller's, so a seed replays the same schedule.
"""

from __future__ import annotations

from typing import Protocol

from strata_node.cluster.coordination.settings import CoordinationSettings


class RandomSource(Protocol):
    def randint(self, a: int, b: int) -> int: ...


class ElectionScheduler:
    def __init__(self, settings: CoordinationSettings, random: RandomSource, now: int) -> None:
        self._settings = settings
        self._random = random
        self._attempt = 0
        self.next_attempt_at = now + self._delay(first=True)

    def _delay(self, *, first: bool) -> int:
        s = self._settings
        bound = min(
            s.election_max_timeout, s.election_initial_timeout + self._attempt * s.election_back_off_time
        )
        self._attempt += 1
        grace = 0 if first else s.election_duration
        return self._random.randint(1, max(1, bound)) + grace

    def due(self, now: int) -> bool:
        """True once per attempt, when the attempt's time has come; schedules the next one."""
        if now < self.next_attempt_at:
            return False
        self.next_attempt_at = now + self._delay(first=False)
        return True
