"""The template APIs' master actions: put and delete component templates and composable
index templates (Elasticsearch's TransportPutComponentTemplateAction and its siblings).

The node that took the request reads the body first (a malformed one never reaches the
master); the master reads it again and runs the change as one cluster state update, every
check inside it (index/templates/updates.py). The requesting node then waits until it has
applied that state, so a get or an index creation that follows on it sees the template.
"""

from __future__ import annotations

import functools

import orjson

from ..index.templates import updates
from ..index.templates.metadata import parse_component_template, parse_index_template
from ..tasks.task import Task
from ..transport.wire import Message
from .index_admin import AppliedVersion
from .master import MasterNodeRequest

PUT_COMPONENT = "cluster:admin/component_template/put"
DELETE_COMPONENT = "cluster:admin/component_template/delete"
PUT_INDEX_TEMPLATE = "indices:admin/index_template/put"
DELETE_INDEX_TEMPLATE = "indices:admin/index_template/delete"

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


class DeleteTemplatesRequest(MasterNodeRequest):
    names: list[str]


class TemplateActions:
    """The node's client for template changes, and the master's handlers of them."""

    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        master = self.node.master_actions
        for action in PUTS:
            master.register(action, PutTemplateRequest, AppliedVersion, functools.partial(self._put, action))
        for action in DELETES:
            master.register(action, DeleteTemplatesRequest, AppliedVersion,
                            functools.partial(self._delete, action))

    # -- the client side ---------------------------------------------------------------

    async def put(self, action: str, name: str, body: dict, *, create: bool = False,
                  master_timeout: float = 30.0) -> None:
        """`action` is PUT_COMPONENT or PUT_INDEX_TEMPLATE."""
        parse, _, _ = PUTS[action]
        parse(body)
        request = PutTemplateRequest(name=name, body=orjson.dumps(body), create=create)
        await self._execute(action, request, master_timeout)

    async def delete(self, action: str, names: list[str], *, master_timeout: float = 30.0) -> None:
        """`action` is DELETE_COMPONENT or DELETE_INDEX_TEMPLATE."""
        await self._execute(action, DeleteTemplatesRequest(names=names), master_timeout)

    async def _execute(self, action: str, request: Message, master_timeout: float) -> None:
        applied: AppliedVersion = await self.node.master_actions.execute(action, request,
                                                                         master_timeout=master_timeout)
        await self.node.index_admin.wait_for_version(applied.term, applied.version)

    # -- the master side: each handler is one cluster state update -----------------------

    async def _submit(self, source: str, update) -> AppliedVersion:
        state = await self.node.coordination.submit(source, update)
        return AppliedVersion(term=state.term, version=state.version)

    async def _put(self, action: str, request: PutTemplateRequest, task: Task) -> AppliedVersion:
        parse, put, source = PUTS[action]
        template = parse(orjson.loads(request.body))
        return await self._submit(f"{source} [{request.name}]", lambda content: put(
            content, request.name, template, create=request.create))

    async def _delete(self, action: str, request: DeleteTemplatesRequest, task: Task) -> AppliedVersion:
        delete, source = DELETES[action]
        return await self._submit(f"{source} [{','.join(request.names)}]",
                                  lambda content: delete(content, request.names))
