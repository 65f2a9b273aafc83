"""`scaled_float`: a double the index holds as the nearest multiple of 1/scaling_factor,
rounded as Java's Math.round rounds (half up) and clamped to a long, as
ScaledFloatFieldMapper stores it."""

from __future__ import annotations

import pytest

from strata_node.common.errors import IllegalArgument, StrataError
from strata_node.index.mapping import DocumentParseError, Mapping
from strata_node.index.mapping.numbers import java_round

PRICE = {"properties": {"price": {"type": "scaled_float", "scaling_factor": 100}}}


def held(value, mapping=PRICE):
    return Mapping.parse(mapping).parse_document({"price": value}, "1").fields["price"]


def parse_error(definition: dict) -> str:
    with pytest.raises(StrataError) as e:
        Mapping.parse({"properties": {"price": definition}})
    return e.value.root_causes()[0]["reason"]


def test_the_scaling_factor_is_required():
    assert parse_error({"type": "scaled_float"}) == "Field [scaling_factor] is required"


@pytest.mark.parametrize("factor", [0, -10, "-1", True])
def test_the_scaling_factor_must_be_a_positive_number(factor):
    assert "[scaling_factor] must be a positive number" in parse_error(
        {"type": "scaled_float", "scaling_factor": factor})


def test_a_scaling_factor_that_is_no_number_is_refused():
    assert parse_error({"type": "scaled_float", "scaling_factor": "nope"}) == 'For input string: "nope"'


def test_the_mapping_shows_the_scaling_factor_as_a_double():
    mapping = Mapping.parse({"properties": {"price": {"type": "scaled_float", "scaling_factor": "100"}}})
    assert mapping.to_dict() == {"properties": {"price": {"type": "scaled_float", "scaling_factor": 100.0}}}


def test_the_scaling_factor_cannot_change():
    with pytest.raises(IllegalArgument) as e:
        Mapping.parse(PRICE).merge(Mapping.parse_update(
            {"properties": {"price": {"type": "scaled_float", "scaling_factor": 10}}}))
    assert "Cannot update parameter [scaling_factor] from [100.0] to [10.0]" in e.value.reason


@pytest.mark.parametrize("value, expected", [
    (1.11, [1.11]),
    (0.125, [0.13]),  # half up
    (-0.125, [-0.12]),  # half up, toward positive infinity
    (0.004, [0.0]),
    ("2.5", [2.5]),  # numeric strings coerce
    (7, [7.0]),
])
def test_values_are_held_rounded_to_the_scale(value, expected):
    assert held(value) == expected


def test_a_value_past_a_long_once_scaled_is_clamped():
    assert held("1e17") == [((1 << 63) - 1) / 100]
    assert held(-1e17) == [-(1 << 63) / 100]


def test_rounding_is_exactly_java_math_round():
    # floor(x + 0.5) would round 0.49999999999999994 up, and 2**52 + 1 to 2**52 + 2
    assert java_round(0.49999999999999994) == 0
    assert java_round(float(2 ** 52 + 1)) == 2 ** 52 + 1
    assert (java_round(2.5), java_round(-2.5), java_round(-2.6)) == (3, -2, -3)


def test_null_value_is_held_rounded_to_the_scale_too():
    mapping = {"properties": {"price": {"type": "scaled_float", "scaling_factor": 10, "null_value": 0.25}}}
    assert held(None, mapping) == [0.3]
    assert Mapping.parse(mapping).to_dict()["properties"]["price"]["null_value"] == 0.25


@pytest.mark.parametrize("value, cause", [
    ("NaN", "[scaled_float] only supports finite values, but got [NaN]"),
    (True, "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors"),
])
def test_unreadable_values_fail_the_document(value, cause):
    with pytest.raises(DocumentParseError) as e:
        held(value)
    assert e.value.caused_by.reason == cause


def test_coerce_false_refuses_strings():
    mapping = {"properties": {"price": {"type": "scaled_float", "scaling_factor": 10, "coerce": False}}}
    with pytest.raises(DocumentParseError) as e:
        held("1.5", mapping)
    assert e.value.caused_by.reason == "Double value passed as String"
