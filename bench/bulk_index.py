"""Bulk indexing throughput of one real node, beside the in-process ceiling.

    python bench/bulk_index.py                       # 1,000,000 docs, batches of 1000, 2 clients
    python bench/bulk_index.py --docs 50000          # a quick check
    python bench/bulk_index.py --clients 1,2         # one fresh node per client count
    python bench/bulk_index.py --ids                 # explicit _id on every action line
    python bench/bulk_index.py --profile pyinstrument --profile-out /tmp/node

What it does:
1. Generates N log-like documents (timestamp, ip, method, path, status, size, message)
   from a seeded RNG and pre-encodes them as NDJSON bulk bodies, so the client only sends
   bytes during the measurement.
2. Starts a node process (tests/support/node_process.py) on a temporary data folder,
   creates the index explicitly (1 shard, 0 replicas, translog durability `request`),
   and sends the bodies with httpx over keep-alive connections, one thread and one
   connection per client. The node's RSS (its own plus its indexing worker's) is
   sampled with psutil in a thread.
3. Refreshes, checks that `_count` equals the number of documents sent (exit 1 if not),
   records the final RSS and stops the node.
4. The ceiling: the same bodies, in-process, through orjson parsing of every line and
   plyvel write batches of `--batch` documents (one key per document) into a temporary
   LevelDB. The node's docs/s is reported as a fraction of it.

Figures, never pass/fail: the targets are printed beside the figures. The only failures
are a bulk request or item that fails and a `_count` that differs from the docs sent.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import plyvel
import psutil

ROOT = Path(__file__).resolve().parents[1]
PROFILE_HOOK = Path(__file__).resolve().parent / "node_profiler"
MB = 1_000_000
MIB = 1024 * 1024

TARGET_DOCS_PER_S = 30_000
TARGET_CEILING_FRACTION = 0.25
TARGET_RSS_MB = 400
RSS_TARGET_AT_DOCS = 1_000_000

# -- documents ---------------------------------------------------------------------------

METHODS = ["GET"] * 80 + ["POST"] * 12 + ["PUT"] * 4 + ["DELETE"] * 2 + ["HEAD"] * 2
STATUSES = ([200] * 70 + [201] * 4 + [204] * 3 + [301] * 3 + [304] * 8 + [400] * 2 + [401] * 2
            + [403] * 1 + [404] * 5 + [500] * 1 + [502] * 1)
WORDS = ("shoes", "laptop", "coffee", "garden", "lamp", "guitar", "camera", "bike", "desk", "tent",
         "watch", "phone", "kettle", "blender", "jacket", "boots")
PATHS = (
    lambda r: "/",
    lambda r: "/index.html",
    lambda r: f"/api/v1/users/{r.randrange(100_000)}",
    lambda r: f"/api/v1/orders/{r.randrange(1_000_000)}/items",
    lambda r: f"/api/v1/search?q={r.choice(WORDS)}&page={r.randrange(1, 20)}",
    lambda r: f"/static/js/app.{r.getrandbits(32):08x}.js",
    lambda r: f"/static/css/site.{r.getrandbits(32):08x}.css",
    lambda r: f"/images/products/{r.randrange(50_000)}.jpg",
    lambda r: f"/products/{r.randrange(50_000)}",
    lambda r: "/cart",
    lambda r: "/checkout",
    lambda r: "/login",
    lambda r: "/health",
    lambda r: "/metrics",
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "kube-probe/1.29",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def generate_bodies(docs: int, batch: int, seed: int, explicit_ids: bool) -> tuple[list[bytes], list[int]]:
    """NDJSON bulk bodies of `batch` documents each (the last may be shorter), and the
    number of documents in each. The same seed gives the same bytes."""
    import random

    rng = random.Random(seed)
    dumps = orjson.dumps
    bodies: list[bytes] = []
    counts: list[int] = []
    last_second = -1
    iso_prefix = clf = ""
    ts_ms = BASE_MS
    auto_action = b'{"index":{}}'
    for start in range(0, docs, batch):
        n = min(batch, docs - start)
        parts: list[bytes] = []
        for i in range(start, start + n):
            ts_ms += rng.randrange(1, 60)  # ~33 docs per second of log time
            second, millis = divmod(ts_ms, 1000)
            if second != last_second:
                last_second = second
                t = time.gmtime(second)
                iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", t)
                clf = (f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
                       f"{time.strftime('%H:%M:%S', t)} +0000")
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            method = METHODS[rng.randrange(len(METHODS))]
            path = PATHS[rng.randrange(len(PATHS))](rng)
            status = STATUSES[rng.randrange(len(STATUSES))]
            size = 0 if status in (204, 304) or method == "HEAD" else int(rng.lognormvariate(8, 1.5))
            agent = AGENTS[rng.randrange(len(AGENTS))]
            doc = {
                "timestamp": f"{iso_prefix}.{millis:03d}Z",
                "ip": ip,
                "method": method,
                "path": path,
                "status": status,
                "size": size,
                "message": f'{ip} - - [{clf}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"',
            }
            parts.append(b'{"index":{"_id":"%010d"}}' % i if explicit_ids else auto_action)
            parts.append(dumps(doc))
        parts.append(b"")
        bodies.append(b"\n".join(parts))
        counts.append(n)
    return bodies, counts


# -- measuring the node ---------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples a process's resident set size until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True, name="rss-sampler")
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def read(self) -> int:
        rss = self.process.memory_info().rss
        for child in self.process.children(recursive=True):  # the node's indexing worker
            try:
                rss += child.memory_info().rss
            except psutil.Error:
                pass
        self.peak = max(self.peak, rss)
        return rss

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.read()
            except psutil.Error:
                return
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class NodeRun:
    clients: int
    docs: int
    ndjson_bytes: int
    elapsed: float
    latencies: list[float]
    peak_rss: int
    rss_after_docs: int
    final_rss: int
    node_cpu: float  # CPU seconds of the node process during the bulk phase
    loop_cpu: float  # ... of its main thread alone, which runs the event loop
    worker_cpu: float  # CPU seconds of the node's child processes (its indexing worker)
    client_cpu: float  # CPU seconds of this process during the bulk phase
    other_cpu: float  # CPU seconds of everything else on the machine (noise from other work)
    count: int
    store_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.elapsed

    @property
    def mb_per_s(self) -> float:
        return self.ndjson_bytes / MB / self.elapsed

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


class BulkFailed(RuntimeError):
    pass


def _check_bulk_response(response: httpx.Response, batch_no: int) -> None:
    if response.status_code != 200:
        raise BulkFailed(f"batch {batch_no}: HTTP {response.status_code}: {response.text[:2000]}")
    content = response.content
    if content.startswith(b'{"errors":false'):
        return  # the node renders "errors" first; no need to parse 1000 items
    body = orjson.loads(content)
    if body.get("errors") is False:
        return
    failed = [item for item in body.get("items", []) for r in item.values() if "error" in r]
    raise BulkFailed(f"batch {batch_no}: {len(failed)} item(s) failed, first: "
                     f"{orjson.dumps(failed[:1]).decode()[:2000]}")


def _busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def _main_thread_cpu(process: psutil.Process) -> float:
    """CPU seconds so far of the node's main thread (the event loop); the rest of the
    node's time is its threads': LevelDB's compaction, store writes, translog syncs."""
    for thread in process.threads():
        if thread.id == process.pid:
            return thread.user_time + thread.system_time
    return 0.0


