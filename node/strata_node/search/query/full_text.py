"""Full-text queries: match, match_phrase, match_phrase_prefix, match_bool_prefix and
multi_match, built as Elasticsearch's MatchQueryParser builds them.

A match analyzes its text with the field's search analyzer: one term is a TermQuery,
several are a bool of should term queries (must with `operator: and`), with
`minimum_should_match` applied to the should clauses; terms at the same position
(synonyms) form one clause that sums their frequencies. Keyword fields see the whole
text as one (normalized) term; numbers, dates, booleans and IPs take a term query of the
raw value, failing unless `lenient`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParseError, ParsingError, StrataError
from ..context import ShardContext
from ..matches import Matches
from ..similarity import field_statistics, term_scores
from .analysis import minimum_should_match, positions_and_terms
from .base import (
    Query,
    constant,
    parse_operator,
    query_text,
    register,
    set_common,
    single_field,
    to_bool,
    to_float,
    to_int,
    to_str,
    unsupported,
)
from .combine import conjunction, dis_max, disjunction, member, restrict
from .fields import (
    CONSTANT,
    METADATA,
    TEXT,
    boolean_term,
    check_searchable,
    constant_seqs,
    exact_seqs,
    metadata_seqs,
)
from .fuzzy import Fuzziness, blended_matches, expand, parse_fuzziness, within_edits
from .phrase import PhraseSpec, phrase_matches
from .term_level import all_terms_matches, has_norms, term_matches, walk_terms

BOOLEAN, PHRASE, PHRASE_PREFIX, BOOL_PREFIX = "boolean", "phrase", "phrase_prefix", "bool_prefix"


@dataclass
class MatchOptions:
    """The parameters match and multi_match share."""

    operator: str = "or"
    minimum_should_match: str | None = None
    analyzer: str | None = None
    fuzziness: Fuzziness | None = None
    prefix_length: int = 0
    max_expansions: int = 50
    transpositions: bool = True
    lenient: bool = False
    zero_terms_query: str = "none"
    slop: int = 0
    kind: str = "match"


def _synonyms(ctx: ShardContext, field: str, terms: list[bytes], scored: bool, boost: np.float32,
              within: np.ndarray | None = None) -> Matches:
    """SynonymQuery: one clause for the terms at one position, with their frequencies
    summed per document and the largest document frequency."""
    reader = ctx.reader
    postings = [reader.postings(field, t) for t in terms]
    postings = [p for p in postings if len(p.seqs)]
    if not postings:
        return Matches.none(scored)
    seqs = restrict(np.unique(np.concatenate([p.seqs for p in postings])), within)[0]
    if not scored:
        return Matches(seqs)
    freqs = np.zeros(len(seqs), dtype=np.int64)
    for p in postings:
        found, idx = member(p.seqs, seqs)
        freqs[idx[found]] += p.freqs[found]
    doc_freq = max(reader.doc_freq(field, t) for t in terms)
    norms = has_norms(ctx, field)
    return Matches(seqs, term_scores(reader, field, seqs, freqs, doc_freq, boost, norms=norms))


def _clause(ctx: ShardContext, field: str, terms: list[str], opts: MatchOptions, scored: bool,
            boost: np.float32, within: np.ndarray | None = None) -> Matches:
    """The query for one position of the text."""
    if opts.fuzziness is not None:
        if len(terms) == 1:
            text = terms[0]
            expanded = expand(ctx, field, text, opts.fuzziness.distance(text), opts.prefix_length,
                              opts.max_expansions, opts.transpositions)
            return blended_matches(ctx, field, expanded, scored, boost, within)
        return disjunction([_clause(ctx, field, [t], opts, scored, boost, within) for t in terms], scored)
    if len(terms) == 1:
        return term_matches(ctx, field, terms[0].encode(), scored, boost, within=within)
    return _synonyms(ctx, field, [t.encode() for t in terms], scored, boost, within)


def _zero_terms(ctx: ShardContext, opts: MatchOptions, scored: bool, boost: np.float32) -> Matches:
    if opts.zero_terms_query == "all":
        return constant(ctx.reader.docs(), scored, boost)
    return Matches.none(scored)


def _constant_test(text: str, opts: MatchOptions, mode: str):
    """What a match asks of a constant_keyword's value: the whole text (the keyword
    analyzer's one token), as a prefix in the prefix modes, or within the fuzziness."""
    if opts.fuzziness is not None:
        return within_edits(text, opts.fuzziness, opts.prefix_length, opts.transpositions)
    if mode in (PHRASE_PREFIX, BOOL_PREFIX):
        return lambda value: value.startswith(text)
    return text.__eq__


