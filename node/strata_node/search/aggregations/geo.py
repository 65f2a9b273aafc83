"""Aggregations over geo_point fields: geo_bounds and geo_centroid (metrics),
geohash_grid and geotile_grid (a bucket per cell) and geo_distance (ranges of distance
from an origin).

They read the field's points as its doc values hold them, quantized to Lucene's 32+32
bits, so bounds, centroids and cells are those of the decoded coordinates, as in
Elasticsearch. A document counts once per cell (a grid) and once per range
(geo_distance), however many of its points fall there. Grid buckets come biggest first,
ties broken by the cell's long form descending (BucketPriorityQueue), which for one
precision is the geohash, or the tile's x then y, descending.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, NumberFormatError, ParseError, StrataError
from ...engine.segment_reader import EMPTY_SEQS
from ...index.mapping.geo import (
    check_range,
    encode,
    geohash_cell_bounds,
    geohash_cells,
    geohash_text,
    parse_point,
)
from ..geo import Points, distance_meters, haversine_meters, plane_meters, query_point, unit_meters
from ..matches import Matches
from ..query.geo import bounding_box
from .base import (
    Aggregator,
    BucketDocs,
    Params,
    check_bucket_count,
    collect_subs,
    reduce_subs,
    render_subs,
    unique_inverse,
    unique_pairs,
)
from .range import Range
from .values import resolve

GEO_KINDS = ("geo_point",)


def _missing_point(p: Params) -> int | None:
    """`missing` as its encoded long: a value read as text (`"lat,lon"`, a geohash, WKT),
    as ES reads it (`new GeoPoint(missing.toString())`), in range."""
    raw = p.get("missing")
    if raw is None:
        return None
    if isinstance(raw, dict | list):
        raise p.fail("missing")
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    try:
        lat, lon = parse_point(text, ignore_z_value=False)
        return encode(*check_range(lat, lon, "missing"))
    except (IllegalArgument, ParseError) as e:
        raise p.fail("missing", e) from None


def matched_points(ctx, field: str, agg_type: str, missing: int | None, seqs: np.ndarray) -> Points:
    """Every point of the matched documents; documents without a point take `missing`
    when it is given (appended, out of seq order)."""
    vs = resolve(ctx, field, agg_type, GEO_KINDS)
    if vs.mapped:
        doc_seqs, encoded = vs.values(ctx, seqs)
        absent = vs.without_values(seqs) if missing is not None else EMPTY_SEQS
    elif missing is not None:
        doc_seqs, encoded, absent = EMPTY_SEQS, np.empty(0, dtype=np.int64), seqs
    else:
        return Points.of(EMPTY_SEQS, np.empty(0, dtype=np.int64))
    encoded = encoded.astype(np.int64, copy=False)
    if len(absent):
        doc_seqs = np.concatenate([doc_seqs, absent])
        encoded = np.concatenate([encoded, np.full(len(absent), missing, dtype=np.int64)])
    return Points.of(doc_seqs, encoded)


class GeoMetric(Aggregator):
    """A metric over one geo_point field (leaf only, as ES's are)."""

    accepts_subs = False
    kinds = GEO_KINDS
    extra_params: tuple[str, ...] = ()

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("field", "missing", "value_type", "script", *self.extra_params))
        self.field = p.field()
        self.missing = _missing_point(p)
        self.configure(p)

    def configure(self, p: Params) -> None:
        """Reads the parameters a subclass adds."""

    def points(self, ctx, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) of every point of the matched documents."""
        points = matched_points(ctx, self.field, self.type_name, self.missing, matches.seqs)
        return points.lat, points.lon


class GeoBounds(GeoMetric):
    """The box around every point (InternalGeoBounds): the top and bottom latitudes, and
    the west and east ends of the points east and west of the prime meridian apart, so
    that with `wrap_longitude` the narrower of the two boxes (across the antimeridian or
    not) is the answer."""

    type_name = "geo_bounds"
    extra_params = ("wrap_longitude",)

    def configure(self, p: Params) -> None:
        self.wrap_longitude = p.boolean("wrap_longitude", True)

    def collect(self, ctx, matches: Matches) -> dict[str, float]:
        lat, lon = self.points(ctx, matches)
        if not len(lat):
            return self.empty()
        east, west = lon[lon >= 0], lon[lon < 0]
        return {"top": float(lat.max()), "bottom": float(lat.min()),
                "pos_left": float(east.min()) if len(east) else math.inf,
                "pos_right": float(east.max()) if len(east) else -math.inf,
                "neg_left": float(west.min()) if len(west) else math.inf,
                "neg_right": float(west.max()) if len(west) else -math.inf}

    def empty(self) -> dict[str, float]:
        return {"top": -math.inf, "bottom": math.inf, "pos_left": math.inf, "pos_right": -math.inf,
                "neg_left": math.inf, "neg_right": -math.inf}

    def reduce(self, partials: list[dict[str, float]]) -> dict[str, float]:
        return {"top": max(p["top"] for p in partials), "bottom": min(p["bottom"] for p in partials),
                "pos_left": min(p["pos_left"] for p in partials),
                "pos_right": max(p["pos_right"] for p in partials),
                "neg_left": min(p["neg_left"] for p in partials),
                "neg_right": max(p["neg_right"] for p in partials)}

    def box(self, b: dict[str, float]) -> tuple[float, float, float, float] | None:
        """(top, left, bottom, right), or None without points."""
        if math.isinf(b["top"]):
            return None
        if math.isinf(b["pos_left"]):
            return b["top"], b["neg_left"], b["bottom"], b["neg_right"]
        if math.isinf(b["neg_left"]):
            return b["top"], b["pos_left"], b["bottom"], b["pos_right"]
        if self.wrap_longitude:
            unwrapped = b["pos_right"] - b["neg_left"]
            wrapped = (180 - b["pos_left"]) - (-180 - b["neg_right"])
            if unwrapped > wrapped:  # narrower across the antimeridian
                return b["top"], b["pos_left"], b["bottom"], b["neg_right"]
        return b["top"], b["neg_left"], b["bottom"], b["pos_right"]

    def render(self, reduced: dict[str, float], typed_keys: bool = False) -> dict[str, Any]:
        box = self.box(reduced)
        if box is None:
            return {}
        top, left, bottom, right = box
        return {"bounds": {"top_left": {"lat": top, "lon": left},
                           "bottom_right": {"lat": bottom, "lon": right}}}


class GeoCentroid(GeoMetric):
    """The mean of every point's latitude and longitude, and how many points there were
    (points, not documents). Shards' centroids combine weighted by their counts, as
    InternalGeoCentroid reduces them. The sums are numpy's pairwise ones where ES's are
    Kahan-compensated: both err by a few units in the last place, not the same few."""

    type_name = "geo_centroid"

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        lat, lon = self.points(ctx, matches)
        count = len(lat)
        if not count:
            return self.empty()
        return {"lat": float(lat.sum()) / count, "lon": float(lon.sum()) / count, "count": count}

    def empty(self) -> dict[str, Any]:
        return {"lat": None, "lon": None, "count": 0}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        filled = [p for p in partials if p["count"]]
        if len(filled) <= 1:
            return filled[0] if filled else self.empty()
        count = sum(p["count"] for p in filled)
        return {"lat": sum(p["lat"] * p["count"] for p in filled) / count,
                "lon": sum(p["lon"] * p["count"] for p in filled) / count, "count": count}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        if not reduced["count"]:
            return {"count": 0}
        return {"location": {"lat": reduced["lat"], "lon": reduced["lon"]}, "count": reduced["count"]}


# -- grids ------------------------------------------------------------------------------------


class GeoGrid(Aggregator):
    """A bucket per cell holding points of the matched documents, the `size` biggest
    (each shard sends its `shard_size` biggest). `bounds` keeps only the cells sharing
    some interior with the box (a box whose left is east of its right crosses the
    antimeridian)."""

    type_name = ""
    kinds = GEO_KINDS
    default_precision = 0

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, ("field", "missing", "value_type", "precision", "size", "shard_size",
                                          "bounds"))
        self.field = p.field()
        self.missing = _missing_point(p)
        self.precision = self.default_precision
        if p.has("precision"):
            try:
                self.precision = self.parse_precision(p.get("precision"))
            except (IllegalArgument, NumberFormatError, ParseError) as e:
                raise p.fail("precision", e) from None
        self.size, self.shard_size = p.bucket_sizes(name, 10_000, shard_size_label="shardSize")
        self.bounds = None
        if p.get("bounds") is not None:
            try:
                sides = bounding_box(self.type_name, p.get("bounds"))
            except StrataError as e:
                raise p.fail("bounds", e) from None
            self.bounds = (sides["top"], sides["left"], sides["bottom"], sides["right"])

    def parse_precision(self, raw: Any) -> int:
        raise NotImplementedError

    def cells(self, points: Points) -> np.ndarray:
        """Each point's cell, as an int64 that orders cells as their long form does."""
        raise NotImplementedError

    def cell_bounds(self, cells: np.ndarray) -> tuple[np.ndarray, ...]:
        """(min lat, max lat, min lon, max lon) of each cell."""
        raise NotImplementedError

    def key(self, cell: int) -> str:
        raise NotImplementedError

    def _within_bounds(self, cells: np.ndarray) -> np.ndarray:
        """The cells sharing interior with `bounds` (GeoHashBoundedPredicate: touching
        is not enough)."""
        top, left, bottom, right = self.bounds
        min_lat, max_lat, min_lon, max_lon = self.cell_bounds(cells)
        keep = (top > min_lat) & (bottom < max_lat)
        if left > right:  # across the antimeridian
            return keep & ((left < max_lon) | (right > min_lon))
        return keep & (left < max_lon) & (right > min_lon)

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        points = matched_points(ctx, self.field, self.type_name, self.missing, matches.seqs)
        if not len(points.seqs):
            return self.empty()
        seqs, cells = unique_pairs(points.seqs, self.cells(points))
        distinct, ids = unique_inverse(cells)
        if self.bounds is not None:
            inside = self._within_bounds(distinct)
            if not inside.all():
                kept = inside[ids]
                seqs, ids = seqs[kept], (np.cumsum(inside) - 1)[ids[kept]]
                distinct = distinct[inside]
        counts = np.bincount(ids, minlength=len(distinct))
        ranked = np.lexsort((-distinct, -counts))[: self.shard_size]
        docs = BucketDocs(matches, seqs, ids, wanted=len(ranked)) if self.subs else None
        buckets = [[int(distinct[b]), int(counts[b]), collect_subs(self, ctx, docs.docs(b)) if docs else {}]
                   for b in ranked.tolist()]
        return {"buckets": buckets}

    def empty(self) -> dict[str, Any]:
        return {"buckets": []}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[int, list] = {}
        for p in partials:
            for cell, count, subs in p["buckets"]:
                entry = merged.setdefault(cell, [cell, 0, []])
                entry[1] += count
                entry[2].append(subs)
        ranked = sorted(merged.values(), key=lambda b: (-b[1], -b[0]))[: self.size]
        check_bucket_count(len(ranked))
        return {"buckets": [[cell, count, reduce_subs(self, subs)] for cell, count, subs in ranked]}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return {"buckets": [render_subs(self, subs, {"key": self.key(cell), "doc_count": count}, typed_keys)
                            for cell, count, subs in reduced["buckets"]]}


