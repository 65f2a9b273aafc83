"""Data tiers: the `_tier_preference` index setting (its check and its default), and the
data tier decider in the reroute and the explanation, on pure contents. Messages are
Elasticsearch's."""

import msgspec
import pytest

from strata_node.action import index_admin
from strata_node.allocation import allocator, explain
from strata_node.allocation.data_tier import preferred_tier, present_tiers
from strata_node.allocation.deciders import NO, YES, Allocation, can_remain, decide, node_info
from strata_node.cluster.state import ClusterStateContent
from strata_node.common.errors import IllegalArgument
from strata_node.settings import SettingsError, tier_list, validate_index_settings

from .test_allocation_deciders import NOW, cluster, copies, create, node, start_all

TIER = "index.routing.allocation.include._tier_preference"


def hot(node_id: str):
    return node(node_id, roles=("master", "data_hot", "data_content"))


def warm(node_id: str):
    return node(node_id, roles=("data_warm",))


def prefer(content, name, nodes, tiers: str, replicas: int = 0):
    return create(content, name, nodes, replicas=replicas, **{TIER.replace(".", "__"): tiers})


def nodes_of(content, name):
    return sorted(c.node for c in content.routing_table.indices[name] if c.node)


# -- the setting ------------------------------------------------------------------------------


def test_a_new_index_prefers_the_content_tier():
    metadata = index_admin.build_index_metadata("i", {})
    assert metadata.settings[TIER] == "data_content"


def test_an_empty_preference_is_replaced_by_the_content_tier_and_a_given_one_kept():
    assert index_admin.build_index_metadata("i", {"settings": {TIER: ""}}).settings[TIER] == "data_content"
    kept = index_admin.build_index_metadata("i", {"settings": {TIER: "data_warm,data_hot"}})
    assert kept.settings[TIER] == "data_warm,data_hot"
    filtered = index_admin.build_index_metadata(
        "i", {"settings": {"index.routing.allocation.require.zone": "a"}}
    )
    assert filtered.settings[TIER] == "data_content"


@pytest.mark.parametrize("value", ["data_foo", "data_hot,data_foo", "data_hot, data_warm", "data"])
def test_a_preference_names_only_tiers(value):
    with pytest.raises(SettingsError) as e:
        validate_index_settings({TIER: value})
    assert str(e.value) == (
        f"invalid tier names found in [{value}] allowed values are "
        "[data_hot, data_content, data_warm, data_cold, data_frozen]"
    )


def test_trailing_commas_are_dropped_as_java_splits():
    assert validate_index_settings({TIER: "data_warm,data_hot,,"})[TIER] == "data_warm,data_hot,,"
    assert tier_list("data_warm,data_hot,,") == ("data_warm", "data_hot")
    with pytest.raises(SettingsError, match="invalid tier names found in"):
        validate_index_settings({TIER: "data_warm,,data_hot"})


def test_the_frozen_tier_is_for_partial_searchable_snapshots_only():
    with pytest.raises(
        SettingsError,
        match=r"^\[data_frozen\] tier can only be used for partial searchable "
        r"snapshots$",
    ):
        validate_index_settings({TIER: "data_cold,data_frozen"})


def test_an_update_may_change_the_preference_and_is_checked_the_same_way():
    nodes = cluster(hot("h"))
    content = create(ClusterStateContent(), "i", nodes, replicas=0)
    updated = index_admin.update_settings(content, ["i"], {TIER: "data_warm,data_hot"})
    assert updated.metadata.indices["i"].settings[TIER] == "data_warm,data_hot"
    with pytest.raises((SettingsError, IllegalArgument), match="invalid tier names found in"):
        index_admin.update_settings(content, ["i"], {TIER: "data_foo"})


# -- which tier -------------------------------------------------------------------------------


def test_the_first_tier_of_the_preference_with_a_node_in_the_cluster_applies():
    present = present_tiers([hot("h"), warm("w")])
    assert present == {"data_hot", "data_content", "data_warm"}
    assert preferred_tier(("data_cold", "data_warm", "data_hot"), present) == "data_warm"
    assert preferred_tier(("data_cold",), present) is None
    assert present_tiers([node("d")]) == {"data_content", "data_hot", "data_warm", "data_cold", "data_frozen"}


