"""Seeded crash simulation of the shard engine.

A random history of writes, deletes, syncs, flushes and translog rolls runs against a real
engine; at random moments the shard's files are copied as they stand, which is what
kill -9 leaves (LevelDB and the translog hand every write to the OS at once). Each copy is
then opened as a recovering shard and must hold every write acknowledged before the copy,
with its sequence number and version, and a live count that matches its documents.
A failing seed is printed and replays exactly.
"""

import asyncio
import random
import shutil

import pytest

from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import IndexedDocument

REF = ShardRef("sim", "uuid-sim", 0)
SEEDS = range(40)


def _files(folder) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def snapshot(live, copy, acked):
    """Copy the shard's files as they stand. LevelDB's compactions run in their own
    threads: a copy during which a file appeared or vanished mixes two moments, which
    no kill -9 can leave behind, so it is taken again."""
    for _ in range(50):
        before = _files(live)
        try:
            shutil.copytree(live, copy)
        except (shutil.Error, FileNotFoundError):
            pass
        else:
            if _files(live) == before:
                return copy, dict(acked)
        shutil.rmtree(copy, ignore_errors=True)
    raise AssertionError("the shard's files never held still long enough to copy")


def indexed(source: bytes) -> IndexedDocument:
    """Each document's postings: its own id term, so recovery can be checked per document."""
    return IndexedDocument(terms={"id": ([source], None)})


def indexer(op):
    return indexed(op.source)


async def simulate(seed: int, root) -> None:
    rng = random.Random(seed)
    live = root / "live"
    engine = Engine(REF, live, primary_term=1)
    engine.indexer = indexer
    await engine.open()
    acked: dict[str, tuple[int, int] | None] = {}  # id -> (seq_no, version), None if deleted
    crashes = []
    for step in range(rng.randint(20, 60)):
        batch = []
        for _ in range(rng.randint(1, 8)):
            doc_id = str(rng.randrange(30))
            if rng.random() < 0.2:
                batch.append(DeleteOp(doc_id))
            else:
                batch.append(IndexOp(doc_id, doc_id.encode(), indexed=indexed(doc_id.encode())))
        outcomes = []
        engine.write(batch, lambda i, o, out=outcomes: out.append(o))
        await engine.sync_translog()  # durability=request: acknowledged from here on
        for outcome in outcomes:
            op = outcome.operation
            acked[op.id] = None if op.is_delete else (op.seq_no, op.version)
        roll = rng.random()
        work = engine.flush() if roll < 0.15 else engine.translog.roll_generation() if roll < 0.25 else None
        if work is not None:
            # Copy while the flush or roll is under way: after a random number of turns of
            # the loop it may be between any two of its steps (or its executor work).
            task = asyncio.ensure_future(work)
            for _ in range(rng.randrange(4)):
                await asyncio.sleep(0)
            if rng.random() < 0.5:
                crashes.append(snapshot(live, root / f"mid-{step}", acked))
            await task
        if rng.random() < 0.3:
            crashes.append(snapshot(live, root / f"crash-{step}", acked))
    await engine.close()
    for copy, expected in crashes:
        recovered = Engine(REF, copy, primary_term=2)
        recovered.indexer = indexer
        await recovered.open()
        recovered.refresh()
        reader = recovered.searcher()
        for doc_id, state in expected.items():
            got = recovered.get(doc_id)
            if state is None:
                assert got is None, (seed, copy.name, doc_id)
                assert reader.postings("id", doc_id.encode()).seqs.tolist() == [], (seed, copy.name, doc_id)
            else:
                assert got is not None, (seed, copy.name, doc_id)
                assert (got.seq_no, got.version) == state, (seed, copy.name, doc_id)
                live = reader.postings("id", doc_id.encode()).seqs.tolist()
                assert live == [state[0]], (seed, copy.name, doc_id, live)
        assert recovered.count() == sum(1 for s in expected.values() if s is not None), (seed, copy.name)
        assert len(reader.docs()) == recovered.count(), (seed, copy.name)
        assert recovered.tracker.checkpoint == recovered.tracker.max_seq_no
        await recovered.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_recovery_from_any_crash_point_keeps_every_acknowledged_write(seed, tmp_path):
    asyncio.run(simulate(seed, tmp_path))
