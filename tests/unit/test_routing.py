"""Shard routing must match Elasticsearch exactly.

Every expected value below is copied from Elasticsearch's own test sources
(github.com/elastic/elasticsearch); the file and test method are named above
each table. ES's IndexMetadata.Builder uses number_of_routing_shards ==
number_of_shards unless setRoutingNumShards() is called, so tables taken from
builder-based tests pass that value explicitly.
"""

import mmh3
import pytest

from strata_node.index.routing import (
    default_number_of_routing_shards,
    murmur3_hash,
    shard_id,
    validate_number_of_routing_shards,
)


def int32(value: int) -> int:
    """Java int literal like 0xd7c31989 -> signed value."""
    return value - (1 << 32) if value >= 1 << 31 else value


# server/src/test/java/org/elasticsearch/cluster/routing/operation/hash/murmur3/
#   Murmur3HashFunctionTests.java :: testKnownValues
MURMUR3_KNOWN = [
    (0x5A0CB7C3, "hell"),
    (0xD7C31989, "hello"),
    (0x22AB2984, "hello w"),
    (0xDF0CA123, "hello wo"),
    (0xE7744D61, "hello wor"),
    (0xE07DB09C, "The quick brown fox jumps over the lazy dog"),
    (0x4E63D2AD, "The quick brown fox jumps over the lazy cog"),
]


@pytest.mark.parametrize(("expected", "text"), MURMUR3_KNOWN)
def test_murmur3_known_values(expected, text):
    assert murmur3_hash(text) == int32(expected)


def test_murmur3_hashes_utf16_code_units():
    # Java's String.charAt gives UTF-16 code units: U+1F600 is the surrogate
    # pair D83D DE00, written little-endian per unit.
    assert murmur3_hash("\U0001f600") == mmh3.hash(b"\x3d\xd8\x00\xde", 0, signed=True)
    # A lone surrogate is a valid Java String and must still hash.
    assert murmur3_hash("\ud800") == mmh3.hash(b"\x00\xd8", 0, signed=True)
    # Non-ASCII BMP chars keep their high byte (not UTF-8).
    assert murmur3_hash("é") == mmh3.hash(b"\xe9\x00", 0, signed=True)


# server/src/test/java/org/elasticsearch/cluster/metadata/
#   MetadataCreateIndexServiceTests.java :: testCalculateNumRoutingShards
@pytest.mark.parametrize(
    ("shards", "routing_shards"),
    [(1, 1024), (2, 1024), (3, 768), (9, 576), (512, 1024), (1024, 2048), (2048, 4096)],
)
def test_default_number_of_routing_shards(shards, routing_shards):
    assert default_number_of_routing_shards(shards) == routing_shards


def test_default_number_of_routing_shards_properties():
    # Same invariants as the randomized loop in testCalculateNumRoutingShards.
    for shards in range(1, 10001):
        routing_shards = default_number_of_routing_shards(shards)
        if routing_shards <= 1024:
            assert shards < 513
            assert routing_shards > 512
        else:
            assert routing_shards // 2 == shards
        ratio, rest = divmod(routing_shards, shards)
        assert rest == 0
        assert 1 < ratio <= 1024
        assert ratio & (ratio - 1) == 0


