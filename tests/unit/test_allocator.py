"""Primary allocation on the master: copies follow their nodes, an in-sync primary goes
back only where its data is, and a restarted node's copies start again with a new term."""

import msgspec

from strata_node.action import index_admin
from strata_node.allocation import allocator
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent, RoutingTable


def node(node_id: str, *roles: str, ephemeral: str = "e1") -> DiscoveryNode:
    return DiscoveryNode(id=node_id, name=node_id, roles=roles or ("master", "data"), ephemeral_id=ephemeral)


def created(name: str, shards: int = 1, nodes=None,
            content: ClusterStateContent | None = None) -> ClusterStateContent:
    metadata = index_admin.build_index_metadata(name, {"settings": {"number_of_shards": shards,
                                                                    "number_of_replicas": 1}})
    content = index_admin.create_index(content or ClusterStateContent(), metadata)
    return allocator.reroute(content, nodes or {})


def primaries(content: ClusterStateContent, name: str):
    return [c for c in content.routing_table.indices[name] if c.primary]


def started(content: ClusterStateContent, name: str) -> ClusterStateContent:
    for copy in primaries(content, name):
        content = allocator.shard_started(content, name, copy.shard, copy.allocation_id)
    return content


def test_the_primaries_of_a_new_index_spread_over_the_data_nodes():
    a, b, c = node("a"), node("b"), node("c")
    content = created("logs", shards=3, nodes={"a": a, "b": b, "c": c})
    assert sorted(c.node for c in primaries(content, "logs")) == ["a", "b", "c"]
    assert all(c.state == "INITIALIZING" for c in primaries(content, "logs"))


def test_a_new_primary_goes_to_the_data_node_with_the_fewest_shards():
    master_only, a, b = node("m", "master"), node("a"), node("b")
    nodes = {"a": a, "b": b, "m": master_only}
    content = allocator.reroute(started(created("first", shards=3, nodes=nodes), "first"), nodes)
    content = allocator.reroute(replicas_started(content, "first"), nodes)
    content = allocator.reroute(replicas_started(content, "first"), nodes)
    loads = {n: sum(1 for c in content.routing_table.indices["first"] if c.node == n) for n in "ab"}
    content = created("second", nodes=nodes, content=content)
    assert [c.node for c in primaries(content, "second")] == [min(loads, key=loads.get)]
    assert all(c.node != "m" for c in content.routing_table.indices["second"])


def test_replicas_wait_for_their_primary_to_start():
    content = created("logs", nodes={"a": node("a")})
    replicas = [c for c in content.routing_table.indices["logs"] if not c.primary]
    assert [(c.state, c.unassigned_reason) for c in replicas] == [("UNASSIGNED", "INDEX_CREATED")]


def test_a_started_primary_is_in_sync():
    a = node("a")
    content = started(created("logs", nodes={"a": a}), "logs")
    [primary] = primaries(content, "logs")
    assert primary.state == "STARTED"
    assert content.metadata.indices["logs"].in_sync(0) == (primary.allocation_id,)


def test_a_primary_whose_node_left_is_unassigned_and_not_started_empty_elsewhere():
    a, b = node("a"), node("b")
    content = started(created("logs", nodes={"a": a, "b": b}), "logs")
    content = allocator.reroute(content, {"b": b})
    [primary] = primaries(content, "logs")
    assert (primary.state, primary.unassigned_reason, primary.last_node) == ("UNASSIGNED", "NODE_LEFT", "a")


def test_a_primary_goes_back_to_its_node_with_its_allocation_id_and_a_new_term():
    a, b = node("a"), node("b")
    content = started(created("logs", nodes={"a": a, "b": b}), "logs")
    [before] = primaries(content, "logs")
    content = allocator.reroute(content, {"b": b})  # a leaves
    content = allocator.reroute(content, {"a": node("a", ephemeral="e2"), "b": b})  # and comes back
    [primary] = primaries(content, "logs")
    assert (primary.node, primary.state, primary.allocation_id) == ("a", "INITIALIZING", before.allocation_id)
    assert content.metadata.indices["logs"].primary_terms == (2,)


def test_a_restarted_node_initializes_its_primaries_again_with_a_new_term():
    a = node("a")
    content = started(created("logs", nodes={"a": a}), "logs")
    content = allocator.reroute(content, {"a": node("a", ephemeral="e2")})
    [primary] = primaries(content, "logs")
    assert (primary.state, primary.node_ephemeral_id) == ("INITIALIZING", "e2")
    assert content.metadata.indices["logs"].primary_terms == (2,)


def test_a_failed_primary_is_retried_until_max_retries_then_stays_unassigned_with_its_reason():
    a = node("a")
    content = created("logs", nodes={"a": a})
    for _ in range(5):
        [primary] = primaries(content, "logs")
        assert primary.state == "INITIALIZING"
        content = allocator.shard_failed(content, "logs", 0, primary.allocation_id, "translog corrupted")
        content = allocator.reroute(content, {"a": a})
    [failed] = primaries(content, "logs")
    assert (failed.state, failed.unassigned_reason, failed.unassigned_details, failed.failed_attempts) == (
        "UNASSIGNED", "ALLOCATION_FAILED", "failed shard on node [a]: translog corrupted", 5)


