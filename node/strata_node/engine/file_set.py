"""A consistent set of a live LevelDB store's files, what file-based peer recovery sends
(DESIGN.md: table files never change once written, like Lucene segments).

LevelDB has no checkpoint call, and closing a primary's store would fail every reader
and writer of the shard meanwhile, so the set is taken with the store open:

1. The memtable is written out (a compaction of an empty key range past every key), so
   every write applied before the call is in a table file the MANIFEST names. Writes
   after it go to a new log file, which the set leaves out: the set is the store as of
   that flush (or of a later one), and the operations after it are replayed.
2. CURRENT and the MANIFEST are *copied* (the MANIFEST is appended to; a hard link would
   go on growing). A record cut off at the end is what a crash leaves, and LevelDB's
   recovery ignores it, as `live_tables` does.
3. The table files the copied MANIFEST names are hard-linked: a compaction may delete
   them from the store from then on, the links keep them. A table named by the copy but
   already deleted (a compaction finished between 2 and 3) makes the attempt start over.

The folder so made opens as a LevelDB store holding every operation up to the local
checkpoint read before step 1.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

# LevelDB's log format: 32 KiB blocks of records, each with a 7-byte header
# (crc32c:4, length:2, type:1); a record larger than a block is split in fragments.
BLOCK_SIZE = 32 * 1024
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# VersionEdit tags (leveldb db/version_edit.cc).
COMPARATOR, LOG_NUMBER, NEXT_FILE_NUMBER, LAST_SEQUENCE, COMPACT_POINTER = 1, 2, 3, 4, 5
DELETED_FILE, NEW_FILE, PREV_LOG_NUMBER = 6, 7, 9
TABLE_SUFFIXES = (".ldb", ".sst")
ATTEMPTS = 20


class FileSetError(Exception):
    """The store's files did not make a consistent set (a compaction kept racing)."""


def manifest_records(data: bytes) -> list[bytes]:
    """The whole records of a MANIFEST's bytes, in order; a record cut off at the end
    (the copy caught it being appended) is dropped, as LevelDB's reader drops it."""
    records: list[bytes] = []
    pending: list[bytes] | None = None
    offset = 0
    while offset + HEADER_SIZE <= len(data):
        left_in_block = BLOCK_SIZE - offset % BLOCK_SIZE
        if left_in_block < HEADER_SIZE:  # a block's trailer is zero padding
            offset += left_in_block
            continue
        length, kind = struct.unpack_from("<HB", data, offset + 4)
        if kind == 0 and length == 0:  # preallocated zeros: no more records
            break
        end = offset + HEADER_SIZE + length
        if end > len(data):
            break
        fragment = data[offset + HEADER_SIZE:end]
        offset = end
        if kind == FULL:
            records.append(fragment)
            pending = None
        elif kind == FIRST:
            pending = [fragment]
        elif kind in (MIDDLE, LAST) and pending is not None:
            pending.append(fragment)
            if kind == LAST:
                records.append(b"".join(pending))
                pending = None
    return records


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _slice(data: bytes, offset: int) -> int:
    length, offset = _varint(data, offset)
    return offset + length


def live_tables(manifest: bytes) -> set[int]:
    """The numbers of the table files the last whole version of a MANIFEST holds."""
    live: set[tuple[int, int]] = set()
    for record in manifest_records(manifest):
        offset = 0
        while offset < len(record):
            tag, offset = _varint(record, offset)
            if tag == COMPARATOR:
                offset = _slice(record, offset)
            elif tag in (LOG_NUMBER, NEXT_FILE_NUMBER, LAST_SEQUENCE, PREV_LOG_NUMBER):
                _, offset = _varint(record, offset)
            elif tag == COMPACT_POINTER:
                _, offset = _varint(record, offset)
                offset = _slice(record, offset)
            elif tag == DELETED_FILE:
                level, offset = _varint(record, offset)
                number, offset = _varint(record, offset)
                live.discard((level, number))
            elif tag == NEW_FILE:
                level, offset = _varint(record, offset)
                number, offset = _varint(record, offset)
                _, offset = _varint(record, offset)  # file size
                offset = _slice(record, _slice(record, offset))  # smallest and largest keys
                live.add((level, number))
            else:
                raise FileSetError(f"unknown MANIFEST tag [{tag}]")
    return {number for _, number in live}


def table_name(store: Path, number: int) -> str:
    for suffix in TABLE_SUFFIXES:
        name = f"{number:06d}{suffix}"
        if (store / name).exists():
            return name
    return f"{number:06d}.ldb"


def take(store: Path, target: Path, flush_memtable) -> list[str]:
    """Make `target` a consistent copy of the open store at `store` (see the module
    docstring); `flush_memtable()` writes the memtable out. Returns the file names, the
    MANIFEST and CURRENT included. Blocking."""
    for _ in range(ATTEMPTS):
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        flush_memtable()
        current = (store / "CURRENT").read_bytes()
        manifest_name = current.decode().strip()
        manifest = (store / manifest_name).read_bytes()
        if (store / "CURRENT").read_bytes() != current:
            continue  # the store switched MANIFEST meanwhile
        names = [manifest_name, "CURRENT"]
        try:
            for number in sorted(live_tables(manifest)):
                name = table_name(store, number)
                os.link(store / name, target / name)
                names.append(name)
        except FileNotFoundError:
            continue  # compacted away after the MANIFEST was read: take it again
        (target / manifest_name).write_bytes(manifest)
        (target / "CURRENT").write_bytes(current)
        return names
    raise FileSetError(f"no consistent file set of [{store}] after {ATTEMPTS} attempts")
