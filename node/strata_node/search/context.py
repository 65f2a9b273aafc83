"""ShardContext: everything a shard-level search reads, fixed for the request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.segment_reader import EMPTY_COLUMN, Column, SegmentReader
from ..index.analysis import IndexAnalyzers
from ..index.mapping import Mapping
from ..index.mapping.mappers import IGNORED, FieldMapper
from ..tasks.task import Task


@dataclass
class ShardContext:
    """One shard's search structures as of its last refresh, the index's mapping and
    analyzers, and the request's clock.

    `now_millis` is taken once per request on the coordinating node, so date math such
    as `now-1d/d` means the same instant on every shard. `deadline` (time.monotonic())
    is where `timeout` cuts collection short. `task` is the shard-level task the phase
    runs as: a phase checks it between its steps, so a cancelled search stops."""

    index: str
    shard_id: int
    reader: SegmentReader
    mapping: Mapping
    analyzers: IndexAnalyzers
    now_millis: int
    deadline: float | None = None
    timed_out: bool = field(default=False)
    task: Task | None = None
    # The parsed filter of the filtered alias the request searches through, if any: the
    # query already carries it; `visible_docs` needs it apart.
    alias_filter: Any = None

    def field(self, path: str) -> FieldMapper | None:
        return self.mapping.field(path)

    def doc_values(self, path: str) -> Column:
        """A field's doc values as aggregations, sorts and docvalue_fields read them; a
        constant_keyword's are its constant for every live document."""
        mapper = self.mapping.field(path)
        if mapper is not None and mapper.type_name == "constant_keyword":
            if mapper.constant is None:
                return EMPTY_COLUMN
            docs = self.reader.docs()
            values = np.empty(len(docs), dtype=object)
            values[:] = mapper.constant
            return Column(docs, values)
        return self.reader.doc_values(path)

    def ignored(self, seq: int) -> list[str] | None:
        """The fields the document left out (its `_ignored`), sorted, as a hit shows them:
        read from the field's doc values (cached with the reader), as ES reads them since
        8.15; None when it left none out."""
        column = self.reader.doc_values(IGNORED)
        if not len(column):
            return None
        lo, hi = np.searchsorted(column.seqs, [seq, seq + 1]).tolist()
        if lo == hi:
            return None
        return sorted(column.values[lo:hi].tolist())

    def visible_docs(self) -> np.ndarray:
        """Every document the request may see here whatever its query (the global
        aggregation's bucket): the live documents, through the alias filter if any."""
        if self.alias_filter is None:
            return self.reader.docs()
        return self.alias_filter.execute(self, score=False).seqs

    def past_deadline(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
        return self.timed_out

    def check_cancelled(self) -> None:
        """TaskCancelled once the phase's task is cancelled (the work runs on a thread
        the cancellation cannot interrupt, so it looks between steps); the engine's closed
        error once the shard's close has begun, which waits for this phase to stop."""
        if self.task is not None:
            self.task.ensure_not_cancelled()
        self.reader.ensure_open()
