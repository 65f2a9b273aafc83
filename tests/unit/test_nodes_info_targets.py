"""How a nodes info path names nodes and metrics (RestNodesInfoAction.prepareRequest)."""

import pytest

from strata_node.rest.nodes import info_targets


@pytest.mark.parametrize(
    "first, metric, expected",
    [
        (None, None, ([], [])),
        ("_local", None, (["_local"], [])),
        ("os", None, ([], ["os"])),
        ("os,http", None, ([], ["os", "http"])),
        ("os,node-1", None, (["os", "node-1"], [])),  # not every part a metric: node names
        ("_all", "_all", (["_all"], [])),
        ("_all", "jvm", (["_all"], ["jvm"])),
        ("_all", "jvm,nope", (["_all"], ["jvm"])),
        ("_all", "nope", (["_all"], ["_none"])),  # nothing known: the identity alone
        ("_all", "_all,http", (["_all"], ["http"])),
    ],
)
def test_paths_name_nodes_and_metrics_as_elasticsearch_reads_them(first, metric, expected):
    assert info_targets(first, metric) == expected
