"""The cluster allocation explain API's answer, a pure function of the content and the
nodes (Elasticsearch's TransportClusterAllocationExplainAction and the decisions it
renders: AllocateUnassignedDecision, MoveDecision, NodeAllocationResult).

An unassigned copy is explained with the decision the reroute would take now, node by
node, each with its deciders (NO and THROTTLE ones, YES ones too with
`include_yes_decisions`). An initializing copy says so. A started copy answers whether it
may remain on its node (filters, awareness) and, since started shards are never moved to
balance the cluster yet, that rebalancing is not allowed, with the nodes that would take it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, ShardRouting
from ..common.errors import IllegalArgument, IndexNotFound, ShardNotFound
from ..common.patterns import simple_match
from .allocator import in_sync_candidates
from .deciders import (
    NO,
    THROTTLE,
    YES,
    Allocation,
    Decision,
    NodeInfo,
    can_remain,
    decide,
    es_time,
    force_primary,
)

NO_SHARD_SPECIFIED = (
    "No shard was specified in the explain API request, so this response explains a randomly chosen "
    "unassigned shard. There may be other unassigned shards in this cluster which cannot be assigned for "
    "different reasons. It may not be possible to assign this shard until one of the other shards is "
    "assigned correctly. To explain the allocation of other shards (whether assigned or unassigned) you "
    "must specify the target shard in the request to this API.")
NO_UNASSIGNED = (
    "No shard was specified in the request which means the response should explain a randomly-chosen "
    "unassigned shard, but there are no unassigned shards in this cluster. To explain the allocation of "
    "an assigned shard you must specify the target shard in the request.")
NOT_PERMITTED = "cannot allocate because allocation is not permitted to any of the nodes"
# Started shards stay where they are until a balancer moves them; say so as a decider would.
NO_REBALANCE = Decision(NO, "balancer", "this cluster does not move started shards to balance it yet: "
                        "new and unassigned copies go to the allowed node with the fewest shards")
# AllocationDecision, in ES's order (node decisions sort by it).
ORDER = {"yes": 0, "throttled": 1, "no": 2, "worse_balance": 3, "awaiting_info": 4, "allocation_delayed": 5,
         "no_valid_shard_copy": 6, "no_attempt": 7}
_NODE_DECISION = {YES: "yes", THROTTLE: "throttled", NO: "no"}


def resolve_node(nodes: Mapping[str, DiscoveryNode], name: str) -> DiscoveryNode:
    """DiscoveryNodes.resolveNode: one node by id, name, transport address or host, or a
    `*` pattern of ids and names."""
    found = [n for n in nodes.values() if name in (n.id, n.name, n.transport_address)]
    if not found:
        found = [n for n in nodes.values() if n.transport_address.rsplit(":", 1)[0] == name]
    if not found and "*" in name:
        found = [n for n in nodes.values() if simple_match(name, n.id) or simple_match(name, n.name)]
    if len(found) > 1:
        raise IllegalArgument(f"resolved [{name}] into [{len(found)}] nodes, where expected to be resolved "
                              "to a single node")
    if not found:
        raise IllegalArgument(f"failed to resolve [{name}], no matching nodes")
    return found[0]


def shard_copies(content: ClusterStateContent, index: str, shard: int) -> list[ShardRouting]:
    """The copies of one shard, or ES's index_not_found / shard_not_found."""
    metadata = content.metadata.indices.get(index)
    copies = content.routing_table.indices.get(index)
    if metadata is None or copies is None:
        raise IndexNotFound(index)
    found = [c for c in copies if c.shard == shard]
    if not found:
        raise ShardNotFound(index, metadata.uuid, shard)
    return found


def find_shard(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], index: str | None,
               shard: int | None, primary: bool | None, current_node: str | None) -> ShardRouting:
    """The copy a request names (findShardToExplain), or with nothing named the first
    unassigned primary, else the first unassigned replica."""
    if index is None and shard is None and primary is None and current_node is None:
        found: ShardRouting | None = None
        for name in sorted(content.routing_table.indices):
            if name not in content.metadata.indices:
                continue
            for copy in content.routing_table.indices[name]:
                if copy.node is None and (found is None or (copy.primary and not found.primary)):
                    found = copy
        if found is None:
            raise IllegalArgument(NO_UNASSIGNED)
        return found
    assert index is not None and shard is not None and primary is not None
    copies = shard_copies(content, index, shard)
    target = resolve_node(nodes, current_node).id if current_node is not None else None
    if primary:
        copy = next(c for c in copies if c.primary)
        if target is not None and copy.node != target:
            raise IllegalArgument(f"unable to find primary shard assigned to node [{current_node}]")
        return copy
    replicas = [c for c in copies if not c.primary]
    if target is not None:
        for replica in replicas:
            if replica.node == target:
                return replica
        raise IllegalArgument(f"unable to find a replica shard assigned to node [{current_node}]")
    if not replicas:
        flag = str(primary).lower()
        request = f"ClusterAllocationExplainRequest[index={index},shard={shard},primary?={flag}]"
        raise IllegalArgument(f"unable to find any shards to explain [{request}] in the routing table")
    chosen = replicas[0]
    for replica in replicas:
        if replica.state == "UNASSIGNED":
            return replica
        if replica.state == "STARTED" and chosen.state in ("INITIALIZING", "RELOCATING"):
            chosen = replica
    return chosen


