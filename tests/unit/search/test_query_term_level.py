"""Term-level queries on a real shard: which documents match each field type, which
scores are BM25 and which constant, and what a value the field cannot hold does."""

import pytest

from strata_node.common.errors import QueryShardError
from strata_node.search.query import parse_query

from .shards import hits, ids, shard

MAPPING = {"properties": {
    "title": {"type": "text"}, "tag": {"type": "keyword"}, "code": {"type": "keyword", "normalizer": "lower"},
    "count": {"type": "long"}, "price": {"type": "double"}, "ratio": {"type": "float"},
    "day": {"type": "date"}, "addr": {"type": "ip"}, "ok": {"type": "boolean"},
    "user": {"properties": {"name": {"type": "keyword"}, "age": {"type": "integer"}}}}}
SETTINGS = {"index.analysis.normalizer.lower.type": "custom",
            "index.analysis.normalizer.lower.filter": ["lowercase"]}
DOCS = {
    "a": {"title": "Quick brown fox", "tag": "red", "code": "AbC", "count": 5, "price": 1.5, "ratio": 0.1,
          "day": "2023-11-14T10:00:00Z", "addr": "10.0.0.1", "ok": True, "user": {"name": "kim", "age": 30}},
    "b": {"title": "lazy dog", "tag": "blue", "code": "xyz", "count": -3, "price": 20.0, "ratio": 2.5,
          "day": "2023-11-13T23:59:59.999Z", "addr": "10.0.0.2", "ok": False},
    "c": {"title": "brown dog", "tag": ["red", "green"], "count": 5, "day": "2023-10-01",
          "addr": "2001:db8::1"},
    "d": {"tag": "Red"},
}


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS, settings=SETTINGS) as context:
        yield context


def test_term_on_text_matches_the_indexed_token_not_the_text(ctx):
    assert ids(ctx, {"term": {"title": "brown"}}) == ["a", "c"]
    assert ids(ctx, {"term": {"title": "Quick"}}) == []  # the index holds "quick"


def test_term_on_keyword_is_exact_and_case_sensitive(ctx):
    assert ids(ctx, {"term": {"tag": "red"}}) == ["a", "c"]
    assert ids(ctx, {"term": {"tag": {"value": "RED", "case_insensitive": True}}}) == ["a", "c", "d"]


def test_term_on_keyword_applies_the_normalizer(ctx):
    assert ids(ctx, {"term": {"code": "ABC"}}) == ["a"]


def test_term_on_text_and_keyword_scores_bm25_and_on_points_scores_the_boost(ctx):
    scored = hits(ctx, {"term": {"tag": "red"}})
    assert scored["a"] == scored["c"] and 0 < scored["a"] != 1.0
    assert hits(ctx, {"term": {"count": {"value": 5, "boost": 2}}}) == {"a": 2.0, "c": 2.0}
    assert hits(ctx, {"term": {"addr": "10.0.0.1"}}) == {"a": 1.0}


def test_numeric_terms_read_strings_and_decimals_as_elasticsearch(ctx):
    assert ids(ctx, {"term": {"count": "5"}}) == ["a", "c"]
    assert ids(ctx, {"term": {"count": 5.5}}) == []  # a whole-number field holds no 5.5
    assert ids(ctx, {"term": {"user.age": 1 << 40}}) == []  # nor an integer field 2^40
    assert ids(ctx, {"term": {"price": 1.5}}) == ["a"]
    assert ids(ctx, {"term": {"ratio": 0.1}}) == ["a"]  # compared at float precision


def test_date_term_matches_the_whole_rounded_unit(ctx):
    assert ids(ctx, {"term": {"day": "2023-11-14T10:00:00Z"}}) == ["a"]
    assert ids(ctx, {"term": {"day": "2023-11-13"}}) == ["b"]  # the whole day
    assert ids(ctx, {"term": {"day": "now/d"}}) == ["a"]


def test_ip_terms_take_addresses_and_cidr_blocks(ctx):
    assert ids(ctx, {"term": {"addr": "10.0.0.0/24"}}) == ["a", "b"]
    assert ids(ctx, {"term": {"addr": "2001:db8:0:0:0:0:0:1"}}) == ["c"]


def test_boolean_terms(ctx):
    assert ids(ctx, {"term": {"ok": True}}) == ["a"]
    assert ids(ctx, {"term": {"ok": "false"}}) == ["b"]


