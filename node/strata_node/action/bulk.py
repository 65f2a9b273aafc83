"""The write path: every index, create, update and delete goes through here, one item or
a thousand (Elasticsearch's TransportBulkAction and TransportShardBulkAction).

The coordinating step resolves indices (creating missing ones), picks each item's shard
by routing and fans the items out, one shard request per shard, in parallel. The shard
step executes its items in order on the primary, makes them durable (translog fsync with
`request` durability) and honours the refresh policy, then answers item by item.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..cluster import blocks
from ..common.errors import (
    DocumentMissing,
    DocumentSourceMissing,
    IllegalArgument,
    IndexClosed,
    IndexNotFound,
    RoutingMissing,
    ShardNotFound,
    StrataError,
    UnavailableShards,
    VersionConflict,
)
from ..common.ids import time_based_ids
from ..common.xcontent import raw
from ..engine import operation as ops
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO, DeleteOp, IndexOp, PrebuiltSegment, WriteResult
from ..engine.index_structures import EncodedSegment
from ..index.indexing import DocumentIndexer, encode_documents
from ..index.indexing_pool import (
    MIN_WORKER_BATCH,
    PART_SIZE,
    POOL,
    IndexingSession,
    log_worker_failure,
)
from ..index.mapping import ParsedDocument
from ..index.metadata import IndexMetadata
from ..index.service import IndexService, IndicesService
from ..index.shard import IndexShard
from ..index.templates.metadata import ComposableIndexTemplate
from ..index.templates.resolve import template_allows_auto_create
from ..replication.replica import RetryOnPrimary
from ..transport.service import RemoteTransportError
from ..transport.wire import Message
from .document_mapping import ShardMapper
from .shard_router import format_timeout
from .source_filter import filter_source, parse_source_param
from .update import UpdateSpec, merge

log = logging.getLogger(__name__)

STATUS = {"created": 201, "updated": 200, "deleted": 200, "not_found": 404, "noop": 200}
BULK_SHARD = "indices:data/write/bulk[s]"
NOOP_PIPELINE_NAME = "_none"  # the pipeline name that asks for none (IngestService.NOOP_PIPELINE_NAME)


def names_pipeline(pipeline: str | None) -> bool:
    """Whether a write's `pipeline` names an ingest pipeline; Strata has none, so one that
    does is refused as Elasticsearch refuses a pipeline that does not exist. `_none` and an
    empty name ask for no pipeline: the document is indexed as sent."""
    return bool(pipeline) and pipeline != NOOP_PIPELINE_NAME


@dataclass(slots=True)
class BulkItem:
    action: str  # index | create | update | delete
    index: str | None
    id: str | None
    routing: str | None = None
    source: bytes | None = None  # index and create
    update: UpdateSpec | None = None
    if_seq_no: int = UNASSIGNED_SEQ_NO
    if_primary_term: int = 0
    version: int = MATCH_ANY
    version_type: str = "internal"
    retry_on_conflict: int = 0
    require_alias: bool = False
    error: StrataError | None = None  # a problem found while parsing this item alone
    auto_id: bool = False
    document: dict | None = None  # `source` parsed, when the REST layer already did it


@dataclass
class WriteOptions:
    refresh: str = "false"  # true | false | wait_for
    # `all` or a count; None: the index's index.write.wait_for_active_shards (ES's DEFAULT)
    wait_for_active_shards: str | None = None
    timeout: float = 60.0
    pipeline: str | None = None
    error_trace: bool = False  # item failures carry their stack traces (made where they happen)
    retry: bool = False  # the shard request was sent before: a generated id may be written already


@dataclass(slots=True)
class ItemResponse:
    action: str
    index: str | None
    id: str | None
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    error: StrataError | None = None


class ShardItem(Message):
    """One item of a shard's part of a bulk request."""

    action: str
    id: str
    routing: str | None = None
    source: bytes | None = None
    update: UpdateSpec | None = None
    if_seq_no: int = UNASSIGNED_SEQ_NO
    if_primary_term: int = 0
    version: int = MATCH_ANY
    version_type: str = "internal"
    retry_on_conflict: int = 0
    auto_id: bool = False


