"""BM25 as Elasticsearch scores with it: Lucene's BM25Similarity wrapped in
LegacyBM25Similarity, which multiplies the boost by (k1 + 1), computed in float32 the way
the Java code computes it, so scores agree with Elasticsearch's to the last bit or two.

    score = weight - weight / (1 + freq * norm_inverse[norm byte])
    weight = boost * (k1 + 1) * idf
    idf = ln(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5))
    norm_inverse[i] = 1 / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl))

Field lengths are not kept exactly: Lucene stores one byte per document
(SmallFloat.intToByte4) and BM25 reads the length back through byte4ToInt, so long
documents share lengths. The same lossy round trip is applied here, over whole arrays.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

from ..engine.segment_reader import SegmentReader

K1 = np.float32(1.2)
B = np.float32(0.75)
ONE = np.float32(1.0)
# SmallFloat: 255 - longToInt4(Integer.MAX_VALUE); the lengths below it are stored exactly.
NUM_FREE_VALUES = 24


def int_to_byte4(lengths: np.ndarray) -> np.ndarray:
    """SmallFloat.intToByte4 over an array of non-negative lengths -> uint8."""
    values = np.asarray(lengths, dtype=np.int64)
    out = values.astype(np.uint8)
    big = values >= NUM_FREE_VALUES
    if big.any():
        v = values[big] - NUM_FREE_VALUES
        # longToInt4: keep the 4 most significant bits, the top one implicit
        bits = np.frexp(v.astype(np.float64))[1].astype(np.int64)  # bit length, 0 for 0
        shift = bits - 4
        normal = shift >= 0
        encoded = np.where(normal, ((v >> np.maximum(shift, 0)) & 0x07) | ((shift + 1) << 3), v)
        out[big] = (NUM_FREE_VALUES + encoded).astype(np.uint8)
    return out


def byte4_to_int(encoded: np.ndarray) -> np.ndarray:
    """SmallFloat.byte4ToInt over an array of bytes -> int64 lengths."""
    values = np.asarray(encoded).astype(np.int64) & 0xFF
    out = values.copy()
    big = values >= NUM_FREE_VALUES
    if big.any():
        i = values[big] - NUM_FREE_VALUES
        bits = i & 0x07
        shift = (i >> 3) - 1
        decoded = np.where(shift < 0, bits, (bits | 0x08) << np.maximum(shift, 0))
        out[big] = NUM_FREE_VALUES + decoded
    return out


LENGTH_TABLE = byte4_to_int(np.arange(256)).astype(np.float32)


def idf(doc_freq: int, doc_count: int) -> np.float32:
    """BM25Similarity.idf: in double, then cast to float."""
    return np.float32(math.log(1.0 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5)))


def idf_sum(idfs: list[np.float32]) -> np.float32:
    """A phrase's idf: the float idfs of its terms summed in double, then cast."""
    return np.float32(sum(float(i) for i in idfs))


def avg_field_length(doc_count: int, sum_total_term_freq: int) -> np.float32:
    return np.float32(sum_total_term_freq / doc_count) if doc_count else ONE


def norm_inverse_table(avgdl: np.float32) -> np.ndarray:
    """BM25Similarity's per-query cache: 1 / (k1 * ((1 - b) + b * length / avgdl)) for
    every norm byte, each operation rounded to float as in Java."""
    return ONE / (K1 * ((ONE - B) + B * LENGTH_TABLE / np.float32(avgdl)))


def weight(boost: float, term_idf: np.float32) -> np.float32:
    """LegacyBM25Similarity scales the boost by (1 + k1) before BM25 multiplies in idf."""
    return np.float32(np.float32(boost) * (ONE + K1)) * np.float32(term_idf)


