"""The errors a mapping or a document can raise, worded as Elasticsearch words them.

Mapping definitions that do not parse are wrapped once, at the API boundary, in
"Failed to parse mapping: ..." (MapperService does the same for index creation and for
put-mapping); merge conflicts and cross-field checks are illegal_argument_exception and
are not wrapped. Documents that do not fit their mapping fail with
mapper_parsing_exception (Elasticsearch 8.8+ calls it document_parsing_exception; the
errors module explains the choice).
"""

from __future__ import annotations

from typing import Any

from ...common.errors import IllegalArgument, IllegalState, MapperParsingError, NumberFormatError, StrataError


class MappingParseError(MapperParsingError):
    """A mapping definition that cannot be read."""


class FailedToParseMapping(MapperParsingError):
    """The wrapper MapperService puts around any failure to read a mapping. Its root
    cause is the inner exception when that is itself an Elasticsearch exception (as
    ElasticsearchException.guessRootCauses walks causes), the wrapper otherwise."""

    def __init__(self, cause: StrataError):
        super().__init__(f"Failed to parse mapping: {cause.reason}", caused_by=cause)
        self.wraps_root_cause = isinstance(cause, MapperParsingError)


class DocumentParseError(MapperParsingError):
    """A document that does not fit its mapping; the item fails, the index is unchanged."""

    def __init__(self, reason: str, *, caused_by: BaseException | None = None):
        super().__init__(reason, caused_by=caused_by)
        # "failed to parse: ..." wraps an Elasticsearch exception (a metadata field in
        # the document) whose reason is then the root cause; Java exceptions are not.
        self.wraps_root_cause = isinstance(caused_by, MapperParsingError)


class StrictDynamicMapping(MapperParsingError):
    type = "strict_dynamic_mapping_exception"
    status = 400

    def __init__(self, parent: str, field: str):
        super().__init__(f"[dynamic] set to [strict], dynamic introduction of [{field}] within "
                         f"[{parent}] is not allowed")


class MalformedValue(Exception):
    """A value that does not fit a field's type: `cause` is what Elasticsearch reports as
    caused_by (a Java exception, so never the root cause)."""

    __slots__ = ("cause",)

    def __init__(self, cause: StrataError):
        super().__init__(cause.reason)
        self.cause = cause


class EmptyNumber(MalformedValue):
    """An empty string in a numeric field that coerces, which Elasticsearch's
    NumberFieldMapper reads as null (so `null_value` applies): raised, not returned, so the
    document parser's fast path sends it to the slow path that substitutes."""

    def __init__(self) -> None:
        Exception.__init__(self, "an empty number")
        self.cause = None


def illegal(reason: str) -> MalformedValue:
    return MalformedValue(IllegalArgument(reason))


def number_format(text: str) -> MalformedValue:
    return MalformedValue(NumberFormatError(f'For input string: "{text}"'))


def not_text(value: Any) -> MalformedValue:
    token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
    return MalformedValue(IllegalState(f"Can't get text on a {token}"))


def java_string(value: Any) -> str:
    """A value as Java's toString prints it, which Elasticsearch uses in its messages:
    maps as `{a=1, b=x}`, lists as `[1, 2]`, null as `null`."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def java_class(value: Any) -> str:
    """The Java class Elasticsearch's map parser would have made of a JSON value."""
    if isinstance(value, bool):
        return "class java.lang.Boolean"
    if isinstance(value, int):
        return "class java.lang.Integer" if -(1 << 31) <= value < (1 << 31) else "class java.lang.Long"
    if isinstance(value, float):
        return "class java.lang.Double"
    if isinstance(value, str):
        return "class java.lang.String"
    if isinstance(value, list):
        return "class java.util.ArrayList"
    return "class java.util.LinkedHashMap"
