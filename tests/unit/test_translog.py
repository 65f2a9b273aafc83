"""The translog keeps every synced operation, cuts only an unsynced torn tail, and fails
loudly on damage anywhere else."""

import asyncio
import os
import time
from pathlib import Path

import pytest

from strata_node.common.errors import TranslogCorrupted
from strata_node.engine.translog import HEADER, RECORD, Translog, TranslogFailed
from tests.support.held_step import HeldStep


def run(coro):
    return asyncio.run(coro)


def write_synced(path: Path, batches: list[list[bytes]]) -> None:
    async def go():
        t = await asyncio.to_thread(Translog.create, path)
        seq = 0
        for batch in batches:
            t.append(batch, seq, seq + len(batch) - 1)
            seq += len(batch)
            await t.sync()
        t.close()

    run(go())


def test_reopen_returns_every_synced_operation_in_order(tmp_path):
    write_synced(tmp_path, [[b"a", b"b"], [b"c"]])
    t, ops = Translog.open(tmp_path)
    assert ops == [b"a", b"b", b"c"]
    t.close()


def test_reopen_starts_a_new_generation(tmp_path):
    write_synced(tmp_path, [[b"a"]])
    t, _ = Translog.open(tmp_path)
    assert t.current_generation == 2
    t.close()
    t, ops = Translog.open(tmp_path)
    assert ops == [b"a"] and t.current_generation == 3
    t.close()


def test_torn_record_after_the_last_sync_is_truncated(tmp_path):
    write_synced(tmp_path, [[b"first", b"second"]])
    file = tmp_path / "translog-1.tlog"
    with open(file, "ab") as f:  # a record whose write was cut short by a crash
        f.write(RECORD.pack(100, 0) + b"partial")
    t, ops = Translog.open(tmp_path)
    assert ops == [b"first", b"second"]
    t.close()
    size_after_repair = file.stat().st_size
    assert size_after_repair == HEADER.size + 2 * RECORD.size + len(b"first") + len(b"second")


def test_a_zero_filled_tail_after_the_last_sync_is_cut_as_torn(tmp_path):
    """A file grown past its synced data reads back zero-filled after a power loss; zeros
    pass the checksum (the CRC of nothing is 0) but no operation is empty."""
    write_synced(tmp_path, [[b"first"]])
    file = tmp_path / "translog-1.tlog"
    with open(file, "ab") as f:
        f.write(b"\x00" * 64)
    t, ops = Translog.open(tmp_path)
    assert ops == [b"first"]
    t.close()
    assert file.stat().st_size == HEADER.size + RECORD.size + len(b"first")


def test_an_empty_record_within_the_synced_length_fails_loudly(tmp_path):
    write_synced(tmp_path, [[b"first", b""]])
    with pytest.raises(TranslogCorrupted, match="an empty record"):
        Translog.open(tmp_path)


def test_a_sync_after_a_close_that_did_not_sync_raises_rather_than_returning(tmp_path):
    """A failed engine closes its translog unsynced: a request still waiting to sync what
    it appended must not be acknowledged."""
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a"], 0, 0)
        await t.aclose(sync=False)
        with pytest.raises(TranslogFailed, match="never synced"):
            await t.sync()

    run(go())


def test_a_sync_after_a_close_that_synced_everything_returns(tmp_path):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a"], 0, 0)
        await t.aclose()
        await t.sync()

    run(go())


def test_valid_records_written_after_the_last_sync_are_kept(tmp_path):
    write_synced(tmp_path, [[b"synced"]])

    async def append_unsynced():
        t, _ = await asyncio.to_thread(Translog.open, tmp_path)
        t.append([b"unsynced"], 1, 1)
        t.close()

    run(append_unsynced())
    t, ops = Translog.open(tmp_path)
    assert ops == [b"synced", b"unsynced"]
    t.close()


def test_bad_checksum_in_a_synced_record_fails_loudly(tmp_path):
    write_synced(tmp_path, [[b"aaaa", b"bbbb"], [b"cccc"]])
    file = tmp_path / "translog-1.tlog"
    data = bytearray(file.read_bytes())
    data[HEADER.size + RECORD.size] ^= 0xFF  # flip a byte of the first payload
    file.write_bytes(bytes(data))
    with pytest.raises(TranslogCorrupted, match="bad checksum at offset"):
        Translog.open(tmp_path)


def test_a_synced_file_cut_short_fails_loudly(tmp_path):
    write_synced(tmp_path, [[b"aaaa", b"bbbb"]])
    file = tmp_path / "translog-1.tlog"
    os.truncate(file, file.stat().st_size - 2)
    with pytest.raises(TranslogCorrupted, match="shorter than its synced length"):
        Translog.open(tmp_path)


