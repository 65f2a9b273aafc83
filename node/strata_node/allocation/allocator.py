"""Primary allocation on the master: pure functions from a cluster state's content and its
nodes to the next content.

What Elasticsearch's AllocationService does, without deciders or rebalancing yet:
- a copy whose node left becomes UNASSIGNED (NODE_LEFT), remembering its node and
  allocation id; a copy whose node restarted (a new ephemeral id) is initialized again on
  that node, from the data it has;
- an unassigned primary goes back to the node of its in-sync copy, with its allocation id
  and a new primary term; it stays unassigned (the index red) while that node is away,
  rather than starting empty elsewhere and losing acknowledged writes;
- the primaries of a new index spread over the data nodes: each goes to the node with the
  fewest shards, then the fewest of this index (BalancedShardsAllocator's weight by shard
  count per node and per index, without moving started shards yet).
- replicas go, once their primary has started, to the least loaded data node without a
  copy of the shard, at most NODE_CONCURRENT_RECOVERIES recovering onto one node at once;
- a primary whose node left or restarted gives way to an in-sync started replica, which
  becomes primary with a new primary term; the in-sync set follows the started copies
  while the primary is active (a replica that left or failed drops out of it).

`shard_started` and `shard_failed` are the updates a node's report causes.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, RoutingTable, ShardRouting
from ..common.ids import random_base64_uuid
from ..index.metadata import IndexMetadata


def new_index_routing(metadata: IndexMetadata) -> tuple[ShardRouting, ...]:
    copies = []
    for shard in range(metadata.number_of_shards):
        copies.append(ShardRouting(metadata.name, shard, True))
        copies.extend(ShardRouting(metadata.name, shard, False) for _ in range(metadata.number_of_replicas))
    return tuple(copies)


def _unassign(copy: ShardRouting, reason: str, details: str) -> ShardRouting:
    return msgspec.structs.replace(
        copy, state="UNASSIGNED", node=None, node_ephemeral_id=None, unassigned_reason=reason,
        unassigned_details=details, last_node=copy.node or copy.last_node,
        last_allocation_id=copy.allocation_id or copy.last_allocation_id, allocation_id=None)


def _initialize(copy: ShardRouting, node: DiscoveryNode, allocation_id: str) -> ShardRouting:
    return msgspec.structs.replace(
        copy, state="INITIALIZING", node=node.id, node_ephemeral_id=node.ephemeral_id,
        allocation_id=allocation_id, unassigned_reason=None, unassigned_details=None)


def _bump_term(metadata: IndexMetadata, shard: int) -> IndexMetadata:
    return metadata.with_primary_term(shard, metadata.primary_terms[shard] + 1)


def reroute(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode]) -> ClusterStateContent:
    """The content with every copy's assignment brought in line with `nodes`; the same
    content (identical) when nothing changes."""
    routing = {name: copies for name, copies in content.routing_table.indices.items()
               if name in content.metadata.indices}
    for name, metadata in content.metadata.indices.items():
        routing.setdefault(name, new_index_routing(metadata))
    indices = dict(content.metadata.indices)
    data_nodes = {n: d for n, d in nodes.items() if d.is_data_node}
    load = {n: 0 for n in data_nodes}
    recoveries = {n: 0 for n in data_nodes}  # incoming replica recoveries per node
    for copies in routing.values():
        for copy in copies:
            if copy.node in load:
                load[copy.node] += 1
                if copy.state == "INITIALIZING" and not copy.primary:
                    recoveries[copy.node] += 1
    new_routing: dict[str, tuple[ShardRouting, ...]] = {}
    for name in sorted(routing):
        metadata = indices[name]
        index_load = {n: 0 for n in data_nodes}
        for copy in routing[name]:
            if copy.node in index_load:
                index_load[copy.node] += 1
        by_shard: dict[int, list[ShardRouting]] = {}
        for copy in routing[name]:
            by_shard.setdefault(copy.shard, []).append(copy)
        updated: list[ShardRouting] = []
        for shard in sorted(by_shard):
            copies, metadata = _reroute_shard(by_shard[shard], metadata, nodes, data_nodes, load, index_load,
                                              recoveries)
            updated.extend(copies)
        new_routing[name] = tuple(updated)
        indices[name] = metadata
    if new_routing == content.routing_table.indices and indices == content.metadata.indices:
        return content
    return msgspec.structs.replace(
        content, metadata=msgspec.structs.replace(content.metadata, indices=indices),
        routing_table=RoutingTable(content.routing_table.version + 1, new_routing))


def _reroute_shard(copies: list[ShardRouting], metadata: IndexMetadata, nodes: Mapping[str, DiscoveryNode],
                   data_nodes: Mapping[str, DiscoveryNode], load: dict[str, int], index_load: dict[str, int],
                   recoveries: dict[str, int]) -> tuple[list[ShardRouting], IndexMetadata]:
    """One shard's copies: follow their nodes, keep or find a primary, place replicas,
    and keep the in-sync set to the started copies while the primary is active."""
    shard = copies[0].shard
    restarted_primary = False
    followed = []
    for copy in copies:
        if copy.node is not None:
            node = nodes.get(copy.node)
            if node is None:
                copy = _unassign(copy, "NODE_LEFT", f"node_left [{copy.node}]")
            elif copy.node_ephemeral_id != node.ephemeral_id:
                if copy.primary:  # restarted: its data is there, its open shard is not
                    restarted_primary = True
                else:
                    copy = _unassign(copy, "NODE_RESTARTING", f"node [{copy.node}] restarted")
        followed.append(copy)
    copies = followed
    primary_at = next(i for i, c in enumerate(copies) if c.primary)
    primary = copies[primary_at]
    in_sync = metadata.in_sync(shard)
    if primary.node is None or restarted_primary:
        # An in-sync started replica takes over at once (ES promotes one), with a new term.
        promotable = [i for i, c in enumerate(copies)
                      if not c.primary and c.state == "STARTED" and c.allocation_id in in_sync]
        if promotable:
            chosen = promotable[0]
            copies[chosen] = msgspec.structs.replace(copies[chosen], primary=True)
            old = primary
            if restarted_primary:
                old = _unassign(old, "NODE_RESTARTING", f"node [{old.node}] restarted")
            copies[primary_at] = msgspec.structs.replace(old, primary=False)
            metadata = _bump_term(metadata, shard)
        elif restarted_primary:
            node = nodes[primary.node]
            copies[primary_at] = _initialize(primary, node, primary.allocation_id or random_base64_uuid())
            metadata = _bump_term(metadata, shard)
        elif primary.unassigned_reason != "ALLOCATION_FAILED":
            target = _primary_target(primary, metadata, data_nodes, load, index_load)
            if target is not None:
                allocation_id = primary.last_allocation_id if in_sync else random_base64_uuid()
                copies[primary_at] = _initialize(primary, data_nodes[target], allocation_id)
                if in_sync:
                    metadata = _bump_term(metadata, shard)
                load[target] += 1
                index_load[target] += 1
    primary = next(c for c in copies if c.primary)
    if primary.state == "STARTED":
        for i, copy in enumerate(copies):
            if copy.primary or copy.node is not None:
                continue
            holding = {c.node for c in copies if c.node is not None}
            target = _replica_target(data_nodes, holding, load, index_load, recoveries)
            if target is None:
                break
            copies[i] = _initialize(copy, data_nodes[target], random_base64_uuid())
            load[target] += 1
            index_load[target] += 1
            recoveries[target] += 1
        # While the primary is active it decides what is in sync: the started copies. A
        # copy that left or failed drops out, so the primary goes on without it.
        started = tuple(sorted(c.allocation_id for c in copies if c.state == "STARTED" and c.allocation_id))
        if started != tuple(sorted(in_sync)):
            metadata = metadata.with_in_sync(shard, started)
    return copies, metadata


NODE_CONCURRENT_RECOVERIES = 2  # cluster.routing.allocation.node_concurrent_recoveries' default


def _replica_target(data_nodes: Mapping[str, DiscoveryNode], holding: set[str], load: dict[str, int],
                    index_load: dict[str, int], recoveries: dict[str, int]) -> str | None:
    """The least loaded data node without a copy of the shard (never two copies of a shard
    on one node) and below its limit of concurrent incoming recoveries."""
    candidates = [n for n in sorted(data_nodes)
                  if n not in holding and recoveries[n] < NODE_CONCURRENT_RECOVERIES]
    if not candidates:
        return None
    return min(candidates, key=lambda n: (load[n], index_load[n]))


def _primary_target(copy: ShardRouting, metadata: IndexMetadata, data_nodes: Mapping[str, DiscoveryNode],
                    load: dict[str, int], index_load: dict[str, int]) -> str | None:
    in_sync = metadata.in_sync(copy.shard)
    if in_sync:
        # Only where an in-sync copy's data is: anything else could lose acknowledged writes.
        if copy.last_allocation_id in in_sync and copy.last_node in data_nodes:
            return copy.last_node
        return None
    if not data_nodes:
        return None
    return min(sorted(data_nodes), key=lambda n: (load[n], index_load[n]))


def shard_started(content: ClusterStateContent, index: str, shard: int,
                  allocation_id: str) -> ClusterStateContent:
    """A node reports its copy open and serving: STARTED, and (a primary) in sync."""
    copies = content.routing_table.indices.get(index)
    metadata = content.metadata.indices.get(index)
    if copies is None or metadata is None:
        return content
    updated = []
    found: ShardRouting | None = None
    for copy in copies:
        if copy.shard == shard and copy.allocation_id == allocation_id and copy.state == "INITIALIZING":
            found = copy
            copy = msgspec.structs.replace(copy, state="STARTED")
        updated.append(copy)
    if found is None:
        return content  # a stale report: the copy moved on meanwhile
    indices = dict(content.metadata.indices)
    if found.primary and allocation_id not in metadata.in_sync(shard):
        indices[index] = metadata.with_in_sync(shard, (allocation_id,))
    routing = dict(content.routing_table.indices)
    routing[index] = tuple(updated)
    return msgspec.structs.replace(
        content, metadata=msgspec.structs.replace(content.metadata, indices=indices),
        routing_table=RoutingTable(content.routing_table.version + 1, routing))


def shard_failed(content: ClusterStateContent, index: str, shard: int, allocation_id: str,
                 reason: str) -> ClusterStateContent:
    """A node could not open or keep its copy: UNASSIGNED (ALLOCATION_FAILED) with the
    reason, left there (no retry yet) so the failure shows in health and the APIs."""
    copies = content.routing_table.indices.get(index)
    if copies is None:
        return content
    updated = []
    found = False
    for copy in copies:
        if copy.shard == shard and copy.allocation_id == allocation_id and copy.node is not None:
            found = True
            copy = msgspec.structs.replace(
                _unassign(copy, "ALLOCATION_FAILED", reason), last_node=None)
        updated.append(copy)
    if not found:
        return content
    routing = dict(content.routing_table.indices)
    routing[index] = tuple(updated)
    return msgspec.structs.replace(content, routing_table=RoutingTable(content.routing_table.version + 1,
                                                                       routing))