class BulkShardRequest(Message):
    index: str
    index_uuid: str
    shard: int
    items: list[ShardItem]
    refresh: str = "false"
    wait_for_active_shards: str | None = None
    timeout: float = 60.0
    error_trace: bool = False
    retry: bool = False  # sent again after a failure (ES's ReplicationRequest.onRetry)
    # A call to this node is not serialized: it carries the coordinating step's BulkItems
    # (parsed documents included) instead of `items`, sparing two conversions per item.
    local_items: Any = None

    @property
    def description(self) -> str:
        count = len(self.local_items) if self.local_items is not None else len(self.items)
        return f"requests[{count}], index[{self.index}][{self.shard}]"


class ShardItemResult(Message):
    status: int
    body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # the error's body, `status` included


class BulkShardResponse(Message):
    items: list[ShardItemResult]
    local_responses: Any = None  # the ItemResponses themselves, on a call to this node


def _to_shard_item(item: BulkItem) -> ShardItem:
    return ShardItem(action=item.action, id=item.id, routing=item.routing, source=item.source,
                     update=item.update, if_seq_no=item.if_seq_no, if_primary_term=item.if_primary_term,
                     version=item.version, version_type=item.version_type,
                     retry_on_conflict=item.retry_on_conflict, auto_id=item.auto_id)


def _from_shard_item(index: str, item: ShardItem) -> BulkItem:
    return BulkItem(item.action, index, item.id, routing=item.routing, source=item.source, update=item.update,
                    if_seq_no=item.if_seq_no, if_primary_term=item.if_primary_term, version=item.version,
                    version_type=item.version_type, retry_on_conflict=item.retry_on_conflict,
                    auto_id=item.auto_id)


def _to_result(response: ItemResponse, error_trace: bool) -> ShardItemResult:
    if response.error is not None:
        error = response.error.to_dict(stack_trace=error_trace)
        error["status"] = response.error.status
        return ShardItemResult(status=response.status, error=error)
    return ShardItemResult(status=response.status, body=response.body)


def _from_result(item: BulkItem, result: ShardItemResult) -> ItemResponse:
    if result.error is not None:
        return ItemResponse(item.action, item.index, item.id, result.status,
                            error=RemoteTransportError(result.error))
    return ItemResponse(item.action, item.index, item.id, result.status, result.body)


def _shards_header(service: IndexService, successful: int = 1) -> dict[str, int]:
    # Replicas are counted though unassigned on one node, as Elasticsearch counts them.
    return {"total": 1 + service.metadata.number_of_replicas, "successful": successful, "failed": 0}


def _may_create_index(item: BulkItem) -> bool:
    """Whether the item's index is created when missing: a delete creates it only with
    external versioning, as TransportBulkAction skips the other deletes when it gathers
    the indices to create (a delete of a missing index has nothing to delete), so such a
    delete fails with index_not_found_exception unless another item creates the index."""
    return item.action != "delete" or item.version_type in ("external", "external_gte")


def _auto_create_allowed(setting: str, name: str) -> bool:
    value = setting.strip().lower()
    if value in ("true", ""):
        return True
    if value == "false":
        return False
    for pattern in (p.strip() for p in setting.split(",")):
        if not pattern:
            continue
        if pattern.startswith("-") and fnmatch.fnmatchcase(name, pattern[1:]):
            return False
        if fnmatch.fnmatchcase(name, pattern.lstrip("+")):
            return True
    return False


