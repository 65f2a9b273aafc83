"""The cluster allocation explain API's answer, a pure function of the content and the
nodes (Elasticsearch's TransportClusterAllocationExplainAction and the decisions it
renders: AllocateUnassignedDecision, MoveDecision, NodeAllocationResult).

An unassigned copy is explained with the decision the reroute would take now, node by
node, each with its deciders (NO and THROTTLE ones, YES ones too with
`include_yes_decisions`); a replica waiting for its node to return says how long it still
waits. An initializing copy says so. A started copy answers whether it may remain on its
node (filters, awareness); if not, where it could move; if so, whether the rebalance
deciders let the balancer move it and which nodes would take it for a better balance
(balancer.py), `worse_balance` for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, ShardRouting
from ..common.errors import IllegalArgument, IndexNotFound, ShardNotFound
from ..common.patterns import simple_match
from ..common.units import human_millis
from .allocator import Clock, delay_of, in_sync_candidates
from .balancer import Model, improves
from .cluster_info import EMPTY, ClusterInfo
from .deciders import (
    NO,
    THROTTLE,
    YES,
    Allocation,
    Decision,
    NodeInfo,
    can_rebalance,
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


class Explanations:
    """ES 8's Explanations: the sentence each decision closes with (AllocateUnassignedDecision,
    MoveDecision .getExplanation), written to say what to do next."""

    class Allocation:
        YES = "Elasticsearch can allocate the shard."
        THROTTLED = (
            "Elasticsearch is currently busy with other activities. It expects to be able to allocate this "
            "shard when those activities finish. Please wait.")
        NO_COPIES = (
            "Elasticsearch can't allocate this shard because there are no copies of its data in the "
            "cluster. Elasticsearch will allocate this shard when a node holding a good copy of its data "
            "joins the cluster. If no such node is available, restore this index from a recent snapshot.")
        DELAYED_WITH_ALTERNATIVE = (
            "The node containing this shard copy recently left the cluster. Elasticsearch is waiting for it "
            "to return. If the node does not return within [{}] then Elasticsearch will allocate this shard "
            "to another node. Please wait.")
        DELAYED_WITHOUT_ALTERNATIVE = (
            "The node holding this shard copy recently left the cluster. Elasticsearch is waiting for it to "
            "return. If the node does not return within [{}] then Elasticsearch will attempt to allocate "
            "this shard to another node, but it cannot be allocated to any other node currently in the "
            "cluster. If you expect this shard to be allocated to another node, find this node in the "
            "node-by-node explanation and address the reasons which prevent Elasticsearch from allocating "
            "this shard there.")
        EXISTING_STORES_FORBIDDEN = (
            "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the cluster that "
            "hold an in-sync copy of its data. Choose a node to which you expect this shard to be "
            "allocated, find this node in the node-by-node explanation, and address the reasons which "
            "prevent Elasticsearch from allocating this shard there.")
        ALL_NODES_FORBIDDEN = (
            "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the cluster. Choose "
            "a node to which you expect this shard to be allocated, find this node in the node-by-node "
            "explanation, and address the reasons which prevent Elasticsearch from allocating this shard "
            "there.")

    class Rebalance:
        YES = "Elasticsearch can rebalance this shard to another node."
        ALREADY_BALANCED = (
            "This shard is in a well-balanced location and satisfies all allocation rules so it will remain "
            "on this node. Elasticsearch cannot improve the cluster balance by moving it to another node. "
            "If you expect this shard to be rebalanced to another node, find the other node in the "
            "node-by-node explanation and address the reasons which prevent Elasticsearch from rebalancing "
            "this shard there.")
        CLUSTER_THROTTLE = (
            "Elasticsearch is currently busy with other activities. It will rebalance this shard when those "
            "activities finish. Please wait.")
        NODE_THROTTLE = (
            "Elasticsearch is attempting to rebalance this shard to another node, but the nodes involved "
            "are currently busy with other activities. The shard will be rebalanced when those activities "
            "finish. Please wait.")
        CANNOT_REBALANCE_CAN_ALLOCATE = (
            "Elasticsearch is allowed to allocate this shard on another node, and there is at least one "
            "node to which it could move this shard that would improve the overall cluster balance, but it "
            "isn't allowed to rebalance this shard there. If you expect this shard to be rebalanced to "
            "another node, check the cluster-wide rebalancing decisions and address any reasons preventing "
            "Elasticsearch from rebalancing shards within the cluster, and then find the expected node in "
            "the node-by-node explanation and address the reasons which prevent Elasticsearch from moving "
            "this shard there.")
        CANNOT_REBALANCE_CANNOT_ALLOCATE = (
            "Elasticsearch is not allowed to allocate or rebalance this shard to another node. If you "
            "expect this shard to be rebalanced to another node, find this node in the node-by-node "
            "explanation and address the reasons which prevent Elasticsearch from rebalancing this shard "
            "there.")

    class Move:
        YES = "This shard may not remain on its current node. Elasticsearch will move it to another node."
        THROTTLED = (
            "This shard may not remain on its current node. Elasticsearch is currently busy with other "
            "activities and will move this shard to another node when those activities finish. Please wait.")
        NO = (
            "This shard may not remain on its current node, but Elasticsearch isn't allowed to move it to "
            "another node. Choose a node to which you expect this shard to be allocated, find this node in "
            "the node-by-node explanation, and address the reasons which prevent Elasticsearch from "
            "allocating this shard there.")


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
            specific: bool = True, include_yes: bool = False, include_disk_info: bool = False,
            now_ms: int | None = None, info: ClusterInfo = EMPTY,
            node_settings: Mapping[str, Any] = {}) -> dict[str, Any]:
    alloc = Allocation(content, nodes, info=info, node_settings=node_settings, debug=True,
                       include_yes=include_yes)
    alloc.count(content.routing_table.indices)
    alloc.count_activity(content.routing_table.indices)
    copies = [c for c in content.routing_table.indices[copy.index] if c.shard == copy.shard]
    out: dict[str, Any] = {}
    if not specific:
        out["note"] = NO_SHARD_SPECIFIED
    out.update(index=copy.index, shard=copy.shard, primary=copy.primary, current_state=copy.state.lower())
    model = Model(content.routing_table.indices, alloc)
    if copy.state == "UNASSIGNED":
        decision = _unassigned(copy, copies, alloc, model, Clock(now_ms))
        unassigned: dict[str, Any] = {"reason": copy.unassigned_reason or "INDEX_CREATED",
                                      "at": es_time(copy.unassigned_at)}
        if copy.failed_attempts:
            unassigned["failed_allocation_attempts"] = copy.failed_attempts
        if copy.unassigned_details:
            unassigned["details"] = copy.unassigned_details
        status = decision["can_allocate"]
        unassigned["last_allocation_status"] = "no_attempt" if status == "yes" else status
        out["unassigned_info"] = unassigned
    else:
        current = nodes.get(copy.node)  # type: ignore[arg-type]
        if current is not None:
            out["current_node"] = node_json(current, True)
            if copy.state == "STARTED" and copy.node in alloc.data_nodes:
                out["current_node"]["weight_ranking"] = model.ranking(copy.index)[copy.node]
    if include_disk_info:
        out["cluster_info"] = info.to_json()
    if copy.state == "UNASSIGNED":
        out.update(decision)
    elif copy.state == "STARTED" and copy.node in alloc.data_nodes:
        out.update(_started(copy, copies, alloc, model))
    elif copy.state == "RELOCATING":
        source, target = _name(nodes, copy.node), _name(nodes, copy.relocating_node)
        out["explanation"] = (f"the shard is in the process of relocating from node [{source}] to node "
                              f"[{target}], wait until relocation has completed")
    else:
        name = _name(nodes, copy.node)
        out["explanation"] = (f"the shard is in the process of initializing on node [{name}], wait until "
                              "initialization has completed")
    return out


def _name(nodes: Mapping[str, DiscoveryNode], node_id: str | None) -> str | None:
    return nodes[node_id].name if node_id in nodes else node_id


def _unassigned(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation, model: Model,
                clock: Clock) -> dict[str, Any]:
    metadata = alloc.indices[copy.index]
    in_sync = metadata.in_sync(copy.shard) if copy.primary else ()
    if in_sync:
        return _existing_primary(copy, copies, alloc, in_sync)
    ranking = model.ranking(copy.index)
    results = []
    best: tuple[int, str, str] | None = None  # (ranking, type, node)
    for n in sorted(alloc.data_nodes, key=ranking.__getitem__):
        kind, decisions = decide(copy, alloc.data_nodes[n], copies, alloc)
        results.append(_node_result(alloc.data_nodes[n], _NODE_DECISION[kind], decisions, ranking=ranking[n]))
        if kind != NO and (best is None or (kind == YES and best[1] == THROTTLE and ranking[n] == best[0])):
            best = (ranking[n], kind, n)
    out: dict[str, Any] = {}
    delay = delay_of(copy, alloc)
    remaining = copy.unassigned_at + delay - clock()
    if copy.delayed and remaining > 0:
        # ES's ReplicaShardAllocator: the replica waits for the node that left with its data.
        delayed = (Explanations.Allocation.DELAYED_WITH_ALTERNATIVE
                   if any(r["node_decision"] == "yes" for r in results)
                   else Explanations.Allocation.DELAYED_WITHOUT_ALTERNATIVE)
        out.update(can_allocate="allocation_delayed",
                   allocate_explanation=delayed.format(human_millis(remaining)),
                   configured_delay=human_millis(delay), configured_delay_in_millis=delay,
                   remaining_delay=human_millis(remaining), remaining_delay_in_millis=remaining)
    elif best is not None and best[1] == YES:
        out.update(can_allocate="yes", allocate_explanation=Explanations.Allocation.YES,
                   target_node=node_json(alloc.data_nodes[best[2]].node, True))
    elif best is not None:
        out.update(can_allocate="throttled", allocate_explanation=Explanations.Allocation.THROTTLED)
    else:
        out.update(can_allocate="no", allocate_explanation=Explanations.Allocation.ALL_NODES_FORBIDDEN)
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
        # ES says ALL_COPIES_INVALID when a node holds a stale or corrupt copy; Strata lists
        # in-sync holders only, so every other node shows no copy at all.
        return {"can_allocate": "no_valid_shard_copy",
                "allocate_explanation": Explanations.Allocation.NO_COPIES,
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
        out.update(can_allocate="yes", allocate_explanation=Explanations.Allocation.YES,
                   target_node=node_json(alloc.data_nodes[chosen[0]].node, True), allocation_id=chosen[1])
    elif any(kind == THROTTLE for _, _, kind, _ in decided):
        out.update(can_allocate="throttled", allocate_explanation=Explanations.Allocation.THROTTLED)
    else:  # reuseStore: only the nodes holding its data were asked
        out.update(can_allocate="no", allocate_explanation=Explanations.Allocation.EXISTING_STORES_FORBIDDEN)
    out["node_allocation_decisions"] = _sorted(results + others)
    return out


def _started(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation,
             model: Model) -> dict[str, Any]:
    """MoveDecision: may it remain; if not, where it could go (the reroute drains it);
    if so, whether the rebalance deciders allow moving it (`can_rebalance_cluster`) and
    which node would take it for a better balance (`can_rebalance_to_other_node`): a node
    where it would not improve the balance by more than the threshold is `worse_balance`."""
    kind, remain = can_remain(copy, alloc.data_nodes[copy.node], copies, alloc)  # type: ignore[index]
    ranking = model.ranking(copy.index)
    current_weight = model.weight(copy.node, copy.index)  # type: ignore[arg-type]
    threshold = alloc.settings.threshold
    results = []
    best: tuple[int, str, str] | None = None  # (order of the decision, node, decision)
    for n in sorted(alloc.data_nodes, key=ranking.__getitem__):
        if n == copy.node:
            continue
        node_kind, decisions = decide(copy, alloc.data_nodes[n], copies, alloc)
        decision = _NODE_DECISION[node_kind]
        if kind != NO and decision != "no" and not improves(current_weight, model.weight(n, copy.index),
                                                             threshold):
            decision = "worse_balance"
        elif decision != "no" and (best is None or ORDER[decision] < best[0]):
            best = (ORDER[decision], n, decision)
        results.append(_node_result(alloc.data_nodes[n], decision, decisions, ranking=ranking[n]))
    if kind == NO:
        target, out = _force_move(remain, best, alloc)
    else:
        # atLeastOneNodeWithYesDecision: a node that takes it and improves the balance.
        better = any(r["node_decision"] == "yes" for r in results)
        target, out = _rebalance(copy, copies, alloc, best, better)
    if target is not None:  # MoveDecision.toXContent: the target node first
        out = {"target_node": node_json(alloc.data_nodes[target].node, True), **out}
    if results:
        out["node_allocation_decisions"] = _sorted(results)
    return out


def _force_move(remain: list[Decision], best: tuple[int, str, str] | None,
                alloc: Allocation) -> tuple[str | None, dict[str, Any]]:
    """A copy that may not remain: ES's forceMove() is yes only when a node takes it now, and
    only then is there a target; a throttled move says so in its explanation alone."""
    target = best[1] if best is not None and best[2] == "yes" else None
    out: dict[str, Any] = {
        "can_remain_on_current_node": "no",
        "can_remain_decisions": [d.as_json() for d in remain if d.type == NO or alloc.include_yes],
        "can_move_to_other_node": "no" if target is None else "yes"}
    if best is None:
        out["move_explanation"] = Explanations.Move.NO
    elif target is not None:
        out["move_explanation"] = Explanations.Move.YES
    else:
        out["move_explanation"] = Explanations.Move.THROTTLED
    return target, out


def _rebalance(copy: ShardRouting, copies: list[ShardRouting], alloc: Allocation,
               best: tuple[int, str, str] | None, better: bool) -> tuple[str | None, dict[str, Any]]:
    """A copy that may remain: the rebalance deciders' answer (`throttled` when one
    throttles, their decisions shown unless it is yes) and the node that would take it;
    refused, the explanation says whether some node would have taken it for a better
    balance (`better`)."""
    cluster_kind, cluster_decisions = can_rebalance(copy, copies, alloc)
    out: dict[str, Any] = {"can_remain_on_current_node": "yes",
                           "can_rebalance_cluster": _NODE_DECISION[cluster_kind]}
    if cluster_kind != YES and cluster_decisions:
        out["can_rebalance_cluster_decisions"] = [d.as_json() for d in cluster_decisions]
    if cluster_kind == NO:
        out["can_rebalance_to_other_node"] = "no"
        out["rebalance_explanation"] = (Explanations.Rebalance.CANNOT_REBALANCE_CAN_ALLOCATE if better
                                        else Explanations.Rebalance.CANNOT_REBALANCE_CANNOT_ALLOCATE)
    elif cluster_kind == THROTTLE:
        out["can_rebalance_to_other_node"] = "throttled"
        out["rebalance_explanation"] = Explanations.Rebalance.CLUSTER_THROTTLE
    elif best is None:
        out["can_rebalance_to_other_node"] = "no"
        out["rebalance_explanation"] = Explanations.Rebalance.ALREADY_BALANCED
    else:
        out["can_rebalance_to_other_node"] = best[2]
        out["rebalance_explanation"] = (Explanations.Rebalance.YES if best[2] == "yes"
                                        else Explanations.Rebalance.NODE_THROTTLE)
        return best[1], out
    return None, out
