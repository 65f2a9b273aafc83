"""Delete by query, update by query and reindex, the parts that need no node: requests read
as ES's REST handlers and request classes read them, the throttle, the status and the
counting of bulk answers, and the writes built from hits."""

import asyncio
import math
import time
from types import SimpleNamespace

import orjson
import pytest

from strata_node.action.bulk_by_scroll import (
    DEFAULT_SCROLL_SIZE,
    BulkByScrollRequest,
    Destination,
    Progress,
    ScrollSource,
    _Shard,
    build_items,
    check_slices,
    dest_routing,
    parse_by_query,
    parse_reindex,
    parse_requests_per_second,
    response_status,
    throttle_wait,
)
from strata_node.common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    ParseError,
    ParsingError,
    XContentParseError,
)
from strata_node.engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from strata_node.search.contexts import SearchContextMissing, SearchContexts


def by_query(kind: str, body: dict | None = None, index: str = "i", **params: str) -> BulkByScrollRequest:
    return parse_by_query(kind, index, orjson.dumps(body) if body is not None else b"", params)


def reindex(body: dict, **params: str) -> BulkByScrollRequest:
    return parse_reindex(orjson.dumps(body), params)


def validation(error: pytest.ExceptionInfo) -> list[str]:
    return error.value.errors


# -- delete and update by query requests --------------------------------------------------------


def test_a_delete_by_query_reads_no_source_and_batches_a_thousand_documents_by_default():
    request = by_query("delete", {"query": {"term": {"a": 1}}}, index="a,b")
    assert request.kind == "delete" and request.indices == ["a", "b"]
    assert request.query == {"term": {"a": 1}}
    assert request.fetch_source is False
    assert (request.size, request.max_docs, request.abort_on_version_conflict) == (DEFAULT_SCROLL_SIZE, -1,
                                                                                   True)
    assert (request.refresh, request.timeout, request.scroll) == (False, 60.0, 300.0)
    assert request.requests_per_second == -1.0
    assert request.description == "delete-by-query [a, b]"


def test_conflicts_and_max_docs_come_from_the_body_and_the_url_and_the_url_wins_for_conflicts():
    request = by_query("update", {"conflicts": "proceed", "max_docs": 5})
    assert (request.abort_on_version_conflict, request.max_docs, request.size) == (False, 5, 5)
    assert by_query("update", {"conflicts": "proceed"}, conflicts="abort").abort_on_version_conflict is True
    assert by_query("update", max_docs="7", scroll_size="3").max_docs == 7
    with pytest.raises(IllegalArgument, match=r"\[max_docs\] set to two different values \[5\] and \[3\]"):
        by_query("update", {"max_docs": 5}, max_docs="3")
    assert by_query("update", {"max_docs": 5}, max_docs="5").max_docs == 5


def test_a_delete_by_query_needs_a_query_in_the_body_or_q():
    with pytest.raises(ActionRequestValidation) as error:
        by_query("delete")
    assert validation(error) == ["query is missing"]
    request = by_query("delete", q="n:3", df="n")
    assert request.query is None and request.query_params == {"q": "n:3", "df": "n"}
    assert request.local_query is not None
    assert by_query("update").local_query is None  # everything matches


def test_the_batch_size_is_the_body_size_or_scroll_size_and_never_more_than_max_docs():
    assert by_query("update", {"size": 50}).size == 50
    assert by_query("update", {"size": 50}, scroll_size="20").size == 20
    assert by_query("update", scroll_size="20", max_docs="4").size == 4
    with pytest.raises(IllegalArgument, match=r"\[size\] parameter cannot be negative, found \[-1\]"):
        by_query("update", scroll_size="-1")
    with pytest.raises(ActionRequestValidation) as error:
        by_query("update", scroll_size="0")
    assert validation(error) == ["[size] cannot be [0] in a scroll context"]


