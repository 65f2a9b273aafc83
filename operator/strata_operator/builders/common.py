"""Names, labels and metadata every built object shares."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..spec import API_VERSION, CLUSTER_KIND, ClusterSpec, NodeSet

HTTP_PORT = 9200
TRANSPORT_PORT = 9300
HOME = "/usr/share/strata"
DATA_PATH = f"{HOME}/data"
CONFIG_PATH = f"{HOME}/config"
NODE_CONFIG_DIR = f"{CONFIG_PATH}/node"  # the node set's strata.yml (a ConfigMap volume)
FILE_SETTINGS_DIR = f"{CONFIG_PATH}/operator"  # settings.json, where the node watches for it
NODE_CONFIG_FILE = "strata.yml"
FILE_SETTINGS_FILE = "settings.json"
CONTAINER_NAME = "strata"
NODE_UID = 1000  # the image's strata user and group

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_CLUSTER = "strata.dev/cluster"
LABEL_NODE_SET = "strata.dev/node-set"
LABEL_MASTER = "strata.dev/master-eligible"
ROLE_LABEL_PREFIX = "strata.dev/role-"
MANAGER = "strata-operator"

ANNOTATION_CONFIG_HASH = "strata.dev/config-hash"
# On the StrataCluster: the uuid of the cluster once it has formed. Its presence means
# "never bootstrap again" (cluster.initial_master_nodes is then left out of strata.yml).
ANNOTATION_CLUSTER_UUID = "strata.dev/cluster-uuid"


# -- names ------------------------------------------------------------------------------------


def statefulset_name(cluster: str, node_set: str) -> str:
    return f"{cluster}-{node_set}"


def node_set_service_name(cluster: str, node_set: str) -> str:
    return statefulset_name(cluster, node_set)  # the StatefulSet's governing Service


def pod_names(cluster: str, node_set: NodeSet, count: int | None = None) -> list[str]:
    n = node_set.count if count is None else count
    return [f"{statefulset_name(cluster, node_set.name)}-{i}" for i in range(n)]


def http_service_name(cluster: str) -> str:
    return f"{cluster}-http"


def transport_service_name(cluster: str) -> str:
    return f"{cluster}-transport"


def config_map_name(cluster: str, node_set: str) -> str:
    return f"{cluster}-{node_set}-config"


def secret_name(cluster: str) -> str:
    return f"{cluster}-secrets"


def pdb_name(cluster: str) -> str:
    return f"{cluster}-pdb"


def file_settings_config_map_name(cluster: str) -> str:
    return f"{cluster}-file-settings"


def seed_host(spec: ClusterSpec) -> str:
    """The transport Service's DNS name: its A records are the master-eligible pods, ready or
    not, and the nodes resolve it again on every discovery round."""
    return f"{transport_service_name(spec.name)}.{spec.namespace}.svc:{TRANSPORT_PORT}"


# -- labels and metadata ----------------------------------------------------------------------


def cluster_selector(cluster: str) -> dict[str, str]:
    return {LABEL_CLUSTER: cluster}


def node_set_selector(cluster: str, node_set: str) -> dict[str, str]:
    return {LABEL_CLUSTER: cluster, LABEL_NODE_SET: node_set}


def labels(spec: ClusterSpec, node_set: NodeSet | None = None, component: str = "node") -> dict[str, str]:
    out = {
        LABEL_NAME: "strata",
        LABEL_INSTANCE: spec.name,
        LABEL_MANAGED_BY: MANAGER,
        LABEL_COMPONENT: component,
        LABEL_CLUSTER: spec.name,
    }
    if node_set is not None:
        out[LABEL_NODE_SET] = node_set.name
    return out


def pod_labels(spec: ClusterSpec, node_set: NodeSet) -> dict[str, str]:
    out = labels(spec, node_set)
    out[LABEL_VERSION] = spec.version
    out[LABEL_MASTER] = str(node_set.master_eligible).lower()
    roles = node_set.roles if node_set.roles is not None else ()
    for role in roles:
        out[ROLE_LABEL_PREFIX + role.replace("_", "-")] = "true"
    return out


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """The owning custom resource: deleting it deletes what it owns (the claims excepted)."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(
    spec: ClusterSpec, name: str, obj_labels: Mapping[str, str], annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": spec.namespace,
        "labels": dict(obj_labels),
        "ownerReferences": [owner_reference(CLUSTER_KIND, spec.name, spec.uid)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def content_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
