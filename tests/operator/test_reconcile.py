"""What the handlers do, over an in-memory store standing in for the operator's Kube
interface (the API server itself is the emulator tests' business)."""

from __future__ import annotations

from strata_operator.builders.common import ANNOTATION_CLUSTER_UUID
from strata_operator.reconcile import reconcile_cluster, reconcile_file_settings
from strata_operator.rolling import restart_reason
from strata_operator.scale_down import shutdown_reason

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .memory_kube import MemoryKube


def unreachable():
    return FakeCluster(down=True).connect


def green():
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    cluster.master = "demo-default-1"
    return cluster.connect


def statefulset(kube, name="demo-default"):
    return kube.objects[("StatefulSet", "prod", name)]


def config(kube, name="demo-default-config"):
    return kube.objects[("ConfigMap", "prod", name)]["data"]["strata.yml"]


def test_creating_a_cluster_applies_every_object():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, unreachable())
    assert [o["kind"] for o in kube.applied] == [
        "Secret",
        "ConfigMap",
        "Service",
        "Service",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
    ]


def test_the_transport_secret_is_generated_once_and_kept():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, unreachable())
    first = kube.objects[("Secret", "prod", "demo-secrets")]["data"]
    reconcile_cluster(make_cluster(), kube, unreachable())
    assert kube.objects[("Secret", "prod", "demo-secrets")]["data"] == first


def test_an_invalid_spec_reports_invalid_and_applies_nothing():
    kube = MemoryKube()
    outcome = reconcile_cluster(
        make_cluster({"name": "d", "count": 1, "roles": ["data"]}), kube, unreachable()
    )
    assert outcome.status["phase"] == "Invalid"
    assert "master-eligible" in outcome.status["message"]
    assert outcome.events[0][0] == "Warning"
    assert kube.applied == []


def test_an_invalid_spec_removes_what_the_status_said_of_the_cluster_and_warns_once():
    told = reconcile_cluster(make_cluster(), MemoryKube(), green()).status
    resource = make_cluster({"name": "d", "count": 1, "roles": ["data"]})
    resource["status"] = told
    first = reconcile_cluster(resource, MemoryKube(), unreachable())
    stale = ("health", "availableNodes", "masterNode", "nodeOperations")
    assert {key: first.status[key] for key in stale} == dict.fromkeys(stale)  # None: removed by the patch
    assert [e[:2] for e in first.events] == [("Warning", "Invalid")]
    resource["status"] = first.status
    assert reconcile_cluster(resource, MemoryKube(), unreachable()).events == []


def test_the_master_node_is_removed_from_the_status_while_there_is_no_master():
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    cluster.master = None
    resource = make_cluster()
    resource["status"] = {"masterNode": "demo-default-1"}
    outcome = reconcile_cluster(resource, MemoryKube(), cluster.connect)
    assert "masterNode" in outcome.status and outcome.status["masterNode"] is None


def test_a_refused_object_warns_once():
    first = reconcile_cluster(make_cluster(), MemoryKube(refuse="StatefulSet"), unreachable())
    refusing = MemoryKube(refuse="StatefulSet")
    again = reconcile_cluster({**make_cluster(), "status": first.status}, refusing, unreachable())
    assert ("Warning", "ApplyFailed") in [e[:2] for e in first.events]
    assert ("Warning", "ApplyFailed") not in [e[:2] for e in again.events]


def test_a_cluster_that_has_formed_is_recorded_and_never_bootstrapped_again():
    kube = MemoryKube()
    outcome = reconcile_cluster(make_cluster(), kube, green())
    assert outcome.annotations == {ANNOTATION_CLUSTER_UUID: "uuid-1"}
    assert "cluster.initial_master_nodes" not in config(kube)


def test_a_recorded_cluster_uuid_keeps_the_bootstrap_list_out_even_when_the_cluster_is_unreachable():
    resource = make_cluster()
    resource["metadata"]["annotations"] = {ANNOTATION_CLUSTER_UUID: "uuid-1"}
    kube = MemoryKube()
    reconcile_cluster(resource, kube, unreachable())
    assert "cluster.initial_master_nodes" not in config(kube)


