"""`_search`, `_count` and `_msearch` on a real node: paging, sorting, totals, source
filtering, multi-shard merging, shard failures and the errors Elasticsearch gives."""

from __future__ import annotations

import orjson
import pytest

from tests.support.sharded import sharded_copies

MAPPING = {"properties": {
    "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "tag": {"type": "keyword"},
    "n": {"type": "integer"},
    "price": {"type": "double"},
    "day": {"type": "date"},
    "flag": {"type": "boolean"},
    "store_me": {"type": "keyword", "store": True},
}}
TAGS = ["red", "green", "blue"]
DOCS = [{"title": f"book number {i} {'quick fox' if i % 4 == 0 else 'lazy dog'}", "tag": TAGS[i % 3],
         "n": i % 7, "price": round(1.5 * (i % 11), 2), "day": f"2024-01-{1 + i % 28:02d}",
         "flag": i % 2 == 0, "store_me": f"s{i}", "nested": {"a": i, "b": "x"}}
        for i in range(40)]
for doc in DOCS[::10]:
    del doc["n"]  # some documents without the sort field


@pytest.fixture(scope="module")
def corpus(node):
    """The same 40 documents in indices of 1, 3 and 5 shards."""
    return sharded_copies(node, "books", (1, 3, 5), MAPPING, DOCS)


