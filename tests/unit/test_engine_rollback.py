"""Rolling a replica back to the global checkpoint: after undoing what a new primary does
not hold and taking the new primary's operations, the copy answers every read and every
search exactly as a copy that only ever received the new primary's history; and a restart
(translog replay) brings nothing undone back.

Seeded histories: an old primary's writes (index, update, delete over a few ids), a
global checkpoint among them, a new primary that received some of what lies above it,
filled its gaps with no-ops and wrote on in its own term, and a replica that received
another part of it, in any order and any batches."""

from __future__ import annotations

import asyncio
import os
import random
from types import SimpleNamespace

import orjson
import pytest

from strata_node.engine import operation as ops
from strata_node.engine import rollback
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer
from strata_node.index.mapping import Mapping
from strata_node.replication.replica import fill_seq_no_gaps

REF = ShardRef("logs", "uuid-1", 0)
SEEDS = int(os.environ.get("STRATA_ROLLBACK_SEEDS", "40"))
IDS = [f"d{n}" for n in range(12)]
WORDS = ["red", "green", "blue", "cart", "shoes", "lamp"]
MAPPING = Mapping.parse({"properties": {"t": {"type": "text"}, "k": {"type": "keyword"},
                                        "n": {"type": "long"}}})
INDEXER = DocumentIndexer(MAPPING, index_analyzers({}, "logs"))


def indexed(source: bytes):
    return INDEXER(MAPPING.parse_document(orjson.loads(source), "x"))


def index_op(op: ops.Operation):
    return indexed(op.source) if op.op_type == ops.INDEX else None


async def opened(path, term=1) -> Engine:
    engine = Engine(REF, path, term)
    engine.indexer = index_op
    await engine.open()
    return engine


def random_requests(rng: random.Random, count: int) -> list:
    out = []
    for _ in range(count):
        doc_id = rng.choice(IDS)
        if rng.random() < 0.2:
            out.append(DeleteOp(doc_id))
        else:
            source = orjson.dumps({"t": " ".join(rng.sample(WORDS, 2)), "k": rng.choice(WORDS),
                                   "n": rng.randrange(9)})
            out.append(IndexOp(doc_id, source, indexed=indexed(source)))
    return out


def write(engine: Engine, requests: list) -> list[ops.Operation]:
    written = []

    def on_item(i, outcome) -> None:
        if hasattr(outcome, "operation"):  # a delete of a missing document is written too; conflicts are not
            written.append(outcome.operation)
    engine.write(requests, on_item)
    return written


def apply_in_batches(rng: random.Random, engine: Engine, operations: list[ops.Operation]) -> None:
    operations = list(operations)
    rng.shuffle(operations)
    while operations:
        size = rng.randint(1, 6)
        chunk, operations = operations[:size], operations[size:]
        chunk.sort(key=lambda op: op.seq_no)  # as a primary's request (or a recovery's chunk) has them
        engine.apply_operations([(op, ops.encode(op), index_op(op)) for op in chunk])


