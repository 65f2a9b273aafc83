"""Coordination timings, in ticks.

The pure core counts ticks, never seconds: the node delivers one tick every
`tick_interval` and converts Elasticsearch's settings (cluster.election.*,
cluster.fault_detection.*, cluster.publish.timeout, cluster.follower_lag.timeout) by
dividing them by it. The defaults assume 100 ms ticks and mirror Elasticsearch's
defaults, except that leader and follower checks time out after one second instead of ten,
so that a lost master is replaced in a few seconds rather than half a minute.
"""

from __future__ import annotations

import msgspec


class CoordinationSettings(msgspec.Struct, frozen=True):
    # cluster.election.initial_timeout / back_off_time / max_timeout / duration
    election_initial_timeout: int = 1
    election_back_off_time: int = 1
    election_max_timeout: int = 100
    election_duration: int = 5
    # cluster.fault_detection.leader_check.interval / timeout / retry_count
    leader_check_interval: int = 10
    leader_check_timeout: int = 10
    leader_check_retry_count: int = 3
    # cluster.fault_detection.follower_check.interval / timeout / retry_count
    follower_check_interval: int = 10
    follower_check_timeout: int = 10
    follower_check_retry_count: int = 3
    # cluster.publish.timeout and cluster.follower_lag.timeout
    publish_timeout: int = 300
    follower_lag_timeout: int = 900
    # how often a candidate asks its peers for a leader (discovery.find_peers_interval)
    find_peers_interval: int = 10
    # cluster.auto_shrink_voting_configuration
    auto_shrink_voting_configuration: bool = True

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise ValueError(f"coordination setting {name} must be at least 1, got {value}")
