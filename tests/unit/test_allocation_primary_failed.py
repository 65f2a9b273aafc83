"""A primary that leaves, restarts or fails takes the replicas recovering from it down with
it (UNASSIGNED, PRIMARY_FAILED), whether or not a started replica can take over: ES's
failShard on a primary fails its initializing replicas first."""

from strata_node.allocation import allocator, commands
from strata_node.cluster.state import ClusterStateContent

from .test_allocation_deciders import NOW, cluster, copies, create, node


def replica_recovering(a, b):
    """logs[0]: the primary started on one node, its replica recovering from it on the other."""
    content = create(ClusterStateContent(), "logs", cluster(a, b))
    primary = copies(content, "logs")[0]
    content = allocator.shard_started(content, "logs", 0, primary.allocation_id)
    return allocator.reroute(content, cluster(a, b), now_ms=NOW)


def replica(content):
    return next(c for c in copies(content, "logs") if not c.primary)


def test_a_replica_recovering_from_a_primary_whose_node_restarted_fails_with_it():
    a, b = node("a"), node("b")
    content = replica_recovering(a, b)
    primary_node = next(c for c in copies(content, "logs") if c.primary).node
    restarted = cluster(a, b) | {primary_node: node(primary_node, ephemeral="e2")}
    after = replica(allocator.reroute(content, restarted, now_ms=NOW))
    assert (after.state, after.unassigned_reason) == ("UNASSIGNED", "PRIMARY_FAILED")


def test_a_late_started_report_of_a_replica_whose_primary_restarted_is_not_taken_in_sync():
    a, b = node("a"), node("b")
    content = replica_recovering(a, b)
    recovering = replica(content)
    primary_node = next(c for c in copies(content, "logs") if c.primary).node
    restarted = cluster(a, b) | {primary_node: node(primary_node, ephemeral="e2")}
    content = allocator.reroute(content, restarted, now_ms=NOW)
    content = allocator.shard_started(content, "logs", 0, recovering.allocation_id)
    assert recovering.allocation_id not in content.metadata.indices["logs"].in_sync(0)
    assert replica(content).state == "UNASSIGNED"


def test_a_stale_primary_forced_where_a_replica_was_recovering_has_that_node_to_itself():
    a, b = node("a"), node("b")
    content = replica_recovering(a, b)
    survivor = replica(content).node
    content = allocator.reroute(content, cluster(node(survivor)), now_ms=NOW)  # the primary's node leaves
    stale = commands.Command("allocate_stale_primary", "logs", 0, survivor, accept_data_loss=True)
    result = commands.execute(content, cluster(node(survivor)), [stale], now_ms=NOW)
    assert [(c.primary, c.node) for c in copies(result.content, "logs") if c.node is not None] == [
        (True, survivor)]


def test_a_failed_primary_fails_the_replica_recovering_from_it():
    a, b = node("a"), node("b")
    content = replica_recovering(a, b)
    primary = next(c for c in copies(content, "logs") if c.primary)
    content = allocator.shard_failed(content, "logs", 0, primary.allocation_id, "disk broke", now_ms=NOW)
    after = replica(allocator.reroute(content, cluster(a, b), now_ms=NOW))
    assert (after.state, after.unassigned_reason, after.unassigned_details) == (
        "UNASSIGNED", "PRIMARY_FAILED", "primary failed while replica initializing")
