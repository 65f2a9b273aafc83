"""Document APIs over raw HTTP: how mget bodies are read, what `error_trace` adds to
per-item errors, and the "did you mean" of a misspelt update field."""

from __future__ import annotations

import json

import httpx
import pytest

NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
def index(index, http) -> str:
    """The test's own index (see conftest), holding documents 1 (`{"a": 1, "b": 2}`) and 2."""
    name = index
    for id, doc in (("1", {"a": 1, "b": 2}), ("2", {"a": 3})):
        assert http.put(f"/{name}/_doc/{id}", json=doc).status_code == 201
    return name


def mget(http: httpx.Client, body, path: str = "/_mget", **params) -> httpx.Response:
    return http.post(path, content=json.dumps(body), headers={"content-type": "application/json"},
                     params=params)


def refused(response: httpx.Response, type: str) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == type
    return error["reason"]


# -- mget bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["_routing", "_version", "colour"])
def test_mget_refuses_a_doc_field_it_does_not_know(http, index, field):
    response = mget(http, {"docs": [{"_index": index, "_id": "1", field: "x"}]})
    reason = refused(response, "parse_exception")
    assert reason == f"failed to parse multi get request. unknown field [{field}]"


def test_mget_points_from_fields_to_stored_fields(http, index):
    response = mget(http, {"docs": [{"_index": index, "_id": "1", "fields": ["a"]}]})
    reason = refused(response, "parsing_exception")
    assert reason == "Unsupported field [fields] used, expected [stored_fields] instead"


@pytest.mark.parametrize(("body", "type", "reason"), [
    ({"docs": {}}, "parsing_exception",
     "unexpected token [START_OBJECT], expected [FIELD_NAME] or [START_ARRAY]"),
    ({"documents": []}, "parsing_exception",
     "unknown key [documents] for a START_ARRAY, expected [docs] or [ids]"),
    ({"docs": ["1"]}, "illegal_argument_exception", "docs array element should include an object"),
    ({"ids": [["1"]]}, "illegal_argument_exception", "ids array element should only contain ids"),
    ([], "parsing_exception", "unexpected token [START_ARRAY], expected [START_OBJECT]"),
    ({"docs": [{"_id": "1", "_source": 3}]}, "parse_exception", "illegal type for _source: [VALUE_NUMBER]"),
    ({"docs": [{"_id": "1", "_source": {"only": ["a"]}}]}, "parse_exception",
     "source definition may not contain [only]"),
    ({"docs": [{"_id": "1", "version_type": "newest"}]}, "illegal_argument_exception",
     "No version type match [newest]"),
])
def test_mget_body_of_the_wrong_shape_is_refused_as_elasticsearch_words_it(http, index, body, type, reason):
    assert refused(mget(http, body, f"/{index}/_mget"), type) == reason


def test_mget_without_a_body_says_one_is_required(http, index):
    response = http.post(f"/{index}/_mget")
    assert refused(response, "parse_exception") == "request body or source parameter is required"


def test_mget_url_takes_no_version_as_mget_versions_are_per_document(http, index):
    response = mget(http, {"ids": ["1"]}, f"/{index}/_mget", version="1")
    assert refused(response, "illegal_argument_exception").startswith(
        "request [/" + index + "/_mget] contains unrecognized parameter: [version]")


def test_mget_checks_each_documents_version(http, index):
    docs = mget(http, {"docs": [{"_id": "1", "version": 1}, {"_id": "2", "version": 7}]},
                f"/{index}/_mget").json()["docs"]
    assert docs[0]["found"] is True
    assert docs[1]["error"]["type"] == "version_conflict_engine_exception"


