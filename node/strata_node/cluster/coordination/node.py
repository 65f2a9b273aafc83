"""The Coordinator: one node's whole coordination behaviour as a pure state machine.

Elasticsearch's Coordinator without its threads, transport and timers. The caller feeds
it messages (`handle`) and the passing of time (`tick`), plus client changes (`submit`)
and the bootstrap configuration (`bootstrap`); every call returns an `Output`:

1. `persist`: the new persisted state, to be written synced *before* anything is sent;
2. `messages`: (destination, message) pairs to send, in order, best effort;
3. `applied`: committed cluster states to apply locally, in order.

Safety lives in CoordinationState; this class adds the liveness machinery around it:
modes, pre-voting and randomized backing-off elections, discovery of an existing leader,
one publication at a time with a timeout, lag detection and leader/follower checks.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination.election_scheduler import ElectionScheduler, RandomSource
from strata_node.cluster.coordination.errors import CoordinationStateRejectedError
from strata_node.cluster.coordination.fault_detection import FollowersChecker, LeaderChecker
from strata_node.cluster.coordination.messages import (
    ApplyCommitRequest,
    ApplyCommitResponse,
    FollowerCheckRequest,
    FollowerCheckResponse,
    Join,
    JoinRequest,
    LeaderCheckRequest,
    LeaderCheckResponse,
    Message,
    PeersRequest,
    PeersResponse,
    PreVoteRequest,
    PreVoteResponse,
    PublishRejected,
    PublishRequest,
    PublishWithJoinResponse,
    StartJoinRequest,
)
from strata_node.cluster.coordination.pre_vote import PreVotingRound, handle_pre_vote_request
from strata_node.cluster.coordination.publication import Publication
from strata_node.cluster.coordination.reconfigurator import reconfigure
from strata_node.cluster.coordination.settings import CoordinationSettings
from strata_node.cluster.coordination.state import CoordinationState, PersistedState
from strata_node.cluster.coordination.voting import VotingConfiguration


class Mode(enum.Enum):
    CANDIDATE = "candidate"
    LEADER = "leader"
    FOLLOWER = "follower"


@dataclass(slots=True)
class Output:
    """What the caller must do after one call, in this order: persist, send, apply."""

    persist: PersistedState | None = None
    messages: list[tuple[str, Message]] = field(default_factory=list)
    applied: list[ClusterState] = field(default_factory=list)


ValueUpdate = Callable[[Any], Any]
Exclusions = Callable[[Any], frozenset[str]]
# Whether the configuration may shrink, as a state's value says (None: the node setting).
AutoShrink = Callable[[Any], bool | None]
# Brings a value in line with the members of the state being built (shard allocation).
MembershipUpdate = Callable[[Any, dict[str, DiscoveryNode]], Any]


def _master_eligible(nodes: Iterable[str], details: dict[str, DiscoveryNode]) -> list[str]:
    return [n for n in nodes if n not in details or details[n].is_master_eligible]


def _no_exclusions(value: Any) -> frozenset[str]:
    return frozenset()


def _node_setting(value: Any) -> bool | None:
    return None


class Coordinator:
    """One node. `peers` are the other nodes discovery found; `local_node` is what this
    node tells a master about itself when it joins (a node without the master role never
    stands for election and never enters a voting configuration); `exclusions` reads the
    voting configuration exclusions out of a state's value, `auto_shrink` the dynamic
    `cluster.auto_shrink_voting_configuration`; `on_membership` adjusts the
    value of every state the leader builds to its members (the shell allocates shards)."""

    def __init__(
        self,
        node_id: str,
        *,
        peers: Iterable[str],
        settings: CoordinationSettings,
        random: RandomSource,
        persisted: PersistedState | None = None,
        local_node: DiscoveryNode | None = None,
        exclusions: Exclusions = _no_exclusions,
        auto_shrink: AutoShrink = _node_setting,
        on_membership: MembershipUpdate | None = None,
    ) -> None:
        self.node_id = node_id
        self.local_node = local_node
        self._exclusions = exclusions
        self._auto_shrink = auto_shrink
        self._on_membership = on_membership
        self.settings = settings
        self._random = random
        self.peers: tuple[str, ...] = tuple(sorted(set(peers) - {node_id}))
        self.coordination_state = CoordinationState(node_id, persisted or PersistedState())
        self.now = 0
        self.mode = Mode.CANDIDATE
        self.leader: str | None = None
        self.max_term_seen = self.coordination_state.current_term
        self.last_join: Join | None = None
        self.applied_state: ClusterState | None = None
        self.committed_state: ClusterState | None = None  # the last this node committed as leader
        # candidate
        self._election_scheduler: ElectionScheduler | None = ElectionScheduler(settings, random, self.now)
        self._pre_voting_round: PreVotingRound | None = None
        self._next_peers_round_at = 0
        self._joining: set[str] = set()
        # follower
        self._leader_checker: LeaderChecker | None = None
        # leader
        self._publication: Publication | None = None
        self._followers_checker: FollowersChecker | None = None
        self._pending_updates: list[ValueUpdate] = []
        self._pending_removals: set[str] = set()
        self._joining_details: dict[str, DiscoveryNode] = {}
        self._lag_checks: list[tuple[str, int, int]] = []  # (node, version, deadline)
        self._applied_versions: dict[str, int] = {}
        self._votes_election_at: int | None = None  # when this node last re-ran one for votes
        self._out = Output()
        self._published_in_this_call = False

    # -- reading ----------------------------------------------------------------------

    @property
    def current_term(self) -> int:
        return self.coordination_state.current_term

    @property
    def last_accepted_state(self) -> ClusterState:
        return self.coordination_state.last_accepted_state

    @property
    def persisted_state(self) -> PersistedState:
        return self.coordination_state.persisted

    @property
    def is_bootstrapped(self) -> bool:
        return not self.coordination_state.last_accepted_configuration.is_empty()

    @property
    def publication_in_progress(self) -> bool:
        return self._publication is not None

    # -- inputs -----------------------------------------------------------------------

    def set_peers(self, peers: Iterable[str]) -> None:
        """Discovery's latest view of the other nodes (seed hosts are resolved again on
        every round); elections and leader discovery address these."""
        self.peers = tuple(sorted(set(peers) - {self.node_id}))

    def bootstrap(self, configuration: VotingConfiguration) -> Output:
        """Set the first voting configuration (cluster.initial_master_nodes). A node that
        already has one belongs to a cluster and ignores this, which is what makes it safe
        to pass the same list to every node on every start."""
        return self._run(lambda: self._bootstrap(configuration))

    def submit(self, update: ValueUpdate) -> Output:
        """Queue a change of the cluster state's value; the leader publishes queued changes
        as one batch when no publication is in flight. Only the leader accepts changes."""
        if self.mode is not Mode.LEADER:
            raise CoordinationStateRejectedError(f"node {self.node_id} is not the elected master")
        return self._run(lambda: self._submit(update))

    def handle(self, message: Message) -> Output:
        return self._run(lambda: self._dispatch(message))

    def disconnected(self, node_id: str) -> Output:
        """The network could not reach `node_id` at all (connection refused or reset, not
        a timeout). As in Elasticsearch, that condemns it at once rather than after the
        checks' retries: a follower stops following a disconnected leader, a leader removes
        a disconnected follower and stops waiting for it in the publication in flight.
        Safety never depends on it: a wrongly condemned node just joins again."""
        return self._run(lambda: self._on_disconnected(node_id))

    def tick(self) -> Output:
        return self._run(self._tick)

    def _run(self, action: Callable[[], None]) -> Output:
        before = self.coordination_state.persisted
        self._out = Output()
        self._published_in_this_call = False
        action()
        out = self._out
        if self.coordination_state.persisted is not before:
            out.persist = self.coordination_state.persisted
        self._out = Output()
        return out

    def _send(self, destination: str, message: Message) -> None:
        self._out.messages.append((destination, message))

    # -- bootstrap and client changes ---------------------------------------------------

    def _bootstrap(self, configuration: VotingConfiguration) -> None:
        if self.is_bootstrapped:
            return
        initial = ClusterState(
            term=0,
            version=self.coordination_state.last_accepted_version,
            last_committed_configuration=configuration,
            last_accepted_configuration=configuration,
        )
        self.coordination_state.set_initial_state(initial)

    def _submit(self, update: ValueUpdate) -> None:
        self._pending_updates.append(update)
        self._maybe_publish()

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, message: Message) -> None:
        match message:
            case StartJoinRequest():
                self._on_start_join(message)
            case JoinRequest():
                self._on_join_request(message)
            case PublishRequest():
                self._on_publish_request(message)
            case PublishWithJoinResponse():
                self._on_publish_response(message)
            case PublishRejected():
                self._on_publish_rejected(message)
            case ApplyCommitRequest():
                self._on_apply_commit(message)
            case ApplyCommitResponse():
                self._on_apply_commit_response(message)
            case PreVoteRequest():
                self._on_pre_vote_request(message)
            case PreVoteResponse():
                self._on_pre_vote_response(message)
            case PeersRequest():
                leader = self.node_id if self.mode is Mode.LEADER else None
                self._send(
                    message.source, PeersResponse(source=self.node_id, term=self.current_term, leader=leader)
                )
            case PeersResponse():
                self._on_peers_response(message)
            case LeaderCheckRequest():
                self._on_leader_check(message)
            case LeaderCheckResponse():
                self._on_leader_check_response(message)
            case FollowerCheckRequest():
                self._on_follower_check(message)
            case FollowerCheckResponse():
                self._on_follower_check_response(message)
            case _:
                raise TypeError(f"not a coordination message: {message!r}")

    # -- modes ------------------------------------------------------------------------

    def _become_candidate(self) -> None:
        self.mode = Mode.CANDIDATE
        self.leader = None
        self._election_scheduler = ElectionScheduler(self.settings, self._random, self.now)
        self._pre_voting_round = None
        self._next_peers_round_at = self.now
        self._joining = set()
        self._joining_details = {}
        self._leader_checker = None
        self._stop_leading()

    def _become_follower(self, leader: str) -> None:
        if self.mode is Mode.FOLLOWER and self.leader == leader:
            return
        self._stop_leading()
        self.mode = Mode.FOLLOWER
        self.leader = leader
        self._election_scheduler = None
        self._pre_voting_round = None
        self._joining = set()
        self._leader_checker = LeaderChecker(leader, self.settings, self.now)

    def _become_leader(self) -> None:
        self.mode = Mode.LEADER
        self.leader = self.node_id
        self._election_scheduler = None
        self._pre_voting_round = None
        self._leader_checker = None
        self._followers_checker = FollowersChecker(self.settings)
        self._pending_updates = []
        self._pending_removals = set()
        self._lag_checks = []
        self._applied_versions = {}
        self._maybe_publish()

    def _stop_leading(self) -> None:
        """Abandon leadership: the publication in flight fails (or, committed already, is
        applied here as it stands), queued changes are dropped (their submitters must retry
        with the next master)."""
        publication = self._publication
        if publication is not None and publication.commit is not None:
            self._apply(self.committed_state)
        self._publication = None
        self._followers_checker = None
        self._pending_updates = []
        self._pending_removals = set()
        self._lag_checks = []
        self._applied_versions = {}

    # -- terms ------------------------------------------------------------------------

    def _update_max_term_seen(self, term: int) -> None:
        """A leader that learns of a newer term cannot publish in its own any more; it
        moves past it at once and re-runs the election (keeping its cluster if the nodes
        still want it), unless a publication is in flight, which gets to finish first."""
        self.max_term_seen = max(self.max_term_seen, term)
        if self.mode is Mode.LEADER and self.max_term_seen > self.current_term and self._publication is None:
            self._ensure_term_at_least(self.node_id, self.max_term_seen)
            self._start_election()

    def _ensure_term_at_least(self, source: str, term: int) -> Join | None:
        if self.current_term < term:
            return self._join_leader_in_term(StartJoinRequest(source=source, term=term))
        return None

    def _join_leader_in_term(self, request: StartJoinRequest) -> Join:
        join = self.coordination_state.handle_start_join(request)
        self.last_join = join
        if self.mode is not Mode.CANDIDATE:
            self._become_candidate()
        return join

    def _join_request(self, join: Join | None) -> JoinRequest:
        return JoinRequest(source=self.node_id, term=self.current_term, join=join, node=self.local_node)

    def _join_for(self, destination: str, term: int) -> Join | None:
        join = self.last_join
        if join is not None and join.target == destination and join.term == term:
            return join
        return None

    # -- elections --------------------------------------------------------------------

    @property
    def _master_eligible(self) -> bool:
        return self.local_node is None or self.local_node.is_master_eligible

    def _may_win_election(self) -> bool:
        """Elasticsearch's nodeMayWinElection: a voter, or a master-eligible node under no
        voting exclusion. A node that wins outside the configuration enters it with its
        first publication; an excluded one hands over once that publication completes."""
        if not self._master_eligible:
            return False
        state = self.coordination_state
        return (
            self.node_id in state.last_committed_configuration
            or self.node_id in state.last_accepted_configuration
            or self.node_id not in self._exclusions(state.last_accepted_state.value)
        )

    def _may_stand(self) -> bool:
        """Whether to run pre-votes and elections: every master-eligible node of a
        bootstrapped cluster, excluded ones too (unlike Elasticsearch). An excluded node
        can hold the freshest state, one nobody else accepted: the only voter left then
        refuses its vote as fresher and cannot win, and without it standing no master is
        ever elected. When it wins it publishes that state and hands over."""
        state = self.coordination_state
        return self._master_eligible and not state.last_accepted_configuration.is_empty()

    def _start_pre_voting(self) -> None:
        state = self.coordination_state
        self._pre_voting_round = PreVotingRound(
            self.node_id,
            last_accepted_term=state.last_accepted_term,
            last_accepted_version=state.last_accepted_version,
            last_committed_configuration=state.last_committed_configuration,
            last_accepted_configuration=state.last_accepted_configuration,
        )
        request = self._pre_voting_round.request(self.node_id, self.current_term)
        own = handle_pre_vote_request(
            request,
            local_node=self.node_id,
            current_term=self.current_term,
            leader=None,
            last_accepted_term=state.last_accepted_term,
            last_accepted_version=state.last_accepted_version,
        )
        if self._pre_voting_round.handle_response(own):
            self._start_election()
            return
        for peer in self.peers:
            self._send(peer, request)

    def _start_election(self) -> None:
        if not self._may_stand():
            return
        request = StartJoinRequest(source=self.node_id, term=max(self.current_term, self.max_term_seen) + 1)
        for peer in self.peers:
            self._send(peer, request)
        self._on_start_join(request)

    def _on_start_join(self, request: StartJoinRequest) -> None:
        try:
            join = self._join_leader_in_term(request)
        except CoordinationStateRejectedError:
            return
        if request.source == self.node_id:
            self._handle_join(join)
        else:
            self._send(request.source, self._join_request(join))

    def _on_pre_vote_request(self, request: PreVoteRequest) -> None:
        self._update_max_term_seen(request.current_term)
        state = self.coordination_state
        response = handle_pre_vote_request(
            request,
            local_node=self.node_id,
            current_term=self.current_term,
            leader=self.leader,
            last_accepted_term=state.last_accepted_term,
            last_accepted_version=state.last_accepted_version,
        )
        self._send(request.source, response)

    def _on_pre_vote_response(self, response: PreVoteResponse) -> None:
        self._update_max_term_seen(response.current_term)
        round_ = self._pre_voting_round
        if self.mode is Mode.CANDIDATE and round_ is not None and round_.handle_response(response):
            self._start_election()

    def _on_peers_response(self, response: PeersResponse) -> None:
        self._update_max_term_seen(response.term)
        if self.mode is Mode.CANDIDATE and response.leader is not None:
            join = self._join_for(response.leader, self.current_term)
            self._send(response.leader, self._join_request(join))

    def _on_join_request(self, request: JoinRequest) -> None:
        self._update_max_term_seen(request.term)
        if request.join is not None:
            self._handle_join(request.join)
        if request.node is not None:
            self._joining_details[request.source] = request.node
        if self.mode is Mode.LEADER:
            self._pending_removals.discard(request.source)
            known = self._cluster_details().get(request.source)
            assert self._followers_checker is not None
            if (
                request.source not in self._cluster_nodes()
                or (request.node is not None and request.node != known)
                # A member the checks dropped, joining again before its removal was
                # published: it lacks the state (it refused the checks for that), so it
                # is published to again, which also has the checks follow it again.
                or request.source not in self._followers_checker.followers()
            ) and request.source != self.node_id:
                self._joining.add(request.source)
                self._maybe_publish()
        elif self.mode is Mode.CANDIDATE:
            self._joining.add(request.source)

    def _handle_join(self, join: Join) -> None:
        """Count a vote; a vote for a term we have not reached yet moves us there first
        (voting for ourselves), as a candidate that restarted mid-election must."""
        if join.target != self.node_id or not self._master_eligible:
            return  # a node without the master role counts no votes, so it never leads
        own = self._ensure_term_at_least(self.node_id, join.term)
        if own is not None:
            self._handle_join(own)
        state = self.coordination_state
        won_before = state.election_won
        try:
            state.handle_join(join)
        except CoordinationStateRejectedError:
            return
        if not won_before and state.election_won and self.mode is Mode.CANDIDATE:
            self._become_leader()

    # -- publication: leader side -------------------------------------------------------

    def _cluster_nodes(self) -> frozenset[str]:
        if self._publication is not None:
            return self._publication.state.nodes
        return self.last_accepted_state.nodes

    def _cluster_details(self) -> dict[str, DiscoveryNode]:
        if self._publication is not None:
            return self._publication.state.node_details
        return self.last_accepted_state.node_details

    def _maybe_publish(self) -> None:
        # At most one publication per call, so every state this node accepts is persisted
        # on its own before it can be applied; further changes wait for the next tick.
        if self.mode is Mode.LEADER and self._publication is None and not self._published_in_this_call:
            self._publish()

    def _publish(self) -> None:
        """Build and publish the next state from every queued change. A new master always
        publishes once: committing a state of its own term is what settles any state a
        previous master left uncommitted."""
        state = self.coordination_state
        base = state.last_accepted_state
        nodes = frozenset((base.nodes | self._joining | {self.node_id}) - self._pending_removals)
        details = {**base.node_details, **self._joining_details}
        if self.local_node is not None:
            details[self.node_id] = self.local_node
        details = {n: details[n] for n in sorted(nodes) if n in details}
        value = base.value
        for update in self._pending_updates:
            value = update(value)
        # The hook is a function of the value and the members: with neither changed, the
        # base (itself the hook's output) stands, and a leader's tick costs nothing.
        if self._on_membership is not None and (
            self._pending_updates or nodes != base.nodes or details != base.node_details or base.value is None
        ):
            value = self._on_membership(value, details)
        accepted_configuration = base.last_accepted_configuration
        if base.last_committed_configuration == base.last_accepted_configuration:
            # Every master-eligible member counts as live (the followers checker keeps the
            # membership honest), so nodes that joined without a vote in this term still
            # enter; the change is made only when the join votes already hold a quorum of
            # the new configuration, which is what CoordinationState requires to accept it.
            live = _master_eligible(nodes, details)
            current = base.last_accepted_configuration
            proposed = self._reconfigure(live, current, value)
            if proposed != current and not state.join_votes_have_quorum_for(proposed):
                # A voter whose vote went to another candidate in this term cannot be
                # counted on: aim as Elasticsearch does, with only the voters that joined us.
                voted = [n for n in live if state.contains_join_vote_for(n)]
                proposed = self._reconfigure(voted, current, value)
            if proposed == current or state.join_votes_have_quorum_for(proposed):
                accepted_configuration = proposed
        # Updates that changed nothing publish nothing (ES's MasterService acks such a batch
        # at once): the state they would have produced is the one already accepted.
        changed = (
            bool(self._joining)
            or nodes != base.nodes
            or details != base.node_details
            or (value is not base.value and value != base.value)
            or accepted_configuration != base.last_accepted_configuration
            or base.term != self.current_term
        )
        if not changed:
            self._pending_updates = []
            return
        new_state = base.next(
            term=self.current_term,
            version=base.version + 1,
            master=self.node_id,
            nodes=nodes,
            node_details=details,
            last_accepted_configuration=accepted_configuration,
            value=value,
        )
        self._pending_updates = []
        self._pending_removals = set()
        self._joining = set()
        self._joining_details = {}
        self._published_in_this_call = True
        try:
            request = state.handle_client_value(new_state)
            response = state.handle_publish_request(request)
        except CoordinationStateRejectedError:
            self._become_candidate()
            return
        publication = Publication(new_state, self.node_id, self.now, self.settings.publish_timeout)
        self._publication = publication
        assert self._followers_checker is not None
        self._followers_checker.set_followers(publication.targets, self.now)
        self._lag_checks = [c for c in self._lag_checks if c[0] in new_state.nodes]
        for node_id in sorted(publication.targets):
            self._send(node_id, request)
        commit = state.handle_publish_response(self.node_id, response)
        if commit is not None:
            self._on_committed(commit)
        self._check_publication()

    def _reconfigure(self, live: list[str], current: VotingConfiguration, value: Any) -> VotingConfiguration:
        return reconfigure(
            live, self.node_id, current, auto_shrink=self._shrinks(value), excluded=self._exclusions(value)
        )

    def _shrinks(self, value: Any) -> bool:
        dynamic = self._auto_shrink(value)
        return self.settings.auto_shrink_voting_configuration if dynamic is None else dynamic

    def _on_publish_response(self, message: PublishWithJoinResponse) -> None:
        if message.join is not None:
            self._handle_join(message.join)
        publication = self._publication
        response = message.response
        if (
            self.mode is not Mode.LEADER
            or publication is None
            or not publication.matches(response.term, response.version)
        ):
            return
        publication.accepted.add(message.source)
        if publication.commit is not None:
            self._send(message.source, publication.commit)
            return
        try:
            commit = self.coordination_state.handle_publish_response(message.source, response)
        except CoordinationStateRejectedError:
            return
        if commit is not None:
            self._on_committed(commit)
        self._check_publication()

    def _on_publish_rejected(self, message: PublishRejected) -> None:
        publication = self._publication
        if (
            self.mode is not Mode.LEADER
            or publication is None
            or not publication.matches(message.term, message.version)
        ):
            self._update_max_term_seen(message.current_term)
            return
        publication.refused.add(message.source)
        self._check_publication()
        self._update_max_term_seen(message.current_term)

    def _on_committed(self, commit: ApplyCommitRequest) -> None:
        """The leader applies a committed state last, once the publication is over
        (`_check_publication`): whatever waits on the master's state then finds every
        node that applied in time at it too, as ES's CoordinatorPublication applies
        locally only on completion."""
        publication = self._publication
        assert publication is not None
        publication.commit = commit
        self.coordination_state.handle_commit(commit)
        # the state as committed: its last committed configuration is now the accepted one
        self.committed_state = self.coordination_state.last_accepted_state
        for node_id in sorted(publication.accepted - {self.node_id}):
            self._send(node_id, commit)

    def _on_apply_commit_response(self, message: ApplyCommitResponse) -> None:
        if self.mode is not Mode.LEADER or message.term != self.current_term:
            return
        known = self._applied_versions.get(message.source, 0)
        self._applied_versions[message.source] = max(known, message.version)
        publication = self._publication
        if publication is not None and publication.matches(message.term, message.version):
            publication.applied.add(message.source)
            self._check_publication()

    def _check_publication(self) -> None:
        """End the publication when it is over: failed (no quorum by the deadline, or no
        quorum possible) makes the leader step down; complete lets the next one start."""
        publication = self._publication
        if publication is None or self.mode is not Mode.LEADER:
            return
        if publication.commit is None:
            if self.now >= publication.deadline or not publication.is_quorum_possible(
                self.coordination_state.last_committed_configuration
            ):
                self._become_candidate()
            return
        if not publication.is_complete() and self.now < publication.deadline:
            return
        self._publication = None
        self._apply(self.committed_state)
        deadline = self.now + self.settings.follower_lag_timeout
        for node_id in sorted(publication.lagging()):
            self._lag_checks.append((node_id, publication.state.version, deadline))
        if self.max_term_seen > self.current_term:
            self._update_max_term_seen(self.max_term_seen)
            return
        if self._abdicate_if_not_a_voter(publication):
            return
        if self._exclusion_wants_votes():
            # At most one a publish timeout: a master that is its configuration's only voter
            # wins and commits again before the others' votes can arrive.
            last = self._votes_election_at
            if last is None or self.now >= last + self.settings.publish_timeout:
                self._votes_election_at = self.now
                self._start_election()
                return
        self._maybe_publish()

    def _abdicate_if_not_a_voter(self, publication: Publication) -> bool:
        """A master the committed configuration left out (it is under a voting exclusion)
        hands over, as Elasticsearch's does: it asks every node to join a master-eligible
        voter that has this state, in the next term, and stands down itself."""
        state = self.coordination_state
        if self._may_win_election():
            return False
        details = publication.state.node_details
        candidates = sorted(
            n for n in publication.accepted
            if n != self.node_id and n in state.last_committed_configuration
            and (n not in details or details[n].is_master_eligible))
        if not candidates:
            return False
        target = candidates[self._random.randint(0, len(candidates) - 1)]
        request = StartJoinRequest(source=target, term=max(self.current_term, self.max_term_seen) + 1)
        for node_id in sorted(publication.state.nodes - {self.node_id}):
            self._send(node_id, request)
        self._on_start_join(request)  # joins the new master and stands down
        return True

    def _exclusion_wants_votes(self) -> bool:
        """Whether an excluded voter stays in the configuration only because this master
        lacks the votes of members that gave theirs to another candidate in its term (a node
        votes once a term). The master then holds another election, in the next term, where
        every member votes again: Elasticsearch's Zen2 "gather votes from all nodes", here
        only when an exclusion needs them."""
        state = self.coordination_state.last_accepted_state
        configuration = state.last_committed_configuration
        excluded = self._exclusions(state.value)
        if state.last_accepted_configuration != configuration or not excluded & configuration.node_ids:
            return False
        live = _master_eligible(state.nodes, state.node_details)
        wanted = self._reconfigure(live, configuration, state.value)
        if excluded & wanted.node_ids:
            return False  # the members cannot give it a configuration without them either
        return not self.coordination_state.join_votes_have_quorum_for(wanted)

    # -- publication: follower side -----------------------------------------------------

    def _on_publish_request(self, request: PublishRequest) -> None:
        incoming = request.state
        state = self.coordination_state
        try:
            if request.source == self.node_id:
                raise CoordinationStateRejectedError("own publication delivered by the network")
            self._ensure_term_at_least(request.source, incoming.term)
            response = state.handle_publish_request(request)
        except CoordinationStateRejectedError as e:
            self._send(
                request.source,
                PublishRejected(
                    source=self.node_id,
                    term=incoming.term,
                    version=incoming.version,
                    current_term=self.current_term,
                    reason=e.reason,
                ),
            )
            return
        self._become_follower(request.source)
        join = self._join_for(request.source, incoming.term)
        self._send(request.source, PublishWithJoinResponse(source=self.node_id, response=response, join=join))

    def _on_apply_commit(self, request: ApplyCommitRequest) -> None:
        if request.source == self.node_id:
            return
        try:
            self.coordination_state.handle_commit(request)
        except CoordinationStateRejectedError:
            return
        self._become_follower(request.source)
        self._apply(self.coordination_state.last_accepted_state)
        self._send(
            request.source,
            ApplyCommitResponse(source=self.node_id, term=request.term, version=request.version),
        )

    def _apply(self, state: ClusterState) -> None:
        """Hand a committed state to the appliers, once, in version order."""
        applied = self.applied_state
        if applied is not None and applied.term == state.term and applied.version == state.version:
            return
        assert applied is None or state.version > applied.version, (applied, state)
        self.applied_state = state
        self._out.applied.append(state)

    # -- fault detection ----------------------------------------------------------------

    def _on_leader_check(self, request: LeaderCheckRequest) -> None:
        ok = self.mode is Mode.LEADER and request.source in self._cluster_nodes()
        self._send(
            request.source,
            LeaderCheckResponse(
                source=self.node_id, term=self.current_term, check_id=request.check_id, ok=ok
            ),
        )

    def _on_leader_check_response(self, response: LeaderCheckResponse) -> None:
        self._update_max_term_seen(response.term)
        checker = self._leader_checker
        if self.mode is not Mode.FOLLOWER or checker is None or response.source != self.leader:
            return
        if checker.handle_response(response.check_id, response.ok, self.now):
            self._become_candidate()

    def _on_follower_check(self, request: FollowerCheckRequest) -> None:
        """Follow whoever leads the newest term we know: a check from a leader of our own
        term or a later one makes us its follower. Except after a restart: a node that has
        applied nothing since it started refuses, so the leader drops it and it joins
        afresh, which makes the leader publish to it (Elasticsearch gets the same effect
        from the new ephemeral id a restarted node carries)."""
        if request.term == self.current_term and self.mode is Mode.FOLLOWER and self.leader == request.source:
            ok = True
        elif request.term < self.current_term or (
            request.term == self.current_term and self.mode is Mode.LEADER
        ):
            ok = False
        else:
            self._ensure_term_at_least(request.source, request.term)
            ok = self.applied_state is not None
            if ok:
                self._become_follower(request.source)
        self._send(
            request.source,
            FollowerCheckResponse(
                source=self.node_id, current_term=self.current_term, check_id=request.check_id, ok=ok
            ),
        )

    def _on_follower_check_response(self, response: FollowerCheckResponse) -> None:
        checker = self._followers_checker
        if (
            self.mode is Mode.LEADER
            and checker is not None
            and checker.handle_response(response.source, response.check_id, response.ok, self.now)
        ):
            self._remove_node(response.source)
        self._update_max_term_seen(response.current_term)

    def _on_disconnected(self, node_id: str) -> None:
        if self.mode is Mode.FOLLOWER and node_id == self.leader:
            self._become_candidate()
        elif self.mode is Mode.LEADER and node_id != self.node_id:
            publication = self._publication
            if publication is not None and node_id in publication.targets - publication.applied:
                publication.refused.add(node_id)
            if self._followers_checker is not None:
                self._followers_checker.forget(node_id)
            self._remove_node(node_id)
            self._check_publication()

    def _remove_node(self, node_id: str) -> None:
        if node_id in self._cluster_nodes() or node_id in self._joining:
            self._joining.discard(node_id)
            self._pending_removals.add(node_id)
            self._maybe_publish()

    # -- time -------------------------------------------------------------------------

    def _tick(self) -> None:
        self.now += 1
        if self.mode is Mode.CANDIDATE:
            self._candidate_tick()
        elif self.mode is Mode.FOLLOWER:
            self._follower_tick()
        else:
            self._leader_tick()

    def _candidate_tick(self) -> None:
        if self.now >= self._next_peers_round_at:
            self._next_peers_round_at = self.now + self.settings.find_peers_interval
            request = PeersRequest(source=self.node_id, term=self.current_term)
            for peer in self.peers:
                self._send(peer, request)
        scheduler = self._election_scheduler
        if scheduler is not None and scheduler.due(self.now) and self._may_stand():
            self._start_pre_voting()

    def _follower_tick(self) -> None:
        checker = self._leader_checker
        assert checker is not None and self.leader is not None
        check_id, failed = checker.tick(self.now)
        if failed:
            self._become_candidate()
        elif check_id is not None:
            self._send(
                self.leader,
                LeaderCheckRequest(source=self.node_id, term=self.current_term, check_id=check_id),
            )

    def _leader_tick(self) -> None:
        checker = self._followers_checker
        assert checker is not None
        requests, failed = checker.tick(self.now)
        for node_id, check_id in requests:
            self._send(
                node_id, FollowerCheckRequest(source=self.node_id, term=self.current_term, check_id=check_id)
            )
        lagging = [
            node_id
            for node_id, version, deadline in self._lag_checks
            if self.now >= deadline and self._applied_versions.get(node_id, 0) < version
        ]
        self._lag_checks = [
            (node_id, version, deadline)
            for node_id, version, deadline in self._lag_checks
            if self.now < deadline and self._applied_versions.get(node_id, 0) < version
        ]
        for node_id in [*failed, *lagging]:
            if self.mode is Mode.LEADER:
                self._remove_node(node_id)
        self._check_publication()
        self._maybe_publish()
