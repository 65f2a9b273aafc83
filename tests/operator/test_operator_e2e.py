"""The operator process end to end: `python -m strata_operator` run against a Kubernetes API
emulator (tests/support/kube_emulator.py) through a kubeconfig, with real node processes on
loopback standing in for the pods (tests/support/kube_pods.py plays the StatefulSet
controller, the volume resizer, the kubelet and the HTTP Service).

The tests of this module are one story, in order, on one cluster: create, file settings
(applied, then an invalid change refused; deleted, their settings given back, and made
again), scale down with draining, a rolling config
change on the two master-eligible nodes left, scale up, volume expansion, deletion (the
garbage collector takes what the resource owned, the volumes stay) and the cluster made
again on its volumes. Each test starts from where the one before left off (about 150 s in
all, most of it the operator's 10 s re-check interval)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.kube_emulator import KubeEmulator
from tests.support.kube_pods import PodRunner, ServiceProxy, wait_for
from tests.support.node_process import ROOT

pytestmark = pytest.mark.integration

NS = "prod"
CLUSTER = "demo"
STS = f"{CLUSTER}-default"
CLUSTERS = f"/apis/strata.dev/v1alpha1/namespaces/{NS}/strataclusters"
FILE_SETTINGS = f"/apis/strata.dev/v1alpha1/namespaces/{NS}/stratafilesettings"
MERGE = {"Content-Type": "application/merge-patch+json"}
# The cluster's default class, which lets claims grow.
STORAGE_CLASS = {
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "emulated",
    "allowVolumeExpansion": True,
}
# The node set's config from the rolling change on: later changes keep it (nothing restarts).
CONFIG = {"action.destructive_requires_name": False}


GROUPS = {"statefulsets": "/apis/apps/v1", "poddisruptionbudgets": "/apis/policy/v1"}


class World:
    def __init__(self, root: Path):
        self.root = root
        self.kube = KubeEmulator().start()
        self.api = httpx.Client(base_url=self.kube.url, timeout=10)
        # kopf serves a namespace only once it sees it exists.
        self.api.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
        self.api.post("/apis/storage.k8s.io/v1/storageclasses", json=STORAGE_CLASS).raise_for_status()
        self.pods = PodRunner(self.kube.url, root / "pods", NS).start()
        self.service = ServiceProxy(self.pods.ready_urls).start()
        kubeconfig = root / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(self.kube.kubeconfig()))
        env = dict(os.environ)
        env.update(
            KUBECONFIG=str(kubeconfig),
            STRATA_OPERATOR_CLUSTER_URL=self.service.url,
            PYTHONPATH=os.pathsep.join(
                [str(ROOT / "operator"), str(ROOT / "node"), env.get("PYTHONPATH", "")]
            ),
        )
        self.log_path = root / "operator.log"
        self._log = self.log_path.open("w")
        self.operator = subprocess.Popen(
            [sys.executable, "-m", "strata_operator", "--namespace", NS, "--verbose"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=root,
        )

    def stop(self) -> None:
        self.operator.terminate()
        try:
            self.operator.wait(15)
        except subprocess.TimeoutExpired:
            self.operator.kill()
            self.operator.wait()
        self._log.close()
        self.pods.stop()
        self.service.stop()
        self.api.close()
        self.kube.stop()

    def log(self, tail: int = 60) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-tail:])

    # -- the API -------------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any]:
        response = self.api.get(path)
        response.raise_for_status()
        return response.json()

    def obj(self, plural: str, name: str) -> dict[str, Any] | None:
        response = self.api.get(f"{GROUPS.get(plural, '/api/v1')}/namespaces/{NS}/{plural}/{name}")
        return response.json() if response.status_code == 200 else None

    def of_cluster(self, plural: str) -> list[dict[str, Any]]:
        """The objects of a kind that carry the cluster's label."""
        path = f"{GROUPS.get(plural, '/api/v1')}/namespaces/{NS}/{plural}"
        return self.get(f"{path}?labelSelector=strata.dev/cluster={CLUSTER}")["items"]

    def cluster(self) -> dict[str, Any]:
        return self.get(f"{CLUSTERS}/{CLUSTER}")

    def status(self) -> dict[str, Any]:
        return self.cluster().get("status") or {}

    def events(self, reason: str) -> list[dict[str, Any]]:
        return [e for e in self.kube.objects("events", NS) if e.get("reason") == reason]

    def node(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.service.url + path, timeout=30, **kwargs)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def wait(self, condition: Any, timeout: float, what: str) -> Any:
        try:
            return wait_for(condition, timeout, what)
        except AssertionError as e:
            raise AssertionError(
                f"{e}\n-- status: {self.status()}\n-- pod runner errors: {self.pods.errors[-5:]}"
                f"\n-- operator log:\n{self.log()}"
            ) from None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("e2e"))
    yield w
    w.stop()


