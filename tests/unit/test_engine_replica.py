"""The replica side of the engine: operations the primary executed are applied with their
own sequence numbers, terms and versions, in any order, each at most once; and the
history the primary keeps is what a recovering copy replays."""

import asyncio
import random

from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef

REF = ShardRef("logs", "uuid-1", 0)


async def opened(path, term=1) -> Engine:
    engine = Engine(REF, path, term)
    await engine.open()
    return engine


def primary_history(engine: Engine, requests) -> list[ops.Operation]:
    written = []
    engine.write(list(requests), lambda i, outcome: written.append(outcome.operation))
    return written


def encoded(operations):
    return [(op, ops.encode(op), None) for op in operations]


def test_a_replica_ends_with_the_primarys_documents_whatever_order_operations_arrive_in(tmp_path):
    async def go():
        rng = random.Random(7)
        primary = await opened(tmp_path / "p")
        requests = []
        for n in range(300):
            doc = str(rng.randrange(40))
            requests.append(DeleteOp(doc) if rng.random() < 0.2 else IndexOp(doc, f'{{"n":{n}}}'.encode()))
        history = primary_history(primary, requests)
        replica = await opened(tmp_path / "r")
        shuffled = list(history)
        rng.shuffle(shuffled)
        for start in range(0, len(shuffled), 37):  # batches of any size, out of order
            replica.apply_operations(encoded(shuffled[start:start + 37]))
        for doc in map(str, range(40)):
            expected, actual = primary.get(doc), replica.get(doc)
            assert (expected and (expected.seq_no, expected.version, expected.source)) == \
                   (actual and (actual.seq_no, actual.version, actual.source))
        assert replica.doc_count == primary.doc_count
        assert replica.tracker.checkpoint == primary.tracker.checkpoint == len(history) - 1
        await primary.close()
        await replica.close()

    asyncio.run(go())


def test_an_operation_applied_twice_is_applied_once(tmp_path):
    async def go():
        primary = await opened(tmp_path / "p")
        history = primary_history(primary, [IndexOp("a", b'{"v":1}'), IndexOp("b", b'{"v":1}')])
        replica = await opened(tmp_path / "r")
        assert replica.apply_operations(encoded(history)) == 2
        assert replica.apply_operations(encoded(history)) == 0
        assert replica.doc_count == 2
        await primary.close()
        await replica.close()

    asyncio.run(go())


def test_applied_operations_survive_a_restart_through_the_translog(tmp_path):
    async def go():
        primary = await opened(tmp_path / "p")
        history = primary_history(primary, [IndexOp("a", b'{"v":1}'), IndexOp("a", b'{"v":2}')])
        replica = await opened(tmp_path / "r")
        replica.apply_operations(encoded(history[1:]))
        replica.apply_operations(encoded(history[:1]))
        await replica.translog.sync()
        await replica.close(flush=False)
        again = await opened(tmp_path / "r")
        assert again.get("a").source == b'{"v":2}' and again.get("a").version == 2
        assert again.tracker.checkpoint == 1
        await again.close()
        await primary.close()

    asyncio.run(go())


def test_history_gives_the_operations_of_a_sequence_number_range_in_order(tmp_path):
    async def go():
        primary = await opened(tmp_path)
        history = primary_history(primary, [IndexOp(str(n), b"{}") for n in range(10)])
        assert [ops.decode(raw).seq_no for raw in primary.history(3, 6)] == [3, 4, 5, 6]
        assert [ops.decode(raw) for raw in primary.history(0, 100)] == history
        await primary.close()

    asyncio.run(go())


def test_a_primary_vouches_only_for_operations_its_history_holds_with_the_same_term(tmp_path):
    from strata_node.replication.recovery import PeerRecovery

    async def go():
        primary = await opened(tmp_path / "p", term=2)
        primary_history(primary, [IndexOp(str(n), b'{"n":1}') for n in range(5)])
        assert PeerRecovery._holds_all(primary, [(0, 2), (4, 2)])
        assert PeerRecovery._holds_all(primary, [])
        assert not PeerRecovery._holds_all(primary, [(3, 1)])  # the same seq_no under another primary
        assert not PeerRecovery._holds_all(primary, [(4, 2), (5, 2)])  # one it never had
        await primary.close()

    asyncio.run(go())


def test_a_kept_store_must_share_the_primarys_history_and_not_run_ahead_of_it(tmp_path):
    import pytest

    from strata_node.replication.recovery import DivergedHistory, PeerRecovery, StartRecoveryRequest

    class Shard:
        ref = REF

    async def go():
        primary = await opened(tmp_path / "p")
        primary_history(primary, [IndexOp(str(n), b'{"n":1}') for n in range(5)])

        def request(**fields):
            return StartRecoveryRequest(index="logs", index_uuid="uuid-1", shard=0, target_allocation_id="t",
                                        target_node="n", **fields)

        PeerRecovery._check_kept_store(primary, Shard, request(starting_seq_no=3,
                                                                history_uuid=primary.history_uuid))
        for fields in ({"starting_seq_no": 3, "history_uuid": "another-history"},  # forced primary, half copy
                       {"starting_seq_no": 9, "history_uuid": primary.history_uuid},  # ahead of the primary
                       {"starting_seq_no": -1, "history_uuid": primary.history_uuid}):  # too many to vouch
            with pytest.raises(DivergedHistory):
                PeerRecovery._check_kept_store(primary, Shard, request(**fields))
        await primary.close()

    asyncio.run(go())


