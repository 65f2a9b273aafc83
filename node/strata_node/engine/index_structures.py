"""Search structures in the shard's LevelDB, written in the same batch as the documents.

Sequence numbers are the internal document numbers (Lucene's doc ids): every indexed
version of a document has its own, and a version stops being live when a later write or
a delete replaces it. Each engine write batch is a small segment, so one batch of 1000
log lines costs one key per distinct term and one column per field, not a key per term
per document:

  t<field>\\0<escaped term><first seq:8>  postings of the term in one batch: msgpack
                                          [base, seq deltas, freqs, positions] (freqs and
                                          positions None for exact terms, which occur once
                                          per document; positions flat, freqs split them)
  v<field>\\0<first seq:8>                doc values of one batch: msgpack [base, seq deltas, values]
  n<field>\\0<first seq:8>                field lengths (BM25 norms) of one batch, same layout
  a<first seq:8>                         the sequence numbers of the batch's indexed
                                          documents: msgpack [base, seq deltas] (match_all
                                          reads these)
  s<field>                               field stats: [docs with the field, sum over those
                                          docs of the field length] for text fields, of the
                                          distinct terms for exact fields (Lucene's
                                          docCount and sumTotalTermFreq; for exact fields,
                                          which index no frequencies, that is sumDocFreq)
  x<seq:8>                               a version that is no longer live (value: the
                                          sequence number that replaced it)

The first delta of a batch counts from `base` (the batch's first sequence number), so a
segment is built without knowing its sequence numbers: from each document's place in
the write batch. That lets a bulk request's segment be built in a worker process while
the engine assigns sequence numbers on the event loop; only the header naming the base is
added when the batch is written (`EncodedSegment.emit`). Values written before the base
(three-element postings, two-element columns, a bare list of doc deltas, nested
positions) still decode.

Terms are bytes; the escape (\\0 -> \\0\\xff, then \\0\\0) keeps them in byte order and lets
a prefix scan over `t<field>\\0<term>` never match a longer term. Statistics count dead
versions until a merge purges them, as Lucene's do.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import sub
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
    None for exact terms such as keywords and numbers, which index no positions; any
    sequence of ints for text, a `range` when no token was dropped), the field length
    for scored text fields, and the values sorts and aggregations read. Terms may be str
    (encoded once per batch, not once per occurrence) or bytes."""

    terms: dict[str, tuple[list, Any]] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    doc_values: dict[str, Any] = field(default_factory=dict)


def _deltas(numbers: list[int]) -> list[int]:
    """Deltas of ascending numbers, the first from 0."""
    return [numbers[0], *map(sub, numbers[1:], numbers)]


# msgpack of [n] for the small numbers a batch's documents and positions mostly are: a
# term seen in one document of the batch (most terms of log lines) is then encoded by
# joining bytes instead of calling the encoder.
_SMALL = [_encode([i]) for i in range(4096)]
_NO_FREQS = b"\xc0\xc0"  # freqs None, positions None
_FREQ_ONE = _encode([1])
_STEM_END = b"\x00\x00"
_EXACT_ONE = [one + _NO_FREQS for one in _SMALL]  # the tail of a term in one document
_TEXT_ONE = [one + _FREQ_ONE for one in _SMALL]  # ... of a text term, before its position


def _one(n: int) -> bytes:
    # (a replay out of sequence number order could number a document below the first)
    return _SMALL[n] if 0 <= n < 4096 else _encode([n])


