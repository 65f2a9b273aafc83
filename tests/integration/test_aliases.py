"""Index aliases on a real node over HTTP: the alias APIs and their Elasticsearch errors,
and aliases resolved in writes, reads, searches and index APIs. Each test works in
indices named after itself."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, NotFoundError

MAPPINGS = {"properties": {"tag": {"type": "keyword"}, "n": {"type": "integer"}}}


def create(http, name: str, shards: int = 1, **body) -> str:
    response = http.put(f"/{name}", json={"settings": {"number_of_shards": shards, "number_of_replicas": 0},
                                          "mappings": MAPPINGS, **body})
    assert response.status_code == 200, response.text
    return name


def update(http, *actions):
    return http.post("/_aliases", json={"actions": list(actions)})


def write(http, target: str, id: str, doc: dict, **params):
    return http.put(f"/{target}/_doc/{id}", json=doc, params={"refresh": "true", **params})


def count(http, target: str, **params) -> int:
    response = http.get(f"/{target}/_count", params=params)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["reason"]


@pytest.fixture
def pair(http, index_name) -> tuple[str, str]:
    return create(http, f"{index_name}-a"), create(http, f"{index_name}-b")


# -- the alias APIs ---------------------------------------------------------------------------


def test_update_aliases_acknowledges_and_get_alias_shows_normalized_definitions(http, pair):
    a, b = pair
    response = update(http, {"add": {"index": a, "alias": "al-norm", "routing": 1,
                                     "filter": {"term": {"tag": "x"}}}},
                      {"add": {"indices": [a, b], "aliases": ["al-both"], "is_hidden": False}})
    assert response.json() == {"acknowledged": True, "errors": False}
    assert http.get(f"/{a}/_alias/al-norm").json() == {a: {"aliases": {"al-norm": {
        "filter": {"term": {"tag": "x"}}, "index_routing": "1", "search_routing": "1"}}}}
    assert http.get("/_alias/al-both").json() == {a: {"aliases": {"al-both": {"is_hidden": False}}},
                                                  b: {"aliases": {"al-both": {"is_hidden": False}}}}


def test_put_and_delete_alias_endpoints(http, pair):
    a, _ = pair
    assert http.put(f"/{a}/_alias/al-put", json={"routing": "r"}).status_code == 200
    assert http.post(f"/{a}/_aliases/al-post").status_code == 200
    assert set(http.get(f"/{a}/_alias").json()[a]["aliases"]) == {"al-put", "al-post"}
    assert http.head("/_alias/al-put").status_code == 200
    assert http.delete(f"/{a}/_alias/al-put").json() == {"acknowledged": True, "errors": False}
    assert http.delete(f"/{a}/_aliases/al-post").status_code == 200
    assert http.head("/_alias/al-put").status_code == 404
    assert http.get(f"/{a}/_alias").json() == {a: {"aliases": {}}}


def test_put_alias_reads_only_the_keys_rest_index_put_alias_action_knows(http, pair, index_name):
    """`is_hidden` is not one of them: the alias it makes is visible; unknown keys are
    ignored rather than refused, and the routings have camelCase and dashed spellings."""
    a, _ = pair
    response = http.put(f"/{a}/_alias/{index_name}-h", json={"is_hidden": True, "indexRouting": "1",
                                                              "search-routing": "2", "bogus": 1})
    assert response.json() == {"acknowledged": True, "errors": False}
    assert http.get(f"/{a}/_alias/{index_name}-h").json() == {a: {"aliases": {f"{index_name}-h": {
        "index_routing": "1", "search_routing": "2"}}}}
    assert http.get(f"/{index_name}-h*/_count").json()["_shards"]["total"] == 1  # a wildcard reaches it
    assert error_of(http.put(f"/{a}/_alias/x,y"))[:2] == (400, "invalid_alias_name_exception")


@pytest.mark.parametrize("body", [{"actions": []}, {}])
def test_update_aliases_without_any_action_is_refused_before_validation(http, body):
    """RestIndicesAliasesAction: IllegalArgumentException, not the request's validation."""
    assert error_of(http.post("/_aliases", json=body)) == (400, "illegal_argument_exception",
                                                           "No action specified")


def test_get_of_a_missing_alias_is_404_with_elasticsearchs_flat_error(http, pair):
    a, _ = pair
    update(http, {"add": {"index": a, "alias": "al-there"}})
    assert http.get("/_alias/al-nowhere").json() == {"error": "alias [al-nowhere] missing", "status": 404}
    response = http.get(f"/{a}/_alias/al-there,al-nowhere")
    assert response.status_code == 404
    assert response.json() == {a: {"aliases": {"al-there": {}}}, "error": "alias [al-nowhere] missing",
                               "status": 404}
    assert http.get("/_alias/al-nowhere*").json() == {}


