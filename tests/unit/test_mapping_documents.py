"""Parsing documents against a mapping: the values each field gives the index, the
dynamic mapping a document implies, and the per-document errors."""

from __future__ import annotations

import pytest

from strata_node.index.mapping import DocumentParseError, Mapping, StrictDynamicMapping

JAN_1_2024 = 1_704_067_200_000


def parse(mapping: dict | Mapping, doc: dict, doc_id: str = "1"):
    if isinstance(mapping, dict):
        mapping = Mapping.parse(mapping)
    return mapping.parse_document(doc, doc_id)


def dynamic(doc: dict, root: dict | None = None) -> dict:
    """The mapping a document adds to an empty mapping (or to `root`'s settings)."""
    update = parse(root or {}, doc).dynamic_update
    return Mapping.parse(root or {}).merge(update).to_dict() if update is not None else {}


def failure(mapping: dict, doc: dict, doc_id: str = "1") -> DocumentParseError:
    with pytest.raises(DocumentParseError) as e:
        parse(mapping, doc, doc_id)
    assert e.value.type == "mapper_parsing_exception" and e.value.status == 400
    return e.value


TEXT_WITH_KEYWORD = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


# -- dynamic mapping --------------------------------------------------------------------------------


def test_new_fields_are_mapped_by_the_type_of_their_first_value():
    doc = {"s": "hello", "i": 5, "f": 1.5, "b": True, "o": {"x": 1}, "a": [3, 4], "n": None, "e": []}
    assert dynamic(doc) == {
        "properties": {"s": TEXT_WITH_KEYWORD, "i": {"type": "long"}, "f": {"type": "float"},
                       "b": {"type": "boolean"}, "o": {"properties": {"x": {"type": "long"}}},
                       "a": {"type": "long"}}}


def test_strings_that_look_like_dates_become_dates_but_numbers_never_do():
    doc = {"d": "2024-01-01T10:00:00Z", "slash": "2015/09/02", "num": "1704067200000", "y": "2024"}
    assert dynamic(doc) == {
        "properties": {"d": {"type": "date"},
                       "slash": {"type": "date", "format": "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"},
                       "num": TEXT_WITH_KEYWORD, "y": TEXT_WITH_KEYWORD}}


def test_date_and_numeric_detection_follow_the_root_settings():
    assert dynamic({"d": "2024-01-01"}, {"date_detection": False})["properties"]["d"] == TEXT_WITH_KEYWORD
    detected = dynamic({"l": "42", "f": "4.2", "t": "x"}, {"numeric_detection": True})["properties"]
    assert detected == {"l": {"type": "long"}, "f": {"type": "float"}, "t": TEXT_WITH_KEYWORD}
    custom = dynamic({"d": "31/12/2023", "iso": "2024-01-01"}, {"dynamic_date_formats": ["dd/MM/yyyy"]})
    assert custom["properties"] == {"d": {"type": "date", "format": "dd/MM/yyyy"}, "iso": TEXT_WITH_KEYWORD}


def test_a_new_field_gets_its_values_in_the_same_document():
    parsed = parse({}, {"tags": ["a", "b"], "when": "2024-01-01", "o": {"n": [1, 2]}})
    assert parsed.fields == {"tags": ["a", "b"], "tags.keyword": ["a", "b"], "when": [JAN_1_2024],
                             "o.n": [1, 2]}


def test_an_array_takes_the_type_of_its_first_value_and_refuses_others():
    error = failure({}, {"mixed": [1, "one"]})
    assert error.reason == ("failed to parse field [mixed] of type [long] in document with id '1'. "
                            "Preview of field's value: 'one'")


def test_a_document_that_adds_nothing_has_no_update():
    mapping = Mapping.parse({})
    first = mapping.parse_document({"a": "x", "o": {"b": 1}}, "1")
    mapping = mapping.merge(first.dynamic_update)
    second = mapping.parse_document({"a": "y", "o": {"b": 2}}, "2")
    assert second.dynamic_update is None
    assert second.fields == {"a": ["y"], "a.keyword": ["y"], "o.b": [2]}


