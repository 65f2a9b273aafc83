"""The rolling restart planner, state in and next step out: nothing deleted unless the cluster
is green, readable and whole, one step at a time, data-only nodes first and up to
maxUnavailable of them without taking the last copy of a shard, masters last and alone with
the elected master at the very end, restart markers registered before and deleted after;
and the reconcile driving it over a fake cluster API and an in-memory Kube."""

from __future__ import annotations

from dataclasses import replace

import pytest

from strata_operator.reconcile import reconcile_cluster
from strata_operator.rolling import (
    ALLOCATION_DELAY,
    REVISION_LABEL,
    HealthView,
    NodeSetPods,
    Pod,
    RestartAction,
    ShardCopy,
    describe_explain,
    plan_rolling_restart,
    read_pods,
    restart_reason,
)
from strata_operator.scale_down import ClusterView, Shutdown, shutdown_reason

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .memory_kube import MemoryKube
from .test_scale_down import view

MASTERS = NodeSetPods("default", "demo-default", 3, master_eligible=True, observed=True)
DATA = NodeSetPods("data", "demo-data", 3, master_eligible=False, observed=True)
GREEN = HealthView("green")
EXPLAINED = "replica of [logs][0] is unassigned (NODE_LEFT): cannot allocate"


def pod_list(
    outdated=(), not_ready=(), terminating=(), missing=(), masters: int = 3, data: int = 3, recreated=()
) -> list[Pod]:
    """Pods of demo-default (master-eligible) and demo-data (data-only); `outdated` names or
    "all"; `recreated`: pods back on the new template with a new uid."""
    out = []
    for statefulset, name, count in (("demo-default", "default", masters), ("demo-data", "data", data)):
        for i in range(count):
            pod = f"{statefulset}-{i}"
            if pod in missing:
                continue
            out.append(
                Pod(
                    name=pod,
                    uid=f"uid-{pod}" + ("-new" if pod in recreated else ""),
                    node_set=name,
                    ordinal=i,
                    up_to_date=not (outdated == "all" or pod in outdated),
                    ready=pod not in not_ready,
                    terminating=pod in terminating,
                )
            )
    return out


def restart_marker(name: str, reason: str | None = None, kind: str = "RESTART") -> dict[str, Shutdown]:
    return {
        f"id-{name}": Shutdown(
            f"id-{name}",
            type=kind,
            reason=reason or restart_reason(name),
            status="COMPLETE",
            started_millis=1,
        )
    }


def plan(pods=None, cluster=None, health=GREEN, sets=(MASTERS, DATA), **kw):
    return plan_rolling_restart(
        list(sets), pod_list() if pods is None else pods, view() if cluster is None else cluster, health, **kw
    )


def restarted(p) -> list[str]:
    return [a.pod for a in p.actions if a.kind == "restart"]


def reasons(p) -> list[str]:
    return [e[1] for e in p.events]


def shard(index: str, number: int, *nodes: str, state: str = "STARTED") -> list[ShardCopy]:
    return [ShardCopy(index, number, state, n) for n in nodes]


# -- nothing to do ----------------------------------------------------------------------------


def test_every_pod_up_to_date_and_no_marker_is_no_step():
    p = plan()
    assert (p.actions, p.events, p.problems, p.operations, p.active) == ([], [], [], [], False)


def test_markers_of_others_are_not_the_planners_business():
    shutdowns = {
        **restart_marker("demo-data-1", reason="kernel upgrade by hand"),
        **restart_marker("demo-data-2", reason=shutdown_reason("demo-data-2"), kind="REMOVE"),
    }
    p = plan(cluster=view(shutdowns=shutdowns))
    assert (p.actions, p.active) == ([], False)


# -- order ------------------------------------------------------------------------------------


def test_data_only_nodes_go_first_highest_ordinal_first():
    p = plan(pod_list("all"))
    assert p.actions == [RestartAction("restart", "demo-data-2", "id-demo-data-2", "uid-demo-data-2")]
    assert reasons(p) == ["RestartStarted"]
    assert ALLOCATION_DELAY in p.events[0][2]
    assert [(o["node"], o["operation"]) for o in p.operations] == [("demo-data-2", "Restart")]
    assert p.active
    assert "wait for their turn" in p.problems[0]


