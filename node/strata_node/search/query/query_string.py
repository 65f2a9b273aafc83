"""query_string and the `q=` of URI search: Lucene's classic query syntax, as
Elasticsearch's QueryStringQueryParser reads it.

    status:active AND (title:"quick fox"~2 OR body:qu*) -draft age:>=18 date:[2024-01-01 TO now}
    _exists_:user  name:jon~1  title:(quick brown)^2  /jo[nh]n/  *:*

The text is parsed when the query runs on a shard (a syntax error is a
query_shard_exception "Failed to parse query [...]", as in Elasticsearch), into a tree of
the DSL's own queries: a term becomes a match on each field (a dis_max across several,
with `tie_breaker`; with `type: cross_fields`, one cross_fields multi_match over them),
a quoted text a match_phrase, `*`/`?` a wildcard, `~` fuzzy or slop,
brackets a range. Clauses combine with Lucene's rules for `+`, `-`, `NOT`, `AND`, `OR`
and `default_operator`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, ParseError, QueryShardError
from ..context import ShardContext
from ..matches import Matches
from .analysis import normalize
from .base import Query, parse_operator, register, set_common, to_bool, to_float, to_int, to_str, unsupported
from .compound import Bool, DisMax
from .fields import TEXT
from .full_text import (
    PHRASE,
    Match,
    MatchOptions,
    MultiMatch,
    parse_field_boost,
    parse_match_type,
    resolve_fields,
)
from .fuzzy import AUTO, Fuzziness, FuzzyOptions, parse_fuzziness
from .range import Range
from .string_queries import (
    across_fields,
    bool_of,
    every_field,
    is_lenient,
    on_field,
    parse_fields,
    searches_every_field,
)
from .term_level import Exists, MatchAll, MatchNone, Prefix, Regexp, Wildcard

_SPECIAL = set(' \t\n\r\u3000()[]{}:^~"/!')
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MUST, SHOULD, MUST_NOT = "must", "should", "must_not"
_PUNCTUATION = {"(": "lparen", ")": "rparen", ":": "colon", "+": "plus", "-": "minus", "!": "not"}


@dataclass
class Token:
    kind: str  # term quoted range regexp cmp and or not plus minus lparen rparen colon boost tilde
    text: str = ""
    wild: bool = False  # a term with an unescaped * or ?
    extra: Any = None


class QueryStringSyntaxError(Exception):
    pass


def _lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[c]))
            i += 1
        elif text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(Token("and" if c == "&" else "or"))
            i += 2
        elif c == "^":
            m = _NUMBER.match(text, i + 1)
            if m is None:
                raise QueryStringSyntaxError(f"Encountered \"^\" at line 1, column {i}.")
            tokens.append(Token("boost", m.group()))
            i = m.end()
        elif c == "~":
            m = _NUMBER.match(text, i + 1)
            tokens.append(Token("tilde", m.group() if m else ""))
            i = m.end() if m else i + 1
        elif c == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            if j >= n:
                raise QueryStringSyntaxError(f"Lexical error at line 1, column {n + 1}.  Encountered: <EOF> "
                                             f"after : \"{text[i:]}\"")
            tokens.append(Token("quoted", "".join(out)))
            i = j + 1
        elif c == "/":
            j, out = i + 1, []
            while j < n and text[j] != "/":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "/":
                    j += 1
                out.append(text[j])
                j += 1
            if j >= n:
                raise QueryStringSyntaxError(f"Lexical error at line 1, column {n + 1}.  Encountered: <EOF>")
            tokens.append(Token("regexp", "".join(out)))
            i = j + 1
        elif c in "[{":
            j = i + 1
            while j < n and text[j] not in "]}":
                j += 1
            if j >= n:
                raise QueryStringSyntaxError(f"Encountered \"<EOF>\" at line 1, column {n}.")
            parts = _range_parts(text[i + 1:j])
            tokens.append(Token("range", text[i:j + 1], extra=(parts, c == "[", text[j] == "]")))
            i = j + 1
        elif c in "<>" and (not tokens or tokens[-1].kind == "colon"):
            op = text[i:i + 2] if text.startswith("=", i + 1) else c
            i += len(op)
            term, wild, i = _read_term(text, i)
            tokens.append(Token("cmp", term, extra=op))
        else:
            term, wild, i = _read_term(text, i)
            if not wild and term in ("AND", "OR", "NOT"):
                tokens.append(Token(term.lower()))
            else:
                tokens.append(Token("term", term, wild))
    return tokens


def _read_term(text: str, i: int) -> tuple[str, bool, int]:
    """A term up to the next special character; backslash escapes one character. Returns
    the term, whether it has a wildcard (kept as `*`/`?`, escaped ones as `\\*`/`\\?`),
    and where it ends."""
    out: list[str] = []
    wild = False
    n = len(text)
    start = i
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append("\\" + nxt if nxt in "*?\\" else nxt)
            i += 2
            continue
        if c in _SPECIAL or (c in "+-" and i == start) or text.startswith(("&&", "||"), i):
            break
        if c in "*?":
            wild = True
        out.append(c)
        i += 1
    if i == start:
        raise QueryStringSyntaxError(f"Encountered \"{text[i]}\" at line 1, column {i}.")
    return "".join(out), wild, i


def _range_parts(inside: str) -> tuple[str | None, str | None]:
    m = re.fullmatch(r'\s*("(?:[^"\\]|\\.)*"|\S+)\s+TO\s+("(?:[^"\\]|\\.)*"|\S+)\s*', inside)
    if m is None:
        raise QueryStringSyntaxError(f"Encountered \"{inside}\" at line 1.")

    def bound(part: str) -> str | None:
        if part == "*":
            return None
        return part[1:-1] if part.startswith('"') else part

    return bound(m.group(1)), bound(m.group(2))


def _unescape(term: str) -> str:
    return re.sub(r"\\(.)", r"\1", term)


# -- the syntax tree ------------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # bool, term, phrase, wildcard, regexp, range, cmp, exists, all
    field: str | None = None
    text: str = ""
    clauses: list[tuple[str, Node]] | None = None
    fuzzy: str | None = None  # the `~` of a term: "" for the default fuzziness
    slop: int | None = None
    boost: float = 1.0
    extra: Any = None


class _Parser:
    """Lucene's QueryParser grammar: Query ::= Modifiers Clause (Conjunction Modifiers Clause)*"""

    def __init__(self, tokens: list[Token], default_and: bool):
        self.tokens = tokens
        self.i = 0
        self.default_and = default_and

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def query(self, field: str | None) -> Node | None:
        clauses: list[tuple[str, Node]] = []
        first: Node | None = None
        count = 0
        while True:
            token = self.peek()
            if token is None or token.kind == "rparen":
                break
            conj = None
            if token.kind in ("and", "or"):
                if count == 0:
                    raise QueryStringSyntaxError(f"Encountered \" <{token.kind.upper()}> \" at line 1.")
                conj = self.take().kind
                token = self.peek()
                if token is None:
                    raise QueryStringSyntaxError("Encountered \"<EOF>\" at line 1.")
            mods = None
            if token.kind in ("plus", "minus", "not"):
                mods = "req" if self.take().kind == "plus" else "not"
            node = self.clause(field)
            self._add(clauses, conj, mods, node)
            if count == 0 and mods is None:
                first = node
            count += 1
        if count == 1 and first is not None:
            return first
        if not clauses:
            return None
        return Node("bool", field, clauses=clauses)

    def _add(self, clauses: list[tuple[str, Node]], conj: str | None, mods: str | None,
             node: Node | None) -> None:
        if clauses and conj == "and":
            occur, previous = clauses[-1]
            if occur != MUST_NOT:
                clauses[-1] = (MUST, previous)
        if clauses and self.default_and and conj == "or":
            occur, previous = clauses[-1]
            if occur != MUST_NOT:
                clauses[-1] = (SHOULD, previous)
        if node is None:
            return
        prohibited = mods == "not"
        if not self.default_and:
            required = mods == "req" or (conj == "and" and not prohibited)
        else:
            required = not prohibited and conj != "or"
        clauses.append((MUST_NOT if prohibited else MUST if required else SHOULD, node))

    def clause(self, field: str | None) -> Node | None:
        token = self.peek()
        if token is None:
            raise QueryStringSyntaxError("Encountered \"<EOF>\" at line 1.")
        following = self.peek(1)
        if token.kind == "term" and following is not None and following.kind == "colon":
            field = _unescape(token.text)
            self.i += 2
            token = self.peek()
            if token is None:
                raise QueryStringSyntaxError("Encountered \"<EOF>\" at line 1.")
        if token.kind == "lparen":
            self.take()
            node = self.query(field)
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QueryStringSyntaxError("Encountered \"<EOF>\" at line 1. Was expecting: \")\"")
            self.take()
            boost = self._boost()
            if node is not None and boost is not None:
                node.boost *= boost
            return node
        return self.term(field)

    def _boost(self) -> float | None:
        token = self.peek()
        if token is not None and token.kind == "boost":
            self.take()
            return float(token.text)
        return None

    def term(self, field: str | None) -> Node:
        token = self.take()
        if token.kind == "term":
            node = self._plain_term(field, token)
        elif token.kind == "quoted":
            node = Node("phrase", field, token.text)
            if self.peek() is not None and self.peek().kind == "tilde":
                slop = self.take().text
                node.slop = int(float(slop)) if slop else 0
        elif token.kind == "range":
            (low, high), include_low, include_high = token.extra
            node = Node("range", field, extra=(low, high, include_low, include_high))
        elif token.kind == "cmp":
            node = Node("cmp", field, _unescape(token.text), extra=token.extra)
        elif token.kind == "regexp":
            node = Node("regexp", field, token.text)
        else:
            raise QueryStringSyntaxError(f"Encountered \" \"{_shown(token)}\" \" at line 1.")
        boost = self._boost()
        if boost is not None:
            node.boost *= boost
        return node

    def _plain_term(self, field: str | None, token: Token) -> Node:
        text = token.text
        if token.wild:
            if text == "*" and field == "*":
                return Node("all")
            if text == "*":  # existence; on every field (the default `*`), match_all
                return Node("exists", field)
            return Node("wildcard", field, text)
        if field == "_exists_":
            return Node("exists", _unescape(text))
        node = Node("term", field, _unescape(text))
        if self.peek() is not None and self.peek().kind == "tilde":
            node.fuzzy = self.take().text
        return node


