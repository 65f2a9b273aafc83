"""percentiles and percentile_ranks through `_search` on a real node, with elasticsearch-py:
the documents of ES's 180_percentiles_tdigest_metric.yml (1, 51, 101, 151), the same answer
from 1 and 3 shards, enough values for the merging digest, a terms order and a pipeline
reading a percentile, and the 400s ES gives for a bad request.

The numbers are ES 8.9+'s: below 2000 values its HybridDigest keeps every value and
interpolates at q * (n - 1), so the median of the four is 76.0 and the 25th percentile
38.5 (the older YAML's 26.0 is the AVLTreeDigest of ES before 8.9)."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError

from tests.support.sharded import sharded_copies

MAPPING = {"properties": {"int_field": {"type": "integer"}, "double_field": {"type": "double"},
                          "string_field": {"type": "keyword"}, "g": {"type": "keyword"}}}
DOCS = [{"int_field": v, "double_field": float(v), "string_field": "foo", "g": "a" if v < 100 else "b"}
        for v in (1, 51, 101, 151)]
DEFAULT = {"1.0": 2.5, "5.0": 8.5, "25.0": 38.5, "50.0": 76.0, "75.0": 113.5, "95.0": 143.5, "99.0": 149.5}


@pytest.fixture(scope="module")
def indices(node):
    return sharded_copies(node, "pct", (1, 3), MAPPING, DOCS)


@pytest.fixture(scope="module")
def many(node):
    return sharded_copies(node, "pct-many", (3,), {"properties": {"n": {"type": "long"}}},
                          [{"n": n} for n in range(1, 3001)])[3]


def search(es, index, aggs, **body):
    return es.search(index=index, size=0, aggs=aggs, **body).body["aggregations"]


@pytest.mark.parametrize("shards", [1, 3])
def test_basic_percentiles_of_int_and_double_fields(es, indices, shards):
    got = search(es, indices[shards], {"pi": {"percentiles": {"field": "int_field"}},
                                       "pd": {"percentiles": {"field": "double_field"}}})
    assert got["pi"] == {"values": DEFAULT}
    assert got["pd"] == {"values": DEFAULT}


@pytest.mark.parametrize("shards", [1, 3])
def test_filtered_percentiles(es, indices, shards):
    got = search(es, indices[shards], {"p": {"percentiles": {"field": "int_field"}}},
                 query={"constant_score": {"filter": {"range": {"int_field": {"gte": 50}}}}})
    assert got["p"]["values"] == {"1.0": 52.0, "5.0": 56.0, "25.0": 76.0, "50.0": 101.0, "75.0": 126.0,
                                  "95.0": 146.0, "99.0": 150.0}


def test_missing_param_on_an_unmapped_field(es, indices):
    got = search(es, indices[3], {"p": {"percentiles": {"field": "missing_field", "missing": 1.0}}})
    assert got["p"]["values"] == dict.fromkeys(DEFAULT, 1.0)
    empty = search(es, indices[3], {"p": {"percentiles": {"field": "missing_field"}}})
    assert empty["p"]["values"] == dict.fromkeys(DEFAULT)


def test_metadata_and_non_keyed(es, indices):
    got = search(es, indices[1], {"p": {"meta": {"foo": "bar"},
                                        "percentiles": {"field": "int_field", "percents": [5.0, 25.0, 50.0],
                                                        "keyed": False}}})
    assert got["p"] == {"meta": {"foo": "bar"},
                        "values": [{"key": 5.0, "value": 8.5}, {"key": 25.0, "value": 38.5},
                                   {"key": 50.0, "value": 76.0}]}


@pytest.mark.parametrize("shards", [1, 3])
def test_percentile_ranks(es, indices, shards):
    got = search(es, indices[shards], {"r": {"percentile_ranks": {"field": "int", "values": [50, 99]}},
                                       "ri": {"percentile_ranks": {"field": "int_field", "values": [99, 50],
                                                                   "format": "0.0"}}})
    assert got["r"]["values"] == {"50.0": None, "99.0": None}  # an unmapped field
    # the later Dist.cdf, as 420_percentile_ranks_tdigest_metric.yml expects (37 and 61.5)
    assert got["ri"]["values"] == {"50.0": 37.0, "50.0_as_string": "37.0", "99.0": 61.5,
                                   "99.0_as_string": "61.5"}


def test_three_thousand_values_go_through_the_merging_digest(es, many):
    got = search(es, many, {"p": {"percentiles": {"field": "n", "percents": [0, 50, 100]}},
                            "r": {"percentile_ranks": {"field": "n", "values": [1500]}}})
    values = got["p"]["values"]
    assert values["0.0"] == 1.0 and values["100.0"] == 3000.0
    assert abs(values["50.0"] - 1500.5) < 3
    assert abs(got["r"]["values"]["1500.0"] - 50.0) < 0.2


def test_terms_ordered_by_a_percentile_and_a_pipeline_reading_one(es, indices):
    aggs = {"g": {"terms": {"field": "g", "order": {"p[50.0]": "desc"}},
                  "aggs": {"p": {"percentiles": {"field": "int_field", "percents": [50, 99]}}}},
            "top": {"max_bucket": {"buckets_path": "g>p.99"}}}
    got = search(es, indices[3], aggs)
    assert [b["key"] for b in got["g"]["buckets"]] == ["b", "a"]
    assert got["top"] == {"value": 150.5, "keys": ["b"]}


@pytest.mark.parametrize("params, cause", [
    ({"percents": []}, "[percents] must not be empty: [p]"),
    ({"percents": [150]}, "percent must be in [0,100], got [150.0]: [p]"),
    ({"tdigest": {"compression": 100}, "hdr": {}}, "Only one percentiles method should be declared."),
])
def test_bad_requests_are_400s_with_es_words(es, indices, params, cause):
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"p": {"percentiles": {"field": "int_field", **params}}})
    assert e.value.status_code == 400
    error = e.value.body["error"]
    assert error["type"] == "x_content_parse_exception"
    assert error["reason"].endswith("Failed to build [percentiles] after last required field arrived")
    assert error["caused_by"]["reason"] == cause


def test_negative_compression_and_a_keyword_field_are_400s(es, indices):
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"p": {"percentiles": {"field": "int_field", "tdigest": {"compression": -1}}}})
    assert e.value.status_code == 400
    assert "[compression] must be greater than or equal to 0. Found [-1.0]" in str(e.value.body)
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"p": {"percentiles": {"field": "string_field"}}})
    assert e.value.status_code == 400
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"r": {"percentile_ranks": {"field": "int_field"}}})
    assert e.value.status_code == 400
    assert e.value.body["error"]["caused_by"]["reason"] == "[values] must not be null: [r]"


def test_a_compression_that_is_not_finite_is_a_400(es, indices):
    for compression in ("NaN", "1e309"):  # the client can't send a bare 1e309; a string reads the same
        with pytest.raises(ApiError) as e:
            search(es, indices[1], {"p": {"percentiles": {"field": "int_field",
                                                          "tdigest": {"compression": compression}}}})
        assert e.value.status_code == 400
        assert "[compression] must be a finite number" in str(e.value.body)


def test_hdr_is_refused_as_unsupported(es, indices):
    with pytest.raises(ApiError) as e:
        search(es, indices[1], {"p": {"percentiles": {"field": "int_field", "hdr": {}}}})
    assert e.value.status_code == 400
    assert "not supported by Strata" in str(e.value.body)
