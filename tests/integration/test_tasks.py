"""Task management across three real node processes talking over the signed transport."""

import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from elasticsearch import Elasticsearch

from strata_node.transport import wire
from strata_node.transport.auth import HEADER, Signer, request_nonce
from strata_node.transport.service import Handshake
from tests.support.cluster import TEST_ACTIONS, LocalCluster
from tests.support.impostor import Impostor
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


def tasks_of(client, opaque, **params):
    """The sleep tasks of the request with this X-Opaque-Id: a test counts its own only."""
    return {tid: t for tid, t in sleep_tasks(client, **params).items()
            if t["headers"].get("X-Opaque-Id") == opaque}


def once_running(client, opaque, count):
    """The sleep tasks of the request with this X-Opaque-Id, once all `count` of them run."""
    def all_running():
        tasks = tasks_of(client, opaque)
        return len(tasks) == count and tasks

    return wait_for(all_running)


def sleep_parent(tasks) -> str:
    return next(tid for tid, t in tasks.items() if t["action"] == "cluster:admin/strata/sleep")


WAITED = {"wait_for_completion": "true", "timeout": "20s"}


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


def test_a_cancellation_that_waits_for_completion_answers_once_the_task_has_ended(cluster):
    a, b, c = cluster
    start_sleep(a, [c.transport_address], opaque="cancel-and-wait")
    with a.client() as client_a, b.client() as client_b:
        parent = sleep_parent(once_running(client_a, "cancel-and-wait", 2))
        cancelled = client_b.post(f"/_tasks/{parent}/_cancel", params=WAITED)
        assert cancelled.status_code == 200, cancelled.text
        assert parent in {tid for n in cancelled.json()["nodes"].values() for tid in n["tasks"]}
        assert parent not in tasks_of(client_a, "cancel-and-wait")  # ended before the answer
        wait_for(lambda: not tasks_of(client_a, "cancel-and-wait"))


def test_cancelling_by_action_cancels_matching_tasks(cluster):
    a, b, _ = cluster
    start_sleep(a, [b.transport_address], opaque="by-action")
    with a.client() as client:
        wait_for(lambda: len(sleep_tasks(client)) == 2)
        client.post("/_tasks/_cancel", params={"actions": "cluster:admin/strata/sleep"})
        wait_for(lambda: not sleep_tasks(client))


def test_cancelling_by_parent_cancels_its_children_on_every_node_its_own_included(cluster):
    a, b, _ = cluster
    start_sleep(a, [a.transport_address, b.transport_address], opaque="by-parent")
    with a.client() as client:
        tasks = once_running(client, "by-parent", 3)
        parent = sleep_parent(tasks)
        children = {tid for tid, t in tasks.items() if t.get("parent_task_id") == parent}
        cancelled = client.post("/_tasks/_cancel", params={"parent_task_id": parent}).json()
        assert {tid for n in cancelled["nodes"].values() for tid in n["tasks"]} == children
        wait_for(lambda: not tasks_of(client, "by-parent"))


def test_a_cancellation_refuses_an_unknown_grouping_before_cancelling_anything(cluster):
    a, b, _ = cluster
    start_sleep(a, [b.transport_address], opaque="badly-grouped")
    with a.client() as client:
        parent = sleep_parent(once_running(client, "badly-grouped", 2))
        refused = client.post(f"/_tasks/{parent}/_cancel", params={"group_by": "tree"})
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "illegal_argument_exception"
        assert all(not t["cancelled"] for t in tasks_of(client, "badly-grouped").values())
        client.post(f"/_tasks/{parent}/_cancel").raise_for_status()
        wait_for(lambda: not tasks_of(client, "badly-grouped"))


def test_a_cancellation_renders_its_tasks_grouped_by_parents_or_flat(cluster):
    a, b, _ = cluster
    with a.client() as client:
        for group_by in ("parents", "none"):
            opaque = f"grouped-by-{group_by}"
            start_sleep(a, [b.transport_address], opaque=opaque)
            parent = sleep_parent(once_running(client, opaque, 2))
            cancelled = client.post(f"/_tasks/{parent}/_cancel", params={"group_by": group_by}).json()
            if group_by == "parents":
                assert list(cancelled["tasks"]) == [parent]
            else:
                assert [f"{t['node']}:{t['id']}" for t in cancelled["tasks"]] == [parent]
            wait_for(lambda o=opaque: not tasks_of(client, o))


