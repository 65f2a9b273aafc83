"""The node's client for its own top-level actions (Elasticsearch's NodeClient).

REST handlers build a typed request and hand it here with an action name; the action
runs through the TransportService's local path, the same `_dispatch` a request from
another node takes, so the task is registered (action name, description, headers,
parent) and the handler forked to its executor in one place. Nothing is encoded: a call
to this node passes the request object as it is.

What the REST layer needs to know of the tasks a request started (to cancel them when
its client goes away, as RestCancellableNodeClient does) it learns through `observing`:
every task a top-level call registers is reported to the observer bound for the request.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from .tasks.task import Task
from .transport import context
from .transport.service import TransportService
from .transport.wire import Message

TaskObserver = Callable[[Task], None]

_observer: contextvars.ContextVar[TaskObserver | None] = contextvars.ContextVar(
    "strata_node_client_observer", default=None)


@contextlib.contextmanager
def observing(observer: TaskObserver | None) -> Iterator[None]:
    """Report to `observer` every task the calls made within start (the REST channel's
    view of its request's tasks); None: to nobody (work that outlives the request)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


class NodeClient:
    def __init__(self, transport: TransportService):
        self.transport = transport

    async def execute(self, action: str, request: Message, *,
                      on_task: TaskObserver | None = None) -> Message:
        """Run the registered action `action` on this node as a task of its own (a child
        of the caller's task, if the caller runs in one). `on_task` hears of that task as
        soon as it is registered (what `wait_for_completion=false` answers with)."""
        # Only a top-level call is the request's own: what its actions start are children.
        observer = _observer.get() if context.current().task_id is None else None
        if observer is not None and on_task is not None:
            report = on_task

            def both(task: Task) -> None:
                observer(task)
                report(task)

            on_task = both
        elif observer is not None:
            on_task = observer
        return await self.transport.execute(action, request, on_task=on_task)