def match_field(ctx: ShardContext, field: str, text: Any, opts: MatchOptions, mode: str, scored: bool,
                boost: np.float32, within: np.ndarray | None = None) -> Matches:
    """One field's match (of the given mode), or nothing for an unmapped field."""
    mapper = ctx.field(field)
    if mapper is None:
        if field in METADATA:
            return constant(metadata_seqs(ctx, field, [text]), scored, boost)
        return Matches.none(scored)
    check_searchable(mapper)
    kind = mapper.type_name
    if kind == CONSTANT:
        test = _constant_test(query_text(text), opts, mode)
        return constant(constant_seqs(ctx, mapper, test), scored, boost)
    if kind == "boolean" and mapper.index and opts.fuzziness is None:
        try:
            term = boolean_term(text)
        except StrataError:
            if opts.lenient:
                return Matches.none(scored)
            raise
        return term_matches(ctx, field, term, scored, boost, within=within)  # a TermQuery, scored
    if kind == "keyword" and not mapper.index:  # searchable through doc values only: exact, unscored
        return constant(exact_seqs(ctx, mapper, text)[0], scored, boost)
    if kind not in TEXT and kind != "keyword":
        if opts.fuzziness is not None and not opts.lenient:
            raise IllegalArgument(f"Can only use fuzzy queries on keyword and text fields - not on [{field}] "
                                  f"which is of type [{kind}]")
        try:
            seqs, _ = exact_seqs(ctx, mapper, text)
        except StrataError:
            if opts.lenient:
                return Matches.none(scored)
            raise
        return constant(seqs, scored, boost)
    quoted = mode in (PHRASE, PHRASE_PREFIX)
    groups = positions_and_terms(ctx, mapper, query_text(text), opts.analyzer, quoted=quoted, kind=opts.kind)
    if not groups:
        return _zero_terms(ctx, opts, scored, boost)
    if mode in (PHRASE, PHRASE_PREFIX):
        return _phrase(ctx, field, groups, opts, mode, scored, boost)
    if mode == BOOL_PREFIX:
        *head, (_, last) = groups
        clauses = [_clause(ctx, field, terms, opts, scored, boost, within) for _, terms in head]
        clauses.append(constant(walk_terms(ctx, field, last[0].encode(), None), scored, boost))
    elif opts.operator == "and" and opts.fuzziness is None and all(len(terms) == 1 for _, terms in groups):
        terms = [terms[0].encode() for _, terms in groups]
        return all_terms_matches(ctx, field, terms, scored, boost, within)
    else:
        clauses = [_clause(ctx, field, terms, opts, scored, boost, within) for _, terms in groups]
    if len(clauses) == 1:
        return clauses[0]
    if opts.operator == "and":
        return conjunction(clauses, [True] * len(clauses), scored)
    minimum = minimum_should_match(len(clauses), opts.minimum_should_match)
    return disjunction(clauses, scored, max(minimum, 1))


def _phrase(ctx: ShardContext, field: str, groups: list[tuple[int, list[str]]], opts: MatchOptions, mode: str,
            scored: bool, boost: np.float32) -> Matches:
    places = [(position, [t.encode() for t in terms]) for position, terms in groups]
    if mode == PHRASE_PREFIX:
        position, last = places[-1]
        expansions = []
        for term in ctx.reader.terms(field, last[0], last[0] + b"\xff"):
            expansions.append(term)
            if len(expansions) >= opts.max_expansions:
                break
        if not expansions:
            return Matches.none(scored)
        places[-1] = (position, expansions)
    if len(places) == 1:
        _, terms = places[0]
        if len(terms) == 1:
            return term_matches(ctx, field, terms[0], scored, boost)
        if mode == PHRASE_PREFIX:
            return disjunction([term_matches(ctx, field, t, scored, boost) for t in terms], scored)
        return _synonyms(ctx, field, terms, scored, boost)
    return phrase_matches(ctx, PhraseSpec(field, places, opts.slop), scored, boost)


