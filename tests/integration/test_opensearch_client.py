"""The core document and index flows through opensearch-py, unmodified: a client written
for OpenSearch works against a Strata node as it does against Elasticsearch."""

from __future__ import annotations

import re

import pytest
from opensearchpy import ConflictError, NotFoundError, OpenSearch, RequestError, helpers


@pytest.fixture(scope="module")
def client(node):
    c = OpenSearch(hosts=[node.url], timeout=30)
    yield c
    c.close()


@pytest.fixture
def index(request) -> str:
    return "os-" + re.sub(r"[^a-z0-9_-]", "-", request.node.name.lower())[:200]


def test_root_info_reads_as_a_cluster(client):
    info = client.info()
    assert info["version"]["number"]
    assert info["tagline"] == "You Know, for Search"


def test_index_lifecycle_create_exists_get_delete(client, index):
    created = client.indices.create(index=index, body={
        "settings": {"number_of_shards": 2, "number_of_replicas": 0},
        "mappings": {"properties": {"name": {"type": "keyword"}}}})
    assert created["acknowledged"] is True
    assert client.indices.exists(index=index)
    got = client.indices.get(index=index)[index]
    assert got["settings"]["index"]["number_of_shards"] == "2"
    assert got["mappings"] == {"properties": {"name": {"type": "keyword"}}}
    client.indices.delete(index=index)
    assert not client.indices.exists(index=index)


def test_create_existing_index_raises_request_error(client, index):
    client.indices.create(index=index)
    with pytest.raises(RequestError) as e:
        client.indices.create(index=index)
    assert e.value.status_code == 400
    assert e.value.error == "resource_already_exists_exception"


def test_index_get_and_delete_a_document(client, index):
    written = client.index(index=index, id="1", body={"name": "one"})
    assert (written["result"], written["_version"]) == ("created", 1)
    got = client.get(index=index, id="1")
    assert got["_source"] == {"name": "one"}
    assert client.exists(index=index, id="1")
    assert client.get_source(index=index, id="1") == {"name": "one"}
    assert client.delete(index=index, id="1")["result"] == "deleted"
    with pytest.raises(NotFoundError):
        client.get(index=index, id="1")


def test_index_without_id_returns_a_generated_id(client, index):
    written = client.index(index=index, body={"name": "anon"})
    assert len(written["_id"]) == 20
    assert client.get(index=index, id=written["_id"])["found"]


def test_create_conflict_raises_conflict_error(client, index):
    client.create(index=index, id="1", body={"v": 1})
    with pytest.raises(ConflictError) as e:
        client.create(index=index, id="1", body={"v": 2})
    assert e.value.error == "version_conflict_engine_exception"


def test_update_merges_upserts_and_detects_noops(client, index):
    created = client.update(index=index, id="1", body={"doc": {"a": 1}, "doc_as_upsert": True})
    assert created["result"] == "created"
    assert client.update(index=index, id="1", body={"doc": {"b": 2}})["result"] == "updated"
    assert client.update(index=index, id="1", body={"doc": {"b": 2}})["result"] == "noop"
    assert client.get_source(index=index, id="1") == {"a": 1, "b": 2}


def test_compare_and_set_with_seq_no_and_primary_term(client, index):
    first = client.index(index=index, id="1", body={"v": 1})
    client.index(index=index, id="1", body={"v": 2}, params={
        "if_seq_no": first["_seq_no"], "if_primary_term": first["_primary_term"]})
    with pytest.raises(ConflictError):
        client.index(index=index, id="1", body={"v": 3}, params={
            "if_seq_no": first["_seq_no"], "if_primary_term": first["_primary_term"]})
    assert client.get_source(index=index, id="1") == {"v": 2}


def test_bulk_api_reports_items_and_errors(client, index):
    result = client.bulk(body=[
        {"index": {"_index": index, "_id": "1"}}, {"a": 1},
        {"create": {"_index": index, "_id": "1"}}, {"a": 2},
        {"delete": {"_index": index, "_id": "2"}},
    ])
    assert result["errors"] is True
    assert [next(iter(i.values()))["status"] for i in result["items"]] == [201, 409, 404]


def test_helpers_bulk_then_refresh_and_count(client, index):
    client.indices.create(index=index, body={"settings": {"number_of_shards": 3, "refresh_interval": "-1"}})
    ok, errors = helpers.bulk(client, ({"_index": index, "_id": str(n), "n": n} for n in range(60)))
    assert (ok, errors) == (60, [])
    assert client.count(index=index)["count"] == 0
    client.indices.refresh(index=index)
    assert client.count(index=index)["count"] == 60
    assert client.count(index=index, body={"query": {"match_all": {}}})["count"] == 60


def test_mget_and_routing(client, index):
    client.indices.create(index=index, body={"settings": {"number_of_shards": 3}})
    client.index(index=index, id="1", body={"n": 1}, params={"routing": "user-7"})
    got = client.get(index=index, id="1", params={"routing": "user-7"})
    assert got["_routing"] == "user-7"
    docs = client.mget(body={"docs": [{"_index": index, "_id": "1", "routing": "user-7"}]})["docs"]
    assert docs[0]["_source"] == {"n": 1}


def test_refresh_parameter_makes_a_write_countable(client, index):
    client.indices.create(index=index, body={"settings": {"refresh_interval": "-1"}})
    client.index(index=index, id="1", body={}, params={"refresh": "true"})
    assert client.count(index=index)["count"] == 1
    client.indices.flush(index=index)
