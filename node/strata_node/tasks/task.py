"""One running action, as `_tasks` reports it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..common.errors import IllegalArgument, StrataError, TaskCancelled

T = TypeVar("T")


class TimedOut(StrataError):
    """ES's ElasticsearchTimeoutException: 429, "the closest thing to 'your request took
    longer than you asked for'"."""

    type = "elasticsearch_timeout_exception"
    status = 429


@dataclass(frozen=True, order=True)
class TaskId:
    """`{node_id}:{number}`: node ids are persistent and numbers never repeat on a node,
    so an id names one task forever (stored results are fetched by it)."""

    node_id: str
    id: int

    def __str__(self) -> str:
        return f"{self.node_id}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> TaskId:
        node_id, sep, number = text.rpartition(":")
        if not sep or not node_id:
            raise IllegalArgument(f"malformed task id {text}")
        try:
            value = int(number)
        except ValueError:
            raise IllegalArgument(f"malformed task id {text}") from None
        return cls(node_id, value)


@dataclass(eq=False)
class Task:
    """A registered action. `status` is a callable so progress is read when someone asks,
    not pushed on every step."""

    id: TaskId
    action: str
    type: str  # "transport" for actions, "rest" for what the REST layer starts, "direct" for local children
    description: str = ""
    parent: TaskId | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cancellable: bool = False
    status: Callable[[], dict[str, Any] | None] | None = None
    start_time_millis: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    start_nanos: int = field(default_factory=time.monotonic_ns)
    cancelled_reason: str | None = None
    # Set (after the reason) by `cancel`: what work on an executor thread looks at.
    _cancelled_flag: threading.Event = field(default_factory=threading.Event)
    # Called once when the task is cancelled (the shell cancels the running coroutine).
    _on_cancel: list[Callable[[str], None]] = field(default_factory=list)
    # Called once when the task ends (is unregistered): bans on its children are lifted then.
    _on_done: list[Callable[[], None]] = field(default_factory=list)
    finished: bool = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled_flag.is_set()

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        if self.cancelled:
            listener(self.cancelled_reason)
        else:
            self._on_cancel.append(listener)

    def on_done(self, listener: Callable[[], None]) -> None:
        if self.finished:
            listener()
        else:
            self._on_done.append(listener)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            listeners, self._on_done = self._on_done, []
            for listener in listeners:
                listener()

    def cancel(self, reason: str) -> bool:
        """Mark the task cancelled and tell its listeners; False when it was already."""
        if self.cancelled:
            return False
        self.cancelled_reason = reason
        self._cancelled_flag.set()
        listeners, self._on_cancel = self._on_cancel, []
        for listener in listeners:
            listener(reason)
        return True

    def ensure_not_cancelled(self) -> None:
        """Long work calls this between steps: a cancelled task stops at the next one.
        Safe from any thread (see tasks/running.py)."""
        if self._cancelled_flag.is_set():
            raise TaskCancelled(f"task cancelled [{self.cancelled_reason}]")

    def info(self, *, detailed: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"node": self.id.node_id, "id": self.id.id, "type": self.type,
                                "action": self.action}
        if detailed:
            if self.description:
                body["description"] = self.description
            status = self.status() if self.status is not None else None
            if status is not None:
                body["status"] = status
        body["start_time_in_millis"] = self.start_time_millis
        body["running_time_in_nanos"] = time.monotonic_ns() - self.start_nanos
        body["cancellable"] = self.cancellable
        if self.cancellable:
            body["cancelled"] = self.cancelled
        if self.parent is not None:
            body["parent_task_id"] = str(self.parent)
        body["headers"] = dict(self.headers)
        return body


async def run_as(task: Task, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` as the task's work: cancelling the task cancels it, and the caller then
    gets task_cancelled_exception (a cancellation from elsewhere stays a CancelledError).
    The work runs in a copy of the caller's context, so bind the task's context first."""
    running = asyncio.ensure_future(work)
    task.on_cancel(lambda reason: running.cancel(reason))
    try:
        return await running
    except asyncio.CancelledError:
        if task.cancelled:
            raise TaskCancelled(f"task cancelled [{task.cancelled_reason}]") from None
        raise


async def ended(tasks: Iterable[Task]) -> None:
    """Until every one of `tasks` has ended (been unregistered): what a wait for completion
    waits for, told by the tasks themselves rather than found by polling."""
    loop = asyncio.get_running_loop()
    waits = []
    for task in tasks:
        done = loop.create_future()
        task.on_done(functools.partial(_resolve, done))
        waits.append(done)
    await asyncio.gather(*waits)


@contextlib.asynccontextmanager
async def within(timeout: float, timed_out: Callable[[], str]) -> AsyncIterator[None]:
    """The block (a wait for `ended`, say), given `timeout` seconds: past them it is
    cancelled and TimedOut raised, with the reason `timed_out()` gives then."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        raise TimedOut(timed_out()) from None


def _resolve(done: asyncio.Future) -> None:
    if not done.done():  # a waiter that gave up has cancelled it
        done.set_result(None)
