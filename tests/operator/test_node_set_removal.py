"""A node set dropped from the spec: once the scale-down has drained it to zero replicas and its
pods and nodes are gone, its StatefulSet, headless Service and ConfigMap are deleted (the
StatefulSet last) and its claims kept; never before, never a node set still in the spec, and
a failed delete is taken up again. The reconcile over an in-memory Kubernetes and a fake
cluster API."""

from __future__ import annotations

import pytest

from strata_operator.reconcile import reconcile_cluster
from strata_operator.scale_down import ClusterView, NodeSetScale, plan_scale_down

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


def test_a_node_set_added_again_after_its_removal_reuses_its_old_claims_size_and_data():
    """The kept claims are not made afresh: pods demo-data-<n> claim data-demo-data-<n> again,
    at the size they have and with what they hold, whatever storage.size the spec now asks."""
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    [message] = removed_events(reconcile_cluster(WITHOUT_DATA, kube, cluster.connect))
    assert "reuses them as they are, at their old size and with their old data" in message
    assert "delete them first for a fresh node set" in message
    assert present(kube, DATA_OBJECTS) == []
    old = {i: kube.objects[("PersistentVolumeClaim", "prod", f"data-demo-data-{i}")] for i in range(3)}
    for claim in old.values():
        claim["metadata"]["annotations"] = {"test/written-by": "the removed node set"}

    data = {"name": "data", "count": 2, "roles": ["data"], "storage": {"size": "20Gi"}}
    again = make_cluster({"name": "default", "count": 3}, data)
    outcome = reconcile_cluster(again, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert replicas(kube) == 2
    assert removed_events(outcome) == []
    assert kube.run_statefulsets() == ["demo-data-0", "demo-data-1"]
    for i in range(2):
        claim = kube.objects[("PersistentVolumeClaim", "prod", f"data-demo-data-{i}")]
        assert claim is old[i]
        assert claim["metadata"]["annotations"] == {"test/written-by": "the removed node set"}
        assert kube.claim_size(f"demo-data-{i}") == "10Gi"


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


# -- A removal that waits is outstanding work in the status ----------------------------------


def waiting_parts(outcome) -> list[str]:
    return [
        part
        for part in outcome.status["message"].split("; ")
        if part.startswith("removing node set [data] waits: ")
    ]


@pytest.mark.parametrize(
    "what_remains, named",
    [
        ("a pod stuck terminating", "pods ['demo-data-1'] still exist"),
        ("a node the cluster still lists", "the cluster still lists nodes ['demo-data-2']"),
        ("a cluster that cannot be read", "the cluster could not be read"),
    ],
)
def test_a_removal_that_waits_is_reported_and_the_phase_is_not_ready(what_remains, named):
    """A dropped node set at zero replicas whose removal waits says what remains: the phase is
    ApplyingChanges (work outstanding, not an error: no Warning), the message names it, and a
    pod or node of it still there is in nodeOperations."""
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    stuck = kube.pod("demo-data-1")
    pods_and_nodes_gone(cluster, kube)
    if what_remains == "a pod stuck terminating":  # its Kubernetes node is NotReady
        stuck["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        kube.objects[("Pod", "prod", "demo-data-1")] = stuck
    elif what_remains == "a node the cluster still lists":
        cluster.nodes.append(node("demo-data-2", roles="di"))
    else:
        cluster.failing.add("/_nodes/shutdown")

    outcome = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert outcome.status["phase"] == "ApplyingChanges"
    [part] = waiting_parts(outcome)
    assert named in part
    assert "every node set is up to date" not in outcome.status["message"]
    assert [e for e in outcome.events if e[0] == "Warning" and "data" in e[2]] == []
    remaining = [o["node"] for o in outcome.status["nodeOperations"] if o["operation"] == "Remove"]
    expected = {"a pod stuck terminating": ["demo-data-1"], "a node the cluster still lists": ["demo-data-2"]}
    assert remaining == expected.get(what_remains, [])


def test_a_node_set_still_draining_is_reported_by_the_scale_down_alone():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    reconcile_cluster(WITH_DATA, kube, cluster.connect)
    kube.run_statefulsets()
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    draining = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert draining.status["phase"] == "MigratingData"
    assert waiting_parts(draining) == []


def test_a_dropped_node_set_whose_statefulset_status_still_counts_a_replica_is_kept():
    """The StatefulSet controller's count lags its spec (status.replicas 1, spec 0) and no pod
    is listed: a pod it made may not be visible yet, so nothing is deleted."""
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    sts = kube.objects[("StatefulSet", "prod", "demo-data")]
    sts["status"]["replicas"] = 1

    lagging = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert "the StatefulSet controller still counts 1 replica" in waiting_parts(lagging)[0]
    sts["status"]["replicas"] = 0
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


# -- What is refused, failed or retried ----------------------------------------------------


def test_a_dropped_node_set_whose_statefulset_another_owner_controls_is_left_alone_and_reported():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    sts = kube.objects[("StatefulSet", "prod", "demo-data")]
    sts["metadata"]["ownerReferences"] = [
        {"kind": "Other", "name": "x", "uid": "uid-other", "controller": True}
    ]

    refused = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert refused.status["phase"] == "Stalled"
    assert (
        "StatefulSet demo-data is left in place: this cluster does not control it"
        in refused.status["message"]
    )
    assert [e[:2] for e in refused.events if e[0] == "Warning"] == [("Warning", "NodeSetRemovalRefused")]
    # Told once, not on every periodic re-check.
    again = reconcile_cluster({**WITHOUT_DATA, "status": refused.status}, kube, cluster.connect)
    assert [e for e in again.events if e[0] == "Warning"] == []
    assert again.status["phase"] == "Stalled"


class Recreating:
    """A Kube whose ConfigMap `name` is deleted and made again (a new uid) by someone else
    between the operator's read and its delete, once."""

    def __init__(self, kube: MemoryKube, name: str):
        self.kube, self.name = kube, name

    def __getattr__(self, attr):
        return getattr(self.kube, attr)

    def delete(self, api_version, kind, namespace, name, uid, orphan=False):
        if (kind, name) == ("ConfigMap", self.name):
            self.kube.objects[(kind, namespace, name)]["metadata"]["uid"] = "uid-made-again"
            self.name = None
        return self.kube.delete(api_version, kind, namespace, name, uid, orphan)


def test_a_delete_refused_by_its_uid_precondition_is_reported_and_retried():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)

    conflict = reconcile_cluster(WITHOUT_DATA, Recreating(kube, "demo-data-config"), cluster.connect)

    # The ConfigMap made again is not deleted blind, and the StatefulSet stays the record.
    assert present(kube, DATA_OBJECTS) == [DATA_OBJECTS[0], DATA_OBJECTS[2]]
    assert conflict.status["phase"] == "ApplyingChanges"
    assert "the uid precondition failed" in conflict.status["message"]
    assert ("Warning", "NodeSetRemovalFailed") in [e[:2] for e in conflict.events]
    assert removed_events(conflict) == []

    retried = reconcile_cluster({**WITHOUT_DATA, "status": conflict.status}, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []
    assert len(removed_events(retried)) == 1
    assert retried.status["phase"] == "Ready"


class CountingReads:
    """A Kube that records which kinds were read with get."""

    def __init__(self, kube: MemoryKube):
        self.kube, self.read = kube, []

    def __getattr__(self, attr):
        return getattr(self.kube, attr)

    def get(self, api_version, kind, namespace, name):
        self.read.append(kind)
        return self.kube.get(api_version, kind, namespace, name)


def test_a_dropped_node_sets_service_and_config_map_are_read_only_once_it_is_ready_to_go():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    counting = CountingReads(kube)
    reconcile_cluster(WITH_DATA, kube, cluster.connect)
    kube.run_statefulsets()
    reconcile_cluster(WITHOUT_DATA, counting, cluster.connect)  # the remove markers
    for i in range(3):
        cluster.drain(f"id-demo-data-{i}", "COMPLETE")
    reconcile_cluster(WITHOUT_DATA, counting, cluster.connect)  # shrunk to zero
    reconcile_cluster(WITHOUT_DATA, counting, cluster.connect)  # at zero, pods terminating
    assert replicas(kube) == 0
    assert [k for k in counting.read if k in ("Service", "ConfigMap")] == []

    pods_and_nodes_gone(cluster, kube)
    reconcile_cluster(WITHOUT_DATA, counting, cluster.connect)
    assert [k for k in counting.read if k in ("Service", "ConfigMap")] == ["Service", "ConfigMap"]
    assert present(kube, DATA_OBJECTS) == []


def test_a_failed_read_of_a_dropped_node_sets_objects_is_reported_and_retried_not_an_abort():
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    kube.failing_kinds.add("Service")

    failed = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert failed.status["phase"] == "ApplyingChanges"
    assert "removing node set [data] failed, it is retried on the next check" in failed.status["message"]
    assert ("Warning", "NodeSetRemovalFailed") in [e[:2] for e in failed.events]

    kube.failing_kinds.clear()
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


@pytest.mark.parametrize(
    "kind, told",
    [
        ("Service", "Service demo-data has no uid"),
        ("StatefulSet", "StatefulSet demo-data is left in place: it has no uid"),
    ],
)
def test_an_object_without_a_uid_is_not_deleted_and_is_reported(kind, told):
    """A delete is pinned to the object read by its uid; with none to pin it, nothing of the
    node set is deleted (an empty precondition would pin nothing)."""
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    del kube.objects[(kind, "prod", "demo-data")]["metadata"]["uid"]
    deleted_before = list(kube.deleted)

    refused = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert kube.deleted == deleted_before
    assert refused.status["phase"] == "Stalled"
    assert told in refused.status["message"]
    assert ("Warning", "NodeSetRemovalRefused") in [e[:2] for e in refused.events]


def test_a_statefulset_that_would_delete_its_claims_with_it_is_not_deleted():
    """Someone patched the StatefulSet's claim retention policy to whenDeleted: Delete: deleting
    it would delete the claims and their data, which the operator never does; a person
    decides."""
    cluster, kube = a_cluster(("data", 3)), MemoryKube()
    drop_and_drain(cluster, kube, WITH_DATA, WITHOUT_DATA)
    pods_and_nodes_gone(cluster, kube)
    policy = kube.objects[("StatefulSet", "prod", "demo-data")]["spec"][
        "persistentVolumeClaimRetentionPolicy"
    ]
    policy["whenDeleted"] = "Delete"

    refused = reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)

    assert present(kube, DATA_OBJECTS) == DATA_OBJECTS
    assert refused.status["phase"] == "Stalled"
    message = refused.status["message"]
    assert "persistentVolumeClaimRetentionPolicy.whenDeleted is Delete" in message
    assert "data-demo-data-0" in message
    assert ("Warning", "NodeSetRemovalRefused") in [e[:2] for e in refused.events]

    policy["whenDeleted"] = "Retain"
    reconcile_cluster(WITHOUT_DATA, kube, cluster.connect)
    assert present(kube, DATA_OBJECTS) == []


def test_a_node_set_read_at_zero_replicas_has_no_scale_down_step_to_wait_for():
    """Why the removal does not consult the scale-down plan: the scale-down plans steps only
    for a node set above its desired count, so a dropped node set read at zero has none, even
    while a node of it is still in the cluster."""
    view = ClusterView(
        nodes={"demo-data-0": "id-demo-data-0"},
        master_eligible=frozenset(),
        shutdowns={},
        exclusions={},
        voters=frozenset(),
    )
    plan = plan_scale_down([NodeSetScale("data", "demo-data", current=0, desired=0)], view)
    assert "data" not in plan.replicas
    assert plan.operations == []
