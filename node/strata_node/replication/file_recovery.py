"""File-based peer recovery (phase one of ES's RecoverySourceHandler): the primary takes a
consistent set of its LevelDB files (engine/file_set.py), hard-linked into a folder the
recovery owns so compactions cannot delete them meanwhile, and sends them to the target
in chunks, several files at a time, throttled by `indices.recovery.max_bytes_per_sec`.

The target writes each file into a staging folder, in order and past the page cache
(common/direct_io.py: nothing reads a staged file before the store opens), with a running
CRC32 that must match the one the source computed as it read the file. Once every file
has arrived (`clean_files`) it syncs them all at once (a sync per file as it completed
would put the disk's latency into every file's round trip), closes its copy, makes the
staged files its store with a fresh translog and a commit point at the set's local
checkpoint, and opens it again. The operations after that checkpoint are then replayed
like any operation-based recovery.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..common.direct_io import pwrite_direct
from ..common.errors import IllegalState
from ..common.files import fsync_path
from ..engine.engine import Engine
from ..index.shard_folders import RECOVERY_SOURCE, RECOVERY_STAGING
from ..tasks.task import Task
from ..transport.wire import Empty, Message

FILES_INFO = "internal:index/shard/recovery/filesInfo"
FILE_CHUNK = "internal:index/shard/recovery/file_chunk"
CLEAN_FILES = "internal:index/shard/recovery/clean_files"
# LevelDB's table files are about 2 MB: most travel whole, in one request each (every
# request costs both event loops about as much as copying a megabyte).
CHUNK_BYTES = 4 * 1024 * 1024
# Files in flight at once: while one chunk travels, others are read, checked and written.
CONCURRENT_FILES = 8
SOURCE_FOLDER = RECOVERY_SOURCE  # + target allocation id, beside the source's store
STAGING_FOLDER = RECOVERY_STAGING  # beside the target's store


class FilesInfoRequest(Message):
    index: str
    index_uuid: str
    shard: int
    target_allocation_id: str
    names: list[str]
    lengths: list[int]


class FileChunkRequest(Message):
    index: str
    index_uuid: str
    shard: int
    target_allocation_id: str
    name: str
    position: int
    data: memoryview  # bytes when sent; a view into the received message, not a copy
    last: bool
    checksum: int = 0  # the whole file's CRC32, on its last chunk


class CleanFilesRequest(Message):
    index: str
    index_uuid: str
    shard: int
    target_allocation_id: str
    local_checkpoint: int
    global_checkpoint: int
    throttle_millis: int = 0  # how long the source held back for max_bytes_per_sec


@dataclass
class Incoming:
    """A target's view of a file set on its way."""

    folder: Path
    lengths: dict[str, int]
    received: dict[str, int] = field(default_factory=dict)  # bytes written, by name
    checksums: dict[str, int] = field(default_factory=dict)  # running CRC32, by name
    complete: set[str] = field(default_factory=set)


# -- source ---------------------------------------------------------------------------------


