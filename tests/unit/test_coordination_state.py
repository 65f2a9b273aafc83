"""The rules of CoordinationState, one behaviour per test.

Read top to bottom, this is the specification of elections and two-phase publication:
quorums, terms, joins, client values, publish requests and responses, commits.
"""

from __future__ import annotations

import pytest

from strata_node.cluster.coordination import (
    ClusterState,
    CoordinationState,
    CoordinationStateRejectedError,
    PersistedState,
    VotingConfiguration,
)
from strata_node.cluster.coordination.messages import (
    ApplyCommitRequest,
    Join,
    PublishRequest,
    PublishResponse,
    StartJoinRequest,
)

ABC = VotingConfiguration.of("a", "b", "c")


def bootstrapped(node: str = "a", configuration: VotingConfiguration = ABC) -> CoordinationState:
    state = CoordinationState(node, PersistedState())
    state.set_initial_state(
        ClusterState(last_committed_configuration=configuration, last_accepted_configuration=configuration)
    )
    return state


def join(
    source: str, target: str, term: int, last_accepted_term: int = 0, last_accepted_version: int = 0
) -> Join:
    return Join(
        source=source,
        target=target,
        term=term,
        last_accepted_term=last_accepted_term,
        last_accepted_version=last_accepted_version,
    )


def elected(node: str = "a", term: int = 1, voters: tuple[str, ...] = ("a", "b")) -> CoordinationState:
    state = bootstrapped(node)
    state.handle_start_join(StartJoinRequest(source=node, term=term))
    for voter in voters:
        state.handle_join(join(voter, node, term))
    assert state.election_won
    return state


def next_state(state: CoordinationState, **changes: object) -> ClusterState:
    return state.last_accepted_state.next(
        term=state.current_term, version=state.last_accepted_version + 1, master=state.local_node, **changes
    )


# -- voting configurations --------------------------------------------------------------


def test_a_quorum_is_more_than_half_of_the_configuration():
    assert ABC.has_quorum(["a", "b"])
    assert not ABC.has_quorum(["a"])
    assert not VotingConfiguration.of("a", "b", "c", "d").has_quorum(["a", "b"])


def test_votes_from_outside_the_configuration_do_not_count():
    assert not ABC.has_quorum(["a", "x", "y", "z"])


def test_the_empty_configuration_has_no_quorum():
    assert not VotingConfiguration().has_quorum(["a"])


# -- bootstrapping ---------------------------------------------------------------------


def test_the_initial_configuration_is_set_once():
    state = bootstrapped()
    with pytest.raises(CoordinationStateRejectedError, match="initial state already set"):
        state.set_initial_state(
            ClusterState(last_committed_configuration=ABC, last_accepted_configuration=ABC)
        )


def test_the_initial_state_needs_a_configuration():
    state = CoordinationState("a", PersistedState())
    with pytest.raises(CoordinationStateRejectedError, match="non-empty"):
        state.set_initial_state(ClusterState())


# -- start join ------------------------------------------------------------------------


def test_start_join_moves_to_the_new_term_and_votes_for_the_requester():
    state = bootstrapped("b")
    vote = state.handle_start_join(StartJoinRequest(source="a", term=3))
    assert state.current_term == 3
    assert vote == join("b", "a", 3)


def test_start_join_is_persisted_state():
    state = bootstrapped("b")
    state.handle_start_join(StartJoinRequest(source="a", term=3))
    assert state.persisted.current_term == 3


def test_start_join_for_the_current_or_an_older_term_is_rejected():
    state = bootstrapped("b")
    state.handle_start_join(StartJoinRequest(source="a", term=3))
    with pytest.raises(CoordinationStateRejectedError, match="not greater than current term"):
        state.handle_start_join(StartJoinRequest(source="c", term=3))
    with pytest.raises(CoordinationStateRejectedError):
        state.handle_start_join(StartJoinRequest(source="c", term=2))


def test_the_vote_carries_the_last_accepted_term_and_version():
    state = elected("a", term=1)
    state.handle_publish_request(state.handle_client_value(next_state(state)))
    vote = state.handle_start_join(StartJoinRequest(source="b", term=2))
    assert (vote.last_accepted_term, vote.last_accepted_version) == (1, 1)


def test_moving_to_a_new_term_abandons_a_won_election():
    state = elected("a", term=1)
    state.handle_start_join(StartJoinRequest(source="b", term=2))
    assert not state.election_won
    assert state.join_votes.is_empty()


# -- joins -----------------------------------------------------------------------------


def test_a_quorum_of_joins_wins_the_election():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    state.handle_join(join("a", "a", 1))
    assert not state.election_won
    state.handle_join(join("b", "a", 1))
    assert state.election_won


