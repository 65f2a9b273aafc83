"""JSON in and out, the way Elasticsearch's XContent layer behaves.

Parse errors carry the line and column, as Jackson reports them, so a client sees where
its body went wrong. Responses may embed a document's original `_source` bytes untouched
(orjson.Fragment), which is both what Elasticsearch returns and cheaper than re-encoding.
"""

from __future__ import annotations

import json
from json.decoder import scanstring
from typing import Any

import orjson

from .errors import JsonParseError, ParseError, ParsingError, XContentParseError
from .suggest import did_you_mean

Fragment = orjson.Fragment
Location = tuple[int, int]

# Jackson's wording when, as in Elasticsearch, the source is left out of error locations.
_REDACTED_SOURCE = "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)"


def loads(body: bytes | str, *, line_offset: int = 0) -> Any:
    """Parse JSON, or raise x_content_parse_exception `[line:column] message` caused by a
    json_parse_exception, the pair Elasticsearch reports for a body Jackson cannot read.
    `line_offset` shifts line numbers for a slice of a larger body (a bulk line)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        line, column = e.lineno + line_offset, e.colno
        message = e.msg[:1].upper() + e.msg[1:]
        cause = JsonParseError(f"{message}\n at [Source: {_REDACTED_SOURCE}; line: {line}, column: {column}]")
        raise XContentParseError(message, line=line, column=column, caused_by=cause) from None


def loads_object(body: bytes, what: str = "request body") -> dict[str, Any]:
    """Parse a JSON object for an API that reads its body as a map; anything else is
    Elasticsearch's parse_exception "Failed to parse content to map"."""
    if not body or not body.strip():
        raise ParseError(f"{what} is required")
    try:
        value = loads(body)
    except XContentParseError as e:
        raise ParseError("Failed to parse content to map", caused_by=e) from None
    if not isinstance(value, dict):
        raise ParseError("Failed to parse content to map", caused_by=ParsingError(
            "Failed to parse object: expecting token of type [START_OBJECT] but found "
            f"[{token_name(value)}]"))
    return value


def token_name(value: Any) -> str:
    """The XContent token a JSON value starts with, for messages that name it."""
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, str):
        return "VALUE_STRING"
    if value is None:
        return "VALUE_NULL"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    return "VALUE_NUMBER"


def scalar_text(value: Any) -> str:
    """A scalar as XContentParser.text() renders it: `true`, `1`, `1.5`, or the string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_locations(body: bytes | str, *, line_offset: int = 0) -> dict[str, tuple[Location, Location]]:
    """Where each top-level field's name and value start, `(line, column)`, in a JSON
    object already known to parse, so a parser that rejects a field can say where it is,
    as Elasticsearch's ObjectParser does. orjson keeps no positions, hence this scan."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    decoder = json.JSONDecoder()
    out: dict[str, tuple[Location, Location]] = {}

    def where(pos: int) -> Location:
        return (text.count("\n", 0, pos) + 1 + line_offset, pos - (text.rfind("\n", 0, pos) + 1) + 1)

    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        return out
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] == '"':
        key_at = pos
        key, pos = scanstring(text, pos + 1)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the colon
        out[key] = (where(key_at), where(pos))
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return out


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


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


class ObjectFields:
    """A request body read as Elasticsearch's ObjectParser reads one: a JSON object whose
    fields must be known and of an accepted token type, every problem an
    x_content_parse_exception named for the parser and located at the field."""

    def __init__(self, parser: str, raw: bytes, fields: dict[str, tuple[str, ...]], *, line_offset: int = 0):
        self.parser = parser
        self.fields = fields
        body = loads(raw, line_offset=line_offset)
        if not isinstance(body, dict):
            raise XContentParseError(f"[{parser}] Expected START_OBJECT but was: {token_name(body)}",
                                     line=1 + line_offset, column=1)
        self.body: dict[str, Any] = body
        self._where = field_locations(raw, line_offset=line_offset)

    def fail(self, key: str, message: str, *, at_name: bool = False,
             cause: BaseException | None = None) -> XContentParseError:
        line, column = self._where[key][0 if at_name else 1]
        return XContentParseError(f"[{self.parser}] {message}", line=line, column=column, caused_by=cause)

    def items(self):
        """The fields in body order, each checked to be known and of an accepted type."""
        for key, value in self.body.items():
            accepted = self.fields.get(key)
            if accepted is None:
                raise self.fail(key, f"unknown field [{key}]{did_you_mean(key, self.fields)}", at_name=True)
            if token_name(value) not in accepted:
                raise self.fail(key, f"{key} doesn't support values of type: {token_name(value)}")
            yield key, value
