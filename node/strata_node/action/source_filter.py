"""`_source` filtering: includes and excludes with dotted paths and `*` wildcards, as
Elasticsearch's XContentMapValues.filter applies them."""

from __future__ import annotations

import fnmatch
from typing import Any


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _could_match_below(path: str, patterns: list[str]) -> bool:
    prefix = path + "."
    return any(p.startswith(prefix) or ("*" in p and fnmatch.fnmatchcase(prefix, p.split("*")[0] + "*"))
               for p in patterns)


def filter_source(source: Any, includes: list[str], excludes: list[str], prefix: str = "") -> Any:
    if not isinstance(source, dict):
        return source
    out: dict[str, Any] = {}
    for key, value in source.items():
        path = f"{prefix}{key}"
        if excludes and _matches(path, excludes):
            continue
        if not includes or _matches(path, includes):
            # fully included; excludes may still reach below
            out[key] = _apply_excludes(value, excludes, path + ".") if excludes else value
        elif _could_match_below(path, includes):
            if isinstance(value, dict):
                child = filter_source(value, includes, excludes, path + ".")
                if child:
                    out[key] = child
            elif isinstance(value, list):
                items = [filter_source(v, includes, excludes, path + ".")
                         for v in value if isinstance(v, dict)]
                items = [v for v in items if v]
                if items:
                    out[key] = items
    return out


def _apply_excludes(value: Any, excludes: list[str], prefix: str) -> Any:
    if isinstance(value, dict):
        return {k: _apply_excludes(v, excludes, prefix + k + ".") for k, v in value.items()
                if not _matches(prefix + k, excludes)}
    if isinstance(value, list):
        return [_apply_excludes(v, excludes, prefix) for v in value]
    return value


def parse_source_param(value: Any) -> tuple[bool, list[str], list[str]]:
    """The `_source` of a request (parameter or body): bool, list, string or object.
    Returns (fetch, includes, excludes)."""
    if value is None:
        return True, [], []
    if isinstance(value, bool):
        return value, [], []
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true", [], []
        return True, [v for v in value.split(",") if v], []
    if isinstance(value, list):
        return True, [str(v) for v in value], []
    if isinstance(value, dict):
        inc = value.get("includes", value.get("include", []))
        exc = value.get("excludes", value.get("exclude", []))
        inc = [inc] if isinstance(inc, str) else list(inc or [])
        exc = [exc] if isinstance(exc, str) else list(exc or [])
        return True, inc, exc
    return True, [], []
