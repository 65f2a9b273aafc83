"""Nodes stats (`GET /_nodes/stats`): what each node measures of itself, gathered over the
transport with one `cluster:monitor/nodes/stats[n]` request per node.

A Python process has no JVM, so `jvm.mem` reports the process's resident memory as the
heap in use and the machine's memory as the heap's maximum (what `_cat/nodes` turns into
heap.percent). CPU percentages are measured between two calls (the first call since
start-up compares with the process start). The indices section sums the copies' figures
into ES's sections (index/shard_stats.py).
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
from ..index.shard_stats import sections
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


def shard_figures(shard: IndexShard, open_contexts: int = 0) -> dict[str, Any]:
    """What one shard copy can say of itself at once (shard_stats.py): its counters and
    sequence numbers. What needs the disk (store size, segments, deleted documents) the
    caller adds with `measure`, off the event loop."""
    engine = shard.engine
    docs = None
    try:
        if shard.is_active:
            docs = engine.count()
    except StrataError as e:  # the engine failed under us: the shard reports its failure elsewhere
        log.info("%s: no document count for stats: %s", shard.ref, e)
        docs = None
    tracker = engine.tracker
    index_current, delete_current = engine.current_operations()
    bulk_requests, bulk_nanos, bulk_bytes = shard.bulk_stats
    return {
        "docs": docs,
        **engine.stats,
        "index_current": index_current,
        "delete_current": delete_current,
        "noop_update_total": shard.noop_updates,
        **shard.read_stats.figures(),
        "open_contexts": open_contexts,
        "bulk_operations": bulk_requests,
        "bulk_nanos": bulk_nanos,
        "bulk_bytes": bulk_bytes,
        **engine.translog_figures(),
        "max_unsafe_auto_id": engine.max_unsafe_auto_id_timestamp,
        "max_seq_no": getattr(tracker, "max_seq_no", -1),
        "local_checkpoint": getattr(tracker, "checkpoint", -1),
        "global_checkpoint": engine.translog.global_checkpoint if engine.translog is not None else -1,
        "retention_leases": (shard.tracker.retention_leases().to_json() if shard.primary and shard.tracker
                             else engine.retention_leases.to_json()),
    }


def measure(shard: IndexShard, figures: dict[str, Any], history: bool = False) -> None:
    """Add what a copy's files say to its figures: store size, segments and, with
    `history`, the operations the history retains beyond live documents (walks it).
    Blocking."""
    figures["store_bytes"] = dir_size(shard.path)
    figures["segments"] = None
    figures["docs_deleted"] = None
    if not shard.is_active:
        return
    engine = shard.engine
    try:
        with engine.reads.entered():  # a close waits for the walks (see engine/read_gate.py)
            figures["segments"] = engine.segment_count()
            if history:
                figures["docs_deleted"] = engine.history_size() - engine.doc_count
    except StrataError as e:  # closed or failed meanwhile
        log.info("%s: no segment count or history size for stats: %s", shard.ref, e)


async def copies_figures(node, shards: list[IndexShard], history: bool = False) -> list[dict[str, Any]]:
    """`shard_figures` of this node's `shards`, measured (`measure`) on a thread."""
    search = getattr(node, "search_shards", None)  # the search contexts kept for fetches
    contexts = search.contexts.open_by_shard() if search is not None else {}
    figures = [shard_figures(s, contexts.get((s.ref.index, s.ref.shard), 0)) for s in shards]
    recoveries = getattr(node, "recoveries", None)
    if recoveries is not None:
        for shard, f in zip(shards, figures, strict=True):
            f.update(recoveries.figures(shard))

    def measure_all() -> None:
        for shard, f in zip(shards, figures, strict=True):
            measure(shard, f, history)

    await asyncio.to_thread(measure_all)
    return figures


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
        # No history walk here (`_cat/nodes` asks for these): docs.deleted is index stats'.
        out["indices"] = sections(await copies_figures(node, shards))
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
