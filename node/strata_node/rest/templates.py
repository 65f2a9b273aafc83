"""The component template and composable index template APIs
(`/_component_template/{name}`, `/_index_template/{name}`) and the simulate APIs.

Changes go to the master (action/templates.py); reads come from this node's applied
cluster state once it has caught up with the master's (unless `local`), as ES reads them
on the master. A name may be a `*` wildcard: GET lists what matches (nothing is an empty
list then), a plain name that does not exist is a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..action.cluster_admin import catch_up_with_master
from ..action.templates import DELETE_COMPONENT, DELETE_INDEX_TEMPLATE, PUT_COMPONENT, PUT_INDEX_TEMPLATE
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


@dataclass(frozen=True)
class Family:
    """One kind of template: where its API lives and how it is answered."""

    path: str
    listed: str  # the key of the get answer's list, and the metadata's field for it
    entry: str  # each listed template's key
    described: str  # as the not-found message names it
    render: Callable[..., dict[str, Any]]
    put_action: str
    delete_action: str


COMPONENTS = Family("/_component_template", "component_templates", "component_template", "component template",
                    render_component_template, PUT_COMPONENT, DELETE_COMPONENT)
INDEX_TEMPLATES = Family("/_index_template", "index_templates", "index_template", "index template",
                         render_index_template, PUT_INDEX_TEMPLATE, DELETE_INDEX_TEMPLATE)


class TemplateHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for family in (COMPONENTS, INDEX_TEMPLATES):
            one = f"{family.path}/{{name}}"
            for method in ("PUT", "POST"):
                c.register(method, one, functools.partial(self.put, family), PUT_PARAMS,
                           rest_task=family.put_action)
            for path in (family.path, one):
                c.register("GET", path, functools.partial(self.get, family), GET_PARAMS,
                           rest_task=family.put_action.replace("/put", "/get"))
            c.register("HEAD", one, functools.partial(self.exists, family), GET_PARAMS,
                       rest_task=family.put_action.replace("/put", "/get"))
            c.register("DELETE", one, functools.partial(self.delete, family), DELETE_PARAMS,
                       rest_task=family.delete_action)
        c.register("POST", "/_index_template/_simulate_index/{name}",
                   functools.partial(self.simulate, simulate_index), SIMULATE_PARAMS,
                   rest_task="indices:admin/index_template/simulate_index")
        for path in ("/_index_template/_simulate", "/_index_template/_simulate/{name}"):
            c.register("POST", path, functools.partial(self.simulate, simulate_template), SIMULATE_PARAMS,
                       rest_task="indices:admin/index_template/simulate")

    async def _metadata(self, request: RestRequest):
        """This node's applied metadata, caught up with the master's unless `local`."""
        master_timeout = request.time_param("master_timeout", 30.0)
        if not request.bool_param("local"):
            await catch_up_with_master(self.node, master_timeout)
        return self.node.coordination.content.metadata

    async def put(self, family: Family, request: RestRequest) -> RestResponse:
        await self.node.template_actions.put(
            family.put_action, request.param("name"), request.json_body(required=True),
            create=request.bool_param("create"), master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    async def get(self, family: Family, request: RestRequest) -> RestResponse:
        flat = request.bool_param("flat_settings")
        request.bool_param("include_defaults")
        stored = getattr(await self._metadata(request), family.listed)
        found = _matching(stored, request.param("name"), family.described)
        return RestResponse(200, {family.listed: [{"name": n, family.entry: family.render(t, flat)}
                                                  for n, t in found]})

    async def exists(self, family: Family, request: RestRequest) -> RestResponse:
        """HEAD: 200 when GET would find something, 404 otherwise, with no body either way."""
        try:
            response = await self.get(family, request)
        except TemplateNotFound:
            return RestResponse(404)
        return RestResponse(200 if response.body[family.listed] else 404)

    async def delete(self, family: Family, request: RestRequest) -> RestResponse:
        await self.node.template_actions.delete(family.delete_action, request.list_param("name"),
                                                master_timeout=request.time_param("master_timeout", 30.0))
        return RestResponse(200, ACKNOWLEDGED)

    async def simulate(self, simulate: Callable, request: RestRequest) -> RestResponse:
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
