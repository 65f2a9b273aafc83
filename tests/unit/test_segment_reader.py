"""Reading postings across refreshes: the incremental per-term cache must show each
reader exactly its own snapshot."""

import asyncio

from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import IndexedDocument

REF = ShardRef("docs", "uuid-docs", 0)


def doc(words: str) -> IndexedDocument:
    terms = words.split()
    return IndexedDocument(terms={"message": ([t.encode() for t in terms], list(range(len(terms))))},
                           lengths={"message": len(terms)})


def index(engine, *pairs):
    engine.write([IndexOp(i, b"{}", indexed=doc(w)) for i, w in pairs], lambda i, o: None)


async def opened(path):
    engine = Engine(REF, path, 1)
    await engine.open()
    return engine


def test_a_term_read_again_after_a_refresh_adds_only_the_new_batches(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "fox"), ("2", "fox dog"))
        e.refresh()
        assert e.searcher().postings("message", b"fox").seqs.tolist() == [0, 1]
        index(e, ("3", "fox"))
        index(e, ("4", "cat"))
        e.refresh()
        reader = e.searcher()
        assert reader.postings("message", b"fox").seqs.tolist() == [0, 1, 2]
        assert reader.doc_freq("message", b"fox") == 3
        await e.close()

    asyncio.run(go())


def test_an_older_reader_never_sees_what_a_newer_one_cached(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "fox"))
        e.refresh()
        old = e.searcher()
        index(e, ("2", "fox"))
        e.refresh()
        assert e.searcher().postings("message", b"fox").seqs.tolist() == [0, 1]
        assert old.postings("message", b"fox").seqs.tolist() == [0]
        assert old.doc_freq("message", b"fox") == 1
        await e.close()

    asyncio.run(go())


def test_deleted_versions_leave_the_cached_postings_but_count_in_doc_freq(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "fox"), ("2", "fox"))
        e.refresh()
        e.searcher().postings("message", b"fox")
        e.write([DeleteOp("1")], lambda i, o: None)
        e.refresh()
        reader = e.searcher()
        assert reader.postings("message", b"fox").seqs.tolist() == [1]
        assert reader.doc_freq("message", b"fox") == 2
        await e.close()

    asyncio.run(go())


def test_a_batch_written_below_an_earlier_one_turns_the_incremental_path_off(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "fox"))
        e.refresh()
        assert e.searcher().postings("message", b"fox").seqs.tolist() == [0]
        assert e.block_cache.in_order
        # A replica applying an operation below what it has seen (out-of-order delivery):
        e._write_segment(e.db.write_batch(), _writer_at(0, "fox"))
        assert not e.block_cache.in_order
        index(e, ("2", "fox"))
        e.refresh()
        assert e.searcher().postings("message", b"fox").seqs.tolist() == [0, 1]
        await e.close()

    asyncio.run(go())


def _writer_at(seq_no, words):
    from strata_node.engine.index_structures import SegmentWriter

    writer = SegmentWriter()
    writer.add(seq_no, doc(words))
    return writer
