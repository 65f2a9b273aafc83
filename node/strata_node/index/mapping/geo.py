"""geo_point values: the forms a document (or a query) may give a point in, and the
64-bit form the index holds, as Lucene's LatLonPoint encodes it.

A point is read from `{"lat": .., "lon": ..}`, `{"geohash": ..}`, GeoJSON
`{"type": "Point", "coordinates": [lon, lat]}`, `[lon, lat]`, `"lat,lon"`, WKT
`"POINT (lon lat)"` or a geohash string (GeoUtils.parseGeoPoint), each with an optional
third (z) coordinate that `ignore_z_value` lets through. Latitude and longitude are then
quantized to 32 bits each (GeoEncodingUtils): the stored value is
`lat_bits << 32 | lon_bits`, the long LatLonDocValuesField holds, so doc values and
sorting see the quantized coordinates as Elasticsearch's do (within 1e-7 degrees).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParseError
from .errors import MalformedValue
from .numbers import java_double, parse_java_double

LAT_DECODE = 1 / ((1 << 32) / 180.0)
LON_DECODE = 1 / ((1 << 32) / 360.0)
_GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"
_GEOHASH_BITS = {c: i for i, c in enumerate(_GEOHASH)}
_WKT_POINT = re.compile(r"\s*POINT\s*\(\s*(\S+)\s+(\S+)(?:\s+(\S+))?\s*\)\s*", re.IGNORECASE)
_WKT_TYPE = re.compile(r"\s*([A-Za-z]+)")


def encode_lat(lat: float) -> int:
    if lat == 90.0:
        lat = math.nextafter(90.0, 0.0)  # the encoding's range ends just below the pole
    return math.floor(lat / LAT_DECODE)


def encode_lon(lon: float) -> int:
    if lon == 180.0:
        lon = math.nextafter(180.0, 0.0)
    return math.floor(lon / LON_DECODE)


def encode(lat: float, lon: float) -> int:
    """The point as the signed long LatLonDocValuesField stores."""
    return (encode_lat(lat) << 32) | (encode_lon(lon) & 0xFFFFFFFF)


def decode(value: int) -> tuple[float, float]:
    """(lat, lon) of an encoded point."""
    lon_bits = value & 0xFFFFFFFF
    if lon_bits >= 1 << 31:
        lon_bits -= 1 << 32
    return (value >> 32) * LAT_DECODE, lon_bits * LON_DECODE


# -- reading a point --------------------------------------------------------------------------


def _double(value: Any, name: str) -> float:
    """A coordinate given as a number or numeric text (doubleValue(coerce=true))."""
    cls = value.__class__
    if cls is int or cls is float:
        return float(value)
    if cls is str:
        return _coordinate(value)
    raise ParseError(f"{name} must be a number")


class _NotANumber(Exception):
    """A coordinate's text that Double.parseDouble refuses."""


def _check_z(z: float, ignore_z_value: bool) -> None:
    if not ignore_z_value:
        raise ParseError(f"Exception parsing coordinates: found Z value [{java_double(z)}] but "
                         "[ignore_z_value] parameter is [false]")


def from_geohash(geohash: str) -> tuple[float, float]:
    """The bottom-left corner of a geohash cell (GeoPoint.resetFromGeoHash)."""
    if not geohash:
        raise IllegalArgument("empty geohash")
    lat_low, lat_high, lon_low, lon_high = -90.0, 90.0, -180.0, 180.0
    even = True  # geohash bits alternate, longitude first
    for c in geohash[:12]:
        bits = _GEOHASH_BITS.get(c)
        if bits is None:
            raise IllegalArgument(f"unsupported symbol [{c}] in geohash [{geohash}]")
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lon_low + lon_high) / 2
                lon_low, lon_high = (mid, lon_high) if bit else (lon_low, mid)
            else:
                mid = (lat_low + lat_high) / 2
                lat_low, lat_high = (mid, lat_high) if bit else (lat_low, mid)
            even = not even
    return lat_low, lon_low


