"""Force merge of a shard's segments (engine/merge.py): batches at or below the checkpoints
become one segment, and versions replaced at or below them leave the search structures."""

import asyncio
import random

import msgspec

from strata_node.engine import index_structures as ix
from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import IndexedDocument

REF = ShardRef("i", "uuid-1", 0)


def run(coro):
    return asyncio.run(coro)


def doc(text: str, tag: str) -> IndexedDocument:
    tokens = text.split()
    return IndexedDocument(terms={"body": (tokens, range(len(tokens))), "tag": ([tag], None)},
                           lengths={"body": len(tokens)}, doc_values={"tag": tag})


def index(engine, *docs: tuple[str, str, str]) -> list[int]:
    """One write batch of (id, text, tag); the sequence numbers it got."""
    seqs = []
    engine.write([IndexOp(id, b"{}", indexed=doc(text, tag)) for id, text, tag in docs],
                 lambda i, outcome: seqs.append(outcome.operation.seq_no))
    return seqs


async def opened(path, global_checkpoint=1_000_000) -> Engine:
    e = Engine(REF, path, 1)
    await e.open()
    e.translog.global_checkpoint = global_checkpoint
    return e


def keys(engine, kind: bytes) -> list[bytes]:
    return list(engine.db.iterator(prefix=kind, include_value=False))


def searched(engine):
    engine.refresh()
    return engine.searcher()


def test_merged_batches_keep_one_key_per_term_and_the_same_postings(tmp_path):
    async def go():
        e = await opened(tmp_path)
        for b in range(5):
            index(e, *[(f"{b}-{i}", f"quick fox {b} {i}", "a" if i % 2 else "b") for i in range(4)])
        before = searched(e)
        fox, quick = before.postings("body", b"fox", positions=True), before.postings("body", b"quick")
        tags = before.doc_values("tag")
        assert len(keys(e, ix.term_prefix("body", b"fox"))) == 5
        result = await e.force_merge()
        assert (result.batches, result.purged) == (5, 0)
        assert len(keys(e, ix.term_prefix("body", b"fox"))) == 1
        assert len(keys(e, ix.field_prefix(ix.DOC_VALUES, "tag"))) == 1
        assert len(keys(e, ix.DOCS)) == 1
        after = searched(e)
        merged = after.postings("body", b"fox", positions=True)
        assert merged.seqs.tolist() == fox.seqs.tolist() == list(range(20))
        assert merged.positions == fox.positions
        assert after.postings("body", b"quick").seqs.tolist() == quick.seqs.tolist()
        assert after.doc_values("tag").values.tolist() == tags.values.tolist()
        assert after.docs().tolist() == list(range(20))
        await e.close()

    run(go())


def test_versions_replaced_at_or_below_the_global_checkpoint_leave_postings_markers_and_statistics(tmp_path):
    async def go():
        e = await opened(tmp_path / "merged")
        for round in range(3):
            index(e, *[(str(i), f"word{round} common", f"t{round}") for i in range(10)])
        result = await e.force_merge()
        assert (result.batches, result.purged) == (3, 20)
        assert keys(e, ix.DEAD) == []
        reader = searched(e)
        assert reader.postings("body", b"common").seqs.tolist() == list(range(20, 30))
        assert reader.doc_freq("body", b"common") == 10  # dead versions no longer counted
        assert reader.doc_freq("body", b"word0") == 0
        assert keys(e, ix.term_prefix("body", b"word0")) == []
        assert reader.doc_values("tag").values.tolist() == ["t2"] * 10
        # the statistics of a store that only ever held the live versions
        fresh = await opened(tmp_path / "fresh")
        index(fresh, *[(str(i), "word2 common", "t2") for i in range(10)])
        for name in ("body", "tag"):
            assert reader.field_stats(name) == searched(fresh).field_stats(name)
        await fresh.close()
        await e.close()

    run(go())


