"""Full-text queries on a real shard: match and its options, phrases (exact, sloppy,
prefix), fuzziness and multi_match, with scores worked out from the BM25 formula."""

import pytest

from strata_node.common.errors import QueryShardError
from strata_node.search.query import parse_query
from strata_node.search.query.fuzzy import edit_distance

from .shards import hits, ids, shard
from .test_bm25 import F, expected

MAPPING = {"properties": {"title": {"type": "text"}, "body": {"type": "text"}, "tag": {"type": "keyword"},
                          "n": {"type": "long"}, "day": {"type": "date"}}}
DOCS = [
    {"title": "quick brown fox", "body": "the fox jumps over the lazy dog", "tag": "Fox", "n": 1},
    {"title": "quick dog", "body": "a quick brown dog and a fox", "tag": "dog", "n": 2},
    {"title": "lazy brown dog jumps", "body": "nothing here", "tag": "fox", "n": 3},
    {"title": "brown", "body": "fox fox fox"},
]
TITLE = [len(d["title"].split()) for d in DOCS]  # the standard analyzer keeps every word
BODY = [len(d["body"].split()) for d in DOCS]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def title_score(doc: int, doc_freq: int, freq: int = 1, boost: float = 1.0) -> float:
    return expected(freq, TITLE[doc], doc_freq, len(DOCS), sum(TITLE), boost)


def test_match_or_sums_the_terms_it_finds(ctx):
    got = hits(ctx, {"match": {"title": "Quick FOX"}})  # analyzed: quick, fox
    assert got == pytest.approx({"0": float(F(title_score(0, 2) + title_score(0, 1))),
                                 "1": title_score(1, 2)}, abs=1e-6)


def test_match_and_needs_every_term(ctx):
    assert ids(ctx, {"match": {"title": {"query": "quick brown", "operator": "and"}}}) == ["0"]


def test_minimum_should_match_forms(ctx):
    text = "quick brown dog jumps"
    assert ids(ctx, {"match": {"title": {"query": text, "minimum_should_match": 3}}}) == ["2"]
    assert ids(ctx, {"match": {"title": {"query": text, "minimum_should_match": "50%"}}}) == ["0", "1", "2"]
    assert ids(ctx, {"match": {"title": {"query": text, "minimum_should_match": "-1"}}}) == ["2"]
    assert ids(ctx, {"match": {"title": {"query": text, "minimum_should_match": "2<75%"}}}) == ["2"]
    assert ids(ctx, {"match": {"title": {"query": "quick", "minimum_should_match": 2}}}) == ["0", "1"]


def test_match_with_nothing_left_after_analysis(ctx):
    assert ids(ctx, {"match": {"title": "!!!"}}) == []
    assert ids(ctx, {"match": {"title": {"query": "!!!", "zero_terms_query": "all"}}}) == ["0", "1", "2", "3"]


def test_match_on_keyword_is_one_exact_term(ctx):
    assert ids(ctx, {"match": {"tag": "fox"}}) == ["2"]
    assert ids(ctx, {"match": {"tag": "Fox dog"}}) == []


def test_match_on_numbers_and_dates_is_a_term_query_unless_lenient(ctx):
    assert hits(ctx, {"match": {"n": "2"}}) == {"1": 1.0}
    with pytest.raises(QueryShardError, match='failed to create query: For input string: "two"'):
        parse_query({"match": {"n": "two"}}).execute(ctx)
    assert ids(ctx, {"match": {"n": {"query": "two", "lenient": True}}}) == []


def test_match_with_another_analyzer(ctx):
    assert ids(ctx, {"match": {"title": {"query": "Quick", "analyzer": "whitespace"}}}) == []
    with pytest.raises(QueryShardError, match=r"analyzer \[nope\] not found"):
        parse_query({"match": {"title": {"query": "x", "analyzer": "nope"}}}).execute(ctx)


def test_match_boost(ctx):
    assert hits(ctx, {"match": {"title": {"query": "fox", "boost": 2}}}) == \
        pytest.approx({"0": title_score(0, 1, boost=2)}, abs=1e-6)


def test_edit_distance_counts_transpositions_as_one():
    assert edit_distance("quikc", "quick", True) == 1
    assert edit_distance("quikc", "quick", False) == 2
    assert edit_distance("kitten", "sitting", True) == 3
    assert edit_distance("", "abc", True) == 3


