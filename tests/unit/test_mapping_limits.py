"""The mapping size limits (`index.mapping.*.limit`), as Elasticsearch's MappingLookup and
DocumentParserContext.addDynamicMapper enforce them."""

from __future__ import annotations

import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.index.mapping import Mapping
from strata_node.index.mapping.errors import DocumentParseError
from strata_node.index.mapping.limits import MappingLimits, check_limits
from strata_node.settings import SettingsError, index_setting


def nested_objects(depth: int) -> dict:
    doc = leaf = {}
    for _ in range(depth):
        leaf["o"] = {}
        leaf = leaf["o"]
    leaf["v"] = 1
    return doc


def test_the_total_counts_objects_leaves_and_multi_fields_but_not_the_root():
    mapping = Mapping.parse({"properties": {
        "a": {"properties": {"b": {"type": "long"}}},
        "t": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}})
    assert mapping.total_fields == 4


def test_a_document_over_the_limit_fails_at_the_first_field_past_it():
    limits = MappingLimits(total_fields=5)
    with pytest.raises(DocumentParseError) as e:
        Mapping.empty().parse_document({f"f{i}": "x" for i in range(4)}, "1", limits)
    # text fields count 2 (with their keyword sub-field): f0 2, f1 4, f2 6
    reason = "Limit of total fields [5] has been exceeded while adding new fields [6]"
    assert e.value.reason == f"failed to parse: {reason}"
    assert isinstance(e.value.caused_by, IllegalArgument) and e.value.caused_by.reason == reason
    assert e.value.root_causes()[0]["reason"] == f"failed to parse: {reason}"  # IAE is a Java exception


def test_the_limit_counts_the_fields_already_mapped():
    mapping = Mapping.parse({"properties": {"a": {"type": "long"}, "b": {"type": "long"}}})
    mapping.parse_document({"c": 1}, "1", MappingLimits(total_fields=3))
    with pytest.raises(DocumentParseError, match=r"exceeded while adding new fields \[2\]"):
        mapping.parse_document({"c": 1, "d": 2}, "1", MappingLimits(total_fields=3))


def test_a_document_within_the_limit_adds_its_fields():
    parsed = Mapping.empty().parse_document({"a": {"b": 1}, "c": "t"}, "1", MappingLimits(total_fields=4))
    assert Mapping.empty().merge(parsed.dynamic_update).total_fields == 4


def test_values_of_mapped_fields_count_nothing():
    mapping = Mapping.parse({"properties": {"a": {"type": "long"}}})
    assert mapping.parse_document({"a": 1}, "1", MappingLimits(total_fields=0)).dynamic_update is None


def test_ignore_dynamic_beyond_limit_keeps_the_document_and_lists_what_it_left_out():
    limits = MappingLimits(total_fields=3, ignore_dynamic_beyond_limit=True)
    parsed = Mapping.empty().parse_document({"a": 1, "b": "x", "c": 2, "d": {"e": 1}}, "1", limits)
    assert parsed.ignored == ["c", "d"]
    assert parsed.fields == {"a": [1], "b": ["x"], "b.keyword": ["x"], "_ignored": ["c", "d"]}
    assert sorted(Mapping.empty().merge(parsed.dynamic_update).fields) == ["a", "b", "b.keyword"]


def test_ignore_dynamic_beyond_limit_still_admits_a_smaller_field_after_a_bigger_one():
    limits = MappingLimits(total_fields=1, ignore_dynamic_beyond_limit=True)
    parsed = Mapping.empty().parse_document({"t": "text", "n": 1}, "1", limits)
    assert parsed.ignored == ["t"] and parsed.fields == {"n": [1], "_ignored": ["t"]}


def test_a_dynamic_object_deeper_than_the_depth_limit_fails_the_document():
    Mapping.empty().parse_document(nested_objects(19), "1", MappingLimits())
    with pytest.raises(DocumentParseError) as e:
        Mapping.empty().parse_document(nested_objects(20), "1", MappingLimits())
    path = ".".join(["o"] * 20)
    assert e.value.reason == (f"failed to parse: Limit of mapping depth [20] has been exceeded due to "
                              f"object field [{path}]")


def test_replicas_and_replays_parse_without_limits():
    parsed = Mapping.empty().parse_document({f"f{i}": 1 for i in range(10)}, "1")
    assert len(parsed.dynamic_update.children) == 10


def test_a_mapping_over_the_total_is_refused_without_a_count():
    mapping = Mapping.parse({"properties": {f"f{i}": {"type": "long"} for i in range(3)}})
    check_limits(mapping, MappingLimits(total_fields=3))
    with pytest.raises(IllegalArgument) as e:
        check_limits(mapping, MappingLimits(total_fields=2))
    assert e.value.reason == "Limit of total fields [2] has been exceeded"


def test_a_mapping_deeper_than_the_limit_names_the_object():
    mapping = Mapping.parse({"properties": {"a": {"properties": {"b": {"properties": {
        "c": {"type": "long"}}}}}}})
    check_limits(mapping, MappingLimits(depth=3))
    with pytest.raises(IllegalArgument) as e:
        check_limits(mapping, MappingLimits(depth=2))
    assert e.value.reason == "Limit of mapping depth [2] has been exceeded due to object field [a.b]"


def test_field_names_are_measured_as_java_strings():
    mapping = Mapping.parse({"properties": {"abc": {"type": "long"}, "\U0001F600": {"type": "long"}}})
    check_limits(mapping, MappingLimits(field_name_length=3))
    with pytest.raises(IllegalArgument) as e:
        check_limits(mapping, MappingLimits(field_name_length=2))
    assert e.value.reason == "Field name [abc] is longer than the limit of [2] characters"
    with pytest.raises(IllegalArgument, match="Field name"):
        check_limits(mapping, MappingLimits(field_name_length=1))  # the emoji is 2 UTF-16 units


def test_the_limits_are_index_settings_with_elasticsearchs_defaults_and_bounds():
    limits = MappingLimits.of_settings({})
    assert limits == MappingLimits(1000, 20, (1 << 63) - 1, False)
    assert MappingLimits.of_settings({"index.mapping.total_fields.limit": "5000"}).total_fields == 5000
    with pytest.raises(SettingsError, match="must be >= 1"):
        index_setting({"index.mapping.depth.limit": "0"}, "index.mapping.depth.limit")
    with pytest.raises(SettingsError, match="Failed to parse value"):
        index_setting({"index.mapping.total_fields.limit": "many"}, "index.mapping.total_fields.limit")
