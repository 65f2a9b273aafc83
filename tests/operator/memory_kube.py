"""An in-memory store standing in for the operator's Kube interface (the API server itself is
the emulator tests' business)."""

from __future__ import annotations

import copy
from typing import Any

from strata_operator.kube import ApplyError, check_owner


class MemoryKube:
    """get/list/apply over a dict, with the real ownership check; StatefulSets come back with
    a status (ready, on the current template) unless told otherwise."""

    def __init__(self, *objects: dict[str, Any], settled: bool = True, refuse: str | None = None):
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.settled = settled
        self.refuse = refuse
        self.applied: list[dict[str, Any]] = []
        for obj in objects:
            self._store(copy.deepcopy(obj))

    def _store(self, obj):
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = obj

    def get(self, api_version, kind, namespace, name):
        return copy.deepcopy(self.objects.get((kind, namespace, name)))

    def list(self, api_version, kind, namespace, labels=None):
        return [
            copy.deepcopy(o)
            for (k, ns, _), o in self.objects.items()
            if k == kind
            and ns == namespace
            and all((o["metadata"].get("labels") or {}).get(a) == b for a, b in (labels or {}).items())
        ]

    def apply(self, obj, owner_uid):
        meta = obj["metadata"]
        check_owner(self.objects.get((obj["kind"], meta["namespace"], meta["name"])), obj, owner_uid)
        if obj["kind"] == self.refuse:
            raise ApplyError(
                f"{obj['kind']} {meta['name']}: Forbidden: updates to statefulset spec are forbidden"
            )
        stored = copy.deepcopy(obj)
        if obj["kind"] == "StatefulSet":
            replicas = obj["spec"]["replicas"]
            stored["status"] = {
                "readyReplicas": replicas if self.settled else 0,
                "currentRevision": "r1",
                "updateRevision": "r1",
                "observedGeneration": 1,
            }
        self._store(stored)
        self.applied.append(stored)
        return copy.deepcopy(stored)
