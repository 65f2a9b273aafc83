"""One StatefulSet per node set.

OnDelete updates: the StatefulSet controller never replaces a pod by itself; the operator
deletes pods one by one when the cluster allows it. Parallel pod management: all pods of a
new set start together (the masters must all be up to bootstrap). The node's settings come
from the node set's ConfigMap (strata.yml) and from the environment (STRATA_SETTING_*:
`_` stands for `.`, `__` for `_`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..spec import ClusterSpec, NodeSet
from .common import (
    ANNOTATION_CONFIG_HASH,
    CONTAINER_NAME,
    DATA_PATH,
    FILE_SETTINGS_DIR,
    HTTP_PORT,
    NODE_CONFIG_DIR,
    NODE_CONFIG_FILE,
    NODE_UID,
    TRANSPORT_PORT,
    cluster_selector,
    config_map_name,
    file_settings_config_map_name,
    labels,
    metadata,
    node_set_selector,
    node_set_service_name,
    pod_labels,
    secret_name,
    statefulset_name,
)
from .secret import TRANSPORT_SECRET_KEY

ENV_PREFIX = "STRATA_SETTING_"
DATA_VOLUME = "data"
CONFIG_VOLUME = "config"
FILE_SETTINGS_VOLUME = "file-settings"
READINESS_PATH = "/_cluster/health?local=true"
TERMINATION_GRACE_SECONDS = 120  # the node flushes every shard on SIGTERM
# Lists merged item by item on this key when a podTemplate override is applied.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def setting_env_name(setting: str) -> str:
    """cluster.name -> STRATA_SETTING_CLUSTER_NAME; s3.secret_key -> STRATA_SETTING_S3_SECRET__KEY."""
    return ENV_PREFIX + setting.replace("_", "__").replace(".", "_").upper()


def _env(spec: ClusterSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {
            "name": setting_env_name("node.name"),
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        },
        {
            "name": setting_env_name("transport.host"),
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
        },
        {
            "name": setting_env_name("transport.secret"),
            "valueFrom": {"secretKeyRef": {"name": secret_name(spec.name), "key": TRANSPORT_SECRET_KEY}},
        },
    ]
    for secure in spec.secure_settings:
        env.append(
            {
                "name": setting_env_name(secure.setting),
                "valueFrom": {"secretKeyRef": {"name": secure.secret_name, "key": secure.key}},
            }
        )
    return env


def _anti_affinity(spec: ClusterSpec) -> dict[str, Any]:
    """Prefer one node of a cluster per Kubernetes node (a podTemplate affinity replaces it)."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": cluster_selector(spec.name)},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }


def _container(spec: ClusterSpec, node_set: NodeSet) -> dict[str, Any]:
    return {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "command": ["strata-node", "--config", f"{NODE_CONFIG_DIR}/{NODE_CONFIG_FILE}"],
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "transport", "containerPort": TRANSPORT_PORT, "protocol": "TCP"},
        ],
        "env": _env(spec),
        "resources": copy.deepcopy(dict(node_set.resources)),
        # Ready once the node serves HTTP; discovery does not wait for it (the transport
        # Service publishes addresses that are not ready yet).
        "readinessProbe": {
            "httpGet": {"path": READINESS_PATH, "port": "http", "scheme": "HTTP"},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
            "successThreshold": 1,
        },
        "volumeMounts": [
            {"name": DATA_VOLUME, "mountPath": DATA_PATH},
            {"name": CONFIG_VOLUME, "mountPath": NODE_CONFIG_DIR, "readOnly": True},
            {"name": FILE_SETTINGS_VOLUME, "mountPath": FILE_SETTINGS_DIR, "readOnly": True},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }


def _merge(base: Any, override: Any, key: str | None = None) -> Any:
    """Deep-merge a podTemplate override into the built template: maps key by key, lists of
    named items (containers, env, volumes, ...) item by item, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    merge_key = MERGE_KEYS.get(key or "")
    if isinstance(base, list) and isinstance(override, list) and merge_key:
        out_list = [copy.deepcopy(item) for item in base]
        index = {item.get(merge_key): i for i, item in enumerate(out_list) if isinstance(item, Mapping)}
        for item in override:
            name = item.get(merge_key) if isinstance(item, Mapping) else None
            if name is not None and name in index:
                out_list[index[name]] = _merge(out_list[index[name]], item)
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(override)


def pod_template(spec: ClusterSpec, node_set: NodeSet, config_hash: str) -> dict[str, Any]:
    built_labels = pod_labels(spec, node_set)
    template: dict[str, Any] = {
        "metadata": {"labels": built_labels, "annotations": {ANNOTATION_CONFIG_HASH: config_hash}},
        "spec": {
            "automountServiceAccountToken": False,  # the node never talks to the Kubernetes API
            "enableServiceLinks": False,  # Service env vars could be read as STRATA_SETTING_*
            "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
            "securityContext": {
                "runAsUser": NODE_UID,
                "runAsGroup": NODE_UID,
                "fsGroup": NODE_UID,
                "runAsNonRoot": True,
            },
            "affinity": _anti_affinity(spec),
            "containers": [_container(spec, node_set)],
            "volumes": [
                {"name": CONFIG_VOLUME, "configMap": {"name": config_map_name(spec.name, node_set.name)}},
                # Optional: the cluster starts before (or without) a StrataFileSettings.
                {
                    "name": FILE_SETTINGS_VOLUME,
                    "configMap": {"name": file_settings_config_map_name(spec.name), "optional": True},
                },
            ],
        },
    }
    override = node_set.pod_template
    if override:
        user_spec = override.get("spec") or {}
        if "affinity" in user_spec:  # the user's affinity replaces the default one whole
            template["spec"].pop("affinity")
        template = _merge(template, {k: v for k, v in override.items() if k in ("metadata", "spec")})
        # The operator's labels win: the selector and the Services depend on them.
        template["metadata"]["labels"].update(built_labels)
        template["metadata"]["annotations"][ANNOTATION_CONFIG_HASH] = config_hash
    return template


def build_statefulset(
    spec: ClusterSpec,
    node_set: NodeSet,
    *,
    config_hash: str,
    replicas: int | None = None,
    storage_size: str | None = None,
) -> dict[str, Any]:
    """`replicas`: the count to run now, when it must differ from the spec's (a scale-down
    holds the current count until the leaving nodes are drained). `storage_size`: the claim
    template's size, when it must differ from the spec's (the template is immutable: it
    changes only when volumes.py makes the StatefulSet again)."""
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage_size or node_set.storage_size}},
    }
    if node_set.storage_class:
        claim_spec["storageClassName"] = node_set.storage_class
    name = statefulset_name(spec.name, node_set.name)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(spec, name, labels(spec, node_set)),
        "spec": {
            "serviceName": node_set_service_name(spec.name, node_set.name),
            "replicas": node_set.count if replicas is None else replicas,
            "selector": {"matchLabels": node_set_selector(spec.name, node_set.name)},
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "OnDelete"},
            # Claims are kept, whoever shrinks or deletes the StatefulSet (a `kubectl scale` by
            # hand must not lose data, and a StatefulSet made again for larger volumes must find
            # them); a scaled-down node's claim is taken up again when the set grows back.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": pod_template(spec, node_set, config_hash),
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": DATA_VOLUME, "labels": node_set_selector(spec.name, node_set.name)},
                    "spec": claim_spec,
                }
            ],
        },
    }
