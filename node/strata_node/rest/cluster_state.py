"""`GET /_cluster/state`, `GET|PUT /_cluster/settings` and
`POST|DELETE /_cluster/voting_config_exclusions` (RestClusterStateAction,
RestClusterGetSettingsAction, RestClusterUpdateSettingsAction and the voting config
exclusion actions in Elasticsearch).

Reads answer from this node's applied cluster state. Unless `local=true`, a read first
asks the elected master which state it has applied and waits (briefly) for this node to
apply it too, so a read on any node sees a change acknowledged before it; with no master
that is `master_not_discovered_exception` after `master_timeout`, as in Elasticsearch.
Writes run on the master (action/cluster_admin.py) as cluster state updates.

Until index metadata moves into the cluster state, an index this node holds that the
cluster state does not list is shown from the node's own index metadata and shards.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .. import ES_COMPAT_VERSION
from ..action import persistent_tasks
from ..action.cluster_admin import (
    ADD_VOTING_EXCLUSIONS,
    CLEAR_VOTING_EXCLUSIONS,
    AddExclusionsRequest,
    ClearExclusionsRequest,
    UpdateSettingsRequest,
    UpdateSettingsResponse,
    catch_up_with_master,
)
from ..action.cluster_admin import UPDATE_SETTINGS as UPDATE_SETTINGS_ACTION
from ..cluster import blocks
from ..cluster.state import NO_MASTER_BLOCK, ClusterBlock, ShardRouting, content_of
from ..common import cluster_settings
from ..common.errors import ActionRequestValidation, IllegalArgument, XContentParseError
from ..index.metadata import IndexMetadata
from ..index.templates.metadata import render_component_template, render_index_template
from .controller import RestController, RestResponse
from .request import RestRequest

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
STATE_PARAMS = (
    "local",
    "master_timeout",
    "flat_settings",
    "wait_for_metadata_version",
    "wait_for_timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
)
GET_SETTINGS_PARAMS = ("flat_settings", "include_defaults", "local", "master_timeout", "timeout")
PUT_SETTINGS_PARAMS = ("flat_settings", "master_timeout", "timeout")


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


def render_shard(copy: ShardRouting) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": copy.state,
        "primary": copy.primary,
        "node": copy.node,
        "relocating_node": None,
        "shard": copy.shard,
        "index": copy.index,
    }
    if copy.allocation_id:
        out["allocation_id"] = {"id": copy.allocation_id}
    if copy.state == "UNASSIGNED":
        out["recovery_source"] = {"type": "EMPTY_STORE" if copy.primary else "PEER"}
        out["unassigned_info"] = {
            "reason": copy.unassigned_reason or "INDEX_CREATED",
            "at": "1970-01-01T00:00:00.000Z",
            "delayed": copy.delayed,
            "allocation_status": "no_attempt",
        }
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


class ClusterStateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_cluster/state", "/_cluster/state/{metric}", "/_cluster/state/{metric}/{index}"):
            c.register("GET", path, self.state, STATE_PARAMS, rest_task="cluster:monitor/state")
        c.register(
            "GET",
            "/_cluster/settings",
            self.get_settings,
            GET_SETTINGS_PARAMS,
            rest_task="cluster:monitor/settings",
        )
        c.register(
            "PUT", "/_cluster/settings", self.put_settings, PUT_SETTINGS_PARAMS, action=UPDATE_SETTINGS_ACTION
        )
        c.register(
            "POST",
            "/_cluster/voting_config_exclusions",
            self.add_exclusions,
            ("node_ids", "node_names", "timeout", "master_timeout"),
            action=ADD_VOTING_EXCLUSIONS,
        )
        c.register(
            "DELETE",
            "/_cluster/voting_config_exclusions",
            self.clear_exclusions,
            ("wait_for_removal", "master_timeout"),
            action=CLEAR_VOTING_EXCLUSIONS,
        )

    @property
    def coordination(self):
        return self.node.coordination

    async def _catch_up(self, request: RestRequest) -> None:
        """A non-local read: learn which state the master has applied and wait for this
        node to apply it as well (or give up waiting after a few seconds)."""
        master_timeout = request.time_param("master_timeout", 30.0)
        if not request.bool_param("local"):
            await catch_up_with_master(self.node, master_timeout)

    # -- GET /_cluster/state ------------------------------------------------------------------

    async def state(self, request: RestRequest) -> RestResponse:
        metric_param = request.param("metric")
        metrics = set(METRICS)
        if metric_param is not None and "_all" not in metric_param.split(","):
            metrics = {m.strip() for m in metric_param.split(",")} & set(METRICS)
        flat = request.bool_param("flat_settings")
        raw_version = request.param("wait_for_metadata_version")
        wait_version = None
        if raw_version is not None:
            try:
                wait_version = int(raw_version)
            except ValueError:
                raise IllegalArgument(
                    f"Failed to parse long parameter [wait_for_metadata_version] with value [{raw_version}]"
                ) from None
            if wait_version < 1:
                raise ActionRequestValidation(["waitForMetadataVersion must be >= 1"])
        wait_timeout = request.time_param("wait_for_timeout", 60.0)
        ignore_unavailable = request.bool_param("ignore_unavailable", True)
        allow_no_indices = request.bool_param("allow_no_indices", True)
        expand = request.expand_wildcards_param("open")
        await self._catch_up(request)
        body: dict[str, Any] = {"cluster_name": self.node.cluster_name}
        if wait_version is not None:
            met = await self.coordination.wait_for_state(
                lambda s: content_of(s).metadata.version >= wait_version, wait_timeout
            )
            body["wait_for_timed_out"] = not met
            if not met:
                return RestResponse(200, body)
        body.update(
            self._render_state(
                metrics, request.param("index"), flat, ignore_unavailable, allow_no_indices, expand
            )
        )
        return RestResponse(200, body)

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

    def _render_state(
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

    # -- settings ---------------------------------------------------------------------------

    async def get_settings(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        include_defaults = request.bool_param("include_defaults")
        request.time_param("timeout", 30.0)
        await self._catch_up(request)
        metadata = self.coordination.content.metadata
        body: dict[str, Any] = {
            "persistent": cluster_settings.render(metadata.persistent_settings, flat),
            "transient": cluster_settings.render(metadata.transient_settings, flat),
        }
        if include_defaults:
            set_keys = {**metadata.persistent_settings, **metadata.transient_settings}
            body["defaults"] = cluster_settings.render(
                cluster_settings.defaults(self.node.settings, exclude=set_keys), flat
            )
        return RestResponse(200, body)

    async def put_settings(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        master_timeout = request.time_param("master_timeout", 30.0)
        request.time_param("timeout", 30.0)
        body = request.json_body(required=True)
        for key in body:
            if key not in ("persistent", "transient"):
                raise XContentParseError(
                    f"[cluster_update_settings_request] unknown field [{key}]", line=1, column=2
                )
        scopes = {}
        for scope in ("persistent", "transient"):
            value = body.get(scope) or {}
            if not isinstance(value, dict):
                raise XContentParseError(
                    f"[cluster_update_settings_request] {scope} doesn't support values of type: VALUE_STRING",
                    line=1,
                    column=2,
                )
            scopes[scope] = value
        if not scopes["persistent"] and not scopes["transient"]:
            raise ActionRequestValidation(["no settings to update"])
        # Validate here too, so a bad request fails before it waits for a master.
        for scope, value in scopes.items():
            cluster_settings.apply_update({}, value, scope)
        answer: UpdateSettingsResponse = await self.node.client.execute(
            UPDATE_SETTINGS_ACTION, UpdateSettingsRequest(persistent=scopes["persistent"],
                                                          transient=scopes["transient"],
                                                          master_timeout=master_timeout))
        return RestResponse(
            200,
            {
                "acknowledged": True,
                "persistent": cluster_settings.render(answer.persistent, flat),
                "transient": cluster_settings.render(answer.transient, flat),
            },
        )

    # -- voting configuration exclusions ------------------------------------------------------

    async def add_exclusions(self, request: RestRequest) -> RestResponse:
        ids = request.list_param("node_ids") if request.has_param("node_ids") else []
        names = request.list_param("node_names") if request.has_param("node_names") else []
        if bool(ids) == bool(names):
            raise IllegalArgument(
                "Please set node identifiers correctly. One and only one of [node_name], "
                "[node_names] and [node_ids] has to be set"
            )
        timeout = request.time_param("timeout", 30.0)
        if timeout < 0:
            raise IllegalArgument(f"timeout [{request.param('timeout')}] must be non-negative")
        master_timeout = request.time_param("master_timeout", 30.0)
        await self.node.client.execute(
            ADD_VOTING_EXCLUSIONS, AddExclusionsRequest(node_ids=ids, node_names=names, timeout=timeout,
                master_timeout=master_timeout + timeout))
        return RestResponse(200)

    async def clear_exclusions(self, request: RestRequest) -> RestResponse:
        wait = request.bool_param("wait_for_removal", True)
        master_timeout = request.time_param("master_timeout", 30.0)
        await self.node.client.execute(
            CLEAR_VOTING_EXCLUSIONS, ClearExclusionsRequest(wait_for_removal=wait, timeout=master_timeout,
                master_timeout=2 * master_timeout))
        return RestResponse(200)


def _by_shard(copies: tuple[ShardRouting, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for copy in sorted(copies, key=lambda c: (c.shard, not c.primary)):
        out.setdefault(str(copy.shard), []).append(render_shard(copy))
    return out
