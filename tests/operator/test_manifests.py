"""The install: one namespace, the operator's identity and least-privilege access, and one
operator replica."""

from __future__ import annotations

import tomllib

from strata_operator.__main__ import parse_args

from .conftest import make_cluster
from .helpers import build
from .schemas import MANIFESTS, ROOT, load_documents

DOCS = [d for p in sorted(MANIFESTS.glob("*.yaml")) for d in load_documents(p)]
# API group of each kind the operator writes.
GROUPS = {"v1": "", "apps/v1": "apps", "policy/v1": "policy"}
PLURALS = {
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Service": "services",
    "StatefulSet": "statefulsets",
    "PodDisruptionBudget": "poddisruptionbudgets",
}


def of_kind(kind):
    return [d for d in DOCS if d["kind"] == kind]


def allowed(group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in of_kind("ClusterRole")[0]["rules"]:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs |= set(rule["verbs"])
    return verbs


def test_the_namespace_comes_first():
    first = sorted(MANIFESTS.glob("*.yaml"))[0]
    assert [d["kind"] for d in load_documents(first)] == ["Namespace"]


def test_everything_namespaced_is_in_the_operators_namespace():
    namespace = of_kind("Namespace")[0]["metadata"]["name"]
    for doc in DOCS:
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]


def test_the_binding_gives_the_role_to_the_operators_service_account():
    binding, account = of_kind("ClusterRoleBinding")[0], of_kind("ServiceAccount")[0]
    assert binding["roleRef"]["name"] == of_kind("ClusterRole")[0]["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    deployment = of_kind("Deployment")[0]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_the_role_lets_the_operator_apply_everything_it_builds():
    for obj in build(make_cluster()):
        verbs = allowed(GROUPS[obj["apiVersion"]], PLURALS[obj["kind"]])
        assert {"get", "create", "patch"} <= verbs, obj["kind"]


def test_the_role_deletes_only_pods_with_no_wildcard_and_no_secret_listing():
    for rule in of_kind("ClusterRole")[0]["rules"]:
        assert "delete" not in rule["verbs"] or rule["resources"] == ["pods"], rule
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
    assert allowed("", "secrets") == {"get", "create", "patch"}


def test_the_role_lets_the_operator_restart_pods():
    assert allowed("", "pods") == {"list", "delete"}


def test_the_role_covers_kopf():
    assert {"list", "watch"} <= allowed("apiextensions.k8s.io", "customresourcedefinitions")
    assert "create" in allowed("", "events")
    for plural in ("strataclusters", "stratafilesettings"):
        assert {"list", "watch", "patch"} <= allowed("strata.dev", plural)
        assert "patch" in allowed("strata.dev", f"{plural}/status")


def test_the_role_lets_owner_references_block_deletion():
    assert "update" in allowed("strata.dev", "strataclusters/finalizers")


def test_one_operator_replica_replaced_not_rolled():
    spec = of_kind("Deployment")[0]["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_the_operator_runs_its_entry_point_with_a_liveness_endpoint():
    container = of_kind("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts
    args = parse_args(command[1:])
    assert args.liveness.endswith(container["livenessProbe"]["httpGet"]["path"])
    assert args.namespace == []  # every namespace, as the ClusterRole allows
