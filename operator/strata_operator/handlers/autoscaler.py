"""StrataAutoscaler: reconcile on create, update and resume, then once per polling period
(`spec.pollingPeriod`, 1m by default), checked every 10 s, so a shorter period polls every
10 s. Deleting the autoscaler leaves its policies in the cluster, as they were last put."""

from __future__ import annotations

import time
from typing import Any

import kopf

from ..autoscaler import polling_period
from ..autoscaler_reconcile import reconcile_autoscaler
from ..spec import API_GROUP
from .operator import connect, kube, report

RESOURCE = (API_GROUP, "v1alpha1", "strataautoscalers")
TICK_SECONDS = 10


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    memo["last_poll"] = time.monotonic()
    report(reconcile_autoscaler(body, kube(), connect), body, patch)


@kopf.timer(*RESOURCE, interval=TICK_SECONDS, idle=TICK_SECONDS)
def poll(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    now = time.monotonic()
    if now - memo.get("last_poll", float("-inf")) >= polling_period(body):
        memo["last_poll"] = now
        report(reconcile_autoscaler(body, kube(), connect), body, patch)
