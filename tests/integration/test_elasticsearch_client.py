"""The document and index APIs through the official elasticsearch-py 8 client, unmodified,
against a real node process. Each test works in indices named after itself."""

from __future__ import annotations

import string
from concurrent.futures import ThreadPoolExecutor

import pytest
from elasticsearch import (
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    helpers,
)

from strata_node.index.routing import shard_id

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def index(index_name) -> str:
    """A name only: these tests create the index themselves, through the client."""
    return index_name


def make_index(es: Elasticsearch, name: str, shards: int = 1, **settings) -> str:
    es.indices.create(index=name, settings={"number_of_shards": shards, "number_of_replicas": 0, **settings})
    return name


def ids_on_different_shards(shards: int) -> tuple[str, str]:
    """A document id and a routing value that pick different shards."""
    for n in range(1000):
        routing = f"r{n}"
        if shard_id("doc", routing, shards) != shard_id("doc", None, shards):
            return "doc", routing
    raise AssertionError("no routing value found")


# -- creating, reading and deleting indices ---------------------------------------------------


def test_create_index_applies_shards_replicas_refresh_interval_and_translog_durability(es, index):
    response = es.indices.create(index=index, settings={
        "number_of_shards": 3, "number_of_replicas": 2, "refresh_interval": "5s",
        "translog": {"durability": "async"}})
    assert response.body == {"acknowledged": True, "shards_acknowledged": True, "index": index}
    settings = es.indices.get(index=index)[index]["settings"]["index"]
    assert settings["number_of_shards"] == "3"
    assert settings["number_of_replicas"] == "2"
    assert settings["refresh_interval"] == "5s"
    assert settings["translog"]["durability"] == "async"
    assert settings["provided_name"] == index


def test_create_index_stores_mappings_as_given(es, index):
    mappings = {"properties": {"title": {"type": "text"}, "tags": {"type": "keyword"},
                               "meta": {"properties": {"n": {"type": "long"}}}}}
    es.indices.create(index=index, mappings=mappings)
    assert es.indices.get(index=index)[index]["mappings"] == mappings
    assert es.indices.get_mapping(index=index)[index]["mappings"] == mappings


def test_create_index_twice_is_resource_already_exists(es, index):
    es.indices.create(index=index)
    with pytest.raises(BadRequestError) as e:
        es.indices.create(index=index)
    assert e.value.meta.status == 400
    assert e.value.error == "resource_already_exists_exception"
    assert e.value.body["error"]["index"] == index


def test_indices_exists_answers_true_for_an_index_and_false_for_a_missing_one(es, index):
    es.indices.create(index=index)
    assert es.indices.exists(index=index)
    assert not es.indices.exists(index=f"{index}-missing")


def test_indices_exists_of_a_wildcard_matching_nothing_is_false(es, index):
    assert not es.indices.exists(index=f"{index}-nothing-*")


def test_indices_get_resolves_wildcards_and_comma_lists(es, index):
    for suffix in ("a", "b", "c"):
        es.indices.create(index=f"{index}-{suffix}")
    assert set(es.indices.get(index=f"{index}-*")) == {f"{index}-a", f"{index}-b", f"{index}-c"}
    assert set(es.indices.get(index=f"{index}-a,{index}-c")) == {f"{index}-a", f"{index}-c"}
    assert set(es.indices.get(index=f"{index}-*,-{index}-b")) == {f"{index}-a", f"{index}-c"}


def test_indices_get_of_a_missing_index_is_index_not_found(es, index):
    with pytest.raises(NotFoundError) as e:
        es.indices.get(index=f"{index}-missing")
    assert e.value.error == "index_not_found_exception"
    assert e.value.body["error"]["resource.id"] == f"{index}-missing"


def test_indices_get_with_ignore_unavailable_skips_missing_indices(es, index):
    es.indices.create(index=index)
    found = es.indices.get(index=f"{index},{index}-missing", ignore_unavailable=True)
    assert list(found) == [index]


def test_indices_get_of_a_wildcard_matching_nothing_is_empty_unless_no_indices_are_disallowed(es, index):
    assert es.indices.get(index=f"{index}-nothing-*").body == {}
    with pytest.raises(NotFoundError):
        es.indices.get(index=f"{index}-nothing-*", allow_no_indices=False)


