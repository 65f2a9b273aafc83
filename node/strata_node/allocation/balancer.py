"""The balancer: Elasticsearch's BalancedShardsAllocator, as pure functions of a reroute's
routing and its `Allocation` (allocation/deciders.py).

A node's weight for an index is

    theta0 * (copies on the node - average copies per node)
  + theta1 * (copies of the index on the node - average copies of the index per node)

with theta0 and theta1 `cluster.routing.allocation.balance.shard` and `.index` normalized
to sum to 1. A copy counts where it will be: a relocation's target counts, its source does
not. New and unassigned copies go to the lightest node the deciders allow (allocator.py);
started copies move from the heaviest node to the lightest one, index by index, while the
two nodes' weights differ by more than `cluster.routing.allocation.balance.threshold`.

Why it converges: moving one copy of an index from node a to node b changes a's weight by
-1 and b's by +1 (theta0 + theta1 = 1), so the potential
theta0 * sum(copies per node ^ 2) + theta1 * sum(copies of each index per node ^ 2)
falls by 2 * (delta - 1); a move needs delta > threshold >= 1, so every move lowers it by a
fixed amount and no pair of equally loaded nodes trades a copy back and forth. Moves the
deciders throttle (the concurrent rebalance limit, recovery throttling) are made in the
model only, as ES does, so the reroute ends; the next reroute after a move completes
makes them for real.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ShardRouting
from ..common.ids import random_base64_uuid
from .deciders import (
    NO,
    YES,
    Allocation,
    active_primary_node,
    can_rebalance,
    can_rebalance_cluster,
    decide,
    may_hold,
)


def lighter(delta: float, threshold: float) -> bool:
    """ES's lessThan: a weight difference at or below the threshold (rounding a hair above
    it down, so float noise moves nothing) is balanced enough."""
    return delta <= threshold + 0.001


def improves(current_weight: float, node_weight: float, threshold: float) -> bool:
    """Would moving one copy from a node of `current_weight` to one of `node_weight` be
    worth it (ES's decideRebalance)? The difference must be above the threshold, and the
    difference after the move (each side changes by 1) smaller than before."""
    if node_weight > current_weight:
        return False
    delta = current_weight - node_weight
    return not lighter(delta, threshold) and 2.0 + node_weight - current_weight < delta


def relocate(copies: list[ShardRouting], at: int, target: DiscoveryNode) -> None:
    """Start moving copies[at] to `target`: the source goes on serving, RELOCATING, while a
    target copy recovers from the primary; the move completes when the target starts
    (`shard_started`) and the source is dropped."""
    source = copies[at]
    copies[at] = msgspec.structs.replace(source, state="RELOCATING", relocating_node=target.id)
    copies.append(ShardRouting(source.index, source.shard, False, "INITIALIZING", target.id,
                               target.ephemeral_id, random_base64_uuid(), unassigned_reason=None,
                               relocating_node=source.node))


class Model:
    """Copies per data node, in all and per index, where they will be (ES's ModelNode)."""

    def __init__(self, routing: Mapping[str, Sequence[ShardRouting]], alloc: Allocation):
        self.theta0 = alloc.settings.shard_balance
        self.theta1 = alloc.settings.index_balance
        self.nodes = list(alloc.data_nodes)
        self.total = dict.fromkeys(self.nodes, 0)
        self.of_index: dict[str, dict[str, int]] = {}
        for name, copies in routing.items():
            counts = self.of_index[name] = dict.fromkeys(self.nodes, 0)
            for c in copies:
                if c.node in counts and c.state != "RELOCATING":
                    counts[c.node] += 1
                    self.total[c.node] += 1
        size = max(len(self.nodes), 1)
        indices = alloc.indices
        self.average = sum(indices[n].number_of_shards * (indices[n].number_of_replicas + 1)
                           for n in routing if n in indices) / size
        self.index_average = {n: indices[n].number_of_shards * (indices[n].number_of_replicas + 1) / size
                              for n in routing if n in indices}

    def weight(self, node: str, index: str) -> float:
        return (self.theta0 * (self.total[node] - self.average)
                + self.theta1 * (self.of_index[index][node] - self.index_average[index]))

    def move(self, index: str, source: str, target: str) -> None:
        self.total[source] -= 1
        self.of_index[index][source] -= 1
        self.total[target] += 1
        self.of_index[index][target] += 1

    def ranking(self, index: str) -> dict[str, int]:
        """Every node's place by weight for the index, lightest first (explain's
        weight_ranking, 1-based)."""
        order = sorted(self.nodes, key=lambda n: (self.weight(n, index), n))
        return {n: i for i, n in enumerate(order, 1)}

    def weight_ordered_indices(self) -> list[str]:
        """The most unbalanced index first (ES's buildWeightOrderedIndices)."""
        def spread(index: str) -> float:
            weights = [self.weight(n, index) for n in self.nodes]
            return max(weights) - min(weights)
        return sorted(self.of_index, key=lambda i: (-spread(i), i))


def rebalance(routing: dict[str, list[ShardRouting]], alloc: Allocation) -> set[str]:
    """Move started copies from heavy to light nodes (ES's balanceByWeights), relocating in
    `routing` the moves the deciders allow now; the names of the indices changed."""
    changed: set[str] = set()
    if len(alloc.data_nodes) < 2:
        return changed
    alloc.count_activity(routing)
    if can_rebalance_cluster(alloc)[0] != YES:
        return changed
    model = Model(routing, alloc)
    threshold = alloc.settings.threshold
    simulated: set[str] = set()  # allocation ids moved in the model only (throttled)
    for index in model.weight_ordered_indices():
        relevant = [n for n in model.nodes if model.of_index[index][n] or may_hold(alloc, index, n)]
        if len(relevant) < 2:
            continue

        def key(node: str, index: str = index) -> tuple[float, str]:
            return model.weight(node, index), node

        relevant.sort(key=key)
        low, high = 0, len(relevant) - 1
        while True:
            light, heavy = relevant[low], relevant[high]
            if model.of_index[index][heavy] > 0:
                delta = abs(model.weight(heavy, index) - model.weight(light, index))
                if lighter(delta, threshold):
                    # Balanced between these two; a wider gap may still sit between the
                    # lightest and a lighter heavy node that the deciders keep the heaviest
                    # from reaching (awareness): shrink the window from the top then.
                    if not (low > 0 and high - 1 > 0
                            and abs(model.weight(relevant[0], index)
                                    - model.weight(relevant[high - 1], index)) > threshold):
                        break
                elif _try_relocate(routing, alloc, model, index, light, heavy, simulated, changed):
                    relevant.sort(key=key)
                    low, high = 0, len(relevant) - 1
                    continue
            if low < high - 1:
                low += 1  # nothing can go to the lightest: try the next lightest
            elif low > 0:
                low, high = 0, high - 1  # nothing can leave the heaviest: try the next heaviest
            else:
                break
    return changed


def _try_relocate(routing: dict[str, list[ShardRouting]], alloc: Allocation, model: Model, index: str,
                  light: str, heavy: str, simulated: set[str], changed: set[str]) -> bool:
    """Move one started copy of the index from `heavy` to `light` (highest shard number
    first, as ES, for a deterministic choice): for real when every decider says YES, in
    the model only when one throttles; False when the deciders refuse every copy."""
    copies = routing[index]
    candidates = sorted((i for i, c in enumerate(copies)
                         if c.node == heavy and c.state == "STARTED" and c.allocation_id not in simulated),
                        key=lambda i: -copies[i].shard)
    target = alloc.data_nodes[light]
    for i in candidates:
        copy = copies[i]
        shard = [c for c in copies if c.shard == copy.shard]
        rebalance_kind, _ = can_rebalance(copy, shard, alloc)
        if rebalance_kind == NO:
            continue
        allocate_kind, _ = decide(copy, target, shard, alloc)
        if allocate_kind == NO:
            continue
        model.move(index, heavy, light)
        if rebalance_kind == YES and allocate_kind == YES:
            primary_node = active_primary_node(shard, copy.shard)
            relocate(copies, i, target.node)
            alloc.relocated(copy, copies[-1], primary_node)
            changed.add(index)
        else:
            simulated.add(copy.allocation_id)  # type: ignore[arg-type]
        return True
    return False