def test_delete_of_a_missing_alias_is_aliases_not_found(http, pair):
    a, _ = pair
    assert error_of(http.delete(f"/{a}/_alias/al-missing")) == (
        404, "aliases_not_found_exception", "aliases [al-missing] missing")


def test_a_remove_that_matches_nothing_fails_alone_in_the_action_results(http, pair):
    a, b = pair
    update(http, {"add": {"indices": [a, b], "alias": "al-gone"}})
    response = update(http, {"remove": {"index": f"{b},{a}", "alias": "al-gone"}},
                      {"remove": {"index": a, "alias": "al-nope"}},
                      {"add": {"index": b, "alias": "al-new"}})
    assert response.status_code == 200
    assert response.json() == {"acknowledged": True, "errors": True, "action_results": [
        {"action": {"type": "remove", "indices": [a, b], "aliases": ["al-gone"]}, "status": 200},
        {"action": {"type": "remove", "indices": [a], "aliases": ["al-nope"]}, "status": 404,
         "error": {"type": "aliases_not_found_exception", "reason": "aliases [al-nope] missing",
                   "resource.type": "aliases", "resource.id": ["al-nope"]}},
        {"action": {"type": "add", "indices": [b], "aliases": ["al-new"]}, "status": 200}]}
    assert http.get(f"/{a},{b}/_alias").json() == {a: {"aliases": {}}, b: {"aliases": {"al-new": {}}}}


def test_remove_with_must_exist_of_a_missing_alias_is_resource_not_found_and_changes_nothing(http, pair):
    a, b = pair
    update(http, {"add": {"index": a, "alias": "al-kept"}})
    response = update(http, {"remove": {"index": a, "alias": "al-kept"}},
                      {"remove": {"index": b, "alias": "al-kept", "must_exist": True}})
    assert error_of(response) == (404, "resource_not_found_exception",
                                  "required alias [al-kept] does not exist")
    assert http.head(f"/{a}/_alias/al-kept").status_code == 200


@pytest.mark.parametrize("block", ["read_only", "metadata"])
def test_a_metadata_write_block_on_an_index_refuses_the_alias_change(http, pair, index_name, block):
    a, b = pair
    assert http.put(f"/{b}/_settings", json={f"index.blocks.{block}": True}).status_code == 200
    try:
        response = update(http, {"add": {"index": a, "alias": "al-blocked"}},
                          {"add": {"index": f"{index_name}-*", "alias": "al-blocked"}})
        status, kind, reason = error_of(response)
        assert (status, kind) == (403, "cluster_block_exception")
        assert reason.startswith(f"index [{b}] blocked by: [FORBIDDEN/")
        assert http.get(f"/{a}/_alias").json() == {a: {"aliases": {}}}
    finally:
        assert http.put(f"/{b}/_settings", json={f"index.blocks.{block}": False}).status_code == 200


def test_a_metadata_block_refuses_reading_aliases(http, pair):
    a, _ = pair
    update(http, {"add": {"index": a, "alias": "al-unreadable"}})
    assert http.put(f"/{a}/_settings", json={"index.blocks.metadata": True}).status_code == 200
    try:
        assert error_of(http.get(f"/{a}/_alias")) == (
            403, "cluster_block_exception", f"index [{a}] blocked by: [FORBIDDEN/9/index metadata (api)];")
        assert http.get("/_alias/al-unreadable").status_code == 403
        assert http.head(f"/{a}/_alias/al-unreadable").status_code == 403
    finally:
        assert http.put(f"/{a}/_settings", json={"index.blocks.metadata": False}).status_code == 200
    assert http.head(f"/{a}/_alias/al-unreadable").status_code == 200


def test_alias_named_as_an_existing_index_is_invalid_alias_name(http, pair):
    a, b = pair
    assert error_of(update(http, {"add": {"index": a, "alias": b}})) == (
        400, "invalid_alias_name_exception",
        f"Invalid alias name [{b}]: an index or data stream exists with the same name as the alias")


def test_index_named_as_an_existing_alias_is_invalid_index_name(http, pair, index_name):
    a, _ = pair
    update(http, {"add": {"index": a, "alias": f"{index_name}-al"}})
    response = http.put(f"/{index_name}-al")
    assert error_of(response) == (400, "invalid_index_name_exception",
                                  f"Invalid index name [{index_name}-al], already exists as alias")