def _children_cpu(process: psutil.Process) -> dict[int, float]:
    """CPU seconds so far of each child process of the node (its indexing worker)."""
    out = {}
    for child in process.children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.Error:
            continue
        out[child.pid] = t.user + t.system
    return out


def _start_node(data: Path, node_settings: list[str], profile: str | None, profile_out: str | None):
    from tests.support.node_process import NodeProcess  # the repo root is on sys.path

    node = NodeProcess(data, *node_settings, name="bench-node")
    if not profile:
        return node.start()
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "STRATA_BENCH_PROFILE", "STRATA_BENCH_PROFILE_OUT")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROFILE_HOOK), saved["PYTHONPATH"]) if p)
    os.environ["STRATA_BENCH_PROFILE"] = profile
    os.environ["STRATA_BENCH_PROFILE_OUT"] = profile_out or "/tmp/strata-node-profile"
    try:
        return node.start(timeout=60)
    finally:  # only the node gets the hook, not anything this process starts later
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_node(bodies: list[bytes], counts: list[int], args: argparse.Namespace, clients: int,
             progress) -> NodeRun:
    total_docs = sum(counts)
    ndjson_bytes = sum(len(b) for b in bodies)
    data = Path(tempfile.mkdtemp(prefix=f"strata-bench-c{clients}-", dir=args.data_dir))
    node = _start_node(data, args.node_setting, args.profile, args.profile_out)
    sampler = RssSampler(node.proc.pid)
    sampler.start()
    try:
        index_settings: dict[str, object] = {"number_of_shards": 1, "number_of_replicas": 0,
                                             "translog.durability": "request"}
        for kv in args.index_setting:
            key, _, value = kv.partition("=")
            index_settings[key.removeprefix("index.")] = value
        with httpx.Client(base_url=node.url, timeout=60) as admin:
            body: dict[str, object] = {"settings": {"index": index_settings}}
            if args.mapping == "stored":
                body["mappings"] = {"dynamic": False}  # kept in _source, nothing indexed
            r = admin.put(f"/{args.index}", json=body)
            if r.status_code != 200:
                raise BulkFailed(f"creating index [{args.index}] failed: HTTP {r.status_code} {r.text}")

        node_proc = psutil.Process(node.proc.pid)
        latencies: list[float] = []
        done_docs = [0]
        lock = threading.Lock()
        next_batch = [0]
        failures: list[BaseException] = []
        finished: list[float] = []  # when each client ran out of batches
        stop = threading.Event()
        path = f"/{args.index}/_bulk"
        headers = {"content-type": "application/x-ndjson"}

        def worker() -> None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            try:
                with httpx.Client(base_url=node.url, timeout=args.timeout, limits=limits,
                                  headers=headers) as client:
                    while not stop.is_set():
                        with lock:
                            i = next_batch[0]
                            next_batch[0] += 1
                        if i >= len(bodies):
                            finished.append(time.perf_counter())
                            return
                        t0 = time.perf_counter()
                        response = client.post(path, content=bodies[i])
                        latencies.append(time.perf_counter() - t0)
                        _check_bulk_response(response, i)
                        with lock:
                            done_docs[0] += counts[i]
            except BaseException as e:
                failures.append(e)
                stop.set()

        cpu_before = node_proc.cpu_times()
        loop_before = _main_thread_cpu(node_proc)
        children_before = _children_cpu(node_proc)
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        machine_before = _busy_cpu()
        threads = [threading.Thread(target=worker, name=f"bulk-client-{k}", daemon=True)
                   for k in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        task = progress.start(f"{clients} client(s)", total_docs)
        while any(t.is_alive() for t in threads):
            progress.update(task, done_docs[0], time.perf_counter() - start)
            time.sleep(0.2)
        elapsed = max(finished) - start if len(finished) == clients else time.perf_counter() - start
        progress.finish(task, done_docs[0], elapsed)
        if failures:
            raise BulkFailed(f"bulk indexing failed after {done_docs[0]:,} docs") from failures[0]
        rss_after_docs = sampler.read()
        cpu_after = node_proc.cpu_times()
        loop_after = _main_thread_cpu(node_proc)
        children_after = _children_cpu(node_proc)
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        machine_after = _busy_cpu()

        with httpx.Client(base_url=node.url, timeout=300) as admin:
            r = admin.post(f"/{args.index}/_refresh")
            if r.status_code != 200:
                raise BulkFailed(f"_refresh failed: HTTP {r.status_code} {r.text}")
            r = admin.get(f"/{args.index}/_count")
            if r.status_code != 200:
                raise BulkFailed(f"_count failed: HTTP {r.status_code} {r.text}")
            count = r.json()["count"]
        final_rss = sampler.read()
        sampler.stop()
        store_bytes = _dir_size(data)
        node_cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        worker_cpu = sum(cpu - children_before.get(pid, 0.0) for pid, cpu in children_after.items())
        client_cpu = ((self_after.ru_utime + self_after.ru_stime)
                      - (self_before.ru_utime + self_before.ru_stime))
        return NodeRun(
            clients=clients, docs=total_docs, ndjson_bytes=ndjson_bytes, elapsed=elapsed,
            latencies=latencies, peak_rss=sampler.peak, rss_after_docs=rss_after_docs,
            final_rss=final_rss,
            node_cpu=node_cpu, loop_cpu=loop_after - loop_before, worker_cpu=worker_cpu,
            client_cpu=client_cpu,
            other_cpu=max(0.0, machine_after - machine_before - node_cpu - worker_cpu - client_cpu),
            count=count, store_bytes=store_bytes)
    finally:
        if sampler.is_alive():
            sampler.stop()
        node.stop(timeout=120)
        if not args.keep_data:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"node data kept in {data}")