class BulkAction:
    """The coordinating step runs on the node the request came to; the shard step on the
    node of each shard's primary, reached through `router` (this node included)."""

    def __init__(self, indices: IndicesService, auto_create_index: str | Callable[[], str] = "true"):
        self.indices = indices
        # The setting's value, or a function giving its current value (the node's cluster
        # settings, which `PUT /_cluster/settings` changes).
        self.auto_create_index = auto_create_index
        # The cluster's composable index templates: a template's `allow_auto_create`
        # overrides the setting for the names it matches.
        self.index_templates: Callable[[], Mapping[str, ComposableIndexTemplate]] = dict
        self.router = None  # the node's ShardRouter, set once its transport exists
        # Sends what a primary wrote to its other copies (replication/replica.py); None
        # where there is no cluster (in-process tests of one copy).
        self.replicate = None

    def register(self, transport) -> None:
        transport.register(BULK_SHARD, BulkShardRequest, BulkShardResponse, self._on_shard_request)

    async def _on_shard_request(self, request: BulkShardRequest, task) -> BulkShardResponse:
        shard = self.indices.local_shard(request.index, request.shard, request.index_uuid)
        if not shard.primary or shard.relocated:  # routed by a state this node moved past: retried
            raise ShardNotFound(request.index, request.index_uuid, request.shard)
        shard.active_engine()  # a failed primary fails the request whole: it is retried elsewhere
        service = self.indices.indices[request.index]
        if service.metadata.closed:  # sent before the coordinating node saw the index close
            raise IndexClosed(service.name, service.metadata.uuid)
        local = request.local_items is not None
        items = request.local_items if local else [_from_shard_item(request.index, i) for i in request.items]
        responses: list[ItemResponse | None] = [None] * len(items)
        options = WriteOptions(refresh=request.refresh, wait_for_active_shards=request.wait_for_active_shards,
                               timeout=request.timeout, retry=request.retry)
        shard.begin_write()
        try:
            await self._shard_request(service, shard, items, list(range(len(items))), responses, options)
        finally:
            shard.end_write()
        if local:
            return BulkShardResponse(items=[], local_responses=responses)
        return BulkShardResponse(items=[_to_result(r, request.error_trace) for r in responses])

    async def execute(self, items: list[BulkItem], options: WriteOptions) -> list[ItemResponse]:
        if names_pipeline(options.pipeline):
            raise IllegalArgument(f"pipeline with id [{options.pipeline}] does not exist")
        responses: list[ItemResponse | None] = [None] * len(items)
        services = await self._resolve_indices(items, responses)
        groups: dict[tuple[str, int], list[int]] = {}
        ids = iter(time_based_ids(sum(1 for item in items if item.id is None)))
        for i, item in enumerate(items):
            if item.id is None:
                item.id, item.auto_id = next(ids), True
            if item.routing == "":
                item.routing = None  # an empty routing is no routing, as IndexRequest.routing has it
            if responses[i] is not None:
                continue
            metadata = services[item.index]
            if item.routing is None and self.indices.mapping(item.index).routing_required:
                responses[i] = self._failure(item, RoutingMissing(item.index, item.id))
                continue
            try:
                shard = metadata.shard_for(item.id, item.routing)
            except ValueError as e:
                responses[i] = self._failure(item, IllegalArgument(str(e)))
                continue
            groups.setdefault((item.index, shard), []).append(i)
        await asyncio.gather(*(
            self._send_to_primary(services[index], shard, [items[i] for i in idx], idx, responses, options)
            for (index, shard), idx in groups.items()
        ))
        return [r for r in responses if r is not None]

    async def _send_to_primary(self, metadata: IndexMetadata, shard: int, items: list[BulkItem],
                               positions: list[int], responses: list, options: WriteOptions) -> None:
        attempts = 0

        def request(local: bool) -> BulkShardRequest:
            nonlocal attempts
            attempts += 1  # called once per attempt: a later one may follow a write that happened
            return BulkShardRequest(index=metadata.name, index_uuid=metadata.uuid, shard=shard,
                                    items=[] if local else [_to_shard_item(item) for item in items],
                                    local_items=items if local else None,
                                    refresh=options.refresh, timeout=options.timeout,
                                    wait_for_active_shards=options.wait_for_active_shards,
                                    error_trace=options.error_trace, retry=attempts > 1)

        try:
            answer: BulkShardResponse = await self.router.on_primary(
                BULK_SHARD, metadata.name, shard, request, options.timeout)
        except StrataError as e:
            for pos, item in zip(positions, items, strict=True):
                responses[pos] = self._failure(item, e)
            return
        if answer.local_responses is not None:
            for pos, response in zip(positions, answer.local_responses, strict=True):
                responses[pos] = response
            return
        for pos, item, result in zip(positions, items, answer.items, strict=True):
            responses[pos] = _from_result(item, result)

    async def _resolve_indices(self, items: list[BulkItem], responses: list) -> dict[str, IndexMetadata]:
        """The index each item writes to, by concrete name. An item naming an alias is
        rewritten to the alias's write index, with the alias's index routing."""
        services: dict[str, IndexMetadata] = {}
        targets: dict[str, tuple[IndexMetadata, str | None] | StrataError] = {}
        creating = {item.index for item in items if _may_create_index(item)}
        for i, item in enumerate(items):
            if item.error is not None:
                responses[i] = self._failure(item, item.error)
                continue
            name = item.index
            if name not in targets:
                try:
                    targets[name] = await self._index_for_write(name, item, may_create=name in creating)
                except StrataError as e:
                    targets[name] = e
            target = targets[name]
            try:
                if isinstance(target, StrataError):
                    raise target
                metadata, alias = target
                if alias is not None:
                    lookup = self.indices.aliases
                    item.routing = lookup.index_routing(alias, metadata.name, item.routing or None)
            except StrataError as e:
                responses[i] = self._failure(item, e)
                continue
            item.index = metadata.name
            services[metadata.name] = metadata
        return services

    async def _index_for_write(self, name: str, item: BulkItem, *,
                               may_create: bool) -> tuple[IndexMetadata, str | None]:
        """The index (and alias, when `name` is one) a write to `name` goes to, the index
        created first when it is missing, an item of the request `may_create` it and
        auto-creation allows it."""
        if name in self.indices.aliases.aliases:
            metadata, alias = self.indices.write_target(name)
            blocks.check(metadata, blocks.WRITE)
            return metadata, alias
        if item.require_alias:
            raise IndexNotFound(name, f"no such index [{name}] and [require_alias] request flag is "
                                      f"[true] and [{name}] is not an alias")
        if name in self.indices.cluster_indices:
            existing, _ = self.indices.write_target(name)  # a closed index fails here
            blocks.check(existing, blocks.WRITE)
            return existing, None
        if not may_create:
            raise IndexNotFound(name)
        setting = self.auto_create_index() if callable(self.auto_create_index) else self.auto_create_index
        allowed = template_allows_auto_create(self.index_templates(), name)
        if allowed is None and not _auto_create_allowed(setting, name):
            raise IndexNotFound(name)
        try:
            await self.indices.create(name, {})
        except StrataError as e:
            if e.type != "resource_already_exists_exception":
                raise
        return self.indices.write_target(name)

    @staticmethod
    def _failure(item: BulkItem, error: StrataError) -> ItemResponse:
        return ItemResponse(item.action, item.index, item.id, error.status, error=error)

    async def _shard_request(self, service: IndexService, shard: IndexShard, items: list[BulkItem],
                             positions: list[int], responses: list, options: WriteOptions) -> None:
        started = time.perf_counter_ns()
        try:
            engine = shard.active_engine()
            await self._check_active_shards(service, shard, options)
        except StrataError as e:
            for pos, item in zip(positions, items, strict=True):
                responses[pos] = self._failure(item, e)
            return
        results: list[ItemResponse | None] = [None] * len(items)
        # (position, operation, the parsed source when it may have to be parsed again,
        # the parse the search structures are built from; None for deletes)
        pending: list[tuple[int, IndexOp | DeleteOp, dict | None, ParsedDocument | None]] = []
        shards = _shards_header(service)
        written: list = []  # the operations this request wrote, for the replicas
        shipped: list[PrebuiltSegment | None] = []  # the segments its writes built, for them too
        mapper = ShardMapper(service)
        fresh_indexer: list[DocumentIndexer] = []  # for the mapping this request extended
        # A request with enough documents has them indexed by the worker, sent in parts as
        # they are parsed (`session`); entries of `pending` from `sent` on are not sent yet.
        use_worker = sum(1 for item in items if item.action in ("index", "create")) >= MIN_WORKER_BATCH
        session: IndexingSession | None = None
        sent = 0

        def indexer_for(mapping) -> DocumentIndexer:
            if not mapper.dirty:
                return service.indexer
            if not fresh_indexer or fresh_indexer[0].mapping is not mapping:
                fresh_indexer[:] = [DocumentIndexer(mapping, service.indexer.analyzers)]
            return fresh_indexer[0]

        def part(entries: list[tuple], start: int) -> tuple[bytes, list[int], bytes]:
            """The documents of entries[start:] for the worker, numbered by place."""
            numbered = [(k, e[3]) for k, e in enumerate(entries[start:], start) if e[3] is not None]
            fields = [parsed.fields for _, parsed in numbered]
            return (indexer_for(mapper.mapping).plans(fields), [k for k, _ in numbered],
                    encode_documents(fields))

        def send_part() -> None:
            nonlocal session, sent, use_worker
            if session is None:
                if not _anything_to_index(pending, sent):
                    # `dynamic: false` and nothing mapped: a worker round trip would carry
                    # empty documents; the batch is indexed here, for next to nothing.
                    use_worker = False
                    return
                session = POOL.session()
            try:
                session.send(*part(pending, sent))
            except Exception as e:  # no worker: this request is indexed here
                log_worker_failure(e, len(pending))
                session.discard()
                session = None
                use_worker = False
            sent = len(pending)

        async def write_pending() -> None:
            nonlocal session, sent
            if not pending:
                return
            batch = list(pending)
            pending.clear()
            batch_session, session = session, None
            unsent, sent = sent, 0
            if mapper.dirty:
                try:
                    failures, reparsed = await mapper.publish([(j, doc, items[j].id) for j, _, doc, _ in batch
                                                               if doc is not None])
                except StrataError as e:  # no mapping, no write: every document of the batch fails
                    if batch_session is not None:
                        batch_session.discard()
                    for j, *_ in batch:
                        results[j] = self._failure(items[j], e)
                    return
                for j, error in failures.items():
                    results[j] = self._failure(items[j], error)
                if failures or reparsed:
                    # The parts sent are numbered by place in the batch and parsed against
                    # the mapping of then: rare enough to index this batch here instead.
                    if batch_session is not None:
                        batch_session.discard()
                    batch_session = None
                    unsent = -1
                    # Parsed again against a mapping another request published first: the
                    # search structures follow the parse that the write goes out with.
                    batch = [(j, op, doc, reparsed.get(j, parsed)) for j, op, doc, parsed in batch
                             if j not in failures]
                    if not batch:
                        return
            segment = None
            if batch_session is None and unsent == 0 and use_worker \
                    and sum(1 for *_, parsed in batch if parsed is not None) >= MIN_WORKER_BATCH \
                    and _anything_to_index(batch, 0):
                batch_session = POOL.session()  # fewer documents than a part: all go at once
            if batch_session is not None:
                try:
                    segment = await batch_session.finish(*part(batch, unsent))
                except Exception as e:  # the worker died or a document failed: index here
                    log_worker_failure(e, len(batch))
            if segment is None:
                # The published mapping now holds every field of the batch's parses.
                indexer = service.indexer
                for j, op, _, parsed in batch:
                    if parsed is not None:
                        try:
                            op.indexed = indexer(parsed)
                        except StrataError as e:
                            results[j] = self._failure(items[j], e)
                batch = [entry for entry in batch if results[entry[0]] is None]

            seq_of: list[int | None] = [None] * len(batch)  # each place's sequence number

            def on_item(k: int, outcome: WriteResult | StrataError) -> None:
                j = batch[k][0]
                if outcome.__class__ is WriteResult:
                    written.append(outcome.operation)
                    seq_of[k] = outcome.operation.seq_no
                results[j] = self._write_response(service, items[j], outcome, shards)

            if not batch:
                return
            try:
                await engine.write_async([op for _, op, _, _ in batch], on_item, segment)
            except StrataError as e:
                for j, *_ in batch:
                    results[j] = self._failure(items[j], e)
                return
            if segment is not None:
                shipped.append(_shipped(segment, batch, seq_of))

        wrote = False
        try:
            for j, item in enumerate(items):
                if item.action == "update":
                    await write_pending()
                    try:
                        results[j] = await self._update(service, shard, mapper, item, written, shards)
                    except StrataError as e:  # the engine closed or failed: this item fails
                        results[j] = self._failure(item, e)
                    wrote = True
                elif item.action == "delete":
                    pending.append((j, DeleteOp(item.id, item.routing, item.if_seq_no, item.if_primary_term,
                                                item.version, item.version_type), None, None))
                else:
                    try:
                        doc = item.document if item.document is not None else mapper.load(item.source)
                        item.document = None  # not kept past this point (memory of big batches)
                        parsed = mapper.parse(doc, item.id)
                    except StrataError as e:  # a document that does not fit the mapping fails alone
                        results[j] = self._failure(item, e)
                        continue
                    # Only a document parsed against fields this request has not yet published
                    # may need parsing again (ShardMapper.publish); the others are not kept.
                    pending.append((j, IndexOp(item.id, item.source, item.routing, item.action == "create",
                                               item.if_seq_no, item.if_primary_term, item.version,
                                               item.version_type, item.auto_id, retry=options.retry),
                                    doc if mapper.dirty else None, parsed))
                    if use_worker and len(pending) - sent >= PART_SIZE:
                        send_part()
            wrote |= bool(pending)
            await write_pending()
        finally:
            if session is not None:  # an error left a batch unwritten
                session.discard()
        if wrote:
            try:
                if service.metadata.setting("index.translog.durability") == "request":
                    await engine.sync_translog()
                if self.replicate is not None:
                    replicated = await self.replicate(service, shard, written, options.refresh == "true",
                                                      segment=_covering(shipped, written))
                    shards.update(total=replicated.total, successful=replicated.successful,
                                  failed=len(replicated.failures))
                    if replicated.failures:
                        shards["failures"] = replicated.failures
                forced = await self._apply_refresh_policy(service, shard, options.refresh)
            except RetryOnPrimary:
                # This primary was superseded and failed itself: the coordinating step sends
                # the whole request again, as a retry, to the new primary.
                raise
            except StrataError as e:
                for j in range(len(items)):
                    if results[j] is None or results[j].error is None:
                        results[j] = self._failure(items[j], e)
                forced = False
            if forced:
                for r in results:
                    if r is not None and r.error is None and r.body.get("result") != "noop":
                        r.body["forced_refresh"] = True
            service.after_write(shard)
        for pos, r in zip(positions, results, strict=True):
            responses[pos] = r
        bulk = shard.bulk_stats  # ES's afterBulk: one shard request, its time and documents' bytes
        bulk[0] += 1
        bulk[1] += time.perf_counter_ns() - started
        bulk[2] += sum(len(item.source) for item in items if item.source is not None)

    async def _check_active_shards(self, service: IndexService, shard: IndexShard,
                                   options: WriteOptions) -> None:
        """`wait_for_active_shards`: enough started copies before the write, waiting for
        them up to the request's timeout (ActiveShardCount.enoughShardsActive)."""
        wanted = options.wait_for_active_shards
        if wanted is None:
            wanted = str(service.metadata.setting("index.write.wait_for_active_shards"))
        copies = 1 + service.metadata.number_of_replicas
        needed = copies if wanted == "all" else int(wanted)
        index, number = service.name, shard.ref.shard
        active = self.router.active_copies(index, number)
        if needed > active:
            active = await self.router.wait_for_active_copies(index, number, needed, options.timeout)
        if needed <= active:
            return
        raise UnavailableShards(
            f"[{index}][{number}] Not enough active copies to meet shard count of [{wanted}] "
            f"(have {active}, needed {needed}). Timeout: [{format_timeout(options.timeout)}]")

    @staticmethod
    async def _apply_refresh_policy(service: IndexService, shard: IndexShard, policy: str) -> bool:
        if policy == "true":
            shard.engine.refresh()
            return True
        if policy == "wait_for" and shard.engine.needs_refresh:
            if service.metadata.setting("index.refresh_interval") <= 0:
                shard.engine.refresh()  # no scheduled refresh would ever come
                return True
            await shard.engine.wait_for_refresh()
        return False

    def _write_response(self, service: IndexService, item: BulkItem, outcome: WriteResult | StrataError,
                        shards: dict[str, int]) -> ItemResponse:
        """A finished item's response body, `status` included, built once; `shards` is
        shared by every item of a shard request (it is the same for all of them)."""
        if isinstance(outcome, StrataError):
            return self._failure(item, outcome)
        op = outcome.operation
        status = STATUS[outcome.result]
        body = {
            "_index": service.name, "_id": op.id, "_version": op.version, "result": outcome.result,
            "_shards": shards, "_seq_no": op.seq_no, "_primary_term": op.primary_term, "status": status,
        }
        return ItemResponse(item.action, service.name, op.id, status, body)

    async def _update(self, service: IndexService, shard: IndexShard, mapper: ShardMapper,
                      item: BulkItem, written: list, shards: dict[str, Any]) -> ItemResponse:
        spec = item.update
        engine = shard.engine
        attempts = max(item.retry_on_conflict, 0) + 1  # a negative count retries never, as in ES
        for attempt in range(attempts):
            current = engine.get(item.id)
            if current is None:
                source = spec.doc if spec.doc_as_upsert else spec.upsert
                if source is None:
                    return self._failure(item, DocumentMissing(
                        f"[{item.id}]: document missing", index_uuid=service.metadata.uuid,
                        shard=str(shard.ref.shard), index=service.name))
                op = IndexOp(item.id, orjson.dumps(source), item.routing, create=True)
                merged = source
            else:
                cas = item.if_seq_no != UNASSIGNED_SEQ_NO
                stale = cas and (item.if_seq_no, item.if_primary_term) != (current.seq_no,
                                                                           current.primary_term)
                if not mapper.mapping.source_enabled and not stale:  # a stale one conflicts below
                    return self._failure(item, DocumentSourceMissing(
                        f"[{item.id}]: document source missing", index_uuid=service.metadata.uuid,
                        shard=str(shard.ref.shard), index=service.name))
                current_source = orjson.loads(current.source)
                merged, changed = merge(current_source, spec.doc or {})
                if spec.detect_noop and not changed and not stale:
                    shard.noop_updates += 1
                    body = {"_index": service.name, "_id": item.id, "_version": current.version,
                            "result": "noop", "_shards": {"total": 0, "successful": 0, "failed": 0},
                            "_seq_no": current.seq_no, "_primary_term": current.primary_term}
                    self._add_get(body, spec, current_source, current.seq_no, current.primary_term,
                                  current.routing)
                    return ItemResponse("update", service.name, item.id, 200, body)
                # A caller's compare-and-set wins over the read's; the engine checks either.
                op = IndexOp(item.id, orjson.dumps(merged), item.routing,
                             if_seq_no=item.if_seq_no if cas else current.seq_no,
                             if_primary_term=item.if_primary_term if cas else current.primary_term)
            # The document the update leaves is parsed like any other, its new fields
            # published before it is written.
            try:
                parsed = mapper.parse(merged, item.id)
                indexer = DocumentIndexer(mapper.mapping, service.indexer.analyzers)
                failures, reparsed = await mapper.publish([(0, merged, item.id)])
            except StrataError as e:
                return self._failure(item, e)
            if failures:
                return self._failure(item, failures[0])
            op.indexed = service.indexer(reparsed[0]) if 0 in reparsed else indexer(parsed)
            outcome: list[WriteResult | StrataError] = []
            try:
                await engine.write_async([op], lambda _, o, out=outcome: out.append(o))
            except StrataError as e:
                return self._failure(item, e)
            result = outcome[0]
            if result.__class__ is WriteResult:
                written.append(result.operation)
            if isinstance(result, VersionConflict) and attempt + 1 < attempts:
                continue
            # `shards` is the request's: replication fills it in before anything is answered.
            response = self._write_response(service, item, result, shards)
            if response.error is None:
                operation = result.operation
                # With `_source` disabled only an upsert gets here: ES answers its source too.
                self._add_get(response.body, spec, merged, operation.seq_no, operation.primary_term,
                              operation.routing)
            return response
        raise AssertionError("unreachable")

    @staticmethod
    def _add_get(body: dict, spec: UpdateSpec, source: dict, seq_no: int, term: int,
                 routing: str | None) -> None:
        if spec.fetch_source is None:
            return
        fetch, includes, excludes = parse_source_param(spec.fetch_source)
        get: dict[str, Any] = {"_seq_no": seq_no, "_primary_term": term, "found": True}
        if routing is not None:
            get["_routing"] = routing
        if fetch:
            get["_source"] = filter_source(source, includes, excludes) if includes or excludes else source
        body["get"] = get


