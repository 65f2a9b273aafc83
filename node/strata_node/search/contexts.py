"""The search contexts a node keeps between a shard's query phase and its fetch
(Elasticsearch's SearchService active contexts): the reader the query ran on, with the
mapping, analyzers and clock it used, so the fetch reads the same refresh even when the
coordinating node is another one.

A context is freed by its fetch, by the coordinator when the shard made no hit of the
page (`indices:data/read/search[free_context]`; a scroll's, search/scroll.py, the same
way once its action is done with the shard), and otherwise by the reaper once it has
been idle for its keep-alive, so a coordinator that died leaks nothing. The reaper also
frees the contexts of shards closed since (an index deleted or closed, a copy moved
away): their fetch could only fail, and their readers hold caches of a store that is gone.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..common.errors import StrataError
from ..common.ids import random_base64_uuid
from .context import ShardContext

log = logging.getLogger(__name__)

DEFAULT_KEEP_ALIVE = 300.0  # search.default_keep_alive
REAP_EVERY = 60.0  # search.keep_alive_interval


class SearchContextMissing(StrataError):
    type = "search_context_missing_exception"
    status = 404

    def __init__(self, context_id: str):
        super().__init__(f"No search context found for id [{context_id}]")


@dataclass
class _Open:
    ctx: ShardContext
    expires: float


class SearchContexts:
    """Open contexts by id. Ids carry a per-process session, so an id from before a
    restart names nothing. Thread-safe: phases open and take contexts on the search
    executor's threads."""

    def __init__(self, *, keep_alive: float = DEFAULT_KEEP_ALIVE, reap_every: float | None = REAP_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.keep_alive = keep_alive
        self._reap_every = reap_every
        self._clock = clock
        self._session = random_base64_uuid()
        self._ids = itertools.count(1)
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._open)

    def open_by_shard(self) -> Counter[tuple[str, int]]:
        """Contexts kept, by (index, shard): what index stats show as open contexts."""
        with self._lock:
            return Counter((entry.ctx.index, entry.ctx.shard_id) for entry in self._open.values())

    def open(self, ctx: ShardContext, *, keep_alive: float | None = None) -> str:
        """Keep `ctx` for a fetch (or a scroll's pages, `keep_alive` seconds from now);
        its id."""
        context_id = f"{self._session}:{next(self._ids)}"
        keep = self.keep_alive if keep_alive is None else keep_alive
        with self._lock:
            self._open[context_id] = _Open(ctx, self._clock() + keep)
            if self._reaper is None and self._reap_every is not None:
                # Started by the first context, so a node that never holds one runs no thread.
                self._reaper = threading.Thread(target=self._reap_forever, name="search-context-reaper",
                                                daemon=True)
                self._reaper.start()
        return context_id

    def take(self, context_id: str) -> ShardContext:
        """Remove and return a context: a fetch uses it once."""
        with self._lock:
            entry = self._open.pop(context_id, None)
        if entry is None:
            raise SearchContextMissing(context_id)
        return entry.ctx

    def touch(self, context_id: str, keep_alive: float) -> ShardContext:
        """A scroll's context, kept: alive `keep_alive` seconds from now on."""
        with self._lock:
            entry = self._open.get(context_id)
            if entry is None:
                raise SearchContextMissing(context_id)
            entry.expires = self._clock() + keep_alive
            return entry.ctx

    def free(self, context_id: str) -> bool:
        with self._lock:
            return self._open.pop(context_id, None) is not None

    def reap(self) -> int:
        """Drop the contexts past their keep-alive and those of closed shards; how many."""
        now = self._clock()
        with self._lock:
            expired = [i for i, entry in self._open.items() if entry.expires <= now]
            closed = [i for i, entry in self._open.items()
                      if entry.expires > now and entry.ctx.reader is not None and entry.ctx.reader.closed]
            for context_id in (*expired, *closed):
                del self._open[context_id]
        if expired:
            log.info("freed %d search contexts idle for more than %.0fs", len(expired), self.keep_alive)
        if closed:
            log.info("freed %d search contexts of closed shards", len(closed))
        return len(expired) + len(closed)

    def _reap_forever(self) -> None:
        while True:
            time.sleep(self._reap_every)
            self.reap()
