"""A blocking step caught in the middle: it starts on its thread, then waits to be let go,
so a test can cancel, close or read while the step runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class HeldStep:
    def __init__(self, then: Callable[..., Any] = lambda *args: None):
        self.then = then  # what the step does once let go
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args) -> Any:
        self.started.set()
        self.release.wait(10)
        return self.then(*args)

    async def until_started(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.started.wait, 10)

    async def cancel_midway(self, step) -> None:
        """Run `step` (an awaitable reaching this held step), cancel its caller once the
        step has started, let the step go, and check the caller ends cancelled."""
        caller = asyncio.ensure_future(step)
        await self.until_started()
        caller.cancel()
        await asyncio.sleep(0)
        self.release.set()
        try:
            await caller
        except asyncio.CancelledError:
            return
        raise AssertionError("the caller's cancellation was lost")
