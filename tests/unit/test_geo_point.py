"""`geo_point`: the forms a point may take, the 32+32-bit form the index holds
(LatLonPoint's encoding), the checks on range and z values, and the shapes geo queries
test points against."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from strata_node.common.errors import IllegalArgument, NumberFormatError, StrataError
from strata_node.index.mapping import DocumentParseError, Mapping, geo
from strata_node.search.geo import (
    Box,
    Points,
    Polygon,
    check_point,
    distance_meters,
    haversine_meters,
    plane_meters,
    shape_from_geojson,
    shape_from_wkt,
)

POINT = {"properties": {"p": {"type": "geo_point"}}}


def parsed(document: dict, mapping: dict = POINT) -> list[int]:
    return Mapping.parse(mapping).parse_document(document, "1").fields.get("p", [])


def refusal(value, mapping: dict = POINT) -> str:
    with pytest.raises(DocumentParseError) as e:
        parsed({"p": value}, mapping)
    return e.value.to_dict()["caused_by"]["reason"]


def points(*lat_lon: tuple[float, float]) -> Points:
    encoded = np.asarray([geo.encode(lat, lon) for lat, lon in lat_lon], dtype=np.int64)
    return Points(np.arange(len(lat_lon), dtype=np.int64), encoded >> 32, (encoded << 32) >> 32)


def test_every_form_of_a_point_gives_the_same_value():
    expected = [geo.encode(41.12, -71.34)]
    for value in ({"lat": 41.12, "lon": -71.34}, {"lat": "41.12", "lon": "-71.34"}, "41.12,-71.34",
                  " 41.12 , -71.34 ", [-71.34, 41.12], "POINT (-71.34 41.12)", "point(-71.34 41.12)",
                  {"type": "Point", "coordinates": [-71.34, 41.12]}):
        assert parsed({"p": value}) == expected, value


def test_a_geohash_is_the_bottom_left_corner_of_its_cell():
    assert geo.from_geohash("u") == (45.0, 0.0)
    assert geo.from_geohash("s") == (0.0, 0.0)
    lat, lon = geo.from_geohash("drm3btev3e86")
    assert lat == pytest.approx(41.12, abs=1e-6) and lon == pytest.approx(-71.34, abs=1e-6)
    assert parsed({"p": {"geohash": "u"}}) == parsed({"p": "u"}) == [geo.encode(45.0, 0.0)]


def test_an_array_of_points_is_several_values_and_a_number_array_is_one():
    assert parsed({"p": [1.5, 2.5]}) == [geo.encode(2.5, 1.5)]
    assert parsed({"p": [[1.5, 2.5], "3,4", {"lat": 5, "lon": 6}]}) == \
        [geo.encode(2.5, 1.5), geo.encode(3, 4), geo.encode(5, 6)]


def test_the_encoding_is_lucenes_and_loses_less_than_its_step():
    assert geo.encode_lat(90.0) == (1 << 31) - 1 and geo.encode_lat(-90.0) == -(1 << 31)
    assert geo.encode_lon(180.0) == (1 << 31) - 1 and geo.encode_lon(-180.0) == -(1 << 31)
    rng = random.Random(7)
    for _ in range(1000):
        lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        back_lat, back_lon = geo.decode(geo.encode(lat, lon))
        assert 0 <= lat - back_lat < geo.LAT_DECODE and 0 <= lon - back_lon < geo.LON_DECODE


def test_a_point_out_of_range_is_refused_naming_the_field():
    assert refusal({"lat": 91, "lon": 0}) == "illegal latitude value [91.0] for p"
    assert refusal("0,-180.5") == "illegal longitude value [-180.5] for p"


def test_ignore_malformed_wraps_a_point_into_range_and_drops_one_that_does_not_parse():
    mapping = {"properties": {"p": {"type": "geo_point", "ignore_malformed": True}}}
    assert parsed({"p": {"lat": 91, "lon": 0}}, mapping) == [geo.encode(89, 180)]
    assert parsed({"p": [190, 10]}, mapping) == [geo.encode(10, -170)]
    document = Mapping.parse(mapping).parse_document({"p": {"lat": "north", "lon": 0}}, "1")
    assert document.fields == {"_ignored": ["p"]} and document.ignored == ["p"]


@pytest.mark.parametrize(("value", "reason"), [
    ({"lat": 1}, "field [lon] missing"),
    ({"lon": 1}, "field [lat] missing"),
    ({"lat": 1, "lon": 2, "alt": 3}, "field must be either [lat], [lon], [geohash], [type] or [coordinates]"),
    ({"lat": 1, "lon": 2, "geohash": "u"}, "field must be either lat/lon or geohash"),
    ({"lat": True, "lon": 2}, "latitude must be a number"),
    ({"lat": "x", "lon": 2}, "[lat] and [lon] must be valid double values"),
    ({"type": "LineString", "coordinates": [1, 2]}, "[type] for geo_point can only be 'Point'"),
    ("1,2,3,4", "failed to parse [1,2,3,4], expected 2 or 3 coordinates but found: [4]"),
    ("x,2", "latitude must be a number"),
    ("abc!", "unsupported symbol [a] in geohash [abc!]"),
    ("POINT (1)", "Invalid WKT format"),
    ("LINESTRING (1 2, 3 4)", "latitude must be a number"),  # not WKT to a point: it has no "point"
    ("MULTIPOINT (1 2)", "[geo_point] supports only POINT among WKT primitives, but found MULTIPOINT"),
    ([1, "2"], "numeric value expected"),
    ([1, 2, 3, 4], "[geo_point] field type does not accept > 3 dimensions"),
    (5, "geo_point expected"),
    (True, "geo_point expected"),
])
def test_a_malformed_point_is_refused_with_elasticsearchs_reason(value, reason):
    assert refusal(value) == reason


def test_a_z_value_is_ignored_unless_the_mapping_says_otherwise():
    assert parsed({"p": [1, 2, 3]}) == [geo.encode(2, 1)]
    strict = {"properties": {"p": {"type": "geo_point", "ignore_z_value": False}}}
    assert refusal([1, 2, 3], strict) == \
        "Exception parsing coordinates: found Z value [3.0] but [ignore_z_value] parameter is [false]"
    assert refusal("2,1,3", strict).startswith("Exception parsing coordinates: found Z value [3.0]")


def test_the_mapping_prints_what_was_set_and_reads_null_value_as_a_point():
    mapping = Mapping.parse({"properties": {"p": {"type": "geo_point", "ignore_z_value": True,
                                                  "null_value": "1,2"}}})
    assert mapping.to_dict()["properties"]["p"] == {"type": "geo_point", "ignore_z_value": True,
                                                    "null_value": "1,2"}
    assert mapping.parse_document({"p": None}, "1").fields == {"p": [geo.encode(1, 2)]}


def test_a_null_value_that_is_not_a_point_fails_the_mapping():
    reason = r"Error parsing \[null_value\] on field \[p\]: field \[lon\] missing"
    with pytest.raises(StrataError, match=reason):
        Mapping.parse({"properties": {"p": {"type": "geo_point", "null_value": {"lat": 1}}}})


# -- shapes -------------------------------------------------------------------------------------


def test_a_box_rounds_its_lower_bounds_up_as_lucene_does():
    # a point is held rounded down: on an edge that does not encode exactly, it falls outside
    # the bottom and left edges and inside the top and right ones
    box = Box(min_lat=10, max_lat=20, min_lon=30, max_lon=40)
    assert box.contains(points((10, 30), (20, 40), (15, 35), (9.9999, 35), (15, 40.0001))).tolist() == \
        [False, True, True, False, False]
    exact = Box(min_lat=45, max_lat=50, min_lon=90, max_lon=100)  # 45 and 90 encode exactly
    assert exact.contains(points((45, 90))).tolist() == [True]


def test_a_box_from_the_pole_or_the_antimeridian_holds_nothing_there():
    def holds(box: Box, point: tuple[float, float]) -> bool:
        return bool(box.contains(points(point))[0])

    assert not holds(Box(min_lat=90, max_lat=90, min_lon=-10, max_lon=10), (90, 0))
    assert not holds(Box(min_lat=-10, max_lat=10, min_lon=180, max_lon=180), (0, 180))
    assert holds(Box(min_lat=-10, max_lat=10, min_lon=180, max_lon=-170), (0, -175))


def test_a_box_crossing_the_dateline_holds_both_sides():
    box = Box(min_lat=-10, max_lat=10, min_lon=170, max_lon=-170)
    assert box.contains(points((0, 175), (0, -175), (0, 0), (0, 180), (0, -180))).tolist() == \
        [True, True, False, True, True]


def test_a_box_agrees_with_comparing_the_decoded_coordinates():
    rng = random.Random(11)
    for _ in range(200):
        lats = sorted(rng.uniform(-90, 90) for _ in range(2))
        lons = sorted(rng.uniform(-180, 180) for _ in range(2))
        box = Box(lats[0], lats[1], lons[0], lons[1])
        cloud = [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(50)]
        got = box.contains(points(*cloud)).tolist()
        for (lat, lon), found in zip(cloud, got, strict=True):
            if min(abs(lat - b) for b in lats) < 1e-6 or min(abs(lon - b) for b in lons) < 1e-6:
                continue  # within a cell of an edge, the encoding decides
            assert found == (lats[0] <= lat <= lats[1] and lons[0] <= lon <= lons[1])


def test_a_polygon_leaves_out_its_holes():
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    shape = shape_from_geojson({"type": "Polygon", "coordinates": [square, hole]})
    assert shape.contains(points((1, 1), (5, 5), (11, 5), (3, 5))).tolist() == [True, False, False, True]



def test_a_point_on_the_shells_edge_is_inside_and_one_on_a_holes_edge_is_not():
    # coordinates that encode exactly (multiples of 2^-32 of the range), so the edges are exact
    shell = [[0, 0], [90, 0], [90, 45], [0, 45], [0, 0]]
    hole = [[22.5, 11.25], [45, 11.25], [45, 22.5], [22.5, 22.5], [22.5, 11.25]]
    shape = shape_from_geojson({"type": "Polygon", "coordinates": [shell, hole]})
    assert shape.contains(points((0, 30), (11.25, 30), (15, 30), (30, 30))).tolist() == \
        [True, False, False, True]


def test_a_polygon_ring_must_close():
    with pytest.raises(IllegalArgument, match="first and last points of the linear ring must be the same"):
        shape_from_geojson({"type": "polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]})


def test_wkt_shapes_read_as_their_geojson_twins():
    bbox = shape_from_wkt("BBOX (-10, 20, 60, 35)")
    assert bbox == Box(min_lat=35, max_lat=60, min_lon=-10, max_lon=20)
    # x is longitude: the triangle lies below its diagonal
    assert shape_from_wkt("POLYGON ((0 0, 10 0, 10 10, 0 0))").contains(points((1, 5), (5, 1))).tolist() == \
        [True, False]
    assert isinstance(shape_from_wkt("POLYGON ((0 0, 10 0, 10 10, 0 0))"), Polygon)


def test_distances_read_elasticsearchs_units():
    assert distance_meters("12km") == 12_000
    assert distance_meters("1.5 mi") == pytest.approx(2414.016)
    assert distance_meters("2nmi") == distance_meters("2NM") == 3704
    assert distance_meters(5) == 5 and distance_meters(5, "km") == 5000 and distance_meters("7") == 7
    with pytest.raises(NumberFormatError):
        distance_meters("farkm")


def test_haversine_uses_lucenes_mean_earth_radius():
    # a degree of longitude on the equator
    assert haversine_meters(0, 0, np.array([0.0]), np.array([1.0]))[0] == \
        pytest.approx(2 * math.pi * 6_371_008.7714 / 360)


def test_plane_distance_takes_the_cosine_of_the_mean_latitude():
    # GeoUtils.planeDistance
    x = math.radians(10) * math.cos(math.radians(30))
    y = math.radians(-60)
    assert plane_meters(60, 0, np.array([0.0]), np.array([10.0]))[0] == \
        pytest.approx(math.hypot(x, y) * 6_371_008.7714)


@pytest.mark.parametrize("shape", [
    {"type": "point", "coordinates": [0, 100]},
    {"type": "point", "coordinates": [0, 1e308 * 10]},
    {"type": "multipoint", "coordinates": 5},
    {"type": "multipolygon", "coordinates": [5]},
    {"type": "geometrycollection", "geometries": [1]},
    {"type": "envelope", "coordinates": [[0, 10], [float("nan"), 0]]},
    {"type": "circle", "coordinates": [0, 0], "radius": "-1km"},
])
def test_a_shape_out_of_range_or_of_the_wrong_form_is_a_clear_error(shape):
    with pytest.raises(StrataError):
        shape_from_geojson(shape)


@pytest.mark.parametrize("text", ["POINT (NaN 1)", "POINT (0 1e400)", "BBOX (0, 10, 100, 0)"])
def test_a_wkt_shape_out_of_range_is_a_clear_error(text):
    with pytest.raises(StrataError):
        shape_from_wkt(text)


def test_check_point_refuses_what_lucene_cannot_encode():
    assert check_point(90.0, -180.0) == (90.0, -180.0)
    for lat, lon in ((90.5, 0), (0, 180.5), (math.nan, 0), (0, math.inf)):
        with pytest.raises(IllegalArgument):
            check_point(lat, lon)


def test_multi_fields_of_a_point_index_its_geohash():
    mapping = {"properties": {"p": {"type": "geo_point", "fields": {"hash": {"type": "keyword"}}}}}
    fields = Mapping.parse(mapping).parse_document({"p": {"lat": 41.12, "lon": -71.34}}, "1").fields
    assert fields["p.hash"] == ["drm3btev3e86"]
    assert Mapping.parse(mapping).parse_document({"p": [-71.34, 41.12]}, "1").fields["p.hash"] == \
        ["drm3btev3e86"]


def test_coordinates_print_as_java_prints_doubles():
    """WKT and refusals carry Double.toString's text: `1.0E10`, `9.9E-6`, never `1e-05`."""
    assert refusal({"lat": 1e10, "lon": 0}) == "illegal latitude value [1.0E10] for p"
    assert geo.wkt(geo.encode(0.0, -1e-5)).startswith("POINT (-1.00")
    assert "E-6" in geo.wkt(geo.encode(1e-5, 0.0))
