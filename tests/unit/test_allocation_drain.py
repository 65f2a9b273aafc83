"""Draining: a started copy that may not remain where it is moves away, and the deciders
judge the started copy itself (ES's moveShards passes the ShardRouting as it is): a moving
primary is a primary, and awareness counts it out of its own zone as it counts it in."""

import msgspec

from strata_node.allocation import allocator, deciders, explain
from strata_node.cluster.state import ClusterStateContent

from .test_allocation_deciders import NOW, cluster, copies, create, node, start_all, with_settings


def primary_of(content):
    return next(c for c in copies(content, "logs") if c.primary)


def removing(content, node_id: str):
    marker = {node_id: {"type": "remove", "reason": "scale down"}}
    metadata = msgspec.structs.replace(content.metadata, customs={deciders.SHUTDOWN_CUSTOM: marker})
    return msgspec.structs.replace(content, metadata=metadata)


def two_zones():
    return cluster(node("a", "z1"), node("c", "z1"), node("b", "z2"), node("d", "z2"))


def test_an_excluded_node_drains_to_another_node_of_its_awareness_zone():
    nodes = two_zones()
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__awareness__attributes="zone")
    content = start_all(create(content, "logs", nodes), nodes)
    leaving = primary_of(content).node
    same_zone = {"a": "c", "c": "a", "b": "d", "d": "b"}[leaving]
    content = with_settings(content, cluster__routing__allocation__exclude___id=leaving)
    moved = allocator.reroute(content, nodes, now_ms=NOW)
    assert (primary_of(moved).state, primary_of(moved).relocating_node) == ("RELOCATING", same_zone)


def test_the_drain_moves_a_copy_where_explain_says_it_can_move():
    nodes = two_zones()
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__awareness__attributes="zone")
    content = start_all(create(content, "logs", nodes), nodes)
    content = with_settings(content, cluster__routing__allocation__exclude___id=primary_of(content).node)
    body = explain.explain(content, nodes, primary_of(content))
    moved = allocator.reroute(content, nodes, now_ms=NOW)
    assert body["can_move_to_other_node"] == "yes"
    assert primary_of(moved).relocating_node == body["target_node"]["id"]


def test_a_primary_drains_off_a_node_being_removed_while_only_primaries_may_be_allocated():
    nodes = cluster(node("a"), node("b"), node("c"))
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    leaving = primary_of(content).node
    content = removing(with_settings(content, cluster__routing__allocation__enable="primaries"), leaving)
    moved = allocator.reroute(content, nodes, now_ms=NOW)
    assert primary_of(moved).state == "RELOCATING"


def test_a_draining_primary_recovers_from_a_peer_so_initial_primary_throttling_does_not_hold_it():
    nodes = cluster(node("a"), node("b"), node("c"))
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    leaving = primary_of(content).node
    content = with_settings(content, cluster__routing__allocation__node_initial_primaries_recoveries="0",
                            cluster__routing__allocation__exclude___id=leaving)
    moved = allocator.reroute(content, nodes, now_ms=NOW)
    assert primary_of(moved).state == "RELOCATING"


def test_shutdown_status_judges_a_draining_primary_as_the_reroute_does():
    """`GET _nodes/shutdown` must not call STALLED a primary the reroute is able to move."""
    from strata_node.action.node_shutdown import shard_migration

    nodes = cluster(node("a"), node("b"), node("c"))
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    leaving = primary_of(content).node
    content = removing(with_settings(content, cluster__routing__allocation__enable="primaries"), leaving)
    marker = {"node_id": leaving, "type": "remove"}
    assert shard_migration(content, nodes, marker)["status"] == "IN_PROGRESS"
