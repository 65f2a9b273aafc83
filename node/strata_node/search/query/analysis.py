"""What a full-text query searches for in one field: the query text through the field's
search analyzer (text), its normalizer (keyword), or the raw value (other types), and
`minimum_should_match` arithmetic."""

from __future__ import annotations

import re

import numpy as np

from ...common.errors import IllegalArgument, QueryShardError
from ...common.units import java_int
from ...index.analysis import Analyzer
from ...index.mapping.mappers import FieldMapper
from ..context import ShardContext
from .fields import TEXT

_SPACES = re.compile(r"\s+")
_LESS = re.compile(r"\s*<\s*")


def field_analyzer(ctx: ShardContext, mapper: FieldMapper, override: str | None, *, quoted: bool = False,
                   kind: str = "match") -> Analyzer | None:
    """The analyzer a query uses on a text or keyword field (None: keyword without a
    normalizer, whose whole value is one term)."""
    analyzers = ctx.analyzers
    if override is not None:
        analyzer = analyzers.analyzer(override)
        if analyzer is None:
            raise QueryShardError(f"[{kind}] analyzer [{override}] not found")
        return analyzer
    if mapper.type_name == "keyword":
        return analyzers.normalizer(mapper.normalizer) if mapper.normalizer else None
    name = None
    if quoted:
        name = mapper.params.get("search_quote_analyzer")
    name = name or mapper.params.get("search_analyzer") or mapper.get("analyzer")
    if name == "default":
        return analyzers.analyzers.get("default_search") or analyzers.default
    return analyzers.analyzer(name) or analyzers.default


def positions_and_terms(ctx: ShardContext, mapper: FieldMapper, text: str, override: str | None, *,
                        quoted: bool = False, kind: str = "match") -> list[tuple[int, list[str]]]:
    """The query's terms grouped by position (several terms at one position are
    synonyms), in position order."""
    analyzer = field_analyzer(ctx, mapper, override, quoted=quoted, kind=kind)
    if mapper.type_name not in TEXT and override is None:
        if analyzer is None:
            return [(0, [text])]
        return [(0, ["".join(analyzer.analyze(text).terms)])]
    tokens = analyzer.analyze(text) if analyzer is not None else None
    if tokens is None:
        return [(0, [text])]
    grouped: dict[int, list[str]] = {}
    for term, position in zip(tokens.terms, tokens.position_list(), strict=True):
        grouped.setdefault(position, []).append(term)
    return sorted(grouped.items())


def normalize(ctx: ShardContext, mapper: FieldMapper | None, text: str, override: str | None = None) -> str:
    """A term that is not analyzed (a prefix, wildcard or fuzzy term of a query string)
    made to look like the field's indexed terms, as Analyzer.normalize() does: lower-cased
    when the field's analyzer lower-cases, normalized by a keyword's normalizer."""
    if mapper is None:
        return text
    if mapper.type_name == "keyword":
        normalizer = ctx.analyzers.normalizer(mapper.normalizer) if mapper.normalizer else None
        return "".join(normalizer.analyze(text).terms) if normalizer is not None else text
    if mapper.type_name not in TEXT:
        return text
    analyzer = field_analyzer(ctx, mapper, override)
    if analyzer is not None and analyzer.analyze("A").terms == ["a"]:
        return text.lower()
    return text


def _parse_int(text: str) -> int:
    """Integer.parseInt, which Queries.calculateMinShouldMatch reads each number with."""
    number = java_int(text.strip())
    if number is None:
        raise ValueError(text)
    return number


def minimum_should_match(optional: int, spec: str | None) -> int:
    """Queries.calculateMinShouldMatch: `3`, `-1`, `75%`, `-25%`, `3<90%`, `2<-25% 9<-3`."""
    if spec is None:
        return 0
    spec = spec.strip()
    try:
        if "<" in spec:
            result = optional
            for part in _SPACES.split(_LESS.sub("<", spec)):
                upper, _, rest = part.partition("<")
                if optional <= _parse_int(upper):
                    return result
                result = minimum_should_match(optional, rest)
            return result
        result = optional
        if "%" in spec:
            percent = _parse_int(spec[:-1])
            calc = float(np.float32(result * percent) * np.float32(1 / 100))  # Java float arithmetic
            result = result + int(calc) if calc < 0 else int(calc)
        else:
            calc_int = _parse_int(spec)
            result = result + calc_int if calc_int < 0 else calc_int
    except ValueError:
        raise IllegalArgument(f"For input string: \"{spec}\"") from None
    return max(result, 0)
