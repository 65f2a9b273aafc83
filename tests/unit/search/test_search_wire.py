"""What search sends between nodes survives the transport's msgpack: every aggregation's
shard partial, query results with their sort and merge values, fetched hits with raw
sources, a search body a remote shard parses again into the same request, and a shard's
error."""

from typing import Any

import orjson
import pytest

from strata_node.common.errors import IllegalArgument, QueryShardError, detailed_message, error_body
from strata_node.search.aggregations import AGGREGATIONS, parse_aggregations
from strata_node.search.request import REQUEST_PARAMS, parse_search
from strata_node.search.shard_search import FetchSpec, ShardQueryResult, fetch_phase, query_phase
from strata_node.search.transport_actions import (
    FetchShardRequest,
    FetchShardResponse,
    QueryShardRequest,
    search_request,
)
from strata_node.transport import wire
from strata_node.transport.service import RemoteTransportError, _error
from strata_node.transport.wire import Message

from .shards import match_all, shards

MAPPING = {"properties": {"status": {"type": "keyword"}, "code": {"type": "long"},
                          "price": {"type": "double"}, "ratio": {"type": "float"}, "ts": {"type": "date"},
                          "ok": {"type": "boolean"}, "ip": {"type": "ip"}, "title": {"type": "text"},
                          "loc": {"type": "geo_point"}}}
DOCS = [{"status": "ok", "code": 200, "price": 10.0, "ratio": 1.5, "ts": "2024-01-01", "ok": True,
         "ip": "10.0.0.1", "title": "quick fox", "loc": "52.37,4.91"},
        {"status": "ok", "code": 200, "price": 20.5, "ts": "2024-01-02T10:00:00Z", "ok": True,
         "ip": "10.0.0.2", "title": "lazy dog", "loc": ["48.86,2.33", "-17.7,178.4"]},
        {"status": "error", "code": 500, "price": 10.0, "ts": "2024-01-01", "ok": False, "ip": "::1",
         "title": "quick dog"},
        {"status": "ok", "code": 404, "title": "fox", "loc": "-14.3,-170.7"},
        {"status": "warn", "ratio": 0.25, "ts": "2023-12-31T23:00:00Z"}]
SUBS = {"m": {"max": {"field": "price"}},
        "top": {"top_hits": {"size": 2, "sort": [{"ts": "desc"}, {"ip": "asc"}]}}}

