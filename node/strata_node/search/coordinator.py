"""The coordinating step of a search (Elasticsearch's TransportSearchAction and
SearchPhaseController), on the node the request came to: find every target shard in the
applied cluster state, send its query phase to an active copy (falling back to another
copy when one is gone), merge the shards' top documents, totals and aggregations, fetch
the hits that made the page from the nodes that ran the query, and shape the response
with `_shards` and its failures.

The shard side is transport_actions.py: the query phase leaves a search context on the
shard's node, which the fetch reads and frees; a shard that made no hit of the page has
its context freed here, and any context still open when the search ends (a failure, a
cancellation) too.

A shard that fails does not fail the search while another succeeds: its failure is
listed under `_shards.failures` (grouped by index and cause, as Elasticsearch groups
them) with the node that failed. Only when every shard fails is the search itself an
error, a search_phase_execution_exception whose status is its causes'.
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

from ..cluster import blocks
from ..cluster.shard_copies import shard_preference
from ..common.errors import (
    InternalError,
    QueryShardError,
    SearchPhaseExecutionError,
    StrataError,
    detailed_message,
    error_to_dict,
)
from ..common.xcontent import raw
from ..index.mapping.dates import utc_now_millis
from ..transport import context
from .request import REQUEST_PARAMS, TRACK_ACCURATE, TRACK_DISABLED, SearchRequest
from .shard_search import FetchSpec, ShardQueryResult
from .sort import is_relevance, sort_comparator
from .transport_actions import (
    COUNT,
    FETCH,
    FREE_CONTEXT,
    QUERY,
    VALIDATE,
    CountShardResponse,
    FetchShardRequest,
    FetchShardResponse,
    FreeContextRequest,
    QueryOnlyRequest,
    QueryShardRequest,
)

log = logging.getLogger(__name__)


@dataclass
class IndexScope:
    """What searching through aliases adds per index (index/aliases.py): the filter its
    shards AND into the query, and the routing that picks its shards."""

    filters: dict[str, dict[str, Any] | None]
    routings: dict[str, str | None]


@dataclass
class ShardTarget:
    ordinal: int  # the shard's place among the request's shards: the merge tie-break
    index: str
    index_uuid: str
    shard: int
    boost: float = 1.0
    max_result_window: int = 10_000
    alias_filter: dict[str, Any] | None = None
    preference: str | None = None  # what picks the copy read (`shard_preference`)
    node: str | None = None  # the node of the copy tried last: the one that answered, or failed

    def tried(self, node_id: str) -> None:
        self.node = node_id


def shard_targets(indices, names: list[str], boosts: dict[str, float] | None = None,
                  routing: str | None = None, scope: IndexScope | None = None,
                  preference: str | None = None) -> list[ShardTarget]:
    """Every shard of the target indices (only those `routing` values route to, when
    given; an alias's search routing per index in `scope`; only the shard numbers a
    `_shards:` preference lists, as ES leaves the others out of the search and its
    `_shards.total`), ordered by index name then shard number: that order is the
    tie-break of equal hits from different shards."""
    targets = []
    for name in sorted(names):
        metadata = indices.metadata(name)
        blocks.check(metadata, blocks.READ)
        index_routing = scope.routings.get(name, routing) if scope is not None else routing
        values = [v for v in (index_routing or "").split(",") if v]
        numbers = sorted({metadata.shard_for("", v) for v in values}) if values \
            else range(metadata.number_of_shards)
        alias_filter = scope.filters.get(name) if scope is not None else None
        for n in numbers:
            searched, copy_preference = shard_preference(preference, n)
            if not searched:
                continue
            targets.append(ShardTarget(len(targets), name, metadata.uuid, n, (boosts or {}).get(name, 1.0),
                                       metadata.setting("index.max_result_window"), alias_filter,
                                       copy_preference))
    return targets


class ShardFailures:
    """The failures of one request's shards, rendered as `_shards.failures` entries."""

    def __init__(self):
        self.entries: list[tuple[ShardTarget, BaseException, str | None]] = []

    def add(self, target: ShardTarget, error: BaseException) -> None:
        if not isinstance(error, StrataError):
            log.error("search on [%s][%d] failed", target.index, target.shard, exc_info=error)
            error = InternalError(str(error) or type(error).__name__, caused_by=error)
        elif error.type == QueryShardError.type:
            # ES's QueryShardException always names the index of the shard it failed on
            # (its context's), whatever raised it.
            error.with_metadata(index=target.index, index_uuid=target.index_uuid)
        self.entries.append((target, error, target.node))

    def __len__(self) -> int:
        return len(self.entries)

    def _in_shard_order(self) -> list[tuple[ShardTarget, BaseException, str | None]]:
        """Failures arrive in completion order; ES reports them in shard order, so every
        coordinating node renders the same failures the same way."""
        return sorted(self.entries, key=lambda e: e[0].ordinal)

    def render(self) -> list[dict[str, Any]]:
        """One entry per index and cause (RestActions groups identical failures)."""
        seen, out = set(), []
        for target, error, node in self._in_shard_order():
            body = error_to_dict(error)
            key = (target.index, body.get("type"), body.get("reason"))
            if key in seen:
                continue
            seen.add(key)
            entry: dict[str, Any] = {"shard": target.shard, "index": target.index}
            if node is not None:  # no node when no copy of the shard was active
                entry["node"] = node
            entry["reason"] = body
            out.append(entry)
        return out

    def causes(self) -> list[BaseException]:
        return [e for _, e, _ in self._in_shard_order()]

    def all_failed(self, phase: str = "query") -> SearchPhaseExecutionError:
        causes = self.causes()
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
    reduced = req.aggs.run_pipelines(req.aggs.reduce([r.aggs for r in results]))
    return req.aggs.render(reduced, typed_keys=req.typed_keys)


