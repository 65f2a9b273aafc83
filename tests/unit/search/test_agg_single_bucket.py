"""missing and global: a bucket of the documents without a field's value, and a bucket
of every document the request may see whatever its query (top level only)."""

import pytest

from strata_node.common.errors import IllegalArgument, ParsingError, XContentParseError
from strata_node.search.aggregations import parse_aggregations
from strata_node.search.aggregations.base import AggregationExecutionError
from strata_node.search.aggregations.single_bucket import check_placement
from strata_node.search.matches import Matches
from strata_node.search.query import parse_query
from strata_node.search.request import parse_search
from strata_node.search.shard_search import query_phase

from .shards import one_shard, run, shard, shards

MAPPING = {"properties": {"status": {"type": "keyword"}, "n": {"type": "long"}}}
DOCS = [{"status": "ok", "n": 1}, {"status": "ok"}, {"status": None, "n": 3}, {"n": []},
        {"status": "warn", "n": 4}]


def first_two(ctx):
    return Matches(ctx.reader.docs()[:2])


def test_missing_counts_documents_without_a_value_absent_null_or_empty(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"ns": {"missing": {"field": "n"}},
                                              "ss": {"missing": {"field": "status"}}})
    assert out == {"ns": {"doc_count": 2}, "ss": {"doc_count": 2}}


def test_missing_on_an_unmapped_field_holds_every_document(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"m": {"missing": {"field": "nope"}}})
    assert out == {"m": {"doc_count": 5}}


def test_missing_only_sees_the_requests_matches(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"m": {"missing": {"field": "n"}}}, contexts, matches=first_two)
    assert out == {"m": {"doc_count": 1}}


def test_missing_runs_sub_aggregations_on_its_bucket(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"m": {"missing": {"field": "status"},
                                                    "aggs": {"s": {"sum": {"field": "n"}}}}})
    assert out == {"m": {"doc_count": 2, "s": {"value": 3.0}}}


def test_missing_with_a_missing_value_has_no_document_without_one(tmp_path):
    # MissingValues gives every document a value, so ES's bucket is empty
    out = one_shard(tmp_path, MAPPING, DOCS, {"a": {"missing": {"field": "n", "missing": 0}},
                                              "b": {"missing": {"field": "nope", "missing": "x"}}})
    assert out == {"a": {"doc_count": 0}, "b": {"doc_count": 0}}


def test_missing_reduce_adds_shard_counts_and_sub_aggregations(tmp_path):
    body = {"m": {"missing": {"field": "status"}, "aggs": {"s": {"sum": {"field": "n"}}}}}
    with shards(tmp_path, MAPPING, [DOCS[:3], DOCS[3:], []]) as contexts:
        out = run(body, contexts)
    assert out == {"m": {"doc_count": 2, "s": {"value": 3.0}}}


def test_missing_renders_with_its_type_under_typed_keys(tmp_path):
    aggs = parse_aggregations({"m": {"missing": {"field": "n"}}, "g": {"global": {}}})
    with shard(tmp_path, MAPPING, DOCS) as ctx:
        partial = aggs.collect(ctx, Matches(ctx.reader.docs()))
    assert aggs.render(aggs.reduce([partial]), typed_keys=True) == {"missing#m": {"doc_count": 2},
                                                                    "global#g": {"doc_count": 5}}


def test_terms_can_order_by_a_missing_buckets_count(tmp_path):
    docs = [{"status": "a", "n": 1}, {"status": "b"}, {"status": "b"}, {"status": "c", "n": 2}]
    out = one_shard(tmp_path, MAPPING, docs, {"t": {"terms": {"field": "status", "order": {"m": "desc"}},
                                                    "aggs": {"m": {"missing": {"field": "n"}}}}})
    assert [b["key"] for b in out["t"]["buckets"]] == ["b", "a", "c"]


def test_missing_refuses_unknown_parameters_as_its_object_parser(tmp_path):
    with pytest.raises(XContentParseError,
                       match=r"^\[missing\] unknown field \[fild\] did you mean \[field\]\?$"):
        parse_aggregations({"m": {"missing": {"fild": "n"}}})


def test_missing_needs_a_field():
    with pytest.raises(IllegalArgument, match=r"Required one of fields \[field, script\], but none were"):
        parse_aggregations({"m": {"missing": {}}})


def test_missing_refuses_an_unknown_value_type():
    with pytest.raises(XContentParseError, match=r"^\[missing\] failed to parse field \[value_type\]$") as e:
        parse_aggregations({"m": {"missing": {"field": "n", "value_type": "text"}}})
    assert e.value.caused_by.reason == "Unknown value type [text]"


