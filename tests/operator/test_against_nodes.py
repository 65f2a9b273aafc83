"""The operator's cluster client, its file settings and autoscaler reconciles, and its
scale-down planner against real node processes (a 3-node LocalCluster on loopback
standing in for the pods; the Kubernetes side is the in-memory Kube, and the kubelet's
part, copying the ConfigMap's settings.json into each pod, is done by hand)."""

from __future__ import annotations

import json

import pytest

from strata_operator.autoscaler_reconcile import reconcile_autoscaler
from strata_operator.cluster_client import ClusterClient
from strata_operator.reconcile import reconcile_cluster, reconcile_file_settings, release_file_settings
from strata_operator.reserved_state import read_validation
from strata_operator.spec import ALL_ROLES, storage_bytes
from tests.support.cluster import LocalCluster
from tests.support.polling import ok, wait_until

from .conftest import make_cluster
from .memory_kube import MemoryKube

pytestmark = pytest.mark.integration

NAMES = ["demo-default-0", "demo-default-1", "demo-default-2"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("cluster"), NAMES).start()
    yield local
    local.stop()


def connect_to(node):
    return lambda name, namespace: ClusterClient(node.url, timeout=30)


def document(version: int, cluster_settings: dict) -> dict:
    return {
        "metadata": {"version": str(version), "compatibility": "8.17.0"},
        "state": {"cluster_settings": cluster_settings},
    }


def file_settings(state: dict, status: dict | None = None) -> dict:
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": "demo-settings", "namespace": "prod", "uid": "uid-fs", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "settings": state},
        "status": status or {},
    }