def test_two_write_indices_are_an_illegal_state_and_nothing_of_the_request_applies(http, pair):
    a, b = pair
    response = update(http, {"add": {"index": a, "alias": "al-first"}},
                      {"add": {"index": a, "alias": "al-w", "is_write_index": True}},
                      {"add": {"index": b, "alias": "al-w", "is_write_index": True}})
    assert error_of(response) == (500, "illegal_state_exception",
                                  f"alias [al-w] has more than one write index [{a},{b}]")
    assert http.get(f"/{a}/_alias").json() == {a: {"aliases": {}}}


def test_filter_that_does_not_fit_the_mapping_is_refused_when_added(http, pair):
    a, _ = pair
    response = update(http, {"add": {"index": a, "alias": "al-bad", "filter": {"term": {"n": "many"}}}})
    assert error_of(response) == (400, "illegal_argument_exception",
                                  "failed to parse filter for alias [al-bad]")


def test_remove_index_and_add_its_name_as_alias_in_one_request(http, pair):
    a, b = pair
    assert update(http, {"remove_index": {"index": a}}, {"add": {"index": b, "alias": a}}).status_code == 200
    assert http.get(f"/{a}/_alias").json() == {b: {"aliases": {a: {}}}}


def test_create_index_body_aliases_are_normalized_and_shown_by_get_index(http, index_name):
    create(http, index_name, aliases={"al-created": {"routing": "2", "is_write_index": True}})
    aliases = http.get(f"/{index_name}").json()[index_name]["aliases"]
    assert aliases == {"al-created": {"index_routing": "2", "search_routing": "2", "is_write_index": True}}


def test_cluster_state_lists_alias_names_and_bumps_aliases_version(http, pair):
    a, _ = pair
    update(http, {"add": {"index": a, "aliases": ["al-z", "al-y"]}})
    metadata = http.get(f"/_cluster/state/metadata/{a}").json()["metadata"]["indices"][a]
    assert metadata["aliases"] == ["al-y", "al-z"]
    assert metadata["aliases_version"] == 2


def test_cat_aliases_shows_filter_routing_and_write_index(http, pair):
    a, b = pair
    update(http, {"add": {"index": a, "alias": "al-cat", "filter": {"term": {"tag": "x"}},
                          "index_routing": "1", "search_routing": "1,2", "is_write_index": True}},
           {"add": {"index": b, "alias": "al-cat"}})
    rows = http.get("/_cat/aliases/al-cat", params={"format": "json", "s": "index"}).json()
    assert rows == [
        {"alias": "al-cat", "index": a, "filter": "*", "routing.index": "1", "routing.search": "1,2",
         "is_write_index": "true"},
        {"alias": "al-cat", "index": b, "filter": "-", "routing.index": "-", "routing.search": "-",
         "is_write_index": "-"}]


# -- resolution in the read and write paths ---------------------------------------------------


def test_writes_through_an_alias_go_to_its_write_index(http, pair):
    a, b = pair
    update(http, {"add": {"index": a, "alias": "al-write"}},
           {"add": {"index": b, "alias": "al-write", "is_write_index": True}})
    response = write(http, "al-write", "1", {"tag": "x"})
    assert response.status_code == 201 and response.json()["_index"] == b


def test_writes_through_an_alias_without_write_index_fail(http, pair):
    a, b = pair
    update(http, {"add": {"indices": [a, b], "alias": "al-nowrite"}})
    assert error_of(write(http, "al-nowrite", "1", {"tag": "x"})) == (
        400, "illegal_argument_exception",
        "no write index is defined for alias [al-nowrite]. The write index may be explicitly disabled using "
        "is_write_index=false or the alias points to multiple indices without one being designated as a "
        "write index")


def test_bulk_require_alias_accepts_an_alias_and_refuses_an_index(http, pair):
    a, _ = pair
    update(http, {"add": {"index": a, "alias": "al-required"}})
    body = (f'{{"index":{{"_index":"al-required","_id":"1"}}}}\n{{"tag":"x"}}\n'
            f'{{"index":{{"_index":"{a}","_id":"2"}}}}\n{{"tag":"y"}}\n')
    items = http.post("/_bulk", content=body, params={"require_alias": "true"},
                      headers={"content-type": "application/x-ndjson"}).json()["items"]
    assert items[0]["index"]["_index"] == a and items[0]["index"]["status"] == 201
    assert items[1]["index"]["error"]["type"] == "index_not_found_exception"