def test_masters_go_last_and_the_elected_master_last_of_all():
    outdated = ["demo-default-0", "demo-default-1", "demo-default-2"]
    assert restarted(plan(pod_list(outdated), cluster=view(master="demo-default-2"))) == ["demo-default-1"]
    assert restarted(plan(pod_list(outdated[:1] + outdated[2:]), cluster=view(master="demo-default-2"))) == [
        "demo-default-0"
    ]
    assert restarted(plan(pod_list(outdated[2:]), cluster=view(master="demo-default-2"))) == [
        "demo-default-2"
    ]


def test_a_master_waits_while_any_data_only_node_is_out_of_date():
    p = plan(pod_list(["demo-default-1", "demo-data-0"]))
    assert restarted(p) == ["demo-data-0"]


def test_a_node_the_cluster_knows_as_master_eligible_goes_last_whatever_its_template_says():
    data_that_was_master = NodeSetPods("data", "demo-data", 3, master_eligible=False, observed=True)
    cluster = view()
    cluster = type(cluster)(
        **{**cluster.__dict__, "master_eligible": cluster.master_eligible | {"demo-data-2"}}
    )
    p = plan(pod_list(["demo-data-1", "demo-data-2"]), cluster=cluster, sets=(MASTERS, data_that_was_master))
    assert restarted(p) == ["demo-data-1"]


# -- losing the master role -------------------------------------------------------------------

# The data node set was master-eligible; its roles changed to data-only (DATA's template).
ALL_DATA_VOTERS = {f"id-demo-data-{i}" for i in range(3)}


def was_master(exclusions=None, voters=None, **kw) -> ClusterView:
    """The cluster before the data nodes restarted: demo-data-* still master-eligible and
    voters (unless `voters` says otherwise)."""
    base = view(exclusions=exclusions, **kw)
    eligible = base.master_eligible | {f"demo-data-{i}" for i in range(3)}
    voters = frozenset(voters if voters is not None else base.voters | ALL_DATA_VOTERS)
    return replace(base, master_eligible=eligible, voters=voters)


def test_a_node_losing_the_master_role_is_excluded_from_voting_before_its_restart():
    p = plan(pod_list(["demo-data-2"]), cluster=was_master())
    assert p.actions == [RestartAction("exclude", "demo-data-2", "id-demo-data-2")]
    assert reasons(p) == ["VotingExclusionAdded"]
    assert [(o["node"], o["operation"]) for o in p.operations] == [("demo-data-2", "Exclude")]
    assert p.active


def test_a_node_losing_the_master_role_waits_until_the_voting_configuration_dropped_it():
    p = plan(pod_list(["demo-data-2"]), cluster=was_master(exclusions={"id-demo-data-2": "demo-data-2"}))
    assert p.actions == []
    assert "waiting for the voting configuration to drop it before it restarts" in p.problems[0]


def test_a_node_out_of_the_voting_configuration_restarts_without_the_master_role():
    voters = set(view().voters) | ALL_DATA_VOTERS - {"id-demo-data-2"}
    cluster = was_master(exclusions={"id-demo-data-2": "demo-data-2"}, voters=voters)
    p = plan(pod_list(["demo-data-2"]), cluster=cluster)
    assert p.actions == [RestartAction("restart", "demo-data-2", "id-demo-data-2", "uid-demo-data-2")]
    assert reasons(p) == ["RestartStarted"]
    assert "without the master role" in p.events[0][2]


def test_the_only_voter_losing_the_master_role_hands_its_vote_over_instead_of_taking_the_quorum_with_it():
    """Two master-eligible node sets of one node each, the voter's changed to data-only: an
    ordinary restart would leave a voting configuration of one node that cannot vote."""
    keeps = NodeSetPods("a", "demo-a", 1, master_eligible=True, observed=True)
    loses = NodeSetPods("b", "demo-b", 1, master_eligible=False, observed=True)
    pods = [
        Pod("demo-a-0", "u-a", "a", 0, up_to_date=True, ready=True, terminating=False),
        Pod("demo-b-0", "u-b", "b", 0, up_to_date=False, ready=True, terminating=False),
    ]
    cluster = ClusterView(
        nodes={"demo-a-0": "A", "demo-b-0": "B"},
        master_eligible=frozenset({"demo-a-0", "demo-b-0"}),
        shutdowns={},
        exclusions={},
        voters=frozenset({"B"}),
        master="demo-b-0",
    )
    p = plan_rolling_restart([keeps, loses], pods, cluster, GREEN)
    assert p.actions == [RestartAction("exclude", "demo-b-0", "B")]
    assert "MasterQuorumLost" not in reasons(p)


