"""Giving back the settings a StrataFileSettings reserved in a cluster, once the resource is
deleted or names another cluster.

The node keeps what the last settings.json it applied reserved, and leaves the state alone
when the file goes, so a deleted ConfigMap gives nothing back: every key would stay
read-only for good. The operator does what Elastic's operator does for a StackConfigPolicy
that no longer applies to a cluster: it ships an empty state at a higher version and waits
for the cluster to apply it. A cluster whose StrataCluster is gone or going has nothing to
give back, and a ConfigMap another resource owns is not this one's to empty."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .builders.common import file_settings_config_map_name
from .builders.file_settings import build_file_settings_config_map, previous_settings
from .cluster_client import ClusterClient, ClusterUnavailable
from .kube import ApplyError, Kube, NotOwned, controller_uid
from .reserved_state import ERROR, READY, applied_version, read_release, release_version
from .spec import API_VERSION, CLUSTER_KIND, FileSettingsSpec

Connect = Callable[[str, str], ClusterClient]


@dataclass(frozen=True)
class Release:
    """Where giving one cluster's settings back stands."""

    cluster: str
    done: bool
    message: str
    events: tuple[tuple[str, str, str], ...] = ()
    config_map_uid: str | None = None  # the resource's ConfigMap for the cluster, if there is one


def shipped_to(status: Mapping[str, Any], target: str | None) -> list[str]:
    """The clusters a resource shipped settings to, other than `target` (None when it is
    deleted): status.cluster and those it is still giving settings back to (status.releasing)."""
    clusters = [*(status.get("releasing") or []), status.get("cluster")]
    return list(dict.fromkeys(c for c in clusters if c and c != target))


def release_clusters(
    owner: FileSettingsSpec, status: Mapping[str, Any], target: str | None, kube: Kube, connect: Connect
) -> list[Release]:
    """One step of giving settings back to every cluster the resource shipped them to but
    `target`. The status's versions are the floor for status.cluster's file."""
    floor = max(int(status.get("expectedVersion") or 0), int(status.get("appliedVersion") or 0))
    return [
        release_cluster(owner, cluster, floor if cluster == status.get("cluster") else 0, kube, connect)
        for cluster in shipped_to(status, target)
    ]


def _cluster_stays(kube: Kube, namespace: str, cluster: str) -> bool:
    return any(
        (c.get("metadata") or {}).get("name") == cluster
        and not (c.get("metadata") or {}).get("deletionTimestamp")
        for c in kube.list(API_VERSION, CLUSTER_KIND, namespace)
    )


def release_cluster(
    owner: FileSettingsSpec, cluster: str, floor: int, kube: Kube, connect: Connect
) -> Release:
    """Ship the empty state, then read back until the cluster applied it (`owner` asks for
    no settings: spec.file_settings_owner)."""
    name = file_settings_config_map_name(cluster)
    config_map = kube.get("v1", "ConfigMap", owner.namespace, name)
    if config_map is not None and controller_uid(config_map) != owner.uid:
        return Release(
            cluster, True, f"ConfigMap {name} is another resource's: nothing of this one to give back"
        )
    uid = (config_map or {}).get("metadata", {}).get("uid")
    if not _cluster_stays(kube, owner.namespace, cluster):
        return Release(cluster, True, f"StrataCluster [{cluster}] is gone: no settings to give back", (), uid)
    with connect(cluster, owner.namespace) as client:
        try:
            state = client.file_settings_state()
        except ClusterUnavailable as e:
            why = f"giving the settings back to cluster [{cluster}] waits: its reserved state is unread ({e})"
            return Release(cluster, False, why, (), uid)
    applied = applied_version(state)
    if config_map is None and applied is None:
        return Release(cluster, True, f"cluster [{cluster}] applied no settings.json: nothing to give back")
    version = release_version(config_map, floor, applied)
    if version != previous_settings(config_map)[0]:
        return _ship_empty(owner, cluster, version, kube, uid)
    readback = read_release(version, state)
    if readback.phase == READY:
        message = f"cluster [{cluster}] gave back the settings of {owner.name}: {readback.message}"
        return Release(cluster, True, message, (("Normal", "SettingsReleased", message),), uid)
    if readback.phase == ERROR:
        message = (
            f"cluster [{cluster}] refused the empty settings.json version {version}, so the settings of "
            f"{owner.name} stay reserved there: " + "; ".join(readback.errors)
        )
        return Release(cluster, True, message, (("Warning", "SettingsReleaseRefused", message),), uid)
    return Release(
        cluster, False, f"giving the settings back to cluster [{cluster}]: {readback.message}", (), uid
    )


def _ship_empty(owner: FileSettingsSpec, cluster: str, version: int, kube: Kube, uid: str | None) -> Release:
    try:
        applied = kube.apply(build_file_settings_config_map(owner, cluster, version), owner.uid)
    except (NotOwned, ApplyError) as e:
        message = f"giving the settings back to cluster [{cluster}] failed, it is retried: {e}"
        return Release(cluster, False, message, (("Warning", "SettingsReleaseFailed", message),), uid)
    message = (
        f"an empty settings.json version {version} shipped to cluster [{cluster}] to give its settings back"
    )
    return Release(
        cluster, False, message, (("Normal", "SettingsReleasing", message),), applied["metadata"].get("uid")
    )