# -- match, match_phrase, match_phrase_prefix, match_bool_prefix -------------------------------


class Match(Query):
    kind = "match"

    def __init__(self, field: str, text: Any, opts: MatchOptions, mode: str = BOOLEAN):
        self.field = field
        self.text = text
        self.opts = opts
        self.mode = mode

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        return match_field(ctx, self.field, self.text, self.opts, self.mode, scored, boost, within)


_MODES = {"match": BOOLEAN, "match_phrase": PHRASE, "match_phrase_prefix": PHRASE_PREFIX,
          "match_bool_prefix": BOOL_PREFIX}
# what each form accepts besides query, analyzer, boost and _name
_PARAMS = {
    "match": {"operator", "minimum_should_match", "fuzziness", "prefix_length", "max_expansions",
              "fuzzy_transpositions", "lenient", "zero_terms_query", "fuzzy_rewrite",
              "auto_generate_synonyms_phrase_query"},
    "match_phrase": {"slop", "zero_terms_query"},
    "match_phrase_prefix": {"slop", "max_expansions", "zero_terms_query"},
    "match_bool_prefix": {"operator", "minimum_should_match", "fuzziness", "prefix_length", "max_expansions",
                          "fuzzy_transpositions", "fuzzy_rewrite"},
}


def set_match_option(opts: MatchOptions, kind: str, key: str, value: Any) -> bool:
    """Reads one shared option into `opts`; False if `key` is not one."""
    if key == "operator":
        opts.operator = parse_operator(kind, key, value)
    elif key == "minimum_should_match":
        opts.minimum_should_match = to_str(kind, key, value)
    elif key == "analyzer":
        opts.analyzer = to_str(kind, key, value)
    elif key == "fuzziness":
        opts.fuzziness = parse_fuzziness(value)
    elif key == "prefix_length":
        opts.prefix_length = to_int(kind, key, value)
        if opts.prefix_length < 0:
            raise IllegalArgument(f"[{kind}] requires prefix length to be non-negative.")
    elif key == "max_expansions":
        opts.max_expansions = to_int(kind, key, value)
        if opts.max_expansions <= 0:
            raise IllegalArgument(f"[{kind}] requires maxExpansions to be positive.")
    elif key == "fuzzy_transpositions":
        opts.transpositions = to_bool(kind, key, value)
    elif key == "lenient":
        opts.lenient = to_bool(kind, key, value)
    elif key == "zero_terms_query":
        text = to_str(kind, key, value).lower()
        if text not in ("none", "all"):
            raise ParsingError(f"Unsupported zero_terms_query value [{value}]")
        opts.zero_terms_query = text
    elif key == "slop":
        opts.slop = to_int(kind, key, value)
        if opts.slop < 0:
            raise IllegalArgument("No negative slop allowed.")
    elif key in ("fuzzy_rewrite", "auto_generate_synonyms_phrase_query"):
        to_str(kind, key, value)
    else:
        return False
    return True


def _text_value(kind: str, key: str, value: Any) -> Any:
    if isinstance(value, dict | list) or value is None:
        token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY" if isinstance(value, list) \
            else "VALUE_NULL"
        raise ParsingError(f"[{kind}] unknown token [{token}] after [{key}]")
    return value


@register("match", "match_phrase", "match_phrase_prefix", "match_bool_prefix")
def parse_match(kind: str, body: dict[str, Any]) -> Query:
    field, spec = single_field(kind, body)
    opts = MatchOptions(kind=kind)
    query = Match(field, None, opts, _MODES[kind])
    allowed = _PARAMS[kind]
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "query":
                query.text = _text_value(kind, key, value)
            elif key in allowed or key == "analyzer":
                set_match_option(opts, kind, key, value)
            elif not set_common(query, kind, key, value):
                raise unsupported(kind, key)
    else:
        query.text = _text_value(kind, field, spec)
    if query.text is None:
        raise ParsingError("No text specified for text query")
    return query


# -- multi_match --------------------------------------------------------------------------------

_TYPES = {"best_fields": (BOOLEAN, 0.0), "most_fields": (BOOLEAN, 1.0), "cross_fields": (BOOLEAN, 0.0),
          "phrase": (PHRASE, 0.0), "phrase_prefix": (PHRASE_PREFIX, 0.0), "bool_prefix": (BOOL_PREFIX, 1.0)}
