"""History retention in the shard engine: pruning drops what no retention lease needs and
no live document points to, and a consistent file set of the live store opens as a store
holding every operation up to its local checkpoint."""

import asyncio

from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.retention_leases import RetentionLease, RetentionLeases

REF = ShardRef("logs", "uuid-1", 0)


def run(coro):
    return asyncio.run(coro)


def write(engine, *requests):
    engine.write(list(requests), lambda i, outcome: None)


async def opened(path, lease=None):
    """An engine whose only retention lease retains from `lease`, every operation written
    below the global checkpoint."""
    e = Engine(REF, path, 1)
    await e.open()
    if lease is not None:
        held = RetentionLease("peer_recovery/n", lease, 0, "peer recovery")
        e.retention_leases = RetentionLeases(1, 1, (held,))
        e.translog.global_checkpoint = 1_000_000
    return e


def seq_nos(engine):
    return [ops.decode(p).seq_no for p in engine.history(0, engine.tracker.max_seq_no)]


def test_pruning_keeps_the_live_versions_and_drops_superseded_operations_below_the_bound(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=100)
        write(e, IndexOp("a", b'{"v":1}'), IndexOp("a", b'{"v":2}'), IndexOp("b", b"{}"),
              DeleteOp("b"), IndexOp("c", b"{}"))
        await e.flush()
        assert await e.prune_history() == 3  # a's first version, b and its delete
        assert seq_nos(e) == [1, 4]
        assert e.get("a").source == b'{"v":2}' and e.get("c") is not None and e.get("b") is None
        assert e.min_retained_seq_no == 5 and not e.holds_history_from(4) and e.holds_history_from(5)
        await e.close()

    run(go())


def test_pruning_never_passes_the_lowest_lease_nor_the_last_commit(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=2)
        for n in range(6):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        await e.prune_history()
        assert seq_nos(e) == [0, 1, 2, 3, 4, 5]  # nothing committed yet
        await e.flush()
        await e.prune_history()
        assert seq_nos(e) == [2, 3, 4, 5]  # the lease retains from 2
        await e.close()

    run(go())


def test_without_any_lease_the_history_is_kept_whole(tmp_path):
    async def go():
        e = await opened(tmp_path)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        e.translog.global_checkpoint = 3
        await e.flush()
        assert await e.prune_history() == 0 and seq_nos(e) == [0, 1, 2, 3]
        await e.close()

    run(go())


def test_pruning_never_passes_the_global_checkpoint(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=10)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        e.translog.global_checkpoint = 1
        await e.flush()
        await e.prune_history()
        assert seq_nos(e) == [2, 3]
        await e.close()

    run(go())


def test_persisted_leases_are_honoured_after_a_restart(tmp_path):
    async def go():
        e = await opened(tmp_path)
        leases = RetentionLeases(3, 7, (RetentionLease("peer_recovery/n", 2, 5, "peer recovery"),))
        e.persist_retention_leases(leases)
        await e.close()
        again = await opened(tmp_path)
        assert again.retention_leases == leases
        await again.close()

    run(go())


def test_the_minimum_retained_sequence_number_survives_a_restart(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=10)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        await e.flush()
        await e.prune_history()
        await e.close()
        again = await opened(tmp_path)
        assert again.min_retained_seq_no == 4 and seq_nos(again) == [3]
        await again.close()

    run(go())


def test_a_file_set_of_a_live_store_opens_as_a_copy_holding_its_operations(tmp_path):
    async def go():
        e = await opened(tmp_path / "source")
        for start in range(0, 3000, 500):
            write(e, *[IndexOp(str(n), f'{{"n":{n}}}'.encode()) for n in range(start, start + 500)])
        names, checkpoint = await e.take_file_set(tmp_path / "set")
        write(e, IndexOp("later", b"{}"))  # after the set: not in it, replayed by recovery
        assert checkpoint == 2999 and "CURRENT" in names and any(n.endswith(".ldb") for n in names)
        target = tmp_path / "target"
        target.mkdir()
        Engine.install_file_set(target, tmp_path / "set", checkpoint, checkpoint, e.history_uuid)
        copy = await opened(target)
        assert copy.tracker.checkpoint == 2999 and copy.doc_count == 3000
        assert copy.get("1234").source == b'{"n":1234}' and copy.get("later") is None
        assert copy.history_uuid == e.history_uuid
        await copy.close()
        await e.close()

    run(go())