def test_the_update_holds_only_new_fields_under_their_existing_parents():
    mapping = Mapping.parse({"properties": {"o": {"type": "object", "dynamic": "true",
                                                  "properties": {"old": {"type": "keyword"}}}}})
    update = mapping.parse_document({"o": {"old": "x", "new": 1}}, "1").dynamic_update
    assert update.to_dict() == {"properties": {"o": {"properties": {"new": {"type": "long"}}}}}


def test_dotted_names_in_documents_are_object_paths():
    parsed = parse({}, {"a.b": 1, "a": {"c": "x"}})
    assert parsed.fields == {"a.b": [1], "a.c": ["x"], "a.c.keyword": ["x"]}
    assert Mapping.parse({}).merge(parsed.dynamic_update).to_dict() == {"properties": {"a": {"properties": {
        "b": {"type": "long"}, "c": TEXT_WITH_KEYWORD}}}}
    error = failure({"properties": {"a": {"type": "keyword"}}}, {"a.b": 1})
    assert error.reason == ("Could not dynamically add mapping for field [a.b]. Existing mapping for [a] "
                            "must be of type object but found [keyword].")


# -- dynamic: false and strict ------------------------------------------------------------------------


def test_strict_refuses_any_new_field_even_null_or_empty():
    for doc in ({"x": 1}, {"x": None}, {"x": []}, {"x": {}}):
        with pytest.raises(StrictDynamicMapping) as e:
            parse({"dynamic": "strict", "properties": {"a": {"type": "long"}}}, {"a": 1, **doc})
        assert e.value.type == "strict_dynamic_mapping_exception"
        assert e.value.status == 400
        assert e.value.reason == ("[dynamic] set to [strict], dynamic introduction of [x] within [_doc] is "
                                  "not allowed")


def test_strict_is_inherited_and_names_the_object():
    mapping = {"dynamic": "strict", "properties": {"o": {"properties": {"a": {"type": "long"}}}}}
    with pytest.raises(StrictDynamicMapping) as e:
        parse(mapping, {"o": {"b": 1}})
    assert e.value.reason == ("[dynamic] set to [strict], dynamic introduction of [b] within [o] is not "
                              "allowed")
    with pytest.raises(StrictDynamicMapping):
        parse(mapping, {"o.b": 1})


def test_an_object_may_loosen_what_its_parent_forbids():
    mapping = {"dynamic": "strict", "properties": {"free": {"type": "object", "dynamic": True}}}
    parsed = parse(mapping, {"free": {"x": 1}})
    assert parsed.fields == {"free.x": [1]}
    assert parsed.dynamic_update.to_dict() == {
        "properties": {"free": {"properties": {"x": {"type": "long"}}}}}


def test_dynamic_false_keeps_new_fields_out_of_the_index_and_the_mapping():
    parsed = parse({"dynamic": False, "properties": {"a": {"type": "long"}}}, {"a": 1, "b": 2, "o": {"c": 3}})
    assert parsed.fields == {"a": [1]}
    assert parsed.dynamic_update is None


def test_a_disabled_object_is_neither_parsed_nor_mapped():
    parsed = parse({"properties": {"raw": {"type": "object", "enabled": False}}},
                   {"raw": {"x": "2024-01-01"}})
    assert parsed.fields == {}
    assert parsed.dynamic_update is None


# -- values of each type -------------------------------------------------------------------------------


def test_text_and_keyword_index_strings_and_the_text_of_scalars():
    mapping = {"properties": {"t": {"type": "text"}, "k": {"type": "keyword"}}}
    assert parse(mapping, {"t": ["a b", 5, True], "k": [1.5, False, "x"]}).fields == {
        "t": ["a b", "5", "true"], "k": ["1.5", "false", "x"]}


def test_keywords_above_ignore_above_are_left_out_and_recorded():
    mapping = {"properties": {"k": {"type": "keyword", "ignore_above": 3}}}
    parsed = parse(mapping, {"k": ["abc", "abcd", "é" * 3]})
    assert parsed.fields == {"k": ["abc", "ééé"], "_ignored": ["k"]}
    assert parsed.ignored == ["k"]
    # ignore_above counts UTF-16 units, as Java's String.length()
    assert parse(mapping, {"k": "😀😀"}).fields == {"_ignored": ["k"]}


