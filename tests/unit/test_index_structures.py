"""Search structures written with the documents: postings per term, live versions,
doc values, norms and field stats, and their recovery from the translog."""

import asyncio

from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import (
    IndexedDocument,
    SegmentWriter,
    _encode,
    decode_column,
    decode_docs,
    decode_postings,
    decode_segment,
    decode_stats,
    encode_segment,
    escape_term,
    unescape_term,
)

REF = ShardRef("docs", "uuid-docs", 0)


def run(coro):
    return asyncio.run(coro)


def doc(words: str, status: int) -> IndexedDocument:
    """A toy indexing of a `message` text field and a `status` number, as the mapping
    and a whitespace analyzer would produce them."""
    tokens = words.split()
    return IndexedDocument(terms={"message": (tokens, list(range(len(tokens)))),
                                  "status": ([str(status).encode()], None)},
                           lengths={"message": len(tokens)}, doc_values={"status": status})


def index(engine, id, words, status, **kwargs):
    engine.write([IndexOp(id, b"{}", indexed=doc(words, status), **kwargs)], lambda i, o: None)


async def opened(path, indexer=None):
    engine = Engine(REF, path, 1)
    engine.indexer = indexer
    await engine.open()
    return engine


def test_escaped_terms_keep_byte_order_and_never_prefix_each_other():
    terms = [b"a", b"a\x00", b"a\x00b", b"ab", b"b", b"\x00"]
    escaped = sorted(escape_term(t) for t in terms)
    assert [unescape_term(e) for e in escaped] == sorted(terms)
    assert not any(x != y and y.startswith(x) for x in escaped for y in escaped)


def test_postings_hold_positions_and_frequencies_after_a_refresh(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, "1", "quick brown fox quick", 200)
        index(e, "2", "lazy brown dog", 404)
        assert len(e.searcher().postings("message", b"brown").seqs) == 0  # not refreshed yet
        e.refresh()
        reader = e.searcher()
        quick = reader.postings("message", b"quick", positions=True)
        assert (quick.seqs.tolist(), quick.freqs.tolist(), quick.positions) == ([0], [2], [[0, 3]])
        assert reader.postings("message", b"brown").seqs.tolist() == [0, 1]
        assert reader.postings("status", b"404", positions=True).positions == [None]
        await e.close()

    run(go())


def test_one_batch_of_many_documents_writes_one_key_per_term(tmp_path):
    async def go():
        e = await opened(tmp_path)
        e.write([IndexOp(str(i), b"{}", indexed=doc("GET /index", 200)) for i in range(100)],
                lambda i, o: None)
        e.refresh()
        keys = [k for k in e.db.iterator(prefix=b"tmessage\x00", include_value=False)]
        assert len(keys) == 2  # "GET" and "/index", each one key for the whole batch
        assert len(e.searcher().postings("message", b"GET").seqs) == 100
        await e.close()

    run(go())


def test_updated_and_deleted_versions_leave_the_postings_but_count_in_doc_freq(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, "1", "old words", 200)
        index(e, "1", "new words", 200)
        index(e, "2", "gone words", 500)
        e.write([DeleteOp("2")], lambda i, o: None)
        e.refresh()
        reader = e.searcher()
        assert reader.postings("message", b"words").seqs.tolist() == [1]
        assert reader.postings("message", b"old").seqs.tolist() == []
        assert reader.doc_freq("message", b"words") == 3  # as Lucene, until a merge
        assert reader.dead.tolist() == [0, 2]
        assert reader.docs().tolist() == [1]
        status = reader.doc_values("status")
        assert (status.seqs.tolist(), status.values.tolist()) == ([1], [200])
        await e.close()

    run(go())


def test_field_stats_and_norms_feed_bm25(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, "1", "a b c", 200)
        index(e, "2", "a b", 200)
        e.refresh()
        reader = e.searcher()
        assert reader.field_stats("message") == (2, 5)
        norms = reader.norms("message")
        assert (norms.seqs.tolist(), norms.values.tolist()) == ([0, 1], [3, 2])
        await e.close()
        e = await opened(tmp_path)
        index(e, "3", "a", 200)  # stats continue from what was persisted
        e.refresh()
        assert e.searcher().field_stats("message") == (3, 6)
        await e.close()

    run(go())