def kubelet_sync(kube: MemoryKube, cluster: LocalCluster) -> None:
    """What the kubelet does with the ConfigMap volume: every pod sees its settings.json."""
    text = kube.objects[("ConfigMap", "prod", "demo-file-settings")]["data"]["settings.json"]
    for node in cluster.nodes:
        path = node.data / "operator" / "settings.json"  # path.config is the folder of strata.yml
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(".settings.json.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def test_the_real_validation_endpoint_accepts_a_good_document_and_refuses_a_bad_one(cluster):
    with ClusterClient(cluster.nodes[0].url, timeout=30) as client:
        good = read_validation(client.validate_settings(document(1, {"action.auto_create_index": False})))
        bad = read_validation(client.validate_settings(document(1, {"no.such.setting": "x"})))
    assert (good.valid, good.errors) == (True, ())
    assert (bad.valid, bad.error_kind) == (False, "validation")
    assert "no.such.setting" in bad.errors[0]


def test_file_settings_are_validated_shipped_applied_and_read_back(cluster):
    """Also the boolean regression: a YAML/JSON false ships as JSON false and the cluster
    holds the setting as Elasticsearch does, the string "false" (not Python's "False")."""
    kube = MemoryKube(make_cluster())
    connect = connect_to(cluster.nodes[1])
    state = {
        "cluster_settings": {"action.auto_create_index": False, "cluster.max_voting_config_exclusions": 12}
    }
    outcome = reconcile_file_settings(file_settings(state), kube, connect)
    assert outcome.status["phase"] == "ApplyingChanges", outcome.status
    shipped = json.loads(kube.objects[("ConfigMap", "prod", "demo-file-settings")]["data"]["settings.json"])
    assert shipped["state"]["cluster_settings"]["action.auto_create_index"] is False

    kubelet_sync(kube, cluster)

    def ready():
        nonlocal outcome
        outcome = reconcile_file_settings(file_settings(state, outcome.status), kube, connect)
        return outcome.status["phase"] == "Ready"

    wait_until(ready, timeout=30, interval=0.3)
    assert (outcome.status["expectedVersion"], outcome.status["appliedVersion"]) == (1, 1)
    persistent = ok(cluster.nodes[0], "GET", "/_cluster/settings", params={"flat_settings": "true"})[
        "persistent"
    ]
    assert persistent["action.auto_create_index"] == "false"
    assert persistent["cluster.max_voting_config_exclusions"] == "12"

    # An invalid change is refused by the real validation and never reaches the ConfigMap.
    bad = {"cluster_settings": {"no.such.setting": "x"}}
    refused = reconcile_file_settings(file_settings(bad, outcome.status), kube, connect)
    assert refused.status["phase"] == "Error"
    assert "no.such.setting" in refused.status["errors"][0]
    assert refused.status["expectedVersion"] == 1
    assert (
        json.loads(kube.objects[("ConfigMap", "prod", "demo-file-settings")]["data"]["settings.json"])
        == shipped
    )


def test_a_file_the_nodes_refuse_is_read_back_as_an_error(cluster):
    """A file that reached the pods unvalidated (the cluster did not answer when it was
    shipped) and that the master refuses: the status carries the cluster's errors."""
    with ClusterClient(cluster.nodes[0].url, timeout=30) as client:
        current = (client.file_settings_state() or {}).get("version") or 0
    kube = MemoryKube(make_cluster())
    state = {"cluster_settings": {"no.such.setting": "x"}}
    down = lambda name, namespace: ClusterClient("http://127.0.0.1:9", timeout=0.5)  # noqa: E731
    outcome = reconcile_file_settings(file_settings(state, {"expectedVersion": current}), kube, down)
    assert outcome.status["expectedVersion"] == current + 1
    kubelet_sync(kube, cluster)
    connect = connect_to(cluster.nodes[2])

    def refused():
        nonlocal outcome
        outcome = reconcile_file_settings(file_settings(state, outcome.status), kube, connect)
        return outcome.status["phase"] == "Error"

    wait_until(refused, timeout=30, interval=0.3)
    assert "no.such.setting" in outcome.status["errors"][0]
    assert ("Warning", "SettingsRefused") in [e[:2] for e in outcome.events]


def test_deleted_file_settings_give_the_keys_they_reserved_back(cluster):
    """The empty settings.json a deletion ships is one the real node applies: a setting the
    file reserved is refused by the settings API before and accepted after."""
    kube = MemoryKube(make_cluster())
    connect = connect_to(cluster.nodes[1])
    state = {"cluster_settings": {"cluster.max_voting_config_exclusions": 11}}
    outcome = reconcile_file_settings(file_settings(state), kube, connect)
    kubelet_sync(kube, cluster)

    def applied():
        nonlocal outcome
        outcome = reconcile_file_settings(file_settings(state, outcome.status), kube, connect)
        return outcome.status["phase"] == "Ready"

    wait_until(applied, timeout=30, interval=0.3)
    change = {"persistent": {"cluster.max_voting_config_exclusions": 13}}
    with cluster.nodes[0].client(timeout=30) as c:
        assert c.put("/_cluster/settings", json=change).status_code == 400

    released = release_file_settings(file_settings(state, outcome.status), kube, connect)
    assert released.waiting
    kubelet_sync(kube, cluster)

    def given_back():
        nonlocal released
        status = {**outcome.status, **released.status}  # as the status patches leave it
        released = release_file_settings(file_settings(state, status), kube, connect)
        return not released.waiting

    wait_until(given_back, timeout=30, interval=0.3)
    ok(cluster.nodes[0], "PUT", "/_cluster/settings", json=change)


# -- scale-down with draining -------------------------------------------------------------


@pytest.fixture
def draining_cluster(tmp_path):
    """Three master-eligible data nodes, and an index with copies on each; the leaving node
    (the highest ordinal) may be the elected master, which then hands over once excluded."""
    local = LocalCluster(tmp_path, NAMES).start()
    try:
        local.wait_for_nodes(3)
        first = local.nodes[0]
        ok(first, "PUT", "/logs", json={"settings": {"number_of_shards": 3, "number_of_replicas": 1}})
        lines = "".join(json.dumps({"index": {}}) + "\n" + json.dumps({"n": i}) + "\n" for i in range(60))
        ok(
            first,
            "POST",
            "/logs/_bulk",
            params={"refresh": "true"},
            content=lines,
            headers={"content-type": "application/x-ndjson"},
        )
        ok(first, "GET", "/_cluster/health", params={"wait_for_status": "green", "timeout": "30s"})
        yield local
    finally:
        local.stop()


def copies_on(node, name: str) -> list[dict]:
    rows = ok(node, "GET", "/_cat/shards", params={"format": "json", "h": "index,shard,prirep,state,node"})
    return [r for r in rows if r.get("node") == name]


def test_a_node_drains_through_the_shutdown_api_before_the_statefulset_shrinks(draining_cluster):
    local = draining_cluster
    survivor = local.nodes[0]
    assert copies_on(survivor, "demo-default-2"), "the leaving node should hold copies to drain"
    kube = MemoryKube()
    connect = connect_to(survivor)
    reconcile_cluster(make_cluster({"name": "default", "count": 3}), kube, connect)

    def replicas():
        return kube.objects[("StatefulSet", "prod", "demo-default")]["spec"]["replicas"]

    phases = []

    def shrunk():
        outcome = reconcile_cluster(make_cluster({"name": "default", "count": 2}), kube, connect)
        phases.append(outcome.status["phase"])
        if replicas() == 3:
            return False
        assert replicas() == 2
        return outcome

    outcome = wait_until(shrunk, timeout=60, interval=0.3)
    # At the moment of the shrink, the cluster agrees the node is drained and out of voting.
    node_id = {
        r["name"]: r["id"]
        for r in ok(
            survivor, "GET", "/_cat/nodes", params={"format": "json", "h": "id,name", "full_id": "true"}
        )
    }
    shutdown = ok(survivor, "GET", f"/_nodes/{node_id['demo-default-2']}/shutdown")["nodes"][0]
    assert (shutdown["type"], shutdown["status"]) == ("REMOVE", "COMPLETE")
    assert copies_on(survivor, "demo-default-2") == []
    coordination = ok(survivor, "GET", "/_cluster/state/metadata")["metadata"]["cluster_coordination"]
    assert node_id["demo-default-2"] not in coordination["last_committed_config"]
    assert "MigratingData" in phases
    assert ("Normal", "ScaledDown") in [e[:2] for e in outcome.events]

    # The StatefulSet controller removes the pod; the operator then cleans up after it.
    local.node("demo-default-2").stop()
    local.wait_for_nodes(2, nodes=local.nodes[:2])

    def cleaned():
        outcome = reconcile_cluster(make_cluster({"name": "default", "count": 2}), kube, connect)
        metadata = ok(survivor, "GET", "/_cluster/state/metadata")["metadata"]
        left = ok(survivor, "GET", "/_nodes/shutdown")["nodes"]
        return not left and not metadata["cluster_coordination"]["voting_config_exclusions"] and outcome

    outcome = wait_until(cleaned, timeout=30, interval=0.3)
    assert outcome.status["nodeOperations"] == []
    health = ok(survivor, "GET", "/_cluster/health", params={"wait_for_status": "green", "timeout": "30s"})
    assert (health["status"], health["number_of_nodes"]) == ("green", 2)
    assert ok(survivor, "GET", "/logs/_count")["count"] == 60


# -- rolling restart ----------------------------------------------------------------------


def shutdown_markers(node) -> list[dict]:
    return ok(node, "GET", "/_nodes/shutdown")["nodes"]


def test_a_rolling_restart_takes_one_node_at_a_time_the_master_last_and_loses_nothing(draining_cluster):
    """The planner chooses; the test plays the kubelet and the StatefulSet controller: the
    node process of a deleted pod is stopped and started again, and its pod recreated on the
    new template, ready once the node serves HTTP."""
    local = draining_cluster

    def connect(name, namespace):  # the HTTP Service: any node that is up
        up = next(n for n in local.nodes if n.proc is not None and n.proc.poll() is None)
        return ClusterClient(up.url, timeout=30)

    kube = MemoryKube()
    reconcile_cluster(make_cluster({"name": "default", "count": 3}), kube, connect)
    kube.run_statefulsets()
    changed = make_cluster(
        {"name": "default", "count": 3, "config": {"indices.memory.index_buffer_size": "20%"}}
    )
    order, masters, messages = [], [], []

    def step():
        outcome = reconcile_cluster(changed, kube, connect)
        messages.append(outcome.status["message"])
        if len(kube.deleted) == len(order):
            return len(order) == 3 and outcome.status["phase"] == "Ready" and outcome
        deleted = kube.deleted[-1]
        order.append(deleted)
        others = [n for n in local.nodes if n.name != deleted]
        masters.append(LocalCluster.master_name(others[0]))
        [marker] = shutdown_markers(others[0])
        assert (marker["type"], marker["allocation_delay"]) == ("RESTART", "5m")
        local.node(deleted).stop()
        # While it is down nothing else is deleted, and the status says what it waits for.
        waiting = reconcile_cluster(changed, kube, connect)
        assert len(kube.deleted) == len(order)
        assert waiting.status["phase"] == "ApplyingChanges"
        assert [o["node"] for o in waiting.status["nodeOperations"]] == [deleted]
        local.node(deleted).start()
        kube.run_statefulsets()
        return False

    try:
        outcome = wait_until(step, timeout=180, interval=0.5)
    except AssertionError as e:
        raise AssertionError(f"restarted {order}; last status: {messages[-1:]}") from e
    assert sorted(order) == NAMES
    assert all(masters[i] != order[i] for i in range(2)), (order, masters)
    assert order[-1] == masters[-1], "the elected master restarts last"
    survivor = local.nodes[0]
    assert shutdown_markers(survivor) == []
    assert outcome.status["nodeOperations"] == []
    health = ok(survivor, "GET", "/_cluster/health", params={"wait_for_status": "green", "timeout": "30s"})
    assert (health["status"], health["number_of_nodes"]) == ("green", 3)
    assert ok(survivor, "GET", "/logs/_count")["count"] == 60


def test_a_node_set_losing_the_master_role_leaves_a_cluster_that_elects_a_master(tmp_path):
    """One master-eligible node set of one node and another of two whose roles change to
    data only: restarted as ordinary masters, the two would come back unable to vote yet
    still in a voting configuration of three, and the cluster would never elect a master
    again. Each is excluded from voting first; the test plays the kubelet (a deleted pod's
    node started again as a data node)."""
    names = ["demo-default-0", "demo-extra-0", "demo-extra-1"]
    local = LocalCluster(tmp_path, names).start()

    def connect(name, namespace):  # the HTTP Service: any node that is up
        up = next(n for n in local.nodes if n.proc is not None and n.proc.poll() is None)
        return ClusterClient(up.url, timeout=30)

    def spec(extra_roles=None):
        extra = {"name": "extra", "count": 2, **({"roles": extra_roles} if extra_roles else {})}
        return make_cluster({"name": "default", "count": 1}, extra)

    try:
        kube = MemoryKube()
        reconcile_cluster(spec(), kube, connect)
        kube.run_statefulsets()
        restarted = []

        def step():
            outcome = reconcile_cluster(spec(["data"]), kube, connect)
            if len(kube.deleted) == len(restarted):
                return len(restarted) == 2 and outcome.status["phase"] == "Ready" and outcome
            restarted.append(kube.deleted[-1])
            node = local.node(restarted[-1])
            node.stop()
            node.settings.append("node.roles=data")
            node.start()
            kube.run_statefulsets()
            return False

        wait_until(step, timeout=120, interval=0.5)
        assert sorted(restarted) == ["demo-extra-0", "demo-extra-1"]
        assert local.wait_for_nodes(3) == "demo-default-0"
        first = local.nodes[0]
        rows = ok(first, "GET", "/_cat/nodes", params={"format": "json", "h": "name,id", "full_id": "true"})
        ids = {r["name"]: r["id"] for r in rows}
        filter_path = {"filter_path": "metadata.cluster_coordination"}
        coordination = ok(first, "GET", "/_cluster/state/metadata", params=filter_path)["metadata"]
        assert coordination["cluster_coordination"]["last_committed_config"] == [ids["demo-default-0"]]
        assert coordination["cluster_coordination"]["voting_config_exclusions"] == []
    finally:
        local.stop()


def test_two_master_eligible_nodes_elect_a_master_within_seconds_of_either_ones_return(tmp_path):
    """Why the operator rolls a cluster left with two master-eligible nodes (3 to 2 by its
    scale-down: an exclusion, the node gone, the exclusions cleared): the voting
    configuration is the master alone (an odd size, as Elasticsearch makes it), so no master
    while it restarts, and one elected as soon as it is back, by itself or with the other."""
    local = LocalCluster(tmp_path, NAMES).start()
    try:
        first = local.nodes[0]
        exclude = {"node_names": NAMES[2], "timeout": "30s"}
        ok(first, "POST", "/_cluster/voting_config_exclusions", params=exclude)
        local.node(NAMES[2]).stop()
        local.nodes = local.nodes[:2]
        master = local.wait_for_nodes(2)  # the operator clears exclusions once the node left
        ok(first, "DELETE", "/_cluster/voting_config_exclusions", params={"wait_for_removal": "false"})
        filter_path = {"filter_path": "metadata.cluster_coordination"}
        coordination = ok(first, "GET", "/_cluster/state/metadata", params=filter_path)["metadata"]
        ids = {
            r["name"]: r["id"]
            for r in ok(
                first, "GET", "/_cat/nodes", params={"format": "json", "h": "name,id", "full_id": "true"}
            )
        }
        assert coordination["cluster_coordination"]["last_committed_config"] == [ids[master]]
        for name in sorted(NAMES[:2], key=lambda n: n == master) * 2:  # the master last, twice over
            node = local.node(name)
            node.stop()
            node.start()
            local.wait_for_nodes(2, timeout=15)
    finally:
        local.stop()


def test_the_autoscaler_puts_its_policies_and_scales_to_what_the_cluster_requires(cluster):
    """The policy goes into the real cluster, whose capacity API (the fixed decider asking
    for 1gb per node on 5 nodes) sets the StrataCluster's node set within its limits."""
    kube = MemoryKube(make_cluster())
    resource = {
        "apiVersion": "strata.dev/v1alpha1", "kind": "StrataAutoscaler",
        "metadata": {"name": "scaler", "namespace": "prod", "uid": "uid-a", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "policies": [{
            "name": "everything", "roles": list(ALL_ROLES),
            "deciders": {"fixed": {"memory": "1gb", "nodes": 5}},
            "resources": {"nodeCount": {"min": 1, "max": 4}, "memory": {"min": "512Mi", "max": "2Gi"}}}]},
    }
    try:
        outcome = reconcile_autoscaler(resource, kube, connect_to(cluster.nodes[1]))
        with ClusterClient(cluster.nodes[2].url, timeout=30) as client:
            assert client.autoscaling_policy_names() == ["everything"]
        assert outcome.status["phase"] == "Ready", outcome.status
        node_set = kube.objects[("StrataCluster", "prod", "demo")]["spec"]["nodeSets"][0]
        assert node_set["count"] == 4
        resources = node_set["resources"]
        memory = {side: storage_bytes(resources[side]["memory"], side) for side in ("requests", "limits")}
        assert memory == {"requests": 1 << 30, "limits": 1 << 30}  # the default request's "1Gi" is kept
        (policy,) = outcome.status["policies"]
        assert policy["limited"] == ["node count held at its max 4 (5 needed)"]
        assert policy["requiredCapacity"]["total"]["memory"] == 5 << 30
    finally:
        with ClusterClient(cluster.nodes[0].url, timeout=30) as client:
            client.delete_autoscaling_policy("everything")
