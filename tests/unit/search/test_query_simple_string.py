"""simple_query_string: Lucene's forgiving syntax, its operators and flags, and how
each piece is searched across fields."""

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.query import parse_query

from .shards import hits, ids, shard

MAPPING = {"properties": {"title": {"type": "text"}, "body": {"type": "text"}, "n": {"type": "long"}}}
DOCS = [
    {"title": "fried eggs", "body": "with potato", "n": 1},
    {"title": "eggplant stew", "body": "and potato", "n": 2},
    {"title": "frittata", "body": "eggs and potato"},
    {"title": "quick brown fox", "body": "jumps"},
]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def sqs(ctx, text, **options):
    return ids(ctx, {"simple_query_string": {"query": text, **options}})


def test_whitespace_uses_the_default_operator(ctx):
    assert sqs(ctx, "fried stew", fields=["title"]) == ["0", "1"]
    assert sqs(ctx, "fried eggs", fields=["title"], default_operator="and") == ["0"]


def test_and_or_and_groups(ctx):
    assert sqs(ctx, "potato + (eggplant | frittata)", fields=["title", "body"]) == ["1", "2"]
    assert sqs(ctx, "eggs + potato", fields=["body"]) == ["2"]


def test_not_matches_everything_else_as_lucene_builds_it(ctx):
    assert sqs(ctx, "-frittata", fields=["title"]) == ["0", "1", "3"]
    # with OR, "potato" or "anything without eggs": every document
    assert sqs(ctx, "potato -eggs", fields=["body"]) == ["0", "1", "2", "3"]
    assert sqs(ctx, "potato -eggs", fields=["body"], default_operator="and") == ["0", "1"]


def test_phrases_prefixes_and_fuzziness(ctx):
    assert sqs(ctx, '"brown fox"', fields=["title"]) == ["3"]
    assert sqs(ctx, '"quick fox"~1', fields=["title"]) == ["3"]
    assert sqs(ctx, "egg*", fields=["title"]) == ["0", "1"]
    assert sqs(ctx, "EGG*", fields=["title"]) == ["0", "1"]
    assert sqs(ctx, "fritata~1", fields=["title"]) == ["2"]


def test_syntax_never_fails(ctx):
    assert sqs(ctx, '"unclosed eggs', fields=["title"]) == ["0"]
    assert sqs(ctx, "(eggs", fields=["title"]) == ["0"]
    assert sqs(ctx, "+|-", fields=["title"]) == []


def test_flags_turn_operators_off(ctx):
    assert sqs(ctx, "egg*", fields=["title"], flags="NONE") == []  # `egg*` analyzed as `egg`
    assert sqs(ctx, "fried | stew", fields=["title"], flags="AND|WHITESPACE") == ["0", "1"]
    with pytest.raises(IllegalArgument):
        parse_query({"simple_query_string": {"query": "x", "flags": "BOGUS"}})


def test_fields_sum_their_scores_and_take_boosts(ctx):
    title = hits(ctx, {"match": {"title": "eggs"}})
    body = hits(ctx, {"match": {"body": "eggs"}})
    both = hits(ctx, {"simple_query_string": {"query": "eggs", "fields": ["title^2", "body"]}})
    assert both == pytest.approx({"0": 2 * title["0"], "2": body["2"]}, rel=1e-6)


def test_all_fields_are_searched_leniently(ctx):
    assert sqs(ctx, "2") == ["1"]
    assert sqs(ctx, "potato", minimum_should_match="100%") == ["0", "1", "2"]
