"""TransportService: the registry of internal actions, the server that runs them for other
nodes, and the client that calls them on any node, this one included.

Local and remote calls take one path: an envelope is built from the caller's context
(headers, parent task), and `_dispatch` registers the task, binds the context, runs the
handler on its executor and unregisters the task. Remote calls add the wire: an HTTP POST
on the transport port through a keep-alive connection pool, signed with the cluster
secret; the server verifies the proof before it reads the action, and signs its answer
for that request, which the caller verifies before it reads the answer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response as HttpResponse
from starlette.routing import Route

from .. import __version__
from ..common.bodies import read_capped
from ..common.errors import StrataError, TaskCancelled, error_to_dict
from ..tasks import running
from ..tasks.manager import TaskManager
from ..tasks.task import Task, TaskId, run_as
from . import context, wire
from .auth import HEADER, AuthenticationFailed, Body, Signer, Verifier, audience, digest, request_nonce
from .wire import Empty, Message

log = logging.getLogger("strata.transport")

HANDSHAKE = "internal:transport/handshake"
PING = "internal:transport/ping"
CANCEL_CHILD = "internal:admin/tasks/cancel_child"
CONTENT_TYPE = "application/x-strata-transport"
# From this size a message is hashed for its proof off the event loop (a thread hop costs
# tens of microseconds; SHA-256 of 256 KB about 0.2 ms).
LARGE_MESSAGE_BYTES = 256 * 1024


class ActionNotFound(StrataError):
    type = "action_not_found_transport_exception"
    status = 400


class ConnectTransportError(StrataError):
    type = "connect_transport_exception"
    status = 500


class MessageTooLarge(StrataError):
    type = "content_too_long_exception"
    status = 413


class ReceiveTimeout(StrataError):
    type = "receive_timeout_transport_exception"
    status = 500


class RemoteTransportError(StrataError):
    """An error a remote handler answered with, rebuilt with its type and status so the
    REST layer renders it as the remote node did."""

    def __init__(self, body: dict[str, Any]):
        super().__init__(str(body.get("reason")))
        self.type = body.get("type", "exception")
        self.status = int(body.get("status", 500))
        self.body = body
        # Its fields and causes too, so root causes and detailed messages read as the remote's.
        self.metadata = {k: v for k, v in body.items()
                         if k not in ("type", "reason", "status", "caused_by", "stack_trace", "root_cause")}
        cause = body.get("caused_by")
        if isinstance(cause, dict):
            self.caused_by = RemoteTransportError(cause)

    def with_metadata(self, **metadata: Any) -> StrataError:
        super().with_metadata(**metadata)
        self.body = {**self.body, **self.metadata}  # what to_dict renders
        return self

    def to_dict(self, *, stack_trace: bool = False) -> dict[str, Any]:
        return {k: v for k, v in self.body.items() if k != "status"}


class CancelChild(Message):
    """Cancel the task a timed-out request started (ES cancels such a child remotely)."""

    request_id: str
    reason: str


class Handshake(Message):
    cluster_name: str
    node_id: str
    node_name: str
    version: str
    address: str = ""  # where the sender's transport listens ("" for a client-only caller)
    roles: tuple[str, ...] = ()  # so discovery knows which peers may vote before they join


Handler = Callable[[Any, Task], Awaitable[Message] | Message]


@dataclass(frozen=True)
class RegisteredAction:
    name: str
    request_type: type[Message]
    response_type: type[Message]
    handler: Handler
    executor: str | None  # None: a short handler that runs on the event loop
    cancellable: bool


class TransportService:
    def __init__(self, *, node_id: str, node_name: str, cluster_name: str, secret: str,
                 tasks: TaskManager, executors: dict[str, ThreadPoolExecutor] | None = None,
                 address: str = "", authenticate: bool = True, max_message_bytes: int = 100 * 1024 * 1024,
                 roles: tuple[str, ...] = ()):
        self.node_id = node_id
        self.roles = roles
        self.address = address
        self.node_name = node_name
        self.cluster_name = cluster_name
        self.tasks = tasks
        self.executors = executors or {}
        self._signer = Signer(secret)
        self._verifier = Verifier(secret)
        # False only where a benchmark measures what the proof costs; nodes never turn it off.
        self._authenticate = authenticate
        self._max_message_bytes = max_message_bytes
        # The proofs this node accepts: meant for it, or (the handshake only) for the cluster.
        self._audiences = (audience(cluster_name, node_id), audience(cluster_name, None))
        self._actions: dict[str, RegisteredAction] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._handshakes: dict[str, Handshake] = {}  # by address we connected to
        self._peers: dict[str, str] = {}  # node id -> transport address, from handshakes both ways
        self._by_request_id: dict[str, Task] = {}  # running remote-started tasks, by the sender's id
        # Request ids start from the clock, so a restarted sender never reuses one.
        self._request_ids = itertools.count(time.time_ns() // 1000)
        self._cancelled_requests: OrderedDict[str, float] = OrderedDict()  # id -> when, for late arrivals
        self._background: set[asyncio.Future] = set()
        # The fault switch partition tests use: requests to these nodes fail as if the
        # network dropped them, and requests from them are refused.
        self.disconnected: set[str] = set()
        self.register(HANDSHAKE, Handshake, Handshake, self._handshake)
        self.register(CANCEL_CHILD, CancelChild, Empty, self._cancel_child)
        self.register(PING, Empty, Empty, _pong)

    # -- registry --------------------------------------------------------------------------

    def register(self, name: str, request_type: type[Message], response_type: type[Message],
                 handler: Handler, *, executor: str | None = None, cancellable: bool = False) -> None:
        if name in self._actions:
            raise ValueError(f"transport action [{name}] is already registered")
        if executor is not None and executor not in self.executors:
            raise ValueError(f"transport action [{name}] names unknown executor [{executor}]")
        self._actions[name] = RegisteredAction(name, request_type, response_type, handler, executor,
                                               cancellable)

    def is_registered(self, name: str) -> bool:
        return name in self._actions

    # -- server side -------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._receive, methods=["POST"])])

    async def _receive(self, http: HttpRequest) -> HttpResponse:
        peer = f"{http.client.host}:{http.client.port}" if http.client else "?"
        proof = http.headers.get(HEADER)
        try:
            if self._authenticate and not proof:  # refused before a byte of the body is read
                self._verifier.verify(b"", None, accept=self._audiences, peer=peer)
            raw = await self._read(http)
            if self._authenticate:
                meant_for = self._verifier.verify(await _digest(raw), proof, accept=self._audiences,
                                                  peer=peer)
            envelope = wire.decode_request(raw)
            if envelope.sender is not None and envelope.sender in self.disconnected:
                raise ConnectTransportError(f"[{self.node_name}] is disconnected from [{envelope.sender}]")
            if self._authenticate and meant_for != self._audiences[0] and envelope.action != HANDSHAKE:
                log.warning("refused transport request [%s] from [%s]: a handshake proof",
                            envelope.action, peer)
                raise AuthenticationFailed("a proof not meant for a node is good for the handshake only")
            body = wire.encode(await self._dispatch(envelope))
            response = wire.Response(wire.WIRE_VERSION, body)
        except AuthenticationFailed as e:
            return self._reply(wire.Response(wire.WIRE_VERSION, None, _error(e)), proof, 401)
        except Exception as e:  # every failure travels back to the caller, typed
            if not isinstance(e, StrataError):
                log.exception("transport action failed on [%s]", self.node_name)
            response = wire.Response(wire.WIRE_VERSION, None, _error(e))
        return self._reply(response, proof)

    def _reply(self, response: wire.Response, proof: str | None, status: int = 200) -> HttpResponse:
        """The response, signed for the request whose proof named a nonce (a refusal of a
        request that named none goes unsigned: there is nothing to bind it to)."""
        raw = wire.encode(response)
        headers = {}
        nonce = request_nonce(proof) if self._authenticate else None
        if nonce is not None:
            headers[HEADER] = self._signer.response(nonce, raw)
        return HttpResponse(raw, status_code=status, headers=headers, media_type=CONTENT_TYPE)

    async def _read(self, http: HttpRequest) -> bytes:
        def too_large(declared: str | None) -> MessageTooLarge:
            size = f" of [{declared}] bytes" if declared is not None else ""
            return MessageTooLarge(f"transport message{size} is larger than the allowed "
                                   f"[{self._max_message_bytes}]")

        return await read_capped(http, self._max_message_bytes, too_large)

    async def _dispatch(self, envelope: wire.Request, on_task: Callable[[Task], None] | None = None,
                        request: Message | None = None) -> Message:
        """Run an action for a request that arrived (decoded from the envelope) or a local
        one (`request`, passed as is: like Elasticsearch's local sends, a call to this node
        is not serialized)."""
        action = self._actions.get(envelope.action)
        if action is None:
            raise ActionNotFound(f"No handler for action [{envelope.action}]")
        if envelope.request_id is not None and envelope.request_id in self._cancelled_requests:
            raise TaskCancelled("the request was cancelled before it arrived (its sender timed out)")
        if request is None:
            request = wire.decode_body(envelope.body, action.request_type)
        parent = TaskId.parse(envelope.parent_task_id) if envelope.parent_task_id else None
        task = self.tasks.register(action.name, type="transport", parent=parent, headers=envelope.headers,
                                   cancellable=action.cancellable,
                                   description=getattr(request, "description", "") or "")
        if envelope.request_id is not None:
            self._by_request_id[envelope.request_id] = task
        if on_task is not None:
            on_task(task)
        try:
            with context.bound(context.RequestContext(envelope.headers, str(task.id))):
                result = await self._run(action, request, task)
        finally:
            self.tasks.unregister(task)
            if envelope.request_id is not None:
                self._by_request_id.pop(envelope.request_id, None)
        return result

    async def _run(self, action: RegisteredAction, request: Message, task: Task) -> Message:
        if action.executor is None:
            outcome = action.handler(request, task)
            if not asyncio.iscoroutine(outcome):
                return outcome
            return await run_as(task, outcome)
        return await running.run_in_executor(self.executors[action.executor], task, action.handler, request,
                                             task)

    async def _handshake(self, request: Handshake, task: Task) -> Handshake:
        if request.cluster_name != self.cluster_name:
            raise ConnectTransportError(f"handshake failed: remote cluster name [{request.cluster_name}] "
                                        f"does not match local cluster name [{self.cluster_name}]")
        if request.address:
            self._peers[request.node_id] = request.address
        return self._local_handshake()

    async def _cancel_child(self, request: CancelChild, task: Task) -> Empty:
        child = self._by_request_id.get(request.request_id)
        if child is not None and child.cancellable:
            self.tasks.cancel(child, request.reason)
        elif child is None:
            # The cancel overtook its request (or the request is gone): refuse it if it comes.
            now = time.monotonic()
            self._cancelled_requests[request.request_id] = now
            while self._cancelled_requests and next(iter(self._cancelled_requests.values())) < now - 60:
                self._cancelled_requests.popitem(last=False)
        return Empty()

    def _local_handshake(self) -> Handshake:
        return Handshake(cluster_name=self.cluster_name, node_id=self.node_id, node_name=self.node_name,
                         version=__version__, address=self.address, roles=self.roles)

    # -- client side -------------------------------------------------------------------------

    async def execute(self, action: str, request: Message, response_type: type[Message] | None = None,
                      *, address: str | None = None, timeout: float | None = None,
                      on_task: Callable[[Task], None] | None = None) -> Message:
        """Run `action` on the node at `address` (this node when None) with the caller's
        headers, as a child of the caller's task. `on_task` hears of the task a local
        call registers (what `wait_for_completion=false` answers with)."""
        current = context.current()
        envelope = wire.Request(wire.WIRE_VERSION, action, b"",  # a remote call's body: encoded in _send
                                dict(current.headers), current.task_id,
                                int(timeout * 1000) if timeout is not None else None,
                                f"{self.node_id}/{next(self._request_ids)}", self.node_id)
        if address is None:
            return await self._dispatch(envelope, on_task, request)
        if action != HANDSHAKE and address not in self._handshakes:
            await self.connect(address)
        remote = self._handshakes.get(address)
        parent = self.tasks.get(TaskId.parse(current.task_id)) if current.task_id else None
        if parent is not None and remote is not None:
            self.tasks.register_child_node(parent, remote.node_id)  # so a cancellation reaches it
        return await self._send(address, envelope, response_type or self._response_type(action), timeout,
                                request)

    def _response_type(self, action: str) -> type[Message]:
        registered = self._actions.get(action)
        if registered is None:
            raise ActionNotFound(f"No response type known for action [{action}]: pass it to execute()")
        return registered.response_type

    async def connect(self, address: str) -> Handshake:
        """Handshake with a node: refuse it unless it belongs to this cluster."""
        remote = await self._send(address, wire.Request(wire.WIRE_VERSION, HANDSHAKE,
                                                        wire.encode(self._local_handshake()),
                                                        sender=self.node_id),
                                  Handshake, timeout=10.0)
        if remote.cluster_name != self.cluster_name:
            raise ConnectTransportError(f"handshake failed: remote cluster name [{remote.cluster_name}] "
                                        f"does not match local cluster name [{self.cluster_name}]")
        if remote.node_id in self.disconnected:
            raise ConnectTransportError(f"[{address}] disconnected by the fault switch")
        self._handshakes[address] = remote
        self._peers[remote.node_id] = address
        return remote

    def peers(self) -> dict[str, str]:
        """Nodes of this cluster this node has shaken hands with: node id -> address."""
        return dict(self._peers)

    def addresses_of(self, node_ids: set[str]) -> list[str]:
        return sorted(self._peers[n] for n in node_ids if n in self._peers)

    def node_id_at(self, address: str) -> str | None:
        remote = self._handshakes.get(address)
        return remote.node_id if remote is not None else None

    async def _send(self, address: str, envelope: wire.Request, response_type: type[Message],
                    timeout: float | None, message: Message | None = None) -> Message:
        """Send `envelope` (with `message` as its body when given) and return the answer."""
        if self.disconnected:
            remote = self._handshakes.get(address)
            if remote is not None and remote.node_id in self.disconnected:
                raise ConnectTransportError(f"[{address}] disconnected by the fault switch")
        raw = wire.encode(envelope) if message is None else wire.encode_with_body(envelope, message)
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = httpx.AsyncClient(
                base_url=f"http://{address}", timeout=None,
                limits=httpx.Limits(max_keepalive_connections=16, keepalive_expiry=60))
        headers = {"content-type": CONTENT_TYPE}
        proof = None
        if self._authenticate:
            remote = self._handshakes.get(address) if envelope.action != HANDSHAKE else None
            proof = self._signer.request(audience(self.cluster_name, remote.node_id if remote else None),
                                         await _digest(raw))
            headers[HEADER] = proof.header
        try:
            http = await asyncio.wait_for(client.post("/", content=raw, headers=headers), timeout)
        except TimeoutError:
            if envelope.request_id is not None and envelope.action != CANCEL_CHILD:
                self._cancel_remote(address, envelope)
            raise ReceiveTimeout(f"[{address}][{envelope.action}] request timed out after "
                                 f"[{timeout}s]") from None
        except httpx.TransportError as e:
            self._handshakes.pop(address, None)
            raise ConnectTransportError(f"[{address}] connect_exception: {e}") from None
        if proof is not None:
            self._check_response(address, envelope.action, http, proof.nonce)
        response = wire.decode_response(http.content)
        if response.error is not None:
            raise RemoteTransportError(response.error)
        return wire.decode_body(response.body, response_type)

    def _check_response(self, address: str, action: str, http: httpx.Response, nonce: str) -> None:
        """Refuse an answer not signed with the cluster secret for this very request, before
        a byte of it is decoded; what answered at `address` is no longer trusted, so the
        next request shakes hands again."""
        try:
            self._verifier.verify_response(http.content, http.headers.get(HEADER), request_nonce=nonce,
                                           peer=address, action=action)
        except AuthenticationFailed as e:
            self._handshakes.pop(address, None)
            # Its status is all that may be told of it: a 401 hints that it refused our secret.
            raise AuthenticationFailed(f"refused the response of [{address}] to [{action}] "
                                       f"(HTTP {http.status_code}): {e.reason}") from None

    def _cancel_remote(self, address: str, envelope: wire.Request) -> None:
        """Nobody waits for the answer any more: tell the remote node to stop the work."""
        cancel = wire.Request(wire.WIRE_VERSION, CANCEL_CHILD, wire.encode(
            CancelChild(request_id=envelope.request_id, reason="the parent request timed out")))

        async def send() -> None:
            try:
                await self._send(address, cancel, Empty, 10.0)
            except StrataError as e:
                log.warning("failed to cancel timed-out [%s] on [%s]: %s", envelope.action, address, e)

        self._background.add(asyncio.ensure_future(send()))
        for done in [t for t in self._background if t.done()]:
            self._background.discard(done)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()


async def _digest(raw: bytes) -> Body:
    """A large message's digest, taken on a thread; a small one is hashed where it is."""
    if len(raw) < LARGE_MESSAGE_BYTES:
        return raw
    return await asyncio.to_thread(digest, raw)


def _pong(request: Empty, task: Task) -> Empty:
    return request


def _error(e: BaseException) -> dict[str, Any]:
    body = error_to_dict(e)
    body["status"] = e.status if isinstance(e, StrataError) else 500
    return body