# server/src/test/java/org/elasticsearch/cluster/routing/IndexRoutingTests.java :: testBWC
# ("Ensures that all changes to the hash-function / shard selection are BWC")
# 8 shards, 8 routing shards. Each term is used as _id, as routing, and for search routing.
BWC_8_SHARDS = {
    "sEERfFzPSI": 1, "cNRiIrjzYd": 7, "BgfLBXUyWT": 5, "cnepjZhQnb": 3, "OKCmuYkeCK": 6,
    "OutXGRQUja": 5, "yCdyocKWou": 1, "KXuNWWNgVj": 2, "DGJOYrpESx": 4, "upLDybdTGs": 5,
    "yhZhzCPQby": 1, "EyCVeiCouA": 1, "tFyVdQauWR": 6, "nyeRYDnDQr": 6, "hswhrppvDH": 0,
    "BSiWvDOsNE": 5, "YHicpFBSaY": 1, "EquPtdKaBZ": 4, "rSjLZHCDfT": 5, "qoZALVcite": 7,
    "yDCCPVBiCm": 7, "ngizYtQgGK": 5, "FYQRIBcNqz": 0, "EBzEDAPODe": 2, "YePigbXgKb": 1,
    "PeGJjomyik": 3, "cyQIvDmyYD": 7, "yIEfZrYfRk": 5, "kblouyFUbu": 7, "xvIGbRiGJF": 3,
    "KWimwsREPf": 4, "wsNavvIcdk": 7, "xkWaPcCmpT": 0, "FKKTOnJMDy": 7, "RuLzobYixn": 2,
    "mFohLeFRvF": 4, "aAMXnamRJg": 7, "zKBMYJDmBI": 0, "ElSVuJQQuw": 7, "pezPtTQAAm": 7,
    "zBjjNEjAex": 2, "PGgHcLNPYX": 7, "hOkpeQqTDF": 3, "chZXraUPBH": 7, "FAIcSmmNXq": 5,
    "EZmDicyayC": 0, "GRIueBeIyL": 7, "qCChjGZYLp": 3, "IsSZQwwnUT": 3, "MGlxLFyyCK": 3,
    "YmscwrKSpB": 0, "czSljcjMop": 5, "XhfGWwNlng": 1, "cWpKJjlzgj": 7, "eDzIfMKbvk": 1,
    "WFFWYBfnTb": 0, "oDdHJxGxja": 7, "PDOQQqgIKE": 1, "bGEIEBLATe": 6, "xpRkJPWVpu": 2,
    "kTwZnPEeIi": 2, "DifcuqSsKk": 1, "CEmLmljpXe": 5, "cuNKtLtyJQ": 7, "yNjiAnxAmt": 5,
    "bVDJDCeaFm": 2, "vdnUhGLFtl": 0, "LnqSYezXbr": 5, "EzHgydDCSR": 3, "ZSKjhJlcpn": 1,
    "WRjUoZwtUz": 3, "RiBbcCdIgk": 4, "yizTqyjuDn": 4, "QnFjcpcZUT": 4, "agYhXYUUpl": 7,
    "UOjiTugjNC": 7, "nICGuWTdfV": 0, "NrnSmcnUVF": 2, "ZSzFcbpDqP": 3, "YOhahLSzzE": 5,
    "iWswCilUaT": 1, "zXAamKsRwj": 2, "aqGsrUPHFq": 5, "eDItImYWTS": 1, "JAYDZMRcpW": 4,
    "lmvAaEPflK": 7, "IKuOwPjKCx": 5, "schsINzlYB": 1, "OqbFNxrKrF": 2, "QrklDfvEJU": 6,
    "VLxKRKdLbx": 4, "imoydNTZhV": 1, "uFZyTyOMRO": 4, "nVAZVMPNNx": 3, "rPIdESYaAO": 5,
    "nbZWPWJsIM": 0, "wRZXPSoEgd": 3, "nGzpgwsSBc": 4, "AITyyoyLLs": 4,
}  # fmt: skip


@pytest.mark.parametrize(("term", "expected"), sorted(BWC_8_SHARDS.items()))
def test_bwc_table_8_shards(term, expected):
    assert shard_id(term, None, 8, 8) == expected
    # routing wins over _id
    assert shard_id("someOtherId", term, 8, 8) == expected


# Default routing shards change placement: 2 shards -> 1024 routing shards.
# Value from IndexRoutingTests.java :: testSimpleRoutingPreAndPostModRoutingChange
# (the index with setRoutingNumShards(1024): _id "1" -> shard 0).
def test_default_routing_shards_change_the_shard():
    assert shard_id("1", None, 2, 1024) == 0
    assert shard_id("1", None, 2) == 0


