"""A shard's files into a repository and back (Elasticsearch's SnapshotShardsService and
the restore half of BlobStoreRepository).

Snapshot, on the node of the primary: the shard's store is taken as a consistent file
set (engine/file_set.py: every operation up to the set's local checkpoint is in it), and
each file goes to the repository unless a snapshot already committed there holds a file
of the same name, length and CRC32 (LevelDB's table files never change, so most of a
store is shared with the previous snapshot). The shard's `snap-<uuid>.dat` lists the
files; it is written last, so a shard blob names only complete blobs.

Restore, on the node a restored primary is allocated to: the files are copied into a
staging folder and checked against their length and CRC32, then installed as the copy's
store with a fresh translog and a commit point at the snapshot's local checkpoint, the
way a file-based peer recovery installs what it received; the shard then opens as any
other and replicas recover from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..common.errors import IllegalState, StrataError
from ..common.files import fsync_dir
from ..common.to_the_end import on_thread
from ..engine.engine import Engine
from ..index.shard_folders import RESTORE_STAGING, SNAPSHOT_SOURCE
from ..replication.recovery import RecoveryState
from ..tasks.task import Task
from ..transport.wire import Message
from . import repository
from .blobs import BlobContainer, BlobMissing
from .throttle import RESTORE_RATE, SNAPSHOT_RATE, RateLimiter, pace

log = logging.getLogger("strata.snapshots")

SNAPSHOT_SHARD = "internal:cluster/snapshot/shard"
CHECKSUM_BUFFER = 1024 * 1024


class ShardSnapshotRequest(Message):
    repository: str
    definition: bytes  # the repository's definition, JSON
    snapshot: str
    snapshot_uuid: str
    index: str
    index_uuid: str
    index_id: str
    shard: int
    committed: list[str]  # the committed snapshots holding this index: their files may be reused


class ShardSnapshotResponse(Message):
    stats: bytes  # JSON: the shard's `_status` stats


class SnapshotShardFailed(StrataError):
    type = "snapshot_shard_failure"
    status = 500


class CopyStopped(StrataError):
    type = "task_cancelled_exception"
    status = 400


class CopyStop:
    """Tells a copy thread to give up (its coroutine was cancelled, or the node stops):
    `check` runs at every chunk and during a rate's waits."""

    def __init__(self, node, what: str):
        self.node = node
        self.what = what
        self.stopped = False

    def check(self) -> None:
        if self.stopped or self.node.closing.is_set():
            raise CopyStopped(f"{self.what} stopped")


def shard_container(blobs: BlobContainer, index_id: str, shard: int) -> BlobContainer:
    return blobs.child("indices", index_id, str(shard))


class Progress:
    """A shard copy under way: what the task's status shows."""

    def __init__(self, what: str):
        self.what = what
        self.stage = "STARTED"
        self.files_total = self.files_done = 0
        self.bytes_total = self.bytes_done = 0
        self.incremental_files = self.incremental_bytes = 0
        self.throttled = 0.0  # seconds held back by max_snapshot_bytes_per_sec
        self.started = time.time()

    def add(self, n: int) -> None:
        self.bytes_done += n

    def add_throttle(self, seconds: float) -> None:
        self.throttled += seconds

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "what": self.what,
                "files": {"total": self.files_total, "done": self.files_done,
                          "incremental": self.incremental_files},
                "bytes": {"total": self.bytes_total, "done": self.bytes_done,
                          "incremental": self.incremental_bytes},
                "start_time_in_millis": int(self.started * 1000),
                "time_in_millis": int((time.time() - self.started) * 1000),
                "throttle_time_in_millis": int(self.throttled * 1000)}


def file_crc32(path: Path) -> int:
    checksum = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHECKSUM_BUFFER):
            checksum = zlib.crc32(chunk, checksum)
    return checksum


