"""The autoscaling APIs on three real node processes, through elasticsearch-py as the
operator's cluster client or a person would call them: policies stored on the master and
read anywhere, the capacity the master computes from what the policies' nodes report of
themselves, and policies a settings file owns."""

from __future__ import annotations

import os

import orjson
import pytest
from elasticsearch import ApiError

from tests.support.cluster import LocalCluster, elasticsearch_clients
from tests.support.polling import wait_until

HOT = "data_hot,master"
MIB_10 = 10 << 20  # ES's node disk overhead, the least a node of a data tier needs
ROLES = {"a0": "master", "a1": HOT, "a2": HOT}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("autoscaling"), list(ROLES), "node.processors=0.5",
                           roles=ROLES).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def es(cluster):
    with elasticsearch_clients(cluster) as clients:
        yield clients


@pytest.fixture(autouse=True)
def no_policies(es):
    yield
    es[0].autoscaling.delete_autoscaling_policy(name="*")


def host_memory() -> int:
    from strata_node.common.machine import total_memory_bytes
    return total_memory_bytes()


def disk_total(path) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def test_a_policy_put_on_one_node_is_read_on_another(es):
    es[1].autoscaling.put_autoscaling_policy(name="hot", policy={
        "roles": ["data_hot", "master"], "deciders": {"fixed": {"storage": "10gb", "nodes": 3}}})
    assert es[2].autoscaling.get_autoscaling_policy(name="hot").body == {
        "roles": ["data_hot", "master"], "deciders": {"fixed": {"nodes": "3", "storage": "10gb"}}}
    state = es[0].cluster.state(metric="metadata")["metadata"]["autoscaling"]
    assert list(state["policies"]) == ["hot"]


def test_capacity_counts_the_nodes_with_exactly_the_policys_roles(es, cluster):
    es[0].autoscaling.put_autoscaling_policy(name="hot", policy={
        "roles": ["data_hot", "master"], "deciders": {"fixed": {"storage": "10gb", "memory": "2gb",
                                                                "processors": 1.5, "nodes": 3}}})
    es[0].autoscaling.put_autoscaling_policy(name="masters", policy={
        "roles": ["master"], "deciders": {"fixed": {"memory": "1gb"}}})
    answer = es[2].autoscaling.get_autoscaling_capacity()["policies"]

    hot = answer["hot"]
    assert hot["current_nodes"] == [{"name": "a1"}, {"name": "a2"}]
    storage = disk_total(cluster.node("a1").data)
    assert hot["current_capacity"] == {
        "node": {"storage": storage, "memory": host_memory(), "processors": 0.5},
        "total": {"storage": 2 * storage, "memory": 2 * host_memory(), "processors": 1.0}}
    # The upper bound of fixed and of reactive storage (on by default for a data tier,
    # which asks for what the tier has while nothing waits for disk).
    assert hot["required_capacity"] == {
        "node": {"storage": max(10 << 30, MIB_10), "memory": 2 << 30, "processors": 1.5},
        "total": {"storage": max(30 << 30, 2 * storage), "memory": 6 << 30, "processors": 4.5}}
    summary = hot["deciders"]["fixed"]["reason_summary"]
    assert summary == "fixed storage [10gb] memory [2gb] processors [1.5] nodes [3]"
    reactive = hot["deciders"]["reactive_storage"]
    # Per node: no shard, the 1b the nodes' low watermark keeps free, ES's 10mb overhead.
    assert reactive["required_capacity"] == {"node": {"storage": MIB_10 + 1},
                                             "total": {"storage": 2 * storage}}
    assert reactive["reason_summary"] == "storage ok"

    masters = answer["masters"]
    assert masters["current_nodes"] == [{"name": "a0"}]
    # A node that holds no data brings no storage.
    assert masters["current_capacity"]["total"] == {"storage": 0, "memory": host_memory(), "processors": 0.5}


def test_bad_policies_get_es_errors_and_change_nothing(es):
    with pytest.raises(ApiError) as unknown:
        es[0].autoscaling.put_autoscaling_policy(name="p", policy={"roles": [], "deciders": {"nope": {}}})
    assert unknown.value.status_code == 400
    assert unknown.value.body["error"]["reason"] == "unknown decider [nope]"
    with pytest.raises(ApiError) as missing:
        es[1].autoscaling.get_autoscaling_policy(name="p")
    assert missing.value.status_code == 404
    assert missing.value.body["error"]["type"] == "resource_not_found_exception"
    with pytest.raises(ApiError) as not_applicable:
        es[0].autoscaling.put_autoscaling_policy(name="p", policy={"roles": ["master"]})
    assert "no default nor user configured deciders" in not_applicable.value.body["error"]["reason"]
    with pytest.raises(ApiError) as no_such:
        es[2].autoscaling.delete_autoscaling_policy(name="p")
    assert no_such.value.status_code == 404
    assert es[2].autoscaling.delete_autoscaling_policy(name="p*").body == {"acknowledged": True}
    assert es[0].autoscaling.get_autoscaling_capacity().body == {"policies": {}}