_SEARCHABLE = {"text", "match_only_text", "keyword", "constant_keyword", "long", "integer", "short", "byte",
               "unsigned_long", "double", "float", "half_float", "scaled_float", "date", "boolean", "ip"}


def parse_match_type(kind: str, key: str, value: Any) -> str:
    """A multi_match `type`, which query_string's `type` also names."""
    name = to_str(kind, key, value).lower()
    if name not in _TYPES:
        raise ParseError(f"failed to parse [multi_match] query type [{value}]. unknown type.")
    return name


def parse_field_boost(spec: str) -> tuple[str, np.float32]:
    """`title^2` -> ("title", 2.0)."""
    name, caret, boost = spec.partition("^")
    if not caret:
        return spec, np.float32(1.0)
    try:
        return name, np.float32(float(boost))
    except ValueError:
        raise IllegalArgument(f"For input string: \"{boost}\"") from None


def resolve_fields(ctx: ShardContext, fields: list[tuple[str, np.float32]]) -> list[tuple[str, np.float32]]:
    """Field names and patterns -> mapped fields with their boosts (a field named twice
    multiplies its boosts). Patterns match only the types a text query can search."""
    out: dict[str, np.float32] = {}
    for name, boost in fields:
        if "*" in name:
            for path, mapper in ctx.mapping.fields.items():
                searchable = not path.startswith("_") and mapper.type_name in _SEARCHABLE
                if searchable and fnmatch.fnmatchcase(path, name):
                    out[path] = np.float32(out[path] * boost) if path in out else boost
        else:
            out[name] = np.float32(out[name] * boost) if name in out else boost
    return list(out.items())


class MultiMatch(Query):
    kind = "multi_match"

    def __init__(self) -> None:
        self.text: Any = None
        self.fields: list[tuple[str, np.float32]] = []
        self.type = "best_fields"
        self.tie_breaker: float | None = None
        self.opts = MatchOptions(kind="multi_match")

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        fields = self.fields or [("*", np.float32(1.0))]
        opts = self.opts
        if any(name == "*" for name, _ in fields):
            opts = replace(opts, lenient=True)  # searching every field cannot fail on one
        resolved = resolve_fields(ctx, fields)
        mode, default_tie = _TYPES[self.type]
        tie = default_tie if self.tie_breaker is None else self.tie_breaker
        if self.type == "cross_fields":
            return self._cross_fields(ctx, resolved, opts, scored, boost, tie)
        per_field = [match_field(ctx, name, self.text, opts, mode, scored, np.float32(boost * field_boost),
                                 within) for name, field_boost in resolved]
        return dis_max(per_field, scored, tie)

    def _cross_fields(self, ctx: ShardContext, fields: list[tuple[str, np.float32]], opts: MatchOptions,
                      scored: bool, boost: np.float32, tie: float) -> Matches:
        """One field made of several (MultiMatchQueryParser.buildCrossFieldQuery): fields
        are grouped by analyzer, and in a group of several each position of the text is
        one BlendedTermQuery over every field and term there (`_blended`); a group of one
        field is a plain match on it. The positions then combine as a match's would.
        Fields that are not text or keyword are queried on their own."""
        groups: dict[str, list[tuple[str, np.float32]]] = {}
        singles: list[Matches] = []
        for name, field_boost in fields:
            mapper = ctx.field(name)
            if mapper is None:
                continue
            if mapper.type_name not in TEXT and mapper.type_name != "keyword":
                singles.append(match_field(ctx, name, self.text, opts, BOOLEAN, scored,
                                           np.float32(boost * field_boost)))
                continue
            key = opts.analyzer or (mapper.params.get("search_analyzer") or mapper.get("analyzer")
                                    if mapper.type_name != "keyword" else f"keyword/{mapper.normalizer}")
            groups.setdefault(key, []).append((name, field_boost))
        results = singles
        text = query_text(self.text)
        for group in groups.values():
            first = ctx.field(group[0][0])
            assert first is not None
            positions = positions_and_terms(ctx, first, text, opts.analyzer, kind="multi_match")
            if not positions:
                results.append(_zero_terms(ctx, opts, scored, boost))
                continue
            if len(group) == 1:
                name, field_boost = group[0]
                clauses = [_clause(ctx, name, terms, opts, scored, np.float32(boost * field_boost))
                           for _, terms in positions]
            else:
                clauses = [_blended(ctx, group, terms, scored, boost, tie) for _, terms in positions]
            if len(clauses) == 1:
                results.append(clauses[0])
            elif opts.operator == "and":
                results.append(conjunction(clauses, [True] * len(clauses), scored))
            else:
                minimum = minimum_should_match(len(clauses), opts.minimum_should_match)
                results.append(disjunction(clauses, scored, max(minimum, 1)))
        return dis_max(results, scored, tie)


