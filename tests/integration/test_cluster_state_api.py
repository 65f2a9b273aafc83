"""`GET /_cluster/state` and the node counts of `_cluster/health` on a real one-node
cluster, with raw HTTP and elasticsearch-py."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def idx(http, index_name):
    created = http.put(f"/{index_name}", json={"settings": {"number_of_shards": 2, "number_of_replicas": 1}})
    assert created.status_code == 200, created.text
    yield index_name
    http.delete(f"/{index_name}")


def test_the_whole_state_has_elasticsearch_sections(http, idx, node):
    deadline = time.monotonic() + 10
    state = http.get("/_cluster/state").json()
    while state["cluster_uuid"] == "_na_" and time.monotonic() < deadline:  # the first master names it
        time.sleep(0.05)
        state = http.get("/_cluster/state").json()
    assert list(state)[:6] == [
        "cluster_name",
        "cluster_uuid",
        "version",
        "state_uuid",
        "master_node",
        "blocks",
    ]
    assert state["cluster_uuid"] == state["metadata"]["cluster_uuid"] and state["cluster_uuid"] != "_na_"
    me = state["master_node"]
    assert state["nodes"][me]["name"] == node.name
    assert set(state["nodes"][me]) >= {
        "name",
        "ephemeral_id",
        "transport_address",
        "external_id",
        "attributes",
        "roles",
    }
    assert state["blocks"] == {}
    coordination = state["metadata"]["cluster_coordination"]
    assert coordination["last_committed_config"] == [me] and coordination["voting_config_exclusions"] == []
    assert coordination["term"] >= 1
    index = state["metadata"]["indices"][idx]
    assert index["settings"]["index"]["number_of_shards"] == "2" and index["state"] == "open"
    assert set(index["primary_terms"]) == {"0", "1"}
    shards = state["routing_table"]["indices"][idx]["shards"]
    assert [c["primary"] for c in shards["0"]] == [True, False]
    assert shards["0"][0]["state"] == "STARTED" and shards["0"][1]["state"] == "UNASSIGNED"
    assert any(r["index"] == idx for r in state["routing_nodes"]["unassigned"])
    assert any(r["index"] == idx for r in state["routing_nodes"]["nodes"][me])
    assert state["metadata"]["reserved_state"] == {}
    assert state["metadata"]["index-graveyard"] == {"tombstones": []}


def test_metrics_and_indices_filter_the_state(http, idx):
    only_blocks = http.get("/_cluster/state/blocks").json()
    assert set(only_blocks) == {"cluster_name", "cluster_uuid", "blocks"}
    version = http.get("/_cluster/state/version,master_node").json()
    assert set(version) == {"cluster_name", "cluster_uuid", "version", "state_uuid", "master_node"}
    again = http.get("/_cluster/state/version").json()
    assert (again["version"] == version["version"]) == (again["state_uuid"] == version["state_uuid"])
    filtered = http.get(f"/_cluster/state/metadata,routing_table/{idx},missing-one").json()
    assert list(filtered["metadata"]["indices"]) == [idx]
    assert list(filtered["routing_table"]["indices"]) == [idx]
    assert http.get("/_cluster/state/_all/nothing-*").json()["metadata"]["indices"] == {}
    flat = http.get(f"/_cluster/state/metadata/{idx}", params={"flat_settings": "true"}).json()
    assert flat["metadata"]["indices"][idx]["settings"]["index.number_of_shards"] == "2"


def test_local_and_master_timeout_and_wait_for_metadata_version(http):
    assert http.get("/_cluster/state/master_node", params={"local": "true"}).json()["master_node"]
    timed_out = http.get(
        "/_cluster/state", params={"wait_for_metadata_version": "1000000", "wait_for_timeout": "100ms"}
    ).json()
    assert timed_out == {"cluster_name": timed_out["cluster_name"], "wait_for_timed_out": True}
    http.put("/_cluster/settings", json={"transient": {"search.default_search_timeout": "-1"}})
    met = http.get("/_cluster/state/version", params={"wait_for_metadata_version": "1"}).json()
    assert met["wait_for_timed_out"] is False and "version" in met
    http.put("/_cluster/settings", json={"transient": {"search.default_search_timeout": None}})
    for value in ("x", "99999999999999999999"):  # Long.parseLong refuses both
        bad = http.get("/_cluster/state", params={"wait_for_metadata_version": value})
        assert (bad.status_code, bad.json()["error"]["type"]) == (400, "illegal_argument_exception")


def test_the_official_client_reads_the_state(es, idx):
    state = es.cluster.state(metric="metadata,nodes", index=idx)
    assert idx in state["metadata"]["indices"]
    assert len(state["nodes"]) == 1
    assert es.cluster.health()["number_of_nodes"] == 1


def test_health_counts_nodes_from_the_cluster_state_and_waits_for_them(http):
    body = http.get("/_cluster/health", params={"wait_for_nodes": "1"}).json()
    assert body["number_of_nodes"] == 1 and body["number_of_data_nodes"] == 1 and not body["timed_out"]
    start = time.monotonic()
    waited = http.get("/_cluster/health", params={"wait_for_nodes": ">=2", "timeout": "200ms"})
    assert waited.status_code == 408 and waited.json()["timed_out"] is True
    assert time.monotonic() - start < 5


def test_a_node_without_a_master_shows_the_no_master_block(fresh_node):
    # A node that waits for a master that never comes (its initial master is someone else).
    n = fresh_node("cluster.initial_master_nodes=nobody", "discovery.seed_hosts=127.0.0.1:1").start()
    with n.client(timeout=10) as c:
        state = c.get("/_cluster/state", params={"local": "true"}).json()
        assert state["blocks"]["global"]["2"] == {
            "description": "no master",
            "retryable": True,
            "levels": ["write", "metadata_write"],
        }
        assert state["master_node"] is None
        refused = c.get("/_cluster/state", params={"master_timeout": "200ms"})
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "master_not_discovered_exception"
        rows = c.get("/_cat/master", params={"format": "json"}).json()
        assert rows == [{"id": "-", "host": "-", "ip": "-", "node": "-"}]
        assert c.get("/_cat/master").text.split() == ["-", "-", "-", "-"]


def test_health_on_a_node_without_a_master_answers_without_waiting_for_a_state(fresh_node):
    """ES's health ignores global blocks: red at once with `local`, and
    master_not_discovered_exception after `master_timeout`, not the state-not-recovered block
    after half a minute."""
    n = fresh_node("cluster.initial_master_nodes=nobody", "discovery.seed_hosts=127.0.0.1:1").start()
    with n.client(timeout=20) as c:
        start = time.monotonic()
        local = c.get("/_cluster/health", params={"local": "true"})
        assert local.status_code == 200 and local.json()["status"] == "red"
        assert local.json()["number_of_nodes"] == 1
        refused = c.get("/_cluster/health", params={"master_timeout": "300ms"})
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "master_not_discovered_exception"
        assert time.monotonic() - start < 10
