"""The operator's REST client against a real node process, and its failures read as unknown."""

from __future__ import annotations

import json

import httpx
import pytest

from strata_operator.cluster_client import ClusterClient, ClusterUnavailable
from strata_operator.reconcile import Observed, observe
from tests.support.node_process import NodeProcess


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = NodeProcess(tmp_path_factory.mktemp("node"), "discovery.type=single-node", name="solo-0").start()
    with httpx.Client(base_url=n.url, timeout=30) as http:
        http.get("/_cluster/health", params={"wait_for_status": "green", "timeout": "20s"})
    yield n
    n.stop()


@pytest.mark.integration
def test_observe_reads_health_master_and_the_formed_clusters_uuid(node):
    with ClusterClient(node.url) as client:
        observed = observe(client)
    assert observed.health == "green"
    assert observed.nodes == 1
    assert observed.master == "solo-0"
    assert observed.cluster_uuid and observed.cluster_uuid != "_na_"


def test_an_unreachable_cluster_is_all_unknown():
    with ClusterClient("http://127.0.0.1:9", timeout=0.5) as client:
        assert observe(client) == Observed()


def test_an_error_answer_is_unavailable_not_a_value():
    transport = httpx.MockTransport(lambda request: httpx.Response(503, json={"error": "x"}))
    with ClusterClient("http://cluster", transport=transport) as client, pytest.raises(ClusterUnavailable):
        client.health()


def test_an_unformed_cluster_has_no_uuid():
    body = {"metadata": {"cluster_uuid": "_na_", "cluster_uuid_committed": False}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with ClusterClient("http://cluster", transport=transport) as client:
        assert client.formed_cluster_uuid() is None


def answering(status: int, body=None):
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


def test_validation_posts_the_whole_document_and_gives_back_the_answer():
    seen = []

    def handle(request):
        seen.append((request.method, request.url.path, request.headers["content-type"], request.content))
        return httpx.Response(200, json={"valid": True, "would_apply": True, "current_version": None})

    document = {"metadata": {"version": "1", "compatibility": "8.17.0"}, "state": {"cluster_settings": {}}}
    with ClusterClient("http://cluster", transport=httpx.MockTransport(handle)) as client:
        assert client.validate_settings(document)["valid"] is True
    method, path, content_type, body = seen[0]
    assert (method, path, content_type) == ("POST", "/_reserved_state/_validate", "application/json")
    assert json.loads(body) == document


def test_file_settings_state_is_none_before_anything_was_recorded():
    with ClusterClient("http://cluster", transport=answering(200, {})) as client:
        assert client.file_settings_state() is None
    with ClusterClient(
        "http://cluster", transport=answering(200, {"metadata": {"reserved_state": {}}})
    ) as client:
        assert client.file_settings_state() is None


def test_file_settings_state_is_the_namespaces_entry():
    entry = {"version": 2, "handlers": {}, "errors": None}
    body = {"metadata": {"reserved_state": {"file_settings": entry}}}
    with ClusterClient("http://cluster", transport=answering(200, body)) as client:
        assert client.file_settings_state() == entry


def test_a_recorded_but_slow_voting_exclusion_is_not_an_error_and_not_in_effect():
    timeout = {"error": {"type": "elasticsearch_timeout_exception", "reason": "timed out"}, "status": 429}
    with ClusterClient("http://cluster", transport=answering(429, timeout)) as client:
        assert client.add_voting_exclusion("demo-default-2") is False
    with ClusterClient("http://cluster", transport=answering(200)) as client:
        assert client.add_voting_exclusion("demo-default-2") is True


def test_any_other_exclusion_error_is_unavailable():
    refused = {"error": {"type": "illegal_argument_exception", "reason": "exceed the maximum"}, "status": 400}
    with (
        ClusterClient("http://cluster", transport=answering(400, refused)) as client,
        pytest.raises(ClusterUnavailable, match="exceed the maximum"),
    ):
        client.add_voting_exclusion("demo-default-2")


def test_a_shutdown_answer_without_its_nodes_list_is_unavailable_not_empty():
    with (
        ClusterClient("http://cluster", transport=answering(200, {"unexpected": True})) as client,
        pytest.raises(ClusterUnavailable),
    ):
        client.shutdowns()


def test_a_refused_shutdown_request_is_unavailable():
    with (
        ClusterClient("http://cluster", transport=answering(404, {"error": {"type": "x"}})) as client,
        pytest.raises(ClusterUnavailable),
    ):
        client.delete_shutdown("id-1")


def test_a_restart_shutdown_carries_its_allocation_delay():
    seen = []

    def handle(request):
        seen.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"acknowledged": True})

    with ClusterClient("http://cluster", transport=httpx.MockTransport(handle)) as client:
        client.put_shutdown("id-1", "restart", "rolling", allocation_delay="5m")
        client.put_shutdown("id-2", "remove", "draining")
    assert seen == [
        ("PUT", "/_nodes/id-1/shutdown", {"type": "restart", "reason": "rolling", "allocation_delay": "5m"}),
        ("PUT", "/_nodes/id-2/shutdown", {"type": "remove", "reason": "draining"}),
    ]


def test_allocation_explain_with_nothing_unassigned_is_none_and_any_other_error_unavailable():
    nothing = {
        "error": {"type": "illegal_argument_exception", "reason": "no unassigned shards"},
        "status": 400,
    }
    with ClusterClient("http://cluster", transport=answering(400, nothing)) as client:
        assert client.allocation_explain() is None
    with (
        ClusterClient("http://cluster", transport=answering(503, {"error": {"type": "x"}})) as client,
        pytest.raises(ClusterUnavailable),
    ):
        client.allocation_explain()


def test_shards_that_are_not_a_list_are_unavailable():
    with (
        ClusterClient("http://cluster", transport=answering(200, {"unexpected": True})) as client,
        pytest.raises(ClusterUnavailable),
    ):
        client.shards()


@pytest.mark.integration
def test_the_real_shards_and_allocation_explain_answers_read_as_the_planner_expects(node):
    with httpx.Client(base_url=node.url, timeout=30) as http:
        http.put("/explained", json={"settings": {"number_of_shards": 1, "number_of_replicas": 1}})
    with ClusterClient(node.url) as client:
        rows = [r for r in client.shards() if r["index"] == "explained"]
        explained = client.allocation_explain()
    assert sorted((r["prirep"], r["state"], r["node"]) for r in rows) == [
        ("p", "STARTED", "solo-0"),
        ("r", "UNASSIGNED", None),
    ]
    assert (explained["index"], explained["primary"], explained["current_state"]) == (
        "explained",
        False,
        "unassigned",
    )