def _shown(token: Token) -> str:
    return {"rparen": ")", "colon": ":", "boost": "^", "tilde": "~", "and": "AND", "or": "OR",
            "not": "NOT", "plus": "+", "minus": "-"}.get(token.kind, token.text)


# -- from the syntax tree to queries ----------------------------------------------------------


@dataclass
class Options:
    fields: list[tuple[str, np.float32]]
    default_and: bool = False
    analyzer: str | None = None
    quote_analyzer: str | None = None
    lenient: bool | None = None
    fuzziness: Fuzziness = AUTO
    fuzzy: FuzzyOptions = dataclasses.field(default_factory=FuzzyOptions)
    phrase_slop: int = 0
    tie_breaker: float | None = None
    type: str = "best_fields"
    minimum_should_match: str | None = None
    time_zone: str | None = None
    allow_leading_wildcard: bool = True
    analyze_wildcard: bool = False


class _Builder:
    def __init__(self, ctx: ShardContext, opts: Options):
        self.ctx = ctx
        self.opts = opts
        self.lenient = is_lenient(opts.lenient, opts.fields)

    def fields(self, name: str | None) -> list[tuple[str, np.float32]]:
        if name is None:
            return resolve_fields(self.ctx, self.opts.fields)
        return resolve_fields(self.ctx, [(name, np.float32(1.0))])

    def build(self, node: Node | None) -> Query:
        if node is None:
            return MatchNone()  # nothing left to search for: Lucene's empty BooleanQuery
        query = self._build(node)
        if node.boost != 1.0:
            query.boost = np.float32(query.boost * np.float32(node.boost))
        return query

    def _build(self, node: Node) -> Query:
        if node.kind == "bool":
            return bool_of((occur, self.build(child)) for occur, child in node.clauses or [])
        if node.kind == "all":
            return MatchAll()
        if node.kind == "exists":
            if node.field is not None:
                return Exists(node.field)
            if searches_every_field(self.opts.fields):
                return MatchAll()
            return DisMax([Exists(name) for name, _ in self.fields(None)] or [MatchNone()], 0.0)
        fields = self.fields(node.field)
        if self.opts.type == "cross_fields" and node.kind == "term" and node.fuzzy is None and fields:
            return self._cross_fields(node, fields)
        per_field = [on_field(self._field_query(node, name), boost, self.lenient) for name, boost in fields]
        tie = self.opts.tie_breaker if self.opts.tie_breaker is not None else (
            1.0 if self.opts.type == "most_fields" else 0.0)
        return across_fields(per_field, tie)

    def _cross_fields(self, node: Node, fields: list[tuple[str, np.float32]]) -> Query:
        """A term with `type: cross_fields`: QueryStringQueryParser hands it to
        MultiMatchQueryParser with the query's type, so its fields blend as a
        cross_fields multi_match's do."""
        query = MultiMatch()
        query.text = node.text
        query.fields = fields
        query.type = "cross_fields"
        query.tie_breaker = self.opts.tie_breaker
        query.opts = MatchOptions(operator="and" if self.opts.default_and else "or",
                                  analyzer=self.opts.analyzer, lenient=self.lenient, kind="query_string")
        return query

    def _field_query(self, node: Node, name: str) -> Query:
        """The query one piece of the syntax tree makes on one field."""
        mapper = self.ctx.field(name)
        opts = self.opts
        if node.kind == "term":
            if node.fuzzy is not None:
                text = normalize(self.ctx, mapper, node.text, opts.analyzer)
                fuzziness = parse_fuzziness(node.fuzzy) if node.fuzzy else opts.fuzziness
                return opts.fuzzy.query(name, text, fuzziness)
            match_opts = MatchOptions(operator="and" if opts.default_and else "or", analyzer=opts.analyzer,
                                      lenient=self.lenient, kind="query_string")
            return Match(name, node.text, match_opts)
        if node.kind == "phrase":
            match_opts = MatchOptions(analyzer=opts.quote_analyzer or opts.analyzer, lenient=self.lenient,
                                      slop=node.slop if node.slop is not None else opts.phrase_slop,
                                      kind="query_string")
            return Match(name, node.text, match_opts, PHRASE)
        if node.kind == "wildcard":
            if not opts.allow_leading_wildcard and node.text[:1] in ("*", "?"):
                raise ParseError("Leading wildcard is not allowed: " + name + ":" + node.text)
            pattern = self._normalize(mapper, node.text)
            plain = pattern.endswith("*") and not any(c in pattern[:-1] for c in "*?")
            return Prefix(name, _unescape(pattern[:-1])) if plain else Wildcard(name, pattern)
        if node.kind == "regexp":
            return Regexp(name, node.text)
        if node.kind == "range":
            low, high, include_low, include_high = node.extra
            return self._range(name, low, high, include_low, include_high)
        op = node.extra  # cmp: >, >=, <, <=
        if op.startswith(">"):
            return self._range(name, node.text, None, op == ">=", True)
        return self._range(name, None, node.text, True, op == "<=")

    def _range(self, name: str, low: str | None, high: str | None, include_low: bool,
               include_high: bool) -> Query:
        query = Range(name)
        query.lower, query.upper = low, high
        query.include_lower, query.include_upper = include_low, include_high
        mapper = self.ctx.field(name)
        if mapper is not None and mapper.type_name == "date":
            query.time_zone = self.opts.time_zone
        return query

    def _normalize(self, mapper, pattern: str) -> str:
        """Wildcard terms on text fields look like the indexed terms (lower-cased when the
        analyzer lower-cases); keyword normalizers apply when the query runs."""
        if mapper is None or mapper.type_name not in TEXT:
            return pattern
        return normalize(self.ctx, mapper, pattern, self.opts.analyzer)


