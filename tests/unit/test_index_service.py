"""Per-index background work: scheduled refresh, async translog sync, flush by size, and
the primary term bump when an index is reopened."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from strata_node.common.errors import StrataError
from strata_node.engine.engine import IndexOp
from tests.support.local_master import create_local, local_bulk, open_indices


def run(coro):
    return asyncio.run(coro)


def write(shard, *reqs):
    shard.engine.write(list(reqs), lambda i, o: None)


async def poll(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_scheduled_refresh_makes_writes_searchable(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {"refresh_interval": "100ms"}})
        shard = service.shard(0)
        write(shard, IndexOp("1", b"{}"))
        assert shard.engine.count() == 0
        await poll(lambda: shard.engine.count() == 1)
        await indices.stop()

    run(go())


def test_refresh_interval_minus_one_never_refreshes_on_its_own(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {"refresh_interval": "-1"}})
        write(service.shard(0), IndexOp("1", b"{}"))
        await asyncio.sleep(1.2)
        assert service.shard(0).engine.count() == 0
        await indices.stop()

    run(go())


def test_async_durability_syncs_the_translog_on_a_timer(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {
            "translog": {"durability": "async", "sync_interval": "100ms"}}})
        engine = service.shard(0).engine
        write(service.shard(0), IndexOp("1", b"{}"))
        assert engine.translog.needs_sync()
        await poll(lambda: not engine.translog.needs_sync())
        await indices.stop()

    run(go())


def test_translog_past_the_flush_threshold_is_flushed_in_the_background(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {
            "translog": {"flush_threshold_size": "1kb"}}})
        shard = service.shard(0)
        write(shard, *(IndexOp(str(i), b'{"pad":"' + b"x" * 100 + b'"}') for i in range(20)))
        service.after_write(shard)
        await poll(lambda: shard.engine.commit.local_checkpoint == 19)
        assert shard.engine.uncommitted_translog_bytes() < 1024
        await indices.stop()

    run(go())


def test_reopening_an_index_starts_a_new_primary_term(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        await indices.create("logs", {"settings": {"number_of_shards": 2}})
        await indices.stop()
        indices = await open_indices(tmp_path)
        service = indices.get("logs")
        assert service.metadata.primary_terms == (2, 2)
        assert service.shard(1).primary_term == 2
        await indices.stop()

    run(go())


def test_a_crash_while_deleting_an_index_does_not_bring_it_back(tmp_path, monkeypatch):
    """kill -9 in the middle of removing the folder (here: after the store's CURRENT
    file went) must not leave an index that reopens, empty or broken, at start-up."""
    def rmtree_cut_short(path, ignore_errors=False):
        for current in Path(path).glob("*/index/CURRENT"):
            current.unlink()
        # ...and the process dies here

    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {})
        write(service.shard(0), IndexOp("1", b"{}"))
        monkeypatch.setattr(shutil, "rmtree", rmtree_cut_short)
        await indices.delete(["logs"])
        monkeypatch.undo()
        indices.local_master.store.close()  # the process died: its locks went with it
        restarted = await open_indices(tmp_path)
        assert "logs" not in restarted.indices
        assert list((tmp_path / "indices").iterdir()) == []  # the leftover is cleaned up
        await restarted.stop()

    run(go())


def test_closing_a_shard_that_failed_at_runtime_closes_its_store(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {})
        shard = service.shard(0)
        shard.engine.fail("disk trouble", OSError(5, "Input/output error"))
        with pytest.raises(StrataError):
            shard.active_engine()  # the shard notices: FAILED
        await indices.stop()
        assert shard.engine.closed
        # The LevelDB lock was released: the store opens again.
        restarted = await open_indices(tmp_path)
        assert restarted.get("logs").shard(0).state == "STARTED"
        await restarted.stop()

    run(go())


def test_no_background_roll_or_flush_starts_on_a_closed_shard(tmp_path):
    """A bulk still in flight when its index is deleted calls after_write once the shard
    is closed; rolling then would create files in a folder being removed and fsync and
    close a descriptor number that may belong to another file by now."""
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {})
        shard = service.shard(0)
        write(shard, IndexOp("1", b"{}"))
        await service.close()
        files = sorted(p.name for p in (shard.path / "translog").iterdir())
        shard.maybe_flush(threshold=1 << 40, generation_threshold=0)
        if shard._flush_task is not None:
            await shard._flush_task
        assert sorted(p.name for p in (shard.path / "translog").iterdir()) == files

    run(go())


def test_an_update_on_a_shard_closing_under_a_bulk_fails_that_item_alone(tmp_path):
    """An index deleted while a bulk runs: its engine is closed before its shard is, and
    the bulk's items for it fail one by one while the other items are answered."""
    from strata_node.action.bulk import BulkItem, WriteOptions
    from strata_node.action.update import UpdateSpec

    async def go():
        indices = await open_indices(tmp_path)
        doomed = await create_local(indices, "doomed", {})
        await indices.create("kept", {})
        write(doomed.shard(0), IndexOp("1", b"{}"))
        await doomed.shard(0).engine.close()
        items = [BulkItem("update", "doomed", "1", update=UpdateSpec(doc={"a": 1})),
                 BulkItem("index", "kept", "1", source=b"{}")]
        updated, indexed = await local_bulk(indices).execute(items, WriteOptions())
        assert updated.error is not None and updated.status == 503
        assert indexed.error is None and indexed.status == 201
        await indices.stop()

    run(go())


