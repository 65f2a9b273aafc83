"""The scale-down planner, state in and next step out: drains before any shrink, voting
exclusions one at a time and never of the last master, fail closed on anything it cannot
read, clean-up of markers and exclusions afterwards; and the reconcile driving it over a
fake cluster API."""

from __future__ import annotations

import pytest

from strata_operator.cluster_client import ClusterUnavailable
from strata_operator.reconcile import reconcile_cluster
from strata_operator.scale_down import (
    SHUTDOWN_REASON,
    Action,
    ClusterView,
    NodeSetScale,
    Shutdown,
    plan_scale_down,
    read_cluster_view,
    run_actions,
    shutdown_reason,
)

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .memory_kube import MemoryKube

DATA = NodeSetScale("data", "demo-data", current=3, desired=2)
MASTERS = NodeSetScale("default", "demo-default", current=3, desired=3)


def pods(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(count)]


def view(
    data: int = 3,
    masters: int = 3,
    shutdowns: dict[str, Shutdown] | None = None,
    exclusions: dict[str, str] | None = None,
    voters: set[str] | None = None,
    master: str | None = "demo-default-0",
    absent: tuple[str, ...] = (),
) -> ClusterView:
    """Master-eligible nodes demo-default-*, data-only nodes demo-data-*; node id id-<name>."""
    names = [n for n in pods("demo-default", masters) + pods("demo-data", data) if n not in absent]
    eligible = frozenset(n for n in names if n.startswith("demo-default"))
    return ClusterView(
        nodes={n: f"id-{n}" for n in names},
        master_eligible=eligible,
        shutdowns=shutdowns or {},
        exclusions=exclusions or {},
        voters=frozenset(voters if voters is not None else {f"id-{n}" for n in eligible}),
        master=master,
    )


def marker(name: str, status: str = "IN_PROGRESS", remaining: int | None = 2, **kw) -> dict[str, Shutdown]:
    kw.setdefault("reason", shutdown_reason(name))
    kw.setdefault("type", "REMOVE")
    return {f"id-{name}": Shutdown(f"id-{name}", status=status, shards_remaining=remaining, **kw)}


def kinds(plan) -> list[tuple[str, str | None]]:
    return [(a.kind, a.node_name) for a in plan.actions]


def reasons(plan) -> list[str]:
    return [e[1] for e in plan.events]


# -- nothing to do ---------------------------------------------------------------------------


def test_no_scale_down_and_nothing_left_behind_is_no_step():
    plan = plan_scale_down([MASTERS, NodeSetScale("data", "demo-data", 3, 3)], view())
    assert (plan.replicas, plan.actions, plan.events, plan.phase) == ({}, [], [], None)


def test_scaling_up_is_not_the_planners_business():
    plan = plan_scale_down([NodeSetScale("data", "demo-data", 3, 5)], view())
    assert (plan.replicas, plan.actions, plan.phase) == ({}, [], None)


# -- fail closed ------------------------------------------------------------------------------


def test_an_unreadable_cluster_shrinks_nothing_and_stalls():
    plan = plan_scale_down([MASTERS, DATA], None, "GET /_nodes/shutdown: HTTP 503")
    assert plan.replicas == {"data": 3}
    assert plan.actions == []
    assert plan.phase == "Stalled"
    assert "HTTP 503" in plan.problems[0] and "demo-data-2" in plan.problems[0]


def test_an_unreadable_cluster_with_nothing_shrinking_is_no_problem():
    plan = plan_scale_down([MASTERS], None, "refused")
    assert (plan.replicas, plan.problems, plan.phase) == ({}, [], None)


def test_a_leaving_node_missing_from_the_cluster_is_not_drained():
    plan = plan_scale_down([MASTERS, DATA], view(absent=("demo-data-2",)))
    assert plan.replicas == {"data": 3}
    assert plan.phase == "Stalled"
    assert "not in the cluster" in plan.problems[0]
    assert [(o["node"], o["operation"]) for o in plan.operations] == [("demo-data-2", "Remove")]


@pytest.mark.parametrize("status", ["IN_PROGRESS", "NOT_STARTED", "", "SOMETHING_NEW"])
def test_any_status_but_complete_is_not_drained(status):
    plan = plan_scale_down([MASTERS, DATA], view(shutdowns=marker("demo-data-2", status)))
    assert plan.replicas == {"data": 3}
    assert plan.phase == "MigratingData"


def test_a_shutdown_of_another_type_is_not_a_drain():
    restart = marker("demo-data-2", "COMPLETE", 0, type="RESTART", reason="rolling restart")
    plan = plan_scale_down([MASTERS, DATA], view(shutdowns=restart))
    assert plan.replicas == {"data": 3}
    assert kinds(plan) == [("shutdown", "demo-data-2")]


