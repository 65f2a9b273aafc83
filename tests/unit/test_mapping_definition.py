"""Reading mapping definitions: Elasticsearch's normalized form, and its refusals."""

from __future__ import annotations

import pytest

from strata_node.common.errors import IllegalArgument, StrataError
from strata_node.index.mapping import AnalysisNames, FailedToParseMapping, Mapping, is_typed_mapping


def normalized(source: dict) -> dict:
    return Mapping.parse(source).to_dict()


def parse_error(source: dict, **kwargs) -> FailedToParseMapping:
    with pytest.raises(FailedToParseMapping) as e:
        Mapping.parse(source, **kwargs)
    return e.value


def test_an_empty_mapping_is_an_empty_object():
    assert normalized({}) == {}
    assert normalized({"properties": {}}) == {}


def test_parameters_set_to_their_defaults_are_not_shown():
    source = {"properties": {"k": {"type": "keyword", "index": True, "doc_values": "true",
                                   "ignore_above": 10},
                             "d": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
                             "t": {"type": "text", "index": "false", "norms": True}}}
    assert normalized(source) == {"properties": {"d": {"type": "date"},
                                                 "k": {"type": "keyword", "ignore_above": 10},
                                                 "t": {"type": "text", "index": False}}}


def test_explicit_boolean_parameters_show_whenever_set():
    # ignore_malformed and coerce are Elasticsearch's Explicit<Boolean> parameters
    assert normalized({"properties": {"n": {"type": "long", "ignore_malformed": False, "coerce": True}}}) == {
        "properties": {"n": {"type": "long", "ignore_malformed": False, "coerce": True}}}


def test_properties_print_sorted_and_objects_print_without_a_type_unless_empty():
    source = {"properties": {"b": {"type": "long"},
                             "a": {"type": "object", "properties": {"z": {"type": "ip"}}},
                             "e": {"type": "object"}, "n": {"properties": {}}}}
    out = normalized(source)
    assert list(out["properties"]) == ["a", "b", "e", "n"]
    assert out["properties"]["a"] == {"properties": {"z": {"type": "ip"}}}
    assert out["properties"]["e"] == out["properties"]["n"] == {"type": "object"}


def test_dotted_names_are_objects_written_out():
    source = {"properties": {"a.b.c": {"type": "long"}, "a": {"properties": {"d": {"type": "keyword"}}}}}
    assert normalized(source) == {"properties": {"a": {"properties": {
        "b": {"properties": {"c": {"type": "long"}}}, "d": {"type": "keyword"}}}}}


def test_root_and_object_settings_keep_their_form():
    source = {"dynamic": "strict", "date_detection": False, "numeric_detection": True,
              "dynamic_date_formats": "MM/dd/yyyy", "_meta": {"owner": "ops"}, "_routing": {"required": True},
              "properties": {"o": {"type": "object", "dynamic": False, "enabled": False}}}
    assert normalized(source) == {
        "dynamic": "strict", "date_detection": False, "numeric_detection": True,
        "dynamic_date_formats": ["MM/dd/yyyy"], "_meta": {"owner": "ops"}, "_routing": {"required": True},
        "properties": {"o": {"type": "object", "dynamic": "false", "enabled": False}}}


def test_multi_fields_copy_to_and_null_values_normalize():
    source = {"properties": {
        "title": {"type": "text", "copy_to": "all", "fields": {"raw": {"type": "keyword", "null_value": 5}}},
        "all": {"type": "text"},
        "n": {"type": "integer", "null_value": "7"},
        "f": {"type": "float", "null_value": 1},
        "b": {"type": "boolean", "null_value": "true"}}}
    out = normalized(source)["properties"]
    assert out["title"] == {"type": "text", "copy_to": ["all"],
                            "fields": {"raw": {"type": "keyword", "null_value": "5"}}}
    assert out["n"] == {"type": "integer", "null_value": 7}
    assert out["f"] == {"type": "float", "null_value": 1.0}
    assert out["b"] == {"type": "boolean", "null_value": True}


def text_field(**analyzers) -> dict:
    return normalized({"properties": {"t": {"type": "text", **analyzers}}})["properties"]["t"]


