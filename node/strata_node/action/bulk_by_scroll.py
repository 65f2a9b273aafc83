"""The bulk-by-scroll actions: `indices:data/write/delete/byquery`,
`indices:data/write/update/byquery` and `indices:data/write/reindex` (Elasticsearch's
AbstractAsyncBulkByScrollAction with TransportDeleteByQueryAction,
TransportUpdateByQueryAction and Reindexer).

One loop serves the three: the matching documents are read in batches from a consistent
view and each batch is written through the bulk action (a child task,
`indices:data/write/bulk`), a delete or an index request per document.

The view is a scroll (search/scroll.py): every target shard runs the query once on the
reader of its last refresh and keeps the matches and that reader until the action is
done with the shard, so a document rewritten by the action itself (or by anyone) after
the start is never read again, and the hits carry the `_seq_no`/`_primary_term` they had
then. Update and delete by query write with `if_seq_no`/`if_primary_term`, so a document
changed since is a version conflict: counted, and with `conflicts=abort` (the default)
the action stops after that batch and reports every failure of it in `failures`, as ES
does. Reindex writes with the destination's `op_type` and `version_type` (`internal`
overwrites; `external` keeps the source's versions, an older one being a conflict;
`create` conflicts with what exists). A batch takes documents from one shard after the
other, so every batch but the last holds `size` documents, as ES's merged scroll pages do.

Between batches the action looks at its task: a cancelled one stops there and answers
with what it did and `canceled` (the bulk under way completes, as ES's does). With
`requests_per_second` it waits before each batch's write as ES's WorkerBulkByScrollTaskState
does: the last batch's size over the rate, less the time since that batch started; the
wait ends early when the task is cancelled or rethrottled faster. The task's status is
BulkByScrollTask.Status, read when someone asks (`GET _tasks?detailed`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    IndexNotFound,
    ParseError,
    ParsingError,
    StrataError,
    XContentParseError,
    error_to_dict,
)
from ..common.flags import parse_flag
from ..common.params import int_param, time_param
from ..common.units import human_millis, java_int
from ..common.xcontent import ObjectFields, loads, scalar_text, token_name
from ..engine.engine import MATCH_ANY
from ..index.mapping.dates import utc_now_millis
from ..search.coordinator import ShardFailures, ShardTarget, shard_targets
from ..search.query import parse_query
from ..search.request import QUERY_STRING_PARAMS, parse_search
from ..search.scroll import OPEN, PAGE, OpenScrollRequest, ScrollOpened, ScrollPage, ScrollPageRequest
from ..search.shard_search import FetchSpec
from ..search.transport_actions import FREE_CONTEXT, FreeContextRequest
from ..tasks.actions import NodeTasks
from ..tasks.api import ListTasksResponse, ResourceNotFound
from ..tasks.task import Task, TaskId
from ..transport import context
from ..transport.wire import Message
from .broadcast_actions import REFRESH, RefreshRequest
from .bulk import BulkItem, names_pipeline
from .resolve import IndicesOptions
from .write_actions import BULK, BulkRequest, BulkResponse, WriteRequestOptions

log = logging.getLogger(__name__)

DELETE_BY_QUERY = "indices:data/write/delete/byquery"
UPDATE_BY_QUERY = "indices:data/write/update/byquery"
REINDEX = "indices:data/write/reindex"
ACTIONS = {"delete": DELETE_BY_QUERY, "update": UPDATE_BY_QUERY, "reindex": REINDEX}
RETHROTTLE = "cluster:admin/reindex/rethrottle"
RETHROTTLE_NODE = "cluster:admin/reindex/rethrottle[n]"

DEFAULT_SCROLL_SIZE = 1000  # AbstractBulkByScrollRequest.DEFAULT_SCROLL_SIZE
DEFAULT_SCROLL = 300.0  # DEFAULT_SCROLL_TIMEOUT, 5m
DEFAULT_TIMEOUT = 60.0  # ReplicationRequest.DEFAULT_TIMEOUT, each bulk's wait for its shards
MAX_THROTTLE_WAIT = 3600.0  # WorkerBulkByScrollTaskState.MAX_THROTTLE_WAIT_TIME, 1h
UNTHROTTLED = math.inf
CONFLICT = 409
REQUESTS_PER_SECOND_ERROR = ("[requests_per_second] must be a float greater than 0. Use -1 to disable "
                             "throttling.")
SLICES_ERROR = '[slices] must be a positive integer or the string "auto", but was [{}]'


# -- requests --------------------------------------------------------------------------------------

class Destination(Message):
    """Reindex's `dest`: the prototype of every index request it sends."""

    index: str
    routing: str | None = None  # None or `keep`: the source's; `discard`: none; `=value`: value
    op_type: str = "index"
    version_type: str = "internal"
    pipeline: str | None = None
    require_alias: bool = False


