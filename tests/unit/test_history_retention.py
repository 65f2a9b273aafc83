"""History retention in the shard engine: pruning drops what no retention lease needs and
no live document points to, and a consistent file set of the live store opens as a store
holding every operation up to its local checkpoint."""

import asyncio
import struct
import threading

from strata_node.engine import file_set, retention_leases
from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, EngineClosed, IndexOp, ShardRef
from strata_node.engine.retention_leases import RetentionLease, RetentionLeases

REF = ShardRef("logs", "uuid-1", 0)


def run(coro):
    return asyncio.run(coro)


def write(engine, *requests):
    engine.write(list(requests), lambda i, outcome: None)


async def opened(path, lease=None):
    """An engine whose only retention lease retains from `lease`, every operation written
    below the global checkpoint."""
    e = Engine(REF, path, 1)
    await e.open()
    if lease is not None:
        held = RetentionLease("peer_recovery/n", lease, 0, "peer recovery")
        e.retention_leases = RetentionLeases(1, 1, (held,))
        e.translog.global_checkpoint = 1_000_000
    return e


def seq_nos(engine):
    return [ops.decode(p).seq_no for p in engine.history(0, engine.tracker.max_seq_no)]


def test_pruning_keeps_the_live_versions_and_drops_superseded_operations_below_the_bound(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=100)
        write(e, IndexOp("a", b'{"v":1}'), IndexOp("a", b'{"v":2}'), IndexOp("b", b"{}"),
              DeleteOp("b"), IndexOp("c", b"{}"))
        await e.flush()
        assert await e.prune_history() == 3  # a's first version, b and its delete
        assert seq_nos(e) == [1, 4]
        assert e.get("a").source == b'{"v":2}' and e.get("c") is not None and e.get("b") is None
        assert e.min_retained_seq_no == 5 and not e.holds_history_from(4) and e.holds_history_from(5)
        await e.close()

    run(go())


def test_pruning_never_passes_the_lowest_lease_nor_the_last_commit(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=2)
        for n in range(6):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        await e.prune_history()
        assert seq_nos(e) == [0, 1, 2, 3, 4, 5]  # nothing committed yet
        await e.flush()
        await e.prune_history()
        assert seq_nos(e) == [2, 3, 4, 5]  # the lease retains from 2
        await e.close()

    run(go())


def test_without_any_lease_the_history_is_kept_whole(tmp_path):
    async def go():
        e = await opened(tmp_path)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        e.translog.global_checkpoint = 3
        await e.flush()
        assert await e.prune_history() == 0 and seq_nos(e) == [0, 1, 2, 3]
        await e.close()

    run(go())


def test_pruning_never_passes_the_global_checkpoint(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=10)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        e.translog.global_checkpoint = 1
        await e.flush()
        await e.prune_history()
        assert seq_nos(e) == [1, 2, 3]  # 1 is what 2, above the global checkpoint, replaced
        await e.close()

    run(go())


def test_persisted_leases_are_honoured_after_a_restart(tmp_path):
    async def go():
        e = await opened(tmp_path)
        leases = RetentionLeases(3, 7, (RetentionLease("peer_recovery/n", 2, 5, "peer recovery"),))
        e.persist_retention_leases(leases)
        await e.close()
        again = await opened(tmp_path)
        assert again.retention_leases == leases
        await again.close()

    run(go())


def test_the_minimum_retained_sequence_number_survives_a_restart(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=10)
        for n in range(4):
            write(e, IndexOp("same", f'{{"n":{n}}}'.encode()))
        await e.flush()
        await e.prune_history()
        await e.close()
        again = await opened(tmp_path)
        assert again.min_retained_seq_no == 4 and seq_nos(again) == [3]
        await again.close()

    run(go())


def test_a_file_set_of_a_live_store_opens_as_a_copy_holding_its_operations(tmp_path):
    async def go():
        e = await opened(tmp_path / "source")
        for start in range(0, 3000, 500):
            write(e, *[IndexOp(str(n), f'{{"n":{n}}}'.encode()) for n in range(start, start + 500)])
        names, checkpoint = await e.take_file_set(tmp_path / "set")
        write(e, IndexOp("later", b"{}"))  # after the set: not in it, replayed by recovery
        assert checkpoint == 2999 and "CURRENT" in names and any(n.endswith(".ldb") for n in names)
        target = tmp_path / "target"
        target.mkdir()
        Engine.install_file_set(target, tmp_path / "set", checkpoint, checkpoint)
        copy = await opened(target)
        assert copy.tracker.checkpoint == 2999 and copy.doc_count == 3000
        assert copy.get("1234").source == b'{"n":1234}' and copy.get("later") is None
        assert copy.history_uuid != e.history_uuid  # taken up when the recovery completes
        await copy.close()
        await e.close()

    run(go())