# -- draining data nodes ----------------------------------------------------------------------


def test_a_leaving_node_gets_a_remove_shutdown_first():
    plan = plan_scale_down([MASTERS, DATA], view())
    assert plan.actions == [Action("shutdown", "demo-data-2", "id-demo-data-2")]
    assert reasons(plan) == ["DrainStarted"]
    assert plan.replicas == {"data": 3}
    assert plan.phase == "MigratingData"


def test_a_draining_node_reports_the_shards_left():
    plan = plan_scale_down([MASTERS, DATA], view(shutdowns=marker("demo-data-2", "IN_PROGRESS", 7)))
    assert plan.actions == []
    assert plan.phase == "MigratingData"
    assert "7 shard copies left" in plan.problems[0]
    assert plan.operations[0]["operation"] == "Remove"


def test_a_stalled_drain_says_the_clusters_explanation_and_warns():
    explanation = "shard [0] [primary] of index [logs] cannot move, use the Cluster Allocation Explain API"
    shutdowns = marker("demo-data-2", "STALLED", 1, explanation=explanation)
    plan = plan_scale_down([MASTERS, DATA], view(shutdowns=shutdowns))
    assert plan.replicas == {"data": 3}
    assert plan.phase == "Stalled"
    assert explanation in plan.problems[0]
    assert [e[:2] for e in plan.events] == [("Warning", "DrainStalled")]


def test_a_drained_node_is_shrunk_away():
    plan = plan_scale_down([MASTERS, DATA], view(shutdowns=marker("demo-data-2", "COMPLETE", 0)))
    assert plan.replicas == {"data": 2}
    assert plan.actions == []
    assert reasons(plan) == ["ScaledDown"]
    assert plan.phase is None


def test_several_data_nodes_drain_at_once():
    plan = plan_scale_down([MASTERS, NodeSetScale("data", "demo-data", 3, 1)], view())
    assert kinds(plan) == [("shutdown", "demo-data-2"), ("shutdown", "demo-data-1")]


def test_the_statefulset_shrinks_only_from_the_top():
    scale = NodeSetScale("data", "demo-data", 3, 1)
    lower_done = {**marker("demo-data-2", "IN_PROGRESS"), **marker("demo-data-1", "COMPLETE", 0)}
    assert plan_scale_down([MASTERS, scale], view(shutdowns=lower_done)).replicas == {"data": 3}
    top_done = {**marker("demo-data-2", "COMPLETE", 0), **marker("demo-data-1", "IN_PROGRESS")}
    assert plan_scale_down([MASTERS, scale], view(shutdowns=top_done)).replicas == {"data": 2}
    both = {**marker("demo-data-2", "COMPLETE", 0), **marker("demo-data-1", "COMPLETE", 0)}
    assert plan_scale_down([MASTERS, scale], view(shutdowns=both)).replicas == {"data": 1}


def test_a_dropped_node_set_drains_to_zero():
    dropped = NodeSetScale("data", "demo-data", 2, 0)
    plan = plan_scale_down([MASTERS, dropped], view(data=2))
    assert kinds(plan) == [("shutdown", "demo-data-1"), ("shutdown", "demo-data-0")]
    shutdowns = {**marker("demo-data-1", "COMPLETE", 0), **marker("demo-data-0", "COMPLETE", 0)}
    assert plan_scale_down([MASTERS, dropped], view(data=2, shutdowns=shutdowns)).replicas == {"data": 0}


# -- master-eligible nodes --------------------------------------------------------------------

SHRINK_MASTERS = NodeSetScale("default", "demo-default", current=3, desired=2)


def test_a_leaving_master_is_excluded_from_voting_before_its_drain():
    plan = plan_scale_down([SHRINK_MASTERS], view())
    assert kinds(plan) == [("exclude", "demo-default-2"), ("shutdown", "demo-default-2")]
    assert reasons(plan) == ["VotingExclusionAdded", "DrainStarted"]
    assert plan.replicas == {"default": 3}


def test_a_drained_master_still_in_the_voting_configuration_stays():
    plan = plan_scale_down(
        [SHRINK_MASTERS],
        view(
            shutdowns=marker("demo-default-2", "COMPLETE", 0),
            exclusions={"id-demo-default-2": "demo-default-2"},
        ),
    )
    assert plan.replicas == {"default": 3}
    assert plan.actions == []
    assert plan.phase == "MigratingData"
    assert "waiting for the voting configuration to drop it" in plan.problems[0]