def test_a_stale_started_report_changes_nothing():
    a = node("a")
    content = created("logs", nodes={"a": a})
    assert allocator.shard_started(content, "logs", 0, "some-other-copy") is content


def test_nothing_to_change_gives_the_same_content():
    a = node("a")
    content = started(created("logs", nodes={"a": a}), "logs")
    assert allocator.reroute(content, {"a": a}) is content


def copies_of(content: ClusterStateContent, name: str, shard: int = 0):
    return [c for c in content.routing_table.indices[name] if c.shard == shard]


def replicas_started(content: ClusterStateContent, name: str) -> ClusterStateContent:
    for copy in content.routing_table.indices[name]:
        if not copy.primary and copy.state == "INITIALIZING":
            content = allocator.shard_started(content, name, copy.shard, copy.allocation_id)
    return content


def test_a_replica_goes_to_another_node_once_its_primary_has_started():
    a, b = node("a"), node("b")
    content = allocator.reroute(started(created("logs", nodes={"a": a, "b": b}), "logs"), {"a": a, "b": b})
    primary, replica = copies_of(content, "logs")
    assert replica.state == "INITIALIZING" and replica.node != primary.node


def test_a_replica_is_never_placed_beside_its_primary():
    a = node("a")
    content = allocator.reroute(started(created("logs", nodes={"a": a}), "logs"), {"a": a})
    replica = copies_of(content, "logs")[1]
    assert replica.state == "UNASSIGNED"


def test_a_started_replica_joins_the_in_sync_set():
    nodes = {"a": node("a"), "b": node("b")}
    content = allocator.reroute(started(created("logs", nodes=nodes), "logs"), nodes)
    content = allocator.reroute(replicas_started(content, "logs"), nodes)
    in_sync = set(content.metadata.indices["logs"].in_sync(0))
    assert in_sync == {c.allocation_id for c in copies_of(content, "logs")}


def test_when_the_primarys_node_leaves_an_in_sync_replica_is_promoted_with_a_new_term():
    nodes = {"a": node("a"), "b": node("b")}
    content = allocator.reroute(started(created("logs", nodes=nodes), "logs"), nodes)
    content = allocator.reroute(replicas_started(content, "logs"), nodes)
    primary, replica = copies_of(content, "logs")
    term = content.metadata.indices["logs"].primary_terms[0]
    survivors = {n: d for n, d in nodes.items() if n != primary.node}
    content = allocator.reroute(content, survivors)
    promoted = next(c for c in copies_of(content, "logs") if c.primary)
    assert (promoted.node, promoted.allocation_id, promoted.state) == (replica.node, replica.allocation_id,
                                                                       "STARTED")
    assert content.metadata.indices["logs"].primary_terms[0] == term + 1
    # the lost copy is out of the in-sync set: the new primary goes on without it
    assert content.metadata.indices["logs"].in_sync(0) == (replica.allocation_id,)


def test_a_replica_that_left_drops_out_of_the_in_sync_set_while_the_primary_is_active():
    nodes = {"a": node("a"), "b": node("b")}
    content = allocator.reroute(started(created("logs", nodes=nodes), "logs"), nodes)
    content = allocator.reroute(replicas_started(content, "logs"), nodes)
    primary = copies_of(content, "logs")[0]
    content = allocator.reroute(content, {primary.node: nodes[primary.node]})
    assert content.metadata.indices["logs"].in_sync(0) == (primary.allocation_id,)


def test_no_node_takes_more_than_two_recovering_replicas_at_once():
    a, b = node("a"), node("b")
    content = started(created("logs", shards=6, nodes={"a": a}), "logs")
    content = allocator.reroute(content, {"a": a, "b": b})
    recovering = [c for c in content.routing_table.indices["logs"]
                  if not c.primary and c.state == "INITIALIZING"]
    assert len(recovering) == 2 and {c.node for c in recovering} == {"b"}


def settled(nodes, name="logs", shards=1) -> ClusterStateContent:
    content = allocator.reroute(started(created(name, shards=shards, nodes=nodes), name), nodes)
    return allocator.reroute(replicas_started(content, name), nodes)


def move(content: ClusterStateContent, copy, to: str, nodes) -> ClusterStateContent:
    copies = list(content.routing_table.indices[copy.index])
    allocator.relocate(copies, copies.index(copy), nodes[to])
    routing = {**content.routing_table.indices, copy.index: tuple(copies)}
    table = RoutingTable(content.routing_table.version + 1, routing)
    return msgspec.structs.replace(content, routing_table=table)


