"""Shard allocation on the master: pure functions from a cluster state's content and its
nodes to the next content (Elasticsearch's AllocationService; the balancer is balancer.py).

- first, an index with `index.auto_expand_replicas` gets the replicas its range allows
  on the data nodes it may be on (`auto_expand`);
- a copy whose node left becomes UNASSIGNED (NODE_LEFT), remembering its node and
  allocation id; a replica whose node restarted (a new ephemeral id) too;
- a primary whose node left or restarted (or that failed) first takes down the copies
  recovering from it (PRIMARY_FAILED; a move's target is dropped), then gives way to an
  in-sync started replica, which becomes primary with a new primary term (ES promotes one
  whatever the deciders say);
- an unassigned primary with in-sync copies goes back only to a node holding one of them
  (its own last node first), with that allocation id and a new term: where the deciders
  say YES; while they THROTTLE it waits; when they all say NO it is forced there anyway,
  unless max_retry or same_shard refuse (ES's canForceAllocatePrimary: `enable` and the
  filters never keep an in-sync primary from its data). Without such a node it stays
  unassigned (red) rather than starting empty elsewhere and losing acknowledged writes;
- a new primary, and once its primary has started each unassigned replica, goes to the
  data node of least weight (balancer.py) among those the deciders
  (allocation/deciders.py) accept; when that node is throttled the copy waits;
- a replica whose node left or restarted goes back to it once it is here again; while it
  is away the replica waits (`delayed`) for `index.unassigned.node_left.delayed_timeout`;
- started copies that may not remain move away (`_drain`), then the balancer moves others
  from heavy to light nodes (`balancer.rebalance`);
- while the primary is active the in-sync set is the started copies (a replica that left
  or failed drops out of it).

`shard_started` and `shard_failed` are the updates a node's report causes; a failed copy
counts its failures and is retried until `index.allocation.max_retries`. `reroute` takes
the time (`now_ms`, the master's clock) it stamps on copies it unassigns and measures
delays against; without one the wall clock is read once, when first needed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, RoutingTable, ShardRouting
from ..common.ids import random_base64_uuid
from ..index.metadata import IndexMetadata
from ..settings import AUTO_EXPAND_REPLICAS, SettingsError, auto_expand_replicas
from .balancer import rebalance, relocate
from .cluster_info import EMPTY, ClusterInfo
from .deciders import (
    NO,
    THROTTLE,
    YES,
    Allocation,
    active_primary_node,
    can_remain,
    decide,
    force_primary,
    may_hold,
)

__all__ = ["Clock", "delay_of", "next_delay_expiry", "relocate", "reroute", "shard_failed", "shard_started"]


class Clock:
    """The time a reroute stamps on what it unassigns, read at most once."""

    def __init__(self, now_ms: int | None = None):
        self._now = now_ms

    def __call__(self) -> int:
        if self._now is None:
            self._now = int(time.time() * 1000)
        return self._now


def new_index_routing(metadata: IndexMetadata, now_ms: int = 0) -> tuple[ShardRouting, ...]:
    copies = []
    for shard in range(metadata.number_of_shards):
        copies.append(ShardRouting(metadata.name, shard, True, unassigned_at=now_ms))
        copies.extend(ShardRouting(metadata.name, shard, False, unassigned_at=now_ms)
                      for _ in range(metadata.number_of_replicas))
    return tuple(copies)


def unassign(copy: ShardRouting, reason: str, details: str, now_ms: int,
             failed_attempts: int = 0) -> ShardRouting:
    return msgspec.structs.replace(
        copy, state="UNASSIGNED", node=None, node_ephemeral_id=None, unassigned_reason=reason,
        unassigned_details=details, last_node=copy.node or copy.last_node,
        last_allocation_id=copy.allocation_id or copy.last_allocation_id, allocation_id=None,
        failed_attempts=failed_attempts, unassigned_at=now_ms, relocating_node=None, delayed=False,
        allocation_status=NO_ATTEMPT)


def is_relocation_target(copy: ShardRouting) -> bool:
    return copy.relocating_node is not None and copy.state == "INITIALIZING"


def relocation_cancelled(content: ClusterStateContent, target: ShardRouting) -> ClusterStateContent:
    """`cancel_relocation` applied to the content's routing table (a new version of it)."""
    routing = dict(content.routing_table.indices)
    routing[target.index] = tuple(cancel_relocation(list(routing[target.index]), target))
    table = RoutingTable(content.routing_table.version + 1, routing)
    return msgspec.structs.replace(content, routing_table=table)


