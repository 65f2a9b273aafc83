"""`GET /_resolve/index/{name}` on a real node, through elasticsearch-py, over the setup of
Elasticsearch's 10_basic_resolve_index.yml (under each test's own prefix)."""

from __future__ import annotations

import pytest
from elasticsearch import NotFoundError


@pytest.fixture
def resolvable(es, index_name) -> str:
    """Elasticsearch's 10_basic_resolve_index.yml setup, under the test's own prefix."""
    p = index_name
    es.indices.create(index=f"{p}_index1", aliases={f"{p}_alias": {}, f"{p}_blias": {}, f"{p}_clias": {}},
                      settings={"number_of_replicas": 0})
    es.indices.create(index=f"{p}_index2", aliases={f"{p}_alias": {}}, settings={"number_of_replicas": 0})
    es.indices.close(index=f"{p}_index2")
    es.indices.create(index=f"{p}_index3", aliases={f"{p}_blias": {}}, settings={"number_of_replicas": 0})
    es.indices.create(index=f"{p}_hidden", settings={"number_of_replicas": 0, "index.hidden": True})
    return p


def test_resolve_index_lists_indices_and_aliases_sorted(es, resolvable):
    p = resolvable
    assert es.indices.resolve_index(name=f"{p}_*").body == {
        "indices": [{"name": f"{p}_index1", "aliases": [f"{p}_alias", f"{p}_blias", f"{p}_clias"],
                     "attributes": ["open"]},
                    {"name": f"{p}_index3", "aliases": [f"{p}_blias"], "attributes": ["open"]}],
        "aliases": [{"name": f"{p}_alias", "indices": [f"{p}_index1", f"{p}_index2"]},
                    {"name": f"{p}_blias", "indices": [f"{p}_index1", f"{p}_index3"]},
                    {"name": f"{p}_clias", "indices": [f"{p}_index1"]}],
        "data_streams": []}


def test_resolve_index_expands_wildcards_as_asked(es, resolvable):
    p = resolvable
    response = es.indices.resolve_index(name=f"{p}_*,-{p}_*lias", expand_wildcards="all")
    assert [(i["name"], i["attributes"]) for i in response["indices"]] == [
        (f"{p}_hidden", ["hidden", "open"]), (f"{p}_index1", ["open"]), (f"{p}_index2", ["closed"]),
        (f"{p}_index3", ["open"])]
    assert response["aliases"] == []
    named = es.indices.resolve_index(name=[f"{p}_index2", f"{p}_clias"])
    assert named["indices"] == [{"name": f"{p}_index2", "aliases": [f"{p}_alias"], "attributes": ["closed"]}]
    assert named["aliases"] == [{"name": f"{p}_clias", "indices": [f"{p}_index1"]}]


def test_resolve_index_of_a_missing_name(es, resolvable):
    p = resolvable
    with pytest.raises(NotFoundError) as e:
        es.indices.resolve_index(name=f"{p}_index1,{p}_nope")
    error = e.value.body["error"]
    assert (e.value.meta.status, error["type"], error["reason"]) == (404, "index_not_found_exception",
                                                                     f"no such index [{p}_nope]")
    lenient = es.indices.resolve_index(name=f"{p}_index1,{p}_nope", ignore_unavailable=True)
    assert [i["name"] for i in lenient["indices"]] == [f"{p}_index1"]
    empty = {"indices": [], "aliases": [], "data_streams": []}
    assert es.indices.resolve_index(name=f"{p}_nope*").body == empty
    with pytest.raises(NotFoundError):
        es.indices.resolve_index(name=f"{p}_nope*", allow_no_indices=False)
