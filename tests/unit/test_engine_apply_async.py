"""Engine.apply_operations_async, a replica's write: its LevelDB batch goes to the store on a
store-writer thread while the event loop goes on, one write at a time as a primary's; what
must not overlap a batch on its way into the store (a rollback, a promoted primary's gap
fill) waits for it, and a new primary's own writes wait for that."""

import asyncio
from types import SimpleNamespace

import pytest

from strata_node.engine import operation as ops
from strata_node.engine import rollback
from strata_node.engine.engine import Engine, IndexOp, ShardRef
from strata_node.replication import replica
from strata_node.replication.replica import fill_seq_no_gaps

REF = ShardRef("logs", "uuid-1", 0)


async def opened(path, term=1) -> Engine:
    e = Engine(REF, path, term)
    await e.open()
    return e


def operation(seq_no: int, doc: str, term: int = 1) -> tuple[ops.Operation, bytes, None]:
    op = ops.Operation(ops.INDEX, seq_no, term, 1, doc, f'{{"seq":{seq_no}}}'.encode())
    return op, ops.encode(op), None


async def with_three_documents(path, writers) -> Engine:
    """An engine holding seq nos 0-2, its store writers holding the next batch."""
    e = await opened(path)
    writers.gate.set()
    await e.apply_operations_async([operation(s, f"d{s}") for s in range(3)])
    writers.close_again()
    return e


