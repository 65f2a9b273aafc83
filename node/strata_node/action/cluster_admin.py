"""Cluster-level actions that run on the elected master: update cluster settings, add and
clear voting configuration exclusions, tell a node which state the master has applied
(so a non-local read on another node waits until it has caught up with the master), and
list the master's pending cluster state updates (`_cluster/pending_tasks`).

`register(node)` wires these, the nodes stats action, and the node's ClusterSettings
accessor (the effective value of dynamic settings, read by the write and search paths).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from ..cluster.state import ABSENT, ClusterStateContent, VotingConfigExclusion
from ..common.cluster_settings import ClusterSettings, apply_update, check_consistent
from ..common.errors import IllegalArgument, StrataError
from ..reservedstate.cluster_settings import NAME as RESERVED_HANDLER
from ..reservedstate.metadata import refuse_reserved
from ..settings import flatten
from ..tasks.task import Task
from ..transport.wire import Empty, Message
from . import nodes_stats
from .master import MasterNodeRequest

UPDATE_SETTINGS = "cluster:admin/settings/update"
ADD_VOTING_EXCLUSIONS = "cluster:admin/voting_config/add_exclusions"
CLEAR_VOTING_EXCLUSIONS = "cluster:admin/voting_config/clear_exclusions"
STATE_VERSION = "cluster:monitor/state/version"
PENDING_TASKS = "cluster:monitor/task"  # PendingClusterTasksAction


class TimedOut(StrataError):
    """ElasticsearchTimeoutException."""

    type = "elasticsearch_timeout_exception"
    status = 429


class UpdateSettingsRequest(MasterNodeRequest):
    persistent: dict[str, Any] = {}
    transient: dict[str, Any] = {}
    timeout: float = 30.0  # how long to wait for every node to apply it (the ack timeout)


class UpdateSettingsResponse(Message):
    persistent: dict[str, Any] = {}
    transient: dict[str, Any] = {}
    acknowledged: bool = True


class AddExclusionsRequest(MasterNodeRequest):
    node_ids: list[str] = []
    node_names: list[str] = []
    timeout: float = 30.0


class ClearExclusionsRequest(MasterNodeRequest):
    wait_for_removal: bool = True
    timeout: float = 30.0


class StateVersionRequest(MasterNodeRequest):
    """Which state the master has applied (what a read that must not be stale waits for).
    With `wait_for_events` (a priority), the master first runs an empty update of that
    priority, so every update queued before it has been applied (the health's
    wait_for_events)."""

    wait_for_events: str | None = None


class StateVersion(Message):
    term: int
    version: int
    # the master's queue when it answered (the health's number_of_pending_tasks and
    # task_max_waiting_in_queue_millis)
    pending_tasks: int = 0
    max_task_wait_millis: int = 0


class PendingTasksRequest(MasterNodeRequest):
    pass


class PendingTasksResponse(Message):
    tasks: list[dict[str, Any]]


def modified_settings(request: UpdateSettingsRequest, metadata, persistent: dict[str, Any],
                      transient: dict[str, Any]) -> set[str]:
    """The keys a settings update names, and any a wildcard reset would remove: a reserved
    key may not change through either."""
    named = set(flatten(request.persistent)) | set(flatten(request.transient))
    scopes = ((metadata.persistent_settings, persistent), (metadata.transient_settings, transient))
    for before, after in scopes:
        named |= {key for key in before if before.get(key) != after.get(key)}
    return named


def describe_settings_request(request: UpdateSettingsRequest) -> str:
    def text(settings: dict[str, Any]) -> str:
        return orjson.dumps(flatten(settings)).decode()
    return (f"ClusterUpdateSettingsRequest{{persistentSettings={text(request.persistent)}, "
            f"transientSettings={text(request.transient)}}}")


def _describe(exclusions) -> str:
    return "[" + ", ".join(f"{{{e.node_id}}}{{{e.node_name}}}" for e in exclusions) + "]"


def resolve_exclusions(state, node_ids: list[str], node_names: list[str]) -> list[VotingConfigExclusion]:
    """AddVotingConfigExclusionsRequest.resolveVotingConfigExclusions: nodes present in the
    cluster by id or name (master-eligible ones only); absent ones with `_absent_` for the
    part not known."""
    details = dict(state.node_details) if state is not None else {}
    members = set(state.nodes) if state is not None else set()
    out: list[VotingConfigExclusion] = []
    if node_ids:
        for node_id in node_ids:
            node = details.get(node_id)
            if node_id in members and node is not None:
                if node.is_master_eligible:
                    out.append(VotingConfigExclusion(node_id, node.name))
            elif node_id in members:
                out.append(VotingConfigExclusion(node_id, ABSENT))
            else:
                out.append(VotingConfigExclusion(node_id, ABSENT))
    else:
        by_name: dict[str, Any] = {}
        for node_id in sorted(members):
            node = details.get(node_id)
            if node is None:
                continue
            if node.name in by_name:
                other = by_name[node.name]
                raise IllegalArgument(
                    f"node name [{node.name}] is ambiguous, matching [{{{other.name}}}"
                    f"{{{other.id}}}] and [{{{node.name}}}{{{node.id}}}]; specify node ID instead"
                )
            by_name[node.name] = node
        for name in node_names:
            node = by_name.get(name)
            if node is not None:
                if node.is_master_eligible:
                    out.append(VotingConfigExclusion(node.id, node.name))
            else:
                out.append(VotingConfigExclusion(ABSENT, name))
    unique: list[VotingConfigExclusion] = []
    for e in out:
        if e not in unique:
            unique.append(e)
    return unique


def with_exclusions(
    content: ClusterStateContent, added: list[VotingConfigExclusion], maximum: int, described: list[str]
) -> ClusterStateContent:
    metadata = content.metadata
    existing = metadata.voting_config_exclusions
    new = [e for e in added if e not in existing]
    if len(existing) + len(new) > maximum:
        raise IllegalArgument(
            f"add voting config exclusions request for [{', '.join(described)}] would add [{len(new)}] "
            f"exclusions to the existing [{len(existing)}] which would exceed the maximum of "
            f"[{maximum}] set by [cluster.max_voting_config_exclusions]"
        )
    if not new:
        return content
    return msgspec.structs.replace(
        content,
        metadata=msgspec.structs.replace(
            metadata, voting_config_exclusions=existing + tuple(new), version=metadata.version + 1
        ),
    )


def register(node) -> None:
    coordination = lambda: node.coordination  # noqa: E731  (made at start, after this runs)

    def current_metadata():
        c = node.coordination
        return c.content.metadata if c is not None and c.applied_state is not None else None

    node.cluster_settings = ClusterSettings(node.settings, current_metadata)
    node.bulk.auto_create_index = lambda: node.cluster_settings.get("action.auto_create_index")
    nodes_stats.register(node)

    async def update_settings(request: UpdateSettingsRequest, task: Task) -> UpdateSettingsResponse:
        applied: dict[str, dict[str, Any]] = {}

        def update(content: ClusterStateContent) -> ClusterStateContent:
            metadata = content.metadata
            persistent, applied["persistent"] = apply_update(
                metadata.persistent_settings, request.persistent, "persistent"
            )
            transient, applied["transient"] = apply_update(
                metadata.transient_settings, request.transient, "transient"
            )
            modified = modified_settings(request, metadata, persistent, transient)
            check_consistent(modified, node.settings.values, persistent, transient)
            refuse_reserved(metadata.reserved_state, RESERVED_HANDLER, modified,
                            describe_settings_request(request))
            return msgspec.structs.replace(
                content,
                metadata=msgspec.structs.replace(
                    metadata,
                    persistent_settings=persistent,
                    transient_settings=transient,
                    version=metadata.version + 1,
                ),
            )

        update(coordination().content)  # refuse a bad request before it is queued
        state = await coordination().submit("cluster_update_settings", update, "IMMEDIATE", acked=True)
        acknowledged = await coordination().wait_for_acks(state, request.timeout)
        return UpdateSettingsResponse(persistent=applied["persistent"], transient=applied["transient"],
                                      acknowledged=acknowledged)

    async def add_exclusions(request: AddExclusionsRequest, task: Task) -> Empty:
        c = coordination()
        resolved = resolve_exclusions(c.applied_state, request.node_ids, request.node_names)
        maximum = node.cluster_settings.get("cluster.max_voting_config_exclusions")
        described = request.node_names or request.node_ids

        def update(content: ClusterStateContent) -> ClusterStateContent:
            return with_exclusions(content, resolved, maximum, described)

        update(c.content)
        await c.submit("add-voting-config-exclusions", update, "URGENT")
        excluded = {e.node_id for e in resolved if e.node_id != ABSENT}

        def removed(state) -> bool:
            if state is None:
                return False
            voters = set(state.last_committed_configuration.node_ids) | set(
                state.last_accepted_configuration.node_ids
            )
            return not (excluded & voters)

        if not await c.wait_for_state(removed, request.timeout):
            raise TimedOut(
                f"timed out waiting for voting config exclusions {_describe(resolved)} to take effect"
            )
        return Empty()

    async def clear_exclusions(request: ClearExclusionsRequest, task: Task) -> Empty:
        c = coordination()
        exclusions = c.content.metadata.voting_config_exclusions
        if not exclusions:
            return Empty()
        if request.wait_for_removal:
            ids = {e.node_id for e in exclusions}
            if not await c.wait_for_state(
                lambda s: s is not None and not (ids & set(s.nodes)), request.timeout
            ):
                raise TimedOut(
                    "timed out waiting for removal of nodes; if nodes should not be removed, set "
                    f"waitForRemoval to false. {_describe(exclusions)}"
                )

        def update(content: ClusterStateContent) -> ClusterStateContent:
            metadata = content.metadata
            if not metadata.voting_config_exclusions:
                return content
            return msgspec.structs.replace(
                content,
                metadata=msgspec.structs.replace(
                    metadata, voting_config_exclusions=(), version=metadata.version + 1
                ),
            )

        await c.submit("clear-voting-config-exclusions", update, "URGENT")
        return Empty()

    async def state_version(request: StateVersionRequest, task: Task) -> StateVersion:
        c = coordination()
        if request.wait_for_events is not None:
            priority = request.wait_for_events
            await c.submit(f"cluster_health (wait_for_events [{priority}])", lambda unchanged: unchanged,
                           priority)
        state = c.applied_state
        return StateVersion(term=state.term if state else 0, version=state.version if state else 0,
                            pending_tasks=len(c.pending_tasks()),
                            max_task_wait_millis=c.max_task_wait_millis())

    async def pending_tasks(request: PendingTasksRequest, task: Task) -> PendingTasksResponse:
        return PendingTasksResponse(tasks=coordination().pending_tasks())

    master = node.master_actions
    master.register(UPDATE_SETTINGS, UpdateSettingsRequest, UpdateSettingsResponse, update_settings)
    master.register(ADD_VOTING_EXCLUSIONS, AddExclusionsRequest, Empty, add_exclusions)
    master.register(CLEAR_VOTING_EXCLUSIONS, ClearExclusionsRequest, Empty, clear_exclusions)
    master.register(STATE_VERSION, StateVersionRequest, StateVersion, state_version)
    master.register(PENDING_TASKS, PendingTasksRequest, PendingTasksResponse, pending_tasks)


CATCH_UP_SECONDS = 5.0


async def catch_up_with_master(node, master_timeout: float,
                               wait_for_events: str | None = None) -> StateVersion:
    """What a non-local read does first (ES reads such APIs on the master): learn which
    state the master has applied and wait for this node to apply it as well, or give up
    waiting after a few seconds. Answers what the master said."""
    timeout = master_timeout if master_timeout >= 0 else 365 * 86400.0  # -1: wait as long as it takes
    request = StateVersionRequest(wait_for_events=wait_for_events)
    answer = await node.master_actions.execute(STATE_VERSION, request, master_timeout=timeout)
    await node.coordination.wait_for_state(
        lambda s: s is not None and (s.term, s.version) >= (answer.term, answer.version), CATCH_UP_SECONDS)
    return answer