def test_listing_and_cancelling_resolve_node_selectors_over_the_whole_cluster(cluster):
    """`nodes` names any node of the cluster as DiscoveryNodes.resolveNodes reads it: a
    name, `_master`, `_local`, a role, several at once."""
    a, b, _ = cluster
    id_a, id_b, id_c = node_ids(cluster)
    with a.client() as client:
        master = next(n for n in cluster if n.name == LocalCluster.master_name(a))
        listed = {selector: set(client.get("/_tasks", params={"nodes": selector}).json()["nodes"])
                  for selector in ("b", "b,c", "_local", "_master", "master:true", "_all,master:false")}
        assert listed == {"b": {id_b}, "b,c": {id_b, id_c}, "_local": {id_a},
                          "_master": {node_ids([master])[0]}, "master:true": {id_a, id_b, id_c},
                          "_all,master:false": set()}
        start_sleep(b, [], opaque="on-b")
        [running] = once_running(client, "on-b", 1)
        cancelled = client.post("/_tasks/_cancel",
                                params={"nodes": "b", "actions": "cluster:admin/strata/sleep"})
        assert set(cancelled.json()["nodes"]) == {id_b}
        assert running in cancelled.json()["nodes"][id_b]["tasks"]
        wait_for(lambda: not tasks_of(client, "on-b"))


def test_a_listing_or_cancellation_matching_nothing_names_no_node(cluster):
    a = cluster[0]
    with a.client() as client:
        assert client.get("/_tasks", params={"actions": "nonexistent"}).json() == {"nodes": {}}
        assert client.post("/_tasks/_cancel", params={"actions": "nonexistent"}).json() == {"nodes": {}}
        refused = client.get("/_tasks", params={"group_by": "foo"})
        assert refused.status_code == 400
        assert refused.json()["error"]["reason"] == \
            "[group_by] must be one of [nodes], [parents] or [none] but was [foo]"


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


def test_waiting_on_another_node_for_a_detached_task_answers_its_stored_result(cluster):
    a, b, _ = cluster
    with a.client() as client:
        detached = {"millis": 1000, "wait_for_completion": "false"}
        task_id = client.post("/_strata/sleep", params=detached).json()["task"]
    with b.client() as client:
        done = client.get(f"/_tasks/{task_id}", params=WAITED)
    assert done.status_code == 200, done.text
    assert done.json()["completed"] is True and done.json()["response"] == {}


def test_waiting_for_a_task_that_stores_no_result_answers_it_completed_as_last_seen(cluster):
    """Only a task started with wait_for_completion=false stores its result; waiting for
    any other, on its own node or on another, answers it completed once it has ended."""
    a, b, _ = cluster
    start_sleep(a, [], millis=3000, opaque="stores-nothing")
    with a.client() as client:
        [task_id] = once_running(client, "stores-nothing", 1)

    def wait_on(node):
        with node.client(timeout=30) as client:
            return client.get(f"/_tasks/{task_id}", params=WAITED)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(wait_on, (a, b)))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["completed"] is True and "response" not in body and "error" not in body
        assert f"{body['task']['node']}:{body['task']['id']}" == task_id
        assert body["task"]["headers"] == {"X-Opaque-Id": "stores-nothing"}


def test_a_waiting_listing_answers_with_the_tasks_it_waited_for_once_they_have_ended(cluster):
    a, b, _ = cluster
    start_sleep(a, [b.transport_address], millis=1500, opaque="waited-for")
    with a.client() as client:
        running = once_running(client, "waited-for", 2)
        listed = tasks_of(client, "waited-for", **WAITED)
        assert set(listed) == set(running)
        assert tasks_of(client, "waited-for") == {}


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
        everything = client.get("/_nodes")
        assert "integration-test-secret" not in everything.text  # no node shows the transport secret
        info = everything.json()
        assert info["_nodes"] == {"total": 3, "successful": 3, "failed": 0}
        assert sorted(n["name"] for n in info["nodes"].values()) == ["a", "b", "c"]
        local = client.get("/_nodes/_local").json()["nodes"]
        [me] = local.values()
        assert me["http"]["publish_address"] == a.url.removeprefix("http://")
        assert me["transport_address"] == a.transport_address and "master" in me["roles"]
        assert "attributes" not in me  # none set: left out, as Elasticsearch leaves them out
        assert list(client.get("/_nodes/http").json()["nodes"]) != []  # a metric, not a node name
        only_os = client.get("/_nodes/os").json()["nodes"].values()
        # every node was asked for os alone
        assert len(only_os) == 3 and all("os" in n and "http" not in n for n in only_os)


