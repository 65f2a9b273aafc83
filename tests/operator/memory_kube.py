"""An in-memory store standing in for the operator's Kube interface (the API server itself is
the emulator tests' business), with a stand-in for the StatefulSet controller: a StatefulSet's
update revision is a hash of its pod template, its current revision the first one (under
OnDelete the real controller never moves it on), and `run_statefulsets` creates the pods that
are missing, on that revision, and their claims from the claim templates (of the class
"standard" when the template names none, as a default StorageClass would)."""

from __future__ import annotations

import copy
from typing import Any

from strata_operator.builders.common import content_hash
from strata_operator.builders.statefulset import DATA_VOLUME
from strata_operator.kube import ApplyError, DeleteError, ReadError, check_owner
from strata_operator.rolling import REVISION_LABEL


class MemoryKube:
    """get/list/apply over a dict, with the real ownership check; StatefulSets come back with
    a status: every replica counted, and ready on the current template unless told otherwise."""

    def __init__(self, *objects: dict[str, Any], settled: bool = True, refuse: str | None = None):
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.settled = settled
        self.refuse = refuse
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[str] = []  # names of deleted objects (pods, ...), in order
        self.orphaned: list[str] = []  # names of objects deleted with their dependents left
        self.patched: list[tuple[str, str, dict[str, Any]]] = []  # (kind, name, merge patch)
        self.failing_kinds: set[str] = set()  # reading these kinds raises, as an API error would
        self.undeletable: set[str] = set()  # deleting these kinds raises DeleteError
        self._uids = 0
        for obj in objects:
            self._store(copy.deepcopy(obj))

    def _store(self, obj):
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta.get("namespace"), meta["name"])] = obj

    def get(self, api_version, kind, namespace, name):
        if kind in self.failing_kinds:
            raise ReadError(f"{kind} {name}: Forbidden")
        return copy.deepcopy(self.objects.get((kind, namespace, name)))

    def patch(self, api_version, kind, namespace, name, patch):
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise ApplyError(f"{kind} {namespace}/{name}: NotFound")
        self.patched.append((kind, name, copy.deepcopy(patch)))
        _merge(found, patch)
        return copy.deepcopy(found)

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
        stored["metadata"].setdefault("uid", f"uid-{obj['kind']}-{meta['name']}")
        if obj["kind"] == "StatefulSet":
            replicas = obj["spec"]["replicas"]
            revision = f"{meta['name']}-{content_hash(obj['spec']['template'])[:10]}"
            before = self.objects.get((obj["kind"], meta["namespace"], meta["name"]))
            stored["status"] = {
                "replicas": replicas,
                "readyReplicas": replicas if self.settled else 0,
                # OnDelete: the controller never moves currentRevision on (kubernetes#73492).
                "currentRevision": ((before or {}).get("status") or {}).get("currentRevision", revision),
                "updateRevision": revision,
                "observedGeneration": 1,
            }
        self._store(stored)
        self.applied.append(stored)
        return copy.deepcopy(stored)

    def delete(self, api_version, kind, namespace, name, uid, orphan=False):
        found = self.objects.get((kind, namespace, name))
        if found is None:
            return
        if found["metadata"].get("uid") != uid:
            raise DeleteError(f"{kind} {namespace}/{name}: Conflict: the uid precondition failed")
        if kind in self.undeletable:
            raise DeleteError(f"{kind} {namespace}/{name}: Forbidden")
        del self.objects[(kind, namespace, name)]
        (self.orphaned if orphan else self.deleted).append(name)

    # -- the StatefulSet controller's part ---------------------------------------------------

    def pod(self, name: str, namespace: str = "prod") -> dict[str, Any]:
        return self.objects[("Pod", namespace, name)]

    def run_statefulsets(self, ready: bool = True) -> list[str]:
        """Create every missing pod of every StatefulSet on its update revision; the names."""
        created = []
        for (kind, namespace, name), sts in list(self.objects.items()):
            if kind != "StatefulSet":
                continue
            for ordinal in range(sts["spec"]["replicas"]):
                pod_name = f"{name}-{ordinal}"
                self._claim(sts, pod_name)
                if ("Pod", namespace, pod_name) in self.objects:
                    continue
                self._uids += 1
                labels = dict(sts["spec"]["template"]["metadata"]["labels"])
                labels[REVISION_LABEL] = sts["status"]["updateRevision"]
                self._store(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": pod_name,
                            "namespace": namespace,
                            "uid": f"uid-{pod_name}-{self._uids}",
                            "labels": labels,
                        },
                        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
                    }
                )
                created.append(pod_name)
        return created

    def remove_surplus_pods(self) -> list[str]:
        """Delete every pod past its StatefulSet's replicas (a scale-down's pods terminated); the
        names."""
        removed = []
        for (kind, namespace, name), sts in list(self.objects.items()):
            if kind != "StatefulSet":
                continue
            for pod_kind, pod_namespace, pod_name in list(self.objects):
                head, _, tail = pod_name.rpartition("-")
                mine = (pod_kind, pod_namespace, head) == ("Pod", namespace, name) and tail.isdigit()
                if mine and int(tail) >= sts["spec"]["replicas"]:
                    del self.objects[(pod_kind, pod_namespace, pod_name)]
                    removed.append(pod_name)
        return removed

    def _claim(self, sts: dict[str, Any], pod_name: str) -> None:
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            name = f"{template['metadata']['name']}-{pod_name}"
            namespace = sts["metadata"]["namespace"]
            if ("PersistentVolumeClaim", namespace, name) in self.objects:
                continue
            spec = copy.deepcopy(template["spec"])
            spec.setdefault("storageClassName", "standard")
            self._store(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "uid": f"uid-{name}",
                        "labels": dict(template["metadata"].get("labels") or {}),
                    },
                    "spec": spec,
                }
            )

    def claim_size(self, pod_name: str, namespace: str = "prod") -> str:
        claim = self.objects[("PersistentVolumeClaim", namespace, f"{DATA_VOLUME}-{pod_name}")]
        return claim["spec"]["resources"]["requests"]["storage"]

    def set_ready(self, name: str, ready: bool = True, namespace: str = "prod") -> None:
        self.pod(name, namespace)["status"]["conditions"] = [
            {"type": "Ready", "status": "True" if ready else "False"}
        ]


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A merge patch (RFC 7386) applied in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