@pytest.mark.parametrize("type_name, value, expected", [
    ("long", "12", 12), ("long", 12.9, 12), ("long", "1e3", 1000), ("integer", -(2 ** 31), -(2 ** 31)),
    ("short", "  7 ", 7), ("byte", -128, -128), ("double", "0.5", 0.5), ("float", 0.1, 0.10000000149011612),
    ("double", 3, 3.0), ("half_float", 0.1, 0.0999755859375), ("half_float", "65504", 65504.0),
    ("half_float", 1.0001, 1.0), ("long", "-" + "0" * 5000 + "12", -12),  # zeros past int()'s digit limit
])
def test_numbers_are_coerced_as_elasticsearch_coerces_them(type_name, value, expected):
    assert parse({"properties": {"n": {"type": type_name}}}, {"n": value}).fields == {"n": [expected]}


@pytest.mark.parametrize("type_name, value, cause_type, cause", [
    ("long", "abc", "illegal_argument_exception", 'For input string: "abc"'),
    ("long", 2 ** 63, "illegal_argument_exception", "Value [9223372036854775808] is out of range for a long"),
    ("integer", 2 ** 31, "illegal_argument_exception", "Value [2147483648] is out of range for an integer"),
    ("short", 32768, "illegal_argument_exception", "Value [32768] is out of range for a short"),
    ("byte", 128, "illegal_argument_exception", "Value [128] is out of range for a byte"),
    ("byte", "-129", "illegal_argument_exception", "Value [-129] is out of range for a byte"),
    ("integer", "x1", "number_format_exception", 'For input string: "x1"'),
    ("double", "NaN", "illegal_argument_exception", "[double] supports only finite values, but got [NaN]"),
    ("float", 1e39, "illegal_argument_exception", "[float] supports only finite values, but got [Infinity]"),
    ("half_float", 70000, "illegal_argument_exception",
     "[half_float] supports only finite values, but got [70000.0]"),
    ("half_float", 1e39, "illegal_argument_exception",
     "[half_float] supports only finite values, but got [Infinity]"),
    ("long", True, "illegal_argument_exception",
     "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors"),
])
def test_numbers_out_of_range_or_unreadable_fail_the_document(type_name, value, cause_type, cause):
    error = failure({"properties": {"n": {"type": type_name}}}, {"n": value}, "doc-7")
    preview = "true" if value is True else str(value)
    assert error.reason == (f"failed to parse field [n] of type [{type_name}] in document with id 'doc-7'. "
                            f"Preview of field's value: '{preview}'")
    assert (error.caused_by.type, error.caused_by.reason) == (cause_type, cause)
    assert error.root_causes()[0]["type"] == "mapper_parsing_exception"


@pytest.mark.parametrize("type_name, value, cause", [
    ("long", "1" * 5000, "Value [" + "1" * 5000 + "] is out of range for a long"),  # past int()'s digit limit
    ("integer", "-" + "1" * 5000, "Value [-" + "1" * 5000 + "] is out of range for an integer"),
    ("long", "1e99999999999999999999999", 'For input string: "1e99999999999999999999999"'),  # past Decimal's
])
def test_numbers_too_long_for_the_readers_fail_the_document_not_the_request(type_name, value, cause):
    error = failure({"properties": {"n": {"type": type_name}}}, {"n": value}, "doc-7")
    assert (error.caused_by.type, error.caused_by.reason) == ("illegal_argument_exception", cause)


@pytest.mark.parametrize("field", [
    {"type": "long"}, {"type": "integer"}, {"type": "double"}, {"type": "half_float"},
    {"type": "scaled_float", "scaling_factor": 10},
])
def test_an_empty_string_in_a_numeric_field_is_read_as_null(field):
    assert parse({"properties": {"n": field}}, {"n": ""}).fields == {}
    with_null = {"properties": {"n": {**field, "null_value": 7}}}
    assert parse(with_null, {"n": ""}).fields == parse(with_null, {"n": None}).fields != {}
    assert parse(with_null, {"n": ["", 2]}).fields["n"][1] == 2