def test_delete_index_by_wildcard_removes_every_match(es, index):
    for suffix in ("a", "b"):
        es.indices.create(index=f"{index}-{suffix}")
    assert es.indices.delete(index=f"{index}-*").body == {"acknowledged": True}
    assert not es.indices.exists(index=f"{index}-a")
    assert not es.indices.exists(index=f"{index}-b")


def test_delete_index_by_comma_list_removes_only_those_named(es, index):
    for suffix in ("a", "b", "c"):
        es.indices.create(index=f"{index}-{suffix}")
    es.indices.delete(index=f"{index}-a,{index}-c")
    assert list(es.indices.get(index=f"{index}-*")) == [f"{index}-b"]


def test_delete_of_a_missing_index_is_not_found_unless_ignore_unavailable(es, index):
    with pytest.raises(NotFoundError):
        es.indices.delete(index=f"{index}-missing")
    assert es.indices.delete(index=f"{index}-missing", ignore_unavailable=True).body == {"acknowledged": True}


def test_delete_of_a_wildcard_matching_nothing_acknowledges_unless_no_indices_are_disallowed(es, index):
    assert es.indices.delete(index=f"{index}-nothing-*").body == {"acknowledged": True}
    with pytest.raises(NotFoundError):
        es.indices.delete(index=f"{index}-nothing-*", allow_no_indices=False)


def test_first_write_creates_a_missing_index_with_default_settings(es, index):
    response = es.index(index=index, id="1", document={"a": 1})
    assert response.meta.status == 201
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("1", "1")
    assert es.get(index=index, id="1")["_source"] == {"a": 1}


# -- indexing ---------------------------------------------------------------------------------


def test_index_with_an_id_creates_then_replaces_the_document(es, index):
    make_index(es, index)
    first = es.index(index=index, id="1", document={"v": 1})
    second = es.index(index=index, id="1", document={"v": 2})
    assert (first.meta.status, first["result"], first["_version"]) == (201, "created", 1)
    assert (second.meta.status, second["result"], second["_version"]) == (200, "updated", 2)
    assert second["_seq_no"] == first["_seq_no"] + 1
    assert es.get(index=index, id="1")["_source"] == {"v": 2}


def test_write_responses_carry_index_id_version_seq_no_primary_term_shards_and_result(es, index):
    es.indices.create(index=index, settings={"number_of_replicas": 1})
    response = es.index(index=index, id="1", document={"v": 1})
    assert response.body == {"_index": index, "_id": "1", "_version": 1, "result": "created",
                             "_shards": {"total": 2, "successful": 1, "failed": 0},
                             "_seq_no": 0, "_primary_term": 1}


def test_index_with_an_id_by_post_is_the_same_as_by_put(es, index):
    make_index(es, index)
    response = es.perform_request("POST", f"/{index}/_doc/posted", body={"v": 1},
                                  headers={"content-type": "application/json", "accept": "application/json"})
    assert response.meta.status == 201
    assert response["_id"] == "posted"
    assert es.get(index=index, id="posted")["_source"] == {"v": 1}


def test_index_without_an_id_generates_a_20_character_url_safe_id(es, index):
    make_index(es, index)
    response = es.index(index=index, document={"v": 1})
    generated = response["_id"]
    assert response["result"] == "created"
    assert len(generated) == 20
    assert set(generated) <= URL_SAFE
    assert es.get(index=index, id=generated)["_source"] == {"v": 1}


def test_generated_ids_are_unique(es, index):
    make_index(es, index)
    result = es.bulk(operations=[op for _ in range(50) for op in ({"index": {"_index": index}}, {"v": 1})])
    ids = [item["index"]["_id"] for item in result["items"]]
    assert len(set(ids)) == 50


def test_index_with_op_type_create_refuses_an_existing_id(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"v": 1}, op_type="create")
    with pytest.raises(ConflictError) as e:
        es.index(index=index, id="1", document={"v": 2}, op_type="create")
    assert e.value.error == "version_conflict_engine_exception"
    assert e.value.body["error"]["reason"] == (
        "[1]: version conflict, document already exists (current version [1])")
    assert es.get(index=index, id="1")["_source"] == {"v": 1}


