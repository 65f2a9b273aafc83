"""Cluster settings updates (SettingsUpdater semantics) and the effective-value accessor,
without a node."""

from __future__ import annotations

import msgspec
import pytest

from strata_node.cluster.state import Metadata
from strata_node.common.cluster_settings import (
    ClusterSettings,
    apply_update,
    archive_unknown_or_invalid,
    defaults,
    nested,
    render,
)
from strata_node.common.errors import IllegalArgument
from strata_node.settings import NodeSettings


def test_dotted_and_nested_forms_are_one_setting_stored_as_strings():
    new, applied = apply_update(
        {}, {"action": {"auto_create_index": False}, "search.default_search_timeout": "5s"}, "persistent"
    )
    assert new == {"action.auto_create_index": "false", "search.default_search_timeout": "5s"}
    assert applied == new


def test_null_resets_a_key_and_a_wildcard_resets_a_prefix():
    current = {
        "action.auto_create_index": "false",
        "action.destructive_requires_name": "true",
        "search.default_search_timeout": "5s",
    }
    new, applied = apply_update(current, {"action.*": None}, "persistent")
    assert new == {"search.default_search_timeout": "5s"}
    assert applied == {}
    new, _ = apply_update(current, {"search": {"default_search_timeout": None}}, "transient")
    assert "search.default_search_timeout" not in new


def test_unknown_keys_are_refused_set_or_reset_and_archived_ones_may_be_reset():
    for value in (1, None):  # AbstractScopedSettings.isValidDelete: unknown and not archived
        with pytest.raises(IllegalArgument, match=r"^persistent setting \[foo.bar\], not recognized$"):
            apply_update({}, {"foo.bar": value}, "persistent")
    archived = {"archived.foo.bar": "1", "archived.x": "2"}
    new, _ = apply_update(archived, {"archived.foo.bar": None}, "persistent")
    assert new == {"archived.x": "2"}
    new, _ = apply_update(archived, {"archived.*": None}, "persistent")
    assert new == {}


def test_settings_from_a_snapshot_this_node_cannot_use_are_archived():
    restored = archive_unknown_or_invalid({
        "foo.bar": "1", "cluster.routing.allocation.enable": "bogus", "cluster.name": "x",
        "action.auto_create_index": "false", "archived.old": "1"})
    assert restored == {"archived.foo.bar": "1", "archived.cluster.routing.allocation.enable": "bogus",
                        "archived.cluster.name": "x", "action.auto_create_index": "false",
                        "archived.old": "1"}


def test_non_dynamic_settings_cannot_be_set_or_reset():
    for value in ("x", None):
        with pytest.raises(IllegalArgument, match=r"^transient setting \[cluster.name\], not dynamically"):
            apply_update({}, {"cluster.name": value}, "transient")


def test_bad_values_are_refused_and_nothing_changes():
    current = {"action.auto_create_index": "false"}
    with pytest.raises(IllegalArgument, match="Failed to parse value"):
        apply_update(
            current,
            {"action.auto_create_index": "true", "cluster.max_voting_config_exclusions": "x"},
            "persistent",
        )
    assert current == {"action.auto_create_index": "false"}


def test_nested_rendering_and_flat_rendering():
    flat = {"a.b.c": "1", "a.d": "2", "e": "3"}
    assert nested(flat) == {"a": {"b": {"c": "1"}, "d": "2"}, "e": "3"}
    assert render(flat, True) == {"a.b.c": "1", "a.d": "2", "e": "3"}


def test_effective_value_is_transient_then_persistent_then_node():
    node = NodeSettings({"action.auto_create_index": "false"})
    metadata = Metadata()
    settings = ClusterSettings(node, lambda: metadata)
    assert settings.get("action.auto_create_index") == "false"
    metadata = msgspec.structs.replace(metadata, persistent_settings={"action.auto_create_index": "+logs-*"})
    assert settings.get("action.auto_create_index") == "+logs-*"
    metadata = msgspec.structs.replace(metadata, transient_settings={"action.auto_create_index": "true"})
    assert settings.get("action.auto_create_index") == "true"
    assert settings.get("search.default_search_timeout") == -1.0
    assert ClusterSettings(node, lambda: None).get("action.auto_create_index") == "false"


def test_defaults_list_node_values_and_hide_secrets():
    out = defaults(
        NodeSettings({"transport.secret": "s3cret", "cluster.name": "c1"}),
        exclude={"action.auto_create_index": "x"},
    )
    assert out["cluster.name"] == "c1"
    assert "transport.secret" not in out and "action.auto_create_index" not in out
    assert out["cluster.coordination.tick_interval"] == "100ms"
    assert out["cluster.election.max_timeout"] == "10s"
    assert out["search.default_search_timeout"] == "-1"


def test_defaults_print_list_settings_as_lists_as_elasticsearchs_list_setting_does():
    """ListSetting.diff: the node's comma list split and trimmed, a one-value setting ES
    declares as a list (path.data, network.host) a one-element list, flat and nested."""
    node = NodeSettings({"discovery.seed_hosts": "127.0.0.1:9300, 127.0.0.1:9301",
                         "cluster.initial_master_nodes": "a,b", "path.data": "/var/data",
                         "path.repo": "/backups"})
    out = defaults(node)
    assert out["discovery.seed_hosts"] == ["127.0.0.1:9300", "127.0.0.1:9301"]
    assert out["cluster.initial_master_nodes"] == ["a", "b"]
    assert (out["path.data"], out["path.repo"], out["network.host"]) == (["/var/data"], ["/backups"],
                                                                         ["127.0.0.1"])
    assert out["cluster.routing.allocation.awareness.attributes"] == []
    assert out["path.logs"] == "logs"  # a plain string setting stays one
    assert render(out, False)["discovery"]["seed_hosts"] == ["127.0.0.1:9300", "127.0.0.1:9301"]


def test_defaults_print_as_elasticsearch_prints_them():
    """Times and sizes with the largest unit that divides them, other numbers as they are."""
    from strata_node.common.cluster_settings import index_defaults

    node = defaults(NodeSettings({}))
    assert node["cluster.routing.allocation.balance.shard"] == "0.45"  # a weight, not a time
    assert node["cluster.routing.allocation.balance.threshold"] == "1.0"
    assert node["cluster.publish.timeout"] == "30s"
    assert node["cluster.coordination.tick_interval"] == "100ms"
    assert node["http.max_content_length"] == "100mb"
    index = index_defaults({"index.refresh_interval": "5s"})
    assert "index.refresh_interval" not in index and "index.uuid" not in index
    assert index["index.soft_deletes.retention_lease.period"] == "12h"
    assert index["index.translog.flush_threshold_size"] == "512mb"
