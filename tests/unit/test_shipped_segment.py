"""A replica applies the segment the primary's write built (ReplicaRequest.segment) and
ends up with the primary's search structures key for key: also when items of the batch
failed, and when some of its operations were already applied (a recovery's replay
overlapping the writes), where it answers searches as a copy that indexed them itself."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import orjson
import pytest

from strata_node.action import bulk
from strata_node.action.bulk import _covering, _shipped
from strata_node.common.errors import IllegalState
from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp
from strata_node.engine.index_structures import decode_segment
from strata_node.index.indexing import encode_documents, index_part
from strata_node.replication import replica
from tests.unit.test_engine_rollback import IDS, INDEXER, MAPPING, WORDS, index_op, opened, view
from tests.unit.test_replica_prebuilt_segment import store


def requests(rng: random.Random, count: int) -> list:
    """Index, create (fails when the document exists) and delete requests."""
    out = []
    for _ in range(count):
        doc_id = rng.choice(IDS)
        roll = rng.random()
        if roll < 0.15:
            out.append(DeleteOp(doc_id))
            continue
        source = orjson.dumps({"t": " ".join(rng.sample(WORDS, 2)), "k": rng.choice(WORDS),
                               "n": rng.randrange(9)})
        out.append(IndexOp(doc_id, source, create=roll < 0.35))
    return out


def primary_write(engine: Engine, batch: list, batch_id: int):
    """The bulk path: the worker builds the segment numbered by place, the engine writes
    it; returns the operations written and the segment as the replicas get it."""
    entries = [(k, req, None, MAPPING.parse_document(orjson.loads(req.source), req.id)
                if isinstance(req, IndexOp) else None) for k, req in enumerate(batch)]
    numbered = [(k, parsed) for k, *_, parsed in entries if parsed is not None]
    fields = [parsed.fields for _, parsed in numbered]
    raw = index_part(batch_id, INDEXER.plans(fields), [k for k, _ in numbered], encode_documents(fields),
                     True)
    segment = decode_segment(raw)
    written: list[ops.Operation] = []
    seq_of: list[int | None] = [None] * len(batch)

    def on_item(k, outcome) -> None:
        if hasattr(outcome, "operation"):
            written.append(outcome.operation)
            seq_of[k] = outcome.operation.seq_no

    engine.write(batch, on_item, segment)
    return written, _shipped(segment, entries, seq_of)


def request_of(written: list[ops.Operation], segment) -> replica.ReplicaRequest:
    return replica.ReplicaRequest(index="logs", index_uuid="uuid-1", shard=0, primary_term=1,
                                  global_checkpoint=-1, operations=[ops.encode(op) for op in written],
                                  segment=_covering([segment], written))


@pytest.mark.parametrize("seed", range(20))
def test_a_replica_applying_the_shipped_segment_holds_the_primarys_search_structures(tmp_path, seed):
    rng = random.Random(seed)

    async def run() -> None:
        primary, copy = await opened(tmp_path / "p"), await opened(tmp_path / "r")
        for batch_id in range(rng.randint(2, 6)):
            written, segment = primary_write(primary, requests(rng, rng.randint(1, 15)), batch_id)
            request = request_of(written, segment)
            applied, prebuilt = replica.shipped_operations(request)
            if any(op.op_type == ops.INDEX for op in written):
                assert prebuilt is not None  # shipped, so the copy indexes nothing itself
            else:
                applied = [(op, ops.encode(op), None) for op in written]
            copy.apply_operations(applied, prebuilt)
        assert store(copy) == store(primary)
        assert view(copy) == view(primary)
        await primary.close()
        await copy.close()

    asyncio.run(run())


@pytest.mark.parametrize("seed", range(20))
def test_a_replayed_overlap_leaves_a_copy_as_one_that_indexed_the_operations_itself(tmp_path, seed):
    rng = random.Random(seed)

    async def run() -> None:
        primary = await opened(tmp_path / "p")
        shipped, here = await opened(tmp_path / "a"), await opened(tmp_path / "b")
        applied_so_far: list[ops.Operation] = []
        for batch_id in range(rng.randint(2, 6)):
            written, segment = primary_write(primary, requests(rng, rng.randint(1, 15)), batch_id)
            if applied_so_far and rng.random() < 0.5:  # some already here: a recovery got there first
                early = [op for op in written if rng.random() < 0.4]
                for engine in (shipped, here):
                    engine.apply_operations([(op, ops.encode(op), index_op(op)) for op in early])
            applied, prebuilt = replica.shipped_operations(request_of(written, segment))
            if prebuilt is None:
                applied = [(op, ops.encode(op), index_op(op)) for op in written]
            shipped.apply_operations(applied, prebuilt)
            here.apply_operations([(op, ops.encode(op), index_op(op)) for op in written])
            applied_so_far += written
        assert view(shipped) == view(here) == view(primary)
        for engine in (primary, shipped, here):
            await engine.close()

    asyncio.run(run())


def test_a_segment_that_does_not_cover_the_index_operations_is_not_used(tmp_path):
    async def run() -> None:
        primary = await opened(tmp_path / "p")
        written, segment = primary_write(primary, [IndexOp("d1", b'{"t":"red lamp"}'),
                                                   IndexOp("d2", b'{"t":"blue"}')], 1)
        request = request_of(written, segment)
        fewer = replica.ReplicaRequest(**{f: getattr(request, f) for f in request.__struct_fields__
                                          if f != "operations"}, operations=request.operations[:1])
        assert replica.shipped_operations(fewer) == ([], None)
        assert replica.shipped_operations(request)[1] is segment
        await primary.close()

    asyncio.run(run())


def test_a_request_that_wrote_several_batches_ships_no_segment(tmp_path):
    async def run() -> None:
        primary = await opened(tmp_path / "p")
        first, a = primary_write(primary, [IndexOp("d1", b'{"t":"red"}')], 1)
        second, b = primary_write(primary, [IndexOp("d2", b'{"t":"blue"}')], 2)
        assert _covering([a, b], first + second) is None
        assert _covering([a], first + second) is None  # d2 indexed without it
        assert _covering([a], first) is a
        await primary.close()

    asyncio.run(run())


def test_a_request_with_too_much_source_ships_no_segment(tmp_path, monkeypatch):
    async def run() -> None:
        primary = await opened(tmp_path / "p")
        written, segment = primary_write(primary, [IndexOp("d1", b'{"t":"red lamp"}'),
                                                   IndexOp("d2", b'{"t":"blue"}')], 1)
        assert _covering([segment], written) is segment
        monkeypatch.setattr(bulk, "MAX_SHIPPED_SOURCE_BYTES", len(written[0].source))
        assert _covering([segment], written) is None  # the replica request could pass the message limit
        await primary.close()

    asyncio.run(run())


def test_a_segment_names_only_fields_of_the_mapping(tmp_path):
    async def run() -> None:
        primary = await opened(tmp_path / "p")
        _, segment = primary_write(primary, [IndexOp("d1", b'{"t":"red lamp","k":"x","n":3}')], 1)
        assert replica.segment_fields(segment.segment) == {"t", "k", "n"} <= set(MAPPING.fields)
        await primary.close()

    asyncio.run(run())


class MappingArrives:
    """A node whose mapping gains fields with each cluster state it applies."""

    def __init__(self, states: list[set[str]]):
        self.states = states
        self.fields = states.pop(0)
        mapping = SimpleNamespace(field=lambda name: name if name in self.fields else None)
        self.service = SimpleNamespace(name="logs", indexer=SimpleNamespace(mapping=mapping))
        self.coordination = SimpleNamespace(wait_for_change=self.wait_for_change)
        self.waits = 0

    async def wait_for_change(self, timeout: float) -> None:
        self.waits += 1
        if self.states:
            self.fields = self.states.pop(0)
        else:
            await asyncio.sleep(timeout)


def test_a_copy_applies_a_shipped_segment_only_once_its_mapping_has_every_field():
    node = MappingArrives([{"t"}, {"t", "k"}, {"t", "k", "n"}])
    asyncio.run(replica.wait_for_fields(node, node.service, {"t", "k", "n"}))
    assert node.waits == 2


def test_a_mapping_that_never_arrives_fails_the_replica_request(monkeypatch):
    monkeypatch.setattr(replica, "MAPPING_WAIT_SECONDS", 0.05)
    node = MappingArrives([{"t"}])
    with pytest.raises(IllegalState, match=r"mapping for fields \['n'\] did not arrive"):
        asyncio.run(replica.wait_for_fields(node, node.service, {"t", "n"}))