def test_the_last_master_eligible_node_never_loses_the_master_role_by_a_restart():
    one = NodeSetPods("default", "demo-default", 1, master_eligible=False, observed=True)
    p = plan(pod_list("all", masters=1, data=0), cluster=view(masters=1, data=0), sets=(one,))
    assert p.actions == []
    assert p.stalled
    assert "last master-eligible node" in p.problems[0]


def test_nodes_leave_the_voting_configuration_one_at_a_time():
    """demo-data-2 was excluded and is still in the cluster (its restart not begun): no
    other node is excluded meanwhile."""
    cluster = was_master(exclusions={"id-demo-data-2": "demo-data-2"})
    p = plan(pod_list(["demo-data-1"]), cluster=cluster)
    assert p.actions == []
    assert "waits for its turn to leave the voting configuration" in p.problems[0]


def test_a_node_set_taking_the_master_role_over_restarts_before_the_one_losing_it():
    takes_over = NodeSetPods("default", "demo-default", 3, master_eligible=True, observed=True)
    data_nodes = frozenset({"demo-data-0", "demo-data-1", "demo-data-2"})
    cluster = replace(view(), master_eligible=data_nodes, master="demo-data-0")
    p = plan(pod_list("all"), cluster=cluster, sets=(takes_over, DATA))
    assert restarted(p) == ["demo-default-2"]


# -- one at a time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pods, cluster, health, waiting_for",
    [
        (pod_list("all", missing=("demo-data-2",)), {"absent": ("demo-data-2",)}, GREEN, "not recreated"),
        (pod_list("all", terminating=("demo-data-2",)), {}, GREEN, "terminating"),
        (pod_list(["demo-data-0"], not_ready=("demo-data-2",)), {}, GREEN, "not ready"),
        (pod_list(["demo-data-0"]), {"absent": ("demo-data-2",)}, GREEN, "has not joined"),
    ],
)
def test_no_second_pod_while_one_is_not_back(pods, cluster, health, waiting_for):
    p = plan(pods, cluster=view(shutdowns=restart_marker("demo-data-2"), **cluster), health=health)
    assert p.actions == []
    assert p.active
    assert "waiting for ['demo-data-2'] to come back" in p.problems[0]
    [operation] = p.operations
    assert (operation["node"], operation["operation"]) == ("demo-data-2", "Restart")
    assert waiting_for in operation["message"]
    assert operation["startedAt"] == "1970-01-01T00:00:00Z"


def test_a_node_back_and_green_has_its_marker_deleted_and_the_next_restart_waits_for_a_fresh_read():
    p = plan(
        pod_list(["demo-data-0"], recreated=("demo-data-2",)),
        cluster=view(shutdowns=restart_marker("demo-data-2")),
    )
    assert p.actions == [RestartAction("delete_shutdown", "demo-data-2", "id-demo-data-2")]
    assert reasons(p) == ["NodeRestarted"]
    assert p.active and "wait for their turn" in p.problems[0]


def test_a_node_back_has_its_marker_deleted_while_its_replicas_recover_and_the_next_waits_for_them():
    """As Elasticsearch's restart procedure: the marker goes once the node rejoined (its
    replicas may then recover onto it); no Warning for the yellow of a recovery."""
    recovering = HealthView("yellow", tuple(shard("logs", 0, "demo-data-2", state="INITIALIZING")), EXPLAINED)
    cluster = view(shutdowns=restart_marker("demo-data-2"))
    p = plan(pod_list(["demo-data-0"], recreated=("demo-data-2",)), cluster=cluster, health=recovering)
    assert [(a.kind, a.pod) for a in p.actions] == [("delete_shutdown", "demo-data-2")]
    after = plan(pod_list(["demo-data-0"]), health=recovering)
    assert after.actions == []
    assert "yellow while shard copies recover" in after.problems[0]
    assert after.events == []


