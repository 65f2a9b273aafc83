"""A promoted primary's resync sends what it holds above the global checkpoint in chunks;
each chunk is read from the history on a thread (`Engine.read_off_loop`), as every
history read is, so a long resync does not hold the node's event loop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace as NS

from strata_node.cluster.state import ShardRouting
from strata_node.engine import operation as ops
from strata_node.engine.engine import IndexOp, ShardRef
from strata_node.index.shard import IndexShard
from strata_node.replication import replica
from strata_node.replication.tracker import ReplicationTracker

INDEX, UUID = "logs", "uuid-1"
SERVICE = NS(name=INDEX, metadata=NS(uuid=UUID, number_of_replicas=1))


def threads_reading_history(engine) -> list[threading.Thread]:
    """The threads the engine's history reads run on, from now on."""
    read_on: list[threading.Thread] = []
    history = engine.history

    def recorded_history(start: int, end: int) -> list[bytes]:
        read_on.append(threading.current_thread())
        return history(start, end)

    engine.history = recorded_history
    return read_on


def test_a_promoted_primary_reads_the_history_it_resyncs_off_the_event_loop(tmp_path):
    async def go():
        shard = IndexShard(ShardRef(INDEX, UUID, 0), tmp_path / "p", 2)
        await shard.start()
        shard.allocation_id = "P"
        written = 2001  # three chunks of up to 1,000
        shard.engine.write([IndexOp(str(n), b'{"f":1}') for n in range(written)], lambda i, r: None)
        shard.tracker = ReplicationTracker("P", shard.engine.tracker.checkpoint, -1, node_id="n1")
        shard.tracker.update_from_master({"P", "R"}, {"P", "R"}, {"P": "n1", "R": "n2"})
        engine, loop_thread = shard.engine, threading.current_thread()
        read_on = threads_reading_history(engine)
        resent: list[int] = []

        async def execute(action, request, response_type=None, address=None, timeout=None):
            resent.extend(ops.decode(payload).seq_no for payload in request.operations)
            return replica.ReplicaResponse(local_checkpoint=engine.tracker.checkpoint)

        node = NS(transport=NS(execute=execute), shard_router=NS(address=lambda node_id: node_id),
                  coordination=NS(content=NS(routing_table=NS(indices={INDEX: (
                      ShardRouting(INDEX, 0, True, "STARTED", "n1", allocation_id="P"),
                      ShardRouting(INDEX, 0, False, "STARTED", "n2", allocation_id="R"))}))))
        await replica.resync(node, SERVICE, shard)
        assert resent == list(range(written))
        assert len(read_on) == 3 and loop_thread not in read_on
        await shard.close()

    asyncio.run(go())


def test_what_a_promoted_primary_holds_above_the_global_checkpoint_is_listed_off_the_event_loop(tmp_path):
    async def go():
        shard = IndexShard(ShardRef(INDEX, UUID, 0), tmp_path / "p", 2)
        await shard.start()
        shard.allocation_id = "P"
        shard.engine.write([IndexOp(str(n), b'{"f":1}') for n in range(50)], lambda i, r: None)
        shard.tracker = ReplicationTracker("P", shard.engine.tracker.checkpoint, 9, node_id="n1")
        engine, loop_thread = shard.engine, threading.current_thread()
        read_on = threads_reading_history(engine)
        held = await engine.run_between_writes(
            lambda: replica.held_above_global_checkpoint(shard, 100))
        assert held == [(n, 2) for n in range(10, 50)]
        assert read_on and loop_thread not in read_on
        assert await replica.held_above_global_checkpoint(shard, 39) is None  # too many to vouch for
        await shard.close()

    asyncio.run(go())
