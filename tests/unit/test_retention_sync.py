"""The background retention lease sync of one local copy (RetentionLeaseSync.sync)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

from strata_node.engine.engine import EngineClosed
from strata_node.engine.retention_leases import RetentionLease, RetentionLeases
from strata_node.replication.retention_sync import RetentionLeaseSync
from strata_node.replication.tracker import ReplicationTracker

PERIOD_SECONDS = 60.0


class _Engine:
    primary_term = 3

    def __init__(self):
        self.persisted: list[RetentionLeases] = []
        self.retention_leases = RetentionLeases()

    def persist_retention_leases(self, leases, only_newer=False):
        self.persisted.append(leases)
        return True

    async def prune_history(self, executor):
        return 0

    async def maybe_merge(self, deletes_pct_allowed, executor):
        return None


def _primary(relocated: bool):
    stale = RetentionLease("peer_recovery/gone", 0, 0, "peer recovery")  # renewed at the epoch
    tracker = ReplicationTracker("a0", node_id="n0", primary_term=3, leases=RetentionLeases(3, 5, (stale,)))
    shard = SimpleNamespace(primary=True, relocated=relocated, tracker=tracker, engine=_Engine(),
                            allocation_id="a0", ref=SimpleNamespace(shard=0))
    service = SimpleNamespace(name="i", metadata=SimpleNamespace(
        uuid="u", setting=lambda key: PERIOD_SECONDS))
    node = SimpleNamespace(executors={"recovery": None}, force_merges=asyncio.Lock(),
                           coordination=SimpleNamespace(
                               content=SimpleNamespace(routing_table=SimpleNamespace(indices={}))))
    return RetentionLeaseSync(node), service, shard


def test_a_primary_renews_expires_and_persists_its_leases():
    sync, service, shard = _primary(relocated=False)
    asyncio.run(sync.sync(service, shard))
    assert shard.tracker.retention_leases().version > 5
    assert "peer_recovery/gone" not in {lease.id for lease in shard.tracker.retention_leases().leases}
    assert shard.engine.persisted


def test_a_primary_that_handed_off_to_its_relocation_target_leaves_its_leases_alone():
    """The target owns the leases after the hand-off: a version bumped here would be one
    the target's does not follow, and copies that took it would keep it over the target's."""
    sync, service, shard = _primary(relocated=True)
    asyncio.run(sync.sync(service, shard))
    assert shard.tracker.retention_leases() == RetentionLeases(3, 5, (
        RetentionLease("peer_recovery/gone", 0, 0, "peer recovery"),))
    assert shard.engine.persisted == []


def test_a_sync_of_a_copy_that_closed_meanwhile_stands_down_without_a_warning(caplog):
    """Index deletion closes the shard while a round is under way: nothing is wrong."""
    sync, service, shard = _primary(relocated=False)

    def closed(leases, only_newer=False):
        raise EngineClosed("[i][0] engine is closed")

    shard.engine.persist_retention_leases = closed
    with caplog.at_level(logging.DEBUG, logger="strata_node.replication.retention_sync"):
        asyncio.run(sync.attempt(service, shard))
    assert [r.levelno for r in caplog.records if r.levelno != logging.INFO] == [logging.DEBUG]


def test_a_failed_sync_is_logged_as_a_warning_with_its_traceback(caplog):
    sync, service, shard = _primary(relocated=False)

    def broken(leases, only_newer=False):
        raise OSError("disk gone")

    shard.engine.persist_retention_leases = broken
    with caplog.at_level(logging.WARNING, logger="strata_node.replication.retention_sync"):
        asyncio.run(sync.attempt(service, shard))
    assert [(r.levelno, r.exc_info is not None) for r in caplog.records] == [(logging.WARNING, True)]
