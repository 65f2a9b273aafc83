"""Cooperative cancellation of work on executor threads.

Python cannot stop a thread, so a cancelled task whose handler runs on a thread pool
would run to its end. Instead, work forked to an executor runs with its task bound in a
contextvar, and long loops look between their units of work (`ensure_not_cancelled()`:
a segment's clauses, a bucket's sub-aggregations, a fetched hit, a recovery chunk, a
slice of the test sleep), so a cancelled task ends at the next unit with
task_cancelled_exception, as Elasticsearch's CancellableTask checks do. The flag the
thread reads is the Task's own threading.Event, set on the event loop by `Task.cancel`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from .task import Task

T = TypeVar("T")

_running: contextvars.ContextVar[Task | None] = contextvars.ContextVar("strata_running_task", default=None)


def current() -> Task | None:
    """The task whose work runs on this thread (None outside `run_in_executor`)."""
    return _running.get()


def ensure_not_cancelled() -> None:
    """TaskCancelled once the task running on this thread is cancelled; for code that is
    not handed its task (a no-op outside executor work)."""
    task = _running.get()
    if task is not None:
        task.ensure_not_cancelled()


async def run_in_executor(executor: Executor | None, task: Task, fn: Callable[..., T], *args) -> T:
    """Run the blocking `fn(*args)` on `executor` as `task`'s work, in a copy of the
    caller's context (the request headers travel along) with the task bound.

    A task cancelled before a thread picks the work up never starts it; one cancelled
    while it runs ends at its next check; either way the caller gets task_cancelled_exception,
    never the result of work that was told to stop. If the awaiting coroutine is cancelled
    (its caller went away), a cancellable task is cancelled too, so its thread stops early
    instead of working for nobody."""
    ctx = contextvars.copy_context()

    def in_thread() -> T:
        _running.set(task)  # in the copied context only: the caller's is untouched
        task.ensure_not_cancelled()
        return fn(*args)

    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(executor, functools.partial(ctx.run, in_thread))
    except asyncio.CancelledError:
        if task.cancellable:
            task.cancel("the caller of the task went away")
        raise
    task.ensure_not_cancelled()
    return result
