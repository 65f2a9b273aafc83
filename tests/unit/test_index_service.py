"""Per-index background work: scheduled refresh, async translog sync, flush by size, and
the primary term bump when an index is reopened."""

import asyncio

from strata_node.engine.engine import IndexOp
from strata_node.index.service import IndicesService


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
        indices = IndicesService(tmp_path)
        await indices.start()
        service = await indices.create("logs", {"settings": {"refresh_interval": "100ms"}})
        shard = service.shard(0)
        write(shard, IndexOp("1", b"{}"))
        assert shard.engine.count() == 0
        await poll(lambda: shard.engine.count() == 1)
        await indices.stop()

    run(go())


def test_refresh_interval_minus_one_never_refreshes_on_its_own(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        service = await indices.create("logs", {"settings": {"refresh_interval": "-1"}})
        write(service.shard(0), IndexOp("1", b"{}"))
        await asyncio.sleep(1.2)
        assert service.shard(0).engine.count() == 0
        await indices.stop()

    run(go())


def test_async_durability_syncs_the_translog_on_a_timer(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        service = await indices.create("logs", {"settings": {
            "translog": {"durability": "async", "sync_interval": "100ms"}}})
        engine = service.shard(0).engine
        write(service.shard(0), IndexOp("1", b"{}"))
        assert engine.translog.needs_sync()
        await poll(lambda: not engine.translog.needs_sync())
        await indices.stop()

    run(go())


def test_translog_past_the_flush_threshold_is_flushed_in_the_background(tmp_path):
    async def go():
        indices = IndicesService(tmp_path)
        await indices.start()
        service = await indices.create("logs", {"settings": {
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
        indices = IndicesService(tmp_path)
        await indices.start()
        await indices.create("logs", {"settings": {"number_of_shards": 2}})
        await indices.stop()
        indices = IndicesService(tmp_path)
        await indices.start()
        service = indices.get("logs")
        assert service.metadata.primary_terms == (2, 2)
        assert service.shard(1).primary_term == 2
        await indices.stop()

    run(go())
