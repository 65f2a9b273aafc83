"""A recovery target starts once it has applied the cluster state that assigns it; the
primary's node may not have applied that state yet. The primary then refuses with a delay
(ES's DelayRecoveryException) until its own state assigns the target, and for a primary
relocation until it is relocating to the target; the target asks again. Writes go to the
primary's replication group as the group knows it, so a copy it tracks is never dropped
without the master hearing of it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace as NS

import pytest

from strata_node.cluster.state import ShardRouting
from strata_node.common.errors import IllegalState, StrataError
from strata_node.engine.engine import IndexOp, ShardRef
from strata_node.index.shard import IndexShard
from strata_node.replication import recovery, replica
from strata_node.replication.recovery import PeerRecovery, StartRecoveryRequest
from strata_node.replication.tracker import ReplicationTracker
from strata_node.transport.service import RemoteTransportError

INDEX, UUID = "logs", "uuid-1"
DELAYED = "delay_recovery_exception"
SERVICE = NS(name=INDEX, metadata=NS(uuid=UUID, number_of_replicas=1))


def routing(*copies: ShardRouting) -> NS:
    return NS(routing_table=NS(indices={INDEX: copies}))


def primary_copy(state: str = "STARTED", relocating_node: str | None = None) -> ShardRouting:
    return ShardRouting(INDEX, 0, True, state, "n1", allocation_id="P", relocating_node=relocating_node)


def target_copy(relocating_node: str | None = None) -> ShardRouting:
    return ShardRouting(INDEX, 0, False, "INITIALIZING", "n2", allocation_id="T",
                        relocating_node=relocating_node)


class PrimaryNode:
    """The primary's node: its shard (two documents written), the cluster state it has
    applied, and a target that answers every replayed batch as caught up."""

    def __init__(self, shard: IndexShard, *copies: ShardRouting):
        self.shard = shard
        self.node_id = "n1"
        self.coordination = NS(content=routing(*copies))
        self.indices = NS(local_shard=lambda *_: shard, indices={INDEX: SERVICE})
        self.shard_router = NS(address=lambda node_id: node_id)
        self.transport = NS(execute=self.execute)
        self.retention_leases = NS(sync_soon=lambda _: None)
        self.sent_to: list[str | None] = []

    async def execute(self, action, request, response_type=None, address=None, timeout=None):
        self.sent_to.append(address)
        return replica.ReplicaResponse(local_checkpoint=self.shard.engine.tracker.checkpoint)

    def apply(self, *copies: ShardRouting) -> None:
        """Apply a newer state: the routing, and the tracker's view of it (assign_role)."""
        self.coordination.content = routing(*copies)
        nodes = {c.allocation_id: c.node for c in copies}
        self.shard.tracker.update_from_master(set(nodes), {"P"}, nodes)


async def started_primary(path) -> IndexShard:
    shard = IndexShard(ShardRef(INDEX, UUID, 0), path, 1)
    await shard.start()
    shard.allocation_id = "P"
    shard.engine.write([IndexOp("a", b'{"f":1}'), IndexOp("b", b'{"f":2}')], lambda i, r: None)
    shard.tracker = ReplicationTracker("P", shard.engine.tracker.checkpoint, -1, node_id="n1")
    shard.tracker.update_from_master({"P"}, {"P"}, {"P": "n1"})
    return shard


def source(node: PrimaryNode) -> PeerRecovery:
    peer = PeerRecovery.__new__(PeerRecovery)
    peer.node = node
    return peer


def start_request(**flags) -> StartRecoveryRequest:
    return StartRecoveryRequest(index=INDEX, index_uuid=UUID, shard=0, target_allocation_id="T",
                                target_node="n2", **flags)


TASK = NS(id=1, status=None, ensure_not_cancelled=lambda: None)


def test_a_primary_delays_the_recovery_of_a_copy_its_applied_state_does_not_assign_yet(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "p")
        node = PrimaryNode(shard, primary_copy())
        with pytest.raises(StrataError) as refused:
            await source(node)._on_start(start_request(), TASK)
        assert refused.value.type == DELAYED
        # Nothing was started for it: no lease, no writes, not in the group.
        assert shard.tracker.replication_targets() == [] and shard.tracker.peer_recovery_lease("n2") is None
        node.apply(primary_copy(), target_copy())
        response = await source(node)._on_start(start_request(), TASK)
        assert response.operations == 2 and shard.tracker.in_sync_ids() == {"P", "T"}
        await shard.close()

    asyncio.run(go())


def test_a_primary_relocation_is_delayed_until_the_source_is_relocating_to_the_target(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "p")
        # The target is assigned, but the source's state does not show the move yet.
        node = PrimaryNode(shard, primary_copy())
        node.apply(primary_copy(), target_copy(relocating_node="n1"))
        with pytest.raises(StrataError) as refused:
            await source(node)._on_start(start_request(primary_relocation=True), TASK)
        assert refused.value.type == DELAYED
        assert not shard.relocated
        node.apply(primary_copy("RELOCATING", relocating_node="n2"), target_copy(relocating_node="n1"))
        await source(node)._on_start(start_request(primary_relocation=True), TASK)
        assert shard.relocated  # handed off: it takes no more writes
        await shard.close()

    asyncio.run(go())


