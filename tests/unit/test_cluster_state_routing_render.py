"""Routing entries of `GET _cluster/state` as ShardRouting.toXContent writes them."""

from strata_node.action.cluster_state_action import render_shard
from strata_node.cluster.state import ShardRouting


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