def test_copies_go_to_the_preferred_tier_only():
    nodes = cluster(hot("h1"), hot("h2"), warm("w1"), warm("w2"))
    content = start_all(prefer(ClusterStateContent(), "logs", nodes, "data_warm,data_hot", replicas=1), nodes)
    assert nodes_of(content, "logs") == ["w1", "w2"]
    content = start_all(create(content, "catalog", nodes, replicas=1), nodes)
    assert nodes_of(content, "catalog") == ["h1", "h2"]


def test_the_explanation_names_the_preference_and_the_tier():
    nodes = cluster(hot("h"), warm("w"))
    content = prefer(ClusterStateContent(), "logs", nodes, "data_warm,data_hot")
    alloc = Allocation(content, nodes, debug=True, include_yes=True)
    primary = copies(content, "logs")[0]
    by_node = {}
    for target in ("h", "w"):
        _, decisions = decide(primary, node_info(nodes[target]), copies(content, "logs"), alloc)
        by_node[target] = next(d for d in decisions if d.decider == "data_tier")
    assert by_node["h"] == (
        NO,
        "data_tier",
        "index has a preference for tiers [data_warm,data_hot] and node "
        "does not meet the required [data_warm] tier",
    )
    assert by_node["w"] == (
        YES,
        "data_tier",
        "index has a preference for tiers [data_warm,data_hot] and node has tier [data_warm]",
    )


def test_a_generic_data_node_is_of_every_tier():
    nodes = cluster(node("d"), warm("w"))
    content = prefer(ClusterStateContent(), "logs", nodes, "data_cold,data_warm")
    alloc = Allocation(content, nodes, debug=True, include_yes=True)
    _, decisions = decide(copies(content, "logs")[0], node_info(nodes["d"]), copies(content, "logs"), alloc)
    assert next(d for d in decisions if d.decider == "data_tier") == (
        YES,
        "data_tier",
        "index has a preference for tiers [data_cold,data_warm] and node has tier [data]",
    )
    # The data node makes the cold tier present: the warm node is not of it.
    _, decisions = decide(copies(content, "logs")[0], node_info(nodes["w"]), copies(content, "logs"), alloc)
    assert next(d for d in decisions if d.decider == "data_tier").type == NO


def test_without_a_node_of_any_preferred_tier_the_index_waits():
    nodes = cluster(hot("h"))
    content = prefer(ClusterStateContent(), "logs", nodes, "data_cold,data_warm")
    assert copies(content, "logs")[0].state == "UNASSIGNED"
    body = explain.explain(content, nodes, copies(content, "logs")[0], now_ms=NOW)
    deciders = body["node_allocation_decisions"][0]["deciders"]
    assert {
        "decider": "data_tier",
        "decision": "NO",
        "explanation": "index has a preference for tiers [data_cold,data_warm], but no nodes for any of "
        "those tiers are available in the cluster",
    } in deciders
    # A warm node joins: the index goes there.
    nodes = cluster(hot("h"), warm("w"))
    assert nodes_of(allocator.reroute(content, nodes, now_ms=NOW), "logs") == ["w"]


def test_copies_move_to_a_preferred_tier_that_appears():
    nodes = cluster(hot("h"))
    content = start_all(prefer(ClusterStateContent(), "logs", nodes, "data_warm,data_hot"), nodes)
    assert nodes_of(content, "logs") == ["h"]
    joined = cluster(hot("h"), warm("w"))
    started = copies(content, "logs")[0]
    alloc = Allocation(content, joined, debug=True)
    kind, decisions = can_remain(started, node_info(joined["h"]), copies(content, "logs"), alloc)
    assert kind == NO and decisions[-1].decider == "data_tier"
    moved = start_all(allocator.reroute(content, joined, now_ms=NOW), joined)
    assert nodes_of(moved, "logs") == ["w"]


def test_a_node_being_removed_does_not_make_its_tier_present():
    nodes = cluster(hot("h"), warm("w"))
    marker = {"w": {"node_id": "w", "type": "remove", "reason": "scale down"}}
    empty = ClusterStateContent()
    leaving = msgspec.structs.replace(
        empty, metadata=msgspec.structs.replace(empty.metadata, customs={"node_shutdown": marker})
    )
    assert nodes_of(prefer(leaving, "logs", nodes, "data_warm,data_hot"), "logs") == ["h"]