def test_a_name_is_not_reused_on_disk_before_its_old_index_is_durably_deleted(tmp_path, monkeypatch):
    """A bulk may auto-create an index whose deletion is still closing it. If the node
    dies then, only the new index may come back: two folders of one name would let a
    restart open the deleted one and hide every write acknowledged by the new one. States
    apply in order, so the new index opens only once the old one's removal is done, and
    the old one is durably marked deleted before that."""
    from strata_node.index.service import IndexService

    gate = asyncio.Event()
    real_close = IndexService.close

    async def slow_close(self, *args, **kwargs):
        await gate.wait()
        await real_close(self, *args, **kwargs)

    def names_on_disk():
        states = (tmp_path / "indices").glob("*/_state/index.json")
        return [json.loads(p.read_bytes())["name"] for p in states]

    async def go():
        indices = await open_indices(tmp_path)
        await indices.create("logs", {})
        monkeypatch.setattr(IndexService, "close", slow_close)
        deleting = asyncio.create_task(indices.delete(["logs"]))
        await asyncio.sleep(0.05)
        creating = asyncio.create_task(indices.create("logs", {}))
        await asyncio.sleep(0.05)
        assert names_on_disk() == []  # a crash here brings back neither
        gate.set()
        await deleting
        successor = await creating
        assert names_on_disk() == ["logs"]  # a crash here brings back the successor only
        monkeypatch.undo()
        await indices.stop()
        restarted = await open_indices(tmp_path)
        assert restarted.get("logs").metadata.uuid == successor.uuid
        assert len(list((tmp_path / "indices").iterdir())) == 1
        await restarted.stop()

    run(go())


def test_start_up_removes_what_an_unfinished_index_creation_left(tmp_path):
    async def go():
        half = tmp_path / "indices" / "half-created"
        (half / "_state").mkdir(parents=True)
        (half / "_state" / "index.json.tmp").write_bytes(b'{"name":')
        indices = await open_indices(tmp_path)
        assert not half.exists()
        await indices.stop()

    run(go())


def test_background_work_skips_a_shard_whose_engine_failed(tmp_path, caplog):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {"refresh_interval": "100ms"}})
        shard = service.shard(0)
        write(shard, IndexOp("1", b"{}"))  # a refresh is due
        shard.engine.fail("disk trouble", OSError("simulated"))
        await asyncio.sleep(0.5)
        await indices.stop()

    run(go())
    assert "scheduled refresh failed" not in caplog.text
