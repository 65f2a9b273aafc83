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
    """What reads and searches see: documents, counts, postings, doc values and norms."""
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
    return {"docs": docs, "count": engine.doc_count, "searchable": engine.count(),
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
