"""on_thread: blocking work under a lock is not cut loose by its caller's cancellation,
so the lock is not let go while the thread still uses what it guards (the engine's use
of it is in test_engine_read_gate.py); to_the_end: a step of several parts is not cut
between them (the translog's use of it is in test_translog.py)."""

import asyncio
import logging
import threading

import pytest

from strata_node.common.errors import StrataError
from strata_node.common.to_the_end import on_thread, to_the_end
from tests.support.held_step import HeldStep


def test_a_cancelled_caller_goes_on_only_once_the_thread_is_done():
    async def go():
        finished = threading.Event()
        work = HeldStep(finished.set)
        caller = asyncio.ensure_future(on_thread(None, work))
        await work.until_started()
        caller.cancel()
        await asyncio.sleep(0.1)
        assert not caller.done()  # still waiting for the thread
        caller.cancel()  # a second cancellation does not cut it loose either
        await asyncio.sleep(0.1)
        assert not caller.done()
        work.release.set()
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
        def fail():
            raise OSError("disk gone")

        work = HeldStep(fail)
        await work.cancel_midway(on_thread(None, work))

    with caplog.at_level(logging.ERROR, logger="strata_node.common.to_the_end"):
        asyncio.run(go())
    assert any("failed after its caller was cancelled" in r.message and r.exc_info for r in caplog.records)



def test_a_step_cancelled_in_its_first_part_still_does_its_second():
    async def go():
        done = []
        work = HeldStep(lambda: done.append("files"))

        async def step():
            await on_thread(None, work)
            done.append("record")

        await work.cancel_midway(to_the_end(step()))
        return done

    assert asyncio.run(go()) == ["files", "record"]


def test_a_refusal_after_the_caller_was_cancelled_is_logged_with_its_reason_only(caplog):
    """An engine closed while a cancelled flush waited its turn: expected, not a failure."""
    async def go():
        def refuse():
            raise StrataError("[logs][0] engine is closed")

        work = HeldStep(refuse)
        await work.cancel_midway(on_thread(None, work))

    with caplog.at_level(logging.INFO, logger="strata_node.common.to_the_end"):
        asyncio.run(go())
    assert [(r.levelno, r.exc_info) for r in caplog.records] == [(logging.INFO, None)]
    assert "engine is closed" in caplog.records[0].getMessage()
