"""What index and node stats show of shard copies: a copy's read counters, and the
sections Elasticsearch's CommonStats prints, built from copies' figures summed.

A copy's figures are one flat dict of ints (`shard_figures` in action/nodes_stats.py): the
engine's write, merge, refresh and flush counters (engine.STATS), the reads counted here,
and what is measured when asked for (documents, store bytes, segments, translog). Times are
kept in nanoseconds and printed in milliseconds, as ES keeps and prints them.

Sections of things Strata does not have (query, request and fielddata caches, completion
suggesters, warmers) print zeros: the memory such a cache holds is none. Counters Strata
does not keep yet print zeros too: search scroll and suggest counts, indexing throttling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# The metrics `GET /_stats/{metric}` and `/_nodes/stats/indices/{index_metric}` name, and
# the section each prints (IndicesStatsRequest's Metric flags).
METRICS = {"docs": "docs", "store": "store", "indexing": "indexing", "get": "get", "search": "search",
           "merge": "merges", "refresh": "refresh", "flush": "flush", "warmer": "warmer",
           "query_cache": "query_cache", "fielddata": "fielddata", "completion": "completion",
           "segments": "segments", "translog": "translog", "request_cache": "request_cache",
           "recovery": "recovery", "bulk": "bulk", "shard_stats": "shard_stats"}

READS = ("get", "get_exists", "get_missing", "query", "fetch")


class ReadStats:
    """A copy's gets and search phases: counts, time and those running. Searches run on
    the search threads, so the counters take a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = dict.fromkeys(READS, 0)
        self.nanos = dict.fromkeys(READS, 0)
        self.current = dict.fromkeys(READS, 0)

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        """Count one `kind` (query or fetch) while it runs and once it ended, failed or not."""
        with self._lock:
            self.current[kind] += 1
        started = time.perf_counter_ns()
        try:
            yield
        finally:
            spent = time.perf_counter_ns() - started
            with self._lock:
                self.current[kind] -= 1
                self.total[kind] += 1
                self.nanos[kind] += spent

    @contextmanager
    def get(self) -> Iterator[list[bool]]:
        """Count one get; the caller sets `found[0]` (exists or missing)."""
        found = [False]
        with self._lock:
            self.current["get"] += 1
        started = time.perf_counter_ns()
        try:
            yield found
        finally:
            spent = time.perf_counter_ns() - started
            outcome = "get_exists" if found[0] else "get_missing"
            with self._lock:
                self.current["get"] -= 1
                for kind in ("get", outcome):
                    self.total[kind] += 1
                    self.nanos[kind] += spent

    def figures(self) -> dict[str, int]:
        with self._lock:
            out = {f"{kind}_total": n for kind, n in self.total.items()}
            out.update({f"{kind}_nanos": n for kind, n in self.nanos.items()})
            out.update({f"{kind}_current": self.current[kind] for kind in ("get", "query", "fetch")})
        return out


def _millis(nanos: int) -> int:
    return nanos // 1_000_000