def _anything_to_index(entries: list[tuple], start: int) -> bool:
    """Whether a document of entries[start:] gives the search structures any field."""
    return any(parsed is not None and parsed.fields for *_, parsed in entries[start:])


def item_to_json(r: ItemResponse, *, with_status: bool = True, stack_trace: bool = False) -> dict[str, Any]:
    """One entry of a bulk response's `items`; a failed item's error carries its stack trace
    when the request asked for `error_trace`, as Elasticsearch's item failures do."""
    if r.error is not None:
        entry: dict[str, Any] = {"_index": r.index, "_id": r.id, "status": r.status,
                                 "error": r.error.to_dict(stack_trace=stack_trace)}
        if r.index is None:
            del entry["_index"]
        return {r.action: entry}
    if with_status:
        return {r.action: r.body}
    return {r.action: {k: v for k, v in r.body.items() if k != "status"}}


def took_since(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


__all__ = ["BulkAction", "BulkItem", "ItemResponse", "WriteOptions", "item_to_json", "names_pipeline", "raw",
           "took_since"]


def _shipped(segment: EncodedSegment, batch: list[tuple], seq_of: list[int | None]) -> PrebuiltSegment | None:
    """The segment a batch's write emitted, as its replicas are to emit it: numbered from
    the first place's sequence number, or by `seq_of` when an item failed (the engine's
    `_write_segment` arguments). None when no document of it was written."""
    documents = [seq for seq, (*_, parsed) in zip(seq_of, batch, strict=True)
                 if seq is not None and parsed is not None]
    if not documents:
        return None
    if None in seq_of:
        return PrebuiltSegment(segment, documents, seq_of=seq_of)
    return PrebuiltSegment(segment, documents, base=seq_of[0])


# A shipped segment is about 3-3.5 times its documents' source (log lines); past this much
# source the replica request could pass the transport's 100 MB message limit, and a copy
# refusing it would be failed, so the replicas index such a request themselves.
MAX_SHIPPED_SOURCE_BYTES = 8 * 1024 * 1024


def _covering(shipped: list[PrebuiltSegment | None], written: list) -> PrebuiltSegment | None:
    """The one segment that holds every index operation the request wrote; None when the
    request wrote several batches, indexed some documents on the loop or is too large (the
    replicas then index the documents themselves)."""
    if len(shipped) != 1 or shipped[0] is None:
        return None
    if sum(len(op.source) for op in written if op.source) > MAX_SHIPPED_SOURCE_BYTES:
        return None
    if shipped[0].seq_nos != [op.seq_no for op in written if op.op_type == ops.INDEX]:
        return None
    return shipped[0]