def cluster_resource(count: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    node_set: dict[str, Any] = {"name": "default", "count": count}
    if config:
        node_set["config"] = config
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataCluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"version": "0.1.0", "nodeSets": [node_set]},
    }


def test_a_new_cluster_forms_and_reports_ready(world):
    response = world.api.post(CLUSTERS, json=cluster_resource(3))
    assert response.status_code == 201, response.text

    def ready():
        status = world.status()
        return status if status.get("phase") == "Ready" and status.get("health") == "green" else None

    status = world.wait(ready, 90, "the cluster Ready and green")
    assert status["availableNodes"] == 3
    assert status["masterNode"] in {f"{STS}-{i}" for i in range(3)}
    assert status["observedGeneration"] == world.cluster()["metadata"]["generation"]
    # Bootstrapped once: the uuid is recorded and the rendered strata.yml no longer bootstraps.
    annotations = world.cluster()["metadata"].get("annotations") or {}
    assert annotations.get("strata.dev/cluster-uuid")
    strata_yml = yaml.safe_load(world.obj("configmaps", f"{STS}-config")["data"]["strata.yml"])
    assert "cluster.initial_master_nodes" not in strata_yml
    # Every object the operator owns is there, owned by the resource.
    uid = world.cluster()["metadata"]["uid"]
    sts = world.obj("statefulsets", STS)
    assert sts["spec"]["replicas"] == 3
    assert sts["metadata"]["ownerReferences"][0]["uid"] == uid
    assert world.obj("secrets", f"{CLUSTER}-secrets") is not None
    assert world.events("Bootstrapped")


def file_settings_resource(cluster_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": "demo-settings", "namespace": NS},
        "spec": {"clusterRef": {"name": CLUSTER}, "settings": {"cluster_settings": cluster_settings}},
    }


def test_file_settings_are_applied_and_an_invalid_change_is_reported_not_shipped(world):
    good = {"action.auto_create_index": False, "cluster.max_voting_config_exclusions": 12}
    response = world.api.post(FILE_SETTINGS, json=file_settings_resource(good))
    assert response.status_code == 201, response.text
    path = f"{FILE_SETTINGS}/demo-settings"

    def applied():
        status = world.get(path).get("status") or {}
        return status if status.get("phase") == "Ready" else None

    status = world.wait(applied, 60, "the file settings Ready")
    assert status["appliedVersion"] == status["expectedVersion"] >= 1
    assert status["errors"] == []
    persistent = world.node("GET", "/_cluster/settings", params={"flat_settings": "true"})["persistent"]
    assert persistent["action.auto_create_index"] == "false"
    assert persistent["cluster.max_voting_config_exclusions"] == "12"
    shipped = world.obj("configmaps", f"{CLUSTER}-file-settings")["data"]["settings.json"]
    assert json.loads(shipped)["state"]["cluster_settings"]["action.auto_create_index"] is False

    # An invalid change: the cluster's validation refuses it, the status says why, and the
    # ConfigMap keeps what the cluster applied.
    bad = {"spec": {"settings": {"cluster_settings": {"no.such.setting": "x"}}}}
    world.api.patch(path, json=bad, headers=MERGE).raise_for_status()

    def refused():
        status = world.get(path).get("status") or {}
        return status if status.get("phase") == "Error" else None

    status = world.wait(refused, 30, "the invalid file settings reported")
    assert "no.such.setting" in status["errors"][0]
    assert status["expectedVersion"] == status["appliedVersion"]
    assert world.obj("configmaps", f"{CLUSTER}-file-settings")["data"]["settings.json"] == shipped
    assert [e for e in world.events("ValidationFailed") if "no.such.setting" in e["message"]]


