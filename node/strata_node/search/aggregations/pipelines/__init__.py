"""Pipeline aggregations: computed from other aggregations' results, on the coordinator,
after the final reduce (never on a shard, which parses them with the request and ignores
them).

    errors = validate_tree(aggs)        # SearchRequest.validate: "Validation Failed: ..."
    reduced = run_tree(aggs, reduced)   # InternalAggregations.topLevelReduce's pipelines

Pipelines sit in an `aggs` object beside regular aggregations. Those of one object run in
dependency order (resolvePipelineAggregatorOrder: one pipeline may read another), after the
pipelines inside every bucket below them have run, as ES's PipelineTree drives them.

Modules: paths.py (buckets_path syntax and resolution, gap policies), buckets.py (how the
reduced values of bucket aggregations look to a pipeline), base.py (the Pipeline contract
and the results' rendering), sibling.py (avg/sum/min/max/stats_bucket), parent.py
(cumulative_sum, derivative, bucket_sort), errors.py.
"""

from __future__ import annotations

from typing import Any

from ....common.errors import IllegalArgument, StrataError
from . import buckets
from .base import Pipeline
from .errors import ReducePhaseError
from .parent import BucketSort, CumulativeSum, Derivative
from .paths import parse_path
from .sibling import AvgBucket, MaxBucket, MinBucket, StatsBucket, SumBucket

PIPELINES: dict[str, type[Pipeline]] = {cls.type_name: cls for cls in (
    AvgBucket, SumBucket, MinBucket, MaxBucket, StatsBucket, CumulativeSum, Derivative, BucketSort,
)}


def resolve_order(level) -> list[Pipeline]:
    """AggregatorFactories.resolvePipelineAggregatorOrder: a depth-first topological sort
    of one level's pipelines by what their paths name; a path must reach an aggregation (or
    a pipeline) that exists. Raises IllegalArgument, which validation reports."""
    aggs = {a.name: a for a in level.aggregators}
    pipes = {p.name: p for p in level.pipelines}
    ordered: list[Pipeline] = []
    unmarked = list(level.pipelines)
    marked: set[int] = set()

    def visit(pipeline: Pipeline) -> None:
        if id(pipeline) in marked:
            raise IllegalArgument(f"Cyclical dependency found with pipeline aggregator [{pipeline.name}]")
        if pipeline not in unmarked:
            return
        marked.add(id(pipeline))
        for path in pipeline.buckets_paths:
            elements = parse_path(path)
            first = elements[0].name
            if path in ("_count", "_key"):
                continue
            if first in aggs:
                agg = aggs[first]
                for i, element in enumerate(elements[1:], 1):
                    last = i == len(elements) - 1
                    if last and (element.name.lower() == "_key" or element.name == "_count"):
                        break
                    sub = agg.subs.get(element.name)
                    if sub is not None:
                        agg = sub
                    elif not (last and agg.subs.pipeline(element.name) is not None):
                        raise IllegalArgument(f"No aggregation [{element.name}] found for path [{path}]")
                continue
            if first not in pipes:
                raise IllegalArgument(f"No aggregation found for path [{path}]")
            visit(pipes[first])
        unmarked.remove(pipeline)
        marked.discard(id(pipeline))
        ordered.append(pipeline)

    while unmarked:
        visit(unmarked[0])
    return ordered


def validate_tree(level) -> list[str]:
    """AggregatorFactories.Builder.validate: every level's pipelines, the top first, then
    depth first through the aggregations, each error collected."""
    errors: list[str] = []
    _validate_level(level, None, errors)
    _validate_children(level, errors)
    return errors


def _validate_level(level, parent, errors: list[str]) -> None:
    try:
        ordered = level.ordered_pipelines()
    except IllegalArgument as e:
        errors.append(e.reason)
        return
    for pipeline in ordered:
        pipeline.validate(level, parent, errors)


def _validate_children(level, errors: list[str]) -> None:
    for agg in level.aggregators:
        _validate_level(agg.subs, agg, errors)
        _validate_children(agg.subs, errors)


def run_tree(level, reduced: dict[str, Any]) -> dict[str, Any]:
    """The pipelines of the whole tree, on the final reduce of `level` (the request's
    top level); the top level's are siblings (validation refuses others there). A failure
    is the search's failure, as the reduce's failures are."""
    if not level.has_pipelines:
        return reduced
    try:
        out = dict(reduced)
        for agg in level.aggregators:
            if agg.subs.has_pipelines:
                out[agg.name] = _run_agg(agg, out[agg.name])
        for pipeline in level.ordered_pipelines():
            if pipeline.sibling:
                out[pipeline.name] = pipeline.compute(level, out)
        return out
    except StrataError as e:
        if isinstance(e, ReducePhaseError):
            raise
        raise ReducePhaseError(e) from None


def _run_agg(agg, value: Any) -> Any:
    """InternalMultiBucketAggregation (or single-bucket) reducePipelines: the pipelines
    inside each bucket first, then those in the aggregation's own `aggs`, in order."""
    subs = agg.subs
    if buckets.cardinality(agg) == buckets.NONE:
        return value
    deeper = [s for s in subs.aggregators if s.subs.has_pipelines]
    if deeper:
        value = _each_bucket(agg, value, lambda inner: {**inner, **{s.name: _run_agg(s, inner[s.name])
                                                                     for s in deeper}})
    for pipeline in subs.ordered_pipelines():
        if pipeline.sibling:
            value = _each_bucket(agg, value,
                                 lambda inner, p=pipeline: {**inner, p.name: p.compute(subs, inner)})
        else:
            value = pipeline.rewrite(agg, value)
    return value


def _each_bucket(agg, value: dict[str, Any], rewrite) -> dict[str, Any]:
    """A copy of `value` whose buckets' sub-aggregations went through `rewrite`."""
    if buckets.cardinality(agg) == buckets.MANY:
        return buckets.with_rows(value, [buckets.with_subs(agg, row, rewrite(buckets.subs_of(agg, row)))
                                         for row in buckets.rows(value)])
    return {**value, "subs": rewrite(value["subs"])}


__all__ = ["PIPELINES", "Pipeline", "ReducePhaseError", "resolve_order", "run_tree", "validate_tree"]
