"""Sort specs, per-shard top k, sort values and search_after, on a real engine's
search structures (a shard written with the real indexing chain)."""

import asyncio
import math

import numpy as np
import orjson
import pytest

from strata_node.common.errors import IllegalArgument, ParseError, QueryShardError, XContentParseError
from strata_node.engine.engine import Engine, IndexOp, ShardRef
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer
from strata_node.index.mapping import Mapping
from strata_node.search.context import ShardContext
from strata_node.search.sort import (
    LONG_MAX,
    SortKey,
    after_mask,
    is_relevance,
    key_values,
    parse_sort,
    parse_sort_param,
    render_sort_value,
    sort_comparator,
    top_k,
)

from .shards import shard

MAPPING = {"properties": {"n": {"type": "long"}, "f": {"type": "double"}, "k": {"type": "keyword"},
                          "t": {"type": "text"}, "d": {"type": "date"}, "ip": {"type": "ip"}}}
DOCS = [
    {"n": 5, "f": 1.5, "k": "b", "t": "x", "d": "2024-01-02", "ip": "10.0.0.2"},
    {"n": [1, 9], "f": 0.5, "k": "a", "d": "2024-01-01", "ip": "9.0.0.1"},
    {"n": 5, "k": ["z", "c"], "ip": "10.0.0.10"},
    {"f": 2.5, "k": "d"},
]


@pytest.fixture
def ctx(tmp_path):
    """A one-shard engine holding DOCS (ids "0".."3"), refreshed."""
    mapping = Mapping.parse(MAPPING)
    analyzers = index_analyzers({}, "test")
    indexer = DocumentIndexer(mapping, analyzers)
    engine = Engine(ShardRef("test", "uuid", 0), tmp_path, 1)

    async def open_and_write():
        await engine.open()
        ops = [IndexOp(str(i), orjson.dumps(doc), indexed=indexer(mapping.parse_document(doc, str(i))))
               for i, doc in enumerate(DOCS)]
        engine.write(ops, lambda i, outcome: None)
        engine.refresh()

    asyncio.run(open_and_write())
    yield ShardContext("test", 0, engine.searcher(), mapping, analyzers, now_millis=0)
    asyncio.run(engine.close())


def ordered_ids(ctx, keys, k=10, after=None):
    seqs = ctx.reader.docs()
    values = [key_values(ctx, key, seqs, None) for key in keys]
    positions = np.arange(len(seqs))
    if after is not None:
        positions = np.flatnonzero(after_mask(values, after))
        values = [v.subset(positions) for v in values]
    picked = top_k(values, k)
    return [ctx.reader.document(int(seqs[positions[p]])).id for p in picked], \
        [[render_sort_value(v.render(int(p))) for v in values] for p in picked]


# -- parsing -------------------------------------------------------------------------------------

def test_parse_sort_forms():
    keys = parse_sort(["a", {"b": "desc"}, {"c": {"order": "asc", "missing": "_first", "mode": "max"}},
                       "_score", {"_doc": {"order": "desc"}}])
    assert [(k.field, k.order) for k in keys] == [
        ("a", "asc"), ("b", "desc"), ("c", "asc"), ("_score", "desc"), ("_doc", "desc")]
    assert keys[2].missing == "_first" and keys[2].mode == "max"
    assert parse_sort("x") == [SortKey("x")]


def test_parse_sort_refuses_bad_order_mode_and_options():
    with pytest.raises(IllegalArgument, match=r"Unknown SortOrder \[up\]"):
        parse_sort({"a": "up"})
    with pytest.raises(IllegalArgument, match=r"Unknown SortMode \[first\]"):
        parse_sort({"a": {"mode": "first"}})
    with pytest.raises(XContentParseError, match=r"\[field_sort\] unknown field \[size\]"):
        parse_sort({"a": {"size": 1}})


def test_sort_param():
    assert parse_sort_param("a:desc,b,c:asc") == [SortKey("a", "desc"), SortKey("b"), SortKey("c")]
    assert parse_sort_param("a:sideways") == []  # passed over, as RestSearchAction does


def test_relevance_is_no_sort():
    assert is_relevance(None) and is_relevance([SortKey("_score", "desc")])
    assert not is_relevance([SortKey("_score", "asc")])
    assert not is_relevance([SortKey("_score", "desc"), SortKey("_doc")])


# -- per shard -------------------------------------------------------------------------------------

def test_numeric_sort_uses_min_ascending_max_descending_and_missing_last(ctx):
    ids, values = ordered_ids(ctx, [SortKey("n")])
    assert ids == ["1", "0", "2", "3"]
    assert values == [[1], [5], [5], [LONG_MAX]]
    ids, values = ordered_ids(ctx, [SortKey("n", "desc")])
    assert ids == ["1", "0", "2", "3"]
    assert values[0] == [9] and values[-1] == [-LONG_MAX - 1]


