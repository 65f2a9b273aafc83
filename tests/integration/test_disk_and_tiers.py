"""Disk watermarks and data tiers on three real node processes (h0 and h1 hot, w0 warm),
through elasticsearch-py: the master's cluster info in the allocation explanation, a
replica kept off nodes past the low watermark, indices blocked past the flood stage and
released once there is room, and copies placed on, and moved to, their preferred tier.

The machine's disk is what it is, so the tests move the watermarks instead: as free-space
figures, `1000tb` is past any disk and `1b` within every one."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError

from tests.support.cluster import LocalCluster, elasticsearch_clients
from tests.support.polling import wait_until

ROLES = {"h0": "master,data_hot,data_content", "h1": "master,data_hot,data_content", "w0": "master,data_warm"}
DISK = "cluster.routing.allocation.disk."
PAST_EVERY_DISK = "1000tb"
BLOCKED = (
    "index [{}] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has "
    "read-only-allow-delete block];"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("disk"), list(ROLES), roles=ROLES).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def es(cluster):
    with elasticsearch_clients(cluster) as clients:
        yield clients


@pytest.fixture(autouse=True)
def watermarks_back(es):
    yield
    es[0].cluster.put_settings(persistent={f"{DISK}*": None})
    names = list(es[0].indices.get(index="*", expand_wildcards="all"))
    if names:
        es[0].indices.delete(index=",".join(names))


def watermarks(es, low: str, high: str = "1b", flood: str = "1b") -> None:
    es[0].cluster.put_settings(
        persistent={
            f"{DISK}watermark.low": low,
            f"{DISK}watermark.high": high,
            f"{DISK}watermark.flood_stage": flood,
        }
    )


def holders(es, index: str) -> set[str]:
    names = {i: n["name"] for i, n in es[0].cluster.state(metric="nodes")["nodes"].items()}
    table = es[0].cluster.state(metric="routing_table", index=index)["routing_table"]["indices"][index]
    return {
        names[c["node"]]
        for shard in table["shards"].values()
        for c in shard
        if c["node"] and c["state"] == "STARTED"
    }


def test_the_explanation_shows_every_data_nodes_disk_and_the_shard_sizes(es, cluster):
    es[0].indices.create(index="sized", settings={"number_of_replicas": 0}, wait_for_active_shards="1")
    es[0].index(index="sized", id="1", document={"message": "x" * 1000}, refresh=True)
    es[0].indices.flush(index="sized")
    watermarks(es, "2b")  # a disk settings change makes the master ask at once

    def gathered():
        body = es[1].cluster.allocation_explain(index="sized", shard=0, primary=True, include_disk_info=True)
        info = body["cluster_info"]
        return info if len(info["nodes"]) == 3 and info["shard_sizes"].get("[sized][0][p]_bytes") else None

    info = wait_until(gathered)
    names = {n["node_name"] for n in info["nodes"].values()}
    assert names == {"h0", "h1", "w0"}
    usage = next(iter(info["nodes"].values()))["least_available"]
    assert usage["total_bytes"] == usage["used_bytes"] + usage["free_bytes"] > 0
    assert info["shard_sizes"]["[sized][0][p]_bytes"] > 1000
    assert info["shard_data_set_sizes"]["[sized][0]_bytes"] == info["shard_sizes"]["[sized][0][p]_bytes"]


def test_a_replica_stays_unassigned_while_every_node_is_past_the_low_watermark(es):
    watermarks(es, PAST_EVERY_DISK)
    es[0].indices.create(index="low", settings={"number_of_replicas": 1}, wait_for_active_shards="1")
    # A new empty primary may still go past the low watermark (up to the high one).
    assert len(holders(es, "low")) == 1
    body = es[0].cluster.allocation_explain(index="low", shard=0, primary=False)
    assert body["can_allocate"] == "no"
    refusals = [
        d
        for n in body["node_allocation_decisions"]
        for d in n["deciders"]
        if d["decider"] == "disk_threshold"
    ]
    assert refusals and all(
        d["explanation"].startswith(
            "the node is above the low watermark cluster setting [cluster.routing.allocation.disk.watermark."
            "low=1000tb], having less than the minimum required [1000tb] free space, actual free: ["
        )
        for d in refusals
    )
    es[0].cluster.put_settings(persistent={f"{DISK}watermark.*": None})
    health = es[0].cluster.health(index="low", wait_for_status="green", timeout="30s")
    assert health["status"] == "green"


def test_past_the_flood_stage_indices_are_read_only_until_there_is_room(es):
    es[0].indices.create(index="flood", settings={"number_of_replicas": 1})
    es[0].cluster.health(index="flood", wait_for_status="green", timeout="30s")
    es[0].index(index="flood", id="1", document={"n": 1}, refresh=True)
    watermarks(es, PAST_EVERY_DISK, "900tb", "800tb")
    wait_until(
        lambda: (
            es[1]
            .indices.get_settings(index="flood", name="index.blocks.read_only_allow_delete")
            .body.get("flood")
        )
    )
    with pytest.raises(ApiError) as e:
        es[2].index(index="flood", id="2", document={"n": 2})
    assert e.value.meta.status == 429
    assert e.value.body["error"]["type"] == "cluster_block_exception"
    assert e.value.body["error"]["reason"] == BLOCKED.format("flood")
    assert es[2].get(index="flood", id="1")["_source"] == {"n": 1}  # reads go on
    # A new index lands on no node past the high watermark: its primary waits.
    es[0].indices.create(index="waiting", wait_for_active_shards="0")
    body = es[0].cluster.allocation_explain(index="waiting", shard=0, primary=True)
    assert body["current_state"] == "unassigned"
    assert all(any(d["decider"] == "disk_threshold" and d["decision"] == "NO" for d in n["deciders"])
               for n in body["node_allocation_decisions"] if n["node_name"] != "w0")
    es[0].cluster.put_settings(persistent={f"{DISK}watermark.*": None})
    wait_until(
        lambda: (
            not es[1]
            .indices.get_settings(index="flood", name="index.blocks.read_only_allow_delete")
            .body.get("flood")
        )
    )
    assert es[2].index(index="flood", id="2", document={"n": 2})["result"] == "created"
    assert es[0].cluster.health(index="waiting", wait_for_status="yellow", timeout="30s")["status"] != "red"


def test_a_bad_watermark_is_refused_and_changes_nothing(es):
    with pytest.raises(ApiError) as e:
        es[0].cluster.put_settings(persistent={f"{DISK}watermark.low": "95%"})
    assert e.value.meta.status == 400
    assert (
        e.value.body["error"]["reason"] == "unable to consistently parse [cluster.routing.allocation.disk."
        "watermark.low=95%], [cluster.routing.allocation.disk.watermark.high=1b], and [cluster.routing."
        "allocation.disk.watermark.flood_stage=1b] as percentage or bytes"
    )  # the nodes' files set bytes
    assert es[0].cluster.get_settings()["persistent"] == {}


def test_copies_go_to_their_preferred_tier_and_move_when_it_changes(es):
    es[0].indices.create(
        index="logs",
        settings={
            "number_of_replicas": 0,
            "index.routing.allocation.include._tier_preference": "data_warm,data_hot",
        },
        wait_for_active_shards="1",
    )
    es[0].indices.create(index="catalog", settings={"number_of_replicas": 1})
    es[0].cluster.health(index="logs,catalog", wait_for_status="green", timeout="30s")
    assert holders(es, "logs") == {"w0"}
    assert holders(es, "catalog") == {"h0", "h1"}
    assert (
        es[0]
        .indices.get_settings(index="catalog", name="index.routing.allocation.include._tier_preference")
        .body["catalog"]["settings"]["index"]["routing"]["allocation"]["include"]["_tier_preference"]
        == "data_content"
    )
    es[0].indices.put_settings(
        index="logs", settings={"index.routing.allocation.include._tier_preference": "data_hot"}
    )
    wait_until(lambda: holders(es, "logs") & {"h0", "h1"} and "w0" not in holders(es, "logs"))
    with pytest.raises(ApiError) as e:
        es[0].indices.put_settings(
            index="logs", settings={"index.routing.allocation.include._tier_preference": "data_frozen"}
        )
    assert (
        e.value.body["error"]["reason"]
        == "[data_frozen] tier can only be used for partial searchable snapshots"
    )
