"""A search body and its URL parameters, read into one SearchRequest, as Elasticsearch's
SearchSourceBuilder.parseXContent and RestSearchAction.parseSearchRequest read them.

Everything a client can get wrong in the request itself is refused here, before any shard
runs, as a plain 400 (parsing_exception, x_content_parse_exception,
illegal_argument_exception, action_request_validation_exception). What depends on a
shard's mapping (a sort on an unmapped field, a range on a date field) fails later, per
shard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..action.source_filter import check_fetch_source, parse_source_param
from ..common.errors import ActionRequestValidation, IllegalArgument, ParseError, ParsingError
from ..common.flags import parse_flag
from ..common.units import parse_time
from ..common.xcontent import field_locations, token_name
from .aggregations import parse_aggregations
from .query import parse_query
from .query.query_string import parse_uri_query
from .sort import SortKey, is_relevance, parse_sort, parse_sort_param

DEFAULT_TRACK_TOTAL_HITS = 10_000
TRACK_ACCURATE = -1  # track_total_hits: true
TRACK_DISABLED = 0  # track_total_hits: false
SEARCH_TYPES = ("query_then_fetch", "dfs_query_then_fetch")
# The URL parameters parse_search reads: what a shard node needs, beside the body, to
# parse the same SearchRequest the coordinating node parsed.
REQUEST_PARAMS = ("q", "df", "default_operator", "analyzer", "lenient", "from", "size", "explain", "version",
                  "seq_no_primary_term", "track_scores", "timeout", "terminate_after", "stored_fields",
                  "docvalue_fields", "_source", "_source_includes", "_source_excludes", "track_total_hits",
                  "sort", "search_type", "rest_total_hits_as_int", "typed_keys",
                  "allow_partial_search_results")
QUERY_STRING_PARAMS = ("q", "df", "default_operator", "analyzer", "analyze_wildcard", "lenient")

# Body keys Elasticsearch knows that Strata does not implement: refused by name rather
# than as unknown keys, so the client learns what is missing.
UNSUPPORTED_KEYS = ("highlight", "suggest", "rescore", "collapse", "script_fields", "pit", "slice",
                    "knn", "rank", "retriever", "runtime_mappings", "stats", "ext", "point_in_time",
                    "sub_searches")


@dataclass
class SearchRequest:
    """What one search asks for. `query`/`post_filter` are parsed Query objects, `aggs` the
    parsed aggregations; `query_body` keeps the query's JSON for `_validate`-like uses."""

    query: Any = None
    query_body: Any = None
    from_: int = 0
    size: int = 10
    sort: list[SortKey] | None = None
    search_after: list[Any] | None = None
    fetch_source: bool = True
    source_includes: list[str] = field(default_factory=list)
    source_excludes: list[str] = field(default_factory=list)
    track_total_hits: int = DEFAULT_TRACK_TOTAL_HITS  # TRACK_ACCURATE, TRACK_DISABLED or a bound
    track_scores: bool = False
    timeout: float | None = None  # seconds
    terminate_after: int = 0
    aggs: Any = None
    post_filter: Any = None
    min_score: float | None = None
    version: bool = False
    seq_no_primary_term: bool = False
    stored_fields: list[str] | None = None
    docvalue_fields: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    explain: bool = False
    indices_boost: list[tuple[str, float]] = field(default_factory=list)
    rest_total_hits_as_int: bool = False
    typed_keys: bool = False
    allow_partial_search_results: bool = True

    @property
    def stored_fields_none(self) -> bool:
        """`stored_fields: _none_`: no `_id`, no `_source`, only the score."""
        return self.stored_fields == ["_none_"]


def _not_a_number(name: str, value: Any) -> ParsingError:
    return ParsingError(f"[{name}] failed to parse field, expected a number but found [{token_name(value)}]")


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _not_a_number(name, value)
    try:
        return int(value) if not isinstance(value, str) else int(float(value)) if "." in value else int(value)
    except (ValueError, OverflowError):  # OverflowError: text that reads as an infinite float
        raise IllegalArgument(f"[{name}] must be a number but was [{value}]") from None


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _not_a_number(name, value)
    try:
        return float(value)
    except ValueError:
        raise IllegalArgument(f"[{name}] must be a number but was [{value}]") from None


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ParsingError(f"[{name}] failed to parse field, expected a boolean but found [{value}]")


def _time(name: str, value: Any) -> float:
    try:
        return parse_time(value, name)
    except ValueError as e:
        raise ParseError(str(e)) from None


def _from(value: int) -> int:
    if value < 0:
        raise IllegalArgument(f"[from] parameter cannot be negative, found [{value}]")
    return value


def _size(value: int) -> int:
    if value < 0:
        raise IllegalArgument(f"[size] parameter cannot be negative, found [{value}]")
    return value


