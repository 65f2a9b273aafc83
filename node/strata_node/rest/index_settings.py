"""`PUT /{index}/_settings`: dynamic index settings (number of replicas, refresh interval,
translog durability, ...), changed through the master for every index named or for none.
A `null` value resets a setting to its default; a static setting is refused, as
Elasticsearch refuses it on an open index."""

from __future__ import annotations

import orjson

from ..action.index_admin import UPDATE_SETTINGS as UPDATE_ACTION
from ..action.index_admin import AppliedVersion, UpdateSettingsRequest
from ..action.master import DEFAULT_MASTER_TIMEOUT
from ..common.errors import ActionRequestValidation, IllegalArgument
from ..settings import SettingsError, normalize_index_settings, validate_settings_update
from .controller import RestController, RestResponse
from .indices import indices_options
from .request import RestRequest

RESOLVE_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
PUT_PARAMS = (*RESOLVE_PARAMS, "master_timeout", "timeout", "preserve_existing", "flat_settings", "reopen")


class IndexSettingsHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("PUT", "/_settings", self.put, PUT_PARAMS, action=UPDATE_ACTION)
        c.register("PUT", "/{index}/_settings", self.put, PUT_PARAMS, action=UPDATE_ACTION)

    async def put(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        if set(body) == {"settings"} and isinstance(body["settings"], dict):
            body = body["settings"]
        if not body:
            raise ActionRequestValidation(["no settings to update"])
        settings = normalize_index_settings(body)
        try:
            validate_settings_update(settings)
        except SettingsError as e:
            raise IllegalArgument(str(e)) from None
        master_timeout = request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)
        ack_timeout = request.time_param("timeout", 30.0)
        applied: AppliedVersion = await self.node.client.execute(UPDATE_ACTION, UpdateSettingsRequest(
            settings=orjson.dumps(settings), expression=request.param("index"),
            options=indices_options(request, "open,closed", allow_no_indices=False), ack_timeout=ack_timeout,
            preserve_existing=request.bool_param("preserve_existing"), master_timeout=master_timeout))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