# -- the ceiling ----------------------------------------------------------------------------

COUNTER = struct.Struct(">Q")


def run_ceiling(bodies: list[bytes], batch: int, data_dir: str | None) -> tuple[int, float]:
    """orjson-parse every line and write one key per document to LevelDB in batches of
    `batch`, in this process: what a node could reach if HTTP, routing, versioning, the
    translog and the response cost nothing. Returns (docs, seconds)."""
    folder = tempfile.mkdtemp(prefix="strata-bench-ceiling-", dir=data_dir)
    db = plyvel.DB(folder, create_if_missing=True, bloom_filter_bits=10,
                   write_buffer_size=32 * MIB, lru_cache_size=32 * MIB)  # as the engine opens its store
    loads = orjson.loads
    pack = COUNTER.pack
    docs = pending = 0
    try:
        start = time.perf_counter()
        wb = db.write_batch()
        for body in bodies:
            lines = body.split(b"\n")
            for k in range(0, len(lines) - 1, 2):
                meta = loads(lines[k])["index"]
                source = lines[k + 1]
                loads(source)
                doc_id = meta.get("_id")
                wb.put(b"d" + (doc_id.encode() if doc_id is not None else pack(docs)), source)
                docs += 1
                pending += 1
                if pending == batch:
                    wb.write()
                    wb = db.write_batch()
                    pending = 0
        if pending:
            wb.write()
        elapsed = time.perf_counter() - start
    finally:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)
    return docs, elapsed


