"""Two transport services on loopback in one event loop: real HTTP, real signing."""

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from strata_node.common.errors import TaskCancelled
from strata_node.common.net import bind
from strata_node.tasks.manager import TaskManager
from strata_node.transport import context, wire
from strata_node.transport.auth import HEADER, AuthenticationFailed, Signer, Verifier, audience, request_nonce
from strata_node.transport.service import (
    HANDSHAKE,
    ActionNotFound,
    Handshake,
    ReceiveTimeout,
    RemoteTransportError,
    TransportService,
)
from strata_node.transport.wire import Message


class Echo(Message):
    text: str


class Seen(Message):
    text: str
    headers: dict[str, str]
    parent: str | None
    task: str
    thread: str = ""


def service(node_id, cluster="c1", secret="s3cret"):
    t = TransportService(node_id=node_id, node_name=node_id, cluster_name=cluster, secret=secret,
                         tasks=TaskManager(node_id), executors={"generic": ThreadPoolExecutor(2, "generic")})

    async def echo(request, task):
        parent = str(task.parent) if task.parent else None
        return Seen(text=request.text, headers=dict(task.headers), parent=parent, task=str(task.id))

    def echo_in_pool(request, task):
        import threading
        return Seen(text=request.text, headers=context.current().headers, parent=None, task=str(task.id),
                    thread=threading.current_thread().name)

    async def sleep(request, task):
        await asyncio.sleep(float(request.text))
        return Echo(text="woke")

    t.register("test:echo", Echo, Seen, echo)
    t.register("test:echo_pool", Echo, Seen, echo_in_pool, executor="generic")
    t.register("test:sleep", Echo, Echo, sleep, cancellable=True)
    return t


