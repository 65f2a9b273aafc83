"""The settings update as the master runs it, index by index, and which updates pass an
index's metadata write blocks (so that a block can be lifted)."""

from __future__ import annotations

import pytest

from strata_node.action.index_admin import update_settings
from strata_node.cluster import blocks
from strata_node.cluster.state import ClusterStateContent, Metadata
from strata_node.index.metadata import IndexMetadata


def an_index(name: str, **settings: str) -> IndexMetadata:
    settings = {"index.number_of_shards": "1", "index.number_of_replicas": "0", **settings}
    return IndexMetadata(name, f"uuid-{name}", settings, {}, {}, primary_terms=(1,))


def content_of(*indices: IndexMetadata) -> ClusterStateContent:
    return ClusterStateContent(metadata=Metadata(cluster_uuid="u", indices={m.name: m for m in indices}))


def test_preserve_existing_leaves_out_only_what_each_index_sets_already():
    content = content_of(an_index("unset"), an_index("set", **{"index.refresh_interval": "5s"}))
    new = update_settings(content, ["set", "unset"], {"index.refresh_interval": "10s"},
                          preserve_existing=True)
    assert new.metadata.indices["unset"].settings["index.refresh_interval"] == "10s"
    assert new.metadata.indices["set"].settings["index.refresh_interval"] == "5s"


def test_preserve_existing_decides_on_the_state_the_update_runs_on():
    content = content_of(an_index("a"))
    first = update_settings(content, ["a"], {"index.refresh_interval": "5s"})
    again = update_settings(first, ["a"], {"index.refresh_interval": "10s"}, preserve_existing=True)
    assert again is first  # what a racing request set first is kept, and nothing is published


def test_without_preserve_existing_every_index_takes_the_value():
    content = content_of(an_index("unset"), an_index("set", **{"index.refresh_interval": "5s"}))
    new = update_settings(content, ["set", "unset"], {"index.refresh_interval": "10s"})
    assert {m.settings["index.refresh_interval"] for m in new.metadata.indices.values()} == {"10s"}


@pytest.mark.parametrize("settings", [
    {"index.blocks.read_only": False},
    {"index.blocks.read_only_allow_delete": None},
    {"index.blocks.read_only": False, "index.refresh_interval": "1s"},  # anything beside read_only
    {"index.blocks.metadata": False},
])
def test_an_update_of_read_only_or_of_the_metadata_block_alone_passes_the_blocks(settings):
    assert blocks.lifts_blocks(settings)


@pytest.mark.parametrize("settings", [
    {"index.blocks.metadata": False, "index.refresh_interval": "1s"},
    {"index.blocks.write": False},
    {"index.blocks.read": False},
    {"index.refresh_interval": "1s"},
])
def test_any_other_update_is_held_by_a_metadata_write_block(settings):
    assert not blocks.lifts_blocks(settings)
