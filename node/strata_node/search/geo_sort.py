"""The `_geo_distance` sort: each document's distance from the sort's points, in the
sort's unit, as GeoDistanceSortBuilder computes it (every pair of a sort point and a
document point measured, the pairs reduced by the mode: min ascending, max descending by
default); a document without a point sorts as +Infinity whatever the order."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..common.errors import IllegalArgument, ParsingError
from ..common.xcontent import token_name
from ..index.mapping.geo import is_point_array
from .context import ShardContext
from .geo import (
    check_point,
    geo_field,
    geo_points,
    haversine_meters,
    plane_meters,
    query_point,
    unit_meters,
    validated,
)

_MODES = ("min", "max", "avg", "median")


@dataclass(frozen=True)
class GeoDistanceSort:
    """What a `_geo_distance` sort measures from: the points (lat, lon), the unit's
    length in meters, arc or plane, and whether an unmapped field sorts as missing."""

    points: tuple[tuple[float, float], ...]
    unit_meters: float = 1.0
    plane: bool = False
    ignore_unmapped: bool = False


def parse_geo_distance_sort(options: Any) -> tuple[str, str, str | None, GeoDistanceSort]:
    """`{"<field>": point or points, "order": .., "unit": .., ...}`: (field, order, mode,
    what to measure from)."""
    if not isinstance(options, dict):
        raise ParsingError(f"[_geo_distance] unexpected token [{token_name(options)}]")
    field, points, order, mode = None, [], "asc", None
    unit, plane, ignore_unmapped, validation = 1.0, False, False, "STRICT"
    for name, value in options.items():
        if name == "order":
            if not isinstance(value, str) or value.lower() not in ("asc", "desc"):
                raise IllegalArgument(f"Unknown SortOrder [{value}]")
            order = value.lower()
        elif name == "unit":
            unit = unit_meters(str(value))
        elif name == "mode":
            if value not in _MODES:
                raise IllegalArgument("sort_mode [sum] isn't supported for sorting by geo distance"
                                      if value == "sum" else f"Unknown SortMode [{value}]")
            mode = value
        elif name == "distance_type":
            if str(value).lower() not in ("arc", "plane"):
                raise IllegalArgument(f"No geo distance for [{value}]")
            plane = str(value).lower() == "plane"
        elif name == "ignore_unmapped":
            ignore_unmapped = value is True or value == "true"
        elif name == "validation_method":
            validation = str(value).upper()
        elif field is not None:
            raise ParsingError(f"[_geo_distance] does not support multiple fields, found [{field}] and "
                               f"[{name}]")
        else:
            field = name
            given = value if isinstance(value, list) and not is_point_array(value) else [value]
            points = [query_point("_geo_distance", p) for p in given]
    if field is None or not points:
        raise IllegalArgument("No geo points given for [_geo_distance] sort")
    points = [check_point(*validated("GeoDistanceSort", lat, lon, validation)) for lat, lon in points]
    return field, order, mode, GeoDistanceSort(tuple(points), unit, plane, ignore_unmapped)


def geo_distances(ctx: ShardContext, field: str, geo: GeoDistanceSort, reverse: bool, mode: str | None,
                  seqs: np.ndarray) -> np.ndarray:
    """The matched documents' distances (float64, +Infinity for those without a point)."""
    out = np.full(len(seqs), math.inf, dtype=np.float64)
    mapper = geo_field(ctx, field, "_geo_distance", geo.ignore_unmapped)
    if mapper is None or not len(seqs):
        return out
    if not mapper.doc_values:
        raise IllegalArgument(f"Can't load fielddata on [{field}] because fielddata is unsupported on "
                              "fields of type [geo_point]. Use doc values instead.")
    points = geo_points(ctx, mapper)
    if not len(points.seqs):
        return out
    measure = plane_meters if geo.plane else haversine_meters
    lat, lon = points.lat, points.lon
    # one row per (document point, sort point), in document order
    pairs = np.stack([measure(p_lat, p_lon, lat, lon) for p_lat, p_lon in geo.points], axis=1)
    distances = pairs.reshape(-1) / geo.unit_meters
    pair_seqs = np.repeat(points.seqs, len(geo.points))
    starts = np.flatnonzero(np.concatenate(([True], pair_seqs[1:] != pair_seqs[:-1])))
    doc_seqs = pair_seqs[starts]
    mode = mode or ("max" if reverse else "min")
    if mode == "min":
        per_doc = np.minimum.reduceat(distances, starts)
    elif mode == "max":
        per_doc = np.maximum.reduceat(distances, starts)
    elif mode == "avg":
        per_doc = np.add.reduceat(distances, starts) / np.diff(np.append(starts, len(distances)))
    else:
        bounds = np.append(starts, len(distances))
        per_doc = np.array([np.median(distances[a:b]) for a, b in itertools.pairwise(bounds.tolist())])
    at = np.searchsorted(doc_seqs, seqs)
    clipped = np.minimum(at, len(doc_seqs) - 1)
    present = doc_seqs[clipped] == seqs
    out[present] = per_doc[clipped[present]]
    return out
