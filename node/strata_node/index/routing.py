"""Document-to-shard routing, bit-for-bit compatible with Elasticsearch 8.x.

A document must land on the same shard that Elasticsearch would pick for the
same ``_id``/``routing`` and index settings; otherwise gets, updates and
deletes by id miss, and data moved between Strata and Elasticsearch (snapshots,
reindex, mixed clients that compute shards themselves) is misplaced.

This mirrors, in Elasticsearch:

- ``cluster.routing.Murmur3HashFunction.hash(String)``: murmur3 x86_32, seed 0,
  over each UTF-16 code unit written as two little-endian bytes;
- ``cluster.routing.IndexRouting`` (``Unpartitioned`` and ``Partitioned``):
  ``floorMod(hash, routing_num_shards) / routing_factor``;
- ``MetadataCreateIndexService.calculateNumRoutingShards`` for the default
  ``index.number_of_routing_shards`` of indices created on 7.0 or later;
- ``IndexMetadata.INDEX_NUMBER_OF_ROUTING_SHARDS_SETTING`` validation and
  ``IndexMetadata.getRoutingFactor`` error messages.
"""

from __future__ import annotations

import mmh3

__all__ = [
    "default_number_of_routing_shards",
    "murmur3_hash",
    "shard_id",
    "validate_number_of_routing_shards",
]

MAX_LOG2_SHARDS = 10  # log2(1024)


def default_number_of_routing_shards(number_of_shards: int) -> int:
    """The largest ``number_of_shards * 2**k`` that is <= 1024, with k >= 1.

    Same as ``calculateNumRoutingShards``: k = 10 - ceil(log2(shards)), but
    at least 1 so any index can be split at least once (1024 shards -> 2048).
    """
    if number_of_shards < 1:
        raise ValueError(f"number_of_shards must be >= 1, got [{number_of_shards}]")
    # (n - 1).bit_length() == ceil(log2(n)), as 32 - numberOfLeadingZeros(n - 1) in Java.
    splits = max(1, MAX_LOG2_SHARDS - (number_of_shards - 1).bit_length())
    return number_of_shards << splits


def murmur3_hash(routing: str) -> int:
    """Signed 32-bit murmur3 of ``routing`` exactly as Elasticsearch hashes it."""
    # Java strings are UTF-16 code units; astral chars become surrogate pairs
    # and lone surrogates are kept as-is (hence surrogatepass).
    data = routing.encode("utf-16-le", "surrogatepass")
    return mmh3.hash(data, 0, signed=True)


def validate_number_of_routing_shards(number_of_shards: int, number_of_routing_shards: int) -> None:
    """Raise ValueError with Elasticsearch's message if the pair is invalid."""
    if number_of_routing_shards < number_of_shards:
        raise ValueError(
            f"index.number_of_routing_shards [{number_of_routing_shards}] "
            f"must be >= index.number_of_shards [{number_of_shards}]"
        )
    if number_of_routing_shards % number_of_shards != 0:
        raise ValueError(
            f"the number of source shards [{number_of_shards}] "
            f"must be a factor of [{number_of_routing_shards}]"
        )


def shard_id(
    id: str,
    routing: str | None,
    number_of_shards: int,
    number_of_routing_shards: int | None = None,
    routing_partition_size: int = 1,
) -> int:
    """Shard number for a document, as Elasticsearch's ``IndexRouting`` computes it.

    ``number_of_routing_shards`` is the index's stored routing shard count;
    ``None`` means the default an index created by ES >= 7 gets.
    """
    if number_of_routing_shards is None:
        number_of_routing_shards = default_number_of_routing_shards(number_of_shards)
    validate_number_of_routing_shards(number_of_shards, number_of_routing_shards)
    if routing_partition_size < 1:
        raise ValueError(f"routing_partition_size must be >= 1, got [{routing_partition_size}]")

    if routing_partition_size == 1:
        value = murmur3_hash(routing if routing is not None else id)
    else:
        if routing is None:
            raise ValueError("A routing value is required for gets from a partitioned index")
        offset = murmur3_hash(id) % routing_partition_size  # floorMod: always >= 0
        # Java int addition overflows and wraps; do the same.
        value = _to_int32(murmur3_hash(routing) + offset)

    # Python % on a positive modulus is Java's Math.floorMod. The partition
    # offset is not scaled by routing_factor (as in ES), so with the default
    # routing shards most ids of one routing value share a shard.
    routing_factor = number_of_routing_shards // number_of_shards
    return (value % number_of_routing_shards) // routing_factor


def _to_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value
