"""The Coordinator's behaviour around the safety core: pre-votes, elections by ticks,
publication with its timeout, leader and follower checks, and the output contract."""

from __future__ import annotations

import itertools
import random

from strata_node.cluster.coordination import (
    CoordinationSettings,
    Coordinator,
    Mode,
    Output,
    PersistedState,
    VotingConfiguration,
)
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination.election_scheduler import ElectionScheduler
from strata_node.cluster.coordination.messages import (
    ApplyCommitResponse,
    FollowerCheckRequest,
    Join,
    JoinRequest,
    PreVoteRequest,
    PreVoteResponse,
    PublishRequest,
    StartJoinRequest,
)
from strata_node.cluster.coordination.pre_vote import PreVotingRound, pre_vote_rejection
from strata_node.cluster.coordination.reconfigurator import reconfigure

SETTINGS = CoordinationSettings(
    election_initial_timeout=2,
    election_back_off_time=2,
    election_max_timeout=10,
    election_duration=3,
    leader_check_interval=2,
    leader_check_timeout=2,
    leader_check_retry_count=2,
    follower_check_interval=2,
    follower_check_timeout=2,
    follower_check_retry_count=2,
    publish_timeout=6,
    follower_lag_timeout=6,
    find_peers_interval=3,
)


class Network:
    """Instant, lossless delivery among the nodes not cut off."""

    def __init__(self, node_ids: list[str], seed: int = 1) -> None:
        self.nodes = {
            n: Coordinator(n, peers=node_ids, settings=SETTINGS, random=random.Random(f"{seed}{n}"))
            for n in node_ids
        }
        self.cut_off: set[str] = set()
        self.queue: list[tuple[str, object]] = []
        self.applied: dict[str, list[tuple[int, int]]] = {n: [] for n in node_ids}

    def take(self, node_id: str, out: Output) -> None:
        self.queue.extend(out.messages)
        self.applied[node_id].extend((s.term, s.version) for s in out.applied)

    def deliver(self) -> None:
        while self.queue:
            destination, message = self.queue.pop(0)
            if destination in self.cut_off or message.source in self.cut_off:
                continue
            self.take(destination, self.nodes[destination].handle(message))

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            for node_id, node in self.nodes.items():
                self.take(node_id, node.tick())
            self.deliver()

    def leaders(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.mode is Mode.LEADER]


def formed(node_ids: list[str]) -> Network:
    network = Network(node_ids)
    configuration = VotingConfiguration(frozenset(node_ids))
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(configuration))
    network.run(40)
    assert len(network.leaders()) == 1
    return network


def three_masters_with_a_vote_gone_elsewhere(seed: int) -> Network:
    """Three master nodes bootstrapped together whose elections, with this seed, leave the
    master without one node's vote in its term (that node voted for itself)."""
    ids = ["a", "b", "c"]
    network = Network(ids, seed=seed)
    network.nodes = {
        n: Coordinator(n, peers=ids, settings=SETTINGS, random=random.Random(f"{seed}{n}"),
                       local_node=DiscoveryNode(id=n, name=n, roles=("master",)),
                       exclusions=lambda value: frozenset(value or ()))
        for n in ids
    }
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(VotingConfiguration.of(*ids)))
    network.run(60)
    return network


def test_a_bootstrapped_single_node_elects_itself_and_applies_its_first_state():
    network = Network(["a"])
    network.take("a", network.nodes["a"].bootstrap(VotingConfiguration.of("a")))
    network.run(10)
    node = network.nodes["a"]
    assert node.mode is Mode.LEADER
    assert network.applied["a"] == [(1, 1)]


def test_a_node_without_a_configuration_never_starts_an_election():
    network = Network(["a"])
    network.run(50)
    assert network.nodes["a"].mode is Mode.CANDIDATE
    assert network.nodes["a"].current_term == 0


def test_three_nodes_elect_one_leader_and_all_apply_its_state():
    network = formed(["a", "b", "c"])
    leader = network.nodes[network.leaders()[0]]
    for node_id, node in network.nodes.items():
        if node is not leader:
            assert node.mode is Mode.FOLLOWER and node.leader == leader.node_id
        assert network.applied[node_id][-1] == (leader.current_term, leader.last_accepted_state.version)


def test_bootstrapping_again_is_ignored():
    network = formed(["a", "b", "c"])
    node = network.nodes["a"]
    before = node.persisted_state
    assert node.bootstrap(VotingConfiguration.of("x")).persist is None
    assert node.persisted_state is before