def test_deleted_file_settings_give_their_settings_back_before_they_go(world):
    """The deletion waits (kopf's finalizer) until the cluster applied an empty settings.json:
    the settings the file reserved may be changed again. Made again, the file settings apply."""
    path = f"{FILE_SETTINGS}/demo-settings"
    change = {"persistent": {"cluster.max_voting_config_exclusions": 13}}
    refused = httpx.put(world.service.url + "/_cluster/settings", json=change, timeout=30)
    assert refused.status_code == 400, refused.text
    world.api.delete(path).raise_for_status()

    world.wait(lambda: world.api.get(path).status_code == 404, 60, "the file settings gone")
    reserved = world.node("GET", "/_cluster/state/metadata",
                          params={"filter_path": "metadata.reserved_state"})["metadata"]["reserved_state"]
    assert reserved["file_settings"]["handlers"] == {}
    assert world.events("SettingsReleased")
    world.node("PUT", "/_cluster/settings", json=change)

    good = {"action.auto_create_index": False, "cluster.max_voting_config_exclusions": 12}
    world.api.post(FILE_SETTINGS, json=file_settings_resource(good)).raise_for_status()
    world.wait(lambda: (world.get(path).get("status") or {}).get("phase") == "Ready", 60,
               "the file settings made again Ready")


def set_node_set(world: World, count: int, config: dict[str, Any] | None = None) -> None:
    node_set: dict[str, Any] = {"name": "default", "count": count, "config": config}
    world.api.patch(
        f"{CLUSTERS}/{CLUSTER}", json={"spec": {"nodeSets": [node_set]}}, headers=MERGE
    ).raise_for_status()


def shutdowns(world: World) -> dict[str, dict[str, Any]]:
    try:
        return {s["node_id"]: s for s in world.node("GET", "/_nodes/shutdown")["nodes"]}
    except (AssertionError, httpx.HTTPError):
        return {}


def no_markers(world: World) -> Any:
    return lambda: world.node("GET", "/_nodes/shutdown")["nodes"] == []


def ready_with(world: World, nodes: int) -> Any:
    """The status Ready and green with this many nodes (the status then, else None)."""

    def check() -> dict[str, Any] | None:
        status = world.status()
        seen = (status.get("phase"), status.get("health"), status.get("availableNodes"))
        return status if seen == ("Ready", "green", nodes) else None

    return check


def voting_exclusions(world: World) -> list[dict[str, Any]]:
    coordination = world.node("GET", "/_cluster/state/metadata",
                              params={"filter_path": "metadata.cluster_coordination"})
    return coordination["metadata"]["cluster_coordination"]["voting_config_exclusions"]


def test_scale_down_drains_the_leaving_node_before_the_statefulset_shrinks(world):
    lines = "".join(json.dumps({"index": {}}) + "\n" + json.dumps({"n": i}) + "\n" for i in range(60))
    world.node("PUT", "/logs", json={"settings": {"number_of_shards": 3, "number_of_replicas": 1}})
    world.node("POST", "/logs/_bulk", params={"refresh": "true"}, content=lines,
               headers={"content-type": "application/x-ndjson"})
    world.node("GET", "/_cluster/health", params={"wait_for_status": "green", "timeout": "30s"})
    ids = {r["name"]: r["id"] for r in world.node(
        "GET", "/_cat/nodes", params={"format": "json", "h": "id,name", "full_id": "true"})}
    leaving = ids[f"{STS}-2"]
    set_node_set(world, 2)

    phases, marker_at_shrink = set(), None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        phases.add(world.status().get("phase"))
        markers = shutdowns(world)
        if world.obj("statefulsets", STS)["spec"]["replicas"] == 2:
            marker_at_shrink = markers.get(leaving) or shutdowns(world).get(leaving)
            break
        if leaving in markers:
            assert markers[leaving]["type"] == "REMOVE"
        time.sleep(0.2)
    else:
        raise AssertionError(f"the StatefulSet did not shrink: {world.status()}\n{world.log()}")
    # The StatefulSet shrank only once the cluster reported the node drained.
    assert marker_at_shrink is not None, "the shutdown marker should still be there at the shrink"
    assert (marker_at_shrink["type"], marker_at_shrink["status"]) == ("REMOVE", "COMPLETE")
    assert "MigratingData" in phases

    world.wait(lambda: ready_with(world, 2)() and world.obj("pods", f"{STS}-2") is None, 60,
               "two nodes, Ready and green")
    assert world.node("GET", "/logs/_count")["count"] == 60
    # Afterwards nothing is left behind: no marker, no voting exclusion.
    world.wait(no_markers(world), 30, "the shutdown marker cleared")
    assert voting_exclusions(world) == []