def test_a_relocated_primary_stays_primary_on_its_new_node_under_the_same_term():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    primary = next(c for c in copies_of(content, "logs") if c.primary)
    free = next(n for n in nodes if n not in {c.node for c in copies_of(content, "logs")})
    term = content.metadata.indices["logs"].primary_terms[0]
    content = move(content, primary, free, nodes)
    target = next(c for c in copies_of(content, "logs") if c.node == free)
    content = allocator.reroute(allocator.shard_started(content, "logs", 0, target.allocation_id), nodes)
    after = copies_of(content, "logs")
    assert {c.node for c in after} == {free} | {c.node for c in after if not c.primary}
    assert next(c for c in after if c.primary).node == free and len(after) == 2
    assert all(c.state == "STARTED" and c.relocating_node is None for c in after)
    assert content.metadata.indices["logs"].primary_terms[0] == term
    assert set(content.metadata.indices["logs"].in_sync(0)) == {c.allocation_id for c in after}


def test_a_relocation_whose_target_node_leaves_is_called_off():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    replica = next(c for c in copies_of(content, "logs") if not c.primary)
    free = next(n for n in nodes if n not in {c.node for c in copies_of(content, "logs")})
    content = move(content, replica, free, nodes)
    content = allocator.reroute(content, {n: d for n, d in nodes.items() if n != free})
    after = copies_of(content, "logs")
    assert len(after) == 2 and all(c.state == "STARTED" and c.relocating_node is None for c in after)


def test_a_failed_relocation_target_leaves_the_source_serving():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    replica = next(c for c in copies_of(content, "logs") if not c.primary)
    free = next(n for n in nodes if n not in {c.node for c in copies_of(content, "logs")})
    content = move(content, replica, free, nodes)
    target = next(c for c in copies_of(content, "logs") if c.node == free)
    content = allocator.shard_failed(content, "logs", 0, target.allocation_id, "recovery failed")
    after = copies_of(content, "logs")
    assert len(after) == 2 and {c.state for c in after} == {"STARTED"}


def test_a_node_excluded_by_a_filter_is_drained_one_relocation_at_a_time():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    held = next(c for c in copies_of(content, "logs") if not c.primary)
    excluded = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, transient_settings={"cluster.routing.allocation.exclude._name": held.node}))
    content = allocator.reroute(excluded, nodes)
    source = next(c for c in copies_of(content, "logs") if c.allocation_id == held.allocation_id)
    target = next(c for c in copies_of(content, "logs") if c.relocating_node == held.node)
    assert source.state == "RELOCATING" and target.state == "INITIALIZING" and target.node != held.node
    content = allocator.reroute(allocator.shard_started(content, "logs", 0, target.allocation_id), nodes)
    assert held.node not in {c.node for c in copies_of(content, "logs")}


def test_a_node_shutting_down_for_removal_is_drained_and_takes_nothing_new():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    leaving = next(c for c in copies_of(content, "logs") if c.primary).node
    marked = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, customs={"node_shutdown": {leaving: {"type": "remove", "reason": "scale down"}}}))
    content = allocator.reroute(marked, nodes)
    target = next(c for c in copies_of(content, "logs") if c.relocating_node == leaving)
    assert target.node != leaving
    content = allocator.reroute(allocator.shard_started(content, "logs", 0, target.allocation_id), nodes)
    assert leaving not in {c.node for c in copies_of(content, "logs")}
    assert next(c for c in copies_of(content, "logs") if c.primary).node == target.node


def test_the_replicas_of_a_node_restarting_under_a_marker_wait_for_it():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = settled(nodes)
    replica = next(c for c in copies_of(content, "logs") if not c.primary)
    marked = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, customs={"node_shutdown": {replica.node: {"type": "restart", "reason": "upgrade",
                                                                    "allocation_delay_ms": 60_000}}}))
    survivors = {n: d for n, d in nodes.items() if n != replica.node}
    content = allocator.reroute(marked, survivors, now_ms=1_000_000)
    waiting = next(c for c in copies_of(content, "logs") if not c.primary)
    assert waiting.state == "UNASSIGNED"  # not copied to the third node meanwhile
    content = allocator.reroute(content, survivors, now_ms=1_000_000 + 61_000)
    assert next(c for c in copies_of(content, "logs") if not c.primary).state == "INITIALIZING"


def test_a_promotion_restarts_the_recoveries_from_the_old_primary():
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    content = allocator.reroute(started(created("logs", nodes=nodes), "logs"), nodes)
    content = allocator.reroute(replicas_started(content, "logs"), nodes)
    with_two = index_admin.update_settings(content, ["logs"], {"index.number_of_replicas": "2"})
    content = allocator.reroute(with_two, nodes)
    recovering = next(c for c in copies_of(content, "logs") if c.state == "INITIALIZING")
    primary = next(c for c in copies_of(content, "logs") if c.primary)
    survivors = {n: d for n, d in nodes.items() if n != primary.node}
    content = allocator.reroute(content, survivors)
    assert recovering.allocation_id not in {c.allocation_id for c in copies_of(content, "logs")}
    # a late "started" report of the old recovery changes nothing
    late = allocator.shard_started(content, "logs", 0, recovering.allocation_id)
    assert late is content