def test_terms_walk_a_field_in_byte_order_within_a_range(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, "1", "delta alpha charlie", 200)
        index(e, "2", "bravo alpha echo", 200)
        e.refresh()
        reader = e.searcher()
        assert list(reader.terms("message")) == [b"alpha", b"bravo", b"charlie", b"delta", b"echo"]
        assert list(reader.terms("message", b"b", b"d")) == [b"bravo", b"charlie"]
        await e.close()

    run(go())


def test_replay_rebuilds_the_structures_the_store_lost_and_only_those(tmp_path):
    def indexer(op):
        return doc(op.source.decode(), 200)

    async def go():
        e = await opened(tmp_path, indexer)
        e.write([IndexOp("1", b"kept words", indexed=doc("kept words", 200))], lambda i, o: None)
        await e.flush(force=True)
        e.write([IndexOp("2", b"lost words", indexed=doc("lost words", 200))], lambda i, o: None)
        await e.sync_translog()
        # The store loses the second batch entirely (its LevelDB write never reached disk).
        lost = [k for k in e.db.iterator(include_value=False)
                if k == b"d2" or k == b"h" + (1).to_bytes(8, "big")
                or (k[:1] in (b"t", b"v", b"n", b"a") and k.endswith((1).to_bytes(8, "big")))]
        for k in lost:
            e.db.delete(k)
        await e.close(flush=False)
        e = await opened(tmp_path, indexer)
        e.refresh()
        reader = e.searcher()
        assert reader.postings("message", b"lost").seqs.tolist() == [1]
        assert reader.postings("message", b"words").seqs.tolist() == [0, 1]  # no duplicate of 0
        assert reader.docs().tolist() == [0, 1]
        assert e.get("2").source == b"lost words"
        await e.close()

    run(go())


def test_operations_the_store_kept_are_not_replayed_twice(tmp_path):
    calls = []

    def indexer(op):
        calls.append(op.seq_no)
        return doc(op.source.decode(), 200)

    async def go():
        e = await opened(tmp_path, indexer)
        e.write([IndexOp("1", b"a b", indexed=doc("a b", 200))], lambda i, o: None)
        await e.sync_translog()
        await e.close(flush=False)  # the translog still holds the operation above the commit
        e = await opened(tmp_path, indexer)
        e.refresh()
        assert calls == []
        assert e.searcher().doc_freq("message", b"a") == 1
        assert ops.decode(e.db.get(b"h" + (0).to_bytes(8, "big"))).source == b"a b"
        await e.close()

    run(go())


def test_exact_fields_keep_doc_count_and_sum_of_distinct_terms(tmp_path):
    async def go():
        e = await opened(tmp_path)
        tags = IndexedDocument(terms={"tag": (["a", "a", "b"], None)})  # a repeated value counts once
        e.write([IndexOp("1", b"{}", indexed=tags),
                 IndexOp("2", b"{}", indexed=IndexedDocument(terms={"tag": (["c"], None)})),
                 IndexOp("3", b"{}", indexed=IndexedDocument())], lambda i, o: None)
        e.refresh()
        assert e.searcher().field_stats("tag") == (2, 3)  # docCount, sumDocFreq
        await e.close()
        e = await opened(tmp_path)
        index(e, "4", "x", 200)
        e.refresh()
        assert e.searcher().field_stats("status") == (1, 1)
        e.write([IndexOp("5", b"{}", indexed=IndexedDocument(terms={"tag": (["a"], None)}))],
                lambda i, o: None)
        e.refresh()
        assert e.searcher().field_stats("tag") == (3, 4)  # continued from what was persisted
        await e.close()

    run(go())


def keys_and_values(engine) -> dict[bytes, object]:
    """Every search structure key with its decoded value (raw bytes differ by layout)."""
    decoders = {b"t": decode_postings, b"v": decode_column, b"n": decode_column, b"a": decode_docs,
                b"s": decode_stats}
    return {k: decoders[k[:1]](v) for k, v in engine.db.iterator() if k[:1] in decoders}