class BulkByScrollRequest(Message):
    kind: str  # delete | update | reindex
    indices: list[str]  # the source's index expressions
    options: dict[str, str] = {}  # index resolution, routing and preference of the scroll
    query: Any = None  # the query's JSON (None: `query_params`' `q`, or everything)
    query_params: dict[str, str] = {}  # `q` and its companions
    fetch_source: bool = True
    source_includes: list[str] = []
    source_excludes: list[str] = []
    size: int = DEFAULT_SCROLL_SIZE  # the batch size
    max_docs: int = -1  # -1: every match
    abort_on_version_conflict: bool = True
    refresh: bool = False
    timeout: float = DEFAULT_TIMEOUT
    wait_for_active_shards: str | None = None
    requests_per_second: float = -1.0  # -1: unthrottled (ES's Float.POSITIVE_INFINITY)
    scroll: float = DEFAULT_SCROLL
    search_timeout: float | None = None
    terminate_after: int = 0
    pipeline: str | None = None  # update by query's
    dest: Destination | None = None  # reindex's
    local_query: Any = None  # a call to this node: the parsed query

    @property
    def description(self) -> str:
        """As the requests' toString() words it (the task's description)."""
        indices = f"[{', '.join(self.indices)}]" if self.indices else "[all indices]"
        if self.kind == "reindex":
            return f"reindex from {indices} to [{self.dest.index if self.dest else None}]"
        return f"{self.kind}-by-query {indices}"


class BulkByScrollResponse(Message):
    body: dict[str, Any]  # BulkByScrollResponse's fields, `created` and `updated` included
    status: int = 200  # what the REST answer's status is (the worst failure's, or 408)


def check_slices(value: str | None) -> None:
    """`slices`: a positive integer or `auto`, read as AbstractBaseReindexRestHandler reads
    it. Strata runs every request as one slice: `1`, and `auto` (ES's choice of one slice per
    shard is a way to run faster, not a different result), are taken; more is refused."""
    if value is None or value == "auto":
        return
    number = java_int(value)
    if number is None or number < 1:
        raise IllegalArgument(SLICES_ERROR.format(value))
    if number > 1:
        raise IllegalArgument(f"[slices] greater than 1 is not supported by Strata, got [{value}]: "
                              "the request runs as one slice (1 or auto)")


def parse_requests_per_second(value: str | None) -> float:
    """-1 (or absent): unthrottled; otherwise a float above 0 (Float.parseFloat)."""
    if value is None:
        return -1.0
    try:
        rate = float(value.strip())
    except ValueError:
        raise IllegalArgument(REQUESTS_PER_SECOND_ERROR, caused_by=StrataError(value)) from None
    if rate == -1:
        return -1.0
    if not rate > 0:
        raise IllegalArgument(REQUESTS_PER_SECOND_ERROR)
    return rate


def _set_max_docs(current: int, value: int) -> int:
    """setMaxDocsValidateIdentical: the body's and the URL's must agree."""
    if value < 0:
        raise IllegalArgument(f"[max_docs] parameter cannot be negative, found [{value}]")
    if current != -1 and current != value:
        raise IllegalArgument(f"[max_docs] set to two different values [{current}] and [{value}]")
    return value


def _conflicts(value: Any) -> bool:
    """Whether version conflicts abort the request (setConflicts)."""
    if value == "proceed":
        return False
    if value == "abort":
        return True
    raise IllegalArgument(f'conflicts may only be "proceed" or "abort" but was [{scalar_text(value)}]')


def _script_refused(kind: str) -> IllegalArgument:
    what = "update_by_query writes each matching document back unchanged" if kind == "update" \
        else "reindex copies each document unchanged"
    return IllegalArgument(f"[script] is not supported by Strata (no scripting): {what}")


@dataclass
class _Common:
    """The URL parameters every bulk-by-scroll request reads (setCommonOptions)."""

    refresh: bool = False
    timeout: float = DEFAULT_TIMEOUT
    wait_for_active_shards: str | None = None
    requests_per_second: float = -1.0
    max_docs: int | None = None
    scroll: float = DEFAULT_SCROLL


def _common(params: Mapping[str, str]) -> _Common:
    common = _Common(refresh=parse_flag(params.get("refresh"), False))
    timeout = time_param(params, "timeout")
    if timeout is not None:
        common.timeout = timeout
    check_slices(params.get("slices"))
    wait = params.get("wait_for_active_shards")
    if wait is not None and wait != "all" and (java_int(wait) is None or java_int(wait) < 0):
        raise IllegalArgument(f"Illegal value for wait_for_active_shards: [{wait}]")
    common.wait_for_active_shards = wait
    common.requests_per_second = parse_requests_per_second(params.get("requests_per_second"))
    common.max_docs = int_param(params, "max_docs")
    scroll = time_param(params, "scroll")
    if scroll is not None:
        common.scroll = scroll
    return common


def _batch_size(value: int) -> int:
    if value < 0:
        raise IllegalArgument(f"[size] parameter cannot be negative, found [{value}]")
    return value


def _validate(kind: str, request_errors: list[str], *, from_given: bool, stored_fields: bool,
              max_docs: int, size: int) -> None:
    """AbstractBulkByScrollRequest.validate, with the search request's own checks."""
    errors = list(request_errors)
    if size == 0:
        errors.insert(0, "[size] cannot be [0] in a scroll context")
    if from_given:
        errors.append("from is not supported in this context")
    if stored_fields:
        errors.append("stored_fields is not supported in this context")
    if not (max_docs == -1 or max_docs > 0):
        errors.append("maxDocs should be greater than 0 if the request is limited to some number of "
                      f"documents or -1 if it isn't but it was [{max_docs}]")
    if errors:
        raise ActionRequestValidation(errors)


