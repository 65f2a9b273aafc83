"""Reroute commands (`POST /_cluster/reroute`), pure functions of the content and the
nodes, as Elasticsearch's AllocationService.reroute(commands, explain, retryFailed) runs
them: `retry_failed` first resets the failure counters of unassigned copies, then each
command runs with every decider's answer kept and `enable` ignored, then the usual reroute.

- allocate_replica: an unassigned replica of a shard whose primary is assigned, onto a
  node the deciders do not refuse;
- allocate_empty_primary: an unassigned primary started empty on a node, ignoring the
  deciders; `accept_data_loss` when the shard has held data (its in-sync copies are lost)
  or is being restored (its snapshot's data is);
  the node's folder of the shard is emptied first (`wipes`);
- allocate_stale_primary: an unassigned primary opened from the (stale) data a node holds,
  ignoring the deciders, with `accept_data_loss`;
- cancel: a replica (any primary with `allow_primary`) unassigned again, REROUTE_CANCELLED;
  a relocation's target is dropped instead, its source serving on;
- move: checked as ES checks it (nodes, a started copy, the deciders on the target), but
  a move the deciders allow starts a relocation.

A command that cannot run raises ES's illegal_argument_exception, or with `explain` adds
a NO decision to its explanation and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import msgspec

from ..cluster.coordination.discovery_node import DATA_ROLES, DiscoveryNode
from ..cluster.state import FORCED_ALLOCATION_ID, ClusterStateContent, RoutingTable, ShardRouting
from ..common.errors import IllegalArgument, ParseError, StrataError, XContentParseError
from ..common.ids import random_base64_uuid
from ..common.units import INT_MAX, INT_MIN
from .allocator import (
    Clock,
    initialize,
    is_relocation_target,
    relocate,
    relocation_cancelled,
    reroute,
    unassign,
)
from .cluster_info import EMPTY, ClusterInfo
from .deciders import NO, YES, Allocation, Decision, decide
from .explain import resolve_node, shard_copies

ALLOCATE = ("allocate_replica", "allocate_empty_primary", "allocate_stale_primary")
NAMES = (*ALLOCATE, "cancel", "move")


class Command(NamedTuple):
    name: str
    index: str
    shard: int
    node: str = ""
    accept_data_loss: bool = False
    allow_primary: bool = False
    from_node: str = ""
    to_node: str = ""

    def parameters(self) -> dict[str, Any]:
        if self.name == "move":
            return {"index": self.index, "shard": self.shard, "from_node": self.from_node,
                    "to_node": self.to_node}
        out: dict[str, Any] = {"index": self.index, "shard": self.shard, "node": self.node}
        if self.name == "cancel":
            out["allow_primary"] = self.allow_primary
        elif self.name != "allocate_replica":
            out["accept_data_loss"] = self.accept_data_loss
        return out


# -- parsing ------------------------------------------------------------------------------------


def parse_commands(raw: Any) -> list[Command]:
    """The `commands` array of a reroute body (AllocationCommands.fromXContent)."""
    if not isinstance(raw, list):
        raise XContentParseError("[cluster_reroute] commands doesn't support values of type: "
                                 f"{'START_OBJECT' if isinstance(raw, dict) else 'VALUE_STRING'}")
    out = []
    for item in raw:
        if not isinstance(item, dict) or len(item) != 1:
            raise ParseError("allocation command is malformed, done parsing a command, but didn't get "
                             "END_OBJECT, got [FIELD_NAME] instead")
        [(name, fields)] = item.items()
        if name not in NAMES:
            raise XContentParseError("[cluster_reroute] failed to parse field [commands]",
                                     caused_by=XContentParseError(f"unknown field [{name}]"))
        if not isinstance(fields, dict):
            raise ParseError(f"allocation command [{name}] is malformed, expected an object")
        out.append(_parse_allocate(name, fields) if name in ALLOCATE else _parse_other(name, fields))
    return out


def _parse_allocate(name: str, fields: dict[str, Any]) -> Command:
    allowed = {"index", "shard", "node"} | ({"accept_data_loss"} if name != "allocate_replica" else set())
    for key in fields:
        if key not in allowed:
            raise XContentParseError(f"[{name}] unknown field [{key}]")
    index, shard, node = fields.get("index"), fields.get("shard"), fields.get("node")
    if index is None:
        raise IllegalArgument("Argument [index] must be defined")
    if not isinstance(shard, int) or isinstance(shard, bool) or shard < 0:
        raise IllegalArgument("Argument [shard] must be defined and non-negative")
    if node is None:
        raise IllegalArgument("Argument [node] must be defined")
    accept = fields.get("accept_data_loss", False)
    if not isinstance(accept, bool):
        raise XContentParseError(f"[{name}] failed to parse field [accept_data_loss]")
    return Command(name, str(index), shard, str(node), accept_data_loss=accept)


def _parse_other(name: str, fields: dict[str, Any]) -> Command:
    aliases = ({"index": "index", "shard": "shard", "node": "node", "allow_primary": "allow_primary",
                "allowPrimary": "allow_primary"} if name == "cancel" else
               {"index": "index", "shard": "shard", "from_node": "from_node", "fromNode": "from_node",
                "to_node": "to_node", "toNode": "to_node"})
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in aliases:
            raise ParseError(f"[{name}] command does not support field [{key}]")
        if isinstance(value, dict | list):
            raise ParseError(f"[{name}] command does not support complex json tokens "
                             f"[{'START_OBJECT' if isinstance(value, dict) else 'START_ARRAY'}]")
        values[aliases[key]] = value
    required = ("index", "shard", "node") if name == "cancel" else ("index", "shard", "from_node", "to_node")
    for key in required:
        if values.get(key) is None:
            raise ParseError(f"[{name}] command missing the {key} parameter")
    try:
        shard = int(values["shard"])
    except (TypeError, ValueError, OverflowError):
        shard = None
    if shard is None or not INT_MIN <= shard <= INT_MAX:
        raise ParseError(f"[{name}] failed to parse the shard parameter [{values['shard']}]")
    if name == "cancel":
        allow = values.get("allow_primary", False)
        return Command(name, str(values["index"]), shard, str(values["node"]),
                       allow_primary=allow is True or str(allow).lower() == "true")
    return Command(name, str(values["index"]), shard, from_node=str(values["from_node"]),
                   to_node=str(values["to_node"]))


# -- running them -------------------------------------------------------------------------------


class RerouteResult(NamedTuple):
    content: ClusterStateContent
    explanations: list[dict[str, Any]]
    # (node id, index uuid, shard): a shard folder to empty on that node before the state
    # carrying an empty primary there is published; and ones whose data must exist there.
    wipes: list[tuple[str, str, int]]
    store_checks: list[tuple[str, str, int]]


class Rejected(Exception):
    """A command that cannot run: raised as illegal_argument_exception, or a NO decision
    with `explain`."""

    def __init__(self, label: str, reason: str, prefix: str, decisions: list[Decision] | None = None,
                 explained: str | None = None):
        super().__init__(reason)
        self.label, self.reason, self.prefix, self.decisions = label, reason, prefix, decisions
        self.explained = explained if explained is not None else reason  # the NO decision's text


def describe_node(node: DiscoveryNode) -> str:
    """DiscoveryNode.toString, as ES's command errors print a node."""
    abbreviations = {"data": "d", "master": "m", "ingest": "i", "remote_cluster_client": "r",
                     "data_content": "s", "data_hot": "h", "data_warm": "w", "data_cold": "c",
                     "data_frozen": "f"}
    host = node.transport_address.rsplit(":", 1)[0]
    roles = "".join(sorted(abbreviations.get(r, r) for r in node.roles))
    out = f"{{{node.name}}}{{{node.id}}}{{{node.ephemeral_id}}}{{{host}}}{{{host}}}"
    out += f"{{{node.transport_address}}}{{{roles}}}"
    if node.attributes:
        out += "{" + ", ".join(f"{k}={v}" for k, v in sorted(node.attributes.items())) + "}"
    return out