def test_mget_reads_per_document_source_filters_and_stored_fields(http, index):
    docs = mget(http, {"docs": [{"_id": "1", "_source": "a"},
                                {"_id": "1", "_source": {"include": "a", "excludes": ["b"]}},
                                {"_id": "1", "_source": "false"},
                                {"_id": "1", "stored_fields": ["_source"]},
                                {"_id": "1", "stored_fields": "a"},
                                {"_id": 2, "_index": None}]},
                f"/{index}/_mget").json()["docs"]
    assert docs[0]["_source"] == {"a": 1}
    assert docs[1]["_source"] == {"a": 1}
    assert "_source" not in docs[2]
    assert docs[3]["_source"] == {"a": 1, "b": 2}
    assert "_source" not in docs[4]
    assert (docs[5]["_id"], docs[5]["_source"]) == ("2", {"a": 3})  # a null value is passed over


def test_get_and_mget_return_fields_mapped_with_store_as_their_indexed_values(http, index_name):
    """Stored fields come back under `fields`, typed as indexed (a number sent as text is
    a number, a date in the field's format, a multi-field from its parent), and only for
    fields mapped with `store: true`; asking for any leaves the source out unless
    `_source` is asked for too."""
    http.put(f"/{index_name}", json={"mappings": {"properties": {
        "foo": {"type": "keyword", "store": True},
        "count": {"type": "integer", "store": True},
        "when": {"type": "date", "store": True, "format": "yyyy-MM-dd"},
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "store": True}}},
        "plain": {"type": "keyword"}}}})
    doc = {"foo": ["bar", "baz"], "count": "7", "when": "2026-11-22", "title": "Hello", "plain": "p"}
    http.put(f"/{index_name}/_doc/1", json=doc)
    got = http.get(f"/{index_name}/_doc/1", params={"stored_fields": "foo,count,when,title.raw,plain"}).json()
    assert got["fields"] == {"foo": ["bar", "baz"], "count": [7], "when": ["2026-11-22"],
                             "title.raw": ["Hello"]}
    assert "_source" not in got
    got = http.get(f"/{index_name}/_doc/1", params={"stored_fields": "c*,_source"}).json()
    assert got["fields"] == {"count": [7]} and got["_source"] == doc
    assert "fields" not in http.get(f"/{index_name}/_doc/1", params={"stored_fields": "plain"}).json()
    assert "fields" not in http.get(f"/{index_name}/_doc/1").json()
    docs = mget(http, {"docs": [{"_id": "1"}, {"_id": "1", "stored_fields": "foo"},
                                {"_id": "1", "stored_fields": ["foo", "_source"]}]},
                f"/{index_name}/_mget").json()["docs"]
    assert "fields" not in docs[0] and docs[0]["_source"] == doc
    assert docs[1]["fields"] == {"foo": ["bar", "baz"]} and "_source" not in docs[1]
    assert docs[2]["fields"] == {"foo": ["bar", "baz"]} and docs[2]["_source"] == doc
    docs = mget(http, {"docs": [{"_id": "1"}]}, f"/{index_name}/_mget", stored_fields="count").json()["docs"]
    assert docs[0]["fields"] == {"count": [7]} and "_source" not in docs[0]