def test_url_size_and_sort_from_and_stored_fields_are_refused():
    with pytest.raises(IllegalArgument, match=r"invalid parameter \[size\], use \[max_docs\] instead"):
        by_query("update", size="3")
    with pytest.raises(IllegalArgument, match=r"\[sort\] is not supported by Strata"):
        by_query("update", {"sort": ["a"]})
    with pytest.raises(ActionRequestValidation) as error:
        by_query("update", {"from": 0, "stored_fields": ["a"]})
    assert validation(error) == ["from is not supported in this context",
                                 "stored_fields is not supported in this context"]


def test_bad_max_docs_conflicts_and_refresh_values_are_refused_with_es_messages():
    with pytest.raises(ActionRequestValidation) as error:
        by_query("update", max_docs="0")
    assert validation(error) == ["maxDocs should be greater than 0 if the request is limited to some number "
                                 "of documents or -1 if it isn't but it was [0]"]
    with pytest.raises(IllegalArgument, match=r"\[max_docs\] parameter cannot be negative, found \[-2\]"):
        by_query("update", max_docs="-2")
    with pytest.raises(IllegalArgument, match=r"Failed to parse int parameter \[max_docs\] with value \[x\]"):
        by_query("update", max_docs="x")
    with pytest.raises(IllegalArgument, match=r'conflicts may only be "proceed" or "abort" but was \[maybe'):
        by_query("update", {"conflicts": "maybe"})
    with pytest.raises(IllegalArgument, match=r"Failed to parse value \[wait_for\]"):
        by_query("update", refresh="wait_for")
    with pytest.raises(ParseError, match="failed to parse setting \\[scroll\\]"):
        by_query("update", scroll="5x")
    with pytest.raises(IllegalArgument, match=r"Illegal value for wait_for_active_shards: \[-1\]"):
        by_query("update", wait_for_active_shards="-1")


def test_a_script_is_refused_as_strata_refuses_every_script():
    with pytest.raises(IllegalArgument, match=r"\[script\] is not supported by Strata"):
        by_query("update", {"script": {"source": "ctx._source.n++"}})


def test_timeouts_scroll_routing_and_index_options_are_kept():
    request = by_query("update", {"query": {"match_all": {}}}, routing="r1", preference="_local",
                       expand_wildcards="all", ignore_unavailable="true", scroll="1m", timeout="2m",
                       wait_for_active_shards="all", refresh="true", pipeline="_none")
    assert request.options == {"routing": "r1", "preference": "_local", "expand_wildcards": "all",
                               "ignore_unavailable": "true"}
    assert (request.scroll, request.timeout, request.refresh) == (60.0, 120.0, True)
    assert request.wait_for_active_shards == "all" and request.pipeline == "_none"
    assert request.search_timeout == 120.0  # `timeout` is the search's too, as RestSearchAction reads it
    assert by_query("update", timeout="2m", search_timeout="5s").search_timeout == 5.0


@pytest.mark.parametrize("value", [None, "1", "auto"])
def test_one_slice_or_auto_is_taken(value):
    check_slices(value)


def test_slices_above_one_are_refused_and_bad_ones_worded_as_es_words_them():
    with pytest.raises(IllegalArgument, match=r"\[slices\] greater than 1 is not supported by Strata"):
        check_slices("4")
    for bad in ("0", "-1", "x"):
        with pytest.raises(IllegalArgument, match='must be a positive integer or the string "auto"'):
            check_slices(bad)


def test_requests_per_second_is_a_positive_float_or_minus_one():
    assert parse_requests_per_second(None) == -1.0
    assert parse_requests_per_second("-1") == -1.0
    assert parse_requests_per_second("2.5") == 2.5
    for bad in ("0", "-3", "abc"):
        with pytest.raises(IllegalArgument, match=r"\[requests_per_second\] must be a float greater than 0"):
            parse_requests_per_second(bad)


# -- reindex requests --------------------------------------------------------------------------


