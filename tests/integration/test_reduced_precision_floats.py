"""`scaled_float` and `half_float` through a real node: documents are searched, sorted and
aggregated on the values the index holds (multiples of 1/scaling_factor, half-precision
numbers), and queries round their numbers as Elasticsearch's mappers round them."""

from __future__ import annotations

import pytest

SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0}
PRICES = {"a": 1.11, "b": 2.5, "c": 0.125, "d": 10, "e": 1.1, "f": 0.29}  # c is held as 0.13
RATIOS = {"a": 0.1, "b": 1.0, "c": 1.0001, "d": 2048.7}  # held as 0.0999755859375, 1.0, 1.0, 2048.0


def make(es, name: str, field_type: dict, values: dict) -> str:
    es.indices.create(index=name, settings=SETTINGS, mappings={"properties": {"v": field_type}})
    for id, value in values.items():
        es.index(index=name, id=id, document={"v": value})
    es.indices.refresh(index=name)
    return name


@pytest.fixture
def prices(index_name, es) -> str:
    return make(es, index_name, {"type": "scaled_float", "scaling_factor": 100}, PRICES)


@pytest.fixture
def ratios(index_name, es) -> str:
    return make(es, index_name, {"type": "half_float"}, RATIOS)


def ids(es, index, query) -> list[str]:
    return sorted(hit["_id"] for hit in es.search(index=index, query=query)["hits"]["hits"])


# -- scaled_float -----------------------------------------------------------------------------------


def test_the_scaled_float_mapping_reads_back(es, prices):
    mapping = es.indices.get_mapping(index=prices)[prices]["mappings"]
    assert mapping["properties"]["v"] == {"type": "scaled_float", "scaling_factor": 100.0}


def test_a_term_query_rounds_its_value_to_the_scale(es, prices):
    assert ids(es, prices, {"term": {"v": 1.111}}) == ["a"]
    assert ids(es, prices, {"term": {"v": "0.13"}}) == ["c"]
    assert ids(es, prices, {"term": {"v": 0.125}}) == ["c"]


def test_range_bounds_move_inward_to_the_scale(es, prices):
    assert ids(es, prices, {"range": {"v": {"gte": 1.111}}}) == ["b", "d"]
    assert ids(es, prices, {"range": {"v": {"gt": 1.11, "lt": 10}}}) == ["b"]
    # bounds are scaled in decimal: 1.1 * 100 is 110 (not 110.00000000000001, which would
    # exclude 1.1), 0.29 * 100 is 29 (not 28.999999999999996)
    assert ids(es, prices, {"range": {"v": {"gte": 1.1, "lte": 1.1}}}) == ["e"]
    assert ids(es, prices, {"range": {"v": {"gte": 0.29, "lte": 0.29}}}) == ["f"]
    # 0.125 is held as 0.13, above an upper bound of 0.125 (12.5 floors to 12)
    assert ids(es, prices, {"range": {"v": {"lte": 0.125}}}) == []
    assert ids(es, prices, {"range": {"v": {"gte": 0.125, "lte": 0.13}}}) == ["c"]


def test_scaled_sorts_aggregations_and_doc_values_see_the_held_values(es, prices):
    result = es.search(index=prices, sort=[{"v": "asc"}], docvalue_fields=["v"],
                       aggs={"total": {"sum": {"field": "v"}}, "top": {"max": {"field": "v"}}})
    hits = result["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["c", "f", "e", "a", "b", "d"]
    assert hits[0]["sort"] == [0.13]
    assert hits[0]["fields"] == {"v": [0.13]}
    assert hits[0]["_source"] == {"v": 0.125}  # the source stays as sent
    assert result["aggregations"]["total"]["value"] == pytest.approx(15.13)
    assert result["aggregations"]["top"]["value"] == 10.0


# -- half_float -------------------------------------------------------------------------------------


def test_a_half_float_term_query_matches_the_nearest_half(es, ratios):
    assert ids(es, ratios, {"term": {"v": 1.0}}) == ["b", "c"]
    assert ids(es, ratios, {"term": {"v": 0.1}}) == ["a"]


def test_half_float_range_bounds_move_inward_to_half_precision(es, ratios):
    # 1.0001 lies between the halves 1.0 and 1.0009765625: gte takes the one above
    assert ids(es, ratios, {"range": {"v": {"gte": 1.0001}}}) == ["d"]
    assert ids(es, ratios, {"range": {"v": {"gt": 0.1, "lte": 1.0}}}) == ["b", "c"]
    assert ids(es, ratios, {"range": {"v": {"lt": 2048.5}}}) == ["a", "b", "c", "d"]


def test_half_float_sorts_and_aggregations_see_the_held_values(es, ratios):
    result = es.search(index=ratios, sort=[{"v": "desc"}], aggs={"top": {"max": {"field": "v"}}})
    assert [hit["sort"] for hit in result["hits"]["hits"]][:2] == [[2048.0], [1.0]]
    assert result["aggregations"]["top"]["value"] == 2048.0


def test_a_half_float_past_its_range_fails_the_document(es, ratios):
    response = es.options(ignore_status=400).index(index=ratios, id="x", document={"v": 70000})
    assert response["error"]["caused_by"]["reason"] == (
        "[half_float] supports only finite values, but got [70000.0]")


def test_a_half_float_query_value_past_half_precision_is_refused(es, ratios):
    cases = (({"term": {"v": 70000}}, "70000.0"), ({"range": {"v": {"lte": 100000}}}, "100000.0"))
    for query, shown in cases:
        cause = es.options(ignore_status=400).search(index=ratios, query=query)["error"]["root_cause"][0]
        assert (cause["type"], cause["reason"]) == (
            "query_shard_exception",
            f"failed to create query: [half_float] supports only finite values, but got [{shown}]")


def test_a_half_float_sort_missing_value_is_read_as_a_double(es, ratios):
    es.index(index=ratios, id="none", document={"other": 1}, refresh=True)
    hits = es.search(index=ratios, sort=[{"v": {"order": "asc", "missing": 70000}}])["hits"]["hits"]
    assert (hits[-1]["_id"], hits[-1]["sort"]) == ("none", [70000.0])


def test_a_scaled_float_sort_missing_value_is_not_rounded_to_the_scale(es, prices):
    es.index(index=prices, id="none", document={"other": 1}, refresh=True)
    hits = es.search(index=prices, sort=[{"v": {"order": "asc", "missing": 0.125}}])["hits"]["hits"]
    assert [h["sort"] for h in hits if h["_id"] == "none"] == [[0.125]]
