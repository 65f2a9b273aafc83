"""Reads of index metadata from the applied cluster state, any node answering (ES's
TransportGetIndexAction, TransportGetSettingsAction, TransportGetMappingsAction,
TransportGetFieldMappingsAction and TransportGetAliasesAction): `indices:admin/get`,
`indices:monitor/settings/get`, `indices:admin/mappings/get`,
`indices:admin/mappings/fields/get` and `indices:admin/aliases/get`.

The action resolves the expression and answers with the metadata of the indices it
names, refused (cluster_block_exception) when one of them has a metadata read block, as
each of these actions' checkBlock refuses it; what of it a response shows (settings
filtered by name, aliases by pattern, flat or nested) is the REST layer's rendering.
"""

from __future__ import annotations

from typing import Any

from ..cluster import blocks
from ..common.patterns import simple_match_any
from ..index.metadata import IndexMetadata
from ..tasks.task import Task
from ..transport.wire import Message
from .resolve import IndicesOptions, resolve_names

GET_INDEX = "indices:admin/get"
GET_SETTINGS = "indices:monitor/settings/get"
GET_MAPPINGS = "indices:admin/mappings/get"
GET_FIELD_MAPPINGS = "indices:admin/mappings/fields/get"
GET_ALIASES = "indices:admin/aliases/get"


class IndexReadRequest(Message):
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()

    @property
    def description(self) -> str:
        return f"indices[{self.expression or ''}]"


class IndexReadResponse(Message):
    indices: list[IndexMetadata]


class FieldMappingsRequest(IndexReadRequest):
    fields: list[str] = []  # full names, `*` wildcards


class FieldMappingsResponse(Message):
    mappings: dict[str, dict[str, Any]]  # index -> full field name -> its mapping


def register(node) -> None:
    def readable(request: IndexReadRequest) -> list[str]:
        names = resolve_names(node.indices, request.expression, request.options)
        for name in names:
            blocks.check(node.indices.metadata(name), blocks.METADATA_READ)
        return names

    def read(request: IndexReadRequest, task: Task) -> IndexReadResponse:
        return IndexReadResponse(indices=[node.indices.metadata(n) for n in readable(request)])

    def field_mappings(request: FieldMappingsRequest, task: Task) -> FieldMappingsResponse:
        """The mapping of each leaf field whose full name matches, under its full name;
        objects are not fields."""
        out: dict[str, dict[str, Any]] = {}
        for name in readable(request):
            out[name] = {path: {"full_name": path, "mapping": {field.name: field.to_dict()}}
                         for path, field in node.indices.mapping(name).fields.items()
                         if simple_match_any(request.fields, path)}
        return FieldMappingsResponse(mappings=out)

    for name in (GET_INDEX, GET_SETTINGS, GET_MAPPINGS, GET_ALIASES):
        node.transport.register(name, IndexReadRequest, IndexReadResponse, read)
    node.transport.register(GET_FIELD_MAPPINGS, FieldMappingsRequest, FieldMappingsResponse, field_mappings)

