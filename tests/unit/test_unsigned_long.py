"""unsigned_long values as UnsignedLongFieldMapper reads them: document values, term
query values and range bounds (the cases of ES's UnsignedLongFieldTypeTests), and how
the index holds them (shifted by 2^63, so signed order is unsigned order)."""

from __future__ import annotations

import numpy as np
import pytest

from strata_node.common.errors import NumberFormatError
from strata_node.engine.segment_reader import Column
from strata_node.index.analysis import IndexAnalyzers
from strata_node.index.indexing import DocumentIndexer, sortable_long
from strata_node.index.mapping import Mapping
from strata_node.index.mapping.errors import EmptyNumber, FailedToParseMapping, MalformedValue
from strata_node.index.mapping.numbers import (
    UNSIGNED_MAX,
    UNSIGNED_SHIFT,
    parse_unsigned,
    parse_unsigned_long,
    unsigned_bound,
    unsigned_term,
)
from strata_node.search.aggregations.values import _unsigned_column

SIGN_BIT = 1 << 63


@pytest.mark.parametrize(("value", "held"), [
    (0, 0), (UNSIGNED_MAX, UNSIGNED_MAX), ("18446744073709551615", UNSIGNED_MAX), (100.0, 100),
    ("100.", 100), ("100.0", 100), (".00", 0), ("0.", 0), ("1e3", 1000), ("+5", 5), ("-0", 0),
])
def test_document_values_in_range_are_read_exactly(value, held):
    assert parse_unsigned(value) == held


@pytest.mark.parametrize(("value", "reason"), [
    (-1, "Value [-1] is out of range for unsigned long."),
    (1 << 64, "Value [18446744073709551616] is out of range for unsigned long"),
    ("-1", "Value [-1] is out of range for unsigned long"),
    ("18446744073709551616", "Value [18446744073709551616] is out of range for unsigned long"),
    (-5.0, "Value [-5] is out of range for unsigned long."),
    (10.5, 'Value "10.5" has a decimal part'),
    ("100.5", 'Value "100.5" has a decimal part'),
    ("0.9", 'Value "0.9" has a decimal part'),
    ("a", 'For input string: "a"'),
    (" 5", 'For input string: " 5"'),
    (True, 'For input string: "true"'),
    (-1e20, "Value [-9223372036854775808] is out of range for unsigned long."),  # longValue() saturates
    ("1e99999999999999999999999", 'For input string: "1e99999999999999999999999"'),  # past BigDecimal's scale
])
def test_document_values_an_unsigned_long_cannot_hold_are_refused(value, reason):
    with pytest.raises(MalformedValue) as raised:
        parse_unsigned(value)
    assert raised.value.cause.reason == reason


def test_an_empty_string_reads_as_null():
    with pytest.raises(EmptyNumber):
        parse_unsigned("")


def test_a_huge_exponent_is_refused_without_building_the_integer():
    with pytest.raises(MalformedValue, match="out of range"):
        parse_unsigned("1e999999999")


def test_text_of_thousands_of_digits_is_out_of_range_not_a_crash():
    with pytest.raises(MalformedValue, match="out of range"):
        parse_unsigned("1" * 5000)
    assert parse_unsigned("+" + "0" * 5000 + "7") == 7
    assert unsigned_term("1" * 5000) is None


def test_an_empty_null_value_is_refused_as_es_refuses_it():
    reason = r'Error parsing \[null_value\] on field \[f\]: For input string: ""'
    with pytest.raises(FailedToParseMapping, match=reason):
        Mapping.parse({"properties": {"f": {"type": "unsigned_long", "null_value": ""}}})


def test_numeric_aggregations_read_doubles_as_es_converts_them():
    # from 2^63 up ES adds 2^63 to the shifted long's double: two roundings, not one
    held = np.array([v - UNSIGNED_SHIFT for v in (13835058055282163713, 5, UNSIGNED_MAX)], dtype=np.int64)
    column = _unsigned_column(Column(np.arange(3), held), "double")
    assert column.values.tolist() == [1.3835058055282164e19, 5.0, 1.8446744073709552e19]


def test_a_whole_double_past_the_signed_range_saturates_as_number_long_value_does():
    assert parse_unsigned(1e19) == (1 << 63) - 1


@pytest.mark.parametrize(("value", "term"), [
    (0, 0), (UNSIGNED_MAX, UNSIGNED_MAX), ("18446744073709551615", UNSIGNED_MAX),
    (-1, None), (1 << 64, None), (10.5, None), (0.0, None), ("3.14", None), ("-0.5", None),
    ("18446744073709551616", None), ("1e3", None), ("NaN", None),
])
def test_a_term_is_its_unsigned_long_or_matches_nothing(value, term):
    assert unsigned_term(value) == term


def test_a_term_that_is_no_number_is_refused():
    with pytest.raises(NumberFormatError, match='For input string: "18incorrectnumber"'):
        unsigned_term("18incorrectnumber")


@pytest.mark.parametrize(("value", "include", "bound"), [
    (0.5, True, 1), (5, False, 6), (0, False, 1), ("0", False, 0), (-3, True, 0), (0.0, False, 0),
    ("18446744073709551615", True, UNSIGNED_MAX), ("18446744073709551615", False, None),
    ("18446744073709551616", True, None), ((1 << 63) - 1, False, 1 << 63),
])
def test_a_lower_bound_moves_up_to_a_whole_number(value, include, bound):
    assert unsigned_bound(value, lower=True, include=include) == bound


@pytest.mark.parametrize(("value", "include", "bound"), [
    (0.5, True, 0), (5.5, False, 5), (5, False, 4), (0, False, None), (-1, True, None),
    ("18446744073709551616", True, UNSIGNED_MAX), ("18446744073709551614.5", True, UNSIGNED_MAX - 1),
])
def test_an_upper_bound_moves_down_to_a_whole_number(value, include, bound):
    assert unsigned_bound(value, lower=False, include=include) == bound


def test_a_bound_that_is_no_number_is_refused():
    with pytest.raises(NumberFormatError):
        unsigned_bound("abc", lower=True, include=True)


def test_search_after_reads_text_as_parse_unsigned_long_does():
    assert parse_unsigned_long("18446744073709551615") == UNSIGNED_MAX
    for text in ("-1", "18446744073709551616", "1.0", "9.2E18"):
        with pytest.raises(ValueError):
            parse_unsigned_long(text)


def test_the_index_holds_the_shifted_long_and_terms_in_unsigned_byte_order():
    mapping = Mapping.parse({"properties": {"ul": {"type": "unsigned_long"}}})
    indexer = DocumentIndexer(mapping, IndexAnalyzers())
    for value in (0, SIGN_BIT - 1, SIGN_BIT, UNSIGNED_MAX):
        doc = indexer(mapping.parse_document({"ul": value}, "1"))
        assert doc.doc_values["ul"] == value - UNSIGNED_SHIFT
        assert doc.terms["ul"][0] == [value.to_bytes(8, "big")]
    held = [v - UNSIGNED_SHIFT for v in (0, SIGN_BIT - 1, SIGN_BIT, UNSIGNED_MAX)]
    assert sorted(held) == held and sorted(map(sortable_long, held)) == list(map(sortable_long, held))
