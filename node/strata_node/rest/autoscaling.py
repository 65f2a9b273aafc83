"""The autoscaling APIs: `PUT|GET|DELETE /_autoscaling/policy/{name}` and
`GET /_autoscaling/capacity` (the work is in autoscaling/)."""

from __future__ import annotations

import orjson

from ..action.index_admin import AppliedVersion
from ..autoscaling import service
from .controller import RestController, RestResponse
from .request import RestRequest

CHANGE_PARAMS = ("master_timeout", "timeout")


class AutoscalingHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        path = "/_autoscaling/policy/{name}"
        c.register("PUT", path, self.put, CHANGE_PARAMS, action=service.PUT_POLICY)
        c.register("GET", path, self.get, ("master_timeout",), action=service.GET_POLICY)
        c.register("DELETE", path, self.delete, CHANGE_PARAMS, action=service.DELETE_POLICY)
        c.register("GET", "/_autoscaling/capacity", self.capacity, ("master_timeout",),
                   action=service.GET_CAPACITY)

    async def put(self, request: RestRequest) -> RestResponse:
        applied: AppliedVersion = await self.node.client.execute(service.PUT_POLICY, service.PutPolicyRequest(
            name=request.param("name"), body=orjson.dumps(request.json_body(required=True)),
            master_timeout=request.time_param("master_timeout", 30.0),
            ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def get(self, request: RestRequest) -> RestResponse:
        response: service.GetPolicyResponse = await self.node.client.execute(
            service.GET_POLICY, service.GetPolicyRequest(
                name=request.param("name"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, response.policy)

    async def delete(self, request: RestRequest) -> RestResponse:
        applied: AppliedVersion = await self.node.client.execute(
            service.DELETE_POLICY, service.DeletePolicyRequest(
                name=request.param("name"), master_timeout=request.time_param("master_timeout", 30.0),
                ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def capacity(self, request: RestRequest) -> RestResponse:
        response: service.CapacityResponse = await self.node.client.execute(
            service.GET_CAPACITY, service.GetCapacityRequest(
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, response.body)
