"""CoordinationState: the safety rules of elections and publication.

A direct rendering of Elasticsearch's CoordinationState (itself the implementation of the
ZenWithTerms formal model). Each handler checks a message against the persisted state
and either raises CoordinationStateRejectedError, changing nothing, or moves the state
forward and returns what to send. Whatever this class changes in `persisted` must be
written synced by the caller before anything returned is sent: a vote or an acceptance
given and then forgotten in a crash is how two masters end up in one term.
"""

from __future__ import annotations

import msgspec

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.coordination.errors import CoordinationStateRejectedError
from strata_node.cluster.coordination.messages import (
    ApplyCommitRequest,
    Join,
    PublishRequest,
    PublishResponse,
    StartJoinRequest,
)
from strata_node.cluster.coordination.voting import VoteCollection, VotingConfiguration


class PersistedState(msgspec.Struct, frozen=True):
    """What survives a restart: the current term and the last accepted cluster state."""

    current_term: int = 0
    last_accepted_state: ClusterState = ClusterState()


class CoordinationState:
    """One node's view of terms, votes and publications.

    The persisted part is an immutable `PersistedState` value replaced on every change;
    the rest (join votes, publish votes, the last published version) lives only in memory
    and starts empty after a restart.
    """

    def __init__(self, local_node: str, persisted: PersistedState) -> None:
        self.local_node = local_node
        self.persisted = persisted
        self.join_votes = VoteCollection()
        # False until this incarnation has voted in a new term: votes received in a term
        # entered before a restart could join ones already counted and forgotten.
        self.started_join_since_last_reboot = False
        self.election_won = False
        self.last_published_version = 0
        self.last_published_configuration = persisted.last_accepted_state.last_accepted_configuration
        self.publish_votes = VoteCollection()

    # -- reading ----------------------------------------------------------------------

    @property
    def current_term(self) -> int:
        return self.persisted.current_term

    @property
    def last_accepted_state(self) -> ClusterState:
        return self.persisted.last_accepted_state

    @property
    def last_accepted_term(self) -> int:
        return self.persisted.last_accepted_state.term

    @property
    def last_accepted_version(self) -> int:
        return self.persisted.last_accepted_state.version

    @property
    def last_committed_configuration(self) -> VotingConfiguration:
        return self.persisted.last_accepted_state.last_committed_configuration

    @property
    def last_accepted_configuration(self) -> VotingConfiguration:
        return self.persisted.last_accepted_state.last_accepted_configuration

    def is_election_quorum(self, votes: VoteCollection) -> bool:
        """Both configurations must agree: during a reconfiguration either one may be the
        one a future master is elected under, so the winner must overlap a quorum of each."""
        return votes.is_quorum(self.last_committed_configuration) and votes.is_quorum(
            self.last_accepted_configuration
        )

    def is_publish_quorum(self, votes: VoteCollection) -> bool:
        return votes.is_quorum(self.last_committed_configuration) and votes.is_quorum(
            self.last_published_configuration
        )

    def join_votes_have_quorum_for(self, configuration: VotingConfiguration) -> bool:
        return self.join_votes.is_quorum(configuration)

    def contains_join_vote_for(self, node_id: str) -> bool:
        return self.join_votes.contains(node_id)

    # -- bootstrapping ----------------------------------------------------------------

    def set_initial_state(self, initial_state: ClusterState) -> None:
        """Inject the first voting configuration (cluster.initial_master_nodes). Only once:
        a node that has a configuration already belongs to a cluster."""
        if not self.last_accepted_configuration.is_empty():
            raise CoordinationStateRejectedError(
                "initial state already set: last-accepted configuration now "
                f"{self.last_accepted_configuration}"
            )
        if initial_state.term != 0 or initial_state.version != self.last_accepted_version:
            raise CoordinationStateRejectedError(
                f"initial state must have term 0 and version {self.last_accepted_version}, "
                f"got term {initial_state.term} version {initial_state.version}"
            )
        if initial_state.last_accepted_configuration.is_empty() or (
            initial_state.last_committed_configuration.is_empty()
        ):
            raise CoordinationStateRejectedError("initial state must have non-empty voting configurations")
        self.persisted = msgspec.structs.replace(self.persisted, last_accepted_state=initial_state)

    # -- elections --------------------------------------------------------------------

    def handle_start_join(self, request: StartJoinRequest) -> Join:
        """Move to a strictly newer term and vote for the requester in it. Moving on
        forgets any election or publication of the old term."""
        if request.term <= self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {request.term} not greater than current term {self.current_term}"
            )
        self.persisted = msgspec.structs.replace(self.persisted, current_term=request.term)
        self.last_published_version = 0
        self.last_published_configuration = self.last_accepted_configuration
        self.started_join_since_last_reboot = True
        self.election_won = False
        self.join_votes = VoteCollection()
        self.publish_votes = VoteCollection()
        return Join(
            source=self.local_node,
            target=request.source,
            term=request.term,
            last_accepted_term=self.last_accepted_term,
            last_accepted_version=self.last_accepted_version,
        )

    def handle_join(self, join: Join) -> bool:
        """Count a vote for this node. A voter that accepted a later state than ours is
        refused: a master must hold every state a quorum might have committed.
        Returns whether the vote was new."""
        if join.target != self.local_node:
            raise CoordinationStateRejectedError(f"join is for {join.target}, not for {self.local_node}")
        if join.term != self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {join.term} does not match current term {self.current_term}"
            )
        if not self.started_join_since_last_reboot:
            raise CoordinationStateRejectedError(
                "ignored join as term has not been incremented yet after reboot"
            )
        if join.last_accepted_term > self.last_accepted_term:
            raise CoordinationStateRejectedError(
                f"incoming last accepted term {join.last_accepted_term} of join higher than "
                f"current last accepted term {self.last_accepted_term}"
            )
        if join.last_accepted_term == self.last_accepted_term and (
            join.last_accepted_version > self.last_accepted_version
        ):
            raise CoordinationStateRejectedError(
                f"incoming last accepted version {join.last_accepted_version} of join higher than "
                f"current last accepted version {self.last_accepted_version} "
                f"in term {self.last_accepted_term}"
            )
        if self.last_accepted_configuration.is_empty():
            # Votes gathered before bootstrapping could win an election the moment the
            # configuration arrives without any of the checks above; refuse them instead.
            raise CoordinationStateRejectedError(
                "rejecting join since this node has not received its initial configuration yet"
            )
        added = self.join_votes.add(join.source)
        was_won = self.election_won
        self.election_won = self.is_election_quorum(self.join_votes)
        if self.election_won and not was_won:
            self.last_published_version = self.last_accepted_version
        return added

    # -- publication ------------------------------------------------------------------

    def handle_client_value(self, state: ClusterState) -> PublishRequest:
        """Start publishing `state` as the elected master: one publication at a time,
        versions increasing, and a configuration change only from a committed
        configuration to one our join votes already cover."""
        if not self.election_won:
            raise CoordinationStateRejectedError("election not won")
        if self.last_published_version != self.last_accepted_version:
            raise CoordinationStateRejectedError(
                "cannot start publishing next value before accepting previous one"
            )
        if state.term != self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {state.term} does not match current term {self.current_term}"
            )
        if state.version <= self.last_published_version:
            raise CoordinationStateRejectedError(
                f"incoming cluster state version {state.version} lower or equal to last published "
                f"version {self.last_published_version}"
            )
        if (
            state.last_accepted_configuration != self.last_accepted_configuration
            and self.last_committed_configuration != self.last_accepted_configuration
        ):
            raise CoordinationStateRejectedError("only allow reconfiguration while not already reconfiguring")
        if not self.join_votes_have_quorum_for(state.last_accepted_configuration):
            raise CoordinationStateRejectedError(
                "only allow reconfiguration if join votes have quorum for new config"
            )
        if state.last_committed_configuration != self.last_committed_configuration:
            raise CoordinationStateRejectedError(
                "last committed configuration must not change in a publication"
            )
        self.last_published_version = state.version
        self.last_published_configuration = state.last_accepted_configuration
        self.publish_votes = VoteCollection()
        return PublishRequest(source=self.local_node, state=state)

    def handle_publish_request(self, request: PublishRequest) -> PublishResponse:
        """Accept a state of the current term newer than the one accepted (phase one)."""
        state = request.state
        if state.term != self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {state.term} does not match current term {self.current_term}"
            )
        if state.term == self.last_accepted_term and state.version <= self.last_accepted_version:
            raise CoordinationStateRejectedError(
                f"incoming version {state.version} lower or equal to current version "
                f"{self.last_accepted_version}"
            )
        self.persisted = msgspec.structs.replace(self.persisted, last_accepted_state=state)
        return PublishResponse(term=state.term, version=state.version)

    def handle_publish_response(self, source: str, response: PublishResponse) -> ApplyCommitRequest | None:
        """Count an acceptance; once a quorum of both the committed and the published
        configuration accepted, the state is committed and ApplyCommit may go out."""
        if not self.election_won:
            raise CoordinationStateRejectedError("election not won")
        if response.term != self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {response.term} does not match current term {self.current_term}"
            )
        if response.version != self.last_published_version:
            raise CoordinationStateRejectedError(
                f"incoming version {response.version} does not match current version "
                f"{self.last_published_version}"
            )
        self.publish_votes.add(source)
        if self.is_publish_quorum(self.publish_votes):
            return ApplyCommitRequest(source=self.local_node, term=response.term, version=response.version)
        return None

    def handle_commit(self, request: ApplyCommitRequest) -> None:
        """Mark the accepted state committed (phase two), and with it its configuration."""
        if request.term != self.current_term:
            raise CoordinationStateRejectedError(
                f"incoming term {request.term} does not match current term {self.current_term}"
            )
        if request.term != self.last_accepted_term:
            raise CoordinationStateRejectedError(
                f"incoming term {request.term} does not match last accepted term {self.last_accepted_term}"
            )
        if request.version != self.last_accepted_version:
            raise CoordinationStateRejectedError(
                f"incoming version {request.version} does not match current version "
                f"{self.last_accepted_version}"
            )
        committed = self.last_accepted_state.with_committed_configuration()
        if committed is not self.last_accepted_state:
            self.persisted = msgspec.structs.replace(self.persisted, last_accepted_state=committed)

    # -- self-checks ------------------------------------------------------------------

    def check_invariants(self) -> None:
        """The invariants of the formal model; the simulation calls this after every step."""
        assert self.last_accepted_term <= self.current_term, (self.last_accepted_term, self.current_term)
        assert self.election_won == self.is_election_quorum(self.join_votes), self.join_votes
        if self.election_won:
            assert self.last_published_version >= self.last_accepted_version
            assert self.started_join_since_last_reboot
        else:
            assert self.last_published_version == 0
            assert self.publish_votes.is_empty()
