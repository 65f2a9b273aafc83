"""Single-document APIs: index, create, get, source, delete, update, mget.

Writes are one-item bulk requests underneath, as in Elasticsearch, so every write
follows the same path to the shard."""

from __future__ import annotations

import string

from ..action.bulk import BulkItem
from ..action.get import (
    GET,
    MGET,
    GetDocumentRequest,
    GetDocumentResponse,
    GetRequest,
    MultiGetRequest,
    MultiGetResponse,
)
from ..action.update import parse_update_body
from ..action.write_actions import DELETE, INDEX, UPDATE, WriteRequest, WriteRequestOptions, WriteResponse
from ..common.errors import ActionRequestValidation, IllegalArgument, ParseError, StrataError
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from ..index.names import validate_index_name
from .controller import RestController, RestResponse
from .mget import Fetch, parse_mget_body
from .request import RestRequest, source_from_params
from .write_params import (
    check_cas_values,
    check_source,
    parse_long,
    parse_version_type,
    read_version_errors,
    validate_item,
    write_options,
)

WRITE_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "require_alias", "pipeline",
                "if_seq_no", "if_primary_term", "version", "version_type", "op_type")
GET_PARAMS = ("routing", "realtime", "refresh", "preference", "stored_fields", "_source",
              "_source_includes", "_source_excludes", "version", "version_type")
# The `_source` endpoint reads no stored fields: Elasticsearch refuses the parameter there.
SOURCE_PARAMS = tuple(p for p in GET_PARAMS if p != "stored_fields")
MGET_PARAMS = ("routing", "realtime", "refresh", "preference", "stored_fields", "_source",
               "_source_includes", "_source_excludes", "fields")
UPDATE_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "require_alias",
                 "if_seq_no", "if_primary_term", "retry_on_conflict", "_source", "_source_includes",
                 "_source_excludes", "lang", "version", "version_type")


class DocumentHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("PUT", "POST"):
            c.register(method, "/{index}/_doc/{id}", self.index, WRITE_PARAMS, action=INDEX)
            c.register(method, "/{index}/_create/{id}", self.create, WRITE_PARAMS, action=INDEX)
        c.register("POST", "/{index}/_doc", self.index, WRITE_PARAMS, action=INDEX)
        c.register("GET", "/{index}/_doc/{id}", self.get, GET_PARAMS, action=GET)
        c.register("GET", "/{index}/_source/{id}", self.get_source, SOURCE_PARAMS, action=GET)
        c.register("DELETE", "/{index}/_doc/{id}", self.delete, WRITE_PARAMS, action=DELETE)
        c.register("POST", "/{index}/_update/{id}", self.update, UPDATE_PARAMS, action=UPDATE)
        for method in ("GET", "POST"):
            c.register(method, "/_mget", self.mget, MGET_PARAMS, action=MGET)
            c.register(method, "/{index}/_mget", self.mget, MGET_PARAMS, action=MGET)

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
        options = WriteRequestOptions.of(write_options(request))
        action = {"index": INDEX, "create": INDEX, "delete": DELETE, "update": UPDATE}[item.action]
        response: WriteResponse = await self.node.client.execute(
            action, WriteRequest(options=options, local_item=item))
        body = response.body
        headers = None
        if response.status == 201:
            # The write resolved the item's routing (an alias's, none for an empty one).
            headers = {"Location": location(body["_index"], body["_id"], item.routing)}
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
        action = op_type.lower()  # IndexRequest.opType(String) reads it in any case
        if action not in ("index", "create"):
            raise IllegalArgument(f"opType must be 'create' or 'index', found: [{op_type}]")
        item = self._item(request, action)
        item.source = self._source(request)
        return await self._write(request, item)

    async def create(self, request: RestRequest) -> RestResponse:
        op_type = request.param("op_type")
        if op_type is not None and op_type.lower() != "create":
            raise IllegalArgument(f"opType must be 'create', found: [{op_type}]")
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

    def _get_request(self, request: RestRequest, index: str, id: str, *, routing: str | None = None,
                     fetch: Fetch | None = None, stored_fields: list[str] | None = None,
                     version: int | None = None, version_type: str = "internal") -> GetRequest:
        fetch_source, includes, excludes = resolve_fetch(fetch, stored_fields)
        return GetRequest(index=index, id=id, routing=routing,
                          realtime=request.bool_param("realtime", True),
                          refresh=request.bool_param("refresh", False),
                          fetch_source=fetch_source, includes=tuple(includes), excludes=tuple(excludes),
                          version=version, version_type=version_type, preference=request.param("preference"),
                          stored_fields=tuple(stored_fields or ()))

    def _single_get(self, request: RestRequest) -> GetRequest:
        version = request.param("version")
        version_type = parse_version_type(request.param("version_type"))
        stored = request.list_param("stored_fields") if request.has_param("stored_fields") else None
        return self._get_request(request, request.param("index"), request.param("id"),
                                 routing=request.param("routing"), fetch=fetch_from_params(request),
                                 stored_fields=stored,
                                 version=parse_long("version", version) if version is not None else None,
                                 version_type=version_type)

    async def _get(self, req: GetRequest) -> dict:
        """Executes a get after GetRequest.validate's check of its version; an mget's docs
        are not checked (MultiGetRequest.validate does not), a bad version conflicts there."""
        errors = read_version_errors(req.version, req.version_type) if req.version is not None else []
        if errors:
            raise ActionRequestValidation(errors)
        response: GetDocumentResponse = await self.node.client.execute(GET, GetDocumentRequest(get=req))
        return response.body

    async def get(self, request: RestRequest) -> RestResponse:
        body = await self._get(self._single_get(request))
        return RestResponse(200 if body["found"] else 404, body)

    async def get_source(self, request: RestRequest) -> RestResponse:
        req = self._single_get(request)
        if not req.fetch_source:
            # `_source=false` asks this endpoint for nothing: RestGetSourceAction refuses it
            # before anything is read.
            raise ActionRequestValidation(["fetching source can not be disabled"])
        body = await self._get(req)
        if not body["found"]:
            raise _ResourceNotFound(f"Document not found [{req.index}]/[{req.id}]")
        if "_source" not in body:  # the mapping disables `_source`
            raise _ResourceNotFound(f"Source not found [{req.index}]/[{req.id}]")
        return RestResponse(200, body["_source"])

    async def mget(self, request: RestRequest) -> RestResponse:
        if request.has_param("fields"):
            raise IllegalArgument("The parameter [fields] is no longer supported, please use [stored_fields] "
                                  "to retrieve stored fields or _source filtering if the field is not stored")
        stored = request.list_param("stored_fields") if request.has_param("stored_fields") else None
        default_fetch = fetch_from_params(request)
        items = parse_mget_body(request.body, request.param("index"), request.param("routing"), stored)
        errors = []
        for n, item in enumerate(items):
            if item.index is None:
                errors.append(f"index is missing for doc {n}")
            if item.id is None:
                errors.append(f"id is missing for doc {n}")
        if errors or not items:
            raise ActionRequestValidation(errors or ["no documents to get"])
        gets = [self._get_request(request, item.index, item.id, routing=item.routing,
                                  fetch=item.fetch or default_fetch, stored_fields=item.stored_fields,
                                  version=item.version, version_type=item.version_type) for item in items]
        response: MultiGetResponse = await self.node.client.execute(
            MGET, MultiGetRequest(items=gets, error_trace=request.error_trace))
        return RestResponse(200, {"docs": response.docs})