class QueryString(Query):
    kind = "query_string"

    def __init__(self, text: str, opts: Options):
        self.text = text
        self.opts = opts
        self._tree: Node | None = None
        self._parsed = False

    def parse(self) -> Node | None:
        if not self._parsed:
            try:
                tokens = _lex(self.text)
                parser = _Parser(tokens, self.opts.default_and)
                self._tree = parser.query(None)
                if parser.i < len(tokens):  # a stray ")"
                    shown = _shown(tokens[parser.i])
                    raise QueryStringSyntaxError(f"Encountered \" \"{shown}\" \" at line 1.")
            except (QueryStringSyntaxError, IndexError, RecursionError) as e:  # Recursion: nested too deep
                detail = str(e) or "syntax error"
                raise QueryShardError(f"Failed to parse query [{self.text}]",
                                      caused_by=ParseError(f"Cannot parse '{self.text}': {detail}")) from None
            self._parsed = True
        return self._tree

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        tree = self.parse()
        try:
            query = _Builder(ctx, self.opts).build(tree)
            if self.opts.minimum_should_match is not None and isinstance(query, Bool):
                query.minimum_should_match = self.opts.minimum_should_match
            return query.run(ctx, scored, boost, within)
        except RecursionError:
            cause = ParseError(f"Cannot parse '{self.text}': nested too deeply")
            raise QueryShardError(f"Failed to parse query [{self.text}]", caused_by=cause) from None


