"""top_hits: the best documents of each bucket as search hits, by score or by a field,
with `_source` filtering, and merged across shards."""

import numpy as np
import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.matches import Matches

from .shards import one_shard, run, shards

MAPPING = {"properties": {"user": {"type": "keyword"}, "n": {"type": "long"}, "note": {"type": "keyword"}}}
DOCS = [{"user": "a", "n": 3, "note": "x"}, {"user": "a", "n": 9, "note": "y"},
        {"user": "b", "n": 5, "note": "z"},
        {"user": "a", "n": 1, "note": "w"}]


def scored(ctx):
    seqs = ctx.reader.docs()
    return Matches(seqs, np.linspace(1.0, 2.0, len(seqs)).astype(np.float32)[::-1].copy())


def test_hits_are_shaped_as_search_hits_best_score_first(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"h": {"top_hits": {"size": 2}}}, contexts, matches=scored)
    assert out == {"h": {"hits": {"total": {"value": 4, "relation": "eq"}, "max_score": 2.0, "hits": [
        {"_index": "test", "_id": "0-0", "_score": 2.0, "_source": DOCS[0]},
        {"_index": "test", "_id": "0-1", "_score": 1.6666666, "_source": DOCS[1]}]}}}


def test_sorting_by_a_field_adds_sort_values_and_drops_scores(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"h": {"top_hits": {"size": 2, "sort": [{"n": {"order": "desc"}}],
                                                                 "_source": {"includes": ["n"]}}}})
    assert out["h"]["hits"] == {"total": {"value": 4, "relation": "eq"}, "max_score": None, "hits": [
        {"_index": "test", "_id": "0-1", "_score": None, "_source": {"n": 9}, "sort": [9]},
        {"_index": "test", "_id": "0-2", "_score": None, "_source": {"n": 5}, "sort": [5]}]}


def test_source_can_be_left_out_and_versions_shown(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"h": {"top_hits": {
        "size": 1, "_source": False, "sort": ["n"], "version": True, "seq_no_primary_term": True}}})
    assert out["h"]["hits"]["hits"] == [{"_index": "test", "_id": "0-3", "_version": 1, "_seq_no": 3,
                                         "_primary_term": 1, "_score": None, "sort": [1]}]


def test_from_skips_the_best_hits(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS,
                    {"h": {"top_hits": {"from": 1, "size": 2, "sort": [{"n": "asc"}]}}})
    assert [h["sort"] for h in out["h"]["hits"]["hits"]] == [[3], [5]]


def test_each_bucket_has_its_own_top_hits(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"u": {"terms": {"field": "user"}, "aggs": {
        "latest": {"top_hits": {"size": 1, "sort": [{"n": "desc"}], "_source": ["note"]}}}}})
    tops = {b["key"]: b["latest"]["hits"]["hits"][0]["_source"] for b in out["u"]["buckets"]}
    assert tops == {"a": {"note": "y"}, "b": {"note": "z"}}
    assert out["u"]["buckets"][0]["latest"]["hits"]["total"] == {"value": 3, "relation": "eq"}


def test_reduce_merges_the_shards_best_hits(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        out = run({"h": {"top_hits": {"size": 3, "sort": [{"n": "asc"}]}}}, contexts)
    assert [h["_id"] for h in out["h"]["hits"]["hits"]] == ["1-1", "0-0", "1-0"]
    assert out["h"]["hits"]["total"] == {"value": 4, "relation": "eq"}


def test_the_window_is_limited_as_max_inner_result_window_limits_it(tmp_path):
    with pytest.raises(IllegalArgument,
                       match=r"Top hits result window is too large, the top hits aggregator \[h\]'s "
                             r"from \+ size must be less than or equal to: \[100\] but was \[101\]"):
        one_shard(tmp_path, MAPPING, DOCS, {"h": {"top_hits": {"from": 1, "size": 100}}})
