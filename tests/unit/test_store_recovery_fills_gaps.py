"""A primary recovered from its own store fills its sequence number gaps with no-ops, as
Elasticsearch does after store recovery, so that its local checkpoint (and the global
checkpoint with it) can move past them; a new, empty store has none to fill."""

import asyncio
from types import SimpleNamespace

from strata_node.engine import operation as ops
from strata_node.engine.engine import ShardRef
from strata_node.index.shard import IndexShard
from strata_node.replication.recovery import PeerRecovery

REF = ShardRef("logs", "uuid-1", 0)


def op(seq: int) -> tuple:
    o = ops.Operation(ops.INDEX, seq, 1, 1, f"d{seq}", b"{}")
    return (o, ops.encode(o), None)


def recovered(path, seqs: list[int]) -> IndexShard:
    """The copy's store as a crash left it (operations past a gap), opened again and
    recorded as the primary's local recovery."""
    async def go() -> IndexShard:
        before = IndexShard(REF, path, 1)
        await before.start()
        before.engine.apply_operations([op(s) for s in seqs])
        await before.close()
        shard = IndexShard(REF, path, 2)
        await shard.start()
        PeerRecovery(SimpleNamespace(node_id="n1")).record_local(shard, SimpleNamespace(allocation_id="a1"))
        return shard

    return asyncio.run(go())


def test_a_primary_recovered_from_its_store_fills_its_gaps_with_no_ops_of_its_term(tmp_path):
    shard = recovered(tmp_path, [0, 1, 4, 5])
    engine = shard.engine
    assert (engine.tracker.checkpoint, engine.tracker.max_seq_no) == (5, 5)
    filled = [ops.decode(p) for p in engine.history(2, 3)]
    assert [(o.seq_no, o.op_type, o.primary_term) for o in filled] == [(2, ops.NO_OP, 2), (3, ops.NO_OP, 2)]
    assert engine.get("d4") is not None and engine.get("d2") is None
    asyncio.run(shard.close())


def test_a_primary_recovered_from_a_store_without_gaps_writes_nothing(tmp_path):
    shard = recovered(tmp_path, [0, 1, 2])
    assert shard.engine.tracker.checkpoint == 2
    assert [ops.decode(p).op_type for p in shard.engine.history(0, 2)] == [ops.INDEX] * 3
    asyncio.run(shard.close())
