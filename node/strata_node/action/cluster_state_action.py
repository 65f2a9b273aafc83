"""`cluster:monitor/state` and `cluster:monitor/settings` (TransportClusterStateAction
and TransportClusterGetSettingsAction): the applied cluster state, or its settings, as
Elasticsearch renders them. Unless `local`, a read first catches up with the state the
master has applied (ES reads these on the master); `wait_for_metadata_version` waits for
a metadata version first.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .. import ES_COMPAT_VERSION
from ..cluster import blocks
from ..cluster.state import NO_MASTER_BLOCK, ClusterBlock, ShardRouting, content_of
from ..common import cluster_settings
from ..index.mapping.dates import formatter
from ..index.metadata import IndexMetadata
from ..index.templates.metadata import render_component_template, render_index_template
from ..tasks.task import Task
from ..transport.wire import Message
from . import persistent_tasks
from .cluster_admin import (
    catch_up_with_master,
)

METRICS = (
    "version",
    "master_node",
    "blocks",
    "nodes",
    "metadata",
    "routing_table",
    "routing_nodes",
    "customs",
)
STATE = "cluster:monitor/state"
GET_SETTINGS = "cluster:monitor/settings"


class ClusterStateRequest(Message):
    metrics: tuple[str, ...] = METRICS
    expression: str | None = None  # the indices shown; None: every index
    ignore_unavailable: bool = True
    allow_no_indices: bool = True
    expand_wildcards: str = "open"
    flat_settings: bool = False
    wait_for_metadata_version: int | None = None
    wait_for_timeout: float = 60.0
    local: bool = False
    master_timeout: float = 30.0


class ClusterStateResponse(Message):
    body: dict[str, Any]


class ClusterGetSettingsRequest(Message):
    flat_settings: bool = False
    include_defaults: bool = False
    local: bool = False
    master_timeout: float = 30.0


def state_uuid(cluster_uuid: str, term: int, version: int) -> str:
    """A stable 22-character id for one (term, version) of one cluster."""
    digest = hashlib.sha256(f"{cluster_uuid}/{term}/{version}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


# -- pure rendering ---------------------------------------------------------------------------


def render_block(block: ClusterBlock) -> dict[str, Any]:
    return {"description": block.description, "retryable": block.retryable, "levels": list(block.levels)}


def render_blocks(global_blocks, index_blocks: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if global_blocks:
        out["global"] = {str(b.id): render_block(b) for b in global_blocks}
    if index_blocks:
        out["indices"] = {
            name: {str(b.id): render_block(b) for b in listed}
            for name, listed in sorted(index_blocks.items())
            if listed
        }
    return out


def render_node(details) -> dict[str, Any]:
    return {
        "name": details.name,
        "ephemeral_id": details.ephemeral_id,
        "transport_address": details.transport_address,
        "external_id": details.name,
        "attributes": dict(details.attributes),
        "roles": sorted(details.roles),
        "version": ES_COMPAT_VERSION,
    }


# The reasons ES records the node a copy was unassigned from (UnassignedInfo.lastAllocatedNodeId:
# disassociateDeadNodes, applyFailedShards, a replica failed with its primary); a cancelled
# copy (CancelAllocationCommand) has none, though Strata still remembers where it was.
LAST_NODE_REASONS = frozenset({"NODE_LEFT", "NODE_RESTARTING", "ALLOCATION_FAILED", "PRIMARY_FAILED"})


def render_shard(copy: ShardRouting) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": copy.state,
        "primary": copy.primary,
        "node": copy.node,
        "relocating_node": copy.relocating_node if copy.state in ("RELOCATING", "INITIALIZING") else None,
        "shard": copy.shard,
        "index": copy.index,
    }
    if copy.allocation_id:
        out["allocation_id"] = {"id": copy.allocation_id}
    if copy.state == "UNASSIGNED":
        out["recovery_source"] = {"type": "EMPTY_STORE" if copy.primary else "PEER"}
        info: dict[str, Any] = {
            "reason": copy.unassigned_reason or "INDEX_CREATED",
            "at": formatter("strict_date_optional_time").format_millis(copy.unassigned_at),
        }
        if copy.failed_attempts:
            info["failed_attempts"] = copy.failed_attempts
        info["delayed"] = copy.delayed
        if copy.last_node and copy.unassigned_reason in LAST_NODE_REASONS:
            info["last_node"] = copy.last_node
        if copy.unassigned_details:
            info["details"] = copy.unassigned_details
        info["allocation_status"] = copy.allocation_status
        out["unassigned_info"] = info
    return out


def render_index(md: IndexMetadata, flat_settings: bool) -> dict[str, Any]:
    shards = md.number_of_shards
    return {
        "version": md.version,
        "mapping_version": md.mapping_version,
        "settings_version": md.settings_version,
        "aliases_version": md.aliases_version,
        "routing_num_shards": md.number_of_routing_shards,
        "state": md.state,
        "settings": cluster_settings.render(dict(md.settings), flat_settings),
        "mappings": {"_doc": md.mappings} if md.mappings else {},
        "aliases": sorted(md.aliases),
        "primary_terms": {str(i): t for i, t in enumerate(md.primary_terms)},
        "in_sync_allocations": {str(i): list(md.in_sync(i)) for i in range(shards)},
        "rollover_info": {},
        "system": False,
        "timestamp_range": {"shards": []},
    }


class ClusterStateAction:
    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        self.node.transport.register(STATE, ClusterStateRequest, ClusterStateResponse, self._state,
                                     cancellable=True)
        self.node.transport.register(GET_SETTINGS, ClusterGetSettingsRequest, ClusterStateResponse,
                                     self._get_settings)

    @property
    def coordination(self):
        return self.node.coordination

    async def _state(self, request: ClusterStateRequest, task: Task) -> ClusterStateResponse:
        if not request.local:
            await catch_up_with_master(self.node, request.master_timeout)
        body: dict[str, Any] = {"cluster_name": self.node.cluster_name}
        wait_version = request.wait_for_metadata_version
        if wait_version is not None:
            met = await self.coordination.wait_for_state(
                lambda s: content_of(s).metadata.version >= wait_version, request.wait_for_timeout
            )
            body["wait_for_timed_out"] = not met
            if not met:
                return ClusterStateResponse(body=body)
        body.update(self.render_state(set(request.metrics), request.expression, request.flat_settings,
                                      request.ignore_unavailable, request.allow_no_indices,
                                      request.expand_wildcards))
        return ClusterStateResponse(body=body)

    async def _get_settings(self, request: ClusterGetSettingsRequest, task: Task) -> ClusterStateResponse:
        if not request.local:
            await catch_up_with_master(self.node, request.master_timeout)
        flat = request.flat_settings
        metadata = self.coordination.content.metadata
        body: dict[str, Any] = {
            "persistent": cluster_settings.render(metadata.persistent_settings, flat),
            "transient": cluster_settings.render(metadata.transient_settings, flat),
        }
        if request.include_defaults:
            set_keys = {**metadata.persistent_settings, **metadata.transient_settings}
            body["defaults"] = cluster_settings.render(
                cluster_settings.defaults(self.node.settings, exclude=set_keys), flat
            )
        return ClusterStateResponse(body=body)

    def _index_views(self) -> dict[str, tuple[IndexMetadata, tuple[ShardRouting, ...]]]:
        """Every index of the applied cluster state, with its copies."""
        content = self.coordination.content if self.coordination is not None else content_of(None)
        return {name: (md, content.routing_table.indices.get(name, ()))
                for name, md in content.metadata.indices.items()}

    def _select(self, views: dict, expression: str | None, ignore_unavailable: bool, allow_no_indices: bool,
                expand: str) -> list[str]:
        """Every index (hidden ones too) without an expression, else the expression
        resolved among the cluster's indices."""
        if expression is None:
            return sorted(views)
        return self.node.indices.resolve(expression, ignore_unavailable=ignore_unavailable,
                                         allow_no_indices=allow_no_indices, expand_wildcards=expand,
                                         universe={name: md for name, (md, _) in views.items()})

    def render_state(
        self,
        metrics: set[str],
        index_expression: str | None,
        flat: bool,
        ignore_unavailable: bool,
        allow_no_indices: bool,
        expand: str,
    ) -> dict[str, Any]:
        coordination = self.coordination
        state = coordination.applied_state if coordination is not None else None
        content = content_of(state)
        metadata = content.metadata
        master = coordination.master_node if coordination is not None else None
        views = self._index_views()
        selected = self._select(views, index_expression, ignore_unavailable, allow_no_indices, expand)
        body: dict[str, Any] = {"cluster_uuid": metadata.cluster_uuid}
        if "version" in metrics:
            body["version"] = state.version if state is not None else 0
            body["state_uuid"] = state_uuid(
                metadata.cluster_uuid, state.term if state else 0, state.version if state else 0
            )
        if "master_node" in metrics:
            body["master_node"] = master.id if master is not None else None
        if "blocks" in metrics:
            global_blocks = tuple(content.blocks.global_blocks)
            if master is None and NO_MASTER_BLOCK not in global_blocks:
                global_blocks = (*global_blocks, NO_MASTER_BLOCK)
            index_blocks = {n: b for n, b in content.blocks.indices.items() if n in selected}
            body["blocks"] = render_blocks(global_blocks, index_blocks)
            # Blocks set through `index.blocks.*` settings, as Elasticsearch lists them.
            for name in selected:
                md = metadata.indices.get(name)
                for block in blocks.active_blocks(md) if md is not None else ():
                    body["blocks"].setdefault("indices", {}).setdefault(name, {})[str(block.id)] = \
                        blocks.render(block)
        if "nodes" in metrics:
            if state is not None and state.nodes:
                nodes = {
                    n: render_node(state.node_details[n])
                    for n in sorted(state.nodes)
                    if n in state.node_details
                }
            else:
                nodes = {self.node.node_id: render_node(coordination.local_node)} if coordination else {}
            body["nodes"] = nodes
        if "metadata" in metrics:
            committed = metadata.cluster_uuid_committed or (
                coordination is not None and coordination.committed_cluster_uuid == metadata.cluster_uuid
            )
            md: dict[str, Any] = {
                "cluster_uuid": metadata.cluster_uuid,
                "cluster_uuid_committed": bool(committed),
                "cluster_coordination": {
                    "term": state.term if state is not None else 0,
                    "last_committed_config": sorted(state.last_committed_configuration.node_ids)
                    if state
                    else [],
                    "last_accepted_config": sorted(state.last_accepted_configuration.node_ids)
                    if state
                    else [],
                    "voting_config_exclusions": [
                        {"node_id": e.node_id, "node_name": e.node_name}
                        for e in metadata.voting_config_exclusions
                    ],
                },
                "templates": dict(metadata.templates),
                "indices": {n: render_index(views[n][0], flat) for n in selected},
                "index-graveyard": {"tombstones": []},
            }
            if metadata.component_templates:
                md["component_template"] = {"component_template": {
                    n: render_component_template(t, flat)
                    for n, t in sorted(metadata.component_templates.items())}}
            if metadata.index_templates:
                md["index_template"] = {"index_template": {
                    n: render_index_template(t, flat) for n, t in sorted(metadata.index_templates.items())}}
            for key, value in sorted(metadata.customs.items()):
                if key == persistent_tasks.CUSTOM:
                    md[key] = persistent_tasks.render(value)
                else:
                    md[key] = value
            md["reserved_state"] = {ns: r.render() for ns, r in sorted(metadata.reserved_state.items())}
            body["metadata"] = md
        if "routing_table" in metrics:
            body["routing_table"] = {
                "indices": {n: {"shards": _by_shard(views[n][1])} for n in selected}
            }
        if "routing_nodes" in metrics:
            unassigned: list[dict[str, Any]] = []
            by_node: dict[str, list[dict[str, Any]]] = {}
            if state is not None:
                for node_id in sorted(state.nodes):
                    details = state.node_details.get(node_id)
                    if node_id == self.node.node_id or (details is not None and details.is_data_node):
                        by_node[node_id] = []
            for name in sorted(views):
                for copy in views[name][1]:
                    if copy.node is None:
                        unassigned.append(render_shard(copy))
                    else:
                        by_node.setdefault(copy.node, []).append(render_shard(copy))
            body["routing_nodes"] = {"unassigned": unassigned, "nodes": by_node}
        return body


def _by_shard(copies: tuple[ShardRouting, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for copy in sorted(copies, key=lambda c: (c.shard, not c.primary)):
        out.setdefault(str(copy.shard), []).append(render_shard(copy))
    return out
