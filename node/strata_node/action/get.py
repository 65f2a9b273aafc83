"""Get by id, real time by default: the store is read directly, so a document is visible
to GET as soon as its write returns, refreshed or not.

Any node coordinates a get: it finds the document's shard by routing and reads it from an
active copy (`indices:data/read/get[s]`, this node's own copy first), falling back to
another copy when one is gone (Elasticsearch's TransportGetAction over a single shard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..cluster import blocks
from ..common.errors import IllegalArgument, RoutingMissing, StrataError, VersionConflict, error_body
from ..common.xcontent import raw
from ..engine.engine import MATCH_ANY
from ..index.mapping.mappers import IGNORED
from ..index.service import IndicesService
from ..search.shard_search import stored_field_values
from ..tasks.task import Task
from ..transport.wire import Message
from .source_filter import filter_source

GET_SHARD = "indices:data/read/get[s]"


@dataclass
class GetRequest:
    index: str
    id: str
    routing: str | None = None
    realtime: bool = True
    refresh: bool = False
    fetch_source: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    version: int | None = None
    version_type: str = "internal"
    preference: str | None = None
    stored_fields: tuple[str, ...] = ()  # fields mapped with `store: true` to return


class GetShardRequest(Message):
    index: str
    index_uuid: str
    shard: int
    id: str
    realtime: bool = True
    refresh: bool = False
    fetch_source: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    version: int | None = None
    stored_fields: tuple[str, ...] = ()


class GetShardResponse(Message):
    found: bool
    version: int = 0
    seq_no: int = 0
    primary_term: int = 0
    routing: str | None = None
    source: bytes | None = None  # JSON, filtered when the request asked for that
    fields: dict[str, list[Any]] | None = None  # the stored fields asked for
    ignored: list[str] | None = None  # the document's `_ignored`, when stored_fields named it


def register(node) -> None:
    def handle(request: GetShardRequest, task: Task) -> GetShardResponse:
        return get_on_shard(node.indices, request)

    node.transport.register(GET_SHARD, GetShardRequest, GetShardResponse, handle)


def get_on_shard(indices: IndicesService, req: GetShardRequest) -> GetShardResponse:
    shard = indices.local_shard(req.index, req.shard, req.index_uuid)
    with shard.read_stats.get() as found:
        response = _get(indices, shard, req)
        found[0] = response.found
    return response


def _get(indices: IndicesService, shard, req: GetShardRequest) -> GetShardResponse:
    engine = shard.active_engine()
    if req.refresh:
        engine.refresh()
    op = engine.get(req.id) if req.realtime else engine.get_refreshed(req.id)
    if op is None:
        return GetShardResponse(found=False)
    if req.version is not None and req.version != MATCH_ANY and req.version != op.version:
        raise VersionConflict(f"[{req.id}]: version conflict, current version [{op.version}] is different "
                              f"than the one provided [{req.version}]", index_uuid=req.index_uuid,
                              shard=str(req.shard), index=req.index)
    source = None
    indexer = indices.indices[req.index].indexer
    if req.fetch_source and indexer.mapping.source_enabled:
        source = op.source
        if req.includes or req.excludes:
            source = orjson.dumps(filter_source(orjson.loads(op.source), list(req.includes),
                                                list(req.excludes)))
    fields = ignored = None
    if req.stored_fields:
        fields = stored_field_values(indexer.mapping, indexer.analyzers, req.stored_fields, op.source,
                                     op.id) or None
        if IGNORED in req.stored_fields:
            ignored = _ignored(indices.indices[req.index], op)
    return GetShardResponse(found=True, version=op.version, seq_no=op.seq_no, primary_term=op.primary_term,
                            routing=op.routing, source=source, fields=fields, ignored=ignored)


def _ignored(service, op) -> list[str] | None:
    """A document's `_ignored`, which ES's get shows only when `stored_fields` names it
    (ShardGetService reads it from doc values since 8.15). Strata keeps no stored fields
    and reads the store directly, so the source is parsed again, as its stored fields are,
    with the limits of a replay: the fields the write left out are left out again."""
    try:
        return service.parse_again(op).fields.get(IGNORED)
    except StrataError:  # a mapping changed since so that the source no longer parses
        return None


async def get_document(node, req: GetRequest) -> dict[str, Any]:
    """The body of a get response; `found` says whether the document exists."""
    # An alias of one index reads that index, with the alias's index routing.
    metadata, routing = node.indices.single_index_target(req.index, req.routing)
    blocks.check(metadata, blocks.READ)
    if routing is None and node.indices.mapping(metadata.name).routing_required:
        # Without its routing the document's shard is unknown: refused as a write is
        # (ES's IndexRouting.getShard checks it for gets too).
        raise RoutingMissing(metadata.name, req.id)
    try:
        shard = metadata.shard_for(req.id, routing)
    except ValueError as e:
        raise IllegalArgument(str(e)) from None
    shard_request = GetShardRequest(index=metadata.name, index_uuid=metadata.uuid, shard=shard, id=req.id,
                                    realtime=req.realtime, refresh=req.refresh, fetch_source=req.fetch_source,
                                    includes=req.includes, excludes=req.excludes, version=req.version,
                                    stored_fields=req.stored_fields)
    response: GetShardResponse = await node.shard_router.on_copy(GET_SHARD, metadata.name, shard,
                                                                 shard_request, req.preference)
    body: dict[str, Any] = {"_index": metadata.name, "_id": req.id}
    if not response.found:
        body["found"] = False
        return body
    body.update({"_version": response.version, "_seq_no": response.seq_no,
                 "_primary_term": response.primary_term})
    if response.routing is not None:
        body["_routing"] = response.routing
    if response.ignored:  # GetResult's metadata fields, before `found`
        body[IGNORED] = response.ignored
    body["found"] = True
    if response.source is not None:
        body["_source"] = raw(response.source)
    if response.fields:
        body["fields"] = response.fields
    return body


# -- the top-level actions: `indices:data/read/get` and `indices:data/read/mget` ----------------

GET = "indices:data/read/get"
MGET = "indices:data/read/mget"


class GetDocumentRequest(Message):
    get: GetRequest


class GetDocumentResponse(Message):
    body: dict[str, Any]  # `found` says whether the document exists


class MultiGetRequest(Message):
    items: list[GetRequest]
    error_trace: bool = False  # a failed item's error carries its stack trace

    @property
    def description(self) -> str:
        return f"requests[{len(self.items)}]"


class MultiGetResponse(Message):
    docs: list[dict[str, Any]]


def register_actions(node) -> None:
    async def on_get(request: GetDocumentRequest, task: Task) -> GetDocumentResponse:
        return GetDocumentResponse(body=await get_document(node, request.get))

    async def on_mget(request: MultiGetRequest, task: Task) -> MultiGetResponse:
        docs = []
        for item in request.items:
            try:
                docs.append(await get_document(node, item))
            except StrataError as e:  # one item's failure is that item's answer
                failure = error_body(e, stack_trace=request.error_trace)["error"]
                # A missing routing names the concrete index, as TransportMultiGetAction does.
                index = e.index if isinstance(e, RoutingMissing) else item.index
                docs.append({"_index": index, "_id": item.id, "error": failure})
        return MultiGetResponse(docs=docs)

    node.transport.register(GET, GetDocumentRequest, GetDocumentResponse, on_get)
    node.transport.register(MGET, MultiGetRequest, MultiGetResponse, on_mget)
