"""`geo_point` through a real node: points in every form a document may give them, found
by geo_bounding_box, geo_distance, geo_polygon and geo_shape, sorted by distance, and
shown as Elasticsearch shows them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

SETTINGS = {"number_of_shards": 2, "number_of_replicas": 0}

# Amsterdam, Paris, New York, Sydney, and one document with no point
CITIES = {
    "ams": {"location": {"lat": 52.374081, "lon": 4.912350}},
    "par": {"location": "48.8566,2.3522"},
    "nyc": {"location": [-74.0060, 40.7128]},
    "syd": {"location": "POINT (151.2093 -33.8688)"},
    "none": {"name": "nowhere"},
}


@pytest.fixture
def cities(index_name, es) -> str:
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"location": {"type": "geo_point"},
                                                "name": {"type": "keyword"}}})
    for doc_id, doc in CITIES.items():
        es.index(index=index_name, id=doc_id, document=doc)
    es.indices.refresh(index=index_name)
    return index_name


def ids(es, index, query) -> list[str]:
    return sorted(hit["_id"] for hit in es.search(index=index, query=query)["hits"]["hits"])


def test_a_bounding_box_finds_the_points_inside_it(es, cities):
    box = {"top_left": {"lat": 55, "lon": 0}, "bottom_right": {"lat": 45, "lon": 10}}
    assert ids(es, cities, {"geo_bounding_box": {"location": box}}) == ["ams", "par"]


def test_a_bounding_box_whose_left_is_east_of_its_right_crosses_the_dateline(es, cities):
    box = {"top": 0, "bottom": -50, "left": 150, "right": -170}
    assert ids(es, cities, {"geo_bounding_box": {"location": box}}) == ["syd"]


def test_a_bounding_box_from_wkt(es, cities):
    assert ids(es, cities, {"geo_bounding_box": {"location": {"wkt": "BBOX (-80, -70, 45, 35)"}}}) == ["nyc"]


def test_geo_distance_finds_points_within_the_distance(es, cities):
    # Amsterdam to Paris is about 430 km
    near_ams = {"geo_distance": {"distance": "450km", "location": {"lat": 52.37, "lon": 4.89}}}
    assert ids(es, cities, near_ams) == ["ams", "par"]
    near_ams["geo_distance"]["distance"] = "400km"
    assert ids(es, cities, near_ams) == ["ams"]


def test_geo_distance_reads_units_and_the_point_in_every_form(es, cities):
    for point in ("52.37,4.89", [4.89, 52.37], "u173zq", "POINT (4.89 52.37)"):
        query = {"geo_distance": {"distance": 280, "unit": "mi", "location": point}}
        assert ids(es, cities, query) == ["ams", "par"], point


def test_geo_polygon_finds_the_points_inside_it(es, cities):
    triangle = {"points": [{"lat": 60, "lon": 0}, {"lat": 40, "lon": -5}, {"lat": 40, "lon": 15}]}
    assert ids(es, cities, {"geo_polygon": {"location": triangle}}) == ["ams", "par"]


def test_geo_shape_relations_on_points(es, cities):
    europe = {"type": "envelope", "coordinates": [[-10, 60], [20, 35]]}
    assert ids(es, cities, {"geo_shape": {"location": {"shape": europe}}}) == ["ams", "par"]
    assert ids(es, cities, {"geo_shape": {"location": {"shape": europe, "relation": "disjoint"}}}) == \
        ["nyc", "syd"]
    polygon = {"type": "polygon", "coordinates": [[[-80, 35], [-70, 35], [-70, 45], [-80, 45], [-80, 35]]]}
    assert ids(es, cities, {"geo_shape": {"location": {"shape": polygon}}}) == ["nyc"]
    wkt = "POLYGON ((-80 35, -70 35, -70 45, -80 35))"
    assert ids(es, cities, {"geo_shape": {"location": {"shape": wkt}}}) == ["nyc"]


def test_within_needs_every_point_of_a_document_inside(es, index_name):
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"p": {"type": "geo_point"}}})
    es.index(index=index_name, id="both-in", document={"p": [[1, 1], [2, 2]]})
    es.index(index=index_name, id="one-in", document={"p": [[1, 1], [50, 50]]})
    es.indices.refresh(index=index_name)
    box = {"type": "envelope", "coordinates": [[0, 10], [10, 0]]}
    assert ids(es, index_name, {"geo_shape": {"p": {"shape": box}}}) == ["both-in", "one-in"]
    assert ids(es, index_name, {"geo_shape": {"p": {"shape": box, "relation": "within"}}}) == ["both-in"]


def test_sorting_by_distance_gives_the_distance_as_the_sort_value(es, cities):
    hits = es.search(index=cities, sort=[{"_geo_distance": {"location": {"lat": 52.37, "lon": 4.89},
                                                            "unit": "km", "order": "asc"}}])["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["ams", "par", "nyc", "syd", "none"]
    distances = [h["sort"][0] for h in hits]
    assert distances[0] < 2 and 420 < distances[1] < 440 and 5800 < distances[2] < 5900
    assert distances[4] == "Infinity"  # no point: +Infinity, which JSON writes as a string


def test_fields_show_the_point_as_geojson_or_wkt(es, cities):
    def shown(**fmt):
        hit = es.search(index=cities, query={"ids": {"values": ["ams"]}},
                        fields=[{"field": "location", **fmt}])
        return hit["hits"]["hits"][0]["fields"]["location"]

    assert shown() == [{"type": "Point", "coordinates": [pytest.approx(4.91235, abs=1e-6),
                                                         pytest.approx(52.374081, abs=1e-6)]}]
    assert shown(format="wkt")[0].startswith("POINT (4.91234")


def test_doc_values_show_the_point_as_lat_and_lon(es, cities):
    hit = es.search(index=cities, query={"ids": {"values": ["ams"]}},
                    docvalue_fields=["location"])["hits"]["hits"][0]
    assert hit["fields"]["location"] == [{"lat": pytest.approx(52.374081, abs=1e-6),
                                          "lon": pytest.approx(4.91235, abs=1e-6)}]
    assert hit["_source"] == CITIES["ams"]


def test_exists_finds_documents_with_a_point(es, cities):
    assert ids(es, cities, {"exists": {"field": "location"}}) == ["ams", "nyc", "par", "syd"]


def test_an_out_of_range_point_is_refused_and_nothing_is_written(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.index(index=cities, id="bad", document={"location": {"lat": 91, "lon": 0}}, refresh=True)
    error = e.value.body["error"]
    assert error["type"] == "mapper_parsing_exception"
    assert error["caused_by"]["reason"] == "illegal latitude value [91.0] for location"
    assert es.count(index=cities)["count"] == len(CITIES)


def test_a_term_query_on_a_point_is_refused(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.search(index=cities, query={"term": {"location": "52,4"}})
    assert "Geometry fields do not support exact searching" in str(e.value.body)


def test_a_plain_sort_on_a_point_is_refused(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.search(index=cities, sort=["location"])
    assert "can't sort on geo_point field without using specific sorting feature" in str(e.value.body)


def test_a_terms_aggregation_on_a_point_is_refused(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.search(index=cities, size=0, aggs={"t": {"terms": {"field": "location"}}})
    assert "Field [location] of type [geo_point] is not supported for aggregation [terms]" \
        in str(e.value.body)


def test_a_geo_query_on_a_field_of_another_type_is_refused(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.search(index=cities, query={"geo_distance": {"distance": "1km", "name": "1,1"}})
    assert "Field [name] is of unsupported type [keyword] for [geo_distance] query" in str(e.value.body)


def test_geo_shape_contains_finds_documents_holding_every_point_of_the_set(es, cities):
    paris = {"type": "point", "coordinates": [2.3522, 48.8566]}
    assert ids(es, cities, {"geo_shape": {"location": {"shape": paris, "relation": "contains"}}}) == ["par"]
    europe = {"type": "envelope", "coordinates": [[-10, 60], [20, 35]]}
    assert ids(es, cities, {"geo_shape": {"location": {"shape": europe, "relation": "contains"}}}) == []


def test_sorting_from_several_points_reduces_every_pair_by_the_mode(es, index_name):
    es.indices.create(index=index_name, settings=SETTINGS,
                      mappings={"properties": {"p": {"type": "geo_point"}}})
    es.index(index=index_name, id="1", document={"p": [0, 1]}, refresh=True)
    sort = {"_geo_distance": {"p": [[0, 0], [10, 0]], "order": "desc", "unit": "km"}}
    distance = es.search(index=index_name, sort=[sort])["hits"]["hits"][0]["sort"][0]
    assert distance == pytest.approx(1117.4, abs=0.5)  # the far pair: max, as desc sorts by default
    sort["_geo_distance"]["mode"] = "min"
    nearest = es.search(index=index_name, sort=[sort])["hits"]["hits"][0]["sort"][0]
    assert nearest == pytest.approx(111.2, abs=0.1)


@pytest.mark.parametrize("query", [
    {"geo_shape": {"location": {"shape": "POINT (NaN 1)"}}},
    {"geo_shape": {"location": {"shape": {"type": "multipoint", "coordinates": 5}}}},
    {"geo_shape": {"location": {"shape": {"type": "point", "coordinates": [0, 100]}}}},
    {"geo_bounding_box": {"location": {"top": "NaN", "bottom": 0, "left": 0, "right": 1}},
     "validation_method": "IGNORE_MALFORMED"},
    {"geo_distance": {"distance": "-5km", "location": "1,1"}},
    {"geo_distance": {"distance": "5km", "location": {"lat": 100, "lon": 0}}},
])
def test_a_malformed_geo_query_is_a_400(es, cities, query):
    with pytest.raises(BadRequestError):
        es.search(index=cities, query=query)


def test_a_distance_sort_from_a_point_out_of_range_is_a_400(es, cities):
    with pytest.raises(BadRequestError) as e:
        es.search(index=cities, sort=[{"_geo_distance": {"location": {"lat": 100, "lon": 0}}}])
    assert "illegal latitude value [100.0] for [GeoDistanceSort]" in str(e.value.body)