def parse_track_total_hits(value: Any) -> int:
    """`true` (every hit counted), `false` (no total) or a bound counted exactly up to."""
    if isinstance(value, bool) or value in ("true", "false"):
        return TRACK_ACCURATE if value in (True, "true") else TRACK_DISABLED
    try:
        bound = int(value)
    except (TypeError, ValueError):
        raise IllegalArgument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.") \
            from None
    if bound < -1:
        raise IllegalArgument(f"[track_total_hits] parameter must be positive or equals to -1, got {bound}")
    return TRACK_ACCURATE if bound in (-1, 2 ** 31 - 1) else bound


def _string_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ParsingError(f"Expected [VALUE_STRING] or [START_ARRAY] in [{name}] but found "
                       f"[{token_name(value)}]")


def _field_patterns(name: str, value: Any) -> list[dict[str, Any]]:
    """`docvalue_fields` and `fields`: names (with `*`) or objects of `field` and `format`."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"field": item})
        elif isinstance(item, dict) and isinstance(item.get("field"), str) \
                and set(item) <= {"field", "format", "include_unmapped"}:
            out.append(dict(item))
        else:
            raise ParsingError(f"Expected [VALUE_STRING] or [START_OBJECT] in [{name}] but found "
                               f"[{token_name(item)}]")
    return out


def _indices_boost(value: Any) -> list[tuple[str, float]]:
    """`indices_boost`: an array of single-entry objects (or, deprecated, one object)."""
    items = [{k: v} for k, v in value.items()] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ParsingError(f"Unexpected token [{token_name(value)}] in [indices_boost]")
    out = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise ParsingError("Expected [FIELD_NAME] in [indices_boost]")
        [(name, boost)] = item.items()
        out.append((name, _float("indices_boost", boost)))
    return out


def parse_body(body: Mapping[str, Any], raw: bytes | None = None) -> SearchRequest:
    """A search body into a SearchRequest; `raw` (the body's bytes) gives error locations."""
    req = SearchRequest()
    query_body: Any = None
    for key, value in body.items():
        if key == "query":
            query_body = value
            req.query = parse_query(value)
        elif key == "from":
            req.from_ = _from(_int(key, value))
        elif key == "size":
            req.size = _size(_int(key, value))
        elif key == "sort":
            req.sort = parse_sort(value)
        elif key == "search_after":
            if not isinstance(value, list):
                raise ParsingError(f"Expected [START_ARRAY] in [search_after] but found "
                                   f"[{token_name(value)}]")
            for v in value:
                if isinstance(v, dict | list):
                    raise ParsingError(f"Can't handle search_after field value of type [{token_name(v)}]")
            req.search_after = list(value)
        elif key == "_source":
            check_fetch_source(value)
            req.fetch_source, req.source_includes, req.source_excludes = parse_source_param(value)
        elif key == "track_total_hits":
            text_ok = isinstance(value, str) and (value.lstrip("-").isdigit() or value in ("true", "false"))
            if not isinstance(value, bool | int) and not text_ok:
                raise ParsingError(f"[track_total_hits] failed to parse field, found [{token_name(value)}]")
            req.track_total_hits = parse_track_total_hits(value)
        elif key == "track_scores":
            req.track_scores = _bool(key, value)
        elif key == "timeout":
            req.timeout = _time(key, value)
        elif key == "terminate_after":
            req.terminate_after = _int(key, value)
            if req.terminate_after < 0:
                raise IllegalArgument("terminateAfter must be > 0")
        elif key in ("aggs", "aggregations"):
            if req.aggs is not None:
                raise ParsingError(f"Found two aggregation type definitions in [{key}]")
            req.aggs = parse_aggregations(value)
        elif key == "post_filter":
            req.post_filter = parse_query(value)
        elif key == "min_score":
            req.min_score = _float(key, value)
        elif key == "version":
            req.version = _bool(key, value)
        elif key == "seq_no_primary_term":
            req.seq_no_primary_term = _bool(key, value)
        elif key == "explain":
            req.explain = _bool(key, value)
        elif key == "stored_fields":
            req.stored_fields = _string_list(key, value)
        elif key == "docvalue_fields":
            req.docvalue_fields = _field_patterns(key, value)
        elif key == "fields":
            req.fields = _field_patterns(key, value)
        elif key == "indices_boost":
            req.indices_boost = _indices_boost(value)
        elif key == "profile":
            if _bool(key, value):
                raise IllegalArgument("[profile] is not supported")
        elif key in UNSUPPORTED_KEYS:
            raise IllegalArgument(f"[{key}] is not supported")
        else:
            line = column = None
            if raw is not None:
                located = field_locations(raw).get(key)
                if located is not None:
                    line, column = located[1]
            raise ParsingError(f"Unknown key for a {token_name(value)} in [{key}].", line=line, column=column)
    req.query_body = query_body
    return req


def apply_params(req: SearchRequest, params: Mapping[str, str]) -> SearchRequest:
    """URL parameters over the body, as RestSearchAction applies them (a URL value wins)."""
    if "q" in params:
        req.query = parse_uri_query(
            params["q"], default_field=params.get("df"),
            default_operator=params.get("default_operator", "OR"), analyzer=params.get("analyzer"),
            lenient=parse_flag(params.get("lenient"), False))
        req.query_body = None
    if "from" in params:
        value = _param_int(params, "from")
        if value != -1:
            req.from_ = _from(value)
    if "size" in params:
        value = _param_int(params, "size")
        if value != -1:
            req.size = _size(value)
    for name in ("explain", "version", "seq_no_primary_term", "track_scores"):
        if name in params:
            setattr(req, name, parse_flag(params.get(name), False))
    if "timeout" in params:
        req.timeout = _time("timeout", params["timeout"])
    if "terminate_after" in params:
        value = _param_int(params, "terminate_after")
        if value < 0:
            raise IllegalArgument("terminateAfter must be > 0")
        req.terminate_after = value
    if "stored_fields" in params:
        req.stored_fields = [f for f in params["stored_fields"].split(",") if f]
    if "docvalue_fields" in params:
        req.docvalue_fields = [{"field": f} for f in params["docvalue_fields"].split(",") if f]
    includes = [v for v in params.get("_source_includes", "").split(",") if v]
    excludes = [v for v in params.get("_source_excludes", "").split(",") if v]
    if "_source" in params or includes or excludes:
        fetch, inc, exc = parse_source_param(params.get("_source")) if "_source" in params else (True, [], [])
        req.fetch_source = fetch
        req.source_includes = includes or inc
        req.source_excludes = excludes or exc
    if "track_total_hits" in params:
        req.track_total_hits = parse_track_total_hits(params["track_total_hits"])
    if "sort" in params:
        req.sort = (req.sort or []) + parse_sort_param(params["sort"])
    if "search_type" in params and params["search_type"] not in SEARCH_TYPES:
        raise IllegalArgument(f"No search type for [{params['search_type']}]")
    req.rest_total_hits_as_int = parse_flag(params.get("rest_total_hits_as_int"), False)
    req.typed_keys = parse_flag(params.get("typed_keys"), False)
    req.allow_partial_search_results = parse_flag(params.get("allow_partial_search_results"), True)
    return req


def _param_int(params: Mapping[str, str], name: str) -> int:
    value = params[name]
    try:
        return int(value)
    except ValueError:
        raise IllegalArgument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


def parse_search(body: Mapping[str, Any] | None, params: Mapping[str, str], raw: bytes | None = None,
                 *, query_from_params: bool = True) -> SearchRequest:
    """The whole request: body, then URL parameters, then the checks SearchRequest.validate
    and RestSearchAction make on the combination."""
    body = body or {}
    req = parse_body(body, raw)
    track_in_request = "track_total_hits" in body or "track_total_hits" in params
    if not query_from_params:
        params = {k: v for k, v in params.items() if k != "q"}
    apply_params(req, params)
    if req.rest_total_hits_as_int:
        if not track_in_request:
            req.track_total_hits = TRACK_ACCURATE
        elif req.track_total_hits not in (TRACK_ACCURATE, TRACK_DISABLED):
            raise IllegalArgument("[rest_total_hits_as_int] cannot be used if the tracking of total hits is "
                                  f"not accurate, got {req.track_total_hits}")
    source_requested = req.fetch_source and ("_source" in body or any(
        p in params for p in ("_source", "_source_includes", "_source_excludes")))
    if req.stored_fields_none and source_requested:
        raise IllegalArgument("[stored_fields] cannot be disabled if [_source] is requested")
    if req.stored_fields_none and req.fields:
        raise IllegalArgument("[stored_fields] cannot be disabled when using the [fields] option")
    validate(req)
    return req


def validate(req: SearchRequest) -> None:
    """SearchRequest.validate: combinations refused before anything runs."""
    errors = []
    if req.search_after is not None and req.from_ > 0:
        errors.append("`from` parameter must be set to 0 when `search_after` is used.")
    if req.aggs is not None:
        errors.extend(req.aggs.validate())  # pipeline aggregations' paths and parents
    if errors:
        raise ActionRequestValidation(errors)
    if req.explain:
        raise IllegalArgument("[explain] is not supported: Strata does not produce score explanations")
    if req.search_after is not None and is_relevance(req.sort):
        # SortBuilder.buildSort drops a sort of `_score` desc alone, so SearchAfterBuilder
        # finds no sort there either
        raise IllegalArgument("Sort must contain at least one field.")
    if req.search_after is not None and len(req.search_after) != len(req.sort):
        raise IllegalArgument(f"search_after has {len(req.search_after)} value(s) but sort has "
                              f"{len(req.sort)}.")


def parse_count_query(body: Mapping[str, Any], params: Mapping[str, str]) -> Any:
    """The query of a `_count` or `_validate/query`: `q=`, the body's `query`, or
    everything. The body holds nothing else."""
    query_body = None
    for key, value in body.items():
        if key != "query":
            raise ParsingError(f"request does not support [{key}]")
        query_body = value
    if params.get("q") is not None:
        return parse_uri_query(params["q"], default_field=params.get("df"),
                               default_operator=params.get("default_operator", "OR"),
                               analyzer=params.get("analyzer"),
                               lenient=parse_flag(params.get("lenient"), False))
    if query_body is not None:
        return parse_query(query_body)
    return parse_query({"match_all": {}})