def test_what_the_global_checkpoint_does_not_cover_is_neither_merged_nor_purged(tmp_path):
    async def go():
        e = await opened(tmp_path, global_checkpoint=-1)
        index(e, ("1", "old", "x"), ("2", "old", "x"))  # seqs 0, 1
        index(e, ("1", "new", "y"))  # seq 2 replaces 0
        index(e, ("2", "newer", "y"))  # seq 3 replaces 1
        e.translog.global_checkpoint = 2  # 0's successor is covered, 1's is not
        result = await e.force_merge()
        assert (result.batches, result.purged) == (2, 1)
        assert [ix.SEQ.unpack(k[1:])[0] for k in keys(e, ix.DEAD)] == [1]
        assert len(keys(e, ix.DOCS)) == 2  # the batch of seq 3 stands apart
        reader = searched(e)
        assert reader.postings("body", b"old").seqs.tolist() == []
        assert reader.doc_freq("body", b"old") == 1  # seq 1: dead, still counted
        assert reader.docs().tolist() == [2, 3]
        await e.close()

    run(go())


def test_a_merged_store_takes_updates_and_reopens_with_what_it_merged(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, *[(str(i), "alpha", "a") for i in range(5)])
        index(e, *[(str(i), "beta", "b") for i in range(5, 10)])
        await e.force_merge()
        index(e, ("0", "gamma", "c"))  # replaces a merged version
        await e.flush(force=True)
        await e.close()
        e = await opened(tmp_path)
        reader = searched(e)
        assert reader.postings("body", b"alpha").seqs.tolist() == [1, 2, 3, 4]
        assert reader.postings("body", b"gamma").seqs.tolist() == [10]
        assert reader.docs().tolist() == list(range(1, 11))
        result = await e.force_merge()
        assert (result.batches, result.purged) == (2, 1)
        assert searched(e).postings("body", b"alpha").seqs.tolist() == [1, 2, 3, 4]
        await e.close()

    run(go())


def test_a_reader_over_a_snapshot_from_before_a_merge_does_not_fill_the_cache_for_later_ones(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "term", "a"))
        index(e, ("2", "term", "a"))
        e.refresh()  # the snapshot has two batch keys for "term"; no reader made yet
        await e.force_merge()
        stale = e.searcher()  # made now, over the snapshot from before the merge
        assert stale.postings("body", b"term", positions=True).seqs.tolist() == [0, 1]
        # the merged key has the first batch's key: its cached block must be the merged one
        assert searched(e).postings("body", b"term", positions=True).seqs.tolist() == [0, 1]
        await e.close()

    run(go())


def test_nothing_to_merge_writes_nothing(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "only", "a"))
        epoch = e.block_cache.epoch
        result = await e.force_merge()
        assert result.batches == 0
        assert e.block_cache.epoch == epoch
        await e.close()

    run(go())


def updated(engine, docs: int, rounds: int) -> None:
    """`docs` documents written `rounds` times, a batch per round."""
    for r in range(rounds):
        index(engine, *[(str(i), f"v{r} shared", "t") for i in range(docs)])


def test_the_merge_policy_waits_for_the_share_of_replaced_versions_it_allows(tmp_path):
    async def go():
        e = await opened(tmp_path)
        updated(e, 4000, 1)
        index(e, *[(str(i), "again", "t") for i in range(1100)])  # 1100 of 5100 replaced: 21.6 %
        assert await e.maybe_merge(25.0) is None
        result = await e.maybe_merge(20.0)
        assert (result.batches, result.purged) == (2, 1100)
        assert keys(e, ix.DEAD) == []
        await e.close()

    run(go())


def test_the_merge_policy_leaves_fewer_replaced_versions_than_its_minimum_alone(tmp_path):
    async def go():
        e = await opened(tmp_path, global_checkpoint=-1)
        updated(e, 500, 2)  # 500 of 1000 replaced: a share past any setting, fewer than the minimum
        e.translog.global_checkpoint = 999
        assert await e.maybe_merge(5.0) is None
        updated(e, 500, 1)
        e.translog.global_checkpoint = 1499
        assert (await e.maybe_merge(5.0)).purged == 1000
        index(e, ("x", "late", "t"))  # above the bound: nothing more a merge could purge
        assert await e.maybe_merge(5.0) is None
        await e.close()

    run(go())


