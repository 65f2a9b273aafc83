"""The shard's query phase (query_phase): which hits a shard keeps and the max_score it
reports, on a real shard."""

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.request import parse_search
from strata_node.search.shard_search import query_phase

from .shards import shard

MAPPING = {"properties": {"n": {"type": "long"}, "t": {"type": "text"}}}
DOCS = [{"n": i, "t": "fox" if i % 2 else "fox dog fox"} for i in range(6)]
QUERY = {"match": {"t": "fox"}}


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def run(ctx, body: dict):
    req = parse_search(body, {})
    return query_phase(ctx, req, req.query, max_result_window=10_000)


def test_size_zero_reports_no_max_score_even_with_search_after_and_track_scores(ctx):
    # ES collects no top docs for size 0, so it has no max score to report
    body = {"query": QUERY, "size": 0, "sort": [{"n": "asc"}], "track_scores": True}
    assert run(ctx, body).max_score is None
    after = run(ctx, {**body, "search_after": [2]})
    assert after.max_score is None and after.seqs == [] and after.total == 6


def test_search_after_still_pages_and_tracks_scores_with_a_size(ctx):
    body = {"query": QUERY, "size": 2, "sort": [{"n": "asc"}], "track_scores": True, "search_after": [2]}
    result = run(ctx, body)
    assert [values for values in result.sort_values] == [[3], [4]]
    assert result.max_score is not None and all(score is not None for score in result.scores)
    assert result.max_score == max(run(ctx, {**body, "size": 6, "search_after": [-1]}).scores)


def test_size_zero_still_reads_the_search_after_values(ctx):
    with pytest.raises(IllegalArgument, match=r"Failed to parse search_after value for field \[n\]\."):
        run(ctx, {"query": QUERY, "size": 0, "sort": [{"n": "asc"}], "search_after": ["abc"]})