def test_a_reindex_reads_its_source_as_a_search_and_its_dest_as_an_index_request():
    request = reindex({"source": {"index": "a,b", "query": {"term": {"x": 1}}, "size": 10,
                                  "_source": ["x"]},
                       "dest": {"index": "d", "op_type": "create", "routing": "=r", "pipeline": "_none"},
                       "conflicts": "proceed", "max_docs": 20})
    assert request.indices == ["a", "b"] and request.query == {"term": {"x": 1}}
    assert (request.size, request.max_docs, request.abort_on_version_conflict) == (10, 20, False)
    assert request.source_includes == ["x"] and request.fetch_source
    assert request.dest == Destination(index="d", routing="=r", op_type="create", version_type="internal",
                                       pipeline="_none")
    assert request.description == "reindex from [a, b] to [d]"
    external = reindex({"source": {"index": ["a", "b"]},
                        "dest": {"index": "d", "version_type": "external_gt"}})
    assert external.indices == ["a", "b"] and external.dest.version_type == "external"


def test_a_reindex_without_source_index_or_dest_index_fails_validation():
    with pytest.raises(ActionRequestValidation) as error:
        reindex({"source": {}, "dest": {}})
    assert validation(error) == ["use _all if you really want to copy from all existing indexes",
                                 "index must be specified"]
    with pytest.raises(ActionRequestValidation) as error:
        reindex({"source": {"index": "a", "_source": False}, "dest": {"index": "d", "routing": "other"}})
    assert validation(error) == ["_source:false is not supported in this context",
                                 "routing must be unset, [keep], [discard] or [=<some new value>]"]
    with pytest.raises(ActionRequestValidation) as error:
        reindex({"source": {"index": "a"},
                 "dest": {"index": "d", "op_type": "create", "version_type": "external"}})
    assert validation(error) == ["create operations only support internal versioning. use index instead"]


def test_reindex_body_fields_are_checked_as_object_parser_checks_them():
    with pytest.raises(XContentParseError, match=r"\[reindex\] unknown field \[size\]") as error:
        reindex({"source": {"index": "a"}, "dest": {"index": "d"}, "size": 3})
    assert error.value.line == 1
    with pytest.raises(XContentParseError, match=r"\[reindex\] failed to parse field \[dest\]") as error:
        reindex({"source": {"index": "a"}, "dest": {"index": "d", "type": "x"}})
    assert error.value.caused_by.reason == "[dest] unknown field [type]"
    with pytest.raises(XContentParseError) as error:
        reindex({"source": {"index": "a"}, "dest": {"index": "d", "op_type": "upsert"}})
    assert error.value.caused_by.caused_by.reason == "opType must be 'create' or 'index', found: [upsert]"
    with pytest.raises(XContentParseError) as error:
        reindex({"source": {"index": "a"}, "dest": {"index": "d", "version_type": "force"}})
    assert error.value.caused_by.caused_by.reason == "No version type match [force]"
    with pytest.raises(ParsingError, match=r"Unknown key for a VALUE_STRING in \[bogus\]"):
        reindex({"source": {"index": "a", "bogus": "x"}, "dest": {"index": "d"}})
    with pytest.raises(ParseError, match="request body is required"):
        parse_reindex(b"", {})


def test_reindex_refuses_remote_sources_scripts_and_a_url_pipeline():
    with pytest.raises(IllegalArgument, match=r"reindex from \[remote\] is not supported by Strata"):
        reindex({"source": {"index": "a", "remote": {"host": "http://h:9200"}}, "dest": {"index": "d"}})
    with pytest.raises(IllegalArgument, match=r"\[script\] is not supported by Strata"):
        reindex({"source": {"index": "a"}, "dest": {"index": "d"}, "script": {"source": "x"}})
    with pytest.raises(IllegalArgument, match=r"_reindex doesn't support \[pipeline\] as a query parameter"):
        reindex({"source": {"index": "a"}, "dest": {"index": "d"}}, pipeline="p")


