"""StrataAutoscaler: the spec, the arithmetic from required capacity to node sets, and the
reconcile against an in-memory Kube and a fake cluster API."""

from __future__ import annotations

import pytest

from strata_operator.autoscaler import (
    GI,
    parse_autoscaler,
    polling_period,
    recommend,
    scaled_node_sets,
    spread,
)
from strata_operator.autoscaler_reconcile import reconcile_autoscaler
from strata_operator.spec import InvalidSpec

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .memory_kube import MemoryKube

HOT = ["data_content", "data_hot"]


def autoscaler(*policies, **spec):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataAutoscaler",
        "metadata": {"name": "scaler", "namespace": "prod", "uid": "uid-a", "generation": 1},
        "spec": {"clusterRef": {"name": "demo"}, "policies": list(policies), **spec},
    }


def policy(name="hot", roles=HOT, count=(1, 5), **resources):
    body = {"nodeCount": {"min": count[0], "max": count[1]}}
    body.update({k: {"min": v[0], "max": v[1]} for k, v in resources.items()})
    return {"name": name, "roles": roles, "resources": body}


def required(node=None, total=None):
    return {"required_capacity": {"node": node or {}, "total": total or {}}}


def hot_sets(count=2, size="100Gi"):
    return [{"name": "hot", "count": count, "roles": HOT, "storage": {"size": size}}]


# -- the spec ---------------------------------------------------------------------------------


def test_a_spec_reads_its_policies_and_limits():
    spec = parse_autoscaler(autoscaler(policy(memory=("2Gi", "8Gi"), cpu=("500m", "4"),
                                              storage=("10Gi", "1Ti")), pollingPeriod="30s"))
    (hot,) = spec.policies
    assert hot.roles == ("data_content", "data_hot")
    assert (hot.memory.min, hot.memory.max) == (2 * GI, 8 * GI)
    assert (hot.cpu.min, hot.cpu.max) == (0.5, 4.0)
    assert hot.storage.max == 1024 * GI
    assert spec.polling_period == 30.0


@pytest.mark.parametrize("bad, message", [
    ({"policies": [policy(count=(3, 1))]}, r"nodeCount.min \[3\] is more than"),
    ({"policies": [policy(), policy()]}, "policy names must be unique"),
    ({"policies": [policy("a"), policy("b")]}, "two policies have the same roles"),
    ({"policies": [policy(roles=["data_bogus"])]}, "unknown roles"),
    ({"policies": [policy(memory=("lots", "8Gi"))]}, r"resources.memory.min \[lots\] is not a quantity"),
    ({"policies": [policy()], "pollingPeriod": "soon"}, "pollingPeriod"),
])
def test_a_bad_spec_is_refused_with_a_reason(bad, message):
    resource = autoscaler()
    resource["spec"].update(bad)
    with pytest.raises(InvalidSpec, match=message):
        parse_autoscaler(resource)


def test_the_polling_period_defaults_to_a_minute_and_survives_a_bad_spec():
    assert polling_period(autoscaler(policy())) == 60.0
    assert polling_period(autoscaler(policy(count=(3, 1)), pollingPeriod="5s")) == 60.0


# -- the arithmetic ----------------------------------------------------------------------------


def test_nodes_are_added_for_the_storage_the_tier_needs():
    hot = parse_autoscaler(autoscaler(policy(storage=("50Gi", "200Gi")))).policies[0]
    r = recommend(hot, hot_sets(), required(node={"storage": 20 * GI}, total={"storage": 450 * GI}))
    # 100Gi per node already (volumes never shrink): 450Gi takes 5 nodes.
    assert r.storage == 100 * GI and r.counts == {"hot": 5}
    assert r.limited == ()


def test_the_node_count_stops_at_its_max_and_says_so():
    hot = parse_autoscaler(autoscaler(policy(count=(1, 3), storage=("50Gi", "100Gi")))).policies[0]
    r = recommend(hot, hot_sets(), required(node={"storage": 20 * GI}, total={"storage": 900 * GI}))
    assert r.counts == {"hot": 3}
    assert r.limited == ("node count held at its max 3 (9 needed)",)


def test_per_node_resources_stay_within_their_limits():
    hot = parse_autoscaler(autoscaler(policy(memory=("2Gi", "8Gi"), cpu=("1", "4")))).policies[0]
    r = recommend(hot, hot_sets(), required(node={"memory": 16 * GI, "processors": 0.5},
                                            total={"memory": 32 * GI, "processors": 1.0}))
    assert (r.memory, r.cpu) == (8 * GI, 1.0)
    assert r.counts == {"hot": 4}  # 32Gi in 8Gi nodes
    assert r.limited == ("memory per node held at its max 8Gi (16Gi asked)",)


