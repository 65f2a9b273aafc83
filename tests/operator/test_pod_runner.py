"""The end-to-end tests' stand-in for the StatefulSet controller (tests/support/kube_pods.py),
held to what the real one does where a race made the end-to-end story fail."""

from __future__ import annotations

import httpx
import pytest

from tests.support.kube_emulator import KubeEmulator
from tests.support.kube_pods import PodRunner

NS = "prod"
STATEFULSETS = f"/apis/apps/v1/namespaces/{NS}/statefulsets"
PODS = f"/api/v1/namespaces/{NS}/pods"


def statefulset(name: str) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": []}}},
    }


@pytest.fixture
def kube():
    emulator = KubeEmulator().start()
    api = httpx.Client(base_url=emulator.url, timeout=10)
    api.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
    yield api
    api.close()
    emulator.stop()


@pytest.fixture
def runner(kube, tmp_path):
    runner = PodRunner(str(kube.base_url), tmp_path, NS)  # never started: driven by hand
    yield runner
    runner.stop()


def run_controller(kube: httpx.Client, runner: PodRunner) -> None:
    """One round of the StatefulSet controller alone (no kubelet: no node is started)."""
    pods = {p["metadata"]["name"]: p for p in kube.get(PODS).json()["items"]}
    for sts in kube.get(STATEFULSETS).json()["items"]:
        runner._control(sts, pods, {})


def pod_controllers(kube: httpx.Client, name: str) -> list[str]:
    refs = kube.get(f"{PODS}/{name}").json()["metadata"].get("ownerReferences") or []
    return [r["uid"] for r in refs if r.get("controller")]


def test_pods_orphaned_by_a_deleted_statefulset_are_not_adopted_for_it_from_a_stale_listing(kube, runner):
    old = kube.post(STATEFULSETS, json=statefulset("demo-default")).json()
    run_controller(kube, runner)  # the pod is made, owned by the StatefulSet
    assert pod_controllers(kube, "demo-default-0") == [old["metadata"]["uid"]]
    # The operator deletes the StatefulSet, orphaning its pod, after the runner listed it.
    kube.request("DELETE", f"{STATEFULSETS}/demo-default",
                 params={"propagationPolicy": "Orphan"}).raise_for_status()
    pods = {p["metadata"]["name"]: p for p in kube.get(PODS).json()["items"]}
    assert pod_controllers(kube, "demo-default-0") == []

    runner._control(old, pods, {})

    assert pod_controllers(kube, "demo-default-0") == []


def test_an_orphaned_pod_is_adopted_by_the_statefulset_made_again(kube, runner):
    kube.post(STATEFULSETS, json=statefulset("demo-default")).raise_for_status()
    run_controller(kube, runner)
    kube.request("DELETE", f"{STATEFULSETS}/demo-default",
                 params={"propagationPolicy": "Orphan"}).raise_for_status()
    new = kube.post(STATEFULSETS, json=statefulset("demo-default")).json()

    run_controller(kube, runner)

    assert pod_controllers(kube, "demo-default-0") == [new["metadata"]["uid"]]