def test_missing_refuses_a_value_type_the_field_is_not(tmp_path):
    with pytest.raises(IllegalArgument, match=r"^Field type \[keyword\] is incompatible with specified "
                                              r"value_type \[byte\|short\|integer\|long\]$"):
        one_shard(tmp_path, MAPPING, DOCS, {"m": {"missing": {"field": "status", "value_type": "long"}}})


def test_missing_accepts_a_value_type_of_the_fields_kind(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, {"m": {"missing": {"field": "n", "value_type": "double"}}})
    assert out == {"m": {"doc_count": 2}}


def test_missing_refuses_text_fields_without_field_data(tmp_path):
    with pytest.raises(IllegalArgument, match=r"^Fielddata is disabled on \[t\] in \[test\]"):
        one_shard(tmp_path, {"properties": {"t": {"type": "text"}}}, [{"t": "x"}],
                  {"m": {"missing": {"field": "t"}}})


def test_global_ignores_the_query(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"g": {"global": {}}, "m": {"missing": {"field": "n"}}}, contexts, matches=first_two)
    assert out == {"g": {"doc_count": 5}, "m": {"doc_count": 1}}


def test_global_runs_sub_aggregations_over_every_document(tmp_path):
    body = {"g": {"global": {}, "aggs": {"s": {"sum": {"field": "n"}},
                                         "m": {"missing": {"field": "status"}}}}}
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        out = run(body, contexts, matches=lambda ctx: Matches(ctx.reader.docs()[:0]))
    assert out == {"g": {"doc_count": 5, "s": {"value": 8.0}, "m": {"doc_count": 2}}}


def test_global_leaves_deleted_documents_out(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS], deleted=("0-1", "0-4")) as contexts:
        out = run({"g": {"global": {}}}, contexts)
    assert out == {"g": {"doc_count": 3}}


def test_global_still_sees_only_what_the_alias_filter_lets_through(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as ctx:
        ctx.alias_filter = parse_query({"term": {"status": "ok"}})
        out = run({"g": {"global": {}, "aggs": {"s": {"sum": {"field": "n"}}}}}, [ctx])
    assert out == {"g": {"doc_count": 2, "s": {"value": 1.0}}}


def test_global_scores_every_document_one_for_sub_aggregations_that_want_scores(tmp_path):
    body = {"query": {"match": {"status": "ok"}}, "size": 0,
            "aggs": {"g": {"global": {}, "aggs": {"h": {"top_hits": {"size": 1}}}}}}
    with shard(tmp_path, MAPPING, DOCS) as ctx:
        req = parse_search(body, {})
        result = query_phase(ctx, req, req.query, max_result_window=10_000)
        out = req.aggs.render(req.aggs.reduce([result.aggs]))
    assert out["g"]["doc_count"] == 5
    assert out["g"]["h"]["hits"]["max_score"] == 1.0


def test_global_refuses_any_parameter_as_aggregator_factories_does():
    with pytest.raises(ParsingError, match=r"^Expected \[FIELD_NAME\] under a \[START_OBJECT\], but got a "
                                           r"\[VALUE_NUMBER\] in \[g\]$"):
        parse_aggregations({"g": {"global": {"size": 1}}})
    with pytest.raises(ParsingError, match=r"but got a \[START_OBJECT\] in \[g\]$"):
        parse_aggregations({"g": {"global": {"aggs": {}}}})


def test_global_below_the_top_level_fails_the_shard_with_the_parents_name(tmp_path):
    body = {"aggs": {"t": {"terms": {"field": "status"}, "aggs": {"f": {"filter": {"match_all": {}},
                                                                         "aggs": {"g": {"global": {}}}}}}}}
    req = parse_search(body, {})
    with pytest.raises(AggregationExecutionError) as e:
        check_placement(req.aggs)
    assert e.value.reason == ("Aggregation [f] cannot have a global sub-aggregation [g]. Global aggregations "
                              "can only be defined as top level aggregations")
    assert (e.value.type, e.value.status) == ("aggregation_execution_exception", 500)
    with shard(tmp_path, MAPPING, DOCS) as ctx, pytest.raises(AggregationExecutionError):
        query_phase(ctx, req, req.query or parse_query({"match_all": {}}), max_result_window=10_000)


def test_global_at_the_top_level_passes_the_placement_check():
    check_placement(parse_aggregations({"g": {"global": {}, "aggs": {"m": {"missing": {"field": "n"}}}}}))
    check_placement(None)
