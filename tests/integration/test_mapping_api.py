"""Mappings through elasticsearch-py on a real node: index creation with mappings, get
and put mapping, conflicts, dynamic mapping on the write path, and its durability."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError


@pytest.fixture
def index(index_name) -> str:
    """A name only: these tests create the index themselves, through the client."""
    return index_name


def mapping_of(es: Elasticsearch, index: str) -> dict:
    return es.indices.get_mapping(index=index)[index]["mappings"]


LOGS = {"properties": {
    "timestamp": {"type": "date"}, "ip": {"type": "ip"}, "status": {"type": "short"},
    "message": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 100}}},
}}


def test_create_index_stores_the_normalized_mapping(es, index):
    es.indices.create(index=index, mappings={
        "properties": {"b": {"type": "keyword", "index": True}, "a.x": {"type": "long"},
                       "d": {"type": "date", "format": "strict_date_optional_time||epoch_millis"}}})
    expected = {"properties": {"a": {"properties": {"x": {"type": "long"}}}, "b": {"type": "keyword"},
                               "d": {"type": "date"}}}
    assert mapping_of(es, index) == expected
    assert es.indices.get(index=index)[index]["mappings"] == expected


def test_an_index_without_mappings_has_an_empty_mapping(es, index):
    es.indices.create(index=index)
    assert mapping_of(es, index) == {}


def test_a_bad_mapping_fails_index_creation_and_creates_nothing(es, index):
    with pytest.raises(BadRequestError) as e:
        es.indices.create(index=index, mappings={"properties": {"x": {"type": "strin"}}})
    assert e.value.error == "mapper_parsing_exception"
    inner = "No handler for type [strin] declared on field [x]"
    assert e.value.body["error"]["reason"] == f"Failed to parse mapping: {inner}"
    assert e.value.body["error"]["root_cause"][0]["reason"] == inner
    assert not es.indices.exists(index=index)


def test_mapping_types_are_refused_as_elasticsearch_8_refuses_them(es, index):
    with pytest.raises(BadRequestError) as e:
        es.indices.create(index=index, mappings={"_doc": {"properties": {"a": {"type": "long"}}}})
    assert e.value.error == "illegal_argument_exception"
    assert "cannot be nested under a type [_doc]" in e.value.body["error"]["reason"]
    es.indices.create(index=index)
    with pytest.raises(BadRequestError) as e:
        es.indices.put_mapping(index=index, body={"_doc": {"properties": {}}})
    assert e.value.body["error"]["reason"] == "Types cannot be provided in put mapping requests"


def test_put_mapping_adds_fields(es, index):
    es.indices.create(index=index, mappings=LOGS)
    assert es.indices.put_mapping(index=index, properties={"user": {"type": "keyword"}}).body == {
        "acknowledged": True}
    assert mapping_of(es, index)["properties"]["user"] == {"type": "keyword"}
    assert mapping_of(es, index)["properties"]["status"] == {"type": "short"}


def test_put_mapping_conflicts_are_illegal_argument(es, index):
    es.indices.create(index=index, mappings=LOGS)
    with pytest.raises(BadRequestError) as e:
        es.indices.put_mapping(index=index, properties={"status": {"type": "text"}})
    assert e.value.error == "illegal_argument_exception"
    assert e.value.body["error"]["reason"] == "mapper [status] cannot be changed from type [short] to [text]"
    with pytest.raises(BadRequestError) as e:
        es.indices.put_mapping(index=index, properties={"status": {"type": "short", "index": False}})
    assert e.value.body["error"]["reason"] == ("Mapper for [status] conflicts with existing mapper:\n"
                                               "\tCannot update parameter [index] from [true] to [false]")
    assert mapping_of(es, index) == LOGS  # nothing of a refused update is applied


def test_put_mapping_on_several_indices_applies_to_all_or_none(es, index):
    es.indices.create(index=f"{index}-a", mappings={"properties": {"x": {"type": "long"}}})
    es.indices.create(index=f"{index}-b", mappings={"properties": {"x": {"type": "keyword"}}})
    with pytest.raises(BadRequestError):
        es.indices.put_mapping(index=f"{index}-*", properties={"x": {"type": "long"}, "y": {"type": "ip"}})
    assert "y" not in mapping_of(es, f"{index}-a")["properties"]
    es.indices.put_mapping(index=f"{index}-a,{index}-b", properties={"y": {"type": "ip"}})
    assert mapping_of(es, f"{index}-a")["properties"]["y"] == mapping_of(es, f"{index}-b")["properties"]["y"]


def test_a_text_field_with_only_a_search_analyzer_shows_the_default_index_analyzer(es, index):
    """TextParams.Analyzers prints the index analyzer whenever it differs from the search
    one, at creation and after a put mapping alike."""
    es.indices.create(index=index, mappings={"properties": {
        "t": {"type": "text", "search_analyzer": "whitespace"}}})
    assert mapping_of(es, index)["properties"]["t"] == {"type": "text", "analyzer": "default",
                                                        "search_analyzer": "whitespace"}
    es.indices.put_mapping(index=index, properties={"u": {"type": "text", "search_quote_analyzer": "simple"}})
    assert mapping_of(es, index)["properties"]["u"] == {"type": "text", "analyzer": "default",
                                                        "search_analyzer": "default",
                                                        "search_quote_analyzer": "simple"}


def test_put_mapping_on_a_missing_index_is_not_found(es, index):
    with pytest.raises(NotFoundError):
        es.indices.put_mapping(index=index, properties={"a": {"type": "long"}})


def test_put_mapping_on_a_wildcard_that_matches_nothing_is_not_found_unless_allowed(es, index):
    """PutMappingRequest refuses empty wildcard expansions (allowEmptyExpressions(false))."""
    with pytest.raises(NotFoundError) as e:
        es.indices.put_mapping(index=f"{index}-nope*", properties={"a": {"type": "long"}})
    assert e.value.body["error"]["type"] == "index_not_found_exception"
    assert e.value.body["error"]["reason"] == f"no such index [{index}-nope*]"
    allowed = es.indices.put_mapping(index=f"{index}-nope*", properties={"a": {"type": "long"}},
                                     allow_no_indices=True)
    assert allowed.body == {"acknowledged": True}


def test_documents_add_dynamic_fields_to_the_mapping(es, index):
    es.index(index=index, id="1", document={"title": "hello", "when": "2024-01-01T00:00:00Z", "n": 5,
                                            "ratio": 0.5, "ok": True, "tags": ["a"], "user": {"id": 7}})
    keyword = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert mapping_of(es, index) == {"properties": {
        "n": {"type": "long"}, "ok": {"type": "boolean"}, "ratio": {"type": "float"}, "tags": keyword,
        "title": keyword, "user": {"properties": {"id": {"type": "long"}}}, "when": {"type": "date"}}}


def test_a_value_that_does_not_fit_fails_only_its_bulk_item(es, index):
    es.indices.create(index=index, mappings=LOGS, settings={"number_of_shards": 2, "number_of_replicas": 0})
    response = es.bulk(index=index, refresh=True, operations=[
        {"index": {"_id": "1"}}, {"status": 200, "ip": "10.0.0.1", "timestamp": "2024-01-01T00:00:00Z"},
        {"index": {"_id": "2"}}, {"status": 70000},
        {"create": {"_id": "3"}}, {"ip": "not-an-ip"},
        {"index": {"_id": "4"}}, {"timestamp": "yesterday", "extra": "x"},
        {"index": {"_id": "5"}}, {"message": "fine", "status": "404"},
    ])
    assert response["errors"] is True
    statuses = [item[next(iter(item))]["status"] for item in response["items"]]
    assert statuses == [201, 400, 400, 400, 201]
    error = response["items"][1]["index"]["error"]
    assert error["type"] == "mapper_parsing_exception"
    assert error["reason"] == ("failed to parse field [status] of type [short] in document with id '2'. "
                               "Preview of field's value: '70000'")
    assert error["caused_by"]["reason"] == "Value [70000] is out of range for a short"
    assert response["items"][2]["create"]["error"]["caused_by"]["reason"] == \
        "'not-an-ip' is not an IP string literal."
    assert es.count(index=index)["count"] == 2
    # the failed document added nothing: its new field `extra` is not mapped
    assert "extra" not in mapping_of(es, index)["properties"]


def test_ignore_malformed_keeps_the_document(es, index):
    es.indices.create(index=index, mappings={"properties": {"n": {"type": "long", "ignore_malformed": True}}})
    assert es.index(index=index, id="1", document={"n": "many"})["result"] == "created"


def test_strict_dynamic_refuses_new_fields(es, index):
    es.indices.create(index=index, mappings={"dynamic": "strict", "properties": {"a": {"type": "long"}}})
    with pytest.raises(BadRequestError) as e:
        es.index(index=index, id="1", document={"a": 1, "b": 2})
    assert e.value.error == "strict_dynamic_mapping_exception"
    assert e.value.body["error"]["reason"] == \
        "[dynamic] set to [strict], dynamic introduction of [b] within [_doc] is not allowed"
    assert es.index(index=index, id="1", document={"a": 1})["result"] == "created"


def test_conflicting_new_fields_in_one_bulk_fail_the_later_document(es, index):
    response = es.bulk(index=index, operations=[
        {"index": {"_id": "1"}}, {"x": 1}, {"index": {"_id": "2"}}, {"x": "one"}])
    assert [item["index"]["status"] for item in response["items"]] == [201, 400]
    assert mapping_of(es, index)["properties"]["x"] == {"type": "long"}


def test_updates_are_parsed_and_map_their_new_fields(es, index):
    es.indices.create(index=index, mappings={"properties": {"n": {"type": "long"}}})
    es.index(index=index, id="1", document={"n": 1})
    with pytest.raises(BadRequestError) as e:
        es.update(index=index, id="1", doc={"n": "x"})
    assert e.value.error == "mapper_parsing_exception"
    es.update(index=index, id="1", doc={"label": "new"})
    assert "label" in mapping_of(es, index)["properties"]
    assert es.get(index=index, id="1")["_source"] == {"n": 1, "label": "new"}


def test_required_routing_refuses_writes_without_it(es, index):
    es.indices.create(index=index, mappings={"_routing": {"required": True}})
    with pytest.raises(BadRequestError) as e:
        es.index(index=index, id="1", document={"a": 1})
    assert e.value.error == "routing_missing_exception"
    assert e.value.body["error"]["reason"] == f"routing is required for [{index}]/[1]"
    assert es.index(index=index, id="1", routing="r", document={"a": 1})["result"] == "created"


def test_get_field_mapping_finds_fields_by_full_name(es, index):
    es.indices.create(index=index, mappings=LOGS)
    response = es.indices.get_field_mapping(index=index, fields="message*,ip")
    assert response[index]["mappings"] == {
        "ip": {"full_name": "ip", "mapping": {"ip": {"type": "ip"}}},
        "message": {"full_name": "message", "mapping": {"message": LOGS["properties"]["message"]}},
        "message.raw": {"full_name": "message.raw",
                        "mapping": {"raw": {"type": "keyword", "ignore_above": 100}}}}


def test_dynamic_fields_survive_a_crash_right_after_the_write(fresh_node):
    node = fresh_node().start()
    es = Elasticsearch(node.url, request_timeout=30)
    es.index(index="logs", id="1", document={"when": "2024-01-01", "msg": "hi", "nested": {"n": 1.5}})
    before = mapping_of(es, "logs")
    node.kill()  # kill -9: the mapping was made durable before the write was acknowledged
    node = fresh_node().start()
    es = Elasticsearch(node.url, request_timeout=30)
    assert mapping_of(es, "logs") == before
    assert before["properties"]["when"] == {"type": "date"}
    with pytest.raises(BadRequestError):
        es.index(index="logs", id="2", document={"when": "not a date"})


def test_a_document_past_the_total_fields_limit_fails_and_maps_nothing(es, index):
    es.indices.create(index=index, settings={"index.mapping.total_fields.limit": 3})
    with pytest.raises(BadRequestError) as e:
        es.index(index=index, id="1", document={"a": 1, "b": "text", "c": 2})
    assert e.value.error == "mapper_parsing_exception"
    reason = "Limit of total fields [3] has been exceeded while adding new fields [4]"
    assert e.value.body["error"]["reason"] == f"failed to parse: {reason}"
    assert e.value.body["error"]["caused_by"] == {"type": "illegal_argument_exception", "reason": reason}
    assert mapping_of(es, index) == {}
    es.index(index=index, id="2", document={"a": 1, "b": "text"})  # 1 + 2 fields: at the limit
    assert sorted(mapping_of(es, index)["properties"]) == ["a", "b"]


def test_a_put_mapping_past_the_limit_is_refused_until_the_limit_is_raised(es, index):
    es.indices.create(index=index, settings={"index.mapping.total_fields.limit": 2})
    body = {"properties": {"x": {"type": "long"}, "y": {"type": "long"}, "z": {"type": "long"}}}
    with pytest.raises(BadRequestError) as e:
        es.indices.put_mapping(index=index, body=body)
    assert e.value.error == "illegal_argument_exception"
    assert e.value.body["error"]["reason"] == "Limit of total fields [2] has been exceeded"
    es.indices.put_settings(index=index, settings={"index.mapping.total_fields.limit": 3})
    es.indices.put_mapping(index=index, body=body)
    assert sorted(mapping_of(es, index)["properties"]) == ["x", "y", "z"]


def test_an_index_created_with_a_mapping_over_its_limits_is_refused(es, index):
    with pytest.raises(BadRequestError) as e:
        es.indices.create(index=index, settings={"index.mapping.depth.limit": 2},
                          mappings={"properties": {"a": {"properties": {"b": {"properties": {
                              "c": {"type": "long"}}}}}}})
    assert e.value.body["error"]["reason"] == ("Limit of mapping depth [2] has been exceeded due to "
                                               "object field [a.b]")
    assert not es.indices.exists(index=index)


def test_ignore_dynamic_beyond_limit_indexes_the_document_and_leaves_the_rest_unmapped(es, index):
    es.indices.create(index=index, settings={"index.mapping.total_fields.limit": 2,
                                             "index.mapping.total_fields.ignore_dynamic_beyond_limit": True})
    es.index(index=index, id="1", document={"a": 1, "b": 2, "c": "text"}, refresh=True)
    assert sorted(mapping_of(es, index)["properties"]) == ["a", "b"]
    assert es.get(index=index, id="1")["_source"] == {"a": 1, "b": 2, "c": "text"}
    assert es.search(index=index, query={"term": {"b": 2}})["hits"]["total"]["value"] == 1
    assert es.search(index=index, query={"exists": {"field": "c"}})["hits"]["total"]["value"] == 0
