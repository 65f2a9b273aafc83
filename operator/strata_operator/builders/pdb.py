"""The cluster's PodDisruptionBudget: voluntary disruptions (node drains, evictions) take at
most updateStrategy.maxUnavailable nodes at once, and none while the cluster is not green
(the handler says so: `disruptions_allowed`), as Elastic's operator does."""

from __future__ import annotations

from typing import Any

from ..spec import ClusterSpec
from .common import cluster_selector, labels, metadata, pdb_name


def build_pdb(spec: ClusterSpec, *, disruptions_allowed: bool) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec, pdb_name(spec.name), labels(spec, component="disruption-budget")),
        "spec": {
            "maxUnavailable": spec.max_unavailable if disruptions_allowed else 0,
            "selector": {"matchLabels": cluster_selector(spec.name)},
        },
    }
