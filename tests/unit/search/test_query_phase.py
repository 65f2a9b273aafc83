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


TAGGED = [{"n": 0, "tag": "a"}, {"n": 1, "tag": "b"}, {"n": 2, "tag": "a"}, {"n": 3, "tag": "c"},
          {"n": 4, "tag": "b"}, {"n": 5, "tag": "c"}]


def _tagged(tmp_path, body: dict):
    with shard(tmp_path, {"properties": {"n": {"type": "long"}, "tag": {"type": "keyword"}}}, TAGGED) as ctx:
        req = parse_search({"query": {"match_all": {}}, "aggs": {"n": {"sum": {"field": "n"}}}, **body}, {})
        result = query_phase(ctx, req, req.query, max_result_window=10_000)
        summed = req.aggs.render(req.aggs.reduce([result.aggs]))["n"]["value"]
        return result, [ctx.reader.document(seq).id for seq in result.seqs], summed


def test_terminate_after_counts_only_the_documents_the_post_filter_keeps(tmp_path):
    # ES's QueryPhaseCollector applies terminate_after after the post_filter: doc 3 is the
    # first tagged c, so it is the hit; the aggregations saw docs 0..3, stopped at doc 5
    result, hit_ids, summed = _tagged(tmp_path, {"post_filter": {"term": {"tag": "c"}}, "terminate_after": 1})
    assert hit_ids == ["3"] and result.total == 1 and result.terminated_early
    assert summed == 0 + 1 + 2 + 3 + 4


def test_terminate_after_not_reached_by_the_post_filtered_documents(tmp_path):
    result, hit_ids, summed = _tagged(tmp_path, {"post_filter": {"term": {"tag": "c"}}, "terminate_after": 2})
    assert sorted(hit_ids) == ["3", "5"] and result.total == 2 and not result.terminated_early
    assert summed == 15


def test_terminate_after_without_post_filter_stops_the_aggregations_too(tmp_path):
    result, hit_ids, summed = _tagged(tmp_path, {"terminate_after": 2})
    assert hit_ids == ["0", "1"] and result.total == 2 and result.terminated_early
    assert summed == 1
