"""The leader's bookkeeping for one publication in flight.

The rules that decide the commit live in CoordinationState; this tracks who accepted,
who refused and who applied, so the leader knows when the publication is over, when it
can no longer reach a quorum (fail early and step down rather than wait for the timeout),
and whom to send the commit to.
"""

from __future__ import annotations

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.coordination.messages import ApplyCommitRequest
from strata_node.cluster.coordination.voting import VotingConfiguration


class Publication:
    def __init__(self, state: ClusterState, local_node: str, started_at: int, timeout: int) -> None:
        self.state = state
        self.targets = frozenset(state.nodes - {local_node})
        self.deadline = started_at + timeout
        self.accepted: set[str] = {local_node}
        self.refused: set[str] = set()
        self.applied: set[str] = {local_node}
        self.commit: ApplyCommitRequest | None = None

    def matches(self, term: int, version: int) -> bool:
        return self.state.term == term and self.state.version == version

    def is_quorum_possible(self, last_committed_configuration: VotingConfiguration) -> bool:
        """Whether the nodes that have not refused could still form the publish quorum."""
        hopeful = (self.targets | self.accepted) - self.refused
        return last_committed_configuration.has_quorum(hopeful) and (
            self.state.last_accepted_configuration.has_quorum(hopeful)
        )

    def is_complete(self) -> bool:
        """Committed, and every target has applied it or dropped out."""
        return self.commit is not None and self.targets <= (self.applied | self.refused)

    def lagging(self) -> frozenset[str]:
        return frozenset(self.targets - self.applied)
