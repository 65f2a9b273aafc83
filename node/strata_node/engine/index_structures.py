"""Search structures in the shard's LevelDB, written in the same batch as the documents.

Sequence numbers are the internal document numbers (Lucene's doc ids): every indexed
version of a document has its own, and a version stops being live when a later write or
a delete replaces it. Each engine write batch is a small segment, so one batch of 1000
log lines costs one key per distinct term and one column per field, not a key per term
per document:

  t<field>\\0<escaped term><first seq:8>  postings of the term in one batch: msgpack
                                          [seq deltas, freqs, positions] (both None for
                                          exact terms, which occur once per document)
  v<field>\\0<first seq:8>                doc values of one batch: msgpack [seq deltas, values]
  n<field>\\0<first seq:8>                field lengths (BM25 norms) of one batch, same layout
  a<first seq:8>                         the sequence numbers of the batch's indexed
                                          documents: msgpack seq deltas (match_all reads these)
  s<field>                               field stats: docs with the field, sum of lengths
  x<seq:8>                               a version that is no longer live

Terms are bytes; the escape (\\0 -> \\0\\xff, then \\0\\0) keeps them in byte order and lets
a prefix scan over `t<field>\\0<term>` never match a longer term. Statistics count dead
versions until a merge purges them, as Lucene's do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import msgspec

SEQ = struct.Struct(">Q")
POSTINGS = b"t"
DOC_VALUES = b"v"
NORMS = b"n"
FIELD_STATS = b"s"
DEAD = b"x"
DOCS = b"a"

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


def escape_term(term: bytes) -> bytes:
    return term.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def unescape_term(escaped: bytes) -> bytes:
    return escaped[:-2].replace(b"\x00\xff", b"\x00")


def field_prefix(kind: bytes, name: str) -> bytes:
    return kind + name.encode() + b"\x00"


def term_prefix(name: str, term: bytes) -> bytes:
    return field_prefix(POSTINGS, name) + escape_term(term)


def dead_key(seq_no: int) -> bytes:
    return DEAD + SEQ.pack(seq_no)


@dataclass
class IndexedDocument:
    """What a document contributes to the search structures, as the mapping and the
    analyzers produce it: per field, its terms in order with their positions (positions
    None for exact terms such as keywords and numbers, which index no positions), the
    field length for scored text fields, and the values sorts and aggregations read.
    Terms may be str (encoded once per batch, not once per occurrence) or bytes."""

    terms: dict[str, tuple[list, list[int] | None]] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    doc_values: dict[str, Any] = field(default_factory=dict)


def _deltas(seqs: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *seqs[:-1]], seqs, strict=True)]


class SegmentWriter:
    """Collects one write batch's documents, then emits its keys into the LevelDB batch.

    Per field, each term maps to a flat list `[seq, positions, seq, positions, ...]`, built
    in the one pass over a document's tokens: a lookup and an append per token."""

    def __init__(self) -> None:
        self.first_seq: int | None = None
        self._seqs: list[int] = []
        self._postings: dict[str, dict[bytes, list]] = {}
        self._values: dict[str, tuple[list[int], list[Any]]] = {}
        self._norms: dict[str, tuple[list[int], list[int]]] = {}

    def add(self, seq_no: int, doc: IndexedDocument) -> None:
        if self.first_seq is None:
            self.first_seq = seq_no
        self._seqs.append(seq_no)
        postings = self._postings
        for name, (terms, positions) in doc.terms.items():
            table = postings.get(name)
            if table is None:
                table = postings[name] = {}
            get = table.get
            if positions is None:
                for term in terms:
                    entry = get(term)
                    if entry is None:
                        table[term] = [seq_no, None]
                    elif entry[-2] != seq_no:  # a repeated exact value counts once
                        entry.append(seq_no)
                        entry.append(None)
                continue
            for term, position in zip(terms, positions, strict=True):
                entry = get(term)
                if entry is None:
                    table[term] = [seq_no, [position]]
                elif entry[-2] == seq_no:
                    entry[-1].append(position)
                else:
                    entry.append(seq_no)
                    entry.append([position])
        for name, value in doc.doc_values.items():
            column = self._values.get(name)
            if column is None:
                column = self._values[name] = ([], [])
            column[0].append(seq_no)
            column[1].append(value)
        for name, length in doc.lengths.items():
            column = self._norms.get(name)
            if column is None:
                column = self._norms[name] = ([], [])
            column[0].append(seq_no)
            column[1].append(length)

    def emit(self, put, stats: dict[str, list[int]]) -> None:
        """Write the batch's keys with `put`, and fold its totals into `stats`
        (field -> [docs with the field, sum of lengths]); the caller writes those."""
        if self.first_seq is None:
            return
        suffix = SEQ.pack(self.first_seq)
        put(DOCS + suffix, _encode(_deltas(self._seqs)))
        for name, table in self._postings.items():
            prefix = field_prefix(POSTINGS, name)
            for term, flat in table.items():
                seqs = flat[0::2]
                positions = flat[1::2]
                if positions[0] is not None:
                    value = [_deltas(seqs), [len(p) for p in positions], positions]
                else:  # exact terms (keywords, numbers): frequency 1, no positions
                    value = [_deltas(seqs), None, None]
                key = term.encode() if term.__class__ is str else term
                put(prefix + escape_term(key) + suffix, _encode(value))
        for name, (seqs, values) in self._values.items():
            put(field_prefix(DOC_VALUES, name) + suffix, _encode([_deltas(seqs), values]))
        for name, (seqs, lengths) in self._norms.items():
            put(field_prefix(NORMS, name) + suffix, _encode([_deltas(seqs), lengths]))
            totals = stats.setdefault(name, [0, 0])
            totals[0] += len(seqs)
            totals[1] += sum(lengths)


def stats_key(name: str) -> bytes:
    return FIELD_STATS + name.encode()


def encode_stats(totals: list[int]) -> bytes:
    return _encode(totals)


def decode_stats(raw: bytes | None) -> list[int]:
    return list(_decode(raw)) if raw else [0, 0]


def decode_postings(raw: bytes) -> tuple[list[int], list[int] | None, list[list[int]] | None]:
    """One batch's postings of a term: (seq deltas, freqs, positions); freqs and positions
    are None for exact terms."""
    return _decode(raw)


def decode_column(raw: bytes) -> tuple[list[int], list[Any]]:
    """One batch's doc values or norms of a field: (seq deltas, values)."""
    return _decode(raw)


def decode_docs(raw: bytes) -> list[int]:
    """One batch's indexed documents: seq deltas."""
    return _decode(raw)
