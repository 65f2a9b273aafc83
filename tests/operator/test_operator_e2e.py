"""The operator process end to end: `python -m strata_operator` run against a Kubernetes API
emulator (tests/support/kube_emulator.py) through a kubeconfig, with real node processes on
loopback standing in for the pods (tests/support/kube_pods.py plays the StatefulSet
controller, the kubelet and the HTTP Service).

The tests of this module are one story, in order, on one cluster: create, file settings
(applied, then an invalid change refused), scale down with draining, then a rolling config
change. Each test starts from where the one before left off."""

from __future__ import annotations

import os
import subprocess
import sys
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


class World:
    def __init__(self, root: Path):
        self.root = root
        self.kube = KubeEmulator().start()
        self.api = httpx.Client(base_url=self.kube.url, timeout=10)
        # kopf serves a namespace only once it sees it exists.
        self.api.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
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
        group = {"statefulsets": "/apis/apps/v1"}.get(plural, "/api/v1")
        response = self.api.get(f"{group}/namespaces/{NS}/{plural}/{name}")
        return response.json() if response.status_code == 200 else None

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
