"""Task management across three real node processes talking over the signed transport."""

import threading
import time
import warnings

import httpx
import pytest
from elasticsearch import Elasticsearch

from tests.support.cluster import TEST_ACTIONS, LocalCluster
from tests.support.node_process import NodeProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("tasks"), ["a", "b", "c"], TEST_ACTIONS).start()
    yield local.nodes
    local.stop()


def node_ids(cluster):
    ids = []
    for n in cluster:
        with n.client() as c:
            tasks = c.get("/_tasks", params={"nodes": "_local"}).json()
            ids.append(next(iter(tasks["nodes"])))
    return ids


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def sleep_tasks(client, **params):
    listed = client.get("/_tasks", params={"actions": "cluster:admin/strata/sleep*", "detailed": "true",
                                           **params}).json()
    return {tid: t for n in listed["nodes"].values() for tid, t in n["tasks"].items()}


def start_sleep(a, children, millis=30_000, opaque="req-42"):
    """Start a sleep on `a` with children on the other nodes; returns the thread running it."""
    def run():
        try:
            with a.client(timeout=60) as c:
                c.post("/_strata/sleep", params={"millis": millis, "children": ",".join(children)},
                       headers={"X-Opaque-Id": opaque})
        except httpx.HTTPError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_parent_with_children_on_two_nodes_is_listed_on_every_node_with_its_opaque_id(cluster):
    a, b, c = cluster
    start_sleep(a, [b.transport_address, c.transport_address])
    with a.client() as client:
        tasks = wait_for(lambda: len(sleep_tasks(client)) == 3 and sleep_tasks(client))
        assert {t["action"] for t in tasks.values()} == {"cluster:admin/strata/sleep",
                                                       "cluster:admin/strata/sleep[n]"}
        assert {t["node"] for t in tasks.values()} == set(node_ids(cluster))
        assert all(t["headers"] == {"X-Opaque-Id": "req-42"} for t in tasks.values())
        parent = next(tid for tid, t in tasks.items() if t["action"] == "cluster:admin/strata/sleep")
        children = [t for t in tasks.values() if t.get("parent_task_id") == parent]
        assert len(children) == 2
        assert "parent_task_id" not in tasks[parent]  # the REST request's task is the sleep itself
        grouped = client.get("/_tasks", params={"group_by": "parents", "actions": "*sleep*"}).json()
        assert list(grouped["tasks"]) == [parent]
        assert len(grouped["tasks"][parent]["children"]) == 2
        flat = client.get("/_tasks", params={"group_by": "none", "actions": "*sleep*"}).json()
        assert len(flat["tasks"]) == 3
        client.post(f"/_tasks/{parent}/_cancel")
        wait_for(lambda: not sleep_tasks(client))


def test_cancelling_a_parent_ends_its_children_on_the_other_nodes(cluster):
    a, b, c = cluster
    start_sleep(a, [b.transport_address, c.transport_address], opaque="cancel-me")
    with a.client() as client:
        tasks = wait_for(lambda: len(sleep_tasks(client)) == 3 and sleep_tasks(client))
        parent = next(tid for tid, t in tasks.items() if t["action"] == "cluster:admin/strata/sleep")
        cancelled = client.post(f"/_tasks/{parent}/_cancel").json()
        assert parent in {tid for n in cancelled["nodes"].values() for tid in n["tasks"]}
        wait_for(lambda: not sleep_tasks(client))
    for other in (b, c):
        with other.client() as oc:
            assert sleep_tasks(oc, nodes="_local") == {}


def test_cancelling_by_action_cancels_matching_tasks(cluster):
    a, b, _ = cluster
    start_sleep(a, [b.transport_address], opaque="by-action")
    with a.client() as client:
        wait_for(lambda: len(sleep_tasks(client)) == 2)
        client.post("/_tasks/_cancel", params={"actions": "cluster:admin/strata/sleep"})
        wait_for(lambda: not sleep_tasks(client))


def test_a_client_that_disconnects_cancels_its_task_and_the_children(cluster):
    a, b, c = cluster
    with pytest.raises(httpx.ReadTimeout), a.client(timeout=1.0) as short:
        short.post("/_strata/sleep", params={"millis": 30_000,
                                             "children": f"{b.transport_address},{c.transport_address}"})
    with a.client() as client:
        wait_for(lambda: not sleep_tasks(client))


def test_a_detached_task_stores_its_result_for_later(cluster):
    a, b, _ = cluster
    with a.client() as client:
        started = client.post("/_strata/sleep", params={"millis": 3000, "children": b.transport_address,
                                                        "wait_for_completion": "false"}).json()
        task_id = started["task"]
        running = client.get(f"/_tasks/{task_id}").json()
        assert running["completed"] is False and running["task"]["action"] == "cluster:admin/strata/sleep"
        waited = {"wait_for_completion": "true", "timeout": "20s"}
        done = client.get(f"/_tasks/{task_id}", params=waited).json()
        assert done["completed"] is True
        assert done["task"]["id"] == int(task_id.split(":")[1])
        assert done["response"] == {}


def test_an_unknown_task_is_a_404(cluster):
    a = cluster[0]
    with a.client() as client:
        node_id = node_ids([a])[0]
        missing = client.get(f"/_tasks/{node_id}:1")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "resource_not_found_exception"
        malformed = client.get("/_tasks/nonsense")
        assert malformed.status_code == 400


def test_the_official_client_lists_and_cats_tasks(cluster):
    a = cluster[0]
    es = Elasticsearch(a.url)
    with warnings.catch_warnings():  # the client flags the tasks API as a technical preview
        warnings.simplefilter("ignore")
        listed = es.tasks.list(detailed=True)
    assert any(t["action"] == "cluster:monitor/tasks/lists" for n in listed["nodes"].values()
               for t in n["tasks"].values())
    with a.client() as client:
        cat = client.get("/_cat/tasks", params={"v": "true"}).text
        assert cat.splitlines()[0].split()[:2] == ["action", "task_id"]


def test_a_node_with_another_secret_cannot_join_the_sleep(cluster, tmp_path):
    a = cluster[0]
    stranger = NodeProcess(tmp_path / "x", "transport.secret=wrong", TEST_ACTIONS, name="x").start()
    try:
        with stranger.client() as client:
            refused = client.post("/_strata/sleep", params={"millis": 10, "children": a.transport_address})
            assert refused.status_code == 401
            assert refused.json()["error"]["type"] == "security_exception"
    finally:
        stranger.stop()
    assert "refused transport request" in a.output()


def test_nodes_info_lists_this_node_and_the_nodes_it_has_talked_to(cluster):
    a, b, c = cluster
    with a.client() as client:
        children = f"{b.transport_address},{c.transport_address}"
        client.post("/_strata/sleep", params={"millis": 1, "children": children})
        info = client.get("/_nodes").json()
        assert info["_nodes"] == {"total": 3, "successful": 3, "failed": 0}
        assert sorted(n["name"] for n in info["nodes"].values()) == ["a", "b", "c"]
        local = client.get("/_nodes/_local").json()["nodes"]
        [me] = local.values()
        assert me["http"]["publish_address"] == a.url.removeprefix("http://")
        assert me["transport_address"] == a.transport_address and "master" in me["roles"]
        assert list(client.get("/_nodes/http").json()["nodes"]) != []  # a metric, not a node name
