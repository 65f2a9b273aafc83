"""Search latency of one real node over a million log lines, and the bulk indexing rate
that built them (issue 3's benchmark).

    python bench/search.py                          # 1,000,000 docs, 1 shard then 3 shards
    python bench/search.py --docs 200000 --shards 1 # a quicker run
    python bench/search.py --queries 200            # fewer queries per kind

What it does, once per shard count (a fresh node each time):
1. Generates N log documents from a seeded RNG, pre-encoded as NDJSON bulk bodies: a
   timestamp about 10 ms after the previous one, a host out of N/100 (so one host matches
   about 100 documents), status, method, path, size, client ip, a unique request id and a
   message whose words repeat across documents (an event phrase out of 40).
2. Starts a node process on a temporary data folder, creates the index with an explicit
   mapping (timestamp date, host/status/method/request_id keyword, path keyword, size
   long, ip ip, message text), and bulk-indexes the bodies over HTTP (`--clients`
   connections, `--batch` documents per request, translog durability `request`): the
   indexing rate with the inverted index in place, beside the in-process ceiling
   bench/bulk_index.py measures (orjson parse + plyvel batches, one key per document).
3. Refreshes, checks `_count`, then sends `--queries` queries of each kind, one at a time
   over one keep-alive connection, and reports p50/p99 latency (client-side, request sent
   to response read) and the median number of hits. Each kind gets a few warm-up queries
   first, not counted. The kinds:
     term       a host (about 100 documents)
     match      two words of the message (an event phrase; a few percent of documents)
     range      100 x 10 ms of timestamps (about 100 documents)
     bool       the three together: the match scored, the term and range as filters
     terms agg  status, size 0, over all documents
     date_histogram  per minute, size 0, over all documents

Figures, never pass/fail: the targets are printed beside them. Failures are a request
that fails or a `_count` that differs from the documents sent.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_index import (  # noqa: E402
    AGENTS,
    BASE_MS,
    METHODS,
    PATHS,
    STATUSES,
    BulkFailed,
    _check_bulk_response,
    _start_node,
    run_ceiling,
    table,
)

TARGET_DOCS_PER_S = 15_000
TARGETS_P50_MS = {"term": 10, "match": 50, "range": 10, "bool": None, "terms agg": 200,
                  "date_histogram": 200}
WARMUP = 10
STEP_MS = 10  # mean gap between two documents' timestamps

EVENTS = (
    "request completed", "payment declined by issuer", "cache miss for product", "session expired",
    "user logged in", "user logged out", "cart updated", "checkout started", "checkout completed",
    "inventory reserved", "inventory released", "coupon applied", "coupon rejected",
    "password reset requested", "email queued", "email delivered", "email bounced",
    "search returned no results", "recommendation served", "price recalculated", "order shipped",
    "order cancelled", "refund issued", "address validated", "address rejected",
    "upstream timeout retrying", "rate limit exceeded", "token refreshed", "token revoked",
    "image resized", "thumbnail generated", "webhook delivered", "webhook failed",
    "feature flag evaluated", "experiment assigned", "slow query detected", "connection pool exhausted",
    "circuit breaker opened", "circuit breaker closed", "health check passed",
)

MAPPING = {
    "properties": {
        "timestamp": {"type": "date"},
        "host": {"type": "keyword"},
        "status": {"type": "keyword"},
        "method": {"type": "keyword"},
        "path": {"type": "keyword"},
        "size": {"type": "long"},
        "ip": {"type": "ip"},
        "request_id": {"type": "keyword"},
        "message": {"type": "text"},
    }
}


def iso(ms: int) -> str:
    second, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{millis:03d}Z"


def generate(docs: int, batch: int, seed: int) -> tuple[list[bytes], list[int], int]:
    """NDJSON bodies, documents per body, and the last timestamp (epoch ms)."""
    rng = random.Random(seed)
    hosts = max(1, docs // 100)
    dumps = orjson.dumps
    bodies: list[bytes] = []
    counts: list[int] = []
    ts_ms = BASE_MS
    last_second = -1
    prefix = ""
    for start in range(0, docs, batch):
        n = min(batch, docs - start)
        parts: list[bytes] = []
        for _ in range(n):
            ts_ms += rng.randrange(1, 2 * STEP_MS)
            second, millis = divmod(ts_ms, 1000)
            if second != last_second:
                last_second = second
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            method = METHODS[rng.randrange(len(METHODS))]
            path = PATHS[rng.randrange(len(PATHS))](rng)
            status = STATUSES[rng.randrange(len(STATUSES))]
            size = 0 if status in (204, 304) or method == "HEAD" else int(rng.lognormvariate(8, 1.5))
            host = f"host-{rng.randrange(hosts):05d}"
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            event = EVENTS[rng.randrange(len(EVENTS))]
            doc = {
                "timestamp": f"{prefix}.{millis:03d}Z",
                "host": host,
                "status": str(status),
                "method": method,
                "path": path,
                "size": size,
                "ip": ip,
                "request_id": f"{rng.getrandbits(64):016x}",
                "message": f"{method} {path} {status} {size} {rng.randrange(1, 2000)}ms {event} "
                           f"from {ip} on {host} \"{AGENTS[rng.randrange(len(AGENTS))]}\"",
            }
            parts.append(b'{"index":{}}')
            parts.append(dumps(doc))
        parts.append(b"")
        bodies.append(b"\n".join(parts))
        counts.append(n)
    return bodies, counts, ts_ms


def bulk_index(url: str, index: str, bodies: list[bytes], counts: list[int], clients: int,
               timeout: float) -> float:
    """Send every body with `clients` connections; returns the seconds it took."""
    next_batch = [0]
    lock = threading.Lock()
    failures: list[BaseException] = []
    headers = {"content-type": "application/x-ndjson"}

    def worker() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        try:
            with httpx.Client(base_url=url, timeout=timeout, limits=limits, headers=headers) as client:
                while not failures:
                    with lock:
                        i = next_batch[0]
                        next_batch[0] += 1
                    if i >= len(bodies):
                        return
                    _check_bulk_response(client.post(f"/{index}/_bulk", content=bodies[i]), i)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    done_reported = 0.1
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        with lock:
            sent = min(next_batch[0], len(bodies))
        if sent / len(bodies) >= done_reported:
            elapsed = time.perf_counter() - start
            print(f"  {sum(counts[:sent]):>10,} docs sent  {elapsed:7.1f}s", flush=True)
            done_reported += 0.1
    elapsed = time.perf_counter() - start
    if failures:
        raise BulkFailed("bulk indexing failed") from failures[0]
    return elapsed


@dataclass
class QueryKind:
    name: str
    make: object  # rng -> request body

    def __call__(self, rng: random.Random) -> dict:
        return self.make(rng)


def query_kinds(docs: int, last_ms: int) -> list[QueryKind]:
    hosts = max(1, docs // 100)
    window = 100 * STEP_MS

    def host(rng: random.Random) -> str:
        return f"host-{rng.randrange(hosts):05d}"

    def time_range(rng: random.Random) -> dict:
        start = rng.randrange(BASE_MS, max(BASE_MS + 1, last_ms - window))
        return {"range": {"timestamp": {"gte": iso(start), "lt": iso(start + window)}}}

    def words(rng: random.Random) -> str:
        event = EVENTS[rng.randrange(len(EVENTS))].split()
        return " ".join(event[:2])

    return [
        QueryKind("term", lambda rng: {"query": {"term": {"host": host(rng)}}}),
        QueryKind("match", lambda rng: {"query": {"match": {"message": words(rng)}}}),
        QueryKind("range", lambda rng: {"query": time_range(rng)}),
        QueryKind("bool", lambda rng: {"query": {"bool": {
            "must": [{"match": {"message": words(rng)}}],
            "filter": [{"term": {"host": host(rng)}}, time_range(rng)]}}}),
        QueryKind("terms agg", lambda rng: {"size": 0, "aggs": {"by_status": {
            "terms": {"field": "status"}}}}),
        QueryKind("date_histogram", lambda rng: {"size": 0, "aggs": {"per_minute": {
            "date_histogram": {"field": "timestamp", "fixed_interval": "1m"}}}}),
    ]


@dataclass
class QueryResult:
    kind: str
    latencies: list[float]
    hits: list[int]
    hits_at_least: bool

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, min(len(ordered) - 1, round(p * len(ordered)) - 1))]


def run_queries(url: str, index: str, kinds: list[QueryKind], count: int, seed: int) -> list[QueryResult]:
    results = []
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
        for kind in kinds:
            rng = random.Random(seed)
            latencies: list[float] = []
            hits: list[int] = []
            at_least = False  # hits.total is a lower bound (Elasticsearch counts to 10,000)
            for k in range(WARMUP + count):
                body = orjson.dumps(kind(rng))
                t0 = time.perf_counter()
                r = client.post(f"/{index}/_search", content=body)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise BulkFailed(f"{kind.name} query failed: HTTP {r.status_code}: {r.text[:2000]}\n"
                                     f"query: {body.decode()}")
                if k >= WARMUP:
                    latencies.append(elapsed)
                    total = r.json()["hits"]["total"]
                    hits.append(total["value"])
                    at_least |= total.get("relation") == "gte"
            results.append(QueryResult(kind.name, latencies, hits, at_least))
            print(f"  {kind.name:<15} p50 {statistics.median(latencies) * 1000:8.1f} ms", flush=True)
    return results


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User plus system CPU seconds of the node process and of its children (the indexing
    worker) so far. CPU time, unlike wall-clock time, hardly moves when another process
    shares the cores, so it compares runs on a busy machine."""
    node = psutil.Process(pid)
    times = node.cpu_times()
    children = 0.0
    for child in node.children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.Error:  # a child that ended between listing and reading
            continue
        children += t.user + t.system
    return times.user + times.system, children


