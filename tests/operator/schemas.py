"""Helpers for checking objects the way the API server would: Kubernetes' own OpenAPI schemas
(kubernetes-validate's bundled copies, offline), and a CRD's openAPIV3Schema with its
defaults applied and its unknown fields found (what structural pruning would drop)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
MANIFESTS = ROOT / "manifests"
SAMPLES = MANIFESTS / "samples"
# The oldest Kubernetes the manifests and the rendered objects must be valid for.
K8S_VERSION = "1.30"


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def crd_for(kind: str) -> dict[str, Any]:
    for path in sorted(CRDS.glob("*.yaml")):
        for doc in load_documents(path):
            if doc["spec"]["names"]["kind"] == kind:
                return doc
    raise KeyError(kind)


def crd_schema(kind: str) -> dict[str, Any]:
    versions = crd_for(kind)["spec"]["versions"]
    return next(v for v in versions if v["storage"])["schema"]["openAPIV3Schema"]


def k8s_validate(obj: dict[str, Any]) -> None:
    """Raise AssertionError with the first schema error (strict: unknown fields are errors)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        name = (obj.get("metadata") or {}).get("name")
        path = "/".join(str(p) for p in e.absolute_path)
        raise AssertionError(f"{obj['kind']} {name}: {e.message} at /{path}") from None


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """A copy of `value` with the schema's defaults filled in, top down, defaulted objects
    included (so `default: {}` brings its properties' defaults), as the API server does."""
    value = copy.deepcopy(value)
    _default(schema, value)
    return value


def _default(schema: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    _default(extra, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


def unknown_fields(schema: dict[str, Any], value: Any, path: str = "") -> Iterator[str]:
    """Paths of fields the schema does not declare: the API server would prune them."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                yield from unknown_fields(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                yield from unknown_fields(extra, sub, f"{path}.{key}")
            elif path != ".metadata" and not (path == "" and key == "metadata"):
                yield f"{path}.{key}"
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from unknown_fields(schema["items"], item, f"{path}[{i}]")


def crd_validate(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate a custom resource as the API server would (defaults, then the schema, and no
    field pruned); returns the defaulted object."""
    schema = crd_schema(obj["kind"])
    defaulted = apply_defaults(schema, obj)
    pruned = [p for p in unknown_fields(schema, defaulted) if not p.startswith(".metadata")]
    assert not pruned, f"fields the API server would prune: {pruned}"
    jsonschema.Draft202012Validator(schema).validate(defaulted)
    return defaulted