def test_the_last_node_back_ends_the_rolling_restart():
    p = plan(pod_list(), cluster=view(shutdowns=restart_marker("demo-default-0")))
    assert [a.kind for a in p.actions] == ["delete_shutdown"]
    assert not p.active


def test_a_marker_whose_pod_delete_failed_is_taken_up_again():
    p = plan(pod_list(["demo-data-2", "demo-data-0"]), cluster=view(shutdowns=restart_marker("demo-data-2")))
    assert p.actions == [RestartAction("restart", "demo-data-2", "id-demo-data-2", "uid-demo-data-2")]


def test_a_marker_whose_pod_delete_failed_waits_like_any_restart_while_not_green():
    only_copy = HealthView("yellow", tuple(shard("logs", 0, "demo-data-2")), EXPLAINED)
    cluster = view(shutdowns=restart_marker("demo-data-2"))
    p = plan(pod_list(["demo-data-2"]), cluster=cluster, health=only_copy)
    assert p.actions == []
    assert EXPLAINED in p.problems[0]


def test_the_marker_of_a_pod_no_longer_expected_is_deleted_once_its_node_left():
    gone = plan(
        pod_list(data=2),
        cluster=view(data=2, shutdowns=restart_marker("demo-data-2")),
        sets=(MASTERS, NodeSetPods("data", "demo-data", 2, False, True)),
    )
    assert [(a.kind, a.pod) for a in gone.actions] == [("delete_shutdown", "demo-data-2")]
    still_there = plan(
        pod_list(),
        cluster=view(shutdowns=restart_marker("demo-data-2")),
        sets=(MASTERS, NodeSetPods("data", "demo-data", 2, False, True)),
    )
    assert still_there.actions == []


def test_restarting_one_of_two_voters_warns_that_the_cluster_has_no_master_until_it_is_back():
    two = NodeSetPods("default", "demo-default", 2, master_eligible=True, observed=True)
    p = plan(pod_list("all", masters=2, data=0), cluster=view(masters=2, data=0), sets=(two,))
    assert restarted(p) == ["demo-default-1"]
    assert reasons(p) == ["RestartStarted", "MasterQuorumLost"]
    assert "one of 2 voting master-eligible node(s)" in p.events[1][2]


def test_restarting_one_of_three_voters_keeps_a_quorum_and_warns_of_nothing():
    p = plan(pod_list(["demo-default-1"]))
    assert reasons(p) == ["RestartStarted"]


# -- when the cluster does not allow it -------------------------------------------------------


def test_red_deletes_nothing_and_says_why():
    p = plan(pod_list("all"), health=HealthView("red", explanation="primary of [logs][0] is unassigned"))
    assert p.actions == []
    assert "red" in p.problems[0] and "primary of [logs][0]" in p.problems[0]
    assert [(o["node"], o["operation"]) for o in p.operations] == [("demo-data-2", "Restart")]
    assert reasons(p) == ["RestartWaiting"]


def yellow(*copies: list[ShardCopy]) -> HealthView:
    return HealthView("yellow", tuple(c for group in copies for c in group), EXPLAINED)


def test_yellow_restarts_a_node_whose_every_copy_has_another_started_copy():
    p = plan(pod_list("all"), health=yellow(shard("logs", 0, "demo-data-2", "demo-data-1")))
    assert restarted(p) == ["demo-data-2"]
    assert "the cluster is yellow" in p.events[0][2] and EXPLAINED in p.events[0][2]


def test_yellow_skips_a_node_holding_the_only_started_copy_for_another_of_its_turn():
    p = plan(pod_list("all"), health=yellow(shard("logs", 0, "demo-data-2")))
    assert restarted(p) == ["demo-data-1"]


def test_yellow_never_lets_a_master_go_before_a_data_only_node_that_must_wait():
    p = plan(
        pod_list(["demo-data-2", "demo-default-1"]),
        health=yellow(shard("logs", 0, "demo-data-2"), shard("logs", 1, "demo-default-1", "demo-data-0")),
    )
    assert p.actions == []
    assert "demo-data-2 holds the only started copy of [logs][0]" in p.problems[0]


