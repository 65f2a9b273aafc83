"""What a force merge costs and what it gives back, in-process on one shard engine.

    python bench/merge.py                        # 200,000 log documents, half of them updates
    python bench/merge.py --docs 500000 --updated 0.3

The bench's log documents (bulk_index.py) go through the real indexing chain in batches of
1000, with ids that repeat so that `--updated` of the writes replace an earlier version.
Printed: the search structures' keys and bytes, the first search after a refresh (the dead
set and a common term's postings), then `Engine.force_merge` (wall and process time,
documents and megabytes of search structures per second) and the same figures after it.
The ceiling is a plain copy of the same keys into a new LevelDB in batches of a megabyte:
what merely reading and writing those bytes costs. Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "node"))
sys.path.insert(0, str(ROOT / "bench"))

import plyvel  # noqa: E402

from bulk_index import generate_bodies  # noqa: E402
from indexing_cpu import encode_parts, index_batches, parse_bodies, parse_documents  # noqa: E402
from strata_node.action.document_mapping import ShardMapper  # noqa: E402
from strata_node.engine import index_structures as ix  # noqa: E402
from strata_node.engine.engine import Engine, IndexOp, ShardRef  # noqa: E402
from strata_node.engine.index_structures import decode_segment  # noqa: E402
from strata_node.index.analysis import index_analyzers  # noqa: E402
from strata_node.index.indexing import DocumentIndexer  # noqa: E402
from strata_node.index.mapping import Mapping  # noqa: E402
from strata_node.rest.bulk import parse_bulk  # noqa: E402

SEARCH_KINDS = (ix.POSTINGS, ix.DOC_VALUES, ix.NORMS, ix.DOCS, ix.DEAD)


def structures(db) -> tuple[int, int]:
    """Keys and bytes of the search structures."""
    keys = size = 0
    for kind in SEARCH_KINDS:
        for key, value in db.iterator(prefix=kind):
            keys += 1
            size += len(key) + len(value)
    return keys, size


def first_search_ms(engine: Engine) -> float:
    engine.refresh()
    reader = engine.searcher()
    start = time.perf_counter()
    _ = reader.dead
    reader.postings("message", b"get")
    return (time.perf_counter() - start) * 1e3


def ceiling(source: Path, target: Path) -> tuple[float, int]:
    """Seconds to copy the search structures' keys into a new store, and their bytes."""
    db = plyvel.DB(str(source))
    out = plyvel.DB(str(target), create_if_missing=True, compression=None)
    start = time.perf_counter()
    size = 0
    wb = out.write_batch()
    pending = 0
    for kind in SEARCH_KINDS:
        for key, value in db.iterator(prefix=kind):
            wb.put(key, value)
            pending += len(key) + len(value)
            if pending >= 1 << 20:
                wb.write()
                size += pending
                wb, pending = out.write_batch(), 0
    wb.write()
    size += pending
    spent = time.perf_counter() - start
    db.close()
    out.close()
    return spent, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000, help="writes (default 200,000)")
    parser.add_argument("--updated", type=float, default=0.5, help="share of writes that replace a version")
    args = parser.parse_args()
    distinct = max(1, int(args.docs * (1 - args.updated)))
    bodies, _ = generate_bodies(args.docs, 1000, 42, explicit_ids=False)
    first = parse_bulk(bodies[0], "logs", None, False)
    mapping = Mapping.empty()
    mapping = mapping.merge(mapping.parse_document(ShardMapper.load(first[0].source), "0").dynamic_update)
    indexer = DocumentIndexer(mapping, index_analyzers({}, "logs"))
    print(f"indexing {args.docs:,} log documents over {distinct:,} ids ...", flush=True)
    batches = parse_bodies(bodies)
    segments = index_batches(encode_parts(indexer, parse_documents(batches, mapping)))
    tmp = Path(tempfile.mkdtemp(prefix="merge-bench-"))

    async def go() -> None:
        engine = Engine(ShardRef("logs", "uuid-1", 0), tmp / "shard", 1)
        await engine.open()
        n = 0
        for items, raw in zip(batches, segments, strict=True):
            ops = []
            for item in items:
                ops.append(IndexOp(str(n % distinct), item.source))
                n += 1
            engine.write(ops, lambda i, outcome: None, decode_segment(raw))
        engine.translog.global_checkpoint = engine.tracker.checkpoint
        await engine.flush(force=True)
        # what indexing left is garbage now: a collection in the middle of a timed search
        # would walk it (the node freezes its start-up objects out of the collector too)
        batches.clear()
        segments.clear()
        gc.collect()
        gc.freeze()
        keys, size = structures(engine.db)
        engine.refresh()
        dead = len(engine.searcher().dead)
        print(f"before: {keys:,} keys, {size / 1e6:.1f} MB of search structures, {dead:,} dead versions, "
              f"first search after a refresh {first_search_ms(engine):.1f} ms")
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = await engine.force_merge()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after_keys, after_size = structures(engine.db)
        print(f"merge: {wall:.2f} s wall, {cpu:.2f} s process time; {result.batches:,} batches, "
              f"{result.purged:,} versions purged; {args.docs / wall:,.0f} docs/s, "
              f"{size / 1e6 / wall:.1f} MB/s")
        print(f"after: {after_keys:,} keys, {after_size / 1e6:.1f} MB of search structures, "
              f"first search after a refresh {first_search_ms(engine):.1f} ms")
        await engine.close()

    try:
        asyncio.run(go())
        spent, size = ceiling(tmp / "shard" / "index", tmp / "copy")
        print(f"ceiling: plain copy of the search structures, {size / 1e6:.1f} MB in {spent:.2f} s: "
              f"{size / 1e6 / spent:.1f} MB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
