"""Elasticsearch's simple wildcard patterns (Regex.simpleMatch): `*` matches any run of
characters and nothing else is special, so a setting name with `?` or `[` is matched
literally, unlike shell globs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def simple_match(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    return _compiled(pattern).fullmatch(value) is not None


def simple_match_any(patterns: Iterable[str], value: str) -> bool:
    return any(simple_match(p, value) for p in patterns)