def test_a_config_change_rolls_through_two_master_eligible_nodes_one_at_a_time(world):
    """The scale-down left the master the only voter (an odd configuration): no master while
    it restarts, last, and one elected within seconds of its return; the roll goes on, with
    a Warning for that restart."""
    revision = world.obj("statefulsets", STS)["status"]["updateRevision"]
    starts = dict(world.pods.starts)
    set_node_set(world, 2, CONFIG)
    names = [f"{STS}-0", f"{STS}-1"]

    most_down, restart_markers = 0, set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pods = {n: world.obj("pods", n) for n in names}
        down = [n for n, p in pods.items() if p is None or p["metadata"].get("deletionTimestamp")
                or not PodRunner._pod_ready(p)]
        most_down = max(most_down, len(down))
        restart_markers |= {s["node_id"] for s in shutdowns(world).values() if s["type"] == "RESTART"}
        sts = world.obj("statefulsets", STS)
        status = world.status()
        if (
            sts["status"]["updateRevision"] != revision
            and all(world.pods.starts.get(n, 0) > starts.get(n, 0) for n in names)
            and all(p is not None and p["metadata"]["labels"]["controller-revision-hash"]
                    == sts["status"]["updateRevision"] for p in pods.values())
            and status.get("phase") == "Ready"
            and status.get("health") == "green"
        ):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the rolling change did not finish: {world.status()}\n{world.log()}")
    assert most_down == 1, "two pods were down at once"
    assert len(restart_markers) == 2, restart_markers
    assert len(world.events("RestartStarted")) >= 2
    assert len(world.events("MasterQuorumLost")) >= 1
    strata_yml = yaml.safe_load(world.obj("configmaps", f"{STS}-config")["data"]["strata.yml"])
    assert strata_yml["action.destructive_requires_name"] == "false"
    # The markers are gone once every node is back, and no document was lost.
    world.wait(no_markers(world), 30, "the restart markers cleared")
    assert world.node("GET", "/logs/_count")["count"] == 60


def test_scale_up_adds_a_node_on_the_current_template(world):
    set_node_set(world, 3, CONFIG)

    world.wait(ready_with(world, 3), 60, "three nodes, Ready and green")
    sts = world.obj("statefulsets", STS)
    assert sts["spec"]["replicas"] == 3
    assert world.obj("pods", f"{STS}-2")["metadata"]["labels"]["controller-revision-hash"] == (
        sts["status"]["updateRevision"])
    # A cluster that has formed is never bootstrapped again.
    strata_yml = yaml.safe_load(world.obj("configmaps", f"{STS}-config")["data"]["strata.yml"])
    assert "cluster.initial_master_nodes" not in strata_yml
    assert world.node("GET", "/logs/_count")["count"] == 60


def test_growing_the_volumes_grows_every_claim_in_place_and_restarts_no_pod(world):
    old_uid = world.obj("statefulsets", STS)["metadata"]["uid"]
    starts = dict(world.pods.starts)
    world.api.patch(
        f"{CLUSTERS}/{CLUSTER}",
        json={"spec": {"nodeSets": [{"name": "default", "count": 3, "config": CONFIG,
                                     "storage": {"size": "20Gi"}}]}},
        headers=MERGE,
    ).raise_for_status()

    def grown():
        sts = world.obj("statefulsets", STS)
        claims = world.of_cluster("persistentvolumeclaims")
        status = world.status()
        return sts is not None and sts["metadata"]["uid"] != old_uid and len(claims) == 3 and all(
            c["status"]["capacity"]["storage"] == "20Gi" for c in claims
        ) and (status.get("phase"), status.get("health")) == ("Ready", "green")

    world.wait(grown, 60, "every claim at 20Gi and the StatefulSet made again")
    sts = world.obj("statefulsets", STS)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert world.pods.starts == starts, "no node restarted"
    # The running pods were orphaned, then adopted by the StatefulSet made again.
    for i in range(3):
        owners = world.obj("pods", f"{STS}-{i}")["metadata"]["ownerReferences"]
        assert [o["uid"] for o in owners if o.get("controller")] == [sts["metadata"]["uid"]]
    assert world.events("VolumeExpansion")
    assert world.node("GET", "/logs/_count")["count"] == 60


