"""The target's half of a file-based recovery: how a chunk lands and when it is durable."""

import asyncio
import os
import zlib
from concurrent.futures import ThreadPoolExecutor

import plyvel

from strata_node.engine import engine as engine_module
from strata_node.engine.engine import Engine
from strata_node.replication import file_recovery
from strata_node.replication.file_recovery import CHUNK_BYTES, STAGING_FOLDER, _sync_files, _write_chunk


def test_chunks_land_byte_for_byte_with_their_file_s_running_checksum(tmp_path):
    first, second = os.urandom(CHUNK_BYTES), os.urandom(CHUNK_BYTES // 3 + 17)
    path = tmp_path / "000007.ldb"
    checksum = _write_chunk(path, 0, memoryview(first), False, 0)
    checksum = _write_chunk(path, len(first), memoryview(second), True, checksum)
    assert path.read_bytes() == first + second
    assert checksum == zlib.crc32(first + second)


def test_every_staged_file_and_then_its_folder_are_synced_before_the_set_is_installed(tmp_path, monkeypatch):
    names = [f"{n:06d}.ldb" for n in range(5)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    synced = []
    monkeypatch.setattr(file_recovery, "fsync_path", synced.append)
    with ThreadPoolExecutor(2) as executor:
        asyncio.run(_sync_files(tmp_path, names, executor))
    assert sorted(synced[:-1]) == [tmp_path / n for n in names] and synced[-1] == tmp_path


def test_installing_a_file_set_makes_the_old_store_s_removal_and_the_rename_durable(tmp_path, monkeypatch):
    shard = tmp_path / "0"
    staged = shard / STAGING_FOLDER
    shard.mkdir()
    db = plyvel.DB(str(staged), create_if_missing=True)
    db.put(b"k", b"v")
    db.close()
    (shard / "index").mkdir()  # the store the copy had
    synced = []
    monkeypatch.setattr(engine_module, "fsync_dir",
                        lambda path: synced.append((path, (path / "index").exists() and not staged.exists())))
    Engine.install_file_set(shard, staged, 0, 0)
    assert (shard, True) in synced
