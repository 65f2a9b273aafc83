"""`constant_keyword` through a real node: every document of an index has the one value,
those that leave the field out too, so a query on the field matches a whole index or
none of it. That is what makes it the filter across indices (a data stream's
`data_stream.dataset`)."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0}


@pytest.fixture
def two_indices(index_name, es) -> str:
    """`<name>-a` mapped with the value `logs`, `<name>-b` without one (its first
    document gives `metrics`); each with a document that has the field and one without."""
    for suffix, field in (("a", {"type": "constant_keyword", "value": "logs"}),
                          ("b", {"type": "constant_keyword"})):
        es.indices.create(index=f"{index_name}-{suffix}", settings=SETTINGS,
                          mappings={"properties": {"ds": field, "n": {"type": "long"}}})
    es.index(index=f"{index_name}-a", id="1", document={"n": 1})
    es.index(index=f"{index_name}-a", id="2", document={"n": 2, "ds": "logs"})
    es.index(index=f"{index_name}-b", id="3", document={"n": 3, "ds": "metrics"})
    es.index(index=f"{index_name}-b", id="4", document={"n": 4})
    es.indices.refresh(index=f"{index_name}-*")
    return f"{index_name}-*"


def ids(es, index, query) -> list[str]:
    return sorted(hit["_id"] for hit in es.search(index=index, query=query)["hits"]["hits"])


def test_the_first_document_sets_a_value_the_mapping_left_out(es, two_indices, index_name):
    mapping = es.indices.get_mapping(index=f"{index_name}-b")[f"{index_name}-b"]["mappings"]
    assert mapping["properties"]["ds"] == {"type": "constant_keyword", "value": "metrics"}


def test_another_value_is_refused_and_nothing_is_written(es, two_indices, index_name):
    with pytest.raises(BadRequestError) as e:
        es.index(index=f"{index_name}-b", id="5", document={"ds": "logs"})
    assert e.value.body["error"]["caused_by"]["reason"] == (
        "[constant_keyword] field [ds] only accepts values that are equal to the value defined in the "
        "mappings [metrics], but got [logs]")
    assert not es.exists(index=f"{index_name}-b", id="5")


@pytest.mark.parametrize("query, matched", [
    ({"term": {"ds": "logs"}}, ["1", "2"]),
    ({"term": {"ds": {"value": "LOGS", "case_insensitive": True}}}, ["1", "2"]),
    ({"terms": {"ds": ["metrics", "other"]}}, ["3", "4"]),
    ({"match": {"ds": "metrics"}}, ["3", "4"]),
    ({"prefix": {"ds": "met"}}, ["3", "4"]),
    ({"wildcard": {"ds": "l*s"}}, ["1", "2"]),
    ({"regexp": {"ds": "m.*s"}}, ["3", "4"]),
    ({"fuzzy": {"ds": "logz"}}, ["1", "2"]),
    ({"range": {"ds": {"gt": "logs"}}}, ["3", "4"]),
    ({"range": {"ds": {"gte": "logs", "lt": "metrics"}}}, ["1", "2"]),
    ({"exists": {"field": "ds"}}, ["1", "2", "3", "4"]),
    ({"query_string": {"query": "ds:metrics"}}, ["3", "4"]),
    ({"query_string": {"query": "metrics"}}, ["3", "4"]),
    ({"match": {"ds": {"query": "logz", "fuzziness": "AUTO"}}}, ["1", "2"]),
    ({"match_phrase_prefix": {"ds": "met"}}, ["3", "4"]),
    ({"match_bool_prefix": {"ds": "lo"}}, ["1", "2"]),
    ({"bool": {"must_not": {"term": {"ds": "logs"}}}}, ["3", "4"]),
    ({"term": {"ds": "traces"}}, []),
])
def test_a_query_matches_the_whole_index_whose_value_passes(es, two_indices, query, matched):
    assert ids(es, two_indices, query) == matched


def test_aggregations_count_every_document_under_its_index_value(es, two_indices):
    result = es.search(index=two_indices, size=0, aggs={
        "by": {"terms": {"field": "ds"}}, "values": {"value_count": {"field": "ds"}}})
    assert [(b["key"], b["doc_count"]) for b in result["aggregations"]["by"]["buckets"]] == \
        [("logs", 2), ("metrics", 2)]
    assert result["aggregations"]["values"]["value"] == 4


def test_hits_sort_on_and_show_the_value_of_their_index(es, two_indices):
    hits = es.search(index=two_indices, sort=[{"ds": "desc"}, {"n": "asc"}], fields=["ds"],
                     docvalue_fields=["ds"])["hits"]["hits"]
    assert [(h["_id"], h["sort"][0], h["fields"]["ds"]) for h in hits] == [
        ("3", "metrics", ["metrics"]), ("4", "metrics", ["metrics"]),
        ("1", "logs", ["logs"]), ("2", "logs", ["logs"])]
