"""Single-document APIs: index, create, get, source, delete, update, mget.

Writes are one-item bulk requests underneath, as in Elasticsearch, so every write
follows the same path to the shard."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..action.bulk import BulkItem, item_to_json
from ..action.get import GetRequest, get_document
from ..action.source_filter import parse_source_param
from ..action.update import parse_update_body
from ..common.errors import ActionRequestValidation, IllegalArgument, ParseError, StrataError, error_body
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from ..index.names import validate_index_name
from .controller import RestController, RestResponse
from .request import RestRequest, source_from_params
from .write_params import (
    check_cas_values,
    check_source,
    parse_long,
    parse_version_type,
    validate_item,
    write_options,
)

WRITE_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "require_alias", "pipeline",
                "if_seq_no", "if_primary_term", "version", "version_type", "op_type")
GET_PARAMS = ("routing", "realtime", "refresh", "preference", "stored_fields", "_source",
              "_source_includes", "_source_excludes", "version", "version_type")
SOURCE_PARAMS = ("_source", "_source_includes", "_source_excludes")
UPDATE_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "require_alias",
                 "if_seq_no", "if_primary_term", "retry_on_conflict", "_source", "_source_includes",
                 "_source_excludes", "lang", "version", "version_type")


class DocumentHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("PUT", "POST"):
            c.register(method, "/{index}/_doc/{id}", self.index, WRITE_PARAMS)
            c.register(method, "/{index}/_create/{id}", self.create, WRITE_PARAMS)
        c.register("POST", "/{index}/_doc", self.index, WRITE_PARAMS)
        c.register("GET", "/{index}/_doc/{id}", self.get, GET_PARAMS)
        c.register("GET", "/{index}/_source/{id}", self.get_source, GET_PARAMS)
        c.register("DELETE", "/{index}/_doc/{id}", self.delete, WRITE_PARAMS)
        c.register("POST", "/{index}/_update/{id}", self.update, UPDATE_PARAMS)
        for method in ("GET", "POST"):
            c.register(method, "/_mget", self.mget, GET_PARAMS)
            c.register(method, "/{index}/_mget", self.mget, GET_PARAMS)

    # -- writes ----------------------------------------------------------------------------

    def _item(self, request: RestRequest, action: str) -> BulkItem:
        index = request.param("index")
        validate_index_name(index)
        item = BulkItem(
            action=action, index=index, id=request.param("id"), routing=request.param("routing"),
            if_seq_no=parse_long("if_seq_no", request.param("if_seq_no", UNASSIGNED_SEQ_NO)),
            if_primary_term=parse_long("if_primary_term", request.param("if_primary_term", 0)),
            version=parse_long("version", request.param("version", MATCH_ANY)),
            version_type=parse_version_type(request.param("version_type")),
            require_alias=request.bool_param("require_alias"),
        )
        check_cas_values(item.if_seq_no, item.if_primary_term)
        return item

    async def _write(self, request: RestRequest, item: BulkItem) -> RestResponse:
        validate_item(item)
        options = write_options(request)
        [response] = await self.node.bulk.execute([item], options)
        if response.error is not None:
            raise response.error
        body = item_to_json(response, with_status=False)[item.action]
        headers = None
        if response.status == 201:
            headers = {"Location": f"/{quote(body['_index'], safe='')}/_doc/{quote(body['_id'], safe='')}"}
        return RestResponse(response.status, body, headers)

    @staticmethod
    def _source(request: RestRequest) -> bytes:
        """The document: required, and one JSON object (checked before anything is written)."""
        if not request.body:
            raise ParseError("request body is required")
        check_source(request.body)
        return request.body.strip()

    async def index(self, request: RestRequest) -> RestResponse:
        op_type = request.param("op_type", "index")
        if op_type not in ("index", "create"):
            raise IllegalArgument(f"opType must be 'create' or 'index', found: [{op_type}]")
        item = self._item(request, op_type)
        item.source = self._source(request)
        return await self._write(request, item)

    async def create(self, request: RestRequest) -> RestResponse:
        item = self._item(request, "create")
        item.source = self._source(request)
        return await self._write(request, item)

    async def delete(self, request: RestRequest) -> RestResponse:
        return await self._write(request, self._item(request, "delete"))

    async def update(self, request: RestRequest) -> RestResponse:
        if request.has_param("version") or request.has_param("version_type"):
            # Known to the endpoint only to be refused, as RestUpdateAction refuses them.
            raise ActionRequestValidation(["internal versioning can not be used for optimistic concurrency "
                                           "control. Please use `if_seq_no` and `if_primary_term` instead"])
        item = self._item(request, "update")
        item.retry_on_conflict = request.int_param("retry_on_conflict", 0)
        spec = parse_update_body(request.body)
        if spec.if_seq_no is not None:
            item.if_seq_no = spec.if_seq_no
        if spec.if_primary_term is not None:
            item.if_primary_term = spec.if_primary_term
        check_cas_values(item.if_seq_no, item.if_primary_term)
        fetch = source_from_params(request)
        if fetch is not None:
            spec.fetch_source = fetch
        item.update = spec
        return await self._write(request, item)

    # -- reads -----------------------------------------------------------------------------

    def _get_request(self, request: RestRequest, index: str, id: str, routing: str | None = None,
                     source: Any = None) -> GetRequest:
        fetch, includes, excludes = parse_source_param(source if source is not None
                                                       else request.param("_source"))
        includes = includes or request.list_param("_source_includes")
        excludes = excludes or request.list_param("_source_excludes")
        explicit = source is not None or any(request.has_param(p) for p in SOURCE_PARAMS)
        if not explicit and request.has_param("stored_fields"):
            # Stored fields are asked for instead of the source: no field is stored apart
            # from `_source`, so the answer is the source if it was named, else nothing.
            fetch = "_source" in request.list_param("stored_fields")
        version = request.param("version")
        return GetRequest(index=index, id=id, routing=routing or request.param("routing"),
                          realtime=request.bool_param("realtime", True),
                          refresh=request.bool_param("refresh", False),
                          fetch_source=fetch, includes=tuple(includes), excludes=tuple(excludes),
                          version=parse_long("version", version) if version is not None else None)

    async def get(self, request: RestRequest) -> RestResponse:
        req = self._get_request(request, request.param("index"), request.param("id"))
        body = get_document(self.node.indices, req)
        return RestResponse(200 if body["found"] else 404, body)

    async def get_source(self, request: RestRequest) -> RestResponse:
        req = self._get_request(request, request.param("index"), request.param("id"))
        body = get_document(self.node.indices, req)
        if not body["found"]:
            raise _ResourceNotFound(f"Document not found [{req.index}]/[{req.id}]")
        return RestResponse(200, body.get("_source", {}))

    async def mget(self, request: RestRequest) -> RestResponse:
        body = request.json_body(required=True)
        default_index = request.param("index")
        for key in body:
            if key not in ("docs", "ids"):
                raise IllegalArgument(f"unknown key [{key}] for a START_ARRAY, expected [docs] or [ids]")
        specs: list[dict[str, Any]] = []
        if "ids" in body:
            if not isinstance(body["ids"], list):
                raise IllegalArgument("[ids] must be an array")
            specs = [{"_id": i} for i in body["ids"]]
        elif "docs" in body:
            if not isinstance(body["docs"], list):
                raise IllegalArgument("[docs] must be an array")
            specs = body["docs"]
        errors = []
        for n, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise IllegalArgument(f"docs[{n}] must be an object")
            if spec.get("_index", default_index) is None:
                errors.append(f"index is missing for doc {n}")
            if spec.get("_id") is None:
                errors.append(f"id is missing for doc {n}")
        if not specs:
            errors.append("no documents to get")
        if errors:
            raise ActionRequestValidation(errors)
        docs = []
        for spec in specs:
            index, id = spec.get("_index", default_index), str(spec["_id"])
            try:
                req = self._get_request(request, index, id, spec.get("routing"), spec.get("_source"))
                docs.append(get_document(self.node.indices, req))
            except StrataError as e:
                docs.append({"_index": index, "_id": id, "error": error_body(e)["error"]})
        return RestResponse(200, {"docs": docs})


class _ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404
