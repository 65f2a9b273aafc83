from __future__ import annotations

import copy
from typing import Any

import pytest

from strata_operator.builders import ClusterSecrets

SECRETS = ClusterSecrets(transport_secret="test-transport-secret", operator_password="test-password")


def make_cluster(
    *node_sets: dict[str, Any], name: str = "demo", namespace: str = "prod", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataCluster",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
        "spec": {
            "version": "0.1.0",
            "nodeSets": list(node_sets) or [{"name": "default", "count": 3}],
            **spec,
        },
    }


@pytest.fixture
def cluster() -> dict[str, Any]:
    return copy.deepcopy(make_cluster())