def record(kind: int, payload: bytes) -> bytes:
    """A LevelDB log record (the checksum is LevelDB's business: the parser skips it)."""
    return b"\0\0\0\0" + struct.pack("<HB", len(payload), kind) + payload


def test_a_manifest_cut_off_mid_record_yields_its_whole_records_only():
    whole = record(file_set.FULL, b"first") + record(file_set.FIRST, b"sec") + record(file_set.LAST, b"ond")
    torn = whole + record(file_set.FULL, b"third")[:-2]
    assert file_set.manifest_records(torn) == [b"first", b"second"]


def test_the_live_tables_are_those_added_and_not_deleted_since():
    def varint(n: int) -> bytes:
        out = b""
        while n >= 0x80:
            out += bytes([n & 0x7F | 0x80])
            n >>= 7
        return out + bytes([n])

    def new_file(level: int, number: int) -> bytes:
        return varint(file_set.NEW_FILE) + varint(level) + varint(number) + varint(100) + \
            varint(1) + b"a" + varint(1) + b"z"

    first = varint(file_set.COMPARATOR) + varint(3) + b"cmp" + new_file(0, 5) + new_file(0, 6)
    second = varint(file_set.DELETED_FILE) + varint(0) + varint(5) + new_file(1, 9) + \
        varint(file_set.LAST_SEQUENCE) + varint(42)
    assert file_set.live_tables(record(file_set.FULL, first) + record(file_set.FULL, second)) == {6, 9}


def test_pruning_keeps_a_version_replaced_above_the_global_checkpoint_until_a_pass_reaches_that(tmp_path):
    async def go():
        e = await opened(tmp_path, lease=10)
        write(e, IndexOp("a", b'{"v":1}'), IndexOp("b", b'{"v":1}'), IndexOp("b", b'{"v":2}'),
              IndexOp("a", b'{"v":2}'))  # a: 0 replaced by 3; b: 1 replaced by 2
        e.translog.global_checkpoint = 2
        await e.flush()
        await e.prune_history()
        # up to 3: b's first version (replaced at 2) goes, a's (replaced at 3, which a new
        # primary may have this copy roll back) stays, and so does the record of it
        assert seq_nos(e) == [0, 2, 3]
        assert [k for k, _ in e.db.iterator(prefix=b"r")] == [b"r" + struct.pack(">Q", 3)]
        e.translog.global_checkpoint = 3
        await e.prune_history()  # the pass past 3 lets it go
        assert seq_nos(e) == [2, 3] and not list(e.db.iterator(prefix=b"r"))
        await e.close()

    run(go())


def leases_of_version(version):
    return RetentionLeases(1, version, (RetentionLease("peer_recovery/n", version, 0, "peer recovery"),))


def test_two_persists_of_a_shards_leases_at_once_both_land_one_after_the_other(tmp_path, monkeypatch):
    """A recovery's end and a background sync may persist a copy's leases on two recovery
    threads at once: the second waits for the first, or both write the same generation
    and unlink each other's files (the recovery then failed after its replay)."""
    first_inside, second_done = threading.Event(), threading.Event()
    write = retention_leases.write_atomically

    def first_write_waits_for_the_second(path, data, **kwargs):
        if not first_inside.is_set():
            first_inside.set()
            second_done.wait(0.5)  # the second cannot finish meanwhile: it waits its turn
        write(path, data, **kwargs)

    async def go():
        e = await opened(tmp_path)
        e.persist_retention_leases(leases_of_version(1))
        monkeypatch.setattr(retention_leases, "write_atomically", first_write_waits_for_the_second)
        errors = []

        def persist(version, done=None):
            try:
                e.persist_retention_leases(leases_of_version(version))
            except Exception as error:  # reported by the assertion below
                errors.append(error)
            finally:
                if done is not None:
                    done.set()

        first = threading.Thread(target=persist, args=(2,))
        first.start()
        assert first_inside.wait(5)
        second = threading.Thread(target=persist, args=(3, second_done))
        second.start()
        first.join(5)
        second.join(5)
        assert errors == []
        assert retention_leases.load(tmp_path / "_state") == e.retention_leases == leases_of_version(3)
        await e.close()

    run(go())


