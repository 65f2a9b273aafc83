"""The geo aggregations' pure parts: cells of points, distance precisions, the bounding box
resolved from the partials, centroids weighted by count, and grid buckets ordered as
Elasticsearch orders them."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from strata_node.common.errors import IllegalArgument, XContentParseError
from strata_node.index.mapping import geo
from strata_node.index.mapping.geo import encode, geohash_cell_bounds, geohash_text
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationInitializationError
from strata_node.search.aggregations.geo import (
    GeoBounds,
    GeoCentroid,
    GeohashGrid,
    GeotileGrid,
    geohash_levels_for_distance,
)
from strata_node.search.geo import Points


def agg(cls, **body):
    return cls("x", None, None, {"field": "location", **body})


def cells_of(grid, points):
    encoded = np.array([encode(lat, lon) for lat, lon in points], dtype=np.int64)
    return grid.cells(Points.of(np.arange(len(encoded)), encoded))


def test_geohash_cells_are_the_geohash_of_the_point_at_each_precision():
    for level in (1, 3, 5, 12):
        grid = agg(GeohashGrid, precision=level)
        [cell] = cells_of(grid, [(52.374081, 4.912350)]).tolist()
        assert grid.key(cell) == "u173zy3j4h3d"[:level]


def test_a_geohash_cell_holds_the_points_whose_hash_it_is():
    random.seed(7)
    grid = agg(GeohashGrid, precision=4)
    points = [(random.uniform(-90, 90), random.uniform(-180, 180)) for _ in range(500)]
    cells = cells_of(grid, points)
    min_lat, max_lat, min_lon, max_lon = geohash_cell_bounds(cells, 4)
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    assert np.all((min_lat <= lat + 1e-7) & (lat <= max_lat) & (min_lon <= lon + 1e-7) & (lon <= max_lon))


def test_geotile_keys_follow_web_mercator_tiles():
    grid = agg(GeotileGrid, precision=8)
    keys = [grid.key(c) for c in cells_of(grid, [(52.374081, 4.912350), (48.861111, 2.336389)]).tolist()]
    assert keys == ["8/131/84", "8/129/88"]


def test_geotile_tiles_clip_at_the_poles_and_the_antimeridian():
    grid = agg(GeotileGrid, precision=2)
    keys = [grid.key(c) for c in cells_of(grid, [(90, 180), (-90, -180), (0, 0)]).tolist()]
    assert keys == ["2/3/0", "2/0/3", "2/2/2"]


def test_precision_zero_is_the_one_tile_of_the_whole_world():
    grid = agg(GeotileGrid, precision=0)
    assert {grid.key(c) for c in cells_of(grid, [(80, -170), (-80, 170)]).tolist()} == {"0/0/0"}


@pytest.mark.parametrize("meters, level", [(10_000, 5), (1_000, 7), (20_000_000, 1), (0.1, 12), (0, 24)])
def test_a_distance_precision_is_the_geohash_level_of_cells_that_wide(meters, level):
    assert geohash_levels_for_distance(meters) == level


def test_geohash_precision_reads_levels_numbers_and_distances():
    assert agg(GeohashGrid).precision == 5
    assert agg(GeohashGrid, precision="7").precision == 7
    assert agg(GeohashGrid, precision=4.9).precision == 4
    assert agg(GeohashGrid, precision="1km").precision == 7


@pytest.mark.parametrize("cls, precision", [(GeohashGrid, 0), (GeohashGrid, 13), (GeohashGrid, "1cm"),
                                            (GeohashGrid, "1e400km"), (GeohashGrid, [5]), (GeohashGrid, True),
                                            (GeotileGrid, -1), (GeotileGrid, 30), (GeotileGrid, "5km")])
def test_a_precision_out_of_range_fails_to_parse(cls, precision):
    with pytest.raises(XContentParseError, match=r"failed to parse field \[precision\]"):
        agg(cls, precision=precision)


@pytest.mark.parametrize("body, message", [
    ({"size": 0}, r"\[size\] must be greater than 0. Found \[0\] in \[x\]"),
    ({"shard_size": 0}, r"\[shardSize\] must be greater than 0. Found \[0\] in \[x\]"),
    ({"shard_size": -1}, r"\[shardSize\] must be greater than 0. Found \[-1\] in \[x\]"),
])
def test_grid_sizes_must_be_positive(body, message):
    with pytest.raises(IllegalArgument, match=message):
        agg(GeohashGrid, **body)


def test_grid_shard_size_defaults_to_one_and_a_half_size_plus_ten_and_is_never_below_size():
    assert agg(GeohashGrid, size=100).shard_size == 160
    assert agg(GeohashGrid, size=100, shard_size=5).shard_size == 100


def test_grid_buckets_reduce_biggest_first_ties_by_cell_descending():
    grid = agg(GeohashGrid, precision=1, size=3)
    first = {"buckets": [[3, 2, {}], [7, 1, {}], [1, 1, {}]]}
    second = {"buckets": [[1, 1, {}], [9, 1, {}], [5, 3, {}]]}
    reduced = grid.reduce([first, second])
    assert [(c, n) for c, n, _ in reduced["buckets"]] == [(5, 3), (3, 2), (1, 2)]


def test_geo_bounds_takes_the_narrower_box_across_the_antimeridian_when_wrapping():
    bounds = agg(GeoBounds)
    partial = {"top": 10.0, "bottom": -10.0, "pos_left": 170.0, "pos_right": 175.0, "neg_left": -175.0,
               "neg_right": -170.0}
    assert bounds.box(partial) == (10.0, 170.0, -10.0, -170.0)
    assert agg(GeoBounds, wrap_longitude=False).box(partial) == (10.0, -175.0, -10.0, 175.0)


def test_geo_bounds_keeps_the_box_that_does_not_wrap_when_it_is_narrower():
    partial = {"top": 1.0, "bottom": 0.0, "pos_left": 1.0, "pos_right": 2.0,
               "neg_left": -2.0, "neg_right": -1.0}
    assert agg(GeoBounds).box(partial) == (1.0, -2.0, 0.0, 2.0)


def test_geo_bounds_of_points_on_one_side_of_the_meridian_only():
    bounds = agg(GeoBounds)
    east = bounds.reduce([{**bounds.empty(), "top": 5.0, "bottom": 1.0, "pos_left": 3.0, "pos_right": 4.0}])
    assert bounds.box(east) == (5.0, 3.0, 1.0, 4.0)
    assert bounds.box(bounds.reduce([bounds.empty(), bounds.empty()])) is None
    assert bounds.render(bounds.empty()) == {}


def test_geo_centroids_of_shards_combine_weighted_by_their_counts():
    centroid = agg(GeoCentroid)
    reduced = centroid.reduce([{"lat": 10.0, "lon": 20.0, "count": 1},
                               {"lat": 40.0, "lon": -10.0, "count": 2}, centroid.empty()])
    assert reduced["count"] == 3
    assert math.isclose(reduced["lat"], 30.0) and math.isclose(reduced["lon"], 0.0)
    assert centroid.render(centroid.reduce([centroid.empty()])) == {"count": 0}


def test_geo_metrics_take_no_sub_aggregations():
    with pytest.raises(AggregationInitializationError,
                       match=r"Aggregator \[b\] of type \[geo_bounds\] cannot accept sub-aggregations"):
        parse_aggregations({"b": {"geo_bounds": {"field": "location"},
                                  "aggs": {"c": {"geo_centroid": {"field": "location"}}}}})


def test_geo_distance_needs_an_origin_and_a_known_unit_and_distance_type():
    with pytest.raises(IllegalArgument, match=r"Aggregation \[d\] must define an \[origin\]\."):
        parse_aggregations({"d": {"geo_distance": {"field": "location", "ranges": [{"to": 1}]}}})
    with pytest.raises(XContentParseError, match=r"failed to parse field \[distance_type\]") as refused:
        parse_aggregations({"d": {"geo_distance": {"field": "location", "origin": "0,0",
                                                   "distance_type": "cosine", "ranges": [{"to": 1}]}}})
    assert "No geo distance for [cosine]" in str(refused.value.caused_by)


def test_geo_distance_keys_start_at_zero_printed_as_a_star():
    ranges = [{"from": 500}, {"to": 500}, {"from": 0, "to": 10}]
    body = {"field": "location", "origin": "0,0", "ranges": ranges}
    d = parse_aggregations({"d": {"geo_distance": body}}).get("d")
    assert [(k, f, t) for k, f, t, *_ in d.empty()["buckets"]] == [
        ("*-10.0", 0.0, 10.0), ("*-500.0", 0.0, 500.0), ("500.0-*", 500.0, None)]


def test_geohash_text_spells_the_cell_bits_in_base32():
    assert geohash_text(0, 3) == "000"
    assert geohash_text((1 << 15) - 1, 3) == "zzz"


@pytest.mark.parametrize("missing", ["100,0", "0,200", {"lat": 1, "lon": 2}, [2, 1], "1,2,3", "not a point"])
def test_a_missing_point_out_of_range_or_not_text_fails_to_parse(missing):
    """ES reads `missing` as text (GeoPoint(String)) and encodes it, which refuses a
    coordinate out of range rather than wrapping it."""
    for cls in (GeoBounds, GeoCentroid, GeohashGrid, GeotileGrid):
        with pytest.raises(XContentParseError, match=r"failed to parse field \[missing\]"):
            agg(cls, missing=missing)


def test_a_missing_point_reads_any_text_form_of_a_point():
    assert agg(GeoCentroid, missing="52.37,4.9").missing == encode(52.37, 4.9)
    assert agg(GeoCentroid, missing="POINT (4.9 52.37)").missing == encode(52.37, 4.9)
    assert agg(GeoCentroid, missing="u173zy").missing == encode(*geo.from_geohash("u173zy"))


def test_geo_distance_reports_unknown_fields_before_the_missing_origin():
    with pytest.raises(XContentParseError, match=r"\[geo_distance\] unknown field \[foo\]"):
        parse_aggregations({"d": {"geo_distance": {"field": "location", "foo": 1, "ranges": [{"to": 1}]}}})


@pytest.mark.parametrize("body", [{"origin": [1, 2, 3]}, {"origin": "nowhere at all"}, {"center": {"lat": 1}},
                                  {"origin": "0,0", "unit": "parsec"}])
def test_a_bad_geo_distance_origin_or_unit_fails_to_parse_that_field(body):
    with pytest.raises(XContentParseError, match=r"\[geo_distance\] failed to parse field"):
        parse_aggregations({"d": {"geo_distance": {"field": "location", "ranges": [{"to": 1}], **body}}})
