"""An acknowledged cluster state update answers `acknowledged: true` once every other node
of the state it made has applied it, and false when the ack timeout passes first or a
node leaves without applying it (ES's AckedClusterStateUpdateTask)."""

import asyncio

import msgspec

from strata_node.cluster.coordination_service import StateApplied
from tests.unit.test_coordination_restart import set_persistent, started


async def two_node_state(service):
    """A state naming a second node, as if it had joined (the service runs alone)."""
    state = await asyncio.wait_for(service.submit("put", set_persistent("x", 1)), 10)
    both = frozenset({service.node_id, "n1"})
    service.applied_state = msgspec.structs.replace(service.applied_state, nodes=both)
    return msgspec.structs.replace(state, nodes=both)


def test_an_update_is_acknowledged_once_every_other_node_reports_it_applied(tmp_path):
    async def run():
        service = await started(tmp_path)
        state = await two_node_state(service)
        acked = asyncio.ensure_future(service.wait_for_acks(state, 10))
        await asyncio.sleep(0.05)
        assert not acked.done()
        older = StateApplied(source="n1", term=state.term, version=state.version - 1)
        await service._on_state_applied(older, None)
        await asyncio.sleep(0.05)
        assert not acked.done()  # an older state is not this one
        applied = StateApplied(source="n1", term=state.term, version=state.version)
        await service._on_state_applied(applied, None)
        assert await asyncio.wait_for(acked, 5) is True
        await service.stop()

    asyncio.run(run())


def test_an_update_a_node_does_not_apply_in_time_is_not_acknowledged(tmp_path):
    async def run():
        service = await started(tmp_path)
        state = await two_node_state(service)
        assert await service.wait_for_acks(state, 0.1) is False
        await service.stop()

    asyncio.run(run())


def test_a_node_that_left_without_applying_the_update_fails_its_acknowledgement_at_once(tmp_path):
    async def run():
        service = await started(tmp_path)
        state = await two_node_state(service)
        service.applied_state = msgspec.structs.replace(service.applied_state,
                                                        nodes=frozenset({service.node_id}))
        assert await asyncio.wait_for(service.wait_for_acks(state, 30), 5) is False
        await service.stop()

    asyncio.run(run())


def test_a_master_alone_acknowledges_at_once(tmp_path):
    async def run():
        service = await started(tmp_path)
        state = await asyncio.wait_for(service.submit("put", set_persistent("x", 1)), 10)
        assert await service.wait_for_acks(state, 0) is True
        await service.stop()

    asyncio.run(run())