def test_an_update_through_the_api_keeps_the_roles_it_leaves_out(es):
    es[0].autoscaling.put_autoscaling_policy(name="p", policy={"roles": ["master"],
                                                               "deciders": {"fixed": {"memory": "1gb"}}})
    es[1].autoscaling.put_autoscaling_policy(name="p", policy={"deciders": {"fixed": {"memory": "2gb"}}})
    assert es[2].autoscaling.get_autoscaling_policy(name="p").body == {
        "roles": ["master"], "deciders": {"fixed": {"memory": "2gb"}}}


def test_a_policy_from_file_settings_is_read_only_to_the_api_until_the_file_drops_it(es, cluster):
    def write(version: int, autoscaling: dict) -> None:
        data = orjson.dumps({"metadata": {"version": str(version), "compatibility": "8.4.0"},
                             "state": {"autoscaling": autoscaling}})
        for node in cluster.nodes:
            path = node.data / "operator" / "settings.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(".settings.json.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)

    def policy_names() -> list[str]:
        custom = es[0].cluster.state(metric="metadata")["metadata"].get("autoscaling") or {}
        return sorted(custom.get("policies", {}))

    write(1, {"from-file": {"roles": [], "deciders": {"fixed": {"nodes": 2, "memory": "1gb"}}}})
    wait_until(lambda: policy_names() == ["from-file"], timeout=20)
    with pytest.raises(ApiError) as refused:
        es[1].autoscaling.put_autoscaling_policy(name="from-file", policy={"roles": ["master"]})
    assert refused.value.status_code == 400
    assert "[from-file] set as read-only by [file_settings]" in refused.value.body["error"]["reason"]
    with pytest.raises(ApiError) as not_deleted:
        es[1].autoscaling.delete_autoscaling_policy(name="from-file")
    assert not_deleted.value.status_code == 400
    assert "[from-file] set as read-only by [file_settings]" in not_deleted.value.body["error"]["reason"]

    write(2, {})
    wait_until(lambda: policy_names() == [], timeout=20)


def test_reactive_storage_asks_for_the_disk_a_replica_lacks(es):
    """A hot replica the low watermark alone keeps unassigned: the hot tier needs its
    current storage plus the replica's size (its primary's, as the master measured it)."""
    disk = "cluster.routing.allocation.disk.watermark."
    es[0].indices.create(index="growing", settings={
        "number_of_replicas": 0, "index.routing.allocation.include._tier_preference": "data_hot"},
        wait_for_active_shards="1")
    try:
        es[0].bulk(operations=[line for i in range(200) for line in (
            {"index": {"_index": "growing", "_id": str(i)}}, {"message": "x" * 200})], refresh=True)
        es[0].indices.flush(index="growing")
        es[0].autoscaling.put_autoscaling_policy(name="hot", policy={"roles": ["data_hot", "master"]})
        # Every disk past the low watermark (as free space required), none past the high one.
        es[0].cluster.put_settings(persistent={disk + "low": "1000tb", disk + "high": "1b",
                                               disk + "flood_stage": "1b"})

        def measured() -> int:
            info = es[0].cluster.allocation_explain(index="growing", shard=0, primary=True,
                                                    include_disk_info=True)["cluster_info"]
            return info["shard_sizes"].get("[growing][0][p]_bytes", 0)

        size = wait_until(measured)
        es[0].indices.put_settings(index="growing", settings={"number_of_replicas": 1})

        def reactive() -> dict | None:
            answer = es[1].autoscaling.get_autoscaling_capacity()["policies"]["hot"]
            found = answer["deciders"]["reactive_storage"]
            return answer if found["reason_details"]["unassigned_shards"] else None

        answer = wait_until(reactive)
        found = answer["deciders"]["reactive_storage"]
        assert found["reason_details"]["unassigned"] == size
        assert found["reason_details"]["unassigned_shards"] == ["[growing][0]"]
        assert found["reason_summary"].startswith("not enough storage available, needs ")
        current = answer["current_capacity"]["total"]["storage"]
        assert found["required_capacity"]["total"]["storage"] == current + size
        assert answer["required_capacity"]["total"]["storage"] == current + size
    finally:
        es[0].cluster.put_settings(persistent={disk + "*": None})
        es[0].indices.delete(index="growing")
