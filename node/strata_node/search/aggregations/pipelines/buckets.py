"""The reduced results of bucket aggregations as pipelines see them: their buckets, each
bucket's doc count, sub-aggregations and key, and the Java classes Elasticsearch's error
messages name. Pipelines read other aggregations' reduced values without those modules
knowing about pipelines, so the shapes are described here, by aggregation type:

    histogram, date_histogram, terms, filters, geo grids  [key, count, subs, ...]
    range, date_range, geo_distance                       [key, from, to, count, subs]
    filter, global, missing (one bucket)                  {"doc_count": n, "subs": {...}}
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ....index.mapping.dates import DEFAULT_FORMAT
from ....index.mapping.numbers import java_double
from ..formats import date_format, format_value

MANY, ONE, NONE = "many", "one", "none"  # AggregationBuilder.BucketCardinality

# (index of the doc count, index of the sub-aggregations, Java class of a bucket)
_ROWS = {
    "histogram": (1, 2, "Bucket"), "date_histogram": (1, 2, "Bucket"), "terms": (1, 2, "Bucket"),
    "filters": (1, 2, "InternalBucket"), "geohash_grid": (1, 2, "InternalGeoHashGridBucket"),
    "geotile_grid": (1, 2, "InternalGeoTileGridBucket"), "range": (3, 4, "Bucket"),
    "date_range": (3, 4, "Bucket"), "geo_distance": (3, 4, "Bucket"),
}
_SINGLE = frozenset({"filter", "global", "missing", "nested", "reverse_nested", "sampler"})
SINGLE_VALUE = frozenset({"avg", "sum", "min", "max", "value_count", "cardinality", "weighted_avg",
                          "median_absolute_deviation", "rate"})
MULTI_VALUE = frozenset({"stats", "extended_stats", "percentiles", "percentile_ranks"})
STATS_METRICS = "org.elasticsearch.search.aggregations.metrics.InternalStats.Metrics"

_CLASSES = {
    "histogram": "InternalHistogram", "date_histogram": "InternalDateHistogram", "range": "InternalRange",
    "date_range": "InternalDateRange", "geo_distance": "InternalGeoDistance", "filters": "InternalFilters",
    "filter": "InternalFilter", "global": "InternalGlobal", "missing": "InternalMissing",
    "geohash_grid": "InternalGeoHashGrid", "geotile_grid": "InternalGeoTileGrid",
    "top_hits": "InternalTopHits",
    "geo_bounds": "InternalGeoBounds", "geo_centroid": "InternalGeoCentroid", "stats": "InternalStats",
    "extended_stats": "InternalExtendedStats", "percentiles": "InternalTDigestPercentiles",
    "percentile_ranks": "InternalTDigestPercentileRanks",
}
_TERMS_CLASSES = {"keyword": "StringTerms", "ip": "StringTerms", "double": "DoubleTerms",
                  None: "UnmappedTerms"}

_METRICS = "org.elasticsearch.search.aggregations.metrics."
_BUILDERS = {
    "avg": "AvgAggregationBuilder", "sum": "SumAggregationBuilder", "min": "MinAggregationBuilder",
    "max": "MaxAggregationBuilder", "stats": "StatsAggregationBuilder",
    "extended_stats": "ExtendedStatsAggregationBuilder", "value_count": "ValueCountAggregationBuilder",
    "cardinality": "CardinalityAggregationBuilder", "weighted_avg": "WeightedAvgAggregationBuilder",
    "top_hits": "TopHitsAggregationBuilder", "geo_bounds": "GeoBoundsAggregationBuilder",
    "geo_centroid": "GeoCentroidAggregationBuilder",
}
_BUCKET_BUILDERS = {
    "filter": "org.elasticsearch.search.aggregations.bucket.filter.FilterAggregationBuilder",
    "global": "org.elasticsearch.search.aggregations.bucket.global.GlobalAggregationBuilder",
    "missing": "org.elasticsearch.search.aggregations.bucket.missing.MissingAggregationBuilder",
}


class JavaObject(NamedTuple):
    """Something a path reached that is not a number, by the Java class ES finds there."""

    name: str
    multi_value: bool = False


def cardinality(agg) -> str:
    if agg.type_name in _ROWS:
        return MANY
    if agg.type_name in _SINGLE:
        return ONE
    return NONE


def builder_class(agg) -> str:
    """The builder's Java class, which one validation message prints."""
    if agg.type_name in _BUCKET_BUILDERS:
        return _BUCKET_BUILDERS[agg.type_name]
    camel = "".join(part.capitalize() for part in agg.type_name.split("_"))
    return _METRICS + _BUILDERS.get(agg.type_name, f"{camel}AggregationBuilder")


def agg_class(agg, reduced: Any) -> str:
    if agg.type_name == "terms":
        return _TERMS_CLASSES.get(reduced.get("kind"), "LongTerms")
    camel = "".join(part.capitalize() for part in agg.type_name.split("_"))
    return _CLASSES.get(agg.type_name, f"Internal{camel}")


def bucket_class(agg) -> str:
    return _ROWS.get(agg.type_name, (0, 0, "Bucket"))[2]


# -- the buckets of a multi-bucket aggregation ----------------------------------------------


def rows(reduced: dict[str, Any]) -> list:
    return reduced["buckets"]


def with_rows(reduced: dict[str, Any], new_rows: list) -> dict[str, Any]:
    """A copy of the reduced value with other buckets (the original is left alone: empty
    histogram buckets share one dict of sub-aggregations)."""
    return {**reduced, "buckets": new_rows}


def count_of(agg, row: Any) -> int:
    return row[_ROWS[agg.type_name][0]]


def subs_of(agg, row: Any) -> dict[str, Any]:
    return row[_ROWS[agg.type_name][1]]


def with_subs(agg, row: Any, subs: dict[str, Any]) -> list:
    new = list(row)
    new[_ROWS[agg.type_name][1]] = subs
    return new


def key_string(agg, reduced: dict[str, Any], row: Any) -> str:
    """Bucket.getKeyAsString."""
    key = row[0]
    kind = agg.type_name
    fmt = reduced.get("fmt")
    if kind == "histogram":
        return java_double(float(key)) if fmt is None else format_value(fmt, key)
    if kind == "date_histogram":
        return format_value(fmt or date_format(agg.format or DEFAULT_FORMAT, agg.time_zone), key)
    if kind == "terms":
        if isinstance(key, str):
            return key
        if fmt is not None:
            return format_value(fmt, key)
        return java_double(key) if isinstance(key, float) else str(key)
    if kind in ("geohash_grid", "geotile_grid"):
        return agg.key(key)
    return str(key)


def key_value(agg, row: Any) -> Any:
    """Bucket.getKey as a path sees it: a number, or the class of what ES returns."""
    key = row[0]
    if agg.type_name == "date_histogram":
        return JavaObject("ZonedDateTime")
    if agg.type_name in ("geohash_grid", "geotile_grid"):
        return JavaObject("GeoPoint")
    if isinstance(key, str):
        return JavaObject("String")
    return key


def sort_key(agg, row: Any) -> Any:
    """Bucket.getKey as bucket_sort compares it: numbers (dates by their instant), strings
    in UTF-16 order as Java compares them."""
    key = row[0]
    if agg.type_name in ("geohash_grid", "geotile_grid"):
        key = agg.key(key)
    if isinstance(key, str):
        return key.encode("utf-16-be")
    return key


def histogram_key(row: Any) -> float:
    """HistogramFactory.getKey: a histogram's key, a date histogram's epoch millis."""
    return float(row[0])
