"""From a parsed document to what it gives the search structures (Lucene's indexing chain).

Text is analyzed into terms with positions and a field length (for BM25 norms); keywords
are exact terms. Numbers, dates, IPs and booleans become terms whose byte order is their
value order, so range queries are LevelDB range scans over a field's terms. Fields with
doc values keep their values for sorting and aggregations.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import Any

from ..engine.index_structures import IndexedDocument
from .analysis import IndexAnalyzers
from .mapping import Mapping, ParsedDocument
from .mapping.mappers import FieldMapper
from .mapping.numbers import FLOAT_TYPES, NUMERIC_TYPES

_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_DOUBLE = struct.Struct(">d")
_U64 = struct.Struct(">Q")


def sortable_long(value: int) -> bytes:
    """Two's complement with the sign bit flipped: byte order is numeric order."""
    return _U64.pack((value + _SIGN) & _MASK)


def sortable_double(value: float) -> bytes:
    """IEEE 754 bits, all flipped for negatives and the sign flipped for positives."""
    bits = _U64.unpack(_DOUBLE.pack(value))[0]
    return _U64.pack(bits ^ _MASK if bits & _SIGN else bits | _SIGN)


def sortable_ip(value: str) -> bytes:
    """16 bytes, IPv4 as IPv4-mapped IPv6, as Lucene's InetAddressPoint encodes them."""
    address = ipaddress.ip_address(value)
    if address.version == 4:
        return b"\x00" * 10 + b"\xff\xff" + address.packed
    return address.packed


def _term_encoder(mapper: FieldMapper) -> Callable[[Any], bytes] | None:
    kind = mapper.type_name
    if kind in FLOAT_TYPES:
        return lambda v: sortable_double(float(v))
    if kind in NUMERIC_TYPES or kind == "date":
        return sortable_long
    if kind == "boolean":
        return lambda v: b"T" if v else b"F"
    if kind == "ip":
        return sortable_ip
    if kind == "keyword":
        return str  # encoded once per batch by the segment writer
    return None


class DocumentIndexer:
    """Builds IndexedDocuments for one mapping and one set of analyzers (both immutable,
    so the per-field plan is worked out once)."""

    def __init__(self, mapping: Mapping, analyzers: IndexAnalyzers):
        self.mapping = mapping
        self.analyzers = analyzers
        self._plans: dict[str, tuple] = {}

    def _plan(self, path: str) -> tuple:
        plan = self._plans.get(path)
        if plan is None:
            mapper = self.mapping.field(path)
            if mapper is None:  # not a leaf of this mapping (cannot happen for a parse of it)
                plan = (None, None, False, False, None)
            elif mapper.type_name in ("text", "match_only_text"):
                analyzer = self.analyzers.analyzer(mapper.analyzer) if mapper.analyzer != "default" \
                    else self.analyzers.default
                plan = ("text", analyzer or self.analyzers.default, mapper.index, False, None)
            else:
                normalizer = self.analyzers.normalizer(mapper.normalizer) if mapper.normalizer else None
                plan = ("exact", _term_encoder(mapper), mapper.index, mapper.doc_values, normalizer)
            self._plans[path] = plan
        return plan

    def __call__(self, parsed: ParsedDocument) -> IndexedDocument:
        doc = IndexedDocument()
        plans = self._plans
        for path, values in parsed.fields.items():
            if not values:
                continue
            plan = plans.get(path) or self._plan(path)
            kind, how, indexed, doc_values, normalizer = plan
            if kind == "text":
                if indexed:
                    tokens = how.analyze_values(values) if len(values) > 1 else how.analyze(values[0])
                    doc.terms[path] = (tokens.terms, tokens.position_list())
                    doc.lengths[path] = len(tokens.terms)
            elif kind == "exact":
                if normalizer is not None:
                    values = ["".join(normalizer.analyze(v).terms) for v in values]
                if indexed and how is not None:
                    doc.terms[path] = ([how(v) for v in values], None)
                if doc_values:
                    doc.doc_values[path] = values[0] if len(values) == 1 else list(values)
        return doc
