"""percentiles and percentile_ranks (InternalTDigestPercentiles, InternalTDigestPercentileRanks):
the response as ES prints it (keyed by Java's double strings, or a list), formats, `missing`,
empty results, the reduce across shards, the request's refusals with ES's words, and the
paths that read a percentile: a terms `order` and a pipeline's `buckets_path`.

The four documents are those of ES's 180_percentiles_tdigest_metric.yml; with fewer than 2000
values the digest keeps them all, so a percentile interpolates at q * (n - 1) between them."""

import pytest

from strata_node.common.errors import IllegalArgument, NumberFormatError, XContentParseError
from strata_node.search.aggregations import parse_aggregations

from .shards import one_shard, run, shards

MAPPING = {"properties": {"i": {"type": "integer"}, "d": {"type": "double"}, "k": {"type": "keyword"},
                          "t": {"type": "date"}, "g": {"type": "keyword"}}}
DOCS = [{"i": 1, "d": 1.0, "k": "foo", "g": "a"}, {"i": 51, "d": 51.0, "k": "foo", "g": "a"},
        {"i": 101, "d": 101.0, "k": "foo", "g": "b"}, {"i": 151, "d": 151.0, "k": "foo", "g": "b"}]
DEFAULT_VALUES = {"1.0": 2.5, "5.0": 8.5, "25.0": 38.5, "50.0": 76.0, "75.0": 113.5, "95.0": 143.5,
                  "99.0": 149.5}


def pct(field="i", **params) -> dict:
    return {"p": {"percentiles": {"field": field, **params}}}


def ranks(field="i", **params) -> dict:
    return {"r": {"percentile_ranks": {"field": field, **params}}}


def test_default_percents_keyed_by_their_java_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, pct())["p"]
    assert out == {"values": DEFAULT_VALUES}
    assert list(out["values"]) == list(DEFAULT_VALUES)


def test_double_field_gives_the_same_percentiles(tmp_path):
    assert one_shard(tmp_path, MAPPING, DOCS, pct("d"))["p"] == {"values": DEFAULT_VALUES}


def test_three_shards_reduce_to_the_single_shard_answer(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:1], DOCS[1:3], DOCS[3:]]) as contexts:
        assert run(pct(), contexts)["p"] == {"values": DEFAULT_VALUES}


def test_an_empty_shard_does_not_disturb_the_reduce(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS, [{"k": "bar"}]]) as contexts:
        assert run(pct(percents=[50]), contexts)["p"] == {"values": {"50.0": 76.0}}


def test_percents_are_sorted_and_may_be_fractions(tmp_path):
    # 99.9 / 100 * 3 in doubles lands a hair past 2.997, as it does in Java
    out = one_shard(tmp_path, MAPPING, DOCS, pct(percents=[50, 5, 99.9, "25"]))["p"]
    assert list(out["values"].items()) == [("5.0", 8.5), ("25.0", 38.5), ("50.0", 76.0),
                                           ("99.9", 150.85000000000002)]


def test_non_keyed_lists_key_and_value(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, pct(percents=[5.0, 25.0, 50.0], keyed=False))["p"]
    assert out == {"values": [{"key": 5.0, "value": 8.5}, {"key": 25.0, "value": 38.5},
                              {"key": 50.0, "value": 76.0}]}


def test_a_format_adds_the_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, pct(percents=[50], format="0.00"))["p"]
    assert out == {"values": {"50.0": 76.0, "50.0_as_string": "76.00"}}
    listed = one_shard(tmp_path, MAPPING, DOCS, pct(percents=[50], format="0.0", keyed=False))["p"]
    assert listed == {"values": [{"key": 50.0, "value": 76.0, "value_as_string": "76.0"}]}


def test_a_date_field_prints_its_percentiles_as_dates(tmp_path):
    docs = [{"t": "2024-01-01T00:00:00Z"}, {"t": "2024-01-03T00:00:00Z"}]
    out = one_shard(tmp_path, MAPPING, docs, pct("t", percents=[50]))["p"]
    assert out == {"values": {"50.0": 1704153600000.0, "50.0_as_string": "2024-01-02T00:00:00.000Z"}}


def test_missing_fills_documents_without_a_value(tmp_path):
    # 180_percentiles_tdigest_metric.yml: "Missing field with missing param"
    out = one_shard(tmp_path, MAPPING, DOCS, pct("nope", missing=1.0))["p"]
    assert out == {"values": dict.fromkeys(DEFAULT_VALUES, 1.0)}
    mixed = one_shard(tmp_path, MAPPING, [*DOCS, {"k": "bar"}], pct(percents=[50], missing=0))["p"]
    assert mixed == {"values": {"50.0": 51.0}}


def test_no_values_print_null_and_no_strings(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, pct("nope", percents=[50, 99], format="0.0"))["p"]
    assert out == {"values": {"50.0": None, "99.0": None}}
    listed = one_shard(tmp_path, MAPPING, DOCS, pct("nope", percents=[50], keyed=False))["p"]
    assert listed == {"values": [{"key": 50.0, "value": None}]}


