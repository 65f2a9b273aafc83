"""The allocation explain API's answer for assigned copies, shaped as ES renders
ClusterAllocationExplanation and MoveDecision."""

from strata_node.allocation import allocator, commands, explain
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
        "no", "This shard may not remain on its current node. Elasticsearch is currently busy with other "
              "activities and will move this shard to another node when those activities finish. Please "
              "wait.")
    assert "target_node" not in body


def test_a_copy_that_must_move_and_can_names_its_target_first():
    content, primary = excluded_primary()
    body = explain.explain(content, three(), primary)
    assert body["can_move_to_other_node"] == "yes"
    assert body["move_explanation"] == ("This shard may not remain on its current node. Elasticsearch will "
                                        "move it to another node.")
    keys = list(body)
    assert keys.index("target_node") == keys.index("can_remain_on_current_node") - 1


def test_a_copy_that_must_move_where_no_node_takes_it_says_what_to_do_as_elasticsearch():
    content, primary = excluded_primary()
    content = with_settings(content, cluster__routing__allocation__exclude___id="a,b,c")
    body = explain.explain(content, three(), primary)
    assert (body["can_remain_on_current_node"], body["can_move_to_other_node"]) == ("no", "no")
    assert body["move_explanation"] == (
        "This shard may not remain on its current node, but Elasticsearch isn't allowed to move it to "
        "another node. Choose a node to which you expect this shard to be allocated, find this node in the "
        "node-by-node explanation, and address the reasons which prevent Elasticsearch from allocating this "
        "shard there.")


def test_an_in_sync_primary_its_only_holder_refuses_names_the_holders_as_elasticsearch():
    a = cluster(node("a"))
    content = start_all(create(ClusterStateContent(), "logs", a, replicas=0), a)
    for _ in range(5):  # max_retry refuses it even on the node holding its data
        primary = copies(content, "logs")[0]
        content = allocator.shard_failed(content, "logs", 0, primary.allocation_id, "corrupted", now_ms=NOW)
        content = allocator.reroute(content, a, now_ms=NOW)
    body = explain.explain(content, a, copies(content, "logs")[0])
    assert body["can_allocate"] == "no"
    assert body["allocate_explanation"] == (
        "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the cluster that hold an "
        "in-sync copy of its data. Choose a node to which you expect this shard to be allocated, find this "
        "node in the node-by-node explanation, and address the reasons which prevent Elasticsearch from "
        "allocating this shard there.")
