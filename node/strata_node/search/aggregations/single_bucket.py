"""missing and global: single-bucket aggregations whose bucket is not defined by a query.

missing holds the documents of its bucket that have no value in a field (every document
when the field is unmapped); global holds every document the request may see on the
shard, whatever the query, and so can only be a top-level aggregation. ES refuses a
nested global when it builds the shard's aggregators, not when it parses the request, so
the refusal is a shard failure (`check_placement`, called by the query phase).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError
from ...common.xcontent import token_name
from ...index.mapping.numbers import FLOAT_TYPES, UNSIGNED, WHOLE_TYPES
from ..matches import Matches
from .base import (
    AggregationExecutionError,
    Aggregator,
    Params,
    SingleBucket,
    subset,
)
from .values import VALUE_TYPES, ValueType, missing_value, resolve


def _values_source_type(type_name: str) -> str | None:
    """The values source type ES reads a mapped field as (None: not one a hint names)."""
    if type_name in WHOLE_TYPES or type_name in FLOAT_TYPES or type_name == UNSIGNED:
        return "numeric"
    if type_name in ("keyword", "constant_keyword"):
        return "keyword"
    if type_name in ("date", "ip", "boolean"):
        return type_name
    return None


class Missing(SingleBucket):
    type_name = "missing"
    kinds = None  # ES registers it for every core values source type

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("field", "missing", "value_type", "valueType", "format", "script"))
        self.field = p.field()
        self.missing = p.get("missing")
        self.value_type: ValueType | None = None
        for key in ("value_type", "valueType"):
            if p.get(key) is not None:
                hint = p.string(key)
                if hint not in VALUE_TYPES:
                    raise p.fail(key, IllegalArgument(f"Unknown value type [{hint}]"))
                self.value_type = VALUE_TYPES[hint]
        p.string("format")  # read only to refuse a value of the wrong kind: the bucket prints no value

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = resolve(ctx, self.field, self.type_name, self.kinds)
        hint = self.value_type
        if vs.mapped and hint is not None and hint.source != _values_source_type(vs.type_name or vs.kind):
            raise IllegalArgument(f"Field type [{vs.type_name or vs.kind}] is incompatible with specified "
                                  f"value_type [{hint.description}]")
        if self.missing is not None:
            # A `missing` value gives every document a value (MissingValues), so none is missing.
            if vs.mapped:
                missing_value(vs, self.missing, ctx)
            seqs = matches.seqs[:0]
        elif vs.mapped:
            seqs = vs.without_values(matches.seqs)
        else:
            seqs = matches.seqs
        return self.bucket(ctx, subset(matches, seqs) if len(seqs) != len(matches) else matches)


class Global(SingleBucket):
    """Every document of the shard the request may see (live, and through the alias
    filter it searches by), scoring 1 as ES's match_all weight does when sub-aggregations
    want scores."""

    type_name = "global"

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        # GlobalAggregationBuilder reads nothing: AggregatorFactories then finds the body's
        # first field where it expects the next key of the aggregation's definition.
        if body:
            first = next(iter(body.values()))
            raise ParsingError("Expected [FIELD_NAME] under a [START_OBJECT], but got a "
                               f"[{token_name(first)}] in [{name}]")

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        seqs = ctx.visible_docs()
        scores = None if matches.scores is None else np.ones(len(seqs), dtype=np.float32)
        return self.bucket(ctx, Matches(seqs, scores))


def check_placement(aggs) -> None:
    """Refuses a global aggregation below the top level, with the words and the type
    GlobalAggregatorFactory uses; the first found depth first, as ES creates aggregators.
    `aggs` is the request's top-level Aggregations (None without aggregations)."""
    for agg in aggs or ():
        _check_below(agg)


def _check_below(parent: Aggregator) -> None:
    for sub in parent.subs or ():
        if isinstance(sub, Global):
            raise AggregationExecutionError(
                f"Aggregation [{parent.name}] cannot have a global sub-aggregation [{sub.name}]. Global "
                "aggregations can only be defined as top level aggregations")
        _check_below(sub)


__all__ = ["Global", "Missing", "check_placement"]
