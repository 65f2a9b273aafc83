"""Damage a stopped node's files the way a bad disk would, to test what fails loudly."""

from __future__ import annotations

from pathlib import Path


def index_folder(data: Path, name: str) -> Path:
    return next(p for p in (data / "indices").iterdir()
                if b'"name":"%s"' % name.encode() in (p / "_state" / "index.json").read_bytes())


def flip_translog_byte(data: Path, index: str, marker: bytes, shard: int = 0) -> None:
    """Change one byte of the translog record holding `marker`: a synced record, so the
    shard must fail on open rather than silently drop it."""
    folder = index_folder(data, index) / str(shard) / "translog"
    [tlog] = [t for t in folder.glob("*.tlog") if marker in t.read_bytes()]
    raw = bytearray(tlog.read_bytes())
    raw[raw.index(marker)] ^= 0x20
    tlog.write_bytes(bytes(raw))
