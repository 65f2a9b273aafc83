"""The template APIs' master actions: put and delete component templates and composable
index templates (Elasticsearch's TransportPutComponentTemplateAction and its siblings).

The node that took the request reads the body first (a malformed one never reaches the
master); the master reads it again and runs the change as one cluster state update, every
check inside it (index/templates/updates.py). The requesting node then waits until it has
applied that state, so a get or an index creation that follows on it sees the template.
"""

from __future__ import annotations

import orjson

from ..index.templates import updates
from ..index.templates.metadata import parse_component_template, parse_index_template
from ..tasks.task import Task
from ..transport.wire import Message
from .index_admin import AppliedVersion

PUT_COMPONENT = "cluster:admin/component_template/put"
DELETE_COMPONENT = "cluster:admin/component_template/delete"
PUT_INDEX_TEMPLATE = "indices:admin/index_template/put"
DELETE_INDEX_TEMPLATE = "indices:admin/index_template/delete"


class PutTemplateRequest(Message):
    name: str
    body: bytes  # the template, JSON
    create: bool = False


class DeleteTemplatesRequest(Message):
    names: list[str]


class TemplateActions:
    """The node's client for template changes, and the master's handlers of them."""

    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        master = self.node.master_actions
        master.register(PUT_COMPONENT, PutTemplateRequest, AppliedVersion, self._put_component)
        master.register(DELETE_COMPONENT, DeleteTemplatesRequest, AppliedVersion, self._delete_components)
        master.register(PUT_INDEX_TEMPLATE, PutTemplateRequest, AppliedVersion, self._put_index_template)
        master.register(DELETE_INDEX_TEMPLATE, DeleteTemplatesRequest, AppliedVersion,
                        self._delete_index_templates)

    # -- the client side ---------------------------------------------------------------

    async def _execute(self, action: str, request: Message, master_timeout: float) -> None:
        applied: AppliedVersion = await self.node.master_actions.execute(action, request,
                                                                         master_timeout=master_timeout)
        await self.node.index_admin.wait_for_version(applied.term, applied.version)

    async def put_component_template(self, name: str, body: dict, *, create: bool = False,
                                     master_timeout: float = 30.0) -> None:
        parse_component_template(body)
        request = PutTemplateRequest(name=name, body=orjson.dumps(body), create=create)
        await self._execute(PUT_COMPONENT, request, master_timeout)

    async def delete_component_templates(self, names: list[str], *, master_timeout: float = 30.0) -> None:
        await self._execute(DELETE_COMPONENT, DeleteTemplatesRequest(names=names), master_timeout)

    async def put_index_template(self, name: str, body: dict, *, create: bool = False,
                                 master_timeout: float = 30.0) -> None:
        parse_index_template(body)
        request = PutTemplateRequest(name=name, body=orjson.dumps(body), create=create)
        await self._execute(PUT_INDEX_TEMPLATE, request, master_timeout)

    async def delete_index_templates(self, names: list[str], *, master_timeout: float = 30.0) -> None:
        await self._execute(DELETE_INDEX_TEMPLATE, DeleteTemplatesRequest(names=names), master_timeout)

    # -- the master side: each handler is one cluster state update -----------------------

    async def _submit(self, source: str, update) -> AppliedVersion:
        state = await self.node.coordination.submit(source, update)
        return AppliedVersion(term=state.term, version=state.version)

    async def _put_component(self, request: PutTemplateRequest, task: Task) -> AppliedVersion:
        template = parse_component_template(orjson.loads(request.body))
        return await self._submit(f"create-component-template [{request.name}]", lambda content:
                                  updates.put_component_template(content, request.name, template,
                                                                 create=request.create))

    async def _delete_components(self, request: DeleteTemplatesRequest, task: Task) -> AppliedVersion:
        return await self._submit(f"remove-component-template [{','.join(request.names)}]", lambda content:
                                  updates.delete_component_templates(content, request.names))

    async def _put_index_template(self, request: PutTemplateRequest, task: Task) -> AppliedVersion:
        template = parse_index_template(orjson.loads(request.body))
        return await self._submit(f"create-index-template-v2 [{request.name}]", lambda content:
                                  updates.put_index_template(content, request.name, template,
                                                             create=request.create))

    async def _delete_index_templates(self, request: DeleteTemplatesRequest, task: Task) -> AppliedVersion:
        return await self._submit(f"remove-index-template-v2 [{','.join(request.names)}]", lambda content:
                                  updates.delete_index_templates(content, request.names))