def _from_object(value: dict[str, Any], ignore_z_value: bool) -> tuple[float, float]:
    lat = lon = math.nan
    geohash = kind = coordinates = None
    bad_number = False
    for key, item in value.items():
        if key == "lat" or key == "lon":
            try:
                number = _double(item, "latitude" if key == "lat" else "longitude")
            except _NotANumber:
                bad_number = True
                continue
            if key == "lat":
                lat = number
            else:
                lon = number
        elif key == "geohash":
            if item.__class__ is not str:
                raise ParseError("geohash must be a string")
            geohash = item
        elif key == "type":
            if item.__class__ is not str:
                raise ParseError("[type] for geo_point must be a string")
            kind = item
        elif key == "coordinates":
            if item.__class__ is not list:
                raise ParseError("[coordinates] for geo_point must be an array")
            coordinates = item
        else:
            raise ParseError("field must be either [lat], [lon], [geohash], [type] or [coordinates]")
    given_latlon = not (math.isnan(lat) and math.isnan(lon)) or bad_number
    if kind is not None or coordinates is not None:
        if geohash is not None or given_latlon:
            raise ParseError("field must be either lat/lon, geohash string or type/coordinates")
        if kind is None:
            raise ParseError("field [type] missing")
        if kind.lower() != "point":
            raise ParseError("[type] for geo_point can only be 'Point'")
        if coordinates is None:
            raise ParseError("field [coordinates] missing")
        return _from_array(coordinates, ignore_z_value)
    if geohash is not None:
        if given_latlon:
            raise ParseError("field must be either lat/lon or geohash")
        return from_geohash(geohash)
    if bad_number:
        raise ParseError("[lat] and [lon] must be valid double values")
    if math.isnan(lat):
        raise ParseError("field [lat] missing")
    if math.isnan(lon):
        raise ParseError("field [lon] missing")
    return lat, lon


def _from_array(value: list[Any], ignore_z_value: bool) -> tuple[float, float]:
    lat = lon = math.nan
    for i, item in enumerate(value):
        if item.__class__ not in (int, float):
            raise ParseError("numeric value expected")
        if i == 0:
            lon = float(item)
        elif i == 1:
            lat = float(item)
        elif i == 2:
            _check_z(float(item), ignore_z_value)
        else:
            raise ParseError("[geo_point] field type does not accept > 3 dimensions")
    return lat, lon


def _from_string(text: str, ignore_z_value: bool) -> tuple[float, float]:
    if "point" in text.lower():
        match = _WKT_POINT.fullmatch(text)
        if match is None:
            kind = _WKT_TYPE.match(text)
            found = kind.group(1).upper() if kind else ""
            if found and found != "POINT":
                raise ParseError(f"[geo_point] supports only POINT among WKT primitives, but found {found}")
            raise ParseError("Invalid WKT format")
        try:
            x, y = _coordinate(match.group(1)), _coordinate(match.group(2))
            if match.group(3) is not None:
                _check_z(_coordinate(match.group(3)), ignore_z_value)
        except _NotANumber:
            raise ParseError("Invalid WKT format") from None
        return y, x
    if "," in text:
        parts = text.split(",")
        if len(parts) > 3:
            raise ParseError(f"failed to parse [{text}], expected 2 or 3 coordinates but found: "
                             f"[{len(parts)}]")
        try:
            lat = _coordinate(parts[0])
        except _NotANumber:
            raise ParseError("latitude must be a number") from None
        try:
            lon = _coordinate(parts[1])
        except _NotANumber:
            raise ParseError("longitude must be a number") from None
        if len(parts) == 3:
            try:
                _check_z(_coordinate(parts[2]), ignore_z_value)
            except _NotANumber:
                raise ParseError("z must be a number") from None
        return lat, lon
    return from_geohash(text)


def _coordinate(text: str) -> float:
    """Double.parseDouble of a coordinate's text."""
    try:
        return parse_java_double(text)
    except MalformedValue:
        raise _NotANumber from None


def parse_point(value: Any, ignore_z_value: bool = True) -> tuple[float, float]:
    """(lat, lon) of a point in any of its forms, not yet checked for range; raises
    ParseError or IllegalArgument with Elasticsearch's reason."""
    cls = value.__class__
    if cls is dict:
        return _from_object(value, ignore_z_value)
    if cls is list:
        return _from_array(value, ignore_z_value)
    if cls is str:
        return _from_string(value, ignore_z_value)
    raise ParseError("geo_point expected")


def is_point_array(value: list[Any]) -> bool:
    """Whether an array is one point (`[lon, lat]`) rather than an array of points."""
    return bool(value) and value[0].__class__ in (int, float)


# -- range ------------------------------------------------------------------------------------


def _centered_modulus(dividend: float, divisor: float) -> float:
    result = math.fmod(dividend, divisor)
    if result <= 0:
        result += divisor
    if result > divisor / 2:
        result -= divisor
    return result


def normalize(lat: float, lon: float) -> tuple[float, float]:
    """A point moved into range by wrapping (GeoUtils.normalizePoint): over a pole the
    longitude shifts by 180 degrees."""
    norm_lat = lat > 90 or lat < -90
    norm_lon = lon > 180 or lon < -180 or norm_lat
    if norm_lat:
        lat = _centered_modulus(lat, 360)
        shift = True
        if lat < -90:
            lat = -180 - lat
        elif lat > 90:
            lat = 180 - lat
        else:
            shift = False
        if shift:
            lon += 180
    if norm_lon:
        lon = _centered_modulus(lon, 360)
    return lat + 0.0, lon + 0.0


