"""Persistent tasks on three real node processes: the master records and places them, the
assigned node runs them as local tasks and reports progress into the cluster state, a
task whose node is killed -9 resumes on a survivor under a higher allocation id from the
last state it reported, and a removed task is cancelled where it runs."""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import TEST_ACTIONS, LocalCluster
from tests.support.node_process import NodeProcess
from tests.support.polling import call, ok, wait_until

COUNTER = "strata/test/counter"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("persistent"), ["p0", "p1", "p2"], TEST_ACTIONS).start()
    yield local
    local.stop()








def persistent_tasks(node: NodeProcess) -> dict:
    """The cluster state's persistent tasks by id, as `node` answers (a non-local read)."""
    custom = ok(node, "GET", "/_cluster/state/metadata")["metadata"].get("persistent_tasks",
                                                                         {"tasks": []})
    return {t["id"]: t for t in custom["tasks"]}


def count_of(task: dict) -> int:
    return task["task"][COUNTER].get("state", {}).get("count", 0)


def progressed(node: NodeProcess, task_id: str, count: int) -> dict | None:
    """The task once the state shows it counted to `count` at least."""
    task = persistent_tasks(node).get(task_id)
    return task if task is not None and count_of(task) >= count else None


def local_counters(node: NodeProcess) -> list[dict]:
    listed = ok(node, "GET", "/_tasks", params={"nodes": "_local", "actions": f"{COUNTER}*",
                                                "detailed": "true"})
    return [t for n in listed["nodes"].values() for t in n["tasks"].values()]


def node_names(node: NodeProcess) -> dict[str, str]:
    return {i: n["name"] for i, n in ok(node, "GET", "/_cluster/state/nodes")["nodes"].items()}


def start(node: NodeProcess, task_id: str, count_to: int, step_millis: int) -> dict:
    body = {"name": COUNTER, "params": {"count_to": count_to, "step_millis": step_millis}}
    return ok(node, "PUT", f"/_strata/persistent/{task_id}", json=body)["task"]


def test_a_started_task_runs_on_one_node_reports_progress_and_completes(cluster):
    via = cluster.nodes[1]
    task = start(via, "count-a", count_to=25, step_millis=100)
    assert task["task"] == {COUNTER: {"params": {"count_to": 25, "step_millis": 100}}}
    executor = task["assignment"]["executor_node"]
    names = node_names(via)
    assert executor in names and task["allocation_id"] >= 1
    runner = cluster.node(names[executor])

    # Listed in `_tasks` on its node only, with its params and its reported state.
    listed = _wait_until(lambda: [t for t in local_counters(runner) if t.get("status", {}).get("count")])
    assert len(listed) == 1
    local = listed[0]
    assert local["action"] == f"{COUNTER}[c]" and local["type"] == "persistent" and local["cancellable"]
    assert local["description"] == 'id=count-a, params={"count_to":25,"step_millis":100}'
    assert local["parent_task_id"] == f"cluster:{task['allocation_id']}"
    for other in cluster.nodes:
        if other is not runner:
            assert local_counters(other) == []

    # Its progress reaches the cluster state every node serves, in Elasticsearch's shape.
    in_state = _wait_until(lambda: progressed(cluster.nodes[0], "count-a", 3))
    assert in_state["allocation_id"] == task["allocation_id"]
    assert in_state["assignment"] == {"executor_node": executor, "explanation": ""}
    assert in_state["allocation_id_on_last_status_update"] == task["allocation_id"]
    custom = ok(cluster.nodes[2], "GET", "/_cluster/state/metadata")["metadata"]["persistent_tasks"]
    assert custom["last_allocation_id"] >= task["allocation_id"]

    # A second task of the same id is refused while this one runs.
    again = call(via, "PUT", "/_strata/persistent/count-a", json={"name": COUNTER, "params": {"count_to": 1}})
    assert again.status_code == 400 and again.json()["error"]["type"] == "resource_already_exists_exception"

    # Done: the node reports completion and the task leaves the state and `_tasks`.
    _wait_until(lambda: "count-a" not in persistent_tasks(via), timeout=30)
    assert local_counters(runner) == []


