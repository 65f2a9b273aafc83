"""A shard's health from its copies (ClusterShardHealth): an inactive primary is yellow
while it starts for the first time, from an empty store or a snapshot, or waits to (unless
every node refused it), and red while it recovers data that was there."""

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


def test_a_new_unassigned_primary_not_yet_tried_or_only_throttled_is_yellow():
    for status in ("no_attempt", "deciders_throttled"):
        primary = ShardRouting("logs", 0, True, allocation_status=status)
        assert shard_health(view(primary), 0).status is Status.YELLOW


def test_a_new_unassigned_primary_every_node_refuses_is_red():
    primary = ShardRouting("logs", 0, True, allocation_status="deciders_no")
    assert shard_health(view(primary), 0).status is Status.RED


def test_an_unassigned_primary_with_data_to_recover_or_a_failed_attempt_is_red():
    throttled = ShardRouting("logs", 0, True, allocation_status="deciders_throttled", last_allocation_id="p1")
    assert shard_health(view(throttled, in_sync_allocation_ids={"0": ["p1"]}), 0).status is Status.RED
    failed = msgspec.structs.replace(throttled, failed_attempts=1)
    assert shard_health(view(failed), 0).status is Status.RED