def view(engine: Engine) -> dict:
    """What reads and searches see: documents, counts, postings, doc values, norms and
    field statistics."""
    engine.refresh()
    reader = engine.searcher()
    postings = {}
    for word in WORDS:
        postings[("t", word)] = sorted(reader.postings("t", word.encode()).seqs.tolist())
        postings[("k", word)] = sorted(reader.postings("k", word.encode()).seqs.tolist())
    columns = {}
    for kind, name in (("doc_values", "n"), ("doc_values", "k"), ("norms", "t")):
        column = getattr(reader, kind)(name)
        columns[(kind, name)] = sorted(zip(column.seqs.tolist(), column.values.tolist(), strict=True))
    docs = {}
    for doc_id in IDS:
        op = engine.get(doc_id)
        docs[doc_id] = None if op is None else (op.seq_no, op.primary_term, op.version, op.source)
    stats = {name: reader.field_stats(name) for name in ("t", "k", "n")}
    return {"docs": docs, "count": engine.doc_count, "searchable": engine.count(), "stats": stats,
            "match_all": sorted(reader.docs().tolist()), "postings": postings, "columns": columns,
            "checkpoint": (engine.tracker.checkpoint, engine.tracker.max_seq_no)}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_rolled_back_replica_answers_as_one_that_only_had_the_new_primarys_history(tmp_path, seed):
    async def go():
        rng = random.Random(seed)
        old_primary = await opened(tmp_path / "old")
        history = write(old_primary, random_requests(rng, rng.randint(10, 40)))
        global_checkpoint = rng.randint(-1, len(history) - 2)
        below = [op for op in history if op.seq_no <= global_checkpoint]
        above = [op for op in history if op.seq_no > global_checkpoint]

        # the new primary: what it got above the checkpoint, its gaps filled, then writes of its own
        new_primary = await opened(tmp_path / "new")
        apply_in_batches(rng, new_primary, below + [op for op in above if rng.random() < 0.5])
        new_primary.primary_term = 2
        fill_seq_no_gaps(SimpleNamespace(engine=new_primary))
        write(new_primary, random_requests(rng, rng.randint(0, 15)))
        new_history = [ops.decode(raw) for raw in new_primary.history(0, new_primary.tracker.max_seq_no)]
        keep = {(op.seq_no, op.primary_term) for op in new_history if op.seq_no > global_checkpoint}

        replica = await opened(tmp_path / "replica")
        apply_in_batches(rng, replica, below + [op for op in above if rng.random() < 0.6])
        await rollback.roll_back(replica, global_checkpoint, keep, limit=1000)
        apply_in_batches(rng, replica, [op for op in new_history if op.seq_no > global_checkpoint])

        reference = await opened(tmp_path / "reference")
        apply_in_batches(rng, reference, new_history)
        expected = view(reference)
        assert view(replica) == expected

        await replica.close(flush=False)  # the translog still holds what was undone
        reopened = await opened(tmp_path / "replica")
        assert view(reopened) == expected
        for engine in (old_primary, new_primary, reopened, reference):
            await engine.close()

    asyncio.run(go())


def new_primary_of(rng: random.Random, engine: Engine, term: int, received: list[ops.Operation]) -> None:
    """A copy promoted in `term` that had received `received`: gaps filled, then writes."""
    apply_in_batches(rng, engine, received)
    engine.primary_term = term
    fill_seq_no_gaps(SimpleNamespace(engine=engine))
    write(engine, random_requests(rng, rng.randint(0, 12)))


def history_of(engine: Engine) -> list[ops.Operation]:
    return [ops.decode(raw) for raw in engine.history(0, engine.tracker.max_seq_no)]


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_replica_rolled_back_twice_over_two_failovers_answers_as_the_last_primarys_copy(tmp_path, seed):
    async def go():
        rng = random.Random(seed)
        first = await opened(tmp_path / "first")
        h1 = write(first, random_requests(rng, rng.randint(10, 30)))
        g1 = rng.randint(-1, len(h1) - 2)
        second = await opened(tmp_path / "second")  # promoted in term 2
        new_primary_of(rng, second, 2, [op for op in h1 if op.seq_no <= g1 or rng.random() < 0.5])
        h2 = history_of(second)
        replica = await opened(tmp_path / "replica")
        apply_in_batches(rng, replica, [op for op in h1 if op.seq_no <= g1 or rng.random() < 0.6])
        await rollback.roll_back(replica, g1, {(op.seq_no, op.primary_term) for op in h2 if op.seq_no > g1},
                                 limit=1000)
        # term 2 goes on: everything up to g2 reached every copy, some of the rest this one
        g2 = rng.randint(g1, h2[-1].seq_no) if h2 else g1
        reached = [op for op in h2 if op.seq_no > g1 and (op.seq_no <= g2 or rng.random() < 0.6)]
        apply_in_batches(rng, replica, reached)
        third = await opened(tmp_path / "third")  # promoted in term 3
        new_primary_of(rng, third, 3, [op for op in h2 if op.seq_no <= g2 or rng.random() < 0.5])
        h3 = history_of(third)
        await rollback.roll_back(replica, g2, {(op.seq_no, op.primary_term) for op in h3 if op.seq_no > g2},
                                 limit=1000)
        apply_in_batches(rng, replica, [op for op in h3 if op.seq_no > g2])
        reference = await opened(tmp_path / "reference")
        apply_in_batches(rng, reference, h3)
        expected = view(reference)
        assert view(replica) == expected
        await replica.close(flush=False)
        reopened = await opened(tmp_path / "replica")
        assert view(reopened) == expected
        for engine in (first, second, third, reopened, reference):
            await engine.close()

    asyncio.run(go())


