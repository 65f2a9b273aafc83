"""Geometry for geo_point fields: the points a shard holds as arrays, distances, and the
shapes queries test them against (boxes, polygons, circles), vectorised over a field's
points as Lucene's LatLonPoint queries test its encoded points.

A box compares the 32-bit encoded coordinates with its bounds encoded inward (the lower
rounded up, the upper down), as LatLonPoint.newBoxQuery does: a point exactly on the
bottom or left edge, held a little below or west of it, misses as it does in
Elasticsearch. Distances are haversine on the mean
Earth radius Lucene uses (GeoUtils.EARTH_MEAN_RADIUS_METERS).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..common.errors import IllegalArgument, NumberFormatError, ParseError, ParsingError, QueryShardError
from ..engine.segment_reader import EMPTY_SEQS
from ..index.mapping.geo import (
    LAT_DECODE,
    LON_DECODE,
    check_range,
    encode_lat,
    encode_lon,
    normalize,
    parse_point,
)
from ..index.mapping.mappers import FieldMapper
from .context import ShardContext

EARTH_MEAN_RADIUS_METERS = 6_371_008.7714
GEO_POINT = "geo_point"

# DistanceUnit: its names, longest first so that "nmi" is not read as "mi", in meters
_UNITS: tuple[tuple[str, float], ...] = (
    ("nauticalmiles", 1852.0), ("millimeters", 0.001), ("centimeters", 0.01), ("kilometers", 1000.0),
    ("meters", 1.0), ("miles", 1609.344), ("yards", 0.9144), ("inch", 0.0254), ("feet", 0.3048),
    ("nmi", 1852.0), ("NM", 1852.0), ("mm", 0.001), ("cm", 0.01), ("km", 1000.0), ("mi", 1609.344),
    ("yd", 0.9144), ("ft", 0.3048), ("in", 0.0254), ("m", 1.0),
)
_UNIT_NAMES = {name: meters for name, meters in _UNITS}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def unit_meters(name: str) -> float:
    meters = _UNIT_NAMES.get(name)
    if meters is None:
        raise IllegalArgument(f"No distance unit match [{name}]")
    return meters


def distance_meters(value: Any, default_unit: str = "m") -> float:
    """A distance given as a number (in `default_unit`) or text with a unit suffix
    ("12km", "200 m"), in meters (DistanceUnit.parse)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParseError(f"failed to parse distance [{value}]")
    if isinstance(value, int | float):
        return float(value) * unit_meters(default_unit)
    text = value.strip()
    if not text:
        raise IllegalArgument("distance must not be null or empty")
    unit = next((name for name, _ in _UNITS if text.endswith(name)), None)
    if unit is None:
        number, meters = text, unit_meters(default_unit)
    else:
        number, meters = text[:-len(unit)].strip(), _UNIT_NAMES[unit]
    if not _NUMBER.fullmatch(number):
        raise NumberFormatError(f'For input string: "{number}"')
    return float(number) * meters


# -- the points of a field --------------------------------------------------------------------


@dataclass(frozen=True)
class Points:
    """A field's points on one shard: a document with several has its seq repeated.
    lat_bits/lon_bits are the encoded coordinates, lat/lon the decoded degrees."""

    seqs: np.ndarray
    lat_bits: np.ndarray
    lon_bits: np.ndarray

    @property
    def lat(self) -> np.ndarray:
        return self.lat_bits * LAT_DECODE

    @property
    def lon(self) -> np.ndarray:
        return self.lon_bits * LON_DECODE

    @classmethod
    def of(cls, seqs: np.ndarray, encoded: np.ndarray) -> Points:
        """The points of encoded longs: both halves as signed 32-bit values."""
        encoded = encoded.astype(np.int64)
        return cls(seqs, encoded >> 32, (encoded << 32) >> 32)

    def documents(self, mask: np.ndarray) -> np.ndarray:
        """The documents with at least one point the mask takes."""
        return np.unique(self.seqs[mask])

    def all_within(self, mask: np.ndarray) -> np.ndarray:
        """The documents every one of whose points the mask takes."""
        outside = np.unique(self.seqs[~mask])
        inside = np.unique(self.seqs[mask])
        return inside[~np.isin(inside, outside)]


