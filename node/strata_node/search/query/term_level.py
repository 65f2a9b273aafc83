"""Term-level queries: exact values, sets of them, ids, existence, and the multi-term
queries that walk a field's terms (prefix, wildcard, regexp).

A term on a text, keyword or boolean field is Lucene's TermQuery and scores by BM25; on
numbers, dates and IPs it is a point query and scores its boost. Terms, ids, exists and
the multi-term queries are constant-score, as Elasticsearch rewrites them by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParsingError, XContentParseError
from ...index.mapping.mappers import FieldMapper
from ..context import ShardContext
from ..matches import Matches
from ..similarity import term_scores
from .base import (
    Query,
    check_value,
    constant,
    field_value,
    query_text,
    register,
    set_common,
    single_field,
    to_bool,
    to_str,
    unsupported,
)
from .combine import member, restrict, union_seqs
from .fields import (
    CONSTANT,
    METADATA,
    TERM_SCORED,
    TEXT,
    boolean_term,
    check_searchable,
    constant_seqs,
    exact_seqs,
    exists_seqs,
    keyword_term,
    metadata_seqs,
    string_field,
)


def term_matches(ctx: ShardContext, field: str, term: bytes, scored: bool, boost: np.float32,
                 doc_freq: int | None = None, within: np.ndarray | None = None) -> Matches:
    """One term's documents (those in `within` when given), scored by BM25 (`doc_freq`
    overrides the term's own, as a blended query does)."""
    postings = ctx.reader.postings(field, term)
    seqs, freqs = restrict(postings.seqs, within, postings.freqs)
    if not scored:
        return Matches(seqs)
    df = ctx.reader.doc_freq(field, term) if doc_freq is None else doc_freq
    return Matches(seqs, term_scores(ctx.reader, field, seqs, freqs, df, boost, norms=has_norms(ctx, field)))


def has_norms(ctx: ShardContext, field: str) -> bool:
    """Text fields keep norms unless mapped with `norms: false` (exact fields have none
    to read, which the similarity finds out for itself)."""
    mapper = ctx.field(field)
    return mapper is None or mapper.type_name not in TEXT or mapper.get("norms") is not False


def all_terms_matches(ctx: ShardContext, field: str, terms: list[bytes], scored: bool,
                      boost: np.float32, within: np.ndarray | None = None) -> Matches:
    """A bool of must term queries, intersected before scoring: only the documents
    holding every term are scored (the sum of the terms' scores, in double)."""
    reader = ctx.reader
    postings = [reader.postings(field, t) for t in terms]
    seqs = min((p.seqs for p in postings), key=len)
    for p in postings:
        if p.seqs is not seqs:
            seqs = seqs[member(seqs, p.seqs)[0]]
    seqs = restrict(seqs, within)[0]
    if not scored:
        return Matches(seqs)
    total = np.zeros(len(seqs), dtype=np.float64)
    norms = has_norms(ctx, field)
    for term, p in zip(terms, postings, strict=True):
        idx = member(seqs, p.seqs)[1]
        doc_freq = reader.doc_freq(field, term)
        total += term_scores(reader, field, seqs, p.freqs[idx], doc_freq, boost, norms=norms)
    return Matches(seqs, total.astype(np.float32))


# -- match_all, match_none ---------------------------------------------------------------------


class MatchAll(Query):
    kind = "match_all"

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return constant(ctx.reader.docs(), scored, boost)


class MatchNone(Query):
    kind = "match_none"

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return Matches.none(scored)


@register("match_all", "match_none")
def parse_match_all(kind: str, body: dict[str, Any]) -> Query:
    query: Query = MatchAll() if kind == "match_all" else MatchNone()
    for key, value in body.items():
        if not set_common(query, kind, key, value):
            raise XContentParseError(f"[{kind}] unknown field [{key}]")
    return query


# -- term, terms --------------------------------------------------------------------------------


