"""Alias filters in search: checked when an alias is added, applied when a search or count
goes through the alias.

A filter is checked as Elasticsearch's AliasValidator.validateAliasFilter checks it: parsed,
then built against the index's mapping. Building a query here is running it, so the check
runs the filter over an index with no documents: what only the mapping can refuse (a value
a numeric field cannot hold, a range on a field that has no ranges) fails at once instead
of on every later search.
"""

from __future__ import annotations

from typing import Any

from ..common.errors import IllegalArgument, StrataError
from ..engine.segment_reader import BlockCache, SegmentReader
from ..index import mapping as mappings
from ..index.analysis import index_analyzers
from ..index.mapping.dates import utc_now_millis
from ..index.metadata import IndexMetadata
from .context import ShardContext
from .query import Query, parse_query
from .query.compound import Bool


class _NoDocuments:
    """A store snapshot with nothing in it: the reader a filter is checked against."""

    def iterator(self, **_options: Any):
        return iter(())

    def get(self, _key: bytes) -> None:
        return None


def validate_alias_filter(alias: str, filter: dict[str, Any], metadata: IndexMetadata) -> None:
    """IllegalArgument ("failed to parse filter for alias [x]") with the cause, if the
    filter does not parse or cannot run against the index's mapping."""
    try:
        query = parse_query(filter)
        reader = SegmentReader(_NoDocuments(), BlockCache(1 << 16))
        ctx = ShardContext(index=metadata.name, shard_id=0, reader=reader,
                           mapping=mappings.Mapping.parse(metadata.mappings),
                           analyzers=index_analyzers(metadata.settings, metadata.name),
                           now_millis=utc_now_millis())
        query.execute(ctx, score=False)
    except StrataError as e:
        raise IllegalArgument(f"failed to parse filter for alias [{alias}]", caused_by=e) from e


def parse_alias_filter(filter: dict[str, Any] | None) -> Query | None:
    return None if filter is None else parse_query(filter)


def filtered(query: Query, filter: Query | None) -> Query:
    """`query` restricted to the documents an alias filter matches, scores unchanged (the
    filter is a non-scoring clause, as ES's alias filter is)."""
    if filter is None:
        return query
    combined = Bool()
    combined.must.append(query)
    combined.filter.append(filter)
    return combined