def test_a_vote_is_output_for_persisting_together_with_the_join_it_sends():
    node = Coordinator("b", peers=["a", "b"], settings=SETTINGS, random=random.Random(1))
    out = node.handle(StartJoinRequest(source="a", term=4))
    assert out.persist is not None and out.persist.current_term == 4
    assert [destination for destination, _ in out.messages] == ["a"]


def test_submitted_changes_are_published_committed_and_applied_everywhere():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: (*(value or ()), "x")))
    network.deliver()
    network.run(2)
    for node in network.nodes.values():
        assert node.applied_state is not None and node.applied_state.value == ("x",)


def test_a_change_that_changes_nothing_publishes_nothing():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    network.take(leader_id, leader.submit(lambda value: (*(value or ()), "x")))
    network.deliver()
    network.run(2)
    before = leader.last_accepted_state
    same = leader.submit(lambda value: tuple(value))  # an equal value, not the same object
    assert not same.messages and not leader.publication_in_progress
    assert leader.last_accepted_state is before
    network.take(leader_id, leader.submit(lambda value: (*value, "y")))  # not stuck behind it
    network.deliver()
    network.run(2)
    assert all(n.applied_state.value == ("x", "y") for n in network.nodes.values())


def test_a_leader_that_cannot_reach_a_quorum_steps_down_when_the_publication_times_out():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    network.cut_off = {n for n in network.nodes if n != leader_id}
    leader = network.nodes[leader_id]
    network.take(leader_id, leader.submit(lambda value: "lost"))
    assert leader.publication_in_progress
    for _ in range(SETTINGS.publish_timeout):
        network.take(leader_id, leader.tick())
    assert leader.mode is Mode.CANDIDATE


def test_followers_elect_a_new_leader_when_theirs_stops_answering_checks():
    network = formed(["a", "b", "c"])
    old = network.leaders()[0]
    network.cut_off = {old}
    network.run(60)
    survivors = [n for n in network.leaders() if n != old]
    assert len(survivors) == 1
    assert network.nodes[survivors[0]].current_term > network.nodes[old].current_term


def test_the_leader_removes_a_follower_that_stops_answering_checks():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    gone = next(n for n in network.nodes if n != leader_id)
    network.cut_off = {gone}
    network.run(20)
    assert gone not in network.nodes[leader_id].last_accepted_state.nodes
    assert network.leaders() == [leader_id]


def test_a_node_that_comes_back_rejoins_and_catches_up():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    gone = next(n for n in network.nodes if n != leader_id)
    network.cut_off = {gone}
    network.run(20)
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: "while away"))
    network.cut_off = set()
    network.run(30)
    assert network.nodes[gone].mode is Mode.FOLLOWER
    assert network.nodes[gone].applied_state.value == "while away"


def test_a_restarted_node_refuses_follower_checks_until_it_has_rejoined():
    network = formed(["a", "b", "c"])
    leader = network.nodes[network.leaders()[0]]
    follower_id = next(n for n in network.nodes if n != leader.node_id)
    restarted = Coordinator(
        follower_id,
        peers=network.nodes,
        settings=SETTINGS,
        random=random.Random(2),
        persisted=network.nodes[follower_id].persisted_state,
    )
    out = restarted.handle(FollowerCheckRequest(source=leader.node_id, term=leader.current_term, check_id=1))
    assert [message.ok for _, message in out.messages] == [False]
    assert restarted.mode is Mode.CANDIDATE


def test_a_follower_refuses_to_pre_vote_while_it_has_a_leader():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    follower = next(node for n, node in network.nodes.items() if n != leader_id)
    request = PreVoteRequest(
        source="z",
        current_term=follower.current_term,
        last_accepted_term=follower.last_accepted_state.term,
        last_accepted_version=follower.last_accepted_state.version,
    )
    (_, response), *_ = follower.handle(request).messages
    assert response.granted is False


def test_a_pre_vote_is_refused_to_a_candidate_behind_us():
    request = PreVoteRequest(source="b", current_term=3, last_accepted_term=2, last_accepted_version=9)
    assert pre_vote_rejection(request, leader=None, last_accepted_term=3, last_accepted_version=1) is not None
    assert (
        pre_vote_rejection(request, leader=None, last_accepted_term=2, last_accepted_version=10) is not None
    )
    assert pre_vote_rejection(request, leader=None, last_accepted_term=2, last_accepted_version=9) is None