def test_leases_persisted_only_when_newer_leave_newer_ones_in_place(tmp_path):
    """A background sync overtaken by newer leases (a recovery's end) changes nothing."""
    async def go():
        e = await opened(tmp_path)
        e.persist_retention_leases(leases_of_version(3))
        assert not e.persist_retention_leases(leases_of_version(2), only_newer=True)
        assert e.persist_retention_leases(leases_of_version(4), only_newer=True)
        await e.close()
        again = await opened(tmp_path)
        assert again.retention_leases == leases_of_version(4)
        await again.close()

    run(go())


def test_a_recovery_end_does_not_replace_newer_leases_a_background_sync_delivered(tmp_path):
    """The recovery's answer carries the leases of when it ended; a sync of later ones can
    reach the copy first, and must not be undone by them."""
    from strata_node.replication.recovery import adopt_primary_leases

    async def go():
        e = await opened(tmp_path)
        e.persist_retention_leases(leases_of_version(8), only_newer=True)  # the sync's
        assert not adopt_primary_leases(e, leases_of_version(7))
        await e.close()
        again = await opened(tmp_path)
        assert again.retention_leases == leases_of_version(8)
        await again.close()

    run(go())


def test_a_recovery_end_replaces_the_leases_of_an_earlier_primary_term(tmp_path):
    """What the copy's folder kept from an earlier life gives way to the primary's."""
    from strata_node.replication.recovery import adopt_primary_leases

    async def go():
        e = await opened(tmp_path)
        e.persist_retention_leases(RetentionLeases(1, 40, ()))
        newer_term = RetentionLeases(2, 3, (RetentionLease("peer_recovery/n", 9, 0, "peer recovery"),))
        assert adopt_primary_leases(e, newer_term)
        assert e.retention_leases == newer_term
        await e.close()

    run(go())


def test_a_closed_engine_refuses_to_persist_leases_and_writes_nothing(tmp_path):
    """A sync that reaches a shard after its close (its index deleted) must not write into
    a folder that is being removed."""
    async def go():
        e = await opened(tmp_path)
        await e.close()
        before = sorted(tmp_path.rglob("*"))
        try:
            e.persist_retention_leases(leases_of_version(2))
        except EngineClosed:
            pass
        else:
            raise AssertionError("a closed engine took leases")
        assert sorted(tmp_path.rglob("*")) == before

    run(go())


def test_an_engine_close_waits_for_a_leases_persist_under_way(tmp_path, monkeypatch):
    """The index deletion removes the shard's folder once the close returns: a persist
    still writing then failed on the vanished folder."""
    inside, release = threading.Event(), threading.Event()
    order = []
    write = retention_leases.write_atomically

    def slow_write(path, data, **kwargs):
        inside.set()
        release.wait(10)
        write(path, data, **kwargs)
        order.append("persisted")

    async def go():
        e = await opened(tmp_path)
        monkeypatch.setattr(retention_leases, "write_atomically", slow_write)
        persist = threading.Thread(target=e.persist_retention_leases, args=(leases_of_version(2),))
        persist.start()
        assert inside.wait(5)
        closing = asyncio.ensure_future(e.close())
        await asyncio.sleep(0.2)
        assert not closing.done()  # waiting for the persist
        release.set()
        await closing
        order.append("closed")
        persist.join(5)
        assert order == ["persisted", "closed"]
        assert retention_leases.load(tmp_path / "_state") == leases_of_version(2)

    run(go())


def test_pruning_drops_the_version_below_one_that_arrived_after_its_successor(tmp_path):
    """Seq 2 replaces seq 0, then seq 1 arrives and goes between them: 0's dead marker
    must name 1, or the pass that holds 0 back for 2's sake never lets it go."""
    def op(seq, version):
        o = ops.Operation(ops.INDEX, seq, 1, version, "a", b"{}")
        return (o, ops.encode(o), None)

    def lease(seq):
        return RetentionLeases(1, seq, (RetentionLease("peer_recovery/n", seq, 0, "peer recovery"),))

    async def go():
        e = await opened(tmp_path)
        e.apply_operations([op(0, 1)])
        e.apply_operations([op(2, 3)])
        e.apply_operations([op(1, 2)])
        await e.flush(force=True)
        e.translog.global_checkpoint, e.retention_leases = 1, lease(2)
        await e.prune_history()  # [0, 2): 1 is replaced by 2, above the global checkpoint
        e.translog.global_checkpoint, e.retention_leases = 2, lease(3)
        await e.prune_history()
        assert seq_nos(e) == [2] and e.get("a").seq_no == 2
        await e.close()

    run(go())
