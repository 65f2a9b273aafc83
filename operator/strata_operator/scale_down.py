"""Scaling a node set down without losing data: a pure planner from what the StatefulSets and
the cluster say to the next requests and the replica counts to apply.

The highest ordinals leave. Each leaving node gets a node shutdown of type `remove`, which
moves its shard copies to other nodes; a master-eligible one is first excluded from the
voting configuration, one at a time and never the last master-eligible node. A StatefulSet
shrinks past a node only once its shutdown reports COMPLETE (and, for a master-eligible
node, once the voting configuration has dropped it), and only from the top: a drained node
below one still draining waits. Everything the planner cannot read counts as "not
drained": a cluster that does not answer, a node that is not in the cluster, a shutdown
it has not reported. Once the nodes are gone the operator's shutdown markers are deleted
and the voting exclusions cleared, so nothing left behind blocks later allocation or
elections. The exclusion steps are shared with rolling.py, which excludes a node that is
to come back without the master role; its exclusion is cleared here too, once the node is
no longer a master-eligible node of the cluster.

The planner is called on every reconcile and does one step per call; the next reconcile
sees what that step changed."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .cluster_client import ClusterClient

MIGRATING, STALLED = "MigratingData", "Stalled"
# Every shutdown marker the operator registers has a reason that starts with this: the
# operator deletes only its own markers, never one a person or another tool put there.
SHUTDOWN_REASON = "strata-operator scale-down"
REMOVE = "REMOVE"
COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class NodeSetScale:
    """A node set's StatefulSet as it is (`current` replicas) and the count the spec asks."""

    name: str
    statefulset: str  # pods are <statefulset>-<ordinal>
    current: int
    desired: int
    master_eligible: bool = True  # per the pod template the spec makes

    def pod(self, ordinal: int) -> str:
        return f"{self.statefulset}-{ordinal}"

    @property
    def leaving(self) -> list[str]:
        """The pods that leave, highest ordinal first."""
        return [self.pod(i) for i in range(self.current - 1, self.desired - 1, -1)]

    @property
    def staying(self) -> list[str]:
        return [self.pod(i) for i in range(min(self.current, self.desired))]


@dataclass(frozen=True)
class Shutdown:
    """One node shutdown marker and its status, as GET /_nodes/shutdown reports it."""

    node_id: str
    type: str  # RESTART | REMOVE | REPLACE
    reason: str
    status: str  # COMPLETE | IN_PROGRESS | STALLED | NOT_STARTED
    shards_remaining: int | None = None
    explanation: str | None = None
    started_millis: int | None = None


@dataclass(frozen=True)
class ClusterView:
    """What the planner needs to know of the cluster, read all at once (read_cluster_view):
    a planner never works from half a view."""

    nodes: Mapping[str, str]  # node name -> node id, every node in the cluster
    master_eligible: frozenset[str]  # node names
    shutdowns: Mapping[str, Shutdown]  # node id -> marker
    exclusions: Mapping[str, str]  # node id -> node name, the voting configuration exclusions
    voters: frozenset[str]  # node ids in the last committed or last accepted voting configuration
    master: str | None = None  # the elected master's node name


def read_cluster_view(client: ClusterClient) -> ClusterView:
    """Raises ClusterUnavailable when any part cannot be read."""
    rows = client.nodes()
    shutdowns = {}
    for entry in client.shutdowns():
        migration = entry.get("shard_migration") or {}
        shutdowns[entry["node_id"]] = Shutdown(
            node_id=entry["node_id"],
            type=str(entry.get("type", "")).upper(),
            reason=str(entry.get("reason", "")),
            status=str(entry.get("status", "")),
            shards_remaining=migration.get("shard_migrations_remaining"),
            explanation=migration.get("explanation"),
            started_millis=entry.get("shutdown_startedmillis"),
        )
    coordination = client.voting_configuration()
    return ClusterView(
        nodes={row["name"]: row["id"] for row in rows},
        master_eligible=frozenset(row["name"] for row in rows if "m" in (row.get("node.role") or "")),
        shutdowns=shutdowns,
        exclusions={
            e["node_id"]: e.get("node_name", "") for e in coordination.get("voting_config_exclusions") or []
        },
        voters=frozenset(coordination.get("last_committed_config") or [])
        | frozenset(coordination.get("last_accepted_config") or []),
        master=client.master_node(),
    )


@dataclass(frozen=True)
class Action:
    """One request to the cluster: `shutdown` (PUT a remove marker for node_id), `exclude`
    (POST a voting exclusion of node_name), `delete_shutdown` (node_id), `clear_exclusions`."""

    kind: str
    node_name: str | None = None
    node_id: str | None = None


@dataclass
class ScaleDownPlan:
    replicas: dict[str, int] = field(default_factory=dict)  # node set -> replicas to apply now
    actions: list[Action] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    problems: list[str] = field(default_factory=list)  # for the status message
    stalled: bool = False
    migrating: bool = False
    operations: list[dict[str, Any]] = field(default_factory=list)  # status.nodeOperations

    @property
    def phase(self) -> str | None:
        """Stalled, MigratingData, or None when no node is waiting to leave."""
        return STALLED if self.stalled else MIGRATING if self.migrating else None


