"""The translog: a write-ahead log of shard operations in numbered generations.

Files in the translog folder:
  translog-<generation>.tlog   header, then records: u32 length | u32 crc32 | payload
  translog.ckp                 two checkpoint slots, written alternately and fsynced

The checkpoint says which generation is current, how many of its bytes were synced and
which generations are still needed. Everything below the synced offset was acknowledged
and must read back intact: a bad record there is corruption and fails the shard. Bytes
past the synced offset were never promised to anyone, so a torn record there is cut off.

Threading: `append` and the generation switch run on the event loop; fsync and checkpoint
writes run in an executor, serialized by an asyncio lock so concurrent `sync` calls
coalesce into one fsync (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import struct
import uuid
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from ..common.errors import StrataError, TranslogCorrupted
from ..common.files import fsync_dir
from ..common.to_the_end import on_thread, to_the_end

log = logging.getLogger(__name__)

MAGIC = b"STLG\x01"
HEADER = struct.Struct("<5s16sQ")  # magic, translog uuid, generation
RECORD = struct.Struct("<II")  # payload length, crc32 of payload
CHECKPOINT = struct.Struct("<QQQQqqqQ16s")  # see Checkpoint fields, in order
SLOT_SIZE = 128
FILE_RE = re.compile(r"^translog-(\d+)\.tlog$")
MAX_RECORD = 512 * 1024 * 1024


class TranslogFailed(StrataError):
    """An fsync or checkpoint write failed: nothing appended since the last good sync can
    be proven durable, so the translog refuses every further append and sync (a tragic
    event, in Elasticsearch's words)."""

    type = "translog_exception"
    status = 500


@dataclass(frozen=True)
class Checkpoint:
    counter: int  # which slot write is newest
    generation: int
    offset: int  # synced bytes of the current generation
    num_ops: int
    min_seq_no: int
    max_seq_no: int
    global_checkpoint: int
    min_generation: int
    translog_uuid: bytes

    def encode(self) -> bytes:
        body = CHECKPOINT.pack(self.counter, self.generation, self.offset, self.num_ops,
                               self.min_seq_no, self.max_seq_no, self.global_checkpoint,
                               self.min_generation, self.translog_uuid)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def decode(cls, data: bytes) -> Checkpoint | None:
        body, crc = data[: CHECKPOINT.size], data[CHECKPOINT.size: CHECKPOINT.size + 4]
        if len(crc) < 4 or struct.unpack("<I", crc)[0] != zlib.crc32(body):
            return None
        return cls(*CHECKPOINT.unpack(body))



class _Writer:
    """The open file of one generation."""

    def __init__(self, path: Path, generation: int, fd: int, offset: int):
        self.path = path
        self.generation = generation
        self.fd = fd
        self.offset = offset  # bytes written (maybe not synced)
        self.synced_offset = offset
        self.num_ops = 0
        self.min_seq_no = -1
        self.max_seq_no = -1


class Translog:
    def __init__(self, path: Path, translog_uuid: bytes, checkpoint: Checkpoint, writer: _Writer):
        self.path = path
        self.translog_uuid = translog_uuid
        self._checkpoint = checkpoint
        self._writer = writer
        self._sync_lock = asyncio.Lock()
        self._closed = False
        self._tragic: BaseException | None = None
        self.global_checkpoint = checkpoint.global_checkpoint
        # Sizes of the finished generations, so the flush-by-size check on every write
        # needs no stat() calls. Built here (in the executor that opens the translog).
        self._sizes: dict[int, int] = {}
        for f in path.iterdir():
            m = FILE_RE.match(f.name)
            if m and int(m.group(1)) < writer.generation:
                self._sizes[int(m.group(1))] = f.stat().st_size
        # Operations of the finished generations (what translog stats count), by generation.
        self._ops: dict[int, int] = {}

    # -- creation and opening (blocking: call from an executor) ------------------------

    @classmethod
    def create(cls, path: Path, *, global_checkpoint: int = -1) -> Translog:
        """A new, empty translog in an empty (or missing) folder."""
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.iterdir():
            stale.unlink()
        translog_uuid = uuid.uuid4().bytes
        writer = cls._new_generation_file(path, translog_uuid, 1)
        ckp = Checkpoint(0, 1, writer.offset, 0, -1, -1, global_checkpoint, 1, translog_uuid)
        cls._write_checkpoint(path, ckp)
        fsync_dir(path)
        return cls(path, translog_uuid, ckp, writer)

    @classmethod
    def open(cls, path: Path) -> tuple[Translog, list[bytes]]:
        """Open an existing translog: validate every generation, cut a torn tail, start a
        new generation, and return the payloads of all retained operations in order."""
        translog, generations = cls.open_by_generation(path)
        return translog, [p for _, payloads in generations for p in payloads]

    @classmethod
    def open_by_generation(cls, path: Path) -> tuple[Translog, list[tuple[int, list[bytes]]]]:
        """`open`, with the payloads of each generation under its number (a rolled-back
        operation is skipped only in the generations written before its rollback)."""
        ckp = cls._read_checkpoint(path)
        payloads: list[tuple[int, list[bytes]]] = []
        generations = sorted(
            int(m.group(1)) for f in path.iterdir() if (m := FILE_RE.match(f.name))
        )
        for gen in range(ckp.min_generation, ckp.generation + 1):
            if gen not in generations:
                raise TranslogCorrupted(f"translog file for generation [{gen}] is missing in [{path}]")
        last_gen = ckp.generation
        for gen in generations:
            file = path / f"translog-{gen}.tlog"
            if gen < ckp.min_generation:
                file.unlink()  # trimmed but not yet deleted
                continue
            if gen > last_gen + 1:
                # A generation after a gap (or after one dropped below): never checkpointed,
                # so never acknowledged. Kept, it would leave a hole in the range of
                # generations the next checkpoint says exist.
                log.warning("translog [%s]: dropping generation [%d], never checkpointed", file, gen)
                file.unlink()
                continue
            # Bytes below this mark were acknowledged; a generation before the current
            # one was fully synced before the checkpoint moved past it.
            if gen < ckp.generation:
                strict_until = None
            elif gen == ckp.generation:
                strict_until = ckp.offset
            else:
                strict_until = 0  # created by a roll whose checkpoint never landed
            records = cls._read_generation(path, gen, ckp.translog_uuid, strict_until)
            if records is None:  # a roll died before the file had its header: dropped
                continue
            payloads.append((gen, records))
            last_gen = max(last_gen, gen)
        next_gen = last_gen + 1
        writer = cls._new_generation_file(path, ckp.translog_uuid, next_gen)
        ckp = replace(ckp, counter=ckp.counter + 1, generation=next_gen, offset=writer.offset,
                      num_ops=0, min_seq_no=-1, max_seq_no=-1)
        cls._write_checkpoint(path, ckp)
        fsync_dir(path)
        translog = cls(path, ckp.translog_uuid, ckp, writer)
        translog._ops = {gen: len(records) for gen, records in payloads}
        return translog, payloads

    @staticmethod
    def _new_generation_file(path: Path, translog_uuid: bytes, generation: int) -> _Writer:
        file = path / f"translog-{generation}.tlog"
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        header = HEADER.pack(MAGIC, translog_uuid, generation)
        os.write(fd, header)
        os.fsync(fd)
        return _Writer(file, generation, fd, len(header))

    @staticmethod
    def _read_checkpoint(path: Path) -> Checkpoint:
        try:
            data = (path / "translog.ckp").read_bytes()
        except FileNotFoundError:
            raise TranslogCorrupted(f"translog checkpoint [{path / 'translog.ckp'}] is missing") from None
        slots = [Checkpoint.decode(data[i: i + SLOT_SIZE]) for i in (0, SLOT_SIZE)]
        valid = [c for c in slots if c is not None]
        if not valid:
            raise TranslogCorrupted(f"translog checkpoint [{path / 'translog.ckp'}] is corrupted")
        return max(valid, key=lambda c: c.counter)

    @staticmethod
    def _write_checkpoint(path: Path, ckp: Checkpoint) -> None:
        file = path / "translog.ckp"
        fd = os.open(file, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, ckp.encode().ljust(SLOT_SIZE, b"\0"), (ckp.counter % 2) * SLOT_SIZE)
            os.fdatasync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _read_generation(path: Path, gen: int, translog_uuid: bytes,
                         strict_until: int | None) -> list[bytes] | None:
        """The records of one generation; None when the file was a roll's empty leftover
        and has been deleted. Generations that may hold unsynced bytes are fsynced once
        read, since the checkpoint written next makes them older generations, which must
        read back whole."""
        file = path / f"translog-{gen}.tlog"
        data = file.read_bytes()
        where = f"translog [{file}]"
        if len(data) < HEADER.size:
            if strict_until == 0:
                file.unlink()
                return None
            raise TranslogCorrupted(f"{where} has a truncated header")
        magic, file_uuid, file_gen = HEADER.unpack_from(data)
        if magic != MAGIC or file_uuid != translog_uuid or file_gen != gen:
            if strict_until == 0:  # never checkpointed: a roll that died writing its header
                file.unlink()
                return None
            raise TranslogCorrupted(f"{where} has a header that does not belong to this translog")
        if strict_until and len(data) < strict_until:
            raise TranslogCorrupted(f"{where} is shorter than its synced length [{strict_until}]")
        payloads = []
        pos = HEADER.size
        while pos < len(data):
            problem = None
            if pos + RECORD.size > len(data):
                problem = "a truncated record header"
            else:
                length, crc = RECORD.unpack_from(data, pos)
                end = pos + RECORD.size + length
                if length == 0:
                    # No operation encodes to nothing, and zeros pass the checksum (the CRC of
                    # nothing is 0): a file grown past its synced data reads back zero-filled
                    # after a power loss.
                    problem = "an empty record"
                elif length > MAX_RECORD or end > len(data):
                    problem = "a truncated record"
                elif zlib.crc32(data[pos + RECORD.size: end]) != crc:
                    problem = "a record with a bad checksum"
            if problem is not None:
                if strict_until is None or pos < strict_until:
                    raise TranslogCorrupted(f"{where} is corrupted: {problem} at offset [{pos}]")
                log.warning("%s: truncating torn tail at offset [%d] (%s), beyond the last sync",
                            where, pos, problem)
                with open(file, "r+b") as f:
                    f.truncate(pos)
                    os.fsync(f.fileno())
                break
            payloads.append(data[pos + RECORD.size: end])
            pos = end
        if strict_until is not None:
            with open(file, "rb") as f:
                os.fsync(f.fileno())
        return payloads

    # -- writing (event loop) -----------------------------------------------------------

    def _check_usable(self) -> None:
        if self._tragic is not None:
            raise TranslogFailed(f"translog [{self.path}] failed earlier and refuses further work",
                                 caused_by=self._tragic)
        if self._closed:
            raise TranslogFailed(f"translog [{self.path}] is closed")

    def _failed(self, error: BaseException) -> TranslogFailed:
        if self._tragic is None:
            self._tragic = error
        return TranslogFailed(f"translog [{self.path}] failed: {error}", caused_by=error)

    def append(self, payloads: list[bytes], min_seq_no: int, max_seq_no: int) -> None:
        """Append operations to the current generation (not yet durable: call sync)."""
        self._check_usable()
        parts = []
        for p in payloads:
            parts.append(RECORD.pack(len(p), zlib.crc32(p)))
            parts.append(p)
        buf = b"".join(parts)
        w = self._writer
        try:
            written = os.write(w.fd, buf)
            while written < len(buf):  # os.write may write partially on a full disk
                written += os.write(w.fd, buf[written:])
        except Exception as e:
            # Part of the batch may be in the file past `offset`. A roll or close after this
            # would fsync it and checkpoint the generation as whole, and reading it back
            # would then fail the shard: cut it off, and refuse all further work.
            try:
                os.ftruncate(w.fd, w.offset)
            except OSError as cut:
                log.error("translog [%s]: could not cut a partial append off generation [%d]: %s",
                          self.path, w.generation, cut)
            raise self._failed(e) from e
        w.offset += len(buf)
        w.num_ops += len(payloads)
        w.min_seq_no = min_seq_no if w.min_seq_no < 0 else min(w.min_seq_no, min_seq_no)
        w.max_seq_no = max(w.max_seq_no, max_seq_no)

    @property
    def current_generation(self) -> int:
        return self._writer.generation

    def size_in_bytes(self, from_generation: int) -> int:
        return self._writer.offset + sum(size for gen, size in self._sizes.items() if gen >= from_generation)

    def operations(self, from_generation: int) -> int:
        """Operations in the generations from `from_generation` on (the current one's
        appends included)."""
        return self._writer.num_ops + sum(n for gen, n in self._ops.items() if gen >= from_generation)

    def current_generation_size(self) -> int:
        return self._writer.offset

    def needs_sync(self) -> bool:
        w = self._writer
        return w.synced_offset < w.offset or self._checkpoint.global_checkpoint != self.global_checkpoint

    # sync, roll_generation, trim_below and aclose each run to the end (to_the_end) even
    # when their caller is cancelled: the files change on a thread, then the writer and
    # checkpoint held here must follow, or the next step works from a stale record (a roll
    # would create the same generation's file again).

    async def sync(self) -> None:
        """Make every appended operation durable: fsync the file, then the checkpoint.
        After a failed fsync nothing is durable for sure any more, so this raises from
        then on; after an `aclose` that synced everything appended it returns, and after
        one that did not (a failed engine closes without syncing) it raises: what was
        appended since the last sync may never reach the disk, and must not be
        acknowledged (ES's ensureSynced on a closed translog)."""
        await to_the_end(self._sync(), f"sync of translog [{self.path}]")

    async def _sync(self) -> None:
        async with self._sync_lock:
            if self._tragic is not None:
                self._check_usable()
            if not self.needs_sync():
                return
            if self._closed:
                raise TranslogFailed(f"translog [{self.path}] is closed with operations it never synced")
            w = self._writer
            ckp = self._checkpoint_for(w, w.offset)
            try:
                await on_thread(None, self._sync_blocking, w.fd, ckp)
            except Exception as e:
                raise self._failed(e) from e
            w.synced_offset = ckp.offset
            self._checkpoint = ckp

    def _checkpoint_for(self, w: _Writer, offset: int, min_generation: int | None = None) -> Checkpoint:
        c = self._checkpoint
        return Checkpoint(c.counter + 1, w.generation, offset, w.num_ops, w.min_seq_no,
                          w.max_seq_no, self.global_checkpoint,
                          c.min_generation if min_generation is None else min_generation,
                          self.translog_uuid)

    def _sync_blocking(self, fd: int, ckp: Checkpoint) -> None:
        os.fsync(fd)
        self._write_checkpoint(self.path, ckp)

    async def roll_generation(self) -> int:
        """Start a new generation; returns its number. Everything appended before the
        call is in older, synced generations afterwards."""
        return await to_the_end(self._roll_generation(), f"roll of translog [{self.path}]")

    async def _roll_generation(self) -> int:
        async with self._sync_lock:
            self._check_usable()
            old = self._writer
            new = await on_thread(None, self._new_generation_file, self.path, self.translog_uuid,
                                  old.generation + 1)
            if self._tragic is not None:  # an append failed while the file was made
                os.close(new.fd)
                self._check_usable()
            self._writer = new  # appends from here on go to the new generation
            self._sizes[old.generation] = old.offset
            self._ops[old.generation] = old.num_ops
            ckp = self._checkpoint_for(new, new.offset)

            def finish() -> None:
                try:
                    # Only whole appends count: the checkpoint declares the file this long.
                    os.ftruncate(old.fd, old.offset)
                    os.fsync(old.fd)  # the old generation must be whole before the checkpoint leaves it
                finally:
                    os.close(old.fd)
                fsync_dir(self.path)
                self._write_checkpoint(self.path, ckp)

            try:
                await on_thread(None, finish)
            except Exception as e:
                # Appends waiting for a sync went to the old generation, which may not be
                # on disk: none of them may be acknowledged.
                raise self._failed(e) from e
            self._checkpoint = ckp
            return new.generation

    async def trim_below(self, generation: int) -> None:
        """Forget generations older than `generation` (their operations are committed)."""
        await to_the_end(self._trim_below(generation), f"trim of translog [{self.path}]")

    async def _trim_below(self, generation: int) -> None:
        async with self._sync_lock:
            self._check_usable()
            if generation <= self._checkpoint.min_generation:
                return
            w = self._writer
            ckp = self._checkpoint_for(w, w.synced_offset, min_generation=generation)

            def trim() -> None:
                self._write_checkpoint(self.path, ckp)
                for f in self.path.iterdir():
                    m = FILE_RE.match(f.name)
                    if m and int(m.group(1)) < generation:
                        f.unlink()

            try:
                await on_thread(None, trim)
            except Exception as e:
                raise self._failed(e) from e
            self._checkpoint = ckp
            self._sizes = {gen: size for gen, size in self._sizes.items() if gen >= generation}
            self._ops = {gen: n for gen, n in self._ops.items() if gen >= generation}

    async def aclose(self, sync: bool = True) -> None:
        """Close once any sync, roll or trim in progress is done (they use the file),
        syncing whatever was appended since the last sync, so that a request still
        waiting for its sync is durable when that sync returns."""
        await to_the_end(self._aclose(sync), f"close of translog [{self.path}]")

    async def _aclose(self, sync: bool) -> None:
        async with self._sync_lock:
            if self._closed:
                return
            self._closed = True
            w = self._writer
            try:
                if sync and self._tragic is None and self.needs_sync():
                    ckp = self._checkpoint_for(w, w.offset)
                    await on_thread(None, self._sync_blocking, w.fd, ckp)
                    w.synced_offset = ckp.offset
                    self._checkpoint = ckp
            except Exception as e:
                raise self._failed(e) from e
            finally:
                os.close(w.fd)

    def close(self) -> None:
        """Close at once, without syncing (tests; a translog that never served writes)."""
        if not self._closed:
            self._closed = True
            os.close(self._writer.fd)

    @property
    def min_generation(self) -> int:
        return self._checkpoint.min_generation