class Term(Query):
    kind = "term"

    def __init__(self, field: str, value: Any, case_insensitive: bool = False):
        self.field = field
        self.value = value
        self.case_insensitive = case_insensitive

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = ctx.field(self.field)
        if mapper is None:
            if self.field in METADATA:
                return constant(metadata_seqs(ctx, self.field, [self.value]), scored, boost)
            return Matches.none(scored)
        check_searchable(mapper)
        kind = mapper.type_name
        if self.case_insensitive and kind in ("keyword", CONSTANT, *TEXT):
            wanted = query_text(self.value).lower()
            seqs = walk_terms(ctx, self.field, b"", lambda t: t.lower() == wanted)
            return constant(seqs, scored, boost)
        if kind in TERM_SCORED and mapper.index:
            term = boolean_term(self.value) if kind == "boolean" else keyword_term(ctx, mapper, self.value)
            return term_matches(ctx, self.field, term, scored, boost, within=within)
        seqs, _ = exact_seqs(ctx, mapper, self.value)
        return constant(seqs, scored, boost)


@register("term")
def parse_term(kind: str, body: dict[str, Any]) -> Query:
    field, spec = single_field(kind, body)
    query = Term(field, None)
    # not field_value: a term checks its value as soon as it reads it, so a bad value is
    # reported before a bad parameter that follows it
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "value":
                check_value(kind, value)
                query.value = value
            elif key == "case_insensitive":
                query.case_insensitive = to_bool(kind, key, value)
            elif not set_common(query, kind, key, value):
                raise unsupported(kind, key)
    else:
        check_value(kind, spec)
        query.value = spec
    if query.value is None:
        raise IllegalArgument("value cannot be null")
    return query


class Terms(Query):
    kind = "terms"

    def __init__(self, field: str, values: list[Any]):
        self.field = field
        self.values = values

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = ctx.field(self.field)
        if mapper is None and self.field in METADATA:
            return constant(metadata_seqs(ctx, self.field, self.values), scored, boost)
        if mapper is None or not self.values:
            return Matches.none(scored)
        parts = [exact_seqs(ctx, mapper, v)[0] for v in self.values]
        return constant(union_seqs(parts), scored, boost)


@register("terms")
def parse_terms(kind: str, body: dict[str, Any]) -> Query:
    query = Terms("", [])
    field = None
    for key, value in body.items():
        if isinstance(value, list):
            if field is not None:
                raise ParsingError(f"[{kind}] query does not support multiple fields")
            bad = next((v for v in value if isinstance(v, dict | list) or v is None), False)
            if bad is not False:
                raise ParsingError(f"[{kind}] query does not support values of type [{_token(bad)}]")
            field, query.values = key, list(value)
        elif isinstance(value, dict):
            raise ParsingError(f"[{kind}] query does not support terms lookup (fetching the terms from "
                               "another document)")
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if field is None:
        raise ParsingError(f"[{kind}] query requires a field name, followed by array of terms or a document "
                           "lookup specification")
    query.field = field
    return query


# -- ids, exists --------------------------------------------------------------------------------


class Ids(Query):
    kind = "ids"

    def __init__(self, values: list[str]):
        self.values = values

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        found = [ctx.reader.seq_for_id(v) for v in dict.fromkeys(self.values)]
        seqs = np.unique(np.asarray([s for s in found if s is not None], dtype=np.int64))
        return constant(seqs, scored, boost)


@register("ids")
def parse_ids(kind: str, body: dict[str, Any]) -> Query:
    query = Ids([])
    for key, value in body.items():
        if key == "values":
            if not isinstance(value, list):
                raise XContentParseError(f"[{kind}] values doesn't support values of type: {_token(value)}")
            query.values = [to_str(kind, key, v) for v in value]
        elif key == "type" or key == "types" or not set_common(query, kind, key, value):
            raise XContentParseError(f"[{kind}] unknown field [{key}]")
    return query


def _token(value: Any) -> str:
    from ...common.xcontent import token_name

    return token_name(value)


class Exists(Query):
    kind = "exists"

    def __init__(self, field: str):
        self.field = field

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return constant(exists_seqs(ctx, self.field), scored, boost)


@register("exists")
def parse_exists(kind: str, body: dict[str, Any]) -> Query:
    query = Exists("")
    for key, value in body.items():
        if key == "field":
            query.field = to_str(kind, key, value)
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if not query.field:
        raise ParsingError(f"[{kind}] must be provided with a [field]")
    return query


# -- multi-term queries: prefix, wildcard, regexp ----------------------------------------------