def cancel_relocation(copies: list[ShardRouting], target: ShardRouting) -> list[ShardRouting]:
    """The target copy gone, failed or cancelled: drop it, and the source serves on as
    before. `copies` may be the whole index's: another shard moving between the same two
    nodes keeps its move."""
    out = []
    for c in copies:
        if c is target:
            continue
        if (c.state == "RELOCATING" and c.shard == target.shard and c.node == target.relocating_node
                and c.relocating_node == target.node):
            c = msgspec.structs.replace(c, state="STARTED", relocating_node=None)
        out.append(c)
    return out


def initialize(copy: ShardRouting, node: DiscoveryNode, allocation_id: str) -> ShardRouting:
    """Its failures are kept until it starts (ES keeps the unassigned info meanwhile)."""
    return msgspec.structs.replace(
        copy, state="INITIALIZING", node=node.id, node_ephemeral_id=node.ephemeral_id,
        allocation_id=allocation_id, unassigned_reason=None, unassigned_details=None)


def _bump_term(metadata: IndexMetadata, shard: int) -> IndexMetadata:
    return metadata.with_primary_term(shard, metadata.primary_terms[shard] + 1)


def with_replicas(copies: tuple[ShardRouting, ...], shards: int, replicas: int) -> tuple[ShardRouting, ...]:
    """The copies of an index with `replicas` replicas of each shard: unassigned ones added,
    or the least advanced ones dropped (unassigned, then recovering, then started)."""
    order = {"UNASSIGNED": 0, "INITIALIZING": 1, "RELOCATING": 2, "STARTED": 3}
    out: list[ShardRouting] = []
    for shard in range(shards):
        mine = [c for c in copies if c.shard == shard]
        primaries = [c for c in mine if c.primary]
        # A relocation target is no copy of its own (it takes its source's place): it is not
        # counted, and stays exactly while its source does.
        targets = [c for c in mine if is_relocation_target(c)]
        replica_copies = [c for c in mine if not c.primary and c not in targets]
        kept = sorted(replica_copies, key=lambda c: order[c.state], reverse=True)[:replicas]
        out.extend(primaries)
        out.extend(kept)
        sources = {c.node for c in primaries + kept if c.state == "RELOCATING"}
        out.extend(t for t in targets if t.relocating_node in sources)
        out.extend(ShardRouting(copies[0].index, shard, False, unassigned_reason="REPLICA_ADDED")
                   for _ in range(replicas - len(kept)))
    return tuple(out)


def auto_expand(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], *,
                info: ClusterInfo = EMPTY, node_settings: Mapping[str, Any] = {}) -> ClusterStateContent:
    """Each index with `index.auto_expand_replicas` given the replicas its range allows on
    the data nodes it may be on (AllocationService.adaptAutoExpandReplicas, first in every
    reroute): one fewer than those nodes, held within min and max. The nodes it may be on
    are those the filters, its tier preference and shutdown markers allow (the deciders'
    shouldAutoExpandToNode)."""
    indices = content.metadata.indices
    routing = dict(content.routing_table.indices)
    changed: dict[str, IndexMetadata] = {}
    alloc = None  # made for the first index that auto-expands (most clusters have none)
    for name, metadata in indices.items():
        raw = metadata.settings.get(AUTO_EXPAND_REPLICAS)
        if raw is None or raw == "false":
            continue
        try:
            bounds = auto_expand_replicas(raw)
        except SettingsError:  # validated on the way in; a reroute never fails on it
            continue
        if bounds is None:
            continue
        low, high = bounds
        if alloc is None:
            alloc = Allocation(content, nodes, info=info, node_settings=node_settings)
        replicas = sum(1 for node in alloc.data_nodes if may_hold(alloc, name, node)) - 1
        replicas = low if replicas < low else high if replicas > high else replicas
        if replicas == metadata.number_of_replicas:
            continue
        settings = {**metadata.settings, "index.number_of_replicas": str(replicas)}
        changed[name] = metadata.with_settings(settings)
        if name in routing:
            routing[name] = with_replicas(routing[name], metadata.number_of_shards, replicas)
    if not changed:
        return content
    return msgspec.structs.replace(
        content, metadata=msgspec.structs.replace(content.metadata, indices={**indices, **changed}),
        routing_table=RoutingTable(content.routing_table.version + 1, routing))