def test_create_endpoint_creates_a_new_document_and_refuses_an_existing_one(es, index):
    make_index(es, index)
    created = es.create(index=index, id="1", document={"v": 1})
    assert (created.meta.status, created["result"]) == (201, "created")
    with pytest.raises(ConflictError):
        es.create(index=index, id="1", document={"v": 2})
    assert es.get(index=index, id="1")["_version"] == 1


# -- getting ----------------------------------------------------------------------------------


def test_get_returns_the_source_and_its_metadata(es, index):
    make_index(es, index)
    written = es.index(index=index, id="1", document={"title": "hello", "n": 3})
    got = es.get(index=index, id="1")
    assert got.body == {"_index": index, "_id": "1", "_version": 1, "_seq_no": written["_seq_no"],
                        "_primary_term": 1, "found": True, "_source": {"title": "hello", "n": 3}}


def test_get_is_real_time_before_any_refresh(es, index):
    make_index(es, index, refresh_interval="-1")
    es.index(index=index, id="1", document={"v": 1})
    assert es.get(index=index, id="1")["found"]
    assert es.count(index=index)["count"] == 0


def test_get_without_realtime_sees_only_refreshed_documents(es, index):
    make_index(es, index, refresh_interval="-1")
    es.index(index=index, id="1", document={"v": 1})
    assert es.options(ignore_status=404).get(index=index, id="1", realtime=False)["found"] is False
    es.indices.refresh(index=index)
    assert es.get(index=index, id="1", realtime=False)["found"]


def test_get_filters_the_source_with_includes_and_excludes(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1, "b": {"c": 2, "d": 3}, "e": 4})
    assert es.get(index=index, id="1", source_includes=["a", "b.c"])["_source"] == {"a": 1, "b": {"c": 2}}
    assert es.get(index=index, id="1", source_excludes=["b.d", "e"])["_source"] == {"a": 1, "b": {"c": 2}}
    assert es.get(index=index, id="1", source=["e"])["_source"] == {"e": 4}


def test_get_with_source_false_leaves_the_source_out(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1})
    got = es.get(index=index, id="1", source=False)
    assert got["found"] and "_source" not in got


def test_get_with_stored_fields_answers_without_failing_and_without_the_source(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1})
    got = es.get(index=index, id="1", stored_fields=["a"])
    assert got["found"] and "_source" not in got
    assert es.get(index=index, id="1", stored_fields=["_source"])["_source"] == {"a": 1}


def test_get_of_a_missing_document_is_404_with_found_false(es, index):
    make_index(es, index)
    with pytest.raises(NotFoundError) as e:
        es.get(index=index, id="missing")
    assert e.value.body == {"_index": index, "_id": "missing", "found": False}


def test_exists_answers_for_present_and_missing_documents(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1})
    assert es.exists(index=index, id="1")
    assert not es.exists(index=index, id="2")


def test_get_source_returns_the_bare_document(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1, "b": 2})
    assert es.get_source(index=index, id="1").body == {"a": 1, "b": 2}
    assert es.get_source(index=index, id="1", source_excludes=["b"]).body == {"a": 1}


def test_get_source_of_a_missing_document_is_resource_not_found(es, index):
    make_index(es, index)
    with pytest.raises(NotFoundError) as e:
        es.get_source(index=index, id="missing")
    assert e.value.error == "resource_not_found_exception"


# -- deleting ---------------------------------------------------------------------------------


def test_delete_removes_the_document_and_bumps_the_version(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1})
    deleted = es.delete(index=index, id="1")
    assert (deleted["result"], deleted["_version"]) == ("deleted", 2)
    assert not es.exists(index=index, id="1")


def test_delete_of_a_missing_document_is_404_not_found(es, index):
    make_index(es, index)
    with pytest.raises(NotFoundError) as e:
        es.delete(index=index, id="missing")
    assert e.value.body["result"] == "not_found"


# -- updating ---------------------------------------------------------------------------------


def test_update_merges_a_partial_document_recursively(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1, "obj": {"x": 1, "y": 1}, "list": [1, 2]})
    response = es.update(index=index, id="1", doc={"obj": {"y": 2, "z": 3}, "list": [3], "b": 2})
    assert (response["result"], response["_version"]) == ("updated", 2)
    assert es.get_source(index=index, id="1").body == {
        "a": 1, "obj": {"x": 1, "y": 2, "z": 3}, "list": [3], "b": 2}


