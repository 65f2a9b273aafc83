"""Aggregations: parse the request's `aggs`, collect them on each shard with numpy,
reduce the shards' partials, and render Elasticsearch's response.

    aggs = parse_aggregations(body)                 # ParsingError / IllegalArgument: 400
    partial = aggs.collect(ctx, matches)            # one shard; plain data for the transport
    reduced = aggs.reduce([partial, ...])           # across shards (one is fine)
    body = aggs.render(reduced)                     # the response's "aggregations"

    errors = aggs.validate()                        # pipelines' checks, before anything runs
    reduced = aggs.run_pipelines(reduced)           # the coordinator, after the final reduce

`aggs.needs_scores` tells the caller whether some aggregation (top_hits sorted by
score) wants the query run with scores. Pipeline aggregations (avg_bucket, derivative,
...) are parsed beside the others but never collected: they run on the reduced results.

Modules: base.py (the Aggregator contract, parameter reading, handing a bucket's
documents to sub-aggregations), values.py (fields and their doc values), formats.py
(how values print), zones.py and rounding.py (dates), order.py (bucket order),
metrics.py, terms.py, histogram.py, date_histogram.py, range.py, filters.py,
top_hits.py, geo.py (geo_bounds, geo_centroid, geohash_grid, geotile_grid, geo_distance),
percentiles.py (percentiles and percentile_ranks over tdigest.py, ES's t-digest),
pipelines/ (the pipeline aggregations).
"""

from __future__ import annotations

import re
from typing import Any

from ...common.errors import IllegalArgument, ParsingError
from ...common.suggest import did_you_mean
from ...common.xcontent import token_name
from ..matches import Matches
from .base import AggregationInitializationError, Aggregator
from .date_histogram import DateHistogram
from .filters import Filter, Filters
from .geo import GeoBounds, GeoCentroid, GeoDistance, GeohashGrid, GeotileGrid
from .histogram import Histogram
from .metrics import Avg, Cardinality, ExtendedStats, Max, Min, Stats, Sum, ValueCount, WeightedAvg
from .percentiles import PercentileRanks, Percentiles
from .pipelines import PIPELINES, Pipeline, resolve_order, run_tree, validate_tree
from .range import DateRange, Range
from .single_bucket import Global, Missing
from .terms import Terms
from .top_hits import TopHits

AGGREGATIONS: dict[str, type[Aggregator]] = {cls.type_name: cls for cls in (
    Avg, Cardinality, ExtendedStats, Max, Min, Stats, Sum, ValueCount, WeightedAvg, Terms, Histogram,
    DateHistogram, Range, DateRange, Filter, Filters, Global, Missing, TopHits, GeoBounds, GeoCentroid,
    GeohashGrid, GeotileGrid, GeoDistance, Percentiles, PercentileRanks,
)}

# Every aggregation Elasticsearch 8 registers (SearchModule and the default x-pack
# plugins): the candidates of its "did you mean", and the names Strata recognizes but does
# not implement (refused as unsupported rather than unknown).
ELASTICSEARCH_AGGREGATIONS = (
    "adjacency_matrix", "auto_date_histogram", "avg", "avg_bucket", "boxplot", "bucket_correlation",
    "bucket_count_ks_test", "bucket_script", "bucket_selector", "bucket_sort", "cardinality",
    "categorize_text",
    "change_point", "children", "composite", "cumulative_cardinality", "cumulative_sum", "date_histogram",
    "date_range", "derivative", "diversified_sampler", "extended_stats", "extended_stats_bucket", "filter",
    "filters", "frequent_item_sets", "geo_bounds", "geo_centroid", "geo_distance", "geo_line", "geohash_grid",
    "geohex_grid", "geotile_grid", "global", "histogram", "inference", "ip_prefix", "ip_range",
    "matrix_stats",
    "max", "max_bucket", "median_absolute_deviation", "min", "min_bucket", "missing", "moving_fn",
    "moving_percentiles", "multi_terms", "nested", "normalize", "parent", "percentile_ranks", "percentiles",
    "percentiles_bucket", "random_sampler", "range", "rare_terms", "rate", "reverse_nested", "sampler",
    "scripted_metric", "serial_diff", "significant_terms", "significant_text", "stats", "stats_bucket",
    "string_stats", "sum", "sum_bucket", "t_test", "terms", "time_series", "top_hits", "top_metrics",
    "value_count", "variable_width_histogram", "weighted_avg",
)

_VALID_NAME = re.compile(r"[^\[\]>]+")


