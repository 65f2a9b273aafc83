"""The coordinating step of a search (Elasticsearch's TransportSearchAction and
SearchPhaseController): fan the query phase out to every target shard, merge the shards'
top documents, totals and aggregations, fetch the hits that made the page, and shape the
response with `_shards` and its failures.

A shard that fails does not fail the search while another succeeds: its failure is
listed under `_shards.failures` (grouped by index and cause, as Elasticsearch groups
them). Only when every shard fails is the search itself an error, a
search_phase_execution_exception whose status is its causes'.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..common.errors import (
    InternalError,
    SearchPhaseExecutionError,
    StrataError,
    detailed_message,
    error_to_dict,
)
from ..index.analysis import index_analyzers
from ..index.mapping.dates import utc_now_millis
from ..index.service import IndexService
from ..index.shard import IndexShard
from .context import ShardContext
from .request import TRACK_ACCURATE, TRACK_DISABLED, SearchRequest
from .shard_search import FetchSpec, ShardQueryResult, count_phase, fetch_phase, query_phase, validate_phase
from .sort import is_relevance, sort_comparator

log = logging.getLogger(__name__)



@dataclass
class ShardTarget:
    ordinal: int
    service: IndexService
    shard: IndexShard
    boost: float = 1.0

    @property
    def index(self) -> str:
        return self.service.name


def shard_targets(services: list[IndexService], boosts: dict[str, float] | None = None,
                  routing: str | None = None) -> list[ShardTarget]:
    """Every shard of the target indices (only those `routing` values route to, when
    given), ordered by index name then shard number: that order is the tie-break of
    equal hits from different shards."""
    values = [v for v in (routing or "").split(",") if v]
    targets = []
    for service in sorted(services, key=lambda s: s.name):
        numbers = {service.metadata.shard_for("", v) for v in values} if values else None
        for shard in service.shards:
            if numbers is None or shard.ref.shard in numbers:
                boost = (boosts or {}).get(service.name, 1.0)
                targets.append(ShardTarget(len(targets), service, shard, boost))
    return targets


def _context(target: ShardTarget, now_millis: int, deadline: float | None) -> ShardContext:
    engine = target.shard.active_engine()
    service = target.service
    return ShardContext(index=service.name, shard_id=target.shard.ref.shard, reader=engine.searcher(),
                        mapping=service.mapping,
                        analyzers=index_analyzers(service.metadata.settings, service.name),
                        now_millis=now_millis, deadline=deadline)


class ShardFailures:
    """The failures of one request's shards, rendered as `_shards.failures` entries."""

    def __init__(self, node_id: str):
        self.node_id = node_id
        self.entries: list[tuple[ShardTarget, BaseException]] = []

    def add(self, target: ShardTarget, error: BaseException) -> None:
        if not isinstance(error, StrataError):
            log.error("search on %s failed", target.shard.ref, exc_info=error)
            error = InternalError(str(error) or type(error).__name__, caused_by=error)
        self.entries.append((target, error))

    def __len__(self) -> int:
        return len(self.entries)

    def render(self) -> list[dict[str, Any]]:
        """One entry per index and cause (RestActions groups identical failures)."""
        seen, out = set(), []
        for target, error in self.entries:
            body = error_to_dict(error)
            key = (target.index, body.get("type"), body.get("reason"))
            if key in seen:
                continue
            seen.add(key)
            out.append({"shard": target.shard.ref.shard, "index": target.index, "node": self.node_id,
                        "reason": body})
        return out

    def all_failed(self, phase: str = "query") -> SearchPhaseExecutionError:
        causes = [e for _, e in self.entries]
        return SearchPhaseExecutionError(phase, "all shards failed", self.render(), causes,
                                         caused_by=causes[0] if causes else None)

    def shards_header(self, total: int) -> dict[str, Any]:
        header: dict[str, Any] = {"total": total, "successful": total - len(self), "skipped": 0,
                                  "failed": len(self)}
        if self.entries:
            header["failures"] = self.render()
        return header


def _deadline(req: SearchRequest, start: float) -> float | None:
    if req.timeout is None or req.timeout < 0:
        return None
    return start + req.timeout