def test_before_the_cluster_forms_the_bootstrap_list_is_set():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, unreachable())
    assert "cluster.initial_master_nodes" in config(kube)


def test_scaling_down_an_unreachable_cluster_keeps_the_nodes_and_says_why():
    kube = MemoryKube()
    reconcile_cluster(make_cluster({"name": "default", "count": 5}), kube, unreachable())
    outcome = reconcile_cluster(make_cluster({"name": "default", "count": 3}), kube, unreachable())
    assert statefulset(kube)["spec"]["replicas"] == 5
    assert outcome.status["phase"] == "Stalled"
    assert "stay until the cluster says they are drained" in outcome.status["message"]


def test_scaling_up_grows_the_statefulset():
    kube = MemoryKube()
    reconcile_cluster(make_cluster({"name": "default", "count": 3}), kube, unreachable())
    reconcile_cluster(make_cluster({"name": "default", "count": 5}), kube, unreachable())
    assert statefulset(kube)["spec"]["replicas"] == 5


def test_a_node_set_dropped_from_the_spec_keeps_running_while_its_drain_cannot_be_checked():
    kube = MemoryKube()
    reconcile_cluster(
        make_cluster({"name": "default", "count": 3}, {"name": "extra", "count": 2}), kube, unreachable()
    )
    outcome = reconcile_cluster(make_cluster({"name": "default", "count": 3}), kube, unreachable())
    assert statefulset(kube, "demo-extra")["spec"]["replicas"] == 2
    assert outcome.status["phase"] == "Stalled"
    assert "['demo-extra-1', 'demo-extra-0']" in outcome.status["message"]


def test_an_object_owned_by_someone_else_is_left_alone_and_stalls():
    foreign = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo-http", "namespace": "prod"}}
    kube = MemoryKube(foreign)
    outcome = reconcile_cluster(make_cluster(), kube, unreachable())
    assert outcome.status["phase"] == "Stalled"
    assert "not owned" in outcome.status["message"]
    assert "ownerReferences" not in kube.objects[("Service", "prod", "demo-http")]["metadata"]


def test_a_refused_object_stalls_with_the_servers_reason():
    outcome = reconcile_cluster(make_cluster(), MemoryKube(refuse="StatefulSet"), unreachable())
    assert outcome.status["phase"] == "Stalled"
    assert "Forbidden" in outcome.status["message"]
    assert outcome.events[0][:2] == ("Warning", "ApplyFailed")


def test_status_is_ready_when_every_pod_is_ready_on_the_current_template():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, green())
    kube.run_statefulsets()
    outcome = reconcile_cluster(make_cluster(), kube, green())
    status = outcome.status
    assert (status["phase"], status["health"], status["availableNodes"], status["masterNode"]) == (
        "Ready",
        "green",
        3,
        "demo-default-1",
    )
    assert status["conditions"][0]["status"] == "True"
    assert status["observedGeneration"] == 1


def test_status_is_applying_changes_until_every_expected_pod_is_there():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, green())
    kube.run_statefulsets()
    outcome = reconcile_cluster(make_cluster({"name": "default", "count": 4}), kube, green())
    assert outcome.status["phase"] == "ApplyingChanges"
    assert "waiting for StatefulSets ['demo-default']" in outcome.status["message"]
    kube.run_statefulsets()
    assert reconcile_cluster(make_cluster({"name": "default", "count": 4}), kube, green()).status[
        "phase"
    ] == "Ready"


def test_status_is_applying_changes_while_pods_are_not_ready():
    outcome = reconcile_cluster(make_cluster(), MemoryKube(settled=False), unreachable())
    assert outcome.status["phase"] == "ApplyingChanges"
    assert outcome.status["health"] == "unknown"
    assert outcome.status["availableNodes"] == 0


def test_disruptions_are_allowed_only_when_green():
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, unreachable())
    assert kube.objects[("PodDisruptionBudget", "prod", "demo-pdb")]["spec"]["maxUnavailable"] == 0
    reconcile_cluster(make_cluster(), kube, green())
    assert kube.objects[("PodDisruptionBudget", "prod", "demo-pdb")]["spec"]["maxUnavailable"] == 1