# Every aggregation type, with the options that change what its partial holds: formats,
# `missing`, date math resolved on the shard, sub-aggregations, unmapped fields.
BODIES: dict[str, dict] = {
    **{f"terms_{f}": {"terms": {"field": f}, "aggs": SUBS}
       for f in ("status", "code", "price", "ratio", "ts", "ok", "ip", "unmapped")},
    "terms_missing_keyword": {"terms": {"field": "status", "missing": "none", "min_doc_count": 0}},
    "terms_missing_ip": {"terms": {"field": "ip", "missing": "10.9.9.9"}},
    "terms_by_metric": {"terms": {"field": "status", "order": {"m": "desc"}},
                        "aggs": {"m": {"avg": {"field": "code"}}}},
    **{f"{metric}_{f}": {metric: {"field": f}}
       for metric in ("min", "max", "sum", "avg", "stats", "value_count", "cardinality")
       for f in ("code", "price", "ratio", "ts", "ok")},
    "cardinality_keyword": {"cardinality": {"field": "status"}},
    "cardinality_ip": {"cardinality": {"field": "ip"}},
    "value_count_keyword": {"value_count": {"field": "status"}},
    "avg_formatted": {"avg": {"field": "price", "format": "0.00"}},
    "histogram": {"histogram": {"field": "price", "interval": 5, "extended_bounds": {"min": 0, "max": 40}},
                  "aggs": {"s": {"sum": {"field": "code"}}}},
    "date_histogram": {"date_histogram": {"field": "ts", "calendar_interval": "day", "time_zone": "+01:00",
                                          "extended_bounds": {"min": "now-1d/d", "max": "2024-01-05"}},
                       "aggs": {"c": {"cardinality": {"field": "status"}}}},
    "date_histogram_fixed": {"date_histogram": {"field": "ts", "fixed_interval": "12h",
                                                "hard_bounds": {"min": "2024-01-01", "max": "2024-01-03"}}},
    "range": {"range": {"field": "price", "ranges": [{"to": 15}, {"from": 15}]},
              "aggs": {"t": {"terms": {"field": "ip"}}}},
    "date_range": {"date_range": {"field": "ts", "ranges": [{"to": "now"}, {"from": "2024-01-02"}]}},
    "filter": {"filter": {"term": {"status": "ok"}}, "aggs": {"a": {"avg": {"field": "code"}}}},
    "filters": {"filters": {"filters": {"a": {"term": {"status": "ok"}}, "b": {"match": {"title": "dog"}}},
                            "other_bucket": True}},
    "extended_stats": {"extended_stats": {"field": "price", "sigma": 1.5}},
    "extended_stats_date": {"extended_stats": {"field": "ts"}},
    "percentiles": {"percentiles": {"field": "price", "percents": [10, 50.5, 99], "format": "0.0"}},
    "percentiles_date": {"percentiles": {"field": "ts", "keyed": False, "tdigest": {"compression": 50}}},
    "percentiles_missing": {"percentiles": {"field": "code", "missing": 1}},
    "percentile_ranks": {"percentile_ranks": {"field": "code", "values": [200, 404.5]}},
    "weighted_avg": {"weighted_avg": {"value": {"field": "price"},
                                      "weight": {"field": "code", "missing": 1}}},
    "missing": {"missing": {"field": "price"}, "aggs": SUBS},
    "global": {"global": {}, "aggs": {"a": {"avg": {"field": "code"}}}},
    "top_hits": {"top_hits": {"size": 3, "sort": [{"price": "desc"}], "_source": ["status"],
                              "version": True}},
    "top_hits_by_score": {"top_hits": {"size": 3}},
    "geo_bounds": {"geo_bounds": {"field": "loc"}},
    "geo_centroid": {"geo_centroid": {"field": "loc", "missing": "0,0"}},
    "geohash_grid": {"geohash_grid": {"field": "loc", "precision": 2}, "aggs": SUBS},
    "geotile_grid": {"geotile_grid": {"field": "loc", "precision": 3,
                                      "bounds": {"wkt": "BBOX (-10, 10, 60, 40)"}},
                     "aggs": {"c": {"geo_centroid": {"field": "loc"}}}},
    "geo_distance": {"geo_distance": {"field": "loc", "origin": "50,3", "unit": "km",
                                      "ranges": [{"to": 500}, {"from": 500}]}, "aggs": SUBS},
}


class Partial(Message):
    aggs: Any = None


def over_the_wire(message: Message) -> Message:
    return wire.decode_body(wire.encode(message), type(message))


def test_every_aggregation_type_is_covered():
    covered = {next(k for k in body if k != "aggs") for body in BODIES.values()}
    assert covered == set(AGGREGATIONS)


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    with shards(tmp_path_factory.mktemp("wire"), MAPPING, [DOCS[:3], DOCS[3:]]) as contexts:
        yield contexts


@pytest.mark.parametrize("name", sorted(BODIES))
def test_an_aggregation_partial_reduces_the_same_after_the_wire(contexts, name):
    aggs = parse_aggregations({name: BODIES[name]})
    partials = [aggs.collect(ctx, match_all(ctx, scored=True)) for ctx in contexts]
    travelled = [over_the_wire(Partial(aggs=p)).aggs for p in partials]
    assert aggs.render(aggs.reduce(travelled)) == aggs.render(aggs.reduce(partials))


