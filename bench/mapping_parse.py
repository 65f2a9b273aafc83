"""Document parsing throughput: log-like documents through the mapping, in-process.

    python bench/mapping_parse.py                 # 200,000 documents
    python bench/mapping_parse.py --docs 50000

The same documents bulk_index.py sends (timestamp, ip, method, path, status, size,
message). Prints docs/s for: orjson.loads alone (what the write path pays anyway), the
mapping parse of already-loaded documents under the dynamic mapping the first document
creates, the same under an explicit mapping (date, ip, keyword, long, text), and loads
plus parse together. Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "node"))
sys.path.insert(0, str(ROOT / "bench"))

from bulk_index import generate_bodies  # noqa: E402
from strata_node.index.mapping import Mapping  # noqa: E402

EXPLICIT = {"properties": {
    "timestamp": {"type": "date"}, "ip": {"type": "ip"}, "method": {"type": "keyword"},
    "path": {"type": "keyword"}, "status": {"type": "short"}, "size": {"type": "long"},
    "message": {"type": "text"},
}}


def documents(count: int) -> list[bytes]:
    bodies, _ = generate_bodies(count, 1000, 42, explicit_ids=False)
    lines = [line for body in bodies for line in body.split(b"\n") if line]
    return lines[1::2]


def batched(parse, docs: list) -> None:
    """As the write path does: a batch of 1000 parsed and kept until it is written."""
    for start in range(0, len(docs), 1000):
        batch = [parse(d, "x") for d in docs[start:start + 1000]]
    del batch


def rate(label: str, count: int, run) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        run()
        best = max(best, count / (time.perf_counter() - start))
    print(f"  {label:<48} {best:>12,.0f} docs/s  ({1e6 / best:.2f} us/doc)")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    args = parser.parse_args()
    raw = documents(args.docs)
    loaded = [orjson.loads(d) for d in raw]
    dynamic = Mapping.empty()
    dynamic = dynamic.merge(dynamic.parse_document(loaded[0], "0").dynamic_update)
    explicit = Mapping.parse(EXPLICIT)
    for mapping in (dynamic, explicit):  # every document parses, and adds no field
        assert all(mapping.parse_document(d, "x").dynamic_update is None for d in loaded[:1000])
    # The preloaded documents are this benchmark's, not the node's: keep the collector
    # from scanning them over and over, which would charge the parse for them.
    gc.freeze()
    print(f"parsing {len(raw):,} log documents ({sum(map(len, raw)) / len(raw):.0f} B each), best of 3, "
          f"Python {sys.version.split()[0]}")
    rate("orjson.loads", len(raw), lambda: batched(lambda d, _: orjson.loads(d), raw))
    rate("mapping parse, dynamic mapping (text+keyword)", len(raw),
         lambda: batched(dynamic.parse_document, loaded))
    rate("mapping parse, explicit mapping", len(raw), lambda: batched(explicit.parse_document, loaded))
    rate("orjson.loads + mapping parse, dynamic mapping", len(raw),
         lambda: batched(lambda d, i: dynamic.parse_document(orjson.loads(d), i), raw))


if __name__ == "__main__":
    main()
