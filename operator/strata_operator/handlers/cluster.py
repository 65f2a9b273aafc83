"""StrataCluster: build and apply on create, update and resume; then again every 10 s while
the cluster is not Ready (a scale-down or a rolling restart takes one step per reconcile) and
every minute once it is (to refresh the status from the cluster and to put back anything
deleted by hand)."""

from __future__ import annotations

from typing import Any

import kopf

from ..reconcile import reconcile_cluster
from ..spec import API_GROUP
from .operator import connect, due, kube, report

RESOURCE = (API_GROUP, "v1alpha1", "strataclusters")
FOLLOW_SECONDS = 10
READY_RECHECK_SECONDS = 60


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    report(reconcile_cluster(body, kube(), connect), body, patch)


@kopf.timer(*RESOURCE, interval=FOLLOW_SECONDS, idle=FOLLOW_SECONDS)
def recheck(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, status: kopf.Status, **_: Any) -> None:
    if due(memo, status, ready_every=READY_RECHECK_SECONDS):
        report(reconcile_cluster(body, kube(), connect), body, patch)
