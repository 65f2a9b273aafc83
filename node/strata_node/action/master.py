"""Actions that must run on the elected master (Elasticsearch's TransportMasterNodeAction).

A REST handler on any node calls `MasterActions.execute`; it runs the action where the
master is: in this process when this node leads, else over the transport. While no master
is known, or when the one it called stopped leading or went away, it waits for the next
cluster state change and tries again, until `master_timeout` passes
(master_not_discovered_exception, 503, as Elasticsearch answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..common.errors import MasterNotDiscovered, NotMasterError
from ..tasks.task import Task
from ..transport.service import ConnectTransportError, RemoteTransportError
from ..transport.wire import Message

RETRYABLE = frozenset({NotMasterError.type, ConnectTransportError.type, "node_closed_exception"})

Handler = Callable[[Any, Task], Awaitable[Message]]


class MasterActions:
    def __init__(self, node):
        self.node = node

    def register(self, name: str, request_type: type[Message], response_type: type[Message],
                 handler: Handler) -> None:
        async def on_master(request: Message, task: Task) -> Message:
            if not self.node.coordination.is_master:
                raise NotMasterError(f"node [{self.node.name}] is not the elected master")
            return await handler(request, task)

        self.node.transport.register(name, request_type, response_type, on_master)

    async def execute(self, name: str, request: Message, *, master_timeout: float = 30.0) -> Message:
        coordination = self.node.coordination
        loop = asyncio.get_running_loop()
        deadline = loop.time() + master_timeout
        last_error: BaseException | None = None
        while True:
            master = coordination.master_node
            remaining = deadline - loop.time()
            if master is not None:
                address = None if master.id == self.node.node_id else master.transport_address
                try:
                    return await self.node.transport.execute(name, request, address=address,
                                                             timeout=max(remaining, 0.001))
                except (NotMasterError, ConnectTransportError) as e:
                    last_error = e
                except RemoteTransportError as e:
                    if e.type not in RETRYABLE:
                        raise
                    last_error = e
            remaining = deadline - loop.time()
            if remaining <= 0:
                reason = f"; last failure: {last_error}" if last_error is not None else ""
                raise MasterNotDiscovered(f"no master node found within [{master_timeout}s]{reason}")
            # Retry once the cluster state changes (a new master), or soon in any case.
            await coordination.wait_for_change(min(remaining, 0.5))
