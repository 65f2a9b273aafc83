"""Get by id, real time by default: the store is read directly, so a document is visible
to GET as soon as its write returns, refreshed or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..common.errors import IllegalArgument, VersionConflict
from ..common.xcontent import raw
from ..index.service import IndicesService
from .source_filter import filter_source


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


def get_document(indices: IndicesService, req: GetRequest) -> dict[str, Any]:
    """The body of a get response; `found` says whether the document exists."""
    service = indices.get(req.index)
    try:
        shard_num = service.metadata.shard_for(req.id, req.routing)
    except ValueError as e:
        raise IllegalArgument(str(e)) from None
    shard = service.shard(shard_num)
    engine = shard.active_engine()
    if req.refresh:
        engine.refresh()
    op = engine.get(req.id) if req.realtime else engine.get_refreshed(req.id)
    body: dict[str, Any] = {"_index": service.name, "_id": req.id}
    if op is None:
        body["found"] = False
        return body
    if req.version is not None and req.version != op.version:
        raise VersionConflict(f"[{req.id}]: version conflict, current version [{op.version}] is different "
                              f"than the one provided [{req.version}]", index_uuid=service.metadata.uuid,
                              shard=str(shard_num), index=service.name)
    body.update({"_version": op.version, "_seq_no": op.seq_no, "_primary_term": op.primary_term})
    if op.routing is not None:
        body["_routing"] = op.routing
    body["found"] = True
    if req.fetch_source:
        if req.includes or req.excludes:
            body["_source"] = filter_source(orjson.loads(op.source), list(req.includes), list(req.excludes))
        else:
            body["_source"] = raw(op.source)
    return body