def test_stored_keywords_come_back_normalized_as_indexed(http, index_name):
    http.put(f"/{index_name}", json={
        "settings": {"analysis": {"normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}}}},
        "mappings": {"properties": {"tag": {"type": "keyword", "store": True, "normalizer": "lower"},
                                    "_tag": {"type": "keyword", "store": True}}}})
    http.put(f"/{index_name}/_doc/1", json={"tag": ["ABC", "dEf"], "_tag": "x"})
    got = http.get(f"/{index_name}/_doc/1", params={"stored_fields": "tag,_tag"}).json()
    assert got["fields"] == {"tag": ["abc", "def"], "_tag": ["x"]}


def test_stored_fields_of_a_source_the_mapping_no_longer_parses_still_answer(http, index_name):
    """A field mapped after a document was indexed unmapped (dynamic: false) with a value
    the new type refuses: the document still reads, stored fields included."""
    http.put(f"/{index_name}", json={"mappings": {"dynamic": False, "properties": {
        "title": {"type": "keyword", "store": True}}}})
    http.put(f"/{index_name}/_doc/1", json={"title": "a", "x": "abc"})
    mapped = http.put(f"/{index_name}/_mapping", json={"properties": {"x": {"type": "long"}}})
    assert mapped.status_code == 200
    got = http.get(f"/{index_name}/_doc/1", params={"stored_fields": "title"})
    assert got.status_code == 200 and got.json()["fields"] == {"title": ["a"]}
    http.post(f"/{index_name}/_refresh")
    hit = http.post(f"/{index_name}/_search", json={"stored_fields": ["title"]}).json()["hits"]["hits"][0]
    assert hit["fields"] == {"title": ["a"]}


def test_mget_url_source_filters_apply_unless_a_document_has_its_own(http, index):
    docs = mget(http, {"docs": [{"_id": "1"}, {"_id": "1", "_source": True}]}, f"/{index}/_mget",
                _source_excludes="b").json()["docs"]
    assert docs[0]["_source"] == {"a": 1}
    assert docs[1]["_source"] == {"a": 1, "b": 2}


# -- error_trace on per-item errors ---------------------------------------------------------------


def test_bulk_item_errors_carry_an_elasticsearch_style_stack_trace_when_asked(http, index):
    body = "".join(json.dumps(line) + "\n" for line in ({"update": {"_index": index, "_id": "404"}},
                                                        {"doc": {"a": 1}}))
    item = http.post("/_bulk", content=body, headers=NDJSON,
                     params={"error_trace": "true"}).json()["items"][0]["update"]
    first_line = item["error"]["stack_trace"].splitlines()[0]
    uuid = http.get(f"/{index}/_settings/index.uuid", params={"flat_settings": "true"}).json()[index][
        "settings"]["index.uuid"]
    assert first_line == f"[{index}/{uuid}][[{index}][0]] DocumentMissingException[[404]: document missing]"
    without = http.post("/_bulk", content=body, headers=NDJSON).json()["items"][0]["update"]
    assert "stack_trace" not in without["error"]


def test_mget_doc_errors_and_their_root_causes_carry_stack_traces_when_asked(http):
    docs = mget(http, {"ids": ["1"]}, "/no-such-index/_mget", error_trace="true").json()["docs"]
    error = docs[0]["error"]
    expected = "[no-such-index] IndexNotFoundException[no such index [no-such-index]]"
    assert error["stack_trace"].splitlines()[0] == expected
    assert error["root_cause"][0]["stack_trace"].splitlines()[0] == expected
    plain = mget(http, {"ids": ["1"]}, "/no-such-index/_mget").json()["docs"][0]["error"]
    assert "stack_trace" not in plain and "stack_trace" not in plain["root_cause"][0]


def test_a_failed_request_lists_its_causes_after_nested_and_traces_its_root_causes(http, index):
    response = http.put(f"/{index}/_doc/3", content=b'{"a": }', headers={"content-type": "application/json"},
                        params={"error_trace": "true"})
    error = response.json()["error"]
    trace = error["stack_trace"]
    assert trace.startswith("MapperParsingException[[1:7] failed to parse: Unexpected character")
    assert "]; nested: XContentParseException[[1:7] Unexpected character" in trace
    assert "]; nested: JsonParseException[Unexpected character" in trace
    assert error["root_cause"][0]["stack_trace"].startswith("MapperParsingException[")


# -- delete ---------------------------------------------------------------------------------------


def bulk(http: httpx.Client, *lines) -> httpx.Response:
    return http.post("/_bulk", content="".join(json.dumps(line) + "\n" for line in lines), headers=NDJSON)


def test_a_delete_of_a_missing_index_is_index_not_found_and_creates_nothing(http, index_name):
    response = http.delete(f"/{index_name}/_doc/1")
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert (error["type"], error["reason"]) == ("index_not_found_exception", f"no such index [{index_name}]")
    assert error["index"] == index_name
    item = bulk(http, {"delete": {"_index": index_name, "_id": "1"}}).json()["items"][0]["delete"]
    assert item["status"] == 404
    assert (item["error"]["type"], item["error"]["reason"]) == ("index_not_found_exception",
                                                                f"no such index [{index_name}]")
    assert http.head(f"/{index_name}").status_code == 404


def test_a_bulk_delete_finds_the_index_another_item_of_the_bulk_creates(http, index_name):
    items = bulk(http, {"delete": {"_index": index_name, "_id": "1"}},
                 {"index": {"_index": index_name, "_id": "2"}}, {"a": 1}).json()["items"]
    assert items[0]["delete"]["status"] == 404 and items[0]["delete"]["result"] == "not_found"
    assert items[1]["index"]["status"] == 201
    assert http.head(f"/{index_name}").status_code == 200


@pytest.mark.parametrize("version_type", ["external", "external_gte"])
def test_a_delete_with_external_versioning_creates_the_missing_index(http, index_name, version_type):
    response = http.delete(f"/{index_name}/_doc/1", params={"version": "5", "version_type": version_type})
    assert response.status_code == 404, response.text
    assert response.json()["result"] == "not_found"
    assert http.head(f"/{index_name}").status_code == 200


# -- pipeline -------------------------------------------------------------------------------------


def test_the_none_pipeline_indexes_documents_as_sent(http, index):
    """`_none` is IngestService.NOOP_PIPELINE_NAME: no pipeline, in the URL or an action line."""
    assert http.put(f"/{index}/_doc/11", params={"pipeline": "_none"}, json={"a": 1}).status_code == 201
    response = http.post(f"/{index}/_bulk", params={"pipeline": "_none"}, headers=NDJSON,
                         content=json.dumps({"index": {"_id": "12", "pipeline": "_none"}}) + '\n{"a": 2}\n'
                         + json.dumps({"create": {"_id": "13"}}) + '\n{"a": 3}\n')
    assert response.json()["errors"] is False, response.text
    for id, a in (("11", 1), ("12", 2), ("13", 3)):
        assert http.get(f"/{index}/_doc/{id}").json()["_source"] == {"a": a}


def test_an_items_own_pipeline_wins_over_the_bulks_and_a_missing_one_fails_only_its_item(http, index):
    body = "".join(json.dumps(line) + "\n" for line in (
        {"index": {"_id": "11", "pipeline": "_none"}}, {"a": 1}, {"index": {"_id": "12"}}, {"a": 2},
        {"delete": {"_id": "13"}}))
    response = http.post(f"/{index}/_bulk", params={"pipeline": "nope"}, content=body, headers=NDJSON)
    items = response.json()["items"]
    assert items[0]["index"]["status"] == 201
    assert items[1]["index"]["status"] == 400
    assert items[1]["index"]["error"] == {"type": "illegal_argument_exception",
                                          "reason": "pipeline with id [nope] does not exist"}
    assert items[2]["delete"]["result"] == "not_found"
    response = http.put(f"/{index}/_doc/14", params={"pipeline": "nope"}, json={"a": 4})
    assert refused(response, "illegal_argument_exception") == "pipeline with id [nope] does not exist"


# -- update ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "hint"), [
    ("dac", " did you mean [doc]?"),
    ("upsrt", " did you mean [upsert]?"),
    ("detect_nop", " did you mean [detect_noop]?"),
    ("doc_as", ""),
])
def test_a_misspelt_update_field_is_answered_with_the_fields_it_is_close_to(http, index, field, hint):
    response = http.post(f"/{index}/_update/1", json={field: {"a": 5}})
    reason = refused(response, "x_content_parse_exception")
    assert reason == f"[1:2] [UpdateRequest] unknown field [{field}]{hint}"