def test_an_empty_string_is_refused_where_numbers_do_not_coerce():
    mapping = {"properties": {"n": {"type": "long", "coerce": False}}}
    assert failure(mapping, {"n": ""}).caused_by.reason == "Long value passed as String"


def test_coerce_false_refuses_strings_and_fractions():
    mapping = {"properties": {"n": {"type": "long", "coerce": False}}}
    assert failure(mapping, {"n": "5"}).caused_by.reason == "Long value passed as String"
    assert failure(mapping, {"n": 5.5}).caused_by.reason == "Value [5.5] has a decimal part"
    assert parse(mapping, {"n": 5.0}).fields == {"n": [5]}


def test_dates_become_epoch_millis_in_their_format():
    mapping = {"properties": {"d": {"type": "date"}, "c": {"type": "date", "format": "yyyy-MM-dd HH:mm:ss"},
                              "s": {"type": "date", "format": "epoch_second"}}}
    parsed = parse(mapping, {"d": ["2024-01-01", JAN_1_2024], "c": "2024-01-01 00:00:01", "s": 1704067200})
    assert parsed.fields == {"d": [JAN_1_2024, JAN_1_2024], "c": [JAN_1_2024 + 1000], "s": [JAN_1_2024]}
    error = failure(mapping, {"c": "2024-01-01"})
    assert error.reason.startswith("failed to parse field [c] of type [date] in document with id '1'.")
    assert error.caused_by.reason == ("failed to parse date field [2024-01-01] with format "
                                      "[yyyy-MM-dd HH:mm:ss]")


def test_ip_addresses_take_their_canonical_form():
    parsed = parse({"properties": {"ip": {"type": "ip"}}},
                   {"ip": ["10.0.0.1", "2001:DB8:0:0:0:0:0:1", "::ffff:192.168.0.1", "fe80::1%eth0"]})
    assert parsed.fields == {"ip": ["10.0.0.1", "2001:db8::1", "192.168.0.1", "fe80::1"]}
    for bad in ("10.0.0.256", "010.0.0.1", "1.2.3", "host", 42):
        assert failure({"properties": {"ip": {"type": "ip"}}}, {"ip": bad}).caused_by.reason == \
            f"'{bad}' is not an IP string literal."


def test_booleans_read_true_false_and_the_empty_string():
    mapping = {"properties": {"b": {"type": "boolean"}}}
    assert parse(mapping, {"b": [True, "false", "true", ""]}).fields == {"b": [True, False, True, False]}
    assert failure(mapping, {"b": "yes"}).caused_by.reason == \
        "Failed to parse value [yes] as only [true] or [false] are allowed."


def test_null_values_stand_in_for_null_and_nothing_else():
    mapping = {"properties": {"k": {"type": "keyword", "null_value": "NULL"},
                              "n": {"type": "long", "null_value": 0},
                              "d": {"type": "date", "null_value": "2024-01-01"}, "t": {"type": "text"}}}
    assert parse(mapping, {"k": None, "n": [None, 5], "d": None, "t": None}).fields == {
        "k": ["NULL"], "n": [0, 5], "d": [JAN_1_2024]}
    assert parse(mapping, {"k": []}).fields == {}


def test_ignore_malformed_leaves_out_bad_scalars_but_not_objects():
    mapping = {"properties": {"n": {"type": "integer", "ignore_malformed": True,
                                    "fields": {"raw": {"type": "keyword"}}}}}
    parsed = parse(mapping, {"n": ["x", 3]})
    assert parsed.fields == {"n": [3], "n.raw": ["x", "3"], "_ignored": ["n"]}
    assert parsed.ignored == ["n"]
    error = failure(mapping, {"n": {"a": 1}})
    assert error.reason.endswith("Preview of field's value: '{a=1}'")


def test_a_value_and_an_object_cannot_stand_for_each_other():
    error = failure({"properties": {"k": {"type": "keyword"}}}, {"k": {"a": 1, "b": [1, 2]}})
    assert error.reason == ("failed to parse field [k] of type [keyword] in document with id '1'. "
                            "Preview of field's value: '{a=1, b=[1, 2]}'")
    error = failure({"properties": {"o": {"properties": {"a": {"type": "long"}}}}}, {"o": "flat"})
    assert error.reason == ("object mapping for [o] tried to parse field [o] as object, but found a concrete "
                            "value")
    assert parse({"properties": {"o": {"properties": {"a": {"type": "long"}}}}}, {"o": None}).fields == {}


