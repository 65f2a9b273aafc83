"""A copy's counters (the engine's writes, merges and translog; gets and search phases)
and the sections index and node stats print from them (index/shard_stats.py)."""

import asyncio
import threading
import time

from strata_node.engine import operation as ops
from strata_node.engine.engine import DeleteOp, Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import IndexedDocument
from strata_node.engine.translog import Translog
from strata_node.index.shard_stats import METRICS, ReadStats, sections

REF = ShardRef("logs", "uuid-1", 0)


def run(coro):
    return asyncio.run(coro)


async def opened(path) -> Engine:
    e = Engine(REF, path, 1)
    await e.open()
    return e


def write(engine, *requests):
    engine.write(list(requests), lambda i, outcome: None)


def test_a_primary_write_counts_index_and_delete_operations_and_failed_index_operations(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"), IndexOp("2", b"{}"), DeleteOp("1"), IndexOp("2", b"{}", create=True))
        await e.write_async([IndexOp("3", b"{}"), DeleteOp("9")], lambda i, o: None)
        assert {k: e.stats[k] for k in ("index_total", "delete_total", "index_failed")} == {
            "index_total": 3, "delete_total": 2, "index_failed": 1}
        assert e.stats["index_nanos"] > 0 and e.stats["delete_nanos"] > 0
        assert e.current_operations() == (0, 0)
        await e.close()

    run(go())


def test_operations_on_their_way_to_the_store_count_as_current(tmp_path, monkeypatch):
    async def go():
        e = await opened(tmp_path)
        seen = []
        landing = e._land

        async def land(staged):
            seen.append(e.current_operations())
            return await landing(staged)

        monkeypatch.setattr(e, "_land", land)
        await e.write_async([IndexOp("1", b"{}"), IndexOp("2", b"{}"), DeleteOp("1")], lambda i, o: None)
        assert seen == [(2, 1)]
        assert e.current_operations() == (0, 0)
        await e.close()

    run(go())


def test_a_replica_write_counts_and_a_recovery_replay_does_not(tmp_path):
    async def go():
        primary = await opened(tmp_path / "p")
        write(primary, IndexOp("1", b"{}"), IndexOp("2", b"{}"), DeleteOp("1"))
        history = [ops.decode(raw) for raw in primary.history(0, 2)]
        replica = await opened(tmp_path / "r")
        await replica.apply_operations_async([(op, ops.encode(op), None) for op in history[:2]],
                                             counted=True)
        await replica.apply_operations_async([(op, ops.encode(op), None) for op in history[2:]])
        assert (replica.stats["index_total"], replica.stats["delete_total"]) == (2, 0)
        await primary.close()
        await replica.close()

    run(go())


def test_a_merge_counts_its_documents_and_bytes_and_leaves_one_segment(tmp_path):
    async def go():
        e = await opened(tmp_path)
        for i in range(3):
            write(e, IndexOp(str(i), b"{}", indexed=IndexedDocument(terms={"tag": (["x"], None)})))
        e.translog.global_checkpoint = e.tracker.checkpoint
        assert e.segment_count() == 3
        await e.force_merge()
        assert (e.stats["merge_total"], e.stats["merge_docs"]) == (1, 3)
        assert e.stats["merge_bytes"] > 0
        assert e.stats["merge_current"] == e.stats["merge_current_docs"] == 0
        assert e.segment_count() == 1
        await e.force_merge()  # nothing left to merge: not a merge
        assert e.stats["merge_total"] == 1
        await e.close()

    run(go())


def test_translog_figures_count_operations_until_a_flush_commits_them(tmp_path):
    async def go():
        e = await opened(tmp_path)
        write(e, IndexOp("1", b"{}"), IndexOp("2", b"{}"))
        figures = e.translog_figures()
        assert figures["translog_operations"] == figures["translog_uncommitted_operations"] == 2
        assert figures["translog_bytes"] == figures["translog_uncommitted_bytes"] > 0
        await e.flush(force=True)
        figures = e.translog_figures()
        assert figures["translog_uncommitted_operations"] == 0
        await e.close()

    run(go())


def test_translog_operations_survive_a_roll_and_a_reopen_and_go_with_a_trim(tmp_path):
    async def go():
        t = await asyncio.to_thread(Translog.create, tmp_path)
        t.append([b"a", b"b"], 0, 1)
        await t.sync()
        second = await t.roll_generation()
        t.append([b"c"], 2, 2)
        assert t.operations(1) == 3 and t.operations(second) == 1
        await t.aclose()
        reopened, _ = await asyncio.to_thread(Translog.open, tmp_path)
        assert reopened.operations(1) == 3
        await reopened.trim_below(reopened.current_generation)
        assert reopened.operations(1) == 0
        reopened.close()

    run(go())


def test_read_stats_count_gets_as_found_or_missing_and_phases_even_when_they_fail():
    stats = ReadStats()
    with stats.get() as found:
        found[0] = True
    with stats.get():
        pass
    try:
        with stats.timed("query"):
            raise ValueError("a failed query phase still counts")
    except ValueError:
        pass
    figures = stats.figures()
    assert (figures["get_total"], figures["get_exists_total"], figures["get_missing_total"]) == (2, 1, 1)
    assert (figures["query_total"], figures["query_current"], figures["fetch_total"]) == (1, 0, 0)


def test_read_stats_keep_count_across_search_threads():
    stats = ReadStats()

    def phases():
        for _ in range(2000):
            with stats.timed("fetch"):
                pass

    threads = [threading.Thread(target=phases) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.figures()["fetch_total"] == 8000


def test_sections_sum_copies_and_print_milliseconds():
    copies = [{"docs": 2, "index_total": 2, "index_nanos": 1_500_000, "merge_total": 1, "segments": 3},
              {"docs": None, "index_total": 1, "index_nanos": 1_000_000, "segments": None}]
    out = sections(copies)
    assert set(out) == set(METRICS.values())
    assert out["docs"]["count"] == 2
    assert out["indexing"]["index_total"] == 3 and out["indexing"]["index_time_in_millis"] == 2
    assert out["merges"]["total"] == 1 and out["segments"]["count"] == 3
    assert out["shard_stats"]["total_count"] == 2


def test_sections_show_only_the_metrics_asked_for():
    assert set(sections([{"docs": 1}], ["merge", "docs"])) == {"merges", "docs"}


def test_recovery_figures_count_a_copy_served_and_one_being_recovered():
    from types import SimpleNamespace

    from strata_node.replication.recovery import PeerRecovery, RecoveryState

    async def go():
        recoveries = PeerRecovery(SimpleNamespace())
        target = SimpleNamespace(allocation_id="t", recoveries_as_source=0, recovery_throttle_seconds=0.0)
        source = SimpleNamespace(allocation_id="s", recoveries_as_source=1, recovery_throttle_seconds=0.0)
        running = asyncio.get_running_loop().create_future()
        recoveries._running["t"] = running
        recoveries.states["t"] = RecoveryState("logs", 0, "n1", "n2")
        assert recoveries.figures(target) == {"recoveries_as_source": 0, "recoveries_as_target": 1,
                                              "recovery_throttle_millis": 0}
        assert recoveries.figures(source)["recoveries_as_source"] == 1
        running.set_result(None)
        assert recoveries.figures(target)["recoveries_as_target"] == 0

    run(go())


def test_recovery_throttle_time_sums_each_sides_own_waits():
    """ES's RecoveryStats: the source's waits for max_bytes_per_sec count on the source copy,
    over every recovery it served; a restore's waits for its rates on the restored copy."""
    from types import SimpleNamespace

    from strata_node.replication.recovery import PeerRecovery, RecoveryState

    recoveries = PeerRecovery(SimpleNamespace(cluster_settings={"indices.recovery.max_bytes_per_sec": 1000}))
    source = SimpleNamespace(allocation_id="s", recoveries_as_source=0, recovery_throttle_seconds=0.0)

    async def serve_one() -> None:
        state = RecoveryState("logs", 0, "n1", "n2")
        state.bytes_recovered = 50  # 50 ms ahead of 1000 bytes/s
        await recoveries.throttle(state, time.monotonic(), source)
        assert state.throttle_seconds >= 0.04  # the target's _recovery still shows the source's wait

    run(serve_one())
    run(serve_one())
    assert recoveries.figures(source)["recovery_throttle_millis"] >= 80

    restored = SimpleNamespace(allocation_id="r", recoveries_as_source=0, recovery_throttle_seconds=0.0)
    state = recoveries.states["r"] = RecoveryState("logs", 0, None, "n2")
    state.add_target_throttle(0.25)
    assert recoveries.figures(restored)["recovery_throttle_millis"] == 250
