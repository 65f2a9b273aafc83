"""The field types Strata maps: their parameters and how a document value becomes the
value the index holds.

Every converter takes a JSON value (never null: the document parser substitutes
`null_value` first) and returns the normalized value, or raises MalformedValue with the
cause Elasticsearch reports. Normalized values: text and keyword as strings, whole
numbers as int, double and float as float (float at single precision), dates as epoch
milliseconds, ip as canonical text, booleans as bool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...common.errors import IllegalArgument, StrataError
from . import geo, numbers
from .dates import DEFAULT_FORMAT, DateParseError, formatter
from .errors import MalformedValue, MappingParseError, illegal, java_string, not_text
from .ip import canonical_ip, convert_ip
from .params import (
    COERCE,
    DOC_VALUES,
    EAGER_GLOBAL_ORDINALS,
    IGNORE_MALFORMED,
    INDEX,
    META,
    SIMILARITY,
    STORE,
    TERM_VECTOR,
    Param,
    bool_param,
    choice_param,
    int_param,
    null_value_param,
    parse_bool,
    parse_string,
    string_param,
)

IGNORE_ABOVE_DEFAULT = 2147483647


@dataclass(frozen=True)
class FieldType:
    name: str
    params: dict[str, Param]
    # (resolved parameter getter, the field's path) -> converter
    converter: Callable[[Callable[[str], Any], str], Callable[[Any], Any]]
    required: tuple[str, ...] = ()  # parameters a definition must give
    # Fills in, on a definition's parsed parameters, those whose value depends on others
    # and must be kept to be printed (the analyzers of a text field).
    complete: Callable[[dict[str, Any]], None] | None = None


def text_of(value: Any) -> str:
    """XContentParser.text() of a scalar: what a text or keyword field indexes."""
    cls = value.__class__
    if cls is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is int or cls is float:
        return str(value)
    raise not_text(value)


def _text_converter(get: Callable[[str], Any], path: str) -> Callable[[Any], str]:
    return text_of


def analyzers_in_effect(params: dict[str, Any]) -> tuple[str, str, str]:
    """A text field's index, search and search-quote analyzers (TextParams.Analyzers): the
    search analyzer defaults to the index analyzer, the search-quote one to the search one."""
    analyzer = params.get("analyzer", "default")
    search = params.get("search_analyzer", analyzer)
    return analyzer, search, params.get("search_quote_analyzer", search)


@dataclass(frozen=True)
class _AnalyzerParam(Param):
    """An analyzer of a text field, printed by TextParams.Analyzers' serializer checks: each
    when configured (set to something other than what it defaults to), and besides, the
    index analyzer whenever it differs from the search or search-quote analyzer, the
    search analyzer whenever it differs from the search-quote one, so that the printed
    mapping reads back to the same analyzers. (An index's `default_search` analyzer, which
    ES also takes as the search default, is not considered.)"""

    def printed(self, params: dict[str, Any]) -> bool:
        analyzer, search, quote = analyzers_in_effect(params)
        if self.name == "analyzer":
            return analyzer != "default" or analyzer != search or analyzer != quote
        if self.name == "search_analyzer":
            return search != analyzer or search != quote
        return quote != search


def _complete_analyzers(params: dict[str, Any]) -> None:
    """The analyzers a printed mapping needs that the definition left to their defaults:
    the index analyzer beside a search or search-quote one, the search analyzer beside a
    search-quote one (see _AnalyzerParam)."""
    if "search_analyzer" in params or "search_quote_analyzer" in params:
        params.setdefault("analyzer", "default")
    if "search_quote_analyzer" in params:
        params.setdefault("search_analyzer", params["analyzer"])


def _analyzer_param(name: str, updatable: bool) -> Param:
    plain = string_param(name, "default", updatable=updatable)
    return _AnalyzerParam(name, plain.default, plain.parse, updatable=updatable)


TEXT = FieldType("text", {p.name: p for p in (
    _analyzer_param("analyzer", False),
    _analyzer_param("search_analyzer", True),
    _analyzer_param("search_quote_analyzer", True),
    INDEX,
    STORE,
    choice_param("index_options", "positions", ("positions", "docs", "freqs", "offsets")),
    bool_param("norms", True, updatable=True),
    int_param("position_increment_gap", 100, minimum=0),
    bool_param("fielddata", False, updatable=True),
    EAGER_GLOBAL_ORDINALS,
    SIMILARITY,
    TERM_VECTOR,
    bool_param("index_phrases", False),
    META,
)}, _text_converter, complete=_complete_analyzers)


def _keyword_null(value: Any, field: str) -> str | None:
    return None if value is None else parse_string(value, field)


KEYWORD = FieldType("keyword", {p.name: p for p in (
    INDEX,
    DOC_VALUES,
    STORE,
    null_value_param(_keyword_null),
    int_param("ignore_above", IGNORE_ABOVE_DEFAULT, updatable=True, minimum=0),
    choice_param("index_options", "docs", ("docs", "freqs")),
    null_value_param(lambda value, field: None if value is None else parse_string(value, field))
    .renamed("normalizer"),
    bool_param("norms", False, updatable=True),
    EAGER_GLOBAL_ORDINALS,
    SIMILARITY,
    bool_param("split_queries_on_whitespace", False, updatable=True),
    META,
)}, _text_converter)


def _number_type(name: str) -> FieldType:
    def null_value(value: Any, field: str) -> int | float | None:
        if value is None:
            return None
        try:
            return numbers.parse_null_value(name, value)
        except MalformedValue as e:
            raise e.cause from None

    def converter(get: Callable[[str], Any], path: str) -> Callable[[Any], int | float]:
        return numbers.converter(name, get("coerce"))

    return FieldType(name, {p.name: p for p in (
        INDEX, DOC_VALUES, STORE, null_value_param(null_value), IGNORE_MALFORMED, COERCE, META,
    )}, converter)


def _unsigned_null(value: Any, field: str) -> str | None:
    """Checked as a document value is, and kept as text, as UnsignedLongFieldMapper keeps
    it (the mapping then shows it as a string)."""
    if value is None:
        return None
    try:
        numbers.parse_unsigned(value)
    except MalformedValue as e:
        cause = e.cause.reason if e.cause is not None else 'For input string: ""'  # EmptyNumber: ""
        raise MappingParseError(f"Error parsing [null_value] on field [{field}]: {cause}") from None
    return text_of(value) if value.__class__ is not float else numbers.java_double(value)


# No `coerce`: unsigned_long never truncates a decimal part.
UNSIGNED_LONG = FieldType(numbers.UNSIGNED, {p.name: p for p in (
    INDEX, DOC_VALUES, STORE, null_value_param(_unsigned_null), IGNORE_MALFORMED, META,
)}, lambda get, path: numbers.parse_unsigned)


def _scaling_factor(value: Any, field: str) -> float:
    if value.__class__ is str:
        try:
            number = float(value.strip())
        except ValueError:
            raise MappingParseError(f'For input string: "{value}"') from None
    elif value.__class__ in (int, float):
        number = float(value)
    else:
        raise MappingParseError(f"[scaling_factor] must be a positive number, got [{value}]")
    if not (math.isfinite(number) and number > 0):
        shown = repr(number) if math.isfinite(number) else "NaN" if math.isnan(number) \
            else "Infinity" if number > 0 else "-Infinity"
        raise MappingParseError(f"[scaling_factor] must be a positive number, got [{shown}]")
    return number


def _scaled_null(value: Any, field: str) -> float | None:
    if value is None:
        return None
    try:
        return numbers.parse_null_value("double", value)
    except MalformedValue as e:
        raise e.cause from None


SCALED_FLOAT = FieldType("scaled_float", {p.name: p for p in (
    Param("scaling_factor", None, _scaling_factor, explicit=True),
    INDEX, DOC_VALUES, STORE, null_value_param(_scaled_null), IGNORE_MALFORMED, COERCE, META,
)}, lambda get, path: numbers.scaled_float_converter(get("scaling_factor"), get("coerce")),
    required=("scaling_factor",))


def _check_format(text: str, field: str) -> None:
    formatter(text)  # raises IllegalArgument("Invalid format: [...]: ...")


def _check_locale(text: str, field: str) -> None:
    # Names of months and days are read in English; other locales would read differently.
    language = text.replace("-", "_").split("_", 1)[0].lower()
    if language not in ("", "en", "root"):
        raise IllegalArgument(f"locale [{text}] is not supported: Strata reads dates in English (ROOT) only")


def _date_null(value: Any, field: str) -> str | None:
    return None if value is None else parse_string(value, field)


def _date_converter(get: Callable[[str], Any], path: str) -> Callable[[Any], int]:
    date_format = formatter(get("format"))
    parse, fast = date_format.parse_millis, date_format.fast

    def convert(value: Any) -> int:
        cls = value.__class__
        if cls is str:
            if fast is not None:
                millis = fast(value)
                if millis is not None:
                    return millis
            text = value
        elif cls is int or cls is float or cls is bool:
            text = text_of(value)
        else:
            raise not_text(value)
        try:
            return parse(text)
        except DateParseError as e:
            raise illegal(str(e)) from None

    return convert


DATE = FieldType("date", {p.name: p for p in (
    INDEX, DOC_VALUES, STORE,
    string_param("format", DEFAULT_FORMAT, check=_check_format),
    string_param("locale", "ROOT", check=_check_locale),
    null_value_param(_date_null),
    IGNORE_MALFORMED,
    META,
)}, _date_converter)


def _boolean_null(value: Any, field: str) -> bool | None:
    return None if value is None else parse_bool(value, field)


def _convert_boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    if value.__class__ is str:
        if value == "true":
            return True
        if value == "false" or value == "":
            return False  # Booleans.parseBoolean's default for empty text
        raise illegal(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    if isinstance(value, dict | list):
        raise not_text(value)
    raise illegal(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


BOOLEAN = FieldType("boolean", {p.name: p for p in (
    INDEX, DOC_VALUES, STORE, null_value_param(_boolean_null), IGNORE_MALFORMED, META,
)}, lambda get, path: _convert_boolean)


def _ip_null(value: Any, field: str) -> str | None:
    return None if value is None else parse_string(value, field)


IP = FieldType("ip", {p.name: p for p in (
    INDEX, DOC_VALUES, STORE, null_value_param(_ip_null), IGNORE_MALFORMED, META,
)}, lambda get, path: convert_ip)


def _constant_converter(get: Callable[[str], Any], path: str) -> Callable[[Any], str]:
    """A constant_keyword field's values: its text, which must be the constant once the
    mapping has one (ConstantKeywordFieldMapper.parseCreateField)."""
    constant = get("value")

    def convert(value: Any) -> str:
        text = text_of(value)
        if constant is not None and text != constant:
            raise illegal(f"[constant_keyword] field [{path}] only accepts values that are equal to the "
                          f"value defined in the mappings [{constant}], but got [{text}]")
        return text

    return convert


def _constant_value(value: Any, field: str) -> str:
    if value.__class__ not in (str, int, float):
        raise MappingParseError(f"Property [value] on field [{field}] must be a number or a string, but got "
                                f"[{java_string(value)}]")
    return text_of(value)


# Every document of the index has the one value (the mapping's, or the first document's
# when the mapping leaves it out): nothing is indexed, queries compare the constant.
CONSTANT_KEYWORD = FieldType("constant_keyword", {p.name: p for p in (
    Param("value", None, _constant_value, set_once=True),
    META,
)}, _constant_converter)


def _geo_null(value: Any, field: str) -> Any:
    return value  # read as a point when the mapper resolves it (resolve_null_value)


GEO_POINT = FieldType("geo_point", {p.name: p for p in (
    INDEX, DOC_VALUES, STORE, null_value_param(_geo_null), IGNORE_MALFORMED,
    bool_param("ignore_z_value", True, updatable=True, explicit=True), META,
)}, lambda get, path: geo.converter(path, get("ignore_malformed"), get("ignore_z_value")))


FIELD_TYPES: dict[str, FieldType] = {t.name: t for t in (
    TEXT, KEYWORD, DATE, BOOLEAN, IP, SCALED_FLOAT, CONSTANT_KEYWORD, GEO_POINT, UNSIGNED_LONG,
    *(_number_type(n) for n in numbers.NUMERIC_TYPES if n != SCALED_FLOAT.name),
)}


def resolve_null_value(type_name: str, field: str, raw: Any, get: Callable[[str], Any]) -> Any:
    """`null_value` as the index holds it: dates and addresses are read when the mapping
    is parsed, as DateFieldMapper and IpFieldMapper read them, so a bad one fails there."""
    if raw is None:
        return None
    if type_name == "date":
        try:
            return formatter(get("format")).parse_millis(raw)
        except DateParseError as e:
            raise MappingParseError(f"Error parsing [null_value] on field [{field}]: {e}") from None
    if type_name == numbers.UNSIGNED:
        return numbers.parse_unsigned(raw)
    if type_name == "scaled_float":  # held rounded to the scale, as any value is
        return numbers.scaled(raw, get("scaling_factor"))
    if type_name == "ip":
        try:
            return canonical_ip(raw)
        except ValueError:
            raise MappingParseError(f"Error parsing [null_value] on field [{field}]: '{raw}' is not an IP "
                                    "string literal.") from None
    if type_name == "geo_point":
        try:
            lat, lon = geo.parse_point(raw, get("ignore_z_value"))
            return geo.encode(*geo.checked(lat, lon, field, get("ignore_malformed")))
        except StrataError as e:
            raise MappingParseError(f"Error parsing [null_value] on field [{field}]: {e.reason}") from None
    return raw


__all__ = ["CONSTANT_KEYWORD", "FIELD_TYPES", "IGNORE_ABOVE_DEFAULT", "FieldType", "StrataError",
           "resolve_null_value", "text_of"]
