"""Closed indices, as pure logic: how index expressions resolve around them, the state
update that closes and opens them, their block, and the static settings only they take."""

from __future__ import annotations

import msgspec
import pytest

from strata_node.action.index_admin import set_index_state, update_settings
from strata_node.cluster import blocks
from strata_node.cluster.state import ClusterStateContent, Metadata, RoutingTable, ShardRouting
from strata_node.common.errors import IllegalArgument, IndexClosed, IndexNotFound, StrataError
from strata_node.index import aliases
from strata_node.index.aliases import AliasLookup
from strata_node.index.metadata import IndexMetadata
from strata_node.settings import SettingsError

ANALYSIS = {"index.analysis.analyzer.my.type": "custom", "index.analysis.analyzer.my.tokenizer": "standard"}
MAPPINGS = {"properties": {"title": {"type": "text", "analyzer": "my"}}}


def an_index(name: str, state: str = "open", **alias_definitions) -> IndexMetadata:
    settings = {"index.number_of_shards": "1", "index.number_of_replicas": "0", **ANALYSIS}
    return IndexMetadata(name, f"uuid-{name}", settings, MAPPINGS, alias_definitions, primary_terms=(1,),
                         state=state)


def content_of(*indices: IndexMetadata) -> ClusterStateContent:
    return ClusterStateContent(metadata=Metadata(cluster_uuid="u", indices={m.name: m for m in indices}))


def resolve(expression: str, *indices: IndexMetadata, **options) -> list[str]:
    return aliases.resolve(expression, AliasLookup.of({m.name: m for m in indices}), **options).names


OPEN, CLOSED = an_index("logs-open"), an_index("logs-closed", "close")


# -- resolution -----------------------------------------------------------------------------------


def test_wildcards_expand_to_open_indices_by_default():
    assert resolve("logs-*", OPEN, CLOSED) == ["logs-open"]
    assert resolve("_all", OPEN, CLOSED) == ["logs-open"]


def test_expand_wildcards_closed_or_all_reaches_closed_indices():
    assert resolve("logs-*", OPEN, CLOSED, expand_wildcards="closed") == ["logs-closed"]
    assert resolve("*", OPEN, CLOSED, expand_wildcards="open,closed") == ["logs-closed", "logs-open"]
    assert resolve("logs-*", OPEN, CLOSED, expand_wildcards="all") == ["logs-closed", "logs-open"]


def test_expand_wildcards_none_expands_nothing_not_even_all():
    assert resolve("_all", OPEN, CLOSED, expand_wildcards="none") == []


def test_a_closed_index_named_outright_resolves_for_metadata_actions():
    assert resolve("logs-closed", OPEN, CLOSED) == ["logs-closed"]


def test_a_data_action_fails_on_a_closed_index_named_outright():
    with pytest.raises(IndexClosed) as raised:
        resolve("logs-closed,logs-open", OPEN, CLOSED, forbid_closed=True)
    assert raised.value.status == 400
    assert raised.value.to_dict() == {"type": "index_closed_exception", "reason": "closed",
                                      "index_uuid": "uuid-logs-closed", "index": "logs-closed"}


def test_a_data_action_fails_on_a_closed_index_a_wildcard_expanded_to():
    with pytest.raises(IndexClosed):
        resolve("logs-*", OPEN, CLOSED, expand_wildcards="all", forbid_closed=True)


def test_ignore_unavailable_leaves_closed_indices_out_of_a_data_action():
    assert resolve("logs-closed,logs-open", OPEN, CLOSED, forbid_closed=True,
                   ignore_unavailable=True) == ["logs-open"]


def test_a_data_action_left_with_only_closed_indices_fails_when_no_indices_are_not_allowed():
    with pytest.raises(IndexNotFound):
        resolve("logs-closed", OPEN, CLOSED, forbid_closed=True, ignore_unavailable=True,
                allow_no_indices=False)


def test_an_alias_named_outright_reaches_its_closed_index_and_a_wildcard_alias_does_not():
    open_member, closed_member = an_index("a", logs={}), an_index("b", "close", logs={})
    assert resolve("logs", open_member, closed_member) == ["a", "b"]
    assert resolve("lo*", open_member, closed_member) == ["a"]
    with pytest.raises(IndexClosed):
        resolve("logs", open_member, closed_member, forbid_closed=True)


# -- the block ------------------------------------------------------------------------------------


def test_a_closed_index_has_the_index_closed_block_on_reads_and_writes():
    assert blocks.active_blocks(CLOSED) == [blocks.INDEX_CLOSED]
    assert blocks.render(blocks.INDEX_CLOSED) == {"description": "index closed", "retryable": False,
                                                  "levels": ["read", "write"]}
    assert blocks.active_blocks(OPEN) == []
    blocks.check(CLOSED, blocks.METADATA_WRITE)  # its metadata still changes
    with pytest.raises(blocks.IndexBlocked, match=r"FORBIDDEN/4/index closed"):
        blocks.check(CLOSED, blocks.WRITE)


# -- closing and opening --------------------------------------------------------------------------


