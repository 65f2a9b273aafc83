"""Request parameters read as Elasticsearch's RestRequest reads them, for the REST layer
and for actions that take the URL's parameters whole (the bulk-by-scroll requests)."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import IllegalArgument, ParseError
from .units import java_int, parse_time


def int_param(params: Mapping[str, str], name: str) -> int | None:
    """A Java int (None when absent), refused in RestRequest.paramAsInt's words."""
    value = params.get(name)
    if value is None:
        return None
    number = java_int(value)
    if number is None:
        raise IllegalArgument(f"Failed to parse int parameter [{name}] with value [{value}]")
    return number


def time_param(params: Mapping[str, str], name: str) -> float | None:
    """A time value in seconds (None when absent), refused as TimeValue.parseTimeValue does."""
    value = params.get(name)
    if value is None:
        return None
    try:
        return parse_time(value, name)
    except ValueError as e:
        raise ParseError(str(e)) from None
