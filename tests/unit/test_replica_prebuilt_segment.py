"""A replica batch indexed by the indexing worker (a PrebuiltSegment) leaves the store
exactly as the same batch indexed on the event loop does, key for key: also when some of
its operations were already applied (a recovery's replay overlapping the writes)."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import orjson
import pytest

from strata_node.common.errors import StrataError
from strata_node.engine import operation as ops
from strata_node.engine.engine import Engine, PrebuiltSegment
from strata_node.engine.index_structures import decode_segment
from strata_node.index.indexing import encode_documents, index_part
from strata_node.replication import replica
from tests.unit.test_engine_rollback import INDEXER, MAPPING, index_op, opened, random_requests, write


def prebuilt(batch: list[ops.Operation], batch_id: int) -> PrebuiltSegment:
    """What the worker returns for the batch's index operations (replica.py's `_WorkerParse`)."""
    documents = [op for op in batch if op.op_type == ops.INDEX]
    base = documents[0].seq_no
    fields = [MAPPING.parse_document(orjson.loads(op.source), op.id).fields for op in documents]
    raw = index_part(batch_id, INDEXER.plans(fields), [op.seq_no - base for op in documents],
                     encode_documents(fields), True)
    return PrebuiltSegment(decode_segment(raw), [op.seq_no for op in documents])


def store(engine: Engine) -> dict[bytes, bytes]:
    """Every key but the commit point, which names each store's own uuids."""
    return {key: value for key, value in engine.db.iterator() if key != b"m:commit"}


@pytest.mark.parametrize("seed", range(20))
def test_a_batch_indexed_by_the_worker_writes_the_keys_it_would_write_indexed_here(tmp_path, seed):
    rng = random.Random(seed)

    async def run() -> None:
        primary = await opened(tmp_path / "p")
        here, worker = await opened(tmp_path / "a"), await opened(tmp_path / "b")
        written = write(primary, random_requests(rng, 60))
        applied: list[ops.Operation] = []
        while written:
            size = rng.randint(1, 12)
            batch, written = written[:size], written[size:]
            if applied and rng.random() < 0.3:  # a replay overlapping what is already here
                batch = rng.sample(applied, min(len(applied), rng.randint(1, 3))) + batch
                batch = sorted({op.seq_no: op for op in batch}.values(), key=lambda op: op.seq_no)
            entries = [(op, ops.encode(op), index_op(op)) for op in batch]
            here.apply_operations(entries)
            if any(op.op_type == ops.INDEX for op in batch):
                worker.apply_operations([(op, payload, None) for op, payload, _ in entries],
                                        prebuilt(batch, rng.randrange(1 << 30)))
            else:
                worker.apply_operations(entries)
            applied += batch
        assert store(worker) == store(here)
        for engine in (primary, here, worker):
            await engine.close()

    asyncio.run(run())


class RecordingSession:
    """An indexing session that notes what happens to it (no worker process)."""

    def __init__(self):
        self.parts, self.discarded = 0, False

    def send(self, plans, numbers, documents):
        self.parts += 1

    async def finish(self, plans, numbers, documents):
        raise AssertionError("a batch that failed to parse is not finished")

    def discard(self):
        self.discarded = True


def test_a_replica_batch_that_fails_to_parse_after_parts_went_to_the_worker_is_given_up(monkeypatch):
    session = RecordingSession()
    monkeypatch.setattr(replica, "POOL", SimpleNamespace(session=lambda: session))
    service = SimpleNamespace(indexer=INDEXER, name="logs", copy_limits=None)
    batch = [ops.Operation(ops.INDEX, n, 1, 1, f"d{n}", source=orjson.dumps({"n": "boom" if n == 300 else n}))
             for n in range(400)]
    with pytest.raises(StrataError):
        asyncio.run(replica.index_operations(None, service, [ops.encode(op) for op in batch]))
    assert session.parts == 1 and session.discarded  # or the worker keeps the part for ever


def test_a_replica_batch_whose_last_part_cannot_be_built_is_given_up_and_indexed_here(monkeypatch):
    session = RecordingSession()
    monkeypatch.setattr(replica, "POOL", SimpleNamespace(session=lambda: session))
    calls = []

    def plans(fields):
        calls.append(len(fields))
        if len(calls) > 1:
            raise RuntimeError("plans failed")
        return INDEXER.plans(fields)

    service = SimpleNamespace(indexer=_Indexer(plans), name="logs", copy_limits=None)
    batch = [ops.Operation(ops.INDEX, n, 1, 1, f"d{n}", source=orjson.dumps({"n": n})) for n in range(300)]
    payloads = [ops.encode(op) for op in batch]
    operations, prebuilt = asyncio.run(replica.index_operations(None, service, payloads))
    assert prebuilt is None and session.discarded
    assert all(indexed is not None for _, _, indexed in operations)  # indexed here instead


class _Indexer:
    """The index's indexer, with `plans` replaced."""

    def __init__(self, plans):
        self.mapping = MAPPING
        self.plans = plans

    def __call__(self, parsed):
        return INDEXER(parsed)
