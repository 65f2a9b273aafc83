"""An index mapped with `_source: {enabled: false}`: documents are indexed and searched as
any others, but no API shows their source, and what needs the source (an update of an
existing document) is refused as Elasticsearch refuses it."""

from __future__ import annotations

import elasticsearch
import pytest

MAPPING = {
    "_source": {"enabled": False},
    "properties": {"tag": {"type": "keyword", "store": True}, "n": {"type": "long"}},
}


@pytest.fixture
def index(index_name, es) -> str:
    es.indices.create(index=index_name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                      mappings=MAPPING)
    es.index(index=index_name, id="1", document={"tag": "red", "n": 5}, refresh=True)
    return index_name


def test_the_mapping_shows_the_source_disabled(es, index):
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["_source"] == {"enabled": False}


def test_a_document_is_found_without_its_source(es, index):
    got = es.get(index=index, id="1")
    assert got["found"] is True and got["_version"] == 1
    assert "_source" not in got
    docs = es.mget(index=index, ids=["1"])["docs"]
    assert docs[0]["found"] is True and "_source" not in docs[0]


def test_stored_fields_are_still_returned(es, index):
    got = es.get(index=index, id="1", stored_fields="tag")
    assert got["fields"] == {"tag": ["red"]}


def test_the_source_endpoint_answers_source_not_found(http, index):
    response = http.get(f"/{index}/_source/1")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "resource_not_found_exception"
    assert error["reason"] == f"Source not found [{index}]/[1]"


def test_search_matches_and_aggregates_but_shows_no_source(es, index):
    result = es.search(index=index, query={"term": {"tag": "red"}}, docvalue_fields=["n"],
                       aggs={"tags": {"terms": {"field": "tag"}},
                             "top": {"top_hits": {"size": 1}}})
    hit = result["hits"]["hits"][0]
    assert hit["_id"] == "1" and "_source" not in hit
    assert hit["fields"] == {"n": [5]}
    assert result["aggregations"]["tags"]["buckets"] == [{"key": "red", "doc_count": 1}]
    assert "_source" not in result["aggregations"]["top"]["hits"]["hits"][0]


def test_updating_an_existing_document_is_refused_and_changes_nothing(es, index):
    with pytest.raises(elasticsearch.BadRequestError) as e:
        es.update(index=index, id="1", doc={"n": 6})
    assert e.value.error == "document_source_missing_exception"
    assert e.value.info["error"]["reason"] == "[1]: document source missing"
    assert es.get(index=index, id="1")["_version"] == 1
    assert es.count(index=index, query={"term": {"n": 5}})["count"] == 1


def test_a_stale_compare_and_set_update_is_a_version_conflict_first(es, index):
    with pytest.raises(elasticsearch.ConflictError) as e:
        es.update(index=index, id="1", doc={"n": 6}, if_seq_no=7, if_primary_term=1)
    assert e.value.error == "version_conflict_engine_exception"


def test_a_bulk_update_fails_only_its_own_item(es, index):
    result = es.bulk(index=index, operations=[
        {"update": {"_id": "1"}}, {"doc": {"n": 6}},
        {"index": {"_id": "2"}}, {"tag": "blue"},
    ])
    update, created = (item for entry in result["items"] for item in entry.values())
    assert update["status"] == 400 and update["error"]["type"] == "document_source_missing_exception"
    assert created["status"] == 201


def test_an_upsert_of_a_missing_document_creates_it(es, index):
    result = es.update(index=index, id="3", doc={"tag": "green"}, doc_as_upsert=True, source=True)
    assert result["result"] == "created"
    assert result["get"]["_source"] == {"tag": "green"}  # from the request, as ES answers it
    assert es.get(index=index, id="3")["found"] is True


def test_the_source_cannot_be_enabled_again(http, index):
    response = http.put(f"/{index}/_mapping", json={"_source": {"enabled": True}})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == (
        "Mapper for [_source] conflicts with existing mapper:\n\tCannot update parameter [enabled] "
        "from [false] to [true]")
