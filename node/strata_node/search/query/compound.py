"""Compound queries: bool, constant_score, dis_max and boosting.

bool follows Lucene's BooleanQuery: must and filter clauses are required (only must
clauses score), should clauses are optional unless there are no required clauses or
`minimum_should_match` asks for some, must_not clauses exclude. Scores are the sum of the
scoring clauses (the required ones in double, then the optional sum added in float, as
ReqOptSumScorer adds it). A bool of only must_not clauses matches every other document
with score 0, and one of only filters scores 0, as in Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ...common.errors import ParsingError
from ..context import ShardContext
from ..matches import Matches
from .analysis import minimum_should_match
from .base import Query, constant, parse_inner, register, set_common, to_bool, to_float, to_str, unsupported
from .combine import add_scores, conjunction, contains, dis_max, disjunction, exclude, restrict, union_seqs

CLAUSES = ("must", "filter", "should", "must_not")


class Bool(Query):
    kind = "bool"

    def __init__(self) -> None:
        self.must: list[Query] = []
        self.filter: list[Query] = []
        self.should: list[Query] = []
        self.must_not: list[Query] = []
        self.minimum_should_match: str | None = None

    def children(self) -> Iterator[Query]:
        yield from self.must
        yield from self.filter
        yield from self.should
        yield from self.must_not

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        if not (self.must or self.filter or self.should or self.must_not):
            return constant(ctx.reader.docs(), scored, boost)  # an empty bool is match_all
        # Filters first, then must clauses, each told which documents can still match,
        # so the scoring clauses score only those.
        candidates = within
        required: list[Matches] = []
        for q, scoring_clause in [(q, False) for q in self.filter] + [(q, True) for q in self.must]:
            matches = q.run(ctx, scored and scoring_clause, boost, candidates)
            required.append(matches)
            candidates = matches.seqs if candidates is None else restrict(matches.seqs, candidates)[0]
        scoring = [False] * len(self.filter) + [True] * len(self.must)
        should = [q.run(ctx, scored, boost, candidates) for q in self.should]
        if self.minimum_should_match is not None:
            msm = minimum_should_match(len(should), self.minimum_should_match)
        else:
            msm = 0 if required else 1 if should else 0
        if required:
            result = conjunction(required, scoring, scored)
            if msm > 0:  # with no should clause to satisfy it, nothing matches (as in Lucene)
                result = conjunction([result, disjunction(should, scored, msm)], [True, True], scored)
            elif should and scored and len(result):
                result = _add_optional(result, disjunction(should, scored, 1))
        elif should or msm > 0:
            result = disjunction(should, scored, max(msm, 1))
        else:  # only must_not: every other document, scoring 0
            result = constant(ctx.reader.docs(), scored, np.float32(0.0))
        if self.must_not and len(result):
            excluded = union_seqs([q.run(ctx, False, boost, result.seqs).seqs for q in self.must_not])
            result = exclude(result, excluded)
        if scored and result.scores is None:
            result = Matches(result.seqs, np.zeros(len(result), dtype=np.float32))
        return result


def _add_optional(required: Matches, optional: Matches) -> Matches:
    if not len(optional) or required.scores is None or optional.scores is None:
        return required
    found = contains(optional.seqs, required.seqs)
    seqs, scores = optional.seqs[found], optional.scores[found]
    at = np.searchsorted(required.seqs, seqs)
    total = required.scores.copy()
    total[at] = add_scores(total[at], scores)
    return Matches(required.seqs, total)


def _clauses(kind: str, key: str, value: Any) -> list[Query]:
    if isinstance(value, dict):
        return [parse_inner(value)]
    if isinstance(value, list):
        return [parse_inner(v) for v in value]
    raise ParsingError(f"[{kind}] query does not support [{key}]")


@register("bool")
def parse_bool(kind: str, body: dict[str, Any]) -> Query:
    query = Bool()
    for key, value in body.items():
        if key in CLAUSES:
            getattr(query, key).extend(_clauses(kind, key, value))
        elif key == "minimum_should_match":
            query.minimum_should_match = to_str(kind, key, value)
        elif key == "adjust_pure_negative":
            to_bool(kind, key, value)
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    return query


class ConstantScore(Query):
    kind = "constant_score"

    def __init__(self, filter: Query):
        self.filter = filter

    def children(self) -> Iterator[Query]:
        yield self.filter

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return constant(self.filter.run(ctx, False, boost, within).seqs, scored, boost)


@register("constant_score")
def parse_constant_score(kind: str, body: dict[str, Any]) -> Query:
    inner: Query | None = None
    common: list[tuple[str, Any]] = []
    for key, value in body.items():
        if key == "filter":
            if not isinstance(value, dict):
                raise ParsingError(f"[{kind}] query does not support [{key}]")
            inner = parse_inner(value)
        elif key in ("boost", "_name"):
            common.append((key, value))
        else:
            raise unsupported(kind, key)
    if inner is None:
        raise ParsingError(f"[{kind}] requires a 'filter' element")
    query = ConstantScore(inner)
    for key, value in common:
        set_common(query, kind, key, value)
    return query


class DisMax(Query):
    kind = "dis_max"

    def __init__(self, queries: list[Query], tie_breaker: float = 0.0):
        self.queries = queries
        self.tie_breaker = tie_breaker

    def children(self) -> Iterator[Query]:
        yield from self.queries

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return dis_max([q.run(ctx, scored, boost, within) for q in self.queries], scored, self.tie_breaker)


@register("dis_max")
def parse_dis_max(kind: str, body: dict[str, Any]) -> Query:
    query = DisMax([])
    found = False
    for key, value in body.items():
        if key == "queries":
            found = True
            query.queries = _clauses(kind, key, value)
        elif key == "tie_breaker":
            query.tie_breaker = float(to_float(kind, key, value))
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if not found or not query.queries:
        raise ParsingError(f"[{kind}] requires 'queries' field with at least one clause")
    return query


class Boosting(Query):
    """Scores of `positive`, multiplied by `negative_boost` where `negative` matches too."""

    kind = "boosting"

    def __init__(self, positive: Query, negative: Query, negative_boost: float):
        self.positive = positive
        self.negative = negative
        self.negative_boost = np.float32(negative_boost)

    def children(self) -> Iterator[Query]:
        yield self.positive
        yield self.negative

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        result = self.positive.run(ctx, scored, boost, within)
        if not scored or result.scores is None or not len(result):
            return result
        demoted = contains(result.seqs, self.negative.run(ctx, False, boost, result.seqs).seqs)
        scores = result.scores.copy()
        scores[demoted] = scores[demoted] * self.negative_boost
        return Matches(result.seqs, scores)


@register("boosting")
def parse_boosting(kind: str, body: dict[str, Any]) -> Query:
    positive = negative = None
    negative_boost: float | None = None
    common = []
    for key, value in body.items():
        if key in ("positive", "negative"):
            if not isinstance(value, dict):
                raise ParsingError(f"[{kind}] query does not support [{key}]")
            if key == "positive":
                positive = parse_inner(value)
            else:
                negative = parse_inner(value)
        elif key == "negative_boost":
            negative_boost = float(to_float(kind, key, value))
        elif key in ("boost", "_name"):
            common.append((key, value))
        else:
            raise unsupported(kind, key)
    if positive is None:
        raise ParsingError(f"[{kind}] query requires 'positive' query to be set'")
    if negative is None:
        raise ParsingError(f"[{kind}] query requires 'negative' query to be set'")
    if negative_boost is None or negative_boost < 0:
        raise ParsingError(f"[{kind}] query requires 'negative_boost' to be set to be a positive value'")
    query = Boosting(positive, negative, negative_boost)
    for key, value in common:
        set_common(query, kind, key, value)
    return query
