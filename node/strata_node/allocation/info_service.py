"""The master's cluster info service and disk threshold monitor: the shell around
cluster_info.py and disk.py (Elasticsearch's InternalClusterInfoService and the wiring of
DiskThresholdMonitor).

The elected master asks every data node, in parallel, for the disk usage of its data path
and the size of each shard copy it holds (`cluster:monitor/allocation/disk_info[n]`), every
`cluster.info.update.interval`, each answer bounded by `cluster.info.update.timeout`. A node
that fails or is late is left out: the deciders then use the average of the others, as
ES does. The master also asks at once when a data node joins and, unlike ES, which waits
for the next round, when the disk threshold settings change, so new watermarks take
effect (blocks included) within a round trip.

After each round the monitor's assessment is carried out: indices to block or release
are updated in one cluster state update, and a reroute is submitted when one is due.
With `cluster.routing.allocation.disk.threshold_enabled` false nothing is gathered, the
info is empty, and each round takes any `read_only_allow_delete` block off (ES does the
same). Only the master keeps an info; it is dropped when this node stops being master.
A data node measures once at a time: a request that finds a walk of its shard folders
under way shares it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..action.index_admin import update_settings
from ..action.nodes_stats import dir_size
from ..cluster.state import ClusterStateContent, content_of
from ..common.errors import NotMasterError, StrataError
from ..common.machine import disk_space
from ..settings import DISK_PREFIX
from ..tasks.task import Task
from ..transport.wire import Message
from . import cluster_info
from .cluster_info import EMPTY, ClusterInfo, DiskUsage, ShardCopySize
from .disk import BLOCK, MonitorState, assess, disk_thresholds, flood_blocked

log = logging.getLogger("strata.cluster_info")

DISK_INFO = "cluster:monitor/allocation/disk_info[n]"
SOURCE = "disk-threshold-monitor"


class DiskInfoRequest(Message):
    pass


class CopySize(Message):
    index: str
    shard: int
    primary: bool
    size: int


class DiskInfoResponse(Message):
    path: str
    total: int
    free: int
    copies: list[CopySize]


def _unchanged(content: ClusterStateContent) -> ClusterStateContent:
    return content  # the reroute after it is the point


class ClusterInfoService:
    def __init__(self, node: Any):
        self._node = node
        self.info: ClusterInfo = EMPTY
        self._monitor = MonitorState()
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._measuring: asyncio.Future | None = None  # this node's measurement under way
        self._closed = False

    def register(self) -> None:
        self._node.transport.register(DISK_INFO, DiskInfoRequest, DiskInfoResponse, self._local)

    # -- a data node's answer ------------------------------------------------------------

    async def _local(self, request: DiskInfoRequest, task: Task) -> DiskInfoResponse:
        """One walk of the shard folders at a time: a master that gave up on a slow one
        and asks again shares it rather than starting another."""
        if self._measuring is None or self._measuring.done():
            node = self._node
            held = [(shard.ref.index, shard.ref.shard, shard.primary, shard.path)
                    for service in list(node.indices.indices.values()) for shard in service.shards]
            self._measuring = asyncio.ensure_future(asyncio.to_thread(_measure, node.data_path, held))
        return await asyncio.shield(self._measuring)

    # -- the master's rounds -------------------------------------------------------------

    def apply_cluster_state(self, old: Any, new: Any) -> None:
        coordination = self._node.coordination
        if new is None or not coordination.is_master or self._closed:
            self._stop_rounds()
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._rounds(), name="cluster-info")
            return
        if old is None or _data_nodes(new) - _data_nodes(old) or _disk_settings(old) != _disk_settings(new):
            self._wake.set()

    def _stop_rounds(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.info = EMPTY
        self._monitor = MonitorState()

    async def _rounds(self) -> None:
        interval = 30.0
        while True:
            self._wake.clear()
            try:
                interval = self._node.cluster_settings.get("cluster.info.update.interval")
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("gathering cluster info failed; trying again next round", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass

    def _thresholds(self):
        metadata = self._node.coordination.content.metadata
        return disk_thresholds((metadata.transient_settings, metadata.persistent_settings,
                                self._node.settings.values))

    async def refresh(self) -> None:
        """One round: gather, then carry out what the monitor finds."""
        coordination = self._node.coordination
        thresholds = self._thresholds()
        if not thresholds.enabled:
            # As ES: with the decider off, no index keeps a flood-stage block.
            self.info, self._monitor = EMPTY, MonitorState()
            await self._update([], _blocked_indices(coordination.content), None)
            return
        state = coordination.applied_state
        nodes = {n: state.node_details[n] for n in state.nodes if n in state.node_details}
        self.info = await self._gather({n: d for n, d in nodes.items() if d.is_data_node})
        found = assess(self.info, coordination.content, nodes, thresholds, self._monitor,
                       coordination.clock())
        for level, message in found.logs:
            log.log(level, message)
        done = await self._update(found.block, found.release, found.reroute)
        # A reroute that could not be asked for is due again next round.
        self._monitor = found.state if done else found.state._replace(
            last_reroute_ms=self._monitor.last_reroute_ms)

    async def _gather(self, data_nodes: dict[str, Any]) -> ClusterInfo:
        node = self._node
        timeout = node.cluster_settings.get("cluster.info.update.timeout")

        async def one(node_id: str) -> DiskInfoResponse | None:
            address = None if node_id == node.node_id else data_nodes[node_id].transport_address
            try:
                asked = node.transport.execute(DISK_INFO, DiskInfoRequest(), DiskInfoResponse,
                                               address=address, timeout=timeout)
                return await asyncio.wait_for(asked, timeout)
            except (StrataError, OSError, TimeoutError) as e:
                log.info("no disk usage from node [%s] this round: %s", data_nodes[node_id].name, e)
                return None

        answers = await asyncio.gather(*(one(n) for n in data_nodes))
        usages, copies = [], {}
        for node_id, answer in zip(data_nodes, answers, strict=True):
            if answer is None or answer.total < 0:
                continue
            name = data_nodes[node_id].name
            usages.append(DiskUsage(node_id, name, answer.path, answer.total, answer.free))
            copies[node_id] = [ShardCopySize(c.index, c.shard, c.primary, c.size, answer.path)
                               for c in answer.copies]
        return cluster_info.build(usages, copies)

    async def _update(self, block, release, reroute: str | None) -> bool:
        if not block and not release and reroute is None:
            return True

        def update(content: ClusterStateContent) -> ClusterStateContent:
            indices = content.metadata.indices
            # Whatever changed since the assessment: an index gone, or blocked meanwhile.
            to_block = [n for n in block if n in indices and not flood_blocked(indices[n])]
            if to_block:
                content = update_settings(content, to_block, {BLOCK: "true"})
            to_release = [n for n in release if n in indices and flood_blocked(indices[n])]
            if to_release:
                content = update_settings(content, to_release, {BLOCK: None})
            return content

        source = f"{SOURCE}: {reroute}" if reroute and not block and not release else SOURCE
        try:
            await self._node.coordination.submit(source, update if block or release else _unchanged)
            return True
        except NotMasterError:
            log.debug("disk threshold monitor update skipped: no longer the master")
        except StrataError as e:
            log.warning("disk threshold monitor update failed: %s", e)
        return False

    async def stop(self) -> None:
        self._closed = True
        task = self._task
        self._stop_rounds()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


def _measure(data_path, held) -> DiskInfoResponse:
    """statvfs and the copies' folder sizes, off the event loop."""
    try:
        total, _, free = disk_space(data_path)
    except OSError as e:
        log.warning("cannot read the disk usage of [%s]: %s", data_path, e)
        total, free = -1, -1
    copies = [CopySize(index=index, shard=shard, primary=primary, size=dir_size(path))
              for index, shard, primary, path in held]
    return DiskInfoResponse(path=str(data_path), total=total, free=free, copies=copies)


def _data_nodes(state: Any) -> frozenset[str]:
    return frozenset(n for n in state.nodes if n in state.node_details and state.node_details[n].is_data_node)


def _disk_settings(state: Any) -> tuple:
    metadata = content_of(state).metadata
    return tuple(sorted((k, str(v)) for layer in (metadata.persistent_settings, metadata.transient_settings)
                        for k, v in layer.items() if k.startswith((DISK_PREFIX, "cluster.info."))))


def _blocked_indices(content: ClusterStateContent) -> list[str]:
    return sorted(n for n, md in content.metadata.indices.items() if flood_blocked(md))
