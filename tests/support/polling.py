"""Waiting for a condition, and plain HTTP calls to a node, as the multi-node tests use them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.node_process import NodeProcess


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
               ignore: tuple[type[BaseException], ...] = ()) -> Any:
    """The first truthy answer of `condition` within `timeout`; errors of the `ignore`
    types count as "not yet" (a node still starting, a state not applied yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except ignore as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"condition not met in time (last: {last!r})")


def call(node: NodeProcess, method: str, path: str, **kwargs):
    with node.client(timeout=60) as c:
        return c.request(method, path, **kwargs)


def ok(node: NodeProcess, method: str, path: str, **kwargs):
    response = call(node, method, path, **kwargs)
    assert response.status_code == 200, (node.name, path, response.text)
    return response.json() if response.content else None