def test_update_with_doc_as_upsert_creates_a_missing_document(es, index):
    make_index(es, index)
    response = es.update(index=index, id="1", doc={"a": 1}, doc_as_upsert=True)
    assert (response.meta.status, response["result"]) == (201, "created")
    assert es.get_source(index=index, id="1").body == {"a": 1}


def test_update_with_upsert_indexes_the_upsert_when_missing_and_merges_the_doc_when_present(es, index):
    make_index(es, index)
    es.update(index=index, id="1", doc={"seen": True}, upsert={"count": 1})
    assert es.get_source(index=index, id="1").body == {"count": 1}
    es.update(index=index, id="1", doc={"seen": True}, upsert={"count": 1})
    assert es.get_source(index=index, id="1").body == {"count": 1, "seen": True}


def test_update_that_changes_nothing_is_a_noop(es, index):
    make_index(es, index)
    written = es.index(index=index, id="1", document={"a": 1})
    response = es.update(index=index, id="1", doc={"a": 1})
    assert response["result"] == "noop"
    assert (response["_version"], response["_seq_no"]) == (1, written["_seq_no"])
    assert es.get(index=index, id="1")["_version"] == 1


def test_update_without_noop_detection_writes_a_new_version(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1})
    response = es.update(index=index, id="1", doc={"a": 1}, detect_noop=False)
    assert (response["result"], response["_version"]) == ("updated", 2)


def test_update_of_a_missing_document_is_document_missing(es, index):
    make_index(es, index)
    with pytest.raises(NotFoundError) as e:
        es.update(index=index, id="missing", doc={"a": 1})
    assert e.value.error == "document_missing_exception"
    assert e.value.body["error"]["reason"] == "[missing]: document missing"


def test_update_returns_the_new_source_when_asked(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"a": 1, "b": 1})
    response = es.update(index=index, id="1", doc={"b": 2}, source=True)
    assert response["get"]["_source"] == {"a": 1, "b": 2}
    assert response["get"]["found"] is True


def test_concurrent_updates_with_retry_on_conflict_all_apply(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={})

    def update(n: int):
        return es.update(index=index, id="1", doc={f"f{n}": n}, retry_on_conflict=5)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(update, range(16)))
    assert all(r["result"] == "updated" for r in results)
    assert es.get_source(index=index, id="1").body == {f"f{n}": n for n in range(16)}
    assert es.get(index=index, id="1")["_version"] == 17


# -- bulk ---------------------------------------------------------------------------------------


def test_bulk_executes_index_create_update_and_delete_with_per_item_status(es, index):
    make_index(es, index)
    es.index(index=index, id="old", document={"a": 1})
    result = es.bulk(operations=[
        {"index": {"_index": index, "_id": "1"}}, {"a": 1},
        {"create": {"_index": index, "_id": "2"}}, {"a": 2},
        {"update": {"_index": index, "_id": "old"}}, {"doc": {"b": 2}},
        {"delete": {"_index": index, "_id": "old"}},
    ])
    assert result["errors"] is False
    statuses = [(action, body["status"], body["result"]) for item in result["items"]
                for action, body in item.items()]
    assert statuses == [("index", 201, "created"), ("create", 201, "created"),
                        ("update", 200, "updated"), ("delete", 200, "deleted")]
    assert not es.exists(index=index, id="old")


def test_bulk_reports_failed_items_and_sets_the_errors_flag(es, index):
    make_index(es, index)
    es.index(index=index, id="taken", document={})
    result = es.bulk(operations=[
        {"create": {"_index": index, "_id": "taken"}}, {"a": 1},
        {"update": {"_index": index, "_id": "missing"}}, {"doc": {"a": 1}},
        {"index": {"_index": index, "_id": "fine"}}, {"a": 1},
    ])
    assert result["errors"] is True
    create, update, fine = (next(iter(item.values())) for item in result["items"])
    assert (create["status"], create["error"]["type"]) == (409, "version_conflict_engine_exception")
    assert (update["status"], update["error"]["type"]) == (404, "document_missing_exception")
    assert (fine["status"], "error" in fine) == (201, False)
    assert es.exists(index=index, id="fine")


def test_bulk_delete_of_a_missing_document_is_a_404_item_but_not_an_error(es, index):
    make_index(es, index)
    result = es.bulk(operations=[{"delete": {"_index": index, "_id": "missing"}}])
    assert result["errors"] is False
    assert result["items"][0]["delete"]["status"] == 404
    assert result["items"][0]["delete"]["result"] == "not_found"