def bm25(freqs: np.ndarray, norm_bytes: np.ndarray | None, w: np.float32, avgdl: np.float32) -> np.ndarray:
    """Scores of documents with these frequencies and norm bytes (None: a field without
    norms, which Lucene reads as norm byte 1)."""
    table = norm_inverse_table(avgdl)
    inverse = table[1] if norm_bytes is None else table[norm_bytes]
    f = np.asarray(freqs, dtype=np.float32)
    return (w - w / (ONE + f * inverse)).astype(np.float32, copy=False)


class FieldStatistics:
    """Lucene's CollectionStatistics of one field: documents with the field and the sum
    of their lengths (for fields without norms, the sum of document frequencies), dead
    versions included as Lucene counts them."""

    __slots__ = ("avgdl", "doc_count", "sum_total_term_freq")

    def __init__(self, doc_count: int, sum_total_term_freq: int):
        self.doc_count = doc_count
        self.sum_total_term_freq = sum_total_term_freq
        self.avgdl = avg_field_length(doc_count, sum_total_term_freq)


def field_statistics(reader: SegmentReader, field: str, doc_freq: int = 0) -> FieldStatistics:
    """The field's statistics, never below what a term of it already shows, so a field
    whose statistics were never recorded (segments written before exact fields counted
    theirs) still gets a finite, positive idf and avgdl rather than NaN."""
    doc_count, total = reader.field_stats(field)
    if doc_count < doc_freq:
        doc_count = doc_freq
    if total < doc_count:
        total = doc_count
    return FieldStatistics(doc_count, total)


# Norm bytes of a field's whole norms column, worked out once per reader (per refresh);
# searches on several threads share the readers.
_norm_bytes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_norm_lock = threading.Lock()


class NormBytes:
    """A field's norm bytes by sequence number: a dense table indexed by seq when the
    field's documents fill a fair part of the seq range (one gather per lookup), else the
    sorted column and a binary search."""

    __slots__ = ("bytes", "dense", "seqs")

    def __init__(self, seqs: np.ndarray, norm_bytes: np.ndarray):
        top = int(seqs[-1])
        self.dense: np.ndarray | None = None
        if top <= 16 * len(seqs) + (1 << 16):
            self.dense = np.ones(top + 1, dtype=np.uint8)
            self.dense[seqs] = norm_bytes
        self.seqs = seqs
        self.bytes = norm_bytes


def norm_column(reader: SegmentReader, field: str) -> NormBytes | None:
    """The norm bytes of a text field's documents, None for a field without norms."""
    per_reader = _norm_bytes.get(reader)
    if per_reader is None:
        with _norm_lock:
            per_reader = _norm_bytes.setdefault(reader, {})
    cached = per_reader.get(field, False)
    if cached is False:
        column = reader.norms(field)
        cached = NormBytes(column.seqs, int_to_byte4(column.values)) if len(column) else None
        per_reader[field] = cached
    return cached


def norms_of(reader: SegmentReader, field: str, seqs: np.ndarray) -> np.ndarray | None:
    """The norm bytes of these documents (sorted seqs), None for a field without norms."""
    column = norm_column(reader, field)
    if column is None:
        return None
    if column.dense is not None and (not len(seqs) or seqs[-1] < len(column.dense)):
        return column.dense[seqs]
    norm_seqs, norm_bytes = column.seqs, column.bytes
    idx = np.searchsorted(norm_seqs, seqs)
    idx[idx >= len(norm_seqs)] = 0
    found = norm_seqs[idx] == seqs
    out = norm_bytes[idx]
    if not found.all():
        out = np.where(found, out, np.uint8(1))
    return out


def term_scores(reader: SegmentReader, field: str, seqs: np.ndarray, freqs: np.ndarray, doc_freq: int,
                boost: float, stats: FieldStatistics | None = None, norms: bool = True) -> np.ndarray:
    """BM25 scores of one term's postings (`norms` False for a field mapped without
    them, whose documents all read as norm byte 1)."""
    stats = stats or field_statistics(reader, field, doc_freq)
    w = weight(boost, idf(doc_freq, stats.doc_count))
    return bm25(freqs, norms_of(reader, field, seqs) if norms else None, w, stats.avgdl)
