"""Documents written through the bulk path leave search structures built from their
mapping and analyzers, and byte order of encoded values is value order."""

import asyncio
import random

import orjson

from strata_node.action.bulk import BulkItem, WriteOptions
from strata_node.index.indexing import sortable_double, sortable_ip, sortable_long
from tests.support.local_master import local_bulk, open_indices


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


def test_ip_terms_of_dotted_quads_are_what_ipaddress_packs():
    import ipaddress

    rng = random.Random(5)
    quads = ["0.0.0.0", "255.255.255.255", "10.0.0.1"] + \
        [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(200)]
    for ip in quads:
        assert sortable_ip(ip) == ipaddress.ip_address(f"::ffff:{ip}").packed
    assert sortable_ip("::ffff:10.0.0.1") == sortable_ip("10.0.0.1")
    assert sortable_ip("2001:db8::1") == ipaddress.ip_address("2001:db8::1").packed


def bulk(indices, *docs: bytes, index="logs"):
    items = [BulkItem("index", index, str(i), source=d) for i, d in enumerate(docs)]
    return local_bulk(indices).execute(items, WriteOptions(refresh="true"))


def test_bulk_documents_are_indexed_with_their_dynamic_mapping(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
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
        indices = await open_indices(tmp_path)
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
        indices = await open_indices(tmp_path)
        work = bulk(indices, b'{"message": "kept in the translog"}')
        await work
        engine = indices.get("logs").shard(0).engine
        # Lose the store's copy of the batch, as a power loss would before LevelDB synced.
        for key in list(engine.db.iterator(include_value=False)):
            if key[:1] in (b"t", b"v", b"n", b"a", b"h", b"d", b"s"):
                engine.db.delete(key)
        await engine.close(flush=False)
        await indices.stop()  # the engine is closed already: nothing more is flushed
        indices = await open_indices(tmp_path)
        engine = indices.get("logs").shard(0).engine
        engine.refresh()
        assert engine.searcher().postings("message", b"translog").seqs.tolist() == [0]
        await indices.stop()

    asyncio.run(go())


TEXTS = ["The Quick fox", "GET /api/v1/users/96530 HTTP/1.1 200 \"Mozilla/5.0 (X11; Linux x86_64)\"",
         "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] x.y:z a'b 1,000.5; __init__ _", "", "  ---  ",
         "Grüße aus Köln", "我是中国人", "a" * 300 + " b", "x" * 10 + " " + "7.1" * 120]


def test_index_terms_are_the_analyzed_terms_as_utf8():
    from strata_node.index.analysis import index_analyzers

    analyzers = index_analyzers({"index.analysis.analyzer.stop_std.type": "standard",
                                 "index.analysis.analyzer.stop_std.stopwords": "_english_"}, "x")
    for analyzer in (analyzers.default, analyzers.analyzer("stop_std"), analyzers.analyzer("whitespace")):
        for text in TEXTS:
            tokens = analyzer.analyze(text)
            terms, positions = analyzer.index_terms([text])
            assert terms == [t.encode() for t in tokens.terms], (analyzer.name, text)
            assert (positions or list(range(len(terms)))) == tokens.position_list()
        several = analyzer.analyze_values(TEXTS[:3])
        assert analyzer.index_terms(TEXTS[:3]) == ([t.encode() for t in several.terms], several.positions)


LOGS = [b'{"message": "GET /cart HTTP/1.1 200", "status": 200, "host": "web-1", "ok": true, '
        b'"took": 1.5, "at": "2026-11-21T10:00:00Z", "ip": "10.0.0.%d", "tags": ["a", "b", "a"]}' % i
        for i in range(80)]


def test_a_batch_indexed_by_the_worker_function_matches_the_indexer(tmp_path):
    from strata_node.engine.index_structures import SegmentWriter, decode_segment
    from strata_node.index.analysis import index_analyzers
    from strata_node.index.indexing import DocumentIndexer, encode_documents, index_part
    from strata_node.index.mapping import Mapping

    mapping = Mapping.empty()
    docs = [orjson.loads(d) for d in LOGS]
    mapping = mapping.merge(mapping.parse_document(docs[0], "0").dynamic_update)
    indexer = DocumentIndexer(mapping, index_analyzers({}, "logs"))
    fields = [mapping.parse_document(d, str(i)).fields for i, d in enumerate(docs)]
    writer = SegmentWriter()
    for i, d in enumerate(docs):
        writer.add_local(2 * i, indexer(mapping.parse_document(d, str(i))))
    numbers = [2 * i for i in range(len(fields))]
    plans = indexer.plans(fields)
    assert index_part(7, plans, numbers[:30], encode_documents(fields[:30]), False) is None
    last = index_part(7, plans, numbers[30:], encode_documents(fields[30:]), True)
    assert decode_segment(last) == writer.encode()


def test_a_part_indexed_column_by_column_matches_indexing_document_by_document():
    """Every kind of field plan, fields missing from some documents or first seen late,
    in varying order, multi-valued text with its position gaps and stop words dropped."""
    from strata_node.engine.index_structures import SegmentWriter, decode_segment
    from strata_node.index.analysis import index_analyzers
    from strata_node.index.indexing import DocumentIndexer, encode_documents, index_part
    from strata_node.index.mapping import Mapping
    from strata_node.index.service import analysis_names

    settings = {"index.analysis.analyzer.stops.type": "standard",
                "index.analysis.analyzer.stops.stopwords": "_english_",
                "index.analysis.normalizer.lower.type": "custom",
                "index.analysis.normalizer.lower.filter": ["lowercase"]}
    mapping = Mapping.parse({"properties": {
        "body": {"type": "text", "analyzer": "stops"},
        "plain": {"type": "text"},
        "hidden": {"type": "text", "index": False},
        "tag": {"type": "keyword", "normalizer": "lower"},
        "code": {"type": "keyword", "index": False},
        "raw": {"type": "keyword", "doc_values": False},
        "big": {"type": "unsigned_long"},
        "n": {"type": "integer", "doc_values": False},
        "f": {"type": "double"},
        "ip": {"type": "ip"},
        "ok": {"type": "boolean"}}}, analysis=analysis_names(settings, "mixed"))
    rng = random.Random(11)
    words = ["the", "Quick", "fox", "and", "a", "lazy", "dog", "of", "it"]
    documents = []
    for i in range(120):
        body = [" ".join(rng.choices(words, k=rng.randrange(1, 6))) for _ in range(rng.randrange(1, 3))]
        doc = {"body": body,
               "plain": f"GET /cart/{rng.randrange(5)} HTTP/1.1",
               "hidden": "not indexed",
               "tag": rng.choice(["Web", "WEB", "db", ["db", "DB", "web"]]),
               "code": f"c{i % 3}",
               "raw": ["r1", "r2", "r1"] if i % 4 == 0 else f"r{i % 7}",
               "big": 18446744073709551615 - i,
               "n": [i, i, -i] if i % 5 == 0 else i,
               "f": i / 7,
               "ip": f"10.0.0.{i % 9}" if i % 2 else f"2001:db8::{i:x}",
               "ok": bool(i % 2)}
        kept = [k for k in doc if rng.random() < 0.7 or i > 60]  # some fields first seen late
        rng.shuffle(kept)
        documents.append({k: doc[k] for k in kept})
    indexer = DocumentIndexer(mapping, index_analyzers(settings, "mixed"))
    fields = [mapping.parse_document(d, str(i)).fields for i, d in enumerate(documents)]
    writer = SegmentWriter()
    for i, d in enumerate(documents):
        writer.add_local(3 * i + 1, indexer(mapping.parse_document(d, str(i))))
    numbers = [3 * i + 1 for i in range(len(fields))]
    plans = indexer.plans(fields)
    assert index_part(9, plans, numbers[:50], encode_documents(fields[:50]), False) is None
    segment = decode_segment(index_part(9, plans, numbers[50:], encode_documents(fields[50:]), True))
    assert segment == writer.encode()
    assert {name for name, *_ in segment.postings} >= {"body", "tag", "raw", "big", "n", "f", "ip", "ok"}


def bulk_many(indices, items):
    return local_bulk(indices).execute(items, WriteOptions(refresh="true"))


def structures(engine) -> dict[bytes, bytes]:
    return {k: v for k, v in engine.db.iterator() if k[:1] in b"tvnas"}


def mixed_items() -> list[BulkItem]:
    """More documents than a part, with a delete and a failing create among them (the
    segment then skips a place in the batch)."""
    items = [BulkItem("index", "logs", f"d{i}", source=LOGS[i % len(LOGS)]) for i in range(600)]
    items[300] = BulkItem("delete", "logs", "d5")
    items[301] = BulkItem("create", "logs", "d6", source=LOGS[0])  # exists: a version conflict
    return items


def test_bulk_requests_indexed_in_the_worker_or_in_process_write_the_same_structures(tmp_path, monkeypatch):
    from strata_node.index import indexing_pool

    assert len(LOGS) >= indexing_pool.MIN_WORKER_BATCH
    assert len(mixed_items()) > 2 * indexing_pool.PART_SIZE

    async def go(path, use_worker):
        indices = await open_indices(path)
        parts = []
        real_send, real_finish = indexing_pool.IndexingSession.send, indexing_pool.IndexingSession.finish

        def send(self, plans, numbers, documents):
            if not use_worker:
                raise RuntimeError("worker gone")
            parts.append(len(numbers))
            real_send(self, plans, numbers, documents)

        async def finish(self, plans, numbers, documents):
            if not use_worker:
                raise RuntimeError("worker gone")
            parts.append(len(numbers))
            return await real_finish(self, plans, numbers, documents)
        monkeypatch.setattr(indexing_pool.IndexingSession, "send", send)
        monkeypatch.setattr(indexing_pool.IndexingSession, "finish", finish)
        responses = await bulk_many(indices, [BulkItem("index", "logs", None, source=d) for d in LOGS])
        assert all(r.error is None for r in responses)
        assert parts == ([len(LOGS)] if use_worker else [])  # fewer than a part: sent at once
        responses = await bulk_many(indices, [BulkItem("index", "logs", None, source=d) for d in LOGS[:5]])
        assert all(r.error is None for r in responses)  # small: in-process either way
        responses = await bulk_many(indices, mixed_items())
        assert [r.status for r in responses[300:302]] == [200, 409]
        assert all(r.error is None for k, r in enumerate(responses) if k != 301)
        if use_worker:
            assert parts == [len(LOGS), 250, 249, 100]  # in parts as parsed (a delete has no document)
        engine = indices.get("logs").shard(0).engine
        found = structures(engine)
        reader = engine.searcher()
        # 598 documents indexed by the mixed request, d5 deleted since; stats count dead versions
        assert len(reader.postings("message", b"cart").seqs) == 85 + 597
        assert reader.field_stats("tags.keyword") == (85 + 598, 2 * (85 + 598))
        assert reader.field_stats("message") == (85 + 598, 5 * (85 + 598))
        await indices.stop()
        monkeypatch.undo()
        return found

    in_worker = asyncio.run(go(tmp_path / "worker", True))
    in_process = asyncio.run(go(tmp_path / "here", False))
    assert in_worker == in_process


def test_a_dead_worker_leaves_the_indexing_to_the_event_loop(tmp_path, monkeypatch):
    import os
    import signal

    from strata_node.action import bulk as bulk_action
    from strata_node.index import indexing_pool

    pool = indexing_pool.IndexingPool(workers=1)
    monkeypatch.setattr(bulk_action, "POOL", pool)

    async def go():
        indices = await open_indices(tmp_path)
        try:
            # in the worker; then the worker is killed: in-process, and again while it is not retried
            for _ in range(3):
                responses = await bulk_many(indices, [BulkItem("index", "logs", None, source=d)
                                                      for d in LOGS])
                assert all(r.error is None for r in responses)
                executor = pool._lanes[0]
                if executor is not None:
                    for pid in list(executor._processes):
                        os.kill(pid, signal.SIGKILL)
            assert pool._lanes[0] is None and pool._retry_at > 0
            reader = indices.get("logs").shard(0).engine.searcher()
            assert len(reader.postings("message", b"cart").seqs) == 3 * len(LOGS)
            assert reader.field_stats("host.keyword") == (3 * len(LOGS), 3 * len(LOGS))
        finally:
            await indices.stop()
            pool.shutdown()

    asyncio.run(go())


def test_documents_with_nothing_to_index_are_not_sent_to_the_worker(tmp_path, monkeypatch):
    from strata_node.action import bulk as bulk_action
    from tests.support.local_master import create_local

    class NoWorker:
        def session(self):
            raise AssertionError("a batch with nothing to index went to the indexing worker")

    monkeypatch.setattr(bulk_action, "POOL", NoWorker())

    async def go():
        indices = await open_indices(tmp_path)
        try:
            await create_local(indices, "stored", {"mappings": {"dynamic": False}})
            many = [BulkItem("index", "stored", None, source=d) for d in LOGS * 8]  # several parts
            for items in (many, many[:100]):  # sent in parts, and at once
                responses = await bulk_many(indices, items)
                assert all(r.error is None for r in responses)
            engine = indices.get("stored").shard(0).engine
            assert engine.count() == len(many) + 100
            assert engine.searcher().field_stats("message") == (0, 0)
        finally:
            await indices.stop()

    asyncio.run(go())