# The search request's URL parameters a by-query request passes on to its search.
SEARCH_PARAMS = (*QUERY_STRING_PARAMS, "version", "seq_no_primary_term", "track_scores", "timeout",
                 "terminate_after", "stored_fields", "_source", "_source_includes", "_source_excludes",
                 "track_total_hits", "search_type", "from")
RESOLVE_OPTIONS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards", "routing", "preference")


def parse_by_query(kind: str, index: str, body: bytes, params: Mapping[str, str]) -> BulkByScrollRequest:
    """`POST /{index}/_delete_by_query` and `/_update_by_query`, read as
    AbstractBulkByQueryRestHandler reads them: `conflicts`, `max_docs` (and `script`) are
    taken out of the body, the rest is a search body; then the URL parameters."""
    document = loads(body) if body.strip() else {}
    if not isinstance(document, dict):
        raise ParsingError(f"Unexpected token [{token_name(document)}] while parsing the search body, "
                           "expected [START_OBJECT]")
    document = dict(document)
    abort = True
    max_docs = -1
    if "conflicts" in document:
        abort = _conflicts(document.pop("conflicts"))
    if kind == "update" and "script" in document:
        raise _script_refused(kind)
    if "max_docs" in document:
        value = document.pop("max_docs")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParsingError(f"[max_docs] must be a number, found [{token_name(value)}]")
        max_docs = _set_max_docs(max_docs, int(value))
    if "size" in params:
        raise IllegalArgument("invalid parameter [size], use [max_docs] instead")
    if "sort" in document or "sort" in params:
        raise IllegalArgument(f"[sort] is not supported by Strata in [{kind}_by_query]: documents are "
                              "processed in index order")
    search_params = {k: v for k, v in params.items() if k in SEARCH_PARAMS}
    size_given = "size" in document
    req = parse_search(document, search_params, body)
    size = req.size if size_given else DEFAULT_SCROLL_SIZE
    scroll_size = int_param(params, "scroll_size")
    if scroll_size is not None:
        size = _batch_size(scroll_size)
    if "conflicts" in params:
        abort = _conflicts(params["conflicts"])
    search_timeout = req.timeout
    if "search_timeout" in params:
        search_timeout = time_param(params, "search_timeout")
    common = _common(params)
    if common.max_docs is not None:
        max_docs = _set_max_docs(max_docs, common.max_docs)
    pipeline = params.get("pipeline") if kind == "update" else None
    errors = []
    if kind == "delete" and not index.strip(","):
        errors.append("use _all if you really want to delete from all existing indexes")
    if kind == "delete" and req.query is None:
        errors.append("query is missing")
    _validate(kind, errors, from_given="from" in document or "from" in params,
              stored_fields=req.stored_fields is not None, max_docs=max_docs, size=size)
    if max_docs != -1 and max_docs < size:
        size = max_docs  # no more than it needs (setMaxDocs)
    query_params = {k: v for k, v in params.items() if k in QUERY_STRING_PARAMS}
    return BulkByScrollRequest(
        kind=kind, indices=[i for i in index.split(",") if i],
        options={k: v for k, v in params.items() if k in RESOLVE_OPTIONS},
        query=req.query_body if "q" not in params else None, query_params=query_params,
        # delete by query reads no source (DeleteByQueryRequest's default); update by query
        # writes back what it read, `_source` filtering included, as ES's does
        fetch_source=kind != "delete" and req.fetch_source,
        source_includes=req.source_includes if kind == "update" else [],
        source_excludes=req.source_excludes if kind == "update" else [], size=size, max_docs=max_docs,
        abort_on_version_conflict=abort,
        refresh=common.refresh, timeout=common.timeout, wait_for_active_shards=common.wait_for_active_shards,
        requests_per_second=common.requests_per_second, scroll=common.scroll, search_timeout=search_timeout,
        terminate_after=req.terminate_after, pipeline=pipeline, local_query=req.query)


REINDEX_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("START_OBJECT",),
    "dest": ("START_OBJECT",),
    "max_docs": ("VALUE_NUMBER", "VALUE_STRING"),
    "script": ("START_OBJECT", "VALUE_STRING"),
    "conflicts": ("VALUE_STRING",),
}
DEST_FIELDS = ("index", "routing", "op_type", "pipeline", "version_type")
VERSION_TYPES = {"internal": "internal", "external": "external", "external_gt": "external",
                 "external_gte": "external_gte"}


def _source_indices(value: Any) -> list[str]:
    """`source.index`: a string (comma-separated) or an array of strings."""
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ParsingError(f"Expected [VALUE_STRING] or [START_ARRAY] in [index] but found [{token_name(value)}]")