def reroute(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], *,
            now_ms: int | None = None, info: ClusterInfo = EMPTY,
            node_settings: Mapping[str, Any] = {}) -> ClusterStateContent:
    """The content with every copy's assignment brought in line with `nodes` and the
    deciders; the same content (identical) when nothing changes. `info` and
    `node_settings` are the master's cluster info and own settings (deciders.Allocation)."""
    clock = Clock(now_ms)
    content = auto_expand(content, nodes, info=info, node_settings=node_settings)
    routing = {name: copies for name, copies in content.routing_table.indices.items()
               if name in content.metadata.indices}
    for name, metadata in content.metadata.indices.items():
        if name not in routing:
            routing[name] = new_index_routing(metadata, clock())
    alloc = Allocation(content, nodes, info=info, node_settings=node_settings)
    alloc.count(routing)
    indices = dict(content.metadata.indices)
    new_routing: dict[str, tuple[ShardRouting, ...]] = {}
    for name in sorted(routing):
        copies = routing[name]
        metadata = indices[name]
        if _settled(copies, nodes) and not alloc.may_drain(name):
            # The common case: every copy started and in sync, and nothing else in sync.
            in_sync = metadata.in_sync_allocation_ids
            if (sum(len(ids) for ids in in_sync.values()) == len(copies)
                    and all(c.allocation_id in in_sync.get(str(c.shard), ()) for c in copies)):
                new_routing[name] = copies
                continue
            index_load = None  # nothing to place or follow: only the in-sync sets to check
        else:
            index_load = dict.fromkeys(alloc.data_nodes, 0)
            for copy in copies:
                if copy.node in index_load and copy.state != "RELOCATING":  # counted at its target
                    index_load[copy.node] += 1
        by_shard: dict[int, list[ShardRouting]] = {}
        for copy in copies:
            by_shard.setdefault(copy.shard, []).append(copy)
        updated: list[ShardRouting] = []
        for shard in sorted(by_shard):
            shard_copies, metadata = _reroute_shard(by_shard[shard], metadata, alloc, index_load, clock)
            updated.extend(shard_copies)
        new_routing[name] = tuple(updated)
        indices[name] = metadata
    # The balancer last, over the whole table as it now stands (ES's balance() after
    # moveShards() and allocateUnassigned()).
    as_lists = {name: list(copies) for name, copies in new_routing.items()}
    for name in rebalance(as_lists, alloc):
        new_routing[name] = tuple(as_lists[name])
    if new_routing == content.routing_table.indices and indices == content.metadata.indices:
        return content
    return msgspec.structs.replace(
        content, metadata=msgspec.structs.replace(content.metadata, indices=indices),
        routing_table=RoutingTable(content.routing_table.version + 1, new_routing))


def _settled(copies: tuple[ShardRouting, ...], nodes: Mapping[str, DiscoveryNode]) -> bool:
    """Every copy assigned to a node still there, unrestarted, and started: nothing to
    place or follow (only the in-sync set may need updating)."""
    for copy in copies:
        if copy.state != "STARTED":
            return False
        node = nodes.get(copy.node)  # type: ignore[arg-type]
        if node is None or node.ephemeral_id != copy.node_ephemeral_id:
            return False
    return True


