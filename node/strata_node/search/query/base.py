"""The Query base class, the registry of query parsers, and the parsing helpers every
query type shares, with Elasticsearch's messages for what they refuse.

A parsed query is a tree of immutable objects. Execution is separate from parsing, as
in Elasticsearch (QueryBuilder parsed on the coordinating node, toQuery per shard): the
body is checked once, and what depends on a shard's mapping (a value the field cannot
hold, an unmapped field) is decided per shard when the query runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ...common.errors import (
    IllegalArgument,
    ParsingError,
    QueryShardError,
    StrataError,
    XContentParseError,
)
from ...common.xcontent import token_name
from ..context import ShardContext
from ..matches import Matches

ONE = np.float32(1.0)

Parser = Callable[[str, Any], "Query"]
PARSERS: dict[str, Parser] = {}


def register(*names: str) -> Callable[[Parser], Parser]:
    def add(parser: Parser) -> Parser:
        for name in names:
            PARSERS[name] = parser
        return parser

    return add


class Query:
    """A query: `execute` runs it on one shard and gives the matching documents, with
    scores when asked. Subclasses implement `_run`, which receives the boost of every
    enclosing query multiplied in (Lucene's createWeight(boost)): BM25 multiplies it into
    the weight before scoring, so applying it afterwards would differ in the last bit.

    `within` (sorted seqs or None) is a hint from an enclosing conjunction: only those
    documents can match in the end, so a query may leave the others out (and not score
    them), as Lucene's conjunctions only score the documents every clause agrees on. The
    caller still intersects: a query is free to ignore the hint."""

    kind = "query"
    boost: np.float32 = ONE
    name: str | None = None  # `_name`, for matched_queries

    def execute(self, ctx: ShardContext, score: bool = True) -> Matches:
        try:
            return self.run(ctx, score, ONE)
        except (QueryShardError, ParsingError) as e:
            if "index" not in e.metadata:
                e.metadata.update(index=ctx.index)
            raise
        except StrataError as e:
            # SearchExecutionContext.toQuery wraps what building the query raised
            raise QueryShardError(f"failed to create query: {e.reason}", caused_by=e, index=ctx.index) from e

    def run(self, ctx: ShardContext, scored: bool, boost: np.float32,
            within: np.ndarray | None = None) -> Matches:
        ctx.check_cancelled()  # every clause is a unit of work: a cancelled search stops here
        return self._run(ctx, scored, np.float32(boost * self.boost), within)

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        raise NotImplementedError(type(self).__name__)

    def children(self) -> Iterator[Query]:
        return iter(())

    def named(self) -> Iterator[Query]:
        """This query and every query under it that carries a `_name`."""
        if self.name is not None:
            yield self
        for child in self.children():
            yield from child.named()

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if v is not None}
        return f"{type(self).__name__}({fields})"


class Lenient(Query):
    """A per-field query of a query string whose failures (a word searched on a number
    field) match nothing, as `lenient` asks."""

    kind = "lenient"

    def __init__(self, inner: Query):
        self.inner = inner

    def children(self) -> Iterator[Query]:
        yield self.inner

    def _run(self, ctx: ShardContext, scored: bool, boost: np.float32,
             within: np.ndarray | None = None) -> Matches:
        try:
            return self.inner.run(ctx, scored, boost, within)
        except StrataError:
            return Matches.none(scored)


def named_matches(query: Query, ctx: ShardContext) -> dict[str, np.ndarray]:
    """`_name` -> the documents that named query matches: what a hit's
    `matched_queries` is computed from."""
    return {q.name: q.execute(ctx, score=False).seqs for q in query.named() if q.name is not None}


def constant(seqs: np.ndarray, scored: bool, boost: np.float32) -> Matches:
    """Matches that all score the boost (constant-score queries: filters, points, ranges)."""
    return Matches(seqs, np.full(len(seqs), boost, dtype=np.float32) if scored else None)


# -- parsing -----------------------------------------------------------------------------------


def parse_inner(body: Any) -> Query:
    """One query object, `{"<type>": {...}}`, as AbstractQueryBuilder.parseInnerQueryBuilder
    reads it."""
    if not isinstance(body, dict):
        raise ParsingError("[_na] query malformed, must start with start_object")
    if not body:
        raise IllegalArgument("query malformed, empty clause found")
    items = iter(body.items())
    kind, value = next(items)
    if not isinstance(value, dict):
        raise ParsingError(f"[{kind}] query malformed, no start_object after query name")
    parser = PARSERS.get(kind)
    if parser is None:
        raise ParsingError(f"unknown query [{kind}]")
    query = parser(kind, value)
    if len(body) > 1:
        raise ParsingError(f"[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
    return query


def unsupported(kind: str, key: str) -> ParsingError:
    return ParsingError(f"[{kind}] query does not support [{key}]")


def set_common(query: Query, kind: str, key: str, value: Any) -> bool:
    """`boost` and `_name`, which every query but match_none takes. True if handled."""
    if key == "boost":
        query.boost = to_float(kind, key, value)
        return True
    if key == "_name":
        query.name = to_str(kind, key, value)
        return True
    return False


def to_float(kind: str, key: str, value: Any) -> np.float32:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParsingError(f"[{kind}] query does not support [{key}] with value of type [{token_name(value)}]"
                           if isinstance(value, dict | list) else f"[{kind}] failed to parse field [{key}]")
    try:
        return np.float32(float(value))
    except ValueError:
        raise XContentParseError(f"[{kind}] failed to parse field [{key}]") from None


def to_int(kind: str, key: str, value: Any) -> int:
    if isinstance(value, (bool, dict | list)) or value is None:
        raise XContentParseError(f"[{kind}] failed to parse field [{key}]")
    try:
        return int(value)
    except ValueError:
        raise XContentParseError(f"[{kind}] failed to parse field [{key}]") from None


def to_bool(kind: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise XContentParseError(f"[{kind}] failed to parse field [{key}]",
                             caused_by=IllegalArgument(f"Failed to parse value [{value}] as only [true] or "
                                                       "[false] are allowed."))


def to_str(kind: str, key: str, value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise ParsingError(f"[{kind}] query does not support [{key}] with value of type [{token_name(value)}]"
                           if value is not None else f"[{kind}] failed to parse field [{key}]")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_operator(kind: str, key: str, value: Any) -> str:
    """`operator` or `default_operator`: "and" or "or", in any case."""
    text = to_str(kind, key, value).lower()
    if text not in ("and", "or"):
        raise IllegalArgument(f"operator needs to be either [and, or], but not [{value}]")
    return text


def query_text(value: Any) -> str:
    """A query's text as XContentParser.text() renders a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def single_field(kind: str, body: dict[str, Any], *, value_key: str = "value",
                 shorthand_ok: bool = True) -> tuple[str, Any]:
    """The one field of a field-named query (`{"term": {"user": ...}}`): its name and what
    it gives, an object of parameters or a bare value (the short form)."""
    field: str | None = None
    found: Any = None
    for key, value in body.items():
        if field is not None:
            raise ParsingError(f"[{kind}] query doesn't support multiple fields, found [{field}] and [{key}]")
        if isinstance(value, list) and not shorthand_ok:
            raise ParsingError(f"[{kind}] query does not support array of values")
        field, found = key, value
    if field is None or field == "":
        raise IllegalArgument("field name is null or empty")
    return field, found


def field_value(kind: str, spec: Any, query: Query, option: Callable[[str, Any], bool],
                value_keys: tuple[str, ...] = ("value",)) -> Any:
    """The value of a field-named query, given bare (`{"user": "kimchy"}`) or in an object
    of parameters (`{"user": {"value": "kimchy", "boost": 2}}`), checked (not null, not an
    array). The object's other keys go to `option` (True if it took the key), then to
    `boost`/`_name`; anything else is refused."""
    if not isinstance(spec, dict):
        check_value(kind, spec)
        return spec
    value = None
    for key, v in spec.items():
        if key in value_keys:
            value = v
        elif not option(key, v) and not set_common(query, kind, key, v):
            raise unsupported(kind, key)
    check_value(kind, value)
    return value


def check_value(kind: str, value: Any) -> None:
    if value is None:
        raise IllegalArgument("value cannot be null")
    if isinstance(value, list):
        raise ParsingError(f"[{kind}] query does not support array of values")
