"""StrataFileSettings: validate and ship the settings.json ConfigMap on create, update and
resume; then follow what the cluster applied, every few seconds until it is Ready (the kubelet
takes up to a minute to refresh a ConfigMap volume) and every minute after that. Deleted, it
gives its settings back before kopf lets it go (its finalizer): an empty settings.json read
back as applied, re-checked every few seconds, for RELEASE_TIMEOUT_SECONDS at most (a cluster
that never answers does not hold the deletion for good; kopf then reports the failure)."""

from __future__ import annotations

from typing import Any

import kopf

from ..reconcile import reconcile_file_settings, release_file_settings
from ..spec import API_GROUP
from .operator import connect, due, kube, report

RESOURCE = (API_GROUP, "v1alpha1", "stratafilesettings")
FOLLOW_SECONDS = 10
READY_RECHECK_SECONDS = 60
RELEASE_TIMEOUT_SECONDS = 600


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    report(reconcile_file_settings(body, kube(), connect), body, patch)


@kopf.timer(*RESOURCE, interval=FOLLOW_SECONDS, idle=FOLLOW_SECONDS)
def follow(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, status: kopf.Status, **_: Any) -> None:
    if due(memo, status, ready_every=READY_RECHECK_SECONDS):
        report(reconcile_file_settings(body, kube(), connect), body, patch)


@kopf.on.delete(*RESOURCE, timeout=RELEASE_TIMEOUT_SECONDS)
def release(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = release_file_settings(body, kube(), connect)
    report(outcome, body, patch)
    if outcome.waiting:
        raise kopf.TemporaryError(outcome.waiting, delay=FOLLOW_SECONDS)
