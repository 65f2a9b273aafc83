"""Search's shard-level transport actions: what the coordinating node (coordinator.py)
asks of the node holding a shard copy, as Elasticsearch's SearchTransportService does.

    indices:data/read/search[phase/query]     the query phase; keeps a search context
    indices:data/read/search[phase/fetch/id]  the hits of the page, from that context
    indices:data/read/search[free_context]    a context whose shard made no hit of the page
    indices:data/read/search[phase/count]     `_count` on one shard
    indices:admin/validate/query[s]           `_validate/query` on one shard

A remote shard parses the search body again from its bytes (parsing needs no mapping and
no clock, so every shard parses the same request); a call to this node carries the
coordinator's parsed request instead (`parsed`, never on the wire: local calls are not
serialized). Phases run on the `search` executor and are cancellable: a phase looks at
its task between steps, so cancelling the search (or its client going away) stops the
children on every node.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import msgspec

from ..common.errors import ShardNotFound
from ..common.xcontent import loads
from ..index.analysis import index_analyzers
from ..index.shard_stats import ReadStats
from ..tasks.task import Task
from ..transport.wire import Empty, Message
from .alias_filter import filtered, parse_alias_filter
from .context import ShardContext
from .contexts import SearchContexts
from .query import parse_query
from .request import SearchRequest, parse_count_query, parse_search
from .shard_search import FetchSpec, ShardQueryResult, count_phase, fetch_phase, query_phase, validate_phase

QUERY = "indices:data/read/search[phase/query]"
FETCH = "indices:data/read/search[phase/fetch/id]"
FREE_CONTEXT = "indices:data/read/search[free_context]"
COUNT = "indices:data/read/search[phase/count]"
VALIDATE = "indices:admin/validate/query[s]"


class QueryShardRequest(Message):
    index: str
    index_uuid: str
    shard: int
    now_millis: int  # the request's `now`, taken once by the coordinator
    ordinal: int = 0  # the shard's place among the request's shards
    boost: float = 1.0
    body: bytes = b""  # the search body as the client sent it (an `_msearch` item's line)
    params: dict[str, str] = {}  # the URL parameters parse_search reads
    query_from_params: bool = True  # False for `_msearch` items, whose `q` is not theirs
    timeout: float | None = None  # the request's timeout, the cluster default applied
    time_left: float | None = None  # what was left of it when the coordinator sent this
    max_result_window: int = 10_000
    alias_filter: dict[str, Any] | None = None  # searched through filtered aliases: ANDed in
    parsed: Any = None  # local calls only: the coordinator's (SearchRequest, query)

    @property
    def description(self) -> str:
        return f"shardId[[{self.index}][{self.shard}]]"


class FetchShardRequest(Message):
    context_id: str
    seqs: list[int]
    scores: list[float | None]
    spec: FetchSpec
    sort_values: list[list[Any]] | None = None

    @property
    def description(self) -> str:
        return f"id[{self.context_id}], size[{len(self.seqs)}]"


class FetchShardResponse(Message):
    hits: list[dict[str, Any]]  # an unfiltered `_source` is the stored JSON, as bytes


class FreeContextRequest(Message):
    context_id: str


class FreeContextResponse(Message):
    freed: bool


class QueryOnlyRequest(Message):
    """A query alone on one shard: `_count` and `_validate/query`."""

    index: str
    index_uuid: str
    shard: int
    now_millis: int
    body: bytes = b""
    params: dict[str, str] = {}  # `q` and its companions
    min_score: float | None = None
    terminate_after: int = 0
    alias_filter: dict[str, Any] | None = None  # counted through filtered aliases: ANDed in
    parsed: Any = None  # local calls only: the parsed query

    @property
    def description(self) -> str:
        return f"shardId[[{self.index}][{self.shard}]]"


class CountShardResponse(Message):
    count: int
    terminated_early: bool = False


def search_request(request: QueryShardRequest) -> tuple[SearchRequest, Any]:
    """The (SearchRequest, query) a query phase runs: the coordinator's own on a local
    call, else parsed again from the body and parameters it was parsed from."""
    if request.parsed is not None:
        return request.parsed
    body = loads(request.body) if request.body.strip() else {}
    req = parse_search(body, request.params, request.body, query_from_params=request.query_from_params)
    req.timeout = request.timeout
    return req, req.query if req.query is not None else parse_query({"match_all": {}})


class ShardSearchService:
    """The shard side of search on one node, with the node's open search contexts."""

    def __init__(self, node):
        self.node = node
        self.contexts = SearchContexts()
        # Fault injection (`strata.fault_injection` only): seconds every query phase waits,
        # cancellably, before it runs, so a test can catch a search while it runs.
        self.query_delay = 0.0

    def context(self, index: str, index_uuid: str, shard: int, now_millis: int, deadline: float | None,
                  task: Task) -> ShardContext:
        service = self.node.indices.indices.get(index)
        if service is None or service.metadata.uuid != index_uuid:
            raise ShardNotFound(index, index_uuid, shard)
        engine = service.shard(shard).active_engine()
        return ShardContext(index=index, shard_id=shard, reader=engine.searcher(), mapping=service.mapping,
                            analyzers=index_analyzers(service.metadata.settings, index),
                            now_millis=now_millis, deadline=deadline, task=task)

    def stats(self, ctx: ShardContext) -> ReadStats:
        """The copy's read counters (a context kept for a fetch may outlive its index:
        then counters nobody reads)."""
        service = self.node.indices.indices.get(ctx.index)
        shard = service.local.get(ctx.shard_id) if service is not None else None
        return shard.read_stats if shard is not None else ReadStats()

    def _wait_for_fault(self, ctx: ShardContext) -> None:
        end = time.monotonic() + self.query_delay
        while time.monotonic() < end:
            ctx.check_cancelled()
            time.sleep(0.01)

    def query(self, request: QueryShardRequest, task: Task) -> ShardQueryResult:
        deadline = None if request.time_left is None else time.monotonic() + request.time_left
        ctx = self.context(request.index, request.index_uuid, request.shard, request.now_millis, deadline,
                            task)
        if self.query_delay:
            self._wait_for_fault(ctx)
        req, query = search_request(request)
        # parsed once: the query is filtered by it, and global's bucket (visible_docs) too
        ctx.alias_filter = parse_alias_filter(request.alias_filter)
        query = filtered(query, ctx.alias_filter)
        with self.stats(ctx).timed("query"), ctx.reader.reading():
            result = query_phase(ctx, req, query, max_result_window=request.max_result_window,
                                 boost=request.boost)
        if not result.seqs:
            return result  # nothing to fetch: no context to keep
        kept = dataclasses.replace(ctx, task=None, deadline=None)
        return msgspec.structs.replace(result, context_id=self.contexts.open(kept))

    def fetch(self, request: FetchShardRequest, task: Task) -> FetchShardResponse:
        ctx = dataclasses.replace(self.contexts.take(request.context_id), task=task)
        with self.stats(ctx).timed("fetch"), ctx.reader.reading():
            hits = fetch_phase(ctx, request.seqs, request.scores, request.sort_values, request.spec)
        return FetchShardResponse(hits=hits)

    async def free_context(self, request: FreeContextRequest, task: Task) -> FreeContextResponse:
        return FreeContextResponse(freed=self.contexts.free(request.context_id))

    def _query_only(self, request: QueryOnlyRequest, task: Task) -> tuple[ShardContext, Any]:
        ctx = self.context(request.index, request.index_uuid, request.shard, request.now_millis, None, task)
        alias_filter = parse_alias_filter(request.alias_filter)
        if request.parsed is not None:
            return ctx, filtered(request.parsed, alias_filter)
        body = loads(request.body) if request.body.strip() else {}
        return ctx, filtered(parse_count_query(body, request.params), alias_filter)

    def count(self, request: QueryOnlyRequest, task: Task) -> CountShardResponse:
        ctx, query = self._query_only(request, task)
        with self.stats(ctx).timed("query"), ctx.reader.reading():
            count, early = count_phase(ctx, query, min_score=request.min_score,
                                       terminate_after=request.terminate_after)
        return CountShardResponse(count=count, terminated_early=early)

    def validate(self, request: QueryOnlyRequest, task: Task) -> Empty:
        ctx, query = self._query_only(request, task)
        with ctx.reader.reading():
            validate_phase(ctx, query)
        return Empty()


def register(node) -> None:
    service = node.search_shards = ShardSearchService(node)
    transport = node.transport
    transport.register(QUERY, QueryShardRequest, ShardQueryResult, service.query, executor="search",
                       cancellable=True)
    transport.register(FETCH, FetchShardRequest, FetchShardResponse, service.fetch, executor="search",
                       cancellable=True)
    transport.register(FREE_CONTEXT, FreeContextRequest, FreeContextResponse, service.free_context)
    transport.register(COUNT, QueryOnlyRequest, CountShardResponse, service.count, executor="search",
                       cancellable=True)
    transport.register(VALIDATE, QueryOnlyRequest, Empty, service.validate, executor="search",
                       cancellable=True)
