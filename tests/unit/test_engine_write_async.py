"""Engine.write_async: the LevelDB batch is written on a writer thread while the event loop
goes on; writes stay one at a time, flush and close wait for the write in flight, and a
cancelled caller does not cut a write short."""

import asyncio

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.engine.engine import Engine, IndexOp, ShardRef, WriteResult

REF = ShardRef("logs", "uuid-1", 0)


async def opened(path) -> Engine:
    e = Engine(REF, path, 1)
    await e.open()
    return e


async def write(e: Engine, *requests) -> list:
    outcomes = [None] * len(requests)

    def on_item(i, outcome):
        outcomes[i] = outcome

    await e.write_async(list(requests), on_item)
    return outcomes


def test_an_operation_counts_as_processed_only_once_its_batch_is_in_the_store(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(write(e, IndexOp("1", b'{"v":1}')))
        await writers.until_started()
        assert e.tracker.max_seq_no == 0 and e.tracker.checkpoint == -1
        assert e.get("1") is None  # not acknowledged yet, so not promised to readers
        writers.gate.set()
        (outcome,) = await pending
        assert outcome.result == "created" and e.tracker.checkpoint == 0
        assert e.get("1").source == b'{"v":1}'
        await e.close()

    asyncio.run(go())


def test_a_second_write_waits_and_sees_the_first_ones_documents(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        first = asyncio.ensure_future(write(e, IndexOp("1", b'{"v":1}')))
        await writers.until_started()
        second = asyncio.ensure_future(write(e, IndexOp("1", b'{"v":2}')))
        await asyncio.sleep(0.05)
        assert not second.done()  # its version lookup must see the first batch
        writers.gate.set()
        (a,), (b,) = await first, await second
        assert (a.operation.version, a.result) == (1, "created")
        assert (b.operation.seq_no, b.operation.version, b.result) == (1, 2, "updated")
        e.refresh()
        assert e.count() == 1
        await e.close()

    asyncio.run(go())


def test_a_cancelled_caller_does_not_cut_its_write_short(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(write(e, IndexOp("1", b"{}"), IndexOp("2", b"{}")))
        await writers.until_started()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        writers.gate.set()
        (c,) = await write(e, IndexOp("3", b"{}"))
        assert c.operation.seq_no == 2 and e.tracker.checkpoint == 2
        assert e.get("1") is not None and e.get("2") is not None
        await e.close()
        reopened = await opened(tmp_path)
        assert [reopened.get(i) is not None for i in "123"] == [True, True, True]
        assert reopened.recovered_operations == 0  # the close flushed all three
        await reopened.close()

    asyncio.run(go())


def test_flush_rolls_the_translog_only_after_the_write_in_flight_is_in_the_store(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(write(e, IndexOp("1", b"{}")))
        await writers.until_started()
        flushing = asyncio.ensure_future(e.flush(force=True))
        await asyncio.sleep(0.05)
        assert not flushing.done()
        writers.gate.set()
        await pending
        assert await flushing
        # the commit covers the write, so trimming its translog generation lost nothing
        assert e.commit.local_checkpoint == 0
        await e.close()

    asyncio.run(go())


def test_close_waits_for_the_write_in_flight(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(write(e, IndexOp("1", b'{"v":1}')))
        await writers.until_started()
        closing = asyncio.ensure_future(e.close(flush=False))
        await asyncio.sleep(0.05)
        assert not closing.done()  # closing LevelDB under a write is undefined behaviour
        writers.gate.set()
        (outcome,) = await pending
        await closing
        assert outcome.__class__ is WriteResult
        reopened = await opened(tmp_path)
        assert reopened.get("1").source == b'{"v":1}'
        await reopened.close()

    asyncio.run(go())


def test_a_synchronous_write_is_refused_while_an_async_one_is_in_flight(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        pending = asyncio.ensure_future(write(e, IndexOp("1", b"{}")))
        await writers.until_started()
        with pytest.raises(IllegalArgument, match="write in flight"):
            e.write([IndexOp("2", b"{}")], lambda i, o: None)
        writers.gate.set()
        await pending
        assert e.get("2") is None and e.tracker.max_seq_no == 0
        await e.close()

    asyncio.run(go())


def test_a_caller_cancelled_while_waiting_for_its_turn_writes_nothing(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        first = asyncio.ensure_future(write(e, IndexOp("a", b"{}")))
        await writers.until_started()
        queued = asyncio.ensure_future(write(e, IndexOp("b", b"{}")))
        await asyncio.sleep(0.01)
        queued.cancel()
        writers.gate.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await queued
        (c,) = await write(e, IndexOp("c", b"{}"))
        # no sequence number was taken for it, so no replica would wait for one
        assert c.operation.seq_no == 1 and e.get("b") is None
        await e.close()

    asyncio.run(go())


def test_writes_go_on_while_flush_rolls_the_translog(tmp_path, writers):
    async def go():
        e = await opened(tmp_path)
        writers.gate.set()
        await write(e, IndexOp("1", b"{}"))
        rolling = asyncio.Event()
        rolled = asyncio.Event()
        roll = e.translog.roll_generation

        async def slow_roll():
            rolling.set()
            await rolled.wait()  # the fsyncs of a large generation
            return await roll()

        e.translog.roll_generation = slow_roll
        flushing = asyncio.ensure_future(e.flush())
        await rolling.wait()
        (outcome,) = await asyncio.wait_for(write(e, IndexOp("2", b"{}")), 5)
        assert outcome.operation.seq_no == 1
        rolled.set()
        assert await flushing
        assert e.commit.local_checkpoint == 1
        await e.close()

    asyncio.run(go())