def _total(req: SearchRequest, total: int) -> Any:
    if req.track_total_hits == TRACK_DISABLED:
        return -1 if req.rest_total_hits_as_int else None
    if req.track_total_hits != TRACK_ACCURATE and total > req.track_total_hits:
        value, relation = req.track_total_hits, "gte"
    else:
        value, relation = total, "eq"
    if req.rest_total_hits_as_int:
        return value
    return {"value": value, "relation": relation}


def _reduce_aggs(req: SearchRequest, results: list[ShardQueryResult]) -> dict[str, Any]:
    reduced = req.aggs.reduce([r.aggs for r in results])
    return req.aggs.render(reduced, typed_keys=req.typed_keys)


class SearchCoordinator:
    """Runs searches against this node's shards. Shard work goes to `executor` (the node's
    search pool), never the event loop. Both are read per request: the node learns its id
    only once its data folder is open, and builds its pools after its routes."""

    def __init__(self, node_id: Callable[[], str], executor: Callable[[], Executor | None]):
        self._node_id = node_id
        self._executor = executor

    @property
    def node_id(self) -> str:
        return self._node_id()

    async def _on_search_pool(self, fn: Callable, *args, **kwargs) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(fn, *args, **kwargs))

    async def search(self, services: list[IndexService], req: SearchRequest, *, query: Any,
                     boosts: dict[str, float] | None = None, routing: str | None = None,
                     source_explicit: bool = False) -> dict[str, Any]:
        start = time.monotonic()
        now_millis = utc_now_millis()
        deadline = _deadline(req, start)
        targets = shard_targets(services, boosts, routing)
        if not targets:
            return self._empty(req, start)
        failures = ShardFailures(self.node_id)

        async def run(target: ShardTarget) -> ShardQueryResult | None:
            try:
                ctx = _context(target, now_millis, deadline)
                return await self._on_search_pool(
                    query_phase, ctx, req, query, ordinal=target.ordinal, boost=target.boost,
                    max_result_window=target.service.metadata.setting("index.max_result_window"))
            except Exception as e:
                failures.add(target, e)
                return None

        outcomes = await asyncio.gather(*(run(t) for t in targets))
        results = [r for r in outcomes if r is not None]
        if not results:
            raise failures.all_failed()
        if failures and not req.allow_partial_search_results:
            raise SearchPhaseExecutionError("query", "Partial shards failure", failures.render(),
                                            [e for _, e in failures.entries])
        page = self._merge(req, results)
        hits = await self._fetch(req, targets, results, page, now_millis, source_explicit, failures)
        body: dict[str, Any] = {"took": 0, "timed_out": any(r.timed_out for r in results)}
        if req.terminate_after:
            body["terminated_early"] = any(r.terminated_early for r in results)
        body["_shards"] = failures.shards_header(len(targets))
        max_scores = [r.max_score for r in results if r.max_score is not None]
        hits_body: dict[str, Any] = {}
        total = _total(req, sum(r.total for r in results))
        if total is not None:
            hits_body["total"] = total
        hits_body["max_score"] = max(max_scores) if max_scores else None
        hits_body["hits"] = hits
        body["hits"] = hits_body
        if req.aggs is not None:
            # A reduce can be long (many buckets): it runs on the search pool too.
            body["aggregations"] = await self._on_search_pool(_reduce_aggs, req, results)
        body["took"] = int((time.monotonic() - start) * 1000)
        return body

    def _empty(self, req: SearchRequest, start: float) -> dict[str, Any]:
        """No shard to search (no index matched): an empty result, as Elasticsearch
        answers a wildcard that names nothing."""
        hits: dict[str, Any] = {}
        total = _total(req, 0)
        if total is not None:
            hits["total"] = total
        hits.update(max_score=0.0, hits=[])
        return {"took": int((time.monotonic() - start) * 1000), "timed_out": False,
                "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}, "hits": hits}

    @staticmethod
    def _merge(req: SearchRequest, results: list[ShardQueryResult]) -> list[tuple[ShardQueryResult, int]]:
        """The hits of the page: (shard result, position in its top docs), merged across
        shards by the sort, ties broken by shard order then sequence number."""
        entries = []
        relevance = is_relevance(req.sort)
        for r in results:
            for pos in range(len(r.seqs)):
                seq = int(r.seqs[pos])
                if relevance:
                    score = r.scores[pos]
                    entries.append(((-(score if score is not None else 0.0),), r.ordinal, seq, r, pos))
                else:
                    entries.append((r.merge_values[pos], r.ordinal, seq, r, pos))
        if relevance:
            entries.sort(key=lambda e: (e[0], e[1], e[2]))
        else:
            comparator = sort_comparator(req.sort)
            entries.sort(key=lambda e: comparator(e[:3]))
        return [(e[3], e[4]) for e in entries[req.from_:req.from_ + req.size]]

    async def _fetch(self, req: SearchRequest, targets: list[ShardTarget], results: list[ShardQueryResult],
                     page: list[tuple[ShardQueryResult, int]], now_millis: int, source_explicit: bool,
                     failures: ShardFailures) -> list[dict[str, Any]]:
        spec = FetchSpec.of(req, source_explicit)
        by_shard: dict[int, list[tuple[int, int]]] = {}
        for place, (r, pos) in enumerate(page):
            by_shard.setdefault(r.ordinal, []).append((place, pos))
        result_of = {r.ordinal: r for r in results}
        out: list[dict[str, Any] | None] = [None] * len(page)

        async def fetch(ordinal: int, items: list[tuple[int, int]]) -> None:
            r = result_of[ordinal]
            target = targets[ordinal]
            service = target.service
            ctx = ShardContext(index=r.index, shard_id=r.shard_id, reader=r.reader, mapping=service.mapping,
                               analyzers=index_analyzers(service.metadata.settings, service.name),
                               now_millis=now_millis)
            positions = [pos for _, pos in items]
            hits = await self._on_search_pool(
                fetch_phase, ctx, [int(r.seqs[p]) for p in positions], [r.scores[p] for p in positions],
                None if r.sort_values is None else [r.sort_values[p] for p in positions], spec)
            for (place, _), hit in zip(items, hits, strict=True):
                out[place] = hit

        outcomes = await asyncio.gather(*(fetch(o, items) for o, items in by_shard.items()),
                                        return_exceptions=True)
        for ordinal, outcome in zip(by_shard, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                failures.add(targets[ordinal], outcome)
        if len(failures) == len(targets):
            raise failures.all_failed("fetch")
        return [h for h in out if h is not None]

    async def count(self, services: list[IndexService], query: Any, *, min_score: float | None = None,
                    terminate_after: int = 0, routing: str | None = None) -> dict[str, Any]:
        now_millis = utc_now_millis()
        targets = shard_targets(services, routing=routing)
        failures = ShardFailures(self.node_id)

        async def run(target: ShardTarget) -> tuple[int, bool] | None:
            try:
                ctx = _context(target, now_millis, None)
                return await self._on_search_pool(count_phase, ctx, query, min_score=min_score,
                                             terminate_after=terminate_after)
            except Exception as e:
                failures.add(target, e)
                return None

        outcomes = await asyncio.gather(*(run(t) for t in targets))
        results = [o for o in outcomes if o is not None]
        if targets and not results:
            raise failures.all_failed()
        body: dict[str, Any] = {"count": sum(n for n, _ in results)}
        if terminate_after:
            body["terminated_early"] = any(early for _, early in results)
        body["_shards"] = failures.shards_header(len(targets))
        return body

    async def validate(self, services: list[IndexService], query: Any, *,
                       all_shards: bool = False) -> tuple[list[dict[str, Any]], ShardFailures, int]:
        """Run `query` on one shard per index (every shard with `all_shards`), as
        TransportValidateQueryAction does: a request error is the index's explanation
        (`valid: false` with the error), anything else a shard failure."""
        now_millis = utc_now_millis()
        targets = [t for t in shard_targets(services) if all_shards or t.shard.ref.shard == 0]
        failures = ShardFailures(self.node_id)

        async def run(target: ShardTarget) -> dict[str, Any] | None:
            item: dict[str, Any] = {"index": target.index}
            if all_shards:
                item["shard"] = target.shard.ref.shard
            try:
                await self._on_search_pool(validate_phase, _context(target, now_millis, None), query)
                item["valid"] = True
            except StrataError as e:
                if e.status >= 500:
                    failures.add(target, e)
                    return None
                item.update(valid=False, error=detailed_message(e))
            except Exception as e:
                failures.add(target, e)
                return None
            return item

        outcomes = await asyncio.gather(*(run(t) for t in targets))
        return [o for o in outcomes if o is not None], failures, len(targets)
