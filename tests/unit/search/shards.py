"""Real shards for the search tests: documents written through the real mapping,
analyzers and indexing chain into a real engine, refreshed, and wrapped in a
ShardContext, so queries and aggregations run on what indexing really produces.

`shard(tmp_path, mapping, docs)` gives one context (ids "0", "1", ... for a list of
documents); `shards(tmp_path, mapping, [docs, docs, ...])` gives one context per list
(ids "<shard>-<n>"), so a test can collect on several shards and check the reduce the
coordinator runs. `hits`/`ids` run a query body, `run`/`one_shard` an aggregation body."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import numpy as np
import orjson

from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer
from strata_node.index.mapping import Mapping
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.context import ShardContext
from strata_node.search.matches import Matches
from strata_node.search.query import parse_query

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the requests' `now`

Items = list[tuple[str, dict]]


@contextlib.contextmanager
def shard(tmp_path, mapping: dict, docs: list[dict] | dict[str, dict], *, deleted: tuple[str, ...] = (),
          settings: dict | None = None, batches: int = 1) -> Iterator[ShardContext]:
    """A refreshed shard holding `docs` (ids "0", "1", ... for a list), written in
    `batches` write batches (segments); `deleted` ids are deleted afterwards."""
    items = list(docs.items()) if isinstance(docs, dict) else [(str(i), d) for i, d in enumerate(docs)]
    with _open(tmp_path, mapping, [items], deleted=deleted, settings=settings, batches=batches) as contexts:
        yield contexts[0]


@contextlib.contextmanager
def shards(tmp_path, mapping: dict, shard_docs: list[list[dict]], index: str = "test",
           deleted: tuple[str, ...] = ()) -> Iterator[list[ShardContext]]:
    """One refreshed shard per list of documents (ids "<shard>-<n>"); `deleted` ids are
    deleted after writing, so their versions are dead."""
    items = [[(f"{n}-{i}", doc) for i, doc in enumerate(docs)] for n, docs in enumerate(shard_docs)]
    with _open(tmp_path, mapping, items, index=index, deleted=deleted) as contexts:
        yield contexts


@contextlib.contextmanager
def _open(tmp_path, mapping: dict, shard_items: list[Items], *, index: str = "test",
          deleted: tuple[str, ...] = (), settings: dict | None = None,
          batches: int = 1) -> Iterator[list[ShardContext]]:
    """The shards of one index: every document is parsed first (dynamic fields grow the
    mapping, as they would the index's), then each shard's are indexed with the final
    mapping in `batches` writes, its `deleted` ids deleted, and the shard refreshed."""
    compiled = Mapping.parse(mapping)
    analyzers = index_analyzers(settings or {}, index)
    parsed_shards = []
    for items in shard_items:
        parsed_items = []
        for doc_id, doc in items:
            parsed = compiled.parse_document(doc, doc_id)
            if parsed.dynamic_update:
                compiled = compiled.merge(parsed.dynamic_update)
                parsed = compiled.parse_document(doc, doc_id)
            parsed_items.append((doc_id, doc, parsed))
        parsed_shards.append(parsed_items)
    indexer = DocumentIndexer(compiled, analyzers)
    engines: list[Engine] = []

    async def open_and_write():
        for n, parsed_items in enumerate(parsed_shards):
            engine = Engine(ShardRef(index, "uuid", n), tmp_path / str(n), 1)
            await engine.open()
            engines.append(engine)
            writes = [IndexOp(doc_id, orjson.dumps(doc), indexed=indexer(parsed))
                      for doc_id, doc, parsed in parsed_items]
            size = max(1, -(-len(writes) // batches))
            for start in range(0, len(writes), size):
                engine.write(writes[start:start + size], lambda i, outcome: None)
            held = {doc_id for doc_id, _, _ in parsed_items}
            gone = [DeleteOp(d) for d in deleted if d in held]
            if gone:
                engine.write(gone, lambda i, outcome: None)
            engine.refresh()

    async def close_all():
        for engine in engines:
            await engine.close()

    try:
        asyncio.run(open_and_write())
        yield [ShardContext(index, n, e.searcher(), compiled, analyzers, now_millis=NOW)
               for n, e in enumerate(engines)]
    finally:
        asyncio.run(close_all())


# -- queries ----------------------------------------------------------------------------------


def hits(ctx: ShardContext, body: dict, *, score: bool = True) -> dict[str, float | None]:
    """Document id -> score (None when run without scores) of a query body."""
    matches = parse_query(body).execute(ctx, score=score)
    ids = [ctx.reader.document(seq).id for seq in matches.seqs.tolist()]
    if matches.scores is None:
        return dict.fromkeys(ids)
    return dict(zip(ids, matches.scores.tolist(), strict=True))


def ids(ctx: ShardContext, body: dict) -> list[str]:
    """The matching ids, sorted."""
    return sorted(hits(ctx, body, score=False))


# -- aggregations -----------------------------------------------------------------------------


def match_all(ctx: ShardContext, scored: bool = False) -> Matches:
    """Every live document of the shard, scoring 1 when asked."""
    seqs = ctx.reader.docs()
    if scored:
        return Matches(seqs, np.ones(len(seqs), dtype=np.float32))
    return Matches(seqs)


def run(body: dict, contexts: list[ShardContext], matches=None) -> dict:
    """Parse, collect on every shard, reduce, run the pipelines and render, as the
    coordinator does."""
    aggs = parse_aggregations(body)
    partials = [aggs.collect(ctx, matches(ctx) if matches else match_all(ctx)) for ctx in contexts]
    return aggs.render(aggs.run_pipelines(aggs.reduce(partials)))


def one_shard(tmp_path, mapping: dict, docs: list[dict], body: dict, **kwargs) -> dict:
    with shards(tmp_path, mapping, [docs], **kwargs) as contexts:
        return run(body, contexts)