def test_a_replica_batch_is_written_on_a_store_writer_thread_while_the_loop_goes_on(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(e.apply_operations_async([operation(0, "a"), operation(1, "b")]))
        await writers.until_started()
        ticks = 0
        for _ in range(5):  # the loop runs while the batch waits at the gate
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 5 and not pending.done()
        assert e.tracker.checkpoint == -1 and e.get("a") is None  # not in the store yet
        writers.gate.set()
        assert await pending == 2
        assert writers.threads == ["gated-store-write_0"]
        assert e.tracker.checkpoint == 1 and e.get("b").source == b'{"seq":1}'
        await e.close()

    asyncio.run(go())


def test_a_replica_batch_skips_what_a_batch_before_it_applied(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        first = asyncio.ensure_future(e.apply_operations_async([operation(0, "a"), operation(1, "b")]))
        await writers.until_started()
        second = asyncio.ensure_future(e.apply_operations_async([operation(1, "b"), operation(2, "c")]))
        await asyncio.sleep(0.01)
        writers.gate.set()
        assert (await first, await second) == (2, 1)
        assert e.tracker.checkpoint == 2 and e.doc_count == 3
        await e.close()

    asyncio.run(go())


def test_a_replica_batch_not_admitted_when_its_turn_comes_writes_nothing(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        writers.gate.set()
        assert await e.apply_operations_async([operation(0, "a")], admit=lambda: False) is None
        assert e.tracker.max_seq_no == -1 and e.get("a") is None
        assert await e.apply_operations_async([operation(0, "a")]) == 1  # the lock was released
        await e.close()

    asyncio.run(go())


def test_a_synchronous_apply_is_refused_while_a_batch_is_in_flight(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(e.apply_operations_async([operation(0, "a")]))
        await writers.until_started()
        with pytest.raises(Exception, match="write in flight"):
            e.apply_operations([operation(1, "b")])
        writers.gate.set()
        await pending
        assert e.get("b") is None and e.tracker.max_seq_no == 0
        await e.close()

    asyncio.run(go())


def test_a_promoted_primary_fills_the_gaps_the_batch_in_flight_leaves_once_it_lands(tmp_path, writers):
    async def go():
        e = await with_three_documents(tmp_path, writers)
        # The old primary's last batch, 3 and 5 (4 never came), is on its way into the store.
        in_flight = asyncio.ensure_future(e.apply_operations_async([operation(3, "d3"), operation(5, "d5")]))
        await writers.until_started()
        filled = e.run_between_writes(lambda: fill_seq_no_gaps(SimpleNamespace(engine=e)))
        writers.gate.set()
        await in_flight
        assert await filled == 1  # seq no 4, a gap only once 5 is in
        assert e.tracker.checkpoint == 5
        assert ops.decode(e.history(4, 4)[0]).op_type == ops.NO_OP
        await e.close()

    asyncio.run(go())


def test_a_step_run_between_writes_with_nothing_in_flight_runs_at_once(tmp_path):
    async def go():
        e = await opened(tmp_path)
        ran = []
        done = e.run_between_writes(lambda: ran.append("step") or 7)
        assert ran == ["step"] and done.done() and await done == 7
        await e.close()

    asyncio.run(go())


def test_writes_asked_for_after_a_step_run_between_writes_wait_for_it(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        order = []
        in_flight = asyncio.ensure_future(e.apply_operations_async([operation(0, "a")]))
        await writers.until_started()
        step = e.run_between_writes(lambda: order.append(("step", e.tracker.checkpoint)))
        write = asyncio.ensure_future(
            e.write_async([IndexOp("b", b"{}")], lambda i, o: order.append(("write", i))))
        writers.gate.set()
        await asyncio.gather(in_flight, step, write)
        assert order == [("step", 0), ("write", 0)]  # after the batch in flight, before the new write
        assert e.get("b").seq_no == 1
        await e.close()

    asyncio.run(go())


def test_writes_wait_for_an_awaited_step_run_between_writes_until_it_is_done(tmp_path):
    async def go():
        e = await opened(tmp_path)
        order, release = [], asyncio.Event()

        async def step():
            order.append("step began")
            await release.wait()  # a read off the loop, say: no write may land meanwhile
            order.append("step ended")
            return 7

        done = e.run_between_writes(step)
        write = asyncio.ensure_future(
            e.write_async([IndexOp("b", b"{}")], lambda i, o: order.append("write")))
        await asyncio.sleep(0.05)
        assert order == ["step began"] and not write.done()
        release.set()
        assert await done == 7
        await write
        assert order == ["step began", "step ended", "write"]
        await e.close()

    asyncio.run(go())


def test_a_rollback_waits_for_the_batch_in_flight_and_undoes_it_too(tmp_path, writers):
    async def go():
        e = await with_three_documents(tmp_path, writers)
        in_flight = asyncio.ensure_future(e.apply_operations_async([operation(3, "d3")]))
        await writers.until_started()
        undoing = asyncio.ensure_future(rollback.roll_back(e, 2, set(), limit=1000))
        await asyncio.sleep(0.01)
        assert not undoing.done()  # waits for the store
        writers.gate.set()
        await in_flight
        assert await undoing == 1
        assert e.get("d3") is None and e.tracker.checkpoint == 2
        await e.close()

    asyncio.run(go())


def test_a_new_primarys_first_request_rolls_back_the_old_primarys_batch_that_was_in_flight(tmp_path, writers):
    async def go():
        e = await with_three_documents(tmp_path, writers)  # global checkpoint 2
        shard = SimpleNamespace(operation_term=1, term_change=asyncio.Lock(), ref="[logs][0]")
        old_term = SimpleNamespace(primary_term=1)
        in_flight = asyncio.ensure_future(e.apply_operations_async(
            [operation(3, "old3"), operation(4, "old4")], None, replica._admit(shard, old_term)))
        await writers.until_started()
        # The new primary never had 3 and 4: it holds nothing above the global checkpoint.
        new_term = replica.ReplicaRequest(index="logs", index_uuid="uuid-1", shard=0, primary_term=2,
                                          global_checkpoint=2, operations=[], held_above_global_checkpoint=[])

        async def take_new_term():
            async with shard.term_change:
                await replica._take_new_term(shard, e, new_term)

        taking = asyncio.ensure_future(take_new_term())
        await asyncio.sleep(0.01)
        assert not taking.done()  # it reads what the copy holds only once the batch is in
        writers.gate.set()
        await asyncio.gather(in_flight, taking)
        assert shard.operation_term == 2 and e.tracker.checkpoint == 2
        assert await e.apply_operations_async([operation(3, "new3", term=2)], None,
                                              replica._admit(shard, new_term)) == 1
        assert e.get("old3") is None and e.get("old4") is None and e.get("new3") is not None
        await e.close()

    asyncio.run(go())


def test_a_step_run_between_writes_that_fails_lets_the_writes_after_it_go_on(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        in_flight = asyncio.ensure_future(e.apply_operations_async([operation(0, "a")]))
        await writers.until_started()
        step = e.run_between_writes(lambda: 1 / 0)
        write = asyncio.ensure_future(e.apply_operations_async([operation(1, "b")]))
        writers.gate.set()
        with pytest.raises(ZeroDivisionError):
            await step
        assert await in_flight == 1 and await write == 1
        await e.close()

    asyncio.run(go())


def test_a_step_run_between_writes_cancelled_before_it_ran_lets_the_writes_after_it_go_on(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        in_flight = asyncio.ensure_future(e.apply_operations_async([operation(0, "a")]))
        await writers.until_started()
        ran = []
        step = e.run_between_writes(lambda: ran.append("step"))
        step.cancel()  # as a shutdown cancels a promoted primary's resync
        write = asyncio.ensure_future(e.apply_operations_async([operation(1, "b")]))
        writers.gate.set()
        assert await in_flight == 1 and await asyncio.wait_for(write, 5) == 1
        assert ran == [] and step.cancelled()
        await e.close()

    asyncio.run(go())
