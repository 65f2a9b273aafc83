"""What create, open and close wait for (ES's ActiveShardCount and ActiveShardsObserver):
the active copies of every shard of the indices, as many as `wait_for_active_shards` asks,
or the index's own index.write.wait_for_active_shards."""

from __future__ import annotations

import pytest

from strata_node.action.index_admin import check_active_shard_count, enough_shards_active
from strata_node.cluster.state import ClusterStateContent, Metadata, RoutingTable, ShardRouting
from strata_node.common.errors import IllegalArgument
from strata_node.index.metadata import IndexMetadata


def an_index(name: str = "i", shards: int = 2, replicas: int = 2, **settings: str) -> IndexMetadata:
    return IndexMetadata(name, f"uuid-{name}", {"index.number_of_shards": str(shards),
                                                "index.number_of_replicas": str(replicas), **settings},
                         {}, {}, primary_terms=(1,) * shards)


def copy(shard: int, primary: bool, state: str = "STARTED", node: str = "n1") -> ShardRouting:
    return ShardRouting("i", shard, primary, state, node=None if state == "UNASSIGNED" else node)


def content_of(metadata: IndexMetadata, *copies: ShardRouting) -> ClusterStateContent:
    return ClusterStateContent(metadata=Metadata(cluster_uuid="u", indices={metadata.name: metadata}),
                               routing_table=RoutingTable(1, {metadata.name: copies}))


# Two shards of three copies: shard 0 fully started, shard 1 with one replica started.
COPIES = (copy(0, True), copy(0, False, node="n2"), copy(0, False, "RELOCATING", "n3"),
          copy(1, True), copy(1, False, node="n2"), copy(1, False, "UNASSIGNED"))


@pytest.mark.parametrize(("wanted", "enough"), [(None, True), (1, True), (2, True), (3, False),
                                                ("all", False), (0, True)])
def test_each_shard_needs_the_copies_asked_for(wanted, enough):
    assert enough_shards_active(content_of(an_index(), *COPIES), ["i"], wanted) is enough


def test_all_is_the_primary_and_every_replica():
    started = [c for c in COPIES if c.state != "UNASSIGNED"] + [copy(1, False, node="n3")]
    assert enough_shards_active(content_of(an_index(), *started), ["i"], "all")


def test_the_index_setting_is_the_default():
    index = an_index(**{"index.write.wait_for_active_shards": "3"})
    assert not enough_shards_active(content_of(index, *COPIES), ["i"], None)
    assert enough_shards_active(content_of(index, *COPIES), ["i"], 2)


def test_an_inactive_primary_is_never_enough_though_replicas_are_active():
    copies = (copy(0, True, "INITIALIZING"), copy(0, False), copy(0, False, node="n3"))
    assert not enough_shards_active(content_of(an_index(shards=1), *copies), ["i"], 2)
    assert enough_shards_active(content_of(an_index(shards=1), *copies), ["i"], 0)


def test_a_relocation_target_is_no_active_copy():
    copies = (copy(0, True), ShardRouting("i", 0, False, "INITIALIZING", node="n2", relocating_node="n3"))
    assert not enough_shards_active(content_of(an_index(shards=1, replicas=1), *copies), ["i"], 2)


def test_an_index_deleted_while_waited_for_has_nothing_to_wait_for():
    assert enough_shards_active(content_of(an_index(), *COPIES), ["i", "gone"], 1)


def test_a_new_index_may_not_wait_for_more_copies_than_it_has():
    with pytest.raises(IllegalArgument, match=r"^invalid wait_for_active_shards\[4\]: cannot be greater than "
                                              r"number of shard copies \[3\]$"):
        check_active_shard_count(4, an_index())
    with pytest.raises(IllegalArgument, match=r"invalid wait_for_active_shards\[2\]: .* copies \[1\]"):
        check_active_shard_count(None, an_index(replicas=0, **{"index.write.wait_for_active_shards": "2"}))
    for fits in (3, "all", 0, None):
        check_active_shard_count(fits, an_index())
