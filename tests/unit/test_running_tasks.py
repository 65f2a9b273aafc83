"""Cooperative cancellation of executor work (tasks/running.py): a thread cannot be
stopped, so work on a pool looks at its task between units and ends promptly once the
task is cancelled, with task_cancelled_exception."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from strata_node.common.errors import TaskCancelled
from strata_node.tasks import running
from strata_node.tasks.manager import TaskManager
from strata_node.tasks.task import Task
from strata_node.transport import context
from strata_node.transport.service import TransportService
from strata_node.transport.wire import Empty


def task(cancellable=True) -> Task:
    return TaskManager("n1").register("test:work", cancellable=cancellable)


def work_in_units(units: list[int], stopped: threading.Event, seconds: float = 30.0) -> str:
    """Blocking work: 1 ms units, looking at the running task between them."""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            running.ensure_not_cancelled()
            units.append(1)
            time.sleep(0.001)
        return "done"
    finally:
        stopped.set()


async def working(pool, t: Task) -> tuple[asyncio.Future, threading.Event]:
    """Work in units started on `pool` as `t`'s, once its first unit ran; and the event
    its thread sets when it stops."""
    units, stopped = [], threading.Event()
    work = asyncio.ensure_future(running.run_in_executor(pool, t, work_in_units, units, stopped))
    while not units:
        await asyncio.sleep(0.005)
    return work, stopped


def test_a_task_cancelled_while_its_thread_works_ends_at_the_next_unit():
    async def go():
        pool, t = ThreadPoolExecutor(1), task()
        work, stopped = await working(pool, t)
        started = time.monotonic()
        t.cancel("by user request")
        with pytest.raises(TaskCancelled, match=r"task cancelled \[by user request\]"):
            await work
        assert time.monotonic() - started < 1.0
        assert stopped.is_set()  # the thread itself stopped, not just the waiting
        pool.shutdown()
    asyncio.run(go())


def test_a_task_cancelled_before_a_thread_takes_it_never_starts():
    async def go():
        pool, t, units, stopped = ThreadPoolExecutor(1), task(), [], threading.Event()
        t.cancel("early")
        with pytest.raises(TaskCancelled):
            await running.run_in_executor(pool, t, work_in_units, units, stopped)
        assert units == [] and not stopped.is_set()
        pool.shutdown()
    asyncio.run(go())


def test_the_thread_sees_its_task_and_the_callers_headers():
    async def go():
        pool, t = ThreadPoolExecutor(1), task()

        def look():
            return running.current(), context.current().headers

        with context.bound(context.RequestContext({"X-Opaque-Id": "o-1"}, str(t.id))):
            seen, headers = await running.run_in_executor(pool, t, look)
        assert seen is t and headers == {"X-Opaque-Id": "o-1"}
        assert running.current() is None  # the caller's context is untouched
        running.ensure_not_cancelled()  # outside executor work: nothing to look at
        pool.shutdown()
    asyncio.run(go())


def test_a_caller_that_goes_away_cancels_the_work_of_a_cancellable_task():
    async def go():
        pool, t = ThreadPoolExecutor(1), task()
        work, stopped = await working(pool, t)
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work
        assert t.cancelled
        await asyncio.get_running_loop().run_in_executor(None, stopped.wait, 5.0)
        assert stopped.is_set()
        pool.shutdown()
    asyncio.run(go())


def test_a_cancelled_executor_action_of_the_transport_ends_promptly():
    async def go():
        manager = TaskManager("n1")
        t = TransportService(node_id="n1", node_name="n1", cluster_name="c1", secret="s", tasks=manager,
                             executors={"search": ThreadPoolExecutor(1, "search")})
        units, stopped = [], threading.Event()
        t.register("test:long", Empty, Empty, lambda request, task: work_in_units(units, stopped),
                   executor="search", cancellable=True)
        call = asyncio.ensure_future(t.execute("test:long", Empty()))
        while not units:
            await asyncio.sleep(0.005)
        [registered] = manager.list(actions=["test:long"])
        manager.cancel(registered, "by user request")
        with pytest.raises(TaskCancelled):
            await asyncio.wait_for(call, 2.0)
        assert stopped.is_set() and manager.tasks() == []
    asyncio.run(go())
