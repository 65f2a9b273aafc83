"""Range queries per field type, with Elasticsearch's bound semantics: decimal bounds on
whole numbers, exclusive bounds on floats, date math with rounding, time zones, byte
order for keywords, addresses for IPs; and the legacy from/to form."""

import pytest

from strata_node.common.errors import IllegalArgument, QueryShardError
from strata_node.search.query import parse_query

from .shards import hits, ids, shard

MAPPING = {"properties": {"n": {"type": "long"}, "x": {"type": "double"}, "f": {"type": "float"},
                          "day": {"type": "date"}, "local": {"type": "date", "format": "yyyy/MM/dd HH:mm"},
                          "k": {"type": "keyword"}, "t": {"type": "text"}, "ip": {"type": "ip"},
                          "plain": {"type": "long", "doc_values": False}, "b": {"type": "boolean"}}}
DOCS = [
    {"n": -2, "x": -0.5, "f": 0.1, "day": "2023-11-13T00:00:00Z", "local": "2023/11/13 08:00", "k": "apple",
     "t": "alpha beta", "ip": "10.0.0.1", "plain": -2, "b": False},
    {"n": 1, "x": 1.0, "f": 1.1, "day": "2023-11-13T23:59:59.999Z", "local": "2023/11/14 01:30",
     "k": "banana",
     "t": "gamma", "ip": "10.0.0.9", "plain": 1, "b": True},
    {"n": 2, "x": 2.5, "f": 2.0, "day": "2023-11-14T00:00:00Z", "local": "2023/11/14 23:00", "k": "cherry",
     "t": "delta", "ip": "192.168.0.1", "plain": 2},
    {"n": 10, "x": 10.0, "day": "2023-11-14T22:13:20Z", "k": "Banana", "ip": "::1", "plain": 10},
]


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def r(field, **bounds):
    return {"range": {field: bounds}}


def test_whole_number_bounds(ctx):
    assert ids(ctx, r("n", gte=1, lte=2)) == ["1", "2"]
    assert ids(ctx, r("n", gt=1, lt=10)) == ["2"]
    assert ids(ctx, r("n", gte=1.5)) == ["2", "3"]  # moves up to 2
    assert ids(ctx, r("n", lte=-1.5)) == ["0"]  # moves down to -2
    assert ids(ctx, r("n", gt=1.5)) == ["2", "3"]
    assert ids(ctx, r("n", gte="2")) == ["2", "3"]


def test_whole_numbers_without_doc_values_walk_the_terms(ctx):
    assert ids(ctx, r("plain", gt=-5, lt=2)) == ["0", "1"]
    assert ids(ctx, r("plain", gte=10)) == ["3"]


def test_floating_bounds_exclude_by_one_ulp(ctx):
    assert ids(ctx, r("x", gt=1.0)) == ["2", "3"]
    assert ids(ctx, r("x", gte=1.0, lt=10)) == ["1", "2"]
    assert ids(ctx, r("f", gt=1.1)) == ["2"]  # 1.1 read as a float, as the field holds it
    assert ids(ctx, r("f", lte=1.1)) == ["0", "1"]


def test_ranges_are_constant_score(ctx):
    assert hits(ctx, {"range": {"n": {"gte": 2, "boost": 3}}}) == {"2": 3.0, "3": 3.0}


def test_date_bounds_round_as_elasticsearch(ctx):
    # gte rounds down, lte rounds up: the whole of the 13th
    assert ids(ctx, r("day", gte="2023-11-13", lte="2023-11-13")) == ["0", "1"]
    # gt rounds up: after the whole day; lt rounds down: before its start
    assert ids(ctx, r("day", gt="2023-11-13")) == ["2", "3"]
    assert ids(ctx, r("day", lt="2023-11-14")) == ["0", "1"]
    assert ids(ctx, r("day", gte="now-1d/d", lt="now/d")) == ["0", "1"]
    assert ids(ctx, r("day", gt="now/d")) == []
    assert ids(ctx, r("day", gte="now")) == ["3"]


def test_date_bounds_in_epoch_millis_and_other_formats(ctx):
    assert ids(ctx, r("day", gte=1_699_920_000_000)) == ["2", "3"]
    assert ids(ctx, r("day", gte="14/11/2023", format="dd/MM/yyyy")) == ["2", "3"]
    assert ids(ctx, r("local", lt="2023/11/14 02:00")) == ["0", "1"]  # the field's own format


def test_time_zone_moves_date_bounds(ctx):
    # midnight at UTC+01:00 is 23:00 UTC the day before
    assert ids(ctx, r("day", gte="2023-11-14", time_zone="+01:00")) == ["1", "2", "3"]
    assert ids(ctx, r("day", gte="now/d", time_zone="-05:00")) == ["3"]


def test_keyword_and_text_ranges_compare_bytes(ctx):
    assert ids(ctx, r("k", gte="apple", lt="cherry")) == ["0", "1"]
    assert ids(ctx, r("k", lt="a")) == ["3"]  # "B" sorts before "a"
    assert ids(ctx, r("t", gt="beta")) == ["1", "2"]


def test_ip_ranges(ctx):
    assert ids(ctx, r("ip", gte="10.0.0.0", lte="10.255.255.255")) == ["0", "1"]
    assert ids(ctx, r("ip", gt="10.0.0.1", lt="192.168.0.1")) == ["1"]
    assert ids(ctx, r("ip", lt="0.0.0.0")) == ["3"]  # ::1 sorts before IPv4-mapped addresses


def test_boolean_ranges(ctx):
    assert ids(ctx, r("b", gt=False)) == ["1"]


def test_legacy_from_to_form(ctx):
    assert ids(ctx, r("n", **{"from": 1, "to": 10, "include_lower": False, "include_upper": False})) == ["2"]
    assert ids(ctx, r("n", **{"from": None, "to": 1})) == ["0", "1"]


def test_bad_bounds_fail_the_shard(ctx):
    for body, message in [(r("n", gte="abc"), 'failed to create query: For input string: "abc"'),
                          (r("day", gte="garbage"),
                           "failed to create query: failed to parse date field [garbage]"),
                          (r("ip", gte="x"), "failed to create query: 'x' is not an IP string literal.")]:
        with pytest.raises(QueryShardError) as caught:
            parse_query(body).execute(ctx)
        assert caught.value.reason.startswith(message)


def test_format_and_time_zone_are_ignored_off_dates(ctx):
    assert ids(ctx, r("n", gte=5, format="yyyy", time_zone="+01:00")) == ["3"]


def test_bad_relations_and_formats_fail_the_request():
    with pytest.raises(IllegalArgument, match=r"^near is not a valid relation$"):
        parse_query(r("n", gte=1, relation="near"))
    with pytest.raises(IllegalArgument, match=r"^\[range\] query does not support relation \[disjoint\]$"):
        parse_query(r("n", gte=1, relation="disjoint"))
    with pytest.raises(IllegalArgument, match="Invalid format"):
        parse_query(r("day", gte=1, format="||"))


def test_open_ranges_match_documents_with_the_field(ctx):
    assert ids(ctx, r("x", gte=None)) == ["0", "1", "2", "3"]
    assert ids(ctx, r("f", gt=None, lt=None)) == ["0", "1", "2"]
    assert ids(ctx, r("k")) == ["0", "1", "2", "3"]