def _multi(decisions: list[Decision]) -> str:
    return "".join(f"[{d.type}({d.explanation})]" for d in decisions)


def reset_failed(content: ClusterStateContent) -> ClusterStateContent:
    """retry_failed: unassigned copies that failed get a fresh count (MANUAL_ALLOCATION)."""
    routing = {}
    changed = False
    for name, copies in content.routing_table.indices.items():
        updated = []
        for c in copies:
            if c.node is None and c.failed_attempts > 0:
                c = msgspec.structs.replace(c, failed_attempts=0, unassigned_reason="MANUAL_ALLOCATION")
                changed = True
            updated.append(c)
        routing[name] = tuple(updated)
    if not changed:
        return content
    return _with_routing(content, routing)


def execute(content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], commands: list[Command], *,
            explain: bool = False, retry_failed: bool = False, now_ms: int | None = None,
            stores: Mapping[tuple[str, str, int], bool] | None = None, info: ClusterInfo = EMPTY,
            node_settings: Mapping[str, Any] = {}) -> RerouteResult:
    """The content after the commands and the reroute that follows; `stores` says which
    nodes hold data of a shard (allocate_stale_primary needs it), unknown ones assumed to."""
    clock = Clock(now_ms)
    if retry_failed:
        content = reset_failed(content)
    explanations: list[dict[str, Any]] = []
    wipes: list[tuple[str, str, int]] = []
    checks: list[tuple[str, str, int]] = []
    for command in commands:
        alloc = Allocation(content, nodes, info=info, node_settings=node_settings, debug=True,
                           include_yes=True)
        alloc.count(content.routing_table.indices)
        alloc.ignore_disable = True
        try:
            run = _RUN[command.name]
            content, decisions = run(content, alloc, command, clock, wipes, checks, stores or {})
        except Rejected as e:
            if not explain:
                if e.decisions is not None:
                    raise IllegalArgument(e.reason) from None
                raise IllegalArgument(f"[{e.prefix}] {e.reason}") from None
            decisions = e.decisions if e.decisions is not None else [Decision(NO, e.label, e.explained)]
        explanations.append({"command": command.name, "parameters": command.parameters(),
                             "decisions": [d.as_json() for d in decisions]})
    return RerouteResult(reroute(content, nodes, now_ms=clock(), info=info, node_settings=node_settings),
                         explanations, wipes, checks)