def _reroute_shard(copies: list[ShardRouting], metadata: IndexMetadata, alloc: Allocation,
                   index_load: dict[str, int] | None,
                   clock: Clock) -> tuple[list[ShardRouting], IndexMetadata]:
    """One shard's copies: follow their nodes, keep or find a primary, place replicas,
    and keep the in-sync set to the started copies while the primary is active."""
    shard = copies[0].shard
    if index_load is not None:
        nodes = alloc.nodes
        restarted_primary = False
        followed = []
        for copy in copies:
            if copy.node is not None:
                node = nodes.get(copy.node)
                gone = node is None or copy.node_ephemeral_id != node.ephemeral_id
                if gone and is_relocation_target(copy):
                    continue  # a relocation target whose node left: the move is off
                if node is None:
                    copy = unassign(copy, "NODE_LEFT", f"node_left [{copy.node}]", clock())
                elif copy.node_ephemeral_id != node.ephemeral_id:
                    if copy.primary:  # handled below: a replica may take over
                        restarted_primary = True
                    else:
                        copy = unassign(copy, "NODE_RESTARTING", f"node [{copy.node}] restarted", clock())
            followed.append(copy)
        copies = _settle_relocations(followed)
        primary_at = next(i for i, c in enumerate(copies) if c.primary)
        primary = copies[primary_at]
        in_sync = metadata.in_sync(shard)
        if primary.node is None or restarted_primary:
            if restarted_primary:
                # Its data is on that node, its open shard is not: it starts again from there.
                copies[primary_at] = unassign(primary, "NODE_RESTARTING", f"node [{primary.node}] restarted",
                                              clock())
            # ES's failShard on a primary fails its initializing replicas first, whether a
            # replica takes over or not: they recover from a copy that is gone.
            copies = _fail_recoveries(copies, clock)
            primary_at = next(i for i, c in enumerate(copies) if c.primary)
            # An in-sync started replica takes over at once (ES promotes one), with a new term.
            promotable = [i for i, c in enumerate(copies) if not c.primary
                          and c.state == "STARTED" and c.allocation_id in in_sync]
            if promotable:
                chosen = promotable[0]
                copies[chosen] = msgspec.structs.replace(copies[chosen], primary=True)
                copies[primary_at] = msgspec.structs.replace(copies[primary_at], primary=False)
                metadata = _bump_term(metadata, shard)
            else:
                metadata = _allocate_primary(copies, primary_at, metadata, alloc, index_load)
        primary = next(c for c in copies if c.primary)
        if primary.state in ("STARTED", "RELOCATING"):
            _place_replicas(copies, primary, alloc, index_load, clock)
            _drain(copies, alloc, index_load)
    else:
        primary = next(c for c in copies if c.primary)
    if primary.state in ("STARTED", "RELOCATING"):
        # While the primary is active it decides what is in sync: the started copies. A
        # copy that left or failed drops out, so the primary goes on without it.
        started = tuple(sorted(c.allocation_id for c in copies
                               if c.state in ("STARTED", "RELOCATING") and c.allocation_id))
        if started != tuple(sorted(metadata.in_sync(shard))):
            metadata = metadata.with_in_sync(shard, started)
    return copies, metadata


def _fail_recoveries(copies: list[ShardRouting], clock: Clock) -> list[ShardRouting]:
    """The primary gone: copies recovering from it (replicas and relocation targets) fail
    (PRIMARY_FAILED), or one could be marked in sync without any primary ever having sent
    it a write, or share a node with a primary forced onto stale data. A move's target is
    dropped and its source serves on; the others start over once a primary is active."""
    out = []
    for c in copies:
        if is_relocation_target(c):
            continue
        if c.state == "RELOCATING":
            c = msgspec.structs.replace(c, state="STARTED", relocating_node=None)
        elif c.state == "INITIALIZING" and not c.primary:
            c = unassign(c, "PRIMARY_FAILED", "primary failed while replica initializing", clock(),
                         c.failed_attempts)
        out.append(c)
    return out


def _settle_relocations(copies: list[ShardRouting]) -> list[ShardRouting]:
    """After nodes left: a target whose source is gone is dropped (it was recovering from
    a primary that left, or would make one copy too many), and a source whose target is
    gone serves on as a plain started copy."""
    sources = {(c.node, c.relocating_node) for c in copies if c.state == "RELOCATING"}
    targets = {(c.relocating_node, c.node) for c in copies if is_relocation_target(c)}
    out = []
    for c in copies:
        if is_relocation_target(c) and (c.relocating_node, c.node) not in sources:
            continue
        if c.state == "RELOCATING" and (c.node, c.relocating_node) not in targets:
            c = msgspec.structs.replace(c, state="STARTED", relocating_node=None)
        out.append(c)
    return out