def test_ready_condition_keeps_its_transition_time_while_unchanged():
    first = reconcile_cluster(make_cluster(), MemoryKube(), green()).status
    resource = make_cluster()
    resource["status"] = first
    first["conditions"][0]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    again = reconcile_cluster(resource, MemoryKube(), green()).status
    assert again["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"


# -- file settings ---------------------------------------------------------------------------


def file_settings(name="demo-settings", state=None, status=None):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": name, "namespace": "prod", "uid": f"uid-{name}", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "settings": state or {"cluster_settings": {"a": "1"}}},
        "status": status or {},
    }


def test_file_settings_ship_a_config_map_with_version_one():
    kube = MemoryKube(make_cluster())
    outcome = reconcile_file_settings(file_settings(), kube, FakeCluster().connect)
    assert ("ConfigMap", "prod", "demo-file-settings") in kube.objects
    assert (outcome.status["phase"], outcome.status["expectedVersion"]) == ("ApplyingChanges", 1)
    assert outcome.status["cluster"] == "demo"


def test_file_settings_version_moves_only_with_the_content():
    kube = MemoryKube(make_cluster())
    first = reconcile_file_settings(file_settings(), kube, FakeCluster().connect).status
    same = reconcile_file_settings(file_settings(status=first), kube, FakeCluster().connect).status
    changed = reconcile_file_settings(
        file_settings(state={"cluster_settings": {"a": "2"}}, status=same), kube, FakeCluster().connect
    )
    assert (first["expectedVersion"], same["expectedVersion"], changed.status["expectedVersion"]) == (1, 1, 2)


def test_file_settings_for_a_missing_cluster_are_an_error():
    outcome = reconcile_file_settings(file_settings(), MemoryKube(), FakeCluster().connect)
    assert outcome.status["phase"] == "Error"
    assert "not found" in outcome.status["errors"][0]


def test_a_second_file_settings_for_one_cluster_is_an_error():
    kube = MemoryKube(make_cluster())
    reconcile_file_settings(file_settings("first"), kube, FakeCluster().connect)
    outcome = reconcile_file_settings(file_settings("second"), kube, FakeCluster().connect)
    assert outcome.status["phase"] == "Error"
    assert "already has file settings [first]" in outcome.status["errors"][0]


def sized(size: str) -> dict:
    return make_cluster({"name": "default", "count": 3, "storage": {"size": size}})


def test_the_same_storage_size_in_other_units_is_no_change():
    kube = MemoryKube()
    reconcile_cluster(sized("10Gi"), kube, unreachable())
    outcome = reconcile_cluster(sized("10240Mi"), kube, unreachable())
    assert outcome.status["phase"] != "Invalid"


def test_a_cluster_made_again_on_kept_volumes_clears_what_its_last_life_left_in_the_cluster_state():
    """Deleting a StrataCluster keeps its claims; one made again with the same name starts
    on them, with whatever restart or remove markers and voting exclusions of the operator
    its state still holds. Nothing of it may block allocation or elections: the first
    reconciles with the pods back delete every one."""
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    cluster.shutdowns = {
        "id-demo-default-1": {
            "type": "restart",
            "reason": restart_reason("demo-default-1"),
            "status": "COMPLETE",
        },
        "id-demo-default-2": {
            "type": "remove",
            "reason": shutdown_reason("demo-default-2"),
            "status": "COMPLETE",
        },
    }
    cluster.exclusions = [{"node_id": "id-demo-default-2", "node_name": "demo-default-2"}]
    kube = MemoryKube()
    reconcile_cluster(make_cluster(), kube, cluster.connect)
    kube.run_statefulsets()
    for _ in range(3):
        outcome = reconcile_cluster(make_cluster(), kube, cluster.connect)
    assert cluster.shutdowns == {} and cluster.exclusions == []
    assert kube.deleted == []
    assert outcome.status["phase"] == "Ready"
