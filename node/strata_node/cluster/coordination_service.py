"""The networked shell around the pure Coordinator: transport, clock, disk, discovery.

One asyncio task owns the Coordinator and feeds it one input at a time (a delivered
message, a tick, a client change, discovery's view of the peers, the bootstrap
configuration). After each input it carries out the Output in the order the core
requires: persist synced (on a thread), then send, then hand committed states to the
applier task, which runs appliers and then listeners with (old, new) in version order.

Around that loop:
- a ticker delivers one tick every `cluster.coordination.tick_interval`;
- discovery resolves `discovery.seed_hosts` (DNS names again on every round), shakes
  hands with what it finds and with the addresses other nodes shared, and tells the core
  which nodes it can reach; it also bootstraps the first voting configuration once every
  `cluster.initial_master_nodes` entry is found;
- one sender task per destination keeps that node's messages in order. A publication
  goes as a diff against the last state the destination acknowledged, or in full.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..allocation.cluster_info import EMPTY as EMPTY_INFO
from ..allocation.cluster_info import ClusterInfo
from ..common.errors import (
    IncompatibleClusterStateVersion,
    NotMasterError,
    StrataError,
)
from ..common.ids import random_base64_uuid
from ..settings import NodeSettings
from ..tasks.task import Task
from ..transport import context
from ..transport.service import ConnectTransportError, Handshake, RemoteTransportError, TransportService
from ..transport.wire import Empty, Message
from . import diff
from .coordination import ClusterState, CoordinationSettings, Coordinator, Mode, Output, VotingConfiguration
from .coordination.discovery_node import DiscoveryNode
from .coordination.errors import CoordinationStateRejectedError
from .coordination.messages import ApplyCommitResponse, JoinRequest, PublishRequest, PublishWithJoinResponse
from .coordination.messages import Message as CoordinationMessage
from .coordination.state import PersistedState
from .master_service import ContentUpdate, PendingTasks, UpdateTask
from .persisted import PersistedStateStore
from .state import (
    UNKNOWN_UUID,
    ClusterStateContent,
    as_content,
    auto_shrink_voting_configuration,
    content_of,
    decode_state,
    encode_state,
    resolve_absent_exclusions,
    voting_config_exclusions,
)

log = logging.getLogger("strata.cluster.coordination")
# ES's BOOTSTRAP_PLACEHOLDER_PREFIX: a voting configuration entry for a listed node not yet found.
BOOTSTRAP_PLACEHOLDER_PREFIX = "{bootstrap-placeholder}-"

MESSAGE_ACTION = "internal:cluster/coordination/message"
PUBLISH_ACTION = "internal:cluster/coordination/publish_state"
VALIDATE_JOIN_ACTION = "internal:cluster/coordination/join/validate"
# A node tells the master it has applied a state (appliers and listeners run), which is
# what an acknowledged update waits for on every node (ES's apply-commit acks).
STATE_APPLIED_ACTION = "internal:cluster/coordination/state_applied"
SEND_TIMEOUT = 10.0
MAX_QUEUED_PER_NODE = 1000

_encode = msgspec.msgpack.Encoder().encode
_decode_message = msgspec.msgpack.Decoder(CoordinationMessage).decode
_decode_any = msgspec.msgpack.Decoder().decode

Applier = Callable[[ClusterState | None, ClusterState], Awaitable[None] | None]


class CoordinationEnvelope(Message):
    source: str
    payload: bytes  # one coordination message, msgpack
    known_peers: list[str] = []  # transport addresses the sender knows: discovery shares them


class PublishEnvelope(Message):
    """A PublishRequest on the wire: the state in full, or a diff against (base_term,
    base_version), which the receiver must hold as its last accepted state."""

    source: str
    term: int
    version: int
    full: bytes | None = None
    diff: bytes | None = None
    base_term: int = 0
    base_version: int = 0
    known_peers: list[str] = []


class StateApplied(Message):
    source: str
    term: int
    version: int


class ValidateJoinRequest(Message):
    """Sent by a master to a node asking to join, before its join counts: the node refuses
    if its data belongs to another cluster (ES's join validation)."""

    cluster_uuid: str


def coordination_settings(settings: NodeSettings) -> CoordinationSettings:
    """ES's time settings in ticks of cluster.coordination.tick_interval."""
    tick = settings.get("cluster.coordination.tick_interval")

    def ticks(key: str) -> int:
        return max(1, round(settings.get(key) / tick))

    return CoordinationSettings(
        election_initial_timeout=ticks("cluster.election.initial_timeout"),
        election_back_off_time=ticks("cluster.election.back_off_time"),
        election_max_timeout=ticks("cluster.election.max_timeout"),
        election_duration=ticks("cluster.election.duration"),
        leader_check_interval=ticks("cluster.fault_detection.leader_check.interval"),
        leader_check_timeout=ticks("cluster.fault_detection.leader_check.timeout"),
        leader_check_retry_count=settings.get("cluster.fault_detection.leader_check.retry_count"),
        follower_check_interval=ticks("cluster.fault_detection.follower_check.interval"),
        follower_check_timeout=ticks("cluster.fault_detection.follower_check.timeout"),
        follower_check_retry_count=settings.get("cluster.fault_detection.follower_check.retry_count"),
        publish_timeout=ticks("cluster.publish.timeout"),
        follower_lag_timeout=ticks("cluster.follower_lag.timeout"),
        find_peers_interval=ticks("discovery.find_peers_interval"),
        auto_shrink_voting_configuration=settings.get("cluster.auto_shrink_voting_configuration"),
    )


def parse_seed_host(entry: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` (ES's seed host forms)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, default_port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class CoordinationService:
    def __init__(self, *, settings: NodeSettings, local_node: DiscoveryNode, transport: TransportService,
                 data_path: Path, clock: Callable[[], int] | None = None):
        self.settings = settings
        # The master's clock (ms since the epoch): what shard allocation reads, delays
        # included, on every state it builds. Injectable, so tests need not sleep.
        self.clock: Callable[[], int] = clock or wall_clock_ms
        self.local_node = local_node
        self.node_id = local_node.id
        self.transport = transport
        self._store = PersistedStateStore(data_path / "_state" / "coordination")
        self._tick_seconds: float = settings.get("cluster.coordination.tick_interval")
        self._find_peers_seconds: float = settings.get("discovery.find_peers_interval")
        self._seed_hosts: list[str] = settings.get("discovery.seed_hosts")
        self._initial_master_nodes: list[str] = settings.get("cluster.initial_master_nodes")
        self._single_node = settings.get("discovery.type") == "single-node"
        self._default_port: int = settings.get("transport.port") or 9300
        # What the store holds: the core is rebuilt from it when a step fails (see _restart).
        self._persisted: PersistedState = self._store.load()
        self.coordinator = self._new_coordinator()
        # The master's last cluster info (disk usages, shard sizes) that allocation reads;
        # the node sets it to its cluster info service's.
        self.cluster_info: Callable[[], ClusterInfo] = lambda: EMPTY_INFO
        self._inputs: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tick_pending = False
        self._applied_queue: asyncio.Queue[ClusterState] = asyncio.Queue()
        self.applied_state: ClusterState | None = None
        # A follower's answers to its master's commits, by (term, version): sent once the
        # appliers have run, as ES's ApplyCommit handler answers from the applier's listener
        # (the master applies last, once they answered).
        self._apply_commit_answers: dict[tuple[int, int], tuple[str, ApplyCommitResponse]] = {}
        self._appliers: list[Applier] = []
        self._listeners: list[Applier] = []
        self._state_changed = asyncio.Condition()
        self._pending = PendingTasks()
        self._senders: dict[str, asyncio.Queue] = {}
        self._sender_tasks: dict[str, asyncio.Task] = {}
        self._acked: dict[str, tuple[int, int]] = {}  # node -> last (term, version) it accepted
        self._applied_by: dict[str, tuple[int, int]] = {}  # node -> last (term, version) it applied
        self._applied_reports = asyncio.Condition()
        # Recent states as plain data, by (term, version), with the state object they were
        # made from: diffs need them, and the store writes them without encoding again.
        self._encoded: OrderedDict[tuple[int, int], tuple[ClusterState, Any]] = OrderedDict()
        self._learned_addresses: set[str] = set()
        self.discovered: dict[str, Handshake] = {}  # address -> handshake, last round
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self._last_mode = self.coordinator.mode
        self._last_leader: str | None = None
        self._assigning_uuid = False
        self.stats = PublicationStats()
        self._publishing: tuple[int, int, float] | None = None  # (term, version, started)
        self._last_timed: tuple[int, int] | None = None
        transport.register(MESSAGE_ACTION, CoordinationEnvelope, Empty, self._on_message)
        transport.register(PUBLISH_ACTION, PublishEnvelope, Empty, self._on_publish)
        transport.register(VALIDATE_JOIN_ACTION, ValidateJoinRequest, Empty, self._on_validate_join)
        transport.register(STATE_APPLIED_ACTION, StateApplied, Empty, self._on_state_applied)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self.local_node.is_master_eligible and (
            self._single_node or (not self._seed_hosts and not self._initial_master_nodes)
        ):
            # Nothing to discover: this node is the whole cluster (ES's single-node discovery
            # and its auto-bootstrap of an unconfigured development node).
            self._inputs.put_nowait(("bootstrap", VotingConfiguration.of(self.node_id)))
        self._tasks = [asyncio.create_task(coro, name=name) for name, coro in (
            ("coordination-loop", self._run()), ("coordination-ticker", self._ticker()),
            ("coordination-applier", self._apply_loop()), ("discovery", self._discovery_loop()))]

    async def stop(self) -> None:
        tasks = self._tasks + list(self._sender_tasks.values()) + list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.fail_all("the node is shutting down")
        await asyncio.to_thread(self._store.close)

    # -- reading ------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self.coordinator.mode

    @property
    def is_master(self) -> bool:
        return self.coordinator.mode is Mode.LEADER

    @property
    def master_node(self) -> DiscoveryNode | None:
        """The elected master as this node knows it (None while there is none)."""
        leader = self.coordinator.leader
        if leader is None:
            return None
        state = self.applied_state
        details = state.node_details.get(leader) if state is not None else None
        return details or (self.local_node if leader == self.node_id else None)

    @property
    def content(self) -> ClusterStateContent:
        return content_of(self.applied_state)

    @property
    def current_term(self) -> int:
        return self.coordinator.current_term

    def add_applier(self, applier: Applier) -> None:
        self._appliers.append(applier)

    def add_listener(self, listener: Applier) -> None:
        self._listeners.append(listener)

    async def wait_for_state(self, predicate: Callable[[ClusterState | None], bool], timeout: float) -> bool:
        """Wait until the applied state satisfies `predicate` (ES's ClusterStateObserver)."""
        async with self._state_changed:
            try:
                await asyncio.wait_for(self._state_changed.wait_for(lambda: predicate(self.applied_state)),
                                       timeout)
                return True
            except TimeoutError:
                return predicate(self.applied_state)

    async def wait_for_change(self, timeout: float) -> None:
        async with self._state_changed:
            try:
                await asyncio.wait_for(self._state_changed.wait(), timeout)
            except TimeoutError:
                pass

    def _details_of(self, node_id: str) -> DiscoveryNode | None:
        """What the newest state this node has says of `node_id`."""
        for state in (self.coordinator.last_accepted_state, self.applied_state):
            if state is not None and node_id in state.node_details:
                return state.node_details[node_id]
        return None

    def address_of(self, node_id: str) -> str | None:
        details = self._details_of(node_id)
        if details is not None and details.transport_address:
            return details.transport_address
        return self.transport.peers().get(node_id)

    # -- the master service ---------------------------------------------------------------

    async def submit(self, source: str, update: ContentUpdate, priority: str = "NORMAL", *,
                     acked: bool = False) -> ClusterState:
        """Run `update` on the master's next state; answers with the state that carries it,
        once this master applied it (`acked`: once it is committed, for a submitter that
        then waits with `wait_for_acks`, as ES answers an acknowledged update at its ack
        timeout even while the publication still waits for a slow node). Raises
        NotMasterError unless this node is the elected master. `priority` is
        Elasticsearch's for this kind of update, shown in the pending tasks."""
        if not self.is_master:
            raise NotMasterError(f"node [{self.local_node.name}] is not the elected master")
        task = UpdateTask(source, update, asyncio.get_running_loop().create_future(), priority, acked=acked)
        self._pending.add(task)
        self._inputs.put_nowait(("submit", task))
        return await task.future

    def pending_tasks(self) -> list[dict[str, Any]]:
        """This master's cluster state updates not yet applied here (none on other nodes)."""
        return self._pending.listing()

    def max_task_wait_millis(self) -> int:
        return self._pending.max_wait_millis()

    # -- the loop that owns the Coordinator -----------------------------------------------

    def _new_coordinator(self) -> Coordinator:
        return Coordinator(
            self.node_id, peers=(), settings=coordination_settings(self.settings), random=random.Random(),
            persisted=self._persisted, local_node=self.local_node, exclusions=voting_config_exclusions,
            auto_shrink=auto_shrink_voting_configuration,
            on_membership=lambda value, nodes: _allocate(value, nodes, self.clock(), self.cluster_info(),
                                                         self.settings.values))

    def _restart(self, reason: str) -> None:
        """Rebuild the core from what the store holds, as a crash and restart would.

        The core changes its term and accepted state before the shell persists them (persist,
        then send). When a step raises, or its output cannot be persisted, the core has moved
        past the store: kept, it would build every later state on one that was never written,
        and a master would stay stuck failing to persist them. So the whole step is dropped,
        and the node starts over as a candidate from its last persisted term and state; a
        master steps down and its pending updates fail, as ES fails a publication it could
        not write."""
        old = self.coordinator
        committed, applied = old.committed_state, old.applied_state
        if committed is not None and (applied is None or committed.version > applied.version):
            # A state this master committed and had not applied yet (its publication still
            # waiting for the last nodes) is applied here all the same, its tasks answered.
            self._applied_queue.put_nowait(committed)
        else:
            committed = None
        self.coordinator = self._new_coordinator()
        self.coordinator.set_peers(old.peers)
        self._pending.fail_all(reason, committed)
        self._assigning_uuid = False
        self._after_step()

    async def _run(self) -> None:
        while True:
            kind, argument = await self._inputs.get()
            try:
                output = self._step(kind, argument)
            except Exception as e:
                log.exception("[%s] coordination failed to handle [%s]; restarting it from its persisted "
                              "state", self.local_node.name, kind)
                self._restart(f"failed to handle [{kind}]: {e}")
                continue
            try:
                if output.persist is not None:
                    accepted = output.persist.last_accepted_state
                    if self.coordinator.mode is Mode.LEADER and self._exact_builtins(accepted) is None:
                        self._builtins(accepted)  # the senders diff against it too
                    await asyncio.to_thread(self._store.write, output.persist, self._exact_builtins(accepted))
                    self._persisted = output.persist
            except Exception as e:
                # Sending a vote or an acceptance that was not persisted could elect two
                # masters: drop the whole output, as a crash right here would.
                log.exception("[%s] failed to persist coordination state; not sending, restarting "
                              "coordination from its persisted state", self.local_node.name)
                self._restart(f"failed to persist the cluster state: {e}")
                continue
            applying = {(state.term, state.version) for state in output.applied}
            for destination, message in output.messages:
                if isinstance(message, ApplyCommitResponse) and (message.term, message.version) in applying:
                    self._apply_commit_answers[(message.term, message.version)] = (destination, message)
                else:
                    self._send(destination, message)
            for state in output.applied:
                self._applied_queue.put_nowait(state)
            self._after_step()

    def _step(self, kind: str, argument: Any) -> Output:
        coordinator = self.coordinator
        if kind == "tick":
            self._tick_pending = False
            return coordinator.tick()
        if kind == "message":
            return coordinator.handle(argument)
        if kind == "disconnected":
            return coordinator.disconnected(argument)
        if kind == "peers":
            coordinator.set_peers(argument)
            return Output()
        if kind == "bootstrap":
            if not coordinator.is_bootstrapped:
                log.info("[%s] bootstrapping the cluster with voting configuration %s",
                         self.local_node.name, sorted(argument.node_ids))
            return coordinator.bootstrap(argument)
        if kind == "submit":
            task: UpdateTask = argument
            if task.future.done():  # failed while queued: this node stopped being master
                return Output()
            update = self._pending.wrap(task, lambda: (coordinator.current_term,
                                                       coordinator.last_accepted_state.version + 1))
            try:
                return coordinator.submit(update)
            except CoordinationStateRejectedError as e:
                self._pending.fail_all(str(e))
                return Output()
        raise ValueError(f"unknown coordination input [{kind}]")

    def _after_step(self) -> None:
        coordinator = self.coordinator
        self._time_publications()
        if coordinator.mode is Mode.LEADER and self.applied_state is not None:
            self._pending.settle_unpublished(coordinator.last_accepted_state)
            if coordinator.committed_state is not None:
                self._pending.committed(coordinator.committed_state)
            self._pending.applied(self.applied_state)
        if coordinator.mode is not self._last_mode or coordinator.leader != self._last_leader:
            if coordinator.mode is Mode.LEADER:
                log.info("[%s] elected-as-master, term [%d]", self.local_node.name, coordinator.current_term)
            elif coordinator.leader is not None:
                log.info("[%s] master node changed: now [%s]{%s}, term [%d]", self.local_node.name,
                         self._name_of(coordinator.leader), coordinator.leader, coordinator.current_term)
            else:
                log.info("[%s] no master: %s", self.local_node.name, coordinator.mode.value)
            if self._last_mode is Mode.LEADER:  # (what it committed is on its way to the applier)
                self._pending.fail_all("this node stopped being the master", coordinator.committed_state)
                self._assigning_uuid = False
            self._last_mode, self._last_leader = coordinator.mode, coordinator.leader
            self._notify_soon()
        if coordinator.mode is Mode.LEADER and not self._assigning_uuid and (
            content_of(coordinator.last_accepted_state).metadata.cluster_uuid == UNKNOWN_UUID
        ):
            self._assigning_uuid = True  # the first master of a cluster names it
            uuid = random_base64_uuid()
            task = UpdateTask("elected-as-master: assign cluster uuid", lambda c: msgspec.structs.replace(
                c, metadata=msgspec.structs.replace(c.metadata, cluster_uuid=uuid)),
                asyncio.get_running_loop().create_future(), "URGENT")
            task.future.add_done_callback(_log_failure)
            self._pending.add(task)
            self._inputs.put_nowait(("submit", task))

    def _time_publications(self) -> None:
        """Commit and completion times of this master's publications (ES's
        cluster_state_update stats in `_nodes/stats/discovery`)."""
        coordinator = self.coordinator
        now = time.monotonic()
        in_flight = coordinator.publication_in_progress
        state = coordinator.last_accepted_state
        if self._publishing is not None:
            term, version, started = self._publishing
            done = coordinator.committed_state  # (a master applies its own state only on completion)
            if done is not None and (done.term, done.version) == (term, version) and (
                    self.stats.committed_version != (term, version)):
                self.stats.record_commit((term, version), now - started)
            if not in_flight or (state.term, state.version) != (term, version):
                committed = done is not None and (done.term, done.version) >= (term, version)
                self.stats.record_completion(now - started, committed and coordinator.mode is Mode.LEADER)
                self._publishing = None
        if in_flight and self._publishing is None:
            self._publishing = (state.term, state.version, now)
        elif (not in_flight and coordinator.mode is Mode.LEADER
              and self._last_timed != (state.term, state.version)):
            # Committed and completed within one step (a master alone in its cluster).
            self.stats.record_commit((state.term, state.version), 0.0)
            self.stats.record_completion(0.0, True)
        self._last_timed = (state.term, state.version)

    def _name_of(self, node_id: str) -> str:
        details = self._details_of(node_id)
        if details is not None:
            return details.name
        handshake = next((h for h in self.discovered.values() if h.node_id == node_id), None)
        return handshake.node_name if handshake is not None else node_id

    def _notify_soon(self) -> None:
        async def notify() -> None:
            async with self._state_changed:
                self._state_changed.notify_all()
        asyncio.get_running_loop().create_task(notify())

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            if not self._tick_pending:  # a loop that fell behind gets one tick, not a burst
                self._tick_pending = True
                self._inputs.put_nowait(("tick", None))

    # -- applying committed states ----------------------------------------------------------

    async def _apply_loop(self) -> None:
        while True:
            state = await self._applied_queue.get()
            old = self.applied_state
            if old is not None and state.term == old.term and state.version <= old.version:
                # (a core rebuilt after a failed step may hand over again what the last one
                # committed: it is applied once)
                answer = self._apply_commit_answers.pop((state.term, state.version), None)
                if answer is not None:
                    self._send(*answer)
                continue
            content = content_of(state)
            for applier in self._appliers:
                await _call(applier, old, state, "applier")
            uuid = content.metadata.cluster_uuid
            if uuid != UNKNOWN_UUID and uuid != self._store.committed_cluster_uuid:
                try:
                    await asyncio.to_thread(self._store.record_committed_cluster_uuid, uuid)
                except Exception:  # this loop must outlive it: every later state is applied here
                    log.exception("[%s] failed to record the committed cluster uuid [%s]; trying again "
                                  "with the next state", self.local_node.name, uuid)
            self.applied_state = state
            self._pending.applied(state)
            async with self._state_changed:
                self._state_changed.notify_all()
            async with self._applied_reports:  # a node that left never acknowledges
                self._applied_reports.notify_all()
            answer = self._apply_commit_answers.pop((state.term, state.version), None)
            if answer is not None:
                self._send(*answer)
            for listener in self._listeners:
                await _call(listener, old, state, "listener")
            self._report_applied(state)

    # -- acknowledgements -----------------------------------------------------------------

    def _report_applied(self, state: ClusterState) -> None:
        """Tell the state's master this node has applied it (in the background: the next
        state is applied meanwhile; a lost report only makes an acknowledgement time out)."""
        master = state.master
        if master is None or master == self.node_id:
            return
        address = self.address_of(master)
        if address is None:
            return
        report = StateApplied(source=self.node_id, term=state.term, version=state.version)

        async def send() -> None:
            try:
                with context.unparented():
                    await self.transport.execute(STATE_APPLIED_ACTION, report, address=address,
                                                 timeout=SEND_TIMEOUT)
            except StrataError as e:
                log.debug("[%s] could not tell the master it applied [%d/%d]: %s", self.local_node.name,
                          state.term, state.version, e)

        task = asyncio.ensure_future(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_state_applied(self, report: StateApplied, task: Task) -> Empty:
        applied = (report.term, report.version)
        if applied > self._applied_by.get(report.source, (0, 0)):
            self._applied_by[report.source] = applied
            async with self._applied_reports:
                self._applied_reports.notify_all()
        return Empty()

    async def wait_for_acks(self, state: ClusterState, timeout: float) -> bool:
        """Whether every node of `state`, this master too, applied it (or a later state)
        within `timeout` seconds (-1: no limit): what an acknowledged update answers as
        `acknowledged` (ES's AckedClusterStateUpdateTask, whose ack countdown starts at the
        commit and counts the master's own apply). A node that left the cluster meanwhile
        never will."""
        wanted = (state.term, state.version)
        others = set(state.nodes) - {self.node_id}

        def acked() -> bool | None:
            """True when every node applied it, False once one of them left, else None."""
            here = self.applied_state
            current = here.nodes if here is not None else state.nodes
            missing = [n for n in others if self._applied_by.get(n, (0, 0)) < wanted]
            if not missing and here is not None and (here.term, here.version) >= wanted:
                return True
            return False if any(n not in current for n in missing) else None

        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout >= 0 else float("inf"))  # -1: as long as it takes
        async with self._applied_reports:
            while (answer := acked()) is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._applied_reports.wait(), remaining)
                except TimeoutError:
                    return False
        return answer

    @property
    def committed_cluster_uuid(self) -> str | None:
        return self._store.committed_cluster_uuid

    # -- sending ---------------------------------------------------------------------------

    def _send(self, destination: str, message: CoordinationMessage) -> None:
        if destination == self.node_id:
            self._inputs.put_nowait(("message", message))
            return
        queue = self._senders.get(destination)
        if queue is None:
            queue = self._senders[destination] = asyncio.Queue()
            self._sender_tasks[destination] = asyncio.create_task(self._sender(destination, queue),
                                                                  name=f"coordination-sender-{destination}")
        if queue.qsize() >= MAX_QUEUED_PER_NODE:
            queue.get_nowait()  # an unreachable node: its oldest messages are stale anyway
        queue.put_nowait(message)

    async def _sender(self, destination: str, queue: asyncio.Queue) -> None:
        while True:
            message = await queue.get()
            address = self.address_of(destination)
            if address is None:
                continue
            try:
                if isinstance(message, PublishRequest):
                    await self._send_publication(destination, address, message)
                else:
                    await self.transport.execute(
                        MESSAGE_ACTION, CoordinationEnvelope(source=self.node_id, payload=_encode(message),
                                                             known_peers=self._known_addresses()),
                        Empty, address=address, timeout=SEND_TIMEOUT)
            except ConnectTransportError as e:
                log.debug("[%s] cannot reach [%s]: %s", self.local_node.name, destination, e)
                self._inputs.put_nowait(("disconnected", destination))
            except StrataError as e:
                log.debug("[%s] failed to send %s to [%s]: %s", self.local_node.name,
                          type(message).__name__, destination, e)
            except Exception:
                log.exception("[%s] failed to send %s to [%s]", self.local_node.name,
                              type(message).__name__, destination)

    def _builtins(self, state: ClusterState, data: Any = None) -> Any:
        """The state as plain data (`data` when the caller already has it). A state with
        the same (term, version) but another object (the commit marks the committed
        configuration) keeps the cached data for diffs, which set every field they change."""
        key = (state.term, state.version)
        cached = self._encoded.get(key)
        if cached is None:
            cached = self._encoded[key] = (state, data if data is not None else encode_state(state))
            while len(self._encoded) > 4:
                self._encoded.popitem(last=False)
        return cached[1]

    def _exact_builtins(self, state: ClusterState) -> Any:
        """The cached plain data of exactly this state object, or None (what the store may
        write as it is)."""
        cached = self._encoded.get((state.term, state.version))
        return cached[1] if cached is not None and cached[0] is state else None

    async def _send_publication(self, destination: str, address: str, request: PublishRequest) -> None:
        state = request.state
        new = self._builtins(state)
        base_key = self._acked.get(destination)
        peers = self._known_addresses()
        if base_key is not None and base_key in self._encoded and base_key < (state.term, state.version):
            envelope = PublishEnvelope(source=self.node_id, term=state.term, version=state.version,
                                       diff=_encode(diff.diff(self._encoded[base_key][1], new)),
                                       base_term=base_key[0], base_version=base_key[1], known_peers=peers)
            try:
                await self.transport.execute(PUBLISH_ACTION, envelope, Empty, address=address,
                                             timeout=SEND_TIMEOUT)
                self.stats.compatible_diffs += 1
                return
            except RemoteTransportError as e:
                if e.type != IncompatibleClusterStateVersion.type:
                    raise
                self.stats.incompatible_diffs += 1
                log.debug("[%s] diff refused by [%s], sending the full state", self.local_node.name,
                          destination)
        envelope = PublishEnvelope(source=self.node_id, term=state.term, version=state.version,
                                   full=_encode(new), known_peers=peers)
        await self.transport.execute(PUBLISH_ACTION, envelope, Empty, address=address, timeout=SEND_TIMEOUT)
        self.stats.full_states += 1

    # -- receiving -------------------------------------------------------------------------

    def _learn(self, addresses: list[str]) -> None:
        own = self.transport.address
        self._learned_addresses.update(a for a in addresses if a and a != own)

    def _on_message(self, request: CoordinationEnvelope, task: Task) -> Empty:
        message = _decode_message(request.payload)
        if isinstance(message, PublishWithJoinResponse):
            self._record_ack(message.source, message.response.term, message.response.version)
        elif isinstance(message, ApplyCommitResponse):
            self._record_ack(message.source, message.term, message.version)
        self._learn(request.known_peers)
        known = self.coordinator.last_accepted_state.nodes
        if isinstance(message, JoinRequest) and message.source not in known:
            self._validate_then_deliver(message)
        else:
            self._inputs.put_nowait(("message", message))
        return Empty()

    def _validate_then_deliver(self, join: JoinRequest) -> None:
        """A node new to the cluster joins only once it has checked it may."""
        async def validate() -> None:
            uuid = content_of(self.coordinator.last_accepted_state).metadata.cluster_uuid
            address = self.address_of(join.source) or (join.node.transport_address if join.node else None)
            if address is None:
                return
            try:
                await self.transport.execute(VALIDATE_JOIN_ACTION, ValidateJoinRequest(cluster_uuid=uuid),
                                             Empty, address=address, timeout=SEND_TIMEOUT)
            except StrataError as e:
                name = join.node.name if join.node is not None else join.source
                log.warning("[%s] refused the join of [%s]: %s", self.local_node.name, name, e)
                return
            self._inputs.put_nowait(("message", join))

        task = asyncio.get_running_loop().create_task(validate())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_validate_join(self, request: ValidateJoinRequest, task: Task) -> Empty:
        self._check_same_cluster(request.cluster_uuid)
        return Empty()

    def _check_same_cluster(self, incoming: str) -> None:
        committed = self._store.committed_cluster_uuid
        if committed is not None and incoming != UNKNOWN_UUID and incoming != committed:
            log.error("[%s] this node previously joined a cluster with UUID [%s] and is now trying to join "
                      "a different cluster with UUID [%s]. This is forbidden and usually indicates an "
                      "incorrect discovery or cluster bootstrapping configuration. Note that the cluster "
                      "UUID persists across restarts and can only be changed by deleting the contents of "
                      "the node's data path or with `strata unsafe detach-cluster`.", self.local_node.name,
                      committed, incoming)
            raise CoordinationRefused(f"join validation on cluster state with a different cluster uuid "
                                      f"[{incoming}] than local cluster uuid [{committed}], rejecting")

    def _record_ack(self, node_id: str, term: int, version: int) -> None:
        known = self._acked.get(node_id)
        if known is None or known < (term, version):
            self._acked[node_id] = (term, version)

    def _on_publish(self, request: PublishEnvelope, task: Task) -> Empty:
        self._learn(request.known_peers)
        if request.full is not None:
            data = _decode_any(request.full)
        else:
            base = self.coordinator.last_accepted_state
            if (base.term, base.version) != (request.base_term, request.base_version):
                raise IncompatibleClusterStateVersion(
                    f"have state ({base.term}, {base.version}), the diff is against "
                    f"({request.base_term}, {request.base_version})")
            data = diff.apply(self._builtins(base), _decode_any(request.diff))
        state = decode_state(data)
        if (state.term, state.version) != (request.term, request.version):
            raise IncompatibleClusterStateVersion("the rebuilt state does not carry the announced version")
        self._check_same_cluster(content_of(state).metadata.cluster_uuid)
        self._builtins(state, data)  # keep it: the next diff is against it, and the store writes it
        self._inputs.put_nowait(("message", PublishRequest(source=request.source, state=state)))
        return Empty()

    # -- discovery -------------------------------------------------------------------------

    def _known_addresses(self) -> list[str]:
        addresses = {h.address for h in self.discovered.values() if h.address}
        state = self.coordinator.last_accepted_state
        addresses.update(d.transport_address for d in state.node_details.values() if d.transport_address)
        if self.transport.address:
            addresses.add(self.transport.address)
        return sorted(addresses)

    async def _discovery_loop(self) -> None:
        while True:
            try:
                await self._discovery_round()
            except Exception:
                log.exception("[%s] discovery round failed", self.local_node.name)
            await asyncio.sleep(self._find_peers_seconds)

    async def _resolve_seed_hosts(self) -> set[str]:
        loop = asyncio.get_running_loop()
        addresses: set[str] = set()
        for entry in self._seed_hosts:
            try:
                host, port = parse_seed_host(entry, self._default_port)
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), self._find_peers_seconds * 5)
            except (OSError, ValueError, TimeoutError) as e:
                log.warning("[%s] failed to resolve seed host [%s]: %s", self.local_node.name, entry, e)
                continue
            for _family, _type, _proto, _name, sockaddr in infos:
                addresses.add(format_address(sockaddr[0], sockaddr[1]))
        return addresses

    async def _discovery_round(self) -> None:
        if self._single_node:
            return
        addresses = await self._resolve_seed_hosts()
        addresses |= self._learned_addresses
        state = self.coordinator.last_accepted_state
        addresses.update(d.transport_address for d in state.node_details.values() if d.transport_address)
        addresses.discard(self.transport.address)

        async def probe(address: str) -> tuple[str, Handshake | None]:
            # Last round's handshake stands while the transport still holds it. One the
            # transport made since, for a send (a node back from a restart), is not in it:
            # shake hands again, or a node missing from the accepted state (removed while
            # it was away) would never be a peer again, and two voters never elect.
            known = self.discovered.get(address)
            if known is not None and self.transport.node_id_at(address) == known.node_id:
                return address, known
            try:
                return address, await asyncio.wait_for(self.transport.connect(address), 3.0)
            except (StrataError, TimeoutError) as e:
                log.debug("[%s] no node of this cluster at [%s]: %s", self.local_node.name, address, e)
                return address, None

        results = await asyncio.gather(*(probe(a) for a in sorted(addresses)))
        self.discovered = {a: h for a, h in results if h is not None and h.node_id != self.node_id}
        peers = {h.node_id for h in self.discovered.values()} | set(state.nodes)
        peers -= self.transport.disconnected
        self._inputs.put_nowait(("peers", peers))
        self._maybe_bootstrap()

    def _maybe_bootstrap(self) -> None:
        coordinator = self.coordinator
        if (not self._initial_master_nodes or coordinator.is_bootstrapped
                or not self.local_node.is_master_eligible or coordinator.leader is not None
                or self._store.committed_cluster_uuid is not None):
            return
        candidates = [(self.local_node.name, self.transport.address, self.node_id, True)]
        candidates += [(h.node_name, h.address, h.node_id, "master" in h.roles or not h.roles)
                       for h in self.discovered.values()]
        chosen: set[str] = set()
        missing: list[str] = []
        for entry in self._initial_master_nodes:
            match = {node_id for name, address, node_id, eligible in candidates
                     if eligible and entry in (name, address, address.rpartition(":")[0])}
            if len(match) > 1:
                return  # ambiguous: wait for the next round
            if match:
                chosen |= match
            else:
                missing.append(entry)
        # As Elasticsearch's ClusterBootstrapService: a majority of the listed nodes is
        # enough; each missing one holds a placeholder in the configuration, so a quorum of
        # the whole list is still needed to elect, and two clusters cannot form from it.
        if self.node_id not in chosen or len(chosen) * 2 <= len(self._initial_master_nodes):
            return  # as Elasticsearch: only a listed node bootstraps, and only with a majority
        placeholders = {f"{BOOTSTRAP_PLACEHOLDER_PREFIX}{entry}" for entry in missing}
        self._inputs.put_nowait(("bootstrap", VotingConfiguration(frozenset(chosen | placeholders))))

    # -- the fault switch -------------------------------------------------------------------

    def disconnect(self, node_ids: set[str]) -> None:
        self.transport.disconnected |= node_ids

    def reconnect(self) -> None:
        self.transport.disconnected.clear()


class PublicationStats:
    def __init__(self) -> None:
        self.successes = 0
        self.failures = 0
        self.commit_seconds = 0.0
        self.completion_seconds = 0.0
        self.committed_version: tuple[int, int] | None = None
        self.full_states = 0
        self.compatible_diffs = 0
        self.incompatible_diffs = 0

    def record_commit(self, version: tuple[int, int], seconds: float) -> None:
        self.committed_version = version
        self.commit_seconds += seconds

    def record_completion(self, seconds: float, succeeded: bool) -> None:
        if succeeded:
            self.successes += 1
            self.completion_seconds += seconds
        else:
            self.failures += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster_state_update": {
                "success": {"count": self.successes,
                            "commit_time_millis": round(self.commit_seconds * 1000),
                            "completion_time_millis": round(self.completion_seconds * 1000)},
                "failure": {"count": self.failures},
            },
            "published_cluster_states": {"full_states": self.full_states,
                                         "incompatible_diffs": self.incompatible_diffs,
                                         "compatible_diffs": self.compatible_diffs},
        }


class CoordinationRefused(StrataError):
    type = "coordination_state_rejected_exception"
    status = 400


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _allocate(value: Any, nodes: dict[str, DiscoveryNode], now_ms: int | None = None,
              info: ClusterInfo = EMPTY_INFO, node_settings: Mapping[str, Any] = {}) -> ClusterStateContent:
    """Shard allocation on every state the master builds: copies follow their nodes, and
    persistent tasks of nodes that left move to members under a new allocation id."""
    from ..allocation.allocator import reroute
    from ..tasks.persistent import reassign_tasks

    content = resolve_absent_exclusions(as_content(value), nodes)
    content = reroute(content, nodes, now_ms=now_ms, info=info, node_settings=node_settings)
    return reassign_tasks(content, nodes)


async def _call(function: Applier, old: ClusterState | None, new: ClusterState, kind: str) -> None:
    try:
        result = function(old, new)
        if asyncio.iscoroutine(result):
            await result
    except Exception:
        log.exception("cluster state %s [%s] failed on version [%d]", kind,
                      getattr(function, "__qualname__", function), new.version)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.info("cluster state update failed: %s", future.exception())