def test_nothing_to_undo_changes_nothing(tmp_path):
    async def go():
        engine = await opened(tmp_path / "e")
        history = write(engine, random_requests(random.Random(3), 10))
        before = view(engine)
        keep = {(op.seq_no, op.primary_term) for op in history}
        assert await rollback.roll_back(engine, 4, keep, limit=1000) == 0
        assert view(engine) == before
        await engine.close()

    asyncio.run(go())


def test_a_store_without_records_of_what_operations_replaced_refuses(tmp_path):
    async def go():
        engine = await opened(tmp_path / "e")
        write(engine, random_requests(random.Random(4), 10))
        from strata_node.engine.engine import PRIOR_SINCE_KEY, SEQ
        engine.db.put(PRIOR_SINCE_KEY, SEQ.pack(8))  # as a store from before r records writes it
        with pytest.raises(rollback.RollbackRefused):
            await rollback.roll_back(engine, 4, set(), limit=1000)
        with pytest.raises(rollback.RollbackRefused):
            await rollback.roll_back(engine, 8, set(), limit=0)  # more than the limit
        await engine.close()

    asyncio.run(go())


def test_a_batch_starting_with_an_undone_operation_and_holding_older_ones_refuses(tmp_path):
    async def go():
        primary = await opened(tmp_path / "p")
        history = write(primary, random_requests(random.Random(5), 6))
        replica = await opened(tmp_path / "r")
        replica.apply_operations([(op, ops.encode(op), index_op(op)) for op in history[:3]])
        # one batch out of order: its first document is above the checkpoint (3), the next below
        late = [history[5], history[3], history[4]]
        replica.apply_operations([(op, ops.encode(op), index_op(op)) for op in late])
        before = view(replica)
        keep = {(op.seq_no, op.primary_term) for op in history[4:5]}
        with pytest.raises(rollback.RollbackRefused):
            await rollback.roll_back(replica, 3, keep, limit=1000)
        assert view(replica) == before
        await primary.close()
        await replica.close()

    asyncio.run(go())


def test_a_search_under_way_across_a_rollback_neither_reads_nor_refills_the_block_cache(tmp_path):
    async def go():
        primary = await opened(tmp_path / "p")
        red = [orjson.dumps({"t": "red lamp", "k": "red", "n": n}) for n in range(2)]
        history = write(primary, [IndexOp(f"d{n}", red[n], indexed=indexed(red[n])) for n in range(2)])
        replica = await opened(tmp_path / "r")
        replica.apply_operations([(op, ops.encode(op), index_op(op)) for op in history])  # one batch
        replica.refresh()
        before = replica.searcher()  # a search under way on a search thread
        assert before.postings("k", b"red").seqs.tolist() == [0, 1]
        await rollback.roll_back(replica, 0, set(), limit=1000)  # the new primary holds seq 0 only
        assert before.postings("k", b"red").seqs.tolist() == [0, 1]  # its snapshot, read afresh
        green = orjson.dumps({"t": "green cart", "k": "green", "n": 3})
        reused = ops.Operation(ops.INDEX, 1, 2, 1, "d2", green)  # the new primary's seq_no 1
        replica.apply_operations([(reused, ops.encode(reused), index_op(reused))])
        replica.refresh()
        assert replica.searcher().postings("k", b"red").seqs.tolist() == [0]
        assert replica.searcher().postings("k", b"green").seqs.tolist() == [1]
        await replica.close()
        await primary.close()

    asyncio.run(go())