def test_a_copy_takes_up_the_history_it_recovered_and_keeps_it_across_a_restart(tmp_path):
    async def go():
        engine = await opened(tmp_path / "r")
        assert engine.holds_nothing()
        await engine.adopt_history_uuid("primary-history")
        engine.apply_operations(encoded(primary_history(await opened(tmp_path / "p"), [IndexOp("a", b"{}")])))
        assert not engine.holds_nothing()
        await engine.close()
        again = await opened(tmp_path / "r")
        assert again.history_uuid == "primary-history" and again.tracker.max_seq_no == 0
        await again.close()

    asyncio.run(go())


def test_a_replica_keeps_its_store_for_a_new_primary_only_if_it_holds_each_operation_above_the_checkpoint(
        tmp_path):
    from strata_node.replication.replica import ReplicaRequest, _held_by_primary

    def request(global_checkpoint, held):
        return ReplicaRequest(index="logs", index_uuid="uuid-1", shard=0, primary_term=2,
                              global_checkpoint=global_checkpoint, operations=[],
                              held_above_global_checkpoint=held)

    async def go():
        primary = await opened(tmp_path / "p")
        history = primary_history(primary, [IndexOp(f"d{n}", b'{"n": 1}') for n in range(6)])
        replica = await opened(tmp_path / "r")
        replica.apply_operations(encoded(history[:5]))  # seq_no 0..4, term 1
        assert _held_by_primary(replica, request(2, [(3, 1), (4, 1), (5, 1)]))  # it has more: fine
        assert not _held_by_primary(replica, request(2, [(3, 1)]))  # seq_no 4 would be undone
        assert not _held_by_primary(replica, request(2, [(3, 1), (4, 2)]))  # 4 is another operation
        assert not _held_by_primary(replica, request(2, None))  # nothing vouched for
        await primary.close()
        await replica.close()

    asyncio.run(go())


def test_a_promoted_primary_fills_the_gaps_below_its_highest_sequence_number_with_no_ops(tmp_path):
    from types import SimpleNamespace

    from strata_node.replication.replica import fill_seq_no_gaps

    async def go():
        primary = await opened(tmp_path / "p")
        history = primary_history(primary, [IndexOp(f"d{n}", b'{"n": 1}') for n in range(4)])
        replica = await opened(tmp_path / "r", term=2)
        replica.apply_operations(encoded([history[0], history[3]]))  # 1 and 2 never arrived
        assert replica.tracker.checkpoint == 0
        assert fill_seq_no_gaps(SimpleNamespace(engine=replica)) == 2
        assert replica.tracker.checkpoint == replica.tracker.max_seq_no == 3
        filled = [ops.decode(raw) for raw in replica.history(1, 2)]
        assert [(op.op_type, op.seq_no, op.primary_term) for op in filled] == [
            (ops.NO_OP, 1, 2), (ops.NO_OP, 2, 2)]
        assert replica.doc_count == 2 and replica.get("d1") is None
        assert fill_seq_no_gaps(SimpleNamespace(engine=replica)) == 0
        await replica.close(flush=False)
        reopened = await opened(tmp_path / "r", term=2)  # the no-ops came back from the translog
        assert reopened.tracker.checkpoint == 3
        await reopened.close()
        await primary.close()

    asyncio.run(go())


def test_a_search_after_a_restart_finds_a_batch_below_one_written_before_the_restart(tmp_path):
    """A replica holds 0-4 and 6-9, restarts, serves a search (the postings are cached),
    then receives 5: the readers' incremental postings must not skip its batch."""
    from strata_node.engine.index_structures import IndexedDocument

    def op(seq):
        o = ops.Operation(ops.INDEX, seq, 1, 1, f"d{seq}", b'{"tag":"x"}')
        return (o, ops.encode(o), IndexedDocument(terms={"tag": (["x"], None)}))

    async def go():
        replica = await opened(tmp_path)
        replica.apply_operations([op(s) for s in range(5)])
        replica.apply_operations([op(s) for s in range(6, 10)])
        await replica.close()
        replica = await opened(tmp_path)
        replica.refresh()
        assert replica.searcher().postings("tag", b"x").seqs.tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9]
        replica.apply_operations([op(5)])
        replica.refresh()
        assert replica.searcher().postings("tag", b"x").seqs.tolist() == list(range(10))
        await replica.close()

    asyncio.run(go())