@dataclass
class ShardRun:
    shards: int
    docs: int
    index_seconds: float
    queries: list[QueryResult]
    node_cpu: float = 0.0  # CPU seconds of the node process while indexing
    worker_cpu: float = 0.0  # ... and of its indexing worker

    def per_100k(self, seconds: float) -> float:
        return seconds * 100_000 / self.docs

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.index_seconds


def run(shards: int, bodies: list[bytes], counts: list[int], last_ms: int,
        args: argparse.Namespace) -> ShardRun:
    data = Path(tempfile.mkdtemp(prefix=f"strata-search-s{shards}-", dir=args.data_dir))
    profile_out = f"{args.profile_out}-s{shards}"
    node = _start_node(data, args.node_setting, args.profile, profile_out)
    docs = sum(counts)
    try:
        with httpx.Client(base_url=node.url, timeout=300) as admin:
            r = admin.put(f"/{args.index}", json={
                "settings": {"index": {"number_of_shards": shards, "number_of_replicas": 0,
                                       "translog.durability": "request"}},
                "mappings": MAPPING})
            if r.status_code != 200:
                raise BulkFailed(f"creating the index failed: HTTP {r.status_code} {r.text}")
            print(f"indexing {docs:,} docs into {shards} shard(s) with {args.clients} client(s) ...",
                  flush=True)
            cpu_before = cpu_seconds(node.proc.pid)
            client_before = sum(psutil.Process().cpu_times()[:2])
            seconds = bulk_index(node.url, args.index, bodies, counts, args.clients, args.timeout)
            client_cpu = sum(psutil.Process().cpu_times()[:2]) - client_before
            node_cpu, worker_cpu = (after - before for after, before in
                                    zip(cpu_seconds(node.proc.pid), cpu_before, strict=True))
            per_100k = 100_000 / docs
            print(f"  {docs / seconds:,.0f} docs/s; CPU per 100k docs: node {node_cpu * per_100k:.2f} s, "
                  f"worker {worker_cpu * per_100k:.2f} s, this client {client_cpu * per_100k:.2f} s",
                  flush=True)
            for r in (admin.post(f"/{args.index}/_refresh"), admin.get(f"/{args.index}/_count")):
                if r.status_code != 200:
                    raise BulkFailed(f"HTTP {r.status_code}: {r.text}")
            if r.json()["count"] != docs:
                raise BulkFailed(f"_count is {r.json()['count']:,} after indexing {docs:,} docs")
        print(f"querying ({args.queries:,} of each kind after {WARMUP} warm-up queries) ...", flush=True)
        queries = run_queries(node.url, args.index, query_kinds(docs, last_ms), args.queries, args.seed)
        return ShardRun(shards, docs, seconds, queries, node_cpu, worker_cpu)
    finally:
        node.stop(timeout=120)
        if not args.keep_data:
            shutil.rmtree(data, ignore_errors=True)