def test_a_resource_no_decider_asks_for_is_set_to_its_min():
    hot = parse_autoscaler(autoscaler(policy(count=(2, 4), memory=("2Gi", "8Gi")))).policies[0]
    r = recommend(hot, hot_sets(count=3), required(total={"storage": GI}, node={"storage": GI}))
    assert r.memory == 2 * GI and r.counts == {"hot": 2}


def test_an_undetermined_requirement_changes_nothing():
    hot = parse_autoscaler(autoscaler(policy())).policies[0]
    assert recommend(hot, hot_sets(), {"current_capacity": {}}) is None
    assert recommend(hot, [], required(total={"storage": GI})) is None


def test_the_count_is_spread_over_the_policys_node_sets():
    assert spread(5, ("a", "b")) == {"a": 3, "b": 2}
    assert spread(1, ("a", "b", "c")) == {"a": 1, "b": 0, "c": 0}


def test_the_node_sets_get_counts_requests_limits_and_sizes():
    hot = parse_autoscaler(autoscaler(policy(memory=("2Gi", "8Gi"), cpu=("500m", "4"),
                                             storage=("10Gi", "1Ti")))).policies[0]
    sets = [*hot_sets(), {"name": "masters", "count": 3, "roles": ["master"]}]
    per_node = {"memory": 3 * GI + 1, "processors": 1.25, "storage": 150 * GI}
    r = recommend(hot, sets[:1], required(node=per_node, total={"memory": 9 * GI, "storage": 300 * GI}))
    scaled = scaled_node_sets(sets, [r], {hot.name: hot})
    assert scaled[1] == sets[1]
    assert scaled[0]["count"] == 3  # 9Gi of memory in 3Gi-and-a-byte nodes
    memory = f"{3 * 1024 + 1}Mi"  # whole Mi, rounded up
    assert scaled[0]["resources"] == {"requests": {"memory": memory, "cpu": "1250m"},
                                      "limits": {"memory": memory}}
    assert scaled[0]["storage"] == {"size": "150Gi"}


# -- the reconcile -----------------------------------------------------------------------------


MASTERS = {"name": "masters", "count": 3, "roles": ["master"]}


def setup(*node_sets, capacity=None):
    if not any("master" in (ns.get("roles") or ["master"]) for ns in node_sets):
        node_sets = (*node_sets, MASTERS)  # a cluster needs master-eligible nodes
    cluster = make_cluster(*node_sets)
    kube = MemoryKube(cluster)
    api = FakeCluster(*(node(f"demo-hot-{i}") for i in range(2)))
    api.capacity = capacity or {}
    return kube, api


def test_policies_are_put_into_the_cluster_and_only_its_own_stale_ones_deleted():
    kube, api = setup(*hot_sets())
    api.policies["by-hand"] = {"roles": [], "deciders": {"fixed": {}}}
    api.policies["gone"] = {"roles": ["master"], "deciders": {"fixed": {}}}
    resource = autoscaler(policy(storage=("10Gi", "1Ti")))
    resource["status"] = {"managedPolicies": ["gone", "hot"]}
    outcome = reconcile_autoscaler(resource, kube, api.connect)
    assert api.policies == {"by-hand": {"roles": [], "deciders": {"fixed": {}}},
                            "hot": {"roles": HOT, "deciders": {}}}
    assert outcome.status["managedPolicies"] == ["hot"]
    assert outcome.status["phase"] == "Ready"
    assert "required capacity undetermined for ['hot']" in outcome.status["message"]


def test_a_cluster_takes_one_autoscaler_the_oldest():
    kube, api = setup(*hot_sets())
    older = autoscaler(policy())
    older["metadata"].update(name="first", creationTimestamp="2026-01-01T00:00:00Z")
    newer = autoscaler(policy())
    newer["metadata"].update(name="second", creationTimestamp="2026-02-01T00:00:00Z")
    kube.objects[("StrataAutoscaler", "prod", "first")] = older
    kube.objects[("StrataAutoscaler", "prod", "second")] = newer
    outcome = reconcile_autoscaler(newer, kube, api.connect)
    assert outcome.status["phase"] == "Error"
    assert "is scaled by StrataAutoscaler [first]" in outcome.status["message"]
    assert api.policies == {}
    assert reconcile_autoscaler(older, kube, api.connect).status["phase"] == "Ready"


