"""Reads of a shard's store on other threads and the engine's close: the close waits for
the reads inside before it closes the store (plyvel would free what a read is using),
and refuses reads that come after it began."""

import asyncio
import threading

import pytest

from strata_node.engine import operation as ops
from strata_node.engine.engine import Engine, EngineClosed, ShardRef
from strata_node.engine.read_gate import ReadGate

REF = ShardRef("logs", "uuid-1", 0)


async def holding_one_document(path) -> Engine:
    e = Engine(REF, path, 1)
    await e.open()
    op = ops.Operation(ops.INDEX, 0, 1, 1, "a", b'{"n":1}')
    e.apply_operations([(op, ops.encode(op), None)])
    e.refresh()
    return e


def test_close_waits_for_a_read_running_on_another_thread(tmp_path):
    async def go():
        e = await holding_one_document(tmp_path)
        started, release = threading.Event(), threading.Event()

        def slow_scan():
            started.set()
            release.wait(10)
            return sum(1 for _ in e.db.iterator())  # the store must still be open here

        read = asyncio.ensure_future(e.read_off_loop(slow_scan))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        closing = asyncio.ensure_future(e.close())
        await asyncio.sleep(0.2)
        assert not closing.done() and e.db is not None and not e.db.closed
        release.set()
        assert await read > 0
        await closing
        assert e.db.closed

    asyncio.run(go())


def test_a_read_asked_for_once_close_has_begun_is_refused(tmp_path):
    async def go():
        e = await holding_one_document(tmp_path)
        await e.close()
        with pytest.raises(EngineClosed):
            await e.read_off_loop(e.history, 0, 0)

    asyncio.run(go())


def test_a_search_reader_taken_before_close_is_refused_after_it(tmp_path):
    """A search context kept between the query and fetch phases holds a reader over a
    snapshot of the store: its fetch after the shard closed fails the shard's part of the
    search instead of reading a closed store."""
    async def go():
        e = await holding_one_document(tmp_path)
        reader = e.searcher()
        with reader.reading():
            assert reader.document(0).id == "a"
        await e.close()
        with pytest.raises(EngineClosed), reader.reading():
            reader.document(0)

    asyncio.run(go())


def test_a_read_that_fails_leaves_the_gate_so_close_does_not_wait_for_it(tmp_path):
    async def go():
        e = await holding_one_document(tmp_path)

        def failing():
            raise ValueError("broken read")

        with pytest.raises(ValueError):
            await e.read_off_loop(failing)
        assert e.reads.inside == 0
        await asyncio.wait_for(e.close(), 5)

    asyncio.run(go())


def test_a_shut_gate_lets_the_reads_inside_finish():
    gate = ReadGate("shard", lambda: EngineClosed("closed"))
    with gate.entered():
        gate.shut()
        assert gate.inside == 1
    gate.wait_until_empty()  # returns at once: nobody is inside
    with pytest.raises(EngineClosed), gate.entered():
        pass
