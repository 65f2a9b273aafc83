"""The template APIs' master actions: put and delete component templates and composable
index templates (Elasticsearch's TransportPutComponentTemplateAction and its siblings).

The node that took the request reads the body first (a malformed one never reaches the
master); the master reads it again and runs the change as one cluster state update, every
check inside it (index/templates/updates.py), acknowledged as ES's are: the answer says
whether every node applied it within the request's `timeout`. The requesting node then
waits until it has applied that state, so a get or an index creation that follows on it
sees the template.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..common.patterns import simple_match
from ..index.templates import updates
from ..index.templates.errors import TemplateNotFound
from ..index.templates.metadata import (
    parse_component_template,
    parse_index_template,
    render_component_template,
    render_index_template,
)
from ..index.templates.simulate import simulate_index, simulate_template
from ..tasks.task import Task
from ..transport.wire import Message
from .cluster_admin import catch_up_with_master
from .index_admin import APPLY_TIMEOUT, AppliedVersion
from .master import MasterNodeRequest

PUT_COMPONENT = "cluster:admin/component_template/put"
DELETE_COMPONENT = "cluster:admin/component_template/delete"
PUT_INDEX_TEMPLATE = "indices:admin/index_template/put"
DELETE_INDEX_TEMPLATE = "indices:admin/index_template/delete"
GET_COMPONENT = "cluster:admin/component_template/get"
GET_INDEX_TEMPLATE = "indices:admin/index_template/get"
SIMULATE_INDEX = "indices:admin/index_template/simulate_index"
SIMULATE_TEMPLATE = "indices:admin/index_template/simulate"

# action -> (how its body reads, the update, the cluster state update's source)
PUTS = {
    PUT_COMPONENT: (parse_component_template, updates.put_component_template, "create-component-template"),
    PUT_INDEX_TEMPLATE: (parse_index_template, updates.put_index_template, "create-index-template-v2"),
}
DELETES = {DELETE_COMPONENT: (updates.delete_component_templates, "remove-component-template"),
           DELETE_INDEX_TEMPLATE: (updates.delete_index_templates, "remove-index-template-v2")}


class PutTemplateRequest(MasterNodeRequest):
    name: str
    body: bytes  # the template, JSON
    create: bool = False
    ack_timeout: float = APPLY_TIMEOUT  # how long every node may take to apply it (`timeout`)


class DeleteTemplatesRequest(MasterNodeRequest):
    names: list[str]
    ack_timeout: float = APPLY_TIMEOUT


class GetTemplatesRequest(Message):
    name: str | None = None  # a name or `*` wildcard; None, `*` or `_all`: every one
    flat_settings: bool = False
    local: bool = False
    master_timeout: float = 30.0


class GetTemplatesResponse(Message):
    templates: list[dict[str, Any]]  # each {"name": ..., <entry>: the template as rendered}


class SimulateTemplateRequest(Message):
    name: str | None = None
    body: bytes = b""  # an index template simulated as if it were put, JSON; empty: none
    create: bool = False
    flat_settings: bool = False
    local: bool = False
    master_timeout: float = 30.0


class SimulateTemplateResponse(Message):
    body: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One kind of template as its get action reads it."""

    listed: str  # the metadata's field, and the key of the get answer's list
    entry: str  # each listed template's key
    described: str  # as the not-found message names it
    render: Callable[..., dict[str, Any]]


GETS = {GET_COMPONENT: Kind("component_templates", "component_template", "component template",
                            render_component_template),
        GET_INDEX_TEMPLATE: Kind("index_templates", "index_template", "index template",
                                 render_index_template)}
SIMULATIONS = {SIMULATE_INDEX: simulate_index, SIMULATE_TEMPLATE: simulate_template}


class TemplateActions:
    """The node's client for template changes, and the master's handlers of them."""

    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        master = self.node.master_actions
        for action in PUTS:
            master.register(action, PutTemplateRequest, AppliedVersion, functools.partial(self._put, action),
                            coordinate=functools.partial(self._coordinate_put, action))
        for action in DELETES:
            master.register(action, DeleteTemplatesRequest, AppliedVersion,
                            functools.partial(self._delete, action),
                            coordinate=functools.partial(self.node.index_admin.applied_here, action))
        for action in GETS:
            self.node.transport.register(action, GetTemplatesRequest, GetTemplatesResponse,
                                         functools.partial(self._get, action))
        for action in SIMULATIONS:
            self.node.transport.register(action, SimulateTemplateRequest, SimulateTemplateResponse,
                                         functools.partial(self._simulate, action))

    # -- the coordinating side -----------------------------------------------------------

    async def _coordinate_put(self, action: str, request: PutTemplateRequest, task: Task) -> AppliedVersion:
        parse, _, _ = PUTS[action]
        parse(orjson.loads(request.body))  # a malformed template never reaches the master
        return await self.node.index_admin.applied_here(action, request, task)

    # -- reads: this node's applied state, caught up with the master's unless `local` -----

    async def _metadata(self, local: bool, master_timeout: float):
        if not local:
            await catch_up_with_master(self.node, master_timeout)
        return self.node.coordination.content.metadata

    async def _get(self, action: str, request: GetTemplatesRequest, task: Task) -> GetTemplatesResponse:
        kind = GETS[action]
        stored = getattr(await self._metadata(request.local, request.master_timeout), kind.listed)
        found = _matching(stored, request.name, kind.described)
        return GetTemplatesResponse(templates=[{"name": n, kind.entry: kind.render(t, request.flat_settings)}
                                               for n, t in found])

    async def _simulate(self, action: str, request: SimulateTemplateRequest,
                        task: Task) -> SimulateTemplateResponse:
        await self._metadata(request.local, request.master_timeout)
        template = parse_index_template(orjson.loads(request.body)) if request.body else None
        body = SIMULATIONS[action](self.node.coordination.content, request.name, template,
                                   create=request.create, flat=request.flat_settings)
        return SimulateTemplateResponse(body=body)

    # -- the master side: each handler is one cluster state update -----------------------

    async def _put(self, action: str, request: PutTemplateRequest, task: Task) -> AppliedVersion:
        parse, put, source = PUTS[action]
        template = parse(orjson.loads(request.body))
        return await self.node.index_admin.submit(f"{source} [{request.name}]", lambda content: put(
            content, request.name, template, create=request.create), ack_timeout=request.ack_timeout)

    async def _delete(self, action: str, request: DeleteTemplatesRequest, task: Task) -> AppliedVersion:
        delete, source = DELETES[action]
        return await self.node.index_admin.submit(f"{source} [{','.join(request.names)}]",
                                                  lambda content: delete(content, request.names),
                                                  ack_timeout=request.ack_timeout)


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