def geo_points(ctx: ShardContext, mapper: FieldMapper) -> Points:
    """The points of a geo_point field: from its doc values, or, for a field indexed
    without them, from its terms (each the sortable form of the encoded long)."""
    if mapper.doc_values:
        column = ctx.reader.doc_values(mapper.path)
        if not len(column):
            return Points(EMPTY_SEQS, EMPTY_SEQS, EMPTY_SEQS)
        return Points.of(column.seqs, column.values)
    if not mapper.index:
        raise QueryShardError(f"Cannot search on field [{mapper.path}] since it is not indexed.")
    seqs, values = [], []
    for term in ctx.reader.terms(mapper.path):
        found = ctx.reader.postings(mapper.path, term).seqs
        seqs.append(found)
        values.append(np.full(len(found), int.from_bytes(term, "big") - (1 << 63), dtype=np.int64))
    if not seqs:
        return Points(EMPTY_SEQS, EMPTY_SEQS, EMPTY_SEQS)
    return Points.of(np.concatenate(seqs), np.concatenate(values))


def geo_field(ctx: ShardContext, field: str, query: str, ignore_unmapped: bool) -> FieldMapper | None:
    """The geo_point field a geo query searches; None (match nothing) for an unmapped one
    the query may ignore."""
    mapper = ctx.field(field)
    if mapper is None:
        if ignore_unmapped:
            return None
        raise QueryShardError(f"failed to find geo field [{field}]", index=ctx.index)
    if mapper.type_name != GEO_POINT:
        raise QueryShardError(f"Field [{field}] is of unsupported type [{mapper.type_name}] for [{query}] "
                              "query", index=ctx.index)
    return mapper


# -- shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A lat/lon rectangle; min_lon > max_lon crosses the dateline."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, points: Points) -> np.ndarray:
        min_lon = self.min_lon
        if self.min_lat == 90.0 or (min_lon == 180.0 and self.max_lon == 180.0):
            return np.zeros(len(points.seqs), dtype=bool)  # no encoded point is at 90 or 180
        if min_lon == 180.0 and self.max_lon < min_lon:
            min_lon = -180.0
        lat_ok = (points.lat_bits >= _encode_ceil(self.min_lat, LAT_DECODE)) & \
            (points.lat_bits <= encode_lat(self.max_lat))
        low, high = _encode_ceil(min_lon, LON_DECODE), encode_lon(self.max_lon)
        if min_lon > self.max_lon:
            return lat_ok & ((points.lon_bits >= low) | (points.lon_bits <= high))
        return lat_ok & (points.lon_bits >= low) & (points.lon_bits <= high)


@dataclass(frozen=True)
class Polygon:
    """An outer ring and holes, each a closed (lon, lat) ring. A point on the shell's
    edge is inside and one on a hole's edge is not, as Lucene's Polygon2D counts them."""

    rings: tuple[np.ndarray, ...]  # each (n, 2) of lon, lat; the first is the shell

    def contains(self, points: Points) -> np.ndarray:
        lon, lat = points.lon, points.lat
        inside = _in_ring(self.rings[0], lon, lat)
        for hole in self.rings[1:]:
            inside &= ~_in_ring(hole, lon, lat)
        return inside


