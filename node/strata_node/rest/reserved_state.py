"""`POST /_reserved_state/_validate`: what the master would do with a settings document
(the `file_settings` namespace unless `namespace` says otherwise): `valid`, `would_apply`,
the keys each handler would reserve, or the errors, exactly as the error metadata would
record them. Nothing is applied."""

from __future__ import annotations

import orjson

from ..action import reserved_state
from ..common.errors import ActionRequestValidation
from ..reservedstate.service import FILE_SETTINGS
from .controller import RestController, RestResponse
from .request import RestRequest


class ReservedStateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("POST", "/_reserved_state/_validate", self.validate, ("namespace", "master_timeout"),
                   action=reserved_state.VALIDATE)

    async def validate(self, request: RestRequest) -> RestResponse:
        if not request.has_body:
            raise ActionRequestValidation(["request body is required"])
        answer = await self.node.client.execute(
            reserved_state.VALIDATE, reserved_state.ValidateRequest(
                namespace=request.param("namespace") or FILE_SETTINGS, document=bytes(request.body),
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, orjson.loads(answer.report))
