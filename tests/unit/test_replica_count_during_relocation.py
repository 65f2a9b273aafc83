"""Changing number_of_replicas while a copy relocates: the relocation target is not a copy
of its own, so it neither counts as a replica nor outlives its source."""

from strata_node.action import index_admin
from strata_node.allocation import allocator, commands
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent

NODES = {n: DiscoveryNode(id=n, name=n, roles=("master", "data"), ephemeral_id="e1") for n in "abcd"}


def settled(content):
    for _ in range(6):
        for name, copies in content.routing_table.indices.items():
            for c in copies:
                if c.state == "INITIALIZING":
                    content = allocator.shard_started(content, name, c.shard, c.allocation_id)
        content = allocator.reroute(content, NODES)
    return content


def relocating(primary: bool):
    """One shard with one replica, settled on two of four nodes, one copy moving away."""
    metadata = index_admin.build_index_metadata("logs", {"settings": {"number_of_replicas": 1}})
    content = settled(allocator.reroute(index_admin.create_index(ClusterStateContent(), metadata), NODES))
    copies = content.routing_table.indices["logs"]
    moving = next(c for c in copies if c.primary == primary)
    free = next(n for n in NODES if n not in {c.node for c in copies})
    move = commands.Command("move", "logs", 0, from_node=moving.node, to_node=free)
    return commands.execute(content, NODES, [move]).content


def with_replicas(content, replicas: int):
    return index_admin.update_settings(content, ["logs"], {"index.number_of_replicas": str(replicas)})


def started_copies(content):
    return sorted((c.primary, c.node) for c in content.routing_table.indices["logs"] if c.state == "STARTED")


def test_raising_replicas_while_the_primary_relocates_adds_a_copy():
    content = with_replicas(relocating(primary=True), 2)
    assert len(started_copies(settled(allocator.reroute(content, NODES)))) == 3


def test_raising_replicas_while_a_replica_relocates_adds_a_copy():
    content = with_replicas(relocating(primary=False), 2)
    assert len(started_copies(settled(allocator.reroute(content, NODES)))) == 3


def test_dropping_a_relocating_replica_drops_its_target_too():
    content = with_replicas(relocating(primary=False), 0)
    copies = content.routing_table.indices["logs"]
    assert [c.primary for c in copies] == [True]
    assert len(started_copies(settled(allocator.reroute(content, NODES)))) == 1
