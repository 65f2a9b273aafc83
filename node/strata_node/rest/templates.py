"""The component template and composable index template APIs
(`/_component_template/{name}`, `/_index_template/{name}`) and the simulate APIs.

Changes go to the master (action/templates.py); reads come from this node's applied
cluster state once it has caught up with the master's (unless `local`), as ES reads them
on the master. A name may be a `*` wildcard: GET lists what matches (nothing is an empty
list then), a plain name that does not exist is a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..action.cluster_admin import catch_up_with_master
from ..common.patterns import simple_match
from ..index.templates.errors import TemplateNotFound
from ..index.templates.metadata import (
    parse_index_template,
    render_component_template,
    render_index_template,
)
from ..index.templates.simulate import simulate_index, simulate_template
from .controller import RestController, RestResponse
from .request import RestRequest

PUT_PARAMS = ("create", "cause", "master_timeout", "timeout")
GET_PARAMS = ("local", "master_timeout", "flat_settings", "include_defaults")
DELETE_PARAMS = ("master_timeout", "timeout")
SIMULATE_PARAMS = ("create", "cause", "master_timeout", "include_defaults", "flat_settings")
ACKNOWLEDGED = {"acknowledged": True}


class TemplateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("PUT", "POST"):
            c.register(method, "/_component_template/{name}", self.put_component, PUT_PARAMS)
            c.register(method, "/_index_template/{name}", self.put_index_template, PUT_PARAMS)
        for path in ("/_component_template", "/_component_template/{name}"):
            c.register("GET", path, self.get_components, GET_PARAMS)
        for path in ("/_index_template", "/_index_template/{name}"):
            c.register("GET", path, self.get_index_templates, GET_PARAMS)
        c.register("HEAD", "/_component_template/{name}", self.component_exists, GET_PARAMS)
        c.register("HEAD", "/_index_template/{name}", self.index_template_exists, GET_PARAMS)
        c.register("DELETE", "/_component_template/{name}", self.delete_components, DELETE_PARAMS)
        c.register("DELETE", "/_index_template/{name}", self.delete_index_templates, DELETE_PARAMS)
        c.register("POST", "/_index_template/_simulate_index/{name}", self.simulate_index, SIMULATE_PARAMS)
        for path in ("/_index_template/_simulate", "/_index_template/_simulate/{name}"):
            c.register("POST", path, self.simulate_template, SIMULATE_PARAMS)

    @property
    def _templates(self):
        return self.node.template_actions

    async def _metadata(self, request: RestRequest):
        """This node's applied metadata, caught up with the master's unless `local`."""
        master_timeout = request.time_param("master_timeout", 30.0)
        if not request.bool_param("local"):
            await catch_up_with_master(self.node, master_timeout)
        return self.node.coordination.content.metadata

    # -- component templates ---------------------------------------------------------------

    async def put_component(self, request: RestRequest) -> RestResponse:
        await self._templates.put_component_template(
            request.param("name"), request.json_body(required=True), create=request.bool_param("create"),
            master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    async def get_components(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        request.bool_param("include_defaults")
        found = _matching((await self._metadata(request)).component_templates, request.param("name"),
                          "component template")
        return RestResponse(200, {"component_templates": [
            {"name": n, "component_template": render_component_template(t, flat)} for n, t in found]})

    async def component_exists(self, request: RestRequest) -> RestResponse:
        return await _exists(self.get_components, request)

    async def delete_components(self, request: RestRequest) -> RestResponse:
        await self._templates.delete_component_templates(
            request.list_param("name"), master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    # -- composable index templates --------------------------------------------------------

    async def put_index_template(self, request: RestRequest) -> RestResponse:
        await self._templates.put_index_template(
            request.param("name"), request.json_body(required=True), create=request.bool_param("create"),
            master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    async def get_index_templates(self, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        request.bool_param("include_defaults")
        found = _matching((await self._metadata(request)).index_templates, request.param("name"),
                          "index template")
        return RestResponse(200, {"index_templates": [
            {"name": n, "index_template": render_index_template(t, flat)} for n, t in found]})

    async def index_template_exists(self, request: RestRequest) -> RestResponse:
        return await _exists(self.get_index_templates, request)

    async def delete_index_templates(self, request: RestRequest) -> RestResponse:
        await self._templates.delete_index_templates(
            request.list_param("name"), master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    # -- simulation ------------------------------------------------------------------------

    async def simulate_index(self, request: RestRequest) -> RestResponse:
        return await self._simulate(request, simulate_index)

    async def simulate_template(self, request: RestRequest) -> RestResponse:
        return await self._simulate(request, simulate_template)

    async def _simulate(self, request: RestRequest, simulate: Callable) -> RestResponse:
        """The body, if any, is an index template simulated as if it were put."""
        body = request.json_body()
        await self._metadata(request)
        template = parse_index_template(body) if body else None
        return RestResponse(200, simulate(self.node.coordination.content, request.param("name"), template,
                                          create=request.bool_param("create"),
                                          flat=request.bool_param("flat_settings")))


def _matching(templates: Mapping[str, Any], name: str | None, kind: str) -> list[tuple[str, Any]]:
    """Every template for no name, `*` or `_all`; those a wildcard matches; a plain name
    that must exist ("component template matching [x] not found")."""
    if name in (None, "*", "_all"):
        return sorted(templates.items())
    if "*" in name:
        return [(n, t) for n, t in sorted(templates.items()) if simple_match(name, n)]
    if name not in templates:
        raise TemplateNotFound(f"{kind} matching [{name}] not found")
    return [(name, templates[name])]


async def _exists(get: Callable, request: RestRequest) -> RestResponse:
    """HEAD: 200 when GET would find something, 404 otherwise, with no body either way."""
    try:
        response = await get(request)
    except TemplateNotFound:
        return RestResponse(404)
    found = next(iter(response.body.values()))
    return RestResponse(200 if found else 404)