# IndexRoutingTests.java (8.x, where it moved from OperationRoutingTests.java in 7.x)
#   :: testPartitionedIndexShrunk
# 4 shards, 8 routing shards, routing_partition_size 3. routing -> {_id: shard}
# (ES main has since changed these for new index versions; these are the 7.x/8.x values.)
PARTITIONED_SHRUNK = {
    "a": {"a_0": 1, "a_1": 2, "a_2": 2, "a_3": 2, "a_4": 1, "a_5": 2},
    "b": {"b_0": 0, "b_1": 0, "b_2": 0, "b_3": 0, "b_4": 3, "b_5": 3},
    "c": {"c_0": 1, "c_1": 1, "c_2": 0, "c_3": 0, "c_4": 0, "c_5": 1},
    "d": {"d_0": 2, "d_1": 2, "d_2": 3, "d_3": 3, "d_4": 3, "d_5": 3},
}

# IndexRoutingTests.java :: testPartitionedIndexBWC
# 6 shards, 6 routing shards, routing_partition_size 2.
PARTITIONED_BWC = {
    "a": {"a_0": 3, "a_1": 2, "a_2": 2, "a_3": 3},
    "b": {"b_0": 5, "b_1": 0, "b_2": 0, "b_3": 0},
    "c": {"c_0": 4, "c_1": 4, "c_2": 3, "c_3": 4},
    "d": {"d_0": 3, "d_1": 4, "d_2": 4, "d_3": 4},
}


def _flatten(table):
    return [(routing, id, shard) for routing, ids in table.items() for id, shard in ids.items()]


@pytest.mark.parametrize(("routing", "id", "expected"), _flatten(PARTITIONED_SHRUNK))
def test_partitioned_index_shrunk(routing, id, expected):
    assert shard_id(id, routing, 4, 8, routing_partition_size=3) == expected


@pytest.mark.parametrize(("routing", "id", "expected"), _flatten(PARTITIONED_BWC))
def test_partitioned_index_bwc(routing, id, expected):
    assert shard_id(id, routing, 6, 6, routing_partition_size=2) == expected


def test_partitioned_index_requires_routing():
    # IndexRouting.Partitioned.shardId
    with pytest.raises(ValueError, match="A routing value is required for gets from a partitioned index"):
        shard_id("a_0", None, 6, 6, routing_partition_size=2)


def test_partitioned_ids_spread_over_partition_size_shards():
    # Like IndexRoutingTests.testPartitionedIndex: one routing value, many ids,
    # exactly routing_partition_size distinct shards. That test's builder uses
    # routing shards == shards; with the larger default the offset rarely
    # crosses a shard boundary (known ES 7+/8 behaviour, elastic/elasticsearch#48863).
    for shards in range(2, 5):
        for size in range(1, shards):
            hit = {shard_id(f"id{i}", "r", shards, shards, size) for i in range(500)}
            assert len(hit) == size


# server/src/test/java/org/elasticsearch/cluster/metadata/IndexMetadataTests.java
#   :: testNumberOfRoutingShards
def test_validate_routing_shards_smaller_than_shards():
    with pytest.raises(ValueError) as e:
        validate_number_of_routing_shards(8, 4)
    assert str(e.value) == "index.number_of_routing_shards [4] must be >= index.number_of_shards [8]"


def test_validate_routing_shards_not_a_multiple():
    with pytest.raises(ValueError) as e:
        validate_number_of_routing_shards(2, 3)
    assert str(e.value) == "the number of source shards [2] must be a factor of [3]"


def test_validate_routing_shards_ok():
    validate_number_of_routing_shards(5, 5)
    validate_number_of_routing_shards(5, 30)
    validate_number_of_routing_shards(3, 768)


def test_shard_id_rejects_invalid_routing_shards():
    with pytest.raises(ValueError, match="must be a factor of"):
        shard_id("x", None, 2, 3)
