"""Merging mapping updates: what an update may add and change, and the conflicts it
raises, worded as Elasticsearch words them."""

from __future__ import annotations

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.index.mapping import MapperError, Mapping


def merged(current: dict, update: dict) -> dict:
    return Mapping.parse(current).merge(Mapping.parse_update(update)).to_dict()


def conflict(current: dict, update: dict) -> str:
    with pytest.raises(IllegalArgument) as e:
        merged(current, update)
    return e.value.reason


def test_new_fields_are_added_and_existing_ones_kept():
    out = merged({"properties": {"a": {"type": "long"}, "o": {"properties": {"x": {"type": "ip"}}}}},
                 {"properties": {"b": {"type": "keyword"}, "o": {"properties": {"y": {"type": "date"}}}}})
    assert out == {"properties": {"a": {"type": "long"}, "b": {"type": "keyword"},
                                  "o": {"properties": {"x": {"type": "ip"}, "y": {"type": "date"}}}}}


def test_a_field_cannot_change_type():
    assert conflict({"properties": {"x": {"type": "long"}}}, {"properties": {"x": {"type": "text"}}}) == \
        "mapper [x] cannot be changed from type [long] to [text]"
    assert conflict({"properties": {"o": {"properties": {"x": {"type": "long"}}}}},
                    {"properties": {"o.x": {"type": "integer"}}}) == \
        "mapper [o.x] cannot be changed from type [long] to [integer]"


def test_objects_and_fields_do_not_merge():
    assert conflict({"properties": {"x": {"type": "long"}}}, {"properties": {"x": {"properties": {}}}}) == \
        "can't merge a non object mapping [x] with an object mapping"
    assert conflict({"properties": {"x": {"properties": {"y": {"type": "long"}}}}},
                    {"properties": {"x": {"type": "keyword"}}}) == \
        "can't merge a non object mapping [x] with an object mapping"


def test_parameters_that_cannot_change_are_listed_together():
    reason = conflict({"properties": {"k": {"type": "keyword", "index": False, "null_value": "n"}}},
                      {"properties": {"k": {"type": "keyword", "doc_values": False}}})
    assert reason == ("Mapper for [k] conflicts with existing mapper:\n"
                      "\tCannot update parameter [index] from [false] to [true]\n"
                      "\tCannot update parameter [doc_values] from [true] to [false]\n"
                      "\tCannot update parameter [null_value] from [n] to [null]")


def test_a_date_format_cannot_change():
    assert conflict({"properties": {"d": {"type": "date"}}},
                    {"properties": {"d": {"type": "date", "format": "yyyy"}}}) == (
        "Mapper for [d] conflicts with existing mapper:\n\tCannot update parameter [format] from "
        "[strict_date_optional_time||epoch_millis] to [yyyy]")


def test_updatable_parameters_take_the_updates_value():
    out = merged({"properties": {"k": {"type": "keyword", "ignore_above": 10, "meta": {"a": "b"}},
                                 "n": {"type": "long", "ignore_malformed": True}}},
                 {"properties": {"k": {"type": "keyword", "ignore_above": 20},
                                 "n": {"type": "long", "coerce": False}}})
    # left out, an updatable parameter goes back to its default, as in Elasticsearch
    assert out == {"properties": {"k": {"type": "keyword", "ignore_above": 20},
                                  "n": {"type": "long", "coerce": False}}}


def test_norms_can_be_turned_off_but_not_on():
    assert merged({"properties": {"t": {"type": "text"}}},
                  {"properties": {"t": {"type": "text", "norms": False}}})
    assert "Cannot update parameter [norms] from [false] to [true]" in conflict(
        {"properties": {"t": {"type": "text", "norms": False}}}, {"properties": {"t": {"type": "text"}}})


def test_multi_fields_are_merged_and_never_removed():
    current = {"properties": {"m": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}}
    out = merged(current, {"properties": {"m": {"type": "text", "fields": {"ip": {"type": "ip"}}}}})
    assert out["properties"]["m"]["fields"] == {"ip": {"type": "ip"}, "raw": {"type": "keyword"}}
    assert merged(current, {"properties": {"m": {"type": "text"}}}) == current
    update = {"properties": {"m": {"type": "text", "fields": {"raw": {"type": "long"}}}}}
    assert conflict(current, update) == \
        "mapper [m.raw] cannot be changed from type [keyword] to [long]"


