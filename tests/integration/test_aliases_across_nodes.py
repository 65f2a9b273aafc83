"""Aliases on a 3-node cluster: an alias added through one node is applied by every node
before the request returns, and writes, gets and filtered searches through it work from
any other node, with the filter sent to the shards on the nodes that hold them."""

from __future__ import annotations

import pytest

from tests.support.cluster import LocalCluster
from tests.support.polling import call, ok

INDEX = "spread-aliased"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("aliases"), ["n0", "n1", "n2"]).start()
    ok(cluster.nodes[0], "PUT", f"/{INDEX}", json={
        "settings": {"number_of_shards": 3, "number_of_replicas": 0},
        "mappings": {"properties": {"tag": {"type": "keyword"}}}})
    yield cluster
    cluster.stop()


def test_alias_added_through_one_node_is_written_and_searched_through_others(cluster):
    n0, n1, n2 = cluster.nodes
    ok(n0, "POST", "/_aliases", json={"actions": [
        {"add": {"index": INDEX, "alias": "everything"}},
        {"add": {"index": INDEX, "alias": "only-x", "filter": {"term": {"tag": "x"}}}}]})
    for n in range(12):
        response = call(n1, "PUT", f"/everything/_doc/{n}", json={"tag": "x" if n % 3 == 0 else "y"})
        assert response.status_code == 201, response.text
        assert response.json()["_index"] == INDEX
    ok(n1, "POST", "/everything/_refresh")
    assert ok(n2, "GET", "/everything/_count")["count"] == 12
    filtered = ok(n2, "POST", "/only-x/_search", json={"size": 20})
    assert filtered["_shards"]["total"] == 3
    assert sorted(int(h["_id"]) for h in filtered["hits"]["hits"]) == [0, 3, 6, 9]
    assert ok(n0, "GET", "/only-x/_doc/3")["_index"] == INDEX


def test_every_node_answers_get_alias_as_soon_as_the_change_is_acknowledged(cluster):
    n0, n1, n2 = cluster.nodes
    ok(n2, "PUT", f"/{INDEX}/_alias/from-n2", json={"is_write_index": True})
    for node in (n0, n1):
        expected = {INDEX: {"aliases": {"from-n2": {"is_write_index": True}}}}
        assert ok(node, "GET", "/_alias/from-n2") == expected
    ok(n0, "DELETE", f"/{INDEX}/_alias/from-n2")
    assert call(n1, "GET", "/_alias/from-n2").status_code == 404


def test_a_rollover_through_any_node_counts_the_primaries_on_every_node(cluster):
    """The conditions see the documents of every primary, wherever it is; the new index
    and the moved alias come in one state that every node has applied when it answers."""
    n0, n1, n2 = cluster.nodes
    ok(n0, "PUT", "/rolled-000001", json={"settings": {"number_of_shards": 3, "number_of_replicas": 0},
                                          "aliases": {"rolled": {"is_write_index": True}}})
    for n in range(9):
        assert call(n1, "PUT", f"/rolled/_doc/{n}", json={"tag": "x"}).status_code == 201
    ok(n1, "POST", "/rolled/_refresh")
    unmet = ok(n1, "POST", "/rolled/_rollover", json={"conditions": {"max_docs": 10}})
    assert (unmet["rolled_over"], unmet["conditions"]) == (False, {"[max_docs: 10]": False})
    met = ok(n2, "POST", "/rolled/_rollover", json={"conditions": {"max_docs": 9},
                                                    "settings": {"number_of_replicas": 0}})
    assert (met["rolled_over"], met["new_index"], met["shards_acknowledged"]) == (True, "rolled-000002", True)
    expected = {"rolled-000001": {"aliases": {"rolled": {"is_write_index": False}}},
                "rolled-000002": {"aliases": {"rolled": {"is_write_index": True}}}}
    for node in (n0, n1, n2):
        assert ok(node, "GET", "/_alias/rolled") == expected
