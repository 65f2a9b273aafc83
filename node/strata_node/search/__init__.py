"""Search: a shard-level query phase and fetch phase, and the coordinating step that
merges what the shards return (Elasticsearch's SearchService and SearchPhaseController).

  request.py        the body and URL parameters, read into a SearchRequest
  coordinator.py    fan-out to the shards' nodes, merge, reduce, fetch, `_shards` and failures
  transport_actions.py  the shard-level transport actions: query, fetch, free, count, validate
  contexts.py       the search contexts a node keeps from a query phase to its fetch
  shard_search.py   the query and fetch phases on one shard
  sort.py           sort keys, per-shard top k, sort values, search_after
  context.py        ShardContext: what a shard-level search reads
  matches.py        Matches: the documents a query matched, with scores
  similarity.py     BM25 as Elasticsearch scores it
  datemath.py       date math for ranges and date aggregations
  query/            the query DSL: parse a body into Query objects, execute them on a shard
  aggregations/     parse aggregations, collect them per shard, reduce them across shards
"""