def test_the_elected_master_leaving_says_it_must_hand_over():
    plan = plan_scale_down(
        [SHRINK_MASTERS],
        view(
            shutdowns=marker("demo-default-2", "COMPLETE", 0),
            exclusions={"id-demo-default-2": "demo-default-2"},
            master="demo-default-2",
        ),
    )
    assert plan.replicas == {"default": 3}
    assert "elected master" in plan.problems[0]


def test_a_drained_master_out_of_the_voting_configuration_is_shrunk_away():
    plan = plan_scale_down(
        [SHRINK_MASTERS],
        view(
            shutdowns=marker("demo-default-2", "COMPLETE", 0),
            exclusions={"id-demo-default-2": "demo-default-2"},
            voters={"id-demo-default-0", "id-demo-default-1"},
        ),
    )
    assert plan.replicas == {"default": 2}
    assert plan.actions == []  # the exclusion stays while the node is still on its way out
    assert reasons(plan) == ["ScaledDown"]


def test_masters_are_excluded_one_at_a_time():
    five_to_three = NodeSetScale("default", "demo-default", current=5, desired=3)
    plan = plan_scale_down([five_to_three], view(masters=5))
    assert kinds(plan) == [
        ("exclude", "demo-default-4"),
        ("shutdown", "demo-default-4"),
        ("shutdown", "demo-default-3"),
    ]
    waiting = [o for o in plan.operations if o["node"] == "demo-default-3" and o["operation"] == "Exclude"]
    assert "its turn" in waiting[0]["message"]


def test_no_new_exclusion_while_an_excluded_master_is_still_in_the_cluster():
    """demo-default-4 was shrunk away and its pod is still terminating: demo-default-3 waits."""
    four_to_three = NodeSetScale("default", "demo-default", current=4, desired=3)
    plan = plan_scale_down(
        [four_to_three],
        view(
            masters=5,
            exclusions={"id-demo-default-4": "demo-default-4"},
            voters={f"id-demo-default-{i}" for i in range(4)},
            shutdowns=marker("demo-default-4", "COMPLETE", 0),
        ),
    )
    assert ("exclude", "demo-default-3") not in kinds(plan)
    assert ("clear_exclusions", None) not in kinds(plan)
    assert plan.replicas == {"default": 4}


def test_the_last_master_eligible_node_is_never_excluded():
    masters = NodeSetScale("masters", "demo-default", current=1, desired=0)
    plan = plan_scale_down([masters], view(masters=1, data=0))
    assert ("exclude", "demo-default-0") not in kinds(plan)
    assert plan.phase == "Stalled"
    assert "last master-eligible node" in plan.problems[0]
    assert plan.replicas == {"masters": 1}


def test_masters_already_excluded_do_not_count_as_the_ones_left():
    plan = plan_scale_down(
        [SHRINK_MASTERS],
        view(exclusions={"id-demo-default-0": "demo-default-0", "id-demo-default-1": "demo-default-1"}),
    )
    assert ("exclude", "demo-default-2") not in kinds(plan)
    assert plan.phase == "Stalled"


# -- clean-up -------------------------------------------------------------------------------


def test_markers_of_nodes_that_left_are_deleted_and_exclusions_cleared():
    gone = marker("demo-default-3", "COMPLETE", 0)
    plan = plan_scale_down(
        [MASTERS], view(shutdowns=gone, exclusions={"id-demo-default-3": "demo-default-3"})
    )
    assert kinds(plan) == [("delete_shutdown", None), ("clear_exclusions", None)]
    assert plan.actions[0].node_id == "id-demo-default-3"
    assert reasons(plan) == ["ShutdownCleared", "VotingExclusionsCleared"]
    assert plan.phase is None


def test_the_exclusion_of_a_node_to_come_back_without_the_master_role_stays_until_it_has():
    """A node set's roles changed to data-only: rolling.py excluded demo-data-2 before its
    restart, and the exclusion is needed until the node is no longer master-eligible."""
    no_longer_masters = NodeSetScale("data", "demo-data", 3, 3, master_eligible=False)
    excluded = {"id-demo-data-2": "demo-data-2"}
    still_master = view(exclusions=excluded)
    still_master = ClusterView(
        **{**still_master.__dict__, "master_eligible": still_master.master_eligible | {"demo-data-2"}}
    )
    assert plan_scale_down([MASTERS, no_longer_masters], still_master).actions == []
    back_as_data = plan_scale_down([MASTERS, no_longer_masters], view(exclusions=excluded))
    assert kinds(back_as_data) == [("clear_exclusions", None)]


