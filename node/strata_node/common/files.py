"""Durable file operations: what must be on disk before the node says it is."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Make a file's data, or a folder's entries (created, renamed, deleted files), durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = fsync_path


def write_atomically(path: Path, data: bytes, *, create_parents: bool = True, mode: int = 0o644) -> None:
    """Write, fsync, rename, fsync the folder: a reader sees the old or the new file.
    `create_parents=False` for a file whose folder must already exist (an index's
    metadata update must not recreate the folder of an index deleted meanwhile). `mode`
    applies from creation, so a secret is never readable by others, not even briefly."""
    if create_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover of a crash may carry other permissions
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