# -- get ------------------------------------------------------------------------------------------


def test_reads_of_an_index_that_requires_routing_refuse_a_document_without_it(http, index_name):
    """Every read without routing is routing_missing_exception, as every write is: the
    document's shard is unknown (IndexRouting.checkRoutingRequired)."""
    created = http.put(f"/{index_name}", json={"mappings": {"_routing": {"required": True}}})
    assert created.status_code == 200, created.text
    assert http.put(f"/{index_name}/_doc/1", params={"routing": "r"}, json={"a": 1}).status_code == 201
    reason = f"routing is required for [{index_name}]/[1]"
    for path in (f"/{index_name}/_doc/1", f"/{index_name}/_source/1"):
        assert refused(http.get(path), "routing_missing_exception") == reason
    head = http.head(f"/{index_name}/_doc/1")
    assert head.status_code == 400 and head.content == b""
    assert http.get(f"/{index_name}/_doc/1", params={"routing": "r"}).json()["_source"] == {"a": 1}
    docs = mget(http, {"docs": [{"_id": "1"}, {"_id": "1", "routing": "r"}]}, f"/{index_name}/_mget").json()
    error = docs["docs"][0]["error"]
    assert docs["docs"][0]["_index"] == index_name and docs["docs"][0]["_id"] == "1"
    assert (error["type"], error["reason"]) == ("routing_missing_exception", reason)
    assert docs["docs"][1]["_source"] == {"a": 1}


