"""Cluster state diffs: what a follower that has the previous state needs to build the
next one.

A state is diffed as plain data (msgspec builtins): a map is diffed key by key, recursing
into maps present on both sides, so a change to one index's settings sends that index's
changed keys only; anything else that differs is sent whole. `apply` rebuilds exactly the
new data from the old, which the receiver checks by the (term, version) it expects.
"""

from __future__ import annotations

from typing import Any

SET, DELETE, NESTED = "s", "d", "n"


def diff(old: Any, new: Any) -> dict[str, Any]:
    """A diff of two maps: {"s": {key: new value}, "d": [removed keys], "n": {key: diff}}."""
    changes: dict[str, Any] = {}
    replaced = {}
    nested = {}
    for key, value in new.items():
        if key not in old:
            replaced[key] = value
            continue
        before = old[key]
        if before == value:
            continue
        if isinstance(before, dict) and isinstance(value, dict):
            nested[key] = diff(before, value)
        else:
            replaced[key] = value
    removed = [key for key in old if key not in new]
    if replaced:
        changes[SET] = replaced
    if removed:
        changes[DELETE] = removed
    if nested:
        changes[NESTED] = nested
    return changes


def apply(old: Any, changes: dict[str, Any]) -> Any:
    result = dict(old)
    for key in changes.get(DELETE, ()):
        result.pop(key, None)
    for key, value in changes.get(SET, {}).items():
        result[key] = value
    for key, sub in changes.get(NESTED, {}).items():
        result[key] = apply(old[key], sub)
    return result