def test_winning_needs_a_quorum_of_both_the_committed_and_the_accepted_configuration():
    state = CoordinationState("a", PersistedState())
    state.set_initial_state(
        ClusterState(
            last_committed_configuration=VotingConfiguration.of("a", "b", "c"),
            last_accepted_configuration=VotingConfiguration.of("c", "d", "e"),
        )
    )
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    for voter in ("a", "b", "c"):
        state.handle_join(join(voter, "a", 1))
    assert not state.election_won
    state.handle_join(join("d", "a", 1))
    assert state.election_won


def test_a_repeated_join_counts_once():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    assert state.handle_join(join("b", "a", 1)) is True
    assert state.handle_join(join("b", "a", 1)) is False
    assert not state.election_won


def test_a_join_for_another_node_is_rejected():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    with pytest.raises(CoordinationStateRejectedError, match="not for a"):
        state.handle_join(join("b", "c", 1))


def test_a_join_for_another_term_is_rejected():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=2))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current term"):
        state.handle_join(join("b", "a", 1))


def test_joins_are_rejected_until_the_node_moved_to_a_new_term_since_restarting():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    restarted = CoordinationState("a", state.persisted)
    with pytest.raises(CoordinationStateRejectedError, match="after reboot"):
        restarted.handle_join(join("b", "a", 1))


def test_a_join_from_a_node_that_accepted_a_later_term_is_rejected():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=5))
    with pytest.raises(CoordinationStateRejectedError, match="last accepted term"):
        state.handle_join(join("b", "a", 5, last_accepted_term=4, last_accepted_version=1))


def test_a_join_from_a_node_that_accepted_a_later_version_of_the_same_term_is_rejected():
    state = elected("a", term=1)
    state.handle_publish_request(state.handle_client_value(next_state(state)))
    state.handle_start_join(StartJoinRequest(source="a", term=2))
    with pytest.raises(CoordinationStateRejectedError, match="last accepted version"):
        state.handle_join(join("b", "a", 2, last_accepted_term=1, last_accepted_version=2))


def test_joins_are_rejected_before_bootstrapping():
    state = CoordinationState("a", PersistedState())
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    with pytest.raises(CoordinationStateRejectedError, match="initial configuration"):
        state.handle_join(join("a", "a", 1))


# -- client values (starting a publication) --------------------------------------------


def test_only_an_elected_master_publishes():
    state = bootstrapped("a")
    state.handle_start_join(StartJoinRequest(source="a", term=1))
    with pytest.raises(CoordinationStateRejectedError, match="election not won"):
        state.handle_client_value(next_state(state))


def test_a_published_state_carries_the_current_term():
    state = elected("a", term=2)
    with pytest.raises(CoordinationStateRejectedError, match="does not match current term"):
        state.handle_client_value(next_state(state).next(term=1))


def test_a_published_version_must_be_newer_than_the_last_published():
    state = elected("a")
    with pytest.raises(CoordinationStateRejectedError, match="lower or equal to last published"):
        state.handle_client_value(next_state(state).next(version=0))


def test_one_publication_at_a_time():
    state = elected("a")
    state.handle_client_value(next_state(state))
    with pytest.raises(CoordinationStateRejectedError, match="before accepting previous one"):
        state.handle_client_value(next_state(state).next(version=2))


def test_reconfiguring_needs_join_votes_from_a_quorum_of_the_new_configuration():
    state = elected("a", voters=("a", "b"))
    with pytest.raises(CoordinationStateRejectedError, match="join votes have quorum"):
        state.handle_client_value(
            next_state(state, last_accepted_configuration=VotingConfiguration.of("a", "d", "e"))
        )
    request = state.handle_client_value(
        next_state(state, last_accepted_configuration=VotingConfiguration.of("a", "b", "d"))
    )
    assert request.state.last_accepted_configuration == VotingConfiguration.of("a", "b", "d")


def test_no_reconfiguration_while_one_is_uncommitted():
    state = elected("a", voters=("a", "b", "c"))
    abd = VotingConfiguration.of("a", "b", "d")
    state.handle_publish_request(
        state.handle_client_value(next_state(state, last_accepted_configuration=abd))
    )
    with pytest.raises(CoordinationStateRejectedError, match="already reconfiguring"):
        state.handle_client_value(
            next_state(state, last_accepted_configuration=VotingConfiguration.of("a", "b"))
        )


# -- publish requests (phase one) ------------------------------------------------------


def test_a_follower_accepts_a_newer_state_of_its_current_term():
    leader = elected("a")
    request = leader.handle_client_value(next_state(leader))
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    assert follower.handle_publish_request(request) == PublishResponse(term=1, version=1)
    assert follower.persisted.last_accepted_state == request.state


def test_a_state_from_another_term_is_rejected():
    leader = elected("a", term=2)
    request = leader.handle_client_value(next_state(leader))
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=3))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current term"):
        follower.handle_publish_request(request)