def _parse_dest(body: ObjectFields, value: dict[str, Any]) -> Destination:
    def fail(message: str, cause: BaseException | None = None) -> XContentParseError:
        inner = XContentParseError(f"[dest] {message}", caused_by=cause)
        return body.fail("dest", "failed to parse field [dest]", cause=inner)

    fields: dict[str, str] = {}
    for key, item in value.items():
        if key not in DEST_FIELDS:
            raise fail(f"unknown field [{key}]")
        if not isinstance(item, str):
            raise fail(f"{key} doesn't support values of type: {token_name(item)}")
        fields[key] = item
    op_type = fields.get("op_type", "index").lower()
    if op_type not in ("index", "create"):
        raise fail("failed to parse field [op_type]", IllegalArgument(
            f"opType must be 'create' or 'index', found: [{fields['op_type']}]"))
    version_type = VERSION_TYPES.get(fields.get("version_type", "internal"))
    if version_type is None:
        raise fail("failed to parse field [version_type]", IllegalArgument(
            f"No version type match [{fields['version_type']}]"))
    return Destination(index=fields.get("index", ""), routing=fields.get("routing"), op_type=op_type,
                       version_type=version_type, pipeline=fields.get("pipeline"))


def parse_reindex(body: bytes, params: Mapping[str, str]) -> BulkByScrollRequest:
    """`POST /_reindex`, read as ReindexRequest.fromXContent, then the URL parameters."""
    if "pipeline" in params:
        raise IllegalArgument("_reindex doesn't support [pipeline] as a query parameter. Specify it in the "
                              "[dest] object instead.")
    if not body.strip():
        raise ParseError("request body is required")
    fields = ObjectFields("reindex", body, REINDEX_FIELDS)
    indices: list[str] = []
    search_body: dict[str, Any] = {}
    dest = Destination(index="")
    max_docs, abort = -1, True
    for key, value in fields.items():
        if key == "source":
            search_body = dict(value)
            if "index" in search_body:
                indices = _source_indices(search_body.pop("index"))
            if "remote" in search_body:
                raise IllegalArgument("reindex from [remote] is not supported by Strata: the source must be "
                                      "an index of this cluster")
        elif key == "dest":
            dest = _parse_dest(fields, value)
        elif key == "max_docs":
            number = java_int(str(value)) if not isinstance(value, float) else int(value)
            if number is None:
                raise fields.fail(key, "failed to parse field [max_docs]",
                                  cause=IllegalArgument(f'For input string: "{value}"'))
            max_docs = _set_max_docs(max_docs, number)
        elif key == "script":
            raise _script_refused("reindex")
        else:
            abort = _conflicts(value)
    if "sort" in search_body:
        raise IllegalArgument("[sort] is not supported by Strata in [reindex]: documents are processed in "
                              "index order")
    req = parse_search(search_body, {})
    size = req.size if "size" in search_body else DEFAULT_SCROLL_SIZE
    common = _common(params)
    if common.max_docs is not None:
        max_docs = _set_max_docs(max_docs, common.max_docs)
    dest = Destination(index=dest.index, routing=dest.routing, op_type=dest.op_type,
                       version_type=dest.version_type, pipeline=dest.pipeline,
                       require_alias=parse_flag(params.get("require_alias"), False))
    errors = []
    if not indices:
        errors.append("use _all if you really want to copy from all existing indexes")
    if "_source" in search_body and not req.fetch_source:
        errors.append("_source:false is not supported in this context")
    dest_errors = []
    if not dest.index:
        dest_errors.append("index must be specified")
    else:
        routing = dest.routing
        if routing is not None and routing not in ("keep", "discard") and not routing.startswith("="):
            dest_errors.append("routing must be unset, [keep], [discard] or [=<some new value>]")
        if dest.op_type == "create" and dest.version_type != "internal":
            dest_errors.append("create operations only support internal versioning. use index instead")
    try:
        _validate("reindex", errors, from_given="from" in search_body,
                  stored_fields=req.stored_fields is not None, max_docs=max_docs, size=size)
    except ActionRequestValidation as e:
        raise ActionRequestValidation(e.errors + dest_errors) from None
    if dest_errors:
        raise ActionRequestValidation(dest_errors)
    if max_docs != -1 and max_docs < size:
        size = max_docs
    return BulkByScrollRequest(
        kind="reindex", indices=indices, query=req.query_body, fetch_source=True,
        source_includes=req.source_includes, source_excludes=req.source_excludes, size=size,
        max_docs=max_docs,
        abort_on_version_conflict=abort, refresh=common.refresh, timeout=common.timeout,
        wait_for_active_shards=common.wait_for_active_shards, requests_per_second=common.requests_per_second,
        scroll=common.scroll, search_timeout=req.timeout, terminate_after=req.terminate_after,
        pipeline=dest.pipeline, dest=dest, local_query=req.query)


# -- progress -------------------------------------------------------------------------------------

def throttle_wait(batch_size: int, requests_per_second: float, elapsed: float) -> float:
    """Seconds to wait before the next batch: the time the last batch should have taken at
    the rate, less the time it took (WorkerBulkByScrollTaskState.throttleWaitTime, as the
    reference documents it), at most an hour."""
    if requests_per_second == UNTHROTTLED or batch_size <= 0:
        return 0.0
    return min(MAX_THROTTLE_WAIT, max(0.0, batch_size / requests_per_second - elapsed))