def _in_ring(ring: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Crossing-number test of every point against one ring, its edges included."""
    inside = np.zeros(len(x), dtype=bool)
    on_edge = np.zeros(len(x), dtype=bool)
    for (x1, y1), (x2, y2) in zip(ring[:-1].tolist(), ring[1:].tolist(), strict=True):
        crosses = (y1 > y) != (y2 > y)
        if y1 != y2:
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < at)
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        on_edge |= (np.abs(cross) <= 1e-12) & (x >= min(x1, x2)) & (x <= max(x1, x2)) & \
            (y >= min(y1, y2)) & (y <= max(y1, y2))
    return inside | on_edge


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_meters: float

    def contains(self, points: Points) -> np.ndarray:
        return haversine_meters(self.lat, self.lon, points.lat, points.lon) <= self.radius_meters


@dataclass(frozen=True)
class PointSet:
    """Points a point field matches exactly (after quantization, as Lucene compares)."""

    bits: tuple[tuple[int, int], ...]  # (lat_bits, lon_bits)

    def contains(self, points: Points) -> np.ndarray:
        mask = np.zeros(len(points.seqs), dtype=bool)
        for lat_bits, lon_bits in self.bits:
            mask |= (points.lat_bits == lat_bits) & (points.lon_bits == lon_bits)
        return mask


@dataclass(frozen=True)
class Shapes:
    """Several shapes: a point matches if any holds it."""

    parts: tuple[Any, ...]

    def contains(self, points: Points) -> np.ndarray:
        mask = np.zeros(len(points.seqs), dtype=bool)
        for part in self.parts:
            mask |= part.contains(points)
        return mask


def haversine_meters(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    phi1, phi2 = math.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_METERS * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def plane_meters(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """GeoDistance.PLANE: an equirectangular approximation at the mean latitude."""
    x = np.radians(lon2 - lon1) * np.cos(np.radians((lat1 + lat2) / 2))
    y = np.radians(lat2 - lat1)
    return EARTH_MEAN_RADIUS_METERS * np.sqrt(x * x + y * y)


# -- reading shapes from a query ----------------------------------------------------------------


def _encode_ceil(value: float, step: float) -> int:
    """The least encoded value at or above `value` (GeoEncodingUtils.encode*Ceil)."""
    return math.ceil(value / step)


def check_point(lat: float, lon: float) -> tuple[float, float]:
    """A query's coordinates, which Lucene refuses out of range (GeoUtils.checkLatitude)."""
    if not -90.0 <= lat <= 90.0:
        raise IllegalArgument(f"invalid latitude {lat}; must be between -90.0 and 90.0")
    if not -180.0 <= lon <= 180.0:
        raise IllegalArgument(f"invalid longitude {lon}; must be between -180.0 and 180.0")
    return lat, lon


def query_point(kind: str, value: Any) -> tuple[float, float]:
    """(lat, lon) of a point a query or sort gives, in any of a document's forms."""
    try:
        return parse_point(value, True)
    except (ParseError, IllegalArgument) as e:
        raise ParsingError(f"[{kind}] failed to parse point: {e.reason}", caused_by=e) from None


def validated(kind: str, lat: float, lon: float, validation: str) -> tuple[float, float]:
    """A query's point checked (STRICT), wrapped into range (COERCE) or left as given
    (IGNORE_MALFORMED: what Lucene cannot encode, check_point still refuses)."""
    if validation == "COERCE":
        return normalize(lat, lon)
    if validation == "STRICT":
        return check_range(lat, lon, f"[{kind}]")
    return lat, lon


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"numeric value expected for {what}, got [{value}]")
    return float(value)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ParseError(f"{what} must be an array")
    return value


def _position(value: Any) -> tuple[float, float]:
    """A GeoJSON position: [lon, lat] (a third value, the altitude, is ignored)."""
    if not isinstance(value, list) or len(value) < 2:
        raise ParseError("geo coordinates must be an array of at least two numbers: [lon, lat]")
    lon, lat = _number(value[0], "longitude"), _number(value[1], "latitude")
    check_point(lat, lon)
    return lon, lat


def _ring(value: Any) -> np.ndarray:
    if not _list(value, "a polygon's ring"):
        raise ParseError("a polygon's ring must have positions")
    ring = [_position(p) for p in value]
    if ring[0] != ring[-1]:
        last = len(ring) - 1
        raise IllegalArgument(f"first and last points of the linear ring must be the same (it must close "
                              f"itself): x[0]={ring[0][0]} x[{last}]={ring[-1][0]} y[0]={ring[0][1]} "
                              f"y[{last}]={ring[-1][1]}")
    if len(ring) < 4:
        raise IllegalArgument(f"at least 4 polygon points required, found {len(ring)}")
    return np.asarray(ring, dtype=np.float64)


def _polygon(value: Any) -> Polygon:
    if not _list(value, "a polygon's coordinates"):
        raise ParseError("a polygon needs a ring")
    return Polygon(tuple(_ring(r) for r in value))


def _point_bits(lon: float, lat: float) -> tuple[int, int]:
    return encode_lat(lat), encode_lon(lon)