def test_fuzzy_match_finds_close_terms_and_scales_by_similarity(ctx):
    got = hits(ctx, {"match": {"title": {"query": "quikc", "fuzziness": "AUTO"}}})
    similarity = float(F(1) - F(1) / F(5))
    assert got == pytest.approx({"0": title_score(0, 2, boost=similarity),
                                 "1": title_score(1, 2, boost=similarity)}, abs=1e-6)
    assert ids(ctx, {"match": {"title": {"query": "bruwn dgo", "fuzziness": 1}}}) == ["0", "1", "2", "3"]
    assert ids(ctx, {"match": {"title": {"query": "fx", "fuzziness": "AUTO"}}}) == []  # short: exact only
    no_swaps = {"query": "fxo", "fuzziness": 1, "fuzzy_transpositions": False}
    assert ids(ctx, {"match": {"title": no_swaps}}) == []


def test_fuzzy_terms_share_the_largest_document_frequency(ctx):
    # "dog" (df 2) and "fox" (df 1) are both one edit from "dox": both score with df 2
    got = hits(ctx, {"fuzzy": {"title": {"value": "dox", "fuzziness": 1}}})
    similarity = float(F(1) - F(1) / F(3))
    assert got == pytest.approx({str(d): title_score(d, 2, boost=similarity) for d in (0, 1, 2)}, abs=1e-6)


def test_fuzzy_on_a_number_is_refused(ctx):
    with pytest.raises(QueryShardError, match="Can only use fuzzy queries on keyword and text fields"):
        parse_query({"fuzzy": {"n": "1"}}).execute(ctx)


def body_phrase_score(doc: int, freq: float, doc_freqs: list[int], boost: float = 1.0) -> float:
    import math

    idf = float(F(sum(float(F(math.log(1 + (4 - df + 0.5) / (df + 0.5)))) for df in doc_freqs)))
    avgdl = F(sum(BODY) / 4)
    from .test_bm25 import java_byte4_to_int, java_int_to_byte4

    dl = F(java_byte4_to_int(java_int_to_byte4(BODY[doc])))
    inverse = F(1) / (F(1.2) * ((F(1) - F(0.75)) + F(0.75) * dl / avgdl))
    w = F(F(boost) * F(2.2)) * F(idf)
    return float(w - w / (F(1) + F(freq) * inverse))


def test_phrase_needs_the_terms_in_order_and_scores_with_the_summed_idf(ctx):
    got = hits(ctx, {"match_phrase": {"body": "brown dog"}})
    assert got == pytest.approx({"1": body_phrase_score(1, 1, [1, 2])}, abs=1e-6)
    assert ids(ctx, {"match_phrase": {"body": "dog brown"}}) == []
    assert ids(ctx, {"match_phrase": {"body": "fox fox"}}) == ["3"]


def test_phrase_frequency_counts_every_occurrence(ctx):
    # "fox fox fox" holds "fox fox" twice
    assert hits(ctx, {"match_phrase": {"body": "fox fox"}}) == \
        pytest.approx({"3": body_phrase_score(3, 2, [3, 3])}, abs=1e-6)


def test_sloppy_phrase_allows_moves_and_scores_by_distance(ctx):
    assert ids(ctx, {"match_phrase": {"body": {"query": "quick dog", "slop": 0}}}) == []
    got = hits(ctx, {"match_phrase": {"body": {"query": "quick dog", "slop": 1}}})
    assert got == pytest.approx({"1": body_phrase_score(1, 0.5, [1, 2])}, abs=1e-6)
    assert ids(ctx, {"match_phrase": {"body": {"query": "dog brown", "slop": 2}}}) == ["1"]  # swapped


def test_phrase_prefix_expands_the_last_term(ctx):
    assert ids(ctx, {"match_phrase_prefix": {"title": "quick b"}}) == ["0"]
    assert ids(ctx, {"match_phrase_prefix": {"title": "brown d"}}) == ["2"]
    assert ids(ctx, {"match_phrase_prefix": {"title": "jum"}}) == ["2"]


def test_bool_prefix(ctx):
    assert ids(ctx, {"match_bool_prefix": {"title": "lazy ju"}}) == ["2"]
    assert ids(ctx, {"match_bool_prefix": {"title": {"query": "quick b", "operator": "and"}}}) == ["0"]


