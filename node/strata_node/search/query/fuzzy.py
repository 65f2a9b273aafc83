"""Fuzzy matching: the terms of a field within an edit distance of a query term, and how
Lucene's FuzzyQuery scores them.

Distances are Damerau-Levenshtein over code points with adjacent transpositions counted
as one edit (LevenshteinAutomata with transpositions), or plain Levenshtein without. The
field's distinct terms are screened with the `regex` module's fuzzy matching (in C) and
the few survivors measured exactly. As FuzzyQuery's default rewrite
(TopTermsBlendedFreqScoringRewrite) does, the `max_expansions` best terms are kept (by
similarity 1 - edits / min(len), then term order), each term query is boosted by its
similarity, and all of them score with the largest document frequency among them, so a
rare misspelling does not outscore the common word it resembles.
"""

from __future__ import annotations

import re as stdre
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from ...common.errors import ParsingError
from ..context import ShardContext
from ..matches import Matches
from .base import (
    Query,
    constant,
    field_value,
    query_text,
    register,
    single_field,
    to_bool,
    to_int,
    to_str,
)
from .combine import disjunction
from .fields import CONSTANT, constant_seqs, keyword_term, string_field

_AUTO = stdre.compile(r"AUTO(?::(\d+),(\d+))?", stdre.IGNORECASE)


@dataclass(frozen=True)
class Fuzziness:
    """`AUTO` (`AUTO:low,high`) or a fixed number of edits."""

    edits: int | None = None
    low: int = 3
    high: int = 6

    def distance(self, text: str) -> int:
        if self.edits is not None:
            return min(self.edits, 2)
        n = len(text)
        return 0 if n < self.low else 1 if n < self.high else 2


AUTO = Fuzziness()


def parse_fuzziness(value: Any) -> Fuzziness:
    if isinstance(value, (bool, dict | list)) or value is None:
        raise ParsingError(f"failed to parse fuzziness [{query_text(value)}]")
    if isinstance(value, int | float):
        return Fuzziness(edits=int(value))
    text = str(value).strip()
    m = _AUTO.fullmatch(text)
    if m is not None:
        if m.group(1) is None:
            return Fuzziness()
        low, high = int(m.group(1)), int(m.group(2))
        if low > high:
            raise ParsingError("fuzziness wrongly configured, must be: lowDistance > highDistance, "
                               f"got [{text}]")
        return Fuzziness(low=low, high=high)
    try:
        return Fuzziness(edits=int(float(text)))
    except (ValueError, OverflowError):
        raise ParsingError(f"failed to parse fuzziness [{text}]") from None


def edit_distance(a: str, b: str, transpositions: bool) -> int:
    """Levenshtein distance, with adjacent transpositions as one edit if asked
    (optimal string alignment)."""
    n, m = len(a), len(b)
    previous2: list[int] | None = None
    previous = list(range(m + 1))
    for i in range(1, n + 1):
        current = [i] + [0] * m
        ca = a[i - 1]
        for j in range(1, m + 1):
            cost = 0 if ca == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if transpositions and previous2 is not None and j > 1 and ca == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        previous2, previous = previous, current
    return previous[m]


def within_edits(text: str, fuzziness: Fuzziness, prefix_length: int,
                 transpositions: bool) -> Callable[[str], bool]:
    """Whether a term is one a fuzzy query of `text` reaches: its prefix kept, within the
    fuzziness's edits (how a constant_keyword's value is tested)."""
    edits, prefix = fuzziness.distance(text), text[:prefix_length]
    return lambda term: term.startswith(prefix) and edit_distance(text, term, transpositions) <= edits


