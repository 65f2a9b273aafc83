"""Search: a shard-level query phase and fetch phase, and the coordinating step that
merges what the shards return (Elasticsearch's SearchService and SearchPhaseController).

  context.py        ShardContext: what a shard-level search reads
  matches.py        Matches: the documents a query matched, with scores
  query/            the query DSL: parse a body into Query objects, execute them on a shard
  aggregations/     parse aggregations, collect them per shard, reduce them across shards
"""