# GeoUtils: the cell ratio a distance precision is turned into geohash levels with
_EARTH_EQUATOR = 2 * math.pi * 6_378_137.0
_EARTH_POLAR_DISTANCE = math.pi * 6_356_752.314245


def geohash_levels_for_distance(meters: float) -> int:
    """The geohash level whose cells are about `meters` wide (GeoUtils.geoHashLevelsForPrecision)."""
    if meters == 0:
        return 24
    ratio = 1 + _EARTH_POLAR_DISTANCE / _EARTH_EQUATOR
    width = meters / ratio
    if not math.isfinite(width):
        return 0  # Java's log(0) is -Infinity, cast to no levels: refused as out of range
    part = math.ceil(_EARTH_EQUATOR / width)
    if part <= 1:
        return 1
    bits = math.ceil(math.log(part) / math.log(2))
    full, left = bits // 5, bits % 5
    return (full + (1 if left > 0 else 0)) + (full + (1 if left > 3 else 0))


def _check_geohash_precision(precision: int) -> int:
    if not 1 <= precision <= 12:
        raise IllegalArgument(f"Invalid geohash aggregation precision of {precision}. "
                              "Must be between 1 and 12.")
    return precision


def _integer(raw: Any) -> int:
    """XContentMapValues.nodeIntegerValue: a number truncated, or text that is an integer."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise IllegalArgument(f"[precision] must be a number or a string, got [{raw}]")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise IllegalArgument(f"[precision] must be finite, got [{raw}]")
        return int(raw)
    if isinstance(raw, int):
        return raw
    try:
        return int(raw.strip())
    except ValueError:
        raise NumberFormatError(f'For input string: "{raw}"') from None


class GeohashGrid(GeoGrid):
    type_name = "geohash_grid"
    default_precision = 5

    def parse_precision(self, raw: Any) -> int:
        """A level 1-12, or a distance ("10km") taken as the level whose cells are about
        that wide (GeoUtils.parsePrecision)."""
        if isinstance(raw, str):
            try:
                level = int(raw.strip())
            except ValueError:
                level = geohash_levels_for_distance(distance_meters(raw))
                try:
                    return _check_geohash_precision(level)
                except IllegalArgument as e:
                    raise IllegalArgument(f"precision too high [{raw}]", caused_by=e) from None
        else:
            level = _integer(raw)
        return _check_geohash_precision(level)

    def cells(self, points: Points) -> np.ndarray:
        return geohash_cells(points.lat_bits, points.lon_bits, self.precision)

    def cell_bounds(self, cells: np.ndarray) -> tuple[np.ndarray, ...]:
        return geohash_cell_bounds(cells, self.precision)

    def key(self, cell: int) -> str:
        return geohash_text(cell, self.precision)


class GeotileGrid(GeoGrid):
    """Web-mercator tiles (GeoTileUtils): x from the longitude, y from the latitude's
    mercator projection, both clipped to the 2^precision tiles of a side, keyed z/x/y."""

    type_name = "geotile_grid"
    default_precision = 7

    def parse_precision(self, raw: Any) -> int:
        precision = _integer(raw)
        if not 0 <= precision <= 29:
            raise IllegalArgument(f"Invalid geotile_grid precision of {precision}. Must be between 0 and 29.")
        return precision

    def cells(self, points: Points) -> np.ndarray:
        lat, lon = points.lat, points.lon
        tiles = 1 << self.precision
        x = np.floor((lon + 180.0) / 360.0 * tiles)
        s = np.sin(np.radians(lat))
        with np.errstate(divide="ignore"):  # at the poles the projection is infinite, then clipped
            y = np.floor((0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)) * tiles)
        x = np.clip(x, 0, tiles - 1).astype(np.int64)
        y = np.clip(y, 0, tiles - 1).astype(np.int64)
        return (x << 29) | y

    def cell_bounds(self, cells: np.ndarray) -> tuple[np.ndarray, ...]:
        tiles = float(1 << self.precision)
        x, y = cells >> 29, cells & ((1 << 29) - 1)
        min_lon = x / tiles * 360.0 - 180.0
        max_lat = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * y / tiles))))
        min_lat = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * (y + 1) / tiles))))
        return min_lat, max_lat, min_lon, min_lon + 360.0 / tiles

    def key(self, cell: int) -> str:
        return f"{self.precision}/{cell >> 29}/{cell & ((1 << 29) - 1)}"


# -- geo_distance -----------------------------------------------------------------------------


class GeoDistance(Range):
    """Ranges of the distance from `origin` to each point, in `unit` (default meters),
    arc (haversine) or plane. A range without `from` starts at 0, and its generated key
    prints that as `*` (InternalGeoDistance)."""

    type_name = "geo_distance"
    kinds = GEO_KINDS
    _ORIGIN = ("origin", "center", "point", "por")

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        p = Params(self.type_name, body, self._params())
        given = next((k for k in self._ORIGIN if k in body), None)
        if given is None:
            raise IllegalArgument(f"Aggregation [{name}] must define an [origin].")
        origin = body[given]
        if isinstance(origin, list) and len(origin) != 2:
            raise p.fail(given, IllegalArgument(
                f"malformed [{given}]: a geo point array must be of the form [lon, lat]"))
        try:
            self.origin = query_point(self.type_name, origin)
        except StrataError as e:
            raise p.fail(given, e) from None
        try:
            self.unit = unit_meters(p.string("unit", "m"))
        except IllegalArgument as e:
            raise p.fail("unit", e) from None
        distance_type = p.string("distance_type", "arc").lower()
        if distance_type not in ("arc", "plane"):
            raise p.fail("distance_type", IllegalArgument(f"No geo distance for [{distance_type}]"))
        self.distance = haversine_meters if distance_type == "arc" else plane_meters
        super().__init__(name, subs, meta, body)
        self.missing = _missing_point(p)  # a point, where Range's is a number

    def _params(self) -> tuple[str, ...]:
        return ("field", "ranges", "keyed", "missing", "value_type", "script", "unit", "distance_type",
                *self._ORIGIN)

    def _bound(self, raw: Any, ctx, fmt: Any, upper: bool) -> float:
        if raw is None and not upper:
            return 0.0
        return super()._bound(raw, ctx, fmt, upper)

    def _from_text(self, bound: float, fmt: Any) -> str:
        return "*" if bound == 0 else super()._from_text(bound, fmt)

    def _values(self, ctx, matches: Matches) -> tuple[np.ndarray, np.ndarray, Any]:
        points = matched_points(ctx, self.field, self.type_name, self.missing, matches.seqs)
        if not len(points.seqs):
            return points.seqs, np.empty(0), None
        return points.seqs, self.distance(*self.origin, points.lat, points.lon) / self.unit, None


__all__ = ["GeoBounds", "GeoCentroid", "GeoDistance", "GeohashGrid",
           "GeotileGrid"]