def report(runs: list[ShardRun], ceiling: tuple[int, float] | None, args: argparse.Namespace,
           ndjson_bytes: int) -> None:
    docs = runs[0].docs
    print()
    print(f"Strata search benchmark: {docs:,} log docs ({ndjson_bytes / docs:,.0f} B each as NDJSON), "
          f"explicit mapping, bulk {args.batch}/request with {args.clients} client(s), translog durability "
          f"request; {args.queries:,} queries per kind, one at a time, after {WARMUP} warm-up queries")
    print()
    ceiling_rate = ceiling[0] / ceiling[1] if ceiling else None
    rows = [[f"{r.shards} shard(s)", f"{r.docs_per_s:,.0f}", f"{r.index_seconds:.1f}",
             f"{r.per_100k(r.node_cpu):.2f}", f"{r.per_100k(r.worker_cpu):.2f}",
             f"{100 * r.docs_per_s / ceiling_rate:.1f}%" if ceiling_rate else "-",
             f">= {TARGET_DOCS_PER_S:,}", "yes" if r.docs_per_s >= TARGET_DOCS_PER_S else "NO"]
            for r in runs]
    if ceiling_rate:
        rows.append(["ceiling", f"{ceiling_rate:,.0f}", f"{ceiling[1]:.1f}", "-", "-", "100%", "-", "-"])
    print(table(["indexing", "docs/s", "seconds", "node CPU s/100k", "worker CPU s/100k", "% of ceiling",
                 "target", "met"], rows))
    print("CPU: user + system seconds per 100,000 documents while indexing, of the node process and of "
          "its indexing worker (steadier than docs/s on a shared machine)")
    if ceiling_rate:
        print(f"ceiling: orjson.loads of every action and source line + plyvel write batches of {args.batch} "
              "(one key per doc), in-process, no HTTP, no translog, no inverted index, best of 3 "
              "(bench/bulk_index.py's)")
    print()
    rows = []
    for r in runs:
        for q in r.queries:
            target = TARGETS_P50_MS.get(q.kind)
            p50 = q.percentile(0.50) * 1000
            rows.append([f"{q.kind}, {r.shards} shard(s)", f"{p50:.1f}", f"{q.percentile(0.99) * 1000:.1f}",
                         f"{statistics.mean(q.latencies) * 1000:.1f}",
                         (">= " if q.hits_at_least else "") + f"{statistics.median(q.hits):,.0f}",
                         f"< {target}" if target else "-",
                         ("yes" if p50 < target else "NO") if target else "-"])
    print(table(["query", "p50 ms", "p99 ms", "mean ms", "median hits", "target p50 ms", "met"], rows))
    print("latency: client-side, request sent to response read, over HTTP keep-alive on loopback")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1_000_000, help="documents to index (default 1,000,000)")
    p.add_argument("--shards", default="1,3",
                   help="shard counts, a comma list; a fresh node each (default 1,3)")
    p.add_argument("--queries", type=int, default=1000, help="measured queries per kind (default 1000)")
    p.add_argument("--batch", type=int, default=1000, help="documents per bulk request (default 1000)")
    p.add_argument("--clients", type=int, default=2, help="bulk client connections (default 2)")
    p.add_argument("--seed", type=int, default=42, help="RNG seed of documents and queries")
    p.add_argument("--index", default="bench-search", help="index name")
    p.add_argument("--node-setting", action="append", default=[], metavar="NAME=VALUE",
                   help="extra node setting (-E) for the node process")
    p.add_argument("--timeout", type=float, default=120.0, help="per bulk request timeout, seconds")
    p.add_argument("--no-ceiling", action="store_true", help="skip the in-process ceiling")
    p.add_argument("--data-dir", default=None, help="parent folder of the temporary data folders")
    p.add_argument("--profile", choices=("cprofile", "pyinstrument"), default=None,
                   help="profile the node's main thread (event loop) for its whole life")
    p.add_argument("--profile-out", default="/tmp/strata-node-profile",
                   help="profile output path prefix, -s<shards> appended (.prof for cProfile; .txt and "
                        ".pyisession for pyinstrument)")
    p.add_argument("--keep-data", action="store_true", help="keep the node's data folder")
    args = p.parse_args(argv)
    try:
        args.shard_counts = [int(s) for s in args.shards.split(",")]
    except ValueError:
        p.error(f"--shards must be a number or a comma list of numbers, not [{args.shards}]")
    if args.docs <= 0 or args.queries <= 0 or args.batch <= 0 or args.clients <= 0 \
            or any(s <= 0 for s in args.shard_counts):
        p.error("--docs, --queries, --batch, --clients and --shards must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"generating {args.docs:,} docs (seed {args.seed}) ...", flush=True)
    bodies, counts, last_ms = generate(args.docs, args.batch, args.seed)
    ndjson_bytes = sum(len(b) for b in bodies)
    runs = []
    try:
        for shards in args.shard_counts:
            runs.append(run(shards, bodies, counts, last_ms, args))
    except BulkFailed as e:
        cause = f": {e.__cause__!r}" if e.__cause__ else ""
        print(f"\nFAILED: {e}{cause}", file=sys.stderr, flush=True)
        return 1
    ceiling = None
    if not args.no_ceiling:
        print("measuring the ceiling (orjson + plyvel, in-process, best of 3) ...", flush=True)
        ceiling = max((run_ceiling(bodies, args.batch, args.data_dir) for _ in range(3)),
                      key=lambda c: c[0] / c[1])
    report(runs, ceiling, args, ndjson_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
