"""StrataFileSettings: ship the settings.json ConfigMap on create, update and resume."""

from __future__ import annotations

from typing import Any

import kopf

from ..reconcile import reconcile_file_settings
from ..spec import API_GROUP
from .operator import kube, report

RESOURCE = (API_GROUP, "v1alpha1", "stratafilesettings")


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    report(reconcile_file_settings(body, kube()), body, patch)
