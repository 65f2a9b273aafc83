"""Partial updates: reading an update body as Elasticsearch's UpdateRequest parser does,
merging a `doc` into the current source (objects merge recursively, every other value
replaces), and detecting no-ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..common.errors import IllegalArgument, NumberFormatError, StrataError
from ..common.xcontent import ObjectFields
from .source_filter import check_fetch_source

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


def merge(current: dict[str, Any], changes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Returns the merged document and whether anything changed."""
    merged = dict(current)
    changed = False
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            child, child_changed = merge(old, value)
            merged[key] = child
            changed |= child_changed
        else:
            if key not in merged or old != value or type(old) is not type(value):
                changed = True
            merged[key] = value
    return merged, changed


@dataclass
class UpdateSpec:
    doc: dict[str, Any] | None = None
    upsert: dict[str, Any] | None = None
    doc_as_upsert: bool = False
    detect_noop: bool = True
    fetch_source: Any = None  # the `_source` of the update body, for the `get` section
    if_seq_no: int | None = None  # compare-and-set may also come in the body
    if_primary_term: int | None = None


PARSER_NAME = "UpdateRequest"
# The fields of UpdateRequest's ObjectParser and the tokens each accepts.
_FIELDS: dict[str, tuple[str, ...]] = {
    "script": ("START_OBJECT", "VALUE_STRING"),
    "scripted_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "upsert": ("START_OBJECT",),
    "doc": ("START_OBJECT",),
    "doc_as_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "detect_noop": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "_source": ("START_OBJECT", "START_ARRAY", "VALUE_BOOLEAN", "VALUE_STRING"),
    "if_seq_no": ("VALUE_NUMBER", "VALUE_STRING"),
    "if_primary_term": ("VALUE_NUMBER", "VALUE_STRING"),
}


def parse_update_body(raw: bytes, *, line_offset: int = 0) -> UpdateSpec:
    """Read an update body. Problems are x_content_parse_exception located at the field,
    worded as Elasticsearch's ObjectParser words them. An empty body is an empty update,
    which validation then refuses ("script or doc is missing")."""
    spec = UpdateSpec()
    if not raw.strip():
        return spec
    body = ObjectFields(PARSER_NAME, raw, _FIELDS, line_offset=line_offset)
    fail = body.fail
    for key, value in body.items():
        if key in ("script", "scripted_upsert"):
            raise IllegalArgument("scripted updates are not supported by Strata: use [doc] or [upsert]")
        if key in ("doc_as_upsert", "detect_noop"):
            if isinstance(value, str):
                if value not in ("true", "false"):
                    raise fail(key, f"failed to parse field [{key}]", cause=IllegalArgument(
                        f"Failed to parse value [{value}] as only [true] or [false] are allowed."))
                value = value == "true"
            setattr(spec, key, value)
        elif key in ("if_seq_no", "if_primary_term"):
            try:
                setattr(spec, key, as_long(value))
            except NumberFormatError as e:
                raise fail(key, f"failed to parse field [{key}]", cause=e) from None
        elif key == "_source":
            try:
                check_fetch_source(value)
            except StrataError as e:
                raise fail(key, f"failed to parse field [{key}]", cause=e) from None
            spec.fetch_source = value
        else:
            setattr(spec, key, value)
    return spec


def as_long(value: Any) -> int:
    """A long from a JSON number or numeric string, as XContentParser.longValue reads one."""
    if isinstance(value, str):
        try:
            value = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            raise NumberFormatError(f'For input string: "{value}"') from None
    if isinstance(value, float):
        if not value.is_integer():
            raise NumberFormatError(f"Value [{value}] has a decimal part")
        if not LONG_MIN <= value <= LONG_MAX:
            raise IllegalArgument(f"Value [{value}] is out of range for a long")
        value = int(value)
    if not LONG_MIN <= value <= LONG_MAX:
        raise IllegalArgument(f"Value [{value}] is out of range for a long")
    return value