class Aggregations:
    """Sibling aggregations (AggregatorFactories): the request's top level, or the
    sub-aggregations of one bucket aggregation. Truth, length and iteration are about the
    regular aggregations, the ones shards collect; `pipelines` run on the coordinator."""

    def __init__(self, aggregators: list[Aggregator], pipelines: list[Pipeline] | None = None):
        self.aggregators = aggregators
        self.pipelines = pipelines or []
        self._by_name = {a.name: a for a in aggregators}
        self._pipelines_by_name = {p.name: p for p in self.pipelines}
        self._ordered: list[Pipeline] | None = None
        # anywhere below: whether the final reduce has pipelines to run
        self.has_pipelines = bool(self.pipelines) or any(a.subs.has_pipelines for a in aggregators
                                                         if isinstance(a.subs, Aggregations))

    def __bool__(self) -> bool:
        return bool(self.aggregators)

    def __len__(self) -> int:
        return len(self.aggregators)

    def __iter__(self):
        return iter(self.aggregators)

    def get(self, name: str) -> Aggregator | None:
        return self._by_name.get(name)

    def pipeline(self, name: str) -> Pipeline | None:
        return self._pipelines_by_name.get(name)

    def ordered_pipelines(self) -> list[Pipeline]:
        """This level's pipelines in the order they run (IllegalArgument for a path to
        nothing or a cycle, which validation reports)."""
        if self._ordered is None:
            self._ordered = resolve_order(self)
        return self._ordered

    @property
    def needs_scores(self) -> bool:
        return any(a.needs_scores for a in self.aggregators)

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        """Every aggregation's partial for one shard's matches."""
        return {a.name: a.collect(ctx, matches) for a in self.aggregators}

    def empty(self) -> dict[str, Any]:
        """The partials of a bucket with no documents (empty histogram buckets)."""
        return {a.name: a.empty() for a in self.aggregators}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        """One result from the shards' partials (an empty list reduces as no documents)."""
        if not partials:
            partials = [self.empty()]
        return {a.name: a.reduce([p[a.name] for p in partials]) for a in self.aggregators}

    def validate(self) -> list[str]:
        """The errors SearchRequest.validate finds in the pipelines of the whole tree."""
        return validate_tree(self)

    def run_pipelines(self, reduced: dict[str, Any]) -> dict[str, Any]:
        """The final reduce's last step: every pipeline of the tree run on `reduced` (a
        new value; `reduced` is left alone). A failure is a search_phase_execution_exception."""
        return run_tree(self, reduced)

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        """The `aggregations` object of the response; `typed_keys` prefixes each name with
        its result type (`sterms#by_status`) as the `typed_keys` parameter asks. Pipeline
        results follow the aggregations, in the order the pipelines ran."""
        out: dict[str, Any] = {}
        for a in self.aggregators:
            value = reduced[a.name]
            body = a.render(value, typed_keys=typed_keys)
            if a.meta is not None:
                body = {"meta": a.meta, **body}
            out[f"{a.typed_name(value)}#{a.name}" if typed_keys else a.name] = body
        for p in self._ordered if self._ordered is not None else self.pipelines:
            if p.name not in reduced:  # not run, or a derivative's first bucket
                continue
            value = reduced[p.name]
            body = p.render(value)
            if p.meta is not None:
                body = {"meta": p.meta, **body}
            out[f"{p.typed_name(value)}#{p.name}" if typed_keys else p.name] = body
        return out


def parse_aggregations(body: Any) -> Aggregations:
    """The `aggs` (or `aggregations`) object of a search body, parsed and checked as
    AggregatorFactories.parseAggregators checks it."""
    return _parse(body, 0)


def _parse(body: Any, level: int) -> Aggregations:
    if not isinstance(body, dict):
        raise ParsingError(f"Unexpected token {_token(body)} in [aggs].")
    aggregators: list[Aggregator] = []
    pipelines: list[Pipeline] = []
    for name, definition in body.items():
        if not _VALID_NAME.fullmatch(name):
            raise ParsingError(f"Invalid aggregation name [{name}]. Aggregation names can contain any "
                               "character except '[', ']', and '>'")
        if not isinstance(definition, dict):
            raise ParsingError(f"Aggregation definition for [{name} starts with a [{_token(definition)}], "
                               "expected a [START_OBJECT].")
        type_name = None
        params: dict[str, Any] | None = None
        subs: Aggregations | None = None
        meta = None
        for key, value in definition.items():
            if not isinstance(value, dict):
                raise ParsingError(f"Expected [START_OBJECT] under [{key}], but got a [{_token(value)}] in "
                                   f"[{name}]")
            if key == "meta":
                meta = value
            elif key in ("aggs", "aggregations"):
                if subs is not None:
                    raise ParsingError(f"Found two sub aggregation definitions under [{name}]")
                subs = _parse(value, level + 1)
            else:
                if type_name is not None:
                    raise ParsingError(f"Found two aggregation type definitions in [{name}]: [{type_name}] "
                                       f"and [{key}]")
                if key not in AGGREGATIONS and key not in PIPELINES:
                    if key in ELASTICSEARCH_AGGREGATIONS:
                        raise ParsingError(f"Aggregation type [{key}] is not supported by Strata")
                    raise ParsingError(f"Unknown aggregation type [{key}]"
                                       f"{did_you_mean(key, ELASTICSEARCH_AGGREGATIONS)}")
                type_name, params = key, value
        if type_name is None:
            raise ParsingError(f"Missing definition for aggregation [{name}]")
        if type_name in PIPELINES:
            pipeline = PIPELINES[type_name](name, meta, params)
            if subs is not None:
                raise IllegalArgument(f"Aggregation [{name}] cannot define sub-aggregations")
            pipelines.append(pipeline)
            continue
        cls = AGGREGATIONS[type_name]
        if subs is not None and subs.pipelines and not cls.accepts_subs:  # Aggregator checks regular subs
            raise AggregationInitializationError(f"Aggregator [{name}] of type [{type_name}] cannot accept "
                                                 "sub-aggregations")
        aggregators.append(cls(name, subs if subs is not None else Aggregations([]), meta, params))
    seen: set[str] = set()
    for a in aggregators:
        if a.name in seen:
            raise IllegalArgument(f"Two sibling aggregations cannot have the same name: [{a.name}]")
        seen.add(a.name)
    return Aggregations(aggregators, pipelines)


def _token(value: Any) -> str:
    return token_name(value)


__all__ = ["AGGREGATIONS", "PIPELINES", "Aggregations", "parse_aggregations"]