def test_missing_first_and_custom_missing(ctx):
    assert ordered_ids(ctx, [SortKey("f", "asc", "_first")])[0] == ["2", "1", "0", "3"]
    ids, values = ordered_ids(ctx, [SortKey("f", "asc", 2.0)])
    assert ids == ["1", "0", "2", "3"] and values[2] == [2.0]


def test_float_missing_renders_infinity(ctx):
    _, values = ordered_ids(ctx, [SortKey("f")])
    assert values[-1] == ["Infinity"]


def test_keyword_sort_values_are_strings_and_missing_is_null(ctx):
    ids, values = ordered_ids(ctx, [SortKey("k")])
    assert ids == ["1", "0", "2", "3"]
    assert values == [["a"], ["b"], ["c"], ["d"]]
    ids, values = ordered_ids(ctx, [SortKey("k", "desc")])
    assert ids == ["2", "3", "0", "1"] and values[0] == ["z"]
    ids, values = ordered_ids(ctx, [SortKey("d")])
    assert values[-1] == [LONG_MAX] and values[0] == [1704067200000]


def test_ip_sorts_by_address_not_text(ctx):
    ids, values = ordered_ids(ctx, [SortKey("ip")])
    assert ids[:3] == ["1", "0", "2"]
    assert values[:3] == [["9.0.0.1"], ["10.0.0.2"], ["10.0.0.10"]]


def test_ties_break_by_sequence_number_and_secondary_key(ctx):
    assert ordered_ids(ctx, [SortKey("n")], k=2)[0] == ["1", "0"]
    assert ordered_ids(ctx, [SortKey("n"), SortKey("k", "desc")])[0] == ["1", "2", "0", "3"]


def test_search_after_walks_every_document_once(ctx):
    keys = [SortKey("n"), SortKey("_doc")]
    seen, after = [], None
    while True:
        ids, values = ordered_ids(ctx, keys, k=1, after=after)
        if not ids:
            break
        seen += ids
        after = values[-1]
    assert seen == ["1", "0", "2", "3"]


def test_search_after_on_keyword_with_missing(ctx):
    assert ordered_ids(ctx, [SortKey("k")], after=["b"])[0] == ["2", "3"]
    seqs = ctx.reader.docs()
    with pytest.raises(IllegalArgument, match=r"search_after has 2 value\(s\) but sort has 1"):
        after_mask([key_values(ctx, SortKey("k"), seqs, None)], ["a", "b"])


def test_keyword_custom_missing_and_values_the_shard_does_not_hold(ctx):
    ids, values = ordered_ids(ctx, [SortKey("k", "asc", "bb")])
    assert ids == ["1", "0", "2", "3"] and values[0] == ["a"]
    ids, values = ordered_ids(ctx, [SortKey("title_missing", "asc", "m", unmapped_type="keyword")])
    assert values == [["m"]] * 4
    assert ordered_ids(ctx, [SortKey("k")], after=["bb"])[0] == ["2", "3"]
    assert ordered_ids(ctx, [SortKey("k", "desc")], after=["bb"])[0] == ["0", "1"]
    assert ordered_ids(ctx, [SortKey("ip")], after=["10.0.0.3"])[0] == ["2", "3"]


def test_unmapped_and_text_fields(ctx):
    seqs = ctx.reader.docs()
    with pytest.raises(QueryShardError, match=r"No mapping found for \[nope\] in order to sort on"):
        key_values(ctx, SortKey("nope"), seqs, None)
    kv = key_values(ctx, SortKey("nope", unmapped_type="long"), seqs, None)
    assert kv.render(0) == LONG_MAX
    with pytest.raises(IllegalArgument, match=r"Fielddata is disabled on \[t\] in \[test\]"):
        key_values(ctx, SortKey("t"), seqs, None)


def test_sort_modes(ctx):
    seqs = ctx.reader.docs()
    kv = key_values(ctx, SortKey("n", mode="sum"), seqs, None)
    assert kv.render(1) == 10
    kv = key_values(ctx, SortKey("n", mode="avg"), seqs, None)
    assert kv.render(1) == 5


def long_sort_values(tmp_path, docs, mode):
    """Each document's sort value on the long field `n` reduced by `mode`, in document order."""
    with shard(tmp_path, {"properties": {"n": {"type": "long"}}}, docs) as ctx:
        seqs = ctx.reader.docs()
        kv = key_values(ctx, SortKey("n", mode=mode), seqs, None)
        return [kv.render(i) for i in range(len(seqs))]


def test_an_avg_of_longs_rounds_half_up_to_a_long(tmp_path):
    docs = [{"n": [1, 2]}, {"n": [3, 4, 4, 4]}, {"n": [-3, -2]}, {"n": 7}]
    assert long_sort_values(tmp_path, docs, "avg") == [2, 4, -2, 7]  # 1.5, 3.75, -2.5 as Math.round


