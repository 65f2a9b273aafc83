"""A replica request names the copy it is for (ES's targetAllocationID): a node that by
now holds another copy of the shard refuses it, rather than applying writes meant for a
copy it no longer has."""

import asyncio
from types import SimpleNamespace as NS

import pytest

from strata_node.common.errors import ShardNotFound
from strata_node.replication import replica
from strata_node.replication.replica import ReplicaRequest
from tests.unit.test_recovery_waits_for_the_primarys_state import (
    INDEX,
    SERVICE,
    UUID,
    PrimaryNode,
    primary_copy,
    started_primary,
    target_copy,
)


def test_a_copy_refuses_operations_meant_for_another_copy_of_its_shard(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "r")
        shard.allocation_id = "NEW"
        before = shard.engine.tracker.max_seq_no
        node = NS(indices=NS(local_shard=lambda *_: shard, indices={INDEX: SERVICE}))
        request = ReplicaRequest(index=INDEX, index_uuid=UUID, shard=0, primary_term=1, global_checkpoint=-1,
                                 operations=[], target_allocation_id="OLD")
        with pytest.raises(ShardNotFound, match=r"expected allocation id \[OLD\] but found \[NEW\]"):
            await replica.apply_on_copy(node, request)
        assert shard.engine.tracker.max_seq_no == before
        await shard.close()

    asyncio.run(go())


def test_each_copy_of_the_replication_group_is_sent_its_own_allocation_id(tmp_path):
    async def go():
        shard = await started_primary(tmp_path / "p")
        node = PrimaryNode(shard, primary_copy())
        targets: list[str | None] = []
        execute = node.execute

        async def recording(action, request, response_type=None, address=None, timeout=None):
            targets.append(request.target_allocation_id)
            return await execute(action, request, response_type, address, timeout)

        node.transport.execute = recording
        node.apply(primary_copy(), target_copy())
        shard.tracker.initiate_tracking("T", "n2")
        await replica.send_operations(node, SERVICE, shard, [], refresh=False)
        assert targets == ["T"]
        await shard.close()

    asyncio.run(go())