def check_range(lat: float, lon: float, name: str) -> tuple[float, float]:
    """A point refused out of range, Elasticsearch's words naming a field or a query."""
    if not -90.0 <= lat <= 90.0:
        raise IllegalArgument(f"illegal latitude value [{java_double(lat)}] for {name}")
    if not -180.0 <= lon <= 180.0:
        raise IllegalArgument(f"illegal longitude value [{java_double(lon)}] for {name}")
    return lat, lon


def checked(lat: float, lon: float, field: str, ignore_malformed: bool) -> tuple[float, float]:
    """A point in range, as GeoPointFieldMapper validates it: refused out of range, or
    wrapped into range when the field ignores malformed values."""
    if not ignore_malformed:
        return check_range(lat, lon, field)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ParseError("cannot normalize the point - not a number")
    return normalize(lat, lon)


def converter(field: str, ignore_malformed: bool, ignore_z_value: bool):
    """A document value of a geo_point field to its encoded long, or MalformedValue."""
    def convert(value: Any) -> int:
        try:
            lat, lon = parse_point(value, ignore_z_value)
            lat, lon = checked(lat, lon, field, ignore_malformed)
        except (ParseError, IllegalArgument) as e:
            raise MalformedValue(e) from None
        return encode(lat, lon)

    return convert


def geojson(value: int) -> dict[str, Any]:
    lat, lon = decode(value)
    return {"type": "Point", "coordinates": [lon, lat]}


def wkt(value: int) -> str:
    lat, lon = decode(value)
    return f"POINT ({java_double(lon)} {java_double(lat)})"


# BitUtil.interleave: a 32-bit value spread over the even bits of 64, in five steps
_SPREAD = ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
           (2, 0x3333333333333333), (1, 0x5555555555555555))


def geohash(value: int) -> str:
    """The 12-character geohash of an encoded point: what a geo_point gives its multi-fields
    (GeoPointFieldMapper indexes the geohash into them). Plain ints: one point per document
    is cheaper without numpy; `geohash_cells` is the same computation over arrays."""
    lat, lon = ((value >> 32) ^ 0x80000000) & 0xFFFFFFFF, (value ^ 0x80000000) & 0xFFFFFFFF
    for shift, mask in _SPREAD:
        lat, lon = (lat | (lat << shift)) & mask, (lon | (lon << shift)) & mask
    return geohash_text((lat | (lon << 1)) >> 4, 12)


def _spread(bits: np.ndarray) -> np.ndarray:
    x = bits.astype(np.uint64)
    for shift, mask in _SPREAD:
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def geohash_cells(lat_bits: np.ndarray, lon_bits: np.ndarray, level: int) -> np.ndarray:
    """The geohash cell of each encoded point at `level` (1-12), as its 5*level bits (int64):
    the encoded coordinates with their sign bits flipped, interleaved longitude first, as
    Geohash.longEncode computes them, so a cell is a prefix of the finer ones."""
    flip = np.int64(0x80000000)
    lat = (lat_bits.astype(np.int64) ^ flip) & np.int64(0xFFFFFFFF)
    lon = (lon_bits.astype(np.int64) ^ flip) & np.int64(0xFFFFFFFF)
    interleaved = _spread(lat) | (_spread(lon) << np.uint64(1))
    return (interleaved >> np.uint64(64 - 5 * level)).astype(np.int64)


def geohash_text(cell: int, level: int) -> str:
    return "".join(_GEOHASH[(cell >> (5 * (level - 1 - i))) & 31] for i in range(level))


def geohash_cell_bounds(cells: np.ndarray, level: int) -> tuple[np.ndarray, ...]:
    """(min lat, max lat, min lon, max lon) of each cell: of its 5*level bits, counted from
    the most significant, the 1st, 3rd, ... are the longitude's, the 2nd, 4th, ... the
    latitude's."""
    bits = 5 * level
    lon_bits, lat_bits = (bits + 1) // 2, bits // 2
    lon = np.zeros(len(cells), dtype=np.int64)
    lat = np.zeros(len(cells), dtype=np.int64)
    for i in range(bits):  # from the most significant bit
        bit = (cells >> np.int64(bits - 1 - i)) & 1
        if i % 2 == 0:
            lon = (lon << 1) | bit
        else:
            lat = (lat << 1) | bit
    lon_width, lat_height = 360.0 / (1 << lon_bits), 180.0 / (1 << lat_bits)
    min_lon, min_lat = lon * lon_width - 180.0, lat * lat_height - 90.0
    return min_lat, min_lat + lat_height, min_lon, min_lon + lon_width


def lat_lon(value: int) -> dict[str, float]:
    lat, lon = decode(value)
    return {"lat": lat, "lon": lon}