def java_float(value: float) -> float:
    """A float as Java prints a `float` (0.1f is 0.1, not 0.10000000149011612)."""
    return float(str(np.float32(value)))


@dataclass
class Progress:
    """What BulkByScrollTask.Status reports, counted as the batches complete."""

    requests_per_second: float = UNTHROTTLED
    total: int = 0
    updated: int = 0
    created: int = 0
    deleted: int = 0
    batches: int = 0
    version_conflicts: int = 0
    noops: int = 0
    bulk_retries: int = 0
    search_retries: int = 0
    throttled: float = 0.0  # seconds waited
    throttled_until: float | None = None  # time.monotonic() the current wait ends at
    canceled: str | None = None

    @property
    def successfully_processed(self) -> int:
        return self.created + self.updated + self.deleted

    def status(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        until = 0 if self.throttled_until is None else max(0, int((self.throttled_until - now) * 1000))
        rate = -1.0 if self.requests_per_second == UNTHROTTLED else java_float(self.requests_per_second)
        body: dict[str, Any] = {
            "total": self.total, "updated": self.updated, "created": self.created, "deleted": self.deleted,
            "batches": self.batches, "version_conflicts": self.version_conflicts, "noops": self.noops,
            "retries": {"bulk": self.bulk_retries, "search": self.search_retries},
            "throttled_millis": int(self.throttled * 1000), "requests_per_second": rate}
        if self.canceled is not None:
            body["canceled"] = self.canceled
        body["throttled_until_millis"] = until
        return body

    def count(self, items: list[dict[str, Any]], abort_on_version_conflict: bool,
              written: set[str]) -> list[dict[str, Any]]:
        """Count a bulk's item responses (onBulkResponse); returns the failures to report:
        every failed item, but version conflicts only when they abort the request.
        `written` gathers the indices written to (refreshed at the end with `refresh`)."""
        failures = []
        for item in items:
            [(action, body)] = item.items()
            error = body.get("error")
            if error is not None:
                status = body.get("status", 500)
                if status == CONFLICT:
                    self.version_conflicts += 1
                    if not abort_on_version_conflict:
                        continue
                failure = {"index": body.get("_index")}
                if body.get("_id") is not None:
                    failure["id"] = body["_id"]
                failure.update(cause=error, status=status)
                failures.append(failure)
                continue
            if action in ("index", "create"):
                if body.get("result") == "created":
                    self.created += 1
                else:
                    self.updated += 1
            elif action == "update":
                self.updated += 1
            else:
                self.deleted += 1
            written.add(body["_index"])
        return failures


def response_status(body: Mapping[str, Any]) -> int:
    """The REST status of a finished request (BulkIndexByScrollResponseContentListener):
    200, 408 when a search timed out, or the worst failure's status if worse."""
    status = 408 if body.get("timed_out") else 200
    for failure in body.get("failures", ()):
        status = max(status, int(failure.get("status", 500)))
    return status


def search_failure(target: ShardTarget, error: BaseException) -> dict[str, Any]:
    """A shard's failure as ScrollableHitSource.SearchFailure renders it."""
    if not isinstance(error, StrataError):
        log.error("scroll of [%s][%d] failed", target.index, target.shard, exc_info=error)
    status = error.status if isinstance(error, StrataError) else 500
    out: dict[str, Any] = {"index": target.index, "shard": target.shard}
    if target.node is not None:
        out["node"] = target.node
    out.update(status=status, reason=error_to_dict(error))
    return out


def dest_routing(spec: str | None, routing: str | None) -> str | None:
    """Reindex's `dest.routing`: unset or `keep` copies the source's, `discard` drops it,
    `=value` sets it (Reindexer.copyRouting)."""
    if spec is None or spec == "keep":
        return routing
    if spec == "discard":
        return None
    return spec[1:]


def build_items(request: BulkByScrollRequest, hits: list[dict[str, Any]]) -> list[BulkItem]:
    """One write per hit (buildRequest and copyMetadata of each action)."""
    items = []
    for hit in hits:
        index, doc_id, routing = hit["_index"], hit["_id"], hit.get("_routing")
        if request.kind == "delete":
            items.append(BulkItem("delete", index, doc_id, routing=routing, if_seq_no=hit["_seq_no"],
                                  if_primary_term=hit["_primary_term"]))
            continue
        source = hit.get("_source")
        if source is None:  # AbstractAsyncBulkByScrollAction.accept
            raise IllegalArgument(f"[{index}][{doc_id}] didn't store _source")
        raw_source = bytes(source) if isinstance(source, bytes | memoryview) else orjson.dumps(source)
        if request.kind == "update":
            item = BulkItem("index", index, doc_id, routing=routing, source=raw_source,
                            if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        else:
            dest = request.dest
            external = dest.version_type != "internal"
            item = BulkItem("create" if dest.op_type == "create" else "index", dest.index, doc_id,
                            routing=dest_routing(dest.routing, routing), source=raw_source,
                            version=hit["_version"] if external else MATCH_ANY,
                            version_type=dest.version_type, require_alias=dest.require_alias)
        if names_pipeline(request.pipeline):  # no ingest pipelines: each write fails as the bulk's do
            item.error = IllegalArgument(f"pipeline with id [{request.pipeline}] does not exist")
        items.append(item)
    return items


# -- the scroll ---------------------------------------------------------------------------------

@dataclass
class _Shard:
    target: ShardTarget
    context_id: str | None
    total: int
    expires: float  # when its context expires, as last asked (time.monotonic())
    next: int = 0  # the place of its next hit


@dataclass
class Opened:
    total: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False


class ScrollSource:
    """The matching documents of the target shards, a batch at a time, from the readers
    the scroll opened on (ES's ClientScrollableHitSource)."""

    def __init__(self, node, request: BulkByScrollRequest):
        self.node = node
        self.request = request
        self._shards: list[_Shard] = []
        self._current = 0
        self._background: set[asyncio.Future] = set()
        self.spec = FetchSpec(fetch_source=request.fetch_source, includes=request.source_includes,
                              excludes=request.source_excludes, version=True, seq_no_primary_term=True,
                              stored_fields=None)

    @property
    def router(self):
        return self.node.shard_router

    async def open(self) -> Opened:
        request = self.request
        longest = self.node.cluster_settings.get("search.max_keep_alive")
        if request.scroll > longest:  # SearchService.validateKeepAlives
            raise IllegalArgument(
                f"Keep alive for request ({human_millis(request.scroll * 1000)}) is too large. It must be "
                f"less than ({human_millis(longest * 1000)}). This limit can be set by changing the "
                "[search.max_keep_alive] cluster level setting.")
        options = request.options
        expression = ",".join(request.indices) or None
        names, scope = self.node.search_actions.scope(expression, options, options.get("routing"))
        targets = shard_targets(self.node.indices, names, routing=options.get("routing"), scope=scope,
                                preference=options.get("preference"))
        now_millis = utc_now_millis()
        body = orjson.dumps({"query": request.query}) if request.query is not None else b""
        query = request.local_query if request.local_query is not None else \
            parse_query(request.query) if request.query is not None else None
        timeout = request.search_timeout
        if timeout is None:  # the cluster's default, as every search takes it
            timeout = self.node.cluster_settings.get("search.default_search_timeout")
        time_left = timeout if timeout >= 0 else None  # -1: none

        async def run(target: ShardTarget) -> ScrollOpened | BaseException:
            def message(local: bool) -> OpenScrollRequest:
                return OpenScrollRequest(index=target.index, index_uuid=target.index_uuid, shard=target.shard,
                                         now_millis=now_millis, keep_alive=request.scroll, body=body,
                                         params=request.query_params, alias_filter=target.alias_filter,
                                         time_left=time_left,
                                         terminate_after=request.terminate_after,
                                         parsed=query if local and query is not None else None)

            try:
                return await self.router.on_copy(OPEN, target.index, target.shard, message, target.preference,
                                                 on_node=target.tried)
            except Exception as e:  # a shard's failure is reported, not raised
                return e

        answers = await asyncio.gather(*(run(t) for t in targets))
        failed = [(t, a) for t, a in zip(targets, answers, strict=True) if isinstance(a, BaseException)]
        deadline = time.monotonic() + request.scroll
        for target, answer in zip(targets, answers, strict=True):
            if isinstance(answer, ScrollOpened) and answer.context_id is not None:
                self._shards.append(_Shard(target, answer.context_id, answer.total, deadline))
        if failed and len(failed) == len(targets):
            failures = ShardFailures()
            for target, error in failed:
                failures.add(target, error)
            raise failures.all_failed()
        return Opened(total=sum(a.total for a in answers if isinstance(a, ScrollOpened)),
                      failures=[search_failure(t, e) for t, e in failed],
                      timed_out=any(isinstance(a, ScrollOpened) and a.timed_out for a in answers))

    async def next_batch(self, count: int, keep_alive: float) -> list[dict[str, Any]]:
        """Up to `count` hits: the next ones of the current shard, then of the shards after
        it. The contexts of the shards still waiting are kept alive for `keep_alive`."""
        hits: list[dict[str, Any]] = []
        while len(hits) < count and self._current < len(self._shards):
            shard = self._shards[self._current]
            wanted = min(count - len(hits), shard.total - shard.next)
            if wanted > 0:
                page = await self._page(shard, shard.next, wanted, keep_alive)
                shard.next += wanted
                hits += page.hits
            if shard.next >= shard.total:
                self._free(shard)
                self._current += 1
        await self._keep_alive(keep_alive)
        return hits

    async def _page(self, shard: _Shard, start: int, count: int, keep_alive: float) -> ScrollPage:
        request = ScrollPageRequest(context_id=shard.context_id, start=start, count=count,
                                    keep_alive=keep_alive, spec=self.spec)
        page = await self.node.transport.execute(PAGE, request, ScrollPage,
                                                 address=self.router.address(shard.target.node))
        shard.expires = time.monotonic() + keep_alive
        return page

    async def _keep_alive(self, keep_alive: float) -> None:
        """A shard not paged lately keeps its context as long as the scroll goes on: asked
        for nothing, it lives on (ES's scroll requests reach every shard each round). The
        current shard counts: a batch that ended a shard moves on to one never paged."""
        soon = time.monotonic() + keep_alive / 2
        waiting = [s for s in self._shards[self._current:]
                   if s.context_id is not None and s.expires < soon]
        await asyncio.gather(*(self._page(s, s.next, 0, keep_alive) for s in waiting))

    def _free(self, shard: _Shard) -> None:
        """Free a shard's context in the background, unparented: a cancelled action must
        still free what it leaves (the reaper frees what this cannot reach)."""
        context_id, shard.context_id = shard.context_id, None
        if context_id is None:
            return

        async def send() -> None:
            try:
                with context.unparented():
                    await self.node.transport.execute(FREE_CONTEXT, FreeContextRequest(context_id=context_id),
                                                      address=self.router.address(shard.target.node),
                                                      timeout=30.0)
            except StrataError as e:
                log.debug("could not free scroll context [%s] on [%s]: %s", context_id, shard.target.node, e)

        future = asyncio.ensure_future(send())
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    def close(self) -> None:
        for shard in self._shards:
            self._free(shard)


# -- the loop -------------------------------------------------------------------------------

class BulkByScroll:
    """One request's run: scroll, throttle, write, count, until done, failed or cancelled."""

    def __init__(self, node, request: BulkByScrollRequest, task: Task):
        self.node = node
        self.request = request
        self.task = task
        rate = request.requests_per_second
        self.progress = Progress(requests_per_second=UNTHROTTLED if rate == -1 else rate)
        self._wake = asyncio.Event()  # a cancellation or a faster rate ends a throttle wait early
        task.on_cancel(self._on_cancel)

    def status(self) -> dict[str, Any]:
        self.progress.canceled = self.task.cancelled_reason if self.task.cancelled else None
        return self.progress.status()

    def _on_cancel(self, reason: str) -> None:
        # As WorkerBulkByScrollTaskState.handleCancel: the throttle drops to nothing, so a
        # waiting batch wakes up (and finds the task cancelled).
        self.progress.requests_per_second = UNTHROTTLED
        self._wake.set()

    def rethrottle(self, requests_per_second: float) -> None:
        """A new rate: slower applies from the next wait on; faster shortens the current
        wait in proportion, as DelayedPrepareBulkRequest.rethrottle does."""
        progress = self.progress
        old, progress.requests_per_second = progress.requests_per_second, requests_per_second
        if progress.throttled_until is not None and requests_per_second > old:
            now = time.monotonic()
            remaining = max(0.0, progress.throttled_until - now)
            progress.throttled_until = now + (0.0 if requests_per_second == UNTHROTTLED
                                              else remaining * old / requests_per_second)
            self._wake.set()

    async def _throttle(self, delay: float) -> None:
        if delay <= 0 or self.task.cancelled:
            return
        progress = self.progress
        started = time.monotonic()
        progress.throttled_until = started + delay
        try:
            while not self.task.cancelled and (left := progress.throttled_until - time.monotonic()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except TimeoutError:
                    pass
        finally:
            progress.throttled_until = None
            progress.throttled += time.monotonic() - started

    async def run(self) -> BulkByScrollResponse:
        start = time.monotonic()
        request, progress = self.request, self.progress
        if self.task.cancelled:
            return self._response(start)
        if request.kind == "reindex":
            self._check_reindex_target()
        source = ScrollSource(self.node, request)
        written: set[str] = set()
        try:
            try:
                opened = await source.open()
            except StrataError:
                if self.task.cancelled:
                    return self._response(start)
                raise
            if self.task.cancelled:
                return self._response(start)
            if opened.failures or opened.timed_out:
                return self._response(start, search_failures=opened.failures, timed_out=opened.timed_out)
            progress.total = min(opened.total, request.max_docs) if request.max_docs > 0 else opened.total
            last_start, last_size = None, 0
            while not self.task.cancelled:
                wanted = request.size
                if request.max_docs != -1:
                    wanted = min(wanted, request.max_docs - progress.successfully_processed)
                if wanted <= 0:
                    break
                # As ES: the next page is read at once, kept alive for the wait to come too,
                # and the wait (worked out again once the page is in) comes before the write.
                elapsed = 0.0 if last_start is None else time.monotonic() - last_start
                delay = throttle_wait(last_size, progress.requests_per_second, elapsed)
                try:
                    hits = await source.next_batch(wanted, request.scroll + delay)
                except StrataError:
                    if self.task.cancelled:
                        break
                    raise
                if not hits:
                    break
                since = 0.0 if last_start is None else time.monotonic() - last_start
                await self._throttle(throttle_wait(last_size, progress.requests_per_second, since))
                if self.task.cancelled:
                    break
                last_start = time.monotonic()
                progress.batches += 1
                items = build_items(request, hits)
                last_size = len(items)
                failures = await self._write(items, written)
                if self.task.cancelled:
                    break
                if failures:
                    return await self._finish(start, written, failures)
        finally:
            source.close()
        return await self._finish(start, written, [])

    async def _write(self, items: list[BulkItem], written: set[str]) -> list[dict[str, Any]]:
        request = self.request
        options = WriteRequestOptions(refresh="false", wait_for_active_shards=request.wait_for_active_shards,
                                      timeout=request.timeout)
        response: BulkResponse = await self.node.client.execute(BULK, BulkRequest(options=options,
                                                                                  local_items=items))
        return self.progress.count(response.items, request.abort_on_version_conflict, written)

    async def _finish(self, start: float, written: set[str], failures: list[dict[str, Any]]
                      ) -> BulkByScrollResponse:
        """refreshAndFinish: with `refresh`, the indices written to are refreshed first
        (not when cancelled)."""
        if self.request.refresh and written and not self.task.cancelled:
            await self.node.client.execute(REFRESH, RefreshRequest(expression=",".join(sorted(written)),
                                                                   options=IndicesOptions()))
        return self._response(start, failures=failures)

    def _response(self, start: float, *, failures: list[dict[str, Any]] = (),
                  search_failures: list[dict[str, Any]] = (),
                  timed_out: bool = False) -> BulkByScrollResponse:
        body: dict[str, Any] = {"took": int((time.monotonic() - start) * 1000), "timed_out": timed_out}
        body.update(self.status())
        body["failures"] = [*failures, *search_failures]
        return BulkByScrollResponse(body=body, status=response_status(body))

    def _check_reindex_target(self) -> None:
        """ReindexValidator.validateAgainstAliases: the destination (its write index, when it
        is an alias) may not be one of the indices read."""
        request = self.request
        indices = self.node.indices
        target = request.dest.index
        aliases = indices.aliases.aliases
        if request.dest.require_alias and target not in aliases:
            raise IndexNotFound(target, f"no such index [{target}] and [require_alias] request flag is "
                                        f"[true] and [{target}] is not an alias")
        if target in aliases or target in indices.cluster_indices:
            target = indices.write_target(target)[0].name
        options = request.options
        names, _ = self.node.search_actions.scope(",".join(request.indices), options, None)
        if target in names:
            raise ActionRequestValidation([f"reindex cannot write into an index its reading from [{target}]"])


class RethrottleRequest(Message):
    task_id: str
    requests_per_second: float  # -1: unthrottled


class BulkByScrollActions:
    """The three actions, and the runs in progress (what a rethrottle reaches)."""

    def __init__(self, node):
        self.node = node
        self.running: dict[TaskId, BulkByScroll] = {}

    def register(self) -> None:
        transport = self.node.transport
        for name in ACTIONS.values():
            transport.register(name, BulkByScrollRequest, BulkByScrollResponse, self._execute,
                               cancellable=True)
        transport.register(RETHROTTLE, RethrottleRequest, ListTasksResponse, self._rethrottle)
        transport.register(RETHROTTLE_NODE, RethrottleRequest, NodeTasks, self._rethrottle_node)

    async def _rethrottle(self, request: RethrottleRequest, task: Task) -> ListTasksResponse:
        """TransportRethrottleAction: the node running the task changes its rate; a node that
        cannot (the task is gone, or is no bulk-by-scroll) is a `node_failures` entry."""
        task_id = TaskId.parse(request.task_id)
        nodes = self.node.cluster_nodes()
        if task_id.node_id not in nodes:
            raise ResourceNotFound(f"task [{task_id}] belongs to the node [{task_id.node_id}] which isn't "
                                   "part of the cluster")
        try:
            answer = await self.node.transport.execute(RETHROTTLE_NODE, request, NodeTasks,
                                                       address=nodes[task_id.node_id], timeout=30.0)
        except StrataError as e:
            return ListTasksResponse(nodes=[], node_failures=[{
                "type": "failed_node_exception", "reason": f"Failed node [{task_id.node_id}]",
                "node_id": task_id.node_id, "caused_by": error_to_dict(e)}])
        return ListTasksResponse(nodes=[answer])

    async def _rethrottle_node(self, request: RethrottleRequest, task: Task) -> NodeTasks:
        task_id = TaskId.parse(request.task_id)
        target = self.node.tasks.get(task_id)
        if target is None:
            raise ResourceNotFound(f"task [{task_id}] is missing")
        runner = self.running.get(task_id)
        if runner is None:
            raise ResourceNotFound(f"task [{task_id}] doesn't support this operation")
        rate = request.requests_per_second
        runner.rethrottle(UNTHROTTLED if rate == -1 else rate)
        transport = self.node.transport
        return NodeTasks(node_id=self.node.node_id, node_name=transport.node_name,
                         transport_address=transport.address, tasks=[target.info(detailed=True)],
                         roles=sorted(transport.roles))

    async def _execute(self, request: BulkByScrollRequest, task: Task) -> BulkByScrollResponse:
        runner = BulkByScroll(self.node, request, task)
        task.status = runner.status
        self.running[task.id] = runner
        # The loop runs apart from this coroutine, which a cancellation of the task
        # interrupts: the loop sees the cancellation between batches and answers with what
        # it did, as ES's does, rather than being cut off in the middle of a bulk.
        work = asyncio.ensure_future(runner.run())
        try:
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                if not task.cancelled:  # the node is closing, or the caller went away
                    work.cancel()
                    raise
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                return await work
        finally:
            self.running.pop(task.id, None)


def register(node) -> BulkByScrollActions:
    actions = BulkByScrollActions(node)
    actions.register()
    return actions
