"""Elasticsearch's simple wildcard patterns (Regex.simpleMatch): `*` matches any run of
characters and nothing else is special, so a setting name with `?` or `[` is matched
literally, unlike shell globs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def simple_match(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    return _compiled(pattern).fullmatch(value) is not None


def simple_match_any(patterns: Iterable[str], value: str) -> bool:
    return any(simple_match(p, value) for p in patterns)


def patterns_overlap(first: str, second: str) -> bool:
    """Whether some name matches both simple patterns (the emptiness of the intersection
    of their automata, as MetadataIndexTemplateService checks it): walk both at once, a
    `*` on either side taking the other's next character or nothing."""

    @cache
    def walk(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            return walk(i + 1, j) or (j < len(second) and walk(i, j + 1))
        if j < len(second) and second[j] == "*":
            return walk(i, j + 1) or (i < len(first) and walk(i + 1, j))
        return i < len(first) and j < len(second) and first[i] == second[j] and walk(i + 1, j + 1)

    return walk(0, 0)


def any_patterns_overlap(first: Iterable[str], second: Iterable[str]) -> bool:
    second = list(second)
    return any(patterns_overlap(a, b) for a in first for b in second)