def test_markers_the_operator_did_not_make_are_left_alone():
    theirs = marker("demo-data-5", "COMPLETE", 0, reason="maintenance by hand")
    restart = marker("demo-data-1", "COMPLETE", 0, type="RESTART", reason="node upgrade")
    plan = plan_scale_down(
        [MASTERS, NodeSetScale("data", "demo-data", 3, 3)], view(shutdowns={**theirs, **restart})
    )
    assert plan.actions == []


def test_a_called_off_scale_down_deletes_the_marker_of_a_node_that_stays():
    ours = marker("demo-data-2", "IN_PROGRESS")
    plan = plan_scale_down([MASTERS, NodeSetScale("data", "demo-data", 3, 3)], view(shutdowns=ours))
    assert plan.actions == [Action("delete_shutdown", "demo-data-2", "id-demo-data-2")]


def test_the_marker_of_a_node_on_its_way_out_stays_until_it_left():
    """Shrunk away but its pod still terminating: without the marker, shards could be put back on it."""
    ours = marker("demo-data-2", "COMPLETE", 0)
    plan = plan_scale_down([MASTERS, NodeSetScale("data", "demo-data", 2, 2)], view(shutdowns=ours))
    assert plan.actions == []


def test_exclusions_of_nodes_that_stay_are_cleared():
    plan = plan_scale_down([MASTERS], view(exclusions={"id-demo-default-1": "demo-default-1"}))
    assert kinds(plan) == [("clear_exclusions", None)]


def test_the_reason_identifies_the_operators_markers():
    assert shutdown_reason("demo-data-2").startswith(SHUTDOWN_REASON)


# -- reading the cluster and sending the steps ---------------------------------------------


def three_and_two():
    cluster = FakeCluster(
        *(node(f"demo-default-{i}", roles="dimr") for i in range(3)),
        *(node(f"demo-data-{i}", roles="di") for i in range(3)),
    )
    return cluster


def test_the_view_is_read_from_the_api():
    cluster = three_and_two()
    cluster.shutdowns["id-demo-data-2"] = {
        "type": "remove",
        "reason": "r",
        "status": "STALLED",
        "explanation": "x",
    }
    cluster.exclusions = [{"node_id": "id-demo-default-2", "node_name": "demo-default-2"}]
    with cluster.connect() as client:
        seen = read_cluster_view(client)
    assert seen.nodes["demo-data-1"] == "id-demo-data-1"
    assert seen.master_eligible == {"demo-default-0", "demo-default-1", "demo-default-2"}
    assert seen.shutdowns["id-demo-data-2"].status == "STALLED"
    assert seen.shutdowns["id-demo-data-2"].explanation == "x"
    assert seen.exclusions == {"id-demo-default-2": "demo-default-2"}
    assert seen.master == "demo-default-0"


@pytest.mark.parametrize(
    "path", ["/_cat/nodes", "/_nodes/shutdown", "/_cluster/state/metadata", "/_cat/master"]
)
def test_any_part_of_the_view_failing_is_no_view(path):
    cluster = three_and_two()
    cluster.failing.add(path)
    with cluster.connect() as client, pytest.raises(ClusterUnavailable):
        read_cluster_view(client)


def test_actions_are_sent_in_order_and_the_first_failure_stops_them():
    cluster = three_and_two()
    actions = [
        Action("exclude", "demo-default-2", "id-demo-default-2"),
        Action("shutdown", "demo-default-2", "id-demo-default-2"),
        Action("delete_shutdown", None, "id-gone"),
        Action("clear_exclusions"),
    ]
    with cluster.connect() as client, pytest.raises(ClusterUnavailable):
        run_actions(client, actions)
    assert cluster.writes() == [
        ("POST", "/_cluster/voting_config_exclusions"),
        ("PUT", "/_nodes/id-demo-default-2/shutdown"),
        ("DELETE", "/_nodes/id-gone/shutdown"),
    ]
    assert cluster.shutdowns["id-demo-default-2"]["reason"] == shutdown_reason("demo-default-2")


# -- the reconcile driving it ---------------------------------------------------------------


def two_sets(data: int):
    return make_cluster({"name": "default", "count": 3}, {"name": "data", "count": data, "roles": ["data"]})


def data_replicas(kube):
    return kube.objects[("StatefulSet", "prod", "demo-data")]["spec"]["replicas"]