def test_cancelling_thread_pool_work_ends_it_promptly_and_frees_the_threads(cluster):
    """Two detached sleeps on `a` and two children on `b` occupy both threads of each
    node's management pool (blocking work Python cannot interrupt); cancelling the parents
    ends every one of them at its next look at its task, with task_cancelled_exception,
    and the threads serve new work at once."""
    a, b, _ = cluster
    pool = {"executor": "management"}
    with a.client() as client:
        detached = {"millis": 60_000, "children": b.transport_address, "wait_for_completion": "false", **pool}
        started = [client.post("/_strata/sleep", params=detached).json()["task"] for _ in range(2)]
        with b.client() as bc:
            wait_for(lambda: len(sleep_tasks(bc, nodes="_local")) == 2)
        time.sleep(0.2)  # the threads are asleep now
        cancelled_at = time.monotonic()
        client.post("/_tasks/_cancel", params={"actions": "cluster:admin/strata/sleep"}).raise_for_status()
        for task_id in started:
            done = client.get(f"/_tasks/{task_id}", params={"wait_for_completion": "true",
                                                            "timeout": "20s"}).json()
            assert done["completed"] is True
            assert done["error"]["type"] == "task_cancelled_exception", done
        assert time.monotonic() - cancelled_at < 5.0
        wait_for(lambda: not sleep_tasks(client))
        # Both pools have their two threads back: a new sleep on them is not queued behind a minute.
        quick = time.monotonic()
        both_of_b = f"{b.transport_address},{b.transport_address}"
        answer = client.post("/_strata/sleep", params={"millis": 10, "children": both_of_b, **pool})
        assert answer.status_code == 200 and time.monotonic() - quick < 5.0


def test_an_unknown_executor_is_refused(cluster):
    with cluster[0].client() as client:
        refused = client.post("/_strata/sleep", params={"millis": 1, "executor": "nope"})
        assert refused.status_code == 400 and "[executor] must be one of" in refused.json()["error"]["reason"]


def test_the_test_actions_are_off_unless_enabled(node):
    """The module's plain node (conftest) runs without `strata.test_actions.enabled`."""
    with node.client() as client:
        for method, path in (("POST", "/_strata/sleep"), ("PUT", "/_strata/persistent/t1"),
                             ("DELETE", "/_strata/persistent/t1")):
            refused = client.request(method, path, json={"name": "strata/test/counter"} if method == "PUT"
                                     else None)
            assert refused.status_code in (400, 405), (method, path, refused.text)
            assert "no handler found" in refused.text or "Incorrect HTTP method" in refused.text


def handshake_answer(node_id: str) -> bytes:
    body = wire.encode(Handshake(cluster_name="strata", node_id=node_id, node_name="impostor", version="1"))
    return wire.encode(wire.Response(wire.WIRE_VERSION, body))


def test_a_node_refuses_answers_not_signed_for_its_request(cluster):
    """A foreign server on a transport port answers a real node's handshake unsigned, or
    signed with a guessed secret: the node refuses the answer, says why, and logs it."""
    a = cluster[0]

    def unsigned(body, headers):
        return 200, handshake_answer("fake"), {}

    def guessed(body, headers):
        raw = handshake_answer("fake")
        return 200, raw, {HEADER: Signer("guess").response(request_nonce(headers.get(HEADER)), raw)}

    for answer, reason in ((unsigned, "missing authentication for transport response"),
                           (guessed, "invalid cluster secret for transport response")):
        with Impostor(answer) as fake, a.client() as client:
            refused = client.post("/_strata/sleep", params={"millis": 1, "children": fake.address})
            assert fake.requests >= 1
            assert refused.status_code == 401, refused.text
            error = refused.json()["error"]
            assert error["type"] == "security_exception"
            handshake = "internal:transport/handshake"
            assert f"refused the response of [{fake.address}] to [{handshake}]" in error["reason"]
            assert reason in error["reason"]
        wait_for(lambda fake=fake: f"refused transport response from [{fake.address}]" in a.output())


def test_a_relayed_answer_replayed_to_another_request_is_refused(cluster):
    """A man in the middle relays the handshake to the real node `b`, keeps its signed
    answer and gives it to the next request: the answer is bound to the handshake."""
    a, b, _ = cluster
    kept: list[httpx.Response] = []

    def relay_once(body, headers):
        if not kept:
            forwarded = {HEADER: headers[HEADER], "content-type": headers["content-type"]}
            kept.append(httpx.post(f"http://{b.transport_address}/", content=body, headers=forwarded))
        return kept[0].status_code, kept[0].content, {HEADER: kept[0].headers[HEADER]}

    with Impostor(relay_once) as middle, a.client() as client:
        refused = client.post("/_strata/sleep", params={"millis": 1, "children": middle.address})
        assert middle.requests == 2  # the handshake (relayed, genuine) and the sleep (answered with it)
        assert refused.status_code == 401, refused.text
        reason = refused.json()["error"]["reason"]
        assert f"refused the response of [{middle.address}] to [cluster:admin/strata/sleep[n]]" in reason
        assert "transport response to another request (a replayed response)" in reason
