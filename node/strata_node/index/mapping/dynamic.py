"""Dynamic mapping: the field Elasticsearch maps for a value it has not seen before
(DynamicFieldsBuilder).

Strings become `text` with a `keyword` sub-field (ignore_above 256), unless date
detection finds a date (never for text that reads as a number, which formats such as
epoch_millis would also accept) or numeric detection, when enabled, finds a number.
Whole numbers become `long`, other numbers `float` (not double: smaller, and enough
most of the time), booleans `boolean`.
"""

from __future__ import annotations

from typing import Any

from .dates import DEFAULT_FORMAT, DateParseError, formatter
from .mappers import FieldMapper, RootMapper
from .numbers import is_java_double, is_java_long

_KEYWORD_SUB = {"ignore_above": 256}


def _text(name: str, path: str) -> FieldMapper:
    keyword = FieldMapper("keyword", f"{path}.keyword", "keyword", dict(_KEYWORD_SUB))
    return FieldMapper(name, path, "text", {}, {"keyword": keyword})


def infer_field(root: RootMapper, name: str, path: str, value: Any) -> FieldMapper:
    """The mapper for a scalar (not null) seen for the first time."""
    cls = value.__class__
    if cls is str:
        long_like = is_java_long(value)
        double_like = long_like or is_java_double(value)
        if root.numeric_detection:
            if long_like:
                return FieldMapper(name, path, "long", {})
            if double_like:
                return FieldMapper(name, path, "float", {})
        if not double_like and root.date_detection is not False:
            for pattern in root.effective_date_formats:
                try:
                    formatter(pattern).parse_millis(value)
                except DateParseError:
                    continue
                params = {} if pattern == DEFAULT_FORMAT else {"format": pattern}
                return FieldMapper(name, path, "date", params)
        return _text(name, path)
    if cls is bool:
        return FieldMapper(name, path, "boolean", {})
    if cls is int:
        return FieldMapper(name, path, "long", {})
    if cls is float:
        return FieldMapper(name, path, "float", {})
    raise TypeError(f"no dynamic mapping for {cls.__name__}")
