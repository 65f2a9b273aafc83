"""Templates on a 3-node cluster: put through a node that is not the master, they reach
the master and every node; an index auto-created by a write through another node that is
not the master gets them, because the master composes the index from the templates of the
state it creates the index in."""

from __future__ import annotations

import pytest

from tests.support.cluster import LocalCluster
from tests.support.polling import call, ok


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("templates"), ["n0", "n1", "n2"]).start()
    yield cluster
    cluster.stop()


def non_masters(cluster: LocalCluster):
    master = cluster.wait_for_nodes(3)
    return [n for n in cluster.nodes if n.name != master]


def test_template_put_through_one_node_applies_to_an_index_auto_created_through_another(cluster):
    putter, writer = non_masters(cluster)
    ok(putter, "PUT", "/_component_template/events-base", json={"template": {
        "settings": {"number_of_shards": 3, "number_of_replicas": 1},
        "mappings": {"properties": {"kind": {"type": "keyword"}}}}})
    ok(putter, "PUT", "/_index_template/events", json={
        "index_patterns": ["events-*"], "composed_of": ["events-base"], "priority": 1,
        "template": {"aliases": {"events": {}}}})
    written = call(writer, "POST", "/events-1/_doc", params={"refresh": "true"},
                   json={"kind": "login", "n": 1})
    assert written.status_code == 201, written.text
    for node in cluster.nodes:
        index = ok(node, "GET", "/events-1")["events-1"]
        assert index["settings"]["index"]["number_of_shards"] == "3"
        assert index["settings"]["index"]["number_of_replicas"] == "1"
        assert index["mappings"]["properties"]["kind"] == {"type": "keyword"}
        assert index["mappings"]["properties"]["n"] == {"type": "long"}
        assert set(index["aliases"]) == {"events"}


def test_every_node_answers_the_template_apis_alike(cluster):
    putter, reader = non_masters(cluster)
    ok(putter, "PUT", "/_index_template/metrics", json={"index_patterns": ["metrics-*"], "priority": 4})
    expected = {"index_templates": [{"name": "metrics", "index_template": {
        "index_patterns": ["metrics-*"], "composed_of": [], "priority": 4}}]}
    for node in cluster.nodes:
        assert ok(node, "GET", "/_index_template/metrics") == expected
    ok(reader, "DELETE", "/_index_template/metrics")
    for node in cluster.nodes:
        assert ok(node, "GET", "/_index_template/metr*") == {"index_templates": []}
