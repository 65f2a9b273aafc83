"""The balancer and delayed allocation on real node processes: a third node joining a
2-node cluster receives shards until the cluster is balanced, held back while
`cluster.routing.rebalance.enable` is `none`, with every document searchable and counts
exact throughout; a node killed with -9 and started again within the delayed timeout gets
its replicas back instead of having them rebuilt elsewhere."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.support.cluster import LocalCluster, start_all
from tests.support.cluster_views import copies, names
from tests.support.polling import wait_until

# b2 holds data only, so b0 and b1 bootstrap the cluster on their own.
ROLES = {"b2": "data"}
DOCS = 300


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("balancer"), ["b0", "b1", "b2"], roles=ROLES)
    start_all(local.nodes[:2])
    local.wait_for_nodes(2)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def http(cluster):
    with cluster.node("b0").client(timeout=60) as client:
        yield client




def per_node(http: httpx.Client, index: str) -> dict[str, int]:
    counts = dict.fromkeys(names(http).values(), 0)
    by_id = names(http)
    for c in copies(http, index):
        if c["node"] is not None and c["state"] != "RELOCATING":
            counts[by_id[c["node"]]] += 1
    return counts


def create(http: httpx.Client, index: str, shards: int) -> None:
    settings = {"number_of_shards": shards, "number_of_replicas": 1}
    http.put(f"/{index}", json={"settings": settings}).raise_for_status()


def green(http: httpx.Client, index: str = "") -> dict:
    """Waits for the index (every index when none is named) to be green and settled."""
    health = http.get(f"/_cluster/health/{index}", params={
        "wait_for_status": "green", "wait_for_no_relocating_shards": "true",
        "wait_for_no_initializing_shards": "true", "timeout": "60s"}).json()
    assert health["status"] == "green" and health["relocating_shards"] == 0, health
    return health


class Reader:
    """Counts and searches the index over and over from another thread; every answer must
    be the exact number of documents."""

    def __init__(self, url: str, index: str):
        self.url, self.index = url, index
        self.stop = threading.Event()
        self.answers: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                count = c.get(f"/{self.index}/_count")
                search = c.post(f"/{self.index}/_search", json={"size": 0, "track_total_hits": True,
                                                               "query": {"term": {"even": True}}})
                if count.status_code != 200 or search.status_code != 200:
                    self.errors.append(f"{count.status_code} {count.text} {search.status_code} {search.text}")
                    continue
                if count.json()["_shards"]["failed"] or search.json()["_shards"]["failed"]:
                    self.errors.append(f"failed shards: {count.text} {search.text}")
                self.answers.append(count.json()["count"])
                self.answers.append(2 * search.json()["hits"]["total"]["value"])
                time.sleep(0.05)


def test_a_third_node_waits_while_rebalancing_is_off_then_receives_shards_until_balanced(cluster, http):
    create(http, "spread", shards=6)
    green(http, "spread")
    lines = "".join(f'{{"index":{{"_id":"{n}"}}}}\n{{"n":{n},"even":{str(n % 2 == 0).lower()}}}\n'
                    for n in range(DOCS))
    bulk = http.post("/spread/_bulk", params={"refresh": "true"}, content=lines,
                     headers={"content-type": "application/x-ndjson"}).json()
    assert not bulk["errors"]
    assert per_node(http, "spread") == {"b0": 6, "b1": 6}
    http.put("/_cluster/settings", json={"transient": {"cluster.routing.rebalance.enable": "none"}})
    reader = Reader(cluster.node("b0").url, "spread")
    thread = threading.Thread(target=reader.run)
    thread.start()
    try:
        start_all([cluster.node("b2")])
        cluster.wait_for_nodes(3)
        time.sleep(2)  # states come and go; nothing may move meanwhile
        assert per_node(http, "spread")["b2"] == 0
        body = http.post("/_cluster/allocation/explain", json={"index": "spread", "shard": 0,
                                                               "primary": True}).json()
        assert (body["can_rebalance_cluster"], body["can_rebalance_to_other_node"]) == ("no", "no")
        refused = {"decider": "enable", "decision": "NO", "explanation": "no rebalancing is allowed due to "
                   "cluster setting [cluster.routing.rebalance.enable=none]"}
        assert refused in body["can_rebalance_cluster_decisions"]

        http.put("/_cluster/settings", json={"transient": {"cluster.routing.rebalance.enable": None}})
        wait_until(lambda: per_node(http, "spread") == {"b0": 4, "b1": 4, "b2": 4}, timeout=90, interval=0.3)
        green(http, "spread")
    finally:
        reader.stop.set()
        thread.join(60)
    assert not reader.errors, reader.errors[:3]
    assert reader.answers and set(reader.answers) == {DOCS}
    # balanced now: a started copy has nowhere better to go
    body = http.post("/_cluster/allocation/explain", json={"index": "spread", "shard": 0,
                                                           "primary": True}).json()
    assert (body["can_rebalance_cluster"], body["can_rebalance_to_other_node"]) == ("yes", "no")
    assert body["rebalance_explanation"] == (
        "This shard is in a well-balanced location and satisfies all allocation rules so it will remain on "
        "this node. Elasticsearch cannot improve the cluster balance by moving it to another node. If you "
        "expect this shard to be rebalanced to another node, find the other node in the node-by-node "
        "explanation and address the reasons which prevent Elasticsearch from rebalancing this shard there.")
    # every copy holds its documents: counted node by node, each document twice (1 replica)
    total = 0
    for node_id in names(http):
        answer = http.get("/spread/_count", params={"preference": f"_only_nodes:{node_id}"}).json()
        assert answer["_shards"]["successful"] == 4, answer
        total += answer["count"]
    assert total == 2 * DOCS


def test_a_node_back_within_the_delayed_timeout_gets_its_replicas_back(cluster, http):
    create(http, "delayed", shards=3)
    green(http, "delayed")
    by_id = names(http)
    master = cluster.master_name(cluster.node("b0"))
    victim = next(n for n in ("b2", "b1", "b0") if n != master)
    before = {(c["shard"], by_id[c["node"]]) for c in copies(http, "delayed")}
    held = {shard for shard, name in before if name == victim}
    assert held
    cluster.node(victim).kill()

    def delayed() -> dict | None:
        health = http.get("/_cluster/health").json()
        return health if health["delayed_unassigned_shards"] >= len(held) else None

    health = wait_until(delayed, timeout=30, interval=0.2)
    assert health["status"] == "yellow"
    waiting = [c for c in copies(http, "delayed") if c["state"] == "UNASSIGNED"]
    assert waiting and all(c["unassigned_info"]["delayed"] for c in waiting)
    assert all(not c["primary"] for c in waiting)  # its primaries were replaced by promoted replicas
    body = http.post("/_cluster/allocation/explain", json={"index": "delayed", "shard": waiting[0]["shard"],
                                                           "primary": False}).json()
    assert body["can_allocate"] == "allocation_delayed"
    assert body["configured_delay"] == "1m" and 0 < body["remaining_delay_in_millis"] <= 60_000
    # meanwhile nothing is rebuilt elsewhere
    assert {(c["shard"], by_id[c["node"]]) for c in copies(http, "delayed") if c["node"]} == {
        pair for pair in before if pair[1] != victim}

    start_all([cluster.node(victim)])
    cluster.wait_for_nodes(3)
    green(http, "delayed")
    # the count is cluster-wide, and the earlier test's index had replicas on the victim too
    assert green(http)["delayed_unassigned_shards"] == 0
    by_id = names(http)
    after = {(c["shard"], by_id[c["node"]]) for c in copies(http, "delayed")}
    assert after == before  # each shard on the same nodes as before: back on the victim
    assert http.get("/delayed/_count").json()["count"] == 0
