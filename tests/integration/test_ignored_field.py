"""The `_ignored` metadata field through elasticsearch-py, on a real node and on a replica:
the fields a document left out (`ignore_above`, `ignore_malformed`, the field limit under
`ignore_dynamic_beyond_limit`) are found by term, terms, exists and prefix queries, counted
by a terms aggregation, shown in search hits, and in get and mget when `stored_fields`
names `_ignored`, as Elasticsearch 8.17 shows them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from tests.support.cluster import LocalCluster

MAPPING = {"properties": {"code": {"type": "keyword", "ignore_above": 5},
                          "count": {"type": "long", "ignore_malformed": True},
                          "day": {"type": "date", "ignore_malformed": True}}}
DOCS = {
    "1": {"code": "short", "count": 1},  # nothing left out
    "2": {"code": "much too long", "count": 2},
    "3": {"code": "much too long", "count": "three", "day": "someday"},
    "4": {"count": ["four", 4]},
}
IGNORED = {"1": None, "2": ["code"], "3": ["code", "count", "day"], "4": ["count"]}


def indexed(es: Elasticsearch, index: str, replicas: int = 0) -> None:
    es.indices.create(index=index, mappings=MAPPING,
                      settings={"number_of_shards": 1, "number_of_replicas": replicas})
    for doc_id, doc in DOCS.items():
        es.index(index=index, id=doc_id, document=doc)
    es.indices.refresh(index=index)


def matching(es: Elasticsearch, index: str, query: dict, **params) -> list[str]:
    hits = es.search(index=index, query=query, size=100, **params)["hits"]["hits"]
    return sorted(h["_id"] for h in hits)


def ignored_counts(es: Elasticsearch, index: str, **params) -> list[tuple[str, int]]:
    body = es.search(index=index, size=0, aggs={"f": {"terms": {"field": "_ignored"}}}, **params)
    return [(b["key"], b["doc_count"]) for b in body["aggregations"]["f"]["buckets"]]


def test_term_terms_exists_and_prefix_find_the_fields_left_out(es, index_name):
    indexed(es, index_name)
    assert matching(es, index_name, {"term": {"_ignored": "code"}}) == ["2", "3"]
    assert matching(es, index_name, {"term": {"_ignored": "count"}}) == ["3", "4"]
    assert matching(es, index_name, {"terms": {"_ignored": ["day", "count"]}}) == ["3", "4"]
    assert matching(es, index_name, {"exists": {"field": "_ignored"}}) == ["2", "3", "4"]
    assert matching(es, index_name, {"prefix": {"_ignored": "co"}}) == ["2", "3", "4"]
    assert matching(es, index_name, {"wildcard": {"_ignored": "d*"}}) == ["3"]
    # what was left out is not in its field: the malformed count is not a value of `count`
    assert matching(es, index_name, {"exists": {"field": "count"}}) == ["1", "2", "4"]


def test_a_terms_aggregation_counts_the_documents_per_field_left_out(es, index_name):
    indexed(es, index_name)
    assert ignored_counts(es, index_name) == [("code", 2), ("count", 2), ("day", 1)]


def test_hits_show_ignored_sorted_after_the_score(es, index_name):
    indexed(es, index_name)
    hits = es.search(index=index_name, sort=["_doc"])["hits"]["hits"]
    assert {h["_id"]: h.get("_ignored") for h in hits} == IGNORED
    third = next(h for h in hits if h["_id"] == "3")
    assert list(third) == ["_index", "_id", "_score", "_ignored", "_source", "sort"]
    # still shown with a list of stored fields; not with stored fields off
    third = {"ids": {"values": ["3"]}}
    hits = es.search(index=index_name, stored_fields=["code"], query=third)["hits"]["hits"]
    assert hits[0]["_ignored"] == IGNORED["3"]
    hits = es.search(index=index_name, stored_fields="_none_", query=third)["hits"]["hits"]
    assert "_ignored" not in hits[0]
    # `fields` shows it when named, `docvalue_fields` reads it
    hits = es.search(index=index_name, fields=["_ignored"], docvalue_fields=["count"],
                     query={"ids": {"values": ["4"]}})["hits"]["hits"]
    assert hits[0]["fields"] == {"_ignored": ["count"], "count": [4]}


def test_get_and_mget_show_ignored_when_stored_fields_name_it(es, index_name):
    indexed(es, index_name)
    assert "_ignored" not in es.get(index=index_name, id="3")  # ES shows it by default no more (8.5+)
    got = es.get(index=index_name, id="3", stored_fields="_ignored").body
    assert got["_ignored"] == IGNORED["3"]
    assert list(got) == ["_index", "_id", "_version", "_seq_no", "_primary_term", "_ignored", "found"]
    assert "_ignored" not in es.get(index=index_name, id="1", stored_fields="_ignored")
    docs = es.mget(index=index_name, ids=["1", "2", "3", "4"], stored_fields=["_ignored"])["docs"]
    assert {d["_id"]: d.get("_ignored") for d in docs} == IGNORED
    docs = es.mget(index=index_name, docs=[{"_id": "2", "stored_fields": ["_ignored"]}, {"_id": "3"}])["docs"]
    assert [d.get("_ignored") for d in docs] == [["code"], None]


def test_bulk_batches_indexed_by_the_worker_and_updates_keep_ignored(es, index_name):
    es.indices.create(index=index_name, mappings=MAPPING, settings={"number_of_replicas": 0})
    operations = []
    for n in range(300):
        operations += [{"index": {"_id": str(n)}}, {"code": "x" * (n % 10), "count": n if n % 3 else "no"}]
    assert not es.bulk(index=index_name, operations=operations, refresh=True)["errors"]
    long_codes = sum(1 for n in range(300) if n % 10 > 5)
    assert ignored_counts(es, index_name) == [("code", long_codes), ("count", 100)]
    es.update(index=index_name, id="9", doc={"code": "ok"}, refresh=True)  # was code 9 x, count "no"
    assert es.get(index=index_name, id="9", stored_fields="_ignored")["_ignored"] == ["count"]
    assert ignored_counts(es, index_name) == [("code", long_codes - 1), ("count", 100)]


def test_fields_past_the_limit_left_out_are_listed(es, index_name):
    es.indices.create(index=index_name, settings={
        "number_of_replicas": 0, "index.mapping.total_fields.limit": 2,
        "index.mapping.total_fields.ignore_dynamic_beyond_limit": True})
    es.index(index=index_name, id="1", document={"a": 1, "b": 2, "c": "text"}, refresh=True)
    assert matching(es, index_name, {"term": {"_ignored": "c"}}) == ["1"]
    assert es.search(index=index_name)["hits"]["hits"][0]["_ignored"] == ["c"]
    assert es.get(index=index_name, id="1", stored_fields="_ignored")["_ignored"] == ["c"]


def test_a_document_may_not_set_ignored(es, index_name):
    es.indices.create(index=index_name, mappings=MAPPING)
    with pytest.raises(BadRequestError) as raised:
        es.index(index=index_name, id="1", document={"_ignored": ["code"]})
    error = raised.value.body["error"]
    # (Strata's type for a document that does not parse: api-compatibility.md says why)
    assert error["type"] == "mapper_parsing_exception"
    assert error["reason"] == ("failed to parse: Field [_ignored] is a metadata field and cannot be added "
                               "inside a document. Use the index API request parameters.")


# -- a replica answers as its primary ----------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("ignored"), ["i0", "i1"]).start()
    yield cluster
    cluster.stop()


def test_a_replica_answers_as_its_primary(pair):
    """Written once both copies are started: documents one by one (the replica parses each
    again, under the field limit too) and a bulk batch (indexed by the primary's worker,
    its segment shipped); and written before the replica existed (a peer recovery replays
    the operations)."""
    client = Elasticsearch(pair.nodes[0].url, request_timeout=60)
    copies = {"number_of_shards": 1, "number_of_replicas": 1}
    limit = {"index.mapping.total_fields.limit": 2,
             "index.mapping.total_fields.ignore_dynamic_beyond_limit": True}
    client.indices.create(index="pair", mappings=MAPPING, settings=copies)
    client.indices.create(index="pair-limit", settings={**copies, **limit})
    health = client.cluster.health(index="pair,pair-limit", wait_for_status="green", timeout="60s")
    assert health["status"] == "green"
    for doc_id, doc in DOCS.items():
        assert client.index(index="pair", id=doc_id, document=doc)["_shards"]["successful"] == 2
    operations = []
    for n in range(200):
        operations += [{"index": {"_id": f"b{n}"}}, {"code": "y" * (n % 8), "count": n if n % 5 else "x"}]
    assert not client.bulk(index="pair", operations=operations)["errors"]
    for n in range(3):
        assert client.index(index="pair-limit", id=str(n), document={"a": n, "b": n, "c": n})["_shards"] == \
            {"total": 2, "successful": 2, "failed": 0}
    indexed(client, "pair-late")
    client.indices.put_settings(index="pair-late", settings={"number_of_replicas": 1})
    assert client.cluster.health(index="pair*", wait_for_status="green", timeout="60s")["status"] == "green"
    client.indices.refresh(index="pair*")
    answers = []
    for node_id in client.cluster.state(metric="nodes")["nodes"]:
        only = f"_only_nodes:{node_id}"
        hits = client.search(index="pair", size=300, preference=only)["hits"]["hits"]
        late = client.search(index="pair-late", preference=only)["hits"]["hits"]
        answers.append((
            {h["_id"]: h.get("_ignored") for h in hits},
            ignored_counts(client, "pair", preference=only),
            matching(client, "pair", {"term": {"_ignored": "count"}}, preference=only),
            matching(client, "pair", {"exists": {"field": "_ignored"}}, preference=only),
            client.get(index="pair", id="3", stored_fields="_ignored", preference=only)["_ignored"],
            matching(client, "pair-limit", {"term": {"_ignored": "c"}}, preference=only),
            {h["_id"]: h.get("_ignored") for h in late},
            ignored_counts(client, "pair-late", preference=only),
        ))
    assert len(answers) == 2 and answers[0] == answers[1]
    hits, counts, *_, limited, late, late_counts = answers[0]
    assert {k: hits[k] for k in IGNORED} == IGNORED
    assert counts == [("code", 52), ("count", 42), ("day", 1)]
    assert limited == ["0", "1", "2"]
    assert late == IGNORED and late_counts == [("code", 2), ("count", 2), ("day", 1)]
    client.close()
