"""Blob containers: where a repository keeps its blobs (Elasticsearch's BlobContainer).

A repository only ever writes a blob whole and never changes it afterwards, so a
container needs little: write (atomically, optionally only if the name is new), read,
list by prefix, delete, and child containers. The `fs` container is a folder on a shared
file system, the `s3` one (s3.py) a key prefix in a bucket; every call blocks and runs on
an executor, never on the event loop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from ..common.files import fsync_dir

COPY_BUFFER = 1024 * 1024


class BlobAlreadyExists(Exception):
    """A write that must create its blob found one there (another writer got there first)."""


class BlobMissing(FileNotFoundError):
    pass


class BlobStoreError(OSError):
    """The store refused or could not be reached (an OSError, as a file system's are, so
    callers handle both stores' failures alike)."""


class BlobContainer(Protocol):
    """What the repository code asks of a container, whatever holds the blobs."""

    @property
    def location(self) -> str: ...
    def child(self, *names: str) -> BlobContainer: ...
    def create(self) -> None: ...
    def check(self) -> None: ...
    def exists(self, name: str) -> bool: ...
    def read(self, name: str) -> bytes: ...
    def write(self, name: str, data: bytes, *, fail_if_exists: bool = False) -> None: ...
    def write_from_file(self, name: str, source: Path,
                        progress: Callable[[int], None] | None = None) -> int: ...
    def read_to_file(self, name: str, target: Path, progress: Callable[[int], None] | None = None) -> int: ...
    def list(self, prefix: str = "") -> dict[str, int]: ...
    def children(self) -> list[str]: ...
    def delete(self, names: list[str]) -> int: ...
    def delete_tree(self) -> tuple[int, int]: ...


class FsBlobContainer:
    def __init__(self, path: Path):
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    def child(self, *names: str) -> FsBlobContainer:
        return FsBlobContainer(self.path.joinpath(*names))

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        """Fails unless the container can be reached (a read-only repository's check)."""
        self.path.stat()

    def exists(self, name: str) -> bool:
        return (self.path / name).is_file()

    def read(self, name: str) -> bytes:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"blob [{name}] not found in [{self.path}]") from None

    def write(self, name: str, data: bytes, *, fail_if_exists: bool = False) -> None:
        """Whole or not at all: a reader sees no blob or the complete one. With
        `fail_if_exists`, the blob is created only if the name is new (the link is the
        atomic test), which is how a repository generation is claimed."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f"pending-{name}-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:  # a full disk, say: no half-written file stays behind
            tmp.unlink(missing_ok=True)
            raise
        self._publish(tmp, name, fail_if_exists)

    def write_from_file(self, name: str, source: Path, progress: Callable[[int], None] | None = None) -> int:
        """Copy a local file into the blob `name`; returns the CRC32 of what was copied."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f"pending-{name}-{uuid.uuid4().hex}"
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                checksum = copy_synced(src, dst, progress)
        except BaseException:  # a failed copy, or one stopped by its progress callback
            tmp.unlink(missing_ok=True)
            raise
        self._publish(tmp, name, False)
        return checksum

    def read_to_file(self, name: str, target: Path, progress: Callable[[int], None] | None = None) -> int:
        """Copy the blob `name` into a local file (synced); returns its CRC32."""
        try:
            src = open(self.path / name, "rb")  # noqa: SIM115 - closed below, with the target
        except FileNotFoundError:
            raise BlobMissing(f"blob [{name}] not found in [{self.path}]") from None
        with src, open(target, "wb") as dst:
            return copy_synced(src, dst, progress)

    def _publish(self, tmp: Path, name: str, fail_if_exists: bool) -> None:
        try:
            if fail_if_exists:
                try:
                    os.link(tmp, self.path / name)
                except FileExistsError:
                    raise BlobAlreadyExists(f"blob [{name}] already exists in [{self.path}]") from None
            else:
                os.replace(tmp, self.path / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        fsync_dir(self.path)

    def list(self, prefix: str = "") -> dict[str, int]:
        """The blobs here whose names start with `prefix`, with their lengths."""
        try:
            entries = list(os.scandir(self.path))
        except FileNotFoundError:
            return {}
        return {e.name: e.stat().st_size for e in entries
                if e.is_file() and e.name.startswith(prefix) and not e.name.startswith("pending-")}

    def children(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.path) if e.is_dir())
        except FileNotFoundError:
            return []

    def delete(self, names: list[str]) -> int:
        """Delete the blobs (a missing one is no error); returns the bytes freed."""
        freed = 0
        for name in names:
            path = self.path / name
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
        if names:
            with contextlib.suppress(FileNotFoundError):
                fsync_dir(self.path)
        return freed

    def delete_tree(self) -> tuple[int, int]:
        """This container and everything under it; returns (blobs, bytes) removed."""
        blobs = size = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    size += os.stat(os.path.join(root, name)).st_size
                    blobs += 1
        shutil.rmtree(self.path, ignore_errors=True)
        return blobs, size


def copy_synced(src: BinaryIO, dst: BinaryIO, progress: Callable[[int], None] | None) -> int:
    """Copy and fsync; returns the CRC32 of what was copied."""
    checksum = 0
    while chunk := src.read(COPY_BUFFER):
        checksum = zlib.crc32(chunk, checksum)
        dst.write(chunk)
        if progress is not None:
            progress(len(chunk))
    dst.flush()
    os.fsync(dst.fileno())
    return checksum