def _blended(ctx: ShardContext, group: list[tuple[str, np.float32]], terms: list[str], scored: bool,
             boost: np.float32, tie: float) -> Matches:
    """MultiMatchQueryParser.blendTerms: one position's terms (several for synonyms) in
    every field of the group, as BlendedTermQuery.dismaxBlendedQuery makes them: a
    dis_max of term queries, each scored with the document frequency `blend` gives it."""
    reader = ctx.reader
    pairs = [(name, field_boost, term.encode()) for name, field_boost in group for term in terms]
    doc_freqs = blend(reader, [name for name, _, _ in pairs],
                      [reader.doc_freq(name, term) for name, _, term in pairs])
    per_pair = [term_matches(ctx, name, term, scored, np.float32(boost * field_boost), df)
                for (name, field_boost, term), df in zip(pairs, doc_freqs, strict=True) if df]
    return dis_max(per_pair, scored, tie)


def blend(reader, fields: list[str], doc_freqs: list[int]) -> list[int]:
    """BlendedTermQuery.blend: the document frequency each (field, term) is scored with.
    The fields are walked from the largest frequency down (ties in their order); the
    first takes the largest, and each one below the one before it takes one more than
    the previous took, so a term is rarest where it is most common and a field where it
    is rare is not ranked for the rarity. Each is capped by its field's document count
    and by the smallest sum of term frequencies of the fields that hold the term (ES caps
    maxDoc with it; a field's document count never exceeds maxDoc, so that cap is the one
    that counts). The total term frequencies blend too, but BM25 does not read them."""
    if len(doc_freqs) <= 1:
        return doc_freqs
    top = max(doc_freqs)
    if top == 0:
        return doc_freqs
    stats = [field_statistics(reader, field, df) for field, df in zip(fields, doc_freqs, strict=True)]
    min_sum_ttf = min(st.sum_total_term_freq for st, df in zip(stats, doc_freqs, strict=True) if df > 0)
    order = sorted(range(len(doc_freqs)), key=lambda i: -doc_freqs[i])  # stable, as InPlaceMergeSorter
    prev = doc_freqs[order[0]]
    actual = min(min_sum_ttf, top)
    blended = list(doc_freqs)
    for i in order:
        current = doc_freqs[i]
        if current == 0:
            break
        if prev > current:
            actual += 1
        blended[i] = min(actual, stats[i].doc_count, min_sum_ttf)
        prev = current
    return blended


_MULTI_PARAMS = {"operator", "minimum_should_match", "analyzer", "fuzziness", "prefix_length",
                 "max_expansions", "fuzzy_transpositions", "lenient", "zero_terms_query", "slop",
                 "fuzzy_rewrite", "auto_generate_synonyms_phrase_query"}


@register("multi_match")
def parse_multi_match(kind: str, body: dict[str, Any]) -> Query:
    query = MultiMatch()
    for key, value in body.items():
        if key == "query":
            query.text = _text_value(kind, key, value)
        elif key == "fields":
            names = value if isinstance(value, list) else [value]
            for name in names:
                if not isinstance(name, str):
                    raise ParsingError(f"[{kind}] query does not support [{key}]")
                query.fields.append(parse_field_boost(name))
        elif key == "type":
            query.type = parse_match_type(kind, key, value)
        elif key == "tie_breaker":
            query.tie_breaker = float(to_float(kind, key, value))
        elif key in _MULTI_PARAMS:
            set_match_option(query.opts, kind, key, value)
        elif not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if query.text is None:
        raise IllegalArgument("[multi_match] requires query value")
    if query.opts.fuzziness is not None and query.type in ("cross_fields", "phrase", "phrase_prefix"):
        raise ParsingError(f"Fuzziness not allowed for type [{query.type}]")
    return query