def test_bulk_uses_the_index_of_the_url_when_items_name_none(es, index):
    make_index(es, index)
    result = es.bulk(index=index, operations=[{"index": {"_id": "1"}}, {"a": 1}])
    assert result["items"][0]["index"]["_index"] == index
    assert es.exists(index=index, id="1")


def test_helpers_bulk_indexes_every_action(es, index):
    make_index(es, index)
    ok, errors = helpers.bulk(es, ({"_index": index, "_id": str(n), "n": n} for n in range(100)))
    assert (ok, errors) == (100, [])
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 100


def test_helpers_streaming_bulk_yields_each_item_and_its_failures(es, index):
    make_index(es, index)
    es.index(index=index, id="taken", document={})
    actions = [{"_index": index, "_id": str(n), "n": n} for n in range(20)]
    actions.append({"_op_type": "create", "_index": index, "_id": "taken", "n": 0})
    outcomes = list(helpers.streaming_bulk(es, actions, chunk_size=7, raise_on_error=False))
    assert len(outcomes) == 21
    assert sum(ok for ok, _ in outcomes) == 20
    failed = [info for ok, info in outcomes if not ok]
    assert failed[0]["create"]["status"] == 409


# -- mget, refresh, flush, count ----------------------------------------------------------------


def test_mget_with_docs_reads_across_indices_with_per_doc_source_filtering(es, index):
    make_index(es, f"{index}-a")
    make_index(es, f"{index}-b")
    es.index(index=f"{index}-a", id="1", document={"x": 1, "y": 1})
    es.index(index=f"{index}-b", id="2", document={"x": 2, "y": 2})
    docs = es.mget(docs=[
        {"_index": f"{index}-a", "_id": "1", "_source": ["x"]},
        {"_index": f"{index}-b", "_id": "2"},
        {"_index": f"{index}-b", "_id": "missing"},
    ])["docs"]
    assert docs[0]["_source"] == {"x": 1}
    assert docs[1]["_source"] == {"x": 2, "y": 2}
    assert docs[2] == {"_index": f"{index}-b", "_id": "missing", "found": False}


def test_mget_with_ids_reads_from_the_index_of_the_url(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"n": 1})
    es.index(index=index, id="2", document={"n": 2})
    docs = es.mget(index=index, ids=["2", "1", "3"])["docs"]
    assert [d["found"] for d in docs] == [True, True, False]
    assert [d["_source"]["n"] for d in docs[:2]] == [2, 1]


def test_mget_of_a_missing_index_reports_the_error_per_document(es, index):
    docs = es.mget(docs=[{"_index": f"{index}-missing", "_id": "1"}])["docs"]
    assert docs[0]["error"]["type"] == "index_not_found_exception"


def test_refresh_makes_written_documents_countable(es, index):
    make_index(es, index, refresh_interval="-1")
    es.index(index=index, id="1", document={})
    assert es.count(index=index)["count"] == 0
    refreshed = es.indices.refresh(index=index)
    assert refreshed["_shards"] == {"total": 1, "successful": 1, "failed": 0}
    assert es.count(index=index)["count"] == 1


def test_flush_answers_for_every_shard(es, index):
    make_index(es, index, shards=2)
    es.index(index=index, id="1", document={})
    assert es.indices.flush(index=index)["_shards"] == {"total": 2, "successful": 2, "failed": 0}


def test_count_with_a_match_all_query_counts_every_live_document(es, index):
    make_index(es, index)
    helpers.bulk(es, ({"_index": index, "_id": str(n)} for n in range(5)), refresh=True)
    es.delete(index=index, id="0", refresh=True)
    assert es.count(index=index)["count"] == 4
    assert es.count(index=index, query={"match_all": {}})["count"] == 4


# -- routing and shards -------------------------------------------------------------------------


def test_a_document_written_with_routing_is_found_with_that_routing(es, index):
    make_index(es, index, shards=5)
    id, routing = ids_on_different_shards(5)
    es.index(index=index, id=id, document={"a": 1}, routing=routing)
    got = es.get(index=index, id=id, routing=routing)
    assert got["_routing"] == routing
    assert got["_source"] == {"a": 1}


