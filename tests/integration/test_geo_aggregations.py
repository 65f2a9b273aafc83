"""Aggregations over a `geo_point` field through a real node (two shards, so every result
is reduced from two partials): geo_bounds, geo_centroid, geohash_grid, geotile_grid and
geo_distance, on the documents of Elasticsearch's own REST tests of them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

SETTINGS = {"number_of_shards": 2, "number_of_replicas": 0}

# Amsterdam (3), Antwerp, Paris (2): Elasticsearch's 280_geohash_grid.yml documents
PLACES = ["52.374081,4.912350", "52.369219,4.901618", "52.371667,4.914722", "51.222900,4.405200",
          "48.861111,2.336389", "48.860000,2.327000"]


@pytest.fixture
def places(index_name, es) -> str:
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"location": {"type": "geo_point"},
                                                "city": {"type": "keyword"}}})
    cities = ["ams", "ams", "ams", "ant", "par", "par"]
    for i, (point, city) in enumerate(zip(PLACES, cities, strict=True)):
        es.index(index=index_name, id=str(i + 1), document={"location": point, "city": city})
    es.index(index=index_name, id="nowhere", document={"city": "none"})
    es.indices.refresh(index=index_name)
    return index_name


def aggs(es, index, **requested):
    return es.search(index=index, size=0, aggs=requested)["aggregations"]


def buckets(result) -> list[tuple[str, int]]:
    return [(b["key"], b["doc_count"]) for b in result["buckets"]]


def test_geohash_grid_counts_documents_per_cell_biggest_first(es, places):
    result = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": 3}})["grid"]
    assert buckets(result) == [("u17", 3), ("u09", 2), ("u15", 1)]


def test_geohash_grid_precision_may_be_a_distance(es, places):
    # 10km cells are level 5 (GeoUtils.geoHashLevelsForPrecision)
    by_distance = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": "10km"}})
    by_level = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": 5}})
    assert by_distance == by_level
    assert all(len(key) == 5 for key, _ in buckets(by_level["grid"]))


def test_geotile_grid_counts_documents_per_tile(es, places):
    result = aggs(es, places, grid={"geotile_grid": {"field": "location", "precision": 8}})["grid"]
    assert buckets(result) == [("8/131/84", 3), ("8/129/88", 2), ("8/131/85", 1)]


def test_grid_buckets_carry_sub_aggregations(es, places):
    result = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": 3},
                                    "aggs": {"cities": {"terms": {"field": "city"}}}})["grid"]
    first = result["buckets"][0]
    assert first["key"] == "u17" and first["cities"]["buckets"] == [{"key": "ams", "doc_count": 3}]


def test_grid_size_keeps_the_biggest_cells(es, places):
    result = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": 3, "size": 1}})
    assert buckets(result["grid"]) == [("u17", 3)]


def test_grid_bounds_keep_only_the_cells_inside(es, places):
    paris = {"top_left": "49.0,2.0", "bottom_right": "48.5,2.6"}
    result = aggs(es, places, grid={"geotile_grid": {"field": "location", "precision": 8, "bounds": paris}})
    assert buckets(result["grid"]) == [("8/129/88", 2)]


def test_geo_bounds_is_the_box_around_every_point(es, places):
    bounds = aggs(es, places, box={"geo_bounds": {"field": "location"}})["box"]["bounds"]
    assert bounds["top_left"]["lat"] == pytest.approx(52.374081, abs=1e-5)
    assert bounds["top_left"]["lon"] == pytest.approx(2.327, abs=1e-5)
    assert bounds["bottom_right"]["lat"] == pytest.approx(48.86, abs=1e-5)
    assert bounds["bottom_right"]["lon"] == pytest.approx(4.914722, abs=1e-5)


def test_geo_bounds_wraps_across_the_antimeridian_when_that_box_is_narrower(es, index_name):
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"location": {"type": "geo_point"}}})
    for i, point in enumerate(["-17.7,178.4", "-14.3,-170.7"]):  # Fiji, American Samoa
        es.index(index=index_name, id=str(i), document={"location": point})
    es.indices.refresh(index=index_name)
    wrapped = aggs(es, index_name, box={"geo_bounds": {"field": "location"}})["box"]["bounds"]
    assert wrapped["top_left"]["lon"] == pytest.approx(178.4, abs=1e-5)
    assert wrapped["bottom_right"]["lon"] == pytest.approx(-170.7, abs=1e-5)
    plain = aggs(es, index_name, box={"geo_bounds": {"field": "location", "wrap_longitude": False}})
    assert plain["box"]["bounds"]["top_left"]["lon"] == pytest.approx(-170.7, abs=1e-5)


def test_geo_bounds_without_points_renders_nothing(es, places):
    result = es.search(index=places, size=0, query={"term": {"city": "none"}},
                       aggs={"box": {"geo_bounds": {"field": "location"}}})
    assert result["aggregations"]["box"] == {}


def test_geo_centroid_is_the_mean_point_and_the_count_of_points(es, places):
    centroid = aggs(es, places, centroid={"geo_centroid": {"field": "location"}})["centroid"]
    assert centroid["location"]["lat"] == pytest.approx(51.00982967, abs=1e-5)
    assert centroid["location"]["lon"] == pytest.approx(3.966213167, abs=1e-5)
    assert centroid["count"] == 6


def test_documents_without_a_point_take_the_missing_one(es, places):
    result = aggs(es, places, grid={"geohash_grid": {"field": "location", "precision": 1, "missing": "s0"}},
                  centroid={"geo_centroid": {"field": "location", "missing": "0,0"}})
    assert buckets(result["grid"]) == [("u", 6), ("s", 1)]
    assert result["centroid"]["count"] == 7


def test_geo_centroid_without_points_has_only_a_count(es, places):
    result = es.search(index=places, size=0, query={"term": {"city": "none"}},
                       aggs={"centroid": {"geo_centroid": {"field": "location"}}})
    assert result["aggregations"]["centroid"] == {"count": 0}


def test_geo_distance_counts_documents_per_ring_around_the_origin(es, places):
    rings = {"geo_distance": {"field": "location", "origin": "52.3760,4.894", "unit": "km",
                              "ranges": [{"to": 100}, {"from": 100, "to": 300}, {"from": 300}]}}
    result = aggs(es, places, rings=rings)["rings"]
    assert result["buckets"] == [
        {"key": "*-100.0", "from": 0.0, "to": 100.0, "doc_count": 3},
        {"key": "100.0-300.0", "from": 100.0, "to": 300.0, "doc_count": 1},
        {"key": "300.0-*", "from": 300.0, "doc_count": 2},
    ]


def test_geo_distance_keyed_with_sub_aggregations(es, places):
    rings = {"geo_distance": {"field": "location", "origin": [4.894, 52.376], "unit": "km", "keyed": True,
                              "ranges": [{"key": "near", "to": 100}, {"key": "far", "from": 100}]},
             "aggs": {"cities": {"terms": {"field": "city"}}}}
    result = aggs(es, places, rings=rings)["rings"]["buckets"]
    assert result["near"]["doc_count"] == 3
    assert [b["key"] for b in result["far"]["cities"]["buckets"]] == ["par", "ant"]


def test_typed_keys_name_each_result_type(es, places):
    result = es.search(index=places, size=0, typed_keys=True, aggs={
        "a": {"geo_bounds": {"field": "location"}}, "b": {"geo_centroid": {"field": "location"}},
        "c": {"geohash_grid": {"field": "location"}}, "d": {"geotile_grid": {"field": "location"}},
        "e": {"geo_distance": {"field": "location", "origin": "0,0", "ranges": [{"to": 1}]}}})
    assert sorted(result["aggregations"]) == ["geo_bounds#a", "geo_centroid#b", "geo_distance#e",
                                              "geohash_grid#c", "geotile_grid#d"]


@pytest.mark.parametrize("agg, reason", [
    ({"geohash_grid": {"field": "location", "precision": 13}},
     "Invalid geohash aggregation precision of 13. Must be between 1 and 12."),
    ({"geohash_grid": {"field": "location", "precision": "1mm"}}, "precision too high [1mm]"),
    ({"geotile_grid": {"field": "location", "precision": 30}},
     "Invalid geotile_grid precision of 30. Must be between 0 and 29."),
    ({"geo_distance": {"field": "location", "ranges": [{"to": 1}]}},
     "Aggregation [x] must define an [origin]."),
    ({"geo_distance": {"field": "location", "origin": "0,0", "unit": "parsec", "ranges": [{"to": 1}]}},
     "No distance unit match [parsec]"),
    ({"geo_centroid": {"field": "city"}}, "Field [city] of type [keyword] is not supported for aggregation "
                                          "[geo_centroid]"),
])
def test_bad_geo_aggregations_are_refused_with_elasticsearchs_reasons(es, places, agg, reason):
    with pytest.raises(BadRequestError) as refused:
        es.search(index=places, size=0, aggs={"x": agg})
    assert reason in str(refused.value.body)