class EncodedSegment(msgspec.Struct, array_like=True):
    """A batch's search structures, encoded against the documents' places in the batch
    (local numbers) rather than their sequence numbers. Each value is the tail of its
    msgpack array: `emit` puts the array header and the base in front.

    postings: per field [name, exact, keys without the batch suffix, value tails];
    columns: [kind (doc values or norms), name, value tail];
    docs: value tail of the batch's indexed documents;
    stats: per field [docs with the field, sum of lengths or of distinct terms]."""

    postings: list[tuple[str, bool, list[bytes], list[bytes]]]
    columns: list[tuple[bytes, str, bytes]]
    docs: bytes | None
    stats: dict[str, list[int]]

    def emit(self, put, base: int, stats: dict[str, list[int]],
             seq_of: list[int | None] | None = None) -> None:
        """Write the batch's keys with `put`, local number i becoming sequence number
        `base + i` (or `seq_of[i]`, None for a document that was not written), and fold
        the batch's totals into `stats` (field -> [docs, sum]); the caller writes those."""
        if seq_of is not None:
            segment, base = self._remapped(seq_of)
            segment.emit(put, base, stats)
            return
        if self.docs is None:
            return
        number = _encode(base)
        suffix = SEQ.pack(base)
        put(DOCS + suffix, b"\x92" + number + self.docs)
        head = b"\x94" + number
        for _, _, stems, tails in self.postings:
            for stem, tail in zip(stems, tails, strict=True):
                put(stem + suffix, head + tail)
        head = b"\x93" + number
        for kind, name, tail in self.columns:
            put(field_prefix(kind, name) + suffix, head + tail)
        for name, (docs, total) in self.stats.items():
            totals = stats.get(name)
            if totals is None:
                stats[name] = [docs, total]
            else:
                totals[0] += docs
                totals[1] += total

    def _remapped(self, seq_of: list[int | None]) -> tuple[EncodedSegment, int]:
        """The same segment numbered from a new base, the smallest sequence number:
        document i becomes `seq_of[i] - base`, and the documents that were not written
        (an item of the batch that failed) are left out. Rare (a version conflict in a
        bulk request), so plainly decoded and rebuilt."""
        kept = [s for s in seq_of if s is not None]
        if not kept:
            return EncodedSegment([], [], None, {}), 0
        base = min(kept)
        local = [None if s is None else s - base for s in seq_of]
        stats: dict[str, list[int]] = {}
        postings = []
        for name, exact, stems, tails in self.postings:
            out_stems, out_tails = [], []
            docs_with_field: set[int] = set()
            total = 0
            for stem, tail in zip(stems, tails, strict=True):
                deltas, freqs, positions = _decode(b"\x93" + tail)
                numbers = list(accumulate(deltas))
                freqs = freqs if freqs is not None else [1] * len(numbers)
                new_numbers, new_freqs, new_positions = [], [], []
                at = 0
                for n, f in zip(numbers, freqs, strict=True):
                    if local[n] is not None:
                        new_numbers.append(local[n])
                        new_freqs.append(f)
                        if positions is not None:
                            new_positions += positions[at:at + f]
                    at += f
                if not new_numbers:
                    continue
                docs_with_field.update(new_numbers)
                total += len(new_numbers)
                out_stems.append(stem)
                value = (_deltas(new_numbers), None, None) if exact else \
                    (_deltas(new_numbers), new_freqs, new_positions)
                out_tails.append(_encode(value)[1:])
            postings.append((name, exact, out_stems, out_tails))
            if exact and docs_with_field:
                stats[name] = [len(docs_with_field), total]
        columns = []
        for kind, name, tail in self.columns:
            deltas, values = _decode(b"\x92" + tail)
            pairs = [(local[n], v) for n, v in zip(accumulate(deltas), values, strict=True)
                     if local[n] is not None]
            if not pairs:
                continue
            columns.append((kind, name, _encode((_deltas([n for n, _ in pairs]), [v for _, v in pairs]))[1:]))
            if kind == NORMS:
                stats[name] = [len(pairs), sum(v for _, v in pairs)]
        docs = [local[n] for n in accumulate(_decode(self.docs))] if self.docs is not None else []
        docs = [n for n in docs if n is not None]
        return EncodedSegment(postings, columns, _encode(_deltas(docs)) if docs else None, stats), base


_segment_decoder = msgspec.msgpack.Decoder(EncodedSegment)


def encode_segment(segment: EncodedSegment) -> bytes:
    return _encode(segment)