def _place_replicas(copies: list[ShardRouting], primary: ShardRouting, alloc: Allocation,
                    index_load: dict[str, int], clock: Clock) -> None:
    """Each unassigned replica of a shard whose primary is active: back to the node that
    held it when that node is here again (ES's ReplicaShardAllocator prefers the node with
    the data, delayed or not), else it waits while its delay runs (marked `delayed`, as
    health and explain report it), else to the lightest node the deciders allow."""
    placeable = True  # once the lightest node refuses, the other replicas get the same answer
    for i, copy in enumerate(copies):
        if copy.primary or copy.node is not None:
            continue
        target = _returning_node(copy, copies, alloc)
        if target is None:
            delayed = _delayed(copy, alloc, clock)
            if delayed != copy.delayed:
                copies[i] = copy = msgspec.structs.replace(copy, delayed=delayed)
            if delayed or not placeable:
                continue
            target = best_node(copy, copies, alloc, index_load)
            if target is None:
                placeable = False
                continue
        elif target == "":
            continue  # its node is here but throttled: it waits for that node
        copies[i] = initialize(msgspec.structs.replace(copy, delayed=False), alloc.data_nodes[target].node,
                               random_base64_uuid())
        alloc.placed(copies[i], target, primary.node)
        index_load[target] += 1


_NODE_GONE = ("NODE_LEFT", "NODE_RESTARTING")  # the reasons a replica may wait for its node


def _returning_node(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation) -> str | None:
    """The node a replica left with (or restarted on), back in the cluster: its id when the
    deciders say YES there, "" when they throttle it, None when it is not here or refuses."""
    node = copy.last_node
    if copy.unassigned_reason not in _NODE_GONE or node not in alloc.data_nodes:
        return None
    kind, _ = decide(copy, alloc.data_nodes[node], copies, alloc)
    return node if kind == YES else "" if kind == THROTTLE else None


def delay_of(copy: ShardRouting, alloc: Allocation) -> int:
    """How long (ms) an unassigned replica waits for the node it was on, from the moment it
    became unassigned: `index.unassigned.node_left.delayed_timeout` when its node left or
    restarted, the longer of that and the marker's `allocation_delay` when that node is
    restarting under a shutdown marker (ES's UnassignedInfo.getRemainingDelay); 0 for
    anything else."""
    if copy.primary or copy.node is not None or copy.unassigned_reason not in _NODE_GONE:
        return 0
    delay = alloc.index(copy.index).delayed_timeout_ms
    marker = alloc.shutdowns.get(copy.last_node or "")
    if marker is not None and marker.get("type") == "restart":
        delay = max(delay, int(marker.get("allocation_delay_ms", 300_000)))
    return delay


def _delayed(copy: ShardRouting, alloc: Allocation, clock: Clock) -> bool:
    delay = delay_of(copy, alloc)
    return delay > 0 and clock() < copy.unassigned_at + delay


def next_delay_expiry(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode]) -> int | None:
    """When (ms since the epoch) the earliest delayed replica's wait ends, None when no
    replica waits: the master reroutes then (ES's DelayedAllocationService)."""
    alloc: Allocation | None = None
    earliest: int | None = None
    for name, copies in content.routing_table.indices.items():
        if name not in content.metadata.indices:
            continue
        for copy in copies:
            if copy.delayed:
                alloc = alloc or Allocation(content, nodes)
                at = copy.unassigned_at + delay_of(copy, alloc)
                earliest = at if earliest is None else min(earliest, at)
    return earliest


def _drain(copies: list[ShardRouting], alloc: Allocation, index_load: dict[str, int]) -> None:
    """Move started copies off nodes they may not remain on (a filter now excludes the
    node, or it is shutting down for removal), one relocation per shard at a time, where
    the deciders accept them (throttled like any recovery)."""
    if any(c.state in ("RELOCATING", "INITIALIZING") for c in copies):
        return
    for i, copy in enumerate(copies):
        if copy.state != "STARTED" or copy.node not in alloc.data_nodes:
            continue
        kind, _ = can_remain(copy, alloc.data_nodes[copy.node], copies, alloc)
        if kind != NO:
            continue
        # The deciders judge the started copy itself, as ES's moveShards does: a moving
        # primary is a primary to `enable`, and awareness counts it out of its own zone.
        target = best_node(copy, copies, alloc, index_load)
        if target is None:
            continue
        relocate(copies, i, alloc.data_nodes[target].node)
        alloc.relocated(copy, copies[-1], active_primary_node(copies, copy.shard))
        index_load[target] += 1
        index_load[copy.node] -= 1  # type: ignore[index]
        return