@pytest.mark.parametrize("sort", [
    None,
    [{"status": "asc"}, {"ip": "desc"}],
    [{"ip": {"order": "asc", "missing": "_first"}}],
    [{"ratio": "asc"}, {"code": {"order": "desc", "missing": "_last"}}],
    [{"ts": "desc"}, "_score"],
])
def test_a_query_result_round_trips_with_its_sort_and_merge_values(contexts, sort):
    body: dict = {"query": {"match": {"title": "fox dog"}}, "size": 4,
                  "aggs": {"s": {"terms": {"field": "status"}, "aggs": SUBS}}}
    if sort is not None:
        body["sort"] = sort
    req = parse_search(body, {})
    for ctx in contexts:
        result = query_phase(ctx, req, req.query, max_result_window=10_000)
        assert result.seqs
        back = over_the_wire(result)
        assert back == result
        assert type(back) is ShardQueryResult


def test_a_remote_shard_parses_the_request_the_coordinator_parsed(contexts):
    raw = orjson.dumps({"query": {"bool": {"must": {"match": {"title": "dog"}},
                                           "filter": {"range": {"ts": {"gte": "now-10y"}}}}},
                        "sort": [{"price": {"order": "desc", "missing": "_first"}}], "size": 3,
                        "post_filter": {"term": {"ok": True}}, "aggs": {"t": {"terms": {"field": "status"}}},
                        "track_total_hits": True})
    params = {"from": "1", "terminate_after": "50", "rest_total_hits_as_int": "true", "typed_keys": "true",
              "pretty": "true"}
    shard_params = {k: v for k, v in params.items() if k in REQUEST_PARAMS}
    req = parse_search(orjson.loads(raw), params, raw)
    local = QueryShardRequest(index="test", index_uuid="uuid", shard=0, now_millis=0, body=raw,
                              params=shard_params, timeout=2.5, parsed=(req, req.query))
    remote = over_the_wire(QueryShardRequest(index="test", index_uuid="uuid", shard=0, now_millis=0, body=raw,
                                             params=shard_params, timeout=2.5))
    local_req, local_query = search_request(local)
    remote_req, remote_query = search_request(remote)
    assert remote_req.timeout == 2.5 and remote_req.from_ == 1 and remote_req.terminate_after == 50
    for ctx in contexts:
        assert query_phase(ctx, remote_req, remote_query, max_result_window=10_000) == \
            query_phase(ctx, local_req, local_query, max_result_window=10_000)


def test_fetched_hits_travel_with_their_raw_and_filtered_sources(contexts):
    ctx = contexts[0]
    seqs = ctx.reader.docs().tolist()
    req = parse_search({"docvalue_fields": ["ts"], "fields": ["code"], "version": True}, {})
    spec = FetchSpec.of(req, source_explicit=False)
    request = over_the_wire(FetchShardRequest(context_id="s:1", seqs=seqs, scores=[1.0] * len(seqs),
                                              sort_values=[[1, "x", None]] * len(seqs), spec=spec))
    assert request.spec == spec
    hits = fetch_phase(ctx, request.seqs, request.scores, request.sort_values, request.spec)
    assert all(isinstance(h["_source"], bytes) for h in hits)
    back = over_the_wire(FetchShardResponse(hits=hits)).hits
    assert back == hits
    assert [orjson.loads(h["_source"]) for h in back] == DOCS[:3]
    filtered = FetchSpec.of(parse_search({"_source": ["status"]}, {}), source_explicit=True)
    hits = fetch_phase(ctx, seqs, [None] * len(seqs), None, filtered)
    assert over_the_wire(FetchShardResponse(hits=hits)).hits == hits
    assert [h["_source"] for h in hits] == [{"status": d["status"]} for d in DOCS[:3]]


def test_a_remote_shard_error_reads_as_the_local_one():
    local = QueryShardError("failed to create query: x", index_uuid="u1", index="logs",
                            caused_by=IllegalArgument("For input string: \"x\""))
    remote = RemoteTransportError(over_the_wire(Partial(aggs=_error(local))).aggs)
    assert remote.status == local.status
    assert error_body(remote) == error_body(local)
    assert remote.root_causes() == local.root_causes()
    assert detailed_message(remote) == detailed_message(local)
