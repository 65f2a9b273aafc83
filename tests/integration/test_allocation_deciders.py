"""Allocation deciders on a real 3-node cluster (n0 and n1 in zone a, n2 in zone b): index
filters, `cluster.routing.allocation.enable`, zone awareness, the allocation explain API,
and a copy whose shard folder is unusable failing until `index.allocation.max_retries`,
then allocated again by `POST /_cluster/reroute?retry_failed=true`."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.cluster import LocalCluster
from tests.support.cluster_views import copies, names
from tests.support.polling import wait_until

ZONES = {"n0": "a", "n1": "a", "n2": "b"}
REQUIRE_B = 'node does not match index setting [index.routing.allocation.require] filters [zone:"b"]'


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("zoned"), list(ZONES))
    for node in cluster.nodes:
        node.settings.append(f"node.attr.zone={ZONES[node.name]}")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def http(zoned):
    with zoned.node("n0").client(timeout=60) as client:
        yield client






def settle(http: httpx.Client, index: str) -> None:
    http.get(
        "/_cluster/health/" + index, params={"wait_for_no_initializing_shards": "true", "timeout": "30s"}
    ).raise_for_status()


def create_unassigned(http: httpx.Client, index: str, settings: dict) -> None:
    """Create an index whose primaries cannot start: the create waits for them (30 s), so
    only the state change is waited for here."""
    try:
        http.put(f"/{index}", json={"settings": settings}, timeout=2.0)
    except httpx.ReadTimeout:
        pass
    wait_until(lambda: index in http.get("/_cluster/state/metadata").json()["metadata"]["indices"])


def put_cluster(http: httpx.Client, **settings) -> None:
    body = {"transient": {k.replace("__", "."): v for k, v in settings.items()}}
    http.put("/_cluster/settings", json=body).raise_for_status()


def test_an_index_level_require_keeps_replicas_off_other_nodes_and_include_widens_it(http):
    http.put(
        "/pinned",
        json={
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 1,
                "index.routing.allocation.require._name": "n2",
            }
        },
    ).raise_for_status()
    settle(http, "pinned")
    node_names = names(http)
    primary, replica = sorted(copies(http, "pinned"), key=lambda c: not c["primary"])
    assert node_names[primary["node"]] == "n2" and primary["state"] == "STARTED"
    assert replica["state"] == "UNASSIGNED"
    r = http.put(
        "/pinned/_settings",
        json={
            "index.routing.allocation.require._name": None,
            "index.routing.allocation.include._name": "n0,n2",
        },
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: all(c["state"] == "STARTED" for c in copies(http, "pinned")))
    replica = next(c for c in copies(http, "pinned") if not c["primary"])
    assert node_names[replica["node"]] == "n0"


def test_enable_none_keeps_a_new_indexs_shards_unassigned_and_all_lets_them_start(http):
    put_cluster(http, cluster__routing__allocation__enable="none")
    try:
        create_unassigned(http, "gated", {"number_of_shards": 2, "number_of_replicas": 1})
        time.sleep(0.5)
        assert {c["state"] for c in copies(http, "gated")} == {"UNASSIGNED"}
        body = http.request(
            "GET", "/_cluster/allocation/explain", json={"index": "gated", "shard": 0, "primary": True}
        ).json()
        assert body["can_allocate"] == "no"
        assert {d["deciders"][0]["explanation"] for d in body["node_allocation_decisions"]} == {
            "no allocations are allowed due to cluster setting [cluster.routing.allocation.enable=none]"
        }
    finally:
        put_cluster(http, cluster__routing__allocation__enable="all")
    health = http.get("/_cluster/health/gated", params={"wait_for_status": "green", "timeout": "30s"}).json()
    assert health["status"] == "green" and health["active_shards"] == 4


def test_awareness_spreads_every_shards_copies_over_both_zones(http):
    put_cluster(http, cluster__routing__allocation__awareness__attributes="zone")
    try:
        http.put(
            "/spread", json={"settings": {"number_of_shards": 3, "number_of_replicas": 1}}
        ).raise_for_status()
        health = http.get(
            "/_cluster/health/spread",
            params={"wait_for_status": "green", "wait_for_no_relocating_shards": "true", "timeout": "30s"}
        ).json()
        assert health["status"] == "green"
        node_names = names(http)
        by_shard: dict[int, set[str]] = {}
        for c in copies(http, "spread"):
            by_shard.setdefault(c["shard"], set()).add(ZONES[node_names[c["node"]]])
        assert by_shard == {0: {"a", "b"}, 1: {"a", "b"}, 2: {"a", "b"}}
    finally:
        put_cluster(http, cluster__routing__allocation__awareness__attributes=None)


def test_explain_an_unassigned_replica_with_each_nodes_deciders(http):
    http.put(
        "/lonely",
        json={
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 1,
                "index.routing.allocation.require.zone": "b",
            }
        },
    ).raise_for_status()
    settle(http, "lonely")
    r = http.request(
        "GET", "/_cluster/allocation/explain", json={"index": "lonely", "shard": 0, "primary": False}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["index"], body["shard"], body["primary"], body["current_state"]) == (
        "lonely",
        0,
        False,
        "unassigned",
    )
    assert body["unassigned_info"]["reason"] == "INDEX_CREATED"
    assert body["can_allocate"] == "no"
    assert body["allocate_explanation"] == (
        "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the cluster. Choose a "
        "node to which you expect this shard to be allocated, find this node in the node-by-node "
        "explanation, and address the reasons which prevent Elasticsearch from allocating this shard there.")
    decisions = {d["node_name"]: d for d in body["node_allocation_decisions"]}
    assert set(decisions) == {"n0", "n1", "n2"}
    assert decisions["n2"]["deciders"][0]["decider"] == "same_shard"
    for name in ("n0", "n1"):
        assert decisions[name]["node_decision"] == "no"
        assert decisions[name]["node_attributes"] == {"zone": "a"}
        assert decisions[name]["deciders"] == [
            {
                "decider": "filter",
                "decision": "NO",
                "explanation": REQUIRE_B,
            }
        ]
    verbose = http.post(
        "/_cluster/allocation/explain",
        params={"include_yes_decisions": "true"},
        json={"index": "lonely", "shard": 0, "primary": False},
    ).json()
    assert [d["decider"] for d in verbose["node_allocation_decisions"][0]["deciders"]] == [
        "max_retry",
        "replica_after_primary_active",
        "enable",
        "node_shutdown",
        "filter",
        "same_shard",
        "disk_threshold",
        "throttling",
        "awareness",
        "data_tier",
    ]
    started = http.request(
        "GET", "/_cluster/allocation/explain", json={"index": "lonely", "shard": 0, "primary": True}
    ).json()
    assert (started["current_state"], started["can_remain_on_current_node"]) == ("started", "yes")
    assert started["current_node"]["name"] == "n2"
    invalid = http.request("GET", "/_cluster/allocation/explain", json={"index": "lonely"})
    assert (
        invalid.status_code == 400
        and invalid.json()["error"]["type"] == "action_request_validation_exception"
    )
    for shard in ("--1", "99999999999999999999", 2**40):  # no int: the field does not parse
        bad = http.request(
            "GET", "/_cluster/allocation/explain", json={"index": "lonely", "shard": shard, "primary": True}
        )
        assert (bad.status_code, bad.json()["error"]["type"]) == (400, "x_content_parse_exception")


def test_a_failing_allocation_is_retried_up_to_max_retries_then_on_request(http, zoned):
    create_unassigned(
        http,
        "broken",
        {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "index.routing.allocation.require._name": "nobody",
            "index.allocation.max_retries": 3,
        },
    )
    uuid = http.get("/broken/_settings").json()["broken"]["settings"]["index"]["uuid"]
    # A file where n1 keeps the shard's folder: every attempt to open the copy there fails.
    folder = zoned.node("n1").data / "indices" / uuid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0").write_text("not a shard")
    r = http.put("/broken/_settings", json={"index.routing.allocation.require._name": "n1"})
    assert r.status_code == 200, r.text

    def exhausted(after: str = ""):
        [copy] = copies(http, "broken")
        body = http.request(
            "GET", "/_cluster/allocation/explain", json={"index": "broken", "shard": 0, "primary": True}
        ).json()
        info = body.get("unassigned_info", {})
        done = copy["state"] == "UNASSIGNED" and info.get("failed_allocation_attempts") == 3
        return body if done and info["at"] > after else None

    body = wait_until(exhausted)
    assert body["unassigned_info"]["reason"] == "ALLOCATION_FAILED"
    assert body["unassigned_info"]["details"].startswith("failed shard on node [")
    n1 = next(d for d in body["node_allocation_decisions"] if d["node_name"] == "n1")
    max_retry = next(d for d in n1["deciders"] if d["decider"] == "max_retry")
    assert max_retry["decision"] == "NO"
    assert max_retry["explanation"].startswith("shard has exceeded the maximum number of retries [3]")
    time.sleep(0.5)
    assert copies(http, "broken")[0]["state"] == "UNASSIGNED"  # no fourth attempt on its own

    # retry_failed tries again (and fails three more times: the folder is still unusable).
    r = http.post("/_cluster/reroute", params={"retry_failed": "true", "metric": "none"})
    assert r.status_code == 200 and r.json() == {"acknowledged": True}
    wait_until(lambda: exhausted(after=body["unassigned_info"]["at"]))

    # An empty primary there: the node's folder of the shard is emptied first, so it opens.
    r = http.post(
        "/_cluster/reroute",
        params={"metric": "none"},
        json={"commands": [{"allocate_empty_primary": {"index": "broken", "shard": 0, "node": "n1"}}]},
    )
    assert r.status_code == 200, r.text
    health = http.get("/_cluster/health/broken", params={"wait_for_status": "green", "timeout": "30s"}).json()
    assert health["status"] == "green"
    assert names(http)[copies(http, "broken")[0]["node"]] == "n1"
    assert (folder / "0").is_dir()
    # retry_failed with nothing failed is a plain reroute.
    r = http.post("/_cluster/reroute", params={"retry_failed": "true", "metric": "none"})
    assert r.status_code == 200


def test_reroute_commands_answer_as_elasticsearch(http):
    r = http.post(
        "/_cluster/reroute",
        params={"explain": "true", "dry_run": "true", "metric": "routing_table"},
        json={"commands": [{"allocate_replica": {"index": "lonely", "shard": 0, "node": "n0"}}]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged"] is True and set(body["state"]) == {"cluster_uuid", "routing_table"}
    [explanation] = body["explanations"]
    assert explanation["command"] == "allocate_replica"
    assert {
        "decider": "filter",
        "decision": "NO",
        "explanation": REQUIRE_B,
    } in explanation["decisions"]
    r = http.post(
        "/_cluster/reroute",
        json={"commands": [{"allocate_replica": {"index": "lonely", "shard": 0, "node": "n0"}}]},
    )
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "illegal_argument_exception"
    assert "[allocate_replica] allocation of [lonely][0] on node {n0}" in r.json()["error"]["reason"]
    primary = next(c for c in copies(http, "spread") if c["primary"])
    target = next(
        n
        for i, n in names(http).items()
        if i != primary["node"]
        and i not in {c["node"] for c in copies(http, "spread") if c["shard"] == primary["shard"]}
    )
    r = http.post(
        "/_cluster/reroute",
        json={
            "commands": [
                {
                    "move": {
                        "index": "spread",
                        "shard": primary["shard"],
                        "from_node": names(http)[primary["node"]],
                        "to_node": target,
                    }
                }
            ]
        },
    )
    assert r.status_code == 200 and r.json()["acknowledged"] is True  # the move starts a relocation
    settled = http.get("/_cluster/health/spread", params={"wait_for_no_relocating_shards": "true",
                                                          "timeout": "60s"}).json()
    assert settled["relocating_shards"] == 0 and not settled["timed_out"]
    r = http.post(
        "/_cluster/reroute",
        json={"commands": [{"allocate_empty_primary": {"index": "spread", "shard": 0, "node": "n0"}}]},
    )
    assert r.status_code == 400 and r.json()["error"]["reason"] == (
        "[allocate_empty_primary] primary [spread][0] is already assigned"
    )
    default = http.post("/_cluster/reroute").json()
    assert default["acknowledged"] is True and "metadata" not in default["state"]
    assert {"nodes", "routing_table", "routing_nodes"} <= set(default["state"])


def test_explain_without_a_shard_when_every_shard_is_assigned_is_a_400(http):
    for index in ("pinned", "lonely", "gated", "broken", "spread"):
        http.delete(f"/{index}")
    r = http.get("/_cluster/allocation/explain")
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "illegal_argument_exception"
    assert r.json()["error"]["reason"].startswith(
        "No shard was specified in the request which means the response should explain a randomly-chosen "
        "unassigned shard, but there are no unassigned shards in this cluster."
    )
