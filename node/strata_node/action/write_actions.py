"""The top-level write actions: `indices:data/write/bulk` (TransportBulkAction) and the
single-document `indices:data/write/index`, `.../delete` and `.../update`, which are
one-item bulks underneath (TransportSingleItemBulkWriteAction), run in their own task.

A bulk request is executed on the node that received it; its shard requests
(`indices:data/write/bulk[s]`) are children of its task. A call to this node passes the
parsed items as they are (`local_items`), so a thousand documents are not converted
twice; `items` is the form a request from another node travels in.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from ..tasks.task import Task
from ..transport.wire import Message
from .bulk import BulkItem, WriteOptions, item_to_json
from .update import UpdateSpec

BULK = "indices:data/write/bulk"
INDEX = "indices:data/write/index"
DELETE = "indices:data/write/delete"
UPDATE = "indices:data/write/update"
SOURCE_IN_DESCRIPTION = 2048  # as much of a document as IndexRequest's description shows


class BulkRequestItem(Message):
    action: str  # index | create | update | delete
    index: str | None
    id: str | None
    routing: str | None = None
    source: bytes | None = None
    update: UpdateSpec | None = None
    if_seq_no: int = UNASSIGNED_SEQ_NO
    if_primary_term: int = 0
    version: int = MATCH_ANY
    version_type: str = "internal"
    retry_on_conflict: int = 0
    require_alias: bool = False


class WriteRequestOptions(Message):
    refresh: str = "false"
    wait_for_active_shards: str | None = None  # None: the index's index.write.wait_for_active_shards
    timeout: float = 60.0
    pipeline: str | None = None
    error_trace: bool = False

    @classmethod
    def of(cls, options: WriteOptions) -> WriteRequestOptions:
        return cls(refresh=options.refresh, wait_for_active_shards=options.wait_for_active_shards,
                   timeout=options.timeout, pipeline=options.pipeline, error_trace=options.error_trace)

    def write_options(self) -> WriteOptions:
        return WriteOptions(refresh=self.refresh, wait_for_active_shards=self.wait_for_active_shards,
                            timeout=self.timeout, pipeline=self.pipeline, error_trace=self.error_trace)


class BulkRequest(Message):
    options: WriteRequestOptions
    items: list[BulkRequestItem] = []
    # A call to this node: the parsed BulkItems themselves (documents and per-item parse
    # errors included) instead of `items`.
    local_items: Any = None

    def bulk_items(self) -> list[BulkItem]:
        if self.local_items is not None:
            return self.local_items
        return [BulkItem(i.action, i.index, i.id, routing=i.routing, source=i.source, update=i.update,
                         if_seq_no=i.if_seq_no, if_primary_term=i.if_primary_term, version=i.version,
                         version_type=i.version_type, retry_on_conflict=i.retry_on_conflict,
                         require_alias=i.require_alias) for i in self.items]

    @property
    def description(self) -> str:
        items = self.local_items if self.local_items is not None else self.items
        indices = sorted({i.index for i in items if i.index is not None})
        return f"requests[{len(items)}], indices[{', '.join(indices)}]"


class BulkResponse(Message):
    took: int
    errors: bool
    items: list[dict[str, Any]]  # each item as the bulk response renders it


class WriteRequest(Message):
    """One document write (index, create, delete or update): a one-item bulk."""

    options: WriteRequestOptions
    item: BulkRequestItem | None = None
    local_item: Any = None  # a call to this node: the BulkItem itself

    def bulk_item(self) -> BulkItem:
        if self.local_item is not None:
            return self.local_item
        return BulkRequest(options=self.options, items=[self.item]).bulk_items()[0]

    @property
    def description(self) -> str:
        item = self.local_item if self.local_item is not None else self.item
        target = f"[{item.index}][{item.id}]"
        if item.action in ("index", "create"):
            source = (item.source or b"")[:SOURCE_IN_DESCRIPTION].decode("utf-8", "replace")
            return f"index {{{target}, source[{source}]}}"
        return f"{item.action} {{{target}}}"


class WriteResponse(Message):
    status: int
    body: dict[str, Any]  # the item's answer, without its status


def register(node) -> None:
    bulk = node.bulk

    async def on_bulk(request: BulkRequest, task: Task) -> BulkResponse:
        start = time.monotonic()
        responses = await bulk.execute(request.bulk_items(), request.options.write_options())
        stack_trace = request.options.error_trace
        return BulkResponse(took=int((time.monotonic() - start) * 1000),
                            errors=any(r.error is not None for r in responses),
                            items=[item_to_json(r, stack_trace=stack_trace) for r in responses])

    async def on_write(request: WriteRequest, task: Task) -> WriteResponse:
        item = request.bulk_item()
        [response] = await bulk.execute([item], request.options.write_options())
        if response.error is not None:
            raise response.error
        return WriteResponse(status=response.status,
                             body=item_to_json(response, with_status=False)[item.action])

    node.transport.register(BULK, BulkRequest, BulkResponse, on_bulk)
    for name in (INDEX, DELETE, UPDATE):
        node.transport.register(name, WriteRequest, WriteResponse, on_write)
