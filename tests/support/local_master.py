"""An in-process master for tests of IndicesService: the real index metadata updates
(action/index_admin.py), the real allocator and the real persisted state store, with one
local node and no transport. Each change becomes a new cluster state that is persisted and
applied to the IndicesService, as a one-node cluster would; shard reports are applied
right after. `open_indices(path)` gives a started IndicesService with it attached, and a
second one on the same path after `stop()` is a node restart (new ephemeral id: its
copies are initialized again, with new primary terms)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from strata_node.action import index_admin
from strata_node.action.bulk import BULK_SHARD, BulkAction
from strata_node.allocation.allocator import reroute
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination.state import PersistedState
from strata_node.cluster.persisted import PersistedStateStore
from strata_node.cluster.state import ClusterStateContent, content_of
from strata_node.common.ids import random_base64_uuid
from strata_node.index.service import IndexService, IndicesService

NODE_ID = "local-node"


class LocalMaster:
    def __init__(self, path: Path, indices: IndicesService):
        self.indices = indices
        self.store = PersistedStateStore(Path(path) / "_state" / "coordination")
        persisted = self.store.load()
        self.term = persisted.current_term + 1
        self.state = persisted.last_accepted_state
        self.node = DiscoveryNode(id=NODE_ID, name="local", roles=("master", "data"),
                                  ephemeral_id=random_base64_uuid())
        self.reports: list[tuple] = []
        # One state at a time, as a node's applier takes them: a change waits for the one
        # before it to be applied.
        self._publishing = asyncio.Lock()
        indices.admin = self
        indices.node_id = NODE_ID

    async def publish(self, update=lambda content: content) -> None:
        async with self._publishing:
            await self._publish(update)
        reports, self.reports = self.reports, []
        for started, index, _uuid, shard, allocation_id, reason in reports:
            if started:
                await self.publish(lambda c, i=index, s=shard, a=allocation_id:
                                   index_admin.start_shard(c, i, s, a))
            else:
                await self.publish(lambda c, i=index, s=shard, a=allocation_id, r=reason:
                                   index_admin.fail_shard(c, i, s, a, r))

    async def _publish(self, update) -> None:
        content = reroute(update(content_of(self.state)), {NODE_ID: self.node})
        new = self.state.next(term=self.term, version=self.state.version + 1, master=NODE_ID,
                              nodes=frozenset({NODE_ID}), node_details={NODE_ID: self.node}, value=content)
        self.store.write(PersistedState(current_term=self.term, last_accepted_state=new))
        old, self.state = self.state, new
        await self.indices.apply_cluster_state(old, new)

    # -- what IndicesService and IndexService call -------------------------------------------

    async def create_index(self, name: str, body: dict, timeout: float = 0.0) -> bool:
        metadata = index_admin.build_index_metadata(name, body)
        await self.publish(lambda content: index_admin.create_index(content, metadata))
        return True

    async def wait_for_index(self, name: str, timeout: float = 0.0) -> None:
        return None

    async def delete_indices(self, names: list[str]) -> None:
        await self.publish(lambda content: index_admin.delete_indices(content, names))

    async def put_mapping(self, names: list[str], source: dict) -> None:
        await self.publish(lambda content: index_admin.put_mapping(content, names, source))

    async def put_dynamic_mapping(self, name: str, uuid: str, mapping: dict) -> None:
        await self.publish(lambda content: index_admin.merge_dynamic_mapping(content, name, uuid, mapping))

    def report_shard(self, started: bool, index: str, uuid: str, shard: int, allocation_id: str,
                     reason: str = "") -> None:
        self.reports.append((started, index, uuid, shard, allocation_id, reason))

    @property
    def content(self) -> ClusterStateContent:
        return content_of(self.state)


async def open_indices(path: Path) -> IndicesService:
    """A started IndicesService with its own in-process master; `stop()` closes both."""
    indices = IndicesService(Path(path))
    await indices.start()
    master = LocalMaster(path, indices)
    await master.publish()
    stop = indices.stop

    async def stop_both() -> None:
        await stop()
        master.store.close()

    indices.stop = stop_both
    indices.local_master = master  # a test that simulates a crash closes master.store itself
    return indices


class InProcessRouter:
    """ShardRouter's part on a one-node cluster with no transport: the shard step of the
    node's own primary runs right here, as a local transport call would run it."""

    def __init__(self, bulk: BulkAction):
        self.bulk = bulk

    async def on_primary(self, action: str, index: str, shard: int, request, timeout: float,
                         response_type=None):
        assert action == BULK_SHARD
        message = request(True) if callable(request) else request
        return await self.bulk._on_shard_request(message, None)

    def active_copies(self, index: str, shard: int) -> int:
        return 1  # the primary: no other node could hold a replica

    async def wait_for_active_copies(self, index: str, shard: int, needed: int, timeout: float) -> int:
        await asyncio.sleep(timeout)
        return 1


def local_bulk(indices: IndicesService) -> BulkAction:
    """The write path over an IndicesService opened with `open_indices`."""
    bulk = BulkAction(indices)
    bulk.router = InProcessRouter(bulk)
    return bulk


async def create_local(indices: IndicesService, name: str, body: dict) -> IndexService:
    """Create an index through the in-process master; its service on this (only) node."""
    await indices.create(name, body)
    return indices.get(name)
