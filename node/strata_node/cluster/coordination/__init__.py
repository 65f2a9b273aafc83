"""Cluster coordination as pure state machines, after Elasticsearch's 7.0 design.

`CoordinationState` holds the safety rules (terms, joins, quorums of the last committed and
last accepted voting configurations, two-phase publication). `Coordinator` wraps it into a
whole node: modes, pre-voting, elections, publication, leader and follower checks. Neither
owns a socket, a clock, a random generator or a disk: the caller delivers messages and
ticks, supplies randomness, and carries out the returned effects (persist synced, then send,
then apply). That is what lets the simulation tests drive thousands of clusters.
"""

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.coordination.errors import CoordinationStateRejectedError
from strata_node.cluster.coordination.node import Coordinator, Mode, Output
from strata_node.cluster.coordination.settings import CoordinationSettings
from strata_node.cluster.coordination.state import CoordinationState, PersistedState
from strata_node.cluster.coordination.voting import VoteCollection, VotingConfiguration

__all__ = [
    "ClusterState",
    "CoordinationSettings",
    "CoordinationState",
    "CoordinationStateRejectedError",
    "Coordinator",
    "Mode",
    "Output",
    "PersistedState",
    "VoteCollection",
    "VotingConfiguration",
]