def shutdown_reason(node: str) -> str:
    return f"{SHUTDOWN_REASON} of {node}"


def _started_at(millis: int | None) -> str | None:
    if millis is None:
        return None
    moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_operation(node: str, operation: str, message: str, started: int | None = None) -> dict[str, Any]:
    """One entry of status.nodeOperations (`startedAt` from the marker's start, when known)."""
    out: dict[str, Any] = {"node": node, "operation": operation, "message": message}
    started_at = _started_at(started)
    if started_at:
        out["startedAt"] = started_at
    return out


def plan_scale_down(
    node_sets: list[NodeSetScale], view: ClusterView | None, unreadable: str = ""
) -> ScaleDownPlan:
    """The next step of every scale-down in progress. `view` is None when the cluster could
    not be read (`unreadable` says why): then nothing leaves."""
    plan = ScaleDownPlan()
    shrinking = [ns for ns in node_sets if ns.current > ns.desired]
    for ns in shrinking:
        plan.replicas[ns.name] = ns.current
    if view is None:
        if shrinking:
            leaving = [pod for ns in shrinking for pod in ns.leaving]
            plan.stalled = True
            plan.problems.append(
                f"nodes {leaving} stay until the cluster says they are drained, and it cannot be "
                f"asked: {unreadable}"
            )
        return plan

    leaving = [pod for ns in shrinking for pod in ns.leaving]
    staying = {pod for ns in node_sets for pod in ns.staying}
    # In the cluster and neither staying nor leaving: a pod past its StatefulSet's replicas,
    # on its way out (terminating), or of a node set the operator does not scale.
    departing = {name for name in view.nodes if name not in staying and name not in leaving}
    ready: dict[str, bool] = {}
    for pod in leaving:
        busy = exclusion_busy(view, pod) or any(a.kind == "exclude" for a in plan.actions)
        ready[pod] = _plan_node(plan, view, pod, departing, busy)

    for ns in shrinking:
        replicas = ns.current
        for ordinal in range(ns.current - 1, ns.desired - 1, -1):
            if not ready[ns.pod(ordinal)]:
                break
            replicas = ordinal
        plan.replicas[ns.name] = replicas
        if replicas < ns.current:
            gone = [ns.pod(i) for i in range(replicas, ns.current)]
            plan.events.append(
                (
                    "Normal",
                    "ScaledDown",
                    f"StatefulSet {ns.statefulset}: {ns.current} -> {replicas} replicas; {gone} drained",
                )
            )
    _clean_up(plan, view, staying, set(leaving) | departing | losing_master_role(node_sets, view))
    return plan


def losing_master_role(node_sets: list[NodeSetScale], view: ClusterView) -> set[str]:
    """Staying nodes still master-eligible whose node set's template no longer is: each
    keeps its voting exclusion until it is back without the master role (rolling.py)."""
    return {
        pod
        for ns in node_sets
        if not ns.master_eligible
        for pod in ns.staying
        if pod in view.master_eligible
    }


def _step(plan: ScaleDownPlan, action: Action, reason: str, message: str, operation: str) -> None:
    """A disruptive request for a leaving node: sent, told as an Event, shown on the node."""
    plan.actions.append(action)
    plan.events.append(("Normal", reason, message))
    plan.migrating = True
    plan.operations.append(node_operation(action.node_name or "", operation, message))


def _plan_node(
    plan: ScaleDownPlan, view: ClusterView, pod: str, departing: set[str], busy: bool
) -> bool:
    """One leaving node's next step; True when it may go (drained, out of the voting
    configuration)."""
    node_id = view.nodes.get(pod)
    if node_id is None:
        plan.stalled = True
        message = (
            f"node {pod} is to leave but is not in the cluster, so whether it holds data cannot "
            "be told; it stays until it joins and drains"
        )
        plan.problems.append(message)
        plan.operations.append(node_operation(pod, "Remove", message))
        return False
    may_go = True
    if pod in view.master_eligible:
        may_go = _plan_exclusion(plan, view, pod, departing, busy)
    marker = view.shutdowns.get(node_id)
    if marker is None or marker.type != REMOVE:
        _step(
            plan,
            Action("shutdown", pod, node_id),
            "DrainStarted",
            f"node {pod}: node shutdown of type remove registered; its shards move to other nodes",
            "Remove",
        )
        return False
    if marker.status == COMPLETE:
        return may_go
    if marker.status == "STALLED":
        plan.stalled = True
        message = f"node {pod} cannot drain: {marker.explanation or 'the cluster gives no explanation'}"
        plan.problems.append(message)
        plan.events.append(("Warning", "DrainStalled", message))
    else:
        plan.migrating = True
        remaining = "unknown" if marker.shards_remaining is None else marker.shards_remaining
        message = f"node {pod} is draining: {remaining} shard copies left to move ({marker.status})"
        plan.problems.append(message)
    plan.operations.append(node_operation(pod, "Remove", message, marker.started_millis))
    return False


