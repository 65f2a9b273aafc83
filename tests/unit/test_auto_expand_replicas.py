"""`index.auto_expand_replicas`: the replicas follow the data nodes an index may be on, as
Elasticsearch's AutoExpandReplicas and AllocationService.adaptAutoExpandReplicas do."""

from __future__ import annotations

import pytest

from strata_node.action import index_admin
from strata_node.allocation.allocator import reroute
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent
from strata_node.settings import SettingsError, auto_expand_replicas, index_setting


def replicas_after_reroute(setting: str, nodes: int, **extra: str) -> tuple[int, int]:
    """(number_of_replicas, replica copies in the routing table) after a reroute."""
    settings = {"number_of_shards": 1, "number_of_replicas": 1, "auto_expand_replicas": setting, **extra}
    metadata = index_admin.build_index_metadata("idx", {"settings": settings})
    content = index_admin.create_index(ClusterStateContent(), metadata)
    members = {f"n{i}": DiscoveryNode(id=f"n{i}", name=f"n{i}", roles=("master", "data"), ephemeral_id="e")
               for i in range(nodes)}
    content = reroute(content, members, now_ms=0)
    metadata = content.metadata.indices["idx"]
    copies = content.routing_table.indices["idx"]
    return metadata.number_of_replicas, sum(1 for c in copies if not c.primary)


@pytest.mark.parametrize(("setting", "nodes", "expected"), [
    ("0-1", 1, 0), ("0-1", 2, 1), ("0-1", 5, 1), ("0-all", 4, 3), ("0-all", 1, 0),
    ("1-5", 1, 1), ("2-all", 1, 2), ("0-all", 0, 0),
])
def test_the_replicas_are_one_fewer_than_the_nodes_within_min_and_max(setting, nodes, expected):
    assert replicas_after_reroute(setting, nodes) == (expected, expected)


def test_false_leaves_the_replicas_as_set():
    assert replicas_after_reroute("false", 4) == (1, 1)


def test_only_the_nodes_the_index_filters_allow_count():
    excluded = {"index.routing.allocation.exclude._name": "n0,n1"}
    assert replicas_after_reroute("0-all", 4, **excluded) == (1, 1)


def test_the_value_is_read_as_elasticsearch_reads_it():
    assert auto_expand_replicas("false") is None
    assert auto_expand_replicas("0-all") == (0, (1 << 31) - 1)
    assert auto_expand_replicas("1-3") == (1, 3)
    with pytest.raises(SettingsError) as e:
        index_setting({"index.auto_expand_replicas": "bad"}, "index.auto_expand_replicas")
    assert str(e.value) == "failed to parse [index.auto_expand_replicas] from value: [bad] at index -1"
    with pytest.raises(SettingsError, match=r"from value: \[a-1\] at index 1"):
        auto_expand_replicas("a-1")
    with pytest.raises(SettingsError) as e:
        auto_expand_replicas("3-1")
    assert str(e.value) == "[index.auto_expand_replicas] minReplicas must be =< maxReplicas but wasn't 3 > 1"
