"""A relocation called off, by a `cancel` command on its target or by the target failing:
the target copy goes and the source serves on, so the shard keeps number_of_replicas + 1
copies (ES's failShard on a relocation target)."""

from strata_node.allocation import allocator, commands
from strata_node.cluster.state import ClusterStateContent

from .test_allocation_deciders import NOW, cluster, copies, create, node, start_all


def moving_replica(nodes):
    """A started replica of logs[0] relocating to the node that holds no copy: (content,
    source node, target node)."""
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    replica = next(c for c in copies(content, "logs") if not c.primary)
    free = next(n for n in nodes if n not in {c.node for c in copies(content, "logs")})
    move = commands.Command("move", "logs", 0, from_node=replica.node, to_node=free)
    return commands.execute(content, nodes, [move], now_ms=NOW).content, replica.node, free


def test_cancelling_a_relocation_target_drops_it_and_the_source_serves_on():
    nodes = cluster(node("a"), node("b"), node("c"))
    content, source, target = moving_replica(nodes)
    cancel = commands.Command("cancel", "logs", 0, target)
    cancelled = commands.execute(content, nodes, [cancel], now_ms=NOW).content
    shard = copies(cancelled, "logs")
    assert len(shard) == 2
    replica = next(c for c in shard if not c.primary)
    assert (replica.node, replica.state, replica.relocating_node) == (source, "STARTED", None)


def test_a_cancelled_relocation_leaves_no_extra_copy_to_allocate():
    nodes = cluster(node("a"), node("b"), node("c"))
    content, _, target = moving_replica(nodes)
    cancelled = commands.execute(content, nodes, [commands.Command("cancel", "logs", 0, target)], now_ms=NOW)
    settled = start_all(cancelled.content, nodes)
    assert [c.state for c in copies(settled, "logs")] == ["STARTED", "STARTED"]


def test_a_failed_relocation_target_leaves_another_shards_move_between_the_same_nodes():
    a, c = node("a"), node("c")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a), shards=2, replicas=0), cluster(a))
    moves = [commands.Command("move", "logs", shard, from_node="a", to_node="c") for shard in (0, 1)]
    content = commands.execute(content, cluster(a, c), moves, now_ms=NOW).content
    target = next(x for x in copies(content, "logs", 0) if x.node == "c")
    failed = allocator.shard_failed(content, "logs", 0, target.allocation_id, "recovery failed", now_ms=NOW)
    assert [(x.state, x.node) for x in copies(failed, "logs", 0)] == [("STARTED", "a")]
    assert sorted((x.state, x.node) for x in copies(failed, "logs", 1)) == [("INITIALIZING", "c"),
                                                                             ("RELOCATING", "a")]