def test_deleting_the_cluster_removes_everything_it_owned_and_keeps_the_volumes(world):
    uid = world.cluster()["metadata"]["uid"]
    assert world.cluster()["metadata"]["finalizers"] == ["strata.dev/operator"]
    owned = {(p, o["metadata"]["name"]) for p in ("services", "secrets", "configmaps", "poddisruptionbudgets",
                                                  "statefulsets")
             for o in world.kube.objects(p, NS)
             if uid in {r["uid"] for r in o["metadata"].get("ownerReferences") or []}}
    assert len(owned) == 7, owned  # the Secret, a ConfigMap, 3 Services, the StatefulSet, the PDB
    world.api.delete(f"{CLUSTERS}/{CLUSTER}").raise_for_status()

    def gone():
        # The resource goes only once the operator removed its finalizer.
        return world.api.get(f"{CLUSTERS}/{CLUSTER}").status_code == 404 and not any(
            world.obj(plural, name) for plural, name in owned
        ) and not world.of_cluster("pods") and not world.pods.nodes

    world.wait(gone, 60, "the cluster and everything it owned gone")
    assert len(world.of_cluster("persistentvolumeclaims")) == 3
    # The file settings' ConfigMap is the StrataFileSettings' own, and goes with it.
    world.api.delete(f"{FILE_SETTINGS}/demo-settings").raise_for_status()
    world.wait(lambda: world.obj("configmaps", f"{CLUSTER}-file-settings") is None, 30,
               "the file settings ConfigMap gone")


def test_a_cluster_made_again_on_its_volumes_has_its_data_and_nothing_left_behind(world):
    resource = cluster_resource(3, CONFIG)
    resource["spec"]["nodeSets"][0]["storage"] = {"size": "20Gi"}
    world.api.post(CLUSTERS, json=resource).raise_for_status()

    world.wait(ready_with(world, 3), 90, "the cluster Ready and green again")
    assert world.node("GET", "/logs/_count")["count"] == 60
    world.wait(no_markers(world), 30, "no shutdown marker")
    assert voting_exclusions(world) == []



AUTOSCALERS = f"/apis/strata.dev/v1alpha1/namespaces/{NS}/strataautoscalers"


def test_an_autoscaler_grows_the_node_set_to_what_its_policy_requires(world):
    """The operator puts the policy into the cluster, reads the capacity it requires (the
    fixed decider: four nodes of 1000tb, so four nodes as large as they are), and scales
    the node set from 3 to 4 within the policy's limits; the cluster's own reconcile adds
    the node."""
    roles = ["master", "data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen", "ingest",
             "remote_cluster_client"]
    resource = {
        "apiVersion": "strata.dev/v1alpha1", "kind": "StrataAutoscaler",
        "metadata": {"name": "scaler", "namespace": NS},
        "spec": {"clusterRef": {"name": CLUSTER}, "pollingPeriod": "5s", "policies": [{
            "name": "everything", "roles": roles, "deciders": {"fixed": {"storage": "1000tb", "nodes": 4}},
            "resources": {"nodeCount": {"min": 3, "max": 4}}}]},
    }
    response = world.api.post(AUTOSCALERS, json=resource)
    assert response.status_code == 201, response.text

    world.wait(ready_with(world, 4), 120, "four nodes, Ready and green")
    assert world.cluster()["spec"]["nodeSets"][0]["count"] == 4
    policy = world.node("GET", "/_autoscaling/policy/everything")
    assert policy["deciders"] == {"fixed": {"nodes": "4", "storage": "1000tb"}}
    status = world.get(f"{AUTOSCALERS}/scaler")["status"]
    assert status["phase"] == "Ready"
    assert status["policies"][0]["nodeSets"] == [{"name": "default", "count": 4}]
    assert world.events("Scaled")
    assert world.node("GET", "/logs/_count")["count"] == 60
