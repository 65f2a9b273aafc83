"""What a crash leaves beside a shard's store while copying (recovery, snapshot, restore
folders) is removed when the node starts; the store and its state are not."""

from __future__ import annotations

import asyncio

from strata_node.index.service import IndicesService


def test_copy_folders_a_crash_left_are_removed_at_start_up_and_the_store_kept(tmp_path):
    shard = tmp_path / "indices" / "uuid-1" / "0"
    (tmp_path / "indices" / "uuid-1" / "_state").mkdir(parents=True)
    (tmp_path / "indices" / "uuid-1" / "_state" / "index.json").write_text("{}")
    kept = [shard / "index", shard / "translog", shard / "_state"]
    left = [shard / "recovery.alloc-2", shard / "index.recovering", shard / "snapshot.snap-uuid",
            shard / "index.restoring.alloc-3"]
    for folder in kept + left:
        folder.mkdir(parents=True)
        (folder / "000005.ldb").write_bytes(b"table")
    asyncio.run(IndicesService(tmp_path).start())
    assert all(folder.exists() for folder in kept)
    assert not any(folder.exists() for folder in left)