# -- throttling, status and counting ------------------------------------------------------------


def test_the_wait_is_the_last_batch_over_the_rate_less_the_time_it_took():
    assert throttle_wait(10, math.inf, 0.0) == 0.0
    assert throttle_wait(0, 5.0, 0.0) == 0.0
    assert throttle_wait(10, 5.0, 0.5) == pytest.approx(1.5)
    assert throttle_wait(10, 5.0, 3.0) == 0.0
    assert throttle_wait(10_000, 0.001, 0.0) == 3600.0  # an hour at most


def test_the_status_is_bulk_by_scroll_task_status():
    progress = Progress(requests_per_second=0.1, total=5, deleted=2, batches=1, throttled=1.25)
    progress.throttled_until = 100.0
    assert progress.status(now=99.5) == {
        "total": 5, "updated": 0, "created": 0, "deleted": 2, "batches": 1, "version_conflicts": 0,
        "noops": 0, "retries": {"bulk": 0, "search": 0}, "throttled_millis": 1250, "requests_per_second": 0.1,
        "throttled_until_millis": 500}
    progress.canceled = "by user request"
    progress.requests_per_second = math.inf
    status = progress.status()
    assert status["requests_per_second"] == -1.0 and status["canceled"] == "by user request"
    assert list(status)[-2:] == ["canceled", "throttled_until_millis"]


def conflict(doc_id: str) -> dict:
    return {"index": {"_index": "i", "_id": doc_id, "status": 409,
                      "error": {"type": "version_conflict_engine_exception", "reason": "conflict"}}}


def test_bulk_answers_are_counted_and_conflicts_reported_only_when_they_abort():
    items = [{"index": {"_index": "d", "_id": "1", "result": "created", "status": 201}},
             {"index": {"_index": "d", "_id": "2", "result": "updated", "status": 200}},
             {"delete": {"_index": "i", "_id": "3", "result": "deleted", "status": 200}},
             conflict("4"),
             {"create": {"_index": "d", "_id": "5", "status": 400,
                         "error": {"type": "mapper_parsing_exception", "reason": "bad"}}}]
    progress, written = Progress(), set()
    failures = progress.count(items, True, written)
    assert (progress.created, progress.updated, progress.deleted, progress.version_conflicts) == (1, 1, 1, 1)
    assert progress.successfully_processed == 3
    assert written == {"d", "i"}
    assert failures == [
        {"index": "i", "id": "4", "status": 409,
         "cause": {"type": "version_conflict_engine_exception", "reason": "conflict"}},
        {"index": "d", "id": "5", "status": 400,
         "cause": {"type": "mapper_parsing_exception", "reason": "bad"}}]
    proceed = Progress()
    assert [f["status"] for f in proceed.count(items, False, set())] == [400]
    assert proceed.version_conflicts == 1


def test_the_rest_status_is_the_worst_failure_or_408_for_a_timeout():
    assert response_status({"timed_out": False, "failures": []}) == 200
    assert response_status({"timed_out": True, "failures": []}) == 408
    assert response_status({"timed_out": False, "failures": [{"status": 409}, {"status": 400}]}) == 409
    assert response_status({"timed_out": True, "failures": [{"status": 500}]}) == 500


# -- the writes built from hits ------------------------------------------------------------------


HITS = [{"_index": "i", "_id": "1", "_version": 3, "_seq_no": 7, "_primary_term": 2, "_routing": "r",
         "_source": b'{"a":1}'},
        {"_index": "i", "_id": "2", "_version": 1, "_seq_no": 8, "_primary_term": 2, "_source": {"a": 2}}]


