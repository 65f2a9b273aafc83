"""simple_query_string: Lucene's SimpleQueryParser, which never fails on syntax.

    "fried eggs" +(eggplant | potato) -frittata  quick~1  qu*  "quick fox"~2

`+` joins with must, `|` with should, whitespace with `default_operator`, `-` negates (as
Lucene does: a negated clause matches everything but it, so `a -b` with the default OR
matches every document without b), `"` quotes a phrase, `*` ends a prefix, `~N` makes a
term fuzzy or gives a phrase slop, parentheses group; `flags` turns operators off. Each
piece is searched on every field, a dis_max with tie breaker 1 combining the fields
(their scores add up), as Elasticsearch's SimpleQueryStringQueryParser builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument
from ..context import ShardContext
from ..matches import Matches
from .analysis import normalize
from .base import Query, parse_operator, register, set_common, to_bool, to_str, unsupported
from .compound import Bool
from .full_text import PHRASE, Match, MatchOptions, resolve_fields
from .fuzzy import Fuzziness, FuzzyOptions
from .string_queries import across_fields, bool_of, every_field, is_lenient, on_field, parse_fields
from .term_level import MatchAll, Prefix

FLAGS = {"NONE": 0, "AND": 1, "NOT": 2, "OR": 4, "PREFIX": 8, "PHRASE": 16, "PRECEDENCE": 32, "ESCAPE": 64,
         "WHITESPACE": 128, "FUZZY": 256, "NEAR": 512, "SLOP": 512, "ALL": -1}
MUST, SHOULD, MUST_NOT = "must", "should", "must_not"


def parse_flags(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    flags = 0
    for name in str(value).split("|"):
        name = name.strip().upper()
        if not name:
            continue
        if name not in FLAGS:
            raise IllegalArgument(f"Unknown simple_query_string flag [{name}]")
        if FLAGS[name] == -1:
            return -1
        flags |= FLAGS[name]
    return flags


@dataclass
class _Piece:
    kind: str  # term, phrase, prefix, fuzzy, group
    text: str = ""
    number: int = 0  # slop of a phrase, edits of a fuzzy term
    group: Any = None


class _State:
    def __init__(self) -> None:
        self.top: Any = None  # a piece, or ("bool", [(occur, node)])
        self.not_count = 0
        self.current: str | None = None
        self.previous: str | None = None


class _Parser:
    def __init__(self, text: str, flags: int, default_occur: str):
        self.text = text
        self.flags = flags
        self.default_occur = default_occur
        self.i = 0

    def on(self, flag: str) -> bool:
        return bool(self.flags & FLAGS[flag])

    def parse(self, closing: bool = False) -> Any:
        state = _State()
        text, n = self.text, len(self.text)
        while self.i < n:
            c = text[self.i]
            if c == "(" and self.on("PRECEDENCE"):
                self.i += 1
                self._add(state, _Piece("group", group=self.parse(closing=True)))
            elif c == ")" and self.on("PRECEDENCE") and closing:
                self.i += 1
                return state.top
            elif c == '"' and self.on("PHRASE"):
                self._phrase(state)
            elif c == "+" and self.on("AND"):
                if state.current is None and state.top is not None:
                    state.current = MUST
                self.i += 1
            elif c == "|" and self.on("OR"):
                if state.current is None and state.top is not None:
                    state.current = SHOULD
                self.i += 1
            elif c == "-" and self.on("NOT"):
                state.not_count += 1
                self.i += 1
            elif c.isspace() and self.on("WHITESPACE"):
                self.i += 1
            else:
                self._token(state)
        return state.top

    def _phrase(self, state: _State) -> None:
        text, n = self.text, len(self.text)
        start = self.i + 1
        j, out, escaped = start, [], False
        while j < n:
            c = text[j]
            if c == "\\" and self.on("ESCAPE") and not escaped:
                escaped = True
                j += 1
                continue
            if c == '"' and not escaped:
                break
            out.append(c)
            escaped = False
            j += 1
        if j >= n:  # no closing quote: the quote is an ordinary character
            self.i = start
            return
        self.i = j + 1
        slop = self._number() if self.on("NEAR") else 0
        self._add(state, _Piece("phrase", "".join(out), slop))

    def _ends(self, c: str) -> bool:
        return ((c == '"' and self.on("PHRASE")) or (c == "|" and self.on("OR"))
                or (c == "+" and self.on("AND")) or (c in "()" and self.on("PRECEDENCE"))
                or (c == "~" and (self.on("FUZZY") or self.on("NEAR")))
                or (c.isspace() and self.on("WHITESPACE")))

    def _token(self, state: _State) -> None:
        text, n = self.text, len(self.text)
        out: list[str] = []
        escaped = False
        prefix = False
        while self.i < n:
            c = text[self.i]
            if c == "\\" and self.on("ESCAPE") and not escaped:
                escaped = True
                self.i += 1
                continue
            if not escaped and self._ends(c):
                break
            prefix = c == "*" and not escaped and self.on("PREFIX")
            out.append(c)
            escaped = False
            self.i += 1
        fuzzy = self._number() if self.on("FUZZY") else 0
        token = "".join(out)
        if not token:
            return
        if fuzzy > 0:
            self._add(state, _Piece("fuzzy", token, fuzzy))
        elif prefix:
            self._add(state, _Piece("prefix", token[:-1]))
        else:
            self._add(state, _Piece("term", token))

    def _number(self) -> int:
        """The `~N` after a term or phrase: N, 2 for a bare `~`, 0 when absent."""
        text, n = self.text, len(self.text)
        if self.i >= n or text[self.i] != "~":
            return 0
        self.i += 1
        start = self.i
        while self.i < n and not self._ends(text[self.i]):
            self.i += 1
        digits = text[start:self.i]
        if not digits:
            return 2
        try:
            return max(int(digits), 0)
        except ValueError:
            return 0

    def _add(self, state: _State, branch: Any) -> None:
        """SimpleQueryParser.buildQueryTree."""
        if branch is None or (isinstance(branch, _Piece) and branch.kind == "group" and branch.group is None):
            return
        if state.not_count % 2 == 1:
            branch = ("bool", [(MUST_NOT, branch), (SHOULD, "all")])
        if state.top is None:
            state.top = branch
        else:
            if state.current is None:
                state.current = self.default_occur
            if state.previous != state.current:
                state.top = ("bool", [(state.current, state.top)])
            state.top = ("bool", [*state.top[1], (state.current, branch)])
        state.not_count = 0
        state.previous = state.current
        state.current = None


class SimpleQueryString(Query):
    kind = "simple_query_string"

    def __init__(self, text: str):
        self.text = text
        self.fields: list[tuple[str, np.float32]] = []
        self.default_and = False
        self.analyzer: str | None = None
        self.flags = -1
        self.lenient: bool | None = None
        self.minimum_should_match: str | None = None
        self.fuzzy = FuzzyOptions()

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        tree = _Parser(self.text, self.flags, MUST if self.default_and else SHOULD).parse()
        if tree is None:
            return Matches.none(scored)
        query = self._build(ctx, tree)
        if self.minimum_should_match is not None and isinstance(query, Bool):
            query.minimum_should_match = self.minimum_should_match
        return query.run(ctx, scored, boost, within)

    def _build(self, ctx: ShardContext, node: Any) -> Query:
        if node == "all":
            return MatchAll()
        if isinstance(node, tuple):
            return bool_of((occur, self._build(ctx, child)) for occur, child in node[1])
        if node.kind == "group":
            return self._build(ctx, node.group)
        fields = self.fields or every_field()
        lenient = is_lenient(self.lenient, fields)
        per_field = [on_field(self._field_query(ctx, node, name, lenient), field_boost, lenient)
                     for name, field_boost in resolve_fields(ctx, fields)]
        return across_fields(per_field, 1.0)

    def _field_query(self, ctx: ShardContext, piece: _Piece, name: str, lenient: bool) -> Query:
        opts = MatchOptions(operator="and" if self.default_and else "or", analyzer=self.analyzer,
                            lenient=lenient, kind=self.kind)
        if piece.kind == "term":
            return Match(name, piece.text, opts)
        if piece.kind == "phrase":
            opts.slop = piece.number
            return Match(name, piece.text, opts, PHRASE)
        text = normalize(ctx, ctx.field(name), piece.text, self.analyzer)
        if piece.kind == "prefix":
            return Prefix(name, text)
        return self.fuzzy.query(name, text, Fuzziness(edits=piece.number))


_IGNORED = {"quote_field_suffix", "analyze_wildcard", "auto_generate_synonyms_phrase_query"}


@register("simple_query_string")
def parse_simple_query_string(kind: str, body: dict[str, Any]) -> Query:
    query = SimpleQueryString("")
    text = None
    for key, value in body.items():
        if key == "query":
            text = to_str(kind, key, value)
        elif key == "fields":
            query.fields = parse_fields(kind, key, value)
        elif key == "default_operator":
            query.default_and = parse_operator(kind, key, value) == "and"
        elif key == "analyzer":
            query.analyzer = to_str(kind, key, value)
        elif key == "flags":
            query.flags = parse_flags(value)
        elif key == "lenient":
            query.lenient = to_bool(kind, key, value)
        elif key == "minimum_should_match":
            query.minimum_should_match = to_str(kind, key, value)
        elif key in _IGNORED:
            to_str(kind, key, value)
        elif not query.fuzzy.set(kind, key, value) and not set_common(query, kind, key, value):
            raise unsupported(kind, key)
    if text is None:
        raise IllegalArgument(f"[{kind}] query text missing")
    query.text = text
    return query