def test_copy_to_is_replaced_and_checked_against_the_merged_mapping():
    current = {"properties": {"a": {"type": "text", "copy_to": "all"}, "all": {"type": "text"},
                              "o": {"properties": {"x": {"type": "long"}}}}}
    assert merged(current, {"properties": {"a": {"type": "text", "copy_to": ["all", "more"]}}})[
        "properties"]["a"]["copy_to"] == ["all", "more"]
    with pytest.raises(IllegalArgument, match=r"Cannot copy to field \[o\] since it is mapped as an object"):
        merged(current, {"properties": {"a": {"type": "text", "copy_to": "o"}}})


def test_objects_take_dynamic_when_set_and_refuse_enabled_changes():
    current = {"dynamic": "strict", "properties": {"o": {"type": "object", "dynamic": False}}}
    assert merged(current, {"properties": {"o": {"properties": {"x": {"type": "long"}}}}}) == {
        "dynamic": "strict", "properties": {"o": {"dynamic": "false", "properties": {"x": {"type": "long"}}}}}
    update = {"dynamic": True, "properties": {"o": {"type": "object", "dynamic": "strict"}}}
    assert merged(current, update) == {
        "dynamic": "true", "properties": {"o": {"type": "object", "dynamic": "strict"}}}
    with pytest.raises(MapperError) as e:
        merged({"properties": {"o": {"type": "object", "enabled": False}}},
               {"properties": {"o": {"type": "object", "enabled": True}}})
    assert e.value.type == "mapper_exception"
    assert e.value.reason == "the [enabled] parameter can't be updated for the object mapping [o]"


def test_root_settings_and_meta_are_replaced_when_the_update_sets_them():
    current = {"date_detection": False, "_meta": {"v": "1"}, "properties": {"a": {"type": "long"}}}
    assert merged(current, {"_meta": {"v": "2"}}) == {"date_detection": False, "_meta": {"v": "2"},
                                                      "properties": {"a": {"type": "long"}}}
    assert merged(current, {"numeric_detection": True})["date_detection"] is False


def test_source_enabled_cannot_change():
    assert conflict({"_source": {"enabled": False}}, {"_source": {"enabled": True}}) == (
        "Mapper for [_source] conflicts with existing mapper:\n\tCannot update parameter [enabled] "
        "from [false] to [true]")
    assert conflict({}, {"_source": {"enabled": False}}).endswith("from [true] to [false]")
    assert merged({"_source": {"enabled": False}}, {"properties": {}}) == {"_source": {"enabled": False}}
    assert merged({}, {"_source": {"enabled": True}}) == {}


def test_routing_requirement_cannot_change():
    assert conflict({"_routing": {"required": True}}, {"_routing": {"required": False}}) == (
        "Mapper for [_routing] conflicts with existing mapper:\n\tCannot update parameter [required] "
        "from [true] to [false]")
    assert merged({"_routing": {"required": True}}, {"properties": {}}) == {"_routing": {"required": True}}


def test_merging_the_same_mapping_changes_nothing():
    current = {"properties": {"m": {"type": "text",
                                    "fields": {"k": {"type": "keyword", "ignore_above": 256}}},
                              "d": {"type": "date", "format": "yyyy"},
                              "n": {"type": "short", "null_value": 1}}}
    assert merged(current, current) == Mapping.parse(current).to_dict()


def test_an_update_that_sets_a_search_analyzer_shows_the_index_analyzer_beside_it():
    current = {"properties": {"t": {"type": "text"}}}
    assert merged(current, {"properties": {"t": {"type": "text", "search_analyzer": "whitespace"}}}) == {
        "properties": {"t": {"type": "text", "analyzer": "default", "search_analyzer": "whitespace"}}}
    with_search = {"properties": {"t": {"type": "text", "search_analyzer": "whitespace"}}}
    assert merged(with_search, {"properties": {"t": {"type": "text"}}}) == current  # updatable: reset