def test_delete_and_update_by_query_write_back_with_the_sequence_number_they_read():
    deletes = build_items(BulkByScrollRequest(kind="delete", indices=["i"]), HITS)
    assert [(d.action, d.index, d.id, d.routing, d.if_seq_no, d.if_primary_term) for d in deletes] == [
        ("delete", "i", "1", "r", 7, 2), ("delete", "i", "2", None, 8, 2)]
    updates = build_items(BulkByScrollRequest(kind="update", indices=["i"]), HITS)
    assert [(u.action, u.source, u.if_seq_no) for u in updates] == [("index", b'{"a":1}', 7),
                                                                     ("index", b'{"a":2}', 8)]
    assert all(u.error is None for u in updates)


def test_reindex_writes_to_dest_with_its_op_type_versions_and_routing():
    request = BulkByScrollRequest(kind="reindex", indices=["i"], dest=Destination(index="d"))
    first, second = build_items(request, HITS)
    assert (first.action, first.index, first.routing, first.version, first.version_type) == (
        "index", "d", "r", MATCH_ANY, "internal")
    assert first.if_seq_no == UNASSIGNED_SEQ_NO and second.source == b'{"a":2}'
    external = BulkByScrollRequest(kind="reindex", indices=["i"],
                                   dest=Destination(index="d", version_type="external", routing="discard"))
    first, _ = build_items(external, HITS)
    assert (first.version, first.version_type, first.routing) == (3, "external", None)
    create = BulkByScrollRequest(kind="reindex", indices=["i"], dest=Destination(index="d", op_type="create"))
    assert build_items(create, HITS)[0].action == "create"


def test_routing_of_reindex_is_kept_discarded_or_set():
    assert dest_routing(None, "r") == "r"
    assert dest_routing("keep", "r") == "r"
    assert dest_routing("discard", "r") is None
    assert dest_routing("=x", "r") == "x"


def test_a_document_without_source_cannot_be_rewritten_and_a_pipeline_fails_each_write():
    with pytest.raises(IllegalArgument, match=r"\[i\]\[3\] didn't store _source"):
        build_items(BulkByScrollRequest(kind="update", indices=["i"]),
                    [{"_index": "i", "_id": "3", "_version": 1, "_seq_no": 1, "_primary_term": 1}])
    items = build_items(BulkByScrollRequest(kind="update", indices=["i"], pipeline="p"), HITS)
    assert [str(i.error) for i in items] == ["pipeline with id [p] does not exist"] * 2
    assert all(i.error is None for i in build_items(BulkByScrollRequest(kind="update", indices=["i"],
                                                                        pipeline="_none"), HITS))


# -- scroll contexts -----------------------------------------------------------------------------


def test_a_scroll_context_lives_as_long_as_its_pages_ask():
    now = [0.0]
    contexts = SearchContexts(keep_alive=300.0, reap_every=None, clock=lambda: now[0])
    ctx = SimpleNamespace(reader=None)
    context_id = contexts.open(ctx, keep_alive=10.0)
    now[0] = 8.0
    assert contexts.touch(context_id, 10.0) is ctx
    now[0] = 15.0
    assert contexts.reap() == 0
    now[0] = 18.5
    assert contexts.reap() == 1
    with pytest.raises(SearchContextMissing):
        contexts.touch(context_id, 10.0)


def test_a_batch_that_ends_a_shard_keeps_the_next_shards_context_alive_too():
    """The shard a batch moved on to was never paged: its context is refreshed with the
    ones after it, or a long throttle wait lets it expire before its first page."""
    source = ScrollSource.__new__(ScrollSource)
    soon = time.monotonic() + 1.0
    source._shards = [_Shard(None, None, 100, soon, next=100),  # done and freed
                      _Shard(None, "b", 100, soon), _Shard(None, "c", 100, soon)]
    source._current = 1
    refreshed = []

    async def page(shard, start, count, keep_alive):
        refreshed.append((shard.context_id, start, count))
        shard.expires = time.monotonic() + keep_alive

    source._page = page
    asyncio.run(source._keep_alive(60.0))
    assert refreshed == [("b", 0, 0), ("c", 0, 0)]