def test_a_store_from_before_r_records_refuses_to_roll_back_what_it_applied_before_the_upgrade(tmp_path):
    async def go():
        from strata_node.engine import index_structures as ix
        from strata_node.engine.engine import PRIOR, PRIOR_SINCE_KEY

        engine = await opened(tmp_path / "r")
        write(engine, random_requests(random.Random(6), 3))
        await engine.flush()
        write(engine, random_requests(random.Random(7), 3))  # after the last commit
        for key, _ in list(engine.db.iterator(prefix=PRIOR)):  # as the release before wrote it
            engine.db.delete(key)
        for key, _ in list(engine.db.iterator(prefix=ix.DEAD)):
            engine.db.put(key, b"")
        engine.db.delete(PRIOR_SINCE_KEY)
        await engine.close(flush=False)
        upgraded = await opened(tmp_path / "r")
        with pytest.raises(rollback.RollbackRefused):
            await rollback.roll_back(upgraded, 3, set(), limit=1000)
        await upgraded.close()

    asyncio.run(go())


def test_an_undone_operation_that_comes_again_survives_a_restart_that_lost_the_stores_unsynced_writes(
        tmp_path):
    import shutil

    async def go():
        primary = await opened(tmp_path / "p")
        history = write(primary, random_requests(random.Random(8), 2))
        replica = await opened(tmp_path / "r")
        replica.apply_operations([(op, ops.encode(op), index_op(op)) for op in history])
        await replica.sync_translog()
        assert await rollback.roll_back(replica, 0, set(), limit=1000) == 1  # one primary lacked seq 1
        await replica.close(flush=False)
        shutil.copytree(tmp_path / "r" / "index", tmp_path / "synced")  # the store as far as it was synced
        replica = await opened(tmp_path / "r")
        # a later primary held seq 1 after all and resyncs it; the translog is synced, the store not
        replica.apply_operations([(history[1], ops.encode(history[1]), index_op(history[1]))])
        await replica.sync_translog()
        expected = view(replica)
        await replica.close(flush=False)
        shutil.rmtree(tmp_path / "r" / "index")
        shutil.copytree(tmp_path / "synced", tmp_path / "r" / "index")  # power lost
        replica = await opened(tmp_path / "r")
        assert view(replica) == expected
        await replica.close()
        await primary.close()

    asyncio.run(go())


def test_undoing_leaves_the_structures_a_document_was_indexed_with_when_the_mapping_grew_since(tmp_path):
    async def go():
        def indexer_for(mapping):
            indexer = DocumentIndexer(mapping, index_analyzers({}, "logs"))
            return lambda op: indexer(mapping.parse_document(orjson.loads(op.source), op.id)) \
                if op.op_type == ops.INDEX else None

        engine = Engine(REF, tmp_path / "r", 1)
        engine.indexer = indexer_for(Mapping.parse({"dynamic": False, "properties": {"t": {"type": "text"}}}))
        await engine.open()

        def op(seq_no, doc_id):
            return ops.Operation(ops.INDEX, seq_no, 1, 1, doc_id, orjson.dumps({"t": "red", "k": "a"}))
        engine.apply_operations([(op(0, "d0"), ops.encode(op(0, "d0")), None)])
        engine.apply_operations([(op(1, "d1"), ops.encode(op(1, "d1")), None)])  # no k: not mapped yet
        engine.indexer = indexer_for(Mapping.parse(  # k mapped since (PUT _mapping)
            {"dynamic": False, "properties": {"t": {"type": "text"}, "k": {"type": "keyword"}}}))
        engine.apply_operations([(op(2, "d2"), ops.encode(op(2, "d2")), None)])
        engine.refresh()
        before = engine.searcher().field_stats("k")
        await rollback.roll_back(engine, 0, {(2, 1)}, limit=1000)  # seq_no 1 undone
        assert engine.searcher().field_stats("k") == before == (1, 1)
        assert engine.searcher().postings("k", b"a").seqs.tolist() == [2]
        await engine.close()

    asyncio.run(go())


