"""Nodes stats (`GET /_nodes/stats`): what each node measures of itself, gathered over the
transport with one `cluster:monitor/nodes/stats[n]` request per node.

A Python process has no JVM, so `jvm.mem` reports the process's resident memory as the
heap in use and the machine's memory as the heap's maximum (what `_cat/nodes` turns into
heap.percent). CPU percentages are measured between two calls (the first call since
start-up compares with the process start). Shard figures come from the engines: live
documents, store size on disk, index operations, refreshes and flushes. Counters the
services do not keep yet (search, get, merges, segments, query cache, ...) are zeros.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

from .. import ES_COMPAT_VERSION
from ..common.errors import StrataError
from ..common.machine import STARTED_AT, disk_space, meminfo
from ..index.shard import IndexShard
from ..tasks.task import Task
from ..transport.wire import Message
from .node_selection import select_nodes
from .nodes_info import NodesRequest, NodesResponse

log = logging.getLogger("strata.nodes_stats")

NODES_STATS = "cluster:monitor/nodes/stats"
NODES_STATS_NODE = "cluster:monitor/nodes/stats[n]"
METRICS = (
    "indices",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "fs",
    "transport",
    "http",
    "breaker",
    "script",
    "discovery",
    "ingest",
    "adaptive_selection",
    "script_cache",
    "indexing_pressure",
    "repositories",
    "allocations",
)
ROLE_LETTERS = {
    "master": "m",
    "data": "d",
    "data_content": "s",
    "data_hot": "h",
    "data_warm": "w",
    "data_cold": "c",
    "data_frozen": "f",
    "ingest": "i",
    "remote_cluster_client": "r",
    "ml": "l",
    "transform": "t",
    "voting_only": "v",
}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class NodesStatsRequest(Message):
    metrics: list[str] = []


class NodeStats(Message):
    node_id: str
    stats: dict[str, Any]


def role_letters(roles) -> str:
    return "".join(sorted(ROLE_LETTERS.get(r, "") for r in roles)) or "-"


# -- the machine and the process ---------------------------------------------------------


def _proc_cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _virtual_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


class CpuSampler:
    """CPU use between two samples, for the process and for the machine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        times = os.times()
        self._last = (time.monotonic() - max(time.time() - STARTED_AT, 0.001), 0.0, _proc_cpu_times())
        self._last_process = times.user + times.system

    def sample(self) -> tuple[int, int]:
        """(process percent, machine percent)."""
        with self._lock:
            now = time.monotonic()
            times = os.times()
            process = times.user + times.system
            machine = _proc_cpu_times()
            last_time, _, last_machine = self._last
            elapsed = max(now - last_time, 1e-6)
            cpus = os.cpu_count() or 1
            process_percent = round(min(100.0, (process - self._last_process) / elapsed / cpus * 100))
            machine_percent = 0
            if machine is not None and last_machine is not None and machine[1] > last_machine[1]:
                machine_percent = round((machine[0] - last_machine[0]) / (machine[1] - last_machine[1]) * 100)
            self._last, self._last_process = (now, process, machine), process
            return max(process_percent, 0), max(machine_percent, 0)


SAMPLER = CpuSampler()


def dir_size(path: Path) -> int:
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def shard_figures(shard: IndexShard) -> dict[str, Any]:
    """What one shard copy can say of itself (store size on disk is read by the caller,
    off the event loop)."""
    engine = shard.engine
    docs = None
    try:
        if shard.is_active:
            docs = engine.count()
    except StrataError as e:  # the engine failed under us: the shard reports its failure elsewhere
        log.info("%s: no document count for stats: %s", shard.ref, e)
        docs = None
    tracker = engine.tracker
    return {
        "docs": docs,
        "index_total": engine.stats.get("operations_total", 0),
        "refresh_total": engine.stats.get("refresh_total", 0),
        "refresh_millis": engine.stats.get("refresh_nanos", 0) // 1_000_000,
        "flush_total": engine.stats.get("flush_total", 0),
        "flush_periodic": engine.stats.get("flush_periodic", 0),
        "flush_millis": engine.stats.get("flush_nanos", 0) // 1_000_000,
        "max_seq_no": getattr(tracker, "max_seq_no", -1),
        "local_checkpoint": getattr(tracker, "checkpoint", -1),
        "global_checkpoint": engine.translog.global_checkpoint if engine.translog is not None else -1,
        "retention_leases": (shard.tracker.retention_leases().to_json() if shard.primary and shard.tracker
                             else engine.retention_leases.to_json()),
    }


# -- one node's stats -------------------------------------------------------------------