def sections(copies: Iterable[dict[str, Any]], metrics: Iterable[str] | None = None) -> dict[str, Any]:
    """ES's stats sections over `copies` (each a copy's figures; a figure a copy could not
    give is None and counts as 0), only those `metrics` name (every one when None)."""
    copies = list(copies)

    def n(name: str) -> int:
        return sum(c.get(name) or 0 for c in copies)

    wanted = set(METRICS.values()) if metrics is None else {METRICS[m] for m in metrics}
    out: dict[str, Any] = {}
    if "docs" in wanted:
        out["docs"] = {"count": n("docs"), "deleted": n("docs_deleted")}
    if "shard_stats" in wanted:
        out["shard_stats"] = {"total_count": len(copies)}
    if "store" in wanted:
        out["store"] = {"size_in_bytes": n("store_bytes"), "total_data_set_size_in_bytes": n("store_bytes"),
                        "reserved_in_bytes": 0}
    if "indexing" in wanted:
        out["indexing"] = {
            "index_total": n("index_total"), "index_time_in_millis": _millis(n("index_nanos")),
            "index_current": n("index_current"), "index_failed": n("index_failed"),
            "delete_total": n("delete_total"), "delete_time_in_millis": _millis(n("delete_nanos")),
            "delete_current": n("delete_current"), "noop_update_total": n("noop_update_total"),
            "is_throttled": False, "throttle_time_in_millis": 0}
    if "get" in wanted:
        out["get"] = {
            "total": n("get_total"), "time_in_millis": _millis(n("get_nanos")),
            "exists_total": n("get_exists_total"), "exists_time_in_millis": _millis(n("get_exists_nanos")),
            "missing_total": n("get_missing_total"),
            "missing_time_in_millis": _millis(n("get_missing_nanos")), "current": n("get_current")}
    if "search" in wanted:
        out["search"] = {
            "open_contexts": n("open_contexts"),
            "query_total": n("query_total"), "query_time_in_millis": _millis(n("query_nanos")),
            "query_current": n("query_current"),
            "fetch_total": n("fetch_total"), "fetch_time_in_millis": _millis(n("fetch_nanos")),
            "fetch_current": n("fetch_current"),
            "scroll_total": 0, "scroll_time_in_millis": 0, "scroll_current": 0,
            "suggest_total": 0, "suggest_time_in_millis": 0, "suggest_current": 0}
    if "merges" in wanted:
        out["merges"] = {
            "current": n("merge_current"), "current_docs": n("merge_current_docs"),
            "current_size_in_bytes": n("merge_current_bytes"),
            "total": n("merge_total"), "total_time_in_millis": _millis(n("merge_nanos")),
            "total_docs": n("merge_docs"), "total_size_in_bytes": n("merge_bytes"),
            "total_stopped_time_in_millis": 0, "total_throttled_time_in_millis": 0,
            "total_auto_throttle_in_bytes": 0}
    if "refresh" in wanted:
        out["refresh"] = {
            "total": n("refresh_total"), "total_time_in_millis": _millis(n("refresh_nanos")),
            "external_total": n("refresh_total"),
            "external_total_time_in_millis": _millis(n("refresh_nanos")),
            "listeners": 0}
    if "flush" in wanted:
        out["flush"] = {"total": n("flush_total"), "periodic": n("flush_periodic"),
                        "total_time_in_millis": _millis(n("flush_nanos"))}
    if "warmer" in wanted:
        out["warmer"] = {"current": 0, "total": 0, "total_time_in_millis": 0}
    if "query_cache" in wanted:
        out["query_cache"] = dict.fromkeys(("memory_size_in_bytes", "total_count", "hit_count", "miss_count",
                                            "cache_size", "cache_count", "evictions"), 0)
    if "fielddata" in wanted:
        out["fielddata"] = {"memory_size_in_bytes": 0, "evictions": 0}
    if "completion" in wanted:
        out["completion"] = {"size_in_bytes": 0}
    if "segments" in wanted:
        out["segments"] = {"count": n("segments"), "memory_in_bytes": 0, "terms_memory_in_bytes": 0,
                           "stored_fields_memory_in_bytes": 0, "term_vectors_memory_in_bytes": 0,
                           "norms_memory_in_bytes": 0, "points_memory_in_bytes": 0,
                           "doc_values_memory_in_bytes": 0, "index_writer_memory_in_bytes": 0,
                           "version_map_memory_in_bytes": 0, "fixed_bit_set_memory_in_bytes": 0,
                           "max_unsafe_auto_id_timestamp": max(
                               (c.get("max_unsafe_auto_id", -1) for c in copies), default=-1),
                           "file_sizes": {}}
    if "translog" in wanted:
        out["translog"] = {
            "operations": n("translog_operations"), "size_in_bytes": n("translog_bytes"),
            "uncommitted_operations": n("translog_uncommitted_operations"),
            "uncommitted_size_in_bytes": n("translog_uncommitted_bytes"), "earliest_last_modified_age": 0}
    if "request_cache" in wanted:
        out["request_cache"] = {"memory_size_in_bytes": 0, "evictions": 0, "hit_count": 0, "miss_count": 0}
    if "recovery" in wanted:
        out["recovery"] = {"current_as_source": n("recoveries_as_source"),
                           "current_as_target": n("recoveries_as_target"),
                           "throttle_time_in_millis": n("recovery_throttle_millis")}
    if "bulk" in wanted:
        operations, nanos, size = n("bulk_operations"), n("bulk_nanos"), n("bulk_bytes")
        out["bulk"] = {"total_operations": operations, "total_time_in_millis": _millis(nanos),
                       "total_size_in_bytes": size,
                       "avg_time_in_millis": _millis(nanos // operations) if operations else 0,
                       "avg_size_in_bytes": size // operations if operations else 0}
    return out
