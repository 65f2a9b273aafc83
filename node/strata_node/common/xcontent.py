"""JSON in and out, the way Elasticsearch's XContent layer behaves.

Parse errors carry the line and column, as Jackson reports them, so a client sees where
its body went wrong. Responses may embed a document's original `_source` bytes untouched
(orjson.Fragment), which is both what Elasticsearch returns and cheaper than re-encoding.
"""

from __future__ import annotations

from typing import Any

import orjson

from .errors import JsonParseError, ParseError

Fragment = orjson.Fragment


def _position(body: bytes, pos: int) -> tuple[int, int]:
    line = body.count(b"\n", 0, pos) + 1
    start = body.rfind(b"\n", 0, pos) + 1
    return line, pos - start + 1


def loads(body: bytes | str, *, line_offset: int = 0) -> Any:
    """Parse JSON or raise json_parse_exception with Elasticsearch-like position info."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raw = body if isinstance(body, bytes) else body.encode()
        line, column = _position(raw, e.pos)
        msg = e.msg.split(":")[0]
        raise JsonParseError(
            f"{msg}: line: {line + line_offset}, column: {column}"
        ) from None


def loads_object(body: bytes, what: str = "request body") -> dict[str, Any]:
    """Parse a JSON object; any other top-level value is a parse error, as in Elasticsearch."""
    if not body or not body.strip():
        raise ParseError(f"{what} is required")
    try:
        value = loads(body)
    except JsonParseError as e:
        raise ParseError("Failed to parse content to map", caused_by=e) from None
    if not isinstance(value, dict):
        raise ParseError("Failed to parse content to map",
                         caused_by=JsonParseError(f"expected an object, found {_json_kind(value)}"))
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    if pretty:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"
    return orjson.dumps(value)


def raw(source: bytes) -> Fragment:
    return orjson.Fragment(source)


def materialize(value: Any) -> Any:
    """Replace embedded raw fragments with parsed values (for filter_path)."""
    return orjson.loads(orjson.dumps(value))


def filter_path(value: Any, expressions: list[str]) -> Any:
    """Apply Elasticsearch's `filter_path`: dotted paths with `*` and `**` wildcards;
    a leading `-` excludes. Empty results render as `{}`."""
    includes = [e.split(".") for e in expressions if e and not e.startswith("-")]
    excludes = [e[1:].split(".") for e in expressions if e.startswith("-") and len(e) > 1]
    if includes:
        value = _include(value, includes)
        if value is _MISSING:
            value = {}
    if excludes:
        value = _exclude(value, excludes)
    return value


_MISSING = object()


def _match(pattern: str, key: str) -> bool:
    if "*" not in pattern:
        return pattern == key
    import fnmatch

    return fnmatch.fnmatchcase(key, pattern)


def _include(value: Any, paths: list[list[str]]) -> Any:
    if any(not p for p in paths):
        return value
    if isinstance(value, list):
        items = [_include(v, paths) for v in value]
        items = [v for v in items if v is not _MISSING]
        return items if items else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out: dict[str, Any] = {}
    for key, child in value.items():
        rest: list[list[str]] = []
        for p in paths:
            if p[0] == "**":
                rest.append(p)  # ** matches any depth, including this one
                if len(p) > 1 and _match(p[1], key):
                    rest.append(p[2:])
            elif _match(p[0], key):
                rest.append(p[1:])
        if not rest:
            continue
        picked = _include(child, rest)
        if picked is not _MISSING:
            out[key] = picked
    return out if out else _MISSING


def _exclude(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_exclude(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, child in value.items():
        rest = [p[1:] for p in paths if _match(p[0], key)]
        if any(not r for r in rest):
            continue
        out[key] = _exclude(child, rest) if rest else child
    return out
