"""CPU per document of the two halves of a bulk request, in-process (no HTTP, no worker).

    python bench/indexing_cpu.py                  # 20,000 documents, best of 3
    python bench/indexing_cpu.py --docs 50000
    python bench/indexing_cpu.py --dump /tmp/a    # also write the store, to compare runs

The same documents bulk_index.py sends, under the dynamic mapping (text + keyword). The
wall clock of the real bench is noisy on a shared machine; process time of each stage is
not, so this is what a change to the write path is measured with. Stages:

worker half: `index_part` over parts of 250 documents as the pool sends them (msgpack of
  the parsed fields and the pickled plans), the last part encoding the segment;
loop half: bulk body parsing, source loading and mapping parse, the parts' encoding for
  the worker (plans and msgpack), the segment's decoding, and Engine.write (operations,
  the segment's keys, the LevelDB batch write).

The target is 30,000 docs/s with each half on its own core: about 33 us/doc for each,
less what the HTTP layer, responses and the pipe cost the loop. Figures, never pass/fail.
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

from bulk_index import generate_bodies  # noqa: E402
from strata_node.action.document_mapping import ShardMapper  # noqa: E402
from strata_node.engine.engine import Engine, IndexOp, ShardRef  # noqa: E402
from strata_node.engine.index_structures import decode_segment  # noqa: E402
from strata_node.index.analysis import index_analyzers  # noqa: E402
from strata_node.index.indexing import DocumentIndexer, encode_documents, index_part  # noqa: E402
from strata_node.index.mapping import Mapping  # noqa: E402
from strata_node.rest.bulk import parse_bulk  # noqa: E402
from strata_node.settings import index_setting  # noqa: E402

PART = 250
TARGET_US = 1e6 / 30_000
LOOP_GC = (50_000, 10, 10)  # as the node's __main__ sets it


class _Metadata:
    """What ShardMapper reads of an index's metadata: its settings (none set here)."""

    @staticmethod
    def setting(key: str):
        return index_setting({}, key)


class _Service:
    """What ShardMapper reads of an IndexService."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.metadata = _Metadata()


def best_of(runs: int, fn) -> tuple[float, object]:
    """The least process time of `runs` calls (the machine is shared: the least is the
    one others disturbed least), and the last call's result."""
    best, result = float("inf"), None
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def parse_bodies(bodies: list[bytes]) -> list:
    return [parse_bulk(body, "logs", None, False) for body in bodies]


def parse_documents(batches: list, mapping: Mapping) -> list[list]:
    mapper = ShardMapper(_Service(mapping))
    return [[mapper.parse(mapper.load(item.source), f"{b}-{i}") for i, item in enumerate(items)]
            for b, items in enumerate(batches)]


def encode_parts(indexer: DocumentIndexer, parsed: list[list]) -> list[list[tuple]]:
    """Each batch's parts as `send` gets them: (plans, numbers, documents)."""
    out = []
    for docs in parsed:
        parts = []
        for start in range(0, len(docs), PART):
            fields = [p.fields for p in docs[start:start + PART]]
            parts.append((indexer.plans(fields), list(range(start, start + len(fields))),
                          encode_documents(fields)))
        out.append(parts)
    return out


def index_batches(parts: list[list[tuple]]) -> list[bytes]:
    segments = []
    for batch, batch_parts in enumerate(parts):
        for k, (plans, numbers, documents) in enumerate(batch_parts):
            raw = index_part(batch, plans, numbers, documents, k == len(batch_parts) - 1)
        segments.append(raw)
    return segments


def write_batches(path: Path, batches: list, segments: list[bytes]) -> float:
    """Engine.write of every batch with its segment; returns the process time of the
    writes alone (not the engine's open and close)."""
    async def go() -> float:
        engine = Engine(ShardRef("logs", "uuid-1", 0), path, 1)
        await engine.open()
        ops = [[IndexOp(f"{b:04d}-{i:04d}", item.source, None, False, auto_generated_id=True)
                for i, item in enumerate(items)] for b, items in enumerate(batches)]
        start = time.process_time()
        for batch, raw in zip(ops, segments, strict=True):
            engine.write(batch, lambda i, outcome: None, decode_segment(raw))
        spent = time.process_time() - start
        await engine.close()
        return spent
    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dump", help="write the store's contents here (key, value per line, hex)")
    args = parser.parse_args()
    bodies, _ = generate_bodies(args.docs, 1000, 42, explicit_ids=False)
    n = args.docs
    first = parse_bulk(bodies[0], "logs", None, False)
    mapping = Mapping.empty()
    mapping = mapping.merge(mapping.parse_document(ShardMapper.load(first[0].source), "0").dynamic_update)
    indexer = DocumentIndexer(mapping, index_analyzers({}, "logs"))
    gc.freeze()
    gc.set_threshold(*LOOP_GC)
    rows: list[tuple[str, float]] = []

    t, batches = best_of(args.runs, lambda: parse_bodies(bodies))
    rows.append(("loop: parse_bulk", t))
    t, parsed = best_of(args.runs, lambda: parse_documents(batches, mapping))
    rows.append(("loop: load + mapping parse", t))
    t, parts = best_of(args.runs, lambda: encode_parts(indexer, parsed))
    rows.append(("loop: parts for the worker (plans + msgpack)", t))
    gc.set_threshold(100_000, 50, 50)  # as the indexing worker runs
    t, segments = best_of(args.runs, lambda: index_batches(parts))
    gc.set_threshold(*LOOP_GC)
    rows.append(("worker: index_part (+ encode_segment)", t))
    t, _ = best_of(args.runs, lambda: [decode_segment(raw) for raw in segments])
    rows.append(("loop: decode_segment", t))
    tmp = Path(tempfile.mkdtemp(prefix="indexing-cpu-"))
    try:
        spent = []
        for _ in range(args.runs):
            shutil.rmtree(tmp, ignore_errors=True)
            gc.collect()
            spent.append(write_batches(tmp, batches, segments))
        rows.append(("loop: Engine.write (+ decode_segment)", min(spent)))
        if args.dump:
            dump(tmp / "index", args.dump)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{n:,} log documents, dynamic mapping, process time best of {args.runs}, "
          f"Python {sys.version.split()[0]}")
    loop = worker = 0.0
    for label, seconds in rows:
        us = seconds / n * 1e6
        print(f"  {label:<52} {us:8.2f} us/doc")
        if label.startswith("worker"):
            worker += us
        elif label != "loop: decode_segment":  # counted again inside Engine.write
            loop += us
    print(f"  {'worker half':<52} {worker:8.2f} us/doc  (30k docs/s needs < {TARGET_US:.1f})")
    print(f"  {'loop half (without HTTP, responses, pipe)':<52} {loop:8.2f} us/doc  "
          f"(30k docs/s needs < {TARGET_US:.1f} with those)")


def dump(path: Path, out: str) -> None:
    """The store's keys and values, one per line; sequence numbers and ids are the same
    from run to run (ids are the bench's own), so two runs' dumps compare with diff."""
    import plyvel

    db = plyvel.DB(str(path))
    try:
        with open(out, "w") as f:
            for key, value in db.iterator():
                if key == b"m:commit":  # holds the run's random translog and history uuids
                    continue
                f.write(f"{key.hex()} {value.hex()}\n")
    finally:
        db.close()


if __name__ == "__main__":
    main()
