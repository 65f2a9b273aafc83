"""The install: one namespace, the operator's identity and least-privilege access, and one
operator replica."""

from __future__ import annotations

import json
import tomllib

import pytest

from strata_operator.__main__ import parse_args
from strata_operator.autoscaler_reconcile import reconcile_autoscaler
from strata_operator.reconcile import reconcile_cluster, reconcile_file_settings, release_file_settings
from strata_operator.spec import ALL_ROLES

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .helpers import build, one
from .memory_kube import MemoryKube
from .schemas import MANIFESTS, ROOT, SAMPLES, k8s_validate, load_documents

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


def test_the_role_deletes_only_pods_statefulsets_configmaps_and_services_with_no_wildcard():
    deletable = (["pods"], ["statefulsets"], ["configmaps", "services"])
    for rule in of_kind("ClusterRole")[0]["rules"]:
        assert "delete" not in rule["verbs"] or rule["resources"] in deletable, rule
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
    assert allowed("", "secrets") == {"get", "create", "patch"}


class Recording:
    """A MemoryKube whose every call is recorded as the (API group, resource, verb) the real
    client would send (apply: a get for the ownership check, then a PATCH that may create)."""

    PLURAL = {
        **PLURALS,
        "Pod": "pods",
        "PersistentVolumeClaim": "persistentvolumeclaims",
        "StorageClass": "storageclasses",
        "StrataCluster": "strataclusters",
        "StrataAutoscaler": "strataautoscalers",
    }

    def __init__(self, kube):
        self.kube = kube
        self.used: set[tuple[str, str, str]] = set()

    def _note(self, api_version: str, kind: str, *verbs: str) -> None:
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        self.used |= {(group, self.PLURAL[kind], verb) for verb in verbs}

    def get(self, api_version, kind, namespace, name):
        self._note(api_version, kind, "get")
        return self.kube.get(api_version, kind, namespace, name)

    def list(self, api_version, kind, namespace, labels=None):
        self._note(api_version, kind, "list")
        return self.kube.list(api_version, kind, namespace, labels)

    def apply(self, obj, owner_uid):
        self._note(obj["apiVersion"], obj["kind"], "get", "create", "patch")
        return self.kube.apply(obj, owner_uid)

    def patch(self, api_version, kind, namespace, name, patch):
        self._note(api_version, kind, "patch")
        return self.kube.patch(api_version, kind, namespace, name, patch)

    def delete(self, api_version, kind, namespace, name, uid, orphan=False):
        self._note(api_version, kind, "delete")
        return self.kube.delete(api_version, kind, namespace, name, uid, orphan)


def every_request_the_operator_makes() -> set[tuple[str, str, str]]:
    """Create, a rolling change, volume expansion, a scale-down, a node set dropped and removed,
    and file settings, recorded."""
    storage_class = {"kind": "StorageClass", "metadata": {"name": "standard"}, "allowVolumeExpansion": True}
    memory = MemoryKube(storage_class)
    kube = Recording(memory)
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    steps = [
        make_cluster(),
        make_cluster({"name": "default", "count": 3, "config": {"indices.memory.index_buffer_size": "20%"}}),
        make_cluster({"name": "default", "count": 3, "storage": {"size": "20Gi"}}),
        make_cluster({"name": "default", "count": 2, "storage": {"size": "20Gi"}}),
    ]
    for resource in steps:
        for _ in range(3):
            reconcile_cluster(resource, kube, cluster.connect)
            memory.run_statefulsets()
    # A node set added, then dropped: drained to zero, and removed once its pod and node are gone.
    cluster.nodes.append(node("demo-data-0", roles="di"))
    data = {"name": "data", "count": 1, "roles": ["data"]}
    reconcile_cluster(make_cluster(*steps[-1]["spec"]["nodeSets"], data), kube, cluster.connect)
    memory.run_statefulsets()
    reconcile_cluster(steps[-1], kube, cluster.connect)
    cluster.drain("id-demo-data-0", "COMPLETE")
    reconcile_cluster(steps[-1], kube, cluster.connect)
    memory.remove_surplus_pods()
    cluster.nodes = [n for n in cluster.nodes if n["name"] != "demo-data-0"]
    reconcile_cluster(steps[-1], kube, cluster.connect)
    assert ("StatefulSet", "prod", "demo-data") not in memory.objects
    memory.objects[("StrataCluster", "prod", "demo")] = make_cluster()
    settings = {
        "metadata": {"name": "s", "namespace": "prod", "uid": "uid-s", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "settings": {"cluster_settings": {}}},
    }
    shipped = reconcile_file_settings(settings, kube, cluster.connect).status
    # Moved to another cluster: the first one's settings given back, then its ConfigMap deleted;
    # then deleted: the settings given back by the delete handler.
    memory.objects[("StrataCluster", "prod", "other")] = make_cluster(name="other")
    moved = {**settings, "spec": {**settings["spec"], "clusterRef": {"name": "other"}}}
    releasing = reconcile_file_settings({**moved, "status": shipped}, kube, cluster.connect).status
    emptied = json.loads(memory.objects[("ConfigMap", "prod", "demo-file-settings")]["data"]["settings.json"])
    cluster.file_settings = {"version": int(emptied["metadata"]["version"]), "handlers": {}, "errors": None}
    moved["status"] = reconcile_file_settings({**moved, "status": releasing}, kube, cluster.connect).status
    assert ("ConfigMap", "prod", "demo-file-settings") not in memory.objects
    release_file_settings(moved, kube, cluster.connect)
    autoscaler = {
        "metadata": {"name": "a", "namespace": "prod", "uid": "uid-a", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "policies": [
            {"name": "all", "roles": list(ALL_ROLES), "resources": {"nodeCount": {"min": 3, "max": 5}}}]},
    }
    cluster.capacity["all"] = {"required_capacity": {"total": {"storage": 1}, "node": {"storage": 1}}}
    reconcile_autoscaler(autoscaler, kube, cluster.connect)
    return kube.used


