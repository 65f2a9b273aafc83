"""What a request carries along to every task it spawns (Elasticsearch's ThreadContext).

A contextvar holds the headers (X-Opaque-Id, traceparent) and the current task id. The
REST layer sets it from the HTTP request; the transport copies it into every outgoing
envelope and restores it around the handler on the receiving node, so a child task on
any node sees what the client sent.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

# The request headers that travel with a request to every node (ES's task headers).
PROPAGATED_HEADERS = ("X-Opaque-Id", "traceparent", "tracestate")


@dataclass(frozen=True)
class RequestContext:
    """Never mutated: a new context is bound for a new task."""

    headers: dict[str, str] = field(default_factory=dict)
    task_id: str | None = None  # the task whose work is running: the parent of what it sends


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "strata_request_context", default=None)


def current() -> RequestContext:
    return _current.get() or _EMPTY


@contextlib.contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def unparented(headers: dict[str, str] | None = None) -> contextlib.AbstractContextManager[RequestContext]:
    """Bound for the block: the current headers (or `headers`) and no task, so what is sent
    in it is no child of the running task (a cancelled task's children are refused)."""
    return bound(RequestContext(current().headers if headers is None else headers, None))


def propagated(headers: dict[str, str]) -> dict[str, str]:
    """The headers of an incoming request that travel on, matched case-insensitively."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name.lower()] for name in PROPAGATED_HEADERS if name.lower() in lowered}
