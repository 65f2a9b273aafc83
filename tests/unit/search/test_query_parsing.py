"""Parsing query bodies: the short and long forms, and the errors Elasticsearch gives
for bodies it refuses (all 400s, raised before any shard runs)."""

import pytest

from strata_node.common.errors import IllegalArgument, ParseError, ParsingError, XContentParseError
from strata_node.search.query import Query, parse_query
from strata_node.search.query.compound import Bool
from strata_node.search.query.term_level import Term


def refused(body, error=ParsingError) -> str:
    with pytest.raises(error) as caught:
        parse_query(body)
    assert caught.value.status == 400
    return caught.value.reason


def test_short_and_long_forms_parse_to_the_same_query():
    short = parse_query({"term": {"user": "kimchy"}})
    long = parse_query({"term": {"user": {"value": "kimchy", "boost": 2, "_name": "who"}}})
    assert isinstance(short, Term) and isinstance(long, Term)
    assert (short.field, short.value, float(short.boost)) == ("user", "kimchy", 1.0)
    assert (long.field, long.value, float(long.boost), long.name) == ("user", "kimchy", 2.0, "who")


def test_every_query_type_parses():
    bodies = [
        {"match_all": {"boost": 1.2}}, {"match_none": {}}, {"match": {"f": "x"}},
        {"match": {"f": {"query": "x y", "operator": "AND", "minimum_should_match": "75%"}}},
        {"match_phrase": {"f": {"query": "x y", "slop": 2}}}, {"match_phrase_prefix": {"f": "x y"}},
        {"match_bool_prefix": {"f": "x y"}}, {"multi_match": {"query": "x", "fields": ["a^2", "b*"]}},
        {"term": {"f": 1}}, {"terms": {"f": [1, 2], "boost": 2}}, {"range": {"f": {"gte": 1, "lt": 5}}},
        {"exists": {"field": "f"}}, {"ids": {"values": ["1"]}}, {"prefix": {"f": "ab"}},
        {"wildcard": {"f": {"wildcard": "a*b"}}}, {"regexp": {"f": "a.*"}}, {"fuzzy": {"f": "abc"}},
        {"bool": {"must": [{"term": {"f": 1}}], "should": {"term": {"f": 2}}, "minimum_should_match": 1}},
        {"constant_score": {"filter": {"term": {"f": 1}}, "boost": 2}},
        {"dis_max": {"queries": [{"term": {"f": 1}}], "tie_breaker": 0.3}},
        {"boosting": {"positive": {"term": {"f": 1}}, "negative": {"term": {"f": 2}}, "negative_boost": 0.5}},
        {"query_string": {"query": "a AND b", "default_field": "f"}},
    ]
    for body in bodies:
        assert isinstance(parse_query(body), Query), body


def test_unknown_query():
    assert refused({"foo": {}}) == "unknown query [foo]"


def test_query_value_must_be_an_object():
    assert refused({"match": "text"}) == "[match] query malformed, no start_object after query name"
    assert refused({"bool": []}) == "[bool] query malformed, no start_object after query name"


def test_unknown_parameter_inside_a_query():
    assert refused({"match": {"f": {"query": "x", "foo": 1}}}) == "[match] query does not support [foo]"
    assert refused({"term": {"f": {"value": "x", "slop": 1}}}) == "[term] query does not support [slop]"
    assert refused({"bool": {"foo": {}}}) == "[bool] query does not support [foo]"
    assert refused({"range": {"f": {"gte": 1, "near": 2}}}) == "[range] query does not support [near]"
    assert refused({"match_all": {"foo": 1}}, XContentParseError) == "[match_all] unknown field [foo]"


def test_one_field_per_field_query():
    assert refused({"term": {"a": "x", "b": "y"}}) == \
        "[term] query doesn't support multiple fields, found [a] and [b]"
    assert refused({"match": {"a": "x", "b": "y"}}) == \
        "[match] query doesn't support multiple fields, found [a] and [b]"


def test_bool_clauses_must_be_objects_or_arrays():
    assert refused({"bool": {"must": "x"}}) == "[bool] query does not support [must]"
    assert refused({"bool": {"filter": ["x"]}}) == "[_na] query malformed, must start with start_object"


def test_a_query_object_holds_one_query():
    assert refused({"term": {"f": 1}, "match": {"f": 1}}) == \
        "[term] malformed query, expected [END_OBJECT] but found [FIELD_NAME]"


def test_empty_clause():
    assert "query malformed, empty clause found" in refused({}, IllegalArgument)


def test_missing_values():
    assert refused({"match": {"f": {"operator": "and"}}}) == "No text specified for text query"
    assert refused({"term": {"f": None}}, IllegalArgument) == "value cannot be null"
    assert refused({"term": {"f": [1, 2]}}) == "[term] query does not support array of values"
    assert refused({"constant_score": {"boost": 2}}) == "[constant_score] requires a 'filter' element"
    assert refused({"exists": {}}) == "[exists] must be provided with a [field]"


def test_bad_option_values():
    refused({"match": {"f": {"query": "x", "operator": "xor"}}}, IllegalArgument)
    assert refused({"match": {"f": {"query": "x", "zero_terms_query": "some"}}}) == \
        "Unsupported zero_terms_query value [some]"
    assert refused({"multi_match": {"query": "x", "type": "best"}}, ParseError) == \
        "failed to parse [multi_match] query type [best]. unknown type."
    refused({"term": {"f": {"value": "x", "boost": "high"}}}, XContentParseError)


def test_boost_and_name_on_compound_queries():
    query = parse_query({"bool": {"must": {"match_all": {}}, "boost": 2.5, "_name": "outer"}})
    assert isinstance(query, Bool)
    assert (float(query.boost), query.name) == (2.5, "outer")
    assert [q.name for q in query.named()] == ["outer"]
