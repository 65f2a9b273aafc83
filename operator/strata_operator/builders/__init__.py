"""Pure functions from a custom resource to the Kubernetes objects that run it: no API calls,
no clock, no randomness (generated values such as the transport secret are inputs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec import ClusterSpec, parse_cluster
from .config import build_config_map, config_hash, node_settings
from .pdb import build_pdb
from .secret import ClusterSecrets, build_secret
from .services import build_http_service, build_node_set_service, build_transport_service
from .statefulset import build_statefulset

__all__ = ["ClusterSecrets", "build_cluster", "build_cluster_objects"]


def build_cluster_objects(
    spec: ClusterSpec,
    *,
    secrets: ClusterSecrets,
    bootstrapped: bool,
    replicas: Mapping[str, int] | None = None,
    claim_sizes: Mapping[str, str] | None = None,
    disruptions_allowed: bool = True,
) -> list[dict[str, Any]]:
    """Every object of the cluster, in the order to apply them (what a pod mounts or names
    before the StatefulSets).

    bootstrapped: the cluster has formed once (cluster.initial_master_nodes is left out).
    replicas: node set -> the count to run now where it differs from the spec's.
    claim_sizes: node set -> the storage size its claim template keeps where it differs from
    the spec's (a volume expansion not done yet, or refused).
    disruptions_allowed: whether the PodDisruptionBudget lets voluntary disruptions through."""
    replicas = replicas or {}
    claim_sizes = claim_sizes or {}
    objects: list[dict[str, Any]] = [build_secret(spec, secrets)]
    statefulsets = []
    for node_set in spec.node_sets:
        settings = node_settings(spec, node_set, bootstrapped=bootstrapped)
        objects.append(build_config_map(spec, node_set, settings))
        statefulsets.append(
            build_statefulset(
                spec,
                node_set,
                config_hash=config_hash(settings),
                replicas=replicas.get(node_set.name),
                storage_size=claim_sizes.get(node_set.name),
            )
        )
    objects.append(build_transport_service(spec))
    objects.append(build_http_service(spec))
    objects.extend(build_node_set_service(spec, node_set) for node_set in spec.node_sets)
    objects.extend(statefulsets)
    objects.append(build_pdb(spec, disruptions_allowed=disruptions_allowed))
    return objects


def build_cluster(resource: Mapping[str, Any], **inputs: Any) -> list[dict[str, Any]]:
    """build_cluster_objects of a StrataCluster resource (a dict); raises spec.InvalidSpec."""
    return build_cluster_objects(parse_cluster(resource), **inputs)