def test_a_damaged_checkpoint_slot_falls_back_to_the_other(tmp_path):
    write_synced(tmp_path, [[b"a"], [b"b"]])
    ckp = tmp_path / "translog.ckp"
    data = bytearray(ckp.read_bytes())
    newest = 0 if data[0] >= data[128] else 128  # counters are little-endian, small here
    data[newest + 8] ^= 0xFF
    ckp.write_bytes(bytes(data))
    t, ops = Translog.open(tmp_path)
    # The older slot synced only the first batch; the second batch is past its offset but
    # whole, so it is still read back.
    assert ops == [b"a", b"b"]
    t.close()


def test_missing_checkpoint_fails_loudly(tmp_path):
    write_synced(tmp_path, [[b"a"]])
    (tmp_path / "translog.ckp").unlink()
    with pytest.raises(TranslogCorrupted, match="missing"):
        Translog.open(tmp_path)


def test_roll_and_trim_drop_old_generations(tmp_path):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"old"], 0, 0)
        gen = await t.roll_generation()
        t.append([b"new"], 1, 1)
        await t.sync()
        await t.trim_below(gen)
        t.close()
        return gen

    gen = run(go())
    assert not (tmp_path / "translog-1.tlog").exists()
    t, ops = Translog.open(tmp_path)
    assert ops == [b"new"] and gen == 2
    t.close()


def test_concurrent_syncs_coalesce_and_all_return_durable(tmp_path):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        for i in range(50):
            t.append([str(i).encode()], i, i)
        await asyncio.gather(*(t.sync() for _ in range(10)))
        assert not t.needs_sync()
        t.close()

    run(go())
    t, ops = Translog.open(tmp_path)
    assert ops == [str(i).encode() for i in range(50)]
    t.close()


def test_a_roll_that_died_before_writing_its_header_does_not_break_later_opens(tmp_path):
    """kill -9 between creating the next generation's file and writing its header leaves
    an empty file past the checkpoint. It must go without leaving a hole in the range
    of generations the next checkpoint names, or the open after next fails."""
    write_synced(tmp_path, [[b"a"]])
    (tmp_path / "translog-2.tlog").write_bytes(b"")
    for _ in range(3):
        t, ops = Translog.open(tmp_path)
        assert ops == [b"a"]
        t.close()


def test_a_generation_past_the_checkpoint_with_a_garbled_header_is_dropped(tmp_path):
    """Power lost while a roll wrote its header: the file may hold zeros instead."""
    write_synced(tmp_path, [[b"a"]])
    (tmp_path / "translog-2.tlog").write_bytes(b"\0" * HEADER.size)
    for _ in range(2):
        t, ops = Translog.open(tmp_path)
        assert ops == [b"a"]
        t.close()


def test_generations_past_a_gap_above_the_checkpoint_are_dropped(tmp_path):
    write_synced(tmp_path, [[b"a"]])
    (tmp_path / "translog-2.tlog").write_bytes(b"")  # a roll cut short
    (tmp_path / "translog-3.tlog").write_bytes(HEADER.pack(b"STLG\x01", b"\0" * 16, 3))  # never checkpointed
    t, ops = Translog.open(tmp_path)
    t.close()
    t, ops = Translog.open(tmp_path)
    assert ops == [b"a"]
    t.close()


def test_open_fsyncs_unsynced_records_before_they_become_an_older_generation(tmp_path, monkeypatch):
    """Records written after the last sync are kept by open, whose checkpoint then makes
    their generation an older one, which must read back whole: so open syncs them."""
    write_synced(tmp_path, [[b"synced"]])

    async def append_unsynced():
        t, _ = await asyncio.to_thread(Translog.open, tmp_path)
        t.append([b"unsynced"], 1, 1)
        t.close()

    run(append_unsynced())
    synced_files = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced_files.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    t, ops = Translog.open(tmp_path)
    t.close()
    assert ops == [b"synced", b"unsynced"]
    assert str(tmp_path / "translog-2.tlog") in synced_files


