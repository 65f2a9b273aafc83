"""`_source` filtering: includes and excludes with dotted paths and `*` wildcards, as
Elasticsearch's XContentMapValues.filter applies them."""

from __future__ import annotations

import fnmatch
from typing import Any

from ..common.errors import ParsingError
from ..common.xcontent import token_name


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


def _is_scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, dict | list)


def check_fetch_source(value: Any, field: str = "_source") -> None:
    """Refuse a `_source` fetch specification that FetchSourceContext.fromXContent refuses:
    checked while the request is parsed, before anything is written, since an update
    applies its source filter only after its write."""
    if isinstance(value, bool | str):
        return
    if isinstance(value, list):
        for v in value:
            if not _is_scalar(v):
                raise ParsingError(f"Unknown key for a {token_name(v)} in [{field}].")
        return
    if isinstance(value, dict):
        for key, entries in value.items():
            known = key in ("includes", "include", "excludes", "exclude")
            if isinstance(entries, str) and known:
                continue
            if isinstance(entries, list) and known:
                for v in entries:
                    if not isinstance(v, str):
                        raise ParsingError(f"Unknown key for a {token_name(v)} in [{key}].")
                continue
            raise ParsingError(f"Unknown key for a {token_name(entries)} in [{key}].")
        return
    raise ParsingError("Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] "
                       f"but found [{token_name(value)}]")


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
