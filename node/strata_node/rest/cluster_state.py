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

from ..action.cluster_admin import (
    ADD_VOTING_EXCLUSIONS,
    CLEAR_VOTING_EXCLUSIONS,
    AddExclusionsRequest,
    ClearExclusionsRequest,
    UpdateSettingsRequest,
    UpdateSettingsResponse,
)
from ..action.cluster_admin import UPDATE_SETTINGS as UPDATE_SETTINGS_ACTION
from ..action.cluster_state_action import (
    GET_SETTINGS,
    METRICS,
    STATE,
    ClusterGetSettingsRequest,
    ClusterStateRequest,
    ClusterStateResponse,
)
from ..common import cluster_settings
from ..common.errors import ActionRequestValidation, IllegalArgument, XContentParseError
from .controller import RestController, RestResponse
from .request import RestRequest
from .write_params import parse_long

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


class ClusterStateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_cluster/state", "/_cluster/state/{metric}", "/_cluster/state/{metric}/{index}"):
            c.register("GET", path, self.state, STATE_PARAMS, action=STATE)
        c.register(
            "GET",
            "/_cluster/settings",
            self.get_settings,
            GET_SETTINGS_PARAMS,
            action=GET_SETTINGS,
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

    # -- GET /_cluster/state ------------------------------------------------------------------

    async def state(self, request: RestRequest) -> RestResponse:
        metric_param = request.param("metric")
        metrics = set(METRICS)
        if metric_param is not None and "_all" not in metric_param.split(","):
            metrics = {m.strip() for m in metric_param.split(",")} & set(METRICS)
        raw_version = request.param("wait_for_metadata_version")
        wait_version = None
        if raw_version is not None:
            wait_version = parse_long("wait_for_metadata_version", raw_version)
            if wait_version < 1:
                raise ActionRequestValidation(["waitForMetadataVersion must be >= 1"])
        response: ClusterStateResponse = await self.node.client.execute(STATE, ClusterStateRequest(
            metrics=tuple(sorted(metrics)), expression=request.param("index"),
            flat_settings=request.bool_param("flat_settings"), wait_for_metadata_version=wait_version,
            wait_for_timeout=request.time_param("wait_for_timeout", 60.0),
            ignore_unavailable=request.bool_param("ignore_unavailable", True),
            allow_no_indices=request.bool_param("allow_no_indices", True),
            expand_wildcards=request.expand_wildcards_param("open"), local=request.bool_param("local"),
            master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, response.body)

    # -- settings ---------------------------------------------------------------------------

    async def get_settings(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        include_defaults = request.bool_param("include_defaults")
        request.time_param("timeout", 30.0)
        get = ClusterGetSettingsRequest(flat_settings=flat, include_defaults=include_defaults,
                                        local=request.bool_param("local"),
                                        master_timeout=request.time_param("master_timeout", 30.0))
        response: ClusterStateResponse = await self.node.client.execute(GET_SETTINGS, get)
        return RestResponse(200, response.body)

    async def put_settings(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        master_timeout = request.time_param("master_timeout", 30.0)
        ack_timeout = request.time_param("timeout", 30.0)
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
                                                          master_timeout=master_timeout, timeout=ack_timeout))
        return RestResponse(
            200,
            {
                "acknowledged": answer.acknowledged,
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