@pytest.mark.parametrize(("analyzers", "shown"), [
    # TextParams.Analyzers: the index analyzer shows whenever it differs from the search or
    # search-quote analyzer, the search analyzer whenever it differs from the search-quote one
    ({"search_analyzer": "whitespace"}, {"analyzer": "default", "search_analyzer": "whitespace"}),
    ({"search_quote_analyzer": "whitespace"},
     {"analyzer": "default", "search_analyzer": "default", "search_quote_analyzer": "whitespace"}),
    ({"analyzer": "whitespace", "search_quote_analyzer": "standard"},
     {"analyzer": "whitespace", "search_analyzer": "whitespace", "search_quote_analyzer": "standard"}),
    ({"analyzer": "whitespace"}, {"analyzer": "whitespace"}),
    ({"analyzer": "whitespace", "search_analyzer": "whitespace", "search_quote_analyzer": "whitespace"},
     {"analyzer": "whitespace"}),
    ({"analyzer": "whitespace", "search_analyzer": "default"},
     {"analyzer": "whitespace", "search_analyzer": "default"}),
    ({"analyzer": "default", "search_analyzer": "default"}, {}),
])
def test_text_analyzers_show_as_elasticsearch_serializes_them(analyzers, shown):
    assert text_field(**analyzers) == {"type": "text", **shown}
    assert text_field(**shown) == {"type": "text", **shown}  # and read back to the same


def test_the_normalized_form_reads_back_to_itself():
    source = {"dynamic": "false", "properties": {
        "m": {"type": "text", "analyzer": "standard",
              "fields": {"k": {"type": "keyword", "ignore_above": 256}}},
        "d": {"type": "date", "format": "yyyy-MM-dd||epoch_second", "null_value": "2024-01-01"},
        "ip": {"type": "ip", "null_value": "::1"},
        "o": {"properties": {"x": {"type": "byte", "coerce": False}}}}}
    once = normalized(source)
    assert normalized(once) == once


@pytest.mark.parametrize("source, reason", [
    ({"foo": 1, "bar": "x"}, "Root mapping definition has unsupported parameters:  [foo : 1] [bar : x]"),
    ({"mytype": {"properties": {}}}, "Root mapping definition has unsupported parameters:  "
                                     "[mytype : {properties={}}]"),
    ({"properties": {"x": {"type": "strin"}}}, "No handler for type [strin] declared on field [x]"),
    ({"properties": {"x": {"type": "keyword", "fields": {"y": {"type": "nested"}}}}},
     "No handler for type [nested] declared on field [y]"),
    ({"properties": {"x": {}}}, "No type specified for field [x]"),
    ({"properties": {"x": "text"}}, "Expected map for property [fields] on field [x] but got a "
                                    "class java.lang.String"),
    ({"properties": {"x": {"type": "text", "foo": 1}}},
     "unknown parameter [foo] on mapper [x] of type [text]"),
    ({"properties": {"x": {"type": "text", "doc_values": False}}},
     "unknown parameter [doc_values] on mapper [x] of type [text]"),
    ({"properties": {"x": {"type": "text", "null_value": "a"}}},
     "unknown parameter [null_value] on mapper [x] of type [text]"),
    ({"properties": {"x": {"type": "long", "boost": 2}}}, "Unknown parameter [boost] on mapper [x]"),
    ({"properties": {"x": {"type": "keyword", "ignore_above": None}}},
     "[ignore_above] on mapper [x] of type [keyword] must not have a [null] value"),
    ({"properties": {"x": {"type": "keyword", "index": "yes"}}},
     "Failed to parse value [yes] as only [true] or [false] are allowed."),
    ({"properties": {"x": {"type": "keyword", "ignore_above": -1}}},
     "[ignore_above] must be positive, got [-1]"),
    ({"properties": {"x": {"type": "text", "index_options": "all"}}},
     "Unknown value [all] for field [index_options] - accepted values are [positions, docs, freqs, offsets]"),
    ({"properties": {"x": {"type": "long", "null_value": "abc"}}}, 'For input string: "abc"'),
    ({"properties": {"x": {"type": "date", "format": "yyyy-MM-ddTHH"}}},
     "Invalid format: [yyyy-MM-ddTHH]: Unknown pattern letter: T"),
    ({"properties": {"x": {"type": "date", "null_value": "nope"}}},
     "Error parsing [null_value] on field [x]: failed to parse date field [nope] with format "
     "[strict_date_optional_time||epoch_millis]"),
    ({"properties": {"x": {"type": "ip", "null_value": "1.2.3"}}},
     "Error parsing [null_value] on field [x]: '1.2.3' is not an IP string literal."),
    ({"properties": {"o": {"type": "object", "index": False}}},
     "Mapping definition for [o] has unsupported parameters:  [index : false]"),
    ({"properties": {"x": {"type": "text", "fields": {"a.b": {"type": "keyword"}}}}},
     "Field name [a.b] which is a multi field of [x] cannot contain '.'"),
    ({"properties": {"x": {"type": "text", "fields": {"o": {"type": "object"}}}}},
     "Type [object] cannot be used in multi field"),
    ({"properties": {"x": {"type": "text",
                           "fields": {"k": {"type": "keyword", "fields": {"z": {"type": "ip"}}}}}}},
     "Encountered a multi-field [x.k] which itself contains a multi-field. Defining chained multi-fields is "
     "not supported."),
    ({"dynamic": "sometimes"}, "Could not convert [_doc.dynamic] to boolean"),
    ({"properties": {"_id": {"type": "keyword"}}}, "Field [_id] is defined more than once"),
    ({"properties": {"x": {"type": "keyword", "meta": {"a": 1}}}},
     "[meta] values can only be strings, but got Integer[1] for field [x]"),
    ({"dynamic_templates": []}, "[dynamic_templates] is not supported by Strata"),
    ({"dynamic": "runtime"}, "[dynamic] set to [runtime] (runtime fields) is not supported by Strata"),
])
def test_definitions_elasticsearch_refuses_fail_to_parse(source, reason):
    error = parse_error(source)
    assert error.type == "mapper_parsing_exception"
    assert error.status == 400
    assert error.reason == f"Failed to parse mapping: {reason}"
    assert error.caused_by.reason == reason


