"""Everything the operator renders or ships, against Kubernetes' OpenAPI schemas (strict:
unknown fields are errors) for the oldest supported Kubernetes, and every sample against the
CRDs' schemas with their defaults applied as the API server applies them."""

from __future__ import annotations

import pytest

from strata_operator.autoscaler import node_set_roles, parse_autoscaler
from strata_operator.builders.file_settings import build_file_settings_config_map
from strata_operator.spec import parse_cluster, parse_file_settings

from .conftest import make_cluster
from .helpers import build
from .schemas import CRDS, MANIFESTS, SAMPLES, crd_validate, k8s_validate, load_documents

SAMPLE_DOCS = [d for p in sorted(SAMPLES.glob("*.yaml")) for d in load_documents(p)]
MANIFEST_DOCS = [d for p in sorted(MANIFESTS.glob("*.yaml")) for d in load_documents(p)]


def doc_id(doc):
    return f"{doc['kind']}-{doc['metadata']['name']}"


def with_uid(doc):
    return {
        **doc,
        "metadata": {**doc["metadata"], "uid": "0d7f4c34-5d0e-4a8e-9a4b-6a3f3c8c1a11", "generation": 1},
    }


VARIANTS = [
    make_cluster(),
    make_cluster(
        {"name": "m", "count": 3, "roles": ["master"]},
        {"name": "coord", "count": 1, "roles": []},
        http={"service": {"type": "NodePort", "annotations": {"a": "b"}}},
        updateStrategy={"maxUnavailable": 2},
        secureSettings=[{"secretName": "s3", "entries": [{"key": "k", "setting": "s3.key"}]}],
    ),
    make_cluster(
        {
            "name": "default",
            "count": 2,
            "resources": {"limits": {"cpu": 2, "memory": "3Gi"}},
            "podTemplate": {
                "metadata": {"annotations": {"x": "y"}},
                "spec": {
                    "priorityClassName": "high",
                    "containers": [{"name": "strata", "env": [{"name": "A", "value": "1"}]}],
                },
            },
        }
    ),
]
CLUSTERS = [with_uid(d) for d in SAMPLE_DOCS if d["kind"] == "StrataCluster"] + VARIANTS


@pytest.mark.parametrize("doc", SAMPLE_DOCS, ids=doc_id)
def test_every_sample_is_valid_for_its_crd(doc):
    crd_validate(doc)


@pytest.mark.parametrize("doc", [d for d in SAMPLE_DOCS if d["kind"] == "StrataCluster"], ids=doc_id)
def test_every_cluster_sample_passes_the_operators_checks(doc):
    parse_cluster(with_uid(crd_validate(doc)))


@pytest.mark.parametrize(
    "resource", CLUSTERS, ids=lambda r: f"{r['metadata']['name']}-{len(r['spec']['nodeSets'])}"
)
@pytest.mark.parametrize("bootstrapped", [False, True], ids=["bootstrapping", "bootstrapped"])
def test_every_rendered_object_is_valid_kubernetes(resource, bootstrapped):
    for obj in build(resource, bootstrapped=bootstrapped, disruptions_allowed=not bootstrapped):
        k8s_validate(obj)


@pytest.mark.parametrize("doc", [d for d in SAMPLE_DOCS if d["kind"] == "StrataFileSettings"], ids=doc_id)
def test_every_rendered_file_settings_config_map_is_valid_kubernetes(doc):
    k8s_validate(build_file_settings_config_map(parse_file_settings(with_uid(doc)), "demo", 1))


@pytest.mark.parametrize("doc", MANIFEST_DOCS, ids=doc_id)
def test_every_install_manifest_is_valid_kubernetes(doc):
    k8s_validate(doc)


@pytest.mark.parametrize(
    "doc", [d for p in sorted(CRDS.glob("*.yaml")) for d in load_documents(p)], ids=doc_id
)
def test_every_crd_is_valid_kubernetes(doc):
    k8s_validate(doc)


def test_a_bad_object_is_caught():
    """The check is real: a typo in a rendered object fails it."""
    sts = next(o for o in build(make_cluster()) if o["kind"] == "StatefulSet")
    sts["spec"]["podManagmentPolicy"] = "Parallel"
    with pytest.raises(AssertionError, match="podManagmentPolicy"):
        k8s_validate(sts)


@pytest.mark.parametrize("doc", [d for d in SAMPLE_DOCS if d["kind"] == "StrataAutoscaler"], ids=doc_id)
def test_every_autoscaler_sample_names_node_sets_its_cluster_sample_has(doc):
    spec = parse_autoscaler(with_uid(crd_validate(doc)))
    clusters = [d for d in SAMPLE_DOCS if d["kind"] == "StrataCluster"]
    (cluster,) = [d for d in clusters if d["metadata"]["name"] == spec.cluster]
    node_sets = crd_validate(cluster)["spec"]["nodeSets"]
    for policy in spec.policies:
        assert [ns for ns in node_sets if node_set_roles(ns) == policy.roles], policy.name