def node_json(node: DiscoveryNode, outer: bool) -> dict[str, Any]:
    """discoveryNodeToXContent: `id`/`name` inside an object of its own, `node_id`/`node_name`
    in a list of node decisions."""
    out: dict[str, Any] = {"id" if outer else "node_id": node.id, "name" if outer else "node_name": node.name,
                           "transport_address": node.transport_address}
    if node.attributes:
        out["attributes" if outer else "node_attributes"] = dict(node.attributes)
    return out


def _node_result(node: NodeInfo, decision: str, decisions: list[Decision] | None, *, ranking: int = 0,
                 store: dict[str, Any] | None = None) -> dict[str, Any]:
    out = node_json(node.node, False)
    out["node_decision"] = decision
    if store is not None:
        out["store"] = store
    if ranking:
        out["weight_ranking"] = ranking
    if decisions:
        out["deciders"] = [d.as_json() for d in decisions]
    return out


def _sorted(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results,
                  key=lambda r: (ORDER[r["node_decision"]], r.get("weight_ranking", 0), r["node_id"]))


def explain(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], copy: ShardRouting, *,
            specific: bool = True, include_yes: bool = False,
            include_disk_info: bool = False) -> dict[str, Any]:
    alloc = Allocation(content, nodes, debug=True, include_yes=include_yes)
    alloc.count(content.routing_table.indices)
    copies = [c for c in content.routing_table.indices[copy.index] if c.shard == copy.shard]
    out: dict[str, Any] = {}
    if not specific:
        out["note"] = NO_SHARD_SPECIFIED
    out.update(index=copy.index, shard=copy.shard, primary=copy.primary, current_state=copy.state.lower())
    if copy.state == "UNASSIGNED":
        decision = _unassigned(copy, copies, alloc)
        info: dict[str, Any] = {"reason": copy.unassigned_reason or "INDEX_CREATED",
                                "at": es_time(copy.unassigned_at)}
        if copy.failed_attempts:
            info["failed_allocation_attempts"] = copy.failed_attempts
        if copy.unassigned_details:
            info["details"] = copy.unassigned_details
        status = decision["can_allocate"]
        info["last_allocation_status"] = "no_attempt" if status == "yes" else status
        out["unassigned_info"] = info
    else:
        current = nodes.get(copy.node)  # type: ignore[arg-type]
        if current is not None:
            out["current_node"] = node_json(current, True)
    if include_disk_info:
        # No disk usage is gathered yet, so there is none to show (ES's empty ClusterInfo).
        out["cluster_info"] = {"nodes": {}, "shard_sizes": {}, "shard_data_set_sizes": {}, "shard_paths": {},
                               "reserved_sizes": []}
    if copy.state == "UNASSIGNED":
        out.update(decision)
    elif copy.state == "STARTED" and copy.node in alloc.data_nodes:
        out.update(_started(copy, copies, alloc))
    else:
        name = nodes[copy.node].name if copy.node in nodes else copy.node
        out["explanation"] = (f"the shard is in the process of initializing on node [{name}], wait until "
                              "initialization has completed")
    return out


def _ranked(alloc: Allocation, copy: ShardRouting) -> dict[str, int]:
    """Weight ranking of every data node for a copy of this index: fewest shards, then
    fewest of the index (1 is where it would go first)."""
    index_load = dict.fromkeys(alloc.data_nodes, 0)
    for c in alloc.content.routing_table.indices.get(copy.index, ()):
        if c.node in index_load:
            index_load[c.node] += 1
    order = sorted(alloc.data_nodes, key=lambda n: (alloc.load[n], index_load[n], n))
    return {n: i for i, n in enumerate(order, 1)}