def test_yellow_with_every_candidate_holding_an_only_copy_deletes_nothing_and_explains_it():
    p = plan(pod_list(["demo-data-2"]), health=yellow(shard("logs", 0, "demo-data-2")))
    assert p.actions == []
    assert "yellow" in p.problems[0] and EXPLAINED in p.problems[0]
    assert "would make the cluster red" in p.problems[0]
    assert EXPLAINED in p.operations[0]["message"]
    assert p.events == [("Warning", "RestartWaiting", p.problems[0].split(" wait: ", 1)[1])]


def test_a_cluster_of_one_node_restarts_while_yellow():
    """It is yellow for good once an index has a replica, and nothing else could restart it."""
    one = NodeSetPods("default", "demo-default", 1, master_eligible=True, observed=True)
    p = plan(
        pod_list("all", masters=1, data=0),
        cluster=view(masters=1, data=0, master="demo-default-0"),
        health=yellow(shard("logs", 0, "demo-default-0")),
        sets=(one,),
    )
    assert restarted(p) == ["demo-default-0"]


@pytest.mark.parametrize("cluster, health", [(None, GREEN), ("view", None)])
def test_an_unreadable_cluster_deletes_nothing(cluster, health):
    p = plan_rolling_restart(
        [MASTERS, DATA], pod_list("all"), view() if cluster else None, health, unreadable="HTTP 503"
    )
    assert p.actions == []
    assert p.active
    assert "cannot be asked: HTTP 503" in p.problems[0]


def test_an_unobserved_statefulset_deletes_nothing():
    unobserved = NodeSetPods("data", "demo-data", 3, False, observed=False)
    p = plan(pod_list("all"), sets=(MASTERS, unobserved))
    assert p.actions == []
    assert "not observed" in p.problems[0]


def test_a_hold_deletes_nothing():
    p = plan(pod_list("all"), hold="a scale-down is in progress")
    assert p.actions == []
    assert "a scale-down is in progress" in p.problems[0]
    assert p.events == []


@pytest.mark.parametrize(
    "pods, absent, why",
    [
        (pod_list(["demo-data-2"], not_ready=("demo-default-1",)), (), "demo-default-1 is not running"),
        (pod_list(["demo-data-2"], missing=("demo-default-1",)), (), "demo-default-1 is not running"),
        (pod_list(["demo-data-2"], terminating=("demo-data-0",)), (), "demo-data-0 is not running"),
        (pod_list(["demo-data-2"]), ("demo-data-1",), "node demo-data-1 is not in the cluster"),
    ],
)
def test_a_pod_or_node_that_is_not_there_deletes_nothing(pods, absent, why):
    p = plan(pods, cluster=view(absent=absent))
    assert p.actions == []
    assert why in p.problems[0]


# -- maxUnavailable ---------------------------------------------------------------------------


def test_max_unavailable_takes_data_only_nodes_that_share_no_last_copy():
    copies = (
        shard("logs", 0, "demo-data-2", "demo-data-0")
        + shard("logs", 1, "demo-data-1", "demo-default-0")
        + shard("logs", 2, "demo-data-0", "demo-default-1")
    )
    p = plan(pod_list("all"), health=HealthView("green", tuple(copies)), max_unavailable=2)
    assert restarted(p) == ["demo-data-2", "demo-data-1"]
    three = plan(pod_list("all"), health=HealthView("green", tuple(copies)), max_unavailable=3)
    # demo-data-0 holds the last copy of [logs][0] outside the batch: it waits.
    assert restarted(three) == ["demo-data-2", "demo-data-1"]


def test_max_unavailable_never_takes_the_last_started_copy_of_a_shard():
    copies = shard("logs", 0, "demo-data-2", "demo-data-1") + shard(
        "logs", 0, "demo-data-0", state="INITIALIZING"
    )
    p = plan(pod_list("all"), health=HealthView("green", tuple(copies)), max_unavailable=3)
    assert restarted(p) == ["demo-data-2", "demo-data-0"]


def test_max_unavailable_never_batches_masters():
    p = plan(pod_list(["demo-default-1", "demo-default-2", "demo-data-1"]), max_unavailable=5)
    assert restarted(p) == ["demo-data-1"]
    masters_only = plan(pod_list(["demo-default-1", "demo-default-2"]), max_unavailable=5)
    assert restarted(masters_only) == ["demo-default-2"]