def test_many_values_switch_to_the_merging_digest(tmp_path):
    docs = [{"i": n} for n in range(1, 3001)]
    out = one_shard(tmp_path, MAPPING, docs, pct(percents=[0, 50, 100]))["p"]["values"]
    assert out["0.0"] == 1.0 and out["100.0"] == 3000.0
    assert abs(out["50.0"] - 1500.5) < 3


def test_percentile_ranks_are_the_cdf_in_percent(tmp_path):
    # the later Dist.cdf, interpolated between neighbouring values (420_percentile_ranks_tdigest_metric.yml
    # expects 37 and 61.5 for 50 and 99; the old mid-point rule gave 25 and 50)
    out = one_shard(tmp_path, MAPPING, DOCS, ranks(values=[99, 50, 51, 40, 140, 200, 0, 1, 151]))["r"]
    assert out == {"values": {"0.0": 0.0, "1.0": 12.5, "40.0": 32.0, "50.0": 37.0, "51.0": 37.5, "99.0": 61.5,
                              "140.0": 82.0, "151.0": 87.5, "200.0": 100.0}}


def test_percentile_ranks_non_keyed_and_formatted(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, ranks(values=[51], keyed=False, format="0.0"))["r"]
    assert out == {"values": [{"key": 51.0, "value": 37.5, "value_as_string": "37.5"}]}


def test_keys_sort_as_java_sorts_doubles(tmp_path):
    # Arrays.sort: NaN last, duplicates kept, -0.0 before 0.0
    keys = parse_aggregations(ranks(values=["NaN", 51, 0.0, -0.0, 51, 1])).get("r").keys
    assert [repr(k) for k in keys] == ["-0.0", "0.0", "1.0", "51.0", "51.0", "nan"]


def test_percentile_ranks_with_missing_on_an_unmapped_field(tmp_path):
    out = one_shard(tmp_path, MAPPING, DOCS, ranks("nope", values=[50, 99], missing=1.0))["r"]
    assert out == {"values": {"50.0": 100.0, "99.0": 100.0}}


def test_percentile_ranks_reduce_across_shards(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:2], DOCS[2:]]) as contexts:
        assert run(ranks(values=[101]), contexts)["r"] == {"values": {"101.0": 62.5}}