def test_a_pre_vote_from_our_own_leader_is_granted():
    request = PreVoteRequest(source="a", current_term=3, last_accepted_term=3, last_accepted_version=1)
    assert pre_vote_rejection(request, leader="a", last_accepted_term=3, last_accepted_version=1) is None


def test_the_election_starts_once_pre_votes_form_a_quorum_of_both_configurations():
    pre_voting = PreVotingRound(
        "a",
        last_accepted_term=1,
        last_accepted_version=1,
        last_committed_configuration=VotingConfiguration.of("a", "b", "c"),
        last_accepted_configuration=VotingConfiguration.of("a", "d", "e"),
    )

    def grant(source: str) -> bool:
        return pre_voting.handle_response(
            PreVoteResponse(
                source=source, current_term=1, last_accepted_term=1, last_accepted_version=1, granted=True
            )
        )

    assert not grant("a")
    assert not grant("b")
    assert grant("d")
    assert not grant("e")  # only once


def test_a_grant_from_a_node_ahead_of_the_candidate_does_not_count():
    pre_voting = PreVotingRound(
        "a",
        last_accepted_term=1,
        last_accepted_version=1,
        last_committed_configuration=VotingConfiguration.of("a", "b", "c"),
        last_accepted_configuration=VotingConfiguration.of("a", "b", "c"),
    )
    pre_voting.handle_response(
        PreVoteResponse(
            source="a", current_term=1, last_accepted_term=1, last_accepted_version=1, granted=True
        )
    )
    ahead = PreVoteResponse(
        source="b", current_term=1, last_accepted_term=1, last_accepted_version=2, granted=True
    )
    assert not pre_voting.handle_response(ahead)


class Highest:
    """A random source that always picks the top of the range."""

    def randint(self, a: int, b: int) -> int:
        return b


def test_election_timeouts_back_off_up_to_the_maximum():
    scheduler = ElectionScheduler(SETTINGS, Highest(), now=0)
    attempts, now = [], 0
    while len(attempts) < 6:
        now += 1
        if scheduler.due(now):
            attempts.append(now)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # bound 2 + 2 * attempt, capped at 10, plus the election duration of 3
    assert attempts[0] == 2
    assert gaps == [4 + 3, 6 + 3, 8 + 3, 10 + 3, 10 + 3]


def test_election_timeouts_come_from_the_injected_random_source():
    def schedule(seed: int) -> list[int]:
        scheduler = ElectionScheduler(SETTINGS, random.Random(seed), now=0)
        return [now for now in range(1, 80) if scheduler.due(now)]

    assert schedule(5) == schedule(5)
    assert any(schedule(5) != schedule(seed) for seed in range(6, 12))


def test_a_publish_request_from_a_newer_term_makes_the_node_join_that_term_and_follow():
    node = Coordinator("b", peers=["a", "b", "c"], settings=SETTINGS, random=random.Random(1))
    node.bootstrap(VotingConfiguration.of("a", "b", "c"))
    state = node.last_accepted_state.next(term=3, version=1, master="a", nodes=frozenset("abc"))
    out = node.handle(PublishRequest(source="a", state=state))
    assert node.mode is Mode.FOLLOWER and node.leader == "a" and node.current_term == 3
    (_, response), *_ = out.messages
    assert response.join == Join(
        source="b", target="a", term=3, last_accepted_term=0, last_accepted_version=0
    )
    assert out.persist == PersistedState(current_term=3, last_accepted_state=state)


def test_the_voting_configuration_grows_and_shrinks_with_the_live_nodes_keeping_an_odd_size():
    one = VotingConfiguration.of("a")
    assert reconfigure(["a", "b", "c"], "a", one, auto_shrink=True) == VotingConfiguration.of("a", "b", "c")
    assert reconfigure(["a", "b"], "a", one, auto_shrink=True) == one
    five = VotingConfiguration.of("a", "b", "c", "d", "e")
    assert reconfigure(["a", "b", "c", "d"], "a", five, auto_shrink=True) == VotingConfiguration.of(
        "a", "b", "c"
    )
    assert reconfigure(["a", "b", "c", "d"], "a", five, auto_shrink=False) == five
    # never below three once there are three, even with fewer live nodes
    three = VotingConfiguration.of("a", "b", "c")
    assert reconfigure(["a", "b"], "a", three, auto_shrink=True) == three


