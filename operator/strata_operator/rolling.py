"""Rolling changes: a pure planner from the pods, their StatefulSets and what the cluster says
to the next pods to delete.

The StatefulSets use OnDelete: a changed pod template (new image, settings, resources) reaches
a pod only when the pod is deleted, and the operator decides when. A pod is out of date when
its `controller-revision-hash` label differs from its StatefulSet's `updateRevision`; that
revision is trusted only once the StatefulSet controller has observed the latest spec.

The rules, each a pitfall of operators that restart too eagerly:
- A pod is deleted only while every expected pod is running, ready and has its node in the
  cluster, no scale-down is in progress, no earlier restart is still on its way back, and
  the cluster is green or yellow, never red. Yellow is Elastic's operator's
  `require_started_replica` rule: a node restarts only when no shard copy is recovering
  and every copy the node holds has another started copy elsewhere, so the restart never
  turns the cluster red; a cluster of one node restarts anyway (it is yellow for good when
  an index has replicas, and nothing else could ever restart it). While the roll waits,
  the status says why, with the cluster's own allocation explain for a yellow or red
  cluster, instead of waiting silently.
- Before its pod is deleted a node gets a node shutdown of type `restart` with an
  `allocation_delay`, so its replicas wait for it rather than being copied elsewhere. The
  marker is deleted once the node is back (its pod on the new template and ready, its node
  in the cluster), as Elasticsearch's restart procedure does: the marker's work is done,
  and the replicas that waited may then recover onto it. The next restart waits for green.
- Data-only nodes go first, up to `updateStrategy.maxUnavailable` at once, a batch never
  taking the last started copy of a shard; master-eligible nodes go last, one at a time,
  those losing the master role after the others and the elected master last of all (one
  election instead of several).
- A node that comes back without the master role (its node set's roles changed) is
  excluded from the voting configuration first, as Elastic's operator does, with the
  scale-down's steps: one at a time, never the last master-eligible node, and its pod is
  deleted only once the voting configuration has dropped it. Restarted as an ordinary
  master, it would come back unable to vote and still counted in the quorum; a few such
  restarts leave a cluster that can never elect a master again. The scale-down's clean-up
  clears the exclusion once the node is no longer a master-eligible node of the cluster.
- Anything that cannot be read (the cluster, its health, shard placement) means nothing is
  deleted.

Called on every reconcile; one step per call, and the next reconcile sees what it changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .builders.common import LABEL_MASTER, LABEL_NODE_SET
from .cluster_client import ClusterClient
from .kube import Kube
from .scale_down import (
    EXCLUDE,
    LAST_MASTER,
    OUT_OF_VOTING,
    ClusterView,
    exclusion_busy,
    exclusion_message,
    exclusion_step,
    node_operation,
)

# Every restart marker the operator registers has a reason that starts with this and ends
# with the pod's name: how the operator knows its own markers, and the pod of a node that is
# not in the cluster (while it restarts).
RESTART_REASON = "strata-operator restart"
# How long a restarting node's replicas wait for it before they are copied to other nodes.
ALLOCATION_DELAY = "5m"
REVISION_LABEL = "controller-revision-hash"  # set by the StatefulSet controller on each pod
RESTART = "Restart"


@dataclass(frozen=True)
class NodeSetPods:
    """A StatefulSet as the planner needs it."""

    name: str  # the node set
    statefulset: str  # pods are <statefulset>-<ordinal>
    replicas: int
    master_eligible: bool  # per its current pod template
    observed: bool  # the controller has seen its latest spec, so updateRevision is current

    @property
    def expected(self) -> list[str]:
        return [f"{self.statefulset}-{i}" for i in range(self.replicas)]


@dataclass(frozen=True)
class Pod:
    name: str
    uid: str
    node_set: str
    ordinal: int
    up_to_date: bool  # on its StatefulSet's update revision
    ready: bool
    terminating: bool  # deletionTimestamp set


@dataclass(frozen=True)
class ShardCopy:
    index: str
    shard: int
    state: str  # STARTED, INITIALIZING, RELOCATING, UNASSIGNED
    node: str | None  # node name


@dataclass(frozen=True)
class HealthView:
    """The cluster's health and shard placement, read together (read_health_view)."""

    status: str  # green | yellow | red
    copies: tuple[ShardCopy, ...] = ()
    explanation: str | None = None  # why it is not green, from allocation explain