_PARAMS = {"quote_field_suffix", "auto_generate_synonyms_phrase_query", "enable_position_increments",
           "max_determinized_states", "rewrite", "fuzzy_rewrite", "escape", "split_on_whitespace",
           "auto_generate_phrase_queries"}


@register("query_string")
def parse_query_string(kind: str, body: dict[str, Any]) -> Query:
    opts = Options(fields=[])
    text = None
    query = QueryString("", opts)
    default_field = None
    for key, value in body.items():
        if key == "query":
            text = to_str(kind, key, value)
        elif key == "default_field":
            default_field = to_str(kind, key, value)
        elif key == "fields":
            opts.fields = parse_fields(kind, key, value)
        elif key == "default_operator":
            opts.default_and = parse_operator(kind, key, to_str(kind, key, value)) == "and"
        elif key == "analyzer":
            opts.analyzer = to_str(kind, key, value)
        elif key == "quote_analyzer":
            opts.quote_analyzer = to_str(kind, key, value)
        elif key == "lenient":
            opts.lenient = to_bool(kind, key, value)
        elif key == "fuzziness":
            opts.fuzziness = parse_fuzziness(value)
        elif key == "phrase_slop":
            opts.phrase_slop = to_int(kind, key, value)
        elif key == "tie_breaker":
            opts.tie_breaker = float(to_float(kind, key, value))
        elif key == "type":
            opts.type = parse_match_type(kind, key, value)
        elif key == "minimum_should_match":
            opts.minimum_should_match = to_str(kind, key, value)
        elif key == "time_zone":
            opts.time_zone = to_str(kind, key, value)
        elif key == "allow_leading_wildcard":
            opts.allow_leading_wildcard = to_bool(kind, key, value)
        elif key == "analyze_wildcard":
            opts.analyze_wildcard = to_bool(kind, key, value)
        elif key in _PARAMS:
            to_str(kind, key, value)
        elif not opts.fuzzy.set(kind, key, value) and not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if text is None:
        raise IllegalArgument(f"[{kind}] must be provided with a [query]")
    if default_field is not None and opts.fields:
        raise IllegalArgument(f"[{kind}] cannot use [fields] parameter in conjunction with [default_field]")
    if default_field is not None:
        opts.fields = [parse_field_boost(default_field)]
    if not opts.fields:
        opts.fields = every_field()
    query.text = text
    return query


def parse_uri_query(q: str, *, default_field: str | None = None, default_operator: str = "OR",
                    analyzer: str | None = None, lenient: bool = False) -> Query:
    """The query of a URI search's `q=` (with `df`, `default_operator`, `analyzer`,
    `lenient`): a query_string on `default_field`, every field when none."""
    fields = [parse_field_boost(default_field)] if default_field else every_field()
    default_and = parse_operator("query_string", "default_operator", default_operator) == "and"
    opts = Options(fields=fields, default_and=default_and, analyzer=analyzer,
                   lenient=True if lenient else None)
    return QueryString(q, opts)

