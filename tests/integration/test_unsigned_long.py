"""The `unsigned_long` field type through a real node (two shards, so sorts and
aggregations are merged from two partials), on the documents of Elasticsearch's own
REST test for it (x-pack mapper-unsigned-long, 10_basic.yml)."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

SETTINGS = {"number_of_shards": 2, "number_of_replicas": 0}
# id -> value, given as a number or as text as a client may send either
VALUES = {"1": 0, "2": 9223372036854775807, "3": "9223372036854775808", "4": 18446744073709551614,
          "5": "18446744073709551615"}
MAX = 18446744073709551615


@pytest.fixture
def counters(index_name, es) -> str:
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"ul": {"type": "unsigned_long", "store": True}}})
    operations = []
    for doc_id, value in VALUES.items():
        operations += [{"index": {"_id": doc_id}}, {"ul": value}]
    assert not es.bulk(index=index_name, operations=operations, refresh=True)["errors"]
    return index_name


def hit_ids(es, index, **body) -> list[str]:
    return [h["_id"] for h in es.search(index=index, **body)["hits"]["hits"]]


def total(es, index, query) -> int:
    return es.search(index=index, query=query)["hits"]["total"]["value"]


def test_values_past_the_signed_range_are_held_exactly(es, counters):
    for doc_id, value in VALUES.items():
        assert total(es, counters, {"term": {"ul": int(value)}}) == 1, doc_id


def test_a_term_in_text_matches_as_a_number_does(es, counters):
    assert total(es, counters, {"term": {"ul": "18446744073709551615"}}) == 1


def test_a_term_the_field_cannot_hold_matches_nothing(es, counters):
    for value in (-1, 10.5, 0.0, "18446744073709551616", "3.14"):
        assert total(es, counters, {"term": {"ul": value}}) == 0, value


def test_a_malformed_term_fails_the_query(es, counters):
    with pytest.raises(BadRequestError) as raised:
        es.search(index=counters, query={"term": {"ul": "18incorrectnumber"}})
    assert raised.value.body["error"]["root_cause"][0]["reason"] == \
        'failed to create query: For input string: "18incorrectnumber"'


def test_terms_query_matches_each_value(es, counters):
    assert total(es, counters, {"terms": {"ul": [0, 9223372036854775808, MAX]}}) == 3


def test_range_bounds_move_inward_to_whole_numbers(es, counters):
    assert total(es, counters, {"range": {"ul": {"gte": 0.5}}}) == 4
    assert total(es, counters, {"range": {"ul": {"lte": "18446744073709551614.5"}}}) == 4
    around_the_sign_bit = {"gt": "9223372036854775807", "lte": "9223372036854775808"}
    assert total(es, counters, {"range": {"ul": around_the_sign_bit}}) == 1
    assert total(es, counters, {"range": {"ul": {"gte": "18446744073709551616"}}}) == 0
    assert total(es, counters, {"range": {"ul": {"lt": 0}}}) == 0


def test_sort_is_in_unsigned_order_with_unsigned_sort_values(es, counters):
    ascending = es.search(index=counters, sort=[{"ul": "asc"}])["hits"]["hits"]
    assert [h["sort"] for h in ascending] == [[int(v)] for v in VALUES.values()]
    descending = hit_ids(es, counters, sort=[{"ul": "desc"}])
    assert descending == ["5", "4", "3", "2", "1"]


def test_search_after_takes_an_unsigned_sort_value(es, counters):
    assert hit_ids(es, counters, sort=[{"ul": "asc"}], search_after=[9223372036854775808]) == ["4", "5"]
    as_text = ["9223372036854775807"]
    assert hit_ids(es, counters, sort=[{"ul": "asc"}], search_after=as_text) == ["3", "4", "5"]


def test_search_after_refuses_a_value_an_unsigned_long_cannot_be(es, counters):
    with pytest.raises(BadRequestError) as raised:
        es.search(index=counters, sort=[{"ul": "asc"}], search_after=[-1])
    assert raised.value.body["error"]["root_cause"][0]["reason"] == \
        "Failed to parse search_after value for field [ul]."


def test_a_document_without_a_value_sorts_as_the_largest_unsigned_long(es, counters):
    es.delete(index=counters, id="5")  # no tie with the largest value held
    es.index(index=counters, id="none", document={}, refresh=True)
    hits = es.search(index=counters, sort=[{"ul": {"order": "asc", "missing": "_last"}}])["hits"]["hits"]
    last = hits[-1]
    assert (last["_id"], last["sort"]) == ("none", [MAX])
    hits = es.search(index=counters, sort=[{"ul": {"order": "desc", "missing": "_first"}}])["hits"]["hits"]
    first = hits[0]
    assert (first["_id"], first["sort"]) == ("none", [MAX])


def test_terms_aggregation_keys_are_exact_long_terms(es, counters):
    result = es.search(index=counters, size=0, typed_keys=True,
                       aggs={"t": {"terms": {"field": "ul", "order": {"_key": "asc"}}}})["aggregations"]
    buckets = result["lterms#t"]["buckets"]
    assert [b["key"] for b in buckets] == [int(v) for v in VALUES.values()]
    assert all("key_as_string" not in b for b in buckets)


def test_numeric_aggregations_read_the_values_as_doubles(es, counters):
    result = es.search(index=counters, size=0, aggs={
        "max": {"max": {"field": "ul"}},
        "hist": {"histogram": {"field": "ul", "interval": 9223372036854775807}},
        "distinct": {"cardinality": {"field": "ul"}},
    })["aggregations"]
    assert result["max"]["value"] == 1.8446744073709552e19
    assert result["max"]["value_as_string"] == "1.8446744073709552E19"
    assert [(b["key"], b["doc_count"]) for b in result["hist"]["buckets"]] == \
        [(0.0, 1), (9.223372036854776e18, 2), (1.8446744073709552e19, 2)]
    assert result["distinct"]["value"] == 5  # exact: 2^64-2 and 2^64-1 are one double


def test_terms_beside_a_long_field_of_another_index_become_double_terms(es, counters):
    other = f"{counters}-long"
    es.indices.create(index=other, mappings={"properties": {"ul": {"type": "long"}}})
    es.index(index=other, id="1", document={"ul": 0}, refresh=True)
    result = es.search(index=f"{counters},{other}", size=0, typed_keys=True,
                       aggs={"t": {"terms": {"field": "ul"}}})["aggregations"]
    buckets = result["dterms#t"]["buckets"]
    assert buckets[0] == {"key": 0.0, "doc_count": 2}
    assert {b["key"] for b in buckets} == {0.0, 9.223372036854776e18, 1.8446744073709552e19}


def test_terms_beside_an_index_without_the_field_stay_exact(es, counters):
    other = f"{counters}-unmapped"
    es.indices.create(index=other, mappings={"properties": {"name": {"type": "keyword"}}})
    es.index(index=other, id="1", document={"name": "x"}, refresh=True)
    result = es.search(index=f"{counters},{other}", size=0, typed_keys=True,
                       aggs={"t": {"terms": {"field": "ul", "missing": 0, "order": {"_key": "asc"}}}})
    buckets = result["aggregations"]["lterms#t"]["buckets"]
    assert [(b["key"], b["doc_count"]) for b in buckets][-2:] == [(MAX - 1, 1), (MAX, 1)]
    assert buckets[0] == {"key": 0, "doc_count": 2}


def test_docvalue_fields_and_fields_show_numbers_stored_fields_show_text(es, counters):
    hits = es.search(index=counters, sort=["ul"], docvalue_fields=["ul"])["hits"]["hits"]
    assert [h["fields"]["ul"] for h in hits] == [[int(v)] for v in VALUES.values()]
    hits = es.search(index=counters, sort=["ul"], fields=["ul"], source=False)["hits"]["hits"]
    assert [h["fields"]["ul"] for h in hits] == [[int(v)] for v in VALUES.values()]
    hits = es.search(index=counters, sort=["ul"], stored_fields=["ul"])["hits"]["hits"]
    assert [h["fields"]["ul"] for h in hits] == [[str(v)] for v in VALUES.values()]


def test_fields_refuses_a_format_even_for_hits_without_the_field(es, counters):
    es.index(index=counters, id="none", document={}, refresh=True)
    # only the shard holding the hit fetches: its failure leaves the other's (empty) answer
    result = es.search(index=counters, query={"ids": {"values": ["none"]}},
                       fields=[{"field": "ul", "format": "0.0"}])
    assert result["hits"]["hits"] == []
    [failure] = result["_shards"]["failures"]
    assert failure["reason"]["reason"] == "Field [ul] of type [unsigned_long] doesn't support formats."


@pytest.mark.parametrize(("value", "reason"), [
    (-1, "Value [-1] is out of range for unsigned long."),
    ("18446744073709551616", "Value [18446744073709551616] is out of range for unsigned long"),
    (10.5, 'Value "10.5" has a decimal part'),
    ("10223372036854775807.23", 'Value "10223372036854775807.23" has a decimal part'),
    ("a", 'For input string: "a"'),
    (False, 'For input string: "false"'),
])
def test_a_value_an_unsigned_long_cannot_hold_fails_only_its_document(es, counters, value, reason):
    operations = [{"index": {"_id": "bad"}}, {"ul": value}, {"index": {"_id": "good"}}, {"ul": 7}]
    result = es.bulk(index=counters, refresh=True, operations=operations)
    bad, good = (item["index"] for item in result["items"])
    assert bad["status"] == 400 and bad["error"]["caused_by"]["reason"] == reason
    assert good["status"] == 201
    assert total(es, counters, {"match_all": {}}) == len(VALUES) + 1


def test_null_value_stands_for_null_and_the_empty_string(es, index_name):
    es.indices.create(index=index_name, mappings={"properties": {
        "ul": {"type": "unsigned_long", "null_value": 17446744073709551615}}})
    mapping = es.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["properties"]["ul"]["null_value"] == "17446744073709551615"  # kept as text, as ES keeps it
    es.index(index=index_name, id="null", document={"ul": None})
    es.index(index=index_name, id="empty", document={"ul": ""})
    es.index(index=index_name, id="absent", document={}, refresh=True)
    assert sorted(hit_ids(es, index_name, query={"term": {"ul": 17446744073709551615}})) == ["empty", "null"]


def test_coerce_is_not_a_parameter_of_unsigned_long(http, index_name):
    answer = http.put(f"/{index_name}", json={"mappings": {"properties": {
        "ul": {"type": "unsigned_long", "coerce": False}}}})
    assert answer.status_code == 400
    assert answer.json()["error"]["caused_by"]["reason"] == \
        "unknown parameter [coerce] on mapper [ul] of type [unsigned_long]"


def test_a_keyword_with_an_unsigned_long_sub_field_matches_both_forms(es, index_name):
    es.indices.create(index=index_name, mappings={"properties": {
        "counter": {"type": "keyword", "fields": {"ul": {"type": "unsigned_long"}}}}})
    es.index(index=index_name, id="1", document={"counter": 9223372036854775808})
    es.index(index=index_name, id="2", document={"counter": "9223372036854775808"}, refresh=True)
    assert total(es, index_name, {"term": {"counter.ul": 9223372036854775808}}) == 2
