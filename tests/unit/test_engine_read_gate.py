"""Reads of a shard's store on other threads and the engine's close: the close waits for
the reads inside before it closes the store (plyvel would free what a read is using),
and refuses reads that come after it began; nor does it get in under work on a thread
whose caller was cancelled."""

import asyncio
import threading
import time

import pytest

from strata_node.engine import operation as ops
from strata_node.engine.engine import Engine, EngineClosed, ShardRef
from strata_node.engine.read_gate import ReadGate
from tests.support.held_step import HeldStep

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
        scan = HeldStep(lambda: sum(1 for _ in e.db.iterator()))  # the store must still be open then
        read = asyncio.ensure_future(e.read_off_loop(scan))
        await scan.until_started()
        closing = asyncio.ensure_future(e.close())
        await asyncio.sleep(0.2)
        assert not closing.done() and e.db is not None and not e.db.closed
        scan.release.set()
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


def test_a_search_phase_running_when_close_begins_stops_at_its_next_check(tmp_path):
    """The close waits for a step of the search, not for all of it: the phase's next check
    between steps raises the engine's closed error, and the close then goes on."""
    from strata_node.index.analysis import index_analyzers
    from strata_node.index.mapping import Mapping
    from strata_node.search.context import ShardContext

    async def go():
        e = await holding_one_document(tmp_path)
        ctx = ShardContext(index="logs", shard_id=0, reader=e.searcher(), mapping=Mapping.empty(),
                           analyzers=index_analyzers({}, "logs"), now_millis=0)
        inside, stopped = threading.Event(), []

        def phase():
            with ctx.reader.reading():
                inside.set()
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    try:
                        ctx.check_cancelled()
                    except EngineClosed:
                        stopped.append(True)
                        return
                    ctx.reader.document(0)

        running = asyncio.get_running_loop().run_in_executor(None, phase)
        await asyncio.get_running_loop().run_in_executor(None, inside.wait, 10)
        await e.close()
        await running
        assert stopped == [True]

    asyncio.run(go())


def test_the_history_size_of_index_stats_holds_the_store_open(tmp_path):
    from types import SimpleNamespace

    from strata_node.action.nodes_stats import measure

    async def go():
        e = await holding_one_document(tmp_path)
        e.history_size = walk = HeldStep(lambda: sum(1 for _ in e.db.iterator(include_value=False)) and 1)
        shard = SimpleNamespace(is_active=True, engine=e, ref=REF, path=tmp_path)
        figures = {}
        counting = asyncio.get_running_loop().run_in_executor(None, measure, shard, figures, True)
        await walk.until_started()
        closing = asyncio.ensure_future(e.close())
        await asyncio.sleep(0.2)
        assert not closing.done()
        walk.release.set()
        await closing
        await counting
        assert figures["docs_deleted"] == 0  # one operation, one live document

    asyncio.run(go())


def test_an_engine_close_waits_for_a_cancelled_file_set_still_flushing_the_store(tmp_path):
    """take_file_set flushes the memtable under the flush lock: a recovery cancelled
    meanwhile must not let the lock, and so the close, in under the flush."""
    async def go():
        e = await holding_one_document(tmp_path / "shard")
        seen = []

        def flush_memtable():
            seen.append(e.db.closed)
            e.db.compact_range()

        e._flush_memtable = flush = HeldStep(flush_memtable)
        taking = asyncio.ensure_future(e.take_file_set(tmp_path / "set"))
        await flush.until_started()
        taking.cancel()
        closing = asyncio.ensure_future(e.close(flush=False))
        await asyncio.sleep(0.2)
        assert not closing.done()
        flush.release.set()
        await closing
        assert seen == [False]  # the store was still open when the flush used it
        assert taking.cancelled()

    asyncio.run(go())


async def open_cancelled_on_its_way(e: Engine, blocking_open) -> None:
    """`e.open()` with `blocking_open` as its work on the thread, cancelled while that
    runs; the cancellation is seen by the caller, and the work goes on a moment later."""
    e._open_blocking = opening = HeldStep(blocking_open)
    task = asyncio.ensure_future(e.open())
    await opening.until_started()
    task.cancel()
    asyncio.get_running_loop().call_later(0.3, opening.release.set)
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_cancelled_open_leaves_a_store_the_close_closes(tmp_path):
    """LevelDB locks its folder for as long as it is open: an open cancelled on its way
    (the node stopping) must not leave a store no engine owns, or the next open of the
    shard in this process fails on the lock."""
    async def go():
        e = Engine(REF, tmp_path / "shard", 1)
        await open_cancelled_on_its_way(e, e._open_blocking)
        await e.close()  # as the node's stop closes its shards: flushing
        await asyncio.sleep(0.5)  # past the release: whatever the open does, it has done
        again = Engine(REF, tmp_path / "shard", 1)
        await again.open()
        await again.close()

    asyncio.run(go())


def test_an_open_cut_short_and_then_failing_is_not_flushed_by_the_close(tmp_path):
    """A failed open may have marked operations it never wrote: the close must not
    commit (and trim the translog) on its word."""
    async def go():
        e = Engine(REF, tmp_path / "shard", 1)
        real_open = e._open_blocking

        def open_then_fail():
            real_open()
            raise OSError("replay failed half way")

        flushed = []

        async def flush(**kwargs):
            flushed.append(kwargs)

        e.flush = flush
        await open_cancelled_on_its_way(e, open_then_fail)
        await e.close()
        assert flushed == []

    asyncio.run(go())


def test_a_flush_whose_caller_was_cancelled_while_committing_holds_the_commit_it_wrote(tmp_path):
    """The commit point lands on its thread whatever the caller does: the commit held,
    and the translog generations below it, must follow it."""
    async def go():
        e = await holding_one_document(tmp_path / "shard")
        write_commit = e._write_commit
        e._write_commit = held = HeldStep(write_commit)
        await held.cancel_midway(e.flush())
        assert e.commit.local_checkpoint == 0
        assert e.translog.min_generation == e.commit.translog_generation
        await e.close(flush=False)

    asyncio.run(go())


def test_a_history_uuid_adopted_after_the_close_is_refused(tmp_path):
    """A recovery's adoption queued behind the close must not write into a closed store."""
    async def go():
        e = await holding_one_document(tmp_path / "shard")
        await e.close(flush=False)
        with pytest.raises(EngineClosed):
            await e.adopt_history_uuid("another-history")

    asyncio.run(go())
