"""A value of the wrong type deep inside a well-shaped request body is refused with
Elasticsearch's client error, never a server error."""

import pytest

from strata_node.action.node_shutdown import parse_marker
from strata_node.common.errors import IllegalArgument, ParseError, SettingsError
from strata_node.index.analysis import index_analyzers
from strata_node.index.analysis.params import Params
from strata_node.snapshots.service import check_restore_types

MALFORMED_IGNORED = "malformed ignore_index_settings section, should be an array of strings"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"rename_pattern": 1, "rename_replacement": "x"}, "malformed rename_pattern"),
        ({"rename_pattern": "(.+)", "rename_replacement": 5}, "malformed rename_replacement"),
        ({"index_settings": ["index.number_of_replicas"]}, "malformed index_settings section"),
        ({"ignore_index_settings": True}, MALFORMED_IGNORED),
        ({"ignore_index_settings": [1]}, MALFORMED_IGNORED),
    ],
)
def test_restore_values_of_the_wrong_type_are_malformed(body, message):
    with pytest.raises(IllegalArgument, match=message):
        check_restore_types(body)


def test_restore_values_of_the_right_types_pass():
    check_restore_types(
        {
            "rename_pattern": "(.+)",
            "rename_replacement": "r_$1",
            "index_settings": {},
            "ignore_index_settings": "index.refresh_interval",
        }
    )
    check_restore_types({"ignore_index_settings": ["index.refresh_interval"]})


@pytest.mark.parametrize("delay", ["abc", "10", "1" + "0" * 400 + "s"])
def test_a_restart_allocation_delay_that_is_no_time_value_is_a_parse_error(delay):
    with pytest.raises(ParseError, match=r"\[allocation_delay\]"):
        parse_marker("node-1", {"type": "restart", "reason": "r", "allocation_delay": delay}, 0)


def test_an_analysis_list_holding_objects_or_lists_is_refused():
    for bad in ([{"x": 1}], [["lowercase"]]):
        with pytest.raises(SettingsError, match="only value lists are allowed in serialized settings"):
            index_analyzers(
                {
                    "index.analysis.analyzer.a.type": "custom",
                    "index.analysis.analyzer.a.tokenizer": "standard",
                    "index.analysis.analyzer.a.filter": bad,
                }
            )


def test_a_stored_list_literal_reads_back_but_text_nested_thousands_deep_is_plain_text():
    assert Params({"stopwords": "['a', \"b's\"]"}).get_list("stopwords") == ["a", "b's"]
    deep = "[" + "-" * 5000 + "1]"
    assert Params({"stopwords": deep}).get_list("stopwords") == [deep]