# -- output -----------------------------------------------------------------------------------


class PlainProgress:
    def __init__(self):
        self._next = 0.0

    def start(self, label: str, total: int):
        self._next = 0.1
        print(f"indexing {total:,} docs with {label} ...", flush=True)
        return (label, total)

    def update(self, task, done: int, elapsed: float) -> None:
        _, total = task
        if total and done / total >= self._next:
            rate = done / elapsed if elapsed else 0.0
            print(f"  {done:>10,} / {total:,} docs  {elapsed:7.1f}s  {rate:9,.0f} docs/s", flush=True)
            while done / total >= self._next:
                self._next += 0.1

    def finish(self, task, done: int, elapsed: float) -> None:
        self.update(task, done, elapsed)

    def close(self) -> None:
        pass


class RichProgress:
    def __init__(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]:>10,.0f} docs/s"), TimeElapsedColumn(),
                                 TimeRemainingColumn())
        self.progress.start()

    def start(self, label: str, total: int):
        return self.progress.add_task(f"bulk, {label}", total=total, rate=0.0)

    def update(self, task, done: int, elapsed: float) -> None:
        self.progress.update(task, completed=done, rate=done / elapsed if elapsed else 0.0)

    def finish(self, task, done: int, elapsed: float) -> None:
        self.update(task, done, elapsed)

    def close(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()


def make_progress(plain: bool):
    if not plain and sys.stdout.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress()


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain Markdown table: pastes into a note or an issue as it is."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def mb(n: int) -> str:
    return f"{n / MB:,.0f}"


def report(runs: list[NodeRun], ceiling_runs: list[tuple[int, float]], args: argparse.Namespace,
           gen_seconds: float, ndjson_bytes: int, docs: int) -> None:
    ceiling = max(ceiling_runs, key=lambda c: c[0] / c[1]) if ceiling_runs else None
    ceiling_rate = ceiling[0] / ceiling[1] if ceiling else None
    print()
    print(f"Strata bulk_index: {docs:,} docs, batch {args.batch}, "
          f"{'explicit' if args.ids else 'auto-generated'} ids, seed {args.seed}, "
          f"NDJSON {ndjson_bytes / MB:,.1f} MB ({ndjson_bytes / docs:,.0f} B/doc), "
          f"generated in {gen_seconds:.1f}s; index: 1 shard, 0 replicas, translog durability request, "
          f"mapping {args.mapping}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
          + (f", node profiled with {args.profile} (figures are slowed by it)" if args.profile else ""))
    print()
    headers = ["clients", "docs", "seconds", "docs/s", "MB/s", "p50 ms", "p99 ms", "peak RSS MB",
               f"RSS after {docs:,} MB", "final RSS MB", "node CPU %", "loop CPU %", "worker CPU %",
               "client CPU %", "other CPU %",
               "store MB", "% of ceiling"]
    rows = []
    for r in runs:
        rows.append([str(r.clients), f"{r.docs:,}", f"{r.elapsed:.1f}", f"{r.docs_per_s:,.0f}",
                     f"{r.mb_per_s:.1f}", f"{r.percentile(0.50) * 1000:.1f}",
                     f"{r.percentile(0.99) * 1000:.1f}", mb(r.peak_rss), mb(r.rss_after_docs),
                     mb(r.final_rss), f"{100 * r.node_cpu / r.elapsed:.0f}",
                     f"{100 * r.loop_cpu / r.elapsed:.0f}",
                     f"{100 * r.worker_cpu / r.elapsed:.0f}",
                     f"{100 * r.client_cpu / r.elapsed:.0f}", f"{100 * r.other_cpu / r.elapsed:.0f}",
                     mb(r.store_bytes),
                     f"{100 * r.docs_per_s / ceiling_rate:.1f}%" if ceiling_rate else "-"])
    if ceiling:
        rows.append(["ceiling", f"{ceiling[0]:,}", f"{ceiling[1]:.1f}", f"{ceiling_rate:,.0f}",
                     f"{ndjson_bytes / MB / ceiling[1]:.1f}", *["-"] * 11, "100%"])
    print(table(headers, rows))
    print()
    print("ceiling: orjson.loads of every action and source line + plyvel write batches of "
          f"{args.batch} (one key per doc), in-process, no HTTP, no translog; best of "
          f"{len(ceiling_runs)} runs: " + ", ".join(f"{d / t:,.0f}" for d, t in ceiling_runs) + " docs/s"
          if ceiling_runs else "ceiling: skipped")
    print("MB = 10^6 bytes; MB/s counts NDJSON body bytes (action + source lines); CPU % is CPU time "
          "over the bulk phase, 100% = one core: node = the node process, loop = its main thread (the "
          "event loop; the rest of node is LevelDB compaction, store writes and translog syncs), "
          "worker = its child processes "
          "(the indexing worker), client = this process, other = the rest of the machine (noise)")
    print()
    best = max(runs, key=lambda r: r.docs_per_s)
    checks = [
        (f"docs/s >= {TARGET_DOCS_PER_S:,}", f"{best.docs_per_s:,.0f} ({best.clients} client(s))",
         best.docs_per_s >= TARGET_DOCS_PER_S),
    ]
    if ceiling_rate:
        frac = best.docs_per_s / ceiling_rate
        checks.append((f">= {TARGET_CEILING_FRACTION:.0%} of ceiling ({ceiling_rate:,.0f} docs/s)",
                       f"{frac:.1%}", frac >= TARGET_CEILING_FRACTION))
    worst_rss = max(r.rss_after_docs for r in runs)
    rss_row = f"node RSS < {TARGET_RSS_MB} MB after {RSS_TARGET_AT_DOCS:,} docs"
    if docs >= RSS_TARGET_AT_DOCS:
        checks.append((rss_row, f"{worst_rss / MB:,.0f} MB", worst_rss < TARGET_RSS_MB * MB))
    else:
        checks.append((rss_row, f"{worst_rss / MB:,.0f} MB after only {docs:,} docs", None))
    print(table(["target", "measured", "met"],
                [[t, m, "n/a" if ok is None else ("yes" if ok else "NO")] for t, m, ok in checks]))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1_000_000, help="documents to index (default 1,000,000)")
    p.add_argument("--batch", type=int, default=1000, help="documents per bulk request (default 1000)")
    p.add_argument("--clients", default="2",
                   help="concurrent client connections; a comma list (1,2) runs a fresh node per value")
    p.add_argument("--ids", action="store_true", help="send explicit _id values (default: auto-generated)")
    p.add_argument("--seed", type=int, default=42, help="RNG seed of the documents")
    p.add_argument("--index", default="bench-logs", help="index name")
    p.add_argument("--index-setting", action="append", default=[], metavar="KEY=VALUE",
                   help="extra index setting at creation, e.g. refresh_interval=-1")
    p.add_argument("--node-setting", action="append", default=[], metavar="NAME=VALUE",
                   help="extra node setting (-E) for the node process")
    p.add_argument("--mapping", choices=("dynamic", "stored"), default="dynamic",
                   help="dynamic: Elasticsearch's default mapping, every string text plus keyword "
                        "(the inverted index in place); stored: {dynamic: false}, documents stored "
                        "and retrievable but not indexed (the document store alone)")
    p.add_argument("--timeout", type=float, default=120.0, help="per bulk request timeout, seconds")
    p.add_argument("--no-ceiling", action="store_true", help="skip the in-process ceiling")
    p.add_argument("--ceiling-runs", type=int, default=3,
                   help="ceiling repetitions, best kept (LevelDB compaction makes it vary; default 3)")
    p.add_argument("--data-dir", default=None, help="parent folder of the temporary data folders")
    p.add_argument("--keep-data", action="store_true", help="keep the node's data folder")
    p.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    p.add_argument("--profile", choices=("cprofile", "pyinstrument"), default=None,
                   help="profile the node's main thread (event loop) for its whole life")
    p.add_argument("--profile-out", default="/tmp/strata-node-profile",
                   help="profile output path prefix (.prof for cProfile; .txt and .pyisession "
                        "for pyinstrument)")
    args = p.parse_args(argv)
    try:
        args.client_counts = [int(c) for c in args.clients.split(",")]
    except ValueError:
        p.error(f"--clients must be a number or a comma list of numbers, not [{args.clients}]")
    if args.docs <= 0 or args.batch <= 0 or args.ceiling_runs <= 0 or any(c <= 0 for c in args.client_counts):
        p.error("--docs, --batch, --clients and --ceiling-runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    print(f"generating {args.docs:,} docs (seed {args.seed}) ...", flush=True)
    t0 = time.perf_counter()
    bodies, counts = generate_bodies(args.docs, args.batch, args.seed, args.ids)
    gen_seconds = time.perf_counter() - t0
    ndjson_bytes = sum(len(b) for b in bodies)
    print(f"  {len(bodies):,} bodies, {ndjson_bytes / MB:,.1f} MB in {gen_seconds:.1f}s", flush=True)

    runs: list[NodeRun] = []
    progress = make_progress(args.plain)
    try:
        for clients in args.client_counts:
            run = run_node(bodies, counts, args, clients, progress)
            runs.append(run)
            if run.count != run.docs:
                progress.close()
                print(f"\nFAILED: _count after _refresh is {run.count:,} but {run.docs:,} docs were sent "
                      f"and acknowledged ({clients} client(s))", file=sys.stderr, flush=True)
                return 1
    except BulkFailed as e:
        progress.close()
        cause = f": {e.__cause__!r}" if e.__cause__ else ""
        print(f"\nFAILED: {e}{cause}", file=sys.stderr, flush=True)
        return 1
    finally:
        progress.close()
    for run in runs:
        print(f"verified: _count = {run.count:,} = docs sent ({run.clients} client(s))", flush=True)

    ceiling_runs: list[tuple[int, float]] = []
    if not args.no_ceiling:
        print(f"measuring the ceiling (orjson + plyvel, in-process, best of {args.ceiling_runs}) ...",
              flush=True)
        ceiling_runs = [run_ceiling(bodies, args.batch, args.data_dir) for _ in range(args.ceiling_runs)]
    report(runs, ceiling_runs, args, gen_seconds, ndjson_bytes, args.docs)
    if args.profile:
        suffix = ".prof" if args.profile == "cprofile" else ".txt"
        print(f"\nnode profile written to {args.profile_out}{suffix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
