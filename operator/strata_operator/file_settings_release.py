"""Giving back the settings a StrataFileSettings reserved in a cluster, once the resource is
deleted or names another cluster.

The node keeps what the last settings.json it applied reserved, and leaves the state alone
when the file goes, so a deleted ConfigMap gives nothing back: every key would stay
read-only for good. The operator does what Elastic's operator does for a StackConfigPolicy
that no longer applies to a cluster: it ships an empty state at a higher version and waits
for the cluster to apply it. A cluster whose StrataCluster is gone or going has nothing to
give back, and a ConfigMap another resource owns is not this one's to empty."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .builders.common import file_settings_config_map_name
from .builders.file_settings import build_file_settings_config_map, settings_versions, status_floor
from .cluster_client import ClusterClient, ClusterUnavailable
from .kube import ApplyError, Kube, NotOwned, controller_uid
from .reserved_state import ERROR, READY, applied_version, read_release, version_to_ship
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
    clusters = shipped_to(status, target)
    if not clusters:
        return []
    live = _live_clusters(kube, owner.namespace)
    floor = status_floor(status)
    return [
        release_cluster(owner, cluster, floor if cluster == status.get("cluster") else 0, live, kube, connect)
        for cluster in clusters
    ]


def _live_clusters(kube: Kube, namespace: str) -> set[str]:
    """The StrataClusters of the namespace not being deleted."""
    return {
        (c.get("metadata") or {}).get("name")
        for c in kube.list(API_VERSION, CLUSTER_KIND, namespace)
        if not (c.get("metadata") or {}).get("deletionTimestamp")
    }


def another_resources(config_map: Mapping[str, Any] | None, owner_uid: str) -> bool:
    """Whether a cluster's settings ConfigMap is another resource's, not this one's to write,
    empty or delete: its controller is not `owner_uid`, as kube.apply enforces. The uid, not
    the name the annotation gives: a resource deleted and made again under the same name is
    another resource (the garbage collector deletes the ConfigMap of the first)."""
    return config_map is not None and controller_uid(config_map) != owner_uid


def release_version(config_map: Mapping[str, Any] | None, floor: int, applied: int | None) -> int:
    """The version of the empty settings.json that gives a cluster's reserved settings back
    (release_cluster's)."""
    return _release_versions(config_map, floor, applied)[1]


def _release_versions(
    config_map: Mapping[str, Any] | None, floor: int, applied: int | None
) -> tuple[int, int]:
    """(held, version): the version the ConfigMap holds and the one of the empty settings.json,
    which is `held` when the ConfigMap already holds that empty state, else one above every
    version the ConfigMap, the resource's status (`floor`) and the cluster (`applied`) have
    seen, as the ship path's (reconcile._ship_file_settings)."""
    held, version = settings_versions(config_map, {}, floor=floor)
    return held, (version if version == held else version_to_ship(version, applied))


def release_cluster(
    owner: FileSettingsSpec, cluster: str, floor: int, live: Collection[str], kube: Kube, connect: Connect
) -> Release:
    """Ship the empty state, then read back until the cluster applied it (`owner` asks for
    no settings: spec.file_settings_owner; `live`: the StrataClusters not gone or going)."""
    name = file_settings_config_map_name(cluster)
    config_map = kube.get("v1", "ConfigMap", owner.namespace, name)
    if another_resources(config_map, owner.uid):
        return Release(
            cluster, True, f"ConfigMap {name} is another resource's: nothing of this one to give back"
        )
    uid = (config_map or {}).get("metadata", {}).get("uid")
    if cluster not in live:
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
    held, version = _release_versions(config_map, floor, applied)
    if version != held:
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