def decode_segment(raw: bytes) -> EncodedSegment:
    return _segment_decoder.decode(raw)


class SegmentWriter:
    """Collects one write batch's documents, then encodes its keys.

    Documents are numbered by their place in the batch (`add_local`) or by sequence
    number (`add`, numbered from the first one added). Per field, each term maps to what
    its documents so far need: for an exact term the number of its one document (most
    terms) or a list of them; for a text term a flat list [number, position, number,
    position, ...] of its occurrences. That is one dictionary lookup and one append per
    token; frequencies are counted once per term, when the batch is encoded."""

    def __init__(self) -> None:
        self.first_seq: int | None = None
        self._docs: list[int] = []
        self._text: dict[str, dict[Any, Any]] = {}
        self._exact: dict[str, dict[Any, Any]] = {}
        self._exact_stats: dict[str, list[int]] = {}
        self._values: dict[str, tuple[list[int], list[Any]]] = {}
        self._norms: dict[str, tuple[list[int], list[int]]] = {}

    def add(self, seq_no: int, doc: IndexedDocument) -> None:
        if self.first_seq is None:
            self.first_seq = seq_no
        self.add_local(seq_no - self.first_seq, doc)

    def add_local(self, n: int, doc: IndexedDocument) -> None:
        self.begin(n)
        for name, (terms, positions) in doc.terms.items():
            if positions is None:
                self.add_exact(n, name, terms)
            else:
                self.add_text(n, name, terms, positions)
        for name, value in doc.doc_values.items():
            self.add_value(n, name, value)
        for name, length in doc.lengths.items():
            self.add_length(n, name, length)

    # A document field by field, what `add_local` does with an IndexedDocument.

    def begin(self, n: int) -> None:
        """Start document n (its fields follow)."""
        self._docs.append(n)

    def add_text(self, n: int, name: str, terms: list, positions: Iterable[int] | None) -> None:
        """A text field's terms at their positions (None: 0, 1, 2, ...)."""
        self.add_text_column(name, [n], [(terms, positions)])

    def add_value(self, n: int, name: str, value: Any) -> None:
        _append(self._values, n, name, value)

    def add_length(self, n: int, name: str, length: int) -> None:
        _append(self._norms, n, name, length)

    def add_exact(self, n: int, name: str, terms: list) -> None:
        """An exact field's terms: each distinct one posts document n once."""
        self.add_exact_column(name, [n], [terms])

    # Many documents of one field at once (the indexing worker's way: a part's documents
    # column by column, which spares a call per field of every document).

    def begin_all(self, numbers: list[int]) -> None:
        """Start documents `numbers` (their fields follow, column by column)."""
        self._docs += numbers

    def add_text_column(self, name: str, numbers: list[int], analyzed: list[tuple[list, Any]]) -> None:
        """Each document n of `numbers` with its (terms, positions). One dictionary lookup
        and one append per token: the hottest loop of indexing."""
        table = self._text.get(name)
        if table is None:
            table = self._text[name] = {}
        get = table.get
        for n, (terms, positions) in zip(numbers, analyzed, strict=True):
            pairs = enumerate(terms) if positions is None else zip(positions, terms, strict=True)
            for position, term in pairs:
                entry = get(term)
                if entry is None:
                    table[term] = [n, position]
                else:
                    entry += (n, position)

    def add_exact_column(self, name: str, numbers: list[int], terms: list[list]) -> None:
        """Each document n of `numbers` with its terms: each distinct one posts n once."""
        table = self._exact.get(name)
        if table is None:
            table = self._exact[name] = {}
            self._exact_stats[name] = [0, 0]
        get = table.get
        docs = total = 0
        for n, found in zip(numbers, terms, strict=True):
            if len(found) != 1:
                found = list(dict.fromkeys(found))  # a repeated value counts once
                if not found:
                    continue
            for term in found:
                entry = get(term)
                if entry is None:
                    table[term] = n
                elif entry.__class__ is int:
                    table[term] = [entry, n]
                else:
                    entry.append(n)
            docs += 1
            total += len(found)
        totals = self._exact_stats[name]
        totals[0] += docs
        totals[1] += total

    def add_value_column(self, name: str, numbers: list[int], values: list[Any]) -> None:
        _extend(self._values, name, numbers, values)

    def add_length_column(self, name: str, numbers: list[int], lengths: list[int]) -> None:
        _extend(self._norms, name, numbers, lengths)

    def encode(self) -> EncodedSegment:
        """The batch's segment, postings in key order: LevelDB inserts each key of a write
        batch into its memtable (a skip list), and keys in order find their place along
        the path the previous key warmed in the CPU caches, where random keys miss them
        (about half the cost of the batch write, measured with a 32 MB memtable)."""
        if not self._docs:
            return EncodedSegment([], [], None, {})
        postings = []
        for name, table in self._exact.items():
            postings.append(_in_key_order(name, True, _stems(POSTINGS, name, table), _exact_tails(table)))
        for name, table in self._text.items():
            postings.append(_in_key_order(name, False, _stems(POSTINGS, name, table), _text_tails(table)))
        postings.sort(key=lambda p: p[0])  # fields in key order too
        columns = [(DOC_VALUES, name, _encode((_deltas(numbers), values))[1:])
                   for name, (numbers, values) in self._values.items()]
        columns += [(NORMS, name, _encode((_deltas(numbers), lengths))[1:])
                    for name, (numbers, lengths) in self._norms.items()]
        stats = {name: [len(numbers), sum(lengths)] for name, (numbers, lengths) in self._norms.items()}
        stats.update((name, totals) for name, totals in self._exact_stats.items() if totals[0])
        return EncodedSegment(postings, columns, _encode(_deltas(self._docs)), stats)

    def emit(self, put, stats: dict[str, list[int]]) -> None:
        """Write the batch's keys with `put` (documents numbered by sequence number, as
        `add` numbers them), and fold its totals into `stats` (field -> [docs, sum]); the
        caller writes those."""
        if self.first_seq is not None:
            self.encode().emit(put, self.first_seq, stats)