def walk_terms(ctx: ShardContext, field: str, prefix: bytes,
               accept: Callable[[str], bool] | None) -> np.ndarray:
    """Documents of the field's terms that start with `prefix` and that `accept` takes
    (given the term as text). A constant_keyword field has one term, the constant, which
    every document holds."""
    mapper = ctx.field(field)
    if mapper is not None and mapper.type_name == CONSTANT:
        return constant_seqs(ctx, mapper, lambda term: term.encode().startswith(prefix)
                             and (accept is None or accept(term)))
    stop = prefix + b"\xff" if prefix else None  # UTF-8 never holds 0xff
    reader = ctx.reader
    parts = []
    for term in reader.terms(field, prefix, stop):
        if accept is None or accept(term.decode("utf-8", "replace")):
            parts.append(reader.postings(field, term).seqs)
    return union_seqs(parts)


class MultiTerm(Query):
    """Prefix, wildcard and regexp: constant-score queries over the field's terms that
    fit a pattern, searchable on keyword and text fields only. Subclasses say which
    terms fit (`_seqs`); an unmapped field matches nothing."""

    def __init__(self, field: str, value: str, case_insensitive: bool = False):
        self.field = field
        self.value = value
        self.case_insensitive = case_insensitive

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = string_field(ctx, self.field, self.kind)
        if mapper is None:
            return Matches.none(scored)
        return constant(self._seqs(ctx, mapper), scored, boost)

    def _seqs(self, ctx: ShardContext, mapper: FieldMapper) -> np.ndarray:
        raise NotImplementedError(type(self).__name__)


class Prefix(MultiTerm):
    kind = "prefix"

    def _seqs(self, ctx: ShardContext, mapper: FieldMapper) -> np.ndarray:
        if self.case_insensitive:
            wanted = self.value.lower()
            return walk_terms(ctx, self.field, b"", lambda t: t.lower().startswith(wanted))
        return walk_terms(ctx, self.field, keyword_term(ctx, mapper, self.value), None)


def wildcard_regex(pattern: str) -> tuple[str, re.Pattern]:
    """A wildcard pattern's literal prefix and the regular expression of the whole:
    `*` any run, `?` one character, `\\` escapes."""
    parts: list[str] = []
    prefix: list[str] = []
    literal = True
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            parts.append(re.escape(pattern[i]))
            if literal:
                prefix.append(pattern[i])
        elif c == "*":
            parts.append(".*")
            literal = False
        elif c == "?":
            parts.append(".")
            literal = False
        else:
            parts.append(re.escape(c))
            if literal:
                prefix.append(c)
        i += 1
    return "".join(prefix), re.compile("".join(parts), re.DOTALL)


class Wildcard(MultiTerm):
    kind = "wildcard"

    def _seqs(self, ctx: ShardContext, mapper: FieldMapper) -> np.ndarray:
        pattern = self.value
        if mapper.type_name == "keyword" and mapper.normalizer:
            pattern = keyword_term(ctx, mapper, pattern).decode()
        if self.case_insensitive:
            _, regex = wildcard_regex(pattern.lower())
            return walk_terms(ctx, self.field, b"", lambda t: regex.fullmatch(t.lower()) is not None)
        prefix, regex = wildcard_regex(pattern)
        return walk_terms(ctx, self.field, prefix.encode(), lambda t: regex.fullmatch(t) is not None)


class Regexp(MultiTerm):
    kind = "regexp"

    def _seqs(self, ctx: ShardContext, mapper: FieldMapper) -> np.ndarray:
        try:
            regex = re.compile(self.value, re.DOTALL | (re.IGNORECASE if self.case_insensitive else 0))
        except (re.error, OverflowError, RecursionError) as e:  # a repeat past C's range, nesting too deep
            raise IllegalArgument(f"invalid regular expression [{self.value}]: {e}") from None
        return walk_terms(ctx, self.field, b"", lambda t: regex.fullmatch(t) is not None)


_MULTI_TERM = {"prefix": Prefix, "wildcard": Wildcard, "regexp": Regexp}
_IGNORED = {"rewrite", "flags", "max_determinized_states"}


@register("prefix", "wildcard", "regexp")
def parse_multi_term(kind: str, body: dict[str, Any]) -> Query:
    field, spec = single_field(kind, body)
    query = _MULTI_TERM[kind](field, "")

    def option(key: str, value: Any) -> bool:
        if key == "case_insensitive":
            query.case_insensitive = to_bool(kind, key, value)
        elif key in _IGNORED:
            to_str(kind, key, value)
        else:
            return False
        return True

    value_keys = ("value", "wildcard") if kind == "wildcard" else ("value",)
    query.value = query_text(field_value(kind, spec, query, option, value_keys))
    return query