# What java.net.URLEncoder leaves as it is
_URL_SAFE = frozenset(string.ascii_letters + string.digits + ".-*_")


def url_encode(text: str) -> str:
    """java.net.URLEncoder.encode(text, UTF_8): a space is `+`, every other byte outside
    letters, digits and `.-*_` is `%XX` (`~` included, which Python's quote keeps); a lone
    surrogate is encoded as `?`, which Java's encoder puts in its place."""
    return "".join(c if c in _URL_SAFE else "+" if c == " "
                   else "".join(f"%{b:02X}" for b in c.encode("utf-8", "replace")) for c in text)


def location(index: str, id: str, routing: str | None) -> str:
    """The `Location` of a created document (DocWriteResponse.getLocation): index, id and
    routing each URL-encoded, the routing as a query parameter."""
    path = f"/{url_encode(index)}/_doc/{url_encode(id)}"
    return path if routing is None else f"{path}?routing={url_encode(routing)}"


def fetch_from_params(request: RestRequest) -> Fetch | None:
    """`_source`, `_source_includes` and `_source_excludes` as one fetch-source context,
    None when the request has none of them (FetchSourceContext.parseFromRestRequest)."""
    fetch: bool | None = None
    includes: list[str] | None = None
    source = request.param("_source")
    if source is not None:
        if source in ("true", "false"):
            fetch = source == "true"
        else:
            includes = [v for v in source.split(",") if v]
    if request.has_param("_source_includes"):
        includes = request.list_param("_source_includes")
    excludes = request.list_param("_source_excludes") if request.has_param("_source_excludes") else None
    if fetch is None and includes is None and excludes is None:
        return None
    return (True if fetch is None else fetch), includes or [], excludes or []


def resolve_fetch(fetch: Fetch | None, stored_fields: list[str] | None) -> Fetch:
    """Without an explicit `_source`, asking for stored fields leaves the source out unless
    `_source` is one of them (ShardGetService.normalizeFetchSourceContent)."""
    if fetch is not None:
        return fetch
    if stored_fields is None:
        return True, [], []
    return "_source" in stored_fields, [], []


class _ResourceNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404