def test_the_root_cause_is_the_inner_mapper_error_but_not_a_java_one():
    inner_mapper = parse_error({"properties": {"x": {"type": "strin"}}})
    assert inner_mapper.root_causes()[0]["reason"] == "No handler for type [strin] declared on field [x]"
    java = parse_error({"properties": {"x": {"type": "keyword", "index": "yes"}}})
    assert java.caused_by.type == "illegal_argument_exception"
    assert java.root_causes()[0]["reason"].startswith("Failed to parse mapping: ")


@pytest.mark.parametrize("source, reason", [
    ({"properties": {"a": {"type": "text", "fields": {"raw": {"type": "keyword", "copy_to": "b"}}},
                     "b": {"type": "text"}}},
     "[copy_to] may not be used to copy from a multi-field: [a.raw]"),
    ({"properties": {"a": {"type": "text", "copy_to": "b.raw"},
                     "b": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}},
     "[copy_to] may not be used to copy to a multi-field: [b.raw]"),
    ({"properties": {"a": {"type": "text", "copy_to": "o"}, "o": {"properties": {"x": {"type": "long"}}}}},
     "Cannot copy to field [o] since it is mapped as an object"),
])
def test_copy_to_targets_are_checked_against_the_whole_mapping(source, reason):
    with pytest.raises(IllegalArgument, match=reason.replace("[", r"\[").replace("]", r"\]")):
        Mapping.parse(source)


def test_analyzers_and_normalizers_must_exist_in_the_index():
    names = AnalysisNames(analyzer=lambda n: n in ("standard", "default"), normalizer=lambda n: n == "lc")
    Mapping.parse({"properties": {"t": {"type": "text", "analyzer": "standard"},
                                  "k": {"type": "keyword", "normalizer": "lc"}}}, analysis=names)
    error = parse_error({"properties": {"t": {"type": "text", "search_analyzer": "english"}}}, analysis=names)
    assert error.caused_by.reason == "analyzer [english] has not been configured in mappings"
    error = parse_error({"properties": {"k": {"type": "keyword", "normalizer": "upper"}}}, analysis=names)
    assert error.caused_by.reason == "normalizer [upper] not found for field [k]"


def test_a_mapping_nested_under_doc_is_a_typed_mapping():
    assert is_typed_mapping({"_doc": {"properties": {}}})
    assert not is_typed_mapping({"properties": {"_doc": {"type": "keyword"}}})
    assert not is_typed_mapping({"_doc": {}, "dynamic": True})


def test_failures_are_elasticsearch_shaped_errors():
    error = parse_error({"properties": {"x": {"type": "strin"}}})
    assert isinstance(error, StrataError)
    assert error.to_dict()["caused_by"] == {"type": "mapper_parsing_exception",
                                            "reason": "No handler for type [strin] declared on field [x]"}