def test_an_older_or_repeated_version_of_the_same_term_is_rejected():
    leader = elected("a")
    request = leader.handle_client_value(next_state(leader))
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    follower.handle_publish_request(request)
    with pytest.raises(CoordinationStateRejectedError, match="lower or equal to current version"):
        follower.handle_publish_request(request)


def test_a_state_of_a_new_term_may_have_a_lower_version_than_one_accepted_before():
    old_leader = elected("a", term=1)
    for _ in range(3):
        request = old_leader.handle_client_value(next_state(old_leader))
        old_leader.handle_publish_request(request)
    follower = bootstrapped("c")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    follower.handle_publish_request(request)
    follower.handle_start_join(StartJoinRequest(source="b", term=2))
    newer = ClusterState(
        term=2, version=2, master="b", last_committed_configuration=ABC, last_accepted_configuration=ABC
    )
    assert follower.handle_publish_request(PublishRequest(source="b", state=newer)) == PublishResponse(2, 2)


# -- publish responses -----------------------------------------------------------------


def test_a_quorum_of_acceptances_commits():
    leader = elected("a")
    request = leader.handle_client_value(next_state(leader))
    response = leader.handle_publish_request(request)
    assert leader.handle_publish_response("a", response) is None
    assert leader.handle_publish_response("b", response) == ApplyCommitRequest(source="a", term=1, version=1)


def test_committing_a_reconfiguration_needs_a_quorum_of_both_configurations():
    leader = elected("a", voters=("a", "b", "c"))
    abd = VotingConfiguration.of("a", "d", "b")
    leader.handle_join(join("d", "a", 1))  # d votes too, though not in the configuration yet
    request = leader.handle_client_value(next_state(leader, last_accepted_configuration=abd))
    response = leader.handle_publish_request(request)
    leader.handle_publish_response("a", response)
    assert leader.handle_publish_response("c", response) is None  # a quorum of abc only
    assert leader.handle_publish_response("d", response) is not None


def test_acceptances_of_another_version_do_not_count():
    leader = elected("a")
    leader.handle_publish_request(leader.handle_client_value(next_state(leader)))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current version"):
        leader.handle_publish_response("b", PublishResponse(term=1, version=7))


def test_acceptances_of_another_term_do_not_count():
    leader = elected("a", term=2)
    leader.handle_publish_request(leader.handle_client_value(next_state(leader)))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current term"):
        leader.handle_publish_response("b", PublishResponse(term=1, version=1))


def test_acceptances_are_ignored_once_the_election_is_abandoned():
    leader = elected("a")
    response = leader.handle_publish_request(leader.handle_client_value(next_state(leader)))
    leader.handle_start_join(StartJoinRequest(source="c", term=2))
    with pytest.raises(CoordinationStateRejectedError, match="election not won"):
        leader.handle_publish_response("b", response)


# -- commits (phase two) ---------------------------------------------------------------


def test_a_commit_of_the_last_accepted_state_marks_its_configuration_committed():
    leader = elected("a", voters=("a", "b", "c"))
    abd = VotingConfiguration.of("a", "b", "d")
    request = leader.handle_client_value(next_state(leader, last_accepted_configuration=abd))
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    follower.handle_publish_request(request)
    follower.handle_commit(ApplyCommitRequest(source="a", term=1, version=1))
    assert follower.last_committed_configuration == abd
    assert follower.persisted.last_accepted_state.last_committed_configuration == abd


def test_a_commit_of_another_version_is_rejected():
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    leader = elected("a")
    follower.handle_publish_request(leader.handle_client_value(next_state(leader)))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current version"):
        follower.handle_commit(ApplyCommitRequest(source="a", term=1, version=2))


def test_a_commit_of_another_term_is_rejected():
    follower = bootstrapped("b")
    follower.handle_start_join(StartJoinRequest(source="a", term=1))
    with pytest.raises(CoordinationStateRejectedError, match="does not match last accepted term"):
        follower.handle_commit(ApplyCommitRequest(source="a", term=1, version=0))
    with pytest.raises(CoordinationStateRejectedError, match="does not match current term"):
        follower.handle_commit(ApplyCommitRequest(source="a", term=2, version=0))


def test_a_rejected_message_changes_nothing():
    state = elected("a")
    before = (state.persisted, state.election_won, state.last_published_version)
    for attempt in (
        lambda: state.handle_start_join(StartJoinRequest(source="b", term=1)),
        lambda: state.handle_join(join("b", "a", 9)),
        lambda: state.handle_commit(ApplyCommitRequest(source="a", term=1, version=5)),
        lambda: state.handle_publish_response("b", PublishResponse(term=1, version=5)),
    ):
        with pytest.raises(CoordinationStateRejectedError):
            attempt()
    assert (state.persisted, state.election_won, state.last_published_version) == before
    state.check_invariants()