def best_node(copy: ShardRouting, shard: list[ShardRouting], alloc: Allocation,
              index_load: dict[str, int]) -> str | None:
    """ES's BalancedShardsAllocator for an unassigned copy, or a started one that must move:
    the node of least weight (balancer.py) among those the deciders do not refuse, a YES
    preferred at equal weight; None when that node is throttled or every node refuses."""
    load = alloc.load
    s = alloc.settings
    # What the deciders would answer on every node, found cheaply first (a reroute runs on
    # every state, and many copies may wait while recoveries are throttled): same_shard
    # refuses the nodes holding a copy, throttling the nodes at their limits (a primary
    # opens from a store only when unassigned; a moving one recovers from itself, a peer).
    holding = {c.node for c in shard if c.node is not None}
    candidates = [n for n in alloc.data_nodes if n not in holding]
    if copy.primary and copy.state == "UNASSIGNED":
        if all(alloc.initializing_primaries[n] >= s.initial_primaries for n in candidates):
            return None
    else:
        source = active_primary_node(shard, copy.shard)
        if source is None or alloc.outgoing.get(source, 0) >= s.outgoing:
            return None
        if all(alloc.incoming[n] >= s.incoming for n in candidates):
            return None
    theta0, theta1 = s.shard_balance, s.index_balance
    weights = {n: theta0 * load[n] + theta1 * index_load[n] for n in candidates}  # less the averages
    order = sorted(candidates, key=lambda n: (weights[n], n))
    best: str | None = None
    best_type = NO
    best_weight: float | None = None
    for n in order:
        weight = weights[n]
        if best_weight is not None and weight > best_weight:
            break
        kind, _ = decide(copy, alloc.data_nodes[n], shard, alloc)
        if kind == NO:
            continue
        if best is None or (kind == YES and best_type == THROTTLE):
            best, best_type, best_weight = n, kind, weight
            if kind == YES:
                break
    return best if best_type == YES else None


def in_sync_candidates(copies: list[ShardRouting], primary_at: int, in_sync: tuple[str, ...],
                       alloc: Allocation) -> list[tuple[str, str]]:
    """(node, allocation id) of every unassigned copy whose data is in sync and whose node
    is here: where an existing primary may open (ES's PrimaryShardAllocator; its own last
    node first)."""
    out: list[tuple[str, str]] = []
    order = [copies[primary_at], *(c for i, c in enumerate(copies) if i != primary_at)]
    for c in order:
        if (c.node is None and c.last_allocation_id in in_sync and c.last_node in alloc.data_nodes
                and (c.last_node, c.last_allocation_id) not in out
                and not any(o.node == c.last_node for o in copies)):
            out.append((c.last_node, c.last_allocation_id))
    return out


def _allocate_primary(copies: list[ShardRouting], primary_at: int, metadata: IndexMetadata,
                      alloc: Allocation, index_load: dict[str, int]) -> IndexMetadata:
    primary = copies[primary_at]
    in_sync = metadata.in_sync(primary.shard)
    if not in_sync:
        target = best_node(primary, copies, alloc, index_load)
        if target is None:
            _unplaced(copies, primary_at, DECIDERS_THROTTLED if _throttled_somewhere(primary, copies, alloc)
                      else DECIDERS_NO)
            return metadata
        allocation_id = random_base64_uuid()
    else:
        # Only where an in-sync copy's data is: anything else could lose acknowledged writes.
        target = allocation_id = None
        candidates = in_sync_candidates(copies, primary_at, in_sync, alloc)
        throttled = False
        for node, aid in candidates:
            kind, _ = decide(primary, alloc.data_nodes[node], copies, alloc)
            if kind == YES:
                target, allocation_id = node, aid
                break
            throttled = throttled or kind == THROTTLE
        if target is None and not throttled:
            for node, aid in candidates:
                kind, _ = force_primary(primary, alloc.data_nodes[node], copies, alloc)
                if kind == YES:
                    target, allocation_id = node, aid
                    break
        if target is None:
            _unplaced(copies, primary_at, NO_VALID_SHARD_COPY if not candidates
                      else DECIDERS_THROTTLED if throttled else DECIDERS_NO)
            return metadata
        if primary.failed_attempts:
            # A retry after a failure: the node keeps its failed copy (and its report) by
            # allocation id, so the retry needs a new one. It opens the same folder, the
            # in-sync data, so the new id is in sync too.
            allocation_id = random_base64_uuid()
            metadata = metadata.with_in_sync(primary.shard, (*in_sync, allocation_id))
        metadata = _bump_term(metadata, primary.shard)
    copies[primary_at] = initialize(primary, alloc.data_nodes[target].node, allocation_id)
    alloc.placed(copies[primary_at], target, None)
    index_load[target] += 1
    return metadata


