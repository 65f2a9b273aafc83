"""Operator-wide set-up: where kopf keeps its own bookkeeping, and the shared clients."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import kopf

from ..cluster_client import ClusterClient
from ..kube import DynamicKube
from ..spec import API_GROUP

# How the operator reaches a cluster's REST API; {name} and {namespace} are the resource's.
# Out of the cluster (development, tests) point it at a port-forward or local nodes.
CLUSTER_URL_ENV = "STRATA_OPERATOR_CLUSTER_URL"
DEFAULT_CLUSTER_URL = "http://{name}-http.{namespace}.svc:9200"
CLUSTER_TIMEOUT = 3.0


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Progress and the last handled spec in annotations under strata.dev, not in status:
    # the status schema is structural, so anything it does not declare would be pruned.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{API_GROUP}/operator"
    settings.posting.reporting_component = "strata-operator"
    settings.execution.max_workers = int(os.environ.get("STRATA_OPERATOR_WORKERS", "8"))


@functools.cache
def kube() -> DynamicKube:
    return DynamicKube()


def connect(name: str, namespace: str) -> ClusterClient:
    """A client of the named cluster's REST API (reconcile.Connect)."""
    url = os.environ.get(CLUSTER_URL_ENV, DEFAULT_CLUSTER_URL).format(name=name, namespace=namespace)
    return ClusterClient(url, timeout=CLUSTER_TIMEOUT)


def due(memo: Any, status: Any, *, ready_every: float) -> bool:
    """Whether a periodic re-check should reconcile now: on every tick while the resource is
    not Ready (something is in progress), and every `ready_every` seconds once it is (to
    notice what changed in the cluster or was changed by hand)."""
    now = time.monotonic()
    if (status or {}).get("phase") == "Ready" and now - memo.get(
        "last_reconcile", -ready_every
    ) < ready_every:
        return False
    memo["last_reconcile"] = now
    return True


def report(outcome: Any, body: Any, patch: kopf.Patch) -> None:
    """Write an Outcome back: status, annotations, events."""
    patch.status.update(outcome.status)
    for key, value in outcome.annotations.items():
        patch.metadata.annotations[key] = value
    for kind, reason, message in outcome.events:
        if kind == "Warning":
            kopf.warn(body, reason=reason, message=message)
        else:
            kopf.info(body, reason=reason, message=message)