# -- reading ----------------------------------------------------------------------------------


def test_read_pods_compares_each_pods_revision_with_its_statefulsets_update_revision():
    sts = {
        "metadata": {"name": "demo-data", "generation": 2, "labels": {"strata.dev/node-set": "data"}},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"strata.dev/master-eligible": "false"}}},
        },
        "status": {"observedGeneration": 2, "updateRevision": "demo-data-new"},
    }

    def k8s_pod(name, revision, ready="True", **meta):
        labels = {"strata.dev/node-set": "data", REVISION_LABEL: revision}
        return {
            "metadata": {"name": name, "uid": f"u-{name}", "labels": labels, **meta},
            "status": {"conditions": [{"type": "Ready", "status": ready}]},
        }

    other = k8s_pod("demo-other-0", "x")
    other["metadata"]["labels"]["strata.dev/node-set"] = "other"
    node_sets, pods = read_pods(
        [sts],
        [
            k8s_pod("demo-data-0", "demo-data-new"),
            k8s_pod("demo-data-1", "demo-data-old", ready="False", deletionTimestamp="2026-01-01T00:00:00Z"),
            other,
        ],
    )
    assert node_sets == [NodeSetPods("data", "demo-data", 2, master_eligible=False, observed=True)]
    assert pods == [
        Pod("demo-data-0", "u-demo-data-0", "data", 0, up_to_date=True, ready=True, terminating=False),
        Pod("demo-data-1", "u-demo-data-1", "data", 1, up_to_date=False, ready=False, terminating=True),
    ]
    sts["status"]["observedGeneration"] = 1
    assert read_pods([sts], [])[0][0].observed is False


def test_describe_explain_says_which_copy_why_and_the_first_refusing_decider():
    body = {
        "index": "logs",
        "shard": 0,
        "primary": False,
        "current_state": "unassigned",
        "unassigned_info": {"reason": "NODE_LEFT"},
        "can_allocate": "no",
        "allocate_explanation": "cannot allocate because allocation is not permitted to any of the nodes",
        "node_allocation_decisions": [
            {
                "node_name": "demo-data-0",
                "node_decision": "no",
                "deciders": [{"decider": "same_shard", "decision": "NO", "explanation": "a copy is here"}],
            }
        ],
    }
    assert describe_explain(body) == (
        "replica of [logs][0] is unassigned (NODE_LEFT): cannot allocate because allocation is not "
        "permitted to any of the nodes; node demo-data-0: [same_shard] a copy is here"
    )
    assert "no shard copy is unassigned" in describe_explain(None)


# -- the reconcile ----------------------------------------------------------------------------


def three_nodes() -> FakeCluster:
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    cluster.master = "demo-default-1"
    cluster.shards = [
        {"index": "logs", "shard": "0", "prirep": p, "state": "STARTED", "node": n}
        for p, n in (("p", "demo-default-0"), ("r", "demo-default-2"))
    ]
    return cluster


def running(config: dict | None = None) -> tuple[MemoryKube, dict]:
    """A formed 3-node cluster's objects applied and its pods running."""
    resource = make_cluster({"name": "default", "count": 3, **({"config": config} if config else {})})
    kube = MemoryKube()
    reconcile_cluster(resource, kube, three_nodes().connect)
    kube.run_statefulsets()
    return kube, resource


def changed() -> dict:
    return make_cluster(
        {"name": "default", "count": 3, "config": {"indices.memory.index_buffer_size": "20%"}}
    )