def _append(columns: dict[str, tuple[list[int], list[Any]]], n: int, name: str, value: Any) -> None:
    """Document n's value in the batch's column of field `name` (numbers, values)."""
    column = columns.get(name)
    if column is None:
        column = columns[name] = ([], [])
    column[0].append(n)
    column[1].append(value)


def _extend(columns: dict[str, tuple[list[int], list[Any]]], name: str, numbers: list[int],
            values: list[Any]) -> None:
    column = columns.get(name)
    if column is None:
        column = columns[name] = ([], [])
    column[0].extend(numbers)
    column[1].extend(values)


def _stems(kind: bytes, name: str, terms: Iterable) -> list[bytes]:
    """The keys of a field's terms without the batch suffix. Escaping every term when one
    holds a \\0 gives the same keys as escaping that one: without a \\0 the escape is
    the end mark alone, which is all most batches need."""
    prefix = field_prefix(kind, name)
    keys = [term.encode() if term.__class__ is str else term for term in terms]
    if b"\x00" in b"".join(keys):
        return [prefix + escape_term(key) for key in keys]
    return [prefix + key + _STEM_END for key in keys]


def _exact_tail(entry: int | list[int]) -> bytes:
    if entry.__class__ is int:
        return _one(entry) + _NO_FREQS
    return _encode(_deltas(entry)) + _NO_FREQS


def _exact_tails(table: dict[Any, int | list[int]]) -> list[bytes]:
    """The value tails of an exact field's terms; most terms of a batch are in one
    document with a small local number, whose tail is ready made."""
    ready = _EXACT_ONE
    return [ready[entry] if entry.__class__ is int and 0 <= entry < 4096 else _exact_tail(entry)
            for entry in table.values()]


