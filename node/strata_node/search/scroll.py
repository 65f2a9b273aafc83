"""A scroll over one shard, for the bulk-by-scroll actions (action/bulk_by_scroll.py):
the shard-level half of Elasticsearch's scroll, as delete-by-query, update-by-query and
reindex use it.

    indices:data/read/search[phase/query/scroll]     run the query once, keep the reader
    indices:data/read/search[phase/fetch/id/scroll]  the hits from a place in the matches

The query runs once on the shard's reader of its last refresh (a LevelDB snapshot, which
stays readable whatever is written after it) and the context keeps the matching sequence
numbers in `_doc` order beside that reader. Every page is fetched from the same reader,
so the documents an action rewrites meanwhile (new sequence numbers, not in the snapshot)
are never seen again, and each hit carries the `_seq_no`/`_primary_term` it had when the
scroll started, which makes a concurrent change a version conflict of the write.

Pages name their place (`start`, `count`), so a page asked again returns the same hits.
Each page keeps the context alive for the `keep_alive` it names (ES's scroll keep-alive);
the context is freed with `indices:data/read/search[free_context]` once the action is done
with the shard, or by the reaper once idle past its keep-alive.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..common.xcontent import loads
from ..tasks.task import Task
from ..transport.wire import Message
from .alias_filter import filtered, parse_alias_filter
from .context import ShardContext
from .request import parse_count_query
from .shard_search import FetchSpec, fetch_phase

OPEN = "indices:data/read/search[phase/query/scroll]"
PAGE = "indices:data/read/search[phase/fetch/id/scroll]"


@dataclasses.dataclass
class ScrollContext(ShardContext):
    """A shard context kept for a scroll: the matches, in `_doc` order, beside the reader."""

    seqs: Any = None  # np.ndarray of int64


class OpenScrollRequest(Message):
    index: str
    index_uuid: str
    shard: int
    now_millis: int
    keep_alive: float  # seconds the context lives without a page asked of it
    body: bytes = b""  # `{"query": ...}` or empty (match everything)
    params: dict[str, str] = {}  # `q` and its companions
    alias_filter: dict[str, Any] | None = None
    time_left: float | None = None  # the search timeout, when there is one
    terminate_after: int = 0
    parsed: Any = None  # local calls only: the parsed query

    @property
    def description(self) -> str:
        return f"shardId[[{self.index}][{self.shard}]]"


class ScrollOpened(Message):
    total: int
    context_id: str | None = None  # None when nothing matched: no context is kept
    timed_out: bool = False


class ScrollPageRequest(Message):
    context_id: str
    start: int  # the place in the matches of the first hit
    count: int  # 0: keep the context alive, fetch nothing
    keep_alive: float
    spec: FetchSpec

    @property
    def description(self) -> str:
        return f"id[{self.context_id}], from[{self.start}], size[{self.count}]"


class ScrollPage(Message):
    hits: list[dict[str, Any]]  # an unfiltered `_source` is the stored JSON, as bytes


def open_scroll(service, request: OpenScrollRequest, task: Task) -> ScrollOpened:
    """Run the query on the shard's current reader and keep what it matched (on the
    search executor: a query over a million documents is long CPU work)."""
    deadline = None if request.time_left is None else time.monotonic() + request.time_left
    ctx = service.context(request.index, request.index_uuid, request.shard, request.now_millis, deadline,
                          task)
    if request.parsed is not None:
        query = request.parsed
    else:
        query = parse_count_query(loads(request.body) if request.body.strip() else {}, request.params)
    ctx.alias_filter = parse_alias_filter(request.alias_filter)
    query = filtered(query, ctx.alias_filter)
    with service.stats(ctx).timed("query"), ctx.reader.reading():
        ctx.check_cancelled()
        seqs = query.execute(ctx, score=False).seqs
        ctx.check_cancelled()
    if request.terminate_after:
        seqs = seqs[:request.terminate_after]
    timed_out = ctx.past_deadline()
    if not len(seqs):
        return ScrollOpened(total=0, timed_out=timed_out)
    fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ShardContext)}
    fields.update(task=None, deadline=None)
    kept = ScrollContext(**fields, seqs=np.asarray(seqs, dtype=np.int64))
    context_id = service.contexts.open(kept, keep_alive=request.keep_alive)
    return ScrollOpened(total=len(seqs), context_id=context_id, timed_out=timed_out)


def scroll_page(service, request: ScrollPageRequest, task: Task) -> ScrollPage:
    """The hits at [start, start + count) of the matches, read from the scroll's reader."""
    kept = service.contexts.touch(request.context_id, request.keep_alive)
    if request.count <= 0:
        return ScrollPage(hits=[])
    ctx = dataclasses.replace(kept, task=task)
    seqs = ctx.seqs[request.start:request.start + request.count].tolist()
    with service.stats(ctx).timed("fetch"), ctx.reader.reading():
        hits = fetch_phase(ctx, seqs, [None] * len(seqs), None, request.spec)
    return ScrollPage(hits=hits)


def register(node) -> None:
    service = node.search_shards
    transport = node.transport
    transport.register(OPEN, OpenScrollRequest, ScrollOpened,
                       lambda request, task: open_scroll(service, request, task), executor="search",
                       cancellable=True)
    transport.register(PAGE, ScrollPageRequest, ScrollPage,
                       lambda request, task: scroll_page(service, request, task), executor="search",
                       cancellable=True)
