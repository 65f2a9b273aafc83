"""Cluster state diffs rebuild exactly the new state from the old one."""

import dataclasses
import random

import msgspec

from strata_node.cluster import diff
from strata_node.cluster.coordination import ClusterState, VotingConfiguration
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent, Metadata, decode_state, encode_state
from strata_node.index.metadata import IndexMetadata


def a_state(version: int, indices: dict[str, IndexMetadata], settings: dict) -> ClusterState:
    content = ClusterStateContent(metadata=Metadata(cluster_uuid="u", persistent_settings=settings,
                                                    indices=indices))
    return ClusterState(term=2, version=version, master="a", nodes=frozenset({"a", "b"}),
                        last_committed_configuration=VotingConfiguration.of("a", "b"),
                        last_accepted_configuration=VotingConfiguration.of("a", "b"), value=content,
                        node_details={"a": DiscoveryNode(id="a", name="node-a", roles=("master",))})


def test_a_diff_of_one_changed_index_carries_that_index_only():
    indices = {f"i{n}": IndexMetadata(name=f"i{n}", uuid=str(n), settings={"index.number_of_shards": "1"})
               for n in range(100)}
    old = a_state(1, indices, {})
    i7 = dataclasses.replace(indices["i7"], settings={"index.number_of_shards": "2"})
    changed = dict(indices, i7=i7)
    new = a_state(2, changed, {})
    changes = diff.diff(encode_state(old), encode_state(new))
    assert len(msgspec.msgpack.encode(changes)) < len(msgspec.msgpack.encode(encode_state(new))) / 20
    assert decode_state(diff.apply(encode_state(old), changes)) == new


def test_a_diff_applies_additions_removals_and_replacements():
    old = a_state(1, {"a": IndexMetadata(name="a", uuid="1", settings={})}, {"x": "1", "y": "2"})
    new = a_state(2, {"b": IndexMetadata(name="b", uuid="2", settings={})}, {"x": "3"})
    assert decode_state(diff.apply(encode_state(old), diff.diff(encode_state(old), encode_state(new)))) == new


def test_random_nested_maps_round_trip_through_diffs():
    rng = random.Random(7)

    def tree(depth: int) -> dict:
        def value():
            return tree(depth - 1) if depth and rng.random() < 0.5 else rng.randint(0, 3)

        return {f"k{rng.randint(0, 6)}": value() for _ in range(rng.randint(0, 5))}

    for _ in range(500):
        old, new = tree(3), tree(3)
        assert diff.apply(old, diff.diff(old, new)) == new