def test_a_median_of_longs_rounds_the_middle_pair_half_up(tmp_path):
    docs = [{"n": [2, 1]}, {"n": [4, 3, 4, 4]}, {"n": [-3, -2]}]
    assert long_sort_values(tmp_path, docs, "median") == [2, 4, -2]


def test_a_median_of_an_odd_count_of_longs_is_the_middle_value_exactly(tmp_path):
    big = 2 ** 53 + 1  # no double holds it
    assert long_sort_values(tmp_path, [{"n": [big, big + 2, big]}], "median") == [big]


def test_a_sum_of_longs_keeps_every_digit(tmp_path):
    assert long_sort_values(tmp_path, [{"n": [2 ** 53, 1]}], "sum") == [2 ** 53 + 1]


def test_a_date_sort_with_a_format_prints_its_values_and_merges_by_millis(ctx):
    seqs = ctx.reader.docs()
    kv = key_values(ctx, SortKey("d", format="strict_date_optional_time_nanos"), seqs, None)
    assert kv.render(0) == "2024-01-02T00:00:00.000Z"
    assert kv.merge_value(0) == 1704153600000
    assert key_values(ctx, SortKey("d"), seqs, None).render(0) == 1704153600000  # raw without a format
    assert key_values(ctx, SortKey("d", format="yyyy/MM"), seqs, None).render(1) == "2024/01"


def test_a_sort_format_is_refused_where_the_field_takes_none(ctx):
    seqs = ctx.reader.docs()
    with pytest.raises(IllegalArgument, match=r"of type \[keyword\] does not support custom formats"):
        key_values(ctx, SortKey("k", format="x"), seqs, None)
    with pytest.raises(IllegalArgument, match=r"Invalid format: \[QQQQQQ\]"):
        key_values(ctx, SortKey("d", format="QQQQQQ"), seqs, None)
    with pytest.raises(XContentParseError, match=r"format doesn't support values of type: START_OBJECT"):
        parse_sort([{"d": {"format": {}}}])


def test_search_after_reads_a_date_as_the_sort_format_or_the_mapping_format(ctx):
    assert ordered_ids(ctx, [SortKey("d")], after=["2024-01-01"])[0] == ["0", "2", "3"]
    assert ordered_ids(ctx, [SortKey("d")], after=["1704067200000"])[0] == ["0", "2", "3"]
    assert ordered_ids(ctx, [SortKey("d")], after=["2023-12-31||+1d"])[0] == ["0", "2", "3"]
    fmt = "strict_date_optional_time_nanos"
    ids, values = ordered_ids(ctx, [SortKey("d", format=fmt)], after=["2024-01-01T00:00:00.000Z"])
    assert ids == ["0", "2", "3"] and values[0] == ["2024-01-02T00:00:00.000Z"]
    with pytest.raises(ParseError, match=r"failed to parse date field \[2024-13-45\]"):
        ordered_ids(ctx, [SortKey("d")], after=["2024-13-45"])
    with pytest.raises(IllegalArgument, match=r"now\(\) is not allowed in \[search_after\] key"):
        ordered_ids(ctx, [SortKey("d")], after=["now-1d"])


def test_search_after_reads_numbers_as_elasticsearch_does(ctx):
    # past a long: RAW.parseLong of the text falls back to a double and saturates
    assert ordered_ids(ctx, [SortKey("n")], after=[10**30])[0] == []
    assert ordered_ids(ctx, [SortKey("n")], after=[-(10**30)])[0] == ["1", "0", "2", "3"]
    assert ordered_ids(ctx, [SortKey("n")], after=["4.9"])[0] == ["0", "2", "3"]  # floor
    assert ordered_ids(ctx, [SortKey("n")], after=["1e0"])[0] == ["0", "2", "3"]
    for bad in ("abc", True, "inf", "1_0"):
        with pytest.raises(IllegalArgument, match=r"Failed to parse search_after value for field \[n\]"):
            ordered_ids(ctx, [SortKey("n")], after=[bad])
    assert ordered_ids(ctx, [SortKey("f")], after=["-Infinity"])[0] == ["1", "0", "3", "2"]
    for bad in (True, "inf"):
        with pytest.raises(IllegalArgument, match=r"Failed to parse search_after value for field \[f\]"):
            ordered_ids(ctx, [SortKey("f")], after=[bad])


# -- coordinating merge -----------------------------------------------------------------------------

def test_merge_comparator_orders_by_values_then_shard_then_seq():
    cmp = sort_comparator([SortKey("k", "desc")])
    hits = [(("a",), 0, 5), (("b",), 1, 1), ((None,), 0, 1), (("b",), 0, 9)]
    assert sorted(hits, key=cmp) == [(("b",), 0, 9), (("b",), 1, 1), (("a",), 0, 5), ((None,), 0, 1)]


def test_render_infinity():
    assert render_sort_value(math.inf) == "Infinity" and render_sort_value(-math.inf) == "-Infinity"
