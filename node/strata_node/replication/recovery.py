"""Peer recovery of a copy from its primary (Elasticsearch's PeerRecoveryTargetService and
RecoverySourceHandler): operation-based when the primary still holds the history the
target lacks, file-based otherwise.

The target, a copy opened on its node (empty, or on what an earlier copy left there),
asks the primary's node to recover it (`internal:index/shard/recovery/start_recovery`),
saying where its history ends and which history it holds (ES's history uuid). That node
may not have applied the cluster state that assigns the target yet (nor, for a primary
relocation, the one that moves the primary there): it answers with a delay until it has,
and the target asks again. The primary decides as ES's RecoverySourceHandler does:

- **operation-based** when the target's node has a peer-recovery retention lease and the
  history holds every operation from the target's starting sequence number (a new, empty
  copy of a small shard whose history is whole is also replayed: cheaper than files);
- **file-based** otherwise: a consistent set of the primary's LevelDB files is sent with
  per-file CRC32 checks and `indices.recovery.max_bytes_per_sec` throttling, the target
  opens it as its store (file_recovery.py), and the operations after the set's local
  checkpoint are replayed.

Either way a retention lease for the target's node is put in place before any history is
read (retaining from the starting sequence number, or from the global checkpoint + 1 for a
file set, whose checkpoint is at least that), so pruning cannot take what the replay needs.
The primary then adds the copy to its replication group, so every write from then on
reaches it, and replays its history up to the highest sequence number it had at that
moment, in chunks (`internal:index/shard/recovery/translog_ops`). An operation that arrives
both ways is applied once, and an older version of a document never replaces a newer one,
so the two streams may interleave freely. Once the copy's local checkpoint reaches the
global checkpoint the primary marks it in sync; the target then reports the copy started
and the master adds it to the in-sync set.

A copy whose node comes back with its data keeps its store when its history matches: every
operation up to the global checkpoint it last persisted is in every in-sync copy's
history, and the primary confirms by sequence number and primary term each one it holds
above that. A copy whose history diverged (a failover dropped an operation it had) starts
over from an empty store.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from typing import Any

import msgspec

from ..action.nodes_stats import dir_size
from ..cluster.shard_copies import active_primary
from ..cluster.state import content_of
from ..common.errors import IllegalState, StrataError
from ..engine.operation import decode as decode_operation
from ..engine.retention_leases import RetentionLeases
from ..index.service import IndexService
from ..index.shard import IndexShard
from ..tasks.task import Task
from ..transport import context
from ..transport.wire import Message
from .file_recovery import FileRecoveryTarget, send_file_set
from .replica import (
    ReplicaRequest,
    ReplicaResponse,
    apply_on_copy,
    fill_seq_no_gaps,
    held_above_global_checkpoint,
    resync,
)
from .retention_sync import now_millis

log = logging.getLogger(__name__)

START_RECOVERY = "internal:index/shard/recovery/start_recovery"
RECOVERY_OPS = "internal:index/shard/recovery/translog_ops"
# A new copy of a shard with at most this many operations replays them (cheap); a larger
# one gets the primary's files (no parsing or indexing on the target), then what came after.
OPS_BASED_LIMIT = 10_000
TARGET_ACTION = "internal:index/shard/recovery/target"
CHUNK_OPERATIONS = 1000
# A target vouching for more operations above its global checkpoint than this starts over.
MAX_VOUCHED_OPERATIONS = 100_000
FINALIZE_SECONDS = 60.0
PRIMARY_WAIT_SECONDS = 60.0
# A primary whose node has not applied the state the target recovers in yet is asked
# again after this (ES's indices.recovery.retry_delay_state_sync), for up to this long: a
# node lagging longer is removed from the cluster (cluster.follower_lag.timeout, 90s).
RETRY_DELAY_SECONDS = 0.5
DELAYED_RECOVERY_SECONDS = 120.0
# What PeerRecoveryTargetService retries rather than fails the copy for: the source not
# ready yet (it has not applied the state that made this recovery, or not opened its
# copy), after the state-sync delay; the source node unreachable, after the network
# delay (indices.recovery.retry_delay_network); the primary is looked up again each time.
RETRY_NOT_READY = frozenset({"delay_recovery_exception", "shard_not_found_exception",
                             "index_not_found_exception", "illegal_index_shard_state_exception"})
RETRY_NETWORK = frozenset({"connect_transport_exception", "node_not_connected_exception"})
RETRY_NETWORK_DELAY_SECONDS = 5.0


class StartRecoveryRequest(Message):
    index: str
    index_uuid: str
    shard: int
    target_allocation_id: str
    target_node: str
    # A target that kept its store (a node back after a restart): replay from here only,
    # if the store holds the primary's history (ES's history uuid).
    starting_seq_no: int = 0
    history_uuid: str = ""
    # The (seq_no, primary_term) of the operations it holds above its global checkpoint,
    # which a failover may have left out of the primary's history: the primary checks them.
    above_global_checkpoint: list[tuple[int, int]] = []
    # The target takes over from the primary it recovers from (ES's primaryRelocation):
    # the source hands off once the copy has recovered.
    primary_relocation: bool = False

    @property
    def description(self) -> str:
        return f"[{self.index}][{self.shard}] peer recovery to [{self.target_node}]"


class DivergedHistory(IllegalState):
    """The target holds an operation the primary's history does not: it must start over
    from an empty store."""

    type = "diverged_history_exception"


class DelayRecovery(IllegalState):
    """The primary's node has not applied the cluster state the target recovers in: the
    target asks again after a delay (ES's DelayRecoveryException)."""

    type = "delay_recovery_exception"


class StartRecoveryResponse(Message):
    operations: int
    took_millis: int
    # After a primary relocation's hand-off: the other copies the old primary was sending
    # writes to, which the target must go on sending to (ES's primary context).
    tracked: list[str] = []
    history_uuid: str = ""  # the primary's, which the target takes up
    # The primary's leases, which replace any older ones the target's folder kept from an
    # earlier life (it may be promoted before the next background sync reaches it).
    retention_leases: RetentionLeases = RetentionLeases()


def adopt_primary_leases(engine, leases: RetentionLeases) -> bool:
    """A recovered copy takes the leases the primary held when the recovery ended, over
    whatever its folder kept from an earlier life (an older primary term or version),
    but not over newer ones a background sync delivered while the recovery ran: those
    are the primary's later word. True when taken. Blocking."""
    return engine.persist_retention_leases(leases, only_newer=True)


class RecoveryState:
    """How one copy came to be on its node, what `_recovery`, `_cat/recovery` and the
    recovery task's status show (Elasticsearch's RecoveryState)."""

    def __init__(self, index: str, shard: int, source: str, target: str, *, type: str = "PEER",
                 primary: bool = False):
        self.index, self.shard, self.source, self.target = index, shard, source, target
        self.type = type  # PEER | EXISTING_STORE | EMPTY_STORE | SNAPSHOT
        self.snapshot_source: dict[str, str] | None = None  # a restore's repository, snapshot, index
        self.primary = primary
        self.stage = "INIT"
        self.operations = 0
        self.total_operations = 0
        self.bytes_recovered = 0
        self.bytes_total = 0
        # What a copy kept from its own store (a local recovery before the catch-up).
        self.reused_operations = 0
        self.bytes_reused = 0
        self.files_total = 0
        self.files_recovered = 0
        self.throttle_seconds = 0.0  # the source's waits for indices.recovery.max_bytes_per_sec
        self.target_throttle_seconds = 0.0  # a restore's waits for its rates
        self.started = time.time()
        self.stopped: float | None = None
        self.index_started: float | None = None  # the file copy (INDEX stage)
        self.index_stopped: float | None = None
        self.translog_started: float | None = None
        self.translog_stopped: float | None = None

    def add_target_throttle(self, seconds: float) -> None:
        self.target_throttle_seconds += seconds

    def start_index(self) -> None:
        self.stage = "INDEX"
        self.index_started = time.time()

    def stop_index(self) -> None:
        self.index_stopped = time.time()

    def start_translog(self) -> None:
        self.stage = "TRANSLOG"
        self.translog_started = time.time()

    @staticmethod
    def _millis(start: float | None, stop: float | None) -> int:
        return int(((stop or time.time()) - start) * 1000) if start is not None else 0

    @property
    def active(self) -> bool:
        return self.stage not in ("DONE", "FAILED", "CANCELLED")

    def to_json(self) -> dict[str, Any]:
        millis = int(((self.stopped or time.time()) - self.started) * 1000)
        translog_millis = self._millis(self.translog_started, self.translog_stopped)
        total = self.total_operations
        percent = f"{100.0 * self.operations / total:.1f}%" if total else "100.0%"
        return {"index": self.index, "id": self.shard, "type": self.type, "stage": self.stage,
                "primary": self.primary, "start_time_in_millis": int(self.started * 1000),
                "stop_time_in_millis": int(self.stopped * 1000) if self.stopped else 0,
                "total_time_in_millis": millis, "source_node": self.source, "target_node": self.target,
                "translog": {"recovered": self.operations, "total": total, "percent": percent,
                             "total_on_start": total,
                             "total_time_in_millis": translog_millis},
                "store": {"recovered_in_bytes": self.bytes_recovered, "total_in_bytes": self.bytes_total,
                          "reused_in_bytes": self.bytes_reused},
                "files": {"total": self.files_total, "recovered": self.files_recovered, "reused": 0},
                "index_time_in_millis": self._millis(self.index_started, self.index_stopped),
                "source_throttle_time_in_millis": int(self.throttle_seconds * 1000),
                "target_throttle_time_in_millis": int(self.target_throttle_seconds * 1000),
                "reused_operations": self.reused_operations,
                **({"source": self.snapshot_source} if self.snapshot_source is not None else {})}


class PeerRecovery:
    def __init__(self, node):
        self.node = node
        self._running: dict[str, asyncio.Task] = {}  # by target allocation id
        self.states: dict[str, RecoveryState] = {}  # by target allocation id, the latest per copy
        self._resyncs: set[asyncio.Task] = set()
        self.files = FileRecoveryTarget(self)

    def register(self) -> None:
        transport = self.node.transport
        transport.register(START_RECOVERY, StartRecoveryRequest, StartRecoveryResponse, self._on_start,
                           cancellable=True)

        async def on_operations(request: ReplicaRequest, task: Task) -> ReplicaResponse:
            return ReplicaResponse(local_checkpoint=await apply_on_copy(self.node, request, recovery=True))

        transport.register(RECOVERY_OPS, ReplicaRequest, ReplicaResponse, on_operations)
        self.files.register()

    def record_local(self, shard: IndexShard, copy) -> None:
        """A primary opened from its own store (or a new, empty one): its recovery is done."""
        if copy.allocation_id in self.states:
            return
        engine = shard.engine
        state = RecoveryState(shard.ref.index, shard.ref.shard, "", self.node.node_id, primary=True,
                              type="EMPTY_STORE" if engine.created_empty else "EXISTING_STORE")
        if not engine.created_empty:
            self._fill_gaps_after_store_recovery(shard)
        state.operations = state.total_operations = engine.recovered_operations
        state.stage, state.stopped = "DONE", time.time()
        self.states[copy.allocation_id] = state

    @staticmethod
    def _fill_gaps_after_store_recovery(shard: IndexShard) -> None:
        """A primary recovered from its own store fills its gaps with no-ops, as ES does
        after store recovery: operations past a gap (replayed from a translog generation
        whose predecessor lost its unsynced tail, or a replica's store holding what the old
        primary sent out of order) were never all acknowledged, and without the no-ops the
        local checkpoint, and so the global checkpoint, would stay below the gap for good.
        No write reaches the copy before it is started."""
        try:
            filled = fill_seq_no_gaps(shard)
        except Exception as e:  # the engine failed, and reports it
            log.warning("%s could not fill its sequence number gaps after recovering from its store: %s",
                        shard.ref, e, exc_info=not isinstance(e, StrataError))
            return
        if filled:
            log.info("%s recovered from its store: filled %d sequence number gaps with no-ops",
                     shard.ref, filled)

    def resync(self, service: IndexService, shard: IndexShard) -> None:
        """A replica of this node was promoted: bring the other copies in line with it.
        Its gaps are filled first; then what it holds above the global checkpoint is listed
        before any write can reach the copies, so that the first request of the new term
        each copy sees carries it. Both wait for a batch of the old primary still on its
        way into the store, and the new primary's writes wait for them."""

        async def prepare() -> None:
            filled = fill_seq_no_gaps(shard)
            if filled:
                log.info("%s promoted to primary: filled %d sequence number gaps with no-ops",
                         shard.ref, filled)
            shard.resync_held = await held_above_global_checkpoint(shard, MAX_VOUCHED_OPERATIONS)

        prepared = shard.engine.run_between_writes(prepare)

        async def run() -> None:
            try:
                await prepared
            except Exception as e:  # the engine failed, and reports it: the master moves on
                log.warning("%s promoted to primary, but could not fill its gaps: %s", shard.ref, e,
                            exc_info=not isinstance(e, StrataError))
                return
            try:
                await resync(self.node, service, shard)
            except Exception as e:  # the copies that could not take it were failed, or will be
                log.warning("%s primary-replica resync failed: %s", shard.ref, e)

        task = asyncio.get_running_loop().create_task(run())
        self._resyncs.add(task)
        task.add_done_callback(self._resyncs.discard)

    def local_states(self) -> list[RecoveryState]:
        """The recoveries of the copies this node holds now, and those still running."""
        services = list(self.node.indices.indices.values())
        held = {s.allocation_id for service in services for s in service.shards}
        self.states = {aid: s for aid, s in self.states.items() if aid in held or s.active}
        return list(self.states.values())

    # -- target side ------------------------------------------------------------------------

    @staticmethod
    def prepare_empty(service: IndexService, shard: int) -> None:
        """A replica starting from nothing: whatever an earlier copy left in its folder goes."""
        shutil.rmtree(service.path / str(shard), ignore_errors=True)

    async def open_target(self, service: IndexService, n: int) -> IndexShard:
        """The recovering copy's shard, opened on what an earlier copy left in its folder
        (a local recovery from store and translog); the primary decides in the recovery
        itself whether that store may be kept. A store with data but no operation (a store
        copy cut short before its history arrived) cannot be vouched for: it goes."""
        shard = await service.open_shard(n)
        engine = shard.engine
        if shard.state == "STARTED" and engine.tracker.max_seq_no < 0 \
                and not await engine.read_off_loop(engine.holds_nothing):
            await service.close_shard(n)
            await asyncio.get_running_loop().run_in_executor(None, self.prepare_empty, service, n)
            shard = await service.open_shard(n)
        return shard

    async def _start_over(self, service: IndexService, shard: IndexShard, copy) -> IndexShard:
        """Close the copy, empty its folder and open it again in the same role, holding off
        the cluster state applier meanwhile (it would open the folder itself)."""
        n = shard.ref.shard
        async with self.node.indices.apply_lock:
            if service.local.get(n) is not shard:
                raise IllegalState(f"{shard.ref} copy [{copy.allocation_id}] was closed while recovering")
            await service.close_shard(n)
            await asyncio.get_running_loop().run_in_executor(None, self.prepare_empty, service, n)
            fresh = await service.open_shard(n)
            self.node.indices.assign_role(service, fresh, copy, self.node.coordination.content)
        return fresh

    def start(self, service: IndexService, shard: IndexShard, copy) -> None:
        if copy.allocation_id in self._running:
            return
        task = asyncio.get_running_loop().create_task(self._recover(service, shard, copy))
        self._running[copy.allocation_id] = task
        task.add_done_callback(lambda _: self._running.pop(copy.allocation_id, None))

    async def _recover(self, service: IndexService, shard: IndexShard, copy) -> None:
        node = self.node
        state = RecoveryState(service.name, copy.shard, "", node.node_id)
        self.states[copy.allocation_id] = state
        description = f"[{service.name}][{copy.shard}] recovery of [{copy.allocation_id}]"
        task = node.tasks.register(TARGET_ACTION, type="transport", cancellable=True, description=description)
        task.status = state.to_json
        try:
            state.start_translog()
            loop = asyncio.get_running_loop()
            request = await shard.engine.read_off_loop(self._start_request, service, shard, copy)
            state.reused_operations = max(0, request.starting_seq_no)
            if state.reused_operations:
                state.bytes_reused = await loop.run_in_executor(None, dir_size, shard.path / "index")
            try:
                response, primary = await self._ask_primary(service, shard, copy, request, state, task)
            except StrataError as e:  # from another node, a RemoteTransportError of that type
                if e.type != DivergedHistory.type:
                    raise
                log.info("[%s][%d] local store not kept: %s", service.name, copy.shard, e)
                shard = await self._start_over(service, shard, copy)
                request = await shard.engine.read_off_loop(self._start_request, service, shard, copy)
                state.reused_operations = state.bytes_reused = 0
                response, primary = await self._ask_primary(service, shard, copy, request, state, task)
            state.operations = state.total_operations = response.operations
            state.translog_stopped = time.time()
            # A file-based recovery replaced the copy's shard with one opened on the files.
            shard = service.local.get(copy.shard, shard)
            await shard.engine.adopt_history_uuid(response.history_uuid)
            await loop.run_in_executor(node.executors["recovery"], adopt_primary_leases, shard.engine,
                                       response.retention_leases)
            shard.handoff_tracked = list(response.tracked)
            shard.engine.refresh()  # what it recovered is searchable once it serves (ES refreshes too)
            state.stage = "DONE"
            log.info("[%s][%d] recovered from [%s]: %d operations in %d ms", service.name, copy.shard,
                     primary.node, response.operations, response.took_millis)
            node.indices.report_copy(service, copy, started=True)
        except asyncio.CancelledError:
            state.stage = "CANCELLED"
            raise
        except Exception as e:
            state.stage = "FAILED"
            if not isinstance(e, StrataError):
                log.exception("[%s][%d] recovery failed", service.name, copy.shard)
            else:
                log.warning("[%s][%d] recovery failed: %s", service.name, copy.shard, e)
            node.indices.report_copy(service, copy, started=False, reason=f"failed recovery: {e}")
        finally:
            state.stopped = time.time()
            self.files.incoming.pop(copy.allocation_id, None)  # a file set cut short is dropped
            node.tasks.unregister(task)

    async def _ask_primary(self, service: IndexService, shard: IndexShard, copy,
                           request: StartRecoveryRequest, state: RecoveryState,
                           task: Task) -> tuple[StartRecoveryResponse, Any]:
        """Ask the active primary's node to recover the copy; the response and the primary's
        routing. That node may not have applied the cluster state this recovery started in
        yet: it answers `delay_recovery_exception` (or, not holding the shard yet,
        `shard_not_found_exception`) and is asked again after a delay (ES's retryRecovery,
        RETRY_NOT_READY and RETRY_NETWORK), the primary looked up again each time, for as
        long as this copy is still the one recovering here."""
        node = self.node
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DELAYED_RECOVERY_SECONDS
        while True:
            primary = await self._wait_for_primary(service.name, copy.shard)
            state.source = primary.node
            asked = msgspec.structs.replace(request, primary_relocation=self._relocates_here(primary, copy))
            try:
                with context.bound(context.RequestContext({}, str(task.id))):
                    response = await node.transport.execute(
                        START_RECOVERY, asked, address=node.shard_router.address(primary.node))
                return response, primary
            except StrataError as e:  # from another node, a RemoteTransportError of that type
                if (e.type not in RETRY_NOT_READY and e.type not in RETRY_NETWORK) or loop.time() > deadline:
                    raise
                delay = RETRY_NETWORK_DELAY_SECONDS if e.type in RETRY_NETWORK else RETRY_DELAY_SECONDS
                log.debug("[%s][%d] recovery of [%s] delayed %ss: %s", service.name, copy.shard,
                          copy.allocation_id, delay, e)
            await asyncio.sleep(delay)
            task.ensure_not_cancelled()
            if service.local.get(copy.shard) is not shard or shard.engine.closed:
                raise IllegalState(f"[{service.name}][{copy.shard}] copy [{copy.allocation_id}] was closed "
                                   "while its recovery waited for the primary")

    def _relocates_here(self, primary, copy) -> bool:
        """Whether this copy is the target of the primary's relocation (the primary then
        hands off to it once it has recovered)."""
        return (primary.state == "RELOCATING" and primary.relocating_node == self.node.node_id
                and copy.relocating_node == primary.node)

    def _start_request(self, service: IndexService, shard: IndexShard, copy) -> StartRecoveryRequest:
        """Replay from after the local checkpoint, vouching for the operations above the
        global checkpoint with their terms; an empty copy starts from 0. Blocking."""
        engine = shard.engine
        request = StartRecoveryRequest(index=service.name, index_uuid=service.metadata.uuid, shard=copy.shard,
                                       target_allocation_id=copy.allocation_id, target_node=self.node.node_id)
        if engine.tracker.max_seq_no < 0:
            return request
        if engine.tracker.max_seq_no - engine.translog.global_checkpoint > MAX_VOUCHED_OPERATIONS:
            # Too far out to vouch for: the primary answers that it must start over.
            return msgspec.structs.replace(request, starting_seq_no=-1, history_uuid=engine.history_uuid)
        above = [(op.seq_no, op.primary_term) for op in map(decode_operation, engine.history(
            engine.translog.global_checkpoint + 1, engine.tracker.max_seq_no))]
        return msgspec.structs.replace(request, starting_seq_no=engine.tracker.checkpoint + 1,
                                       above_global_checkpoint=above, history_uuid=engine.history_uuid)

    async def _wait_for_primary(self, index: str, shard: int):
        coordination = self.node.coordination
        found = []

        def ready(state) -> bool:
            primary = active_primary(content_of(state), index, shard)
            if primary is not None:
                found[:] = [primary]
            return primary is not None

        if not await coordination.wait_for_state(ready, PRIMARY_WAIT_SECONDS):
            raise IllegalState(f"[{index}][{shard}] has no active primary to recover from")
        return found[0]

    async def close(self) -> None:
        tasks = [*self._running.values(), *self._resyncs]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- source side (the primary's node) --------------------------------------------------

    def figures(self, shard: IndexShard) -> dict[str, int]:
        """A copy's recoveries as index stats count them: those it serves as the source,
        whether it is being recovered, and how long it was held back, as ES's RecoveryStats
        sums it: each side its own waits, the source's over every recovery it served, the
        target's (a restore's rates) over its own recovery."""
        running = self._running.get(shard.allocation_id) if shard.allocation_id is not None else None
        state = self.states.get(shard.allocation_id) if shard.allocation_id is not None else None
        throttled = shard.recovery_throttle_seconds
        if state is not None:
            throttled += state.target_throttle_seconds
        return {"recoveries_as_source": shard.recoveries_as_source,
                "recoveries_as_target": int(running is not None and not running.done()),
                "recovery_throttle_millis": int(throttled * 1000)}

    async def _on_start(self, request: StartRecoveryRequest, task: Task) -> StartRecoveryResponse:
        shard = self.node.indices.local_shard(request.index, request.shard, request.index_uuid)
        shard.recoveries_as_source += 1
        try:
            return await self._serve(request, task, shard)
        finally:
            shard.recoveries_as_source -= 1

    async def _serve(self, request: StartRecoveryRequest, task: Task,
                     shard: IndexShard) -> StartRecoveryResponse:
        started = time.monotonic()
        node = self.node
        self._check_serves(shard, request)
        service = node.indices.indices[request.index]
        engine = shard.active_engine()
        tracker = shard.tracker
        address = node.shard_router.address(request.target_node)
        state = RecoveryState(request.index, request.shard, node.node_id, request.target_node)
        task.status = state.to_json
        verified = True
        if request.history_uuid:
            self._check_kept_store(engine, shard, request)
            verified = await engine.read_off_loop(self._holds_all, engine, request.above_global_checkpoint)
            if verified is False:
                raise DivergedHistory(f"{shard.ref} recovery target [{request.target_allocation_id}] holds "
                                      "operations the primary's history does not")
        # Operations the target vouches for that the history no longer has cannot be
        # checked: its files are replaced instead.
        start = self._operation_based_start(engine, tracker, request) if verified else None
        # The lease goes in before any history is read, on the loop right after the check
        # above, so no pruning can start in between (it moves the minimum first).
        if start is None:
            tracker.add_peer_recovery_lease(request.target_node, tracker.global_checkpoint + 1, now_millis())
        else:  # from the target's own global checkpoint + 1: what it vouches for starts there
            vouched = min((seq_no for seq_no, _ in request.above_global_checkpoint), default=start)
            tracker.add_peer_recovery_lease(request.target_node, min(start, vouched), now_millis())
        node.retention_leases.sync_soon(shard)
        if start is None:
            start = await send_file_set(self, request, shard, address, state, task) + 1
        if not tracker.is_assigned(request.target_allocation_id):  # the master moved on meanwhile
            raise IllegalState(f"{shard.ref} recovery target [{request.target_allocation_id}] is no longer "
                               "assigned in the primary's cluster state")
        # From here on every write reaches the target; the history below covers the rest.
        tracker.initiate_tracking(request.target_allocation_id, request.target_node)
        end = engine.tracker.max_seq_no
        state.start_translog()
        state.total_operations = max(0, end - start + 1)
        checkpoint = -1
        handed_off = False
        tracked: list[str] = []
        try:
            while start <= end:
                task.ensure_not_cancelled()
                chunk = await engine.read_off_loop(engine.history, start,
                                                   min(start + CHUNK_OPERATIONS - 1, end))
                start += CHUNK_OPERATIONS
                if not chunk:
                    continue
                checkpoint = await self._send_operations(service, shard, address, chunk,
                                                         request.target_allocation_id)
                state.operations += len(chunk)
            state.stage = "FINALIZE"
            deadline = time.monotonic() + FINALIZE_SECONDS
            while not tracker.mark_in_sync(request.target_allocation_id, checkpoint):
                # Live writes still in flight to the target: wait until its checkpoint
                # covers the global checkpoint, or it could miss acknowledged operations.
                if time.monotonic() > deadline:
                    raise IllegalState(f"{shard.ref} recovery target [{request.target_allocation_id}] did "
                                       f"not reach the global checkpoint [{tracker.global_checkpoint}]")
                await asyncio.sleep(0.05)
                checkpoint = await self._send_operations(service, shard, address, [],
                                                         request.target_allocation_id)
            if request.primary_relocation:
                if not self._relocating_primary(shard, request.target_node):
                    raise IllegalState(f"{shard.ref} is no longer relocating to [{request.target_node}]")
                # Hand-off: this primary takes no new writes (they wait for the state that
                # makes the target primary) and lets those under way finish, which reaches
                # the target too, so it holds every operation before it takes over.
                shard.relocated = handed_off = True
                await shard.drain_writes()
                tracked = [aid for aid in tracker.replication_targets()
                           if aid != request.target_allocation_id]
        except BaseException:
            tracker.remove(request.target_allocation_id)
            if handed_off:  # only the recovery that handed off may take it back
                shard.relocated = False
            raise
        state.stage = "DONE"
        return StartRecoveryResponse(operations=state.operations, tracked=tracked,
                                     took_millis=int((time.monotonic() - started) * 1000),
                                     history_uuid=engine.history_uuid,
                                     retention_leases=tracker.retention_leases())

    def _check_serves(self, shard: IndexShard, request: StartRecoveryRequest) -> None:
        """The target started recovering once it applied a cluster state this node may not
        have applied yet: until it has, recovering the copy is refused with a delay, which
        the target retries (ES's PeerRecoverySourceService and RecoverySourceHandler). A
        copy this primary's state does not assign would get writes the master never
        counted it for; a relocation target would never be handed off to."""
        if not shard.primary or shard.tracker is None or shard.relocated:
            raise DelayRecovery(f"source shard {shard.ref} is not an active primary")
        if not shard.tracker.is_assigned(request.target_allocation_id):
            raise DelayRecovery(f"source node does not have {shard.ref} copy "
                                f"[{request.target_allocation_id}] listed in its state as allocated on "
                                f"[{request.target_node}]")
        if request.primary_relocation and not self._relocating_primary(shard, request.target_node):
            raise DelayRecovery(f"source shard {shard.ref} is not marked yet as relocating to "
                                f"[{request.target_node}]")

    @staticmethod
    def _operation_based_start(engine, tracker, request: StartRecoveryRequest) -> int | None:
        """Where an operation-based recovery would replay from, or None for file-based: a
        copy with a store of its own needs its node's lease and a history complete from its
        local checkpoint on (ES's isSequenceNumberBasedRecovery); a new copy gets the
        history when it is whole and small."""
        if request.history_uuid:
            leased = tracker.peer_recovery_lease(request.target_node) is not None
            ok = leased and engine.holds_history_from(request.starting_seq_no)
            return request.starting_seq_no if ok else None
        small = engine.tracker.max_seq_no + 1 <= OPS_BASED_LIMIT
        return 0 if small and engine.holds_history_from(0) else None

    @staticmethod
    def _check_kept_store(engine, shard: IndexShard, request: StartRecoveryRequest) -> None:
        """A kept store must hold this primary's history (not an older one a forced primary
        allocation abandoned, nor a half-finished copy, which has a history uuid of its own)
        and not run ahead of it."""
        target = f"{shard.ref} recovery target [{request.target_allocation_id}]"
        if request.starting_seq_no < 0:
            raise DivergedHistory(f"{target} holds too many operations above its global checkpoint")
        if request.history_uuid != engine.history_uuid:
            raise DivergedHistory(f"{target} holds history [{request.history_uuid}], the primary "
                                  f"[{engine.history_uuid}]")
        if request.starting_seq_no - 1 > engine.tracker.max_seq_no:
            raise DivergedHistory(f"{target} is ahead of the primary: local checkpoint "
                                  f"[{request.starting_seq_no - 1}], primary max_seq_no "
                                  f"[{engine.tracker.max_seq_no}]")

    @staticmethod
    def _holds_all(engine, operations: list[tuple[int, int]]) -> bool | None:
        """Whether this primary's history has every (seq_no, primary_term): within one
        primary term a sequence number names one operation. None when it cannot tell:
        some were pruned (below the minimum retained, only live versions remain). Blocking."""
        unknown = False
        for seq_no, term in operations:
            found = engine.history(seq_no, seq_no)
            if found and decode_operation(found[0]).primary_term == term:
                continue
            if engine.holds_history_from(seq_no):
                return False
            unknown = True
        return None if unknown else True

    def _relocating_primary(self, shard: IndexShard, target_node: str) -> bool:
        for copy in self.node.coordination.content.routing_table.indices.get(shard.ref.index, ()):
            if copy.allocation_id == shard.allocation_id:
                return copy.primary and copy.state == "RELOCATING" and copy.relocating_node == target_node
        return False

    async def throttle(self, state: RecoveryState, started: float, shard: IndexShard) -> None:
        """Hold the source `shard` back to `indices.recovery.max_bytes_per_sec` (0 or -1: no
        limit, as in ES); the limit is read at every chunk, so a change applies at once."""
        limit = self.node.cluster_settings.get("indices.recovery.max_bytes_per_sec")
        if limit > 0:
            ahead = state.bytes_recovered / limit - (time.monotonic() - started)
            if ahead > 0:
                state.throttle_seconds += ahead
                shard.recovery_throttle_seconds += ahead
                await asyncio.sleep(ahead)

    async def _send_operations(self, service: IndexService, shard: IndexShard, address: str | None,
                               operations: list[bytes], target_allocation_id: str) -> int:
        request = ReplicaRequest(index=service.name, index_uuid=service.metadata.uuid, shard=shard.ref.shard,
                                 primary_term=shard.engine.primary_term,
                                 global_checkpoint=shard.tracker.global_checkpoint, operations=operations,
                                 target_allocation_id=target_allocation_id)
        response = await self.node.transport.execute(RECOVERY_OPS, request, address=address)
        shard.tracker.update_global_checkpoint_on_copy(target_allocation_id, request.global_checkpoint)
        return response.local_checkpoint
