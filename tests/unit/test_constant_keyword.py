"""`constant_keyword`: one value for every document of the index, set by the mapping or by
the first document that gives one; documents may leave the field out or repeat the value,
and any other value is refused (ConstantKeywordFieldMapper)."""

from __future__ import annotations

import pytest

from strata_node.common.errors import StrataError
from strata_node.index.mapping import DocumentParseError, Mapping

SET = {"properties": {"ds": {"type": "constant_keyword", "value": "logs"}}}
UNSET = {"properties": {"ds": {"type": "constant_keyword"}}}


def refusal(mapping: dict, document: dict) -> dict:
    with pytest.raises(DocumentParseError) as e:
        Mapping.parse(mapping).parse_document(document, "7")
    return e.value.to_dict()


def test_the_mapping_shows_the_value_as_text():
    mapping = Mapping.parse({"properties": {"ds": {"type": "constant_keyword", "value": 1}}})
    assert mapping.to_dict()["properties"]["ds"] == {"type": "constant_keyword", "value": "1"}
    assert Mapping.parse(UNSET).to_dict()["properties"]["ds"] == {"type": "constant_keyword"}


@pytest.mark.parametrize("param", ["index", "doc_values", "store", "null_value", "ignore_above"])
def test_parameters_other_than_value_and_meta_are_refused(param):
    with pytest.raises(StrataError, match=f"unknown parameter \\[{param}\\]"):
        Mapping.parse({"properties": {"ds": {"type": "constant_keyword", param: True}}})


def test_an_explicit_null_value_is_refused():
    with pytest.raises(StrataError, match=r"\[value\] on mapper \[ds\] of type \[constant_keyword\] must not "
                                          r"have a \[null\] value"):
        Mapping.parse({"properties": {"ds": {"type": "constant_keyword", "value": None}}})


@pytest.mark.parametrize("value", [True, {"a": 1}, [1]])
def test_a_value_that_is_neither_number_nor_string_is_refused(value):
    with pytest.raises(StrataError, match=r"Property \[value\] on field \[ds\] must be a number or a string"):
        Mapping.parse({"properties": {"ds": {"type": "constant_keyword", "value": value}}})


def test_multi_fields_and_copy_to_of_a_constant_keyword_are_ignored():
    mapping = Mapping.parse({"properties": {
        "ds": {"type": "constant_keyword", "fields": {"k": {"type": "keyword"}}, "copy_to": "all"},
        "all": {"type": "keyword"}}})
    assert mapping.to_dict()["properties"]["ds"] == {"type": "constant_keyword"}
    assert mapping.parse_document({"ds": "logs"}, "1").fields == {}


def test_it_cannot_be_a_multi_field():
    with pytest.raises(StrataError, match=r"Type \[constant_keyword\] cannot be used in multi field"):
        Mapping.parse({"properties": {"m": {"type": "text", "fields": {"c": {"type": "constant_keyword"}}}}})


def test_a_document_with_the_value_gives_the_index_nothing():
    parsed = Mapping.parse(SET).parse_document({"ds": "logs"}, "1")
    assert "ds" not in parsed.fields
    assert parsed.dynamic_update is None


def test_a_number_equal_to_the_value_as_text_is_accepted():
    Mapping.parse({"properties": {"ds": {"type": "constant_keyword", "value": "1"}}}).parse_document(
        {"ds": [1, "1"]}, "1")


def test_another_value_is_refused_naming_the_constant():
    error = refusal(SET, {"ds": "metrics"})
    assert error["reason"] == ("failed to parse field [ds] of type [constant_keyword] in document with id "
                               "'7'. Preview of field's value: 'metrics'")
    assert error["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "[constant_keyword] field [ds] only accepts values that are equal to the value defined "
                  "in the mappings [logs], but got [metrics]"}


def test_null_is_refused():
    assert refusal(SET, {"ds": None})["caused_by"]["reason"] == \
        "[constant_keyword] field [ds] doesn't accept [null] values"


def test_the_first_value_of_an_unset_field_is_a_mapping_update():
    parsed = Mapping.parse(UNSET).parse_document({"ds": ["logs", "logs"]}, "1")
    merged = Mapping.parse(UNSET).merge(parsed.dynamic_update)
    assert merged.to_dict()["properties"]["ds"] == {"type": "constant_keyword", "value": "logs"}


def test_an_unset_field_refuses_two_values_in_one_document():
    reason = refusal(UNSET, {"ds": ["logs", "metrics"]})["caused_by"]["reason"]
    assert "mappings [logs], but got [metrics]" in reason


def test_the_value_can_be_set_once_by_an_update():
    update = Mapping.parse_update({"properties": {"ds": {"type": "constant_keyword", "value": "logs"}}})
    assert Mapping.parse(UNSET).merge(update).field("ds").constant == "logs"


def test_a_set_value_cannot_change():
    update = Mapping.parse_update({"properties": {"ds": {"type": "constant_keyword", "value": "metrics"}}})
    with pytest.raises(StrataError, match=r"Cannot update parameter \[value\] from \[logs\] to \[metrics\]"):
        Mapping.parse(SET).merge(update)


def test_an_update_that_leaves_the_value_out_keeps_it():
    update = Mapping.parse_update(UNSET)
    assert Mapping.parse(SET).merge(update).field("ds").constant == "logs"
