"""Mapping parameters: how each is read from a definition, its default, whether a
mapping update may change it, and how it prints in the normalized mapping.

Mirrors FieldMapper.Parameter: a parameter is printed when it was set to something other
than its default (`explicit` ones, Elasticsearch's Explicit<Boolean>, whenever set), and
a mapping update may change only `updatable` ones; any other difference is a conflict,
"Cannot update parameter [index] from [true] to [false]".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...common.errors import IllegalArgument, NumberFormatError
from ...common.units import INT_MAX, INT_MIN
from .errors import MappingParseError, java_class, java_string


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    parse: Callable[[Any, str], Any]  # (value, field name) -> normalized value
    updatable: bool = False
    explicit: bool = False
    accepts_null: bool = False
    render: Callable[[Any], Any] = field(default=lambda v: v)
    show: Callable[[Any], str] = java_string  # how a conflict message prints the value
    # Unset, it may be set by an update (or a document); set, an update may leave it out
    # but not change it (constant_keyword's value).
    set_once: bool = False

    def renamed(self, name: str) -> Param:
        return Param(name, self.default, self.parse, self.updatable, self.explicit, self.accepts_null,
                     self.render, self.show, self.set_once)

    def printed(self, params: dict[str, Any]) -> bool:
        if self.name not in params:
            return False
        return self.explicit or params[self.name] != self.default


def parse_bool(value: Any, name: str = "") -> bool:
    """XContentMapValues.nodeBooleanValue: a boolean, or the strings true and false."""
    if value is True or value is False:
        return value
    text = java_string(value)
    if text in ("true", "false"):
        return text == "true"
    raise IllegalArgument(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")


def parse_int(value: Any, name: str = "") -> int:
    """XContentMapValues.nodeIntegerValue: numbers are truncated, strings must parse."""
    if isinstance(value, bool):
        raise IllegalArgument(f"Failed to parse value [{java_string(value)}] as an integer")
    if isinstance(value, float):  # a double's (int) cast: saturated, NaN is 0
        return 0 if value != value else int(max(INT_MIN, min(INT_MAX, value)))
    if isinstance(value, int):  # Number.intValue() of a long or BigInteger: its low 32 bits
        return (value - INT_MIN) % (1 << 32) + INT_MIN
    text = java_string(value)
    try:
        number = int(text)
    except ValueError:
        raise NumberFormatError(f'For input string: "{text}"') from None
    if not INT_MIN <= number <= INT_MAX:
        raise NumberFormatError(f'For input string: "{text}"')
    return number


def parse_string(value: Any, name: str = "") -> str:
    return java_string(value)


def bool_param(name: str, default: bool, *, updatable: bool = False, explicit: bool = False) -> Param:
    return Param(name, default, parse_bool, updatable=updatable, explicit=explicit)


def int_param(name: str, default: int, *, updatable: bool = False, minimum: int | None = None) -> Param:
    def parse(value: Any, field_name: str) -> int:
        number = parse_int(value, field_name)
        if minimum is not None and number < minimum:
            raise IllegalArgument(f"[{name}] must be positive, got [{number}]")
        return number

    return Param(name, default, parse, updatable=updatable)


def choice_param(name: str, default: str, choices: Sequence[str], *, updatable: bool = False) -> Param:
    """FieldMapper.Parameter.restrictedStringParam."""
    def parse(value: Any, field_name: str) -> str:
        text = java_string(value)
        if text not in choices:
            raise MappingParseError(f"Unknown value [{text}] for field [{name}] - accepted values are "
                                    f"[{', '.join(choices)}]")
        return text

    return Param(name, default, parse, updatable=updatable)


def string_param(name: str, default: str | None, *, updatable: bool = False,
                 check: Callable[[str, str], None] | None = None) -> Param:
    def parse(value: Any, field_name: str) -> str:
        text = java_string(value)
        if check is not None:
            check(text, field_name)
        return text

    return Param(name, default, parse, updatable=updatable)


def _parse_meta(value: Any, field_name: str) -> dict[str, Any]:
    """TypeParsers.parseMeta: a small map of short strings, for people, never read."""
    if not isinstance(value, dict):
        raise MappingParseError(f"[meta] must be an object, got {java_class(value).rsplit('.', 1)[-1]}"
                                f"[{java_string(value)}] for field [{field_name}]")
    if len(value) > 5:
        raise MappingParseError(f"[meta] can't have more than 5 entries, but got {len(value)} on field "
                                f"[{field_name}]")
    for key, entry in value.items():
        if len(key) > 20:
            raise MappingParseError(f"[meta] keys can't be longer than 20 chars, but got [{key}] for field "
                                    f"[{field_name}]")
        if not isinstance(entry, str):
            kind = "null" if entry is None else java_class(entry).rsplit(".", 1)[-1]
            raise MappingParseError(f"[meta] values can only be strings, but got {kind}"
                                    f"[{java_string(entry)}] for field [{field_name}]")
        if len(entry) > 50:
            raise MappingParseError(f"[meta] values can't be longer than 50 chars, but got [{entry}] for "
                                    f"field [{field_name}]")
    return dict(value)


META = Param("meta", {}, _parse_meta, updatable=True)
INDEX = bool_param("index", True)
DOC_VALUES = bool_param("doc_values", True)
STORE = bool_param("store", False)
IGNORE_MALFORMED = bool_param("ignore_malformed", False, updatable=True, explicit=True)
COERCE = bool_param("coerce", True, updatable=True, explicit=True)
EAGER_GLOBAL_ORDINALS = bool_param("eager_global_ordinals", False, updatable=True)
SIMILARITY = choice_param("similarity", "BM25", ("BM25", "boolean"))
TERM_VECTOR = choice_param("term_vector", "no", ("no", "yes", "with_positions", "with_offsets",
                                                 "with_positions_offsets", "with_positions_payloads",
                                                 "with_positions_offsets_payloads"))


def null_value_param(parse: Callable[[Any, str], Any], render: Callable[[Any], Any] = lambda v: v) -> Param:
    return Param("null_value", None, parse, accepts_null=True, render=render)