def test_typed_keys_name_the_tdigest_results(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        from .shards import match_all
        aggs = parse_aggregations({**pct(percents=[50]), **ranks(values=[1])})
        reduced = aggs.reduce([aggs.collect(contexts[0], match_all(contexts[0]))])
        assert list(aggs.render(reduced, typed_keys=True)) == ["tdigest_percentiles#p",
                                                               "tdigest_percentile_ranks#r"]


@pytest.mark.parametrize("hint", ["high_accuracy", "default", "", "DEFAULT", "HIGH_ACCURACY"])
def test_compression_and_execution_hint_are_accepted(tmp_path, hint):
    # TDigestExecutionHint.parse: its two names, "", and Enum.valueOf's DEFAULT and HIGH_ACCURACY
    body = pct(percents=[50], tdigest={"compression": 200, "execution_hint": hint})
    assert one_shard(tmp_path, MAPPING, DOCS, body)["p"] == {"values": {"50.0": 76.0}}


def test_percents_and_compression_are_read_as_java_doubles(tmp_path):
    body = pct(percents=["50", " 25.0 ", "1e1"], tdigest={"compression": "200"})
    assert one_shard(tmp_path, MAPPING, DOCS, body)["p"] == \
        {"values": {"10.0": 16.0, "25.0": 38.5, "50.0": 76.0}}


# -- refusals ------------------------------------------------------------------------------


def build_error(body: dict) -> XContentParseError:
    with pytest.raises(XContentParseError) as e:
        parse_aggregations(body)
    return e.value


def test_empty_percents_are_refused():
    e = build_error(pct(percents=[]))
    assert e.reason == "Failed to build [percentiles] after last required field arrived"
    assert str(e.caused_by) == "[percents] must not be empty: [p]"


def test_a_percent_past_100_is_refused():
    e = build_error(pct(percents=[50, 150]))
    assert str(e.caused_by) == "percent must be in [0,100], got [150.0]: [p]"
    assert str(build_error(pct(percents=[-0.4])).caused_by) == "percent must be in [0,100], got [-0.4]: [p]"


def test_null_or_text_percents_are_refused():
    e = build_error(pct(percents=None))
    assert e.reason == "[percentiles] percents doesn't support values of type: VALUE_NULL"
    e = build_error(pct(percents=["foo"]))
    assert e.reason == "[percentiles] failed to parse field [percents]"
    assert isinstance(e.caused_by, NumberFormatError)


def test_underscored_numbers_are_refused():
    # Double.parseDouble knows no '_' separators (Python's float() does)
    e = build_error(pct(percents=["1_0"]))
    assert e.reason == "[percentiles] failed to parse field [percents]"
    assert str(e.caused_by) == 'For input string: "1_0"'
    e = build_error(pct(tdigest={"compression": "1_0"}))
    assert isinstance(e.caused_by.caused_by, NumberFormatError)


@pytest.mark.parametrize(("compression", "shown"), [
    ("NaN", "NaN"), (1e309, "Infinity"), ("Infinity", "Infinity"), (10**400, "Infinity")])
def test_a_compression_that_is_not_finite_is_refused(compression, shown):
    e = build_error(pct(tdigest={"compression": compression}))
    assert e.reason == "[percentiles] failed to parse field [tdigest]"
    assert str(e.caused_by.caused_by) == f"[compression] must be a finite number. Found [{shown}]"


def test_negative_compression_is_refused():
    e = build_error(pct(tdigest={"compression": -1}))
    assert e.reason == "[percentiles] failed to parse field [tdigest]"
    assert str(e.caused_by.caused_by) == "[compression] must be greater than or equal to 0. Found [-1.0]"


def test_an_unknown_execution_hint_is_refused():
    e = build_error(pct(tdigest={"execution_hint": "fast"}))
    assert str(e.caused_by.caused_by) == \
        "Invalid execution_hint [fast], valid values are [default, high_accuracy]"


def test_an_unknown_tdigest_field_is_refused():
    assert build_error(pct(tdigest={"compresion": 1})).caused_by.reason.startswith(
        "[tdigest] unknown field [compresion]")


def test_tdigest_and_hdr_together_are_refused():
    e = build_error(pct(tdigest={}, hdr={}))
    assert str(e.caused_by) == "Only one percentiles method should be declared."


def test_hdr_is_refused_as_unsupported():
    with pytest.raises(IllegalArgument, match=r"\[hdr\] method .* not supported by Strata"):
        parse_aggregations(pct(hdr={"number_of_significant_value_digits": 3}))


def test_ranks_need_values():
    assert str(build_error(ranks()).caused_by) == "[values] must not be null: [r]"
    assert str(build_error(ranks(values=[])).caused_by) == "[values] must not be an empty array: [r]"


def test_a_keyword_field_is_refused(tmp_path):
    with pytest.raises(IllegalArgument, match=r"Field \[k\] of type \[keyword\] is not supported for "
                                              r"aggregation \[percentiles\]"):
        one_shard(tmp_path, MAPPING, DOCS, pct("k"))


def test_an_unknown_parameter_is_refused():
    with pytest.raises(XContentParseError, match=r"\[percentiles\] unknown field \[percent\]"):
        parse_aggregations(pct(percent=[1]))


def test_percentiles_take_no_sub_aggregations():
    with pytest.raises(Exception, match="cannot accept sub-aggregations"):
        parse_aggregations({"p": {"percentiles": {"field": "i"}, "aggs": {"m": {"max": {"field": "i"}}}}})


# -- paths ---------------------------------------------------------------------------------


def terms_by(order: dict) -> dict:
    return {"g": {"terms": {"field": "g", "order": order},
                  "aggs": {"p": {"percentiles": {"field": "i", "percents": [50, 99]}}}}}


@pytest.mark.parametrize("path", ["p.50", "p[50.0]", "p.50.0"])
def test_terms_order_by_a_percentile(tmp_path, path):
    out = one_shard(tmp_path, MAPPING, DOCS, terms_by({path: "desc"}))["g"]["buckets"]
    assert [b["key"] for b in out] == ["b", "a"]
    assert out[0]["p"]["values"]["50.0"] == 126.0


def test_terms_order_by_a_percent_not_asked_for_is_refused(tmp_path):
    with pytest.raises(IllegalArgument,
                       match=r"unknown metric name \[42\] in multi-value metric aggregation \[p\]"):
        parse_aggregations(terms_by({"p.42": "asc"}))


def test_terms_order_by_percentiles_without_a_key_is_refused():
    with pytest.raises(IllegalArgument, match=r"Missing value key in \[p\]"):
        parse_aggregations(terms_by({"p": "asc"}))


@pytest.mark.parametrize("path", ["g>p[99.0]", "g>p.99"])
def test_a_bucket_pipeline_reads_a_percentile(tmp_path, path):
    body = {**terms_by({"_key": "asc"}), "top": {"max_bucket": {"buckets_path": path}}}
    out = one_shard(tmp_path, MAPPING, DOCS, body)["top"]
    assert out == {"value": 150.5, "keys": ["b"]}


def test_a_pipeline_reads_any_percent_as_ES_computes_it(tmp_path):
    body = {**terms_by({"_key": "asc"}), "s": {"sum_bucket": {"buckets_path": "g>p[25]"}}}
    assert one_shard(tmp_path, MAPPING, DOCS, body)["s"] == {"value": 13.5 + 113.5}