def _os_stats(now_ms: int, machine_percent: int) -> dict[str, Any]:
    info = meminfo()
    total = info.get("MemTotal", 0)
    free = info.get("MemAvailable", info.get("MemFree", 0))
    used = max(total - free, 0)
    swap_total, swap_free = info.get("SwapTotal", 0), info.get("SwapFree", 0)
    try:
        load = os.getloadavg()
    except OSError:
        load = (-1.0, -1.0, -1.0)
    return {
        "timestamp": now_ms,
        "cpu": {
            "percent": machine_percent,
            "load_average": {"1m": round(load[0], 2), "5m": round(load[1], 2), "15m": round(load[2], 2)},
        },
        "mem": {
            "total_in_bytes": total,
            "adjusted_total_in_bytes": total,
            "free_in_bytes": free,
            "used_in_bytes": used,
            "free_percent": round(free * 100 / total) if total else 0,
            "used_percent": round(used * 100 / total) if total else 0,
        },
        "swap": {
            "total_in_bytes": swap_total,
            "free_in_bytes": swap_free,
            "used_in_bytes": max(swap_total - swap_free, 0),
        },
    }


def _process_stats(now_ms: int, process_percent: int) -> dict[str, Any]:
    times = os.times()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "timestamp": now_ms,
        "open_file_descriptors": _open_fds(),
        "max_file_descriptors": soft,
        "cpu": {"percent": process_percent, "total_in_millis": int((times.user + times.system) * 1000)},
        "mem": {"total_virtual_in_bytes": _virtual_bytes()},
    }


def _jvm_stats(now_ms: int) -> dict[str, Any]:
    rss = _rss_bytes()
    total = meminfo().get("MemTotal", 0) or rss
    import gc

    collections = gc.get_stats()
    return {
        "timestamp": now_ms,
        "uptime_in_millis": int((time.time() - STARTED_AT) * 1000),
        "mem": {
            "heap_used_in_bytes": rss,
            "heap_used_percent": round(rss * 100 / total) if total else 0,
            "heap_committed_in_bytes": rss,
            "heap_max_in_bytes": total,
            "non_heap_used_in_bytes": 0,
            "non_heap_committed_in_bytes": 0,
            "pools": {},
        },
        "threads": {"count": threading.active_count(), "peak_count": threading.active_count()},
        "gc": {
            "collectors": {
                f"gen{i}": {"collection_count": s.get("collections", 0), "collection_time_in_millis": 0}
                for i, s in enumerate(collections)
            }
        },
        "buffer_pools": {},
        "classes": {"current_loaded_count": 0, "total_loaded_count": 0, "total_unloaded_count": 0},
    }


def fs_stats(path: Path, now_ms: int) -> dict[str, Any]:
    try:
        total, free, available = disk_space(path)
    except OSError:
        total = free = available = 0
    entry = {"total_in_bytes": total, "free_in_bytes": free, "available_in_bytes": available}
    return {
        "timestamp": now_ms,
        "total": dict(entry),
        "data": [{"path": str(path), "mount": str(path), "type": "", **entry}],
    }


def _thread_pool_stats(node) -> dict[str, Any]:
    out = {}
    for name, executor in sorted(node.executors.items()):
        threads = len(getattr(executor, "_threads", ()))
        queue = getattr(executor, "_work_queue", None)
        out[name] = {
            "threads": threads,
            "queue": queue.qsize() if queue is not None else 0,
            "active": 0,
            "rejected": 0,
            "largest": threads,
            "completed": 0,
        }
    return out


def _zeros(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 0)


def indices_stats(figures: list[dict[str, Any]], store_bytes: int) -> dict[str, Any]:
    docs = sum(f["docs"] or 0 for f in figures)
    return {
        "docs": {"count": docs, "deleted": 0},
        "shard_stats": {"total_count": len(figures)},
        "store": {
            "size_in_bytes": store_bytes,
            "total_data_set_size_in_bytes": store_bytes,
            "reserved_in_bytes": 0,
        },
        "indexing": {
            "index_total": sum(f["index_total"] for f in figures),
            "index_time_in_millis": 0,
            "index_current": 0,
            "index_failed": 0,
            "delete_total": 0,
            "delete_time_in_millis": 0,
            "delete_current": 0,
            "noop_update_total": 0,
            "is_throttled": False,
            "throttle_time_in_millis": 0,
        },
        "get": _zeros(
            "total",
            "time_in_millis",
            "exists_total",
            "exists_time_in_millis",
            "missing_total",
            "missing_time_in_millis",
            "current",
        ),
        "search": _zeros(
            "open_contexts",
            "query_total",
            "query_time_in_millis",
            "query_current",
            "fetch_total",
            "fetch_time_in_millis",
            "fetch_current",
            "scroll_total",
            "scroll_time_in_millis",
            "scroll_current",
            "suggest_total",
            "suggest_time_in_millis",
            "suggest_current",
        ),
        "merges": _zeros(
            "current",
            "current_docs",
            "current_size_in_bytes",
            "total",
            "total_time_in_millis",
            "total_docs",
            "total_size_in_bytes",
        ),
        "refresh": {
            "total": sum(f["refresh_total"] for f in figures),
            "total_time_in_millis": sum(f["refresh_millis"] for f in figures),
            "external_total": sum(f["refresh_total"] for f in figures),
            "external_total_time_in_millis": sum(f["refresh_millis"] for f in figures),
            "listeners": 0,
        },
        "flush": {"total": sum(f["flush_total"] for f in figures),
                  "periodic": sum(f["flush_periodic"] for f in figures),
                  "total_time_in_millis": sum(f["flush_millis"] for f in figures)},
        "query_cache": _zeros(
            "memory_size_in_bytes",
            "total_count",
            "hit_count",
            "miss_count",
            "cache_size",
            "cache_count",
            "evictions",
        ),
        "fielddata": _zeros("memory_size_in_bytes", "evictions"),
        "completion": _zeros("size_in_bytes"),
        "segments": _zeros("count", "memory_in_bytes"),
        "translog": _zeros(
            "operations", "size_in_bytes", "uncommitted_operations", "uncommitted_size_in_bytes"
        ),
        "request_cache": _zeros("memory_size_in_bytes", "evictions", "hit_count", "miss_count"),
    }


