"""The allocation explain API's answer for assigned copies, shaped as ES renders
ClusterAllocationExplanation and MoveDecision."""

from strata_node.allocation import commands, explain
from strata_node.cluster.state import ClusterStateContent

from .test_allocation_deciders import NOW, cluster, copies, create, node, start_all, with_settings


def three():
    return cluster(node("a"), node("b"), node("c"))


def excluded_primary(**settings: str):
    """logs[0] started on two of three nodes, its primary's node then excluded."""
    nodes = three()
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    primary = next(c for c in copies(content, "logs") if c.primary)
    content = with_settings(content, cluster__routing__allocation__exclude___id=primary.node, **settings)
    return content, primary


def test_a_relocating_copy_is_explained_as_relocating_from_its_node_to_its_target():
    nodes = three()
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    replica = next(c for c in copies(content, "logs") if not c.primary)
    free = next(n for n in nodes if n not in {c.node for c in copies(content, "logs")})
    move = commands.Command("move", "logs", 0, from_node=replica.node, to_node=free)
    content = commands.execute(content, nodes, [move], now_ms=NOW).content
    source = next(c for c in copies(content, "logs") if c.state == "RELOCATING")
    body = explain.explain(content, nodes, source)
    assert body["current_state"] == "relocating"
    assert body["explanation"] == (f"the shard is in the process of relocating from node "
                                   f"[name-{replica.node}] to node [name-{free}], wait until relocation "
                                   "has completed")


def test_the_rebalance_deciders_are_shown_only_when_they_do_not_say_yes():
    nodes = three()
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    primary = next(c for c in copies(content, "logs") if c.primary)
    body = explain.explain(content, nodes, primary, include_yes=True)
    assert body["can_rebalance_cluster"] == "yes"
    assert "can_rebalance_cluster_decisions" not in body


def test_a_copy_that_must_move_but_is_throttled_cannot_move_now_and_has_no_target():
    content, primary = excluded_primary(cluster__routing__allocation__node_concurrent_incoming_recoveries="0")
    body = explain.explain(content, three(), primary)
    assert (body["can_move_to_other_node"], body["move_explanation"]) == (
        "no", "shard cannot remain on this node but is throttled on moving to another node")
    assert "target_node" not in body


def test_a_copy_that_must_move_and_can_names_its_target_first():
    content, primary = excluded_primary()
    body = explain.explain(content, three(), primary)
    assert body["can_move_to_other_node"] == "yes"
    keys = list(body)
    assert keys.index("target_node") == keys.index("can_remain_on_current_node") - 1
