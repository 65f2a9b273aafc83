"""The periodic work of retention leases (ES's RetentionLeaseBackgroundSyncAction with the
global checkpoint sync's renewals): every `index.soft_deletes.retention_lease.sync_interval`
each primary renews and expires its leases, persists them with the shard when they
changed, and sends them to its replicas, which persist them too, so a promoted replica
retains what the copies need. Then every copy prunes its history down to its leases, on
the recovery executor, in bounded batches (engine.prune_history).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from ..common.errors import IllegalState, StrataError
from ..engine.engine import EngineClosed
from ..engine.retention_leases import RetentionLeases
from ..tasks.task import Task
from ..transport.wire import Empty, Message

log = logging.getLogger(__name__)

SYNC_ACTION = "indices:admin/seq_no/retention_lease_background_sync"
TICK_SECONDS = 0.5
SYNC_TIMEOUT = 30.0


class RetentionLeaseSyncRequest(Message):
    index: str
    index_uuid: str
    shard: int
    primary_term: int
    leases: RetentionLeases
    global_checkpoint: int = -1  # ES's global checkpoint sync rides along


def now_millis() -> int:
    return int(time.time() * 1000)


class RetentionLeaseSync:
    def __init__(self, node):
        self.node = node
        self._due: dict[str, float] = {}  # next sync of each local copy, by allocation id
        self._persisted: dict[str, RetentionLeases] = {}  # what each local primary last persisted
        self._task: asyncio.Task | None = None
        self._merging: asyncio.Task | None = None  # a background merge (one per node at a time)

    def register(self) -> None:
        self.node.transport.register(SYNC_ACTION, RetentionLeaseSyncRequest, Empty, self._on_sync)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        for task in (self._task, self._merging):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def sync_soon(self, shard) -> None:
        """A lease changed outside the schedule (a recovery added one): honour it in this
        copy's pruning at once, persist and send it at the next tick."""
        shard.engine.retention_leases = shard.tracker.retention_leases()
        self._due[shard.allocation_id] = 0.0

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            clock = time.monotonic()
            held = set()
            for service in list(self.node.indices.indices.values()):
                interval = service.metadata.setting("index.soft_deletes.retention_lease.sync_interval")
                for shard in service.shards:
                    held.add(shard.allocation_id)
                    if not shard.is_active or clock < self._due.get(shard.allocation_id, 0.0):
                        continue
                    self._due[shard.allocation_id] = clock + interval
                    await self.attempt(service, shard)
            self._due = {aid: due for aid, due in self._due.items() if aid in held}
            self._persisted = {aid: leases for aid, leases in self._persisted.items() if aid in held}

    async def attempt(self, service, shard) -> None:
        """One scheduled round; a failure waits for the next interval."""
        try:
            await self.sync(service, shard)
        except EngineClosed:  # the copy closed meanwhile (its index deleted, or moved away)
            log.debug("%s retention lease sync stood down: the shard closed", shard.ref)
        except Exception as e:
            log.warning("%s retention lease sync failed: %s", shard.ref, e,
                        exc_info=not isinstance(e, StrataError))

    async def sync(self, service, shard) -> None:
        """One round for one local copy: a primary's leases renewed, expired, persisted and
        sent; then the copy's history pruned."""
        engine = shard.engine
        executor = self.node.executors["recovery"]
        tracker = shard.tracker
        # A primary that handed off to its relocation target is no longer in primary mode
        # (ES's): the target owns the leases now. Renewing or expiring here would bump a
        # version the target's own does not follow, and copies that took these would keep
        # them over the target's (a recovery's end takes only newer leases).
        if shard.primary and tracker is not None and not shard.relocated:
            period = int(service.metadata.setting("index.soft_deletes.retention_lease.period") * 1000)
            now = now_millis()
            tracker.primary_term = max(tracker.primary_term, engine.primary_term)
            tracker.renew_peer_recovery_leases(now, period)
            expired = tracker.expire_leases(now, period)
            if expired:
                log.info("%s retention leases expired: %s", shard.ref, expired)
            leases = tracker.retention_leases()
            engine.retention_leases = leases
            if self._persisted.get(shard.allocation_id) != leases:
                await asyncio.get_running_loop().run_in_executor(executor, engine.persist_retention_leases,
                                                                 leases)
                self._persisted[shard.allocation_id] = leases
            await self._send(service, shard, leases)
        await engine.prune_history(executor)
        self._merge_soon(service, shard)

    def _merge_soon(self, service, shard) -> None:
        """The merge policy rides the sync as pruning does, on a task of its own: merging a
        large copy must not hold up the other copies' syncs. One at a time per node, and
        none while a force merge runs here."""
        if (self._merging is not None and not self._merging.done()) or self.node.force_merges.locked():
            return
        pct = service.metadata.setting("index.merge.policy.deletes_pct_allowed")
        self._merging = asyncio.get_running_loop().create_task(self._merge(shard, pct))

    async def _merge(self, shard, deletes_pct_allowed: float) -> None:
        try:
            async with self.node.force_merges:
                result = await shard.engine.maybe_merge(deletes_pct_allowed, self.node.executors["recovery"])
            if result is not None:
                log.debug("%s background merge: %s", shard.ref, result)
        except EngineClosed:  # the copy closed meanwhile
            log.debug("%s background merge stood down: the shard closed", shard.ref)
        except Exception as e:
            log.warning("%s background merge failed: %s", shard.ref, e,
                        exc_info=not isinstance(e, StrataError))

    async def _send(self, service, shard, leases: RetentionLeases) -> None:
        tracker = shard.tracker  # its copies and their nodes, as writes reach them (replica.send)
        request = RetentionLeaseSyncRequest(index=service.name, index_uuid=service.metadata.uuid,
                                            shard=shard.ref.shard, primary_term=shard.engine.primary_term,
                                            leases=leases, global_checkpoint=tracker.global_checkpoint)

        async def send(allocation_id: str, node_id: str) -> None:
            try:
                await self.node.transport.execute(SYNC_ACTION, request, timeout=SYNC_TIMEOUT,
                                                  address=self.node.shard_router.address(node_id))
                tracker.update_global_checkpoint_on_copy(allocation_id, request.global_checkpoint)
            except StrataError as e:  # a background sync: the next one tries again (as ES's)
                log.info("%s retention lease sync to [%s] failed: %s", shard.ref, node_id, e)

        targets = [(aid, tracker.node_of(aid)) for aid in tracker.replication_targets()]
        await asyncio.gather(*(send(aid, node_id) for aid, node_id in targets if node_id is not None))

    async def _on_sync(self, request: RetentionLeaseSyncRequest, task: Task) -> Empty:
        shard = self.node.indices.local_shard(request.index, request.shard, request.index_uuid)
        if request.primary_term < shard.operation_term:
            raise IllegalState(f"{shard.ref} retention leases of primary term [{request.primary_term}] are "
                               f"too old (current [{shard.operation_term}])")
        engine = shard.active_engine()
        if shard.primary:
            return Empty()
        if request.leases.supersedes(engine.retention_leases):
            # Checked again as they are persisted: a recovery ending meanwhile may have
            # brought newer ones.
            await asyncio.get_running_loop().run_in_executor(
                self.node.executors["recovery"],
                functools.partial(engine.persist_retention_leases, request.leases, only_newer=True))
        if request.global_checkpoint > engine.translog.global_checkpoint:
            # Every operation up to it is here (it counted this copy): persist it, so the
            # lease that retains from it covers what this copy vouches for after a restart.
            engine.translog.global_checkpoint = request.global_checkpoint
            await engine.sync_translog()
        return Empty()