def test_a_scale_down_goes_step_by_step_to_the_end():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    kube.run_statefulsets()

    first = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert data_replicas(kube) == 3
    assert first.status["phase"] == "MigratingData"
    assert cluster.shutdowns["id-demo-data-2"]["type"] == "remove"
    assert ("Normal", "DrainStarted") in [e[:2] for e in first.events]
    assert first.status["nodeOperations"][0]["node"] == "demo-data-2"

    cluster.drain("id-demo-data-2", "IN_PROGRESS", 4)
    draining = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert data_replicas(kube) == 3
    assert "4 shard copies left" in draining.status["message"]

    cluster.drain("id-demo-data-2", "COMPLETE")
    shrunk = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert data_replicas(kube) == 2
    assert ("Normal", "ScaledDown") in [e[:2] for e in shrunk.events]
    assert "id-demo-data-2" in cluster.shutdowns  # still terminating: the marker stays

    cluster.nodes = [n for n in cluster.nodes if n["name"] != "demo-data-2"]
    done = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert cluster.shutdowns == {}
    assert done.status["phase"] == "Ready"
    assert done.status["nodeOperations"] == []


@pytest.mark.parametrize(
    "path", ["/_cat/nodes", "/_nodes/shutdown", "/_cluster/state/metadata", "/_cat/master"]
)
def test_an_api_error_while_checking_never_shrinks(path):
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    reconcile_cluster(two_sets(2), kube, cluster.connect)
    cluster.drain("id-demo-data-2", "COMPLETE")
    cluster.failing.add(path)
    outcome = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert data_replicas(kube) == 3
    assert outcome.status["phase"] == "Stalled"


def test_a_failed_request_is_reported_and_nothing_shrinks():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    cluster.failing.add("/_nodes/id-demo-data-2/shutdown")
    outcome = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert data_replicas(kube) == 3
    assert "retried on the next check" in outcome.status["message"]
    assert ("Warning", "ClusterRequestFailed") in [e[:2] for e in outcome.events]


def test_a_failed_request_warns_once():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    cluster.failing.add("/_nodes/id-demo-data-2/shutdown")
    first = reconcile_cluster(two_sets(2), kube, cluster.connect)
    again = reconcile_cluster({**two_sets(2), "status": first.status}, kube, cluster.connect)
    assert ("Warning", "ClusterRequestFailed") in [e[:2] for e in first.events]
    assert ("Warning", "ClusterRequestFailed") not in [e[:2] for e in again.events]


def test_a_stalled_drain_warns_once():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    reconcile_cluster(two_sets(2), kube, cluster.connect)
    cluster.drain("id-demo-data-2", "STALLED", 1, "shard [0] [replica] of index [x] cannot move")
    resource = two_sets(2)
    first = reconcile_cluster(resource, kube, cluster.connect)
    resource["status"] = first.status
    again = reconcile_cluster(resource, kube, cluster.connect)
    assert first.status["phase"] == again.status["phase"] == "Stalled"
    assert ("Warning", "DrainStalled") in [e[:2] for e in first.events]
    assert ("Warning", "DrainStalled") not in [e[:2] for e in again.events]


def test_a_dropped_node_set_is_drained_then_kept_at_zero_replicas():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    only_masters = make_cluster({"name": "default", "count": 3})
    reconcile_cluster(only_masters, kube, cluster.connect)
    assert data_replicas(kube) == 3
    assert {f"id-demo-data-{i}" for i in range(3)} <= set(cluster.shutdowns)
    for i in range(3):
        cluster.drain(f"id-demo-data-{i}", "COMPLETE")
    reconcile_cluster(only_masters, kube, cluster.connect)
    assert data_replicas(kube) == 0
    sts = kube.objects[("StatefulSet", "prod", "demo-data")]
    assert sts["spec"]["template"]["metadata"]["labels"]["strata.dev/node-set"] == "data"


def test_a_dropped_node_set_shrunk_in_this_reconcile_counts_once_in_the_status():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    kube.run_statefulsets()
    only_masters = make_cluster({"name": "default", "count": 3})
    reconcile_cluster(only_masters, kube, cluster.connect)
    for i in range(3):
        cluster.drain(f"id-demo-data-{i}", "COMPLETE")
    cluster.failing = {"/_cluster/health"}  # the count comes from the StatefulSets' ready pods
    outcome = reconcile_cluster(only_masters, kube, cluster.connect)
    assert data_replicas(kube) == 0
    assert outcome.status["availableNodes"] == 3


def test_the_first_step_of_a_scale_down_has_a_message():
    cluster, kube = three_and_two(), MemoryKube()
    reconcile_cluster(two_sets(3), kube, cluster.connect)
    outcome = reconcile_cluster(two_sets(2), kube, cluster.connect)
    assert outcome.status["phase"] == "MigratingData"
    assert outcome.status["message"]
