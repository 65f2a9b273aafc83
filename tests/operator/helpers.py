from __future__ import annotations

from typing import Any

from strata_operator.builders import build_cluster

from .conftest import SECRETS


def build(resource: dict[str, Any], **inputs: Any) -> list[dict[str, Any]]:
    inputs.setdefault("secrets", SECRETS)
    inputs.setdefault("bootstrapped", False)
    return build_cluster(resource, **inputs)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {[o['metadata']['name'] for o in by_kind(objects, kind)]}"
    return found[0]


def container(sts: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "strata")


def env(sts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(sts)["env"]}
