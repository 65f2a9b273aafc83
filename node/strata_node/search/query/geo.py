"""Geo queries on geo_point fields: geo_bounding_box, geo_distance, geo_polygon and
geo_shape, each a constant-score test of a field's points (search/geo.py) that matches a
document when one of its points passes (all of them for geo_shape's `within`).

`validation_method` is Elasticsearch's: STRICT refuses coordinates out of range,
COERCE wraps them into range, IGNORE_MALFORMED takes them as given.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError
from ...index.mapping.geo import normalize
from ..context import ShardContext
from ..geo import (
    Box,
    Circle,
    PointSet,
    Polygon,
    check_point,
    distance_meters,
    geo_field,
    geo_points,
    query_point,
    shape_from_geojson,
    shape_from_wkt,
    validated,
)
from ..matches import Matches
from .base import Query, constant, register, set_common, to_bool, to_str, unsupported

_VALIDATION = ("STRICT", "COERCE", "IGNORE_MALFORMED")


def _validation(kind: str, value: Any) -> str:
    text = to_str(kind, "validation_method", value).upper()
    if text not in _VALIDATION:
        raise IllegalArgument(f"No enum constant org.elasticsearch.index.query.GeoValidationMethod.{text}")
    return text


class GeoQuery(Query):
    """A test of each point of a geo_point field; `_documents` picks the documents."""

    def __init__(self, kind: str):
        self.kind = kind
        self.field = ""
        self.ignore_unmapped = False
        self.shape: Any = None

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = geo_field(ctx, self.field, self.kind, self.ignore_unmapped)
        if mapper is None:
            return Matches.none(scored)
        points = geo_points(ctx, mapper)
        if not len(points.seqs):
            return Matches.none(scored)
        return constant(self._documents(points, self.shape.contains(points)), scored, boost)

    def _documents(self, points, mask: np.ndarray) -> np.ndarray:
        return points.documents(mask)


def _set_field(query: GeoQuery, kind: str, key: str) -> None:
    """The one field a geo query names; a second is refused."""
    if query.field:
        raise ParsingError(f"[{kind}] query doesn't support multiple fields, found [{query.field}] and "
                           f"[{key}]")
    query.field = key


def _common(query: GeoQuery, kind: str, key: str, value: Any) -> bool:
    if key == "ignore_unmapped":
        query.ignore_unmapped = to_bool(kind, key, value)
        return True
    return set_common(query, kind, key, value)


# -- geo_bounding_box ---------------------------------------------------------------------------

_CORNERS = {"top_left": ("top", "left"), "topLeft": ("top", "left"),
            "bottom_right": ("bottom", "right"), "bottomRight": ("bottom", "right"),
            "top_right": ("top", "right"), "topRight": ("top", "right"),
            "bottom_left": ("bottom", "left"), "bottomLeft": ("bottom", "left")}


def bounding_box(kind: str, spec: Any) -> dict[str, float]:
    if not isinstance(spec, dict):
        raise ParsingError(f"[{kind}] failed to parse bounding box. Expected start object but found "
                           f"[{type(spec).__name__}]")
    sides: dict[str, float] = {}
    for key, value in spec.items():
        if key in _CORNERS:
            lat, lon = query_point(kind, value)
            lat_side, lon_side = _CORNERS[key]
            sides[lat_side], sides[lon_side] = lat, lon
        elif key in ("top", "bottom", "left", "right"):
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ParsingError(f"[{kind}] failed to parse bounding box. [{key}] must be a number")
            try:
                sides[key] = float(value)
            except ValueError:
                raise ParsingError(f"[{kind}] failed to parse bounding box. [{key}] must be a number") \
                    from None
        elif key == "wkt":
            box = shape_from_wkt(to_str(kind, key, value))
            if not isinstance(box, Box):
                raise ParsingError(f"[{kind}] failed to parse bounding box. [wkt] must be a BBOX")
            sides.update(top=box.max_lat, bottom=box.min_lat, left=box.min_lon, right=box.max_lon)
        else:
            raise ParsingError(f"[{kind}] failed to parse bounding box. unexpected field [{key}]")
    missing = [s for s in ("top", "bottom", "left", "right") if s not in sides]
    if missing:
        raise ParsingError(f"[{kind}] failed to parse bounding box. [{missing[0]}] is missing")
    return sides


@register("geo_bounding_box")
def parse_geo_bounding_box(kind: str, body: dict[str, Any]) -> Query:
    query = GeoQuery(kind)
    validation = "STRICT"
    sides = None
    for key, value in body.items():
        if key == "validation_method":
            validation = _validation(kind, value)
        elif key == "type":
            to_str(kind, key, value)  # indexed or memory: how Lucene ran it, the same matches
        elif not _common(query, kind, key, value):
            _set_field(query, kind, key)
            sides = bounding_box(kind, value)
    if sides is None:
        raise IllegalArgument("Field name must not be empty.")
    top, bottom, left, right = sides["top"], sides["bottom"], sides["left"], sides["right"]
    if validation == "STRICT":
        for name, value, limit in (("top latitude", top, 90), ("left longitude", left, 180),
                                   ("bottom latitude", bottom, 90), ("right longitude", right, 180)):
            if not -limit <= value <= limit:
                raise IllegalArgument(f"{name} is invalid: {value}")
        if top < bottom:
            raise IllegalArgument(f"top is below bottom corner: {top} vs. {bottom}")
    elif validation == "COERCE":
        top, left = normalize(top, left)
        bottom, right = normalize(bottom, right)
    check_point(top, left)  # what IGNORE_MALFORMED let through, Lucene refuses
    check_point(bottom, right)
    query.shape = Box(bottom, top, left, right)
    return query


# -- geo_distance -------------------------------------------------------------------------------


@register("geo_distance")
def parse_geo_distance(kind: str, body: dict[str, Any]) -> Query:
    query = GeoQuery(kind)
    validation = "STRICT"
    distance: Any = None
    unit = "m"
    center = None
    for key, value in body.items():
        if key == "distance":
            distance = value
        elif key == "unit":
            unit = to_str(kind, key, value)
        elif key == "distance_type":
            if to_str(kind, key, value).lower() not in ("arc", "plane"):
                raise IllegalArgument(f"No geo distance for [{value}]")
        elif key == "validation_method":
            validation = _validation(kind, value)
        elif not _common(query, kind, key, value):
            _set_field(query, kind, key)
            center = query_point(kind, value)
    if center is None:
        raise ParsingError(f"[{kind}] failed to parse query: a field and a point are required")
    if distance is None:
        raise ParsingError("geo_distance requires 'distance' to be specified")
    meters = distance_meters(distance, unit)
    if not 0 < meters < math.inf:
        raise IllegalArgument("distance must be greater than zero")
    lat, lon = check_point(*validated(kind, *center, validation))
    query.shape = Circle(lat, lon, meters)
    return query


# -- geo_polygon --------------------------------------------------------------------------------


@register("geo_polygon")
def parse_geo_polygon(kind: str, body: dict[str, Any]) -> Query:
    query = GeoQuery(kind)
    validation = "STRICT"
    spec = None
    for key, value in body.items():
        if key == "validation_method":
            validation = _validation(kind, value)
        elif not _common(query, kind, key, value):
            _set_field(query, kind, key)
            spec = value
    if not isinstance(spec, dict) or "points" not in spec:
        raise ParsingError(f"[{kind}] query requires an object with [points] for its field")
    for key in spec:
        if key != "points":
            raise ParsingError(f"[{kind}] query does not support [{key}]")
    if not isinstance(spec["points"], list):
        raise ParsingError(f"[{kind}] query does not support [points] with value of type "
                           f"[{type(spec['points']).__name__}]")
    shell = [check_point(*validated(kind, *query_point(kind, p), validation)) for p in spec["points"]]
    if shell and shell[0] != shell[-1]:
        shell.append(shell[0])
    if len(shell) < 4:
        raise IllegalArgument(f"too few points defined for {kind} query")
    query.shape = Polygon((np.asarray([(lon, lat) for lat, lon in shell], dtype=np.float64),))
    return query


# -- geo_shape ----------------------------------------------------------------------------------

_RELATIONS = ("intersects", "disjoint", "within", "contains")


class GeoShape(GeoQuery):
    relation = "intersects"

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        if self.relation == "contains" and not isinstance(self.shape, PointSet):
            # points contain only points (ES 8's makeContainsGeometryQuery on a point field)
            geo_field(ctx, self.field, self.kind, self.ignore_unmapped)  # its errors all the same
            return Matches.none(scored)
        return super()._run(ctx, scored, boost, within)

    def _documents(self, points, mask: np.ndarray) -> np.ndarray:
        if self.relation == "contains":  # a document holding every point of the set
            found = None
            for bits in self.shape.bits:
                docs = points.documents(PointSet((bits,)).contains(points))
                found = docs if found is None else np.intersect1d(found, docs, assume_unique=True)
            return found
        if self.relation == "within":
            return points.all_within(mask)
        if self.relation == "disjoint":
            return points.all_within(~mask)
        return points.documents(mask)


@register("geo_shape")
def parse_geo_shape(kind: str, body: dict[str, Any]) -> Query:
    query = GeoShape(kind)
    spec = None
    for key, value in body.items():
        if not _common(query, kind, key, value):
            _set_field(query, kind, key)
            spec = value
    if not isinstance(spec, dict):
        raise ParsingError(f"[{kind}] query requires an object of [shape] and [relation] for its field")
    for key, value in spec.items():
        if key == "shape":
            if isinstance(value, str):
                query.shape = shape_from_wkt(value)
            elif isinstance(value, dict):
                query.shape = shape_from_geojson(value)
            else:
                raise ParsingError(f"[{kind}] shape must be an object or a WKT string")
        elif key == "relation":
            relation = to_str(kind, key, value).lower()
            if relation not in _RELATIONS:
                raise IllegalArgument(f"Unknown ShapeRelation [{value}]")
            query.relation = relation
        elif key == "indexed_shape":
            raise IllegalArgument(f"[{kind}] query does not support [indexed_shape]: Strata keeps no "
                                  "indexed shapes")
        else:
            raise unsupported(kind, key)
    if query.shape is None:
        raise IllegalArgument("either shape or indexed_shape is required")
    return query