def test_multi_match_best_fields_takes_the_best_field_plus_tie_breaker(ctx):
    both = hits(ctx, {"multi_match": {"query": "fox", "fields": ["title", "body"]}})
    title = hits(ctx, {"match": {"title": "fox"}})
    body = hits(ctx, {"match": {"body": "fox"}})
    assert both == pytest.approx({k: max(title.get(k, 0), body.get(k, 0)) for k in {*title, *body}}, abs=1e-6)
    tied = hits(ctx, {"multi_match": {"query": "fox", "fields": ["title", "body"], "tie_breaker": 0.3}})
    best = max(title["0"], body["0"])
    assert tied["0"] == pytest.approx(best + 0.3 * (title["0"] + body["0"] - best), abs=1e-6)


def test_multi_match_field_boosts_and_patterns(ctx):
    boosted = hits(ctx, {"multi_match": {"query": "lazy", "fields": ["title^3", "body"]}})
    title = hits(ctx, {"match": {"title": {"query": "lazy", "boost": 3}}})
    assert boosted["2"] == pytest.approx(title["2"], abs=1e-6)
    assert ids(ctx, {"multi_match": {"query": "nothing", "fields": ["t*", "b*"]}}) == ["2"]


def test_multi_match_most_fields_sums(ctx):
    summed = hits(ctx, {"multi_match": {"query": "fox", "fields": ["title", "body"], "type": "most_fields"}})
    title = hits(ctx, {"match": {"title": "fox"}})
    body = hits(ctx, {"match": {"body": "fox"}})
    assert summed["0"] == pytest.approx(title["0"] + body["0"], abs=1e-6)


def test_multi_match_phrase_and_cross_fields(ctx):
    fields = ["title", "body"]
    assert ids(ctx, {"multi_match": {"query": "brown dog", "fields": fields, "type": "phrase"}}) == ["1", "2"]
    cross = {"query": "lazy nothing", "fields": fields, "type": "cross_fields", "operator": "and"}
    assert ids(ctx, {"multi_match": cross}) == ["2"]


def test_multi_match_without_fields_searches_every_field_leniently(ctx):
    assert ids(ctx, {"multi_match": {"query": "3"}}) == ["2"]  # n is a long; text fields cannot fail


def test_phrase_on_a_field_without_positions_fails_the_shard(ctx):
    query = parse_query({"match_phrase": {"tag": {"query": "fox dog", "analyzer": "standard"}}})
    with pytest.raises(QueryShardError, match=r"failed to create query: field:\[tag\] was indexed without "
                                              r"position data; cannot run PhraseQuery"):
        query.execute(ctx)


class _SameSpot:
    """A token filter that adds "dog" at the position of every "hound" (a synonym rule)."""

    name = "same_spot"

    def apply(self, tokens):
        from strata_node.index.analysis import TokenList

        terms, positions = [], []
        for term, position in zip(tokens.terms, tokens.position_list(), strict=True):
            terms.append(term)
            positions.append(position)
            if term == "hound":
                terms.append("dog")
                positions.append(position)
        return TokenList(terms, None, None, None, positions, tokens.position_count)


def test_terms_at_one_position_score_as_one_synonym_clause(ctx):
    import dataclasses

    from strata_node.index.analysis import Analyzer, IndexAnalyzers
    from strata_node.index.analysis.tokenizers import WhitespaceTokenizer

    syn = Analyzer("syn", WhitespaceTokenizer(), (_SameSpot(),))
    synonyms = dataclasses.replace(ctx, analyzers=IndexAnalyzers(analyzers={"syn": syn}))
    got = hits(synonyms, {"match": {"title": {"query": "hound", "analyzer": "syn"}}})
    # "hound" is in no title, "dog" in two: one clause, frequencies summed, df the larger
    assert got == pytest.approx({str(d): title_score(d, 2) for d in (1, 2)}, abs=1e-6)
    phrase = {"query": "lazy brown hound", "analyzer": "syn"}
    assert ids(synonyms, {"match_phrase": {"title": phrase}}) == ["2"]


# -- cross_fields: BlendedTermQuery's document frequencies --------------------------------------

