"""The shard engine: versions and sequence numbers, concurrency checks, refresh
visibility, flush, and recovery of the store from the translog."""

import asyncio
import os
import time

import pytest

from strata_node.common.errors import StrataError, VersionConflict
from strata_node.engine import operation as ops
from strata_node.engine.engine import (
    COMMIT_KEY,
    DeleteOp,
    DocVersion,
    Engine,
    EngineClosed,
    IndexOp,
    ShardRef,
)
from strata_node.engine.retention_leases import PEER_RECOVERY_SOURCE, RetentionLease, RetentionLeases

REF = ShardRef("logs", "uuid-1", 0)


def run(coro):
    return asyncio.run(coro)


def write(engine, *requests):
    outcomes = [None] * len(requests)

    def on_item(i, outcome):
        outcomes[i] = outcome

    engine.write(list(requests), on_item)
    return outcomes


async def opened(path, term=1):
    e = Engine(REF, path, term)
    await e.open()
    return e


def test_index_assigns_sequence_numbers_and_versions(tmp_path):
    async def go():
        e = await opened(tmp_path)
        a, b, c = write(e, IndexOp("1", b'{"v":1}'), IndexOp("1", b'{"v":2}'), IndexOp("2", b"{}"))
        assert (a.operation.seq_no, a.operation.version, a.result) == (0, 1, "created")
        assert (b.operation.seq_no, b.operation.version, b.result) == (1, 2, "updated")
        assert (c.operation.seq_no, c.result) == (2, "created")
        assert e.tracker.checkpoint == 2
        await e.close()

    run(go())


def test_get_is_real_time_but_count_waits_for_refresh(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b'{"a":1}'))
        assert e.get("1").source == b'{"a":1}'
        assert e.count() == 0
        e.refresh()
        assert e.count() == 1
        await e.close()

    run(go())