def _text_tails(table: dict[Any, list[int]]) -> list[bytes]:
    """The value tails of a text field's terms, from each term's flat list of
    (document, position) occurrences; most terms of a batch occur once, with a small
    document number and position, whose tail is two ready-made pieces."""
    tails = []
    append = tails.append
    ready, small = _TEXT_ONE, _SMALL
    for entry in table.values():
        if len(entry) != 2:
            append(_text_tail(entry))
            continue
        number, position = entry
        if 0 <= number < 4096 and 0 <= position < 4096:
            append(ready[number] + small[position])
        else:
            append(_one(number) + _FREQ_ONE + _one(position))
    return tails


def _text_tail(entry: list[int]) -> bytes:
    """The tail of a term with several occurrences. Documents are added in turn, so a
    term's numbers ascend strictly unless it occurs more than once in a document: then
    (and for numbers out of order) its documents and frequencies are counted."""
    numbers = entry[0::2]
    gaps = list(map(sub, numbers[1:], numbers))
    if min(gaps) > 0:
        return _encode(([numbers[0], *gaps], [1] * len(numbers), entry[1::2]))[1:]
    docs = list(dict.fromkeys(numbers))
    counts = Counter(numbers)
    return _encode((_deltas(docs), [counts[d] for d in docs], entry[1::2]))[1:]


def _in_key_order(name: str, exact: bool, stems: list[bytes], tails: list[bytes]) -> tuple:
    order = sorted(range(len(stems)), key=stems.__getitem__)
    return name, exact, [stems[i] for i in order], [tails[i] for i in order]


def stats_key(name: str) -> bytes:
    return FIELD_STATS + name.encode()


def encode_stats(totals: list[int]) -> bytes:
    return _encode(totals)


def decode_stats(raw: bytes | None) -> list[int]:
    return list(_decode(raw)) if raw else [0, 0]


def _absolute(base: int, deltas: list[int]) -> list[int]:
    if deltas:
        deltas[0] += base
    return deltas


def deltas_from(seqs: list[int], base: int) -> list[int]:
    """Deltas of ascending sequence numbers, the first from the value's `base`."""
    return [seqs[0] - base, *map(sub, seqs[1:], seqs)] if seqs else []


def encode_postings(base: int, seqs: list[int], freqs: list[int] | None, flat_positions: list[int] | None
                    ) -> bytes:
    """A term's postings under `base` by sequence number (what rollbacks and merges
    rewrite; a batch's own are encoded against places in the batch, EncodedSegment)."""
    return _encode([base, deltas_from(seqs, base), freqs, flat_positions])


def encode_column(base: int, seqs: list[int], values: list[Any]) -> bytes:
    return _encode([base, deltas_from(seqs, base), values])


def encode_docs(base: int, seqs: list[int]) -> bytes:
    return _encode([base, deltas_from(seqs, base)])


def decode_postings(raw: bytes) -> tuple[list[int], list[int] | None, list[list[int]] | None]:
    """One batch's postings of a term: (seq deltas, freqs, positions per document); freqs
    and positions are None for exact terms."""
    value = _decode(raw)
    if len(value) == 3:  # written before the base header
        return value
    base, deltas, freqs, positions = value
    if positions is not None and positions and positions[0].__class__ is int:
        nested = []
        at = 0
        for f in freqs:
            nested.append(positions[at:at + f])
            at += f
        positions = nested
    return _absolute(base, deltas), freqs, positions


def decode_column(raw: bytes) -> tuple[list[int], list[Any]]:
    """One batch's doc values or norms of a field: (seq deltas, values)."""
    value = _decode(raw)
    if len(value) == 2:  # written before the base header
        return value
    base, deltas, values = value
    return _absolute(base, deltas), values


def decode_docs(raw: bytes) -> list[int]:
    """One batch's indexed documents: seq deltas."""
    value = _decode(raw)
    if len(value) == 2 and value[1].__class__ is list:
        return _absolute(value[0], value[1])
    return value  # written before the base header: the deltas alone