def test_a_scaling_that_would_make_the_cluster_invalid_is_not_made():
    kube, api = setup({"name": "masters", "count": 1, "roles": ["master"]},
                      capacity={"m": required(node={"memory": GI}, total={"memory": 0})})
    resource = autoscaler(policy("m", roles=["master"], count=(0, 3), memory=("1Gi", "2Gi")))
    outcome = reconcile_autoscaler(resource, kube, api.connect)
    assert outcome.status["phase"] == "Error"
    assert "would make it invalid" in outcome.status["message"]
    assert kube.patched == []


def test_the_patch_carries_the_version_it_was_computed_from():
    kube, api = setup(*hot_sets(), capacity={
        "hot": required(node={"storage": 100 * GI}, total={"storage": 350 * GI})})
    kube.objects[("StrataCluster", "prod", "demo")]["metadata"]["resourceVersion"] = "42"
    reconcile_autoscaler(autoscaler(policy(storage=("10Gi", "1Ti"))), kube, api.connect)
    ((_, _, patch),) = kube.patched
    assert patch["metadata"] == {"resourceVersion": "42"}


def test_the_cluster_node_sets_follow_the_required_capacity():
    kube, api = setup(*hot_sets(), capacity={
        "hot": required(node={"storage": 100 * GI}, total={"storage": 350 * GI})})
    outcome = reconcile_autoscaler(autoscaler(policy(storage=("10Gi", "1Ti"))), kube, api.connect)
    cluster = kube.objects[("StrataCluster", "prod", "demo")]
    assert cluster["spec"]["nodeSets"][0]["count"] == 4
    assert ("Normal", "Scaled", "StrataCluster [demo] node sets set to hot: 4 nodes") in outcome.events
    (status,) = outcome.status["policies"]
    assert status["nodeSets"] == [{"name": "hot", "count": 4}]
    # Polled again with the same answer: nothing more to patch.
    kube.patched.clear()
    reconcile_autoscaler(autoscaler(policy(storage=("10Gi", "1Ti"))), kube, api.connect)
    assert kube.patched == []


def test_a_policy_without_a_node_set_is_an_error():
    kube, api = setup({"name": "masters", "count": 3, "roles": ["master"]})
    outcome = reconcile_autoscaler(autoscaler(policy()), kube, api.connect)
    assert outcome.status["phase"] == "Error"
    assert "match no node set" in outcome.status["message"]
    assert api.policies == {}


def test_a_cluster_that_does_not_answer_leaves_the_node_sets_alone():
    kube, api = setup(*hot_sets())
    api.down = True
    outcome = reconcile_autoscaler(autoscaler(policy()), kube, api.connect)
    assert outcome.status["phase"] == "Pending"
    assert kube.patched == []


def test_a_limit_reached_is_a_warning_once():
    capacity = {"hot": required(node={"storage": 100 * GI}, total={"storage": 900 * GI})}
    kube, api = setup(*hot_sets(), capacity=capacity)
    resource = autoscaler(policy(count=(1, 3), storage=("10Gi", "100Gi")))
    first = reconcile_autoscaler(resource, kube, api.connect)
    assert [e for e in first.events if e[1] == "ScalingLimitReached"]
    resource["status"] = first.status
    again = reconcile_autoscaler(resource, kube, api.connect)
    assert not [e for e in again.events if e[1] == "ScalingLimitReached"]


def test_a_resource_the_policy_does_not_size_counts_nodes_as_they_are():
    hot = parse_autoscaler(autoscaler(policy(count=(1, 9)))).policies[0]
    answer = {**required(node={"storage": 20 * GI}, total={"storage": 450 * GI}),
              "current_capacity": {"node": {"storage": 100 * GI}, "total": {"storage": 200 * GI}}}
    r = recommend(hot, hot_sets(), answer)
    assert r.counts == {"hot": 5} and r.storage is None
    assert scaled_node_sets(hot_sets(), [r], {hot.name: hot})[0] == {**hot_sets()[0], "count": 5}


def test_an_empty_tier_grows_by_the_storage_it_lacks_not_by_its_smallest_node():
    warm = parse_autoscaler(autoscaler(policy("warm", roles=["data_warm"], count=(0, 6)))).policies[0]
    empty = [{"name": "warm", "count": 0, "roles": ["data_warm"], "storage": {"size": "100Gi"}}]
    answer = {**required(node={"storage": 10 << 20}, total={"storage": 5 * GI}),
              "current_capacity": {"node": {"storage": 0}, "total": {"storage": 0}}}
    assert recommend(warm, empty, answer).counts == {"warm": 1}