async def local_stats(node, metrics: list[str]) -> dict[str, Any]:
    wanted = set(metrics) if metrics and "_all" not in metrics else set(METRICS)
    now_ms = int(time.time() * 1000)
    transport = node.transport.address
    host = transport.rsplit(":", 1)[0] if transport else "127.0.0.1"
    roles = sorted(node.settings.get("node.roles"))
    out: dict[str, Any] = {
        "timestamp": now_ms,
        "name": node.name,
        "transport_address": transport,
        "host": host,
        "ip": host,
        "roles": roles,
        "attributes": dict(node.settings.attributes),
    }
    # Facts _cat/nodes shows beside the stats sections.
    out["strata"] = {
        "version": ES_COMPAT_VERSION,
        "pid": os.getpid(),
        "http_address": node.http_address,
        "uptime_in_millis": int((time.time() - STARTED_AT) * 1000),
    }
    if "indices" in wanted:
        shards = [s for service in list(node.indices.indices.values()) for s in service.shards]
        figures = [shard_figures(s) for s in shards]
        store = await asyncio.to_thread(lambda: sum(dir_size(s.path) for s in shards))
        out["indices"] = indices_stats(figures, store)
        search = getattr(node, "search_shards", None)  # the search contexts kept for fetches
        if search is not None:
            out["indices"]["search"]["open_contexts"] = len(search.contexts)
    process_percent, machine_percent = SAMPLER.sample()
    if "os" in wanted:
        out["os"] = _os_stats(now_ms, machine_percent)
    if "process" in wanted:
        out["process"] = _process_stats(now_ms, process_percent)
    if "jvm" in wanted:
        out["jvm"] = _jvm_stats(now_ms)
    if "thread_pool" in wanted:
        out["thread_pool"] = _thread_pool_stats(node)
    if "fs" in wanted:
        out["fs"] = fs_stats(node.data_path, now_ms)
    if "transport" in wanted:
        out["transport"] = _zeros(
            "server_open",
            "total_outbound_connections",
            "rx_count",
            "rx_size_in_bytes",
            "tx_count",
            "tx_size_in_bytes",
        )
    if "http" in wanted:
        out["http"] = _zeros("current_open", "total_opened")
    if "adaptive_selection" in wanted and getattr(node, "shard_router", None) is not None:
        out["adaptive_selection"] = node.shard_router.adaptive_selection_stats()
    if "discovery" in wanted and node.coordination is not None:
        coordination = node.coordination
        out["discovery"] = {"cluster_state_queue": {"total": 0, "pending": 0, "committed": 0},
                            **coordination.stats.to_json()}
    return out


def register(node) -> None:
    async def handle(request: NodesStatsRequest, task: Task) -> NodeStats:
        return NodeStats(node_id=node.node_id, stats=await local_stats(node, request.metrics))

    async def nodes_stats(request: NodesRequest, task: Task) -> NodesResponse:
        targets = select_nodes(node, request.node_ids, node.cluster_nodes())
        stats, failures = await gather(node, targets, request.metrics)
        return NodesResponse(total=len(targets), nodes=stats, failures=failures)

    node.transport.register(NODES_STATS_NODE, NodesStatsRequest, NodeStats, handle)
    node.transport.register(NODES_STATS, NodesRequest, NodesResponse, nodes_stats)


async def gather(
    node, targets: dict[str, str | None], metrics: list[str]
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Stats of every target node (node id -> address, None for this one), in parallel:
    (node id -> stats, failures as ES-shaped errors)."""
    from ..common.errors import error_to_dict

    async def one(node_id: str, address: str | None) -> NodeStats | dict[str, Any]:
        try:
            return await node.transport.execute(
                NODES_STATS_NODE, NodesStatsRequest(metrics=metrics), NodeStats, address=address, timeout=30.0
            )
        except StrataError as e:
            return {
                "type": "failed_node_exception",
                "reason": f"Failed node [{node_id}]",
                "node_id": node_id,
                "caused_by": error_to_dict(e),
            }

    answers = await asyncio.gather(*(one(n, a) for n, a in targets.items()))
    return (
        {a.node_id: a.stats for a in answers if isinstance(a, NodeStats)},
        [a for a in answers if not isinstance(a, NodeStats)],
    )