def reusable_blobs(blobs: BlobContainer,
                   committed: list[str]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The files of the committed shard snapshots, by (physical name, length). Blocking."""
    known: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for snapshot_uuid in committed:
        try:
            files = repository.read_json(blobs, f"snap-{snapshot_uuid}.dat")["files"]
        except BlobMissing:
            continue  # the shard failed in that snapshot
        for f in files:
            known.setdefault((f["physical_name"], f["length"]), []).append(f)
    return known


def copy_file(blobs: BlobContainer, folder: Path, name: str, length: int,
              known: dict[tuple[str, int], list[dict[str, Any]]], progress: Progress,
              limiter: RateLimiter, check: Callable[[], None]) -> dict[str, Any]:
    """One file of the set into the repository (at the repository's rate), or the blob a
    committed snapshot holds of it; `check` runs at every chunk and raises to stop the
    copy (an aborted snapshot). Blocking."""
    path = folder / name
    candidates = known.get((name, length))
    if candidates:
        checksum = file_crc32(path)
        for candidate in candidates:
            if candidate["checksum"] == checksum and blobs.exists(candidate["name"]):
                progress.add(length)
                return {"name": candidate["name"], "physical_name": name, "length": length,
                        "checksum": checksum}
    blob = "__" + uuid.uuid4().hex

    def sent(n: int) -> None:
        progress.add(n)
        check()
        pace((limiter,), n, check, on_wait=progress.add_throttle)

    checksum = blobs.write_from_file(blob, path, sent)
    progress.incremental_files += 1
    progress.incremental_bytes += length
    return {"name": blob, "physical_name": name, "length": length, "checksum": checksum}


async def repository_container(node, name: str, definition: dict[str, Any]) -> BlobContainer:
    """Made off the loop (an `fs` location is resolved on what is often a network file
    system), on the metadata pool, which never waits behind rate-held copies."""
    return await asyncio.get_running_loop().run_in_executor(
        node.executors["snapshot_meta"], node.repository_stores.container, name, definition)


def register(node) -> None:
    copies: dict[tuple[str, str, int], asyncio.Task] = {}  # (snapshot, index uuid, shard) -> its copy

    async def on_snapshot_shard(request: ShardSnapshotRequest, task: Task) -> ShardSnapshotResponse:
        """One copy per shard and snapshot: a second request for it (from a new master)
        gets the answer of the copy under way, which also owns the file set's folder."""
        key = (request.snapshot_uuid, request.index_uuid, request.shard)
        running = copies.get(key)
        if running is not None:
            return await asyncio.shield(running)
        copy = asyncio.ensure_future(snapshot_shard(request, task))
        copies[key] = copy
        copy.add_done_callback(lambda _: copies.pop(key, None))
        return await copy

    async def snapshot_shard(request: ShardSnapshotRequest, task: Task) -> ShardSnapshotResponse:
        shard = node.indices.local_shard(request.index, request.shard, request.index_uuid)
        if not shard.primary or shard.state != "STARTED":
            raise IllegalState(f"{shard.ref} is not a started primary on [{node.name}]")
        definition = orjson.loads(request.definition)
        executor = node.executors["snapshot"]
        loop = asyncio.get_running_loop()
        blobs = shard_container(await repository_container(node, request.repository, definition),
                                request.index_id, request.shard)
        progress = Progress(f"[{request.repository}:{request.snapshot}] {shard.ref}")
        task.status = progress.to_json
        folder = shard.path / (SNAPSHOT_SOURCE + request.snapshot_uuid)  # the hard-linked file set

        stop = CopyStop(node, f"[{request.repository}:{request.snapshot}] {shard.ref} snapshot")

        seen_running = False

        def check() -> None:  # also on copy threads: flags and set memberships read atomically
            nonlocal seen_running
            snapshots = node.snapshots
            if request.snapshot_uuid in snapshots.aborted:
                raise SnapshotShardFailed(f"{shard.ref} aborted: the snapshot is being deleted")
            if request.snapshot_uuid in snapshots.running:
                seen_running = True
            elif seen_running:  # removed (aborted and done) before this copy heard of it
                raise SnapshotShardFailed(f"{shard.ref} stopped: the snapshot is no longer running")
            task.ensure_not_cancelled()
            stop.check()

        try:
            check()
            names, checkpoint = await shard.engine.take_file_set(folder, executor)
            lengths = await loop.run_in_executor(executor,
                                                 lambda: [(folder / n).stat().st_size for n in names])
            progress.files_total, progress.bytes_total = len(names), sum(lengths)
            known = await loop.run_in_executor(executor, reusable_blobs, blobs, request.committed)
            limiter = node.snapshot_throttles.repository(request.repository, definition["settings"],
                                                         SNAPSHOT_RATE)
            files = []
            for name, length in zip(names, lengths, strict=True):
                check()
                files.append(await loop.run_in_executor(executor, copy_file, blobs, folder, name, length,
                                                        known, progress, limiter, check))
                progress.files_done += 1
            progress.stage = "FINALIZE"
            stats = {"incremental": {"file_count": progress.incremental_files,
                                     "size_in_bytes": progress.incremental_bytes},
                     "total": {"file_count": progress.files_total, "size_in_bytes": progress.bytes_total},
                     "start_time_in_millis": int(progress.started * 1000),
                     "time_in_millis": int((time.time() - progress.started) * 1000)}
            await loop.run_in_executor(executor, repository.write_json, blobs,
                                       f"snap-{request.snapshot_uuid}.dat",
                                       {"snapshot": request.snapshot, "index": request.index,
                                        "shard": request.shard, "local_checkpoint": checkpoint,
                                        "files": files, "stats": stats})
            progress.stage = "DONE"
            log.info("[%s:%s] %s snapshotted: %d files, %d new (%d bytes)", request.repository,
                     request.snapshot, shard.ref, len(files), progress.incremental_files,
                     progress.incremental_bytes)
            return ShardSnapshotResponse(stats=orjson.dumps(stats))
        except (StrataError, asyncio.CancelledError):
            progress.stage = "FAILURE"
            stop.stopped = True
            raise
        except OSError as e:
            progress.stage = "FAILURE"
            raise SnapshotShardFailed(f"{shard.ref} failed to snapshot: {e}") from None
        finally:
            await loop.run_in_executor(executor, shutil.rmtree, folder, True)

    node.transport.register(SNAPSHOT_SHARD, ShardSnapshotRequest, ShardSnapshotResponse, on_snapshot_shard,
                            cancellable=True)


# -- restore ----------------------------------------------------------------------------------


def prepare_staging(blobs: BlobContainer, snapshot_uuid: str, shard_path: Path,
                    staging: Path) -> dict[str, Any]:
    """The shard's blob of the snapshot, and an empty staging folder. Blocking."""
    shard_blob = repository.read_json(blobs, f"snap-{snapshot_uuid}.dat")
    shard_path.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return shard_blob


def download_file(blobs: BlobContainer, f: dict[str, Any], staging: Path, state: RecoveryState,
                  limiters: list[RateLimiter], check: Callable[[], None]) -> None:
    """One file of the shard into `staging`, checked against its length and CRC32, at
    the slowest of the `limiters`' rates; `check` runs at every chunk and raises to stop
    (a cancelled restore). Blocking."""
    def progress(n: int) -> None:
        state.bytes_recovered += n
        check()
        pace(limiters, n, check, on_wait=state.add_target_throttle)

    target = staging / f["physical_name"]
    checksum = blobs.read_to_file(f["name"], target, progress)
    length = os.stat(target).st_size
    if checksum != f["checksum"] or length != f["length"]:
        raise IllegalState(f"file [{f['physical_name']}] (blob [{f['name']}]) is corrupted in the "
                           f"repository: checksum [{checksum}] length [{length}], expected checksum "
                           f"[{f['checksum']}] length [{f['length']}]")


class Restores:
    """The restores of primaries allocated to this node (one task per copy)."""

    def __init__(self, node):
        self.node = node
        self.running: dict[str, asyncio.Task] = {}  # by allocation id
        # The copies a restore was started for, while they initialize: one attempt each
        # (a failed copy waits for the master to fail it and allocate a new one).
        self.attempted: set[str] = set()

    def cancel_unless(self, initializing: set[str]) -> None:
        """Cancel the restores of copies no longer initializing here (the copy moved, or
        its index was deleted)."""
        for allocation_id, task in list(self.running.items()):
            if allocation_id not in initializing:
                task.cancel()

    def start(self, service, copy) -> None:
        if copy.allocation_id in self.attempted:
            return
        self.attempted.add(copy.allocation_id)
        task = asyncio.get_running_loop().create_task(self._restore(service, copy))
        self.running[copy.allocation_id] = task
        task.add_done_callback(lambda _: self.running.pop(copy.allocation_id, None))

    async def _restore(self, service, copy) -> None:
        node = self.node
        source = service.metadata.restore_source
        n = copy.shard
        state = RecoveryState(service.name, n, "", node.node_id, type="SNAPSHOT", primary=True)
        state.snapshot_source = {"repository": source["repository"], "snapshot": source["snapshot"],
                                 "version": source.get("version", ""), "index": source["index"],
                                 "restoreUUID": source["restore_uuid"]}
        node.recoveries.states[copy.allocation_id] = state
        task = node.tasks.register("internal:index/shard/recovery/restore", type="transport",
                                   cancellable=True,
                                   description=f"[{service.name}][{n}] restore from "
                                               f"[{source['repository']}:{source['snapshot']}]")
        task.status = state.to_json
        loop = asyncio.get_running_loop()
        executor = node.executors["snapshot"]
        shard_path = service.path / str(n)
        staging = shard_path / f"{RESTORE_STAGING}.{copy.allocation_id}"  # the files on their way in
        opened = None
        stop = CopyStop(node, f"[{service.name}][{n}] restore")
        try:
            definition = repository.get(node.coordination.content, source["repository"])
            blobs = shard_container(await repository_container(node, source["repository"], definition),
                                    source["index_id"], n)
            state.start_index()
            shard_blob = await loop.run_in_executor(executor, prepare_staging, blobs, source["snapshot_uuid"],
                                                    shard_path, staging)
            files = shard_blob["files"]
            state.files_total, state.bytes_total = len(files), sum(f["length"] for f in files)
            throttles = node.snapshot_throttles
            for f in files:  # one job per file: the executor serves other reads between them
                task.ensure_not_cancelled()
                # Held to the repository's rate and to recoveries' (as in ES), read per file.
                limiters = [
                    throttles.repository(source["repository"], definition["settings"], RESTORE_RATE),
                    throttles.limiter(("indices.recovery",),
                                      node.cluster_settings.get("indices.recovery.max_bytes_per_sec"))]
                await loop.run_in_executor(executor, download_file, blobs, f, staging, state, limiters,
                                           stop.check)
                state.files_recovered += 1
            await loop.run_in_executor(executor, fsync_dir, staging)
            state.stop_index()
            async with node.indices.apply_lock:
                content = node.coordination.content
                current = next((c for c in content.routing_table.indices.get(service.name, ())
                                if c.allocation_id == copy.allocation_id), None)
                if (current is None or node.indices.indices.get(service.name) is not service
                        or n in service.local):
                    raise IllegalState(f"[{service.name}][{n}] copy [{copy.allocation_id}] was closed while "
                                       "restoring")
                checkpoint = shard_blob["local_checkpoint"]
                # Run to its end even when cancelled: the lock is held until the files are in.
                await on_thread(executor, Engine.install_file_set, shard_path, staging, checkpoint,
                                checkpoint)
                opened = shard = await service.open_shard(n)
                if shard.state != "STARTED":
                    raise IllegalState(
                        f"[{service.name}][{n}] restored store failed to open: {shard.failure}")
                node.indices.assign_role(service, shard, current, content)
                shard.engine.refresh()
            state.operations = state.total_operations = shard.engine.recovered_operations
            state.stage = "DONE"
            log.info("[%s][%d] restored from [%s:%s]: %d files, %d bytes", service.name, n,
                     source["repository"], source["snapshot"], state.files_total, state.bytes_total)
            node.indices.report_copy(service, copy, started=True)
        except asyncio.CancelledError:
            state.stage = "CANCELLED"
            stop.stopped = True  # the copy thread gives up at its next chunk
            # Not awaited (this task is being cancelled): the staging folder goes after it.
            loop.run_in_executor(executor, shutil.rmtree, staging, True)
            raise
        except Exception as e:
            state.stage = "FAILED"
            if isinstance(e, StrataError | OSError):
                log.warning("[%s][%d] restore failed: %s", service.name, n, e)
            else:
                log.exception("[%s][%d] restore failed", service.name, n)
            await loop.run_in_executor(executor, shutil.rmtree, staging, True)
            if opened is not None and service.local.get(n) is opened:
                # The next attempt on this node must find no copy open, or it would not restore.
                async with node.indices.apply_lock:
                    if service.local.get(n) is opened:
                        await service.close_shard(n)
            node.indices.report_copy(service, copy, started=False, reason=f"failed to restore snapshot: {e}")
        finally:
            state.stopped = time.time()
            node.tasks.unregister(task)

    async def close(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