def test_alias_index_routing_applies_to_writes_and_gets(http, index_name):
    name = create(http, index_name, shards=4)
    update(http, {"add": {"index": name, "alias": "al-routed", "routing": "5"}})
    write(http, "al-routed", "1", {"tag": "x"})
    assert http.get(f"/{name}/_doc/1", params={"routing": "5"}).json()["_routing"] == "5"
    assert http.get("/al-routed/_doc/1").json()["found"] is True
    assert error_of(write(http, "al-routed", "2", {"tag": "x"}, routing="6"))[2] == (
        "Alias [al-routed] has index routing associated with it [5], and was provided with routing "
        "value [6], rejecting operation")


def test_get_through_an_alias_of_several_indices_is_refused(http, pair):
    a, b = pair
    update(http, {"add": {"indices": [a, b], "alias": "al-many"}})
    assert error_of(http.get("/al-many/_doc/1")) == (
        400, "illegal_argument_exception",
        f"alias [al-many] has more than one index associated with it [{a}, {b}], can't execute a single "
        "index op")


def test_search_and_count_through_a_filtered_alias_see_only_its_documents(http, pair):
    a, _ = pair
    write(http, a, "1", {"tag": "x"})
    write(http, a, "2", {"tag": "y"})
    update(http, {"add": {"index": a, "alias": "al-filtered", "filter": {"term": {"tag": "x"}}}})
    assert count(http, "al-filtered") == 1
    hits = http.post("/al-filtered/_search", json={"query": {"match_all": {}}}).json()["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
    assert count(http, f"al-filtered,{a}") == 2  # the index named itself is searched unfiltered


def test_search_routing_of_an_alias_picks_the_shards(http, index_name):
    name = create(http, index_name, shards=4)
    update(http, {"add": {"index": name, "alias": "al-search-routed", "search_routing": "a"}})
    for n, routing in enumerate("abcdefgh"):
        write(http, name, str(n), {"tag": "x"}, routing=routing)
    routed = http.get("/al-search-routed/_search").json()
    assert routed["_shards"]["total"] == 1
    direct = http.get(f"/{name}/_search", params={"routing": "a"}).json()
    assert {h["_id"] for h in routed["hits"]["hits"]} == {h["_id"] for h in direct["hits"]["hits"]}


def test_delete_index_through_an_alias_is_refused(http, pair):
    a, _ = pair
    update(http, {"add": {"index": a, "alias": "al-nodelete"}})
    assert error_of(http.delete("/al-nodelete")) == (
        400, "illegal_argument_exception",
        "The provided expression [al-nodelete] matches an alias, specify the corresponding concrete indices "
        "instead.")
    assert http.head(f"/{a}").status_code == 200


def test_index_apis_resolve_an_alias_to_its_indices(http, pair):
    a, b = pair
    update(http, {"add": {"indices": [a, b], "alias": "al-admin"}})
    assert set(http.get("/al-admin/_settings").json()) == {a, b}
    extra = {"properties": {"extra": {"type": "keyword"}}}
    assert http.put("/al-admin/_mapping", json=extra).status_code == 200
    assert "extra" in http.get(f"/{b}/_mapping").json()[b]["mappings"]["properties"]
    assert http.post("/al-admin/_refresh").json()["_shards"]["total"] == 2


# -- the official client ----------------------------------------------------------------------


def test_elasticsearch_client_alias_apis(es, index_name):
    index = f"{index_name}-es"
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0},
                      mappings=MAPPINGS)
    es.indices.put_alias(index=index, name="al-client", filter={"term": {"tag": "x"}}, is_write_index=True)
    assert es.indices.exists_alias(name="al-client")
    es.index(index="al-client", id="1", document={"tag": "x"}, refresh=True)
    es.index(index="al-client", id="2", document={"tag": "y"}, refresh=True)
    assert es.count(index="al-client")["count"] == 1
    assert es.indices.get_alias(name="al-client").body == {index: {"aliases": {"al-client": {
        "filter": {"term": {"tag": "x"}}, "is_write_index": True}}}}
    es.indices.update_aliases(actions=[{"remove": {"index": index, "alias": "al-client"}}])
    assert not es.indices.exists_alias(name="al-client")
    with pytest.raises(NotFoundError):
        es.indices.get_alias(name="al-client")
    with pytest.raises(BadRequestError):
        es.indices.update_aliases(actions=[{"add": {"index": index, "alias": index}}])
