"""The minimal cluster state the coordination core needs.

Coordination only reads a state's term, version, master, nodes (with what each node said
of itself on joining) and voting configurations; everything else the cluster agrees on
travels in `value` (cluster/state.py: metadata, routing table, blocks), which the election
and publication rules never look into.
"""

from __future__ import annotations

from typing import Any

import msgspec

from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination.voting import EMPTY_CONFIGURATION, VotingConfiguration


class ClusterState(msgspec.Struct, frozen=True):
    """One immutable, versioned cluster state.

    `term` is the term of the master that published it and `version` increases with every
    publication; together they name the state. `last_committed_configuration` is the
    voting configuration known committed when this state was built,
    `last_accepted_configuration` the one this state proposes (equal unless the master is
    reconfiguring).
    """

    term: int = 0
    version: int = 0
    master: str | None = None
    nodes: frozenset[str] = frozenset()
    last_committed_configuration: VotingConfiguration = EMPTY_CONFIGURATION
    last_accepted_configuration: VotingConfiguration = EMPTY_CONFIGURATION
    value: Any = None
    # What each member told the master of itself when it joined; a node missing here
    # (the simulation's bare ids) is taken as master-eligible.
    node_details: dict[str, DiscoveryNode] = msgspec.field(default_factory=dict)

    def is_master_eligible(self, node_id: str) -> bool:
        details = self.node_details.get(node_id)
        return details is None or details.is_master_eligible

    def with_committed_configuration(self) -> ClusterState:
        """This state once it is known committed: its accepted configuration is committed too."""
        if self.last_committed_configuration == self.last_accepted_configuration:
            return self
        return msgspec.structs.replace(self, last_committed_configuration=self.last_accepted_configuration)

    def next(self, **changes: Any) -> ClusterState:
        """A copy with the given fields changed (the caller sets term and version)."""
        return msgspec.structs.replace(self, **changes)

    def __repr__(self) -> str:
        return f"ClusterState(term={self.term}, version={self.version}, master={self.master})"
