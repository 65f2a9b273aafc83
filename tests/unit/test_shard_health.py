"""A shard's health from its copies (ClusterShardHealth): an inactive primary is yellow
while it starts for the first time, from an empty store or a snapshot, and red while it
recovers data that was there."""

import dataclasses

import msgspec

from strata_node.action.cluster_health import IndexView, Status, shard_health
from strata_node.action.index_admin import build_index_metadata
from strata_node.cluster.state import ShardRouting


def view(primary: ShardRouting, **metadata_changes) -> IndexView:
    metadata = build_index_metadata("logs", {"settings": {"number_of_replicas": 1}})
    metadata = dataclasses.replace(metadata, **metadata_changes)
    replica = ShardRouting("logs", 0, False)
    return IndexView(metadata, (primary, replica), None, "n1")


INITIALIZING = ShardRouting("logs", 0, True, "INITIALIZING", "n2", allocation_id="p1")


def test_a_new_primary_initializing_is_yellow():
    assert shard_health(view(INITIALIZING), 0).status is Status.YELLOW


def test_a_primary_recovering_its_existing_store_is_red():
    assert shard_health(view(INITIALIZING, in_sync_allocation_ids={"0": ["p1"]}), 0).status is Status.RED


def test_a_new_primary_that_failed_before_is_red():
    failed = msgspec.structs.replace(INITIALIZING, failed_attempts=1)
    assert shard_health(view(failed), 0).status is Status.RED


def test_an_unassigned_primary_is_red():
    assert shard_health(view(ShardRouting("logs", 0, True)), 0).status is Status.RED