def test_get_refuses_a_version_type_that_does_not_exist(http, index):
    response = http.get(f"/{index}/_doc/1", params={"version_type": "newest"})
    assert refused(response, "illegal_argument_exception") == "No version type match [newest]"


@pytest.mark.parametrize(("params", "reason"), [
    ({"version": "-5"}, "illegal version value [-5] for version type [INTERNAL]"),
    ({"version": "0"}, "illegal version value [0] for version type [INTERNAL]"),
    ({"version": "-1", "version_type": "external"}, "illegal version value [-1] for version type [EXTERNAL]"),
    ({"version": "-1", "version_type": "external_gt"},
     "illegal version value [-1] for version type [EXTERNAL]"),
    ({"version": "-2", "version_type": "external_gte"},
     "illegal version value [-2] for version type [EXTERNAL_GTE]"),
])
def test_get_refuses_a_version_its_version_type_cannot_have(http, index, params, reason):
    for path in (f"/{index}/_doc/1", f"/{index}/_source/1"):
        response = http.get(path, params=params)
        assert refused(response, "action_request_validation_exception") == f"Validation Failed: 1: {reason};"
    assert http.head(f"/{index}/_doc/1", params=params).status_code == 400


def test_get_with_version_match_any_or_an_external_zero_reads_as_versions_are_compared(http, index):
    assert http.get(f"/{index}/_doc/1", params={"version": "-3"}).json()["_source"] == {"a": 1, "b": 2}
    assert http.get(f"/{index}/_source/1", params={"version": "-3"}).json() == {"a": 1, "b": 2}
    conflict = http.get(f"/{index}/_doc/1", params={"version": "0", "version_type": "external"})
    assert conflict.status_code == 409, conflict.text
    docs = mget(http, {"docs": [{"_id": "1", "version": -3}]}, f"/{index}/_mget").json()["docs"]
    assert docs[0]["found"] is True and docs[0]["_version"] == 1


def test_the_source_endpoint_refuses_to_disable_the_source(http, index):
    response = http.get(f"/{index}/_source/1", params={"_source": "false"})
    assert refused(response, "action_request_validation_exception") == (
        "Validation Failed: 1: fetching source can not be disabled;")
    assert http.get(f"/{index}/_source/1", params={"_source": "a"}).json() == {"a": 1}


