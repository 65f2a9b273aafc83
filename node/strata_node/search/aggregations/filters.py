"""filter and filters: buckets defined by queries.

A filter runs its query on the shard (no scores) and keeps the matched documents that
are also in the bucket's documents; filters does that once per named (or anonymous)
filter and, with `other_bucket`, adds the documents no filter matched. Named filters
come back in key order, as FiltersAggregationBuilder sorts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError
from ...common.xcontent import token_name
from ..matches import Matches
from .base import Aggregator, Params, SingleBucket, collect_subs, reduce_subs, render_subs, subset


def _parse_query(body: Any, where: str):
    from ..query import parse_query

    if not isinstance(body, dict):
        raise ParsingError(f"[{where}] query malformed, must start with start_object")
    return parse_query(body)


def _intersect(ctx, query, matches: Matches) -> np.ndarray:
    """The matched seqs the query also matches (both sorted and unique)."""
    found = query.execute(ctx, score=False).seqs
    if not len(found) or not len(matches.seqs):
        return matches.seqs[:0]
    return np.intersect1d(matches.seqs, found, assume_unique=True)


class Filter(SingleBucket):
    type_name = "filter"

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        self.query = _parse_query(body, "filter")

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        return self.bucket(ctx, subset(matches, _intersect(ctx, self.query, matches)))


class Filters(Aggregator):
    type_name = "filters"

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("filters", "other_bucket", "other_bucket_key", "keyed"))
        raw = p.get("filters")
        if raw is None:
            raise IllegalArgument(f"[filters] cannot be null for aggregation [{name}]")
        if isinstance(raw, dict):
            self.named = True
            self.filters = [(key, _parse_query(q, "filters")) for key, q in sorted(raw.items())]
        elif isinstance(raw, list):
            self.named = False
            self.filters = [(str(i), _parse_query(q, "filters")) for i, q in enumerate(raw)]
        else:
            raise ParsingError(f"Unknown token {token_name(raw)} in [filters].")
        if not self.filters:
            raise IllegalArgument(f"[filters] cannot be empty for aggregation [{name}]")
        self.other_key = p.string("other_bucket_key")
        self.other = p.boolean("other_bucket", self.other_key is not None)
        self.other_key = self.other_key or "_other_"
        self.keyed = p.boolean("keyed", True) if self.named else False

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        buckets = []
        matched_any = np.zeros(len(matches.seqs), dtype=bool) if self.other else None
        for key, query in self.filters:
            seqs = _intersect(ctx, query, matches)
            if matched_any is not None and len(seqs):
                matched_any[np.searchsorted(matches.seqs, seqs)] = True
            buckets.append([key, len(seqs), collect_subs(self, ctx, subset(matches, seqs))])
        if self.other:
            rest = matches.seqs[~matched_any]
            buckets.append([self.other_key, len(rest), collect_subs(self, ctx, subset(matches, rest))])
        return {"buckets": buckets}

    def empty(self) -> dict[str, Any]:
        keys = [key for key, _ in self.filters] + ([self.other_key] if self.other else [])
        return {"buckets": [[key, 0, self.subs.empty() if self.subs else {}] for key in keys]}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        first = partials[0]["buckets"]
        return {"buckets": [[key, sum(p["buckets"][i][1] for p in partials),
                             reduce_subs(self, [p["buckets"][i][2] for p in partials])]
                            for i, (key, _, _) in enumerate(first)]}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        rendered = []
        for key, count, subs in reduced["buckets"]:
            bucket: dict[str, Any] = {"key": key} if self.named and not self.keyed else {}
            bucket["doc_count"] = count
            rendered.append((key, render_subs(self, subs, bucket, typed_keys)))
        if self.keyed:
            return {"buckets": {key: b for key, b in rendered}}
        return {"buckets": [b for _, b in rendered]}