def test_a_start_with_an_unknown_name_or_bad_params_is_refused(cluster):
    unknown = call(cluster.nodes[0], "PUT", "/_strata/persistent/x", json={"name": "no/such/task"})
    assert unknown.status_code == 500
    reason = "Unknown persistent executor [no/such/task]"
    assert unknown.json()["error"] == {"root_cause": [{"type": "illegal_state_exception", "reason": reason}],
                                       "type": "illegal_state_exception", "reason": reason}
    bad = call(cluster.nodes[0], "PUT", "/_strata/persistent/x", json={"name": COUNTER,
                                                                      "params": {"count_to": -2}})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "illegal_argument_exception"
    assert "x" not in persistent_tasks(cluster.nodes[0])
    gone = call(cluster.nodes[0], "DELETE", "/_strata/persistent/never-started")
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "resource_not_found_exception"


def test_removing_a_running_task_cancels_it_on_its_node(cluster):
    task = start(cluster.nodes[0], "count-removed", count_to=10_000, step_millis=100)
    runner = cluster.node(node_names(cluster.nodes[0])[task["assignment"]["executor_node"]])
    _wait_until(lambda: local_counters(runner))
    removed = ok(cluster.nodes[2], "DELETE", "/_strata/persistent/count-removed")
    assert removed["task"]["id"] == "count-removed"
    assert "count-removed" not in persistent_tasks(cluster.nodes[2])
    _wait_until(lambda: local_counters(runner) == [], timeout=10)
    assert "cancelling persistent task [count-removed]" in runner.output()
    # It stays gone: the cancelled task reports nothing, so nothing brings it back.
    time.sleep(0.5)
    assert "count-removed" not in persistent_tasks(cluster.nodes[0])


def test_a_user_cancelling_the_local_task_ends_the_persistent_task(cluster):
    """As in Elasticsearch: the cancelled task completes with its cancellation, which
    removes it from the cluster state (it is not restarted elsewhere)."""
    task = start(cluster.nodes[0], "count-cancelled", count_to=10_000, step_millis=100)
    runner = cluster.node(node_names(cluster.nodes[0])[task["assignment"]["executor_node"]])
    local = _wait_until(lambda: local_counters(runner))[0]
    ok(cluster.nodes[1], "POST", f"/_tasks/{local['node']}:{local['id']}/_cancel")
    _wait_until(lambda: "count-cancelled" not in persistent_tasks(cluster.nodes[1]), timeout=10)
    assert local_counters(runner) == []
    master = cluster.node(cluster.master_name(runner))
    assert "persistent task [count-cancelled] allocation [" in master.output()  # its failure, logged


RECHECK = "cluster.persistent_tasks.allocation.recheck_interval"


def test_a_task_no_node_may_take_yet_is_placed_by_the_masters_periodic_recheck(cluster):
    """A counter no node may run before an instant: nothing in the cluster state changes
    when that instant passes, so only the master's periodic recheck (1s here, 30s by
    default, a dynamic setting) places it, within an interval of the instant."""
    via = cluster.nodes[2]
    too_short = call(via, "PUT", "/_cluster/settings", json={"persistent": {RECHECK: "10ms"}})
    assert too_short.status_code == 400 and "must be >= [1000ms]" in too_short.text
    ok(via, "PUT", "/_cluster/settings", json={"persistent": {RECHECK: "1s"}})
    try:
        not_before = int(time.time() * 1000) + 3000
        params = {"count_to": 2, "step_millis": 50, "not_before_millis": not_before}
        body = {"name": COUNTER, "params": params}
        task = ok(via, "PUT", "/_strata/persistent/count-later", json=body)["task"]
        assert task["assignment"] == {"executor_node": None,
                                      "explanation": f"no node may run this task before [{not_before}]"}

        def placed():
            current = persistent_tasks(via).get("count-later")
            return current if current is not None and current["assignment"]["executor_node"] else None

        assert placed() is None
        placed_task = _wait_until(placed, timeout=20)
        late_by = time.time() * 1000 - not_before
        assert 0 <= late_by < 1000 + 2000, f"placed {late_by:.0f}ms after its instant"
        assert placed_task["allocation_id"] > task["allocation_id"]
        assert placed_task["assignment"]["executor_node"] in node_names(via)
        _wait_until(lambda: "count-later" not in persistent_tasks(via), timeout=30)  # it ran and completed
    finally:
        ok(via, "PUT", "/_cluster/settings", json={"persistent": {RECHECK: None}})