def _replace(content: ClusterStateContent, old: ShardRouting, new: ShardRouting,
             metadata=None) -> ClusterStateContent:
    routing = dict(content.routing_table.indices)
    routing[old.index] = tuple(new if c is old else c for c in routing[old.index])
    if metadata is not None:
        indices = {**content.metadata.indices, metadata.name: metadata}
        content = msgspec.structs.replace(content, metadata=msgspec.structs.replace(content.metadata,
                                                                                    indices=indices))
    return _with_routing(content, routing)


def _with_routing(content: ClusterStateContent, routing: dict[str, tuple[ShardRouting, ...]]):
    table = RoutingTable(content.routing_table.version + 1, routing)
    return msgspec.structs.replace(content, routing_table=table)


def _target(alloc: Allocation, command: Command, label: str) -> DiscoveryNode:
    """The command's node, which must hold data (explainOrThrowMissingRoutingNode)."""
    try:
        node = resolve_node(alloc.nodes, command.node)
    except IllegalArgument as e:
        raise Rejected(label, e.reason, command.name) from None
    if node.id not in alloc.data_nodes:
        if DATA_ROLES.isdisjoint(node.roles):
            raise Rejected(label, f"allocation can only be done on data nodes, not [{command.node}]",
                           command.name)
        raise Rejected(label, f"could not find [{command.node}] among the routing nodes", command.name)
    return node