CROSS_DOCS = [
    {"title": "the quick brown fox", "body": "the fox jumps over the lazy dog"},
    {"title": "brown bear", "body": "a bear in the woods"},
    {"title": "lazy brown dog", "body": "the dog sleeps"},
    {"title": "lazy cat", "body": "the cat sleeps all day"},
    {"title": "brown", "body": "brown brown brown", "extra": "brown"},
]
CROSS_TITLE = [len(d["title"].split()) for d in CROSS_DOCS]  # 12 in all
CROSS_BODY = [len(d["body"].split()) for d in CROSS_DOCS]  # 23 in all


def cross_score(field: str, doc: int, doc_freq: int, freq: int = 1) -> float:
    lengths = CROSS_TITLE if field == "title" else CROSS_BODY
    return expected(freq, lengths[doc], doc_freq, len(CROSS_DOCS), sum(lengths))


@pytest.fixture
def cross(tmp_path):
    mapping = {"properties": {"title": {"type": "text"}, "body": {"type": "text"}, "extra": {"type": "text"}}}
    with shard(tmp_path, mapping, CROSS_DOCS) as context:
        yield context


def test_cross_fields_blends_document_frequencies_as_blended_term_query(cross):
    # brown: df 4 in title, 1 in body. BlendedTermQuery.blend walks the fields from the
    # largest df down: title keeps 4, body (below it) takes one more, 5 (its docCount caps
    # it at 5). fox: df 1 in both, so both keep 1. Not the largest df everywhere (4 and 4).
    query = {"query": "brown fox", "fields": ["title", "body"], "type": "cross_fields"}
    got = hits(cross, {"multi_match": query})
    fox = max(cross_score("title", 0, 1), cross_score("body", 0, 1))
    want = {"0": float(F(cross_score("title", 0, 4) + fox)), "1": cross_score("title", 1, 4),
            "2": cross_score("title", 2, 4),
            # body's brown (freq 3, df 5) scores below title's; with df 4 it would have won
            "4": max(cross_score("title", 4, 4), cross_score("body", 4, 5, freq=3))}
    assert cross_score("body", 4, 4, freq=3) > want["4"] == cross_score("title", 4, 4)
    assert got == pytest.approx(want, abs=1e-7)


def test_cross_fields_caps_document_frequencies_by_the_smallest_sum_of_term_frequencies(cross):
    # extra holds one term in one document: its sumTotalTermFreq, 1, caps every field's
    # blended df (ES caps maxDoc with the smallest sumTTF among the fields holding the term)
    got = hits(cross, {"multi_match": {"query": "brown", "fields": ["title", "body", "extra"],
                                       "type": "cross_fields"}})
    extra = expected(1, 1, 1, 1, 1)
    assert got == pytest.approx({"0": cross_score("title", 0, 1), "1": cross_score("title", 1, 1),
                                 "2": cross_score("title", 2, 1),
                                 "4": max(cross_score("title", 4, 1), cross_score("body", 4, 1, freq=3),
                                          extra)}, abs=1e-7)


def test_cross_fields_blends_as_query_string_does(cross):
    # QueryStringQueryParser hands a term to MultiMatchQueryParser with the query's type
    body = {"query_string": {"query": "brown", "fields": ["title", "body"], "type": "cross_fields"}}
    multi = {"multi_match": {"query": "brown", "fields": ["title", "body"], "type": "cross_fields"}}
    assert hits(cross, body) == hits(cross, multi)
    assert hits(cross, body)["4"] == pytest.approx(cross_score("title", 4, 4), abs=1e-7)


def test_cross_fields_blends_the_terms_at_one_position_together(cross):
    import dataclasses

    from strata_node.index.analysis import Analyzer, IndexAnalyzers
    from strata_node.index.analysis.tokenizers import WhitespaceTokenizer

    syn = Analyzer("syn", WhitespaceTokenizer(), (_SameSpot(),))
    synonyms = dataclasses.replace(cross, analyzers=IndexAnalyzers(analyzers={"syn": syn}))
    query = {"query": "hound", "analyzer": "syn", "fields": ["title", "body"], "type": "cross_fields",
             "tie_breaker": 0.5}
    got = hits(synonyms, {"multi_match": query})
    # blendTerms makes one BlendedTermQuery of hound and dog in both fields: dog has df 2
    # in body and 1 in title, so title's dog is blended to 3 (2 if blended per term)
    doc2 = float(F(cross_score("body", 2, 2) + F(cross_score("title", 2, 3)) * F(0.5)))
    assert got == pytest.approx({"0": cross_score("body", 0, 2), "2": doc2}, abs=1e-7)