# ES's AllocationStatus values, as the cluster state shows them.
NO_ATTEMPT = "no_attempt"
DECIDERS_NO = "deciders_no"
DECIDERS_THROTTLED = "deciders_throttled"
NO_VALID_SHARD_COPY = "no_valid_shard_copy"


def _unplaced(copies: list[ShardRouting], at: int, status: str) -> None:
    """Record why an unassigned primary stays so (only when it changed: a reroute that
    finds the same answer changes nothing)."""
    if copies[at].allocation_status != status:
        copies[at] = msgspec.structs.replace(copies[at], allocation_status=status)


def _throttled_somewhere(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation) -> bool:
    """Whether a node `best_node` found no YES on would take the copy but for throttling
    (then it waits for a recovery to end; otherwise every node refuses it)."""
    holding = {c.node for c in copies if c.node is not None}
    return any(decide(copy, alloc.data_nodes[n], copies, alloc)[0] == THROTTLE
               for n in alloc.data_nodes if n not in holding)


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
            copy = msgspec.structs.replace(copy, state="STARTED", failed_attempts=0)
        updated.append(copy)
    if found is None:
        return content  # a stale report: the copy moved on meanwhile
    if found.relocating_node is not None:
        # A relocation completes: the source copy goes, the target takes its place (and its
        # role: a moved primary stays primary, under the same term, after its hand-off).
        source = next((c for c in updated if c.shard == shard and c.state == "RELOCATING"
                       and c.node == found.relocating_node), None)
        moved = []
        for copy in updated:
            if copy is source:
                continue
            if copy.shard == shard and copy.allocation_id == allocation_id:
                copy = msgspec.structs.replace(copy, relocating_node=None,
                                               primary=source.primary if source is not None else False)
            moved.append(copy)
        updated = moved
    indices = dict(content.metadata.indices)
    if found.primary and allocation_id not in metadata.in_sync(shard):
        indices[index] = metadata.with_in_sync(shard, (allocation_id,))
    routing = dict(content.routing_table.indices)
    routing[index] = tuple(updated)
    return msgspec.structs.replace(
        content, metadata=msgspec.structs.replace(content.metadata, indices=indices),
        routing_table=RoutingTable(content.routing_table.version + 1, routing))


def shard_failed(content: ClusterStateContent, index: str, shard: int, allocation_id: str,
                 reason: str, now_ms: int | None = None) -> ClusterStateContent:
    """A node could not open or keep its copy: UNASSIGNED (ALLOCATION_FAILED) with ES's
    details and one more failure; the reroute retries it (where its data is, for an
    in-sync primary) until `index.allocation.max_retries`."""
    copies = content.routing_table.indices.get(index)
    if copies is None:
        return content
    updated = []
    found = False
    for copy in copies:
        if copy.shard == shard and copy.allocation_id == allocation_id and copy.node is not None:
            if is_relocation_target(copy):  # a relocation that failed: the source serves on
                return relocation_cancelled(content, copy)
            found = True
            copy = unassign(copy, "ALLOCATION_FAILED", f"failed shard on node [{copy.node}]: {reason}",
                            Clock(now_ms)(), copy.failed_attempts + 1)
        updated.append(copy)
    if not found:
        return content
    routing = dict(content.routing_table.indices)
    routing[index] = tuple(updated)
    return msgspec.structs.replace(content, routing_table=RoutingTable(content.routing_table.version + 1,
                                                                       routing))