def test_a_segment_built_by_place_in_the_batch_writes_what_the_engine_would(tmp_path):
    docs = [doc("quick brown fox quick", 200), doc("lazy brown dog", 404), doc("fox fox", 200)]

    async def go():
        a = await opened(tmp_path / "a")
        b = await opened(tmp_path / "b")
        for e in (a, b):  # both start past sequence number 0
            index(e, "0", "first", 500)
        a.write([IndexOp(str(i + 1), b"{}", indexed=d) for i, d in enumerate(docs)], lambda i, o: None)
        writer = SegmentWriter()
        for i, d in enumerate(docs):
            writer.add_local(i, d)
        segment = decode_segment(encode_segment(writer.encode()))  # as it comes back from the worker
        b.write([IndexOp(str(i + 1), b"{}") for i in range(len(docs))], lambda i, o: None, segment)
        assert keys_and_values(a) == keys_and_values(b)
        b.refresh()
        quick = b.searcher().postings("message", b"quick", positions=True)
        assert (quick.seqs.tolist(), quick.freqs.tolist(), quick.positions) == ([1], [2], [[0, 3]])
        await a.close()
        await b.close()

    run(go())


def test_a_segment_puts_its_postings_in_key_order():
    writer = SegmentWriter()
    for i, (words, status) in enumerate([("zebra apple", 500), ("mango apple \x00nul", 200), ("kiwi", 404)]):
        writer.add_local(i, doc(words, status))
    keys = []
    writer.encode().emit(lambda k, v: keys.append(k), 10, {})
    postings = [k for k in keys if k[:1] == b"t"]
    assert postings == sorted(postings) and len(postings) == 8


def test_a_prebuilt_segment_skips_the_documents_that_failed(tmp_path):
    async def go():
        a = await opened(tmp_path / "a")
        b = await opened(tmp_path / "b")
        for e in (a, b):
            index(e, "taken", "first", 500)
        # The second request fails (the document exists); the delete takes a sequence number.
        a.write([IndexOp("x", b"{}", indexed=doc("alpha beta", 200)), DeleteOp("gone"),
                 IndexOp("y", b"{}", indexed=doc("gamma alpha", 200))], lambda i, o: None)
        writer = SegmentWriter()
        writer.add_local(0, doc("alpha beta", 200))
        writer.add_local(1, doc("beta gamma", 404))
        writer.add_local(3, doc("gamma alpha", 200))
        outcomes = []
        b.write([IndexOp("x", b"{}"), IndexOp("taken", b"{}", create=True), DeleteOp("gone"),
                 IndexOp("y", b"{}")], lambda i, o: outcomes.append(o), writer.encode())
        assert [type(o).__name__ for o in outcomes] == ["WriteResult", "VersionConflict", "WriteResult",
                                                        "WriteResult"]
        assert keys_and_values(a) == keys_and_values(b)
        b.refresh()
        assert b.searcher().postings("message", b"alpha").seqs.tolist() == [1, 3]
        assert b.searcher().postings("status", b"404").seqs.tolist() == []
        assert b.searcher().field_stats("message") == (3, 5)
        await a.close()
        await b.close()

    run(go())


def test_values_written_before_the_base_header_still_decode():
    assert list(decode_postings(_encode([[5, 2], [1, 2], [[0], [1, 4]]]))) == [[5, 2], [1, 2], [[0], [1, 4]]]
    assert list(decode_postings(_encode([[5, 2], None, None]))) == [[5, 2], None, None]
    assert list(decode_column(_encode([[5, 1], [200, 404]]))) == [[5, 1], [200, 404]]
    assert decode_docs(_encode([5, 1, 1])) == [5, 1, 1]
    assert decode_docs(_encode([5, 1])) == [5, 1]
    # and the current layout: a base, deltas from it, positions flat
    current = _encode([100, [5, 2], [1, 2], [0, 1, 4]])
    assert list(decode_postings(current)) == [[105, 2], [1, 2], [[0], [1, 4]]]
    assert decode_docs(_encode([100, [0, 1]])) == [100, 1]


def test_documents_added_below_the_first_sequence_number_keep_theirs():
    """Replay could hand the writer a lower sequence number after a higher one."""
    writer = SegmentWriter()
    writer.add(10, IndexedDocument(terms={"tag": (["a"], None), "body": ([b"x"], range(1))}))
    writer.add(7, IndexedDocument(terms={"tag": (["b"], None), "body": ([b"x"], range(1))}))
    out = {}
    writer.emit(out.__setitem__, {})
    assert decode_postings(out[b"ttag\x00a\x00\x00" + (10).to_bytes(8, "big")])[0] == [10]
    assert decode_postings(out[b"ttag\x00b\x00\x00" + (10).to_bytes(8, "big")])[0] == [7]
    deltas, freqs, positions = decode_postings(out[b"tbody\x00x\x00\x00" + (10).to_bytes(8, "big")])
    assert (deltas, freqs, positions) == ([10, -3], [1, 1], [[0], [0]])