def test_delete_leaves_a_tombstone_that_continues_the_version(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        [d] = write(e, DeleteOp("1"))
        assert d.result == "deleted" and d.operation.version == 2
        assert e.get("1") is None
        [again] = write(e, IndexOp("1", b"{}"))
        assert again.result == "created" and again.operation.version == 3
        [missing] = write(e, DeleteOp("nope"))
        assert missing.result == "not_found"
        e.refresh()
        assert e.count() == 1
        await e.close()

    run(go())


def test_create_conflicts_with_a_live_document(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        [conflict] = write(e, IndexOp("1", b"{}", create=True))
        assert isinstance(conflict, VersionConflict)
        assert conflict.reason == "[1]: version conflict, document already exists (current version [1])"
        assert e.tracker.max_seq_no == 0  # a refused write takes no sequence number
        await e.close()

    run(go())


def test_a_retried_generated_id_replaces_its_first_attempt_instead_of_indexing_it_twice(tmp_path):
    """A bulk request sent again after its primary failed (ES's isRetry) may find its
    generated ids written by the first attempt: one document, counted once, version 1."""
    async def go():
        e = await opened(tmp_path)
        (first,) = write(e, IndexOp("gen-1", b'{"v":1}', create=True, auto_generated_id=True))
        (again,) = write(e, IndexOp("gen-1", b'{"v":1}', create=True, auto_generated_id=True, retry=True))
        assert (first.operation.seq_no, first.result) == (0, "created")
        assert (again.operation.seq_no, again.operation.version, again.result) == (1, 1, "created")
        assert e.doc_count == 1
        e.refresh()
        assert e.count() == 1
        assert e.get("gen-1").seq_no == 1
        await e.close()

    run(go())


def test_the_late_original_of_a_retry_already_written_replaces_it_instead_of_indexing_it_twice(tmp_path):
    """The retry may land first (its original delayed on the way): the original's generated
    id is no newer than the retry's, so it is looked up (ES's mayHaveBeenIndexedBefore), and
    one document stays, counted once, as a replica applying both by sequence number has it."""
    from strata_node.common.ids import time_based_ids

    async def go():
        e = await opened(tmp_path)
        late, fresh = time_based_ids(2)
        (retried,) = write(e, IndexOp(late, b'{"v":1}', create=True, auto_generated_id=True, retry=True))
        (original,) = write(e, IndexOp(late, b'{"v":1}', create=True, auto_generated_id=True))
        assert (retried.result, original.result, original.operation.version) == ("created", "created", 1)
        (after,) = write(e, IndexOp(fresh, b'{"v":2}', create=True, auto_generated_id=True))
        assert after.result == "created"
        e.refresh()
        assert e.count() == 2 and e.doc_count == 2
        assert e.get(late).seq_no == 1
        write(e, DeleteOp(late))
        e.refresh()
        assert e.count() == 1 and e.get(late) is None
        await e.close()

    run(go())


def test_a_persist_of_older_leases_does_not_replace_newer_ones_the_engine_honours(tmp_path):
    """The background sync persists the leases it took; a recovery that added its lease
    meanwhile (sync_soon set it on the engine) must still hold back pruning."""
    async def go():
        e = await opened(tmp_path)
        lease = RetentionLease("peer_recovery/n2", 0, 0, PEER_RECOVERY_SOURCE)
        older, newer = RetentionLeases(1, 1, ()), RetentionLeases(1, 2, (lease,))
        e.retention_leases = newer
        assert e.persist_retention_leases(older)
        assert e.retention_leases is newer
        await e.close()

    run(go())


def test_compare_and_set_on_seq_no_and_primary_term(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"), IndexOp("1", b"{}"))
        [stale] = write(e, IndexOp("1", b"{}", if_seq_no=0, if_primary_term=1))
        assert stale.reason == ("[1]: version conflict, required seqNo [0], primary term [1]. current "
                                "document has seqNo [1] and primary term [1]")
        [ok] = write(e, IndexOp("1", b"{}", if_seq_no=1, if_primary_term=1))
        assert ok.operation.seq_no == 2
        [gone] = write(e, IndexOp("2", b"{}", if_seq_no=0, if_primary_term=1))
        assert "but no document was found" in gone.reason
        await e.close()

    run(go())


def test_external_versions_must_increase(tmp_path):
    async def go():
        e = await opened(tmp_path)
        [a] = write(e, IndexOp("1", b"{}", version=5, version_type="external"))
        assert a.operation.version == 5
        [same] = write(e, IndexOp("1", b"{}", version=5, version_type="external"))
        assert same.reason == ("[1]: version conflict, current version [5] is higher or equal to the one "
                               "provided [5]")
        [gte] = write(e, IndexOp("1", b"{}", version=5, version_type="external_gte"))
        assert gte.operation.version == 5
        await e.close()

    run(go())


def test_reopen_after_clean_close_keeps_everything(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, *(IndexOp(str(i), b"{}") for i in range(100)), DeleteOp("5"))
        await e.sync_translog()
        await e.close()
        e = await opened(tmp_path, term=2)
        assert e.get("5") is None and e.get("6") is not None
        assert e.tracker.checkpoint == 100 and e.tracker.max_seq_no == 100
        e.refresh()
        assert e.count() == 99
        [next_op] = write(e, IndexOp("x", b"{}"))
        assert (next_op.operation.seq_no, next_op.operation.primary_term) == (101, 2)
        await e.close()

    run(go())


def test_translog_replays_operations_the_store_lost(tmp_path):
    """Simulate a crash after the translog fsync but before the store kept the writes:
    drop the store's copy of the operations above the commit, then reopen."""
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("a", b'{"n":1}'))
        await e.flush(force=True)
        write(e, IndexOp("b", b'{"n":2}'), IndexOp("a", b'{"n":3}'), DeleteOp("zz"))
        await e.sync_translog()
        # The store loses everything after the commit (its writes are not synced).
        e.db.delete(b"db")
        e.db.delete(b"dzz")
        e.db.put(b"da", DocVersion(seq_no=0, primary_term=1, version=1, deleted=False).encode())
        for seq in (1, 2, 3):
            e.db.delete(b"h" + seq.to_bytes(8, "big"))
        e.db.put(b"m:count", b"1")
        await e.close(flush=False)
        e = await opened(tmp_path)
        assert e.get("a").source == b'{"n":3}' and e.get("a").version == 2
        assert e.get("b").seq_no == 1
        assert e.tracker.checkpoint == 3
        e.refresh()
        assert e.count() == 2
        await e.close()

    run(go())


def test_flush_writes_a_commit_point_and_trims_the_translog(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"), IndexOp("2", b"{}"))
        assert await e.flush()
        commit = ops.decode_commit(e.db.get(COMMIT_KEY))
        assert (commit.local_checkpoint, commit.max_seq_no) == (1, 1)
        gens = sorted(p.name for p in (tmp_path / "translog").glob("*.tlog"))
        assert gens == [f"translog-{commit.translog_generation}.tlog"]
        assert not await e.flush()  # nothing new: no commit
        await e.close()

    run(go())


def test_flush_stats_count_requested_flushes_and_periodic_flushes_that_committed(tmp_path):
    """ES counts every flush request, one with nothing to commit too; a periodic flush
    that found nothing (the checkpoint held back by a gap) is not a flush."""
    async def go():
        e = await opened(tmp_path)
        opened_with = e.stats["flush_total"]
        write(e, IndexOp("1", b"{}"))
        assert await e.flush(periodic=True)
        assert not await e.flush(periodic=True)
        assert not await e.flush()
        assert (e.stats["flush_total"] - opened_with, e.stats["flush_periodic"]) == (2, 1)
        assert e.stats["flush_nanos"] > 0
        await e.close()

    run(go())


def test_a_periodic_flush_commits_operations_past_a_sequence_number_gap_and_trims_their_translog(tmp_path):
    """A copy waiting on a gap (seq 1 not here yet) keeps writing above it: the flush
    commits what the store holds, so the translog does not grow until the gap closes,
    and a restart finds the operations past the gap in the store's history."""
    def op(seq):
        o = ops.Operation(ops.INDEX, seq, 1, 1, f"d{seq}", b"{}")
        return (o, ops.encode(o), None)

    async def go():
        e = await opened(tmp_path)
        e.apply_operations([op(0)])
        assert await e.flush(periodic=True)
        e.apply_operations([op(s) for s in range(2, 40)])
        assert e.tracker.checkpoint == 0 and e.uncommitted_translog_bytes() > 0
        assert await e.flush(periodic=True)
        commit = ops.decode_commit(e.db.get(COMMIT_KEY))
        assert (commit.local_checkpoint, commit.max_seq_no) == (0, 39)
        assert sorted(p.name for p in (tmp_path / "translog").glob("*.tlog")) == [
            f"translog-{commit.translog_generation}.tlog"]
        await e.close()
        e = await opened(tmp_path)
        assert (e.tracker.checkpoint, e.tracker.max_seq_no) == (0, 39) and e.get("d39") is not None
        e.apply_operations([op(1)])
        assert e.tracker.checkpoint == 39
        await e.close()

    run(go())


def test_a_corrupted_translog_fails_the_open_with_the_reason(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b'{"a":"xxxxxxxx"}'), IndexOp("2", b'{"a":"yyyyyyyy"}'))
        await e.sync_translog()
        await e.close(flush=False)
        tlog = max((tmp_path / "translog").glob("*.tlog"))
        data = bytearray(tlog.read_bytes())
        data[data.index(b"xxxxxxxx")] = ord("z")
        tlog.write_bytes(bytes(data))
        with pytest.raises(StrataError, match="bad checksum"):
            await opened(tmp_path)

    run(go())


def test_history_keeps_every_version_while_the_id_points_at_the_latest(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b'{"v":1}'), IndexOp("1", b'{"v":2}'))
        first = ops.decode(e.db.get(b"h" + (0).to_bytes(8, "big")))
        assert first.source == b'{"v":1}'
        assert e.get("1").source == b'{"v":2}'
        assert DocVersion.decode(e.db.get(b"d1")).seq_no == 1
        await e.close()

    run(go())


def test_wait_for_refresh_on_a_closed_engine_raises_instead_of_waiting_forever(tmp_path):
    """A write that awaited its sync while the engine closed must not then wait for a
    refresh that will never come."""
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        await e.close()
        with pytest.raises(EngineClosed):
            e.wait_for_refresh()

    run(go())


def test_a_failed_engine_releases_requests_waiting_for_a_refresh(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        waiting = e.wait_for_refresh()
        e.fail("disk trouble", OSError(5, "Input/output error"))
        assert waiting.done()
        with pytest.raises(StrataError, match="engine failed"):
            await waiting
        with pytest.raises(StrataError, match="engine failed"):
            e.wait_for_refresh()
        await e.close()

    run(go())


def test_close_does_not_close_the_translog_under_a_sync_in_progress(tmp_path, monkeypatch):
    """The sync runs in an executor thread; closing its file descriptor under it fails
    the sync (EBADF), or worse, syncs or closes whatever file reused the number."""
    real_fsync = os.fsync

    def slow_fsync(fd):
        time.sleep(0.2)
        real_fsync(fd)

    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        monkeypatch.setattr(os, "fsync", slow_fsync)
        in_flight = asyncio.create_task(e.sync_translog())
        await asyncio.sleep(0.05)  # the sync is inside its fsync now
        await e.close(flush=False)
        await in_flight
        assert e.failure is None

    run(go())
    monkeypatch.setattr(os, "fsync", real_fsync)

    async def reopen():
        e = await opened(tmp_path)
        assert e.get("1") is not None
        await e.close()

    run(reopen())


def test_a_compare_and_set_on_a_missing_document_is_worded_as_elasticsearch_words_it(tmp_path):
    async def go():
        e = await opened(tmp_path)
        [gone] = write(e, IndexOp("2", b"{}", if_seq_no=0, if_primary_term=1))
        assert gone.reason == ("[2]: version conflict, required seqNo [0], primary term [1]. "
                               "but no document was found")
        await e.close()

    run(go())


def test_an_internal_version_that_cannot_grow_fails_its_item_not_the_batch(tmp_path):
    async def go():
        e = await opened(tmp_path)
        top = (1 << 63) - 1
        write(e, IndexOp("1", b"{}", version=top, version_type="external"))
        stuck, fine = write(e, IndexOp("1", b"{}"), IndexOp("2", b"{}"))
        assert isinstance(stuck, StrataError) and stuck.status == 400
        assert fine.result == "created"
        assert e.get("1").version == top
        await e.close()

    run(go())


def test_restarts_of_an_idle_shard_do_not_pile_up_translog_generations(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"))
        await e.close()
        for term in range(2, 6):
            e = await opened(tmp_path, term=term)
            await e.close()
        return sorted((tmp_path / "translog").glob("*.tlog"))

    assert len(run(go())) == 1


def test_flush_puts_every_committed_operation_in_a_table_file(tmp_path):
    """A synced LevelDB write syncs only the current log file, not a log LevelDB already
    switched away from; the commit point may only claim what is on disk for sure, so a
    flush first turns the memtable into a (synced) table file."""
    async def go():
        e = await opened(tmp_path)
        marker = os.urandom(16).hex().encode()  # incompressible, so findable in a table file
        write(e, IndexOp("1", b'{"marker":"' + marker + b'"}'))
        assert not list((tmp_path / "index").glob("*.ldb"))
        await e.flush()
        tables = list((tmp_path / "index").glob("*.ldb"))
        assert any(marker in t.read_bytes() for t in tables)
        await e.close()

    run(go())