@dataclass(frozen=True)
class RestartAction:
    """`restart`: register a restart marker for node_id, then delete the pod (by uid);
    `delete_shutdown`: delete the operator's restart marker of node_id; `exclude`: exclude
    the node from the voting configuration (it comes back without the master role)."""

    kind: str
    pod: str
    node_id: str
    uid: str = ""


@dataclass
class RollingPlan:
    actions: list[RestartAction] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    problems: list[str] = field(default_factory=list)  # for the status message
    operations: list[dict[str, Any]] = field(default_factory=list)  # status.nodeOperations
    active: bool = False  # pods out of date or restarts in progress: phase ApplyingChanges
    stalled: bool = False  # cannot go on without a person: phase Stalled


def restart_reason(pod: str) -> str:
    return f"{RESTART_REASON} of {pod}"


def _marker_pod(reason: str) -> str | None:
    prefix = f"{RESTART_REASON} of "
    return reason[len(prefix) :] if reason.startswith(prefix) else None


# -- reading ----------------------------------------------------------------------------------


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def read_pods(
    statefulsets: list[Mapping[str, Any]], pods: list[Mapping[str, Any]]
) -> tuple[list[NodeSetPods], list[Pod]]:
    """The planner's view of the StatefulSets and of their pods (Kubernetes objects in)."""
    node_sets, out = [], []
    for sts in statefulsets:
        meta, spec, status = sts["metadata"], sts.get("spec") or {}, sts.get("status") or {}
        name = (meta.get("labels") or {}).get(LABEL_NODE_SET, "")
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        revision = status.get("updateRevision")
        node_sets.append(
            NodeSetPods(
                name=name,
                statefulset=meta["name"],
                replicas=int(spec.get("replicas") or 0),
                master_eligible=template_labels.get(LABEL_MASTER) == "true",
                observed=bool(revision)
                and int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0),
            )
        )
        prefix = f"{meta['name']}-"
        for pod in pods:
            pod_meta = pod["metadata"]
            pod_labels = pod_meta.get("labels") or {}
            if pod_labels.get(LABEL_NODE_SET) != name or not pod_meta["name"].startswith(prefix):
                continue
            out.append(
                Pod(
                    name=pod_meta["name"],
                    uid=pod_meta.get("uid", ""),
                    node_set=name,
                    ordinal=_ordinal(pod_meta["name"]),
                    up_to_date=bool(revision) and pod_labels.get(REVISION_LABEL) == revision,
                    ready=_ready(pod),
                    terminating=bool(pod_meta.get("deletionTimestamp")),
                )
            )
    return node_sets, out


def rolled_out(node_set: NodeSetPods, pods: list[Pod]) -> bool:
    """Whether every expected pod of a node set is there, ready and on its StatefulSet's
    update revision, the controller having observed the latest spec. Read from the pods, as
    Elastic's operator reads it: under OnDelete the StatefulSet controller never moves
    status.currentRevision to the update revision (kubernetes/kubernetes#73492)."""
    by_name = {p.name: p for p in pods}
    return node_set.observed and all(
        (pod := by_name.get(name)) is not None and pod.up_to_date and pod.ready and not pod.terminating
        for name in node_set.expected
    )


def describe_explain(body: Mapping[str, Any] | None) -> str:
    """One sentence from an allocation explain answer: which copy, why, and the first node's
    first refusing decider (the rest is one API call away)."""
    if body is None:
        return "no shard copy is unassigned (shards are initializing or relocating)"
    role = "primary" if body.get("primary") else "replica"
    where = f"{role} of [{body.get('index')}][{body.get('shard')}]"
    state = body.get("current_state", "unassigned")
    reason = (body.get("unassigned_info") or {}).get("reason")
    text = f"{where} is {state}" + (f" ({reason})" if reason else "")
    why = body.get("allocate_explanation") or body.get("explanation")
    if why:
        text += f": {why}"
    for decision in body.get("node_allocation_decisions") or []:
        deciders = decision.get("deciders") or []
        if deciders:
            first = deciders[0]
            text += f"; node {decision.get('node_name')}: [{first.get('decider')}] {first.get('explanation')}"
            break
    return text