def test_values_a_field_cannot_hold_fail_the_shard(ctx):
    cases = [({"term": {"count": "abc"}}, 'For input string: "abc"'),
             ({"term": {"day": "garbage"}}, "failed to parse date field [garbage]"),
             ({"term": {"addr": "not-an-ip"}}, "'not-an-ip' is not an IP"),
             ({"term": {"ok": "maybe"}}, "Can't parse boolean value [maybe]")]
    for body, reason in cases:
        query = parse_query(body)
        with pytest.raises(QueryShardError) as caught:
            query.execute(ctx)
        assert caught.value.reason.startswith("failed to create query: " + reason), caught.value.reason
        assert caught.value.metadata["index"] == "test"


def test_unmapped_fields_match_nothing(ctx):
    assert ids(ctx, {"term": {"missing": "x"}}) == []
    assert ids(ctx, {"range": {"missing": {"gte": 1}}}) == []
    assert ids(ctx, {"match": {"missing": "x"}}) == []


def test_terms_matches_any_value_with_a_constant_score(ctx):
    assert hits(ctx, {"terms": {"tag": ["blue", "green"], "boost": 1.5}}) == {"b": 1.5, "c": 1.5}
    assert ids(ctx, {"terms": {"count": [5, -3, 99]}}) == ["a", "b", "c"]


def test_ids(ctx):
    assert hits(ctx, {"ids": {"values": ["b", "zz", "d"]}}) == {"b": 1.0, "d": 1.0}


def test_exists_on_fields_and_objects(ctx):
    assert ids(ctx, {"exists": {"field": "title"}}) == ["a", "b", "c"]
    assert ids(ctx, {"exists": {"field": "price"}}) == ["a", "b"]
    assert ids(ctx, {"exists": {"field": "user"}}) == ["a"]
    assert ids(ctx, {"exists": {"field": "nothing"}}) == []


def test_prefix_wildcard_and_regexp_walk_the_terms(ctx):
    assert hits(ctx, {"prefix": {"tag": "re"}}) == {"a": 1.0, "c": 1.0}
    assert ids(ctx, {"prefix": {"tag": {"value": "re", "case_insensitive": True}}}) == ["a", "c", "d"]
    assert ids(ctx, {"wildcard": {"title": "d?g"}}) == ["b", "c"]
    assert ids(ctx, {"wildcard": {"tag": {"value": "*e*"}}}) == ["a", "b", "c", "d"]
    assert ids(ctx, {"wildcard": {"code": "A*"}}) == ["a"]  # the normalizer applies to the pattern
    assert ids(ctx, {"regexp": {"tag": "gr.+|bl.e"}}) == ["b", "c"]


def test_prefix_on_a_number_is_refused(ctx):
    with pytest.raises(QueryShardError) as caught:
        parse_query({"prefix": {"count": "1"}}).execute(ctx)
    assert caught.value.reason == ("Can only use prefix queries on keyword, text and wildcard fields - "
                                   "not on [count] which is of type [long]")


def test_match_all_and_match_none(ctx):
    assert hits(ctx, {"match_all": {"boost": 2}}) == {"a": 2.0, "b": 2.0, "c": 2.0, "d": 2.0}
    assert ids(ctx, {"match_none": {}}) == []


def test_filter_context_may_leave_scores_out(ctx):
    matches = parse_query({"term": {"tag": "red"}}).execute(ctx, score=False)
    assert matches.scores is None and len(matches) == 2


def test_id_and_index_metadata_fields(ctx):
    assert hits(ctx, {"term": {"_id": "b"}}) == {"b": 1.0}
    assert ids(ctx, {"terms": {"_id": ["a", "c", "zz"]}}) == ["a", "c"]
    assert ids(ctx, {"match": {"_id": "d"}}) == ["d"]
    assert ids(ctx, {"term": {"_index": "test"}}) == ["a", "b", "c", "d"]
    assert ids(ctx, {"term": {"_index": "other"}}) == []
    assert ids(ctx, {"exists": {"field": "_id"}}) == ["a", "b", "c", "d"]


def test_match_on_a_boolean_is_a_scored_term(ctx):
    assert hits(ctx, {"match": {"ok": "true"}}) == hits(ctx, {"term": {"ok": True}})
    assert 0 < hits(ctx, {"match": {"ok": "true"}})["a"] != 1.0


def test_keywords_without_an_index_are_searched_through_doc_values(tmp_path):
    mapping = {"properties": {"code": {"type": "keyword", "index": False}}}
    with shard(tmp_path, mapping, [{"code": "x1"}, {"code": ["x2", "x1"]}, {"code": "x3"}]) as ctx:
        assert hits(ctx, {"term": {"code": "x1"}}) == {"0": 1.0, "1": 1.0}
