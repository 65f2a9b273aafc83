"""bool, constant_score, dis_max and boosting: which documents match, and how clause
scores combine (summed must and should, unscored filter and must_not)."""

import numpy as np
import pytest

from strata_node.search.query import named_matches, parse_query

from .shards import hits, ids, shard

MAPPING = {"properties": {"title": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "long"}}}
DOCS = [
    {"title": "quick brown fox", "tag": "a", "n": 1},
    {"title": "quick dog", "tag": "b", "n": 2},
    {"title": "lazy brown dog", "tag": "a", "n": 3},
    {"title": "fox", "tag": "c", "n": 4},
]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS, batches=2) as context:
        yield context


def term(field, value):
    return {"term": {field: value}}


def test_must_intersects_and_sums_scores(ctx):
    quick, brown = hits(ctx, term("title", "quick")), hits(ctx, term("title", "brown"))
    got = hits(ctx, {"bool": {"must": [term("title", "quick"), term("title", "brown")]}})
    assert got == pytest.approx({"0": quick["0"] + brown["0"]}, abs=1e-6)


def test_filter_and_must_not_do_not_score(ctx):
    quick = hits(ctx, term("title", "quick"))
    got = hits(ctx, {"bool": {"must": term("title", "quick"), "filter": term("tag", "a"),
                              "must_not": term("n", 2)}})
    assert got == pytest.approx({"0": quick["0"]}, abs=1e-6)


def test_only_filters_score_zero(ctx):
    assert hits(ctx, {"bool": {"filter": [term("tag", "a")]}}) == {"0": 0.0, "2": 0.0}


def test_only_must_not_matches_everything_else_with_score_zero(ctx):
    assert hits(ctx, {"bool": {"must_not": term("tag", "a")}}) == {"1": 0.0, "3": 0.0}


def test_empty_bool_matches_all(ctx):
    assert hits(ctx, {"bool": {}}) == {"0": 1.0, "1": 1.0, "2": 1.0, "3": 1.0}


def test_should_alone_needs_one_match_and_adds_up(ctx):
    fox, dog = hits(ctx, term("title", "fox")), hits(ctx, term("title", "dog"))
    got = hits(ctx, {"bool": {"should": [term("title", "fox"), term("title", "dog")]}})
    assert got == pytest.approx({**fox, **dog}, abs=1e-6)


def test_should_beside_must_is_optional_but_scores(ctx):
    quick, fox = hits(ctx, term("title", "quick")), hits(ctx, term("title", "fox"))
    got = hits(ctx, {"bool": {"must": term("title", "quick"), "should": term("title", "fox")}})
    assert got == pytest.approx({"0": quick["0"] + fox["0"], "1": quick["1"]}, abs=1e-6)


def test_should_beside_filter_is_optional(ctx):
    assert ids(ctx, {"bool": {"filter": term("tag", "a"), "should": term("title", "fox")}}) == ["0", "2"]


def test_minimum_should_match(ctx):
    clauses = [term("title", "quick"), term("title", "brown"), term("title", "dog")]
    assert ids(ctx, {"bool": {"should": clauses, "minimum_should_match": 2}}) == ["0", "1", "2"]
    assert ids(ctx, {"bool": {"should": clauses, "minimum_should_match": "100%"}}) == []
    assert ids(ctx, {"bool": {"filter": term("tag", "a"), "should": clauses,
                              "minimum_should_match": "-1"}}) == ["0", "2"]
    # no should clause to satisfy it: nothing matches
    assert ids(ctx, {"bool": {"must": term("tag", "c"), "minimum_should_match": 1}}) == []


def test_nested_bools(ctx):
    body = {"bool": {"should": [{"bool": {"must": [term("tag", "a"), term("title", "dog")]}},
                                {"bool": {"must_not": [{"range": {"n": {"lte": 3}}}]}}]}}
    assert ids(ctx, body) == ["2", "3"]


def test_constant_score_gives_its_boost(ctx):
    assert hits(ctx, {"constant_score": {"filter": {"match": {"title": "brown"}}, "boost": 1.5}}) == \
        {"0": 1.5, "2": 1.5}


def test_boost_of_a_bool_reaches_its_clauses(ctx):
    plain = hits(ctx, {"bool": {"should": [term("title", "fox")]}})
    boosted = hits(ctx, {"bool": {"should": [term("title", "fox")], "boost": 2}})
    assert boosted == pytest.approx({k: 2 * v for k, v in plain.items()}, rel=1e-6)


def test_dis_max(ctx):
    fox, a = hits(ctx, term("title", "fox")), hits(ctx, {"constant_score": {"filter": term("tag", "a")}})
    tagged = {"constant_score": {"filter": term("tag", "a")}}
    got = hits(ctx, {"dis_max": {"queries": [term("title", "fox"), tagged],
                                 "tie_breaker": 0.5}})
    assert got["0"] == pytest.approx(max(fox["0"], a["0"]) + 0.5 * min(fox["0"], a["0"]), abs=1e-6)
    assert got["2"] == pytest.approx(1.0)


def test_boosting_demotes_what_negative_matches(ctx):
    brown = hits(ctx, term("title", "brown"))
    got = hits(ctx, {"boosting": {"positive": term("title", "brown"), "negative": term("tag", "a"),
                                  "negative_boost": 0.25}})
    assert got == pytest.approx({"0": brown["0"] * 0.25, "2": brown["2"] * 0.25}, abs=1e-6)


def test_named_queries_report_their_own_matches(ctx):
    query = parse_query({"bool": {"should": [{"term": {"title": {"value": "fox", "_name": "fox"}}},
                                             {"range": {"n": {"gte": 3, "_name": "big"}}}]}})
    named = named_matches(query, ctx)
    assert {k: [ctx.reader.document(s).id for s in v.tolist()] for k, v in named.items()} == \
        {"fox": ["0", "3"], "big": ["2", "3"]}


def test_results_are_sorted_unique_and_aligned(ctx):
    matches = parse_query({"bool": {"should": [{"match": {"title": "quick brown fox dog"}},
                                               {"terms": {"tag": ["a", "c"]}}]}}).execute(ctx)
    assert matches.seqs.dtype == np.int64 and matches.scores.dtype == np.float32
    assert (np.diff(matches.seqs) > 0).all() and len(matches.scores) == len(matches.seqs)
