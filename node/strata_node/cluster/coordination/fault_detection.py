"""Leader and follower checks, counted in ticks.

Elasticsearch's LeaderChecker and FollowersChecker. Every `interval` ticks one side asks
the other "are we still in the same cluster?". An unanswered check counts as a failure
after `timeout` ticks and `retry_count` consecutive failures condemn the peer, so one lost
message does not trigger an election. An explicit refusal ("I am not your leader", "I
do not follow you") condemns at once: it is authoritative, and waiting would only delay
the cluster's recovery.
"""

from __future__ import annotations

from strata_node.cluster.coordination.settings import CoordinationSettings


class _PeerCheck:
    """The check of one peer: when the next request is due, the one outstanding, failures."""

    __slots__ = ("failures", "next_check_at", "outstanding_deadline", "outstanding_id")

    def __init__(self, first_check_at: int) -> None:
        self.next_check_at = first_check_at
        self.outstanding_id: int | None = None
        self.outstanding_deadline = 0
        self.failures = 0


class _Checks:
    def __init__(self, interval: int, timeout: int, retry_count: int) -> None:
        self._interval = interval
        self._timeout = timeout
        self._retry_count = retry_count
        self._next_id = 0

    def tick(self, check: _PeerCheck, now: int) -> tuple[int | None, bool]:
        """(id of a request to send now or None, whether the peer has now failed)."""
        if check.outstanding_id is not None:
            if now < check.outstanding_deadline:
                return None, False
            check.outstanding_id = None
            check.failures += 1
            check.next_check_at = now + self._interval
            if check.failures >= self._retry_count:
                return None, True
        if now < check.next_check_at:
            return None, False
        self._next_id += 1
        check.outstanding_id = self._next_id
        check.outstanding_deadline = now + self._timeout
        return self._next_id, False

    def handle_response(self, check: _PeerCheck, check_id: int, ok: bool, now: int) -> bool:
        """Whether the peer has now failed. Answers to checks no longer outstanding are stale."""
        if check.outstanding_id != check_id:
            return False
        check.outstanding_id = None
        if not ok:
            return True
        check.failures = 0
        check.next_check_at = now + self._interval
        return False


class LeaderChecker:
    """A follower's check of its leader."""

    def __init__(self, leader: str, settings: CoordinationSettings, now: int) -> None:
        self.leader = leader
        self._checks = _Checks(
            settings.leader_check_interval, settings.leader_check_timeout, settings.leader_check_retry_count
        )
        self._check = _PeerCheck(now + settings.leader_check_interval)

    def tick(self, now: int) -> tuple[int | None, bool]:
        return self._checks.tick(self._check, now)

    def handle_response(self, check_id: int, ok: bool, now: int) -> bool:
        return self._checks.handle_response(self._check, check_id, ok, now)


class FollowersChecker:
    """The leader's checks of every other node in its cluster state."""

    def __init__(self, settings: CoordinationSettings) -> None:
        self._settings = settings
        self._checks = _Checks(
            settings.follower_check_interval,
            settings.follower_check_timeout,
            settings.follower_check_retry_count,
        )
        self._followers: dict[str, _PeerCheck] = {}

    def set_followers(self, node_ids: frozenset[str], now: int) -> None:
        for node_id in list(self._followers):
            if node_id not in node_ids:
                del self._followers[node_id]
        for node_id in sorted(node_ids):
            if node_id not in self._followers:
                self._followers[node_id] = _PeerCheck(now + self._settings.follower_check_interval)

    def forget(self, node_id: str) -> None:
        self._followers.pop(node_id, None)

    def followers(self) -> frozenset[str]:
        return frozenset(self._followers)

    def tick(self, now: int) -> tuple[list[tuple[str, int]], list[str]]:
        """(requests to send as (node, check id), nodes that have now failed)."""
        requests: list[tuple[str, int]] = []
        failed: list[str] = []
        for node_id in sorted(self._followers):
            check_id, has_failed = self._checks.tick(self._followers[node_id], now)
            if has_failed:
                failed.append(node_id)
                del self._followers[node_id]
            elif check_id is not None:
                requests.append((node_id, check_id))
        return requests, failed

    def handle_response(self, node_id: str, check_id: int, ok: bool, now: int) -> bool:
        check = self._followers.get(node_id)
        if check is None:
            return False
        if self._checks.handle_response(check, check_id, ok, now):
            del self._followers[node_id]
            return True
        return False
