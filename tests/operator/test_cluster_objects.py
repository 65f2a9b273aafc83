"""Services, the Secret, the PodDisruptionBudget, and what every object carries."""

from __future__ import annotations

import base64

from strata_operator.builders import ClusterSecrets
from strata_operator.builders.secret import build_secret
from strata_operator.spec import parse_cluster

from .conftest import SECRETS, make_cluster
from .helpers import build, one


def test_objects_come_in_apply_order(cluster):
    kinds = [o["kind"] for o in build(cluster)]
    assert kinds == [
        "Secret",
        "ConfigMap",
        "Service",
        "Service",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
    ]


def test_every_object_is_owned_by_the_cluster(cluster):
    for obj in build(cluster):
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "strata.dev/v1alpha1",
                "kind": "StrataCluster",
                "name": "demo",
                "uid": "uid-demo",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], obj["metadata"]["name"]


def test_every_object_is_in_the_clusters_namespace(cluster):
    assert {o["metadata"]["namespace"] for o in build(cluster)} == {"prod"}


def test_every_object_is_labelled_with_the_cluster(cluster):
    for obj in build(cluster):
        labels = obj["metadata"]["labels"]
        assert labels["strata.dev/cluster"] == "demo"
        assert labels["app.kubernetes.io/managed-by"] == "strata-operator"
        assert labels["app.kubernetes.io/instance"] == "demo"


def test_http_service_selects_every_node(cluster):
    svc = one(build(cluster), "Service", "demo-http")
    assert svc["spec"]["selector"] == {"strata.dev/cluster": "demo"}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 9200, "targetPort": "http", "protocol": "TCP"}]


def test_http_service_type_and_annotations_come_from_the_spec(cluster):
    cluster["spec"]["http"] = {"service": {"type": "LoadBalancer", "annotations": {"lb": "internal"}}}
    svc = one(build(cluster), "Service", "demo-http")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"lb": "internal"}


def test_transport_service_is_headless_and_publishes_pods_before_they_are_ready(cluster):
    spec = one(build(cluster), "Service", "demo-transport")["spec"]
    assert spec["clusterIP"] == "None"
    assert spec["publishNotReadyAddresses"] is True
    assert spec["ports"][0]["port"] == 9300


def test_transport_service_selects_the_master_eligible_pods(cluster):
    selector = one(build(cluster), "Service", "demo-transport")["spec"]["selector"]
    assert selector == {"strata.dev/cluster": "demo", "strata.dev/master-eligible": "true"}


def test_each_node_set_has_a_headless_service_governing_its_statefulset():
    objects = build(make_cluster({"name": "a", "count": 1}, {"name": "b", "count": 1}))
    for name in ("demo-a", "demo-b"):
        svc = one(objects, "Service", name)
        assert svc["spec"]["clusterIP"] == "None"
        assert svc["spec"]["publishNotReadyAddresses"] is True
        assert one(objects, "StatefulSet", name)["spec"]["serviceName"] == name


def test_secret_holds_the_given_transport_secret_and_credentials(cluster):
    data = one(build(cluster), "Secret", "demo-secrets")["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert decoded == {
        "transport-secret": "test-transport-secret",
        "operator-username": "strata-operator",
        "operator-password": "test-password",
    }


def test_secret_values_read_back_from_the_secret(cluster):
    assert ClusterSecrets.from_secret(build_secret(parse_cluster(cluster), SECRETS)) == SECRETS


def test_an_incomplete_secret_reads_as_none():
    assert ClusterSecrets.from_secret({"data": {"transport-secret": ""}}) is None
    assert ClusterSecrets.from_secret(None) is None


def test_generated_secrets_differ_each_time():
    assert ClusterSecrets.generate() != ClusterSecrets.generate()


def test_pdb_allows_update_strategy_max_unavailable(cluster):
    cluster["spec"]["updateStrategy"] = {"maxUnavailable": 2}
    pdb = one(build(cluster), "PodDisruptionBudget", "demo-pdb")
    assert pdb["spec"] == {"maxUnavailable": 2, "selector": {"matchLabels": {"strata.dev/cluster": "demo"}}}


def test_pdb_defaults_to_one_disruption(cluster):
    assert one(build(cluster), "PodDisruptionBudget", "demo-pdb")["spec"]["maxUnavailable"] == 1


def test_pdb_allows_no_disruption_when_the_cluster_is_not_green(cluster):
    pdb = one(build(cluster, disruptions_allowed=False), "PodDisruptionBudget", "demo-pdb")
    assert pdb["spec"]["maxUnavailable"] == 0