def with_roles(network: Network, roles: dict[str, tuple[str, ...]], exclusions=None) -> Network:
    """Rebuild the network's nodes so each tells the master its roles when it joins."""
    from strata_node.cluster.coordination.discovery_node import DiscoveryNode

    ids = list(network.nodes)
    network.nodes = {
        n: Coordinator(n, peers=ids, settings=SETTINGS, random=random.Random(f"roles{n}"),
                       local_node=DiscoveryNode(id=n, name=f"node-{n}", roles=roles.get(n, ("master",))),
                       exclusions=exclusions or (lambda value: frozenset()))
        for n in ids
    }
    return network


def test_a_node_without_the_master_role_joins_but_never_stands_or_votes():
    network = with_roles(Network(["a", "b", "c", "d"]), {"d": ("data",)})
    for node_id in ("a", "b", "c"):
        network.take(node_id, network.nodes[node_id].bootstrap(VotingConfiguration.of("a", "b", "c")))
    network.run(60)
    leader = network.nodes[network.leaders()[0]]
    state = leader.last_accepted_state
    assert state.nodes == {"a", "b", "c", "d"}
    assert "d" not in state.last_committed_configuration
    assert state.node_details["d"].roles == ("data",)
    assert network.nodes["d"].mode is Mode.FOLLOWER and network.nodes["d"].current_term == leader.current_term


def test_a_node_under_a_voting_exclusion_leaves_the_configuration():
    network = with_roles(Network(["a", "b", "c", "d", "e"]), {},
                         exclusions=lambda value: frozenset(value or ()))
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(VotingConfiguration.of("a", "b", "c", "d", "e")))
    network.run(60)
    leader_id = network.leaders()[0]
    excluded = next(n for n in "abcde" if n != leader_id)
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: (excluded,)))
    network.deliver()
    network.run(30)
    configuration = network.nodes[leader_id].last_accepted_state.last_committed_configuration
    assert excluded not in configuration and len(configuration) == 3


def test_an_excluded_master_leaves_the_configuration_and_hands_over_to_a_voter():
    network = with_roles(Network(["a", "b", "c"]), {}, exclusions=lambda value: frozenset(value or ()))
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(VotingConfiguration.of("a", "b", "c")))
    network.run(60)
    old = network.leaders()[0]
    network.take(old, network.nodes[old].submit(lambda value: (old,)))
    network.deliver()
    network.run(60)
    leaders = network.leaders()
    assert len(leaders) == 1 and leaders[0] != old
    new = network.nodes[leaders[0]]
    assert old not in new.last_accepted_state.last_committed_configuration
    assert new.last_accepted_state.value == (old,)  # the state the old master committed stands
    assert network.nodes[old].mode is Mode.FOLLOWER and network.nodes[old].leader == leaders[0]


def test_the_last_voter_is_never_excluded():
    one = VotingConfiguration.of("a")
    assert reconfigure(["a", "b"], "a", one, auto_shrink=True, excluded=frozenset({"a", "b"})) == one


def test_auto_shrink_follows_the_value_when_it_says_so():
    network = Network(["a", "b", "c", "d", "e"])
    for node_id in list(network.nodes):
        network.nodes[node_id] = Coordinator(node_id, peers=list("abcde"), settings=SETTINGS,
                                             random=random.Random(node_id),
                                             auto_shrink=lambda value: False if value == ("no-shrink",)
                                             else None)
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(VotingConfiguration.of("a", "b", "c", "d", "e")))
    network.run(60)
    leader_id = network.leaders()[0]
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: ("no-shrink",)))
    network.deliver()
    network.run(10)
    gone = [n for n in "abcde" if n != leader_id][:2]
    network.cut_off = set(gone)
    network.run(80)
    leader = network.nodes[network.leaders()[0]]
    assert len(leader.last_accepted_state.last_committed_configuration) == 5  # it did not shrink to 3


def test_a_restarted_node_with_new_details_is_published_again():
    from strata_node.cluster.coordination.discovery_node import DiscoveryNode

    network = with_roles(Network(["a", "b", "c"]), {})
    for node_id, node in network.nodes.items():
        network.take(node_id, node.bootstrap(VotingConfiguration.of("a", "b", "c")))
    network.run(60)
    leader_id = network.leaders()[0]
    other = next(n for n in "abc" if n != leader_id)
    moved = DiscoveryNode(id=other, name=f"node-{other}", transport_address="10.0.0.9:9300")
    restarted = Coordinator(other, peers=list("abc"), settings=SETTINGS, random=random.Random(3),
                            persisted=network.nodes[other].persisted_state, local_node=moved)
    network.nodes[other] = restarted
    network.run(60)
    details = network.nodes[leader_id].last_accepted_state.node_details[other]
    assert details.transport_address == "10.0.0.9:9300"


