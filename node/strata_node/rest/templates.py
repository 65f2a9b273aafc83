"""The component template and composable index template APIs
(`/_component_template/{name}`, `/_index_template/{name}`) and the simulate APIs.

Changes go to the master (action/templates.py); reads come from this node's applied
cluster state once it has caught up with the master's (unless `local`), as ES reads them
on the master. A name may be a `*` wildcard: GET lists what matches (nothing is an empty
list then), a plain name that does not exist is a 404.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import orjson

from ..action.index_admin import AppliedVersion
from ..action.templates import (
    DELETE_COMPONENT,
    DELETE_INDEX_TEMPLATE,
    GET_COMPONENT,
    GET_INDEX_TEMPLATE,
    PUT_COMPONENT,
    PUT_INDEX_TEMPLATE,
    SIMULATE_INDEX,
    SIMULATE_TEMPLATE,
    DeleteTemplatesRequest,
    GetTemplatesRequest,
    GetTemplatesResponse,
    PutTemplateRequest,
    SimulateTemplateRequest,
    SimulateTemplateResponse,
)
from ..index.templates.errors import TemplateNotFound
from .controller import RestController, RestResponse
from .request import RestRequest

PUT_PARAMS = ("create", "cause", "master_timeout", "timeout")
GET_PARAMS = ("local", "master_timeout", "flat_settings", "include_defaults")
DELETE_PARAMS = ("master_timeout", "timeout")
SIMULATE_PARAMS = ("create", "cause", "master_timeout", "include_defaults", "flat_settings")


@dataclass(frozen=True)
class Family:
    """One kind of template: where its API lives and which actions answer it."""

    path: str
    listed: str  # the key of the get answer's list
    put_action: str
    delete_action: str
    get_action: str


COMPONENTS = Family("/_component_template", "component_templates", PUT_COMPONENT, DELETE_COMPONENT,
                    GET_COMPONENT)
INDEX_TEMPLATES = Family("/_index_template", "index_templates", PUT_INDEX_TEMPLATE, DELETE_INDEX_TEMPLATE,
                         GET_INDEX_TEMPLATE)


class TemplateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for family in (COMPONENTS, INDEX_TEMPLATES):
            one = f"{family.path}/{{name}}"
            for method in ("PUT", "POST"):
                c.register(method, one, functools.partial(self.put, family), PUT_PARAMS,
                           action=family.put_action)
            for path in (family.path, one):
                c.register("GET", path, functools.partial(self.get, family), GET_PARAMS,
                           action=family.get_action)
            c.register("HEAD", one, functools.partial(self.exists, family), GET_PARAMS,
                       action=family.get_action)
            c.register("DELETE", one, functools.partial(self.delete, family), DELETE_PARAMS,
                       action=family.delete_action)
        c.register("POST", "/_index_template/_simulate_index/{name}",
                   functools.partial(self.simulate, SIMULATE_INDEX), SIMULATE_PARAMS, action=SIMULATE_INDEX)
        for path in ("/_index_template/_simulate", "/_index_template/_simulate/{name}"):
            c.register("POST", path, functools.partial(self.simulate, SIMULATE_TEMPLATE), SIMULATE_PARAMS,
                       action=SIMULATE_TEMPLATE)

    async def put(self, family: Family, request: RestRequest) -> RestResponse:
        applied: AppliedVersion = await self.node.client.execute(family.put_action, PutTemplateRequest(
            name=request.param("name"), body=orjson.dumps(request.json_body(required=True)),
            create=request.bool_param("create"), master_timeout=request.time_param("master_timeout", 30.0),
            ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def get(self, family: Family, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        request.bool_param("include_defaults")
        get = GetTemplatesRequest(name=request.param("name"), flat_settings=flat,
                                  local=request.bool_param("local"),
                                  master_timeout=request.time_param("master_timeout", 30.0))
        response: GetTemplatesResponse = await self.node.client.execute(family.get_action, get)
        return RestResponse(200, {family.listed: response.templates})

    async def exists(self, family: Family, request: RestRequest) -> RestResponse:
        """HEAD: 200 when GET would find something, 404 otherwise, with no body either way."""
        try:
            response = await self.get(family, request)
        except TemplateNotFound:
            return RestResponse(404)
        return RestResponse(200 if response.body[family.listed] else 404)

    async def delete(self, family: Family, request: RestRequest) -> RestResponse:
        applied: AppliedVersion = await self.node.client.execute(family.delete_action, DeleteTemplatesRequest(
            names=request.list_param("name"), master_timeout=request.time_param("master_timeout", 30.0),
            ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def simulate(self, action: str, request: RestRequest) -> RestResponse:
        """The body, if any, is an index template simulated as if it were put."""
        body = request.json_body()
        response: SimulateTemplateResponse = await self.node.client.execute(action, SimulateTemplateRequest(
            name=request.param("name"), body=orjson.dumps(body) if body else b"",
            create=request.bool_param("create"), flat_settings=request.bool_param("flat_settings"),
            local=request.bool_param("local"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, response.body)
