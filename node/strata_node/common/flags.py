"""Boolean request parameters as Elasticsearch reads them (Booleans.parseBoolean with a
default): one reader for the URL parameters of every REST handler and for the search
request's own, so `?explain`, `?explain=true` and `?explain=yes` mean the same (or fail
the same way) wherever they appear."""

from __future__ import annotations

from typing import Any

from .errors import IllegalArgument


def parse_flag(value: Any, default: bool) -> bool:
    """Absent (None) is `default`; empty (a bare `?name`) or "true" is true, "false" false;
    JSON booleans (msearch header lines) are taken as they are. Anything else is refused."""
    if value is None:
        return default
    if value in ("", "true", True):
        return True
    if value in ("false", False):
        return False
    raise IllegalArgument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
