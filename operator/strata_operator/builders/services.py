"""The cluster's Services: HTTP for clients, a headless transport Service whose DNS name is
the discovery seed, and one headless Service per node set (the StatefulSet's governing
Service, which gives each pod a stable DNS name)."""

from __future__ import annotations

from typing import Any

from ..spec import ClusterSpec, NodeSet
from .common import (
    HTTP_PORT,
    LABEL_MASTER,
    TRANSPORT_PORT,
    cluster_selector,
    http_service_name,
    labels,
    metadata,
    node_set_selector,
    node_set_service_name,
    transport_service_name,
)

HTTP = {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}
TRANSPORT = {"name": "transport", "port": TRANSPORT_PORT, "targetPort": "transport", "protocol": "TCP"}


def build_http_service(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            spec, http_service_name(spec.name), labels(spec, component="http"), spec.http_service_annotations
        ),
        "spec": {
            "type": spec.http_service_type,
            "selector": cluster_selector(spec.name),
            "ports": [dict(HTTP)],
        },
    }


def build_transport_service(spec: ClusterSpec) -> dict[str, Any]:
    """Headless, over the master-eligible pods, not-ready ones included: nodes find each other
    through it before any of them is ready (readiness needs a formed cluster's HTTP)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, transport_service_name(spec.name), labels(spec, component="transport")),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {**cluster_selector(spec.name), LABEL_MASTER: "true"},
            "ports": [dict(TRANSPORT)],
        },
    }


def build_node_set_service(spec: ClusterSpec, node_set: NodeSet) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, node_set_service_name(spec.name, node_set.name), labels(spec, node_set)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": node_set_selector(spec.name, node_set.name),
            "ports": [dict(HTTP), dict(TRANSPORT)],
        },
    }