def expand(ctx: ShardContext, field: str, text: str, max_edits: int, prefix_length: int, max_expansions: int,
           transpositions: bool) -> list[tuple[bytes, np.float32]]:
    """The field's terms within `max_edits` of `text`, best first, with their boosts."""
    reader = ctx.reader
    if max_edits == 0 or prefix_length >= len(text):
        term = text.encode()
        return [(term, np.float32(1.0))] if reader.doc_freq(field, term) else []
    prefix = text[:prefix_length]
    rest = text[prefix_length:]
    screen = regex.compile(f"(?:{regex.escape(rest)}){{e<={2 * max_edits if transpositions else max_edits}}}",
                           regex.BESTMATCH)
    candidates: list[tuple[np.float32, bytes]] = []
    start = prefix.encode()
    stop = start + b"\xff" if start else None
    length = len(text)
    for term in reader.terms(field, start, stop):
        word = term.decode("utf-8", "replace")
        if abs(len(word) - length) > max_edits or not word.startswith(prefix):
            continue
        tail = word[prefix_length:]
        if screen.fullmatch(tail) is None:
            continue
        edits = edit_distance(rest, tail, transpositions)
        if edits > max_edits:
            continue
        similarity = np.float32(1.0) if edits == 0 else \
            np.float32(np.float32(1.0) - np.float32(edits) / np.float32(min(len(word), length)))
        candidates.append((similarity, term))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return [(term, boost) for boost, term in candidates[:max_expansions]]


def blended_matches(ctx: ShardContext, field: str, terms: list[tuple[bytes, np.float32]], scored: bool,
                    boost: np.float32, within: np.ndarray | None = None) -> Matches:
    """A bool of should term queries, each boosted, all with the largest document
    frequency among them (BlendedTermQuery)."""
    from .term_level import term_matches  # term_level imports this module's siblings

    if not terms:
        return Matches.none(scored)
    reader = ctx.reader
    doc_freq = max(reader.doc_freq(field, t) for t, _ in terms) if scored else 0
    clauses = [term_matches(ctx, field, t, scored, np.float32(boost * b), doc_freq, within) for t, b in terms]
    return disjunction(clauses, scored)


class Fuzzy(Query):
    kind = "fuzzy"

    def __init__(self, field: str, value: str, fuzziness: Fuzziness = AUTO, prefix_length: int = 0,
                 max_expansions: int = 50, transpositions: bool = True):
        self.field = field
        self.value = value
        self.fuzziness = fuzziness
        self.prefix_length = prefix_length
        self.max_expansions = max_expansions
        self.transpositions = transpositions

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        mapper = string_field(ctx, self.field, self.kind)
        if mapper is None:
            return Matches.none(scored)
        text = keyword_term(ctx, mapper, self.value).decode()
        if mapper.type_name == CONSTANT:
            near = within_edits(text, self.fuzziness, self.prefix_length, self.transpositions)
            return constant(constant_seqs(ctx, mapper, near), scored, boost)
        terms = expand(ctx, self.field, text, self.fuzziness.distance(text), self.prefix_length,
                       self.max_expansions, self.transpositions)
        return blended_matches(ctx, self.field, terms, scored, boost, within)


@register("fuzzy")
def parse_fuzzy(kind: str, body: dict[str, Any]) -> Query:
    field, spec = single_field(kind, body)
    query = Fuzzy(field, "")

    def option(key: str, value: Any) -> bool:
        if key == "fuzziness":
            query.fuzziness = parse_fuzziness(value)
        elif key == "prefix_length":
            query.prefix_length = to_int(kind, key, value)
        elif key == "max_expansions":
            query.max_expansions = to_int(kind, key, value)
            if query.max_expansions <= 0:
                raise ParsingError(f"[{kind}] max_expansions must be positive")
        elif key == "transpositions":
            query.transpositions = to_bool(kind, key, value)
        elif key == "rewrite":
            to_str(kind, key, value)
        else:
            return False
        return True

    query.value = query_text(field_value(kind, spec, query, option))
    return query


@dataclass
class FuzzyOptions:
    """The `fuzzy_*` parameters of query_string and simple_query_string: how the fuzzy
    queries their `term~N` pieces become expand. One reader for both, so the two
    syntaxes accept and refuse the same values."""

    prefix_length: int = 0
    max_expansions: int = 50
    transpositions: bool = True

    def set(self, kind: str, key: str, value: Any) -> bool:
        """Reads one `fuzzy_*` parameter; False if `key` is not one."""
        if key == "fuzzy_prefix_length":
            self.prefix_length = to_int(kind, key, value)
        elif key == "fuzzy_max_expansions":
            self.max_expansions = to_int(kind, key, value)
        elif key == "fuzzy_transpositions":
            self.transpositions = to_bool(kind, key, value)
        else:
            return False
        return True

    def query(self, field: str, text: str, fuzziness: Fuzziness) -> Fuzzy:
        return Fuzzy(field, text, fuzziness, self.prefix_length, self.max_expansions, self.transpositions)