def test_external_gt_is_external_versioning(http, index):
    gt = {"version_type": "external_gt"}
    written = http.put(f"/{index}/_doc/5", params={"version": "7", **gt}, json={"a": 5})
    assert written.status_code == 201, written.text
    assert written.json()["_version"] == 7
    again = http.put(f"/{index}/_doc/5", params={"version": "7", **gt}, json={"a": 6})
    assert again.status_code == 409, again.text
    response = http.post(f"/{index}/_bulk", headers=NDJSON, content=json.dumps(
        {"index": {"_id": "5", "version": 8, **gt}}) + '\n{"a": 8}\n')
    assert response.json()["items"][0]["index"]["_version"] == 8, response.text
    assert http.get(f"/{index}/_doc/5", params={"version": "8", **gt}).status_code == 200


def test_create_endpoint_refuses_any_op_type_but_create(http, index):
    response = http.put(f"/{index}/_create/9", params={"op_type": "index"}, json={"a": 1})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "opType must be 'create', found: [index]"
    assert http.get(f"/{index}/_doc/9").status_code == 404
    assert http.put(f"/{index}/_create/9", params={"op_type": "create"}, json={"a": 1}).status_code == 201


def test_the_location_of_a_created_document_carries_its_routing_url_encoded(http, index):
    created = http.put(f"/{index}/_doc/loc%2F1", params={"routing": "a b"}, json={"a": 1})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/{index}/_doc/loc%2F1?routing=a+b"
    assert http.post(f"/{index}/_doc/x%20y", json={"a": 1}).headers["location"] == f"/{index}/_doc/x+y"
    upserted = http.post(f"/{index}/_update/u", params={"routing": "r"}, json={"doc": {"a": 1},
                                                                               "doc_as_upsert": True})
    assert upserted.status_code == 201, upserted.text
    assert upserted.headers["location"] == f"/{index}/_doc/u?routing=r"
    aliased = http.post("/_aliases", json={"actions": [{"add": {"index": index, "alias": f"{index}-al",
                                                                "index_routing": "k"}}]})
    assert aliased.status_code == 200, aliased.text
    through_alias = http.put(f"/{index}-al/_doc/v", json={"a": 1})
    assert through_alias.headers["location"] == f"/{index}/_doc/v?routing=k"  # the alias's routing


def test_the_op_type_parameter_is_read_in_any_case(http, index):
    assert http.put(f"/{index}/_doc/9", params={"op_type": "CREATE"}, json={"a": 1}).status_code == 201
    again = http.put(f"/{index}/_doc/9", params={"op_type": "Create"}, json={"a": 2})
    assert again.status_code == 409, again.text
    assert http.put(f"/{index}/_doc/9", params={"op_type": "INDEX"}, json={"a": 3}).status_code == 200
    response = http.put(f"/{index}/_doc/9", params={"op_type": "upsert"}, json={"a": 4})
    reason = refused(response, "illegal_argument_exception")
    assert reason == "opType must be 'create' or 'index', found: [upsert]"


def test_a_write_without_wait_for_active_shards_waits_for_what_the_index_setting_asks(http, index_name):
    """ES's ActiveShardCount.DEFAULT: the index's index.write.wait_for_active_shards. On one
    node the replica stays unassigned, so two copies are never active."""
    settings = {"number_of_replicas": 1, "index.write.wait_for_active_shards": 2}
    created = http.put(f"/{index_name}", params={"wait_for_active_shards": "1"}, json={"settings": settings})
    assert created.status_code == 200
    waited = http.put(f"/{index_name}/_doc/1", params={"timeout": "200ms"}, json={"a": 1})
    assert waited.status_code == 503, waited.text
    assert waited.json()["error"]["type"] == "unavailable_shards_exception"
    one = http.put(f"/{index_name}/_doc/1", params={"wait_for_active_shards": "1"}, json={"a": 1})
    assert one.status_code == 201
    lowered = http.put(f"/{index_name}/_settings", json={"index.write.wait_for_active_shards": 1})
    assert lowered.status_code == 200
    assert http.put(f"/{index_name}/_doc/2", json={"a": 2}).status_code == 201