async def send_file_set(recoveries, request, shard, address: str | None, state, task: Task) -> int:
    """Take, send and install a file set on the target; returns the local checkpoint it
    covers."""
    node = recoveries.node
    executor = node.executors["recovery"]
    engine = shard.engine
    loop = asyncio.get_running_loop()
    folder = shard.path / (SOURCE_FOLDER + request.target_allocation_id)
    state.start_index()
    try:
        names, checkpoint = await engine.take_file_set(folder, executor)
        lengths = await loop.run_in_executor(executor, lambda: [(folder / n).stat().st_size for n in names])
        state.files_total, state.bytes_total = len(names), sum(lengths)
        ids = {"index": request.index, "index_uuid": request.index_uuid, "shard": request.shard,
               "target_allocation_id": request.target_allocation_id}
        await node.transport.execute(FILES_INFO, FilesInfoRequest(**ids, names=names, lengths=lengths),
                                     address=address)
        started = time.monotonic()
        queue = list(zip(names, lengths, strict=True))

        async def send_files() -> None:
            while queue:
                name, length = queue.pop(0)
                position, checksum = 0, 0
                with open(folder / name, "rb") as f:
                    while True:
                        task.ensure_not_cancelled()
                        data, checksum = await loop.run_in_executor(executor, _read_chunk, f.fileno(),
                                                                    position, checksum)
                        last = position + len(data) >= length
                        await node.transport.execute(FILE_CHUNK, FileChunkRequest(
                            **ids, name=name, position=position, data=data, last=last,
                            checksum=checksum if last else 0), address=address)
                        position += len(data)
                        state.bytes_recovered += len(data)
                        await recoveries.throttle(state, started, shard)
                        if last:
                            break
                state.files_recovered += 1

        workers = [asyncio.ensure_future(send_files()) for _ in range(CONCURRENT_FILES)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await node.transport.execute(CLEAN_FILES, CleanFilesRequest(
            **ids, local_checkpoint=checkpoint, global_checkpoint=shard.tracker.global_checkpoint,
            throttle_millis=int(state.throttle_seconds * 1000)),
            address=address)
        state.stop_index()
        return checkpoint
    finally:
        await loop.run_in_executor(executor, shutil.rmtree, folder, True)


# -- target ---------------------------------------------------------------------------------


class FileRecoveryTarget:
    """The target's half: the file sets arriving for this node's recovering copies."""

    def __init__(self, recoveries):
        self.recoveries = recoveries
        self.node = recoveries.node
        self.incoming: dict[str, Incoming] = {}  # by target allocation id

    def register(self) -> None:
        transport = self.node.transport
        transport.register(FILES_INFO, FilesInfoRequest, Empty, self._on_files_info)
        transport.register(FILE_CHUNK, FileChunkRequest, Empty, self._on_chunk)
        transport.register(CLEAN_FILES, CleanFilesRequest, Empty, self._on_clean_files)

    def _recovering(self, request):
        shard = self.node.indices.local_shard(request.index, request.shard, request.index_uuid)
        if shard.primary or shard.allocation_id != request.target_allocation_id:
            raise IllegalState(f"{shard.ref} is not the recovering copy [{request.target_allocation_id}]")
        return shard

    async def _on_files_info(self, request: FilesInfoRequest, task: Task) -> Empty:
        shard = self._recovering(request)
        folder = shard.path / STAGING_FOLDER

        def prepare() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

        await asyncio.get_running_loop().run_in_executor(self.node.executors["recovery"], prepare)
        self.incoming[request.target_allocation_id] = Incoming(
            folder, dict(zip(request.names, request.lengths, strict=True)))
        state = self.recoveries.states.get(request.target_allocation_id)
        if state is not None:  # the store it had (if any) is replaced, not reused
            state.start_index()
            state.reused_operations = state.bytes_reused = 0
            state.files_total, state.bytes_total = len(request.names), sum(request.lengths)
        return Empty()

    async def _on_chunk(self, request: FileChunkRequest, task: Task) -> Empty:
        self._recovering(request)
        incoming = self.incoming.get(request.target_allocation_id)
        if incoming is None or request.name not in incoming.lengths:
            raise IllegalState(f"[{request.index}][{request.shard}] file [{request.name}] is not part of "
                               "the file set being recovered")
        if request.position != incoming.received.get(request.name, 0):
            raise IllegalState(f"[{request.index}][{request.shard}] file [{request.name}] chunk at "
                               f"[{request.position}] arrived out of order")
        # The source sends a file's chunks one after the other, so the running CRC32 and
        # the length received are this file's up to this chunk.
        checksum = await asyncio.get_running_loop().run_in_executor(
            self.node.executors["recovery"], _write_chunk, incoming.folder / request.name, request.position,
            request.data, request.last, incoming.checksums.get(request.name, 0))
        incoming.received[request.name] = request.position + len(request.data)
        incoming.checksums[request.name] = checksum
        if request.last and (checksum != request.checksum
                             or incoming.received[request.name] != incoming.lengths[request.name]):
            raise IllegalState(f"[{request.index}][{request.shard}] file [{request.name}] failed its "
                               f"checksum (expected [{request.checksum}], got [{checksum}], length "
                               f"[{incoming.received[request.name]}] of [{incoming.lengths[request.name]}])")
        if request.last:
            incoming.complete.add(request.name)
        state = self.recoveries.states.get(request.target_allocation_id)
        if state is not None:
            state.bytes_recovered += len(request.data)
            state.files_recovered += int(request.last)
        return Empty()

    async def _on_clean_files(self, request: CleanFilesRequest, task: Task) -> Empty:
        shard = self._recovering(request)
        incoming = self.incoming.pop(request.target_allocation_id, None)
        if incoming is None or incoming.complete != set(incoming.lengths):
            raise IllegalState(f"{shard.ref} file set is incomplete")
        node = self.node
        await _sync_files(incoming.folder, list(incoming.lengths), node.executors["recovery"])
        service = node.indices.indices[request.index]
        n = shard.ref.shard
        async with node.indices.apply_lock:
            if service.local.get(n) is not shard:
                raise IllegalState(f"{shard.ref} copy [{request.target_allocation_id}] was closed while "
                                   "recovering")
            await service.close_shard(n)
            await asyncio.get_running_loop().run_in_executor(
                node.executors["recovery"], Engine.install_file_set, shard.path, incoming.folder,
                request.local_checkpoint, request.global_checkpoint)
            fresh = await service.open_shard(n)
            if fresh.state != "STARTED":
                raise IllegalState(f"{shard.ref} copied store failed to open: {fresh.failure}")
            content = node.coordination.content
            copy = next((c for c in content.routing_table.indices.get(request.index, ())
                         if c.allocation_id == request.target_allocation_id), None)
            if copy is None:
                raise IllegalState(f"{shard.ref} copy [{request.target_allocation_id}] is no longer assigned")
            node.indices.assign_role(service, fresh, copy, content)
        state = self.recoveries.states.get(request.target_allocation_id)
        if state is not None:
            state.throttle_seconds = request.throttle_millis / 1000
            state.stop_index()
            state.start_translog()
        return Empty()


async def _sync_files(folder: Path, names: list[str], executor) -> None:
    """Make the staged files and their names durable before they become the store: the
    files in parallel (the disk takes their writes back together), then the folder."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(executor, fsync_path, folder / name) for name in names))
    await loop.run_in_executor(executor, fsync_path, folder)


def _read_chunk(fd: int, position: int, checksum: int) -> tuple[bytes, int]:
    data = os.pread(fd, CHUNK_BYTES, position)
    return data, zlib.crc32(data, checksum)


def _write_chunk(path: Path, position: int, data: memoryview, last: bool, checksum: int) -> int:
    """Write a chunk where it goes, past the page cache: nothing reads a staged file until
    the store is opened, and the files are synced together at the end. The file's running
    CRC32 with it."""
    pwrite_direct(path, position, data, ends_file=last)
    return zlib.crc32(data, checksum)