def search(http, index, body=None, **params):
    r = http.post(f"/{index}/_search", json=body or {}, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def ids(response):
    return [h["_id"] for h in response["hits"]["hits"]]


# -- shape and basics ---------------------------------------------------------------------------

def test_match_all_shape(http, corpus):
    body = search(http, corpus[1], {"size": 2})
    assert set(body) == {"took", "timed_out", "_shards", "hits"}
    assert body["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    assert body["hits"]["total"] == {"value": 40, "relation": "eq"}
    assert body["hits"]["max_score"] == 1.0
    hit = body["hits"]["hits"][0]
    assert list(hit) == ["_index", "_id", "_score", "_source"]
    assert hit["_index"] == corpus[1] and hit["_score"] == 1.0
    assert hit["_source"] == DOCS[int(hit["_id"])]


def test_get_without_body_and_empty_targets(http, corpus):
    r = http.get(f"/{corpus[3]}/_search")
    assert r.status_code == 200 and r.json()["hits"]["total"]["value"] == 40
    none = http.get("/nothing-matches-*/_search").json()
    assert none["_shards"]["total"] == 0 and none["hits"]["hits"] == [] and none["hits"]["max_score"] == 0.0
    missing = http.get("/no-such-index/_search")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "index_not_found_exception"
    assert http.get("/no-such-index/_search", params={"ignore_unavailable": "true"}).status_code == 200


def test_comma_lists_and_wildcards_merge_indices(http, corpus):
    body = search(http, "books-1,books-3", {"size": 0})
    assert body["hits"]["total"]["value"] == 80 and body["_shards"]["total"] == 4
    assert search(http, "books-*", {"size": 0})["_shards"]["total"] == 9


def test_version_seq_no_and_stored_fields(http, corpus):
    body = {"size": 1, "version": True, "seq_no_primary_term": True}
    hit = search(http, corpus[1], body)["hits"]["hits"][0]
    assert hit["_version"] == 1 and hit["_seq_no"] >= 0 and hit["_primary_term"] >= 1
    hit = search(http, corpus[1], {"size": 1, "stored_fields": "_none_"})["hits"]["hits"][0]
    assert "_id" not in hit and "_source" not in hit
    hit = search(http, corpus[1], {"size": 1, "stored_fields": ["store_me"]})["hits"]["hits"][0]
    assert "_source" not in hit and hit["fields"] == {"store_me": [DOCS[int(hit["_id"])]["store_me"]]}
    hit = search(http, corpus[1], {"size": 1, "stored_fields": ["store_me", "_source"]})["hits"]["hits"][0]
    assert hit["_source"]


def test_source_filtering(http, corpus):
    def first(body=None, **params):
        return search(http, corpus[1], {"size": 1, **(body or {})}, **params)["hits"]["hits"][0]

    assert "_source" not in first({"_source": False})
    assert first({"_source": "nested.a"})["_source"].keys() == {"nested"}
    assert first({"_source": ["tag", "n"]})["_source"].keys() <= {"tag", "n"}
    assert first({"_source": {"includes": ["nested.*"], "excludes": ["nested.b"]}})["_source"] == \
        {"nested": {"a": 0}}
    kept = first(_source_excludes="title,nested")["_source"].keys()
    assert kept == {"tag", "price", "day", "flag", "store_me"}
    assert first({"_source": "tag"}, _source_includes="flag")["_source"] == {"flag": True}


def test_docvalue_fields(http, corpus):
    body = search(http, corpus[1], {"size": 1, "sort": ["_doc"],
                                    "docvalue_fields": ["tag", "day", {"field": "price", "format": "#.00"}]})
    fields = body["hits"]["hits"][0]["fields"]
    assert fields == {"tag": ["red"], "day": ["2024-01-01T00:00:00.000Z"], "price": ["0.00"]}


def test_fields_option_reads_values_as_the_mapping_does(http, corpus):
    fields = ["tag", "title*", {"field": "day", "format": "yyyy/MM/dd"}, "n", "price"]
    body = {"size": 1, "sort": ["_doc"], "_source": False, "fields": fields}
    hit = search(http, corpus[1], body)["hits"]["hits"][0]
    title = DOCS[0]["title"]
    assert "_source" not in hit
    assert hit["fields"] == {"tag": ["red"], "title": [title], "title.raw": [title], "day": ["2024/01/01"],
                             "price": [0.0]}


# -- sort, paging, search_after ------------------------------------------------------------------------

def expected_order(key, reverse=False):
    """Ids in the order Elasticsearch sorts DOCS by one field (missing last), ties by id
    order of insertion (a one-shard index's doc order)."""
    present = [(d[key], i) for i, d in enumerate(DOCS) if key in d]
    missing = [i for i, d in enumerate(DOCS) if key not in d]
    present.sort(key=lambda p: (-p[0] if reverse else p[0], p[1]))
    return [str(i) for _, i in present] + [str(i) for i in missing]


def test_sort_by_field_with_values(http, corpus):
    body = search(http, corpus[1], {"size": 5, "sort": [{"n": "desc"}, "tag"]})
    hits = body["hits"]["hits"]
    assert body["hits"]["max_score"] is None and all(h["_score"] is None for h in hits)
    assert [h["sort"] for h in hits] == [[DOCS[int(h["_id"])]["n"], DOCS[int(h["_id"])]["tag"]] for h in hits]
    assert [h["sort"][0] for h in hits] == [6, 6, 6, 6, 5]  # i % 7 == 6 for four of the documents with n
    body = search(http, corpus[1], {"size": 40, "sort": [{"n": "asc"}]})
    assert ids(body) == expected_order("n")
    assert body["hits"]["hits"][-1]["sort"] == [9223372036854775807]


def test_sort_from_the_url_and_track_scores(http, corpus):
    body = search(http, corpus[1], sort="price:desc", size="3")
    assert ids(body) == expected_order("price", reverse=True)[:3]
    body = search(http, corpus[1], {"sort": ["price"], "track_scores": True, "size": 1})
    assert body["hits"]["hits"][0]["_score"] == 1.0 and body["hits"]["max_score"] == 1.0


@pytest.mark.parametrize("shards", [3, 5])
def test_multi_shard_field_sorts_match_one_shard(http, corpus, shards):
    for sort in ([{"n": "asc"}, {"price": "desc"}, {"tag": "asc"}], [{"day": "desc"}, "title.raw"],
                 [{"tag": "desc"}, {"n": {"order": "asc", "missing": "_first"}}, "title.raw"]):
        one = search(http, corpus[1], {"size": 40, "sort": sort, "_source": False})
        many = search(http, corpus[shards], {"size": 40, "sort": sort, "_source": False})
        assert [h["sort"] for h in many["hits"]["hits"]] == [h["sort"] for h in one["hits"]["hits"]]
        assert many["hits"]["total"] == {"value": 40, "relation": "eq"}
    last_title = [h["sort"][-1] for h in search(http, corpus[shards], {"size": 40, "sort": ["title.raw"]})
                  ["hits"]["hits"]]
    assert last_title == sorted(d["title"] for d in DOCS)


@pytest.mark.parametrize("shards", [1, 3, 5])
def test_from_and_size_pages_tile_the_results(http, corpus, shards):
    sort = [{"price": "asc"}, {"title.raw": "asc"}]
    everything = ids(search(http, corpus[shards], {"size": 40, "sort": sort}))
    paged = []
    for start in range(0, 40, 7):
        paged += ids(search(http, corpus[shards], {"from": start, "size": 7, "sort": sort}))
    assert paged == everything and len(set(paged)) == 40


@pytest.mark.parametrize("shards", [1, 3, 5])
def test_search_after_walks_every_document_once(http, corpus, shards):
    sort = [{"n": "desc"}, {"title.raw": "asc"}]
    seen, after = [], None
    while True:
        body = {"size": 6, "sort": sort}
        if after is not None:
            body["search_after"] = after
        hits = search(http, corpus[shards], body)["hits"]["hits"]
        if not hits:
            break
        seen += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    assert len(seen) == 40 and len(set(seen)) == 40
    assert seen == ids(search(http, corpus[1], {"size": 40, "sort": sort}))


def test_search_after_errors(http, corpus):
    r = http.post(f"/{corpus[1]}/_search", json={"search_after": [1]})
    assert r.status_code == 400 and r.json()["error"]["reason"] == "Sort must contain at least one field."
    r = http.post(f"/{corpus[1]}/_search", json={"from": 2, "sort": ["n"], "search_after": [1]})
    assert r.status_code == 400 and r.json()["error"]["type"] == "action_request_validation_exception"


@pytest.mark.parametrize("shards", [1, 3])
def test_search_after_pages_by_formatted_date_sort_values(http, corpus, shards):
    """The pattern ES documents for point-in-time paging: a date sort with a format gives
    its values as text, and search_after takes them back."""
    sort = [{"day": {"order": "desc", "format": "strict_date_optional_time_nanos"}}, {"store_me": "asc"}]
    seen, after = [], None
    while True:
        body = {"size": 7, "sort": sort, **({"search_after": after} if after else {})}
        hits = search(http, corpus[shards], body)["hits"]["hits"]
        if not hits:
            break
        assert all(h["sort"][0] == DOCS[int(h["_id"])]["day"] + "T00:00:00.000Z" for h in hits)
        seen += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    assert seen == ids(search(http, corpus[1], {"size": 40, "sort": [{"day": "desc"}, {"store_me": "asc"}]}))


def test_a_search_after_value_the_sort_cannot_read_fails_every_shard(http, corpus):
    """Shards with nothing to page through read it too: all shards fail, not a partial 200."""
    r = http.post(f"/{corpus[3]}/_search", json={"query": {"ids": {"values": ["1"]}}, "sort": ["n"],
                                                 "search_after": ["abc"]})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["reason"] == "all shards failed"
    assert error["root_cause"][0]["reason"] == "Failed to parse search_after value for field [n]."
    r = http.post(f"/{corpus[3]}/_search", json={"sort": ["day"], "search_after": ["2024-13-45"]})
    assert r.status_code == 400 and r.json()["error"]["root_cause"][0]["type"] == "parse_exception"


def test_max_result_window(http, corpus):
    r = http.post(f"/{corpus[3]}/_search", json={"from": 9995, "size": 6})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "search_phase_execution_exception" and error["reason"] == "all shards failed"
    assert error["root_cause"][0]["type"] == "illegal_argument_exception"
    assert error["root_cause"][0]["reason"] == (
        "Result window is too large, from + size must be less than or equal to: [10000] but was [10001]. "
        "See the scroll api for a more efficient way to request large data sets. This limit can be set by "
        "changing the [index.max_result_window] index level setting.")
    assert search(http, corpus[3], {"from": 9990, "size": 10})["hits"]["hits"] == []


def test_negative_from_and_size(http, corpus):
    for body in ({"from": -1}, {"size": -5}):
        r = http.post(f"/{corpus[1]}/_search", json=body)
        assert r.status_code == 400 and r.json()["error"]["type"] == "illegal_argument_exception"
    assert http.get(f"/{corpus[1]}/_search", params={"from": "-3"}).status_code == 400


# -- totals --------------------------------------------------------------------------------------

def test_track_total_hits_variants(http, corpus):
    def total(body=None, **params):
        return search(http, corpus[3], body, **params)["hits"].get("total")

    assert total({"track_total_hits": 10}) == {"value": 10, "relation": "gte"}
    assert total({"track_total_hits": 40}) == {"value": 40, "relation": "eq"}
    assert total({"track_total_hits": True}) == {"value": 40, "relation": "eq"}
    assert total({"track_total_hits": False}) is None
    assert total(rest_total_hits_as_int="true") == 40
    assert total(track_total_hits="false", rest_total_hits_as_int="true") == -1
    params = {"rest_total_hits_as_int": "true", "track_total_hits": "100"}
    r = http.get(f"/{corpus[3]}/_search", params=params)
    assert r.status_code == 400
    assert "cannot be used if the tracking of total hits is not accurate, got 100" in r.text


def test_default_track_total_hits_stops_at_ten_thousand(http, index):
    lines = b"".join(b'{"index":{}}\n{"v":1}\n' for _ in range(10_050))
    r = http.post(f"/{index}/_bulk?refresh=true", content=lines,
                  headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and not r.json()["errors"]
    assert search(http, index, {"size": 0})["hits"]["total"] == {"value": 10000, "relation": "gte"}
    assert search(http, index, {"size": 0, "track_total_hits": True})["hits"]["total"]["value"] == 10_050


def test_terminate_after_and_timeout(http, corpus):
    body = search(http, corpus[1], {"terminate_after": 5, "size": 40})
    assert body["terminated_early"] is True and body["hits"]["total"]["value"] == 5
    body = search(http, corpus[1], {"terminate_after": 100})
    assert body["terminated_early"] is False
    assert search(http, corpus[1], {"timeout": "1nanos"})["timed_out"] is True
    assert search(http, corpus[1], {"timeout": "1m"})["timed_out"] is False


# -- refresh visibility ------------------------------------------------------------------------------

def test_documents_are_searchable_only_after_a_refresh(http, index_name):
    index = index_name
    http.put(f"/{index}", json={"settings": {"number_of_shards": 2, "refresh_interval": "-1"}})
    assert http.put(f"/{index}/_doc/1", json={"a": 1}).status_code == 201
    assert search(http, index)["hits"]["total"]["value"] == 0
    assert http.get(f"/{index}/_count").json()["count"] == 0
    assert http.post(f"/{index}/_refresh").status_code == 200
    assert ids(search(http, index)) == ["1"]
    assert http.get(f"/{index}/_count").json()["count"] == 1


# -- _count, _msearch --------------------------------------------------------------------------------

def test_count(http, corpus):
    r = http.get(f"/{corpus[3]}/_count")
    assert r.json() == {"count": 40, "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0}}
    assert http.post("/books-1,books-5/_count").json()["count"] == 80
    r = http.post(f"/{corpus[3]}/_count", json={"size": 1})
    assert r.status_code == 400 and r.json()["error"]["type"] == "parsing_exception"
    assert http.get("/_count").status_code == 200


def test_msearch(http, corpus):
    lines = [{"index": corpus[3]}, {"size": 1, "sort": [{"price": "desc"}]},
             {"index": "no-such-index"}, {},
             {}, {"size": 0},
             {"index": corpus[1]}, {"from": 9999, "size": 2}]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    r = http.post("/_msearch", content=data, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    first, missing, everything, window = r.json()["responses"]
    assert first["status"] == 200 and first["hits"]["hits"][0]["sort"] == [15.0]
    assert missing["status"] == 404 and missing["error"]["type"] == "index_not_found_exception"
    assert everything["status"] == 200 and everything["hits"]["total"]["value"] >= 120
    assert window["status"] == 400 and window["error"]["type"] == "search_phase_execution_exception"
    r = http.post(f"/{corpus[1]}/_msearch", content=b'{}\n{"size":0}\n',
                  headers={"content-type": "application/x-ndjson"})
    assert r.json()["responses"][0]["hits"]["total"]["value"] == 40
    r = http.post("/_msearch", content=b'{"bogus":1}\n{}\n', headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 400 and "is not supported in the metadata section" in r.text


# -- errors --------------------------------------------------------------------------------------------

def test_request_errors_are_plain_400s(http, corpus):
    r = http.post(f"/{corpus[1]}/_search", json={"foo": {"bar": 1}})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "parsing_exception"
    assert r.json()["error"]["reason"] == "Unknown key for a START_OBJECT in [foo]."
    r = http.post(f"/{corpus[1]}/_search", json={"query": {"no_such_query": {}}})
    assert r.status_code == 400 and r.json()["error"]["type"] == "parsing_exception"
    r = http.post(f"/{corpus[1]}/_search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "x_content_parse_exception"
    r = http.get(f"/{corpus[1]}/_search", params={"bogus": "1"})
    assert r.status_code == 400 and "unrecognized parameter: [bogus]" in r.text


def test_sort_errors_fail_every_shard(http, corpus):
    r = http.post(f"/{corpus[3]}/_search", json={"sort": ["title"]})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "search_phase_execution_exception"
    assert error["root_cause"][0]["type"] == "illegal_argument_exception"
    assert "Fielddata is disabled on [title]" in error["root_cause"][0]["reason"]
    r = http.post(f"/{corpus[3]}/_search", json={"sort": ["nope"]})
    assert r.status_code == 400
    uuid = http.get(f"/{corpus[3]}/_settings").json()[corpus[3]]["settings"]["index"]["uuid"]
    assert r.json()["error"]["root_cause"][0] == {"type": "query_shard_exception",
                                                  "reason": "No mapping found for [nope] in order to sort on",
                                                  "index_uuid": uuid, "index": corpus[3]}
    body = search(http, corpus[3], {"sort": [{"nope": {"unmapped_type": "long"}}], "size": 1})
    assert body["hits"]["hits"][0]["sort"] == [9223372036854775807]


def test_a_failing_shard_is_reported_beside_the_results(http):
    http.put("/fail-dates", json={"settings": {"number_of_shards": 2, "number_of_replicas": 0},
                                  "mappings": {"properties": {"when": {"type": "date"}}}})
    http.put("/fail-words", json={"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                                  "mappings": {"properties": {"when": {"type": "keyword"}}}})
    http.put("/fail-dates/_doc/1?refresh=true", json={"when": "2024-01-01"})
    http.put("/fail-words/_doc/1?refresh=true", json={"when": "monday"})
    body = search(http, "fail-dates,fail-words", {"query": {"range": {"when": {"gte": "monday"}}}})
    shards = body["_shards"]
    assert (shards["total"], shards["successful"], shards["failed"]) == (3, 1, 2)
    [failure] = body["_shards"]["failures"]  # two shards, one cause: grouped as Elasticsearch groups them
    assert failure["index"] == "fail-dates" and failure["node"] and failure["reason"]["type"]
    assert [(h["_index"], h["_id"]) for h in body["hits"]["hits"]] == [("fail-words", "1")]
    r = http.post("/fail-dates,fail-words/_search", params={"allow_partial_search_results": "false"},
                  json={"query": {"range": {"when": {"gte": "monday"}}}})
    assert r.status_code == 400 and r.json()["error"]["reason"] == "Partial shards failure"
    r = http.post("/fail-dates/_search", json={"query": {"range": {"when": {"gte": "monday"}}}})
    assert r.status_code == 400 and r.json()["error"]["type"] == "search_phase_execution_exception"
    r = http.post("/fail-dates,fail-words/_count", json={"query": {"range": {"when": {"gte": "monday"}}}})
    assert r.json()["count"] == 1 and r.json()["_shards"]["failed"] == 2


def test_routing_narrows_the_shards(http, corpus):
    body = search(http, corpus[5], {"size": 0}, routing="a")
    assert body["_shards"]["total"] == 1


def test_a_shards_preference_searches_only_the_shards_it_lists(http, corpus):
    # OperationRouting leaves the unlisted shards out of the search and of _shards.total
    per_shard = [search(http, corpus[5], {"size": 0}, preference=f"_shards:{n}") for n in range(5)]
    assert [b["_shards"]["total"] for b in per_shard] == [1] * 5
    counts = [b["hits"]["total"]["value"] for b in per_shard]
    assert sum(counts) == 40
    body = search(http, corpus[5], {"size": 40}, preference="_shards:0,2")
    assert body["_shards"] == {"total": 2, "successful": 2, "skipped": 0, "failed": 0}
    assert body["hits"]["total"]["value"] == len(body["hits"]["hits"]) == counts[0] + counts[2]
    then_local = search(http, corpus[5], {"size": 0}, preference="_shards:0|_local")
    assert then_local["_shards"]["total"] == 1 and then_local["hits"]["total"]["value"] == counts[0]
    r = http.get(f"/{corpus[5]}/_count", params={"preference": "_shards:1,3"})
    assert r.json() == {"count": counts[1] + counts[3],
                        "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0}}


def test_an_unknown_underscore_preference_is_refused(http, corpus):
    refused = (("_bogus", "_bogus"), ("_primary", "_primary"), ("_shards:0|_replica", "_replica"))
    for preference, name in refused:
        for path in (f"/{corpus[3]}/_search", f"/{corpus[3]}/_count"):
            r = http.get(path, params={"preference": preference})
            assert r.status_code == 400, (path, preference)
            error = r.json()["error"]
            assert error["type"] == "illegal_argument_exception"
            assert error["reason"] == f"no Preference for [{name}]"
    r = http.get(f"/{corpus[3]}/_search", params={"preference": "_shards:x"})
    assert r.status_code == 400 and r.json()["error"]["reason"] == 'For input string: "x"'
    assert search(http, corpus[3], {"size": 0}, preference="_only_local")["_shards"]["failed"] == 0
    assert search(http, corpus[3], {"size": 0}, preference="custom")["hits"]["total"]["value"] == 40


def test_indices_boost(http, corpus):
    body = search(http, "books-1,books-3", {"size": 1, "indices_boost": [{"books-3": 2.0}]})
    assert body["hits"]["hits"][0]["_index"] == "books-3" and body["hits"]["max_score"] == 2.0
    body = search(http, "books-1,books-3", {"size": 1, "indices_boost": [{"books-1": 3.0}]})
    assert body["hits"]["hits"][0]["_index"] == "books-1"


def test_validate_query(http, corpus):
    r = http.post(f"/{corpus[3]}/_validate/query", json={"query": {"term": {"tag": "red"}}})
    assert r.json() == {"_shards": {"total": 1, "successful": 1, "failed": 0}, "valid": True}
    r = http.post(f"/{corpus[3]}/_validate/query", params={"explain": "true"}, json={"query": {"bogus": {}}})
    assert r.status_code == 200 and r.json()["valid"] is False and "ParsingException" in r.json()["error"]
    r = http.post(f"/{corpus[3]}/_validate/query", params={"explain": "true", "all_shards": "true"},
                  json={"query": {"range": {"day": {"gte": "not a date"}}}})
    body = r.json()
    assert body["valid"] is False and body["_shards"]["total"] == 3
    assert [(e["index"], e["shard"], e["valid"]) for e in body["explanations"]] == \
        [(corpus[3], n, False) for n in range(3)]
    assert http.get("/_validate/query", params={"q": "tag:red"}).json()["valid"] is True