def envelope(min_lon: float, max_lon: float, max_lat: float, min_lat: float) -> Box:
    check_point(min_lat, min_lon)
    check_point(max_lat, max_lon)
    if max_lat < min_lat:
        raise IllegalArgument(f"top is below bottom corner: {max_lat} vs. {min_lat}")
    return Box(min_lat, max_lat, min_lon, max_lon)


def shape_from_geojson(value: dict[str, Any]) -> Any:
    kind = value.get("type")
    if not isinstance(kind, str):
        raise ParseError("shape type not included")
    kind = kind.lower()
    if kind == "circle":
        center = _position(value.get("coordinates"))
        radius = distance_meters(value.get("radius", ""), "m")
        if not 0 < radius < math.inf:
            raise IllegalArgument(f"circle radius must be greater than zero, got [{value.get('radius')}]")
        return Circle(center[1], center[0], radius)
    if kind == "geometrycollection":
        geometries = _list(value.get("geometries"), "geometries")
        if not all(isinstance(g, dict) for g in geometries):
            raise ParseError("geometries must be objects")
        return Shapes(tuple(shape_from_geojson(g) for g in geometries))
    coordinates = value.get("coordinates")
    if coordinates is None:
        raise ParseError("coordinates not included")
    if kind == "envelope":
        if not isinstance(coordinates, list) or len(coordinates) != 2:
            raise ParseError("failed to parse envelope: two corners, [[minLon, maxLat], [maxLon, minLat]], "
                             "are required")
        (min_lon, max_lat), (max_lon, min_lat) = _position(coordinates[0]), _position(coordinates[1])
        return envelope(min_lon, max_lon, max_lat, min_lat)
    if kind == "point":
        return PointSet((_point_bits(*_position(coordinates)),))
    if kind == "multipoint":
        return PointSet(tuple(_point_bits(*_position(p)) for p in _list(coordinates, "coordinates")))
    if kind == "polygon":
        return _polygon(coordinates)
    if kind == "multipolygon":
        return Shapes(tuple(_polygon(p) for p in _list(coordinates, "coordinates")))
    if kind in ("linestring", "multilinestring"):
        raise IllegalArgument(f"Field of type [geo_point] does not support {kind.upper()} queries")
    raise ParseError(f"unknown geometry type: {kind}")


_WKT_HEAD = re.compile(r"\s*([A-Za-z]+)\s*(.*)", re.S)


def _wkt_numbers(text: str) -> list[float]:
    try:
        return [float(n) for n in re.split(r"[\s,]+", text.strip()) if n]
    except ValueError:
        raise ParseError(f"expected number but found: [{text.strip()}]") from None


def _wkt_rings(body: str) -> list[list[list[float]]]:
    """`((x y, x y, ...), (x y, ...))` -> rings of [x, y] positions."""
    rings = []
    for ring in re.findall(r"\(([^()]*)\)", body):
        positions = [_wkt_numbers(p) for p in ring.split(",")]
        if any(len(p) < 2 for p in positions):
            raise ParseError(f"expected two numbers per position but found: [{ring.strip()}]")
        rings.append([p[:2] for p in positions])
    return rings


def shape_from_wkt(text: str) -> Any:
    match = _WKT_HEAD.fullmatch(text)
    if match is None:
        raise ParseError(f"Invalid WKT: [{text}]")
    kind, body = match.group(1).upper(), match.group(2).strip()
    if kind == "BBOX":
        numbers = _wkt_numbers(body.strip("()"))
        if len(numbers) != 4:
            raise ParseError("expected four numbers for BBOX: (minLon, maxLon, maxLat, minLat)")
        return envelope(*numbers)
    if kind == "POINT":
        numbers = _wkt_numbers(body.strip("()"))
        if len(numbers) < 2:
            raise ParseError("expected two numbers for POINT: (lon lat)")
        check_point(numbers[1], numbers[0])
        return PointSet((_point_bits(numbers[0], numbers[1]),))
    if kind == "POLYGON":
        return _polygon(_wkt_rings(body))
    if kind == "MULTIPOLYGON":
        return Shapes(tuple(_polygon(_wkt_rings(p)) for p in re.findall(r"\(\s*(\(.*?\))\s*\)", body)))
    raise IllegalArgument(f"Field of type [geo_point] does not support {kind} queries")
