"""A StrataFileSettings becomes the ConfigMap `<cluster>-file-settings` holding settings.json
in Elasticsearch's shape (`metadata.version`, `metadata.compatibility`, `state`), which every
pod of the cluster mounts at config/operator/. The version increases whenever the content
changes and only then: the node applies a file only when its version is above the one it has
applied."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..spec import FILE_SETTINGS_KIND, FileSettingsSpec
from .common import (
    FILE_SETTINGS_FILE,
    LABEL_CLUSTER,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    MANAGER,
    file_settings_config_map_name,
    owner_reference,
)

# The Elasticsearch version the node reports (strata_node.ES_COMPAT_VERSION; a test keeps them equal).
COMPATIBILITY = "8.17.0"
ANNOTATION_SOURCE = "strata.dev/file-settings"


def _canonical(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def previous_settings(config_map: Mapping[str, Any] | None) -> tuple[int, Mapping[str, Any] | None]:
    """(version, state) of the settings.json a ConfigMap holds; (0, None) when there is none."""
    text = ((config_map or {}).get("data") or {}).get(FILE_SETTINGS_FILE)
    if not text:
        return 0, None
    try:
        document = json.loads(text)
        return int(document["metadata"]["version"]), document["state"]
    except (ValueError, KeyError, TypeError):
        return 0, None


def status_floor(status: Mapping[str, Any]) -> int:
    """The highest version a StrataFileSettings' status has seen, expected or applied: the
    floor of the version its next settings.json goes out with (next_version)."""
    return max(int(status.get("expectedVersion") or 0), int(status.get("appliedVersion") or 0))


def settings_versions(
    config_map: Mapping[str, Any] | None, state: Mapping[str, Any], *, floor: int = 0
) -> tuple[int, int]:
    """(held, version): the version of the settings.json `config_map` holds (0 when none) and
    the one to ship `state` with (next_version). `version` is `held` when the ConfigMap
    already holds `state`; else the file is new, for the cluster to check (the master
    ignores a version it has passed: reserved_state.version_to_ship)."""
    held, old_state = previous_settings(config_map)
    if old_state is not None and _canonical(old_state) == _canonical(state) and held >= floor:
        return held, held
    return held, max(held, floor) + 1


def next_version(previous: Mapping[str, Any] | None, state: Mapping[str, Any], *, floor: int = 0) -> int:
    """The version to ship `state` with. `previous`: the ConfigMap as it is (or None); `floor`:
    the highest version the resource's status has seen (expected or applied), so a ConfigMap
    deleted by hand never makes the version go back to one the cluster would ignore."""
    return settings_versions(previous, state, floor=floor)[1]


def settings_document(state: Mapping[str, Any], version: int) -> dict[str, Any]:
    """settings.json as a document: what the ConfigMap holds and what the cluster's
    validation endpoint is asked about. The state goes in as the resource has it (JSON
    booleans and numbers stay JSON booleans and numbers, as Elasticsearch's own
    settings.json has them; the node stores them as the strings "true", "12")."""
    return {"metadata": {"version": str(version), "compatibility": COMPATIBILITY}, "state": dict(state)}


def render_settings_json(state: Mapping[str, Any], version: int) -> str:
    return json.dumps(settings_document(state, version), indent=2, sort_keys=True) + "\n"


def build_file_settings_config_map(spec: FileSettingsSpec, cluster: str, version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": file_settings_config_map_name(cluster),
            "namespace": spec.namespace,
            "labels": {
                LABEL_NAME: "strata",
                LABEL_INSTANCE: cluster,
                LABEL_MANAGED_BY: MANAGER,
                LABEL_COMPONENT: "file-settings",
                LABEL_CLUSTER: cluster,
            },
            "annotations": {ANNOTATION_SOURCE: spec.name},
            "ownerReferences": [owner_reference(FILE_SETTINGS_KIND, spec.name, spec.uid)],
        },
        "data": {FILE_SETTINGS_FILE: render_settings_json(spec.state, version)},
    }