def read_health_view(client: ClusterClient) -> HealthView:
    """Raises ClusterUnavailable when any part cannot be read."""
    status = str(client.health().get("status"))
    copies = tuple(
        ShardCopy(str(r.get("index")), int(r.get("shard") or 0), str(r.get("state")), r.get("node"))
        for r in client.shards()
    )
    explanation = None if status == "green" else describe_explain(client.allocation_explain())
    return HealthView(status, copies, explanation)


# -- planning ---------------------------------------------------------------------------------


def plan_rolling_restart(
    node_sets: list[NodeSetPods],
    pods: list[Pod],
    view: ClusterView | None,
    health: HealthView | None,
    *,
    max_unavailable: int = 1,
    hold: str = "",
    unreadable: str = "",
) -> RollingPlan:
    """The next step of a rolling restart. `view` or `health` None: the cluster could not be
    read (`unreadable` says why), so nothing is deleted. `hold`: a reason, found elsewhere,
    not to start a restart now (a scale-down in progress, an object not applied)."""
    plan = RollingPlan()
    expected = {name: ns for ns in node_sets for name in ns.expected}
    by_name = {p.name: p for p in pods}
    outdated = [p for p in pods if p.name in expected and not p.up_to_date]
    markers = {} if view is None else _restart_markers(view)
    if not outdated and not markers:
        return plan
    plan.active = True
    if view is None or health is None:
        names = sorted(p.name for p in outdated)
        plan.problems.append(
            f"pods {names} on an older template are not restarted: the cluster cannot be asked: {unreadable}"
        )
        return plan

    in_flight, resumed = [], []
    for node_id, pod_name in sorted(markers.items(), key=lambda item: item[1]):
        pod = by_name.get(pod_name)
        if pod_name not in expected:
            if node_id not in view.nodes.values():
                _clear(plan, pod_name, node_id, f"node {pod_name} left the cluster and is not expected back")
            continue
        waiting = _not_back(pod, pod_name, view)
        if waiting is None:
            _clear(
                plan,
                pod_name,
                node_id,
                f"node {pod_name} is back on the new template and in the cluster",
                reason="NodeRestarted",
            )
        elif pod is not None and not pod.up_to_date and not pod.terminating:
            resumed.append(pod)  # marked, but the delete did not happen: this step goes on
        else:
            in_flight.append(pod_name)
            started = view.shutdowns[node_id].started_millis
            plan.operations.append(node_operation(pod_name, RESTART, f"restarting: {waiting}", started))
    if in_flight:
        plan.problems.append(f"waiting for {in_flight} to come back before the next restart")
        return plan
    if not outdated:  # every marker left is being deleted: the rolling restart is over
        plan.active = False
        return plan
    if any(a.kind == "delete_shutdown" for a in plan.actions):
        # The next restart is planned from a fresh read, once the marker is gone.
        _wait_turn(plan, outdated)
        return plan

    masters = {p.name for p in outdated if p.name in view.master_eligible or expected[p.name].master_eligible}
    losing = {p.name for p in outdated if _loses_master_role(p.name, expected, view)}
    order = resumed or _restart_order(outdated, masters, losing, view)
    blocker = _blocker(node_sets, pods, view, health, hold)
    if blocker is None and health.status == "yellow" and len(expected) > 1:
        order, blocker = _yellow_candidates(order, masters, view, health)
    if blocker is not None:
        plan.problems.append(f"pods {sorted(p.name for p in outdated)} on an older template wait: {blocker}")
        plan.operations.append(node_operation(order[0].name, RESTART, f"next to restart, waiting: {blocker}"))
        if health.status != "green" and not hold and not _recovering(health):
            plan.events.append(("Warning", "RestartWaiting", blocker))
        return plan

    batch = order[:1] if resumed else _batch(order, masters, health, max_unavailable)
    if batch[0].name in losing and not _out_of_voting(plan, batch[0].name, view, expected):
        _wait_turn(plan, [p for p in outdated if p is not batch[0]])
        return plan
    for pod in batch:
        node_id = view.nodes[pod.name]
        message = (
            f"node {pod.name}: node shutdown of type restart registered (allocation_delay "
            f"{ALLOCATION_DELAY}), pod deleted to take the new pod template"
        )
        if pod.name in losing:
            message += " without the master role (it left the voting configuration first)"
        if health.status == "yellow":
            message += (
                f"; the cluster is yellow ({health.explanation}) and every shard copy on the node "
                "has another started copy"
            )
        plan.actions.append(RestartAction("restart", pod.name, node_id, pod.uid))
        plan.events.append(("Normal", "RestartStarted", message))
        if node_id in view.voters and len(view.voters) - 1 <= len(view.voters) // 2:
            plan.events.append(("Warning", "MasterQuorumLost", _quorum_lost(pod.name, len(view.voters))))
        plan.operations.append(node_operation(pod.name, RESTART, message))
    _wait_turn(plan, [p for p in outdated if p not in batch])
    return plan


