"""Mapping APIs: get mapping, put mapping, get field mapping.

Put-mapping merges the body into the mapping of every index the path names, or of none
(each merge is computed, and any conflict raised, before the first index changes); the
mapping an index then has is what GET _mapping shows, in Elasticsearch's normalized form.
"""

from __future__ import annotations

import orjson

from ..action.index_admin import PUT_MAPPING, AppliedVersion, PutMappingRequest
from ..action.index_reads import GET_FIELD_MAPPINGS, GET_MAPPINGS, FieldMappingsRequest, FieldMappingsResponse
from ..action.master import DEFAULT_MASTER_TIMEOUT
from .controller import RestController, RestResponse
from .indices import indices_options, read_metadata
from .request import RestRequest

RESOLVE_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
MASTER_PARAMS = ("local", "master_timeout")
PUT_PARAMS = (*RESOLVE_PARAMS, "timeout", "master_timeout", "write_index_only")
FIELD_PARAMS = (*RESOLVE_PARAMS, "include_defaults", "local")


class MappingHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_mapping", self.get_mapping, (*RESOLVE_PARAMS, *MASTER_PARAMS),
                   action=GET_MAPPINGS)
        c.register("GET", "/{index}/_mapping", self.get_mapping, (*RESOLVE_PARAMS, *MASTER_PARAMS),
                   action=GET_MAPPINGS)
        for method in ("PUT", "POST"):
            c.register(method, "/{index}/_mapping", self.put_mapping, PUT_PARAMS, action=PUT_MAPPING)
        c.register("GET", "/_mapping/field/{fields}", self.get_field_mapping, FIELD_PARAMS,
                   action=GET_FIELD_MAPPINGS)
        c.register("GET", "/{index}/_mapping/field/{fields}", self.get_field_mapping, FIELD_PARAMS,
                   action=GET_FIELD_MAPPINGS)

    async def get_mapping(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        indices = await read_metadata(self.node, request, GET_MAPPINGS)
        return RestResponse(200, {md.name: {"mappings": md.mappings} for md in indices})

    async def put_mapping(self, request: RestRequest) -> RestResponse:
        """`PUT /{index}/_mapping`: the body is a mapping definition, merged in. A wildcard
        must match some index unless `allow_no_indices` (PutMappingRequest refuses empty
        expansions); closed indices are reached too."""
        ack_timeout = request.time_param("timeout", 30.0)
        master_timeout = request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)
        request.bool_param("write_index_only")
        body = request.json_body(required=True)
        applied: AppliedVersion = await self.node.client.execute(PUT_MAPPING, PutMappingRequest(
            source=orjson.dumps(body), expression=request.param("index"),
            options=indices_options(request, "open,closed", allow_no_indices=False), ack_timeout=ack_timeout,
            master_timeout=master_timeout))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def get_field_mapping(self, request: RestRequest) -> RestResponse:
        """`GET /{index}/_mapping/field/{fields}`: the mapping of each leaf field whose
        full name matches (`*` wildcards), under its full name; objects are not fields."""
        patterns = request.list_param("fields")
        request.bool_param("include_defaults")
        request.bool_param("local")
        response: FieldMappingsResponse = await self.node.client.execute(
            GET_FIELD_MAPPINGS, FieldMappingsRequest(expression=request.param("index"),
                                                     options=indices_options(request), fields=patterns))
        body = {name: {"mappings": found} for name, found in response.mappings.items()}
        return RestResponse(200, body)
