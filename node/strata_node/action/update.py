"""Partial updates: merging a `doc` into the current source as Elasticsearch does
(objects merge recursively, every other value replaces), and detecting no-ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..common.errors import ActionRequestValidation, IllegalArgument


def merge(current: dict[str, Any], changes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Returns the merged document and whether anything changed."""
    merged = dict(current)
    changed = False
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            child, child_changed = merge(old, value)
            merged[key] = child
            changed |= child_changed
        else:
            if key not in merged or old != value or type(old) is not type(value):
                changed = True
            merged[key] = value
    return merged, changed


@dataclass
class UpdateSpec:
    doc: dict[str, Any] | None = None
    upsert: dict[str, Any] | None = None
    doc_as_upsert: bool = False
    detect_noop: bool = True
    fetch_source: Any = None  # the `_source` of the update body, for the `get` section


_KNOWN = {"doc", "upsert", "doc_as_upsert", "detect_noop", "_source", "script", "scripted_upsert",
          "lang", "params"}


def parse_update_body(body: Any) -> UpdateSpec:
    if not isinstance(body, dict):
        raise IllegalArgument("update request body must be an object")
    for key in body:
        if key not in _KNOWN:
            raise IllegalArgument(f"[UpdateRequest] unknown field [{key}]")
    if "script" in body or body.get("scripted_upsert"):
        raise IllegalArgument("scripted updates are not supported by Strata: use [doc] or [upsert]")
    spec = UpdateSpec(fetch_source=body.get("_source"))
    for key in ("doc", "upsert"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise IllegalArgument(f"[UpdateRequest] [{key}] must be an object, found [{value}]")
        setattr(spec, key, value)
    for key in ("doc_as_upsert", "detect_noop"):
        if key in body:
            if not isinstance(body[key], bool):
                raise IllegalArgument(f"[UpdateRequest] failed to parse field [{key}]: "
                                      f"expected a boolean, found [{body[key]}]")
            setattr(spec, key, body[key])
    if spec.doc is None and spec.upsert is None:
        raise ActionRequestValidation(["script or doc is missing"])
    if spec.doc_as_upsert and spec.doc is None:
        raise ActionRequestValidation(["doc must be specified if doc_as_upsert is enabled"])
    return spec
