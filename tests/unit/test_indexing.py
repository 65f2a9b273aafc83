"""Documents written through the bulk path leave search structures built from their
mapping and analyzers, and byte order of encoded values is value order."""

import asyncio
import random

from strata_node.action.bulk import BulkAction, BulkItem, WriteOptions
from strata_node.index.indexing import sortable_double, sortable_ip, sortable_long
from strata_node.index.service import IndicesService


def test_long_terms_sort_as_their_values():
    values = [-(1 << 63), -5, -1, 0, 1, 7, (1 << 63) - 1]
    assert sorted(values, key=sortable_long) == values


def test_double_terms_sort_as_their_values():
    rng = random.Random(3)
    values = sorted([rng.uniform(-1e9, 1e9) for _ in range(200)] + [-1e308, -0.5, 0.0, 0.25, 1e308])
    assert sorted(values, key=sortable_double) == values


def test_ip_terms_sort_ipv4_inside_ipv6_order():
    ips = ["::1", "10.0.0.1", "10.0.0.2", "192.168.1.1", "2001:db8::1"]
    assert sorted(ips, key=sortable_ip) == ["::1", "10.0.0.1", "10.0.0.2", "192.168.1.1", "2001:db8::1"]


def bulk(indices, *docs: bytes, index="logs"):
    items = [BulkItem("index", index, str(i), source=d) for i, d in enumerate(docs)]
    return BulkAction(indices).execute(items, WriteOptions(refresh="true"))


def test_bulk_documents_are_indexed_with_their_dynamic_mapping(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        work = bulk(indices, b'{"message": "The Quick fox", "status": 200, "ok": true}',
                       b'{"message": "lazy DOG and fox", "status": 404, "ok": false}')
        responses = await work
        assert all(r.error is None for r in responses)
        reader = indices.get("logs").shard(0).engine.searcher()
        assert reader.postings("message", b"fox").seqs.tolist() == [0, 1]
        assert reader.postings("message", b"quick", positions=True).positions == [[1]]  # lowercased
        assert reader.postings("message.keyword", b"lazy DOG and fox").seqs.tolist() == [1]
        assert reader.postings("status", sortable_long(404)).seqs.tolist() == [1]
        assert reader.postings("ok", b"T").seqs.tolist() == [0]
        status = reader.doc_values("status")
        assert (status.seqs.tolist(), status.values.tolist()) == ([0, 1], [200, 404])
        assert reader.field_stats("message") == (2, 7)
        await indices.stop()

    asyncio.run(go())


def test_explicit_mapping_decides_what_is_indexed(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        await indices.create("typed", {"mappings": {"properties": {
            "code": {"type": "keyword", "index": False},
            "ts": {"type": "date"},
            "ip": {"type": "ip"},
            "body": {"type": "text", "analyzer": "whitespace"}}}})
        work = bulk(indices, b'{"code": "A1", "ts": "2026-11-21T10:00:00Z", "ip": "10.0.0.1", '
                                b'"body": "Keep Case"}', index="typed")
        assert all(r.error is None for r in await work)
        reader = indices.get("typed").shard(0).engine.searcher()
        assert list(reader.terms("code")) == []  # not indexed ...
        assert reader.doc_values("code").values.tolist() == ["A1"]  # ... but kept for aggregations
        assert list(reader.terms("ts")) == [sortable_long(1795255200000)]
        assert list(reader.terms("ip")) == [sortable_ip("10.0.0.1")]
        assert list(reader.terms("body")) == [b"Case", b"Keep"]  # whitespace: no lowercasing
        await indices.stop()

    asyncio.run(go())


def test_replayed_operations_are_indexed_with_the_published_mapping(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        work = bulk(indices, b'{"message": "kept in the translog"}')
        await work
        engine = indices.get("logs").shard(0).engine
        # Lose the store's copy of the batch, as a power loss would before LevelDB synced.
        for key in list(engine.db.iterator(include_value=False)):
            if key[:1] in (b"t", b"v", b"n", b"a", b"h", b"d", b"s"):
                engine.db.delete(key)
        await engine.close(flush=False)
        await indices.stop()  # the engine is closed already: nothing more is flushed
        indices = IndicesService(tmp_path)
        await indices.start()
        engine = indices.get("logs").shard(0).engine
        engine.refresh()
        assert engine.searcher().postings("message", b"translog").seqs.tolist() == [0]
        await indices.stop()

    asyncio.run(go())
