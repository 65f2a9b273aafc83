"""Search APIs: `_search`, `_count` and `_msearch`.

The request is read whole (body, URL parameters, the query and aggregations parsed)
before any shard runs, so a malformed request is a plain 400 naming what is wrong; the
coordinator (`search/coordinator.py`) then runs the shards, on whichever nodes hold them,
and shapes the response. Any node coordinates: the target indices are resolved among
every index of the applied cluster state.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ..common.errors import (
    IllegalArgument,
    ParseError,
    ParsingError,
    StrataError,
    detailed_message,
    error_body,
)
from ..common.flags import parse_flag
from ..common.xcontent import loads, token_name
from ..index import aliases
from ..search.coordinator import IndexScope, SearchCoordinator
from ..search.query import parse_query
from ..search.request import QUERY_STRING_PARAMS, SearchRequest, parse_count_query, parse_search
from .controller import RestController, RestResponse
from .indices import RESOLVE_PARAMS
from .request import RestRequest

SEARCH_PARAMS = (*RESOLVE_PARAMS, *QUERY_STRING_PARAMS, "from", "size", "sort", "_source", "_source_includes",
                 "_source_excludes", "track_total_hits", "track_scores", "timeout", "terminate_after",
                 "search_type", "request_cache", "preference", "routing", "allow_partial_search_results",
                 "batched_reduce_size", "ccs_minimize_roundtrips", "pre_filter_shard_size",
                 "max_concurrent_shard_requests", "rest_total_hits_as_int", "typed_keys", "version",
                 "seq_no_primary_term", "stored_fields", "docvalue_fields", "explain", "ignore_throttled",
                 "include_named_queries_score", "stats", "scroll", "suggest_field", "suggest_mode",
                 "suggest_size", "suggest_text", "force_synthetic_source")
COUNT_PARAMS = (*RESOLVE_PARAMS, *QUERY_STRING_PARAMS, "routing", "preference", "min_score",
                "terminate_after", "ignore_throttled")
MSEARCH_PARAMS = (*RESOLVE_PARAMS, "ccs_minimize_roundtrips", "ignore_throttled", "max_concurrent_searches",
                  "max_concurrent_shard_requests", "pre_filter_shard_size", "rest_total_hits_as_int",
                  "routing", "search_type", "typed_keys")
VALIDATE_PARAMS = (*RESOLVE_PARAMS, *QUERY_STRING_PARAMS, "explain", "rewrite", "all_shards")
MSEARCH_HEADER_KEYS = ("index", "indices", "search_type", "searchType", "ccs_minimize_roundtrips",
                       "request_cache", "preference", "routing", "allow_partial_search_results",
                       "expand_wildcards", "ignore_unavailable", "allow_no_indices", "ignore_throttled")


class SearchHandlers:
    def __init__(self, node):
        self.node = node
        self.coordinator = SearchCoordinator(node, lambda: node.executors["search"])

    def register(self, c: RestController) -> None:
        # Each runs as a task under Elasticsearch's action name (a count is a search there),
        # cancelled when its client goes away, as RestCancellableNodeClient does.
        search, msearch = "indices:data/read/search", "indices:data/read/msearch"
        for method in ("GET", "POST"):
            for path, handler, params, action in (
                    ("/_search", self.search, SEARCH_PARAMS, search),
                    ("/{index}/_search", self.search, SEARCH_PARAMS, search),
                    ("/_count", self.count, COUNT_PARAMS, search),
                    ("/{index}/_count", self.count, COUNT_PARAMS, search),
                    ("/_msearch", self.msearch, MSEARCH_PARAMS, msearch),
                    ("/{index}/_msearch", self.msearch, MSEARCH_PARAMS, msearch)):
                c.register(method, path, handler, params, action=action, cancellable=True)
            for path in ("/_validate/query", "/{index}/_validate/query"):
                c.register(method, path, self.validate_query, VALIDATE_PARAMS,
                           action="indices:admin/validate/query")
        if self.node.settings.get("strata.fault_injection"):
            c.register("POST", "/_strata/fault/search_delay", self.fault_search_delay)

    # -- _search -------------------------------------------------------------------------------

    async def search(self, request: RestRequest) -> RestResponse:
        _refuse_unsupported_params(request.params)
        _check_transport_params(request.params)
        body = _body_object(request.body)
        req = parse_search(body, request.params, request.body)
        source_explicit = "_source" in body or any(p in request.params for p in
                                                   ("_source", "_source_includes", "_source_excludes"))
        item = SearchItem(request.param("index"), request.params, req, source_explicit, request.body,
                          request.params)
        return RestResponse(200, await self._execute(item))

    async def _execute(self, item: SearchItem) -> dict[str, Any]:
        req, options = item.req, item.options
        names, scope = self._scope(item.expression, options, options.get("routing"))
        boosts = self._boosts(req, names, options)
        query = req.query if req.query is not None else _match_all()
        if req.timeout is None:
            default = self.node.cluster_settings.get("search.default_search_timeout")
            req.timeout = default if default >= 0 else None
        return await self.coordinator.search(
            names, req, query=query, body=item.body, params=item.params,
            query_from_params=item.query_from_params, boosts=boosts, routing=options.get("routing"),
            preference=options.get("preference"), source_explicit=item.source_explicit, scope=scope)

    def _resolve(self, expression: str | None, options: dict[str, Any]) -> list[str]:
        """The names of the target indices, among every index of the applied cluster state
        (their shards may be on any node)."""
        return self.node.indices.resolve(
            expression,
            ignore_unavailable=parse_flag(options.get("ignore_unavailable"), False),
            allow_no_indices=parse_flag(options.get("allow_no_indices"), True),
            expand_wildcards=_expand_wildcards(options.get("expand_wildcards", "open")))

    def _scope(self, expression: str | None, options: dict[str, Any],
               routing: str | None) -> tuple[list[str], IndexScope]:
        """The target indices and, per index, the filter and routing the aliases that
        reached it add (an index also named itself is searched unfiltered, as in ES)."""
        indices = self.node.indices
        resolved = indices.resolve_expression(
            expression,
            ignore_unavailable=parse_flag(options.get("ignore_unavailable"), False),
            allow_no_indices=parse_flag(options.get("allow_no_indices"), True),
            expand_wildcards=_expand_wildcards(options.get("expand_wildcards", "open")))
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

    async def fault_search_delay(self, request: RestRequest) -> RestResponse:
        """Fault injection for tests (`strata.fault_injection: true` only): every query
        phase on this node waits `millis` first, cancellably, so a search can be caught
        running. `{"millis": 0}` turns it off."""
        millis = request.json_body(required=True).get("millis")
        if not isinstance(millis, int) or isinstance(millis, bool) or millis < 0:
            raise IllegalArgument("[millis] must be a non-negative integer")
        self.node.search_shards.query_delay = millis / 1000
        return RestResponse(200, {"acknowledged": True})

    # -- _count --------------------------------------------------------------------------------

    async def count(self, request: RestRequest) -> RestResponse:
        query = self._count_query(request)
        min_score = None
        if request.param("min_score") is not None:
            try:
                min_score = float(request.param("min_score"))
            except ValueError:
                raise IllegalArgument(f"Failed to parse float parameter [min_score] with value "
                                      f"[{request.param('min_score')}]") from None
        terminate_after = request.int_param("terminate_after", 0)
        if terminate_after < 0:
            raise IllegalArgument("terminateAfter must be > 0")
        names, scope = self._scope(request.param("index"), request.params, request.param("routing"))
        return RestResponse(200, await self.coordinator.count(
            names, query, body=request.body, params=_query_string_params(request.params), min_score=min_score,
            terminate_after=terminate_after, routing=request.param("routing"),
            preference=request.param("preference"), scope=scope))

    # -- _validate/query ------------------------------------------------------------------------

    async def validate_query(self, request: RestRequest) -> RestResponse:
        """`valid` with, under `explain`, each index's verdict. A query that does not parse
        is `valid: false` (200), not an error, as RestValidateQueryAction answers."""
        explain = request.bool_param("explain")
        request.bool_param("rewrite")
        all_shards = request.bool_param("all_shards")
        names = self._resolve(request.param("index"), request.params)
        try:
            query = self._count_query(request)
        except StrataError as e:
            body: dict[str, Any] = {"valid": False}
            if explain:
                body["error"] = detailed_message(e)
            return RestResponse(200, body)
        items, failures, total = await self.coordinator.validate(
            names, query, body=request.body, params=_query_string_params(request.params),
            all_shards=all_shards)
        shards = failures.shards_header(total)
        del shards["skipped"]
        body = {"_shards": shards, "valid": not failures and all(i["valid"] for i in items)}
        if explain:
            body["explanations"] = items
        return RestResponse(200, body)

    def _count_query(self, request: RestRequest):
        """The query of a `_count` or `_validate/query`: `q=`, the body's `query`, or
        everything. The body holds nothing else."""
        return parse_count_query(_body_object(request.body), request.params)

    # -- _msearch ------------------------------------------------------------------------------

    async def msearch(self, request: RestRequest) -> RestResponse:
        start = time.monotonic()
        limit = request.int_param("max_concurrent_searches", 0)
        if request.has_param("max_concurrent_searches") and limit < 1:
            raise IllegalArgument("maxConcurrentSearchRequests must be positive")
        _check_transport_params(request.params)
        items = parse_msearch(request, request.param("index"))
        semaphore = asyncio.Semaphore(limit or max(1, min(len(items), 64)))

        async def one(item: SearchItem):
            async with semaphore:
                try:
                    body = await self._execute(item)
                except StrataError as e:
                    return _item_error(e, request)
            body["status"] = 200
            return body

        responses = await asyncio.gather(*(one(item) for item in items))
        return RestResponse(200, {"took": int((time.monotonic() - start) * 1000), "responses": responses})


def _item_error(error: StrataError, request: RestRequest) -> dict[str, Any]:
    return error_body(error, stack_trace=request.error_trace)


@dataclass
class SearchItem:
    """One search of a `_search` or `_msearch` request: the parsed request, its targets and
    options, and the body and parameters it was parsed from (what a remote shard parses)."""

    expression: str | None
    options: dict[str, Any]
    req: SearchRequest
    source_explicit: bool
    body: bytes
    params: dict[str, str]
    query_from_params: bool = True


def parse_msearch(request: RestRequest, default_index: str | None) -> list[SearchItem]:
    """NDJSON header/body pairs (MultiSearchRequest.readMultiLineFormat). A line that does
    not parse, or a header key Elasticsearch does not know, fails the whole request; a
    search that then fails fails only its item."""
    if not request.body.strip():
        raise ParseError("request body or source parameter is required")
    lines = request.body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    items = []
    i = 0
    while i < len(lines):
        header_line = lines[i].strip()
        if not header_line and i == len(lines) - 1:
            break
        header = loads(header_line, line_offset=i) if header_line else {}
        if not isinstance(header, dict):
            raise ParsingError(f"Expected [START_OBJECT] but found [{token_name(header)}]")
        if i + 1 >= len(lines):
            raise IllegalArgument("The msearch request must be terminated by a newline [\\n]")
        body_line = lines[i + 1].strip()
        body = loads(body_line, line_offset=i + 1) if body_line else {}
        if not isinstance(body, dict):
            raise ParsingError(f"Expected [START_OBJECT] but found [{token_name(body)}]")
        options = {k: v for k, v in request.params.items()
                   if k in ("ignore_unavailable", "allow_no_indices", "expand_wildcards", "routing")}
        expression = default_index
        for key, value in header.items():
            if key not in MSEARCH_HEADER_KEYS:
                raise IllegalArgument(f"key [{key}] is not supported in the metadata section")
            if key in ("index", "indices"):
                expression = ",".join(value) if isinstance(value, list) else str(value)
            elif key in ("search_type", "searchType"):
                options["search_type"] = str(value)
            elif key in ("ignore_unavailable", "allow_no_indices", "expand_wildcards", "routing",
                         "allow_partial_search_results", "request_cache", "ccs_minimize_roundtrips",
                         "ignore_throttled", "preference"):
                options[key] = _text(value)
        params = {k: v for k, v in request.params.items() if k in ("rest_total_hits_as_int", "typed_keys")}
        for key in ("search_type", "allow_partial_search_results"):
            if key in options:
                params[key] = options[key]
        req = parse_search(body, params, body_line, query_from_params=False)
        items.append(SearchItem(expression, options, req, "_source" in body, body_line, params,
                                query_from_params=False))
        i += 2
    return items


def _query_string_params(params: dict[str, str]) -> dict[str, str]:
    """What a shard needs of `_count` and `_validate/query` parameters to parse their query."""
    return {k: v for k, v in params.items() if k in QUERY_STRING_PARAMS}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _expand_wildcards(value: str) -> str:
    from .request import EXPAND_WILDCARDS

    for part in value.split(","):
        if part.strip() not in EXPAND_WILDCARDS:
            raise IllegalArgument(f"No valid expand wildcard value [{part}]")
    return value


def _match_all():
    return parse_query({"match_all": {}})


def _body_object(body: bytes) -> dict[str, Any]:
    """A search body: absent (match everything) or one JSON object."""
    if not body.strip():
        return {}
    value = loads(body)
    if not isinstance(value, dict):
        raise ParsingError(f"Unexpected token [{token_name(value)}] while parsing the search body, "
                           "expected [START_OBJECT]")
    return value


def _refuse_unsupported_params(params: dict[str, str]) -> None:
    """Parameters of features Strata does not have are named in the refusal, rather than
    silently ignored."""
    for name in ("scroll", "suggest_field", "suggest_text", "suggest_mode", "suggest_size"):
        if name in params:
            raise IllegalArgument(f"[{name}] is not supported")
    if params.get("force_synthetic_source") in ("", "true"):
        raise IllegalArgument("[force_synthetic_source] is not supported")


def _check_transport_params(params: dict[str, str]) -> None:
    """Parameters that only tune how a cluster spreads the work: they change nothing on one
    node, but a value Elasticsearch refuses is refused here too."""
    for name in ("request_cache", "ccs_minimize_roundtrips", "ignore_throttled",
                 "include_named_queries_score", "allow_partial_search_results"):
        if name in params:
            parse_flag(params[name], False)
    for name, minimum, message in (
            ("batched_reduce_size", 2, "batchedReduceSize must be >= 2"),
            ("max_concurrent_shard_requests", 1, "maxConcurrentShardRequests must be >= 1"),
            ("pre_filter_shard_size", 1, "preFilterShardSize must be >= 1")):
        if name in params:
            try:
                value = int(params[name])
            except ValueError:
                raise IllegalArgument(f"Failed to parse int parameter [{name}] with value [{params[name]}]") \
                    from None
            if value < minimum:
                raise IllegalArgument(message)