def test_a_failed_fsync_while_rolling_fails_every_later_sync(tmp_path, monkeypatch):
    """Appends waiting for a sync went to the old generation; if its fsync fails they
    are not durable, so the sync they wait for must not return as if they were."""
    real_fsync = os.fsync

    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"waiting for its sync"], 0, 0)

        def failing_fsync(fd):
            if os.readlink(f"/proc/self/fd/{fd}").endswith("translog-1.tlog"):
                raise OSError(5, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(TranslogFailed):
            await t.roll_generation()
        monkeypatch.setattr(os, "fsync", real_fsync)
        with pytest.raises(TranslogFailed):
            await t.sync()
        with pytest.raises(TranslogFailed):
            t.append([b"more"], 1, 1)
        await t.aclose()

    run(go())


def test_close_waits_for_a_sync_in_progress_and_syncs_what_was_appended(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def slow_fsync(fd):
        time.sleep(0.2)
        real_fsync(fd)

    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a"], 0, 0)
        monkeypatch.setattr(os, "fsync", slow_fsync)
        in_flight = asyncio.create_task(t.sync())
        await asyncio.sleep(0.05)  # the sync is inside its fsync now
        t.append([b"b"], 1, 1)
        await t.aclose()
        await in_flight  # its file was not closed under it
        assert not t.needs_sync()

    run(go())
    t, ops = Translog.open(tmp_path)
    assert ops == [b"a", b"b"]
    t.close()


def test_size_counts_the_generations_from_the_one_asked_without_touching_the_disk(tmp_path):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"x" * 100], 0, 0)
        first = await t.roll_generation()
        t.append([b"y" * 50], 1, 1)
        whole = t.size_in_bytes(1)
        assert whole == (tmp_path / "translog-1.tlog").stat().st_size + t.current_generation_size()
        assert t.size_in_bytes(first) == t.current_generation_size()
        await t.sync()
        await t.trim_below(first)
        assert t.size_in_bytes(1) == t.current_generation_size()
        await t.aclose()

    run(go())


def test_a_sync_whose_caller_was_cancelled_during_its_fsync_still_records_it(tmp_path, monkeypatch):
    """The fsync and the checkpoint land on their thread whatever the caller does; the
    record of them must follow, or the next sync rewrites the newest checkpoint's slot
    and a torn write of it leaves only an older one."""
    real_fsync = os.fsync
    held = HeldStep(real_fsync)

    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a"], 0, 0)
        monkeypatch.setattr(os, "fsync", held)
        await held.cancel_midway(t.sync())
        assert not t.needs_sync()
        await t.aclose()

    run(go())


def test_a_roll_whose_caller_was_cancelled_while_creating_the_file_switches_to_it(tmp_path, monkeypatch):
    """Cut off between creating the next generation's file and switching to it, the
    translog went on writing the old one, and the next roll made the same file again."""
    real_new = Translog._new_generation_file
    held = HeldStep(real_new)

    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a"], 0, 0)
        monkeypatch.setattr(Translog, "_new_generation_file", staticmethod(held))
        await held.cancel_midway(t.roll_generation())
        assert t.current_generation == 2
        t.append([b"b"], 1, 1)
        assert await t.roll_generation() == 3
        await t.aclose()

    run(go())
    t, ops = Translog.open(tmp_path)
    assert ops == [b"a", b"b"]
    t.close()


def _write_half_then_fail(monkeypatch):
    """os.write as a full disk does it: part of the buffer, then ENOSPC."""
    import errno

    from strata_node.engine import translog as translog_module

    real_write = os.write
    calls = []

    def write(fd, buf):
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(buf)[: len(buf) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(translog_module.os, "write", write)
    return lambda: monkeypatch.setattr(translog_module.os, "write", real_write)


def test_an_append_cut_short_by_a_full_disk_fails_the_translog_and_leaves_only_whole_records(tmp_path,
                                                                                          monkeypatch):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"kept"], 0, 0)
        await t.sync()
        restore = _write_half_then_fail(monkeypatch)
        with pytest.raises(TranslogFailed):
            t.append([b"x" * 100], 1, 1)
        restore()
        with pytest.raises(TranslogFailed):  # tragic: nothing more is taken or acknowledged
            t.append([b"later"], 2, 2)
        assert (tmp_path / "translog-1.tlog").stat().st_size == HEADER.size + RECORD.size + len(b"kept")
        t.close()

    run(go())
    t, ops = Translog.open(tmp_path)
    assert ops == [b"kept"]
    t.close()


def test_an_append_cut_short_while_a_roll_makes_its_file_leaves_a_translog_that_opens(tmp_path, monkeypatch):
    """The roll went on to fsync the old generation, junk included, and checkpointed it as
    whole: the shard then refused to open over its acknowledged writes."""
    real_new = Translog._new_generation_file
    held = HeldStep(real_new)

    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"acknowledged"], 0, 0)
        await t.sync()
        monkeypatch.setattr(Translog, "_new_generation_file", staticmethod(held))
        roll = asyncio.ensure_future(t.roll_generation())
        await held.until_started()
        restore = _write_half_then_fail(monkeypatch)
        with pytest.raises(TranslogFailed):
            t.append([b"y" * 100], 1, 1)
        restore()
        held.release.set()
        with pytest.raises(TranslogFailed):
            await roll
        t.close()

    run(go())
    t, ops = Translog.open(tmp_path)
    assert ops == [b"acknowledged"]
    t.close()