def test_a_config_change_restarts_every_pod_one_at_a_time_and_the_elected_master_last():
    kube, _ = running()
    cluster = three_nodes()
    resource = changed()
    order, outcomes = [], []
    for _ in range(20):
        outcome = reconcile_cluster(resource, kube, cluster.connect)
        outcomes.append(outcome)
        assert len(kube.deleted) - len(order) <= 1, "one pod per step"
        if len(kube.deleted) > len(order):
            deleted = kube.deleted[-1]
            order.append(deleted)
            marker = cluster.shutdowns[f"id-{deleted}"]
            assert (marker["type"], marker["allocation_delay"]) == ("restart", ALLOCATION_DELAY)
            assert marker["reason"] == restart_reason(deleted)
            assert outcome.status["phase"] == "ApplyingChanges"
            assert [o["node"] for o in outcome.status["nodeOperations"]] == [deleted]
            assert ("Normal", "RestartStarted") in [e[:2] for e in outcome.events]
            # Before the pod is back, nothing else moves.
            again = reconcile_cluster(resource, kube, cluster.connect)
            assert len(kube.deleted) == len(order)
            assert "waiting for" in again.status["message"]
            kube.run_statefulsets()
        if outcome.status["phase"] == "Ready":
            break
    assert order == ["demo-default-2", "demo-default-0", "demo-default-1"]
    assert cluster.shutdowns == {}
    assert outcome.status["nodeOperations"] == []
    assert sum(("Normal", "NodeRestarted") in [e[:2] for e in o.events] for o in outcomes) == 3
    revision = kube.objects[("StatefulSet", "prod", "demo-default")]["status"]["updateRevision"]
    assert {kube.pod(f"demo-default-{i}")["metadata"]["labels"][REVISION_LABEL] for i in range(3)} == {
        revision
    }


def with_extra(roles: list[str] | None = None) -> dict:
    extra = {"name": "extra", "count": 2, **({"roles": roles} if roles else {})}
    return make_cluster({"name": "default", "count": 3}, extra)


def voting_steps(cluster: FakeCluster) -> list[str]:
    """The requests that change the voting configuration exclusions and the node shutdowns."""
    out = []
    for method, path, params, _ in cluster.requests:
        if path == "/_cluster/voting_config_exclusions":
            out.append(f"{method} exclusion {params.get('node_names', '')}".strip())
        elif path.endswith("/shutdown") and method != "GET":
            out.append(f"{method} marker {path.split('/')[2]}")
    return out


def test_a_node_set_losing_the_master_role_leaves_the_voting_configuration_node_by_node():
    """Each node is excluded and out of the voting configuration before its pod goes, and
    back as a data node before the next one is excluded; nothing is left behind."""
    masters = [node(f"demo-default-{i}") for i in range(3)]
    cluster = FakeCluster(*masters, node("demo-extra-0"), node("demo-extra-1"))
    cluster.master = "demo-default-1"
    kube = MemoryKube()
    reconcile_cluster(with_extra(), kube, cluster.connect)
    kube.run_statefulsets()
    for _ in range(12):
        outcome = reconcile_cluster(with_extra(["data"]), kube, cluster.connect)
        for name in kube.run_statefulsets():  # back without the master role
            cluster.nodes = [node(name, roles="d") if n["name"] == name else n for n in cluster.nodes]
    assert voting_steps(cluster) == [
        "POST exclusion demo-extra-1",
        "PUT marker id-demo-extra-1",
        "DELETE exclusion",
        "DELETE marker id-demo-extra-1",
        "POST exclusion demo-extra-0",
        "PUT marker id-demo-extra-0",
        "DELETE exclusion",
        "DELETE marker id-demo-extra-0",
    ]
    assert kube.deleted == ["demo-extra-1", "demo-extra-0"]
    assert sorted(cluster.voting) == [f"id-demo-default-{i}" for i in range(3)]
    assert cluster.exclusions == [] and cluster.shutdowns == {}
    assert outcome.status["phase"] == "Ready"


def test_a_finished_rolling_change_is_ready_though_on_delete_never_moves_the_current_revision():
    kube, _ = running()
    cluster = three_nodes()
    for _ in range(12):
        outcome = reconcile_cluster(changed(), kube, cluster.connect)
        kube.run_statefulsets()
    assert kube.deleted == ["demo-default-2", "demo-default-0", "demo-default-1"]
    status = kube.objects[("StatefulSet", "prod", "demo-default")]["status"]
    assert status["currentRevision"] != status["updateRevision"]
    assert (outcome.status["phase"], outcome.status["message"]) == ("Ready", "every node set is up to date")


