"""The `_cat` table: column choice, aliases, sorting, alignment, units, help and JSON."""

from __future__ import annotations

import pytest

from strata_node.rest.cat import ByteSize, CatTable, Millis, UnknownSortKey, col, human_bytes, human_millis
from strata_node.rest.request import RestRequest


def req(**params: str) -> RestRequest:
    return RestRequest("GET", "/_cat/x", dict(params), {}, b"")


def table() -> CatTable:
    t = CatTable(
        [
            col("index", "i,idx", "index name"),
            col("docs", "dc", "doc count", right=True),
            col("store", "sto", "store size", right=True),
            col("hidden", "hd", default=False),
        ]
    )
    t.add({"index": "foo", "docs": 10, "store": ByteSize(2048), "hidden": False})
    t.add({"index": "barbaz", "docs": 2, "store": ByteSize(100), "hidden": True})
    return t


def test_text_is_aligned_right_for_numbers_and_the_last_column_is_not_padded():
    body = table().response(req(v="true")).body
    assert body == ("index  docs store\nfoo      10   2kb\nbarbaz    2  100b\n")


def test_h_takes_names_aliases_and_wildcards_and_drops_unknown_names():
    assert table().response(req(h="i,dc,nope")).body == "foo    10\nbarbaz  2\n"
    assert table().response(req(h="i,dc", format="json")).body == [
        {"i": "foo", "dc": "10"},
        {"i": "barbaz", "dc": "2"},
    ]
    assert table().response(req(h="h*", format="json")).body == [{"hidden": "false"}, {"hidden": "true"}]


def test_s_sorts_by_typed_values_ascending_or_descending():
    assert table().response(req(h="index", s="docs")).body == "barbaz\nfoo\n"
    assert table().response(req(h="index", s="sto:desc")).body == "foo\nbarbaz\n"
    with pytest.raises(UnknownSortKey):
        table().response(req(s="nope"))


def test_bytes_and_time_units():
    assert table().response(req(h="store", bytes="b", format="json")).body == [
        {"store": "2048"},
        {"store": "100"},
    ]
    assert table().response(req(h="store", bytes="kb", format="json")).body == [
        {"store": "2"},
        {"store": "0"},
    ]
    assert human_bytes(1536) == "1.5kb" and human_bytes(225) == "225b" and human_bytes(1 << 30) == "1gb"
    assert human_millis(12.345) == "12.3ms" and human_millis(90_000) == "1.5m"
    t = CatTable([col("t")])
    t.add({"t": Millis(2500)})
    assert t.response(req(time="ms")).body == "2500\n"


def test_help_lists_every_column_with_aliases_and_description():
    lines = table().response(req(help="true")).body.splitlines()
    assert lines[0].split("|")[0].strip() == "index"
    assert lines[0].split("|")[1].strip() == "i,idx"
    assert len(lines) == 4


def test_null_cells_are_empty_in_text_and_null_in_json():
    t = CatTable([col("a"), col("b")])
    t.add({"a": "x"})
    assert t.response(req()).body == "x \n"
    assert t.response(req(format="json")).body == [{"a": "x", "b": None}]
    assert CatTable([col("a")]).response(req()).body == ""
