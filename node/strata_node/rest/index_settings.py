"""`PUT /{index}/_settings`: dynamic index settings (number of replicas, refresh interval,
translog durability, ...), changed through the master for every index named or for none.
A `null` value resets a setting to its default; a static setting is refused, as
Elasticsearch refuses it on an open index."""

from __future__ import annotations

from ..action.index_admin import refuse_static
from ..cluster import blocks
from ..cluster.blocks import only_blocks
from ..common.errors import ActionRequestValidation, IllegalArgument
from ..settings import SettingsError, normalize_index_settings, validate_index_settings
from .controller import RestController, RestResponse
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
            validate_index_settings({k: v for k, v in settings.items() if v is not None})
        except SettingsError as e:
            raise IllegalArgument(str(e)) from None
        names = self.node.indices.resolve(
            request.param("index"), ignore_unavailable=request.bool_param("ignore_unavailable"),
            allow_no_indices=request.bool_param("allow_no_indices", True),
            expand_wildcards=request.expand_wildcards_param("open"))
        request.time_param("master_timeout", 30.0)
        request.time_param("timeout", 30.0)
        if request.bool_param("preserve_existing"):
            settings = {k: v for k, v in settings.items()
                        if not any(k in self.node.indices.metadata(n).settings for n in names)}
        # Checked here too, so that the master is not asked in vain.
        refuse_static(settings, [self.node.indices.metadata(n) for n in names])
        if not only_blocks(settings):  # lifting a block is always allowed
            for name in names:
                blocks.check(self.node.indices.metadata(name), blocks.METADATA_WRITE)
        if names and settings:
            await self.node.index_admin.update_settings(names, settings)
        return RestResponse(200, {"acknowledged": True})


UPDATE_ACTION = "indices:admin/settings/update"