@pytest.mark.parametrize("third_holds_the_no_op", [True, False])
def test_a_kept_version_is_relinked_past_an_undone_one_below_it(tmp_path, third_holds_the_no_op):
    async def go():
        # one document written at 0, 1 and 2 in term 1, global checkpoint 0
        first = await opened(tmp_path / "first")
        sources = [orjson.dumps({"t": "red lamp", "k": "red", "n": n}) for n in range(3)]
        h1 = [op for n in range(3)
              for op in write(first, [IndexOp("d0", sources[n], indexed=indexed(sources[n]))])]
        second = await opened(tmp_path / "second")  # got 0 and 2: a no-op of term 2 at 1
        new_primary_of(random.Random(0), second, 2, [h1[0], h1[2]])
        no_op = ops.decode(second.history(1, 1)[0])
        replica = await opened(tmp_path / "replica")
        replica.apply_operations([(op, ops.encode(op), index_op(op)) for op in h1])
        assert await rollback.roll_back(replica, 0, {(1, 2), (2, 1)}, limit=1000) == 1  # 1 goes, 2 stays
        replica.apply_operations([(no_op, ops.encode(no_op), None)])
        # the second dies; the third holds 0 (and maybe the no-op), not 2
        h3 = [h1[0], *([no_op] if third_holds_the_no_op else [])]
        undone = await rollback.roll_back(replica, 0, {(op.seq_no, op.primary_term) for op in h3[1:]},
                                          limit=1000)
        assert undone == (1 if third_holds_the_no_op else 2)
        reference = await opened(tmp_path / "reference")
        reference.apply_operations([(op, ops.encode(op), index_op(op)) for op in h3])
        assert view(replica) == view(reference)
        assert replica.get("d0").seq_no == 0
        for engine in (first, second, replica, reference):
            await engine.close()

    asyncio.run(go())


def test_a_refresh_while_a_rollback_writes_keeps_the_snapshot_the_block_cache_was_filled_from(tmp_path,
                                                                                         monkeypatch):
    """The periodic refresh may run while the rollback's batch is on its thread: a
    snapshot holding the rollback's keys, read through the cache filled before it, would
    find postings of documents whose history is gone."""
    import threading

    from strata_node.engine.index_structures import IndexedDocument

    def tagged(_op):
        return IndexedDocument(terms={"tag": (["x"], None)})

    def op(seq):
        o = ops.Operation(ops.INDEX, seq, 1, 1, f"d{seq}", b"{}")
        return (o, ops.encode(o), None)

    written = threading.Event()
    refreshed = threading.Event()  # the write's thread is held until the refresh is done
    real_write = rollback.write

    def write_then_linger(engine, planned):
        real_write(engine, planned)
        written.set()
        refreshed.wait(10)

    monkeypatch.setattr(rollback, "write", write_then_linger)

    async def go():
        e = Engine(REF, tmp_path, 1)
        e.indexer = tagged  # what the rollback re-indexes its batches' kept documents with
        await e.open()
        e.apply_operations([op(s) for s in range(4)])
        e.refresh()
        assert e.searcher().postings("tag", b"x").seqs.tolist() == [0, 1, 2, 3]  # cached
        rolling = asyncio.ensure_future(rollback.roll_back(e, 1, set(), 100))
        while not written.is_set():
            await asyncio.sleep(0.01)
        e.refresh()
        reader = e.searcher()
        seqs = reader.postings("tag", b"x").seqs.tolist()
        refreshed.set()
        assert all(reader.snapshot.get(b"h" + s.to_bytes(8, "big")) is not None for s in seqs)
        assert await rolling == 2
        assert e.searcher().postings("tag", b"x").seqs.tolist() == [0, 1]
        await e.close()

    asyncio.run(go())
