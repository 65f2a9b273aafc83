"""A node set dropped from the spec: once the scale-down has drained it to zero replicas and its
pods and nodes are gone, its StatefulSet, headless Service and ConfigMap are deleted (the
StatefulSet last) and its claims kept; never before, never a node set still in the spec, and
a failed delete is taken up again. The reconcile over an in-memory Kubernetes and a fake
cluster API."""

from __future__ import annotations

import pytest

from strata_operator.reconcile import reconcile_cluster

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .memory_kube import MemoryKube

WITH_DATA = make_cluster({"name": "default", "count": 3}, {"name": "data", "count": 3, "roles": ["data"]})
WITHOUT_DATA = make_cluster({"name": "default", "count": 3})
DATA_OBJECTS = [
    ("StatefulSet", "prod", "demo-data"),
    ("Service", "prod", "demo-data"),
    ("ConfigMap", "prod", "demo-data-config"),
]


def a_cluster(*node_sets: tuple[str, int]) -> FakeCluster:
    """Master-eligible nodes demo-default-0..2 and data-only nodes of the node sets named."""
    return FakeCluster(
        *(node(f"demo-default-{i}") for i in range(3)),
        *(node(f"demo-{name}-{i}", roles="di") for name, count in node_sets for i in range(count)),
    )


def replicas(kube: MemoryKube, node_set: str = "data") -> int:
    return kube.objects[("StatefulSet", "prod", f"demo-{node_set}")]["spec"]["replicas"]


def present(kube: MemoryKube, keys) -> list[tuple[str, str, str]]:
    return [k for k in keys if k in kube.objects]


def objects_of(node_set: str) -> list[tuple[str, str, str]]:
    name = f"demo-{node_set}"
    return [("StatefulSet", "prod", name), ("Service", "prod", name), ("ConfigMap", "prod", f"{name}-config")]


def drop_and_drain(
    cluster: FakeCluster, kube: MemoryKube, before, after, node_set: str = "data", count: int = 3
):
    """Run `before`, then drop `node_set` (`after`) and drain it to zero replicas: its pods are
    still there (terminating) and its nodes still in the cluster."""
    reconcile_cluster(before, kube, cluster.connect)
    kube.run_statefulsets()
    reconcile_cluster(after, kube, cluster.connect)  # the remove markers
    for i in range(count):
        cluster.drain(f"id-demo-{node_set}-{i}", "COMPLETE")
    reconcile_cluster(after, kube, cluster.connect)
    assert replicas(kube, node_set) == 0


def pods_and_nodes_gone(cluster: FakeCluster, kube: MemoryKube, node_set: str = "data") -> None:
    kube.remove_surplus_pods()
    cluster.nodes = [n for n in cluster.nodes if not n["name"].startswith(f"demo-{node_set}-")]


def removed_events(outcome) -> list[str]:
    return [message for kind, reason, message in outcome.events if reason == "NodeSetRemoved"]


def test_a_dropped_node_set_is_deleted_once_its_pods_are_gone_and_its_claims_are_kept():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)

    outcome = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == []
    # The Service, the ConfigMap, then the StatefulSet.
    assert kube.deleted[-3:] == ["demo-data", "demo-data-config", "demo-data"]
    assert present(kube, objects_of("default")) == objects_of("default")
    assert all(("PersistentVolumeClaim", "prod", f"data-demo-data-{i}") in kube.objects for i in range(3))
    [message] = removed_events(outcome)
    assert "StatefulSet demo-data" in message and "Service demo-data" in message
    assert "ConfigMap demo-data-config" in message and "data-demo-data-0" in message
    assert outcome.status["phase"] == "Ready"


def test_a_dropped_node_set_is_kept_while_a_pod_of_it_remains():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    cluster.nodes = [n for n in cluster.nodes if not n["name"].startswith("demo-data-")]
    for gone in ["demo-data-0", "demo-data-2"]:
        del kube.objects[("Pod", "prod", gone)]  # demo-data-1 is still terminating

    kept = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert removed_events(kept) == []

    del kube.objects[("Pod", "prod", "demo-data-1")]
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