def test_the_task_of_a_killed_node_resumes_on_a_survivor_from_its_last_reported_state(cluster):
    """Three tasks spread one per node (least loaded first); the master is killed -9, so
    the new master has to move its task: to a survivor, under a higher allocation id,
    counting on from the last count it reported. The other two keep their allocation."""
    ids = [f"count-moved-{i}" for i in range(3)]
    started = {i: start(cluster.nodes[0], i, count_to=30, step_millis=200) for i in ids}
    names = node_names(cluster.nodes[0])
    assert {t["assignment"]["executor_node"] for t in started.values()} == set(names)
    victim = cluster.node(cluster.master_name(cluster.nodes[0]))
    moving = next(i for i, t in started.items() if names[t["assignment"]["executor_node"]] == victim.name)
    victim_id = started[moving]["assignment"]["executor_node"]
    survivors = [n for n in cluster.nodes if n is not victim]
    _wait_until(lambda: all(progressed(survivors[0], i, 5) for i in ids))
    before = persistent_tasks(survivors[0])
    victim.kill()
    killed_at = time.monotonic()

    # Sample the state as the task moves: no count goes back (a restart from zero would
    # show 1, 2, ... again).
    samples: dict[str, list[int]] = {i: [count_of(before[i])] for i in ids}

    def sample() -> dict:
        current = persistent_tasks(survivors[0])
        for i, task in current.items():
            if i in samples:
                samples[i].append(count_of(task))
        return current

    def moved():
        task = sample().get(moving)
        if task is None or task["assignment"]["executor_node"] in (None, victim_id):
            return None
        # Once the new allocation has reported (the victim may have reported after `before`).
        return task if task["allocation_id_on_last_status_update"] == task["allocation_id"] else None

    after = _wait_until(moved, timeout=45, interval=0.1)
    moved_in = time.monotonic() - killed_at
    assert after["allocation_id"] > before[moving]["allocation_id"]
    assert count_of(after) > count_of(before[moving])
    runner = cluster.node(names[after["assignment"]["executor_node"]])
    assert runner in survivors
    assert f"[{moving}] allocation [{after['allocation_id']}], resuming from {{'count': " in runner.output()
    current = sample()
    for i in ids:
        if i != moving and i in current:
            assert current[i]["allocation_id"] == before[i]["allocation_id"]
            assert current[i]["assignment"] == before[i]["assignment"]
    resumed = [t for t in local_counters(runner) if t["description"].startswith(f"id={moving},")]
    assert resumed and resumed[0]["parent_task_id"] == f"cluster:{after['allocation_id']}"

    _wait_until(lambda: not any(i in sample() for i in ids), timeout=45, interval=0.1)
    for i, counts in samples.items():
        assert counts == sorted(counts), (i, counts)
    assert all(local_counters(n) == [] for n in survivors)
    assert moved_in < 30, f"moving the task took {moved_in:.1f}s"


def _wait_until(condition, timeout: float = 30.0, interval: float = 0.05):
    return wait_until(condition, timeout, interval)
