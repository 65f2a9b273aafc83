"""The pre-vote round: ask before bumping the term.

Elasticsearch's PreVoteCollector. Starting an election moves every voter to a new term,
which deposes a working master. So a candidate first asks whether it would win: a node
grants a pre-vote only if it has no live leader (other than the candidate) and the
candidate has accepted a state at least as new as its own. A node cut off from a healthy
cluster, or one that missed publications, thus never disturbs it. Pre-votes change no
state; the election itself is still guarded by CoordinationState.
"""

from __future__ import annotations

from strata_node.cluster.coordination.messages import PreVoteRequest, PreVoteResponse
from strata_node.cluster.coordination.voting import VoteCollection, VotingConfiguration


def pre_vote_rejection(
    request: PreVoteRequest,
    *,
    leader: str | None,
    last_accepted_term: int,
    last_accepted_version: int,
) -> str | None:
    """Why this node refuses `request`, or None when it grants it."""
    if leader is not None and leader != request.source:
        return f"rejecting pre-vote from {request.source}: following leader {leader}"
    if (request.last_accepted_term, request.last_accepted_version) < (
        last_accepted_term,
        last_accepted_version,
    ):
        return (
            f"rejecting pre-vote from {request.source}: its last accepted state "
            f"(term {request.last_accepted_term}, version {request.last_accepted_version}) is behind ours "
            f"(term {last_accepted_term}, version {last_accepted_version})"
        )
    return None


def handle_pre_vote_request(
    request: PreVoteRequest,
    *,
    local_node: str,
    current_term: int,
    leader: str | None,
    last_accepted_term: int,
    last_accepted_version: int,
) -> PreVoteResponse:
    rejection = pre_vote_rejection(
        request,
        leader=leader,
        last_accepted_term=last_accepted_term,
        last_accepted_version=last_accepted_version,
    )
    return PreVoteResponse(
        source=local_node,
        current_term=current_term,
        last_accepted_term=last_accepted_term,
        last_accepted_version=last_accepted_version,
        granted=rejection is None,
    )


class PreVotingRound:
    """One candidate's round of pre-votes; says once when the election should start."""

    def __init__(
        self,
        local_node: str,
        *,
        last_accepted_term: int,
        last_accepted_version: int,
        last_committed_configuration: VotingConfiguration,
        last_accepted_configuration: VotingConfiguration,
    ) -> None:
        self._last_accepted = (last_accepted_term, last_accepted_version)
        self._configurations = (last_committed_configuration, last_accepted_configuration)
        # The candidate's own grant arrives through handle_response like any other.
        self._votes = VoteCollection()
        self.election_started = False
        self.max_term_seen = 0

    def request(self, local_node: str, current_term: int) -> PreVoteRequest:
        term, version = self._last_accepted
        return PreVoteRequest(
            source=local_node,
            current_term=current_term,
            last_accepted_term=term,
            last_accepted_version=version,
        )

    def handle_response(self, response: PreVoteResponse) -> bool:
        """Count a grant; True exactly once, when the grants form a quorum of both
        configurations. A responder ahead of us is not counted: it would refuse our join."""
        self.max_term_seen = max(self.max_term_seen, response.current_term)
        if not response.granted or self.election_started:
            return False
        if (response.last_accepted_term, response.last_accepted_version) > self._last_accepted:
            return False
        self._votes.add(response.source)
        committed, accepted = self._configurations
        if self._votes.is_quorum(committed) and self._votes.is_quorum(accepted):
            self.election_started = True
            return True
        return False
