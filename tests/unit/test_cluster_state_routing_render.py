"""Routing entries of `GET _cluster/state` as ShardRouting.toXContent writes them."""

from strata_node.action.cluster_state_action import render_shard
from strata_node.allocation import allocator
from strata_node.cluster.state import ShardRouting

from .test_balancer import NOW, all_copies, three_with_replicas


def test_a_relocation_names_its_other_node_on_both_copies():
    source = ShardRouting("logs", 0, True, "RELOCATING", "a", allocation_id="x", relocating_node="b")
    target = ShardRouting("logs", 0, False, "INITIALIZING", "b", allocation_id="y", relocating_node="a")
    assert render_shard(source)["relocating_node"] == "b"
    assert render_shard(target)["relocating_node"] == "a"


def test_an_unassigned_copy_says_when_and_why_it_became_unassigned():
    copy = ShardRouting("logs", 0, False, unassigned_reason="NODE_LEFT", unassigned_details="node_left [a]",
                        failed_attempts=2, unassigned_at=1704067200123)
    info = render_shard(copy)["unassigned_info"]
    assert info == {"reason": "NODE_LEFT", "at": "2024-01-01T00:00:00.123Z", "failed_attempts": 2,
                    "delayed": False, "details": "node_left [a]", "allocation_status": "no_attempt"}


def test_an_unassigned_primary_shows_what_its_last_allocation_attempt_found():
    copy = ShardRouting("logs", 0, True, allocation_status="deciders_throttled")
    assert render_shard(copy)["unassigned_info"]["allocation_status"] == "deciders_throttled"


def test_a_copy_whose_node_left_names_that_node_as_last_node():
    """UnassignedInfo.toXContent prints `last_node` between `delayed` and `details`."""
    copy = ShardRouting("logs", 0, False, unassigned_reason="NODE_LEFT", unassigned_details="node_left [a]",
                        last_node="a", unassigned_at=1704067200123, delayed=True)
    assert list(render_shard(copy)["unassigned_info"].items()) == [
        ("reason", "NODE_LEFT"), ("at", "2024-01-01T00:00:00.123Z"), ("delayed", True), ("last_node", "a"),
        ("details", "node_left [a]"), ("allocation_status", "no_attempt")]


def test_the_reroute_after_a_node_left_leaves_its_copies_naming_it():
    content, nodes = three_with_replicas()
    gone = "b"
    content = allocator.reroute(content, {n: d for n, d in nodes.items() if n != gone}, now_ms=NOW)
    left = [render_shard(c)["unassigned_info"] for c in all_copies(content) if c.state == "UNASSIGNED"]
    assert left and all(info["reason"] == "NODE_LEFT" and info["last_node"] == gone for info in left)


def test_a_cancelled_copy_has_no_last_node_as_elasticsearch_records_none():
    copy = ShardRouting("logs", 0, False, unassigned_reason="REROUTE_CANCELLED", last_node="a")
    assert "last_node" not in render_shard(copy)["unassigned_info"]
