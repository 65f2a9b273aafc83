"""`GET /_cluster/health`: computed from the shards the node really holds, in Elasticsearch's
shape. On one node every replica is unassigned, so an index with replicas is yellow, one
without is green, and a shard that failed to recover is red. A wait that is not met by
its timeout answers 408 with `timed_out: true`."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.support.damage import flip_translog_byte

JSON = {"content-type": "application/json"}
FIELDS = ["cluster_name", "status", "timed_out", "number_of_nodes", "number_of_data_nodes",
          "active_primary_shards", "active_shards", "relocating_shards", "initializing_shards",
          "unassigned_shards", "unassigned_primary_shards", "delayed_unassigned_shards",
          "number_of_pending_tasks", "number_of_in_flight_fetch", "task_max_waiting_in_queue_millis",
          "active_shards_percent_as_number"]


@pytest.fixture
def empty(http) -> httpx.Client:
    """The shared node with no index left by earlier tests: cluster-wide figures are ours."""
    assert http.delete("/*", params={"expand_wildcards": "all"}).status_code == 200
    return http


def create(http: httpx.Client, name: str, shards: int = 1, replicas: int = 0, **settings) -> None:
    body = {"settings": {"number_of_shards": shards, "number_of_replicas": replicas, **settings}}
    assert http.put(f"/{name}", json=body).status_code == 200


def health(http: httpx.Client, path: str = "/_cluster/health", status: int = 200, **params) -> dict:
    response = http.get(path, params=params)
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, type: str) -> str:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == type
    return response.json()["error"]["reason"]


# -- the figures ----------------------------------------------------------------------------------


def test_an_empty_node_is_green_with_every_field_elasticsearch_reports_in_its_order(empty):
    body = health(empty)
    assert list(body) == FIELDS
    # The master's queue is live: a background update (a reroute after the deletes) may
    # be in it at this moment.
    queue = {key: body.pop(key) for key in ("number_of_pending_tasks", "task_max_waiting_in_queue_millis")}
    assert all(isinstance(value, int) and value >= 0 for value in queue.values())
    assert body == {
        "cluster_name": "strata", "status": "green", "timed_out": False, "number_of_nodes": 1,
        "number_of_data_nodes": 1, "active_primary_shards": 0, "active_shards": 0, "relocating_shards": 0,
        "initializing_shards": 0, "unassigned_shards": 0, "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0, "number_of_in_flight_fetch": 0,
        "active_shards_percent_as_number": 100.0}


def test_an_index_without_replicas_is_green_with_its_primaries_active(empty):
    create(empty, "green-idx", shards=3)
    body = health(empty)
    assert body["status"] == "green"
    assert (body["active_primary_shards"], body["active_shards"], body["unassigned_shards"]) == (3, 3, 0)


def test_replicas_stay_unassigned_on_one_node_so_an_index_with_replicas_is_yellow(empty):
    create(empty, "yellow-idx", shards=2, replicas=1)
    body = health(empty)
    assert body["status"] == "yellow"
    assert (body["active_primary_shards"], body["active_shards"]) == (2, 2)
    assert (body["unassigned_shards"], body["unassigned_primary_shards"]) == (2, 0)
    assert body["active_shards_percent_as_number"] == 50.0


def test_the_cluster_is_as_healthy_as_its_least_healthy_index_and_a_path_narrows_it(empty):
    create(empty, "mixed-green")
    create(empty, "mixed-yellow", replicas=2)
    assert health(empty)["status"] == "yellow"
    assert health(empty, "/_cluster/health/mixed-green")["status"] == "green"
    narrowed = health(empty, "/_cluster/health/mixed-yellow")
    assert (narrowed["status"], narrowed["active_shards"], narrowed["unassigned_shards"]) == ("yellow", 1, 2)
    assert health(empty, "/_cluster/health/mixed-*")["active_shards"] == 2
    # the percentage is the whole node's, whichever indices are asked about
    assert narrowed["active_shards_percent_as_number"] == 50.0


def test_level_indices_lists_each_index_and_level_shards_each_shard(empty):
    create(empty, "levels", shards=2, replicas=1)
    assert "indices" not in health(empty)
    indices = health(empty, level="indices")["indices"]
    assert indices == {"levels": {
        "status": "yellow", "number_of_shards": 2, "number_of_replicas": 1, "active_primary_shards": 2,
        "active_shards": 2, "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 2,
        "unassigned_primary_shards": 0}}
    shards = health(empty, level="shards")["indices"]["levels"]["shards"]
    assert shards["0"] == {"status": "yellow", "primary_active": True, "active_shards": 1,
                           "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 1,
                           "unassigned_primary_shards": 0}
    assert set(shards) == {"0", "1"}


def test_hidden_indices_count_unless_wildcards_are_limited_to_open_ones(empty):
    create(empty, "hidden-idx", replicas=1, **{"index.hidden": True})
    assert health(empty)["status"] == "yellow"
    assert health(empty, "/_cluster/health/hidden-*")["active_shards"] == 1
    assert health(empty, "/_cluster/health/hidden-*", expand_wildcards="open")["active_shards"] == 0


def test_human_adds_the_readable_forms_before_the_raw_ones(empty):
    body = health(empty, human="true")
    keys = list(body)
    assert body["task_max_waiting_in_queue"] == "0s"
    assert body["active_shards_percent"] == "100.0%"
    assert keys.index("task_max_waiting_in_queue") + 1 == keys.index("task_max_waiting_in_queue_millis")
    assert keys.index("active_shards_percent") + 1 == keys.index("active_shards_percent_as_number")


# -- waiting --------------------------------------------------------------------------------------


def test_a_wait_already_met_answers_at_once(empty):
    create(empty, "met", replicas=1)
    start = time.monotonic()
    body = health(empty, wait_for_status="yellow", wait_for_no_relocating_shards="true",
                  wait_for_no_initializing_shards="true", wait_for_active_shards="1", wait_for_nodes="1")
    assert (body["status"], body["timed_out"]) == ("yellow", False)
    assert time.monotonic() - start < 1


def test_a_wait_not_met_by_the_timeout_is_408_with_the_health_as_it_stood(empty):
    create(empty, "unmet", replicas=1)
    start = time.monotonic()
    body = health(empty, status=408, wait_for_status="green", timeout="200ms")
    assert time.monotonic() - start >= 0.2
    assert (body["status"], body["timed_out"], body["unassigned_shards"]) == ("yellow", True, 1)
    assert list(body) == FIELDS


def test_a_zero_timeout_reports_at_once_whether_the_wait_is_met(empty):
    create(empty, "zero", replicas=1)
    assert health(empty, status=408, wait_for_status="green", timeout="0s")["timed_out"] is True
    assert health(empty, wait_for_status="yellow", timeout="0s")["timed_out"] is False


def test_waiting_for_red_or_yellow_is_met_by_any_better_status(empty):
    create(empty, "better")
    assert health(empty, wait_for_status="red")["status"] == "green"
    assert health(empty, wait_for_status="yellow")["status"] == "green"


@pytest.mark.parametrize(("value", "met"), [("1", True), ("3", True), ("4", False), ("all", False),
                                            ("0", True)])
def test_wait_for_active_shards_counts_active_copies_and_all_needs_every_replica(empty, value, met):
    create(empty, "active", shards=3, replicas=1)
    body = health(empty, status=200 if met else 408, wait_for_active_shards=value, timeout="100ms")
    assert body["timed_out"] is not met


@pytest.mark.parametrize(("value", "met"), [
    ("1", True), (">=1", True), ("ge(1)", True), ("<=1", True), ("le(1)", True), ("<2", True),
    ("lt(2)", True), (">0", True), ("gt(0)", True), ("2", False), (">1", False), ("lt(1)", False)])
def test_wait_for_nodes_compares_with_the_one_node_there_is(empty, value, met):
    body = health(empty, status=200 if met else 408, wait_for_nodes=value, timeout="100ms")
    assert (body["number_of_nodes"], body["timed_out"]) == (1, not met)


def test_wait_for_events_of_any_priority_runs_an_empty_update_on_the_master_and_answers(empty):
    for priority in ("immediate", "urgent", "high", "normal", "low", "languid"):
        assert health(empty, wait_for_events=priority)["timed_out"] is False
        assert health(empty, wait_for_events=priority, local="true")["timed_out"] is False


def test_pending_tasks_are_listed_on_the_master_and_locally_in_elasticsearchs_shape(empty):
    for params in ({}, {"local": "true", "master_timeout": "1s"}):
        tasks = empty.get("/_cluster/pending_tasks", params=params).json()["tasks"]
        for task in tasks:  # a background reroute may be queued at this moment
            assert list(task) == ["insert_order", "priority", "source", "executing", "time_in_queue_millis",
                                  "time_in_queue"]


def test_cat_pending_tasks_has_elasticsearchs_columns(empty):
    assert empty.get("/_cat/pending_tasks", params={"v": "true"}).text.split() == [
        "insertOrder", "timeInQueue", "priority", "source"]
    help_lines = empty.get("/_cat/pending_tasks", params={"help": "true"}).text.splitlines()
    assert [h.split("|")[1].strip() for h in help_lines] == ["o", "t", "p", "s"]


def test_pending_tasks_refuses_an_unknown_parameter(empty):
    response = empty.get("/_cluster/pending_tasks", params={"wait_for_status": "green"})
    assert "wait_for_status" in refused(response, "illegal_argument_exception")


def test_a_missing_index_is_red_and_waited_for_until_the_timeout(empty):
    create(empty, "present")
    body = health(empty, "/_cluster/health/present,absent", status=408, timeout="100ms")
    assert (body["status"], body["timed_out"], body["active_shards"]) == ("red", True, 1)


def test_a_wildcard_matching_nothing_is_green_at_once(empty):
    body = health(empty, "/_cluster/health/nothing-*")
    assert (body["status"], body["timed_out"], body["active_shards"]) == ("green", False, 0)


def test_waiting_for_a_missing_index_ends_as_soon_as_it_is_created(node, empty):
    answers: list[httpx.Response] = []

    def wait() -> None:
        with node.client() as client:
            answers.append(client.get("/_cluster/health/later", params={"wait_for_status": "green",
                                                                         "timeout": "20s"}))

    waiter = threading.Thread(target=wait)
    start = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    assert not answers, "the health answered before the index existed"
    create(empty, "later")
    waiter.join(10)
    assert answers and answers[0].status_code == 200
    assert answers[0].json()["status"] == "green"
    assert time.monotonic() - start < 5


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "type", "reason"), [
    ({"wait_for_status": "blue"}, "illegal_argument_exception",
     "No enum constant org.elasticsearch.cluster.health.ClusterHealthStatus.BLUE"),
    ({"wait_for_events": "soon"}, "illegal_argument_exception",
     "No enum constant org.elasticsearch.common.Priority.SOON"),
    ({"level": "nodes"}, "illegal_argument_exception",
     "level parameter must be one of [cluster] or [indices] or [shards] but was [nodes]"),
    ({"wait_for_active_shards": "some"}, "illegal_argument_exception", "cannot parse ActiveShardCount[some]"),
    ({"wait_for_active_shards": "-1"}, "illegal_argument_exception",
     "shard count cannot be a negative value"),
    ({"wait_for_nodes": ">=many"}, "number_format_exception", 'For input string: "many"'),
    ({"wait_for_nodes": "ge(2"}, "number_format_exception", 'For input string: ""'),
    ({"wait_for_relocating_shards": "0"}, "illegal_argument_exception",
     "wait_for_relocating_shards has been removed, use wait_for_no_relocating_shards [true/false] instead"),
    ({"timeout": "soon"}, "parse_exception",
     "failed to parse setting [timeout] with value [soon] as a time value: unit is missing or unrecognized"),
    ({"expand_wildcards": "open,shut"}, "illegal_argument_exception",
     "No valid expand wildcard value [shut]"),
    ({"local": "maybe"}, "illegal_argument_exception",
     "Failed to parse value [maybe] as only [true] or [false] are allowed."),
    ({"cluster_manager_timeout": "1s"}, "illegal_argument_exception",
     "request [/_cluster/health] contains unrecognized parameter: [cluster_manager_timeout] -> did you mean "
     "[master_timeout]?"),
])
def test_a_bad_parameter_is_refused_at_once_rather_than_waited_on(empty, params, type, reason):
    start = time.monotonic()
    response = empty.get("/_cluster/health", params={"wait_for_status": "green", "timeout": "5s", **params})
    assert refused(response, type) == reason
    assert time.monotonic() - start < 1


def test_an_unparseable_active_shard_count_names_the_number_format_cause(empty):
    response = empty.get("/_cluster/health", params={"wait_for_active_shards": "x"})
    refused(response, "illegal_argument_exception")
    cause = response.json()["error"]["caused_by"]
    assert (cause["type"], cause["reason"]) == ("number_format_exception", 'For input string: "x"')


# -- a failed shard -------------------------------------------------------------------------------


def test_a_shard_that_failed_to_recover_makes_its_index_red(fresh_node):
    node = fresh_node().start()
    with node.client() as http:
        create(http, "broken")
        create(http, "fine")
        for n in range(5):
            assert http.put(f"/broken/_doc/{n}", json={"marker": f"BREAK-ME-{n}"}).status_code == 201
    node.kill()  # the operations live in the translog only
    flip_translog_byte(node.data, "broken", b"BREAK-ME-2")

    node.start()
    with node.client() as http:
        body = health(http, level="shards", wait_for_no_initializing_shards="true")
        assert body["status"] == "red"
        assert (body["active_primary_shards"], body["unassigned_primary_shards"]) == (1, 1)
        assert body["active_shards_percent_as_number"] == 50.0
        assert body["indices"]["broken"]["shards"]["0"] == {
            "status": "red", "primary_active": False, "active_shards": 0, "relocating_shards": 0,
            "initializing_shards": 0, "unassigned_shards": 1, "unassigned_primary_shards": 1}
        assert body["indices"]["fine"]["status"] == "green"
        assert health(http, "/_cluster/health/fine")["status"] == "green"
        assert health(http, status=408, wait_for_status="yellow", timeout="100ms")["status"] == "red"
    node.stop()
