"""top_hits: the best documents of a bucket, shaped as search hits.

Ordering reuses the search's own sort machinery (search/sort.py): every sort key becomes
an array over the bucket's documents, the shard keeps its `from + size` best with a
partition and a lexsort, and the reduce merges shards with the same comparator the
coordinator uses for hits (ties by shard, then sequence number). The default order is
by score, which needs the query run with scores: `needs_scores` says so. Were a caller
to pass matches without scores anyway, every document scores 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from ...action.source_filter import check_fetch_source, filter_source, parse_source_param
from ...common.errors import IllegalArgument
from ..matches import Matches
from ..sort import SCORE, SortKey, key_values, parse_sort, render_sort_value, sort_comparator, top_k
from .base import Aggregator, Params

MAX_INNER_RESULT_WINDOW = 100  # index.max_inner_result_window's default
_UNSUPPORTED = ("explain", "highlight", "stored_fields", "docvalue_fields", "script_fields", "fields")


def _float32(value: float) -> float:
    """A score as Java prints a float: the shortest decimal that reads back to it."""
    return float(str(np.float32(value)))


class TopHits(Aggregator):
    type_name = "top_hits"
    accepts_subs = False

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("from", "size", "sort", "_source", "version", "seq_no_primary_term",
                                          "track_scores", *_UNSUPPORTED))
        for option in _UNSUPPORTED:
            if p.has(option):
                raise IllegalArgument(f"[top_hits] option [{option}] is not supported by Strata")
        self.from_ = p.integer("from", 0)
        self.size = p.integer("size", 3)
        if self.from_ < 0:
            raise IllegalArgument(f"[from] must be greater than or equal to 0. Found [{self.from_}] in "
                                  f"[{name}]")
        if self.size < 0:
            raise IllegalArgument(f"[size] must be greater than or equal to 0. Found [{self.size}] in "
                                  f"[{name}]")
        self.sort: list[SortKey] = parse_sort(p.get("sort")) if p.get("sort") is not None else []
        if p.has("_source"):
            check_fetch_source(p.get("_source"))
        self.fetch_source, self.includes, self.excludes = parse_source_param(p.get("_source"))
        self.version = p.boolean("version", False)
        self.seq_no = p.boolean("seq_no_primary_term", False)
        self.track_scores = p.boolean("track_scores", False)

    @property
    def keys(self) -> list[SortKey]:
        return self.sort or [SortKey(SCORE, "desc")]

    @property
    def by_relevance(self) -> bool:
        """Sorted by score alone: hits carry `_score` and no `sort` values."""
        return not self.sort or (len(self.sort) == 1 and self.sort[0].field == SCORE and self.sort[0].reverse)

    @property
    def scores_shown(self) -> bool:
        return self.by_relevance or self.track_scores

    @property
    def needs_scores(self) -> bool:
        return self.scores_shown or any(k.field == SCORE for k in self.keys)

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        window = self.from_ + self.size
        if window > MAX_INNER_RESULT_WINDOW:
            raise IllegalArgument(
                f"Top hits result window is too large, the top hits aggregator [{self.name}]'s from + size "
                f"must be less than or equal to: [{MAX_INNER_RESULT_WINDOW}] but was [{window}]. This limit "
                "can be set by changing the [index.max_inner_result_window] index level setting.")
        seqs = matches.seqs
        scores = matches.scores
        max_score = None
        if self.scores_shown and scores is not None and len(scores):
            max_score = _float32(float(scores.max()))
        hits = []
        if window and len(seqs):
            kvs = [key_values(ctx, k, seqs, scores) for k in self.keys]
            for i in top_k(kvs, window).tolist():
                hits.append(self._hit(ctx, int(seqs[i]), kvs, i, scores))
        return {"total": len(seqs), "max_score": max_score, "hits": hits}

    def _hit(self, ctx, seq: int, kvs, i: int, scores) -> dict[str, Any]:
        op = ctx.reader.document(seq)
        hit: dict[str, Any] = {"_index": ctx.index, "_id": op.id}
        if self.version:
            hit["_version"] = op.version
        if self.seq_no:
            hit["_seq_no"] = op.seq_no
            hit["_primary_term"] = op.primary_term
        hit["_score"] = _float32(float(scores[i])) if self.scores_shown and scores is not None else None
        ignored = ctx.ignored(seq)
        if ignored:
            hit["_ignored"] = ignored
        if op.routing is not None:
            hit["_routing"] = op.routing
        if self.fetch_source and op.source is not None and ctx.mapping.source_enabled:
            source = orjson.loads(op.source)
            if self.includes or self.excludes:
                source = filter_source(source, self.includes, self.excludes)
            hit["_source"] = source
        if not self.by_relevance:
            hit["sort"] = [render_sort_value(kv.render(i)) for kv in kvs]
        # what the reduce merges on, removed before rendering
        hit["__merge"] = [[kv.merge_value(i) for kv in kvs], [ctx.index, ctx.shard_id], seq]
        return hit

    def empty(self) -> dict[str, Any]:
        return {"total": 0, "max_score": None, "hits": []}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        hits = [h for p in partials for h in p["hits"]]
        if len(partials) > 1:
            compare = sort_comparator(self.keys)
            hits.sort(key=lambda h: compare(tuple(h["__merge"])))
            hits = hits[: self.from_ + self.size]
        scores = [p["max_score"] for p in partials if p["max_score"] is not None]
        return {"total": sum(p["total"] for p in partials), "max_score": max(scores) if scores else None,
                "hits": hits}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        hits = [{k: v for k, v in h.items() if k != "__merge"} for h in reduced["hits"][self.from_:]]
        return {"hits": {"total": {"value": reduced["total"], "relation": "eq"},
                         "max_score": reduced["max_score"], "hits": hits[: self.size]}}