def test_a_write_reaches_every_copy_the_replication_group_tracks_on_the_node_it_names(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "p")
        node = PrimaryNode(shard, primary_copy())
        node.apply(primary_copy(), target_copy())
        shard.tracker.initiate_tracking("T", "n2")  # a recovery under way
        # The applied state is still being applied: the routing the node serves lags its group.
        node.coordination.content = routing(primary_copy())
        outcome = await replica.send_operations(node, SERVICE, shard, [], refresh=False)
        assert node.sent_to == ["n2"] and outcome.successful == 2 and outcome.failures == []
        assert shard.tracker.replication_targets() == ["T"]
        await shard.close()

    asyncio.run(go())


class TargetNode:
    """A recovering copy's node: the primary answers with a delay `delays` times."""

    def __init__(self, shard: IndexShard, delays: int, error: str = DELAYED):
        self.node_id = "n2"
        self.delays = delays
        self.error = error
        self.asked: list[StartRecoveryRequest] = []
        self.transport = NS(execute=self.execute)
        self.shard_router = NS(address=lambda node_id: node_id)
        self.service = NS(name=INDEX, local={0: shard})

    async def execute(self, action, request, response_type=None, address=None, timeout=None):
        self.asked.append(request)
        if len(self.asked) <= self.delays:
            raise RemoteTransportError({"type": self.error, "status": 500,
                                        "reason": "source node does not have the copy listed in its state"})
        return recovery.StartRecoveryResponse(operations=0, took_millis=0)


def target(node: TargetNode, primary: ShardRouting) -> PeerRecovery:
    peer = PeerRecovery.__new__(PeerRecovery)
    peer.node = node

    async def wait_for_primary(index, shard):
        return primary

    peer._wait_for_primary = wait_for_primary
    return peer


@pytest.fixture
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(recovery, "RETRY_DELAY_SECONDS", 0)
    monkeypatch.setattr(recovery, "RETRY_NETWORK_DELAY_SECONDS", 0)


def test_a_target_asks_a_delaying_primary_again(tmp_path, no_retry_delay):
    async def go():
        shard = await started_primary(tmp_path / "t")
        node = TargetNode(shard, delays=2)
        state = recovery.RecoveryState(INDEX, 0, "", "n2")
        _, primary = await target(node, primary_copy())._ask_primary(node.service, shard, target_copy(),
                                                                     start_request(), state, TASK)
        assert len(node.asked) == 3 and primary.node == "n1" and state.source == "n1"
        await shard.close()

    asyncio.run(go())


def test_a_target_says_when_it_recovers_as_the_primarys_relocation_target(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "t")
        node = TargetNode(shard, delays=0)
        peer = target(node, primary_copy("RELOCATING", relocating_node="n2"))
        state = recovery.RecoveryState(INDEX, 0, "", "n2")
        moving_here = target_copy(relocating_node="n1")
        await peer._ask_primary(node.service, shard, moving_here, start_request(), state, TASK)
        assert [r.primary_relocation for r in node.asked] == [True]
        await shard.close()

    asyncio.run(go())


def test_a_target_stops_asking_once_its_copy_is_closed(tmp_path, no_retry_delay):
    async def go():
        shard = await started_primary(tmp_path / "t")
        node = TargetNode(shard, delays=10)
        node.service.local = {}  # the applier closed the copy: the master moved on
        peer = target(node, primary_copy())
        state = recovery.RecoveryState(INDEX, 0, "", "n2")
        with pytest.raises(IllegalState, match="closed while its recovery waited"):
            await peer._ask_primary(node.service, shard, target_copy(), start_request(), state, TASK)
        assert len(node.asked) == 1 and not node.asked[0].primary_relocation
        await shard.close()

    asyncio.run(go())


@pytest.mark.parametrize("error", ["shard_not_found_exception", "index_not_found_exception",
                                   "illegal_index_shard_state_exception", "connect_transport_exception"])
def test_a_target_asks_again_while_the_primarys_node_is_not_ready_or_unreachable(tmp_path, no_retry_delay,
                                                                                   error):
    async def go():
        shard = await started_primary(tmp_path / "t")
        node = TargetNode(shard, delays=2, error=error)
        state = recovery.RecoveryState(INDEX, 0, "", "n2")
        await target(node, primary_copy())._ask_primary(node.service, shard, target_copy(), start_request(),
                                                        state, TASK)
        assert len(node.asked) == 3
        await shard.close()

    asyncio.run(go())


def test_a_target_fails_at_once_on_an_error_that_asking_again_cannot_mend(tmp_path, no_retry_delay):
    async def go():
        shard = await started_primary(tmp_path / "t")
        node = TargetNode(shard, delays=2, error="illegal_argument_exception")
        state = recovery.RecoveryState(INDEX, 0, "", "n2")
        peer = target(node, primary_copy())
        with pytest.raises(StrataError):
            await peer._ask_primary(node.service, shard, target_copy(), start_request(), state, TASK)
        assert len(node.asked) == 1
        await shard.close()

    asyncio.run(go())