@contextlib.asynccontextmanager
async def served(app):
    """`app` on uvicorn on a loopback port of its own, for the block; yields its address."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    running = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await running


@contextlib.asynccontextmanager
async def serving(t):
    async with served(t.app()) as address:
        yield address
    await t.close()


def run(coro):
    asyncio.run(coro)


def test_a_remote_action_runs_with_the_callers_headers_as_a_child_of_its_task():
    async def go():
        a, b = service("nodeA"), service("nodeB")
        async with serving(b) as address:
            caller = a.tasks.register("indices:data/read/search", cancellable=True)
            with context.bound(context.RequestContext({"X-Opaque-Id": "req-1"}, str(caller.id))):
                seen = await a.execute("test:echo", Echo(text="hi"), Seen, address=address)
            assert seen.text == "hi"
            assert seen.headers == {"X-Opaque-Id": "req-1"}
            assert seen.parent == str(caller.id)
            assert seen.task.startswith("nodeB:")
            assert b.tasks.tasks() == []  # unregistered once done
    run(go())


def test_a_local_call_takes_the_same_path_and_registers_a_task():
    async def go():
        a = service("nodeA")
        with context.bound(context.RequestContext({"X-Opaque-Id": "x"}, None)):
            seen = await a.execute("test:echo", Echo(text="local"))
        assert seen.task.startswith("nodeA:") and seen.headers == {"X-Opaque-Id": "x"}
    run(go())


def test_long_handlers_run_on_their_named_executor_with_the_context():
    async def go():
        a = service("nodeA")
        with context.bound(context.RequestContext({"X-Opaque-Id": "p"}, None)):
            seen = await a.execute("test:echo_pool", Echo(text="x"))
        assert seen.thread.startswith("generic") and seen.headers == {"X-Opaque-Id": "p"}
    run(go())


def test_a_node_with_another_secret_cannot_even_shake_hands():
    async def go():
        b = service("nodeB")
        foreign = service("nodeX", secret="guess")
        async with serving(b) as address:
            # Its refusal is signed with a secret the foreign node does not hold: refused too.
            with pytest.raises(AuthenticationFailed) as refused:
                await foreign.execute("test:echo", Echo(text="x"), Seen, address=address)
            assert refused.value.to_dict()["type"] == "security_exception"
            assert "(HTTP 401): invalid cluster secret for transport response" in refused.value.reason
    run(go())


def echo_request() -> bytes:
    return wire.encode(wire.Request(wire.WIRE_VERSION, "test:echo", wire.encode(Echo(text="x"))))


def test_a_plain_http_client_without_proof_or_with_a_replay_is_refused():
    async def go():
        b = service("nodeB")
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = echo_request()
            assert (await http.post("/", content=raw)).status_code == 401
            header = Signer("s3cret").sign(audience("c1", "nodeB"), raw)
            assert (await http.post("/", content=raw, headers={HEADER: header})).status_code == 200
            replay = await http.post("/", content=raw, headers={HEADER: header})
            assert replay.status_code == 401
            assert wire.decode_response(replay.content).error["reason"].startswith("replayed")
    run(go())


def test_an_action_signed_with_a_wrong_secret_is_refused():
    async def go():
        b = service("nodeB")
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = echo_request()
            header = Signer("guess").sign(audience("c1", "nodeB"), raw)
            refused = await http.post("/", content=raw, headers={HEADER: header})
            assert refused.status_code == 401
            assert wire.decode_response(refused.content).error["type"] == "security_exception"
    run(go())


def test_a_request_signed_for_one_node_cannot_be_replayed_to_another():
    async def go():
        b, c = service("nodeB"), service("nodeC")
        async with serving(c) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = echo_request()
            meant_for_b = Signer("s3cret").sign(audience("c1", "nodeB"), raw)
            refused = await http.post("/", content=raw, headers={HEADER: meant_for_b})
            assert refused.status_code == 401
        await b.close()
    run(go())


def test_a_handshake_proof_is_good_for_the_handshake_only():
    async def go():
        b = service("nodeB")
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = echo_request()
            header = Signer("s3cret").sign(audience("c1", None), raw)
            assert (await http.post("/", content=raw, headers={HEADER: header})).status_code == 401
    run(go())


def test_an_unauthenticated_body_is_refused_before_it_is_read():
    async def go():
        b = service("nodeB")
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            refused = await http.post("/", content=b"x" * (8 * 1024 * 1024))
            assert refused.status_code == 401
    run(go())


def test_an_oversized_message_is_refused():
    async def go():
        b = TransportService(node_id="nodeB", node_name="nodeB", cluster_name="c1", secret="s3cret",
                             tasks=TaskManager("nodeB"), max_message_bytes=1024)
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = b"x" * 4096
            header = Signer("s3cret").sign(audience("c1", "nodeB"), raw)
            answer = await http.post("/", content=raw, headers={HEADER: header})
            assert wire.decode_response(answer.content).error["type"] == "content_too_long_exception"
    run(go())


def test_a_cancel_that_overtakes_its_request_refuses_the_request():
    async def go():
        a = service("nodeA")
        from strata_node.transport.service import CANCEL_CHILD, CancelChild
        await a.execute(CANCEL_CHILD, CancelChild(request_id="nodeX:1", reason="timed out"))
        late = wire.Request(wire.WIRE_VERSION, "test:echo", wire.encode(Echo(text="x")), request_id="nodeX:1")
        with pytest.raises(TaskCancelled, match="cancelled before it arrived"):
            await a._dispatch(late)
    run(go())


def test_a_node_of_another_cluster_is_refused_at_the_handshake():
    async def go():
        b = service("nodeB", cluster="c1")
        other = service("nodeO", cluster="c2")
        async with serving(b) as address:
            # The proof names the cluster it is meant for, so the refusal comes before the handshake.
            with pytest.raises(RemoteTransportError, match=r"meant for \[c2/\], not this node"):
                await other.execute("test:echo", Echo(text="x"), Seen, address=address)
    run(go())


def test_an_unknown_action_is_refused_by_the_remote_node():
    async def go():
        a, b = service("nodeA"), service("nodeB")
        async with serving(b) as address:
            with pytest.raises(RemoteTransportError, match=r"No handler for action \[test:nope\]") as e:
                await a.execute("test:nope", Echo(text="x"), Seen, address=address)
            assert e.value.type == "action_not_found_transport_exception"
        with pytest.raises(ActionNotFound):
            await a.execute("test:nope", Echo(text="x"))
    run(go())


def test_a_request_that_times_out_is_cancelled_on_the_remote_node():
    async def go():
        a, b = service("nodeA"), service("nodeB")
        async with serving(b) as address:
            with pytest.raises(ReceiveTimeout, match="timed out"):
                await a.execute("test:sleep", Echo(text="30"), address=address, timeout=0.3)
            for _ in range(200):
                if not b.tasks.list(actions=["test:sleep"]):
                    break
                await asyncio.sleep(0.01)
            assert b.tasks.list(actions=["test:sleep"]) == []
    run(go())


def test_cancelling_a_running_handler_ends_it_with_task_cancelled():
    async def go():
        a = service("nodeA")
        running = asyncio.create_task(a.execute("test:sleep", Echo(text="5")))
        while not a.tasks.list(actions=["test:sleep"]):
            await asyncio.sleep(0.01)
        a.tasks.cancel(a.tasks.list(actions=["test:sleep"])[0], "by user request")
        with pytest.raises(TaskCancelled, match="by user request"):
            await running
    run(go())


# -- signed responses ------------------------------------------------------------------------

def test_every_response_is_signed_for_the_request_it_answers():
    async def go():
        b = service("nodeB")
        async with serving(b) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            raw = echo_request()
            proof = Signer("s3cret").request(audience("c1", "nodeB"), raw)
            answer = await http.post("/", content=raw, headers={HEADER: proof.header})
            assert answer.status_code == 200
            Verifier("s3cret").verify_response(answer.content, answer.headers[HEADER],
                                               request_nonce=proof.nonce)
            # A refusal is signed too, so the caller can tell it from a forged one.
            refused = await http.post("/", content=raw, headers={HEADER: proof.header})  # a replay
            assert refused.status_code == 401
            Verifier("s3cret").verify_response(refused.content, refused.headers[HEADER],
                                               request_nonce=proof.nonce)
    run(go())


def impostor(answer):
    """A server on loopback that answers every transport request with `answer(request)`."""
    return served(Starlette(routes=[Route("/", answer, methods=["POST"])]))


def handshake_answer(node_id="nodeB") -> bytes:
    body = wire.encode(Handshake(cluster_name="c1", node_id=node_id, node_name=node_id, version="1"))
    return wire.encode(wire.Response(wire.WIRE_VERSION, body))


def test_an_unsigned_or_foreign_signed_answer_is_refused_and_logged(caplog):
    async def go():
        async def unsigned(request):
            return Response(handshake_answer(), media_type="application/x-strata-transport")

        async def foreign(request):
            nonce = request_nonce(request.headers.get(HEADER))
            raw = handshake_answer()
            return Response(raw, headers={HEADER: Signer("guess").response(nonce, raw)})

        a = service("nodeA")
        for answer, reason in ((unsigned, "missing authentication for transport response"),
                               (foreign, "invalid cluster secret for transport response")):
            async with impostor(answer) as address:
                with caplog.at_level(logging.WARNING), pytest.raises(AuthenticationFailed) as refused:
                    await a.execute("test:echo", Echo(text="x"), Seen, address=address)
                assert reason in refused.value.reason
                assert f"refused the response of [{address}] to [{HANDSHAKE}]" in refused.value.reason
                assert f"refused transport response from [{address}]" in caplog.text
                assert a.node_id_at(address) is None  # its handshake was not believed
        await a.close()
    run(go())


def test_a_captured_response_replayed_to_another_request_is_refused():
    """A man in the middle relays the handshake to the real node, keeps its signed answer,
    and answers the next request with it: the answer is bound to the handshake's nonce."""
    async def go():
        a, b = service("nodeA"), service("nodeB")
        async with serving(b) as real, httpx.AsyncClient(base_url=f"http://{real}") as relay:
            captured: list[httpx.Response] = []

            async def man_in_the_middle(request):
                if not captured:
                    answer = await relay.post("/", content=await request.body(),
                                              headers={HEADER: request.headers[HEADER]})
                    captured.append(answer)
                kept = captured[0]
                return Response(kept.content, status_code=kept.status_code,
                                headers={HEADER: kept.headers[HEADER]})

            async with impostor(man_in_the_middle) as address:
                assert (await a.connect(address)).node_id == "nodeB"  # relayed: genuine
                with pytest.raises(AuthenticationFailed, match="another request"):
                    await a.execute("test:echo", Echo(text="x"), Seen, address=address)
                assert a.node_id_at(address) is None
        await a.close()
    run(go())