def _copies(content: ClusterStateContent, command: Command, label: str) -> list[ShardRouting]:
    try:
        return shard_copies(content, command.index, command.shard)
    except StrataError as e:
        raise Rejected(label, e.reason, command.name) from None


def _allocate_replica(content, alloc, command, clock, wipes, checks, stores):
    label = f"{command.name} (allocation command)"
    node = _target(alloc, command, label)
    copies = _copies(content, command, label)
    where = f"[{command.index}][{command.shard}]"
    primary = next(c for c in copies if c.primary)
    if primary.node is None:
        raise Rejected(label, f"trying to allocate a replica shard {where}, while corresponding primary "
                       "shard is still unassigned", command.name)
    replica = next((c for c in copies if not c.primary and c.node is None), None)
    if replica is None:
        raise Rejected(label, f"all copies of {where} are already assigned. Use the move allocation command "
                       "instead", command.name)
    kind, decisions = decide(replica, alloc.data_nodes[node.id], copies, alloc)
    if kind == NO:
        raise Rejected(label, f"[{command.name}] allocation of {where} on node {describe_node(node)} is not "
                       f"allowed, reason: {_multi(decisions)}", command.name, decisions)
    return _replace(content, replica, initialize(replica, node, random_base64_uuid())), decisions


def _unassigned_primary(content, alloc, command, label) -> tuple[DiscoveryNode, ShardRouting]:
    node = _target(alloc, command, label)
    copies = _copies(content, command, label)
    primary = next(c for c in copies if c.primary)
    if primary.node is not None:
        raise Rejected(label, f"primary [{command.index}][{command.shard}] is already assigned", command.name)
    return node, primary


def _data_loss(command: Command) -> str:
    # ES says "empty" for both primary commands.
    return (f"allocating an empty primary for [{command.index}][{command.shard}] can result in data loss. "
            "Please confirm by setting the accept_data_loss parameter to true")


def _allocate_empty_primary(content, alloc, command, clock, wipes, checks, stores):
    label = f"{command.name} (allocation command)"
    node, primary = _unassigned_primary(content, alloc, command, label)
    metadata = content.metadata.indices[command.index]
    had_data = bool(metadata.in_sync(command.shard))
    # ES refuses any recovery source but an empty store without the flag: a shard being
    # restored loses its snapshot's data too, though nothing of it is in sync yet.
    if (had_data or metadata.restores(command.shard)) and not command.accept_data_loss:
        raise Rejected(label, _data_loss(command), command.name)
    if primary.unassigned_reason != "FORCED_EMPTY_PRIMARY":
        primary = msgspec.structs.replace(
            primary, unassigned_reason="FORCED_EMPTY_PRIMARY", failed_attempts=0, unassigned_at=clock(),
            unassigned_details=f"force empty allocation from previous reason {primary.unassigned_reason}, "
                               f"{primary.unassigned_details}")
    if had_data:  # a new history: a new term, and no copy in sync until this one starts
        metadata = metadata.with_in_sync(command.shard, ()).with_primary_term(
            command.shard, metadata.primary_terms[command.shard] + 1)
    metadata = metadata.starting_empty(command.shard)  # not restored from its snapshot again
    old = next(c for c in content.routing_table.indices[command.index]
               if c.shard == command.shard and c.primary)
    content = _replace(content, old, initialize(primary, node, random_base64_uuid()), metadata)
    wipes.append((node.id, metadata.uuid, command.shard))
    return content, [Decision(YES, label, "ignore deciders")]


