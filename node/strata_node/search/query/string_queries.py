"""What query_string and simple_query_string share once their syntax is parsed: the
fields each piece of text is searched on, how the per-field queries are boosted and
combined, and the bool their clauses make. Elasticsearch builds both the same way
(QueryStringQueryParser and SimpleQueryStringQueryParser share these steps), so one
implementation keeps the two syntaxes from drifting apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .base import ONE, Lenient, Query, to_str
from .compound import Bool, DisMax
from .full_text import parse_field_boost
from .term_level import MatchAll, MatchNone

ALL_FIELDS = "*"


def parse_fields(kind: str, key: str, value: Any) -> list[tuple[str, np.float32]]:
    """`fields`: one name or a list, each with an optional `^boost`."""
    names = value if isinstance(value, list) else [value]
    return [parse_field_boost(to_str(kind, key, n)) for n in names]


def every_field() -> list[tuple[str, np.float32]]:
    """The fields searched when none are given: all of them (`*`)."""
    return [(ALL_FIELDS, ONE)]


def searches_every_field(fields: list[tuple[str, np.float32]]) -> bool:
    return any(name == ALL_FIELDS for name, _ in fields)


def is_lenient(lenient: bool | None, fields: list[tuple[str, np.float32]]) -> bool:
    """`lenient` as given; unset, lenient when searching every field, where a word
    meeting a number field must not fail the whole query."""
    return lenient if lenient is not None else searches_every_field(fields)


def on_field(query: Query, field_boost: np.float32, lenient: bool) -> Query:
    """One field's query with the field's `^boost` multiplied in, failing quietly
    (matching nothing) when lenient."""
    if field_boost != 1.0:
        query.boost = np.float32(query.boost * field_boost)
    return Lenient(query) if lenient else query


def across_fields(per_field: list[Query], tie_breaker: float) -> Query:
    """The per-field queries of one piece: nothing when no field was found, the one
    query for one field, a dis_max for several."""
    if not per_field:
        return MatchNone()
    if len(per_field) == 1:
        return per_field[0]
    return DisMax(per_field, tie_breaker)


def bool_of(clauses: Iterable[tuple[str, Query]]) -> Bool:
    """A bool of (occur, query) clauses. A purely negative one (only must_not) matches
    every other document, as Lucene's query parsers make it, rather than nothing."""
    query = Bool()
    for occur, clause in clauses:
        getattr(query, occur).append(clause)
    if not query.must and not query.should and not query.filter:
        query.filter.append(MatchAll())
    return query