# The steps of a master-eligible node's way out of the voting configuration (exclusion_step).
OUT_OF_VOTING = "out of voting"  # excluded, and the voting configuration no longer has it
DROPPING = "dropping"  # excluded, still in the voting configuration
LAST_MASTER = "last master"  # no other master-eligible node would be left: never excluded
TURN = "turn"  # another excluded node is still in the cluster: one at a time
EXCLUDE = "exclude"  # to be excluded now


def exclusion_busy(view: ClusterView, node: str) -> bool:
    """Whether another excluded node is still in the cluster: one master-eligible node leaves
    the voting configuration at a time (it, and the quorum it needs, change by one)."""
    in_cluster = set(view.nodes.values())
    return any(node_id in in_cluster for node_id in view.exclusions if node_id != view.nodes.get(node))


def exclusion_step(view: ClusterView, node: str, departing: set[str], busy: bool) -> str:
    """The next step of a master-eligible node in the cluster that must leave the voting
    configuration before it goes (a scale-down) or comes back without the master role (a
    rolling change). `departing`: nodes on their way out, which do not count as masters
    left; `busy`: another node is being excluded."""
    node_id = view.nodes[node]
    if node_id in view.exclusions:
        return DROPPING if node_id in view.voters else OUT_OF_VOTING
    others = [
        name
        for name in view.master_eligible
        if name != node and name not in departing and view.nodes[name] not in view.exclusions
    ]
    if not others:
        return LAST_MASTER
    return TURN if busy else EXCLUDE


def exclusion_message(view: ClusterView, node: str, step: str) -> str:
    """What a node whose exclusion step waits (DROPPING, LAST_MASTER or TURN) tells, in the
    status and on its operation."""
    if step == DROPPING:
        message = f"node {node} is excluded from voting; waiting for the voting configuration to drop it"
        if view.master == node:
            message += " (it is the elected master, which must hand over to another master-eligible node)"
        return message
    if step == LAST_MASTER:
        return f"node {node} is the last master-eligible node of the cluster; it is never excluded"
    return f"node {node} waits for its turn to leave the voting configuration (one at a time)"


def _plan_exclusion(
    plan: ScaleDownPlan, view: ClusterView, pod: str, departing: set[str], busy: bool
) -> bool:
    """A master-eligible leaving node's voting exclusion; True once the voting configuration
    no longer has it."""
    step = exclusion_step(view, pod, departing, busy)
    if step == OUT_OF_VOTING:
        return True
    if step == EXCLUDE:
        _step(
            plan,
            Action("exclude", pod, view.nodes[pod]),
            "VotingExclusionAdded",
            f"node {pod} excluded from the voting configuration before it leaves",
            "Exclude",
        )
        return False
    message = exclusion_message(view, pod, step)
    if step == LAST_MASTER:
        plan.stalled = True
    else:
        plan.migrating = True
    if step != TURN:  # waiting for its turn is the scale-down going on, not a problem
        plan.problems.append(message)
    plan.operations.append(node_operation(pod, "Exclude", message))
    return False


def _clean_up(plan: ScaleDownPlan, view: ClusterView, staying: set[str], going: set[str]) -> None:
    """The operator's shutdown markers of nodes that left the cluster or stay after all (a
    scale-down called off); the voting exclusions once no excluded node is on its way out
    (`going`: leaving, or to come back without the master role)."""
    names = {node_id: name for name, node_id in view.nodes.items()}
    for node_id, marker in sorted(view.shutdowns.items()):
        if not marker.reason.startswith(SHUTDOWN_REASON):
            continue
        name = names.get(node_id)
        if name is None or name in staying:
            plan.actions.append(Action("delete_shutdown", name, node_id))
            why = "it left the cluster" if name is None else f"node {name} stays"
            plan.events.append(("Normal", "ShutdownCleared", f"node shutdown of {node_id} deleted: {why}"))
    still_needed = any(names.get(node_id) in going for node_id in view.exclusions)
    if view.exclusions and not still_needed and not any(a.kind == "exclude" for a in plan.actions):
        plan.actions.append(Action("clear_exclusions"))
        plan.events.append(
            (
                "Normal",
                "VotingExclusionsCleared",
                f"voting configuration exclusions {sorted(view.exclusions.values())} cleared",
            )
        )


def run_actions(client: ClusterClient, actions: list[Action]) -> None:
    """Send a plan's requests in order; the first failure raises ClusterUnavailable (the next
    reconcile reads the cluster again and plans from what did happen)."""
    for action in actions:
        if action.kind == "exclude":
            client.add_voting_exclusion(action.node_name or "")
        elif action.kind == "shutdown":
            client.put_shutdown(action.node_id or "", "remove", shutdown_reason(action.node_name or ""))
        elif action.kind == "delete_shutdown":
            client.delete_shutdown(action.node_id or "")
        elif action.kind == "clear_exclusions":
            client.clear_voting_exclusions()
        else:
            raise ValueError(f"unknown action [{action.kind}]")
