"""One real shard for the query tests: documents written through the real mapping,
analyzers and indexing chain into a real engine, refreshed, wrapped in a ShardContext;
and `hits`, which runs a query body on it and names the matches by document id."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import orjson

from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer
from strata_node.index.mapping import Mapping
from strata_node.search.context import ShardContext
from strata_node.search.query import parse_query

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the request's `now`


@contextlib.contextmanager
def shard(tmp_path, mapping: dict, docs: list[dict] | dict[str, dict], *, deleted: tuple[str, ...] = (),
          settings: dict | None = None, batches: int = 1) -> Iterator[ShardContext]:
    """A refreshed shard holding `docs` (ids "0", "1", ... for a list), written in
    `batches` write batches (segments); `deleted` ids are deleted afterwards."""
    items = docs.items() if isinstance(docs, dict) else [(str(i), d) for i, d in enumerate(docs)]
    compiled = Mapping.parse(mapping)
    analyzers = index_analyzers(settings or {}, "test")
    engine = Engine(ShardRef("test", "uuid", 0), tmp_path / "shard", 1)

    async def open_and_write():
        nonlocal compiled
        await engine.open()
        ops = []
        for doc_id, doc in items:
            parsed = compiled.parse_document(doc, doc_id)
            if parsed.dynamic_update:
                compiled = compiled.merge(parsed.dynamic_update)
                parsed = compiled.parse_document(doc, doc_id)
            ops.append((doc_id, doc, parsed))
        indexer = DocumentIndexer(compiled, analyzers)
        writes = [IndexOp(doc_id, orjson.dumps(doc), indexed=indexer(parsed)) for doc_id, doc, parsed in ops]
        size = max(1, -(-len(writes) // batches))
        for start in range(0, len(writes), size):
            engine.write(writes[start:start + size], lambda i, outcome: None)
        if deleted:
            engine.write([DeleteOp(d) for d in deleted], lambda i, outcome: None)
        engine.refresh()

    asyncio.run(open_and_write())
    try:
        yield ShardContext("test", 0, engine.searcher(), compiled, analyzers, now_millis=NOW)
    finally:
        asyncio.run(engine.close())


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