def test_fields_neither_indexed_nor_with_doc_values_are_checked_but_not_emitted():
    mapping = {"properties": {"n": {"type": "long", "index": False, "doc_values": False},
                              "k": {"type": "keyword", "index": False}}}
    assert parse(mapping, {"n": 1, "k": "a"}).fields == {"k": ["a"]}
    assert failure(mapping, {"n": "x"}).reason.startswith("failed to parse field [n] of type [long]")


def test_copy_to_indexes_values_again_under_the_target():
    mapping = {"properties": {"first": {"type": "text", "copy_to": ["full", "both"]},
                              "last": {"type": "text", "copy_to": "full"}, "full": {"type": "text"},
                              "both": {"type": "keyword", "copy_to": "never"}}}
    parsed = parse(mapping, {"first": "Ada", "last": "Lovelace"})
    assert parsed.fields == {"first": ["Ada"], "full": ["Ada", "Lovelace"], "both": ["Ada"],
                             "last": ["Lovelace"]}
    assert parsed.dynamic_update is None  # a copy is not copied on: `never` is not created


def test_copy_to_creates_a_missing_target_dynamically_unless_strict():
    parsed = parse({"properties": {"a": {"type": "long", "copy_to": "o.copy"}}}, {"a": 5})
    assert parsed.fields == {"a": [5], "o.copy": [5]}
    assert parsed.dynamic_update.to_dict() == {
        "properties": {"o": {"properties": {"copy": {"type": "long"}}}}}
    with pytest.raises(StrictDynamicMapping):
        parse({"dynamic": "strict", "properties": {"a": {"type": "long", "copy_to": "c"}}}, {"a": 5})


def test_metadata_fields_cannot_be_in_a_document():
    error = failure({}, {"_id": "x"})
    inner = ("Field [_id] is a metadata field and cannot be added inside a document. Use the index API "
             "request parameters.")
    assert error.reason == f"failed to parse: {inner}"
    assert error.root_causes()[0]["reason"] == inner
    assert parse({}, {"o": {"_id": 1}}).fields == {"o._id": [1]}


@pytest.mark.parametrize("name, reason", [
    ("", "field name cannot be an empty string"),
    ("a..b", "field name starting or ending with a [.] makes object resolution ambiguous: [a..b]"),
    ("...", "field name cannot contain only dots"),
    ("  ", "field name cannot contain only whitespace: ['  ']"),
])
def test_field_names_that_cannot_be_split_fail(name, reason):
    error = failure({}, {name: 1})
    assert error.reason == f"failed to parse: {reason}"
    assert error.caused_by.type == "illegal_argument_exception"


@pytest.mark.parametrize("doc, reason", [
    ({"_id": "x"}, "failed to parse: Field [_id] is a metadata field and cannot be added inside a document. "
                   "Use the index API request parameters."),
    ({"a..b": 1}, "failed to parse: field name starting or ending with a [.] makes object resolution "
                  "ambiguous: [a..b]"),
    ({"": 1}, "failed to parse: field name cannot be an empty string"),
])
def test_an_index_of_stored_documents_refuses_the_names_any_mapping_refuses(doc, reason):
    assert failure({"dynamic": False}, {"ok": 1, **doc}).reason == reason


def test_an_index_of_stored_documents_indexes_nothing_and_maps_nothing():
    doc = {"a": 1, "o": {"b": "x", "_id": 2}, "c.d": 3, "e": [{"f": 1}], "n": None}
    parsed = parse({"dynamic": False}, doc)
    assert parsed.fields == {}
    assert parsed.dynamic_update is None


def test_a_document_nested_too_deeply_fails_cleanly():
    doc: dict = {}
    inner = doc
    for _ in range(2000):
        inner["o"] = {}
        inner = inner["o"]
    assert failure({}, doc).reason == "failed to parse: the document is nested too deeply"
