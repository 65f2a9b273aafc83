"""Search APIs: `_search`, `_count` and `_msearch`.

The request is read whole (body, URL parameters, the query and aggregations parsed)
before any shard runs, so a malformed request is a plain 400 naming what is wrong; the
search action (action/search_actions.py) then runs it through the coordinator, whose
shard requests are children of its task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..action.fault import FAULT, FaultRequest
from ..action.search_actions import (
    MSEARCH,
    SEARCH,
    VALIDATE_QUERY,
    CountOptions,
    MultiSearchRequest,
    MultiSearchResponse,
    SearchActionRequest,
    SearchActionResponse,
    ValidateQueryRequest,
    body_object,
)
from ..common.errors import IllegalArgument, ParseError, ParsingError
from ..common.flags import parse_flag
from ..common.xcontent import loads, token_name
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

    def register(self, c: RestController) -> None:
        # A count is a search in Elasticsearch; both are cancelled when their client goes
        # away, as RestCancellableNodeClient does.
        for method in ("GET", "POST"):
            for path, handler, params, action in (
                    ("/_search", self.search, SEARCH_PARAMS, SEARCH),
                    ("/{index}/_search", self.search, SEARCH_PARAMS, SEARCH),
                    ("/_count", self.count, COUNT_PARAMS, SEARCH),
                    ("/{index}/_count", self.count, COUNT_PARAMS, SEARCH),
                    ("/_msearch", self.msearch, MSEARCH_PARAMS, MSEARCH),
                    ("/{index}/_msearch", self.msearch, MSEARCH_PARAMS, MSEARCH),
                    ("/_validate/query", self.validate_query, VALIDATE_PARAMS, VALIDATE_QUERY),
                    ("/{index}/_validate/query", self.validate_query, VALIDATE_PARAMS, VALIDATE_QUERY)):
                c.register(method, path, handler, params, action=action)
        if self.node.settings.get("strata.fault_injection"):
            c.register("POST", "/_strata/fault/search_delay", self.fault_search_delay, action=FAULT)

    async def _run(self, request: SearchActionRequest) -> RestResponse:
        response: SearchActionResponse = await self.node.client.execute(SEARCH, request)
        return RestResponse(200, response.body)

    # -- _search -------------------------------------------------------------------------------

    async def search(self, request: RestRequest) -> RestResponse:
        _refuse_unsupported_params(request.params)
        _check_transport_params(request.params)
        body = body_object(request.body)
        req = parse_search(body, request.params, request.body)
        source_explicit = "_source" in body or any(p in request.params for p in
                                                   ("_source", "_source_includes", "_source_excludes"))
        return await self._run(SearchActionRequest(
            index=request.param("index"), options=dict(request.params), body=request.body,
            params=dict(request.params), source_explicit=source_explicit, local_parsed=req))

    async def fault_search_delay(self, request: RestRequest) -> RestResponse:
        """Fault injection for tests (`strata.fault_injection: true` only): every query
        phase on this node waits `millis` first, cancellably, so a search can be caught
        running. `{"millis": 0}` turns it off."""
        millis = request.json_body(required=True).get("millis")
        if not isinstance(millis, int) or isinstance(millis, bool) or millis < 0:
            raise IllegalArgument("[millis] must be a non-negative integer")
        await self.node.client.execute(FAULT, FaultRequest(kind="search_delay", millis=millis))
        return RestResponse(200, {"acknowledged": True})

    # -- _count --------------------------------------------------------------------------------

    async def count(self, request: RestRequest) -> RestResponse:
        query = parse_count_query(body_object(request.body), request.params)
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
        return await self._run(SearchActionRequest(
            index=request.param("index"), options=dict(request.params), body=request.body,
            params=dict(request.params), local_parsed=query,
            count=CountOptions(min_score=min_score, terminate_after=terminate_after)))

    # -- _validate/query ------------------------------------------------------------------------

    async def validate_query(self, request: RestRequest) -> RestResponse:
        explain = request.bool_param("explain")
        request.bool_param("rewrite")
        all_shards = request.bool_param("all_shards")
        response: SearchActionResponse = await self.node.client.execute(VALIDATE_QUERY, ValidateQueryRequest(
            index=request.param("index"), options=dict(request.params), body=request.body,
            params=dict(request.params), explain=explain, all_shards=all_shards))
        return RestResponse(200, response.body)

    # -- _msearch ------------------------------------------------------------------------------

    async def msearch(self, request: RestRequest) -> RestResponse:
        limit = request.int_param("max_concurrent_searches", 0)
        if request.has_param("max_concurrent_searches") and limit < 1:
            raise IllegalArgument("maxConcurrentSearchRequests must be positive")
        _check_transport_params(request.params)
        searches = [SearchActionRequest(index=item.expression, options=item.options, body=item.body,
                                        params=item.params, source_explicit=item.source_explicit,
                                        query_from_params=item.query_from_params, local_parsed=item.req)
                    for item in parse_msearch(request, request.param("index"))]
        response: MultiSearchResponse = await self.node.client.execute(MSEARCH, MultiSearchRequest(
            searches=searches, max_concurrent_searches=limit, error_trace=request.error_trace))
        return RestResponse(200, {"took": response.took, "responses": response.responses})


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
                expression = _text(value)
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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


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
