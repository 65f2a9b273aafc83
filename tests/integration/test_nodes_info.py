"""`GET /_nodes` (nodes info) on a real node: the sections a request names, each as
Elasticsearch's NodeInfo writes it."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

IDENTITY = {
    "name",
    "transport_address",
    "host",
    "ip",
    "version",
    "build_flavor",
    "build_type",
    "build_hash",
    "roles",
    "attributes",
}


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    from tests.support.node_process import NodeProcess

    n = NodeProcess(
        tmp_path_factory.mktemp("info"),
        "node.processors=0.5",
        "node.attr.zone=z1",
        "transport.secret=TRANSPORTSECRET",
        "s3.client.backup.access_key=AKIDSECRETLY",
        "s3.client.backup.secret_key=SHHHH",
        "s3.client.backup.session_token=TOKENTOKEN",
        "s3.client.backup.region=eu-west-1",
    ).start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def es(started):
    client = Elasticsearch(started.url, request_timeout=30)
    yield client
    client.close()


def only_node(body: dict) -> dict:
    (info,) = body["nodes"].values()
    return info


def test_every_section_is_given_when_no_metric_is_named(es):
    info = only_node(es.nodes.info())
    assert set(info) == IDENTITY | {
        "settings",
        "os",
        "process",
        "jvm",
        "thread_pool",
        "transport",
        "http",
        "plugins",
        "modules",
        "ingest",
        "aggregations",
    }


def test_a_named_metric_gives_that_section_beside_the_identity(es):
    assert set(only_node(es.nodes.info(metric="os"))) == IDENTITY | {"os"}
    assert set(only_node(es.nodes.info(node_id="_local", metric="http,process"))) == IDENTITY | {
        "http",
        "process",
    }


def test_a_path_of_metric_names_alone_names_metrics_not_nodes(started):
    with started.client() as http:
        body = http.get("/_nodes/jvm,thread_pool").json()
    assert body["_nodes"]["total"] == 1
    assert set(only_node(body)) == IDENTITY | {"jvm", "thread_pool"}


def test_unknown_metrics_are_dropped_as_elasticsearch_drops_them(started):
    with started.client() as http:
        assert set(only_node(http.get("/_nodes/_all/nope").json())) == IDENTITY
        assert set(only_node(http.get("/_nodes/_local/info/os,nope").json())) == IDENTITY | {"os"}


def test_os_counts_the_processors_the_node_was_allotted_rounded_up(es):
    os_info = only_node(es.nodes.info(metric="os"))["os"]
    assert os_info["allocated_processors"] == 1  # node.processors=0.5
    assert os_info["available_processors"] >= 1
    assert os_info["name"] and os_info["arch"] and os_info["version"]
    assert os_info["refresh_interval_in_millis"] == 1000


def test_process_names_the_node_process(es, started):
    assert only_node(es.nodes.info(metric="process"))["process"] == {
        "refresh_interval_in_millis": 1000,
        "id": started.proc.pid,
        "mlockall": False,
    }


def test_settings_show_what_the_node_was_started_with_but_never_credentials(es, started):
    settings = only_node(es.nodes.info(metric="settings"))["settings"]
    assert settings["node"]["processors"] == "0.5"
    assert settings["node"]["name"] == started.name
    assert settings["cluster"]["name"]
    for secret in ("AKIDSECRETLY", "SHHHH", "TOKENTOKEN", "TRANSPORTSECRET"):
        assert secret not in str(settings)
    assert settings["s3"]["client"]["backup"] == {"region": "eu-west-1"}  # the rest of the client is shown
    flat = only_node(es.nodes.info(metric="settings", flat_settings=True))["settings"]
    assert flat["node.attr.zone"] == "z1" and "s3.client.backup.access_key" not in flat


def test_attributes_are_the_node_attr_settings(es):
    assert only_node(es.nodes.info())["attributes"] == {"zone": "z1"}


def test_thread_pools_are_the_node_executors(es):
    pools = only_node(es.nodes.info(metric="thread_pool"))["thread_pool"]
    assert {"generic", "search", "management", "snapshot"} <= set(pools)
    assert all(p["type"] == "fixed" and p["size"] >= 1 and p["queue_size"] == -1 for p in pools.values())


def test_aggregations_list_the_field_types_each_reads(es):
    aggs = only_node(es.nodes.info(metric="aggregations"))["aggregations"]
    assert aggs["avg"] == {"types": ["boolean", "date", "numeric"]}
    assert aggs["terms"] == {"types": ["boolean", "date", "ip", "keyword", "numeric"]}
    assert aggs["geo_bounds"] == {"types": ["geopoint"]}
    assert aggs["filters"] == {"types": ["other"]}
    assert aggs["cardinality"]["types"] == ["boolean", "date", "geopoint", "ip", "keyword", "numeric"]


def test_plugins_modules_and_ingest_processors_are_empty_lists(es):
    info = only_node(es.nodes.info(metric="plugins,ingest"))
    assert (info["plugins"], info["modules"], info["ingest"]) == ([], [], {"processors": []})
