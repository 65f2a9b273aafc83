"""The operator's REST client against a real node process, and its failures read as unknown."""

from __future__ import annotations

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