def test_a_follower_that_cannot_reach_its_leader_stops_following_it_at_once():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    follower_id = next(n for n in "abc" if n != leader_id)
    network.take(follower_id, network.nodes[follower_id].disconnected(leader_id))
    assert network.nodes[follower_id].mode is Mode.CANDIDATE


def test_a_leader_removes_a_follower_it_cannot_reach_without_waiting_for_the_publish_timeout():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    gone = next(n for n in "abc" if n != leader_id)
    network.cut_off.add(gone)
    network.take(leader_id, leader.submit(lambda value: "changed"))
    network.deliver()
    assert leader.publication_in_progress  # committed by the other two, waiting on `gone`
    network.take(leader_id, leader.disconnected(gone))
    network.deliver()
    network.run(1)
    assert not leader.publication_in_progress
    assert gone not in leader.last_accepted_state.nodes


def test_excluding_one_of_three_voters_leaves_the_master_alone_as_elasticsearch_does():
    """The floor of three counts the voters not excluded: with two left the configuration
    takes an odd size, the master alone."""
    three = VotingConfiguration.of("a", "b", "c")
    assert reconfigure(["a", "b", "c"], "a", three, auto_shrink=True, excluded=frozenset({"c"})) == (
        VotingConfiguration.of("a")
    )
    assert reconfigure(["a", "b"], "a", VotingConfiguration.of("a"), auto_shrink=True) == (
        VotingConfiguration.of("a")
    )


def test_an_exclusion_leaves_the_configuration_though_a_voter_gave_its_vote_to_another_candidate():
    """Three nodes bootstrap together and one of them votes for itself in the term another
    wins: the master never gets its vote in that term. Excluding the third voter must still
    take it out of the configuration (it used to wait for the missing vote for ever)."""
    ids = ["a", "b", "c"]
    network = three_masters_with_a_vote_gone_elsewhere(seed=7)
    [leader_id] = network.leaders()
    votes = network.nodes[leader_id].coordination_state.join_votes
    [without_vote] = [n for n in ids if not votes.contains(n)]
    excluded = next(n for n in ids if n not in (leader_id, without_vote))
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: (excluded,)))
    network.deliver()
    network.run(30)
    configuration = network.nodes[leader_id].last_accepted_state.last_committed_configuration
    assert excluded not in configuration


def test_an_excluded_master_hands_over_though_the_voter_that_would_replace_it_gave_its_vote_to_another():
    """As above, but the master itself is excluded and the node first in line to replace it
    is the one whose vote went elsewhere: the master takes the voter it holds a vote from
    instead, as Elasticsearch counts only those as live, and hands over to it."""
    ids = ["a", "b", "c"]
    network = three_masters_with_a_vote_gone_elsewhere(seed=7)
    [old] = network.leaders()
    votes = network.nodes[old].coordination_state.join_votes
    [without_vote] = [n for n in ids if not votes.contains(n)]
    assert without_vote == min(n for n in ids if n != old)  # first in line by id
    network.take(old, network.nodes[old].submit(lambda value: (old,)))
    network.deliver()
    network.run(60)
    [new] = network.leaders()
    assert new not in (old, without_vote)
    assert network.nodes[new].last_accepted_state.last_committed_configuration == VotingConfiguration.of(new)


def test_an_exclusion_that_needs_the_vote_a_member_gave_another_candidate_gets_it_in_a_new_term():
    """The master and the voter that joined it are both excluded, so the only node left to
    vote is the one whose vote in this term went elsewhere: no configuration this master can
    commit leaves them out. It starts an election in the next term, where every member votes
    again, and the configuration becomes the third node alone."""
    ids = ["a", "b", "c"]
    network = three_masters_with_a_vote_gone_elsewhere(seed=8)
    [old] = network.leaders()
    term = network.nodes[old].current_term
    votes = network.nodes[old].coordination_state.join_votes
    [without_vote] = [n for n in ids if not votes.contains(n)]
    excluded = tuple(n for n in ids if n != without_vote)
    network.take(old, network.nodes[old].submit(lambda value: excluded))
    network.deliver()
    network.run(60)
    assert network.leaders() == [without_vote]
    state = network.nodes[without_vote].last_accepted_state
    assert state.last_committed_configuration == VotingConfiguration.of(without_vote)
    assert state.term > term + 1  # the old master's own new term, then the hand-over's