def _quorum_lost(pod: str, voters: int) -> str:
    """Restarting one of fewer than three voters is what Elastic's operator does too: the
    cluster elects again within seconds of the node's return, and holding the roll back
    would keep the change from such a cluster for ever. The Event says what it costs."""
    return (
        f"node {pod} is one of {voters} voting master-eligible node(s): the cluster has no elected "
        "master (no writes, no cluster changes) until it is back; three master-eligible nodes keep a "
        "quorum through a restart"
    )


def _loses_master_role(name: str, expected: Mapping[str, NodeSetPods], view: ClusterView) -> bool:
    """A master-eligible node of the cluster whose node set's template no longer is."""
    return name in view.master_eligible and not expected[name].master_eligible


def _out_of_voting(
    plan: RollingPlan, pod: str, view: ClusterView, expected: Mapping[str, NodeSetPods]
) -> bool:
    """The voting exclusion of a node that is to come back without the master role (the
    scale-down's steps); True once the voting configuration no longer has it. Nodes of no
    expected pod are on their way out and do not count as masters left."""
    departing = {name for name in view.nodes if name not in expected}
    step = exclusion_step(view, pod, departing, exclusion_busy(view, pod))
    if step == OUT_OF_VOTING:
        return True
    if step == EXCLUDE:
        message = (
            f"node {pod} excluded from the voting configuration before it restarts without the master role"
        )
        plan.actions.append(RestartAction("exclude", pod, view.nodes[pod]))
        plan.events.append(("Normal", "VotingExclusionAdded", message))
    else:
        why = ", so it does not restart" if step == LAST_MASTER else " before it restarts"
        message = f"{exclusion_message(view, pod, step)}{why} without the master role"
        plan.problems.append(message)
        plan.stalled = step == LAST_MASTER
    plan.operations.append(node_operation(pod, "Exclude", message))
    return False


def _wait_turn(plan: RollingPlan, pods: list[Pod]) -> None:
    if pods:
        plan.problems.append(f"pods {sorted(p.name for p in pods)} on an older template wait for their turn")


def _restart_markers(view: ClusterView) -> dict[str, str]:
    """The operator's restart markers: node id -> pod name."""
    out = {}
    for node_id, marker in view.shutdowns.items():
        pod = _marker_pod(marker.reason)
        if marker.type == "RESTART" and pod is not None:
            out[node_id] = pod
    return out


def _clear(plan: RollingPlan, pod: str, node_id: str, why: str, reason: str = "ShutdownCleared") -> None:
    plan.actions.append(RestartAction("delete_shutdown", pod, node_id))
    plan.events.append(("Normal", reason, f"{why}; its restart marker is deleted"))


def _not_back(pod: Pod | None, name: str, view: ClusterView) -> str | None:
    """None when a restarted node is back; else what it is waiting for."""
    if pod is None:
        return f"pod {name} is not recreated yet"
    if pod.terminating:
        return f"pod {name} is terminating"
    if not pod.up_to_date:
        return f"pod {name} is still on the older template"
    if not pod.ready:
        return f"pod {name} is not ready yet"
    if name not in view.nodes:
        return f"node {name} has not joined the cluster yet"
    return None


def _recovering(health: HealthView) -> bool:
    """Shard copies are on their way (after a restart, the usual yellow): no Warning for it."""
    return any(c.state in ("INITIALIZING", "RELOCATING") for c in health.copies)


