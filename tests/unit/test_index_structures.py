"""Search structures written with the documents: postings per term, live versions,
doc values, norms and field stats, and their recovery from the translog."""

import asyncio

from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import (
    IndexedDocument,
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