def test_a_member_the_checks_dropped_that_joins_again_before_its_removal_is_published_gets_the_state():
    """The leader drops a follower while a publication is in flight, so the removal waits,
    and the follower's join arrives first and cancels it: the node stays a member that no
    checks follow. When it restarts it has no state and asks to join again; the leader must
    publish to it rather than leave it a candidate for ever (the simulation found this)."""
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    member = next(n for n in "abc" if n != leader_id)
    network.take(leader_id, leader.submit(lambda value: "changed"))  # in flight
    network.take(leader_id, leader.disconnected(member))  # dropped; the removal waits
    network.take(leader_id, leader.handle(JoinRequest(source=member, term=leader.current_term, join=None)))
    network.deliver()
    network.run(10)
    assert member in leader.last_accepted_state.nodes
    network.nodes[member] = Coordinator(member, peers=list("abc"), settings=SETTINGS,
                                        random=random.Random(5),
                                        persisted=network.nodes[member].persisted_state)
    network.run(60)
    node = network.nodes[member]
    assert (node.mode, node.leader) == (Mode.FOLLOWER, leader_id)
    assert node.applied_state is not None
    assert node.applied_state.version == leader.last_accepted_state.version


def _publish_holding_apply_answers(network: Network, leader_id: str) -> list[tuple[str, object]]:
    """Submit a change on the leader and deliver everything but the followers' answers to
    its commit, which are returned."""
    network.take(leader_id, network.nodes[leader_id].submit(lambda value: (*(value or ()), "x")))
    held = []
    while network.queue:
        destination, message = network.queue.pop(0)
        if isinstance(message, ApplyCommitResponse):
            held.append((destination, message))
        elif destination not in network.cut_off and message.source not in network.cut_off:
            network.take(destination, network.nodes[destination].handle(message))
    return held


def test_the_leader_applies_a_committed_state_only_once_its_followers_applied_it():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    held = _publish_holding_apply_answers(network, leader_id)
    followers = [n for n in network.nodes if n != leader_id]
    assert sorted(destination for destination, _ in held) == [leader_id, leader_id]
    assert all(network.nodes[n].applied_state.value == ("x",) for n in followers)
    assert leader.committed_state.value == ("x",) and leader.applied_state.value != ("x",)
    network.queue.extend(held[:1])
    network.deliver()
    assert leader.applied_state.value != ("x",)  # one follower still applying
    network.queue.extend(held[1:])
    network.deliver()
    assert leader.applied_state.value == ("x",) and not leader.publication_in_progress


def test_the_leader_applies_a_committed_state_when_the_publication_times_out_on_a_follower():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    silent = next(n for n in network.nodes if n != leader_id)
    network.cut_off = {silent}
    network.take(leader_id, leader.submit(lambda value: (*(value or ()), "x")))
    network.deliver()
    assert leader.committed_state.value == ("x",) and leader.applied_state.value != ("x",)
    for _ in range(SETTINGS.publish_timeout):
        network.take(leader_id, leader.tick())
        network.deliver()
    assert leader.applied_state.value == ("x",)
    assert network.applied[leader_id][-1] == (leader.current_term, leader.committed_state.version)


def test_a_leader_that_steps_down_applies_the_state_it_committed():
    network = formed(["a", "b", "c"])
    leader_id = network.leaders()[0]
    leader = network.nodes[leader_id]
    _publish_holding_apply_answers(network, leader_id)
    other = next(n for n in network.nodes if n != leader_id)
    network.take(leader_id, leader.handle(StartJoinRequest(source=other, term=leader.current_term + 1)))
    assert leader.mode is Mode.CANDIDATE
    assert leader.applied_state.value == ("x",)


def test_the_leader_applies_a_reconfiguration_as_committed_with_its_new_configuration():
    network = Network(["a", "b", "c"])
    for node_id, node in network.nodes.items():  # a alone is the first voter; b and c join it
        network.take(node_id, node.bootstrap(VotingConfiguration.of("a")))
    network.run(40)
    leader = network.nodes["a"]
    assert leader.mode is Mode.LEADER
    applied = leader.applied_state
    assert applied.last_accepted_configuration.node_ids == frozenset({"a", "b", "c"})
    assert applied.last_committed_configuration == applied.last_accepted_configuration
