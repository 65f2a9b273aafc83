"""BM25 as Elasticsearch scores: LegacyBM25Similarity over Lucene's lossy one-byte
field lengths, in float32. Expected scores are worked out here with a scalar
transcription of the Java code, independent of the vectorised implementation."""

import math

import numpy as np
import pytest

from strata_node.search.similarity import LENGTH_TABLE, byte4_to_int, int_to_byte4

from .shards import hits, shard

F = np.float32


# -- a scalar transcription of SmallFloat and BM25Similarity, for the expected values -----------

def long_to_int4(i: int) -> int:
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def int4_to_long(i: int) -> int:
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


def java_int_to_byte4(i: int) -> int:
    return i if i < 24 else 24 + long_to_int4(i - 24)


def java_byte4_to_int(b: int) -> int:
    return b if b < 24 else 24 + int4_to_long(b - 24)


def expected(freq: int, length: int, doc_freq: int, doc_count: int, sum_ttf: int, boost: float = 1.0,
             norms: bool = True) -> float:
    """One term's score, operation by operation as the Java code rounds it."""
    idf = F(math.log(1 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5)))
    avgdl = F(sum_ttf / doc_count)
    dl = F(java_byte4_to_int(java_int_to_byte4(length))) if norms else F(1)
    norm_inverse = F(1) / (F(1.2) * ((F(1) - F(0.75)) + F(0.75) * dl / avgdl))
    weight = F(F(boost) * F(2.2)) * idf
    return float(weight - weight / (F(1) + F(freq) * norm_inverse))


# -- SmallFloat --------------------------------------------------------------------------------

def test_lengths_below_24_are_stored_exactly():
    lengths = np.arange(24)
    assert int_to_byte4(lengths).tolist() == list(range(24))
    assert byte4_to_int(int_to_byte4(lengths)).tolist() == list(range(24))


def test_long_fields_share_lossy_lengths_as_lucene_stores_them():
    assert int_to_byte4(np.array([100]))[0] == 57
    assert byte4_to_int(np.array([57]))[0] == 96
    lengths = np.array([24, 25, 31, 32, 33, 40, 47, 100, 1000, 12345, 1 << 20, (1 << 31) - 1])
    encoded = int_to_byte4(lengths)
    assert encoded.tolist() == [java_int_to_byte4(int(n)) for n in lengths]
    assert byte4_to_int(encoded).tolist() == [java_byte4_to_int(java_int_to_byte4(int(n))) for n in lengths]
    assert encoded[-1] == 255


def test_encoding_keeps_order_and_never_rounds_up():
    lengths = np.arange(0, 5000)
    decoded = byte4_to_int(int_to_byte4(lengths))
    assert (np.diff(int_to_byte4(lengths).astype(int)) >= 0).all()
    assert (decoded <= lengths).all()


def test_length_table_decodes_every_byte():
    assert LENGTH_TABLE.dtype == np.float32
    assert LENGTH_TABLE.tolist() == [float(F(java_byte4_to_int(b))) for b in range(256)]


# -- scores on a real shard --------------------------------------------------------------------

TEXT = {"properties": {"body": {"type": "text"}, "tag": {"type": "keyword"}}}


def test_one_document_scores_what_elasticsearch_gives(tmp_path):
    with shard(tmp_path, TEXT, [{"body": "hello world"}]) as ctx:
        assert hits(ctx, {"match": {"body": "hello"}}) == {"0": pytest.approx(0.2876821, abs=1e-7)}


def test_term_scores_follow_the_formula_with_lossy_lengths(tmp_path):
    filler = " ".join(f"w{i}" for i in range(120))
    docs = ["fox", "fox fox quick", "the quick brown fox " + filler, "dog", "fox " + " ".join(["x"] * 40)]
    with shard(tmp_path, TEXT, [{"body": d} for d in docs]) as ctx:
        lengths = [len(d.split()) for d in docs]
        doc_count, total = len(docs), sum(lengths)
        assert ctx.reader.field_stats("body") == (doc_count, total)
        scores = hits(ctx, {"term": {"body": "fox"}})
        want = {str(i): expected(d.split().count("fox"), lengths[i], 4, doc_count, total)
                for i, d in enumerate(docs) if "fox" in d.split()}
        assert scores == pytest.approx(want, abs=1e-6)
        # the long document's length is stored lossily, which moves its score
        exact = expected(1, lengths[2], 4, doc_count, total)
        assert java_byte4_to_int(java_int_to_byte4(lengths[2])) != lengths[2]
        assert scores["2"] == pytest.approx(exact, abs=1e-7)


def test_boost_multiplies_into_the_weight(tmp_path):
    with shard(tmp_path, TEXT, [{"body": "a b c"}, {"body": "a"}, {"body": "b"}]) as ctx:
        boosted = hits(ctx, {"term": {"body": {"value": "a", "boost": 3.5}}})
        assert boosted == pytest.approx({"0": expected(1, 3, 2, 3, 5, boost=3.5),
                                         "1": expected(1, 1, 2, 3, 5, boost=3.5)}, abs=1e-6)


def test_keyword_fields_score_without_norms(tmp_path):
    docs = [{"tag": "red"}, {"tag": "blue"}, {"tag": ["red", "green"]}, {"body": "no tag"}]
    with shard(tmp_path, TEXT, docs) as ctx:
        doc_count, sum_doc_freq = ctx.reader.field_stats("tag")
        assert (doc_count, sum_doc_freq) == (3, 4)
        want = expected(1, 1, 2, doc_count, sum_doc_freq, norms=False)
        assert hits(ctx, {"term": {"tag": "red"}}) == pytest.approx({"0": want, "2": want}, abs=1e-6)


def test_deleted_versions_still_count_in_the_statistics(tmp_path):
    docs = {"a": {"body": "fox"}, "b": {"body": "fox dog"}, "c": {"body": "cat"}}
    with shard(tmp_path, TEXT, docs, deleted=("b",)) as ctx:
        # as Lucene before a merge: docFreq 2 and docCount 3 include the deleted version
        want = {"a": expected(1, 1, 2, 3, 4)}
        assert hits(ctx, {"match": {"body": "fox"}}) == pytest.approx(want, abs=1e-6)


def test_statistics_span_every_segment(tmp_path):
    docs = [{"body": "fox " * (i % 5 + 1)} for i in range(40)]
    with shard(tmp_path, TEXT, docs, batches=7) as ctx:
        total = sum(i % 5 + 1 for i in range(40))
        scores = hits(ctx, {"match": {"body": "fox"}})
        assert len(scores) == 40
        assert scores["3"] == pytest.approx(expected(4, 4, 40, 40, total), abs=1e-6)


def test_a_match_of_several_terms_sums_their_scores(tmp_path):
    docs = ["quick brown fox", "quick dog", "lazy brown dog jumps"]
    with shard(tmp_path, TEXT, [{"body": d} for d in docs]) as ctx:
        total = sum(len(d.split()) for d in docs)
        got = hits(ctx, {"match": {"body": "quick brown"}})
        quick0, brown0 = expected(1, 3, 2, 3, total), expected(1, 3, 2, 3, total)
        assert got == pytest.approx({"0": float(F(quick0 + brown0)), "1": expected(1, 2, 2, 3, total),
                                     "2": expected(1, 4, 2, 3, total)}, abs=1e-6)
