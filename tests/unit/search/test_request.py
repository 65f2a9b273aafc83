"""Reading a search body and its URL parameters into a SearchRequest, with the errors
Elasticsearch gives for what it refuses before any shard runs."""

import pytest

from strata_node.common.errors import ActionRequestValidation, IllegalArgument, ParseError, ParsingError
from strata_node.search.request import (
    DEFAULT_TRACK_TOTAL_HITS,
    TRACK_ACCURATE,
    TRACK_DISABLED,
    parse_search,
)
from strata_node.search.sort import SortKey


def test_defaults():
    req = parse_search({}, {})
    assert (req.from_, req.size, req.sort, req.fetch_source) == (0, 10, None, True)
    assert req.track_total_hits == DEFAULT_TRACK_TOTAL_HITS
    assert req.query is None and req.aggs is None and req.timeout is None


def test_body_values():
    req = parse_search({"from": 5, "size": "3", "sort": [{"a": "desc"}], "search_after": [1],
                        "_source": {"includes": ["x.*"], "excludes": "x.y"}, "track_total_hits": 100,
                        "timeout": "10ms", "terminate_after": 7, "min_score": 0.5, "version": True,
                        "seq_no_primary_term": True, "stored_fields": "a",
                        "docvalue_fields": ["n", {"field": "d", "format": "yyyy"}]}
                       | {"from": 0}, {})
    assert (req.from_, req.size, req.sort, req.search_after) == (0, 3, [SortKey("a", "desc")], [1])
    assert (req.source_includes, req.source_excludes) == (["x.*"], ["x.y"])
    assert req.track_total_hits == 100 and req.timeout == pytest.approx(0.01)
    assert (req.terminate_after, req.min_score, req.version, req.seq_no_primary_term) == (7, 0.5, True, True)
    assert req.stored_fields == ["a"]
    assert req.docvalue_fields == [{"field": "n"}, {"field": "d", "format": "yyyy"}]


def test_url_parameters_win_over_the_body():
    req = parse_search({"size": 3, "from": 1, "_source": "a"},
                       {"size": "4", "from": "2", "_source_includes": "b", "sort": "x:desc,y",
                        "track_total_hits": "false", "timeout": "1s"})
    assert (req.size, req.from_, req.source_includes) == (4, 2, ["b"])
    assert req.sort == [SortKey("x", "desc"), SortKey("y")]
    assert req.track_total_hits == TRACK_DISABLED and req.timeout == 1.0


def test_size_minus_one_in_the_url_means_unset():
    assert parse_search({"size": 3}, {"size": "-1"}).size == 3


def test_negative_from_and_size():
    with pytest.raises(IllegalArgument, match=r"\[from\] parameter cannot be negative, found \[-5\]"):
        parse_search({"from": -5}, {})
    with pytest.raises(IllegalArgument, match=r"\[size\] parameter cannot be negative, found \[-1\]"):
        parse_search({"size": -1}, {})
    with pytest.raises(IllegalArgument, match=r"\[from\] parameter cannot be negative, found \[-5\]"):
        parse_search({}, {"from": "-5"})


def test_unknown_key_is_a_parsing_exception_with_its_location():
    raw = b'{\n  "size": 1,\n  "foo": {"a": 1}\n}'
    with pytest.raises(ParsingError) as e:
        parse_search({"size": 1, "foo": {"a": 1}}, {}, raw)
    assert e.value.reason == "Unknown key for a START_OBJECT in [foo]."
    assert (e.value.metadata["line"], e.value.metadata["col"]) == (3, 10)
    with pytest.raises(ParsingError, match=r"Unknown key for a VALUE_STRING in \[bar\]\."):
        parse_search({"bar": "x"}, {})
    with pytest.raises(ParsingError, match=r"Unknown key for a START_ARRAY in \[bar\]\."):
        parse_search({"bar": []}, {})


def test_track_total_hits_forms():
    assert parse_search({"track_total_hits": True}, {}).track_total_hits == TRACK_ACCURATE
    assert parse_search({"track_total_hits": -1}, {}).track_total_hits == TRACK_ACCURATE
    assert parse_search({}, {"track_total_hits": "true"}).track_total_hits == TRACK_ACCURATE
    assert parse_search({}, {"track_total_hits": "5"}).track_total_hits == 5
    with pytest.raises(IllegalArgument, match=r"must be positive or equals to -1, got -2"):
        parse_search({}, {"track_total_hits": "-2"})


def test_rest_total_hits_as_int_needs_accurate_totals():
    req = parse_search({}, {"rest_total_hits_as_int": "true"})
    assert req.rest_total_hits_as_int and req.track_total_hits == TRACK_ACCURATE
    req = parse_search({}, {"rest_total_hits_as_int": "true", "track_total_hits": "false"})
    assert req.track_total_hits == TRACK_DISABLED
    with pytest.raises(IllegalArgument, match=r"\[rest_total_hits_as_int\] cannot be used if the tracking of "
                                              r"total hits is not accurate, got 100"):
        parse_search({}, {"rest_total_hits_as_int": "true", "track_total_hits": "100"})


def test_search_after_checks():
    with pytest.raises(ActionRequestValidation, match="`from` parameter must be set to 0"):
        parse_search({"from": 1, "sort": ["a"], "search_after": [1]}, {})
    with pytest.raises(IllegalArgument, match=r"Sort must contain at least one field\."):
        parse_search({"search_after": [1]}, {})
    with pytest.raises(IllegalArgument, match=r"search_after has 2 value\(s\) but sort has 1\."):
        parse_search({"sort": ["a"], "search_after": [1, 2]}, {})


@pytest.mark.parametrize(("body", "params"), [
    ({"sort": ["_score"]}, {}),
    ({"sort": [{"_score": "desc"}]}, {}),
    ({"sort": [{"_score": {"order": "desc"}}]}, {}),
    ({}, {"sort": "_score"}),
])
def test_search_after_refuses_a_sort_of_score_descending_alone(body, params):
    # ES drops that sort as the default order, so search_after finds no sort at all
    with pytest.raises(IllegalArgument, match=r"Sort must contain at least one field\."):
        parse_search({**body, "search_after": [1.5]}, params)


def test_search_after_takes_score_ascending_or_with_a_tie_breaker():
    assert parse_search({"sort": [{"_score": "asc"}], "search_after": [1.5]}, {}).search_after == [1.5]
    assert parse_search({"sort": ["_score", "a"], "search_after": [1.5, 2]}, {}).search_after == [1.5, 2]


def test_bad_values():
    with pytest.raises(ParseError, match="failed to parse setting \\[timeout\\] with value \\[soon\\]"):
        parse_search({"timeout": "soon"}, {})
    with pytest.raises(IllegalArgument, match=r"No search type for \[scan\]"):
        parse_search({}, {"search_type": "scan"})
    with pytest.raises(IllegalArgument, match=r"\[highlight\] is not supported"):
        parse_search({"highlight": {}}, {})
    with pytest.raises(ParsingError):
        parse_search({"size": {"a": 1}}, {})


def test_stored_fields_none_conflicts():
    with pytest.raises(IllegalArgument, match=r"cannot be disabled if \[_source\] is requested"):
        parse_search({"stored_fields": "_none_", "_source": ["a"]}, {})
    with pytest.raises(IllegalArgument, match=r"cannot be disabled when using the \[fields\] option"):
        parse_search({"stored_fields": "_none_", "fields": ["a"]}, {})
    assert parse_search({"stored_fields": "_none_", "_source": False}, {}).stored_fields_none
