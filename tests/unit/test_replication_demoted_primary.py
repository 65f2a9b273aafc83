"""A primary whose term was superseded learns it when a replica refuses its operations and
the master refuses its request to fail that replica. As ES's ReplicationOperation
(onNoLongerPrimary) does, it fails its own copy, which is reported like any shard failure,
and answers with an error the coordinating step retries on the new primary; the write is
never acknowledged by the old one."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace as NS

import pytest

from strata_node.action.index_admin import NoLongerPrimary
from strata_node.action.shard_router import ShardRouter, retryable
from strata_node.cluster.state import ShardRouting
from strata_node.common.errors import IllegalState, StrataError, UnavailableShards
from strata_node.engine.engine import IndexOp, ShardRef
from strata_node.index.shard import IndexShard
from strata_node.replication import replica
from strata_node.replication.tracker import ReplicationTracker
from strata_node.transport.service import RemoteTransportError

INDEX, UUID = "logs", "uuid-1"
SERVICE = NS(name=INDEX, metadata=NS(uuid=UUID, number_of_replicas=1))


async def primary_of_term_one(path) -> IndexShard:
    shard = IndexShard(ShardRef(INDEX, UUID, 0), path, 1)
    await shard.start()
    shard.allocation_id = "P"
    shard.engine.write([IndexOp("a", b'{"f":1}')], lambda i, r: None)
    shard.tracker = ReplicationTracker("P", shard.engine.tracker.checkpoint, -1, node_id="n1")
    shard.tracker.update_from_master({"P", "R"}, {"P", "R"}, {"P": "n1", "R": "n2"})
    return shard


class SupersededPrimaryNode:
    """The replica has taken a newer primary's term; the master has a newer primary."""

    def __init__(self):
        self.failed_copies: list[str] = []
        self.transport = NS(execute=self.execute)
        self.shard_router = NS(address=lambda node_id: node_id)
        self.index_admin = NS(fail_copy=self.fail_copy)
        self.coordination = NS(content=NS(routing_table=NS(indices={INDEX: (
            ShardRouting(INDEX, 0, True, "STARTED", "n1", allocation_id="P"),
            ShardRouting(INDEX, 0, False, "STARTED", "n2", allocation_id="R"))})))

    async def execute(self, action, request, response_type=None, address=None, timeout=None):
        raise IllegalState("[logs][0] operation primary term [1] is too old (current [2])")

    async def fail_copy(self, index, uuid, shard, allocation_id, reason, primary_term):
        self.failed_copies.append(allocation_id)
        raise NoLongerPrimary(f"[{index}][{shard}] primary term [{primary_term}] did not match current "
                              "primary term [2]")


def test_a_superseded_primary_fails_its_own_copy_and_the_write_is_retried_on_the_new_primary(tmp_path):
    async def go():
        shard = await primary_of_term_one(tmp_path / "p")
        reported = []
        shard.engine.on_failure = lambda reason, error: reported.append(reason)
        node = SupersededPrimaryNode()
        with pytest.raises(StrataError) as raised:
            await replica.send_operations(node, SERVICE, shard, [], refresh=False)
        assert raised.value.type == "retry_on_primary_exception" and retryable(raised.value)
        assert node.failed_copies == ["R"]
        assert reported == ["primary shard [[logs][0]] of term [1] was demoted while failing replica shard"]
        with pytest.raises(UnavailableShards):  # it serves nothing more
            shard.active_engine()
        await shard.close()

    asyncio.run(go())


def primary_on(node_id: str) -> NS:
    copy = ShardRouting(INDEX, 0, True, "STARTED", node_id, allocation_id=f"on-{node_id}")
    return NS(routing_table=NS(indices={INDEX: (copy,)}))


def test_the_coordinating_step_sends_a_write_its_primary_was_demoted_under_to_the_new_primary():
    async def go():
        tried: list[str | None] = []

        async def execute(action, request, response_type=None, address=None):
            tried.append(address)
            if len(tried) == 1:
                raise RemoteTransportError({"type": "retry_on_primary_exception", "status": 500, "reason":
                                            "primary shard [[logs][0]] of term [1] was demoted"})
            return "written"

        async def wait_for_state(predicate, timeout):
            coordination.applied_state, coordination.content = object(), primary_on("n3")  # the new primary
            return predicate(coordination.applied_state)

        coordination = NS(applied_state=object(), content=primary_on("n1"), wait_for_state=wait_for_state,
                          address_of=lambda node_id: node_id)
        router = ShardRouter(NS(node_id="n0", coordination=coordination, transport=NS(execute=execute)))
        assert await router.on_primary("indices:data/write/bulk[s]", INDEX, 0, object(), 30.0) == "written"
        assert tried == ["n1", "n3"]

    asyncio.run(go())
