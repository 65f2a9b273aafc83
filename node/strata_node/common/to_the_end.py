"""Blocking work on a thread that its caller's cancellation does not cut loose.

`await loop.run_in_executor(...)` ends at once when the awaiting task is cancelled, but
the thread goes on. A caller holding a lock (the engine's flush, prune and write locks, the
translog's sync lock) would then let it go under the thread, and the next holder (a
close, a second flush) would work on the same files and store at the same time. So work
done under such a lock goes through `on_thread`: a cancellation waits for the thread to
end before it goes on. And a step of several parts (a thread's work, then the record of
what it did) goes through `to_the_end` whole, so that a cancellation between the two
parts does not leave the record behind the files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TypeVar

from .errors import StrataError

log = logging.getLogger(__name__)

T = TypeVar("T")


async def on_thread(executor: Executor | None, fn: Callable[..., T], *args) -> T:
    """`fn(*args)` on `executor`; when the caller is cancelled meanwhile, the cancellation
    reaches it only once the thread is done (a failure the thread then meets is logged:
    nobody is left to raise it to)."""
    work = asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    return await to_the_end(work, getattr(fn, "__qualname__", fn))


async def to_the_end(step: Awaitable[T], name: object = None) -> T:
    """`step` run to its end: a caller cancelled meanwhile waits for it, then is
    cancelled. For steps whose state changes must not stop half way: a translog sync
    whose fsync landed records it, a roll that created the next generation's file
    switches to it, a commit written is the commit held."""
    work = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        while not work.done():
            try:
                await asyncio.wait([work])
            except asyncio.CancelledError:
                continue
        error = None if work.cancelled() else work.exception()
        what = name if name is not None else step
        if isinstance(error, StrataError):  # a refusal with its reason (an engine closed meanwhile)
            log.info("%s ended after its caller was cancelled: %s", what, error)
        elif error is not None:
            log.error("%s failed after its caller was cancelled", what, exc_info=error)
        raise
