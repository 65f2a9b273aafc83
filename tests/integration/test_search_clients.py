"""Search through the official clients, unmodified: elasticsearch-py (every query type
Strata implements) and opensearch-py (a representative set), as applications call them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, NotFoundError
from elasticsearch import helpers as es_helpers
from opensearchpy import OpenSearch, RequestError

INDEX = "client-search"
MAPPING = {"properties": {
    "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "body": {"type": "text"},
    "tag": {"type": "keyword"},
    "views": {"type": "long"},
    "rating": {"type": "double"},
    "published": {"type": "date"},
    "public": {"type": "boolean"},
    "addr": {"type": "ip"},
}}
DOCS = {
    "1": {"title": "The quick brown fox", "body": "jumps over the lazy dog", "tag": "animals", "views": 10,
          "rating": 4.5, "published": "2024-01-10", "public": True, "addr": "10.0.0.1"},
    "2": {"title": "Quick recipes for dinner", "body": "fast food at home", "tag": "food", "views": 250,
          "rating": 3.0, "published": "2024-02-01", "public": True, "addr": "10.0.0.2"},
    "3": {"title": "A slow brown bear", "body": "the bear sleeps all winter", "tag": "animals", "views": 40,
          "rating": 4.9, "published": "2023-12-24", "public": False, "addr": "192.168.1.5"},
    "4": {"title": "Brown bread", "body": "baking bread at home with brown flour", "tag": "food", "views": 5,
          "published": "2024-03-15", "public": False},
    "5": {"title": "Foxes and hounds", "tag": ["animals", "sport"], "views": 75, "rating": 2.0,
          "published": "2024-01-31", "public": True, "addr": "10.0.1.1"},
}


@pytest.fixture(scope="module")
def indexed(es):
    es.indices.create(index=INDEX, settings={"number_of_shards": 3, "number_of_replicas": 0},
                      mappings=MAPPING)
    ok, errors = es_helpers.bulk(es, ({"_index": INDEX, "_id": i, "_source": d} for i, d in DOCS.items()),
                                 refresh=True)
    assert ok == len(DOCS) and not errors
    return INDEX


@pytest.fixture(scope="module")
def osc(node):
    client = OpenSearch(hosts=[node.url], timeout=30)
    yield client
    client.close()


def hit_ids(response) -> set[str]:
    return {h["_id"] for h in response["hits"]["hits"]}


QUERIES = [
    ({"match_all": {}}, {"1", "2", "3", "4", "5"}),
    ({"match_none": {}}, set()),
    ({"term": {"tag": "food"}}, {"2", "4"}),
    ({"term": {"tag": {"value": "sport", "boost": 2.0}}}, {"5"}),
    ({"terms": {"tag": ["sport", "food"]}}, {"2", "4", "5"}),
    ({"ids": {"values": ["1", "4", "nope"]}}, {"1", "4"}),
    ({"exists": {"field": "rating"}}, {"1", "2", "3", "5"}),
    ({"prefix": {"title.raw": "Brown"}}, {"4"}),
    ({"wildcard": {"tag": {"value": "an*ls"}}}, {"1", "3", "5"}),
    ({"regexp": {"tag": "fo+d"}}, {"2", "4"}),
    ({"fuzzy": {"tag": {"value": "fod"}}}, {"2", "4"}),
    ({"range": {"views": {"gte": 40, "lt": 250}}}, {"3", "5"}),
    ({"range": {"rating": {"gt": 4.0}}}, {"1", "3"}),
    ({"range": {"published": {"gte": "2024-01-01", "lte": "2024-01-31"}}}, {"1", "5"}),
    ({"range": {"addr": {"gte": "10.0.0.0", "lte": "10.0.0.255"}}}, {"1", "2"}),
    ({"term": {"public": False}}, {"3", "4"}),
    ({"term": {"addr": "10.0.0.0/16"}}, {"1", "2", "5"}),
    ({"match": {"title": "brown"}}, {"1", "3", "4"}),
    ({"match": {"title": {"query": "quick brown", "operator": "and"}}}, {"1"}),
    ({"match_phrase": {"body": "at home"}}, {"2", "4"}),
    ({"match_phrase_prefix": {"title": "brown bre"}}, {"4"}),
    ({"multi_match": {"query": "bear", "fields": ["title", "body"]}}, {"3"}),
    ({"bool": {"must": [{"match": {"title": "brown"}}], "filter": [{"term": {"tag": "animals"}}],
               "must_not": [{"term": {"public": False}}]}}, {"1"}),
    ({"bool": {"should": [{"term": {"tag": "sport"}}, {"term": {"views": 5}}], "minimum_should_match": 1}},
     {"4", "5"}),
    ({"constant_score": {"filter": {"term": {"tag": "food"}}, "boost": 3}}, {"2", "4"}),
    ({"dis_max": {"queries": [{"match": {"title": "fox"}}, {"match": {"body": "fox"}}]}}, {"1"}),
    ({"query_string": {"query": "tag:food AND views:>10"}}, {"2"}),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[next(iter(q)) + str(i) for i, (q, _) in
                                                              enumerate(QUERIES)])
def test_query_types_through_elasticsearch_py(es, indexed, query, expected):
    response = es.search(index=indexed, query=query, size=10)
    assert hit_ids(response) == expected
    assert response["hits"]["total"]["value"] == len(expected)
    assert es.count(index=indexed, query=query)["count"] == len(expected)


def test_scores_rank_better_matches_first(es, indexed):
    """On one shard (scores use each shard's own term statistics, as Elasticsearch's
    default query_then_fetch does, so rankings across shards may differ)."""
    es.indices.create(index="client-ranking", settings={"number_of_shards": 1}, mappings=MAPPING)
    es_helpers.bulk(es, ({"_index": "client-ranking", "_id": i, "_source": d} for i, d in DOCS.items()),
                    refresh=True)
    response = es.search(index="client-ranking", query={"match": {"title": "quick brown fox"}})
    ranked = [h["_id"] for h in response["hits"]["hits"]]
    assert ranked[0] == "1"
    scores = [h["_score"] for h in response["hits"]["hits"]]
    assert scores == sorted(scores, reverse=True) and response["hits"]["max_score"] == scores[0]
    food = {"constant_score": {"filter": {"term": {"tag": "food"}}, "boost": 3}}
    boosted = es.search(index=indexed, query=food)
    assert {h["_score"] for h in boosted["hits"]["hits"]} == {3.0}


def test_uri_search_with_q(es, indexed):
    assert hit_ids(es.search(index=indexed, q="tag:food")) == {"2", "4"}
    assert hit_ids(es.search(index=indexed, q="brown", df="title")) == {"1", "3", "4"}
    assert es.count(index=indexed, q="tag:animals")["count"] == 3


def test_sort_paging_and_source_through_elasticsearch_py(es, indexed):
    response = es.search(index=indexed, sort=[{"views": "desc"}], size=2, source_includes=["views"])
    assert [h["_source"] for h in response["hits"]["hits"]] == [{"views": 250}, {"views": 75}]
    assert [h["sort"] for h in response["hits"]["hits"]] == [[250], [75]]
    page = es.search(index=indexed, sort=[{"views": "desc"}], size=2, search_after=[75])
    assert [h["_id"] for h in page["hits"]["hits"]] == ["3", "1"]
    page = es.search(index=indexed, sort=[{"views": "desc"}], size=2, from_=4)
    assert [h["_id"] for h in page["hits"]["hits"]] == ["4"]


def test_aggregations_through_elasticsearch_py(es, indexed):
    response = es.search(index=indexed, size=0, aggs={
        "tags": {"terms": {"field": "tag"}}, "views": {"stats": {"field": "views"}},
        "avg_rating": {"avg": {"field": "rating"}}})
    aggs = response["aggregations"]
    counts = {b["key"]: b["doc_count"] for b in aggs["tags"]["buckets"]}
    assert counts == {"animals": 3, "food": 2, "sport": 1}
    assert aggs["views"]["count"] == 5 and aggs["views"]["sum"] == 380.0
    assert aggs["avg_rating"]["value"] == pytest.approx((4.5 + 3.0 + 4.9 + 2.0) / 4)
    typed = es.search(index=indexed, size=0, aggs={"m": {"max": {"field": "views"}}}, typed_keys=True)
    assert typed["aggregations"]["max#m"]["value"] == 250.0


def test_post_filter_leaves_aggregations_alone(es, indexed):
    response = es.search(index=indexed, post_filter={"term": {"tag": "food"}},
                         aggs={"tags": {"terms": {"field": "tag"}}})
    assert hit_ids(response) == {"2", "4"}
    assert sum(b["doc_count"] for b in response["aggregations"]["tags"]["buckets"]) == 6


def test_min_score(es, indexed):
    food = {"constant_score": {"filter": {"term": {"tag": "food"}}, "boost": 3}}
    response = es.search(index=indexed, query=food, min_score=4)
    assert response["hits"]["total"]["value"] == 0


def test_msearch_through_elasticsearch_py(es, indexed):
    response = es.msearch(searches=[{"index": indexed}, {"query": {"term": {"tag": "food"}}},
                                    {"index": "missing-index"}, {"query": {"match_all": {}}}])
    found, missing = response["responses"]
    assert hit_ids(found) == {"2", "4"} and found["status"] == 200
    assert missing["status"] == 404 and missing["error"]["type"] == "index_not_found_exception"


def test_errors_through_elasticsearch_py(es, indexed):
    with pytest.raises(BadRequestError) as e:
        es.search(index=indexed, query={"no_such_query": {}})
    assert e.value.status_code == 400 and e.value.error == "parsing_exception"
    with pytest.raises(BadRequestError) as e:
        es.search(index=indexed, sort=["body"])
    assert e.value.error == "search_phase_execution_exception"
    with pytest.raises(NotFoundError):
        es.search(index="missing-index")


REPRESENTATIVE = [
    ({"match": {"title": "brown"}}, {"1", "3", "4"}),
    ({"term": {"tag": "food"}}, {"2", "4"}),
    ({"range": {"views": {"gte": 40}}}, {"2", "3", "5"}),
    ({"bool": {"must": [{"match": {"body": "home"}}], "filter": [{"range": {"views": {"lt": 100}}}]}}, {"4"}),
    ({"terms": {"tag": ["sport"]}}, {"5"}),
    ({"exists": {"field": "addr"}}, {"1", "2", "3", "5"}),
    ({"prefix": {"tag": "an"}}, {"1", "3", "5"}),
    ({"query_string": {"query": "title:fox*"}}, {"1", "5"}),
]


@pytest.mark.parametrize(("query", "expected"), REPRESENTATIVE,
                         ids=[next(iter(q)) for q, _ in REPRESENTATIVE])
def test_query_types_through_opensearch_py(osc, indexed, query, expected):
    response = osc.search(index=indexed, body={"query": query})
    assert hit_ids(response) == expected
    assert osc.count(index=indexed, body={"query": query})["count"] == len(expected)


def test_sort_paging_aggs_and_msearch_through_opensearch_py(osc, indexed):
    response = osc.search(index=indexed, body={"sort": [{"published": "asc"}], "size": 2,
                                               "aggs": {"tags": {"terms": {"field": "tag"}}}})
    assert [h["_id"] for h in response["hits"]["hits"]] == ["3", "1"]
    assert response["aggregations"]["tags"]["buckets"][0] == {"key": "animals", "doc_count": 3}
    after = osc.search(index=indexed, body={"sort": [{"published": "asc"}], "size": 10,
                                            "search_after": response["hits"]["hits"][-1]["sort"]})
    assert [h["_id"] for h in after["hits"]["hits"]] == ["5", "2", "4"]
    responses = osc.msearch(body=[{"index": indexed}, {"query": {"term": {"tag": "sport"}}}])["responses"]
    assert hit_ids(responses[0]) == {"5"}
    with pytest.raises(RequestError) as e:
        osc.search(index=indexed, body={"query": {"bogus": {}}})
    assert e.value.status_code == 400
