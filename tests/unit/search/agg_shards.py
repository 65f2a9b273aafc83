"""Real shards for the aggregation tests: documents written through the real mapping
and indexing chain into a real engine, refreshed, and wrapped in a ShardContext.

`shards(tmp_path, mapping, [docs, docs, ...])` gives one context per list of documents,
so a test can collect on several shards and check the reduce the coordinator runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import orjson

from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer
from strata_node.index.mapping import Mapping
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.context import ShardContext
from strata_node.search.matches import Matches

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the requests' `now`


@contextlib.contextmanager
def shards(tmp_path, mapping: dict, shard_docs: list[list[dict]], index: str = "test",
           deleted: tuple[str, ...] = ()) -> Iterator[list[ShardContext]]:
    """One refreshed shard per list of documents (ids "<shard>-<n>"); `deleted` ids are
    deleted after writing, so their versions are dead."""
    compiled = Mapping.parse(mapping)
    analyzers = index_analyzers({}, index)
    indexer = DocumentIndexer(compiled, analyzers)
    engines = []

    async def open_all():
        for n, docs in enumerate(shard_docs):
            engine = Engine(ShardRef(index, "uuid", n), tmp_path / str(n), 1)
            await engine.open()
            ops = [IndexOp(f"{n}-{i}", orjson.dumps(doc),
                           indexed=indexer(compiled.parse_document(doc, f"{n}-{i}")))
                   for i, doc in enumerate(docs)]
            if ops:
                engine.write(ops, lambda i, outcome: None)
            gone = [DeleteOp(d) for d in deleted if d.startswith(f"{n}-")]
            if gone:
                engine.write(gone, lambda i, outcome: None)
            engine.refresh()
            engines.append(engine)

    asyncio.run(open_all())
    try:
        yield [ShardContext(index, n, e.searcher(), compiled, analyzers, now_millis=NOW)
               for n, e in enumerate(engines)]
    finally:
        async def close_all():
            for e in engines:
                await e.close()

        asyncio.run(close_all())


def match_all(ctx: ShardContext, scored: bool = False) -> Matches:
    seqs = ctx.reader.docs()
    if scored:
        import numpy as np

        return Matches(seqs, np.ones(len(seqs), dtype=np.float32))
    return Matches(seqs)


def run(body: dict, contexts: list[ShardContext], matches=None) -> dict:
    """Parse, collect on every shard, reduce and render, as the coordinator does."""
    aggs = parse_aggregations(body)
    partials = [aggs.collect(ctx, matches(ctx) if matches else match_all(ctx)) for ctx in contexts]
    return aggs.render(aggs.reduce(partials))


def one_shard(tmp_path, mapping: dict, docs: list[dict], body: dict, **kwargs) -> dict:
    with shards(tmp_path, mapping, [docs], **kwargs) as contexts:
        return run(body, contexts)