def test_a_yellow_cluster_whose_next_node_holds_an_only_copy_restarts_nothing_and_the_status_says_why():
    kube, _ = running()
    cluster = three_nodes()
    cluster.health["status"] = "yellow"
    cluster.shards = [
        {"index": "logs", "shard": str(number), "prirep": prirep, "state": state, "node": node}
        for number, on in ((0, "demo-default-2"), (1, "demo-default-0"))
        for prirep, state, node in (("p", "STARTED", on), ("r", "UNASSIGNED", None))
    ]
    cluster.explain = {
        "index": "logs",
        "shard": 0,
        "primary": False,
        "current_state": "unassigned",
        "unassigned_info": {"reason": "INDEX_CREATED"},
        "allocate_explanation": "cannot allocate because allocation is not permitted to any of the nodes",
    }
    outcome = reconcile_cluster(changed(), kube, cluster.connect)
    assert kube.deleted == [] and cluster.shutdowns == {}
    assert outcome.status["phase"] == "ApplyingChanges"
    assert "replica of [logs][0] is unassigned (INDEX_CREATED)" in outcome.status["message"]
    assert "demo-default-2 holds the only started copy of [logs][0]" in outcome.status["message"]
    assert ("Warning", "RestartWaiting") in [e[:2] for e in outcome.events]
    # The same Warning is not posted again on the next check.
    resource = {**changed(), "status": outcome.status}
    again = reconcile_cluster(resource, kube, cluster.connect)
    assert ("Warning", "RestartWaiting") not in [e[:2] for e in again.events]


@pytest.mark.parametrize("failing", ["/_cat/shards", "/_cluster/health", "/_nodes/shutdown", "/_cat/nodes"])
def test_any_read_failing_deletes_nothing(failing):
    kube, _ = running()
    cluster = three_nodes()
    cluster.failing.add(failing)
    outcome = reconcile_cluster(changed(), kube, cluster.connect)
    assert kube.deleted == [] and cluster.shutdowns == {}
    assert outcome.status["phase"] in ("ApplyingChanges", "Stalled")


def test_an_unreachable_cluster_deletes_nothing():
    kube, _ = running()
    outcome = reconcile_cluster(changed(), kube, FakeCluster(down=True).connect)
    assert kube.deleted == []
    assert "cannot be asked" in outcome.status["message"]


def test_a_marker_that_cannot_be_registered_deletes_no_pod():
    kube, _ = running()
    cluster = three_nodes()
    cluster.failing.add("/_nodes/id-demo-default-2/shutdown")
    outcome = reconcile_cluster(changed(), kube, cluster.connect)
    assert kube.deleted == []
    assert ("Warning", "RestartStepFailed") in [e[:2] for e in outcome.events]
    assert "retried on the next check" in outcome.status["message"]


def test_a_failed_restart_step_warns_once():
    kube, _ = running()
    cluster = three_nodes()
    cluster.failing.add("/_nodes/id-demo-default-2/shutdown")
    first = reconcile_cluster(changed(), kube, cluster.connect)
    again = reconcile_cluster({**changed(), "status": first.status}, kube, cluster.connect)
    assert ("Warning", "RestartStepFailed") in [e[:2] for e in first.events]
    assert ("Warning", "RestartStepFailed") not in [e[:2] for e in again.events]


def test_a_pod_replaced_meanwhile_is_not_deleted():
    """The delete names the pod's uid: a pod recreated since the read stays."""

    class Replacing(MemoryKube):
        def delete(self, api_version, kind, namespace, name, uid):
            super().delete(api_version, kind, namespace, name, uid + "-stale")

    kube, _ = running()
    replacing = Replacing(*kube.objects.values())
    cluster = three_nodes()
    outcome = reconcile_cluster(changed(), replacing, cluster.connect)
    assert replacing.deleted == []
    assert "uid precondition" in outcome.status["message"]
    # The marker stays; the next check takes the same pod up again.
    assert list(cluster.shutdowns) == ["id-demo-default-2"]
    reconcile_cluster(changed(), kube, cluster.connect)
    assert kube.deleted == ["demo-default-2"]


def test_no_restart_while_a_scale_down_drains():
    kube, _ = running()
    cluster = three_nodes()
    shrunk = make_cluster(
        {"name": "default", "count": 2, "config": {"indices.memory.index_buffer_size": "20%"}}
    )
    outcome = reconcile_cluster(shrunk, kube, cluster.connect)
    assert kube.deleted == []
    assert outcome.status["phase"] == "MigratingData"
    assert "a scale-down is in progress" in outcome.status["message"]