def _allocate_stale_primary(content, alloc, command, clock, wipes, checks, stores):
    label = f"{command.name} (allocation command)"
    node, primary = _unassigned_primary(content, alloc, command, label)
    if not command.accept_data_loss:
        raise Rejected(label, _data_loss(command), command.name)
    metadata = content.metadata.indices[command.index]
    if not metadata.in_sync(command.shard):
        raise Rejected(label, f"trying to allocate an existing primary shard [{command.index}]"
                       f"[{command.shard}], while no such shard has ever been active", command.name)
    key = (node.id, metadata.uuid, command.shard)
    if not stores.get(key, True):
        raise Rejected(label, f"no copy of [{command.index}][{command.shard}] was found on node "
                       f"[{command.node}]", command.name)
    checks.append(key)
    metadata = metadata.with_in_sync(command.shard, (FORCED_ALLOCATION_ID,)).with_primary_term(
        command.shard, metadata.primary_terms[command.shard] + 1)
    content = _replace(content, primary, initialize(primary, node, random_base64_uuid()), metadata)
    return content, [Decision(YES, label, "ignore deciders")]


def _cancel(content, alloc, command, clock, wipes, checks, stores):
    label = "cancel_allocation_command"
    node = resolve_node(alloc.nodes, command.node)  # ES lets this one fail outright
    copies = shard_copies(content, command.index, command.shard) if node.id in alloc.data_nodes else []
    copy = next((c for c in copies if c.node == node.id), None)
    if copy is None:
        raise Rejected(label, f"can't cancel {command.shard}, failed to find it on node "
                       f"{describe_node(node)}", "cancel_allocation")
    if copy.primary and not command.allow_primary:
        raise Rejected(label, f"can't cancel {command.shard} on node {describe_node(node)}, shard is primary "
                       f"and {copy.state.lower()}", "cancel_allocation")
    if is_relocation_target(copy):
        # ES's failShard on a move's target: the target goes and its source serves on; left
        # unassigned it would be one copy too many once the reroute placed it.
        content = relocation_cancelled(content, copy)
    else:
        content = _replace(content, copy, unassign(copy, "REROUTE_CANCELLED", None, clock()))  # type: ignore[arg-type]
    return content, [Decision(YES, label, f"shard {command.shard} on node {describe_node(node)} can be "
                              "cancelled")]


def _move(content, alloc, command, clock, wipes, checks, stores):
    label = "move_allocation_command"
    source = resolve_node(alloc.nodes, command.from_node)
    target = resolve_node(alloc.nodes, command.to_node)
    where = f"[{command.index}][{command.shard}] from {describe_node(source)} to {describe_node(target)}"
    for node in (source, target):
        if node.id not in alloc.data_nodes:
            # (ES names the target "source" too.)
            raise IllegalArgument(f"[move_allocation] can't move {where}: source [{node.name}] is not a data "
                                  "node.")
    copies = shard_copies(content, command.index, command.shard)
    copy = next((c for c in copies if c.node == source.id), None)
    if copy is None:
        raise Rejected(label, f"can't move {command.shard}, failed to find it on node "
                       f"{describe_node(source)}", "move_allocation",
                       explained=f"shard {command.shard} not found")
    if copy.state != "STARTED":
        raise Rejected(label, f"can't move {command.shard}, shard is not started (state = {copy.state}]",
                       "move_allocation", explained=f"shard {command.shard} has not been started")
    kind, decisions = decide(copy, alloc.data_nodes[target.id], copies, alloc)
    if kind == NO:
        raise Rejected(label, f"[move_allocation] can't move {command.shard}, from {describe_node(source)}, "
                       f"to {describe_node(target)}, since its not allowed, reason: {_multi(decisions)}",
                       "move_allocation", decisions)
    moved = list(content.routing_table.indices[command.index])
    relocate(moved, next(i for i, c in enumerate(moved) if c is copy), alloc.nodes[target.id])
    routing = dict(content.routing_table.indices)
    routing[command.index] = tuple(moved)
    return _with_routing(content, routing), [Decision(YES, label, f"moving {where}")]


_RUN: dict[str, Callable[..., tuple[ClusterStateContent, list[Decision]]]] = {
    "allocate_replica": _allocate_replica,
    "allocate_empty_primary": _allocate_empty_primary,
    "allocate_stale_primary": _allocate_stale_primary,
    "cancel": _cancel,
    "move": _move,
}