def _blocker(
    node_sets: list[NodeSetPods], pods: list[Pod], view: ClusterView, health: HealthView, hold: str
) -> str | None:
    """Why no pod may be deleted now, or None."""
    if hold:
        return hold
    unobserved = sorted(ns.statefulset for ns in node_sets if not ns.observed)
    if unobserved:
        return f"the StatefulSet controller has not observed the latest spec of {unobserved} yet"
    if health.status not in ("green", "yellow"):
        return f"the cluster is {health.status}, and no node is restarted while it is: {health.explanation}"
    by_name = {p.name: p for p in pods}
    for ns in node_sets:
        for name in ns.expected:
            pod = by_name.get(name)
            if pod is None or pod.terminating or not pod.ready:
                return f"pod {name} is not running and ready"
            if name not in view.nodes:
                return f"node {name} is not in the cluster"
    return None


def _started_copies(health: HealthView) -> dict[tuple[str, int], set[str]]:
    """Shard -> the nodes holding a started copy of it."""
    started: dict[tuple[str, int], set[str]] = {}
    for copy in health.copies:
        if copy.state == "STARTED" and copy.node:
            started.setdefault((copy.index, copy.shard), set()).add(copy.node)
    return started


def _only_copies(node: str, started: Mapping[tuple[str, int], set[str]]) -> list[str]:
    """The shards whose only started copy is on the node."""
    return sorted(f"[{index}][{shard}]" for (index, shard), nodes in started.items() if nodes == {node})


def _yellow_candidates(
    order: list[Pod], masters: set[str], view: ClusterView, health: HealthView
) -> tuple[list[Pod], str | None]:
    """The pods of the next turn (the first pod's: data-only, master-eligible, or the elected
    master) that may restart while the cluster is yellow, or why none may: a recovery in
    progress (it may well end green), or each holding the only started copy of a shard."""
    if _recovering(health):
        return order, (
            "the cluster is yellow while shard copies recover; the next restart waits for them: "
            f"{health.explanation}"
        )
    started = _started_copies(health)

    def turn(pod: Pod) -> tuple[bool, bool]:
        return pod.name in masters, pod.name == view.master

    group = [p for p in order if turn(p) == turn(order[0])]
    allowed = [p for p in group if not _only_copies(p.name, started)]
    if allowed:
        return allowed, None
    held = "; ".join(
        f"{p.name} holds the only started copy of {', '.join(_only_copies(p.name, started))}" for p in group
    )
    return order, (
        f"the cluster is yellow ({health.explanation}), and a node restarts while it is yellow only "
        f"when every shard copy it holds has another started copy (restarting it would make the "
        f"cluster red): {held}"
    )


def _restart_order(pods: list[Pod], masters: set[str], losing: set[str], view: ClusterView) -> list[Pod]:
    """Data-only nodes first, then master-eligible ones (`masters`: as the cluster knows the
    node now, or as its StatefulSet will make it), those `losing` the master role after the
    others (a node set that takes the role over has it first), and the elected master last;
    highest ordinal first within a node set."""
    return sorted(
        pods,
        key=lambda p: (p.name in masters, p.name == view.master, p.name in losing, p.node_set, -p.ordinal),
    )


def _batch(order: list[Pod], masters: set[str], health: HealthView, max_unavailable: int) -> list[Pod]:
    """The first pod in order, and with it up to max_unavailable data-only pods in all,
    as long as each one added leaves every shard that had a started copy outside the batch
    one still (a master-eligible node always goes alone)."""
    batch = [order[0]]
    if order[0].name in masters:
        return batch
    started = _started_copies(health)
    for pod in order[1:]:
        if len(batch) >= max_unavailable or pod.name in masters:
            break
        leaving = {p.name for p in batch}
        if all(not (nodes - leaving) or nodes - leaving - {pod.name} for nodes in started.values()):
            batch.append(pod)
    return batch


def run_restart_actions(
    client: ClusterClient, kube: Kube, namespace: str, actions: list[RestartAction]
) -> None:
    """Send a plan's requests in order; the first failure raises (ClusterUnavailable,
    kube.DeleteError), so a pod is never deleted unless its restart marker was registered
    first. A marker registered whose pod delete failed is picked up again by the next plan."""
    for action in actions:
        if action.kind == "restart":
            client.put_shutdown(action.node_id, "restart", restart_reason(action.pod), ALLOCATION_DELAY)
            kube.delete("v1", "Pod", namespace, action.pod, action.uid)
        elif action.kind == "exclude":
            client.add_voting_exclusion(action.pod)
        elif action.kind == "delete_shutdown":
            client.delete_shutdown(action.node_id)
        else:
            raise ValueError(f"unknown action [{action.kind}]")
