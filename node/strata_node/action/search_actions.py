"""The top-level search actions: `indices:data/read/search` (a `_count` is a search there
too), `indices:data/read/msearch` and `indices:admin/validate/query`.

The node that received the request coordinates: it resolves the targets among every
index of the applied cluster state and runs the shard phases through the coordinator
(`search/coordinator.py`), whose shard requests are children of the action's task.
Searches are cancellable, as Elasticsearch's SearchTask is. A request travels as the
body and parameters it was parsed from; a call to this node also passes the parsed
request (`local_parsed`), so it is not parsed twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..common.errors import IllegalArgument, ParsingError, StrataError, detailed_message, error_body
from ..common.flags import parse_flag
from ..common.xcontent import loads, token_name
from ..index import aliases
from ..search.coordinator import IndexScope, SearchCoordinator
from ..search.query import parse_query
from ..search.request import QUERY_STRING_PARAMS, SearchRequest, parse_count_query, parse_search
from ..tasks.task import Task
from ..transport.wire import Message
from .resolve import EXPAND_WILDCARDS

SEARCH = "indices:data/read/search"
MSEARCH = "indices:data/read/msearch"
VALIDATE_QUERY = "indices:admin/validate/query"


class CountOptions(Message):
    """What makes a search a `_count`: hits are counted, none fetched."""

    min_score: float | None = None
    terminate_after: int = 0


class SearchActionRequest(Message):
    index: str | None  # the target expression; None: every index
    options: dict[str, str]  # resolution options, routing and preference
    body: bytes
    params: dict[str, str]
    source_explicit: bool = False
    query_from_params: bool = True
    count: CountOptions | None = None
    # A call to this node: what body and params parse to (the SearchRequest; a count's query).
    local_parsed: Any = None

    @property
    def description(self) -> str:
        """As SearchRequest.buildDescription words it."""
        text = f"indices[{self.index or ''}], search_type[{search_type(self.options)}], " \
               f"source[{self.body.strip().decode('utf-8', 'replace')}]"
        if self.options.get("preference"):
            text += f", preference[{self.options['preference']}]"
        return text

    def parsed(self) -> SearchRequest:
        if self.local_parsed is not None:
            return self.local_parsed
        return parse_search(body_object(self.body), self.params, self.body,
                            query_from_params=self.query_from_params)


class SearchActionResponse(Message):
    body: dict[str, Any]


class MultiSearchRequest(Message):
    searches: list[SearchActionRequest]
    max_concurrent_searches: int = 0  # 0: as many as there are, up to 64
    error_trace: bool = False

    @property
    def description(self) -> str:
        return f"requests[{len(self.searches)}]: " + " | ".join(s.description for s in self.searches)


class MultiSearchResponse(Message):
    took: int
    responses: list[dict[str, Any]]


class ValidateQueryRequest(Message):
    index: str | None
    options: dict[str, str]
    body: bytes
    params: dict[str, str]
    explain: bool = False
    all_shards: bool = False


def search_type(options: dict[str, str]) -> str:
    return options.get("search_type", "query_then_fetch").upper()


class SearchActions:
    def __init__(self, node):
        self.node = node
        self.coordinator = SearchCoordinator(node, lambda: node.executors["search"])

    def register(self) -> None:
        transport = self.node.transport
        transport.register(SEARCH, SearchActionRequest, SearchActionResponse, self._search, cancellable=True)
        transport.register(MSEARCH, MultiSearchRequest, MultiSearchResponse, self._msearch, cancellable=True)
        transport.register(VALIDATE_QUERY, ValidateQueryRequest, SearchActionResponse, self._validate,
                           cancellable=True)

    async def _search(self, request: SearchActionRequest, task: Task) -> SearchActionResponse:
        if request.count is not None:
            return SearchActionResponse(body=await self._count(request, request.count))
        return SearchActionResponse(body=await self._execute(request))

    async def _execute(self, request: SearchActionRequest) -> dict[str, Any]:
        req, options = request.parsed(), request.options
        names, scope = self.scope(request.index, options, options.get("routing"))
        boosts = self._boosts(req, names, options)
        query = req.query if req.query is not None else parse_query({"match_all": {}})
        if req.timeout is None:
            default = self.node.cluster_settings.get("search.default_search_timeout")
            req.timeout = default if default >= 0 else None
        return await self.coordinator.search(
            names, req, query=query, body=request.body, params=request.params,
            query_from_params=request.query_from_params, boosts=boosts, routing=options.get("routing"),
            preference=options.get("preference"), source_explicit=request.source_explicit, scope=scope)

    async def _count(self, request: SearchActionRequest, count: CountOptions) -> dict[str, Any]:
        query = request.local_parsed if request.local_parsed is not None \
            else parse_count_query(body_object(request.body), request.params)
        routing = request.options.get("routing")
        names, scope = self.scope(request.index, request.options, routing)
        return await self.coordinator.count(
            names, query, body=request.body, params=query_string_params(request.params),
            min_score=count.min_score, terminate_after=count.terminate_after, routing=routing,
            preference=request.options.get("preference"), scope=scope)

    async def _msearch(self, request: MultiSearchRequest, task: Task) -> MultiSearchResponse:
        start = time.monotonic()
        limit = request.max_concurrent_searches or max(1, min(len(request.searches), 64))
        semaphore = asyncio.Semaphore(limit)

        async def one(search: SearchActionRequest) -> dict[str, Any]:
            async with semaphore:
                try:
                    body = await self._execute(search)
                except StrataError as e:  # one search's failure is that item's answer
                    return error_body(e, stack_trace=request.error_trace)
            body["status"] = 200
            return body

        responses = await asyncio.gather(*(one(search) for search in request.searches))
        return MultiSearchResponse(took=int((time.monotonic() - start) * 1000), responses=list(responses))

    async def _validate(self, request: ValidateQueryRequest, task: Task) -> SearchActionResponse:
        """`valid` with, under `explain`, each index's verdict. A query that does not parse
        is `valid: false` (200), not an error, as RestValidateQueryAction answers."""
        names = self._resolve(request.index, request.options)
        try:
            query = parse_count_query(body_object(request.body), request.params)
        except StrataError as e:
            body: dict[str, Any] = {"valid": False}
            if request.explain:
                body["error"] = detailed_message(e)
            return SearchActionResponse(body=body)
        items, failures, total = await self.coordinator.validate(
            names, query, body=request.body, params=query_string_params(request.params),
            all_shards=request.all_shards)
        shards = failures.shards_header(total)
        del shards["skipped"]
        body = {"_shards": shards, "valid": not failures and all(i["valid"] for i in items)}
        if request.explain:
            body["explanations"] = items
        return SearchActionResponse(body=body)

    def _resolve(self, expression: str | None, options: dict[str, Any]) -> list[str]:
        """The names of the target indices, among every index of the applied cluster state
        (their shards may be on any node)."""
        return self.node.indices.resolve(
            expression,
            ignore_unavailable=parse_flag(options.get("ignore_unavailable"), False),
            allow_no_indices=parse_flag(options.get("allow_no_indices"), True),
            expand_wildcards=expand_wildcards(options.get("expand_wildcards", "open")), forbid_closed=True)

    def scope(self, expression: str | None, options: dict[str, Any],
               routing: str | None) -> tuple[list[str], IndexScope]:
        """The target indices and, per index, the filter and routing the aliases that
        reached it add (an index also named itself is searched unfiltered, as in ES)."""
        indices = self.node.indices
        resolved = indices.resolve_expression(
            expression,
            ignore_unavailable=parse_flag(options.get("ignore_unavailable"), False),
            allow_no_indices=parse_flag(options.get("allow_no_indices"), True),
            expand_wildcards=expand_wildcards(options.get("expand_wildcards", "open")), forbid_closed=True)
        lookup = indices.aliases
        filters = {n: aliases.alias_filter(resolved, lookup, n) for n in resolved.names}
        return resolved.names, IndexScope(filters, aliases.search_routing(resolved, lookup, routing))

    def _boosts(self, req: SearchRequest, names: list[str], options: dict[str, Any]) -> dict[str, float]:
        """`indices_boost`: the first entry naming an index (by name or pattern) wins."""
        boosts: dict[str, float] = {}
        ignore_unavailable = parse_flag(options.get("ignore_unavailable"), False)
        targets = set(names)
        for expression, boost in req.indices_boost:
            for name in self.node.indices.resolve(expression, ignore_unavailable=ignore_unavailable):
                if name in targets and name not in boosts:
                    boosts[name] = boost
        return boosts


def query_string_params(params: dict[str, str]) -> dict[str, str]:
    """What a shard needs of `_count` and `_validate/query` parameters to parse their query."""
    return {k: v for k, v in params.items() if k in QUERY_STRING_PARAMS}


def expand_wildcards(value: str) -> str:
    for part in value.split(","):
        if part.strip() not in EXPAND_WILDCARDS:
            raise IllegalArgument(f"No valid expand wildcard value [{part}]")
    return value


def body_object(body: bytes) -> dict[str, Any]:
    """A search body: absent (match everything) or one JSON object."""
    if not body.strip():
        return {}
    value = loads(body)
    if not isinstance(value, dict):
        raise ParsingError(f"Unexpected token [{token_name(value)}] while parsing the search body, "
                           "expected [START_OBJECT]")
    return value