def test_closing_marks_the_index_closed_and_verified_and_bumps_its_versions():
    changed: list[str] = []
    content = set_index_state(content_of(OPEN, CLOSED), ["logs-open"], "close", changed)
    closed = content.metadata.indices["logs-open"]
    assert changed == ["logs-open"]
    assert closed.closed and closed.settings["index.verified_before_close"] == "true"
    assert (closed.version, closed.settings_version) == (OPEN.version + 1, OPEN.settings_version + 1)
    assert content.metadata.version == 1


def test_closing_an_index_closed_already_changes_nothing():
    changed: list[str] = ["left over from an earlier run of the update"]
    before = content_of(OPEN, CLOSED)
    assert set_index_state(before, ["logs-closed"], "close", changed) is before
    assert changed == []


def test_opening_drops_the_verified_mark():
    closed = set_index_state(content_of(OPEN), ["logs-open"], "close", [])
    reopened = set_index_state(closed, ["logs-open"], "open", [])
    index = reopened.metadata.indices["logs-open"]
    assert index.state == "open" and "index.verified_before_close" not in index.settings


def test_closing_a_missing_index_fails():
    with pytest.raises(IndexNotFound):
        set_index_state(content_of(OPEN), ["gone"], "close", [])


# -- settings of closed indices -------------------------------------------------------------------


def test_a_closed_index_takes_static_and_analysis_settings():
    new = {"index.analysis.analyzer.my.filter": ["lowercase"], "index.translog.sync_interval": "10s"}
    content = update_settings(content_of(CLOSED), ["logs-closed"], new)
    settings = content.metadata.indices["logs-closed"].settings
    assert settings["index.analysis.analyzer.my.filter"] == ["lowercase"]
    assert settings["index.translog.sync_interval"] == "10s"


def test_an_open_index_among_the_targets_refuses_static_settings_naming_only_the_open_ones():
    with pytest.raises(IllegalArgument) as raised:
        update_settings(content_of(OPEN, CLOSED), ["logs-closed", "logs-open"],
                        {"index.translog.sync_interval": "10s"})
    assert raised.value.reason == ("Can't update non dynamic settings [[index.translog.sync_interval]] "
                                   "for open indices [[logs-open/uuid-logs-open]]")


def test_final_settings_stay_as_created_even_on_a_closed_index():
    final = r"^final index setting \[index.number_of_shards\], not updateable$"
    with pytest.raises(IllegalArgument, match=final):
        update_settings(content_of(CLOSED), ["logs-closed"], {"index.number_of_shards": "3"})


def test_analysis_that_does_not_build_is_refused_on_a_closed_index():
    with pytest.raises(IllegalArgument, match="failed to find tokenizer under name \\[nope\\]"):
        update_settings(content_of(CLOSED), ["logs-closed"], {"index.analysis.analyzer.my.tokenizer": "nope"})


def test_removing_an_analyzer_the_mapping_uses_is_refused_on_a_closed_index():
    with pytest.raises(StrataError, match="analyzer \\[my\\] has not been configured"):
        update_settings(content_of(CLOSED), ["logs-closed"], {key: None for key in ANALYSIS})


def test_a_wildcard_reset_drops_a_closed_index_s_analyzer_with_the_mapping_that_used_it_changed():
    unmapped = IndexMetadata("plain", "uuid-plain", {"index.number_of_shards": "1", **ANALYSIS}, {}, {},
                             primary_terms=(1,), state="close")
    content = update_settings(content_of(unmapped), ["plain"], {"index.analysis.analyzer.my.*": None})
    assert not any(k.startswith("index.analysis.") for k in content.metadata.indices["plain"].settings)


def test_a_wildcard_reset_is_refused_when_the_mapping_still_uses_what_it_drops():
    with pytest.raises(StrataError, match="analyzer \\[my\\] has not been configured"):
        update_settings(content_of(CLOSED), ["logs-closed"], {"index.analysis.*": None})


def test_a_wildcard_reset_on_an_open_index_drops_only_dynamic_settings():
    index = an_index("blocked")
    content = msgspec.structs.replace(content_of(index), routing_table=RoutingTable(1, {"blocked": (
        ShardRouting("blocked", 0, True),)}))
    content = update_settings(content, ["blocked"], {"index.blocks.write": "true"})
    content = update_settings(content, ["blocked"], {"index.*": None})
    settings = content.metadata.indices["blocked"].settings
    assert "index.blocks.write" not in settings and "index.number_of_replicas" not in settings
    assert settings["index.analysis.analyzer.my.type"] == "custom"  # static: kept
    assert settings["index.number_of_shards"] == "1"  # final: kept
    # number_of_replicas went back to its default, 1: the routing table got the replica.
    assert [c.primary for c in content.routing_table.indices["blocked"]] == [True, False]


def test_a_reset_of_an_unknown_setting_is_refused_as_setting_it_would_be():
    for index in (an_index("logs-open"), CLOSED):
        with pytest.raises(SettingsError, match=r"^unknown setting \[index.nope\]"):
            update_settings(content_of(index), [index.name], {"index.nope": None})


def test_a_reset_of_a_private_setting_is_refused():
    with pytest.raises(SettingsError, match=r"private index setting \[index.verified_before_close\]"):
        update_settings(content_of(CLOSED), ["logs-closed"], {"index.verified_before_close": None})