def test_a_second_merge_rewrites_the_keys_the_first_left_under_their_own_batch(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, *[(str(i), f"own{i} shared", "t") for i in range(5)])
        index(e, *[(str(i), f"own{i} shared", "t") for i in range(5, 10)])
        await e.force_merge()  # "own7" is in one batch only: its key stays under that batch
        e.write([DeleteOp("7")], lambda i, outcome: None)
        result = await e.force_merge()
        assert result.purged == 1
        reader = searched(e)
        assert reader.postings("body", b"own7").seqs.tolist() == []
        assert keys(e, ix.term_prefix("body", b"own7")) == []
        assert 7 not in reader.doc_values("tag").seqs.tolist()
        assert reader.field_stats("body")[0] == 9
        await e.close()

    run(go())


def written_history(primary, requests) -> list:
    """What a replica is sent of the primary's write: (operation, payload, indexed)."""
    written = []
    primary.write(requests, lambda i, outcome: written.append((i, outcome.operation)))
    return [(op, ops.encode(op), getattr(requests[i], "indexed", None))
            for i, op in sorted(written, key=lambda w: w[1].seq_no)]


def test_merges_on_a_replica_that_took_operations_in_any_order_never_change_what_a_search_finds(tmp_path):
    async def go():
        for seed in range(25):
            rng = random.Random(seed)
            primary = await opened(tmp_path / f"p{seed}")
            requests = [DeleteOp(str(rng.randrange(12))) if rng.random() < 0.2 else
                        IndexOp(str(rng.randrange(12)), b"{}",
                                indexed=doc(f"w{rng.randrange(6)} common", f"t{rng.randrange(3)}"))
                        for _ in range(150)]
            history = written_history(primary, requests)
            replica = await opened(tmp_path / f"r{seed}", global_checkpoint=-1)
            rng.shuffle(history)
            at = 0
            while at < len(history):
                size = rng.randrange(1, 40)
                replica.apply_operations(history[at:at + size])
                at += size
                if rng.random() < 0.5:
                    replica.translog.global_checkpoint = replica.tracker.checkpoint
                    await replica.force_merge()
            await primary.force_merge()
            replica.translog.global_checkpoint = replica.tracker.checkpoint
            await replica.force_merge()
            expected, actual = searched(primary), searched(replica)
            for term in [f"w{n}".encode() for n in range(6)] + [b"common"]:
                found = actual.postings("body", term, positions=True)
                assert found.seqs.tolist() == sorted(found.seqs.tolist()), seed
                assert found.seqs.tolist() == expected.postings("body", term).seqs.tolist(), (seed, term)
                assert actual.doc_freq("body", term) == expected.doc_freq("body", term), (seed, term)
            assert actual.docs().tolist() == expected.docs().tolist(), seed
            column, wanted = actual.doc_values("tag"), expected.doc_values("tag")
            assert (column.seqs.tolist(), column.values.tolist()) == \
                   (wanted.seqs.tolist(), wanted.values.tolist()), seed
            for name in ("body", "tag"):
                assert actual.field_stats(name) == expected.field_stats(name), (seed, name)
            assert keys(replica, ix.DEAD) == [], seed
            await primary.close()
            await replica.close()

    run(go())


def test_versions_indexed_before_exact_fields_kept_statistics_are_not_taken_out_of_them(tmp_path):
    async def go():
        e = await opened(tmp_path)
        index(e, ("1", "first", "old"))  # seq 0
        # as a store written before exact fields counted statistics holds it: headerless
        # postings, and nothing counted
        e.db.put(ix.term_prefix("tag", b"old") + ix.SEQ.pack(0), msgspec.msgpack.encode([[0], None, None]))
        e.db.put(ix.stats_key("tag"), ix.encode_stats([0, 0]))
        e._field_stats.pop("tag", None)
        index(e, ("1", "second", "new"))  # seq 1 replaces seq 0, and is counted
        assert (await e.force_merge()).purged == 1
        assert list(searched(e).field_stats("tag")) == [1, 1]
        await e.close()

    run(go())