Answered = tuple[ShardTarget, ShardQueryResult]
PageHit = tuple[ShardTarget, ShardQueryResult, int]  # a hit of the page: its shard, result and position


class SearchCoordinator:
    """Runs searches from this node over the shards of the cluster. The reduce goes to
    `executor` (the node's search pool), never the event loop. The node's parts are read
    per request: the node learns its id, and builds its transport and pools, after its
    routes."""

    def __init__(self, node, executor: Callable[[], Executor | None]):
        self.node = node
        self._executor = executor
        self._background: set[asyncio.Future] = set()

    @property
    def router(self):
        return self.node.shard_router

    async def _on_search_pool(self, fn: Callable, *args, **kwargs) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(fn, *args, **kwargs))

    # -- _search -------------------------------------------------------------------------------

    async def search(self, names: list[str], req: SearchRequest, *, query: Any, body: bytes,
                     params: dict[str, str], query_from_params: bool = True,
                     boosts: dict[str, float] | None = None, routing: str | None = None,
                     preference: str | None = None, source_explicit: bool = False,
                     scope: IndexScope | None = None) -> dict[str, Any]:
        """`body` and `params` are what `req` was parsed from: a remote shard parses them again."""
        start = time.monotonic()
        now_millis = utc_now_millis()
        deadline = _deadline(req, start)
        targets = shard_targets(self.node.indices, names, boosts, routing, scope, preference)
        if not targets:
            return self._empty(req, start)
        failures = ShardFailures()
        shard_params = {k: v for k, v in params.items() if k in REQUEST_PARAMS}
        open_contexts: dict[int, tuple[str, str]] = {}  # ordinal -> (node, context id)

        async def run(target: ShardTarget) -> Answered | None:
            def request(local: bool) -> QueryShardRequest:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                return QueryShardRequest(index=target.index, index_uuid=target.index_uuid, shard=target.shard,
                                         ordinal=target.ordinal, boost=target.boost, body=body,
                                         params=shard_params, query_from_params=query_from_params,
                                         now_millis=now_millis, timeout=req.timeout, time_left=left,
                                         max_result_window=target.max_result_window,
                                         alias_filter=target.alias_filter,
                                         parsed=(req, query) if local else None)

            try:
                result: ShardQueryResult = await self.router.on_copy(
                    QUERY, target.index, target.shard, request, target.preference, on_node=target.tried)
            except Exception as e:
                failures.add(target, e)
                return None
            if result.context_id is not None:
                open_contexts[target.ordinal] = (target.node, result.context_id)
            return target, result

        try:
            outcomes = await asyncio.gather(*(run(t) for t in targets))
            answered = [o for o in outcomes if o is not None]
            if not answered:
                raise failures.all_failed()
            if failures and not req.allow_partial_search_results:
                raise SearchPhaseExecutionError("query", "Partial shards failure", failures.render(),
                                                failures.causes())
            results = [r for _, r in answered]
            page = self._merge(req, answered)
            hits = await self._fetch(req, targets, page, open_contexts, source_explicit, failures)
        finally:
            for node_id, context_id in open_contexts.values():
                self._free(node_id, context_id)
        body_out: dict[str, Any] = {"took": 0, "timed_out": any(r.timed_out for r in results)}
        if req.terminate_after:
            body_out["terminated_early"] = any(r.terminated_early for r in results)
        body_out["_shards"] = failures.shards_header(len(targets))
        max_scores = [r.max_score for r in results if r.max_score is not None]
        hits_body: dict[str, Any] = {}
        total = _total(req, sum(r.total for r in results))
        if total is not None:
            hits_body["total"] = total
        hits_body["max_score"] = max(max_scores) if max_scores else None
        hits_body["hits"] = hits
        body_out["hits"] = hits_body
        if req.aggs is not None:
            # A reduce can be long (many buckets): it runs on the search pool too.
            body_out["aggregations"] = await self._on_search_pool(_reduce_aggs, req, results)
        body_out["took"] = int((time.monotonic() - start) * 1000)
        return body_out

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
    def _merge(req: SearchRequest, answered: list[Answered]) -> list[PageHit]:
        """The hits of the page: (shard, its result, position in its top docs), merged
        across shards by the sort, ties broken by shard order then sequence number."""
        entries = []
        relevance = is_relevance(req.sort)
        for target, r in answered:
            for pos, seq in enumerate(r.seqs):
                if relevance:
                    score = r.scores[pos]
                    key = (-(score if score is not None else 0.0),)
                else:
                    key = r.merge_values[pos]
                entries.append((key, target.ordinal, seq, target, r, pos))
        if relevance:
            entries.sort(key=lambda e: (e[0], e[1], e[2]))
        else:
            comparator = sort_comparator(req.sort)
            entries.sort(key=lambda e: comparator(e[:3]))
        return [(e[3], e[4], e[5]) for e in entries[req.from_:req.from_ + req.size]]

    async def _fetch(self, req: SearchRequest, targets: list[ShardTarget],
                     page: list[PageHit],
                     open_contexts: dict[int, tuple[str, str]], source_explicit: bool,
                     failures: ShardFailures) -> list[dict[str, Any]]:
        """The page's hits, each shard's from the node (and search context) its query ran
        on; a shard with no hit on the page has its context freed at once."""
        spec = FetchSpec.of(req, source_explicit)
        by_shard: dict[int, list[tuple[int, ShardQueryResult, int]]] = {}
        for place, (target, r, pos) in enumerate(page):
            by_shard.setdefault(target.ordinal, []).append((place, r, pos))
        for ordinal in [o for o in open_contexts if o not in by_shard]:
            self._free(*open_contexts.pop(ordinal))
        out: list[dict[str, Any] | None] = [None] * len(page)

        async def fetch(ordinal: int, items: list[tuple[int, ShardQueryResult, int]]) -> None:
            node_id, context_id = open_contexts.pop(ordinal)  # the fetch frees it, whatever happens
            r = items[0][1]
            positions = [pos for _, _, pos in items]
            request = FetchShardRequest(context_id=context_id, seqs=[r.seqs[p] for p in positions],
                                        scores=[r.scores[p] for p in positions],
                                        sort_values=None if r.sort_values is None
                                        else [r.sort_values[p] for p in positions], spec=spec)
            response: FetchShardResponse = await self.node.transport.execute(
                FETCH, request, address=self.router.address(node_id))
            for (place, _, _), hit in zip(items, response.hits, strict=True):
                source = hit.get("_source")
                if isinstance(source, bytes):
                    hit["_source"] = raw(source)
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

    def _free(self, node_id: str, context_id: str) -> None:
        """Free a search context in the background. Not a child of the search's task: a
        cancelled search must still free what it leaves (ES's free context is unparented
        too); the reaper frees what this cannot reach."""

        async def send() -> None:
            try:
                with context.unparented():
                    await self.node.transport.execute(FREE_CONTEXT, FreeContextRequest(context_id=context_id),
                                                      address=self.router.address(node_id), timeout=30.0)
            except StrataError as e:
                log.debug("could not free search context [%s] on [%s]: %s", context_id, node_id, e)

        future = asyncio.ensure_future(send())
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    # -- _count and _validate/query -------------------------------------------------------------

    async def count(self, names: list[str], query: Any, *, body: bytes, params: dict[str, str],
                    min_score: float | None = None, terminate_after: int = 0, routing: str | None = None,
                    preference: str | None = None, scope: IndexScope | None = None) -> dict[str, Any]:
        now_millis = utc_now_millis()
        targets = shard_targets(self.node.indices, names, routing=routing, scope=scope, preference=preference)
        failures = ShardFailures()

        async def run(target: ShardTarget) -> CountShardResponse | None:
            def request(local: bool) -> QueryOnlyRequest:
                return QueryOnlyRequest(index=target.index, index_uuid=target.index_uuid, shard=target.shard,
                                        body=body, params=params, min_score=min_score,
                                        terminate_after=terminate_after, now_millis=now_millis,
                                        alias_filter=target.alias_filter, parsed=query if local else None)

            try:
                return await self.router.on_copy(COUNT, target.index, target.shard, request,
                                                 target.preference, on_node=target.tried)
            except Exception as e:
                failures.add(target, e)
                return None

        outcomes = await asyncio.gather(*(run(t) for t in targets))
        results = [o for o in outcomes if o is not None]
        if targets and not results:
            raise failures.all_failed()
        out: dict[str, Any] = {"count": sum(r.count for r in results)}
        if terminate_after:
            out["terminated_early"] = any(r.terminated_early for r in results)
        out["_shards"] = failures.shards_header(len(targets))
        return out

    async def validate(self, names: list[str], query: Any, *, body: bytes, params: dict[str, str],
                       all_shards: bool = False) -> tuple[list[dict[str, Any]], ShardFailures, int]:
        """Run `query` on one shard per index (every shard with `all_shards`), as
        TransportValidateQueryAction does: a request error is the index's explanation
        (`valid: false` with the error), anything else a shard failure."""
        now_millis = utc_now_millis()
        targets = [t for t in shard_targets(self.node.indices, names) if all_shards or t.shard == 0]
        failures = ShardFailures()

        async def run(target: ShardTarget) -> dict[str, Any] | None:
            item: dict[str, Any] = {"index": target.index}
            if all_shards:
                item["shard"] = target.shard

            def request(local: bool) -> QueryOnlyRequest:
                return QueryOnlyRequest(index=target.index, index_uuid=target.index_uuid, shard=target.shard,
                                        body=body, params=params, now_millis=now_millis,
                                        parsed=query if local else None)

            try:
                await self.router.on_copy(VALIDATE, target.index, target.shard, request, on_node=target.tried)
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
