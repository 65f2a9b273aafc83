"""Delete by query, update by query and reindex on a real node, through elasticsearch-py as
an application uses them: counts, batches, version conflicts, max_docs, detached runs whose
result lands in `.tasks`, cancellation and rethrottling of a throttled run, and ES's errors."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, BadRequestError, ConflictError, NotFoundError, helpers

from tests.support.polling import wait_until

# The tasks API is a technical preview to the client, which says so at every call.
pytestmark = pytest.mark.filterwarnings("ignore:This API is in technical preview")

COUNTS = ("total", "deleted", "batches", "version_conflicts", "noops", "retries", "throttled_millis",
          "requests_per_second", "throttled_until_millis", "failures")


def load(es, index: str, count: int, *, shards: int = 1, **settings) -> None:
    """`count` documents `{"n": i, "parity": even|odd}` with ids 0.., refreshed."""
    es.indices.create(index=index, settings={"number_of_shards": shards, "number_of_replicas": 0, **settings})
    helpers.bulk(es, ({"_index": index, "_id": str(i), "n": i, "parity": "odd" if i % 2 else "even"}
                      for i in range(count)), refresh=True)


def counts(response) -> dict:
    body = dict(response)
    del body["took"]
    return body


def finished(es, task_id: str) -> dict:
    return es.tasks.get(task_id=task_id, wait_for_completion=True, timeout="30s").body


# -- happy paths ---------------------------------------------------------------------------------


def test_delete_by_query_deletes_the_matches_in_batches_and_answers_as_es_does(es):
    load(es, "dbq-basic", 9, shards=2)
    response = es.delete_by_query(index="dbq-basic", query={"term": {"parity": "even"}}, scroll_size=2,
                                  refresh=True)
    assert counts(response) == {
        "timed_out": False, "total": 5, "deleted": 5, "batches": 3, "version_conflicts": 0, "noops": 0,
        "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0, "requests_per_second": -1.0,
        "throttled_until_millis": 0, "failures": []}
    assert list(response.body) == ["took", "timed_out", *COUNTS]  # no created or updated, as in ES
    assert es.count(index="dbq-basic")["count"] == 4
    assert es.count(index="dbq-basic", query={"term": {"parity": "even"}})["count"] == 0


def test_delete_by_query_takes_the_query_from_q(es):
    load(es, "dbq-q", 4)
    response = es.delete_by_query(index="dbq-q", q="n:2", refresh=True, search_timeout="-1")
    assert (response["total"], response["deleted"]) == (1, 1)
    assert sorted(h["_id"] for h in es.search(index="dbq-q")["hits"]["hits"]) == ["0", "1", "3"]


def test_update_by_query_writes_each_document_again_so_a_new_mapping_applies_to_it(es):
    load(es, "ubq-mapping", 5)
    es.indices.put_mapping(index="ubq-mapping", properties={
        "parity": {"type": "text", "fields": {"raw": {"type": "keyword"}}}})
    assert es.count(index="ubq-mapping", query={"term": {"parity.raw": "odd"}})["count"] == 0

    response = es.update_by_query(index="ubq-mapping", scroll_size=2, refresh=True)

    assert (response["total"], response["updated"], response["batches"]) == (5, 5, 3)
    assert "created" not in response  # as ES leaves it out of update by query's answer
    assert es.count(index="ubq-mapping", query={"term": {"parity.raw": "odd"}})["count"] == 2
    doc = es.get(index="ubq-mapping", id="3")
    assert (doc["_version"], doc["_source"]) == (2, {"n": 3, "parity": "odd"})


def test_update_by_query_visits_each_document_once_though_it_rewrites_them(es):
    # refreshes land mid-run and show the rewritten documents; what the run reads is the
    # view it started from all the same
    load(es, "ubq-once", 6, refresh_interval="50ms")
    response = es.update_by_query(index="ubq-once", scroll_size=1, requests_per_second=20, refresh=True)
    assert (response["total"], response["updated"], response["batches"]) == (6, 6, 6)
    assert {h["_version"] for h in es.search(index="ubq-once", version=True)["hits"]["hits"]} == {2}


def test_reindex_copies_the_matches_with_source_filtering_then_overwrites_them(es):
    load(es, "rx-src", 6, shards=2)
    response = es.reindex(source={"index": "rx-src", "query": {"range": {"n": {"gte": 2}}}, "size": 3,
                                  "_source": ["n"]},
                          dest={"index": "rx-dest"}, refresh=True)
    assert counts(response) == {
        "timed_out": False, "total": 4, "updated": 0, "created": 4, "deleted": 0, "batches": 2,
        "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
        "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": []}
    assert es.get(index="rx-dest", id="4")["_source"] == {"n": 4}

    again = es.reindex(source={"index": "rx-src"}, dest={"index": "rx-dest"}, refresh=True)
    assert (again["created"], again["updated"]) == (2, 4)
    assert es.get(index="rx-dest", id="4")["_source"] == {"n": 4, "parity": "even"}


def test_reindex_keeps_discards_or_sets_the_routing(es):
    es.indices.create(index="rx-routed", settings={"number_of_shards": 3, "number_of_replicas": 0})
    es.index(index="rx-routed", id="1", document={"n": 1}, routing="r1", refresh=True)
    es.reindex(source={"index": "rx-routed"}, dest={"index": "rx-keep"}, refresh=True)
    assert es.get(index="rx-keep", id="1", routing="r1")["_routing"] == "r1"
    es.reindex(source={"index": "rx-routed"}, dest={"index": "rx-set", "routing": "=r2"}, refresh=True)
    assert es.get(index="rx-set", id="1", routing="r2")["_routing"] == "r2"
    es.reindex(source={"index": "rx-routed"}, dest={"index": "rx-discard", "routing": "discard"},
               refresh=True)
    assert "_routing" not in es.get(index="rx-discard", id="1")


def test_a_query_that_matches_nothing_answers_zero_counts(es):
    load(es, "bbs-none", 3)
    nothing = {"term": {"parity": "none"}}
    for response in (es.delete_by_query(index="bbs-none", query=nothing),
                     es.update_by_query(index="bbs-none", query=nothing),
                     es.reindex(source={"index": "bbs-none", "query": nothing},
                                dest={"index": "bbs-none-dest"})):
        assert (response["total"], response["batches"], response["failures"]) == (0, 0, [])
    assert not es.indices.exists(index="bbs-none-dest")  # nothing written: not even created


# -- version conflicts ----------------------------------------------------------------------------


def changed_after_the_last_refresh(es, index: str) -> None:
    """Three documents searched as of a refresh, one of them written again since: a by-query
    action reads the refreshed view, so its write of that one conflicts, every time."""
    load(es, index, 3, refresh_interval="-1")
    es.index(index=index, id="1", document={"n": 100, "parity": "odd"})


def test_conflicts_abort_stops_with_the_conflict_in_failures(es):
    changed_after_the_last_refresh(es, "conflict-abort")
    with pytest.raises(ConflictError) as error:
        es.update_by_query(index="conflict-abort")
    body = error.value.body
    assert (body["total"], body["updated"], body["version_conflicts"]) == (3, 2, 1)
    [failure] = body["failures"]
    assert (failure["index"], failure["id"], failure["status"]) == ("conflict-abort", "1", 409)
    assert failure["cause"]["type"] == "version_conflict_engine_exception"
    assert es.get(index="conflict-abort", id="1")["_source"]["n"] == 100  # the later write stands


def test_conflicts_proceed_counts_the_conflict_and_goes_on(es):
    changed_after_the_last_refresh(es, "conflict-proceed")
    response = es.delete_by_query(index="conflict-proceed", query={"match_all": {}}, conflicts="proceed",
                                  refresh=True)
    assert (response["total"], response["deleted"], response["version_conflicts"]) == (3, 2, 1)
    assert response["failures"] == []
    assert [h["_id"] for h in es.search(index="conflict-proceed")["hits"]["hits"]] == ["1"]


def test_reindex_with_external_versions_or_create_counts_what_exists_as_conflicts(es):
    load(es, "rx-versions", 3)
    es.index(index="rx-versions", id="0", document={"n": 0, "parity": "even"}, refresh=True)  # version 2
    es.index(index="rx-versions-dest", id="0", document={"old": True}, version=5, version_type="external")
    es.index(index="rx-versions-dest", id="1", document={"old": True}, version=1, version_type="external",
             refresh=True)
    response = es.reindex(source={"index": "rx-versions"}, dest={"index": "rx-versions-dest",
                                                                 "version_type": "external"},
                          conflicts="proceed", refresh=True)
    # 0: dest's 5 is newer than 2; 1: dest has 1 already (external needs more); 2: new
    assert (response["created"], response["updated"], response["version_conflicts"]) == (1, 0, 2)
    assert es.get(index="rx-versions-dest", id="2")["_version"] == 1
    assert es.get(index="rx-versions-dest", id="0")["_source"] == {"old": True}

    with pytest.raises(ConflictError) as error:
        es.reindex(source={"index": "rx-versions"}, dest={"index": "rx-versions-dest", "op_type": "create"})
    assert error.value.body["version_conflicts"] == 3
    assert {f["id"] for f in error.value.body["failures"]} == {"0", "1", "2"}


# -- max_docs --------------------------------------------------------------------------------------


def test_max_docs_bounds_the_documents_processed(es):
    load(es, "maxdocs", 7)
    response = es.delete_by_query(index="maxdocs", query={"match_all": {}}, max_docs=3, scroll_size=2,
                                  refresh=True)
    assert (response["total"], response["deleted"], response["batches"]) == (3, 3, 2)
    assert es.count(index="maxdocs")["count"] == 4
    copied = es.reindex(source={"index": "maxdocs"}, dest={"index": "maxdocs-dest"}, max_docs=2, refresh=True)
    assert (copied["total"], copied["created"], copied["batches"]) == (2, 2, 1)


def test_max_docs_with_conflicts_proceed_counts_only_the_documents_written(es):
    changed_after_the_last_refresh(es, "maxdocs-proceed")
    response = es.update_by_query(index="maxdocs-proceed", max_docs=2, scroll_size=1, conflicts="proceed")
    # doc 1 conflicts and does not count toward max_docs: 0 and 2 are updated
    assert (response["updated"], response["version_conflicts"], response["batches"]) == (2, 1, 3)


# -- tasks -----------------------------------------------------------------------------------------


def test_wait_for_completion_false_answers_a_task_whose_result_is_stored(es):
    load(es, "detached", 4)
    started = es.reindex(source={"index": "detached"}, dest={"index": "detached-dest"},
                         wait_for_completion=False, refresh=True)
    done = finished(es, started["task"])
    assert done["completed"] is True
    assert done["task"]["action"] == "indices:data/write/reindex"
    assert done["task"]["description"] == "reindex from [detached] to [detached-dest]"
    assert done["task"]["status"]["created"] == 4
    response = done["response"]
    assert (response["total"], response["created"], response["updated"]) == (4, 4, 0)
    assert response["failures"] == []
    assert es.count(index="detached-dest")["count"] == 4


def test_a_detached_run_that_fails_stores_its_error(es):
    started = es.delete_by_query(index="detached-missing", query={"match_all": {}}, wait_for_completion=False)
    done = finished(es, started["task"])
    assert done["error"]["type"] == "index_not_found_exception"


def test_a_throttled_run_shows_its_progress_and_stops_when_cancelled(es):
    load(es, "throttled", 10)  # 4.5s of throttled batches: cancelled long before the end
    started = es.delete_by_query(index="throttled", query={"match_all": {}}, scroll_size=1,
                                 requests_per_second=2, wait_for_completion=False)
    task_id = started["task"]
    running = wait_until(lambda: (t := es.tasks.get(task_id=task_id).body)["task"]["status"]["deleted"] >= 1
                         and t)
    assert running["completed"] is False
    status = running["task"]["status"]
    assert (status["total"], status["requests_per_second"]) == (10, 2.0)
    listed = es.tasks.list(actions="*byquery", detailed=True)
    [node] = listed["nodes"].values()
    assert node["tasks"][task_id]["description"] == "delete-by-query [throttled]"

    es.tasks.cancel(task_id=task_id)

    response = finished(es, task_id)["response"]
    assert response["canceled"] == "by user request"
    assert 1 <= response["deleted"] < 10
    assert response["requests_per_second"] == -1.0  # ES drops the throttle of a cancelled run
    assert response["throttled_until_millis"] == 0


def test_rethrottling_speeds_up_a_throttled_run(es):
    load(es, "rethrottled", 4)
    started = es.update_by_query(index="rethrottled", scroll_size=1, requests_per_second=0.1,
                                 wait_for_completion=False)
    task_id = started["task"]
    wait_until(lambda: es.tasks.get(task_id=task_id)["task"]["status"]["batches"] >= 1)
    answer = es.update_by_query_rethrottle(task_id=task_id, requests_per_second=-1)
    [node] = answer["nodes"].values()
    assert node["tasks"][task_id]["status"]["requests_per_second"] == -1.0
    response = finished(es, task_id)["response"]
    assert (response["updated"], response["batches"], response["requests_per_second"]) == (4, 4, -1.0)


def test_rethrottling_a_task_that_ended_is_a_node_failure(es, http):
    load(es, "rethrottle-gone", 1)
    started = es.delete_by_query(index="rethrottle-gone", query={"match_all": {}}, wait_for_completion=False)
    finished(es, started["task"])
    answer = http.post(f"/_delete_by_query/{started['task']}/_rethrottle",
                       params={"requests_per_second": "5"})
    assert answer.status_code == 200
    [failure] = answer.json()["node_failures"]
    assert failure["caused_by"] == {"type": "resource_not_found_exception",
                                    "reason": f"task [{started['task']}] is missing"}


# -- errors --------------------------------------------------------------------------------------


def test_a_missing_index_is_index_not_found(es):
    with pytest.raises(NotFoundError) as error:
        es.delete_by_query(index="no-such-index", query={"match_all": {}})
    assert error.value.body["error"]["type"] == "index_not_found_exception"
    with pytest.raises(NotFoundError):
        es.reindex(source={"index": "no-such-index"}, dest={"index": "whatever"})


def test_a_reindex_without_dest_or_into_its_source_fails_validation(es, http):
    load(es, "rx-invalid", 1)
    response = http.post("/_reindex", json={"source": {"index": "rx-invalid"}})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "Validation Failed: 1: index must be specified;"
    with pytest.raises(BadRequestError) as error:
        es.reindex(source={"index": "rx-invalid"}, dest={"index": "rx-invalid"})
    assert error.value.body["error"]["reason"] == \
        "Validation Failed: 1: reindex cannot write into an index its reading from [rx-invalid];"


def test_scripts_are_refused(es):
    load(es, "scripted", 1)
    with pytest.raises(BadRequestError) as error:
        es.update_by_query(index="scripted", script={"source": "ctx._source.n++"})
    assert error.value.body["error"]["type"] == "illegal_argument_exception"
    assert "[script] is not supported by Strata" in error.value.body["error"]["reason"]
    with pytest.raises(BadRequestError):
        es.reindex(source={"index": "scripted"}, dest={"index": "scripted-dest"}, script={"source": "x"})


@pytest.mark.parametrize(("params", "reason"), [
    ({"slices": "2"}, "[slices] greater than 1 is not supported by Strata"),
    ({"slices": "0"}, '[slices] must be a positive integer or the string "auto", but was [0]'),
    ({"conflicts": "retry"}, 'conflicts may only be "proceed" or "abort" but was [retry]'),
    ({"requests_per_second": "0"}, "[requests_per_second] must be a float greater than 0"),
    ({"size": "5"}, "invalid parameter [size], use [max_docs] instead"),
    ({"scroll_size": "0"}, "[size] cannot be [0] in a scroll context"),
    ({"bogus": "1"}, "contains unrecognized parameter: [bogus]"),
    ({"scroll": "2d"}, "Keep alive for request (2d) is too large. It must be less than (1d). This limit can "
                       "be set by changing the [search.max_keep_alive] cluster level setting."),
])
def test_bad_parameters_are_refused_before_anything_runs(http, params, reason):
    response = http.post("/any-index/_delete_by_query", params=params, json={"query": {"match_all": {}}})
    assert response.status_code == 400
    assert reason in response.json()["error"]["reason"]


def test_a_delete_by_query_without_a_query_and_an_update_with_a_pipeline_are_refused(es, http):
    load(es, "refusals", 2)
    response = http.post("/refusals/_delete_by_query")
    assert response.json()["error"]["reason"] == "Validation Failed: 1: query is missing;"
    with pytest.raises(ApiError) as error:
        es.update_by_query(index="refusals", pipeline="my-pipeline")
    failures = error.value.body["failures"]
    assert error.value.meta.status == 400 and len(failures) == 2
    assert failures[0]["cause"]["reason"] == "pipeline with id [my-pipeline] does not exist"