@pytest.mark.parametrize("why", ["a node of it is still in the cluster", "the cluster cannot be asked"])
def test_a_dropped_node_set_is_kept_while_its_nodes_cannot_be_told_gone(why):
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    if why == "a node of it is still in the cluster":
        cluster.nodes.append(node("demo-data-0", roles="di"))
    else:
        cluster.failing.add("/_nodes/shutdown")

    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS

    cluster.nodes = [n for n in cluster.nodes if n["name"] != "demo-data-0"]
    cluster.failing.clear()
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


def test_a_dropped_node_set_is_deleted_only_after_its_drain_has_finished():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    reconcile_cluster(WITH_DATA, kube, cluster.connect)
    kube.run_statefulsets()
    for _ in range(2):
        draining = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
        assert draining.status["phase"] == "MigratingData"
        assert (replicas(kube), present(kube, DATA_OBJECTS)) == (3, DATA_OBJECTS)

    cluster.drain("id-demo-data-2", "COMPLETE")
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert kube.remove_surplus_pods() == ["demo-data-2"]
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert (replicas(kube), present(kube, DATA_OBJECTS)) == (2, DATA_OBJECTS)

    cluster.drain("id-demo-data-0", "COMPLETE")
    cluster.drain("id-demo-data-1", "COMPLETE")
    shrunk = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert (replicas(kube), present(kube, DATA_OBJECTS)) == (0, DATA_OBJECTS)
    assert removed_events(shrunk) == []

    pods_and_nodes_gone(cluster, kube)
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


def test_a_node_set_at_count_zero_in_the_spec_is_never_deleted():
    """`data` stays in the spec at 0 and `old` is dropped; both drained, pods and nodes gone."""
    cluster, kube = a_cluster(("data", 3), ("old", 1)), MemoryKube()
    before = make_cluster(
        {"name": "default", "count": 3},
        {"name": "data", "count": 3, "roles": ["data"]},
        {"name": "old", "count": 1, "roles": ["data"]},
    )
    after = make_cluster({"name": "default", "count": 3}, {"name": "data", "count": 0, "roles": ["data"]})
    reconcile_cluster(before, kube, cluster.connect)
    kube.run_statefulsets()
    reconcile_cluster(after, kube, cluster.connect)
    for leaving in ["demo-data-0", "demo-data-1", "demo-data-2", "demo-old-0"]:
        cluster.drain(f"id-{leaving}", "COMPLETE")
    reconcile_cluster(after, kube, cluster.connect)
    assert (replicas(kube, "data"), replicas(kube, "old")) == (0, 0)
    pods_and_nodes_gone(cluster, kube, "data")
    pods_and_nodes_gone(cluster, kube, "old")

    for _ in range(2):
        reconcile_cluster(after, kube, cluster.connect)

    assert present(kube, objects_of("data")) == objects_of("data")
    assert replicas(kube, "data") == 0
    assert present(kube, objects_of("old")) == []


def test_a_node_set_added_again_after_its_removal_is_made_afresh():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []

    again = make_cluster({"name": "default", "count": 3}, {"name": "data", "count": 2, "roles": ["data"]})
    outcome = reconcile_cluster(again, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert replicas(kube) == 2
    assert removed_events(outcome) == []
    assert kube.run_statefulsets() == ["demo-data-0", "demo-data-1"]


def test_a_failed_delete_is_reported_and_taken_up_on_the_next_reconcile():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    kube.undeletable.add("ConfigMap")

    failed = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    # The StatefulSet, deleted last, stays the record of the removal not finished.
    assert present(kube, DATA_OBJECTS) == [DATA_OBJECTS[0], DATA_OBJECTS[2]]
    assert ("Warning", "NodeSetRemovalFailed") in [e[:2] for e in failed.events]
    assert removed_events(failed) == []
    assert "retried on the next check" in failed.status["message"]

    kube.undeletable.clear()
    done = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []
    assert len(removed_events(done)) == 1


def test_an_object_of_a_dropped_node_set_the_cluster_does_not_own_is_left_alone():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    service = kube.objects[("Service", "prod", "demo-data")]
    other = {"kind": "Other", "name": "x", "uid": "uid-other", "controller": True}
    service["metadata"]["ownerReferences"] = [other]

    outcome = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == [("Service", "prod", "demo-data")]
    [message] = removed_events(outcome)
    assert "Service demo-data left in place" in message
