"""StrataCluster: build and apply on create, update and resume, and again every minute (to
refresh the status from the cluster and to put back anything deleted by hand)."""

from __future__ import annotations

from typing import Any

import kopf

from ..reconcile import reconcile_cluster
from ..spec import API_GROUP
from .operator import kube, probe, report

RESOURCE = (API_GROUP, "v1alpha1", "strataclusters")
RECHECK_SECONDS = 60


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    report(reconcile_cluster(body, kube(), probe), body, patch)


@kopf.timer(*RESOURCE, interval=RECHECK_SECONDS, idle=RECHECK_SECONDS)
def recheck(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    report(reconcile_cluster(body, kube(), probe), body, patch)