def _unassigned(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation) -> dict[str, Any]:
    metadata = alloc.indices[copy.index]
    in_sync = metadata.in_sync(copy.shard) if copy.primary else ()
    if in_sync:
        return _existing_primary(copy, copies, alloc, in_sync)
    ranking = _ranked(alloc, copy)
    results = []
    best: tuple[int, str, str] | None = None  # (ranking, type, node)
    for n in sorted(alloc.data_nodes, key=ranking.__getitem__):
        kind, decisions = decide(copy, alloc.data_nodes[n], copies, alloc)
        results.append(_node_result(alloc.data_nodes[n], _NODE_DECISION[kind], decisions, ranking=ranking[n]))
        if kind != NO and (best is None or (kind == YES and best[1] == THROTTLE and ranking[n] == best[0])):
            best = (ranking[n], kind, n)
    out: dict[str, Any] = {}
    if best is not None and best[1] == YES:
        out.update(can_allocate="yes", allocate_explanation="can allocate the shard",
                   target_node=node_json(alloc.data_nodes[best[2]].node, True))
    elif best is not None:
        out.update(can_allocate="throttled", allocate_explanation="allocation temporarily throttled")
    else:
        out.update(can_allocate="no", allocate_explanation=NOT_PERMITTED)
    if results:
        out["node_allocation_decisions"] = _sorted(results)
    return out


def _existing_primary(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation,
                      in_sync: tuple[str, ...]) -> dict[str, Any]:
    """PrimaryShardAllocator: only the nodes holding an in-sync copy may take it; the
    others are listed with no copy found."""
    primary_at = next(i for i, c in enumerate(copies) if c.primary)
    candidates = in_sync_candidates(copies, primary_at, in_sync, alloc)
    holders = {n for n, _ in candidates}
    others = [_node_result(info, "no", None, store={"found": False})
              for n, info in alloc.data_nodes.items() if n not in holders]
    if not candidates:
        return {"can_allocate": "no_valid_shard_copy",
                "allocate_explanation": "cannot allocate because a previous copy of the primary shard "
                                        "existed but can no longer be found on the nodes in the cluster",
                "node_allocation_decisions": _sorted(others)}
    decided = [(n, aid, *decide(copy, alloc.data_nodes[n], copies, alloc)) for n, aid in candidates]
    if all(kind == NO for _, _, kind, _ in decided):  # every holder refuses: force it back to its data
        decided = [(n, aid, *force_primary(copy, alloc.data_nodes[n], copies, alloc))
                   for n, aid in candidates]
    results = [_node_result(alloc.data_nodes[n], _NODE_DECISION[kind], decisions,
                            store={"in_sync": True, "allocation_id": aid})
               for n, aid, kind, decisions in decided]
    out: dict[str, Any] = {}
    chosen = next(((n, aid) for n, aid, kind, _ in decided if kind == YES), None)
    if chosen is not None:
        out.update(can_allocate="yes", allocate_explanation="can allocate the shard",
                   target_node=node_json(alloc.data_nodes[chosen[0]].node, True), allocation_id=chosen[1])
    elif any(kind == THROTTLE for _, _, kind, _ in decided):
        out.update(can_allocate="throttled", allocate_explanation="allocation temporarily throttled")
    else:
        out.update(can_allocate="no",
                   allocate_explanation=NOT_PERMITTED + " that hold an in-sync shard copy")
    out["node_allocation_decisions"] = _sorted(results + others)
    return out


def _started(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation) -> dict[str, Any]:
    """MoveDecision: may it remain; if not, where it could go (it is not moved: relocation
    is not built); if so, rebalancing is not allowed (no balancer moves started shards)."""
    kind, remain = can_remain(copy, alloc.data_nodes[copy.node], copies, alloc)  # type: ignore[index]
    ranking = _ranked(alloc, copy)
    results = []
    any_yes = False
    for n in sorted(alloc.data_nodes, key=ranking.__getitem__):
        if n == copy.node:
            continue
        node_kind, decisions = decide(copy, alloc.data_nodes[n], copies, alloc)
        any_yes = any_yes or node_kind == YES
        results.append(_node_result(alloc.data_nodes[n], _NODE_DECISION[node_kind], decisions,
                                    ranking=ranking[n]))
    out: dict[str, Any] = {}
    if kind == NO:
        out["can_remain_on_current_node"] = "no"
        out["can_remain_decisions"] = [d.as_json() for d in remain if d.type == NO or alloc.include_yes]
        out["can_move_to_other_node"] = "no"
        out["move_explanation"] = (
            "cannot move shard to another node: relocating a started shard is not supported yet" if any_yes
            else "cannot move shard to another node, even though it is not allowed to remain on its current "
                 "node")
    else:
        out["can_remain_on_current_node"] = "yes"
        out["can_rebalance_cluster"] = "no"
        out["can_rebalance_cluster_decisions"] = [NO_REBALANCE.as_json()]
        out["can_rebalance_to_other_node"] = "no"
        out["rebalance_explanation"] = "rebalancing is not allowed" + (
            ", even though there is at least one node on which the shard can be allocated" if any_yes else "")
    if results:
        out["node_allocation_decisions"] = _sorted(results)
    return out
