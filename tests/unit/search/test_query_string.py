"""query_string and URI `q=`: Lucene's classic syntax over one field, several, or all,
with its operators, groups, phrases, wildcards, fuzziness, ranges and boosts."""

import pytest

from strata_node.common.errors import QueryShardError
from strata_node.search.query import parse_query
from strata_node.search.query.query_string import parse_uri_query

from .shards import hits, ids, shard

MAPPING = {"properties": {"title": {"type": "text"}, "body": {"type": "text"}, "tag": {"type": "keyword"},
                          "n": {"type": "long"}, "day": {"type": "date"}}}
DOCS = [
    {"title": "Quick brown fox", "body": "jumps over the dog", "tag": "animal", "n": 1, "day": "2023-11-01"},
    {"title": "quick dog", "body": "sleeps", "tag": "pet", "n": 5, "day": "2023-11-14"},
    {"title": "lazy brown dog", "body": "the quick one", "tag": "animal", "n": 10},
    {"title": "cats", "body": "purr"},
]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def qs(ctx, text, **options):
    return ids(ctx, {"query_string": {"query": text, **options}})


def test_terms_on_a_field_and_default_or(ctx):
    assert qs(ctx, "title:quick") == ["0", "1"]
    assert qs(ctx, "title:(fox cats)") == ["0", "3"]
    assert qs(ctx, "fox cats", default_field="title") == ["0", "3"]


def test_and_or_not_and_modifiers(ctx):
    assert qs(ctx, "title:quick AND title:brown") == ["0"]
    assert qs(ctx, "title:quick && tag:pet") == ["1"]
    assert qs(ctx, "title:quick NOT tag:pet") == ["0"]
    assert qs(ctx, "+title:brown -title:fox") == ["2"]
    assert qs(ctx, "title:cats OR title:fox") == ["0", "3"]
    assert qs(ctx, "-tag:animal") == ["1", "3"]  # a purely negative query matches the rest


def test_default_operator_and(ctx):
    assert qs(ctx, "quick brown", default_field="title", default_operator="AND") == ["0"]
    assert qs(ctx, "quick OR lazy", default_field="title", default_operator="AND") == ["0", "1", "2"]


def test_groups_nest(ctx):
    assert qs(ctx, "(title:quick OR title:lazy) AND tag:animal") == ["0", "2"]


def test_phrases_and_slop(ctx):
    assert qs(ctx, 'title:"quick brown"') == ["0"]
    assert qs(ctx, 'title:"brown quick"') == []
    assert qs(ctx, 'title:"quick fox"~1') == ["0"]


def test_wildcards_prefixes_and_exists(ctx):
    assert qs(ctx, "title:qu*") == ["0", "1"]
    assert qs(ctx, "title:QU*") == ["0", "1"]  # lower-cased as the field's analyzer would
    assert qs(ctx, "title:d?g") == ["1", "2"]
    assert qs(ctx, "tag:an*") == ["0", "2"]
    assert qs(ctx, "day:*") == ["0", "1"]
    assert qs(ctx, "_exists_:day") == ["0", "1"]
    assert qs(ctx, "*:*") == ["0", "1", "2", "3"]
    assert qs(ctx, "*") == ["0", "1", "2", "3"]
    assert qs(ctx, "*", default_field="day") == ["0", "1"]


def test_fuzzy_terms(ctx):
    assert qs(ctx, "title:quikc~") == ["0", "1"]
    assert qs(ctx, "title:QUIKC~") == ["0", "1"]  # normalized as the field's analyzer would
    assert qs(ctx, "title:cots~1") == ["3"]


def test_regexp(ctx):
    assert qs(ctx, "title:/d.g/") == ["1", "2"]


def test_ranges(ctx):
    assert qs(ctx, "n:[1 TO 5]") == ["0", "1"]
    assert qs(ctx, "n:{1 TO 10]") == ["1", "2"]
    assert qs(ctx, "n:[5 TO *]") == ["1", "2"]
    assert qs(ctx, "n:>=5") == ["1", "2"]
    assert qs(ctx, "n:<5") == ["0"]
    assert qs(ctx, "day:[2023-11-10 TO now]") == ["1"]


def test_boosts_multiply_scores(ctx):
    plain = hits(ctx, {"query_string": {"query": "title:fox"}})
    boosted = hits(ctx, {"query_string": {"query": "title:fox^3"}})
    assert boosted["0"] == pytest.approx(3 * plain["0"], rel=1e-6)
    assert hits(ctx, {"query_string": {"query": "fox", "fields": ["title^2"]}})["0"] == \
        pytest.approx(2 * plain["0"], rel=1e-6)
    # a field named in the text is searched as it is, without the boosts of `fields`
    assert hits(ctx, {"query_string": {"query": "title:fox", "fields": ["title^2"]}})["0"] == \
        pytest.approx(plain["0"], rel=1e-6)


def test_no_field_searches_every_field_leniently(ctx):
    assert qs(ctx, "dog") == ["0", "1", "2"]
    assert qs(ctx, "5") == ["1"]  # the long field; text and dates cannot fail
    assert qs(ctx, "quick", fields=["body", "tag"]) == ["2"]


def test_escaped_characters_are_literal(ctx):
    assert qs(ctx, r"tag:an\*") == []
    assert qs(ctx, r"title:quick\-brown") == ["0", "1", "2"]  # one term, analyzed into two
    assert qs(ctx, r"title:quick\-brown", default_operator="AND") == ["0"]


def test_nothing_left_to_search_matches_nothing(ctx):
    assert qs(ctx, "") == []
    assert qs(ctx, "...", default_field="title") == []  # no token left after analysis


def test_syntax_errors_fail_the_shard(ctx):
    for text in ["title:(quick", "AND fox", 'title:"open', "title:quick)"]:
        with pytest.raises(QueryShardError) as caught:
            parse_query({"query_string": {"query": text}}).execute(ctx)
        assert caught.value.reason == f"Failed to parse query [{text}]"
        assert caught.value.caused_by.type == "parse_exception"


def test_uri_query(ctx):
    run = lambda q, **kw: sorted(ctx.reader.document(s).id  # noqa: E731
                                 for s in parse_uri_query(q, **kw).execute(ctx, score=False).seqs.tolist())
    assert run("title:quick") == ["0", "1"]
    assert run("quick brown", default_field="title", default_operator="AND") == ["0"]
    assert run("brown", default_field="title") == ["0", "2"]
    assert run("Brown", default_field="title") == ["0", "2"]
    assert run("Brown", default_field="title", analyzer="keyword") == []  # not lower-cased
    assert run("n:abc") == []  # searching every field is lenient
    assert run("n:abc", default_field="title", lenient=True) == []
    with pytest.raises(QueryShardError, match='For input string: "abc"'):
        parse_uri_query("n:abc", default_field="title").execute(ctx)
