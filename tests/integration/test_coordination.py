"""Cluster coordination across real node processes on loopback: forming from a bootstrap
list, failover after kill -9, rejoining, partitions through the transport fault switch,
full cluster restarts, a coordinating-only node, and a node of another cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.cluster import SECRET, LocalCluster, start_all
from tests.support.node_process import ROOT, NodeProcess
from tests.support.polling import wait_until

FAULTS = "strata.fault_injection=true"


def state(node: NodeProcess, *path: str) -> dict:
    with node.client(timeout=10) as c:
        return c.get("/_cluster/state/" + "/".join(path) if path else "/_cluster/state").json()


def coordination(node: NodeProcess) -> dict:
    return state(node, "metadata")["metadata"]["cluster_coordination"]


def uuid_of(node: NodeProcess) -> str:
    with node.client() as c:
        return c.get("/").json()["cluster_uuid"]


def _with_index(body: dict, name: str) -> dict | None:
    """A state body once it holds `name` (a node may apply a state a moment after another)."""
    return body if name in body.get("metadata", {}).get("indices", {}) else None




def put_setting(node: NodeProcess, value: str, timeout: str = "30s") -> httpx.Response:
    with node.client(timeout=60) as c:
        return c.put("/_cluster/settings", params={"master_timeout": timeout},
                     json={"persistent": {"action.auto_create_index": value}})


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    root = tmp_path_factory.mktemp("three")
    cluster = LocalCluster(root, ["m0", "m1", "m2"], FAULTS, f"path.repo={root / 'repos'}").start()
    yield cluster
    cluster.stop()


def test_three_master_eligible_nodes_form_one_cluster_from_the_bootstrap_list(three):
    masters = {three.master_name(n) for n in three.nodes}
    assert len(masters) == 1 and masters <= {"m0", "m1", "m2"}
    assert len({uuid_of(n) for n in three.nodes}) == 1 and uuid_of(three.nodes[0]) != "_na_"
    ids = set(state(three.nodes[0], "nodes")["nodes"])
    assert len(ids) == 3
    _wait_until(lambda: set(coordination(three.nodes[0])["last_committed_config"]) == ids)


def test_a_cluster_setting_changed_on_any_node_reaches_every_node(three):
    follower = next(n for n in three.nodes if n.name != three.master_name(n))
    response = put_setting(follower, "+logs-*,-*")
    assert response.status_code == 200 and response.json()["acknowledged"] is True
    for node in three.nodes:  # acknowledged: every node has applied it already
        assert "+logs-*,-*" in str(_settings(node, local=True))
    assert put_setting(follower, "true").status_code == 200


def test_a_setting_a_frozen_node_cannot_apply_in_time_is_not_acknowledged(three):
    master = three.node(three.master_name(three.nodes[0]))
    frozen = next(n for n in three.nodes if n is not master)
    _wait_until_every_node_applied_the_same_state(three)
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        with master.client(timeout=60) as c:
            response = c.put("/_cluster/settings", params={"timeout": "1s"},
                             json={"persistent": {"action.auto_create_index": "+frozen-*"}})
        # committed by the majority, not acknowledged by every node: answered at the ack
        # timeout, while the master waits for the frozen node before applying it itself
        assert response.status_code == 200 and response.json()["acknowledged"] is False
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    three.wait_for_nodes(3)
    for node in (frozen, master):
        _wait_until(lambda node=node: "+frozen-*" in str(_settings(node, local=True)))
    assert put_setting(master, "true").json()["acknowledged"] is True


def test_a_mapping_a_frozen_node_cannot_apply_in_time_is_not_acknowledged(three):
    master = three.node(three.master_name(three.nodes[0]))
    with master.client(timeout=60) as c:
        c.put("/acked-mapping", json={"settings": {"number_of_replicas": 0}}).raise_for_status()
    frozen = next(n for n in three.nodes if n is not master)
    _wait_until_every_node_applied_the_same_state(three)
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        with master.client(timeout=60) as c:
            response = c.put("/acked-mapping/_mapping", params={"timeout": "1s"},
                             json={"properties": {"while_frozen": {"type": "keyword"}}})
        assert response.status_code == 200 and response.json() == {"acknowledged": False}
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    three.wait_for_nodes(3)
    with master.client(timeout=60) as c:
        deleted = c.delete("/acked-mapping")
    assert deleted.status_code == 200 and deleted.json() == {"acknowledged": True}


def _reroute_moving_a_shard(three: LocalCluster, master: NodeProcess, frozen: NodeProcess) -> tuple:
    """A reroute that changes the state: it moves a shard between the two running nodes."""
    on, to = [n.name for n in three.nodes if n is not frozen]
    with master.client(timeout=60) as c:
        c.put("/acked-reroute", json={"settings": {
            "number_of_replicas": 0, "index.routing.allocation.require._name": on}}).raise_for_status()
        c.get("/_cluster/health/acked-reroute", params={"wait_for_status": "green"}).raise_for_status()
        c.put("/acked-reroute/_settings", json={"index.routing.allocation.require._name": None}
              ).raise_for_status()
    command = {"move": {"index": "acked-reroute", "shard": 0, "from_node": on, "to_node": to}}
    return "POST", "/_cluster/reroute", {"commands": [command]}


# Each makes what the change needs and answers it: (method, path, body).
ACKED_CHANGES = {
    "component template put": lambda *_: ("PUT", "/_component_template/acked-ct",
                                          {"template": {"settings": {"number_of_shards": 1}}}),
    "index template put": lambda *_: ("PUT", "/_index_template/acked-it", {"index_patterns": ["acked-it-*"]}),
    "index template delete": lambda three, master, frozen: _put_then(
        master, "/_index_template/acked-gone", {"index_patterns": ["acked-gone-*"]}),
    "cluster reroute": _reroute_moving_a_shard,
    "autoscaling policy put": lambda *_: ("PUT", "/_autoscaling/policy/acked",
                                          {"roles": ["data"], "deciders": {"fixed": {}}}),
    "repository put": lambda *_: ("PUT", "/_snapshot/acked",
                                  {"type": "fs", "settings": {"location": "acked"}}),
}


def _put_then(master: NodeProcess, path: str, body: dict) -> tuple:
    with master.client(timeout=60) as c:
        c.put(path, json=body).raise_for_status()
    return "DELETE", path, None


@pytest.mark.parametrize("change", list(ACKED_CHANGES))
def test_a_change_a_frozen_node_cannot_apply_in_time_is_not_acknowledged(three, change):
    master = three.node(three.master_name(three.nodes[0]))
    frozen = next(n for n in three.nodes if n is not master)
    method, path, body = ACKED_CHANGES[change](three, master, frozen)
    _wait_until_every_node_applied_the_same_state(three)
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        # a repository is not verified: verification asks every node, the frozen one too
        params = {"timeout": "1s", **({"verify": "false"} if path.startswith("/_snapshot") else {})}
        with master.client(timeout=60) as c:
            response = c.request(method, path, params=params, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["acknowledged"] is False
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    three.wait_for_nodes(3)
    _wait_until_every_node_applied_the_same_state(three)
    with master.client(timeout=60) as c:  # the same change again, with every node there
        again = c.request(method, path, json=body) if method == "PUT" else None
    assert again is None or again.json()["acknowledged"] is True


def _wait_until_every_node_applied_the_same_state(three: LocalCluster) -> None:
    """Freezing a node while a publication to it is in flight (the shard-started state
    after a create, say) holds every later update until the master removes that node;
    the update is then published without it, and rightly acknowledged by the rest."""
    def versions() -> set[int]:
        found = set()
        for node in three.nodes:
            with node.client(timeout=10) as c:
                found.add(c.get("/_cluster/state/version", params={"local": "true"}).json()["version"])
        return found

    _wait_until(lambda: len(versions()) == 1)


def _settings(node: NodeProcess, local: bool = False) -> dict:
    params = {"flat_settings": "true", **({"local": "true"} if local else {})}
    with node.client() as c:
        return c.get("/_cluster/settings", params=params).json()["persistent"]


def test_a_state_the_master_has_applied_is_applied_on_every_node_already(three):
    """The master applies a state last, once every node answered that it applied it, as
    ES does: whatever a request waited for on the master (here green health after the
    shards started) holds on every node when the request returns."""
    master = three.node(three.master_name(three.nodes[0]))
    others = [n for n in three.nodes if n is not master]
    for i in range(6):
        name = f"applied-everywhere-{i}"
        with master.client(timeout=60) as c:
            created = c.put(f"/{name}", json={"settings": {"number_of_shards": 3, "number_of_replicas": 1}})
            assert created.status_code == 200, created.text
            health = c.get(f"/_cluster/health/{name}", params={"wait_for_status": "green", "timeout": "50s"})
            assert health.json()["status"] == "green", health.text
            version = c.get("/_cluster/state/version", params={"local": "true"}).json()["version"]
        for node in others:
            with node.client(timeout=10) as c:
                assert c.get("/_cluster/state/version", params={"local": "true"}).json()["version"] >= version
                local = c.get(f"/_cluster/health/{name}", params={"local": "true"}).json()
                assert local["status"] == "green", (node.name, local)


def test_a_partitioned_node_cannot_elect_itself_or_change_the_cluster_state(three):
    master = three.node(three.master_name(three.nodes[0]))
    isolated = next(n for n in three.nodes if n is not master)
    others = [n for n in three.nodes if n is not isolated]
    term_before = coordination(master)["term"]
    for node in others:
        with node.client() as c:
            c.post("/_strata/fault/disconnect", json={"nodes": [isolated.name]}).raise_for_status()
    with isolated.client() as c:
        c.post("/_strata/fault/disconnect", json={"nodes": [n.name for n in others]}).raise_for_status()
    try:
        three.wait_for_nodes(2, nodes=others)
        assert three.master_name(others[0]) == master.name  # the majority side keeps its master
        _wait_until(lambda: three.master_name(isolated) is None, timeout=15)
        refused = put_setting(isolated, "false", timeout="2s")
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "master_not_discovered_exception"
        with isolated.client() as c:  # whatever its last routing said, a node without a master is red
            assert c.get("/_cluster/health", params={"local": "true"}).json()["status"] == "red"
        time.sleep(2)  # elections come and go on the isolated side; none may succeed
        assert three.master_name(isolated) is None
        assert put_setting(master, "+kept-*").status_code == 200
    finally:
        for node in three.nodes:
            with node.client() as c:
                c.post("/_strata/fault/reconnect").raise_for_status()
    three.wait_for_nodes(3)
    assert "+kept-*" in str(_settings(isolated))
    assert coordination(isolated)["term"] == term_before  # the isolated node never moved the term on
    assert put_setting(master, "true").status_code == 200


def test_kill_9_of_the_master_elects_a_new_master_that_publishes_and_the_old_one_rejoins(three):
    old = three.node(three.master_name(three.nodes[0]))
    term = coordination(old)["term"]
    version = state(old)["version"]
    old.kill()
    killed_at = time.monotonic()
    survivors = [n for n in three.nodes if n is not old]
    new_master = three.wait_for_nodes(2, nodes=survivors)
    failover = time.monotonic() - killed_at
    assert new_master != old.name
    assert coordination(survivors[0])["term"] > term and state(survivors[0])["version"] > version
    assert failover < 10, f"failover took {failover:.1f}s"
    old.start()
    assert three.wait_for_nodes(3) == new_master  # back as a follower; the master stays
    assert three.master_name(old) == new_master


def test_an_excluded_master_hands_over_and_stays_a_member(three):
    old = three.master_name(three.nodes[0])
    with three.nodes[0].client(timeout=60) as c:
        added = c.post("/_cluster/voting_config_exclusions", params={"node_names": old})
        assert added.status_code == 200, added.text
        try:
            new = wait_until(lambda: (m := three.master_name(three.nodes[0])) not in (None, old) and m,
                             timeout=30, ignore=(httpx.HTTPError,))
            # Two voters not excluded: an odd configuration, the new master alone (as ES).
            config = coordination(three.node(new))["last_committed_config"]
            assert len(config) == 1 and three.wait_for_nodes(3) == new
        finally:
            cleared = c.delete("/_cluster/voting_config_exclusions", params={"wait_for_removal": "false"})
            assert cleared.status_code == 200, cleared.text
    wait_until(lambda: len(coordination(three.nodes[0])["last_committed_config"]) == 3)


def test_a_majority_of_the_bootstrap_list_forms_the_cluster_and_the_rest_join_later(tmp_path):
    cluster = LocalCluster(tmp_path, ["b0", "b1", "b2"])
    try:
        start_all(cluster.nodes[:2])
        cluster.wait_for_nodes(2, nodes=cluster.nodes[:2])
        config = coordination(cluster.nodes[0])["last_committed_config"]
        assert len(config) == 3 and "{bootstrap-placeholder}-b2" in config  # a quorum of 3 was needed
        cluster.nodes[2].start()
        cluster.wait_for_nodes(3)
        ids = set(state(cluster.nodes[0], "nodes")["nodes"])
        wait_until(lambda: set(coordination(cluster.nodes[0])["last_committed_config"]) == ids)
    finally:
        cluster.stop()


def test_five_nodes_form_a_cluster_with_five_voters_and_survive_losing_the_master(tmp_path):
    cluster = LocalCluster(tmp_path, [f"n{i}" for i in range(5)]).start()
    try:
        # The first master may commit a smaller configuration before every vote is in; it
        # grows to all five as the remaining joins arrive.
        _wait_until(lambda: len(coordination(cluster.nodes[0])["last_committed_config"]) == 5)
        master = cluster.node(cluster.master_name(cluster.nodes[0]))
        master.kill()
        new_master = cluster.wait_for_nodes(4)
        assert new_master != master.name
        assert put_setting(cluster.running()[0], "true").status_code == 200
    finally:
        cluster.stop()


def test_a_full_cluster_restart_keeps_the_cluster_its_settings_and_documents(tmp_path):
    cluster = LocalCluster(tmp_path, ["r0", "r1", "r2"]).start()
    try:
        uuid = uuid_of(cluster.nodes[0])
        assert put_setting(cluster.nodes[1], "+kept-*,-*").status_code == 200
        with cluster.nodes[0].client() as c:
            c.put("/kept-1/_doc/1", params={"refresh": "true"}, json={"a": 1}).raise_for_status()
        cluster.stop()
        start_all(cluster.nodes)
        cluster.wait_for_nodes(3)
        assert {uuid_of(n) for n in cluster.nodes} == {uuid}
        assert "+kept-*,-*" in str(_settings(cluster.nodes[2]))
        with cluster.nodes[0].client() as c:
            assert c.get("/kept-1/_doc/1").json()["_source"] == {"a": 1}
    finally:
        cluster.stop()


def test_a_coordinating_only_node_joins_but_never_votes(tmp_path):
    cluster = LocalCluster(tmp_path, ["v0", "v1", "v2", "c0"], roles={"c0": "[]"}).start()
    try:
        nodes = state(cluster.nodes[0], "nodes")["nodes"]
        coordinating = next(i for i, n in nodes.items() if n["name"] == "c0")
        assert nodes[coordinating]["roles"] == []
        assert coordinating not in coordination(cluster.nodes[0])["last_committed_config"]
        assert len(coordination(cluster.nodes[0])["last_committed_config"]) == 3
        assert cluster.master_name(cluster.node("c0")) != "c0"
    finally:
        cluster.stop()


def test_a_node_whose_data_belongs_to_another_cluster_refuses_to_join_it(tmp_path):
    first = LocalCluster(tmp_path / "first", ["a0", "a1", "a2"]).start()
    first.stop()
    other = LocalCluster(tmp_path / "other", ["b0"]).start()
    try:
        # a0 alone cannot win an election in its old cluster; it finds b0's cluster instead.
        stray = NodeProcess(tmp_path / "first" / "a0", SECRET, "transport.port=0",
                            f"discovery.seed_hosts={other.nodes[0].transport_address}", name="a0").start()
        try:
            _wait_until(lambda: "previously joined a cluster with UUID" in stray.output(), timeout=20)
            with other.nodes[0].client() as c:
                assert c.get("/_cluster/health").json()["number_of_nodes"] == 1
        finally:
            stray.stop()
    finally:
        other.stop()


def _repair(command: str, data) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "node"))
    argv = [sys.executable, "-m", "strata_node.cli", command, "--path-data", str(data), "--yes"]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_unsafe_bootstrap_and_detach_cluster_recover_a_cluster_that_lost_its_majority(tmp_path):
    cluster = LocalCluster(tmp_path, ["u0", "u1", "u2"]).start()
    old_uuid = uuid_of(cluster.nodes[0])
    assert put_setting(cluster.nodes[0], "+kept-*,-*").status_code == 200
    cluster.stop()
    survivor, lost = cluster.node("u0"), cluster.node("u1")
    bootstrapped = _repair("unsafe-bootstrap", survivor.data)
    assert bootstrapped.returncode == 0, bootstrapped.stderr
    assert "can cause arbitrary data loss" in bootstrapped.stderr
    try:
        survivor.start()
        cluster.wait_for_nodes(1, nodes=[survivor])
        new_uuid = uuid_of(survivor)
        assert new_uuid not in (old_uuid, "_na_")
        assert "+kept-*,-*" in str(_settings(survivor))
        assert _repair("detach-cluster", lost.data).returncode == 0
        lost.start()
        cluster.wait_for_nodes(2, nodes=[survivor, lost])
        assert uuid_of(lost) == new_uuid
    finally:
        cluster.stop()


def test_the_repair_commands_refuse_a_running_node(three):
    refused = _repair("detach-cluster", three.nodes[0].data)
    assert refused.returncode == 1 and "is a node still running" in refused.stderr


def test_index_metadata_goes_through_the_master_and_reaches_every_node(three):
    master = three.node(three.master_name(three.nodes[0]))
    follower, other = [n for n in three.nodes if n is not master]
    with follower.client() as c:
        settings = {"number_of_shards": 3, "number_of_replicas": 0}
        created = c.put("/through-master", json={"settings": settings}).json()
        assert created == {"acknowledged": True, "shards_acknowledged": True, "index": "through-master"}
        written = c.put("/through-master/_doc/1", params={"refresh": "true"}, json={"new_field": "x"})
        written.raise_for_status()
    node_ids = set(state(master, "nodes")["nodes"])
    for node in three.nodes:  # every node's state has the index, its dynamic mapping and its routing
        body = _wait_until(lambda n=node: _with_index(state(n, "metadata,routing_table", "through-master"),
                                                     "through-master"))
        metadata = body["metadata"]["indices"]["through-master"]
        assert "new_field" in metadata["mappings"]["_doc"]["properties"]
        shards = body["routing_table"]["indices"]["through-master"]["shards"]
        # one primary on each node: the allocator spreads an index's shards
        assert {copy["node"] for copies in shards.values() for copy in copies} == node_ids
        assert {copy["state"] for copies in shards.values() for copy in copies} == {"STARTED"}
    with other.client() as c:
        assert c.get("/through-master/_doc/1").json()["_source"] == {"new_field": "x"}
        again = c.put("/through-master", json={}).json()
        assert again["error"]["type"] == "resource_already_exists_exception"
        assert c.delete("/through-master").json() == {"acknowledged": True}
    with follower.client() as c:
        _wait_until(lambda: c.get("/through-master").status_code == 404)


def _wait_until(condition, timeout: float = 30.0, interval: float = 0.1):
    """Nodes may be starting or a state not applied yet: such errors mean "not yet"."""
    return wait_until(condition, timeout, interval, ignore=(httpx.HTTPError, KeyError, ValueError))