def test_a_routed_document_is_not_found_without_its_routing(es, index):
    make_index(es, index, shards=5)
    id, routing = ids_on_different_shards(5)
    es.index(index=index, id=id, document={"a": 1}, routing=routing)
    assert not es.exists(index=index, id=id)


@pytest.mark.parametrize("shards", [3, 5])
def test_documents_spread_over_shards_are_all_counted_and_found(es, index, shards):
    make_index(es, index, shards=shards)
    ids = [f"doc-{n}" for n in range(40)]
    assert len({shard_id(i, None, shards) for i in ids}) == shards
    helpers.bulk(es, ({"_index": index, "_id": i, "id": i} for i in ids), refresh=True)
    count = es.count(index=index)
    assert count["count"] == 40
    assert count["_shards"]["total"] == shards
    docs = es.mget(index=index, ids=ids)["docs"]
    assert [d["_source"]["id"] for d in docs] == ids


# -- optimistic concurrency control ---------------------------------------------------------------


def test_if_seq_no_and_if_primary_term_write_only_over_the_expected_operation(es, index):
    make_index(es, index)
    first = es.index(index=index, id="1", document={"v": 1})
    es.index(index=index, id="1", document={"v": 2}, if_seq_no=first["_seq_no"],
             if_primary_term=first["_primary_term"])
    with pytest.raises(ConflictError) as e:
        es.index(index=index, id="1", document={"v": 3}, if_seq_no=first["_seq_no"],
                 if_primary_term=first["_primary_term"])
    assert e.value.body["error"]["reason"] == (
        f"[1]: version conflict, required seqNo [{first['_seq_no']}], primary term [1]. current document "
        f"has seqNo [{first['_seq_no'] + 1}] and primary term [1]")
    assert es.get_source(index=index, id="1").body == {"v": 2}


def test_external_versions_must_increase(es, index):
    make_index(es, index)
    written = es.index(index=index, id="1", document={"v": 1}, version=5, version_type="external")
    assert written["_version"] == 5
    with pytest.raises(ConflictError) as e:
        es.index(index=index, id="1", document={"v": 2}, version=5, version_type="external")
    assert e.value.body["error"]["reason"] == (
        "[1]: version conflict, current version [5] is higher or equal to the one provided [5]")
    later = es.index(index=index, id="1", document={"v": 3}, version=9, version_type="external")
    assert later["_version"] == 9


def test_external_gte_versions_may_repeat_but_not_decrease(es, index):
    make_index(es, index)
    es.index(index=index, id="1", document={"v": 1}, version=5, version_type="external_gte")
    assert es.index(index=index, id="1", document={"v": 2}, version=5,
                    version_type="external_gte")["result"] == "updated"
    with pytest.raises(ConflictError) as e:
        es.index(index=index, id="1", document={"v": 3}, version=4, version_type="external_gte")
    assert e.value.body["error"]["reason"] == (
        "[1]: version conflict, current version [5] is higher than the one provided [4]")
    assert es.get_source(index=index, id="1").body == {"v": 2}


# -- the refresh parameter ------------------------------------------------------------------------


def test_refresh_true_makes_the_write_countable_at_once(es, index):
    make_index(es, index, refresh_interval="-1")
    response = es.index(index=index, id="1", document={}, refresh=True)
    assert response["forced_refresh"] is True
    assert es.count(index=index)["count"] == 1


def test_refresh_false_leaves_the_write_uncounted_but_gettable(es, index):
    make_index(es, index, refresh_interval="-1")
    response = es.index(index=index, id="1", document={}, refresh=False)
    assert "forced_refresh" not in response
    assert es.count(index=index)["count"] == 0
    assert es.exists(index=index, id="1")


def test_refresh_wait_for_returns_once_the_write_is_countable(es, index):
    make_index(es, index, refresh_interval="100ms")
    es.index(index=index, id="1", document={}, refresh="wait_for")
    assert es.count(index=index)["count"] == 1


def test_bulk_with_refresh_true_makes_every_item_countable(es, index):
    make_index(es, index, shards=3, refresh_interval="-1")
    es.bulk(operations=[op for n in range(9) for op in ({"index": {"_index": index, "_id": str(n)}}, {})],
            refresh=True)
    assert es.count(index=index)["count"] == 9
