"""Actions that run on the elected master (Elasticsearch's TransportMasterNodeAction).

Each is a top-level action that any node takes, through the node client like every
other: the node that took it (the coordinating node) runs the master operation in the
action's own task when it leads, and otherwise forwards the request, under the same
action name, to the master, where it runs as a child of the coordinating task. While
no master is known, or when the one it called stopped leading or went away, the
coordinating node waits for the next cluster state change and tries again, until the
request's `master_timeout` passes (master_not_discovered_exception, 503, as Elasticsearch
answers). A forwarded request that reaches a node no longer leading is refused there
(not_master), which the coordinating node retries: a request is never forwarded twice.

An action may add a coordinating step around the forwarding (`coordinate`): checks that
fail early, and waiting until this node has applied the state that carries the change,
so a request that follows on the same node sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import msgspec

from ..common.errors import FailedToCommitClusterState, MasterNotDiscovered, NotMasterError
from ..tasks.task import Task
from ..transport.service import ConnectTransportError, RemoteTransportError
from ..transport.wire import Message

# A master that stepped down or could not publish (MasterService.isPublishFailureException):
# tried again on the next master, as TransportMasterNodeAction does.
RETRYABLE = frozenset({NotMasterError.type, FailedToCommitClusterState.type, ConnectTransportError.type,
                       "node_closed_exception"})
DEFAULT_MASTER_TIMEOUT = 30.0

Handler = Callable[[Any, Task], Awaitable[Message]]


class MasterNodeRequest(Message, kw_only=True):
    """Base of every master action's request (ES's MasterNodeRequest)."""

    master_timeout: float = DEFAULT_MASTER_TIMEOUT  # seconds to find a master for it
    # Work that may outlast `master_timeout` once the master has it (a snapshot waited
    # for): the forwarded request is then not timed out, only lost with the master.
    runs_long: ClassVar[bool] = False


class MasterActions:
    def __init__(self, node):
        self.node = node
        self._operations: dict[str, Handler] = {}

    def register(self, name: str, request_type: type[MasterNodeRequest], response_type: type[Message],
                 operation: Handler, *, coordinate: Handler | None = None) -> None:
        """`operation` runs on the master; `coordinate`, when given, is what the
        coordinating node runs instead of forwarding straight away (it calls
        `on_master` itself)."""
        self._operations[name] = operation

        async def on_request(request: MasterNodeRequest, task: Task) -> Message:
            if task.parent is not None and task.parent.node_id != self.node.node_id:
                # Forwarded by a coordinating node: run here or refuse, never forward on.
                if not self.node.coordination.is_master:
                    raise NotMasterError(f"node [{self.node.name}] is not the elected master")
                return await operation(request, task)
            if coordinate is not None:
                return await coordinate(request, task)
            return await self.on_master(name, request, task)

        self.node.transport.register(name, request_type, response_type, on_request)

    async def execute(self, name: str, request: MasterNodeRequest, *,
                      master_timeout: float | None = None) -> Message:
        """Run the master action `name` through the node client (a child of the
        caller's task, if any)."""
        if master_timeout is not None:
            request = msgspec.structs.replace(request, master_timeout=master_timeout)
        return await self.node.client.execute(name, request)

    async def on_master(self, name: str, request: MasterNodeRequest, task: Task) -> Message:
        """The master's answer: the operation run here when this node leads (in the
        coordinating task), else the request forwarded to the master."""
        coordination = self.node.coordination
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.master_timeout
        last_error: BaseException | None = None
        while True:
            master = coordination.master_node
            remaining = deadline - loop.time()
            if master is not None:
                try:
                    if master.id == self.node.node_id:
                        if not coordination.is_master:
                            raise NotMasterError(f"node [{self.node.name}] is not the elected master")
                        return await self._operations[name](request, task)
                    return await self.node.transport.execute(name, request, address=master.transport_address,
                                                             timeout=None if request.runs_long
                                                             else max(remaining, 0.001))
                except (NotMasterError, FailedToCommitClusterState, ConnectTransportError) as e:
                    last_error = e
                except RemoteTransportError as e:
                    if e.type not in RETRYABLE:
                        raise
                    last_error = e
            remaining = deadline - loop.time()
            if remaining <= 0:
                reason = f"; last failure: {last_error}" if last_error is not None else ""
                raise MasterNotDiscovered(f"no master node found within [{request.master_timeout}s]{reason}")
            # Retry once the cluster state changes (a new master), or soon in any case.
            await coordination.wait_for_change(min(remaining, 0.5))