def test_disks_larger_than_the_volumes_do_not_shrink_or_grow_the_tier():
    hot = parse_autoscaler(autoscaler(policy(count=(1, 20), storage=("100Gi", "1Ti")))).policies[0]
    host_disk = 500 * 10**9  # what each node reports: a hostPath on the host's disk
    answer = {**required(node={"storage": 10 << 20}, total={"storage": 3 * host_disk}),
              "current_capacity": {"node": {"storage": host_disk}, "total": {"storage": 3 * host_disk}}}
    assert recommend(hot, hot_sets(count=3), answer).counts == {"hot": 3}


def test_sizing_one_resource_keeps_the_defaults_of_the_others():
    hot = parse_autoscaler(autoscaler(policy(memory=("2Gi", "8Gi")))).policies[0]
    r = recommend(hot, hot_sets(), required(node={"memory": 4 * GI}, total={"memory": 8 * GI}))
    resources = scaled_node_sets(hot_sets(), [r], {hot.name: hot})[0]["resources"]
    assert resources == {"requests": {"memory": "4096Mi", "cpu": "500m"}, "limits": {"memory": "4096Mi"}}


def test_a_size_already_written_another_way_is_kept_and_a_max_never_passed():
    hot = parse_autoscaler(autoscaler(policy(memory=("2Gi", "100G"), storage=("10Gi", "1Ti")))).policies[0]
    sets = [{**hot_sets()[0], "resources": {"requests": {"memory": "4Gi"}, "limits": {"memory": "4Gi"}},
             "storage": {"size": "1Ti"}}]
    r = recommend(hot, sets, required(node={"memory": 4 * GI, "storage": GI}, total={"memory": 8 * GI}))
    scaled = scaled_node_sets(sets, [r], {hot.name: hot})[0]
    assert scaled["resources"]["requests"]["memory"] == "4Gi" and scaled["storage"]["size"] == "1Ti"
    r = recommend(hot, sets, required(node={"memory": 200 * GI}, total={"memory": 200 * GI}))
    assert scaled_node_sets(sets, [r], {hot.name: hot})[0]["resources"]["limits"]["memory"] == "95367Mi"


def test_a_volume_larger_than_the_policys_max_is_held_at_its_size_and_said_so():
    hot = parse_autoscaler(autoscaler(policy(storage=("10Gi", "100Gi")))).policies[0]
    sets = hot_sets(size="200Gi")
    r = recommend(hot, sets, required(node={"storage": 50 * GI}, total={"storage": 100 * GI}))
    assert scaled_node_sets(sets, [r], {hot.name: hot})[0]["storage"] == {"size": "200Gi"}
    assert r.limited == (
        "storage per node held at the node sets' current size 200Gi, above its max 100Gi: "
        "a volume never shrinks",
    )


def test_a_volume_larger_than_the_policys_max_is_not_patched_again_on_every_poll():
    kube, api = setup(*hot_sets(size="200Gi"), capacity={
        "hot": required(node={"storage": 50 * GI}, total={"storage": 400 * GI})})
    outcome = reconcile_autoscaler(autoscaler(policy(storage=("10Gi", "100Gi"))), kube, api.connect)
    assert kube.patched == []
    assert ("Normal", "Scaled") not in [e[:2] for e in outcome.events]


def test_a_zero_size_is_refused():
    with pytest.raises(InvalidSpec, match=r"memory\.min must be more than zero"):
        parse_autoscaler(autoscaler(policy(memory=("0", "2Gi"))))


def test_the_status_shows_the_resources_as_written_into_the_node_sets():
    kube, api = setup(*hot_sets(), capacity={
        "hot": required(node={"memory": 3 * GI, "storage": 100 * GI}, total={"memory": 9 * GI})})
    outcome = reconcile_autoscaler(autoscaler(policy(memory=("2Gi", "8Gi"), storage=("10Gi", "1Ti"))),
                                   kube, api.connect)
    (status,) = outcome.status["policies"]
    assert status["resources"] == {"memory": "3072Mi", "storage": "100Gi"}
    node_set = kube.objects[("StrataCluster", "prod", "demo")]["spec"]["nodeSets"][0]
    assert node_set["resources"]["requests"]["memory"] == "3072Mi"


def test_a_volume_above_the_max_asked_to_grow_further_says_only_that_it_is_held_at_its_size():
    hot = parse_autoscaler(autoscaler(policy(storage=("10Gi", "100Gi")))).policies[0]
    sets = hot_sets(size="200Gi")
    r = recommend(hot, sets, required(node={"storage": 300 * GI}, total={"storage": 600 * GI}))
    assert scaled_node_sets(sets, [r], {hot.name: hot})[0]["storage"] == {"size": "200Gi"}
    assert r.limited == (
        "storage per node held at the node sets' current size 200Gi, above its max 100Gi: "
        "a volume never shrinks",
    )
