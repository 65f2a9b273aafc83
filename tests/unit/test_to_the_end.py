"""on_thread: blocking work under a lock is not cut loose by its caller's cancellation,
so the lock is not let go while the thread still uses what it guards."""

import asyncio
import logging
import threading

import pytest

from strata_node.common.to_the_end import on_thread
from strata_node.engine import operation as ops
from strata_node.engine.engine import Engine, ShardRef


def test_a_cancelled_caller_goes_on_only_once_the_thread_is_done():
    async def go():
        started, release, finished = threading.Event(), threading.Event(), threading.Event()

        def work():
            started.set()
            release.wait(10)
            finished.set()

        caller = asyncio.ensure_future(on_thread(None, work))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        caller.cancel()
        await asyncio.sleep(0.1)
        assert not caller.done()  # still waiting for the thread
        caller.cancel()  # a second cancellation does not cut it loose either
        await asyncio.sleep(0.1)
        assert not caller.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert finished.is_set()

    asyncio.run(go())


def test_the_result_comes_back_when_nobody_cancels():
    async def go():
        return await on_thread(None, lambda a, b: a + b, 2, 3)

    assert asyncio.run(go()) == 5


def test_a_failure_after_the_caller_was_cancelled_is_logged(caplog):
    async def go():
        started, release = threading.Event(), threading.Event()

        def work():
            started.set()
            release.wait(10)
            raise OSError("disk gone")

        caller = asyncio.ensure_future(on_thread(None, work))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        caller.cancel()
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller

    with caplog.at_level(logging.ERROR, logger="strata_node.common.to_the_end"):
        asyncio.run(go())
    assert any("failed after its caller was cancelled" in r.message and r.exc_info for r in caplog.records)


def test_an_engine_close_waits_for_a_cancelled_file_set_still_flushing_the_store(tmp_path):
    """take_file_set flushes the memtable under the flush lock: a recovery cancelled
    meanwhile must not let the lock, and so the close, in under the flush."""
    async def go():
        e = Engine(ShardRef("logs", "uuid-1", 0), tmp_path / "shard", 1)
        await e.open()
        op = ops.Operation(ops.INDEX, 0, 1, 1, "a", b'{"n":1}')
        e.apply_operations([(op, ops.encode(op), None)])
        started, release, seen = threading.Event(), threading.Event(), []

        def slow_flush_memtable():
            started.set()
            release.wait(10)
            seen.append(e.db.closed)
            e.db.compact_range()

        e._flush_memtable = slow_flush_memtable
        taking = asyncio.ensure_future(e.take_file_set(tmp_path / "set"))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        taking.cancel()
        closing = asyncio.ensure_future(e.close(flush=False))
        await asyncio.sleep(0.2)
        assert not closing.done()
        release.set()
        await closing
        assert seen == [False]  # the store was still open when the flush used it
        assert taking.cancelled()

    asyncio.run(go())
