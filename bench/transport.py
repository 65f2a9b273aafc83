"""Transport round trips between two local processes, beside a bare HTTP round trip.

    python bench/transport.py                      # 20,000 round trips per case, 16 in flight
    python bench/transport.py --requests 5000 --concurrency 1,16

Cases, each a server process on loopback and this process as the client:
1. ceiling: a bare Starlette endpoint on uvicorn answering an empty body, called with a
   bare httpx.AsyncClient (the same server and client stacks the transport uses);
2. transport without authentication: the ping action (an empty request and response)
   through TransportService: envelope, codec, task registration, context;
3. transport with authentication: the same, each request signed with the cluster secret
   (HMAC-SHA256, timestamp, nonce) and verified with replay protection, and each response
   signed for the request it answers and verified by the caller.

Prints round trips per second and p50/p99 latency per case, and each transport case as a
fraction of the ceiling (target: at least 60%). Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "node"))

TARGET_FRACTION = 0.60
SECRET = "bench-secret"


def _serve(app, port_queue) -> None:
    import uvicorn

    from strata_node.common.net import bind

    sock = bind("127.0.0.1", 0)
    port_queue.put(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(
        sockets=[sock])


def bare_server(port_queue) -> None:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def empty(request):
        await request.body()
        return Response(b"", media_type="application/octet-stream")

    _serve(Starlette(routes=[Route("/", empty, methods=["POST"])]), port_queue)


def transport_server(port_queue, authenticate: bool) -> None:
    from strata_node.tasks.manager import TaskManager
    from strata_node.transport.service import TransportService

    service = TransportService(node_id="server", node_name="server", cluster_name="bench", secret=SECRET,
                               tasks=TaskManager("server"), authenticate=authenticate)
    _serve(service.app(), port_queue)


def start(target, *args) -> tuple[multiprocessing.Process, int]:
    queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=target, args=(queue, *args), daemon=True)
    proc.start()
    port = queue.get(timeout=30)  # listening already: early connects wait in the backlog
    return proc, port


async def drive(call, requests: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker():
        for _ in remaining:
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    for _ in range(min(200, requests // 10)):  # warm the connections
        await call()
    start_time = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start_time, latencies


async def bench_bare(port: int, requests: int, concurrency: int):
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                 limits=httpx.Limits(max_keepalive_connections=64)) as client:
        async def call():
            (await client.post("/", content=b"")).raise_for_status()

        return await drive(call, requests, concurrency)


async def bench_transport(port: int, requests: int, concurrency: int, authenticate: bool):
    from strata_node.tasks.manager import TaskManager
    from strata_node.transport.service import PING, TransportService
    from strata_node.transport.wire import Empty

    client = TransportService(node_id="client", node_name="client", cluster_name="bench", secret=SECRET,
                              tasks=TaskManager("client"), authenticate=authenticate)
    address = f"127.0.0.1:{port}"
    await client.connect(address)

    async def call():
        await client.execute(PING, Empty(), Empty, address=address)

    try:
        return await drive(call, requests, concurrency)
    finally:
        await client.close()


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(name: str, elapsed: float, latencies: list[float], ceiling: float | None) -> float:
    rate = len(latencies) / elapsed
    line = (f"{name:<34} {rate:>9,.0f} round trips/s   p50 {percentile(latencies, 50) * 1000:6.2f} ms"
            f"   p99 {percentile(latencies, 99) * 1000:6.2f} ms")
    if ceiling:
        line += f"   {rate / ceiling:6.1%} of ceiling (target {TARGET_FRACTION:.0%})"
    print(line, flush=True)
    return rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--concurrency", default="1,16", help="comma list of requests in flight")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, {args.requests} round trips per case, client and server in separate "
          "processes on loopback", flush=True)
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        print(f"\n-- {concurrency} in flight", flush=True)
        proc, port = start(bare_server)
        ceiling = report("ceiling: bare httpx -> Starlette", *asyncio.run(
            bench_bare(port, args.requests, concurrency)), None)
        proc.terminate()
        for authenticate in (False, True):
            proc, port = start(transport_server, authenticate)
            name = "transport, " + ("authenticated" if authenticate else "no authentication")
            measured = asyncio.run(bench_transport(port, args.requests, concurrency, authenticate))
            report(name, *measured, ceiling)
            proc.terminate()


if __name__ == "__main__":
    main()