def test_the_role_grants_every_request_of_the_operators_own_code_and_no_more():
    used = every_request_the_operator_makes()
    granted = {
        (group, resource, verb)
        for rule in of_kind("ClusterRole")[0]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert used <= granted, sorted(used - granted)
    plurals = ("strataclusters", "stratafilesettings", "strataautoscalers")
    kopf = {"customresourcedefinitions", "events", *(f"{p}/status" for p in plurals),
            *(f"{p}/finalizers" for p in plurals)}
    custom = {("strata.dev", p, v) for p in plurals for v in ("watch", "patch")}
    listed_by_kopf = {("strata.dev", p, "list") for p in ("stratafilesettings", "strataautoscalers")}
    unused = {g for g in granted - used - custom if g[1] not in kopf and g not in listed_by_kopf}
    assert unused == set(), sorted(unused)


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


RECOVERY = [d for p in sorted((MANIFESTS / "recovery").glob("*.yaml")) for d in load_documents(p)]


@pytest.mark.parametrize("pod", RECOVERY, ids=lambda d: d["metadata"]["name"])
def test_a_recovery_pod_runs_the_node_tool_on_the_claim_a_node_of_the_sample_cluster_has(pod):
    k8s_validate(pod)
    sts = one(build(sample("cluster-3-nodes.yaml")), "StatefulSet", "demo-default")
    node = sts["spec"]["template"]["spec"]
    [container] = pod["spec"]["containers"]
    assert container["image"] == node["containers"][0]["image"]
    assert pod["spec"]["securityContext"] == node["securityContext"]
    [claim_template] = sts["spec"]["volumeClaimTemplates"]
    [mount] = container["volumeMounts"]
    data_mount = next(m for m in node["containers"][0]["volumeMounts"] if m["name"] == "data")
    assert mount["mountPath"] == data_mount["mountPath"]
    claim = pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim in {f"{claim_template['metadata']['name']}-{p}" for p in pod_names(sts)}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert container["command"][0] in scripts
    assert container["command"][1:] in (
        [tool, "--path-data", mount["mountPath"], "--yes"] for tool in ("unsafe-bootstrap", "detach-cluster")
    )


def test_the_recovery_pods_bootstrap_one_node_and_detach_the_others():
    tools = [d["spec"]["containers"][0]["command"][1] for d in RECOVERY]
    assert tools.count("unsafe-bootstrap") == 1 and "detach-cluster" in tools


def sample(name: str) -> dict:
    [doc] = load_documents(SAMPLES / name)
    return {**doc, "metadata": {**doc["metadata"], "uid": "uid-demo", "generation": 1}}


def pod_names(sts: dict) -> list[str]:
    return [f"{sts['metadata']['name']}-{i}" for i in range(sts["spec"]["replicas"])]


def dockerfile_stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined), in file order."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = stages.setdefault(line.split(" AS ")[-1].strip(), [])
        current.append(line)
    return stages


def entrypoint(stage: list[str]) -> list[str]:
    [line] = [i for i in stage if i.startswith("ENTRYPOINT ")]
    return json.loads(line.removeprefix("ENTRYPOINT "))


def test_one_dockerfile_builds_the_operator_image_by_target_and_the_node_image_by_default():
    stages = dockerfile_stages()
    assert list(stages)[-1] == "node"  # `docker build .` without --target
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint(stages["operator"])[0] == "strata-operator" in scripts
    assert entrypoint(stages["node"])[0] == "strata-node" in scripts
    assert any('".[operator]"' in i for i in stages["operator"])
    assert any('".[node]"' in i for i in stages["node"])


def test_the_images_are_the_ones_the_install_and_the_operator_name():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    container = of_kind("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"strata/strata-operator:{version}"
    sts = one(build(sample("cluster-3-nodes.yaml")), "StatefulSet", "demo-default")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == f"strata/strata-node:{version}"
    header = (ROOT / "Dockerfile").read_text()
    assert f"--target operator -t strata/strata-operator:{version}" in header
    assert f"-t strata/strata-node:{version}" in header


def test_the_node_image_runs_as_the_user_and_serves_the_ports_and_data_path_the_pods_expect():
    node = dockerfile_stages()["node"]
    sts = one(build(sample("cluster-3-nodes.yaml")), "StatefulSet", "demo-default")
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000
    assert "USER strata" in node
    assert any("--uid 1000" in i for i in dockerfile_stages()["base"])
    ports = {p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert f"EXPOSE {' '.join(str(p) for p in sorted(ports))}" in node
    data = next(m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == "data")
    assert f'VOLUME ["{data}"]' in node
