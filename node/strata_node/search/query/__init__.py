"""The query DSL: a request's `query` body parsed into Query objects, run on one shard.

    q = parse_query({"bool": {"must": {"match": {"title": "quick fox"}}}})  # ParsingError etc.: 400
    m = q.execute(ctx, score=True)      # Matches: sorted seqs, float32 BM25 scores
    m = q.execute(ctx, score=False)     # filter context, _count, aggregations: scores may be None

Modules, one idea each:
  base.py          Query, the parser registry, shared parsing helpers and messages
  combine.py       conjunction / disjunction / dis_max / exclusion of Matches, vectorised
  fields.py        query values per field type, exact values and ranges as documents
  analysis.py      the query text through a field's search analyzer; minimum_should_match
  term_level.py    match_all, match_none, term, terms, ids, exists, prefix, wildcard, regexp
  range.py         range on numbers, dates (date math), keywords, text, IPs, booleans
  fuzzy.py         edit distance, fuzzy term expansion and blended scoring; the fuzzy query
  phrase.py        exact and sloppy phrase matching over positions, phrase scoring
  full_text.py     match, match_phrase, match_phrase_prefix, match_bool_prefix, multi_match
  compound.py      bool, constant_score, dis_max, boosting
  query_string.py  query_string and the `q=` of URI search
  simple_query_string.py  simple_query_string
  geo.py           geo_bounding_box, geo_distance, geo_polygon, geo_shape on geo_point fields
"""

from ...common.errors import ParsingError
from . import compound, full_text, fuzzy, geo, query_string, range, simple_query_string, term_level  # noqa: F401
from .base import PARSERS, Query, named_matches, parse_inner

__all__ = ["PARSERS", "Query", "named_matches", "parse_query"]


def parse_query(body: object) -> Query:
    """The Query of a search body's `query` value."""
    try:
        return parse_inner(body)
    except RecursionError:  # compound queries nested hundreds deep
        raise ParsingError("the query is nested too deeply to parse") from None
